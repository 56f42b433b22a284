//! The DDL guardrails: each revision's lock and statement timeouts set the way each engine allows,
//! a lock timeout told apart from other failures, the audit row of each attempt, and the sessions
//! that held the lock, named in the final error.
//!
//! Nothing here runs unless the options or a revision of the plan ask for a limit, so a run
//! without guardrails sends exactly what it sent before they existed.

use super::Session;
use crate::db::Arg;
use crate::error::{Error, LockWait, driver_text};
use crate::options::Options;
use crate::report::{Direction, OUTCOME_RETRY, RowState};
use crate::sql::quote_literal;
use crate::util::{millis, now_rfc3339};
use kiln_core::time::format_duration;
use kiln_core::{Dialect, Revision};
use std::time::{Duration, Instant};

/// The limits one revision runs with: its directives, else the run's options; zero is "none".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    pub lock: Option<Duration>,
    pub statement: Option<Duration>,
}

impl Limits {
    pub fn of(rev: &Revision, opts: &Options) -> Limits {
        let pick =
            |own: Option<Duration>, run: Option<Duration>| own.or(run).filter(|d| !d.is_zero());
        Limits {
            lock: pick(rev.lock_timeout(), opts.ddl_lock_timeout),
            statement: pick(rev.statement_timeout(), opts.ddl_statement_timeout),
        }
    }
}

/// An attempt that gave up waiting for a lock and is retried: an audit row.
struct Attempt {
    action: &'static str,
    revision: String,
    checksum: String,
    started_at: String,
    finished_at: String,
    ms: i64,
    error: String,
}

/// One run's guardrails: whether any are in play, and the session's own values to go back to.
pub(super) struct Rails {
    active: bool,
    dialect: Dialect,
    /// MySQL proper names its statement limit `max_execution_time` (milliseconds, `SELECT`
    /// only); MariaDB `max_statement_time` (seconds).
    mariadb: bool,
    /// The session's values before the run, as SQL literals: the lock limit (PostgreSQL
    /// `lock_timeout`, MySQL `lock_wait_timeout`, SQLite `busy_timeout`), MySQL's
    /// `innodb_lock_wait_timeout`, and the statement limit.
    saved: [String; 3],
    /// Retry rows that could not be written yet (SQLite, while another connection holds the
    /// write lock): written once the revision's outcome is known.
    pending: Vec<Attempt>,
    /// Lock timeouts retried so far in the current transaction (per revision, or per run in
    /// whole-run mode).
    pub retried: u32,
    /// Session-level limits were set ([`Rails::session`], SQLite's pragma), so the end of the run
    /// puts the session's values back. `SET LOCAL` alone needs nothing: behind a pooler in
    /// transaction mode, a session `SET` at the end would land on some other client's session.
    pub touched: bool,
}

impl Rails {
    /// The limits of `rev`, or none when no guardrail is in play.
    pub fn limits(&self, rev: &Revision, opts: &Options) -> Limits {
        if self.active {
            Limits::of(rev, opts)
        } else {
            Limits::default()
        }
    }

    /// SQL setting `limits` for the rest of the current transaction (PostgreSQL `SET LOCAL`, so
    /// nothing outlives it on a pooled session; SQLite's `busy_timeout`, restored at the end of
    /// the run). Put before each revision's SQL, so a revision without limits in a whole-run
    /// transaction gets the session's own values back. `None` when no guardrail is in play.
    pub fn in_tx(&self, limits: Limits) -> Option<String> {
        if !self.active {
            return None;
        }
        match self.dialect {
            Dialect::Postgres => Some(self.postgres("SET LOCAL", limits)),
            Dialect::Sqlite => Some(self.busy(limits)),
            _ => None,
        }
    }

    /// SQL to run before `BEGIN`: SQLite waits for its write lock at `BEGIN IMMEDIATE`.
    pub fn before_begin(&self, limits: Limits) -> Option<String> {
        match self.dialect {
            Dialect::Sqlite if self.active => Some(self.busy(limits)),
            _ => None,
        }
    }

