//! The running-marker protocol (MySQL/MariaDB and `transaction false` revisions): mark the row
//! `running`/`reverting`, run the statements one by one, and only then record the revision as done.

use super::Session;
use super::guardrails::{Rails, is_lock_timeout};
use super::lost::Phase;
use super::steps::{section, section_line};
use crate::db::Arg;
use crate::error::{Error, Result, driver_text};
use crate::report::{Direction, RowState};
use crate::util::now_rfc3339;
use kiln_core::Revision;
use std::time::Instant;

impl Session<'_> {
    /// The marker protocol for MySQL and `transaction false` revisions.
    pub(super) async fn run_marked(
        &mut self,
        rev: &Revision,
        direction: Direction,
        started_at: &str,
        started: Instant,
        rails: &mut Rails,
    ) -> Result<()> {
        let sql = section(rev, direction);
        let syntax = self.set().syntax_for(self.dialect);
        let statements = kiln_core::split::split_with(sql, syntax).map_err(|e| Error::Split {
            revision: rev.id().to_owned(),
            file: rev.file().to_owned(),
            line: section_line(rev, direction) + e.line as u32 - 1,
            message: e.message.clone(),
        })?;
        let state = RowState::marker(direction);
        // The revision's limits hold for the session until the run ends and puts the session's
        // own values back (`Session::execute`); kiln's bookkeeping writes never wait on the
        // locks a migration waits on.
        let limits = rails.limits(rev, self.opts);
        rails.retried = 0;
        if let Some(set) = rails.session(limits) {
            rails.touched = true;
            self.conn.script(set).await.map_err(Error::db(format!(
                "setting the lock and statement timeouts of revision `{}`",
                rev.id()
            )))?;
        }
        if !self.begin_write(true).await? {
            return Ok(());
        }
        let marked = async {
            if direction == Direction::Upgrade {
                self.insert_version(rev, state, started_at, 0).await?;
            } else {
                self.conn
                    .exec(
                        &self.sql.mark_version(),
                        &[
                            Arg::Text(state.as_str().to_owned()),
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

        for (index, st) in statements.iter().enumerate() {
            let mut attempt_started = (Instant::now(), now_rfc3339());
            let mut res = self.conn.script(st.sql.to_owned()).await;
            // A statement that gave up waiting for a lock did nothing, so it alone is retried;
            // the ones before it stay done.
            while let Err(e) = &res
                && is_lock_timeout(self.dialect, e)
                && rails.retried < self.opts.ddl_retries
            {
                rails.retried += 1;
                let backoff = self.opts.ddl_backoff_before(rails.retried);
                let (at, at_text) = &attempt_started;
                self.record_attempt(rails, rev, direction, at_text, *at, limits, backoff, e)
                    .await;
                tokio::time::sleep(backoff).await;
                attempt_started = (Instant::now(), now_rfc3339());
                res = self.conn.script(st.sql.to_owned()).await;
            }
            if let Err(e) = res {
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
                let timed_out = is_lock_timeout(self.dialect, &e);
                if timed_out && index == 0 && self.unmark(rev, direction).await.is_ok() {
                    // Nothing of the revision ran: it is simply not applied, and not dirty.
                    let err = self
                        .lock_timeout_error(
                            rev,
                            direction,
                            Some(line),
                            limits,
                            rails.retried + 1,
                            &e,
                            false,
                            None,
                        )
                        .await;
                    self.flush_attempts(rails).await;
                    self.audit_failure(rev, direction, started_at, started, &err)
                        .await;
                    return Err(err);
                }
                let message = driver_text(&e);
                let _ = self
                    .conn
                    .exec(
                        &self.sql.mark_version(),
                        &[
                            Arg::Text(state.as_str().to_owned()),
                            Arg::OptText(Some(format!("{}:{line}: {message}", rev.file()))),
                            Arg::Text(rev.id().to_owned()),
                        ],
                    )
                    .await;
                let err = if timed_out {
                    self.lock_timeout_error(
                        rev,
                        direction,
                        Some(line),
                        limits,
                        rails.retried + 1,
                        &e,
                        true,
                        None,
                    )
                    .await
                } else {
                    Error::Statement {
                        direction: direction.as_str(),
                        revision: rev.id().to_owned(),
                        file: rev.file().to_owned(),
                        line: Some(line),
                        message,
                        dirty: true,
                        run_rolled_back: None,
                        report: None,
                    }
                };
                self.flush_attempts(rails).await;
                self.audit_failure(rev, direction, started_at, started, &err)
                    .await;
                return Err(err);
            }
        }

        let mut recorded = self.begin_write(false).await.map(|_| ());
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
}
