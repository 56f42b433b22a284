//! The pure analysis of the version rows against the migration set: applied, dirty, drifted,
//! unknown, the digest, the status and the history. No database here.

use crate::error::{Error, Result};
use crate::options::Options;
use crate::report::{AppliedRevision, HistoryEntry, RowState, Status};
use kiln_core::checksum::{revision_digest, xor_into};
use kiln_core::{MigrationSet, Plan, Target};
use std::collections::HashMap;

/// The digest of applied rows (dirty rows excluded: they are not applied).
pub(super) fn digest_of(rows: &[AppliedRevision]) -> [u8; 32] {
    let mut acc = [0u8; 32];
    for r in rows.iter().filter(|r| r.is_applied()) {
        xor_into(&mut acc, &revision_digest(&r.revision, &r.checksum));
    }
    acc
}

/// Revision ids to their position in the set, built once per analysis: `MigrationSet::get` and
/// `index_of` scan the set, which inside a loop over the version rows is quadratic.
pub(crate) struct Ids<'a>(HashMap<&'a str, usize>);

impl<'a> Ids<'a> {
    pub(crate) fn of(set: &'a MigrationSet) -> Ids<'a> {
        Ids(set
            .revisions()
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id(), i))
            .collect())
    }

    /// The position of `id` in the set.
    pub(crate) fn index(&self, id: &str) -> Option<usize> {
        self.0.get(id).copied()
    }

    /// The revision `id` of `set` (the set this index was built from).
    pub(crate) fn get<'s>(
        &self,
        set: &'s MigrationSet,
        id: &str,
    ) -> Option<&'s kiln_core::Revision> {
        self.index(id).map(|i| &set.revisions()[i])
    }
}

/// Checks the version rows against the set: dirty first (most urgent), then drift, then unknown
/// revisions. Returns which revisions of the set are applied.
pub(crate) fn analyze(
    set: &MigrationSet,
    opts: &Options,
    rows: &[AppliedRevision],
) -> Result<Vec<bool>> {
    let ids = Ids::of(set);
    if let Some(r) = rows.iter().find(|r| !r.is_applied()) {
        let (file, parents) = match ids.get(set, &r.revision) {
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
            direction: if r.row_state() == Some(RowState::Reverting) {
                "downgrade".into()
            } else {
                "upgrade".into()
            },
            error: r.error.as_deref().map(Box::from),
            parents,
        });
    }
    let mut applied = vec![false; set.len()];
    let mut unknown = Vec::new();
    let mut drifted = None;
    for r in rows {
        match ids.index(&r.revision) {
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
            .collect::<Vec<_>>()
            .into_boxed_slice();
        return Err(Error::Drift {
            revision: r.revision.clone(),
            file: rev.file().into(),
            recorded: r.checksum.clone(),
            embedded: rev.checksum().to_owned(),
            current,
            unknown: !unknown.is_empty(),
        });
    }
    if !unknown.is_empty() && !opts.allow_unknown_applied {
        return Err(Error::UnknownApplied { revisions: unknown });
    }
    Ok(applied)
}

