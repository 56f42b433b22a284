//! The SQL kiln itself sends: bookkeeping tables, locks, and the single place where text that is
//! not a `&'static str` literal is handed to sqlx.
//!
//! sqlx 0.9 refuses dynamic SQL unless it is wrapped in `AssertSqlSafe`. kiln sends two kinds of
//! dynamic SQL: migration files, which are exactly what the user asked to run, and bookkeeping
//! statements built here from validated table names (every value goes through a bind parameter).
//! Both pass through [`trusted`], so there is one place to audit.
//!
//! One exception to "every value goes through a bind parameter": the bookkeeping of transactional
//! revisions on PostgreSQL and SQLite is sent as a script in the same round trip as other work
//! (see [`Bookkeeping`]), so its values are rendered by [`literal`], which escapes for the one
//! dialect it is given. MySQL never takes that path (its revisions follow the marker protocol with
//! bound values), so the MySQL-specific backslash rules never matter there.

use crate::error::Error;
use crate::options::Options;
use kiln_core::Dialect;
use std::borrow::Cow;

/// Marks SQL as audited. See the module documentation for why this is sound.
pub(crate) fn trusted(sql: impl Into<Cow<'static, str>>) -> sqlx::AssertSqlSafe<Cow<'static, str>> {
    sqlx::AssertSqlSafe(sql.into())
}

/// Quotes an identifier for `dialect`: `"name"` (PostgreSQL, SQLite) or `` `name` `` (MySQL),
/// with the quote character doubled inside.
pub fn quote_ident(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::MySql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// Quotes a string literal for `dialect`: quotes doubled, and backslashes too on MySQL. The
/// engine's own bookkeeping binds values instead; this is for offline scripts and for
/// statements that cannot take bind parameters (catalog reads, `CREATE DATABASE`).
pub fn quote_literal(dialect: Dialect, value: &str) -> String {
    let mut v = value.replace('\'', "''");
    if dialect == Dialect::MySql {
        v = v.replace('\\', "\\\\");
    }
    format!("'{v}'")
}

/// A value as an SQL literal for an online bookkeeping script on PostgreSQL or SQLite.
///
/// PostgreSQL: `'...'` with quotes doubled, or `E'...'` with backslashes doubled too when the value
/// has a backslash, which reads the same whatever `standard_conforming_strings` says. SQLite has no
/// backslash escapes. NUL, which neither engine stores in text, is dropped. MySQL (whose meaning of
/// a backslash depends on `NO_BACKSLASH_ESCAPES`) is refused: its bookkeeping is always bound.
pub(crate) fn literal(dialect: Dialect, value: Option<&str>) -> String {
    let mut out = String::new();
    push_literal(&mut out, dialect, value);
    out
}

/// [`literal`], appended to `out`: the bookkeeping of a whole run writes thousands of them.
pub(crate) fn push_literal(out: &mut String, dialect: Dialect, value: Option<&str>) {
    let Some(value) = value else {
        out.push_str("NULL");
        return;
    };
    debug_assert!(
        dialect != Dialect::MySql,
        "MySQL bookkeeping must use bind parameters"
    );
    let backslash = dialect != Dialect::Sqlite && value.contains('\\');
    if backslash {
        out.push('E');
    }
    out.push('\'');
    if !backslash && !value.contains(['\'', '\0']) {
        // Revision ids, checksums and timestamps: nothing to escape.
        out.push_str(value);
    } else {
        for c in value.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' if backslash => out.push_str("\\\\"),
                '\0' => {}
                c => out.push(c),
            }
        }
    }
    out.push('\'');
}

/// A version row or audit row waiting to be written; see [`Bookkeeping`].
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// `upgrade` or `downgrade`.
    pub action: &'static str,
    pub revision: String,
    pub checksum: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: i64,
}

/// The bookkeeping of transactional revisions (version rows, state digest, audit rows) as one
/// script, so it costs no round trip of its own: in per-revision mode it travels with the
/// `COMMIT`, in whole-run mode every revision's rows are written by a few multi-row statements just
/// before the run's `COMMIT` (the rows become visible only at that commit either way).
#[derive(Debug, Default)]
pub(crate) struct Bookkeeping {
    pub records: Vec<Record>,
}

/// Rows per multi-row statement: far below every engine's limits on statement size.
const ROWS_PER_STATEMENT: usize = 250;

/// Appended on SQLite to the digest in the state row: it was written while the version table's
/// guard triggers were in place (see [`Sql::fast_check`]).
pub(crate) const GUARDED_DIGEST: &str = "+guarded";

