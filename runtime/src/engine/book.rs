//! The bookkeeping writes: version rows, the state row (digest and dirty count) and audit rows.

use super::{KILN_VERSION, Session};
use crate::db::Arg;
use crate::error::{Error, Result};
use crate::report::{Direction, OUTCOME_FAILED, OUTCOME_OK, RowState};
use crate::util::{millis, now_rfc3339};
use kiln_core::checksum::{hex, revision_digest, xor_into};
use kiln_core::{Dialect, Revision};
use std::time::{Duration, Instant};

impl Session<'_> {
    /// Inserts `rev`'s version row in `state`, stamped `at` with a duration of `ms`. The one place
    /// that knows the row's column order.
    pub(super) async fn insert_version(
        &mut self,
        rev: &Revision,
        state: RowState,
        at: &str,
        ms: i64,
    ) -> std::result::Result<(), sqlx::Error> {
        self.conn
            .exec(
                &self.sql.insert_version(),
                &[
                    Arg::Text(rev.id().to_owned()),
                    Arg::Text(rev.checksum().to_owned()),
                    Arg::Text(state.as_str().to_owned()),
                    Arg::Text(at.to_owned()),
                    Arg::Int(ms),
                    Arg::Text(KILN_VERSION.to_owned()),
                ],
            )
            .await
            .map(|_| ())
    }

    /// Writes the version row, the state digest and the audit row for a completed revision.
    /// Runs inside the caller's transaction.
    pub(super) async fn record(
        &mut self,
        rev: &Revision,
        direction: Direction,
        started_at: &str,
        took: Duration,
        marked: bool,
    ) -> Result<()> {
        let now = now_rfc3339();
        let ms = millis(took);
        let res: std::result::Result<(), sqlx::Error> = async {
            match (direction, marked) {
                (Direction::Upgrade, false) => {
                    self.insert_version(rev, RowState::Applied, &now, ms)
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
    pub(super) async fn repair_state(&mut self) -> Result<()> {
        let recorded = self
            .conn
            .first_text(self.sql.state_digest(self.dirty))
            .await
            .map_err(Error::db("reading the migration state"))?;
        if recorded.as_deref() != Some(self.sql.stored_digest(&hex(&self.digest)).as_str()) {
            tracing::warn!(target: "kiln", "the state row disagreed with the version table (edited by hand?); recomputed it from the version rows");
            self.write_state()
                .await
                .map_err(Error::db("repairing the migration state"))?;
        }
        Ok(())
    }

    pub(super) async fn write_state(&mut self) -> std::result::Result<(), sqlx::Error> {
        self.conn
            .exec(
                &self.sql.update_state(),
                &[
                    Arg::Text(self.sql.stored_digest(&hex(&self.digest))),
                    Arg::Int(self.dirty.max(0)),
                    Arg::Text(now_rfc3339()),
                ],
            )
            .await
            .map(|_| ())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn insert_audit(
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
            self.opts.app_version.as_deref().map(str::to_owned),
        ));
        args.push(Arg::Text(KILN_VERSION.to_owned()));
        self.conn
            .exec(&self.sql.insert_audit(), &args)
            .await
            .map(|_| ())
    }

    /// Records a failure in the audit trail, outside any transaction (the run's own work was
    /// rolled back, the record of its failure must not be).
    pub(super) async fn audit_failure(
        &mut self,
        rev: &Revision,
        direction: Direction,
        started_at: &str,
        started: Instant,
        err: &Error,
    ) {
        let now = now_rfc3339();
        let ms = millis(started.elapsed());
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
}