pub(crate) fn status_of(set: &MigrationSet, rows: Vec<AppliedRevision>) -> Status {
    let ids = Ids::of(set);
    let plan = Plan::new(set);
    let mut applied = vec![false; set.len()];
    let mut st = Status::default();
    for r in &rows {
        match ids.index(&r.revision) {
            Some(i) => {
                if r.is_applied() {
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

pub(crate) fn history_of(set: &MigrationSet, status: &Status) -> Vec<HistoryEntry> {
    let applied_at: HashMap<&str, &str> = status
        .applied
        .iter()
        .filter(|a| a.is_applied())
        .map(|a| (a.revision.as_str(), a.applied_at.as_str()))
        .collect();
    let current: std::collections::HashSet<&str> =
        status.current.iter().map(String::as_str).collect();
    let heads: std::collections::HashSet<&str> = set.heads().iter().map(|h| &**h).collect();
    set.revisions()
        .iter()
        .map(|r| HistoryEntry {
            revision: r.id().to_owned(),
            parents: r.parents().iter().map(|p| p.to_string()).collect(),
            message: r.message().map(str::to_owned),
            file: r.file().to_owned(),
            branch_labels: r.branch_labels().iter().map(|p| p.to_string()).collect(),
            applied_at: applied_at.get(r.id()).map(|a| (*a).to_owned()),
            is_current: current.contains(r.id()),
            is_head: heads.contains(r.id()),
            is_draft: r.is_draft(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrator::Migrator;
    use crate::options::Options;
    use kiln_core::MigrationDir;
    use kiln_core::checksum::parse_hex32;

    /// A linear set `a <- b <- c`, loaded from files the way the CLI loads it.
    fn set(allow_unknown: bool) -> (tempfile::TempDir, Migrator) {
        let dir = tempfile::tempdir().unwrap();
        for (id, parent) in [("a", ""), ("b", "a"), ("c", "b")] {
            let mut text = format!("-- kiln:revision {id}\n-- kiln:message {id}\n");
            if !parent.is_empty() {
                text += &format!("-- kiln:revises {parent}\n");
            }
            text += &format!("\n-- kiln:upgrade\nCREATE TABLE t_{id} (x INTEGER);\n");
            std::fs::write(dir.path().join(format!("{id}_test.sql")), text).unwrap();
        }
        let m = Migrator::load(&MigrationDir::new(dir.path().to_owned(), "migrations"))
            .unwrap()
            .with_options(Options {
                allow_unknown_applied: allow_unknown,
                ..Options::DEFAULT
            });
        (dir, m)
    }

    fn row(m: &Migrator, id: &str, state: &str) -> AppliedRevision {
        let checksum = m
            .set()
            .get(id)
            .map_or_else(|| "0".repeat(64), |r| r.checksum().to_owned());
        AppliedRevision {
            revision: id.to_owned(),
            checksum,
            state: state.to_owned(),
            applied_at: format!("2026-01-01T00:00:0{}Z", id.len()),
            duration_ms: 1,
            error: None,
        }
    }

    #[test]
    fn analyze_returns_which_revisions_are_applied() {
        let (_d, m) = set(false);
        let rows = [row(&m, "a", "applied"), row(&m, "b", "applied")];
        assert_eq!(
            analyze(m.set(), m.options(), &rows).unwrap(),
            vec![true, true, false]
        );
        assert_eq!(
            analyze(m.set(), m.options(), &[]).unwrap(),
            vec![false, false, false]
        );
    }

    #[test]
    fn analyze_refuses_unknown_rows_unless_allowed() {
        let (_d, m) = set(false);
        let rows = [row(&m, "a", "applied"), row(&m, "zz", "applied")];
        match analyze(m.set(), m.options(), &rows) {
            Err(Error::UnknownApplied { revisions }) => assert_eq!(revisions, ["zz"]),
            other => panic!("expected UnknownApplied, got {other:?}"),
        }
        let (_d, lenient) = set(true);
        let rows = [
            row(&lenient, "a", "applied"),
            row(&lenient, "zz", "applied"),
        ];
        assert_eq!(
            analyze(lenient.set(), lenient.options(), &rows).unwrap(),
            vec![true, false, false]
        );
    }

    #[test]
    fn analyze_reports_drift_with_the_applied_tips() {
        let (_d, m) = set(false);
        let mut b = row(&m, "b", "applied");
        b.checksum = "f".repeat(64);
        match analyze(m.set(), m.options(), &[row(&m, "a", "applied"), b]) {
            Err(Error::Drift {
                revision,
                recorded,
                current,
                unknown,
                ..
            }) => {
                assert_eq!(revision, "b");
                assert_eq!(recorded, "f".repeat(64));
                assert_eq!(&*current, ["b".to_owned()]);
                assert!(!unknown);
            }
            other => panic!("expected Drift, got {other:?}"),
        }
    }

    #[test]
    fn a_dirty_row_is_reported_before_drift_and_says_which_way() {
        let (_d, m) = set(false);
        let mut a = row(&m, "a", "applied");
        a.checksum = "f".repeat(64);
        for (state, direction) in [("running", "upgrade"), ("reverting", "downgrade")] {
            let mut b = row(&m, "b", state);
            b.error = Some("boom".to_owned());
            match analyze(m.set(), m.options(), &[a.clone(), b]) {
                Err(Error::Dirty {
                    revision,
                    direction: d,
                    error,
                    parents,
                    ..
                }) => {
                    assert_eq!(revision, "b");
                    assert_eq!(d, direction);
                    assert_eq!(error.as_deref(), Some("boom"));
                    assert_eq!(parents, "a");
                }
                other => panic!("expected Dirty, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_digest_is_an_order_free_xor_of_applied_rows_only() {
        let (_d, m) = set(false);
        let all: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|id| row(&m, id, "applied"))
            .collect();
        let reversed: Vec<_> = all.iter().rev().cloned().collect();
        assert_eq!(digest_of(&all), digest_of(&reversed));
        // The digest of every revision applied is the set's own: what the start-up check compares.
        assert_eq!(Some(digest_of(&all)), parse_hex32(m.set().digest()));
        assert_eq!(digest_of(&[]), [0; 32]);
        // XOR: applying then removing a revision gives back the digest without it.
        let mut acc = digest_of(&all);
        xor_into(&mut acc, &revision_digest("c", all[2].checksum.as_str()));
        assert_eq!(acc, digest_of(&all[..2]));
        // A dirty row is not applied, so it does not count.
        let with_dirty = [all[0].clone(), all[1].clone(), row(&m, "c", "running")];
        assert_eq!(digest_of(&with_dirty), digest_of(&all[..2]));
    }

    #[test]
    fn status_lists_dirty_drifted_unknown_and_pending() {
        let (_d, m) = set(true);
        let mut a = row(&m, "a", "applied");
        a.checksum = "f".repeat(64);
        let rows = vec![a, row(&m, "b", "running"), row(&m, "zz", "applied")];
        let st = status_of(m.set(), rows.clone());
        assert_eq!(st.dirty, ["b"]);
        assert_eq!(st.drifted, ["a"]);
        assert_eq!(st.unknown, ["zz"]);
        assert_eq!(st.current, ["a", "zz"]);
        assert_eq!(st.pending, ["b", "c"]);
        assert_eq!(st.applied, rows);
    }

    #[test]
    fn history_follows_the_set_order_and_dates_only_applied_rows() {
        let (_d, m) = set(false);
        let st = status_of(
            m.set(),
            vec![row(&m, "b", "running"), row(&m, "a", "applied")],
        );
        let h = history_of(m.set(), &st);
        let ids: Vec<_> = h.iter().map(|e| e.revision.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(h[0].applied_at.as_deref(), Some("2026-01-01T00:00:01Z"));
        assert_eq!(h[1].applied_at, None, "a running row is not applied");
        assert!(h[0].is_current && !h[1].is_current);
        assert!(h[2].is_head && !h[0].is_head);
        assert_eq!(h[1].parents, ["a"]);
    }
}

#[cfg(test)]
mod row_state_tests {
    use crate::report::{Direction, RowState};

    #[test]
    fn row_states_round_trip_through_their_stored_text() {
        for st in [RowState::Applied, RowState::Running, RowState::Reverting] {
            assert_eq!(RowState::parse(st.as_str()), Some(st));
        }
        assert_eq!(RowState::parse("Applied"), None);
        assert_eq!(RowState::marker(Direction::Upgrade), RowState::Running);
        assert_eq!(RowState::marker(Direction::Downgrade), RowState::Reverting);
    }
}
