//! Regression tests for the engine defects of issue 9 (items 6, 9, 10 and 12), against real
//! PostgreSQL, MariaDB and SQLite: a whole-run failure reports nothing as applied, a downgrade
//! never reverts what an unknown applied revision may build on, a hand-edited version table
//! cannot fool the fast path, one drift advice, stamp rows that say which way, and the marker of
//! a killed run recorded in the audit trail.

#[macro_use]
mod common;

use common::{exec, raw_rows, rev, table_exists, write_set};
use kiln_runtime::{Dialect, Direction, Error, Event, Hooks, Migrator, Options, TransactionMode};
use kiln_testing::TestDb;
use std::sync::Mutex;

// One `#[tokio::test]` per engine for each scenario; a scenario returns the database to drop.
engines!(
    whole_run_failure_reports_nothing_applied: [sqlite, postgres],
    downgrade_never_strands_an_unknown_child: [sqlite, postgres, mysql],
    hand_deleted_version_row_is_pending_for_upgrade_too: [sqlite, postgres, mysql],
    sqlite_guard_triggers_send_every_hand_edit_to_the_locked_path: [sqlite],
    drift_advice_keeps_the_applied_set: [sqlite, postgres, mysql],
    stamp_says_recorded_or_removed: [sqlite, postgres, mysql],
    killed_run_marker_is_audited_once: [sqlite, postgres, mysql],
);

/// `common::chain` of two, then a third revision failing on its second statement.
fn failing_third(dir: &std::path::Path) -> Migrator {
    common::chain(dir, 2);
    write_set(
        dir,
        &[rev(
            "r002",
            "r001",
            "SELECT 1;\nINSERT INTO missing_t VALUES (1);",
            Some("SELECT 1;"),
        )],
    )
}

async fn whole_run_failure_reports_nothing_applied(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = failing_third(dir.path())
        .with_options(Options::default().transaction_mode(TransactionMode::All));
    let events: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let on_event = |e: &Event<'_>| {
        let line = match e {
            Event::Ran { step, .. } => format!("ran {}", step.revision),
            Event::Finished { step, .. } => format!("finished {}", step.revision),
            Event::Committed { steps } => format!("committed {}", steps.len()),
            _ => return,
        };
        events.lock().unwrap().push(line);
    };
    let hooks = Hooks {
        on_event: Some(&on_event),
        stop: None,
    };
    let err = m.upgrade_with(t.db(), "head", hooks).await.unwrap_err();
    // Nothing was reported as applied: the two revisions that ran were rolled back with r002.
    assert_eq!(*events.lock().unwrap(), ["ran r000", "ran r001"]);
    let text = err.to_string();
    match &err {
        Error::Statement {
            revision,
            run_rolled_back,
            dirty,
            ..
        } => {
            assert_eq!(revision, "r002");
            assert_eq!(*run_rolled_back, Some(2), "{text}");
            assert!(!dirty);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        text.contains("the whole run's transaction was rolled back")
            && text.contains("the 2 revision(s) that ran before it")
            && text.contains("3 rolled back in all"),
        "{text}"
    );
    assert!(!text.contains("the revision was rolled back"), "{text}");
    let st = m.current(t.db()).await.unwrap();
    assert!(st.applied.is_empty(), "{st:?}");
    assert!(!table_exists(t.db(), "t0").await);

    // Without the failing revision, the commit is what reports the revisions as applied.
    events.lock().unwrap().clear();
    let report = m.upgrade_with(t.db(), "r001", hooks).await.unwrap();
    assert_eq!(report.steps.len(), 2);
    assert_eq!(
        *events.lock().unwrap(),
        ["ran r000", "ran r001", "committed 2"]
    );
    // Per-revision mode keeps reporting each committed revision as finished.
    let per = failing_third(dir.path());
    events.lock().unwrap().clear();
    let err = per.upgrade_with(t.db(), "head", hooks).await.unwrap_err();
    assert!(matches!(
        err,
        Error::Statement {
            run_rolled_back: None,
            ..
        }
    ));
    assert!(events.lock().unwrap().is_empty());
    t
}

