//! Applying a declared schema file (any DDL the engine accepts) to a dev database, statement by
//! statement, so a failure names its line. It takes the output of the usual dump tools as it
//! comes: `pg_dump --schema-only` (psql's `\restrict` and other backslash lines, `SET`,
//! `set_config('search_path', ...)`, ownership and privilege lines), `mysqldump --no-data`,
//! `sqlite3 .schema` (its `sqlite_sequence` table) and `kiln schema dump`.

use kiln_core::Dialect;
use kiln_runtime::{Db, RawConnection};
use std::fmt;

/// A declared schema that does not apply: the line of the statement and the engine's message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyError {
    /// 1-based line of the statement in the text.
    pub line: usize,
    /// What went wrong, in the engine's (or the splitter's) words.
    pub message: String,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ApplyError {}

/// Runs `text` on `db`, statement by statement, on one connection that is closed afterwards
/// (a dump's `set_config('search_path', '', false)` must not leak into later captures).
/// Statements that only concern roles (`OWNER TO`, `GRANT`, `REVOKE`) are skipped: the roles
/// may not exist on the dev server, and the model does not compare them. So are statements
/// that create SQLite's internal tables.
pub async fn apply_sql(db: &Db, text: &str) -> Result<(), ApplyError> {
    let dialect = db.dialect();
    // psql meta-commands (`\restrict KEY`, `\connect`) are not SQL; blank them, keeping lines.
    let cleaned: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with('\\') {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let statements = kiln_core::split::split(&cleaned, dialect).map_err(|e| ApplyError {
        line: e.line,
        message: format!("cannot split into statements: {}", e.message),
    })?;
    let mut conn = RawConnection::acquire(db).await.map_err(|e| ApplyError {
        line: 1,
        message: format!("cannot connect to the dev database: {e}"),
    })?;
    conn.close_on_drop();
    for st in statements {
        if skipped(dialect, st.sql) {
            continue;
        }
        conn.script(st.sql.to_owned())
            .await
            .map_err(|e| ApplyError {
                line: st.line,
                message: e.to_string(),
            })?;
    }
    Ok(())
}

/// Statements a declared schema may hold that kiln does not run (see [`apply_sql`]).
fn skipped(dialect: Dialect, sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(4)
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let first = words.first().map(String::as_str).unwrap_or("");
    let upper = sql.to_ascii_uppercase();
    match dialect {
        Dialect::Sqlite => {
            first == "create"
                && words.get(1).is_some_and(|w| w == "table")
                && words.get(2).is_some_and(|w| {
                    w.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
                        .starts_with("sqlite_")
                })
        }
        _ => {
            matches!(first, "grant" | "revoke")
                || (first == "alter" && upper.contains(" OWNER TO "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_and_internal_statements_are_skipped() {
        assert!(skipped(
            Dialect::Postgres,
            "ALTER TABLE public.t OWNER TO app"
        ));
        assert!(skipped(Dialect::Postgres, "GRANT ALL ON t TO app"));
        assert!(!skipped(
            Dialect::Postgres,
            "ALTER TABLE t ADD COLUMN owner_to int"
        ));
        assert!(skipped(
            Dialect::Sqlite,
            "CREATE TABLE sqlite_sequence(name,seq)"
        ));
        assert!(!skipped(Dialect::Sqlite, "CREATE TABLE users(a)"));
    }
}
