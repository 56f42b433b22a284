//! One run against one connection: lock, read state, check it, plan, execute, record.
//!
//! Atomic revisions (transactional, on PostgreSQL or SQLite) run as one script inside a
//! transaction that also writes the version row, the state digest and the audit row, so a revision
//! and its record commit together. Everything else (MySQL/MariaDB, whose DDL commits implicitly,
//! and `transaction false` revisions) follows a marker protocol: the version row is written as
//! `running` first, statements run one at a time, and only success flips it to `applied`, so a
//! failure or a killed process leaves a dirty marker instead of a silent half-applied revision.

use crate::db::{Arg, Db, RunLock, is_missing_table};
use crate::error::{Error, Result};
use crate::migrator::Migrator;
use crate::net::{Watchdog, Watched, WatchedExec, is_lost};
use crate::options::TransactionMode;
use crate::report::{
    AppliedRevision, AuditEntry, Direction, Event, HistoryEntry, Hooks, OUTCOME_FAILED, OUTCOME_OK,
    OUTCOME_RECORDED, OUTCOME_REMOVED, Report, Status, Step,
};
use crate::sql::{AuditContext, Bookkeeping, Record, Sql};
use crate::util::{host_name, now_rfc3339, run_id};
use kiln_core::checksum::{hex, parse_hex32, revision_digest, xor_into};
use kiln_core::{Dialect, Plan, Revision, Target};
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod lost;
mod marker;
use lost::Phase;

const KILN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a mutating run does.
pub(crate) enum Op {
    Upgrade(Target),
    Downgrade(Target),
    Stamp(Vec<Target>, bool),
}

pub(crate) struct Session<'m> {
    m: &'m Migrator,
    db: Db,
    pub conn: Watched,
    pub sql: Sql,
    dialect: Dialect,
    run_id: String,
    user: Option<String>,
    host: Option<String>,
    digest: [u8; 32],
    dirty: i64,
}

