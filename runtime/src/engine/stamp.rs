//! `stamp`: record revisions as applied (or remove their rows) without running their SQL.

use super::Session;
use super::state::Ids;
use crate::db::Arg;
use crate::error::{Error, Result};
use crate::report::{
    AppliedRevision, Direction, OUTCOME_OK, OUTCOME_PURGED, OUTCOME_RECORDED, OUTCOME_REMOVED,
    Report, RowState, Step,
};
use crate::util::{millis, now_rfc3339};
use kiln_core::checksum::parse_hex32;
use kiln_core::{Plan, Revision, Target};
use std::collections::HashMap;
use std::time::{Duration, Instant};

impl Session<'_> {
    pub(super) async fn stamp(
        &mut self,
        plan: &Plan<'_>,
        rows: &[AppliedRevision],
        targets: &[Target],
        purge: bool,
    ) -> Result<Report> {
        let set = self.set();
        let ids = Ids::of(set);
        let by_id: HashMap<&str, &AppliedRevision> =
            rows.iter().map(|r| (r.revision.as_str(), r)).collect();
        let none = vec![false; set.len()];
        let mut want = vec![false; set.len()];
        for t in targets {
            for i in plan.upgrade(&none, t)? {
                want[i] = true;
            }
        }
        let unknown: Vec<String> = rows
            .iter()
            .filter(|r| ids.index(&r.revision).is_none())
            .map(|r| r.revision.clone())
            .collect();
        if !purge && !unknown.is_empty() && !self.opts.allow_unknown_applied {
            return Err(Error::UnknownApplied { revisions: unknown });
        }
        let started_at = now_rfc3339();
        let started = Instant::now();
        let mut report = Report::default();
        if !self.begin_write(true).await? {
            return Err(Error::StampWhileRunning {
                what: "transaction lock: another runner changed the state while stamp read it"
                    .into(),
            });
        }
        let res: std::result::Result<(), sqlx::Error> = async {
            // Rows a purge forgets are recorded as stamped away, the ones this binary does not
            // know included, so the audit trail shows what the purge removed.
            let mut removed: Vec<String> = Vec::new();
            if purge {
                self.conn.exec(&self.sql.delete_all_versions(), &[]).await?;
                for r in rows {
                    let still_wanted = ids.index(&r.revision).is_some_and(|i| want[i]);
                    if !still_wanted {
                        removed.push(r.revision.clone());
                    }
                }
            }
            let existing = |id: &str| {
                if purge { None } else { by_id.get(id).copied() }
            };
            for (i, rev) in set.revisions().iter().enumerate() {
                let row = existing(rev.id());
                let change = match (want[i], row) {
                    (true, Some(r)) if r.is_applied() && r.checksum == rev.checksum() => false,
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
                    self.insert_version(rev, RowState::Applied, &now_rfc3339(), 0)
                        .await?;
                    report.steps.push(stamp_step(rev, Direction::Stamp));
                }
            }
            let kept: Vec<(&str, &str)> = rows
                .iter()
                .filter(|r| !purge && ids.index(&r.revision).is_none() && r.is_applied())
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
            let ms = millis(started.elapsed());
            for id in &removed {
                report.steps.push(Step {
                    revision: id.clone(),
                    direction: Direction::Unstamp,
                    message: ids
                        .get(set, id)
                        .and_then(|r| r.message())
                        .map(str::to_owned),
                    duration: Duration::ZERO,
                });
            }
            // Each row says which way: recorded as applied (with the file's checksum), or removed
            // (with the checksum that was recorded, when kiln knows it).
            for step in &report.steps {
                let (outcome, sum) = match step.direction {
                    // A purge's rows say so: it forgets rows wholesale (unknown ones too), which
                    // an audit reader must tell from a stamp that moved the database down.
                    Direction::Unstamp => (
                        if purge {
                            OUTCOME_PURGED
                        } else {
                            OUTCOME_REMOVED
                        },
                        by_id
                            .get(step.revision.as_str())
                            .map_or("", |r| r.checksum.as_str()),
                    ),
                    _ => (
                        OUTCOME_RECORDED,
                        ids.get(set, &step.revision).map_or("", |r| r.checksum()),
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
}

pub(super) fn stamp_step(rev: &Revision, direction: Direction) -> Step {
    Step {
        revision: rev.id().to_owned(),
        direction,
        message: rev.message().map(str::to_owned),
        duration: Duration::ZERO,
    }
}
