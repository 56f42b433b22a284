//! `kiln`: Alembic's verbs for migration directories baked into Rust binaries.
//!
//! The shape follows ripgrep: [`args`] parses the command line with clap, [`settings`] turns the
//! result into typed, validated settings (configuration order, database URL, options), and
//! [`cmd`] runs one command against kiln-core and kiln-runtime. [`error`] decides the exit code and
//! prints every failure as `kiln: ...` on stderr with a next step. Nothing here panics on a
//! user-caused path: every failure is a value.

mod action;
mod alembic;
mod args;
mod cmd;
mod error;
mod exit;
mod graph_text;
mod layers;
mod lenient;
mod out;
mod range;
mod repo;
mod settings;
mod time;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match args::parse() {
        Ok(cli) => cli,
        Err(code) => return code.into(),
    };
    let code = match settings::Settings::from_args(cli).and_then(cmd::run) {
        Ok(code) => code,
        Err(err) => error::report(&err),
    };
    out::finish(code).into()
}