async fn downgrade_never_strands_an_unknown_child(t: TestDb) -> TestDb {
    let newer_dir = tempfile::tempdir().unwrap();
    let newer = common::chain(newer_dir.path(), 3);
    newer.run(t.db()).await.unwrap();
    // This binary knows r000 and r001; r002 (a child of r001) was applied by a newer one.
    let older_dir = tempfile::tempdir().unwrap();
    let older = common::chain(older_dir.path(), 2)
        .with_options(Options::default().allow_unknown_applied(true));
    for target in ["-1", "base", "r000"] {
        let err = older.downgrade(t.db(), target).await.unwrap_err();
        match &err {
            Error::UnknownDescendants {
                reverting,
                unknown,
                current,
            } => {
                assert_eq!(unknown, &["r002"], "{target}");
                assert!(reverting.contains(&"r001".to_owned()), "{target}: {err}");
                assert_eq!(current, &["r001"]);
            }
            other => panic!("{target}: {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("Downgrade with the binary"), "{text}");
        assert!(text.contains("`kiln stamp --purge r001`"), "{text}");
        // The dry run refuses the same way.
        assert!(matches!(
            older.plan_downgrade(t.db(), target).await,
            Err(Error::UnknownDescendants { .. })
        ));
    }
    let st = newer.current(t.db()).await.unwrap();
    assert!(st.is_at_head(), "nothing may have been reverted: {st:?}");
    assert!(table_exists(t.db(), "t1").await && table_exists(t.db(), "t2").await);
    // Upgrades stay allowed during a rolling deploy.
    assert!(older.run(t.db()).await.unwrap().is_noop());
    t
}

async fn hand_deleted_version_row_is_pending_for_upgrade_too(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[
            rev(
                "d1",
                "",
                "CREATE TABLE IF NOT EXISTS d1_t (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE d1_t;"),
            ),
            rev(
                "d2",
                "d1",
                "CREATE TABLE IF NOT EXISTS d2_t (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE d2_t;"),
            ),
        ],
    );
    m.run(t.db()).await.unwrap();
    exec(t.db(), "DELETE FROM kiln_version WHERE revision = 'd2'").await;
    // `check` and `upgrade heads` (and `run`) agree that d2 is pending.
    match m.check(t.db()).await.unwrap_err() {
        Error::NotAtHead { pending } => assert_eq!(pending, ["d2"]),
        other => panic!("{other:?}"),
    }
    let report = m.upgrade(t.db(), "heads").await.unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].revision, "d2");
    m.check(t.db()).await.unwrap();

    // A state row edited by hand is rebuilt from the version rows by the next run, even one
    // with nothing to do, so the fast path is right again afterwards.
    exec(t.db(), "UPDATE kiln_version_state SET digest = 'bogus'").await;
    assert!(m.run(t.db()).await.unwrap().is_noop());
    let digest = stored_digest(t.db().dialect(), m.set().digest());
    assert_eq!(
        raw_rows(
            t.db(),
            &format!("SELECT id FROM kiln_version_state WHERE digest = '{digest}' AND dirty = 0")
        )
        .await,
        1
    );
    m.check(t.db()).await.unwrap();
    t
}

/// The digest as the state row holds it: on SQLite marked as written under the guard triggers.
fn stored_digest(dialect: Dialect, digest: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("{digest}+guarded"),
        _ => digest.to_owned(),
    }
}

/// SQLite's start-up check reads the state row alone (counting the version rows grows with the
/// history): triggers on the version table blank the state row's digest on any write that kiln
/// does not follow with its own state write. So every hand edit, even one a row count cannot
/// see, sends the next run down the locked path; and a state row written before the triggers
/// existed (an older kiln's, an unmarked digest) is never trusted by the fast path, and that run
/// creates them.
async fn sqlite_guard_triggers_send_every_hand_edit_to_the_locked_path(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[
            rev(
                "g1",
                "",
                "CREATE TABLE g1_t (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE g1_t;"),
            ),
            rev(
                "g2",
                "g1",
                "CREATE TABLE g2_t (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE g2_t;"),
            ),
        ],
    );
    let triggers =
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'kiln_version'";
    let plain = m.set().digest().to_owned();
    let at_head = format!(
        "SELECT id FROM kiln_version_state WHERE digest = '{}' AND dirty = 0",
        stored_digest(Dialect::Sqlite, &plain)
    );
    m.run(t.db()).await.unwrap();
    assert_eq!(raw_rows(t.db(), triggers).await, 3);
    assert_eq!(
        raw_rows(t.db(), &at_head).await,
        1,
        "kiln's own writes leave the digest set"
    );

    // A write that changes nothing still blanks the digest; the next run repairs it.
    exec(
        t.db(),
        "UPDATE kiln_version SET applied_at = applied_at WHERE revision = 'g1'",
    )
    .await;
    assert_eq!(
        raw_rows(
            t.db(),
            "SELECT id FROM kiln_version_state WHERE digest = ''"
        )
        .await,
        1
    );
    assert!(m.run(t.db()).await.unwrap().is_noop());
    assert_eq!(raw_rows(t.db(), &at_head).await, 1);

    // A database as an older kiln left it: no triggers, an unmarked digest that claims every
    // revision although a row is gone. The fast path does not trust it; the locked path applies
    // g2 again and puts the triggers back.
    for ev in ["insert", "update", "delete"] {
        exec(t.db(), &format!("DROP TRIGGER kiln_version_{ev}")).await;
    }
    exec(t.db(), "DELETE FROM kiln_version WHERE revision = 'g2'").await;
    exec(t.db(), "DROP TABLE g2_t").await;
    exec(
        t.db(),
        &format!("UPDATE kiln_version_state SET digest = '{plain}'"),
    )
    .await;
    let report = m.run(t.db()).await.unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].revision, "g2");
    assert_eq!(raw_rows(t.db(), triggers).await, 3);
    assert_eq!(raw_rows(t.db(), &at_head).await, 1);

    // An edited checksum keeps the row count: the trigger still catches it.
    exec(
        t.db(),
        "UPDATE kiln_version SET checksum = 'edited' WHERE revision = 'g1'",
    )
    .await;
    match m.run(t.db()).await.unwrap_err() {
        Error::Drift {
            revision, recorded, ..
        } => {
            assert_eq!((revision.as_str(), recorded.as_str()), ("g1", "edited"));
        }
        other => panic!("{other:?}"),
    }
    t
}