/// The writes to the version table that SQLite's guard triggers watch (see [`Sql::fast_check`]).
const GUARDED: [&str; 3] = ["INSERT", "UPDATE", "DELETE"];

/// Who and what the audit rows name; the same for every row of one run.
pub(crate) struct AuditContext<'a> {
    pub run_id: &'a str,
    pub db_user: Option<&'a str>,
    pub host: Option<&'a str>,
    pub app_version: Option<&'a str>,
    pub kiln_version: &'a str,
}

impl Bookkeeping {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Appends the statements that write every pending record, then the state row, to `out`, and
    /// forgets the records.
    pub fn drain_into(
        &mut self,
        out: &mut String,
        sql: &Sql,
        audit: &AuditContext<'_>,
        digest_hex: &str,
        dirty: i64,
        now: &str,
    ) {
        use std::fmt::Write as _;
        let d = sql.dialect;
        let put = |out: &mut String, v: &str| push_literal(out, d, Some(v));
        // What every audit row of the run repeats, rendered once.
        let mut run_id = String::new();
        put(&mut run_id, audit.run_id);
        let mut tail = String::from(", 'ok', NULL, ");
        match d {
            Dialect::Postgres => tail.push_str("current_user"),
            _ => push_literal(&mut tail, d, audit.db_user),
        }
        for v in [audit.host, audit.app_version, Some(audit.kiln_version)] {
            tail.push_str(", ");
            push_literal(&mut tail, d, v);
        }
        tail.push(')');
        for chunk in self.records.chunks(ROWS_PER_STATEMENT) {
            let ups: Vec<&Record> = chunk.iter().filter(|r| r.action == "upgrade").collect();
            if !ups.is_empty() {
                let _ = write!(
                    out,
                    "INSERT INTO {} (revision, checksum, state, applied_at, duration_ms, kiln_version, error) VALUES ",
                    sql.version
                );
                for (i, r) in ups.iter().enumerate() {
                    out.push_str(if i > 0 { ", (" } else { "(" });
                    put(out, &r.revision);
                    out.push_str(", ");
                    put(out, &r.checksum);
                    out.push_str(", 'applied', ");
                    put(out, &r.finished_at);
                    let _ = write!(out, ", {}, ", r.duration_ms);
                    put(out, audit.kiln_version);
                    out.push_str(", NULL)");
                }
                out.push_str(";\n");
            }
            let downs: Vec<&Record> = chunk.iter().filter(|r| r.action != "upgrade").collect();
            if !downs.is_empty() {
                let _ = write!(out, "DELETE FROM {} WHERE revision IN (", sql.version);
                for (i, r) in downs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    put(out, &r.revision);
                }
                out.push_str(");\n");
            }
            let _ = write!(
                out,
                "INSERT INTO {} (run_id, action, revision, checksum, started_at, finished_at, duration_ms, outcome, error, db_user, host, app_version, kiln_version) VALUES ",
                sql.audit
            );
            for (i, r) in chunk.iter().enumerate() {
                out.push_str(if i > 0 { ", (" } else { "(" });
                out.push_str(&run_id);
                for v in [
                    r.action,
                    &r.revision,
                    &r.checksum,
                    &r.started_at,
                    &r.finished_at,
                ] {
                    out.push_str(", ");
                    put(out, v);
                }
                let _ = write!(out, ", {}", r.duration_ms);
                out.push_str(&tail);
            }
            out.push_str(";\n");
        }
        self.records.clear();
        let _ = write!(out, "UPDATE {} SET digest = ", sql.state);
        put(out, digest_hex);
        let _ = write!(out, ", dirty = {}, updated_at = ", dirty.max(0));
        put(out, now);
        out.push_str(" WHERE id = 1;\n");
    }
}

pub(crate) fn check_name(what: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{what} `{name}` must be 1 to 63 characters of A-Z, a-z, 0-9 and `_`, not starting with a digit"
        )))
    }
}

/// The bookkeeping statements for one dialect and one set of table names.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub dialect: Dialect,
    pub version: String,
    pub audit: String,
    pub state: String,
    /// The lease table of [`crate::LockMode::Table`].
    pub lock: String,
    pub schema: Option<String>,
    /// Plain `schema.version_table` used to derive lock keys.
    pub lock_name: String,
    /// SQLite only: the names of the three triggers that blank the state row's digest when the
    /// version table is written (see [`Sql::fast_check`]).
    pub guards: Vec<String>,
}

