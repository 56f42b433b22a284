//! The exit codes: one table that is the enum, the short names `kiln --help` lists, and what
//! docs/cli.md's "Exit codes" table is checked against. Scripts and CI rely on the numbers.

/// The exit status of `kiln`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// Success.
    Ok = 0,
    /// An error that fits no other class (a file could not be written, ...).
    Failure = 1,
    /// Usage error: bad arguments, an unknown or ambiguous revision, a bad URL, no database URL.
    Usage = 2,
    /// The migration directory or its lock file is invalid.
    Invalid = 3,
    /// The database could not be reached or a statement failed.
    Database = 4,
    /// `check --locked`: some revisions are drafts (not in `kiln.lock`).
    Drafts = 5,
    /// The database is behind: revisions are pending.
    Pending = 6,
    /// The database disagrees with the directory: an applied revision was edited, or the
    /// database has revisions the directory does not know.
    Drift = 7,
    /// A revision stopped part-way; the database is marked dirty.
    Dirty = 8,
    /// `kiln lint` (or `check`) found error-level problems; warnings and notes alone exit 0.
    LintErrors = 9,
    /// `check --schema-file`: the schema the migrations build differs from the declared file.
    SchemaDiffers = 10,
    /// `revision --autogenerate`: the declared schema already matches head; nothing written.
    NoChanges = 11,
    /// `revision --autogenerate`: a change kiln cannot render, or the generated revision failed
    /// its proof on a dev database; nothing written.
    NotProven = 12,
    /// `--each`: some databases of the fleet failed or were skipped (the others finished); the
    /// summary names them.
    PartialFailure = 13,
    /// Stopped by Ctrl-C after a completed revision.
    Interrupted = 130,
}

/// Every code with the few words `kiln --help` shows for it, in order.
pub const TABLE: &[(Code, &str)] = &[
    (Code::Ok, "ok"),
    (Code::Failure, "other error"),
    (Code::Usage, "usage"),
    (Code::Invalid, "invalid migration directory"),
    (Code::Database, "database error"),
    (Code::Drafts, "drafts (check --locked)"),
    (Code::Pending, "pending"),
    (Code::Drift, "drift"),
    (Code::Dirty, "dirty"),
    (Code::LintErrors, "lint errors"),
    (Code::SchemaDiffers, "schema differs (check --schema-file)"),
    (Code::NoChanges, "no changes (revision --autogenerate)"),
    (
        Code::NotProven,
        "not rendered or not proven (revision --autogenerate)",
    ),
    (Code::PartialFailure, "fleet partial failure"),
    (Code::Interrupted, "interrupted"),
];

impl Code {
    /// The number the process exits with.
    pub fn number(self) -> u8 {
        self as u8
    }
}

impl From<Code> for std::process::ExitCode {
    fn from(c: Code) -> Self {
        std::process::ExitCode::from(c.number())
    }
}

/// The "Exit codes: ..." sentence of `kiln --help`, made from [`TABLE`].
pub fn help_line() -> String {
    let items: Vec<String> = TABLE
        .iter()
        .map(|(c, what)| format!("{} {what}", c.number()))
        .collect();
    format!("Exit codes: {}. See docs/cli.md.", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_code_once_in_order() {
        assert_eq!(
            help_line(),
            "Exit codes: 0 ok, 1 other error, 2 usage, 3 invalid migration directory, 4 database error, \
             5 drafts (check --locked), 6 pending, 7 drift, 8 dirty, 9 lint errors, \
             10 schema differs (check --schema-file), 11 no changes (revision --autogenerate), \
             12 not rendered or not proven (revision --autogenerate), 13 fleet partial failure, 130 interrupted. See docs/cli.md."
        );
    }

    /// docs/cli.md's table has a row for every code and no other.
    #[test]
    fn the_docs_table_has_the_same_codes() {
        let docs = include_str!("../../docs/cli.md");
        let section = docs
            .split("## Exit codes")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap_or_default();
        let documented: Vec<u8> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| "))
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect();
        let ours: Vec<u8> = TABLE.iter().map(|(c, _)| c.number()).collect();
        assert_eq!(documented, ours);
    }
}
