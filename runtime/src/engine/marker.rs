//! Recording, in the audit trail, the `running`/`reverting` marker a killed run left behind.
//!
//! A run that follows the marker protocol writes its audit row only when a revision finishes or
//! fails, so a process killed mid-revision (or one whose connection dropped) would leave no trace
//! in the trail, only the dirty marker. The next run to take the lock finds the marker and records
//! it, once: the trail must show every run that changed the schema (ISO 27001 A.12.4.1).

use super::Session;
use crate::db::Arg;
use crate::error::{Error, Result};
use crate::report::{AppliedRevision, OUTCOME_INTERRUPTED, RowState};
use crate::util::now_rfc3339;

impl Session<'_> {
    /// Records every marker left by a run that stopped without finishing. Call under the run
    /// lock only: without it, a marker may belong to a run still in progress.
    ///
    /// A marker with no error is one its run never got to close (a failed statement records its
    /// error on the marker and has an audit row of its own). Recording it also writes that
    /// explanation onto the marker, in the same transaction, which is what keeps a later run from
    /// recording it again; `check` and `current` then show it as the dirty marker's error.
    pub(super) async fn record_abandoned_markers(
        &mut self,
        rows: &mut [AppliedRevision],
    ) -> Result<()> {
        for row in rows
            .iter_mut()
            .filter(|r| !r.is_applied() && r.error.is_none())
        {
            let found_at = now_rfc3339();
            let what = format!(
                "found the `{}` marker of a run that stopped without finishing (killed, or its connection was lost), set at {}; the run that set it is not recorded, this row's user and host are the run that found it. The revision may be partly applied",
                row.state, row.applied_at
            );
            let action = if row.row_state() == Some(RowState::Reverting) {
                "downgrade"
            } else {
                "upgrade"
            };
            self.tx(self.sql.begin(), "starting a transaction").await?;
            let res = async {
                self.conn
                    .exec(
                        &self.sql.mark_version(),
                        &[
                            Arg::Text(row.state.clone()),
                            Arg::OptText(Some(what.clone())),
                            Arg::Text(row.revision.clone()),
                        ],
                    )
                    .await?;
                self.insert_audit(
                    action,
                    Some((&row.revision, &row.checksum)),
                    &row.applied_at,
                    &found_at,
                    0,
                    OUTCOME_INTERRUPTED,
                    Some(what.clone()),
                )
                .await
            }
            .await;
            if let Err(e) = res {
                let _ = self.conn.script("ROLLBACK").await;
                return Err(Error::db(format!(
                    "recording the abandoned marker of revision `{}` in the audit trail",
                    row.revision
                ))(e));
            }
            self.tx("COMMIT", "committing").await?;
            tracing::warn!(target: "kiln", revision = row.revision.as_str(), "{what}");
            row.error = Some(what);
        }
        Ok(())
    }
}
