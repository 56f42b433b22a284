//! The commands. Each submodule runs one family of verbs; this module dispatches and holds what
//! they share: the async runtime, connecting, and the `Migrator` for the loaded directory.

mod audit;
pub mod autogen;
mod check;
mod config;
mod db;
mod edit;
pub mod fleet;
mod graph;
mod init;
mod inspect;
pub mod lint;
mod lock;
mod new;
mod run;
pub mod schema;

use crate::action::Action;
use crate::error::Code;
use crate::settings::Settings;

/// Runs the command and returns the exit code for a run that did not fail outright (`check`
/// returns its finding's code this way).
pub fn run(s: Settings) -> anyhow::Result<Code> {
    match &s.action {
        Action::Init(i) => init::init(&s, &i.dir, i.write_build_rs),
        Action::Revision(a) => match &a.autogenerate {
            Some(g) => autogen::autogenerate(&s, a, g),
            None => new::revision(&s, a),
        },
        Action::Merge(a) => new::merge(&s, a),
        Action::Move(m) => run::movement(&s, m),
        Action::Stamp(st) => run::stamp(&s, st),
        Action::Current(a) => inspect::current(&s, a),
        Action::History(h) => inspect::history(&s, h),
        Action::Heads(a) => inspect::heads(&s, a),
        Action::Branches(a) => inspect::branches(&s, a),
        Action::Show(a) => inspect::show(&s, a),
        Action::Edit(e) => edit::edit(&s, e),
        Action::Check(a) => check::check(&s, a),
        Action::Lock(a) => lock::lock(&s, a),
        Action::Graph(f) => graph::graph(&s, *f),
        Action::Audit(a) => audit::audit(&s, a),
        Action::Config(a) => config::config(&s, a),
        Action::Lint(a) => lint::lint(&s, a),
        Action::Schema(a) => schema::schema(&s, a),
        Action::Fleet(f) => fleet::fleet(&s, f),
    }
}