    /// SQL setting `limits` for the session, before the statements of a revision run outside a
    /// transaction (MySQL/MariaDB, `transaction false`): the session's own values where the
    /// revision has none, so nothing carries over from the revision before. [`Rails::restore`]
    /// puts the session's values back at the end of the run. `None` when no guardrail is in play.
    pub fn session(&self, limits: Limits) -> Option<String> {
        if !self.active {
            return None;
        }
        Some(match self.dialect {
            Dialect::Postgres => self.postgres("SET", limits),
            Dialect::MySql => {
                let [lock, row, statement] = &self.saved;
                let (lock, row) = match limits.lock {
                    // Whole seconds only; rounded up, so kiln never gives up sooner than asked.
                    Some(d) => {
                        let secs = d.as_millis().div_ceil(1000).max(1).to_string();
                        (secs.clone(), secs)
                    }
                    None => (lock.clone(), row.clone()),
                };
                let statement = match (limits.statement, self.mariadb) {
                    (Some(d), true) => format!("{:.3}", d.as_secs_f64()),
                    (Some(d), false) => d.as_millis().to_string(),
                    (None, _) => statement.clone(),
                };
                format!(
                    "SET SESSION lock_wait_timeout = {lock}, innodb_lock_wait_timeout = {row}, {} = {statement}",
                    self.statement_var()
                )
            }
            _ => self.busy(limits),
        })
    }

    /// SQL giving the session its own values back. `None` when no guardrail is in play.
    pub fn restore(&self) -> Option<String> {
        if !self.active {
            return None;
        }
        let [lock, row, statement] = &self.saved;
        Some(match self.dialect {
            Dialect::Postgres => format!(
                "SET lock_timeout = {}; SET statement_timeout = {}",
                quote_literal(self.dialect, lock),
                quote_literal(self.dialect, statement)
            ),
            Dialect::MySql => format!(
                "SET SESSION lock_wait_timeout = {lock}, innodb_lock_wait_timeout = {row}, {} = {statement}",
                self.statement_var()
            ),
            _ => format!("PRAGMA busy_timeout = {lock}"),
        })
    }

    fn statement_var(&self) -> &'static str {
        if self.mariadb {
            "max_statement_time"
        } else {
            "max_execution_time"
        }
    }

    fn postgres(&self, set: &str, limits: Limits) -> String {
        let value = |limit: Option<Duration>, saved: &str| match limit {
            Some(d) => format!("'{}ms'", d.as_millis()),
            None => quote_literal(Dialect::Postgres, saved),
        };
        format!(
            "{set} lock_timeout = {}; {set} statement_timeout = {};\n",
            value(limits.lock, &self.saved[0]),
            value(limits.statement, &self.saved[2])
        )
    }

    fn busy(&self, limits: Limits) -> String {
        match limits.lock {
            Some(d) => format!("PRAGMA busy_timeout = {};\n", d.as_millis()),
            None => format!("PRAGMA busy_timeout = {};\n", self.saved[0]),
        }
    }
}

/// The limits of one revision in an offline script (`--sql`), which has no session to read values
/// from: (SQL before its `BEGIN`, SQL right after it or before its statements when it has no
/// transaction, SQL after it). Each is empty when there is nothing to say.
pub(crate) fn offline(dialect: Dialect, limits: Limits, atomic: bool) -> [String; 3] {
    let mut out: [String; 3] = Default::default();
    if limits == Limits::default() {
        return out;
    }
    let ms = |d: Duration| d.as_millis();
    match dialect {
        Dialect::Postgres => {
            let set = if atomic { "SET LOCAL" } else { "SET" };
            for (name, limit) in [
                ("lock_timeout", limits.lock),
                ("statement_timeout", limits.statement),
            ] {
                if let Some(d) = limit {
                    out[1] += &format!("{set} {name} = '{}ms';\n", ms(d));
                    if !atomic {
                        out[2] += &format!("RESET {name};\n");
                    }
                }
            }
        }
        Dialect::MySql => {
            if let Some(d) = limits.lock {
                let secs = ms(d).div_ceil(1000).max(1);
                out[1] += &format!(
                    "SET SESSION lock_wait_timeout = {secs}, innodb_lock_wait_timeout = {secs};\n"
                );
                out[2] += "SET SESSION lock_wait_timeout = DEFAULT, innodb_lock_wait_timeout = DEFAULT;\n";
            }
            if let Some(d) = limits.statement {
                out[1] += &format!(
                    "SET SESSION max_statement_time = {:.3}; -- MariaDB; on MySQL: SET SESSION max_execution_time = {}\n",
                    d.as_secs_f64(),
                    ms(d)
                );
                out[2] += "SET SESSION max_statement_time = DEFAULT;\n";
            }
        }
        _ => {
            if let Some(d) = limits.lock {
                out[0] += &format!("PRAGMA busy_timeout = {};\n", ms(d));
            }
        }
    }
    out
}