async fn drift_advice_keeps_the_applied_set(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = common::chain(dir.path(), 3);
    m.upgrade(t.db(), "r001").await.unwrap();
    let path = dir.path().join("r000_test.sql");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("PRIMARY KEY)", "PRIMARY KEY, x INTEGER)");
    std::fs::write(&path, text).unwrap();
    let edited = common::load(dir.path());
    let err = edited.upgrade(t.db(), "heads").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(&err, Error::Drift { current, .. } if current[..] == ["r001"]));
    // One advice, the same as `kiln check` gives, and never a purge that empties the table first.
    assert!(
        text.ends_with(&kiln_runtime::advice::drift(&["r001".to_owned()], false)),
        "{text}"
    );
    assert!(!text.contains("--purge"), "{text}");
    // Following it records the new checksum and keeps the applied set: r002 is still pending.
    edited.stamp(t.db(), &["r001"], false).await.unwrap();
    let st = edited.current(t.db()).await.unwrap();
    assert!(st.drifted.is_empty(), "{st:?}");
    assert_eq!(st.pending, ["r002"]);
    t
}

async fn stamp_says_recorded_or_removed(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = common::chain(dir.path(), 3);
    let up = m.stamp(t.db(), &["r002"], false).await.unwrap();
    assert!(up.steps.iter().all(|s| s.direction == Direction::Stamp));
    let down = m.stamp(t.db(), &["r000"], false).await.unwrap();
    let dirs: Vec<(&str, Direction)> = down
        .steps
        .iter()
        .map(|s| (s.revision.as_str(), s.direction))
        .collect();
    assert_eq!(
        dirs,
        [("r001", Direction::Unstamp), ("r002", Direction::Unstamp)]
    );
    let purge = m.stamp(t.db(), &[], true).await.unwrap();
    assert_eq!(purge.steps.len(), 1);
    assert_eq!(purge.steps[0].direction, Direction::Unstamp);
    let audit = m.audit(t.db()).await.unwrap();
    let rows: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|a| {
            (
                a.action.as_str(),
                a.revision.as_deref().unwrap_or("-"),
                a.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("stamp", "r000", "recorded"),
            ("stamp", "r001", "recorded"),
            ("stamp", "r002", "recorded"),
            ("stamp", "r001", "removed"),
            ("stamp", "r002", "removed"),
            ("stamp", "r000", "purged"),
        ]
    );
    assert!(audit.iter().all(|a| !a.is_failure()));
    t
}

async fn killed_run_marker_is_audited_once(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = common::chain(dir.path(), 2);
    m.upgrade(t.db(), "r000").await.unwrap();
    // What a runner killed while running r001 by the marker protocol leaves behind: the marker,
    // committed, and no audit row (it is written when the revision finishes or fails).
    exec(
        t.db(),
        &format!(
            "INSERT INTO kiln_version (revision, checksum, state, applied_at, duration_ms, kiln_version, error) VALUES ('r001', '{}', 'running', '2026-01-02T03:04:05.000000Z', 0, '0.1.0', NULL)",
            m.set().get("r001").unwrap().checksum()
        ),
    )
    .await;
    exec(t.db(), "UPDATE kiln_version_state SET dirty = 1").await;
    let before = m.audit(t.db()).await.unwrap().len();

    for _ in 0..2 {
        let err = m.upgrade(t.db(), "heads").await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Dirty { .. }), "{text}");
        assert!(text.contains("stopped without finishing"), "{text}");
    }
    let audit = m.audit(t.db()).await.unwrap();
    assert_eq!(audit.len(), before + 1, "recorded once, not once per run");
    let row = audit.last().unwrap();
    assert_eq!(row.action, "upgrade");
    assert_eq!(row.revision.as_deref(), Some("r001"));
    assert_eq!(row.outcome, "interrupted");
    assert_eq!(row.started_at, "2026-01-02T03:04:05.000000Z");
    assert!(row.host.is_some());
    assert!(row.is_failure());
    assert!(
        row.error
            .as_deref()
            .is_some_and(|e| e.contains("`running` marker")),
        "{row:?}"
    );
    // The usual repair still works, and is audited after the marker.
    m.stamp(t.db(), &["r000"], false).await.unwrap();
    assert!(m.current(t.db()).await.unwrap().dirty.is_empty());
    if t.dialect() != Dialect::MySql {
        assert!(!table_exists(t.db(), "t1").await);
    }
    t
}
