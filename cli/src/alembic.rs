//! What Alembic users type that kiln spells differently or does not have, and the sentence that
//! names kiln's equivalent. One table, read when clap rejects a verb or a flag, so an Alembic
//! habit gets an answer instead of a bare "unexpected argument".

use clap::error::{ContextKind, ContextValue, Error, ErrorKind};

/// (what was typed, what kiln offers instead).
const HINTS: &[(&str, &str)] = &[
    (
        "ensure_version",
        "kiln creates its version and audit tables on the first `kiln upgrade` or `kiln stamp`; there is nothing to run first",
    ),
    (
        "list_templates",
        "kiln has one revision template (`kiln revision -m MSG`; `--empty` writes bare section markers) and one directory layout (`kiln init`)",
    ),
    (
        "init_db",
        "kiln has no separate step: `kiln upgrade heads` creates kiln's tables and applies every revision",
    ),
    (
        "--template",
        "kiln has one directory layout: `kiln init [DIR]` creates the directory and an empty kiln.lock",
    ),
    (
        "-x",
        "kiln has no -x arguments: a migration is plain SQL, and settings come from flags, KILN_* / DATABASE_URL variables and ./.env (docs/cli.md, Configuration)",
    ),
    (
        "-c",
        "kiln has no alembic.ini: settings come from flags, KILN_* / DATABASE_URL variables and ./.env; --dir names the migration directory (docs/cli.md, Configuration)",
    ),
    (
        "--config",
        "kiln has no alembic.ini: settings come from flags, KILN_* / DATABASE_URL variables and ./.env; --dir names the migration directory (docs/cli.md, Configuration)",
    ),
    (
        "-n",
        "kiln has no alembic.ini sections: point each command at a database with --database-url or DATABASE_URL",
    ),
    (
        "--name",
        "kiln has no alembic.ini sections: point each command at a database with --database-url or DATABASE_URL",
    ),
    (
        "--version-path",
        "kiln reads one migration directory: --dir DIR (or KILN_DIR) names it",
    ),
    (
        "--tag",
        "kiln has no --tag: --app-version V records a version in the audit trail (`kiln audit` shows it)",
    ),
    (
        "--raiseerr",
        "kiln always stops with the error and a non-zero exit code; there is nothing to switch on",
    ),
    (
        "--check-heads",
        "`kiln check` compares the database with the heads (exit 6 when revisions are pending)",
    ),
    (
        "--resolve-dependencies",
        "kiln's `history` and `heads` already follow depends-on; the flag is not needed",
    ),
];

/// The sentence for a rejected verb or flag, if Alembic has it.
pub fn hint(e: &Error) -> Option<(String, &'static str)> {
    let kind = match e.kind() {
        ErrorKind::InvalidSubcommand => ContextKind::InvalidSubcommand,
        ErrorKind::UnknownArgument => ContextKind::InvalidArg,
        _ => return None,
    };
    let ContextValue::String(typed) = e.get(kind)? else {
        return None;
    };
    // `--tag=x`, `-xfoo=bar`: the flag is what comes before `=`, or the first two characters of a
    // short flag with its value attached.
    let flag = typed.split('=').next().unwrap_or(typed);
    let flag = if !flag.starts_with("--") && flag.starts_with('-') && flag.len() > 2 {
        &flag[..2]
    } else {
        flag
    };
    HINTS
        .iter()
        .find(|(word, _)| *word == flag)
        .map(|(_, sentence)| (typed.clone(), *sentence))
}

#[cfg(test)]
mod tests {
    use super::HINTS;

    #[test]
    fn every_entry_is_distinct() {
        for (i, (a, _)) in HINTS.iter().enumerate() {
            assert!(HINTS[i + 1..].iter().all(|(b, _)| a != b), "{a} twice");
        }
    }
}