/// `true` when the server gave up waiting for a lock: PostgreSQL `lock_not_available` (55P03),
/// MySQL/MariaDB `ER_LOCK_WAIT_TIMEOUT` (1205), SQLite `SQLITE_BUSY` (and its extended codes).
pub(crate) fn is_lock_timeout(dialect: Dialect, e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(d) = e else {
        return false;
    };
    #[cfg(feature = "mysql")]
    if let Some(m) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return m.number() == 1205;
    }
    let code = d.code();
    match dialect {
        Dialect::Postgres => code.as_deref() == Some("55P03"),
        Dialect::Sqlite => code
            .as_deref()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| c & 0xff == 5),
        _ => d.message().starts_with("Lock wait timeout exceeded"),
    }
}

impl Session<'_> {
    /// The guardrails of a run of `plan`: off (nothing is sent) unless the options or one of the
    /// plan's revisions ask for a limit; otherwise the session's own values are read first, so
    /// they can be put back.
    pub(super) async fn rails(&mut self, plan: &[usize]) -> crate::error::Result<Rails> {
        let revs = self.set().revisions();
        let active = self.opts.ddl_lock_timeout.is_some()
            || self.opts.ddl_statement_timeout.is_some()
            || plan.iter().any(|&i| {
                revs[i].lock_timeout().is_some() || revs[i].statement_timeout().is_some()
            });
        let mut rails = Rails {
            active,
            dialect: self.dialect,
            mariadb: false,
            saved: Default::default(),
            pending: Vec::new(),
            retried: 0,
            touched: active && self.dialect == Dialect::Sqlite,
        };
        if !active {
            return Ok(rails);
        }
        let read = |e| Error::db("reading the session's lock and statement timeouts")(e);
        // The first row's columns as text; a missing value is empty, and checked below.
        let first = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
            let row = rows.into_iter().next().unwrap_or_default();
            row.into_iter().map(Option::unwrap_or_default).collect()
        };
        let col = |row: &[String], i: usize| row.get(i).cloned().unwrap_or_default();
        match self.dialect {
            Dialect::Postgres => {
                let sql =
                    "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')";
                let row = first(self.conn.rows(sql, &[]).await.map_err(read)?);
                rails.saved = [col(&row, 0), String::new(), col(&row, 1)];
            }
            Dialect::MySql => {
                let row = self
                    .conn
                    .rows(
                        "SELECT VERSION(), CAST(@@SESSION.lock_wait_timeout AS SIGNED), CAST(@@SESSION.innodb_lock_wait_timeout AS SIGNED)",
                        &[1, 2],
                    )
                    .await
                    .map_err(read)?;
                let row = first(row);
                rails.mariadb = col(&row, 0).to_ascii_lowercase().contains("mariadb");
                let statement = if rails.mariadb {
                    "SELECT CAST(@@SESSION.max_statement_time AS CHAR)"
                } else {
                    "SELECT CAST(@@SESSION.max_execution_time AS CHAR)"
                };
                let value = self
                    .conn
                    .first_text(statement.to_owned())
                    .await
                    .map_err(read)?;
                rails.saved = [col(&row, 1), col(&row, 2), value.unwrap_or_default()];
            }
            _ => {
                let row = self
                    .conn
                    .rows("PRAGMA busy_timeout", &[0])
                    .await
                    .map_err(read)?;
                rails.saved = [col(&first(row), 0), String::new(), String::new()];
            }
        }
        let read_all = match self.dialect {
            Dialect::Postgres => !rails.saved[0].is_empty() && !rails.saved[2].is_empty(),
            Dialect::MySql => rails.saved.iter().all(|v| !v.is_empty()),
            _ => !rails.saved[0].is_empty(),
        };
        if !read_all {
            // Neither running without the limits that were asked for nor leaving a pooled
            // session with a revision's limits is acceptable.
            return Err(Error::Config(format!(
                "the DDL guardrails (lock and statement timeouts) are set, but the server did not report the session's own values ({}), which kiln puts back after the run; nothing was changed. Run without --ddl-lock-timeout/--ddl-statement-timeout and the revisions' `-- kiln:lock-timeout`/`statement-timeout`, or report this with the server's version",
                rails.saved.join(", ")
            )));
        }
        Ok(rails)
    }

    /// `true` when kiln's three tables and the version table's guard triggers exist on SQLite,
    /// read from its catalog. SQLite takes its write lock even for a `CREATE TABLE IF NOT
    /// EXISTS` of a table that exists, so without this check every run would first wait on any
    /// other writer, with the connection's busy timeout rather than the revision's lock timeout.
    pub(super) async fn sqlite_tables_exist(&mut self) -> bool {
        let q = |names: &[String]| {
            names
                .iter()
                .map(|n| quote_literal(Dialect::Sqlite, n))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let tables = [
            self.opts.version_table.to_string(),
            self.opts.state_table(),
            self.opts.audit_table.to_string(),
        ];
        let sql = format!(
            "SELECT count(*) FROM sqlite_master WHERE (type = 'table' AND name IN ({})) OR (type = 'trigger' AND name IN ({}))",
            q(&tables),
            q(&self.sql.guards),
        );
        let want = (tables.len() + self.sql.guards.len()).to_string();
        matches!(self.conn.rows(&sql, &[0]).await, Ok(rows) if rows.first().and_then(|r| r.first()).cloned().flatten().as_deref() == Some(want.as_str()))
    }

    /// Gives the session its own values back at the end of a run that set session-level limits
    /// (see [`Rails::touched`]). A failure is only logged: the run's outcome is already decided.
    pub(super) async fn restore_rails(&mut self, rails: &Rails) {
        if !rails.touched {
            return;
        }
        if let Some(sql) = rails.restore()
            && let Err(e) = self.conn.script(sql).await
        {
            tracing::warn!(target: "kiln", "could not restore the session's lock and statement timeouts: {}", driver_text(&e));
        }
    }

    /// Records an attempt of `rev` that gave up waiting for a lock and will be retried after
    /// `backoff`: an audit row with outcome `retry`, written now outside any transaction, or
    /// once the revision's outcome is known when the database refuses it (SQLite locked).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn record_attempt(
        &mut self,
        rails: &mut Rails,
        rev: &Revision,
        direction: Direction,
        started_at: &str,
        started: Instant,
        limits: Limits,
        backoff: Duration,
        e: &sqlx::Error,
    ) {
        let attempt = rails.retried;
        let total = self.opts.ddl_retries + 1;
        let waited = limits
            .lock
            .map(format_duration)
            .unwrap_or_else(|| "the server's lock timeout".into());
        let row = Attempt {
            action: direction.as_str(),
            revision: rev.id().to_owned(),
            checksum: rev.checksum().to_owned(),
            started_at: started_at.to_owned(),
            finished_at: now_rfc3339(),
            ms: millis(started.elapsed()),
            error: format!(
                "attempt {attempt} of {total} gave up waiting for a lock ({waited}): {}; trying again in {}",
                driver_text(e),
                format_duration(backoff)
            ),
        };
        tracing::warn!(target: "kiln", revision = rev.id(), "{} of `{}`: {}", row.action, row.revision, row.error);
        rails.pending.push(row);
        if self.dialect != Dialect::Sqlite {
            self.flush_attempts(rails).await;
        }
    }

    /// Writes the retry rows not written yet; those the database still refuses are logged.
    pub(super) async fn flush_attempts(&mut self, rails: &mut Rails) {
        for a in std::mem::take(&mut rails.pending) {
            let res = self
                .insert_audit(
                    a.action,
                    Some((&a.revision, &a.checksum)),
                    &a.started_at,
                    &a.finished_at,
                    a.ms,
                    OUTCOME_RETRY,
                    Some(a.error.clone()),
                )
                .await;
            if let Err(e) = res {
                tracing::warn!(target: "kiln", "could not record an attempt of `{}` in the audit trail: {}", a.revision, driver_text(&e));
            }
        }
    }

    /// The sessions that are the likely holders of the lock kiln gave up on: those in a
    /// transaction older than the wait that hold locks in this database (PostgreSQL:
    /// `pg_stat_activity` and `pg_locks`; MySQL/MariaDB: `information_schema.INNODB_TRX` and
    /// `PROCESSLIST`). SQLite cannot say who holds its write lock. Best effort: a failure to
    /// look is one line saying so, never a second error.
    pub(super) async fn blockers(&mut self, waited: Option<Duration>) -> Vec<String> {
        let ms = waited.map_or(0, |d| d.as_millis());
        let (sql, ints) = match self.dialect {
            Dialect::Postgres => (
                format!(
                    "SELECT CAST(a.pid AS INT8), coalesce(a.application_name, ''), coalesce(a.state, ''), coalesce(to_char(a.xact_start, 'YYYY-MM-DD\"T\"HH24:MI:SSOF'), ''), coalesce(left(a.query, 120), '') \
                     FROM pg_stat_activity a \
                     WHERE a.pid <> pg_backend_pid() AND a.datname = current_database() AND a.xact_start <= now() - interval '{ms} milliseconds' \
                     AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted AND l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())) \
                     ORDER BY a.xact_start LIMIT 5"
                ),
                vec![0],
            ),
            Dialect::MySql => (
                format!(
                    "SELECT CAST(t.trx_mysql_thread_id AS SIGNED), CAST(COALESCE(p.USER, '') AS CHAR), CAST(COALESCE(p.COMMAND, '') AS CHAR), CAST(t.trx_started AS CHAR), CAST(COALESCE(LEFT(COALESCE(p.INFO, t.trx_query), 120), '') AS CHAR) \
                     FROM information_schema.INNODB_TRX t LEFT JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
                     WHERE t.trx_mysql_thread_id <> CONNECTION_ID() AND t.trx_started <= NOW() - INTERVAL {} SECOND \
                     ORDER BY COALESCE(p.DB = DATABASE(), 0) DESC, t.trx_started LIMIT 5",
                    ms / 1000
                ),
                vec![0],
            ),
            _ => {
                return vec![
                    "another connection holds the database's write lock (SQLite cannot say which)"
                        .into(),
                ];
            }
        };
        match self.conn.rows(&sql, &ints).await {
            Ok(rows) if rows.is_empty() => {
                vec!["no session holding locks in an older transaction is left; it may have ended since".into()]
            }
            Ok(rows) => rows
                .into_iter()
                .map(|r| {
                    let f = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                    let query = f(4).split_whitespace().collect::<Vec<_>>().join(" ");
                    let query = if query.is_empty() {
                        String::new()
                    } else {
                        format!(", query `{query}`")
                    };
                    if self.dialect == Dialect::Postgres {
                        format!(
                            "pid {} (application `{}`, {}, transaction started {}{query})",
                            f(0),
                            f(1),
                            f(2),
                            f(3)
                        )
                    } else {
                        format!(
                            "connection {} (user `{}`, {}, transaction started {}{query})",
                            f(0),
                            f(1),
                            f(2).to_ascii_lowercase(),
                            f(3)
                        )
                    }
                })
                .collect(),
            Err(e) => vec![format!(
                "kiln could not look up the blocking session: {}",
                driver_text(&e)
            )],
        }
    }

    /// Takes back the in-progress marker of a revision none of whose statements ran (the first
    /// one gave up waiting for a lock): the revision is then simply not applied (or, for a
    /// downgrade, still applied), and the database is not dirty.
    pub(super) async fn unmark(
        &mut self,
        rev: &Revision,
        direction: Direction,
    ) -> crate::error::Result<()> {
        self.tx(self.sql.begin(), "starting a transaction").await?;
        let res: std::result::Result<(), sqlx::Error> = async {
            if direction == Direction::Upgrade {
                self.conn
                    .exec(
                        &self.sql.delete_version(),
                        &[Arg::Text(rev.id().to_owned())],
                    )
                    .await?;
            } else {
                self.conn
                    .exec(
                        &self.sql.mark_version(),
                        &[
                            Arg::Text(RowState::Applied.as_str().to_owned()),
                            Arg::OptText(None),
                            Arg::Text(rev.id().to_owned()),
                        ],
                    )
                    .await?;
            }
            self.dirty -= 1;
            self.write_state().await?;
            self.conn.script("COMMIT").await
        }
        .await;
        if let Err(e) = res {
            self.dirty += 1;
            let _ = self.conn.script("ROLLBACK").await;
            return Err(Error::db("taking back the in-progress marker")(e));
        }
        Ok(())
    }

    /// The error of a revision that gave up waiting for a lock on its last attempt.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn lock_timeout_error(
        &mut self,
        rev: &Revision,
        direction: Direction,
        line: Option<u32>,
        limits: Limits,
        attempts: u32,
        e: &sqlx::Error,
        dirty: bool,
        run_rolled_back: Option<u32>,
    ) -> Error {
        let blockers = self.blockers(limits.lock).await;
        Error::DdlLockTimeout {
            direction: direction.as_str(),
            revision: rev.id().to_owned(),
            file: rev.file().to_owned(),
            line,
            attempts,
            dirty,
            run_rolled_back,
            detail: Box::new(LockWait {
                timeout: limits.lock,
                message: driver_text(e),
                blockers,
            }),
            report: None,
        }
    }
}
