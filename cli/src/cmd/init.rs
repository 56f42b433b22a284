//! `kiln init [DIR] [--write-build-rs]`: the migration directory, an empty lock, and the
//! `build.rs` line that makes cargo notice new migration files.

use crate::error::{Code, Fail};
use crate::out;
use crate::repo;
use crate::settings::Settings;
use kiln_core::MigrationDir;

pub fn init(s: &Settings, dir: &MigrationDir, write_build_rs: bool) -> anyhow::Result<Code> {
    let existed = dir.path.is_dir();
    if !existed {
        std::fs::create_dir_all(&dir.path).map_err(|e| {
            Fail::with(
                Code::Failure,
                format!(
                    "cannot create the migration directory `{}`: {e}",
                    dir.display
                ),
                "check the path: every parent must be a writable directory",
            )
        })?;
        out::line(format!("created {}/", dir.display.trim_end_matches('/')));
    } else {
        out::line(format!(
            "{}/ already exists",
            dir.display.trim_end_matches('/')
        ));
    }
    let lock_shown = dir.display_file(kiln_core::LOCK_FILE);
    if dir.lock_path().exists() {
        out::line(format!("{lock_shown} already exists; left as is"));
    } else {
        repo::create_new(
            &dir.lock_path(),
            &lock_shown,
            &kiln_core::Lock::default().render(),
        )?;
        out::line(format!("created {lock_shown}"));
    }

    let watched = dir.display.trim_end_matches('/');
    let line = format!("println!(\"cargo::rerun-if-changed={watched}\");");
    let build_rs = s.cwd.join("build.rs");
    if write_build_rs {
        if build_rs.exists() {
            let text = std::fs::read_to_string(&build_rs).unwrap_or_default();
            if text.contains(&format!("rerun-if-changed={watched}"))
                || text.contains(&format!("watch(\"{watched}\")"))
            {
                out::line("build.rs already watches the migration directory");
            } else {
                return Err(Fail::with(
                    Code::Failure,
                    "build.rs already exists; kiln does not edit it",
                    format!("add this line to its `fn main`: {line}"),
                ));
            }
        } else {
            let text = format!(
                "// Written by `kiln init`: re-run the build (and so `kiln::migrations!`) when a\n\
                 // migration file is added or removed. Editing a file is noticed without this.\n\
                 fn main() {{\n    {line}\n}}\n"
            );
            repo::create_new(&build_rs, "build.rs", &text)?;
            out::line("created build.rs");
        }
    } else {
        out::line("");
        out::line(
            "So that cargo notices new migration files, put this in build.rs next to Cargo.toml:",
        );
        out::line("");
        out::line("    fn main() {");
        out::line(format!("        {line}"));
        out::line("    }");
        out::line("");
        out::line(format!(
            "(or `kiln_core::build::watch(\"{watched}\");` with kiln-core in [build-dependencies]; `kiln init --write-build-rs` writes the file)"
        ));
    }
    out::line("");
    out::line("Next: kiln revision -m \"create the first table\"");
    Ok(Code::Ok)
}
