//! One run against one connection: lock, read state, check it, plan, execute, record.
//!
//! Atomic revisions (transactional, on PostgreSQL or SQLite) run as one script inside a
//! transaction that also writes the version row, the state digest and the audit row, so a revision
//! and its record commit together. Everything else (MySQL/MariaDB, whose DDL commits implicitly,
//! and `transaction false` revisions) follows a marker protocol: the version row is written as
//! `running` first, statements run one at a time, and only success flips it to `applied`, so a
//! failure or a killed process leaves a dirty marker instead of a silent half-applied revision.

use crate::db::{Db, is_concurrent_create, is_missing_table};
use crate::error::{Error, Result};
use crate::net::{Watchdog, Watched};
use crate::options::Options;
use crate::report::{AppliedRevision, AuditEntry, Direction, Hooks, Report, Status};
use crate::sql::Sql;
use crate::util::{host_name, run_id};
use kiln_core::embedded::SetSource;
use kiln_core::{Dialect, MigrationSet, Plan, Target};

mod batch;
mod book;
pub(crate) mod guardrails;
mod lease;
mod locking;
mod lost;
mod marked;
mod marker;
mod stamp;
mod state;
mod steps;
use lost::Phase;
use state::digest_of;
pub(crate) use state::{analyze, history_of, status_of};

const KILN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a mutating run does.
#[derive(Clone)]
pub(crate) enum Op {
    Upgrade(Target),
    Downgrade(Target),
    Stamp(Vec<Target>, bool),
}

/// One run's connection and context. It holds the set and the options, not the `Migrator`, so
/// the engine depends on nothing above it.
pub(crate) struct Session<'m> {
    /// Read through [`Session::set`]; the start-up check reads it directly so an embedded set is
    /// not decoded.
    source: &'m SetSource,
    opts: &'m Options,
    db: Db,
    pub conn: Watched,
    pub sql: Sql,
    dialect: Dialect,
    run_id: String,
    user: Option<String>,
    host: Option<String>,
    digest: [u8; 32],
    dirty: i64,
    guard: locking::Guard,
}

