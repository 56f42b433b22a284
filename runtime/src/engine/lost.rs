//! After a lost connection: end the orphaned server session, reconnect, read what was recorded,
//! and say what became of the revision in flight instead of blaming its SQL.

use super::Session;
use crate::error::{Error, LostOutcome};
use crate::net::{Watchdog, Watched, cause, is_lost};
use crate::report::{Direction, RowState};
use kiln_core::{Dialect, Revision};
use std::time::Duration;

/// Where in a revision's life the connection was lost; decides what can be known afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Outside any revision: reading the state, taking the lock, creating kiln's tables.
    Other,
    /// Inside a revision's transaction, before its COMMIT was sent.
    Tx,
    /// The COMMIT of a transaction carrying the revision and its record.
    Commit,
    /// Writing the in-progress marker (the marker protocol), before any statement was sent.
    Marker,
    /// A statement of a marked revision (cannot roll back).
    Statement,
    /// Recording a marked revision as done, after every statement was acknowledged.
    Record,
}

impl Session<'_> {
    /// `true` when `e` means the connection failed, on an engine reached over the network.
    pub(super) fn lost_here(&self, e: &sqlx::Error) -> bool {
        self.dialect != Dialect::Sqlite && is_lost(e)
    }

    /// Builds the [`Error::ConnectionLost`] for `e`. First ends the old server session, so that
    /// it can neither keep the run lock nor commit later when the network comes back; only then
    /// is what the database recorded final, and worth reading over a new connection.
    pub(super) async fn lost(
        &mut self,
        e: &sqlx::Error,
        during: &str,
        rev: Option<(&Revision, Direction)>,
        line: Option<u32>,
        phase: Phase,
    ) -> Error {
        self.lost_in_tx(e, during, rev, line, phase, 0).await
    }

    /// [`Session::lost`] for a revision whose transaction carried `shared_with` other revisions
    /// of the run (whole-run mode), which share its outcome.
    pub(super) async fn lost_in_tx(
        &mut self,
        e: &sqlx::Error,
        during: &str,
        rev: Option<(&Revision, Direction)>,
        line: Option<u32>,
        phase: Phase,
        shared_with: u32,
    ) -> Error {
        let mut why = cause(e);
        let ended = self.conn.dog().end_orphan().await;
        if let Err(not) = &ended {
            why.push_str(&format!("; afterwards kiln {not}"));
        }
        let reconnected = ended.is_ok() && self.reconnect().await;
        // The revision's row as the database has it now: `Some(None)` when there is none.
        let recorded: Option<Option<String>> = match (rev, reconnected) {
            (Some((r, _)), true) => self.read_versions().await.ok().map(|rows| {
                rows.unwrap_or_default()
                    .into_iter()
                    .find(|x| x.revision == r.id())
                    .map(|x| x.state)
            }),
            _ => None,
        };
        let outcome = outcome(phase, rev.map(|(_, d)| d), recorded.as_ref());
        tracing::warn!(target: "kiln", "connection lost while {during}: {why}");
        let (revision, file, parents) = match rev {
            Some((r, _)) => (
                Some(r.id().to_owned()),
                Some(r.file().to_owned()),
                if r.parents().is_empty() {
                    "base".to_owned()
                } else {
                    r.parents().join(" ")
                },
            ),
            None => (None, None, "base".to_owned()),
        };
        Error::ConnectionLost {
            during: during.into(),
            revision,
            file,
            line,
            parents: parents.into(),
            outcome,
            shared_with,
            cause: why.into(),
            report: None,
        }
    }

    /// Replaces the lost connection with a new one from the same pool. `false` when the server
    /// cannot be reached within the I/O timeout.
    async fn reconnect(&mut self) -> bool {
        let timeout = self.opts.io_timeout;
        let limit = timeout.unwrap_or(Duration::from_secs(10));
        match tokio::time::timeout(limit, self.db.acquire()).await {
            Ok(Ok(c)) => {
                let old = self.conn.dog().clone();
                self.conn = Watched::new(c, Watchdog::new(&self.db, timeout));
                self.conn.watch_like(&old);
                true
            }
            _ => false,
        }
    }
}

/// What became of the revision, from the phase and its row after the old session ended (`None`:
/// kiln could not look).
fn outcome(
    phase: Phase,
    direction: Option<Direction>,
    recorded: Option<&Option<String>>,
) -> LostOutcome {
    let done = |d: Direction, row: &Option<String>| match d {
        Direction::Downgrade => row.is_none(),
        _ => row.as_deref().and_then(RowState::parse) == Some(RowState::Applied),
    };
    match (phase, direction, recorded) {
        (Phase::Other, ..) => LostOutcome::Unchanged,
        (Phase::Tx, ..) => LostOutcome::RolledBack,
        (Phase::Statement, ..) => LostOutcome::Dirty,
        (Phase::Record, Some(d), Some(row)) if done(d, row) => LostOutcome::Committed,
        // Every statement was acknowledged before the record was attempted.
        (Phase::Record, ..) => LostOutcome::StatementsDone,
        (Phase::Commit, Some(d), Some(row)) => {
            if done(d, row) {
                LostOutcome::Committed
            } else {
                LostOutcome::NotCommitted
            }
        }
        (Phase::Marker, Some(_), Some(row)) => LostOutcome::NotStarted(matches!(
            row.as_deref().and_then(RowState::parse),
            Some(RowState::Running | RowState::Reverting)
        )),
        (Phase::Commit | Phase::Marker, ..) => LostOutcome::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_what_was_recorded() {
        let up = Some(Direction::Upgrade);
        let applied = Some("applied".to_owned());
        let running = Some("running".to_owned());
        assert_eq!(
            outcome(Phase::Commit, up, Some(&applied)),
            LostOutcome::Committed
        );
        assert_eq!(
            outcome(Phase::Commit, up, Some(&None)),
            LostOutcome::NotCommitted
        );
        assert_eq!(outcome(Phase::Commit, up, None), LostOutcome::Unknown);
        assert_eq!(
            outcome(Phase::Commit, Some(Direction::Downgrade), Some(&None)),
            LostOutcome::Committed
        );
        assert_eq!(
            outcome(Phase::Marker, up, Some(&running)),
            LostOutcome::NotStarted(true)
        );
        assert_eq!(
            outcome(Phase::Marker, up, Some(&None)),
            LostOutcome::NotStarted(false)
        );
        assert_eq!(
            outcome(Phase::Record, up, Some(&running)),
            LostOutcome::StatementsDone
        );
        assert_eq!(outcome(Phase::Statement, up, None), LostOutcome::Dirty);
    }
}
