//! `kiln edit REV`: opens a revision's file in the user's editor, as `alembic edit` does.
//!
//! The editor is `$VISUAL`, else `$EDITOR`, run through the shell so a value with arguments
//! (`code --wait`) works as it does for git. The directory is loaded like the read commands load
//! it, so the draft `kiln revision` just wrote (still without SQL) can be opened.

use crate::action::EditSettings;
use crate::error::{Code, Fail};
use crate::lenient::{self, Tolerate};
use crate::out;
use crate::range::resolve_one;
use crate::settings::Settings;
use kiln_core::Plan;

pub fn edit(s: &Settings, e: &EditSettings) -> anyhow::Result<Code> {
    let set = lenient::load(&s.dir, Tolerate::READ)?;
    let plan = Plan::new(&set);
    let r = &set.revisions()[resolve_one(&plan, &e.revision)?];
    let path = s.dir.path.join(r.file());
    let shown = s.dir.display_file(r.file());
    let editor = editor().ok_or_else(|| {
        Fail::usage(
            format!("no editor to open `{shown}` with: neither VISUAL nor EDITOR is set"),
            format!("set EDITOR (e.g. `export EDITOR=vi`), or open {shown} yourself"),
        )
    })?;
    if !r.is_draft() {
        out::note(format!(
            "`{}` is locked: after editing, the build and `kiln check` refuse it until `kiln lock --accept {}`, and databases that applied it will report drift",
            r.id(),
            r.id()
        ));
    }
    let status = shell_command(&editor, &path).status().map_err(|err| {
        Fail::with(
            Code::Failure,
            format!("cannot start the editor `{editor}`: {err}"),
            "check VISUAL / EDITOR: it must name a program on PATH",
        )
    })?;
    if !status.success() {
        return Err(Fail::with(
            Code::Failure,
            format!("the editor `{editor}` exited with {status} while editing `{shown}`"),
            format!(
                "the file is as the editor left it; run `kiln check` to see whether {shown} is valid"
            ),
        ));
    }
    Ok(Code::Ok)
}

/// `$VISUAL`, else `$EDITOR`; empty values count as unset.
fn editor() -> Option<String> {
    ["VISUAL", "EDITOR"].iter().find_map(|var| {
        std::env::var(var)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    })
}

#[cfg(unix)]
fn shell_command(editor: &str, path: &std::path::Path) -> std::process::Command {
    // The path is passed as an argument, never spliced into the shell text.
    let mut c = std::process::Command::new("sh");
    c.arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg(editor)
        .arg(path);
    c
}

#[cfg(not(unix))]
fn shell_command(editor: &str, path: &std::path::Path) -> std::process::Command {
    let mut words = editor.split_whitespace();
    let mut c = std::process::Command::new(words.next().unwrap_or(editor));
    c.args(words).arg(path);
    c
}