impl<'m> Session<'m> {
    pub async fn open(m: &'m Migrator, db: &Db) -> Result<Session<'m>> {
        let dog = Watchdog::new(db, m.options().io_timeout);
        let conn = Watched::new(db.acquire().await?, dog);
        let dialect = conn.dialect();
        let sql = Sql::new(dialect, m.options())?;
        Ok(Session {
            m,
            db: db.clone(),
            conn,
            sql,
            dialect,
            run_id: String::new(),
            user: None,
            host: None,
            digest: [0; 32],
            dirty: 0,
        })
    }

    /// The start-up check: `true` when the applied set's digest equals the embedded set's and
    /// nothing is dirty. One round trip, independent of the number of revisions.
    pub async fn at_head_fast(&mut self) -> Result<bool> {
        match self
            .conn
            .check_text(self.sql.fast_check(self.m.set().len()))
            .await
        {
            Ok(Some(d)) => Ok(d == self.m.set().digest()),
            Ok(None) => Ok(false),
            Err(e) if is_missing_table(&e) => Ok(false),
            Err(e) => Err(Error::db("reading the migration state")(e)),
        }
    }

    /// `true` when another runner holds the run lock right now.
    pub async fn lock_held_elsewhere(&mut self) -> Result<bool> {
        match self.conn.lock(&self.sql, Duration::ZERO).await {
            Ok(lock) => {
                self.conn.unlock(lock).await?;
                Ok(false)
            }
            Err(Error::LockTimeout { .. }) => Ok(true),
            Err(e) => Err(e),
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

    async fn ensure_tables(&mut self) -> Result<()> {
        for stmt in self.sql.create_tables() {
            self.conn
                .script(stmt)
                .await
                .map_err(Error::db("creating kiln's bookkeeping tables"))?;
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
                || (matches!(t, Target::Head) && self.m.set().heads().len() == 1))
            && self.at_head_fast().await?
        {
            return Ok(Report::default());
        }
        // A session lock must never go back to the pool, even if this future is dropped.
        self.conn.close_on_drop();
        self.conn.identify().await;
        let lock = if self.m.options().lock {
            // A stamp records a state someone decided on after looking at the database; if a
            // runner is changing it right now that decision is stale, so stamp does not wait.
            let stamping = matches!(op, Op::Stamp(..));
            let timeout = if stamping {
                Duration::ZERO
            } else {
                self.m.options().lock_timeout
            };
            match self.conn.lock(&self.sql, timeout).await {
                Err(Error::LockTimeout { what, .. }) if stamping => {
                    return Err(Error::StampWhileRunning { what });
                }
                other => other?,
            }
        } else {
            RunLock::None
        };
        if self.dialect == Dialect::Postgres {
            // Without this, a server keeps running a killed runner's statement (holding its
            // advisory lock and locks on the tables) until the statement ends, so the next
            // start waits. PostgreSQL 14+ checks the socket this often; older servers refuse the
            // setting, which is harmless.
            let _ = self
                .conn
                .script("SET client_connection_check_interval = '1s'")
                .await;
        }
        let result = match self.mutate_locked(op, hooks).await {
            Err(Error::Database { context, source }) if self.lost_here(&source) => {
                Err(self.lost(&source, &context, None, None, Phase::Other).await)
            }
            other => other,
        };
        // A lost session's lock died with it (kiln ended the session); the connection in hand
        // now is a new one that holds nothing.
        let unlocked = match &result {
            Err(Error::ConnectionLost { .. }) => Ok(()),
            _ => self.conn.unlock(lock).await,
        };
        let report = result?;
        unlocked?;
        Ok(report)
    }

    async fn mutate_locked(&mut self, op: Op, hooks: Hooks<'_>) -> Result<Report> {
        self.ensure_tables().await?;
        let mut rows = self.read_versions().await?.unwrap_or_default();
        self.run_id = run_id();
        self.user = self.conn.current_user().await;
        self.host = host_name();
        if self.m.options().lock {
            self.record_abandoned_markers(&mut rows).await?;
        }
        self.digest = digest_of(&rows);
        self.dirty = rows.iter().filter(|r| r.state != "applied").count() as i64;
        self.repair_state().await?;
        let plan = Plan::new(self.m.set());
        match op {
            Op::Stamp(targets, purge) => self.stamp(&plan, &rows, &targets, purge).await,
            Op::Upgrade(target) => {
                let applied = analyze(self.m, &rows)?;
                let todo = plan.upgrade(&applied, &target)?;
                self.execute(&todo, Direction::Upgrade, hooks).await
            }
            Op::Downgrade(target) => {
                let applied = analyze(self.m, &rows)?;
                let todo = plan.downgrade(&applied, &target)?;
                crate::guard::downgrade_below_unknown(self.m, &rows, &applied, &todo)?;
                self.execute(&todo, Direction::Downgrade, hooks).await
            }
        }
    }

    async fn tx(&mut self, sql: &'static str, what: &str) -> Result<()> {
        self.conn
            .script(sql)
            .await
            .map_err(Error::db(what.to_owned()))
    }

    /// `true` when a revision runs inside a transaction together with its bookkeeping.
    fn is_atomic(&self, rev: &Revision) -> bool {
        rev.is_transactional() && self.dialect != Dialect::MySql
    }

    async fn execute(
        &mut self,
        plan: &[usize],
        direction: Direction,
        hooks: Hooks<'_>,
    ) -> Result<Report> {
        let revs = self.m.set().revisions();
        let mut report = Report::default();
        let mut k = 0;
        while k < plan.len() {
            if k > 0 && stop_requested_after_yield(&hooks).await {
                return Err(Error::Interrupted { completed: k });
            }
            let rev = &revs[plan[k]];
            if self.is_atomic(rev) {
                // A run of consecutive transactional revisions goes through one executor.
                let end = plan[k..]
                    .iter()
                    .position(|&i| !self.is_atomic(&revs[i]))
                    .map_or(plan.len(), |p| k + p);
                self.execute_atomic(plan, k, end, direction, &hooks, &mut report)
                    .await?;
                k = end;
                continue;
            }
            // A non-transactional revision (or any revision on MySQL): the marker protocol.
            emit_starting(&hooks, rev, direction, k, plan.len());
            let started = Instant::now();
            let started_at = now_rfc3339();
            self.run_marked(rev, direction, &started_at, started)
                .await?;
            finish_step(
                &hooks,
                rev,
                direction,
                started.elapsed(),
                k,
                plan.len(),
                &mut report,
            );
            k += 1;
        }
        Ok(report)
    }

    /// Applies `plan[from..to]`, all transactional revisions, on PostgreSQL or SQLite.
    ///
    /// Each revision's SQL is one script (one round trip on PostgreSQL, one pass over the raw
    /// handle on SQLite). Its bookkeeping never costs a round trip of its own: in per-revision mode
    /// it travels with the `COMMIT`; in whole-run mode every revision's rows are written by a few
    /// multi-row statements sent with the run's `COMMIT`. Either way a revision and its record
    /// commit together, and a failure rolls back both.
    ///
    /// In whole-run mode over the network with no progress callback and no stop flag (what
    /// [`Migrator::run`] does at start-up), consecutive revisions travel together in scripts of up
    /// to [`BATCH_BYTES`], so a run costs a few round trips instead of one per revision; each
    /// revision's recorded duration is then its share of its batch. A failure is located exactly as
    /// for a single revision: replayed statement by statement in a rolled-back transaction.
    async fn execute_atomic(
        &mut self,
        plan: &[usize],
        from: usize,
        to: usize,
        direction: Direction,
        hooks: &Hooks<'_>,
        report: &mut Report,
    ) -> Result<()> {
        let revs = self.m.set().revisions();
        let whole = self.m.options().transaction_mode == TransactionMode::All;
        let begin = self.sql.begin();
        let dialect = self.dialect;
        let mut book = Bookkeeping::default();
        // The commit script's audit context, from owned copies so it can live across the
        // `&mut self` calls of the loop.
        let (sql, run_id, user, host) = (
            self.sql.clone(),
            self.run_id.clone(),
            self.user.clone(),
            self.host.clone(),
        );
        let app_version = self.m.options().app_version.clone();
        let commit = |book: &mut Bookkeeping, digest: &[u8; 32], dirty: i64| {
            let ctx = AuditContext {
                run_id: &run_id,
                db_user: user.as_deref(),
                host: host.as_deref(),
                app_version: app_version.as_deref(),
                kiln_version: KILN_VERSION,
            };
            commit_script(book, &sql, &ctx, digest, dirty)
        };
        let mut exec = self
            .conn
            .executor(!whole)
            .await
            .map_err(Error::db("acquiring the connection"))?;
        // Over the network, `BEGIN` rides with the first script of each transaction.
        let remote = exec.is_remote();
        let batching = whole && remote && hooks.on_event.is_none() && hooks.stop.is_none();
        let mut in_tx = false;
        // Whole-run mode: the steps that ran in the open transaction. They are reported (and
        // count as applied) only once it commits.
        let mut ran: Vec<Step> = Vec::new();
        // Where the open whole-run transaction started: a failure replays `plan[tx_from..k]`.
        let mut tx_from = from;
        let mut k = from;
        while k < to {
            if k > from && stop_requested_after_yield(hooks).await {
                if in_tx {
                    let script = commit(&mut book, &self.digest, self.dirty);
                    if let Err(e) = exec.script(Cow::Owned(script)).await {
                        let _ = exec.script(Cow::Borrowed("ROLLBACK")).await;
                        return Err(Error::db("recording the completed revisions")(e));
                    }
                    committed(hooks, self.m, &mut ran, report);
                }
                return Err(Error::Interrupted {
                    completed: report.steps.len(),
                });
            }
            // This step's revisions: one, or a batch of whole, lexically complete scripts.
            let mut end = k + 1;
            let mut sql = section_cow(&revs[plan[k]], direction);
            if batching && batchable(&sql, dialect) {
                let mut joined: Option<String> = None;
                while end < to && joined.as_ref().map_or(sql.len(), String::len) < BATCH_BYTES {
                    let next = section_cow(&revs[plan[end]], direction);
                    if !batchable(&next, dialect) {
                        break;
                    }
                    let j = joined.get_or_insert_with(|| sql.to_string());
                    // A newline ends a trailing line comment; the `;` ends a last statement
                    // written without one (an empty statement is harmless on both engines).
                    j.push_str("\n;\n");
                    j.push_str(&next);
                    end += 1;
                }
                if let Some(j) = joined {
                    sql = Cow::Owned(j);
                }
            }
            let step: Vec<&Revision> = plan[k..end].iter().map(|&i| &revs[i]).collect();
            for (n, rev) in step.iter().enumerate() {
                emit_starting(hooks, rev, direction, k + n, plan.len());
            }
            let started = Instant::now();
            let started_at = now_rfc3339();
            let res = if in_tx {
                exec.script(sql).await
            } else {
                in_tx = true;
                tx_from = k;
                if remote {
                    exec.script(Cow::Owned(format!("{begin};\n{sql}"))).await
                } else {
                    exec.script(Cow::Borrowed(begin))
                        .await
                        .map_err(Error::db("starting a transaction"))?;
                    exec.script(sql).await
                }
            };
            if let Err(e) = res {
                if self.dialect != Dialect::Sqlite && is_lost(&e) {
                    drop(exec);
                    let rev = step[0];
                    return Err(self
                        .lost(
                            &e,
                            &format!("the {} of", direction.as_str()),
                            Some((rev, direction)),
                            None,
                            Phase::Tx,
                        )
                        .await);
                }
                let _ = exec.script(Cow::Borrowed("ROLLBACK")).await;
                let replay: Vec<&Revision> = plan[tx_from..k].iter().map(|&i| &revs[i]).collect();
                let located = locate(&mut exec, dialect, begin, &replay, &step, direction).await;
                drop(exec);
                let (n, line, message) = match located {
                    Some((n, line, message)) => (n, Some(line), message),
                    None => (0, None, db_message(&e)),
                };
                let rev = step[n];
                let err = Error::Statement {
                    direction: direction.as_str(),
                    revision: rev.id().to_owned(),
                    file: rev.file().to_owned(),
                    line,
                    message,
                    dirty: false,
                    run_rolled_back: whole.then_some(k - tx_from + n),
                };
                self.audit_failure(rev, direction, &started_at, started, &err)
                    .await;
                return Err(err);
            }
            let share = started.elapsed() / step.len() as u32;
            let finished_at = now_rfc3339();
            for rev in &step {
                xor_into(&mut self.digest, &revision_digest(rev.id(), rev.checksum()));
                book.records.push(Record {
                    action: direction.as_str(),
                    revision: rev.id().to_owned(),
                    checksum: rev.checksum().to_owned(),
                    started_at: started_at.clone(),
                    finished_at: finished_at.clone(),
                    duration_ms: share.as_millis() as i64,
                });
            }
            let took = if step.len() == 1 {
                started.elapsed()
            } else {
                share
            };
            if whole {
                for (n, rev) in step.iter().enumerate() {
                    let done = make_step(rev, direction, took);
                    tracing::debug!(target: "kiln", revision = rev.id(), "ran {} (not committed yet)", rev.id());
                    if let Some(cb) = hooks.on_event {
                        cb(&Event::Ran {
                            step: &done,
                            index: k + n,
                            total: plan.len(),
                        });
                    }
                    ran.push(done);
                }
            }
            if !whole || end == to {
                let script = commit(&mut book, &self.digest, self.dirty);
                if let Err(e) = exec.script(Cow::Owned(script)).await {
                    if self.dialect != Dialect::Sqlite && is_lost(&e) {
                        drop(exec);
                        let rev = step[step.len() - 1];
                        return Err(self
                            .lost(
                                &e,
                                "the COMMIT of",
                                Some((rev, direction)),
                                None,
                                Phase::Commit,
                            )
                            .await);
                    }
                    let _ = exec.script(Cow::Borrowed("ROLLBACK")).await;
                    let what = if whole {
                        format!(
                            "committing the run (its {} revision(s) were rolled back, none is applied)",
                            ran.len()
                        )
                    } else {
                        format!("recording revision `{}`", step[0].id())
                    };
                    return Err(Error::db(what)(e));
                }
                in_tx = false;
            }
            if whole {
                if !in_tx {
                    committed(hooks, self.m, &mut ran, report);
                }
            } else {
                for (n, rev) in step.iter().enumerate() {
                    finish_step(hooks, rev, direction, took, k + n, plan.len(), report);
                }
            }
            k = end;
        }
        debug_assert!(!in_tx && book.is_empty() && ran.is_empty());
        Ok(())
    }

    /// The marker protocol for MySQL and `transaction false` revisions.
    async fn run_marked(
        &mut self,
        rev: &Revision,
        direction: Direction,
        started_at: &str,
        started: Instant,
    ) -> Result<()> {
        let sql = section(rev, direction);
        let statements = kiln_core::split::split(sql, self.dialect).map_err(|e| Error::Split {
            revision: rev.id().to_owned(),
            file: rev.file().to_owned(),
            line: section_line(rev, direction) + e.line as u32 - 1,
            message: e.message.clone(),
        })?;
        let (state, begin) = match direction {
            Direction::Downgrade => ("reverting", self.sql.begin()),
            _ => ("running", self.sql.begin()),
        };
        self.tx(begin, "starting a transaction").await?;
        let marked = async {
            if direction == Direction::Upgrade {
                self.conn
                    .exec(
                        &self.sql.insert_version(),
                        &[
                            Arg::Text(rev.id().to_owned()),
                            Arg::Text(rev.checksum().to_owned()),
                            Arg::Text(state.to_owned()),
                            Arg::Text(started_at.to_owned()),
                            Arg::Int(0),
                            Arg::Text(KILN_VERSION.to_owned()),
                        ],
                    )
                    .await?;
            } else {
                self.conn
                    .exec(
                        &self.sql.mark_version(),
                        &[
                            Arg::Text(state.to_owned()),
                            Arg::OptText(None),
                            Arg::Text(rev.id().to_owned()),
                        ],
                    )
                    .await?;
            }
            self.dirty += 1;
            self.write_state().await
        }
        .await;
        let marked = match marked {
            Ok(()) => self.conn.script("COMMIT").await,
            Err(e) => Err(e),
        };
        if let Err(e) = marked {
            if self.lost_here(&e) {
                let during = format!("the in-progress marker of the {} of", direction.as_str());
                return Err(self
                    .lost(&e, &during, Some((rev, direction)), None, Phase::Marker)
                    .await);
            }
            let _ = self.conn.script("ROLLBACK").await;
            return Err(Error::db("recording the revision as in progress")(e));
        }

        for st in &statements {
            if let Err(e) = self.conn.script(st.sql.to_owned()).await {
                let line = section_line(rev, direction) + st.line as u32 - 1;
                if self.lost_here(&e) {
                    return Err(self
                        .lost(
                            &e,
                            &format!("the {} of", direction.as_str()),
                            Some((rev, direction)),
                            Some(line),
                            Phase::Statement,
                        )
                        .await);
                }
                let message = db_message(&e);
                let _ = self
                    .conn
                    .exec(
                        &self.sql.mark_version(),
                        &[
                            Arg::Text(state.to_owned()),
                            Arg::OptText(Some(format!("{}:{line}: {message}", rev.file()))),
                            Arg::Text(rev.id().to_owned()),
                        ],
                    )
                    .await;
                let err = Error::Statement {
                    direction: direction.as_str(),
                    revision: rev.id().to_owned(),
                    file: rev.file().to_owned(),
                    line: Some(line),
                    message,
                    dirty: true,
                    run_rolled_back: None,
                };
                self.audit_failure(rev, direction, started_at, started, &err)
                    .await;
                return Err(err);
            }
        }

        let mut recorded = self.tx(self.sql.begin(), "starting a transaction").await;
        if recorded.is_ok() {
            recorded = self
                .record(rev, direction, started_at, started.elapsed(), true)
                .await;
        }
        if recorded.is_ok() {
            recorded = self.tx("COMMIT", "committing").await;
        }
        match recorded {
            Err(Error::Database { source, .. }) if self.lost_here(&source) => Err(self
                .lost(
                    &source,
                    "the recording of",
                    Some((rev, direction)),
                    None,
                    Phase::Record,
                )
                .await),
            Err(e) => {
                let _ = self.conn.script("ROLLBACK").await;
                Err(e)
            }
            Ok(()) => Ok(()),
        }
    }

    /// Writes the version row, the state digest and the audit row for a completed revision.
    /// Runs inside the caller's transaction.
    async fn record(
        &mut self,
        rev: &Revision,
        direction: Direction,
        started_at: &str,
        took: Duration,
        marked: bool,
    ) -> Result<()> {
        let now = now_rfc3339();
        let ms = took.as_millis() as i64;
        let res: std::result::Result<(), sqlx::Error> = async {
            match (direction, marked) {
                (Direction::Upgrade, false) => {
                    self.conn
                        .exec(
                            &self.sql.insert_version(),
                            &[
                                Arg::Text(rev.id().to_owned()),
                                Arg::Text(rev.checksum().to_owned()),
                                Arg::Text("applied".to_owned()),
                                Arg::Text(now.clone()),
                                Arg::Int(ms),
                                Arg::Text(KILN_VERSION.to_owned()),
                            ],
                        )
                        .await?;
                }
                (Direction::Upgrade, true) => {
                    self.conn
                        .exec(
                            &self.sql.finish_version(),
                            &[
                                Arg::Text(now.clone()),
                                Arg::Int(ms),
                                Arg::Text(rev.id().to_owned()),
                            ],
                        )
                        .await?;
                }
                _ => {
                    self.conn
                        .exec(
                            &self.sql.delete_version(),
                            &[Arg::Text(rev.id().to_owned())],
                        )
                        .await?;
                }
            }
            xor_into(&mut self.digest, &revision_digest(rev.id(), rev.checksum()));
            if marked {
                self.dirty -= 1;
            }
            self.write_state().await?;
            self.insert_audit(
                direction.as_str(),
                Some((rev.id(), rev.checksum())),
                started_at,
                &now,
                ms,
                OUTCOME_OK,
                None,
            )
            .await
        }
        .await;
        res.map_err(Error::db(format!("recording revision `{}`", rev.id())))
    }

    /// Makes the state row agree with the version rows just read (under the lock), so the fast
    /// path can never again claim a state the rows contradict; a hand-edited version table is the
    /// usual cause. Rewritten only when it differs, before any work, so even a run that then
    /// fails leaves it right.
    async fn repair_state(&mut self) -> Result<()> {
        let recorded = self
            .conn
            .first_text(self.sql.state_digest(self.dirty))
            .await
            .map_err(Error::db("reading the migration state"))?;
        if recorded.as_deref() != Some(hex(&self.digest).as_str()) {
            tracing::warn!(target: "kiln", "the state row disagreed with the version table (edited by hand?); recomputed it from the version rows");
            self.write_state()
                .await
                .map_err(Error::db("repairing the migration state"))?;
        }
        Ok(())
    }

    async fn write_state(&mut self) -> std::result::Result<(), sqlx::Error> {
        self.conn
            .exec(
                &self.sql.update_state(),
                &[
                    Arg::Text(hex(&self.digest)),
                    Arg::Int(self.dirty.max(0)),
                    Arg::Text(now_rfc3339()),
                ],
            )
            .await
            .map(|_| ())
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_audit(
        &mut self,
        action: &str,
        rev: Option<(&str, &str)>,
        started_at: &str,
        finished_at: &str,
        ms: i64,
        outcome: &str,
        error: Option<String>,
    ) -> std::result::Result<(), sqlx::Error> {
        let mut args = vec![
            Arg::Text(self.run_id.clone()),
            Arg::Text(action.to_owned()),
            Arg::OptText(rev.map(|(id, _)| id.to_owned())),
            Arg::OptText(rev.map(|(_, sum)| sum.to_owned())),
            Arg::Text(started_at.to_owned()),
            Arg::Text(finished_at.to_owned()),
            Arg::Int(ms),
            Arg::Text(outcome.to_owned()),
            Arg::OptText(error),
        ];
        if self.dialect == Dialect::Sqlite {
            args.push(Arg::OptText(self.user.clone()));
        }
        args.push(Arg::OptText(self.host.clone()));
        args.push(Arg::OptText(
            self.m.options().app_version.as_deref().map(str::to_owned),
        ));
        args.push(Arg::Text(KILN_VERSION.to_owned()));
        self.conn
            .exec(&self.sql.insert_audit(), &args)
            .await
            .map(|_| ())
    }

    /// Records a failure in the audit trail, outside any transaction (the run's own work was
    /// rolled back, the record of its failure must not be).
    async fn audit_failure(
        &mut self,
        rev: &Revision,
        direction: Direction,
        started_at: &str,
        started: Instant,
        err: &Error,
    ) {
        let now = now_rfc3339();
        let ms = started.elapsed().as_millis() as i64;
        let msg = err.to_string();
        if let Err(e) = self
            .insert_audit(
                direction.as_str(),
                Some((rev.id(), rev.checksum())),
                started_at,
                &now,
                ms,
                OUTCOME_FAILED,
                Some(msg),
            )
            .await
        {
            tracing::warn!(target: "kiln", "could not record the failure of `{}` in the audit trail: {e}", rev.id());
        }
    }

    async fn stamp(
        &mut self,
        plan: &Plan<'_>,
        rows: &[AppliedRevision],
        targets: &[Target],
        purge: bool,
    ) -> Result<Report> {
        let set = self.m.set();
        let none = vec![false; set.len()];
        let mut want = vec![false; set.len()];
        for t in targets {
            for i in plan.upgrade(&none, t)? {
                want[i] = true;
            }
        }
        let unknown: Vec<String> = rows
            .iter()
            .filter(|r| set.get(&r.revision).is_none())
            .map(|r| r.revision.clone())
            .collect();
        if !purge && !unknown.is_empty() && !self.m.options().allow_unknown_applied {
            return Err(Error::UnknownApplied { revisions: unknown });
        }
        let started_at = now_rfc3339();
        let started = Instant::now();
        let mut report = Report::default();
        self.tx(self.sql.begin(), "starting a transaction").await?;
        let res: std::result::Result<(), sqlx::Error> = async {
            // Rows a purge forgets are recorded as stamped away, the ones this binary does not
            // know included, so the audit trail shows what the purge removed.
            let mut removed: Vec<String> = Vec::new();
            if purge {
                self.conn.exec(&self.sql.delete_all_versions(), &[]).await?;
                for r in rows {
                    let still_wanted = set.index_of(&r.revision).is_some_and(|i| want[i]);
                    if !still_wanted {
                        removed.push(r.revision.clone());
                    }
                }
            }
            let existing = |id: &str| {
                if purge {
                    None
                } else {
                    rows.iter().find(|r| r.revision == id)
                }
            };
            for (i, rev) in set.revisions().iter().enumerate() {
                let row = existing(rev.id());
                let change = match (want[i], row) {
                    (true, Some(r)) if r.state == "applied" && r.checksum == rev.checksum() => {
                        false
                    }
                    (true, Some(_)) => {
                        self.conn
                            .exec(
                                &self.sql.delete_version(),
                                &[Arg::Text(rev.id().to_owned())],
                            )
                            .await?;
                        true
                    }
                    (true, None) => true,
                    (false, Some(_)) => {
                        self.conn
                            .exec(
                                &self.sql.delete_version(),
                                &[Arg::Text(rev.id().to_owned())],
                            )
                            .await?;
                        report.steps.push(stamp_step(rev, Direction::Unstamp));
                        false
                    }
                    (false, None) => false,
                };
                if change {
                    self.conn
                        .exec(
                            &self.sql.insert_version(),
                            &[
                                Arg::Text(rev.id().to_owned()),
                                Arg::Text(rev.checksum().to_owned()),
                                Arg::Text("applied".to_owned()),
                                Arg::Text(now_rfc3339()),
                                Arg::Int(0),
                                Arg::Text(KILN_VERSION.to_owned()),
                            ],
                        )
                        .await?;
                    report.steps.push(stamp_step(rev, Direction::Stamp));
                }
            }
            let kept: Vec<(&str, &str)> = rows
                .iter()
                .filter(|r| !purge && set.get(&r.revision).is_none() && r.state == "applied")
                .map(|r| (r.revision.as_str(), r.checksum.as_str()))
                .chain(
                    set.revisions()
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| want[*i])
                        .map(|(_, r)| (r.id(), r.checksum())),
                )
                .collect();
            self.digest = parse_hex32(&kiln_core::checksum::set_digest(kept)).unwrap_or([0; 32]);
            self.dirty = 0;
            self.write_state().await?;
            let now = now_rfc3339();
            let ms = started.elapsed().as_millis() as i64;
            for id in &removed {
                report.steps.push(Step {
                    revision: id.clone(),
                    direction: Direction::Unstamp,
                    message: set.get(id).and_then(|r| r.message()).map(str::to_owned),
                    duration: Duration::ZERO,
                });
            }
            // Each row says which way: recorded as applied (with the file's checksum), or removed
            // (with the checksum that was recorded, when kiln knows it).
            for step in &report.steps {
                let (outcome, sum) = match step.direction {
                    Direction::Unstamp => (
                        OUTCOME_REMOVED,
                        rows.iter()
                            .find(|r| r.revision == step.revision)
                            .map_or("", |r| r.checksum.as_str()),
                    ),
                    _ => (
                        OUTCOME_RECORDED,
                        set.get(&step.revision).map_or("", |r| r.checksum()),
                    ),
                };
                self.insert_audit(
                    "stamp",
                    Some((&step.revision, sum)),
                    &started_at,
                    &now,
                    ms,
                    outcome,
                    None,
                )
                .await?;
            }
            if report.steps.is_empty() {
                self.insert_audit("stamp", None, &started_at, &now, ms, OUTCOME_OK, None)
                    .await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = res {
            let _ = self.conn.script("ROLLBACK").await;
            return Err(Error::db("stamping")(e));
        }
        self.tx("COMMIT", "committing").await?;
        for s in &report.steps {
            let what = match s.direction {
                Direction::Unstamp => "removed",
                _ => "recorded as applied",
            };
            tracing::info!(target: "kiln", "stamp {} ({what})", s.revision);
        }
        Ok(report)
    }

    /// The state as `current` reports it; never fails on dirty, drifted or unknown rows.
    ///
    /// A revision marked as running is only dirty if nobody is running it: while another runner
    /// holds the run lock it is in progress (the same rule as [`crate::Migrator::check`]), and
    /// advice to repair it by hand would be dangerous.
    pub async fn status(&mut self) -> Result<Status> {
        let rows = self.read_versions().await?.unwrap_or_default();
        let mut st = status_of(self.m, rows);
        if !st.dirty.is_empty() && self.m.options().lock && self.lock_held_elsewhere().await? {
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

fn stamp_step(rev: &Revision, direction: Direction) -> Step {
    Step {
        revision: rev.id().to_owned(),
        direction,
        message: rev.message().map(str::to_owned),
        duration: Duration::ZERO,
    }
}

fn section(rev: &Revision, direction: Direction) -> &str {
    match direction {
        Direction::Downgrade => rev.down_sql().unwrap_or(""),
        _ => rev.up_sql(),
    }
}

/// The section as a `Cow`: borrowed (free to clone) for embedded sets, so the SQL is never copied.
fn section_cow(rev: &Revision, direction: Direction) -> Cow<'static, str> {
    match direction {
        Direction::Downgrade => rev.down_sql_cow().cloned().unwrap_or(Cow::Borrowed("")),
        _ => rev.up_sql_cow().clone(),
    }
}

/// Checks the stop flag, first yielding once so that on a current-thread runtime the task that
/// sets it (a Ctrl-C handler) gets to run between two revisions.
async fn stop_requested_after_yield(hooks: &Hooks<'_>) -> bool {
    let Some(stop) = hooks.stop else {
        return false;
    };
    tokio::task::yield_now().await;
    stop.load(Ordering::SeqCst)
}

fn emit_starting(
    hooks: &Hooks<'_>,
    rev: &Revision,
    direction: Direction,
    index: usize,
    total: usize,
) {
    if let Some(cb) = hooks.on_event {
        cb(&Event::Starting {
            revision: rev.id(),
            direction,
            index,
            total,
        });
    }
}

fn make_step(rev: &Revision, direction: Direction, duration: Duration) -> Step {
    Step {
        revision: rev.id().to_owned(),
        direction,
        message: rev.message().map(str::to_owned),
        duration,
    }
}

/// A whole-run transaction committed: its steps become applied, in the report, the log and the
/// progress events, and not before.
fn committed(hooks: &Hooks<'_>, m: &Migrator, ran: &mut Vec<Step>, report: &mut Report) {
    if ran.is_empty() {
        return;
    }
    for step in ran.iter() {
        if let Some(rev) = m.set().get(&step.revision) {
            log_step(rev, step);
        }
    }
    tracing::info!(target: "kiln", "committed {} revision(s) in one transaction", ran.len());
    if let Some(cb) = hooks.on_event {
        cb(&Event::Committed { steps: ran });
    }
    report.steps.append(ran);
}

fn finish_step(
    hooks: &Hooks<'_>,
    rev: &Revision,
    direction: Direction,
    duration: Duration,
    index: usize,
    total: usize,
    report: &mut Report,
) {
    let step = make_step(rev, direction, duration);
    log_step(rev, &step);
    if let Some(cb) = hooks.on_event {
        cb(&Event::Finished {
            step: &step,
            index,
            total,
        });
    }
    report.steps.push(step);
}

/// The pending bookkeeping, the state row and `COMMIT`, as one script.
fn commit_script(
    book: &mut Bookkeeping,
    sql: &Sql,
    audit: &AuditContext<'_>,
    digest: &[u8; 32],
    dirty: i64,
) -> String {
    let mut script = String::new();
    book.drain_into(&mut script, sql, audit, &hex(digest), dirty, &now_rfc3339());
    script.push_str("COMMIT");
    script
}

/// Scripts of up to this many bytes carry several revisions in whole-run mode (see
/// `execute_atomic`).
const BATCH_BYTES: usize = 256 * 1024;

/// `true` when a revision's SQL can share a script with others: it splits cleanly (nothing opened
/// and left unclosed that would swallow the next revision) and has no `DELIMITER` directives.
fn batchable(sql: &str, dialect: Dialect) -> bool {
    dialect != Dialect::MySql && kiln_core::split::split(sql, dialect).is_ok()
}

/// Replays the open transaction's earlier revisions, then the failed step's revisions statement by
/// statement, inside a transaction that is always rolled back, to find the failing statement:
/// which of `step` it belongs to, its line in the file, and the database's message.
async fn locate(
    exec: &mut WatchedExec<'_>,
    dialect: Dialect,
    begin: &'static str,
    replay: &[&Revision],
    step: &[&Revision],
    direction: Direction,
) -> Option<(usize, u32, String)> {
    exec.script(Cow::Borrowed(begin)).await.ok()?;
    let mut found = None;
    let mut ok = true;
    for r in replay {
        if exec.script(section_cow(r, direction)).await.is_err() {
            ok = false;
            break;
        }
    }
    if ok {
        'revs: for (n, rev) in step.iter().enumerate() {
            let Ok(statements) = kiln_core::split::split(section(rev, direction), dialect) else {
                break;
            };
            for st in &statements {
                if let Err(e) = exec.script(Cow::Owned(st.sql.to_owned())).await {
                    found = Some((
                        n,
                        section_line(rev, direction) + st.line as u32 - 1,
                        db_message(&e),
                    ));
                    break 'revs;
                }
            }
        }
    }
    let _ = exec.script(Cow::Borrowed("ROLLBACK")).await;
    found
}

fn section_line(rev: &Revision, direction: Direction) -> u32 {
    match direction {
        Direction::Downgrade => rev.down_line(),
        _ => rev.up_line(),
    }
}

fn db_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => match d.code() {
            Some(code) => format!("{} (code {code})", d.message()),
            None => d.message().to_owned(),
        },
        other => other.to_string(),
    }
}

fn log_step(rev: &Revision, step: &Step) {
    let from = if rev.parents().is_empty() {
        "base".to_owned()
    } else {
        rev.parents().join(", ")
    };
    let ms = step.duration.as_secs_f64() * 1000.0;
    match step.direction {
        Direction::Downgrade => {
            tracing::info!(target: "kiln", revision = rev.id(), "downgrade {} -> {from}: {} ({ms:.1} ms)", rev.id(), rev.message().unwrap_or(""))
        }
        _ => {
            tracing::info!(target: "kiln", revision = rev.id(), "upgrade {from} -> {}: {} ({ms:.1} ms)", rev.id(), rev.message().unwrap_or(""))
        }
    }
}

/// The digest of applied rows (dirty rows excluded: they are not applied).
fn digest_of(rows: &[AppliedRevision]) -> [u8; 32] {
    let mut acc = [0u8; 32];
    for r in rows.iter().filter(|r| r.state == "applied") {
        xor_into(&mut acc, &revision_digest(&r.revision, &r.checksum));
    }
    acc
}

/// Checks the version rows against the set: dirty first (most urgent), then drift, then unknown
/// revisions. Returns which revisions of the set are applied.
pub(crate) fn analyze(m: &Migrator, rows: &[AppliedRevision]) -> Result<Vec<bool>> {
    let set = m.set();
    if let Some(r) = rows.iter().find(|r| r.state != "applied") {
        let (file, parents) = match set.get(&r.revision) {
            Some(rev) => (
                rev.file().to_owned(),
                if rev.parents().is_empty() {
                    "base".to_owned()
                } else {
                    rev.parents().join(" ")
                },
            ),
            None => (format!("{}_*.sql", r.revision), "<its parents>".to_owned()),
        };
        return Err(Error::Dirty {
            revision: r.revision.clone(),
            file,
            direction: if r.state == "reverting" {
                "downgrade".into()
            } else {
                "upgrade".into()
            },
            error: r.error.clone(),
            parents,
        });
    }
    let mut applied = vec![false; set.len()];
    let mut unknown = Vec::new();
    let mut drifted = None;
    for r in rows {
        match set.index_of(&r.revision) {
            Some(i) => {
                let rev = &set.revisions()[i];
                if rev.checksum() != r.checksum && drifted.is_none() {
                    drifted = Some((r, rev));
                }
                applied[i] = true;
            }
            None => unknown.push(r.revision.clone()),
        }
    }
    if let Some((r, rev)) = drifted {
        // The advice names the applied tips, so the repair keeps the applied set unchanged.
        let current = Plan::new(set)
            .current_heads(&applied)
            .into_iter()
            .map(|i| set.revisions()[i].id().to_owned())
            .collect();
        return Err(Error::Drift {
            revision: r.revision.clone(),
            file: rev.file().to_owned(),
            recorded: r.checksum.clone(),
            embedded: rev.checksum().to_owned(),
            current,
            unknown: !unknown.is_empty(),
        });
    }
    if !unknown.is_empty() && !m.options().allow_unknown_applied {
        return Err(Error::UnknownApplied { revisions: unknown });
    }
    Ok(applied)
}

pub(crate) fn status_of(m: &Migrator, rows: Vec<AppliedRevision>) -> Status {
    let set = m.set();
    let plan = Plan::new(set);
    let mut applied = vec![false; set.len()];
    let mut st = Status::default();
    for r in &rows {
        match set.index_of(&r.revision) {
            Some(i) => {
                if r.state == "applied" {
                    applied[i] = true;
                } else {
                    st.dirty.push(r.revision.clone());
                }
                if set.revisions()[i].checksum() != r.checksum {
                    st.drifted.push(r.revision.clone());
                }
            }
            None => st.unknown.push(r.revision.clone()),
        }
    }
    st.current = plan
        .current_heads(&applied)
        .into_iter()
        .map(|i| set.revisions()[i].id().to_owned())
        .collect();
    st.current.extend(st.unknown.iter().cloned());
    st.pending = plan
        .upgrade(&applied, &Target::Heads)
        .unwrap_or_default()
        .into_iter()
        .map(|i| set.revisions()[i].id().to_owned())
        .collect();
    st.applied = rows;
    st
}

pub(crate) fn history_of(m: &Migrator, status: &Status) -> Vec<HistoryEntry> {
    let set = m.set();
    set.revisions()
        .iter()
        .map(|r| HistoryEntry {
            revision: r.id().to_owned(),
            parents: r.parents().iter().map(|p| p.to_string()).collect(),
            message: r.message().map(str::to_owned),
            file: r.file().to_owned(),
            branch_labels: r.branch_labels().iter().map(|p| p.to_string()).collect(),
            applied_at: status
                .applied
                .iter()
                .find(|a| a.revision == r.id() && a.state == "applied")
                .map(|a| a.applied_at.clone()),
            is_current: status.current.iter().any(|c| c == r.id()),
            is_head: set.heads().iter().any(|h| h == r.id()),
            is_draft: r.is_draft(),
        })
        .collect()
}
