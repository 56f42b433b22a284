//! The batch executor: transactional revisions (PostgreSQL, SQLite) run with their bookkeeping in
//! one transaction per revision or one per run, several to a script when the network is in between.

use super::guardrails::{Rails, is_lock_timeout};
use super::lost::Phase;
use super::steps::{
    emit_starting, finish_step, log_step, make_step, section, section_cow, section_line,
};
use super::{KILN_VERSION, Session};
use crate::error::{Error, Result, driver_text};
use crate::net::{WatchedExec, is_lost};
use crate::options::TransactionMode;
use crate::report::{Direction, Event, Hooks, Report, Step};
use crate::sql::{AuditContext, Bookkeeping, Record, Sql};
use crate::util::{millis, now_rfc3339};
use kiln_core::checksum::{hex, revision_digest, xor_into};
use kiln_core::{Dialect, MigrationSet, Revision, Syntax};
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl Session<'_> {
    /// `true` when a revision runs inside a transaction together with its bookkeeping.
    pub(super) fn is_atomic(&self, rev: &Revision) -> bool {
        rev.is_transactional() && self.dialect != Dialect::MySql
    }

    /// Runs `plan`; a failure carries the steps that completed before it
    /// ([`Error::completed_steps`]).
    pub(super) async fn execute(
        &mut self,
        plan: &[usize],
        direction: Direction,
        hooks: Hooks<'_>,
    ) -> Result<Report> {
        let mut report = Report::default();
        let mut rails = self.rails(plan).await?;
        let res = self
            .execute_into(plan, direction, hooks, &mut report, &mut rails)
            .await;
        // Attempts SQLite could not record while it was locked, then the session's own limits
        // (SQLite's busy timeout is the connection's, and it goes back to the pool).
        self.flush_attempts(&mut rails).await;
        if !matches!(res, Err(Error::ConnectionLost { .. })) {
            self.restore_rails(&rails).await;
        }
        match res {
            Ok(()) => Ok(report),
            Err(e) => Err(e.with_completed(report.steps)),
        }
    }

    async fn execute_into(
        &mut self,
        plan: &[usize],
        direction: Direction,
        hooks: Hooks<'_>,
        report: &mut Report,
        rails: &mut Rails,
    ) -> Result<()> {
        let revs = self.set().revisions();
        let mut k = 0;
        while k < plan.len() {
            if k > 0 && stop_requested_after_yield(&hooks).await {
                return Err(Error::Interrupted {
                    completed: k,
                    report: None,
                });
            }
            let rev = &revs[plan[k]];
            self.guard
                .check(|| format!("revision `{}` ({})", rev.id(), rev.file()))?;
            if self.is_atomic(rev) {
                // A run of consecutive transactional revisions goes through one executor.
                let end = plan[k..]
                    .iter()
                    .position(|&i| !self.is_atomic(&revs[i]))
                    .map_or(plan.len(), |p| k + p);
                self.execute_atomic(plan, k, end, direction, &hooks, report, rails)
                    .await?;
                if self.guard.raced {
                    return Ok(());
                }
                k = end;
                continue;
            }
            // A non-transactional revision (or any revision on MySQL): the marker protocol.
            emit_starting(&hooks, rev, direction, k, plan.len());
            let started = Instant::now();
            let started_at = now_rfc3339();
            self.run_marked(rev, direction, &started_at, started, rails)
                .await?;
            if self.guard.raced {
                return Ok(());
            }
            finish_step(
                &hooks,
                rev,
                direction,
                started.elapsed(),
                k,
                plan.len(),
                report,
            );
            k += 1;
        }
        Ok(())
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
    /// [`crate::Migrator::run`] does at start-up), consecutive revisions travel together in scripts of up
    /// to [`BATCH_BYTES`], so a run costs a few round trips instead of one per revision; each
    /// revision's recorded duration is then its share of its batch. A failure is located exactly as
    /// for a single revision: replayed statement by statement in a rolled-back transaction.
    ///
    /// With the DDL guardrails each revision's SQL starts with its limits (`SET LOCAL` on
    /// PostgreSQL, SQLite's busy timeout), and a lock timeout is retried as the options say:
    /// the transaction is rolled back and run again from its first revision (in whole-run mode,
    /// every revision of the run since the last commit).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn execute_atomic(
        &mut self,
        plan: &[usize],
        from: usize,
        to: usize,
        direction: Direction,
        hooks: &Hooks<'_>,
        report: &mut Report,
        rails: &mut Rails,
    ) -> Result<()> {
        let opts = self.opts;
        let guarded = |rails: &Rails, rev: &Revision| -> Cow<'static, str> {
            let sql = section_cow(rev, direction);
            match rails.in_tx(rails.limits(rev, opts)) {
                Some(prefix) => Cow::Owned(format!("{prefix}{sql}")),
                None => sql,
            }
        };
        let revs = self.set().revisions();
        let whole = self.opts.transaction_mode == TransactionMode::All;
        let begin = self.sql.begin();
        let syntax = self.set().syntax_for(self.dialect);
        let mut book = Bookkeeping::default();
        // The commit script's audit context, from owned copies so it can live across the
        // `&mut self` calls of the loop.
        let (sql, run_id, user, host) = (
            self.sql.clone(),
            self.run_id.clone(),
            self.user.clone(),
            self.host.clone(),
        );
        let app_version = self.opts.app_version.clone();
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
        // Their revisions' positions in the set, for the log lines written at the commit.
        let mut ran_at: Vec<usize> = Vec::new();
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
                    committed(hooks, self.source.get(), &mut ran, &mut ran_at, report);
                }
                return Err(Error::Interrupted {
                    completed: report.steps.len(),
                    report: None,
                });
            }
            // This step's revisions: one, or a batch of whole, lexically complete scripts.
            let mut end = k + 1;
            let mut sql = guarded(rails, &revs[plan[k]]);
            if batching && batchable(&sql, syntax) {
                let mut joined: Option<String> = None;
                while end < to && joined.as_ref().map_or(sql.len(), String::len) < BATCH_BYTES {
                    let next = guarded(rails, &revs[plan[end]]);
                    if !batchable(&next, syntax) {
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
            if k > from {
                let next = &revs[plan[k]];
                if let Err(e) = self
                    .guard
                    .check(|| format!("revision `{}` ({})", next.id(), next.file()))
                {
                    if in_tx {
                        let _ = exec.script(Cow::Borrowed("ROLLBACK")).await;
                    }
                    return Err(e);
                }
            }
            let step: Vec<&Revision> = plan[k..end].iter().map(|&i| &revs[i]).collect();
            for (n, rev) in step.iter().enumerate() {
                emit_starting(hooks, rev, direction, k + n, plan.len());
            }
            let started = Instant::now();
            let started_at = now_rfc3339();
            let limits = rails.limits(step[0], opts);
            let xact = self.guard.xact_begin(&self.sql, &self.digest, self.dirty);
            let res = if in_tx {
                exec.script(sql).await
            } else if let Some((begin_locked, expected)) = xact {
                // The transaction lock: taken by this transaction, which then checks that the
                // state is still the one this run planned from.
                let seen = match exec.last_text(begin_locked).await {
                    Ok(seen) => seen,
                    Err(e) => {
                        let _ = exec.script(Cow::Borrowed("ROLLBACK")).await;
                        return Err(super::locking::xact_error(e, &self.guard));
                    }
                };
                if seen.as_deref() != Some(expected.as_str()) {
                    let _ = exec.script(Cow::Borrowed("ROLLBACK")).await;
                    self.guard.raced = true;
                    return Ok(());
                }
                in_tx = true;
                tx_from = k;
                exec.script(sql).await
            } else {
                in_tx = true;
                tx_from = k;
                if remote {
                    exec.script(Cow::Owned(format!("{begin};\n{sql}"))).await
                } else {
                    // SQLite waits for its write lock at `BEGIN IMMEDIATE`, so its busy timeout
                    // is set first, and giving up there is the revision's lock timeout.
                    let mut begun = match rails.before_begin(limits) {
                        Some(busy) => exec.script(Cow::Owned(busy)).await,
                        None => Ok(()),
                    };
                    if begun.is_ok() {
                        begun = exec.script(Cow::Borrowed(begin)).await;
                    }
                    match begun {
                        Ok(()) => exec.script(sql).await,
                        Err(e) if is_lock_timeout(self.dialect, &e) => Err(e),
                        Err(e) => return Err(Error::db("starting a transaction")(e)),
                    }
                }
            };
            if let Err(e) = res {
                if self.dialect != Dialect::Sqlite && is_lost(&e) {
                    drop(exec);
                    let rev = step[0];
                    // Whole-run mode: the revisions run earlier in the open transaction and the
                    // rest of this batch go with it.
                    let shared = u32::try_from(k - tx_from + step.len() - 1).unwrap_or(u32::MAX);
                    return Err(self
                        .lost_in_tx(
                            &e,
                            &format!("the {} of", direction.as_str()),
                            Some((rev, direction)),
                            None,
                            Phase::Tx,
                            if whole { shared } else { 0 },
                        )
                        .await);
                }
                let _ = exec.script(Cow::Borrowed("ROLLBACK")).await;
                let timed_out = is_lock_timeout(self.dialect, &e);
                if timed_out && rails.retried < opts.ddl_retries {
                    // Everything since `tx_from` was rolled back: forget its bookkeeping and
                    // run it again after the backoff.
                    drop(exec);
                    rails.retried += 1;
                    let backoff = opts.ddl_backoff_before(rails.retried);
                    self.record_attempt(
                        rails,
                        step[0],
                        direction,
                        &started_at,
                        started,
                        limits,
                        backoff,
                        &e,
                    )
                    .await;
                    tokio::time::sleep(backoff).await;
                    for r in book.records.drain(..) {
                        xor_into(&mut self.digest, &revision_digest(&r.revision, &r.checksum));
                    }
                    ran.clear();
                    ran_at.clear();
                    in_tx = false;
                    k = tx_from;
                    exec = self
                        .conn
                        .executor(!whole)
                        .await
                        .map_err(Error::db("acquiring the connection"))?;
                    continue;
                }
                let replay: Vec<&Revision> = plan[tx_from..k].iter().map(|&i| &revs[i]).collect();
                let prefix = |r: &Revision| rails.in_tx(rails.limits(r, opts));
                let located =
                    locate(&mut exec, syntax, begin, &replay, &step, direction, &prefix).await;
                drop(exec);
                let (n, line, message) = match located {
                    Some((n, line, message)) => (n, Some(line), message),
                    None => (0, None, driver_text(&e)),
                };
                let rev = step[n];
                let run_rolled_back =
                    whole.then_some(u32::try_from(k - tx_from + n).unwrap_or(u32::MAX));
                if timed_out {
                    let limits = rails.limits(rev, opts);
                    let attempts = rails.retried + 1;
                    let err = self
                        .lock_timeout_error(
                            rev,
                            direction,
                            line,
                            limits,
                            attempts,
                            &e,
                            false,
                            run_rolled_back,
                        )
                        .await;
                    self.flush_attempts(rails).await;
                    self.audit_failure(rev, direction, &started_at, started, &err)
                        .await;
                    return Err(err);
                }
                let err = Error::Statement {
                    direction: direction.as_str(),
                    revision: rev.id().to_owned(),
                    file: rev.file().to_owned(),
                    line,
                    message,
                    dirty: false,
                    run_rolled_back,
                    report: None,
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
                    duration_ms: millis(share),
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
                    ran_at.push(plan[k + n]);
                }
            }
            if !whole || end == to {
                if let Err(e) = self.guard.check(|| {
                    format!(
                        "the COMMIT of revision `{}` (rolled back)",
                        step[step.len() - 1].id()
                    )
                }) {
                    let _ = exec.script(Cow::Borrowed("ROLLBACK")).await;
                    return Err(e);
                }
                let script = commit(&mut book, &self.digest, self.dirty);
                if let Err(e) = exec.script(Cow::Owned(script)).await {
                    if self.dialect != Dialect::Sqlite && is_lost(&e) {
                        drop(exec);
                        let rev = step[step.len() - 1];
                        // Whole-run mode: every revision that ran commits (or not) with it.
                        let shared = if whole {
                            u32::try_from(ran.len().saturating_sub(1)).unwrap_or(u32::MAX)
                        } else {
                            0
                        };
                        return Err(self
                            .lost_in_tx(
                                &e,
                                "the COMMIT of",
                                Some((rev, direction)),
                                None,
                                Phase::Commit,
                                shared,
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
                rails.retried = 0;
            }
            if whole {
                if !in_tx {
                    committed(hooks, self.source.get(), &mut ran, &mut ran_at, report);
                }
            } else {
                // What the caller waited for includes the COMMIT (on SQLite its flush is often
                // most of it); the recorded row, written inside that COMMIT, cannot.
                let took = started.elapsed() / step.len() as u32;
                for (n, rev) in step.iter().enumerate() {
                    finish_step(hooks, rev, direction, took, k + n, plan.len(), report);
                }
            }
            k = end;
        }
        debug_assert!(!in_tx && book.is_empty() && ran.is_empty());
        Ok(())
    }
}

/// Checks the stop flag, first yielding once so that on a current-thread runtime the task that
/// sets it (a Ctrl-C handler) gets to run between two revisions.
pub(super) async fn stop_requested_after_yield(hooks: &Hooks<'_>) -> bool {
    let Some(stop) = hooks.stop else {
        return false;
    };
    tokio::task::yield_now().await;
    stop.load(Ordering::SeqCst)
}

/// A whole-run transaction committed: its steps become applied, in the report, the log and the
/// progress events, and not before.
pub(super) fn committed(
    hooks: &Hooks<'_>,
    set: &MigrationSet,
    ran: &mut Vec<Step>,
    ran_at: &mut Vec<usize>,
    report: &mut Report,
) {
    if ran.is_empty() {
        return;
    }
    for (step, &i) in ran.iter().zip(ran_at.iter()) {
        log_step(&set.revisions()[i], step);
    }
    ran_at.clear();
    tracing::info!(target: "kiln", "committed {} revision(s) in one transaction", ran.len());
    if let Some(cb) = hooks.on_event {
        cb(&Event::Committed { steps: ran });
    }
    report.steps.append(ran);
}

/// The pending bookkeeping, the state row and `COMMIT`, as one script.
pub(super) fn commit_script(
    book: &mut Bookkeeping,
    sql: &Sql,
    audit: &AuditContext<'_>,
    digest: &[u8; 32],
    dirty: i64,
) -> String {
    let mut script = String::new();
    let digest = sql.stored_digest(&hex(digest));
    book.drain_into(&mut script, sql, audit, &digest, dirty, &now_rfc3339());
    script.push_str("COMMIT");
    script
}

/// Scripts of up to this many bytes carry several revisions in whole-run mode (see
/// `execute_atomic`).
pub(super) const BATCH_BYTES: usize = 256 * 1024;

/// `true` when a revision's SQL can share a script with others: it splits cleanly (nothing opened
/// and left unclosed that would swallow the next revision) and has no `DELIMITER` directives.
pub(super) fn batchable(sql: &str, syntax: Syntax) -> bool {
    syntax.dialect != Dialect::MySql && kiln_core::split::split_with(sql, syntax).is_ok()
}

/// Replays the open transaction's earlier revisions, then the failed step's revisions statement by
/// statement, inside a transaction that is always rolled back, to find the failing statement:
/// which of `step` it belongs to, its line in the file, and the database's message.
pub(super) async fn locate(
    exec: &mut WatchedExec<'_>,
    syntax: Syntax,
    begin: &'static str,
    replay: &[&Revision],
    step: &[&Revision],
    direction: Direction,
    prefix: &(dyn Fn(&Revision) -> Option<String> + Sync),
) -> Option<(usize, u32, String)> {
    exec.script(Cow::Borrowed(begin)).await.ok()?;
    let mut found = None;
    let mut ok = true;
    for r in replay {
        let sql = match prefix(r) {
            Some(p) => Cow::Owned(format!("{p}{}", section(r, direction))),
            None => section_cow(r, direction),
        };
        if exec.script(sql).await.is_err() {
            ok = false;
            break;
        }
    }
    if ok {
        'revs: for (n, rev) in step.iter().enumerate() {
            let Ok(statements) = kiln_core::split::split_with(section(rev, direction), syntax)
            else {
                break;
            };
            // The same limits as the run, so the replay cannot wait longer than it did.
            if let Some(p) = prefix(rev)
                && exec.script(Cow::Owned(p)).await.is_err()
            {
                break;
            }
            for st in &statements {
                if let Err(e) = exec.script(Cow::Owned(st.sql.to_owned())).await {
                    found = Some((
                        n,
                        section_line(rev, direction) + st.line as u32 - 1,
                        driver_text(&e),
                    ));
                    break 'revs;
                }
            }
        }
    }
    let _ = exec.script(Cow::Borrowed("ROLLBACK")).await;
    found
}