impl Sql {
    pub fn new(dialect: Dialect, options: &Options) -> Result<Sql, Error> {
        options.validate(Some(dialect))?;
        let schema = match dialect {
            Dialect::Sqlite => None,
            _ => options.schema.as_deref(),
        };
        let q = |t: &str| match schema {
            Some(s) => format!("{}.{}", quote_ident(dialect, s), quote_ident(dialect, t)),
            None => quote_ident(dialect, t),
        };
        Ok(Sql {
            dialect,
            version: q(&options.version_table),
            audit: q(&options.audit_table),
            state: q(&options.state_table()),
            lock: q(&options.lock_table()),
            schema: schema.map(|s| quote_ident(dialect, s)),
            lock_name: format!("{}.{}", schema.unwrap_or(""), options.version_table),
            guards: match dialect {
                Dialect::Sqlite => GUARDED
                    .iter()
                    .map(|ev| format!("{}_{}", options.version_table, ev.to_lowercase()))
                    .collect(),
                _ => Vec::new(),
            },
        })
    }

    /// Rewrites `?` placeholders as `$1, $2, ...` on PostgreSQL. Safe because kiln's own
    /// statements contain no `?` elsewhere (table names are validated).
    pub fn ph(&self, sql: &str) -> String {
        if self.dialect != Dialect::Postgres {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Statements that create the bookkeeping tables if they are missing.
    pub fn create_tables(&self) -> Vec<String> {
        let (audit_id, text) = match self.dialect {
            Dialect::Postgres => (
                "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                "TEXT",
            ),
            Dialect::MySql => ("id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY", "TEXT"),
            _ => ("id INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
        };
        let mut out = Vec::new();
        if let Some(schema) = &self.schema {
            out.push(match self.dialect {
                Dialect::MySql => format!("CREATE DATABASE IF NOT EXISTS {schema}"),
                _ => format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
            });
        }
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {} (
    revision VARCHAR(32) NOT NULL PRIMARY KEY,
    checksum VARCHAR(64) NOT NULL,
    state VARCHAR(16) NOT NULL,
    applied_at VARCHAR(40) NOT NULL,
    duration_ms BIGINT NOT NULL,
    kiln_version VARCHAR(32) NOT NULL,
    error {text} NULL
)",
            self.version
        ));
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {} (
    id INTEGER NOT NULL PRIMARY KEY,
    digest VARCHAR(64) NOT NULL,
    dirty INTEGER NOT NULL,
    updated_at VARCHAR(40) NOT NULL
)",
            self.state
        ));
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {} (
    {audit_id},
    run_id VARCHAR(40) NOT NULL,
    action VARCHAR(16) NOT NULL,
    revision VARCHAR(32) NULL,
    checksum VARCHAR(64) NULL,
    started_at VARCHAR(40) NOT NULL,
    finished_at VARCHAR(40) NOT NULL,
    duration_ms BIGINT NOT NULL,
    outcome VARCHAR(16) NOT NULL,
    error {text} NULL,
    db_user VARCHAR(255) NULL,
    host VARCHAR(255) NULL,
    app_version VARCHAR(255) NULL,
    kiln_version VARCHAR(32) NOT NULL
)",
            self.audit
        ));
        let zero = self.stored_digest(&"0".repeat(64));
        out.push(match self.dialect {
            Dialect::Postgres => format!(
                "INSERT INTO {} (id, digest, dirty, updated_at) VALUES (1, '{zero}', 0, '') ON CONFLICT DO NOTHING",
                self.state
            ),
            Dialect::MySql => format!(
                "INSERT IGNORE INTO {} (id, digest, dirty, updated_at) VALUES (1, '{zero}', 0, '')",
                self.state
            ),
            _ => format!(
                "INSERT OR IGNORE INTO {} (id, digest, dirty, updated_at) VALUES (1, '{zero}', 0, '')",
                self.state
            ),
        });
        out.extend(self.guard_triggers());
        out
    }

    /// Statements that create the lease table of [`crate::LockMode::Table`] and its one row if
    /// they are missing (modelled on Liquibase's `DATABASECHANGELOGLOCK`: one row, who holds it,
    /// and here an expiry so a dead holder's lease can be taken over).
    pub fn create_lock_table(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(schema) = &self.schema {
            out.push(match self.dialect {
                Dialect::MySql => format!("CREATE DATABASE IF NOT EXISTS {schema}"),
                _ => format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
            });
        }
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {} (
    id INTEGER NOT NULL PRIMARY KEY,
    owner VARCHAR(64) NULL,
    host VARCHAR(255) NULL,
    pid BIGINT NULL,
    acquired_at VARCHAR(40) NULL,
    expires_ms BIGINT NOT NULL
)",
            self.lock
        ));
        let values =
            "(id, owner, host, pid, acquired_at, expires_ms) VALUES (1, NULL, NULL, NULL, NULL, 0)";
        out.push(match self.dialect {
            Dialect::Postgres => {
                format!("INSERT INTO {} {values} ON CONFLICT DO NOTHING", self.lock)
            }
            Dialect::MySql => format!("INSERT IGNORE INTO {} {values}", self.lock),
            _ => format!("INSERT OR IGNORE INTO {} {values}", self.lock),
        });
        out
    }

    /// The database's clock in milliseconds since 1970: every lease is timed by the one clock
    /// all runners share, so clock skew between hosts cannot make a lease expire early.
    pub fn now_ms(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Dialect::MySql => "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
            _ => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        }
    }

    /// Takes the lease when it is free or expired. Binds: owner, host, pid, acquired_at, lease
    /// length in ms. One statement, so two runners can never both take it.
    pub fn take_lease(&self) -> String {
        let now = self.now_ms();
        self.ph(&format!(
            "UPDATE {} SET owner = ?, host = ?, pid = ?, acquired_at = ?, expires_ms = {now} + ? WHERE id = 1 AND (owner IS NULL OR expires_ms < {now})",
            self.lock
        ))
    }

    /// Extends the lease of its owner. Binds: lease length in ms, owner. No row: it was lost.
    pub fn renew_lease(&self) -> String {
        self.ph(&format!(
            "UPDATE {} SET expires_ms = {} + ? WHERE id = 1 AND owner = ?",
            self.lock,
            self.now_ms()
        ))
    }

    /// Frees the lease if its owner still holds it. Binds: owner.
    pub fn release_lease(&self) -> String {
        self.ph(&format!(
            "UPDATE {} SET owner = NULL, host = NULL, pid = NULL, acquired_at = NULL, expires_ms = 0 WHERE id = 1 AND owner = ?",
            self.lock
        ))
    }

    /// The holder of the lease: owner, host, pid, acquired_at and milliseconds left (negative
    /// once expired); no row when it is free.
    pub fn lease_holder(&self) -> String {
        format!(
            "SELECT owner, host, pid, acquired_at, expires_ms - {} FROM {} WHERE id = 1 AND owner IS NOT NULL",
            self.now_ms(),
            self.lock
        )
    }

    /// One round trip that opens a transaction, takes the transaction-scoped advisory lock
    /// `key` waiting at most `wait_ms`, and reads the state row's digest (empty when the dirty
    /// count is no longer `dirty`), for [`crate::LockMode::Transaction`]. The read is a
    /// statement of its own, so its snapshot is taken after the lock is granted and sees every
    /// commit of the previous holder. The wait is bounded by a transaction-local `lock_timeout`
    /// (error 55P03), put back to the session's value once the lock is held so the revision's
    /// own statements run under the setting they would have had.
    pub fn begin_xact_locked(&self, key: i64, dirty: i64, wait_ms: u64) -> String {
        format!(
            "{}; SELECT set_config('kiln.lock_timeout', current_setting('lock_timeout'), true), set_config('lock_timeout', '{}ms', true); SELECT pg_advisory_xact_lock({key}); SELECT set_config('lock_timeout', current_setting('kiln.lock_timeout'), true); SELECT COALESCE(({}), '')",
            self.begin(),
            wait_ms.max(1),
            self.state_digest(dirty)
        )
    }

    /// The start-up check: one row, one column, present only when nothing is dirty and the
    /// state row's digest still speaks for the version rows; the caller compares it with
    /// [`Sql::stored_digest`] of the embedded set's digest.
    ///
    /// A hand edit of the version table (a `DELETE` of one row, say) would otherwise leave the
    /// state row claiming every revision is applied, so `upgrade` would find nothing to do while
    /// `check` reports a revision pending.
    ///
    /// - PostgreSQL and MySQL count the rows (all, and applied), which their indexes make cheap
    ///   and which needs no trigger privilege.
    /// - SQLite has no cheap count (two counts cost twice the rest of the check at 1,000
    ///   revisions), nor an indexed catalog to ask whether a trigger exists (a scan of
    ///   `sqlite_master` costs as much on a schema of 2,000 objects). Three triggers blank the
    ///   digest on any write to the version table; kiln rewrites the state row after each of its
    ///   own writes, so only a write by someone else leaves it blank. The digest kiln writes
    ///   there carries [`GUARDED_DIGEST`], which says the triggers were in place: a state row
    ///   written before them (by an older kiln) never matches, so that database takes the locked
    ///   path once, which creates the triggers and rewrites the row.
    pub fn fast_check(&self, revisions: usize) -> String {
        if self.dialect == Dialect::Sqlite {
            return format!(
                "SELECT digest FROM {} WHERE id = 1 AND dirty = 0",
                self.state
            );
        }
        format!(
            "SELECT digest FROM {state} WHERE id = 1 AND dirty = 0 AND (SELECT COUNT(*) FROM {v}) = {revisions} AND (SELECT COUNT(*) FROM {v} WHERE state = 'applied') = {revisions}",
            state = self.state,
            v = self.version,
        )
    }

    /// The form in which the state row holds the applied set's digest (hex): as it is, or on
    /// SQLite followed by [`GUARDED_DIGEST`] (see [`Sql::fast_check`]).
    pub fn stored_digest(&self, hex: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("{hex}{GUARDED_DIGEST}"),
            _ => hex.to_owned(),
        }
    }

    /// SQLite's guard triggers (see [`Sql::fast_check`]).
    fn guard_triggers(&self) -> Vec<String> {
        GUARDED
            .iter()
            .zip(&self.guards)
            .map(|(ev, name)| {
                let name = quote_ident(self.dialect, name);
                format!(
                    "CREATE TRIGGER IF NOT EXISTS {name} AFTER {ev} ON {v} BEGIN UPDATE {state} SET digest = '' WHERE id = 1; END",
                    v = self.version,
                    state = self.state,
                )
            })
            .collect()
    }

    /// The state row's digest when its dirty count is `dirty`, to compare with the version rows.
    pub fn state_digest(&self, dirty: i64) -> String {
        format!(
            "SELECT digest FROM {} WHERE id = 1 AND dirty = {dirty}",
            self.state
        )
    }

    pub fn select_versions(&self) -> String {
        format!(
            "SELECT revision, checksum, state, applied_at, duration_ms, error FROM {} ORDER BY applied_at, revision",
            self.version
        )
    }

    pub fn insert_version(&self) -> String {
        self.ph(&format!(
            "INSERT INTO {} (revision, checksum, state, applied_at, duration_ms, kiln_version, error) VALUES (?, ?, ?, ?, ?, ?, NULL)",
            self.version
        ))
    }

    pub fn finish_version(&self) -> String {
        self.ph(&format!(
            "UPDATE {} SET state = 'applied', applied_at = ?, duration_ms = ?, error = NULL WHERE revision = ?",
            self.version
        ))
    }

    pub fn mark_version(&self) -> String {
        self.ph(&format!(
            "UPDATE {} SET state = ?, error = ? WHERE revision = ?",
            self.version
        ))
    }

    pub fn delete_version(&self) -> String {
        self.ph(&format!("DELETE FROM {} WHERE revision = ?", self.version))
    }

    pub fn delete_all_versions(&self) -> String {
        format!("DELETE FROM {}", self.version)
    }

    pub fn update_state(&self) -> String {
        self.ph(&format!(
            "UPDATE {} SET digest = ?, dirty = ?, updated_at = ? WHERE id = 1",
            self.state
        ))
    }

    pub fn insert_audit(&self) -> String {
        let user = match self.dialect {
            Dialect::Postgres => "current_user",
            Dialect::MySql => "CURRENT_USER()",
            _ => "?",
        };
        self.ph(&format!(
            "INSERT INTO {} (run_id, action, revision, checksum, started_at, finished_at, duration_ms, outcome, error, db_user, host, app_version, kiln_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {user}, ?, ?, ?)",
            self.audit
        ))
    }

    pub fn select_audit(&self) -> String {
        format!(
            "SELECT id, run_id, action, revision, checksum, started_at, finished_at, duration_ms, outcome, error, db_user, host, app_version, kiln_version FROM {} ORDER BY id",
            self.audit
        )
    }

    /// `BEGIN` for a transaction that will write; SQLite takes the write lock at once so two
    /// writers never deadlock upgrading read locks.
    pub fn begin(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            _ => "BEGIN",
        }
    }

    /// An expression for the current UTC time in kiln's text format (offline scripts).
    pub fn now_expr(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => {
                "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
            }
            Dialect::MySql => "DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')",
            _ => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_for_their_dialect() {
        assert_eq!(literal(Dialect::Sqlite, None), "NULL");
        assert_eq!(literal(Dialect::Sqlite, Some("it's")), "'it''s'");
        assert_eq!(literal(Dialect::Sqlite, Some("a\\b")), "'a\\b'");
        assert_eq!(literal(Dialect::Postgres, Some("it's")), "'it''s'");
        // E'' reads the same whatever standard_conforming_strings says.
        assert_eq!(literal(Dialect::Postgres, Some("a\\'b")), "E'a\\\\''b'");
        assert_eq!(literal(Dialect::Postgres, Some("nul\0x")), "'nulx'");
    }

    #[test]
    fn bookkeeping_script_writes_versions_audit_and_state() {
        let sql = Sql::new(Dialect::Postgres, &Options::default()).unwrap();
        let mut book = Bookkeeping::default();
        for (action, id) in [("upgrade", "r1"), ("upgrade", "r2"), ("downgrade", "r0")] {
            book.records.push(Record {
                action,
                revision: id.to_owned(),
                checksum: "c".to_owned(),
                started_at: "s".to_owned(),
                finished_at: "f".to_owned(),
                duration_ms: 3,
            });
        }
        let audit = AuditContext {
            run_id: "run",
            db_user: None,
            host: Some("h'ost"),
            app_version: None,
            kiln_version: "0.1.0",
        };
        let mut out = String::new();
        book.drain_into(&mut out, &sql, &audit, "00", 0, "now");
        assert!(book.is_empty());
        assert!(
            out.contains("('r1', 'c', 'applied', 'f', 3, '0.1.0', NULL), ('r2'"),
            "{out}"
        );
        assert!(
            out.contains("DELETE FROM \"kiln_version\" WHERE revision IN ('r0')"),
            "{out}"
        );
        assert!(
            out.contains("current_user, 'h''ost', NULL, '0.1.0')"),
            "{out}"
        );
        assert!(out.ends_with("WHERE id = 1;\n"), "{out}");
        assert_eq!(
            out.matches("INSERT INTO \"kiln_audit\"").count(),
            1,
            "{out}"
        );
        // The whole script, byte for byte: rows are written piece by piece for speed.
        let audit_row = |action: &str, id: &str| {
            format!(
                "('run', '{action}', '{id}', 'c', 's', 'f', 3, 'ok', NULL, current_user, 'h''ost', NULL, '0.1.0')"
            )
        };
        let expected = format!(
            "INSERT INTO \"kiln_version\" (revision, checksum, state, applied_at, duration_ms, kiln_version, error) VALUES ('r1', 'c', 'applied', 'f', 3, '0.1.0', NULL), ('r2', 'c', 'applied', 'f', 3, '0.1.0', NULL);\n\
             DELETE FROM \"kiln_version\" WHERE revision IN ('r0');\n\
             INSERT INTO \"kiln_audit\" (run_id, action, revision, checksum, started_at, finished_at, duration_ms, outcome, error, db_user, host, app_version, kiln_version) VALUES {}, {}, {};\n\
             UPDATE \"kiln_version_state\" SET digest = '00', dirty = 0, updated_at = 'now' WHERE id = 1;\n",
            audit_row("upgrade", "r1"),
            audit_row("upgrade", "r2"),
            audit_row("downgrade", "r0"),
        );
        assert_eq!(out, expected);
        // SQLite names the user as a literal, escaped like every other value.
        let sqlite = Sql::new(Dialect::Sqlite, &Options::default()).unwrap();
        book.records.push(Record {
            action: "upgrade",
            revision: "r3".to_owned(),
            checksum: "c".to_owned(),
            started_at: "s".to_owned(),
            finished_at: "f".to_owned(),
            duration_ms: 4,
        });
        let audit = AuditContext {
            db_user: Some("o'k"),
            ..audit
        };
        let mut out = String::new();
        book.drain_into(&mut out, &sqlite, &audit, "01", 2, "now");
        assert!(
            out.contains("VALUES ('run', 'upgrade', 'r3', 'c', 's', 'f', 4, 'ok', NULL, 'o''k', 'h''ost', NULL, '0.1.0');\n"),
            "{out}"
        );
        assert!(
            out.ends_with("SET digest = '01', dirty = 2, updated_at = 'now' WHERE id = 1;\n"),
            "{out}"
        );
    }
}