impl<'m> Session<'m> {
    /// The set, decoded on first use when embedded.
    pub fn set(&self) -> &'m MigrationSet {
        self.source.get()
    }

    pub async fn open(source: &'m SetSource, opts: &'m Options, db: &Db) -> Result<Session<'m>> {
        let dog = Watchdog::new(db, opts.io_timeout);
        let conn = Watched::new(db.acquire().await?, dog);
        let dialect = conn.dialect();
        if let Some(declared) = source.syntax()
            && declared.dialect != dialect
        {
            return Err(Error::DialectMismatch {
                declared: declared.dialect,
                actual: dialect,
            });
        }
        let sql = Sql::new(dialect, opts)?;
        Ok(Session {
            source,
            opts,
            db: db.clone(),
            conn,
            sql,
            dialect,
            run_id: String::new(),
            user: None,
            host: None,
            digest: [0; 32],
            dirty: 0,
            guard: locking::Guard::default(),
        })
    }

    /// The start-up check: `true` when the applied set's digest equals the embedded set's and
    /// nothing is dirty. One round trip, independent of the number of revisions.
    pub async fn at_head_fast(&mut self) -> Result<bool> {
        match self
            .conn
            .check_text(self.sql.fast_check(self.source.len()))
            .await
        {
            Ok(Some(d)) => Ok(d == self.sql.stored_digest(self.source.digest())),
            Ok(None) => Ok(false),
            Err(e) if is_missing_table(&e) => Ok(false),
            Err(e) => Err(Error::db("reading the migration state")(e)),
        }
    }

    /// Every version row, or `None` when kiln's tables do not exist yet.
    pub async fn read_versions(&mut self) -> Result<Option<Vec<AppliedRevision>>> {
        match self.conn.rows(&self.sql.select_versions(), &[4]).await {
            Ok(rows) => Ok(Some(
                rows.into_iter()
                    .map(|mut r| {
                        let mut take = |i: usize| r.get_mut(i).and_then(Option::take);
                        AppliedRevision {
                            revision: take(0).unwrap_or_default(),
                            checksum: take(1).unwrap_or_default(),
                            state: take(2).unwrap_or_default(),
                            applied_at: take(3).unwrap_or_default(),
                            duration_ms: take(4).and_then(|s| s.parse().ok()).unwrap_or(0),
                            error: take(5),
                        }
                    })
                    .collect(),
            )),
            Err(e) if is_missing_table(&e) => Ok(None),
            Err(e) => Err(Error::db("reading the version table")(e)),
        }
    }

    /// Creates kiln's tables if they are missing. The run lock usually serializes this, but not
    /// always (locking off, a session lock behind a transaction-mode pooler, a lease lock whose
    /// table is created first), so a concurrent creator is tolerated: the statement is run again
    /// once the other creator's commit made it a no-op.
    async fn ensure_tables(&mut self) -> Result<()> {
        if self.dialect == Dialect::Sqlite {
            if self.sqlite_tables_exist().await {
                return Ok(());
            }
            // One transaction, so one commit: each statement on its own would be a transaction
            // with its own journal and fsyncs, which on a fresh database cost more than applying
            // a hundred small revisions.
            let script = format!(
                "BEGIN IMMEDIATE;\n{};\nCOMMIT",
                self.sql.create_tables().join(";\n")
            );
            if let Err(e) = self.conn.script(script).await {
                let _ = self.conn.script("ROLLBACK").await;
                return Err(Error::db("creating kiln's bookkeeping tables")(e));
            }
            return Ok(());
        }
        for stmt in self.sql.create_tables() {
            let mut attempt = 0;
            loop {
                match self.conn.script(stmt.clone()).await {
                    Ok(()) => break,
                    Err(e) if attempt < 3 && is_concurrent_create(&e) => attempt += 1,
                    Err(e) => return Err(Error::db("creating kiln's bookkeeping tables")(e)),
                }
            }
        }
        Ok(())
    }

    /// Runs a mutating operation under the run lock.
    pub async fn mutate(mut self, op: Op, hooks: Hooks<'_>) -> Result<Report> {
        // An upgrade to every head of a database already there has nothing to do: the one-row
        // check proves it (same digest, so no drift and nothing unknown; nothing dirty) without
        // the lock, the table set-up or reading every version row.
        if let Op::Upgrade(t) = &op
            && (matches!(t, Target::Heads)
                || (matches!(t, Target::Head) && self.set().heads().len() == 1))
            && self.at_head_fast().await?
        {
            return Ok(Report::default());
        }
        // A session lock must never go back to the pool, even if this future is dropped.
        self.conn.close_on_drop();
        // A stamp records a state someone decided on after looking at the database; if a
        // runner is changing it right now that decision is stale, so stamp does not wait.
        let held = self.take_lock(matches!(op, Op::Stamp(..))).await?;
        if self.dialect == Dialect::Postgres && matches!(held, locking::Held::Session(_)) {
            // Without this, a server keeps running a killed runner's statement (holding its
            // advisory lock and locks on the tables) until the statement ends, so the next
            // start waits. PostgreSQL 14+ checks the socket this often; older servers refuse the
            // setting, which is harmless. (Not behind a pooler: a session setting would stay with
            // a server connection that serves others next.)
            let _ = self
                .conn
                .script("SET client_connection_check_interval = '1s'")
                .await;
        }
        let result = if self.guard.xact.is_some() {
            self.mutate_racing(op, hooks).await
        } else {
            self.mutate_locked(op, hooks).await
        };
        let result = match result {
            Err(Error::Database { context, source }) if self.lost_here(&source) => {
                Err(self.lost(&source, &context, None, None, Phase::Other).await)
            }
            other => other,
        };
        // A lost session's lock died with it (kiln ended the session); the connection in hand
        // now is a new one that holds nothing.
        let lost = matches!(&result, Err(Error::ConnectionLost { .. }));
        let unlocked = self.release_lock(held, lost, result.is_err()).await;
        let report = result?;
        match unlocked {
            // Everything ran and is recorded; only the release was lost. The old session may
            // still hold the lock (a lost reply, or a request the server never saw), so end it.
            Err(Error::Database { context, source }) if self.lost_here(&source) => Err(self
                .lost(&source, &context, None, None, Phase::Other)
                .await
                .with_completed(report.steps)),
            other => other.map(|()| report),
        }
    }

    /// [`Session::mutate_locked`] under the transaction lock: when a writing transaction finds
    /// that another runner changed the state since this run read it, the run reads the version
    /// table again and plans anew, so what the other runner applied is skipped.
    async fn mutate_racing(&mut self, op: Op, hooks: Hooks<'_>) -> Result<Report> {
        let mut report = Report::default();
        loop {
            self.guard.raced = false;
            match self.mutate_locked(op.clone(), hooks).await {
                Ok(mut r) => {
                    report.steps.append(&mut r.steps);
                    if !self.guard.raced {
                        return Ok(report);
                    }
                    tracing::debug!(target: "kiln", "another runner changed the migration state; reading it again");
                }
                Err(e) => {
                    let mut steps = std::mem::take(&mut report.steps);
                    steps.extend(e.completed_steps().iter().cloned());
                    return Err(e.with_completed(steps));
                }
            }
        }
    }

    async fn mutate_locked(&mut self, op: Op, hooks: Hooks<'_>) -> Result<Report> {
        self.ensure_tables().await?;
        // Under the transaction lock, the state is read (and the state row repaired) in a
        // transaction that holds it, so the view the run plans from is one no writer is halfway
        // through.
        if let Some((begin, _)) = self.guard.xact_begin(&self.sql, &self.digest, self.dirty)
            && let Err(e) = self.conn.last_text(begin).await
        {
            let _ = self.conn.script("ROLLBACK").await;
            return Err(locking::xact_error(e, &self.guard));
        }
        let mut rows = self.read_versions().await?.unwrap_or_default();
        self.run_id = run_id();
        self.user = self.conn.current_user().await;
        self.host = host_name();
        // A marker is abandoned only if no runner holds the lock, which a run holding it for its
        // whole length knows; the transaction lock is held only while a runner writes, so there a
        // marker may belong to a `transaction false` revision running right now.
        if self.opts.lock && self.guard.xact.is_none() {
            self.record_abandoned_markers(&mut rows).await?;
        }
        self.digest = digest_of(&rows);
        self.dirty = rows.iter().filter(|r| !r.is_applied()).count() as i64;
        self.repair_state().await?;
        if self.guard.xact.is_some() {
            self.tx("COMMIT", "reading the migration state").await?;
        }
        let plan = Plan::new(self.set());
        match op {
            Op::Stamp(targets, purge) => self.stamp(&plan, &rows, &targets, purge).await,
            Op::Upgrade(target) => {
                let applied = analyze(self.set(), self.opts, &rows)?;
                let todo = plan.upgrade(&applied, &target)?;
                self.execute(&todo, Direction::Upgrade, hooks).await
            }
            Op::Downgrade(target) => {
                let applied = analyze(self.set(), self.opts, &rows)?;
                let todo = plan.downgrade(&applied, &target)?;
                crate::guard::downgrade_below_unknown(self.set(), &rows, &applied, &todo)?;
                self.execute(&todo, Direction::Downgrade, hooks).await
            }
        }
    }

    pub(super) async fn tx(&mut self, sql: &'static str, what: &str) -> Result<()> {
        self.conn
            .script(sql)
            .await
            .map_err(Error::db(what.to_owned()))
    }

    /// The state as `current` reports it; never fails on dirty, drifted or unknown rows.
    ///
    /// A revision marked as running is only dirty if nobody is running it: while another runner
    /// holds the run lock it is in progress (the same rule as [`crate::Migrator::check`]), and
    /// advice to repair it by hand would be dangerous.
    pub async fn status(&mut self) -> Result<Status> {
        let rows = self.read_versions().await?.unwrap_or_default();
        let mut st = status_of(self.set(), rows);
        if !st.dirty.is_empty() && self.opts.lock && self.lock_held_elsewhere().await? {
            st.in_progress = std::mem::take(&mut st.dirty);
        }
        Ok(st)
    }

    pub async fn audit(&mut self) -> Result<Vec<AuditEntry>> {
        let rows = match self.conn.rows(&self.sql.select_audit(), &[0, 7]).await {
            Ok(r) => r,
            Err(e) if is_missing_table(&e) => return Ok(Vec::new()),
            Err(e) => return Err(Error::db("reading the audit trail")(e)),
        };
        Ok(rows
            .into_iter()
            .map(|mut r| {
                let mut take = |i: usize| r.get_mut(i).and_then(Option::take);
                AuditEntry {
                    id: take(0).and_then(|s| s.parse().ok()).unwrap_or(0),
                    run_id: take(1).unwrap_or_default(),
                    action: take(2).unwrap_or_default(),
                    revision: take(3),
                    checksum: take(4),
                    started_at: take(5).unwrap_or_default(),
                    finished_at: take(6).unwrap_or_default(),
                    duration_ms: take(7).and_then(|s| s.parse().ok()).unwrap_or(0),
                    outcome: take(8).unwrap_or_default(),
                    error: take(9),
                    db_user: take(10),
                    host: take(11),
                    app_version: take(12),
                    kiln_version: take(13).unwrap_or_default(),
                }
            })
            .collect())
    }
}
