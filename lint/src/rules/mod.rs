//! The rule table (one owner for every rule's id, severity, dialects and advice) and the checks.
//!
//! Statement rules live per engine (`postgres.rs`, `mysql.rs`, `sqlite.rs`); rules that need
//! the revision or the graph around a statement (`context.rs`) are what squawk cannot do.
//! `docs/lint.md` repeats this table with the lock each rule is about and its recipe.

pub(crate) mod context;
pub(crate) mod mysql;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use crate::Severity;
use kiln_core::Dialect;

/// Which engines a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engines {
    /// Every engine.
    All,
    /// PostgreSQL only.
    Postgres,
    /// MySQL and MariaDB only.
    MySql,
    /// SQLite only.
    Sqlite,
    /// PostgreSQL and MySQL/MariaDB (SQLite has no such lock or cannot do it at all).
    Servers,
}

impl Engines {
    /// Whether a rule for these engines applies to `d`.
    pub fn include(self, d: Dialect) -> bool {
        match self {
            Engines::All => true,
            Engines::Postgres => d == Dialect::Postgres,
            Engines::MySql => d == Dialect::MySql,
            Engines::Sqlite => d == Dialect::Sqlite,
            Engines::Servers => d != Dialect::Sqlite,
        }
    }
}

/// One rule's fixed facts.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// The id used in output and in `-- kiln:allow`.
    pub id: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// The engines it applies to.
    pub engines: Engines,
    /// Whether a table new in this revision (or in a draft before it) exempts the statement:
    /// nobody is using such a table yet, so its locks block nothing.
    pub lock_rule: bool,
    /// One line: what the rule finds.
    pub summary: &'static str,
    /// Why it hurts: the lock, the rewrite, the break.
    pub note: &'static str,
    /// The safe recipe.
    pub help: &'static str,
}

const fn r(
    id: &'static str,
    severity: Severity,
    engines: Engines,
    lock_rule: bool,
    summary: &'static str,
    note: &'static str,
    help: &'static str,
) -> RuleInfo {
    RuleInfo {
        id,
        severity,
        engines,
        lock_rule,
        summary,
        note,
        help,
    }
}

use Engines::{All, MySql, Postgres, Servers, Sqlite};
use Severity::{Error, Note, Warning};

/// Every rule, in the order `docs/lint.md` lists them.
pub const RULES: &[RuleInfo] = &[
    r(
        "require-concurrent-index",
        Error,
        Postgres,
        true,
        "CREATE INDEX on an existing table without CONCURRENTLY",
        "CREATE INDEX takes a SHARE lock on the table for the whole build: every INSERT, UPDATE and DELETE waits until the index is built",
        "use CREATE INDEX CONCURRENTLY in a revision with `-- kiln:transaction false` (it cannot run in a transaction); add IF NOT EXISTS so a retry after a failed build works",
    ),
    r(
        "require-concurrent-index-drop",
        Warning,
        Postgres,
        true,
        "DROP INDEX without CONCURRENTLY",
        "DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: it waits behind running queries and every query on the table waits behind it",
        "use DROP INDEX CONCURRENTLY IF EXISTS in a revision with `-- kiln:transaction false`",
    ),
    r(
        "foreign-key-not-valid",
        Error,
        Servers,
        true,
        "foreign key added to an existing table and validated in the same step",
        "PostgreSQL: ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE locks on both tables while it scans every row; MySQL/MariaDB: with foreign_key_checks on, InnoDB copies the table (ALGORITHM=COPY) to add it",
        "PostgreSQL: ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a later statement or revision (it takes only SHARE UPDATE EXCLUSIVE); MySQL/MariaDB: SET foreign_key_checks = 0 before the ALTER (ALGORITHM=INPLACE), after checking the data yourself",
    ),
    r(
        "check-not-valid",
        Error,
        Postgres,
        true,
        "CHECK constraint added to an existing table without NOT VALID",
        "ADD CHECK takes an ACCESS EXCLUSIVE lock while it scans every row: nothing can read or write the table meanwhile",
        "ADD CONSTRAINT ... CHECK (...) NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT separately",
    ),
    r(
        "unique-without-index",
        Error,
        Postgres,
        true,
        "UNIQUE or PRIMARY KEY constraint built inside ALTER TABLE",
        "ADD UNIQUE / ADD PRIMARY KEY builds the index under an ACCESS EXCLUSIVE lock: no reads or writes until it is done",
        "CREATE UNIQUE INDEX CONCURRENTLY first (a `-- kiln:transaction false` revision), then ALTER TABLE ... ADD CONSTRAINT name UNIQUE USING INDEX index_name",
    ),
    r(
        "set-not-null",
        Error,
        Postgres,
        true,
        "SET NOT NULL on an existing column",
        "SET NOT NULL takes an ACCESS EXCLUSIVE lock and scans the whole table to prove there is no NULL",
        "on PostgreSQL 12+: ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT c, then SET NOT NULL (it uses the validated check and skips the scan), then drop the check",
    ),
    r(
        "add-column-required",
        Error,
        Postgres,
        true,
        "NOT NULL column added without a default",
        "the statement fails on any table that has rows (the new column would be NULL), so it passes on an empty test database and breaks in production",
        "add the column with a DEFAULT, or add it nullable, backfill it, then set NOT NULL (see set-not-null)",
    ),
    r(
        "volatile-default",
        Error,
        Postgres,
        true,
        "column added with a default that rewrites the table",
        "a volatile default (random(), gen_random_uuid(), clock_timestamp(), a serial's nextval()) is computed per row, and before PostgreSQL 11 any default is: the table is rewritten under an ACCESS EXCLUSIVE lock",
        "add the column without a default (or with a constant one), set the default in a second statement, and backfill existing rows in batches",
    ),
    r(
        "column-type-change",
        Error,
        Servers,
        true,
        "a column's type changes",
        "PostgreSQL rewrites the table and its indexes under an ACCESS EXCLUSIVE lock (except binary-compatible changes such as widening a varchar); MySQL/MariaDB copy the table (ALGORITHM=COPY), blocking writes",
        "add a new column of the new type, write to both, backfill in batches, switch reads, then drop the old column in a later revision",
    ),
    r(
        "rename-column",
        Warning,
        All,
        true,
        "a column is renamed",
        "the running version of the service still uses the old name: its queries fail from the moment the revision commits until the new version is deployed",
        "expand and contract: add the new column, write to both, backfill, switch reads, and drop the old column once no deployed version uses it",
    ),
    r(
        "rename-table",
        Warning,
        All,
        true,
        "a table is renamed",
        "the running version of the service still uses the old name and fails until the new version is deployed",
        "create the new table (or a view with the old name over the renamed table) so both versions work, and drop the old name later",
    ),
    r(
        "drop-column",
        Warning,
        All,
        true,
        "a column is dropped",
        "the running version of the service may still read or write it, and the data is gone for good (a downgrade cannot bring it back)",
        "stop using the column in a deployed version first, then drop it in a later revision",
    ),
    r(
        "drop-table",
        Warning,
        All,
        true,
        "a table is dropped",
        "the running version of the service may still use it, and the data is gone for good",
        "stop using the table in a deployed version first, then drop it in a later revision; consider renaming it aside for a release",
    ),
    r(
        "prefer-text",
        Note,
        Postgres,
        false,
        "varchar(n) or char(n) column",
        "on PostgreSQL varchar(n) is text with a length check, and shrinking the limit later rewrites the table; char(n) pads with spaces",
        "use text, with a CHECK (length(col) <= n) NOT VALID constraint if the limit matters",
    ),
    r(
        "prefer-bigint-pk",
        Warning,
        Servers,
        false,
        "32-bit integer (int, serial) primary key",
        "a 32-bit key runs out at 2,147,483,647 rows, and widening it later rewrites the table and every table that references it",
        "use bigint (bigserial, or GENERATED ... AS IDENTITY on bigint; BIGINT AUTO_INCREMENT on MySQL)",
    ),
    r(
        "prefer-timestamptz",
        Warning,
        Postgres,
        false,
        "timestamp without time zone",
        "timestamp stores wall-clock time without the zone, so values written from sessions in different time zones cannot be compared",
        "use timestamptz (timestamp with time zone)",
    ),
    r(
        "prefer-robust-stmts",
        Warning,
        Postgres,
        false,
        "statement cannot be retried in a revision without a transaction",
        "a `-- kiln:transaction false` revision that fails half-way leaves its first statements applied; re-running it fails on objects that already exist",
        "add IF NOT EXISTS / IF EXISTS so the revision can be run again after a failure",
    ),
    r(
        "nested-transaction",
        Error,
        All,
        false,
        "BEGIN, COMMIT or ROLLBACK inside a transactional revision",
        "kiln runs the revision in its own transaction: a COMMIT ends it early, so the rest of the revision and kiln's bookkeeping are no longer atomic",
        "remove the transaction statements; if the revision really must manage transactions itself, mark it `-- kiln:transaction false`",
    ),
    r(
        "lock-timeout",
        Warning,
        Postgres,
        true,
        "lock-taking statement with no lock_timeout set before it",
        "an ALTER waiting for its lock behind a long query blocks every later query on the table, so a one-millisecond change can stall the service for as long as that query runs",
        "start the revision with SET lock_timeout = '2s' (SET LOCAL in a transaction) and retry on timeout",
    ),
    r(
        "mysql-table-copy",
        Error,
        MySql,
        true,
        "ALTER TABLE that copies the table",
        "ALGORITHM=COPY (explicit, or forced by dropping the primary key) rebuilds the table row by row and blocks writes for the whole copy",
        "use an online schema change tool (gh-ost, pt-online-schema-change) for large tables, or an operation that supports ALGORITHM=INPLACE/INSTANT",
    ),
    r(
        "mysql-lock-none-impossible",
        Error,
        MySql,
        false,
        "LOCK=NONE or ALGORITHM=INSTANT/INPLACE asked for an operation that cannot do it",
        "the server refuses the statement (ER_ALTER_OPERATION_NOT_SUPPORTED) instead of falling back: the revision fails in production only",
        "drop the clause and accept the copy on a small table, or use an online schema change tool",
    ),
    r(
        "mysql-implicit-commit",
        Warning,
        MySql,
        false,
        "DDL in a revision with more than one statement",
        "every DDL statement commits implicitly on MySQL/MariaDB, so a revision that fails part-way stays half-applied (kiln marks it dirty)",
        "put each DDL statement in its own revision, or make each one safe to re-run (IF NOT EXISTS on MariaDB)",
    ),
    r(
        "sqlite-alter-unsupported",
        Error,
        Sqlite,
        false,
        "ALTER TABLE form SQLite does not support",
        "SQLite's ALTER TABLE only renames, adds a column (not PRIMARY KEY or UNIQUE; NOT NULL only with a non-NULL constant default) and drops a column; anything else fails",
        "rebuild the table: CREATE TABLE new_t (...), INSERT INTO new_t SELECT ... FROM t, DROP TABLE t, ALTER TABLE new_t RENAME TO t, then recreate its indexes and triggers",
    ),
    r(
        "sqlite-foreign-keys-off",
        Note,
        Sqlite,
        false,
        "foreign key on SQLite",
        "SQLite enforces foreign keys only on connections that ran PRAGMA foreign_keys = ON; sqlx turns it on, the sqlite3 shell and many other clients do not",
        "make sure every client connects with PRAGMA foreign_keys = ON",
    ),
    r(
        "sqlite-pragma-in-transaction",
        Error,
        Sqlite,
        false,
        "PRAGMA that has no effect inside a transaction",
        "PRAGMA foreign_keys, journal_mode and synchronous are no-ops inside a transaction, and kiln runs the revision in one",
        "mark the revision `-- kiln:transaction false`, or set the pragma on the connection",
    ),
    r(
        "concurrently-in-transaction",
        Error,
        Postgres,
        false,
        "CONCURRENTLY inside a transactional revision",
        "CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction block, and kiln runs this revision in one: it fails at run time",
        "add `-- kiln:transaction false` to the revision's header (and keep the revision to that statement and other retry-safe ones)",
    ),
    r(
        "mixed-ddl-and-data",
        Warning,
        All,
        false,
        "revision mixes schema changes and data changes",
        "a data change holds the schema change's locks for as long as it runs, cannot be batched, and its downgrade is rarely right",
        "put the data change in a revision of its own",
    ),
    r(
        "destructive-without-downgrade",
        Warning,
        All,
        false,
        "destructive upgrade with a missing or empty downgrade",
        "the upgrade drops something and the downgrade does not say how to bring it back, so a rollback silently keeps the loss",
        "write a downgrade that recreates what was dropped (the data is still lost: restore from a backup if it matters)",
    ),
    r(
        "downgrade-misses-column",
        Warning,
        All,
        false,
        "downgrade does not re-add a dropped column",
        "after a downgrade the previous version of the service expects the column and fails",
        "re-add the column (its type and constraints) in the downgrade",
    ),
    r(
        "two-phase-column-change",
        Error,
        All,
        true,
        "rename or drop of a column the previous revision uses",
        "the previous revision added or used this column, so the version of the service deployed with it still does: it breaks the moment this revision runs",
        "release in two phases: stop using the column in a deployed version, then rename or drop it in a later revision",
    ),
    r(
        "unparsed-statement",
        Note,
        All,
        false,
        "statement the SQL parser does not understand",
        "kiln's rules could not look at this statement, so it may hide a problem",
        "check it by hand; report the form to kiln if it is valid SQL",
    ),
    r(
        "invalid-waiver",
        Error,
        All,
        false,
        "malformed `-- kiln:allow` waiver",
        "a waiver needs a known rule and a reason, so that a reviewer can see why the rule does not apply",
        "write `-- kiln:allow RULE reason`, e.g. `-- kiln:allow require-concurrent-index table has 10 rows`",
    ),
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_kebab_case() {
        for (i, a) in RULES.iter().enumerate() {
            assert!(
                a.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                a.id
            );
            assert!(RULES[i + 1..].iter().all(|b| b.id != a.id), "{}", a.id);
        }
    }
}
