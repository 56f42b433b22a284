//! The runtime against real PostgreSQL, MariaDB and SQLite: every target form, branches, both
//! transaction modes, failures, drift, unknown revisions, stamp, offline SQL and concurrency.
//! Each test gets its own database from `kiln_testing::TestDb` and drops it afterwards.

#[macro_use]
mod common;

use common::{Rev, chain, exec, raw_rows, rev, sample, table_exists, write_set};
use kiln_runtime::{Db, Dialect, Error, Options, TransactionMode};
use kiln_testing::TestDb;
use std::collections::HashMap;

// One `#[tokio::test]` per engine for each scenario function (macros in `common`).
on_every_engine!(
    sample_set_upgrades_to_head_and_reports_state,
    run_is_a_noop_at_head_and_check_agrees,
    relative_and_prefix_targets,
    downgrade_to_an_unapplied_revision_is_refused,
    labelled_branch_downgrades_alone,
    failing_revision_is_reported_with_its_line,
    whole_run_mode_is_all_or_nothing,
    non_transactional_revision_runs_statement_by_statement,
    drift_is_refused,
    unknown_applied_revisions_need_opt_in,
    stamp_records_without_running_sql,
    offline_sql_brings_a_database_to_head,
    sixteen_concurrent_runners_apply_each_revision_once,
    irreversible_revision_blocks_downgrade,
    custom_table_names_are_used,
    bookkeeping_schema_is_configurable,
    check_reports_a_migration_in_progress_not_dirt,
);

async fn sample_set_upgrades_to_head_and_reports_state(t: TestDb) -> TestDb {
    let m = sample();
    let before = m.current(t.db()).await.unwrap();
    assert!(before.applied.is_empty());
    assert_eq!(before.pending.len(), m.set().len());
    let report = m.upgrade(t.db(), "head").await.unwrap();
    assert_eq!(report.steps.len(), m.set().len());
    let st = m.current(t.db()).await.unwrap();
    assert!(st.is_at_head(), "{st:?}");
    assert_eq!(st.current, ["f6a1b2c3d4e5"]);
    for table in ["users", "notes", "tags", "note_tags"] {
        assert!(table_exists(t.db(), table).await, "{table}");
    }
    let history = m.history(t.db()).await.unwrap();
    assert!(history.iter().all(|h| h.applied_at.is_some()));
    assert!(history.last().unwrap().is_current);
    let audit = m.audit(t.db()).await.unwrap();
    assert_eq!(audit.len(), m.set().len());
    assert!(audit.iter().all(|a| a.action == "upgrade"
        && a.outcome == "ok"
        && a.host.is_some()
        && a.kiln_version == env!("CARGO_PKG_VERSION")));
    if t.dialect() != Dialect::Sqlite {
        assert!(audit.iter().all(|a| a.db_user.is_some()), "{audit:?}");
    }
    t
}

async fn run_is_a_noop_at_head_and_check_agrees(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), 3);
    match m.check(t.db()).await {
        Err(Error::NotAtHead { pending }) => assert_eq!(pending, ["r000", "r001", "r002"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.run(t.db()).await.unwrap().steps.len(), 3);
    assert!(m.run(t.db()).await.unwrap().is_noop());
    m.check(t.db()).await.unwrap();
    // One more revision in a newer binary: the fast check must see it.
    let m2 = chain(dir.path(), 4);
    assert!(matches!(
        m2.check(t.db()).await,
        Err(Error::NotAtHead { .. })
    ));
    assert_eq!(m2.run(t.db()).await.unwrap().steps.len(), 1);
    m2.check(t.db()).await.unwrap();
    t
}

fn ids(r: &kiln_runtime::Report) -> Vec<&str> {
    r.steps.iter().map(|s| s.revision.as_str()).collect()
}

/// Alembic's "not a valid downgrade target": a downgrade to a revision above the current head
/// used to succeed without doing anything.
async fn downgrade_to_an_unapplied_revision_is_refused(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), 3);
    m.upgrade(t.db(), "r000").await.unwrap();
    match m.downgrade(t.db(), "r002").await {
        Err(Error::Target(kiln_core::TargetError::NotADowngradeTarget {
            revision,
            current,
            ..
        })) => {
            assert_eq!(revision, "r002");
            assert_eq!(current, ["r000"]);
        }
        other => panic!("{other:?}"),
    }
    let err = m.plan_downgrade(t.db(), "r001").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("`r001` is not a valid downgrade target: revision `r001` is not applied; the database is at r000"),
        "{err}"
    );
    let st = m.current(t.db()).await.unwrap();
    assert_eq!(st.current, ["r000"]);
    t
}

async fn relative_and_prefix_targets(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), 4);
    assert_eq!(ids(&m.upgrade(t.db(), "+1").await.unwrap()), ["r000"]);
    assert_eq!(
        ids(&m.upgrade(t.db(), "r002").await.unwrap()),
        ["r001", "r002"]
    );
    assert_eq!(ids(&m.downgrade(t.db(), "-1").await.unwrap()), ["r002"]);
    assert_eq!(
        ids(&m.upgrade(t.db(), "r000+3").await.unwrap()),
        ["r002", "r003"]
    );
    assert!(matches!(
        m.upgrade(t.db(), "r00").await,
        Err(Error::Target(
            kiln_core::TargetError::AmbiguousPrefix { .. }
        ))
    ));
    assert!(matches!(
        m.upgrade(t.db(), "+1").await,
        Err(Error::Target(kiln_core::TargetError::OutOfRange { .. }))
    ));
    assert_eq!(
        ids(&m.downgrade(t.db(), "r001").await.unwrap()),
        ["r003", "r002"]
    );
    assert!(!table_exists(t.db(), "t2").await);
    assert!(table_exists(t.db(), "t1").await);
    assert_eq!(
        ids(&m.downgrade(t.db(), "base").await.unwrap()),
        ["r001", "r000"]
    );
    assert!(!table_exists(t.db(), "t0").await);
    assert!(m.current(t.db()).await.unwrap().applied.is_empty());
    t
}

async fn labelled_branch_downgrades_alone(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[
            rev(
                "core1",
                "",
                "CREATE TABLE core_t (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE core_t;"),
            ),
            Rev {
                id: "bill1",
                parents: "core1",
                header: "-- kiln:branch billing\n",
                up: "CREATE TABLE bill_t (id INTEGER PRIMARY KEY);",
                down: Some("DROP TABLE bill_t;"),
            },
            rev(
                "bill2",
                "bill1",
                "CREATE TABLE bill_t2 (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE bill_t2;"),
            ),
            Rev {
                id: "ship1",
                parents: "core1",
                header: "-- kiln:branch shipping\n",
                up: "CREATE TABLE ship_t (id INTEGER PRIMARY KEY);",
                down: Some("DROP TABLE ship_t;"),
            },
        ],
    );
    assert!(matches!(
        m.upgrade(t.db(), "head").await,
        Err(Error::Target(kiln_core::TargetError::MultipleHeads { .. }))
    ));
    assert_eq!(
        ids(&m.upgrade(t.db(), "shipping@head").await.unwrap()),
        ["core1", "ship1"]
    );
    assert_eq!(
        ids(&m.upgrade(t.db(), "heads").await.unwrap()),
        ["bill1", "bill2"]
    );
    assert_eq!(
        ids(&m.downgrade(t.db(), "billing@base").await.unwrap()),
        ["bill2", "bill1"]
    );
    assert!(
        table_exists(t.db(), "ship_t").await,
        "the other branch must be untouched"
    );
    assert!(!table_exists(t.db(), "bill_t").await);
    let st = m.current(t.db()).await.unwrap();
    assert_eq!(st.current, ["ship1"]);
    assert_eq!(
        ids(&m.upgrade(t.db(), "billing@+1").await.unwrap()),
        ["bill1"]
    );
    t
}

async fn failing_revision_is_reported_with_its_line(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[
            rev(
                "ok1",
                "",
                "CREATE TABLE ok_t (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE ok_t;"),
            ),
            rev(
                "bad2",
                "ok1",
                "CREATE TABLE half_t (id INTEGER PRIMARY KEY);\nINSERT INTO ok_t (id) VALUES (1);\nINSERT INTO no_such_table (id) VALUES (1);",
                Some("DROP TABLE half_t;"),
            ),
        ],
    );
    let err = m.upgrade(t.db(), "head").await.unwrap_err();
    let text = err.to_string();
    match &err {
        Error::Statement {
            revision,
            file,
            line,
            dirty,
            ..
        } => {
            assert_eq!(revision, "bad2");
            assert_eq!(file, "bad2_test.sql");
            // Header is 3 lines + blank + marker, so the failing INSERT is on line 8.
            assert_eq!(*line, Some(8), "{text}");
            assert_eq!(*dirty, t.dialect() == Dialect::MySql, "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert!(text.contains("no_such_table"), "{text}");
    let st = m.current(t.db()).await.unwrap();
    let audit = m.audit(t.db()).await.unwrap();
    let failed: Vec<_> = audit.iter().filter(|a| a.outcome == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].revision.as_deref(), Some("bad2"));
    if t.dialect() == Dialect::MySql {
        // DDL committed: the revision is dirty and every further run is refused.
        assert_eq!(st.dirty, ["bad2"]);
        let again = m.upgrade(t.db(), "head").await.unwrap_err();
        assert!(matches!(again, Error::Dirty { .. }), "{again}");
        assert!(again.to_string().contains("kiln stamp"), "{again}");
        assert!(matches!(m.check(t.db()).await, Err(Error::Dirty { .. })));
        // Resolving by hand: undo the partial work, then stamp the parent.
        exec(t.db(), "DROP TABLE half_t").await;
        m.stamp(t.db(), &["ok1"], false).await.unwrap();
        assert!(m.current(t.db()).await.unwrap().dirty.is_empty());
    } else {
        assert!(st.dirty.is_empty());
        assert_eq!(st.current, ["ok1"]);
        assert!(
            !table_exists(t.db(), "half_t").await,
            "the failed revision must be rolled back"
        );
        assert_eq!(raw_rows(t.db(), "SELECT id FROM ok_t").await, 0);
    }
    t
}

async fn whole_run_mode_is_all_or_nothing(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[
            rev(
                "w1",
                "",
                "CREATE TABLE w1_t (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE w1_t;"),
            ),
            rev(
                "w2",
                "w1",
                "CREATE TABLE w2_t (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE w2_t;"),
            ),
            rev(
                "w3",
                "w2",
                "SELECT 1;\nINSERT INTO missing_t VALUES (1);",
                Some("SELECT 1;"),
            ),
        ],
    )
    .with_options(Options::default().transaction_mode(TransactionMode::All));
    let err = m.upgrade(t.db(), "head").await.unwrap_err();
    match &err {
        Error::Statement { revision, line, .. } => {
            assert_eq!(revision, "w3");
            assert_eq!(*line, Some(7), "{err}");
        }
        other => panic!("{other:?}"),
    }
    let st = m.current(t.db()).await.unwrap();
    if t.dialect() == Dialect::MySql {
        // MySQL cannot roll back DDL, so `All` degrades to per-revision there.
        assert_eq!(st.current, ["w2"]);
        assert_eq!(st.dirty, ["w3"]);
    } else {
        assert!(st.applied.is_empty(), "{st:?}");
        assert!(!table_exists(t.db(), "w1_t").await);
        // And when it succeeds, everything lands.
        let ok = chain(tempfile::tempdir().unwrap().path(), 3)
            .with_options(Options::default().transaction_mode(TransactionMode::All));
        assert_eq!(ok.upgrade(t.db(), "head").await.unwrap().steps.len(), 3);
    }
    t
}

async fn non_transactional_revision_runs_statement_by_statement(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let concurrently = if t.dialect() == Dialect::Postgres {
        "CONCURRENTLY "
    } else {
        ""
    };
    let up = format!(
        "CREATE INDEX {concurrently}nt_a ON nt (a);\n-- a comment; with a semicolon\nCREATE INDEX {concurrently}nt_b ON nt (b);"
    );
    let m = write_set(
        dir.path(),
        &[
            rev(
                "nt1",
                "",
                "CREATE TABLE nt (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER);",
                Some("DROP TABLE nt;"),
            ),
            Rev {
                id: "nt2",
                parents: "nt1",
                header: "-- kiln:transaction false\n",
                up: &up,
                down: Some("DROP INDEX nt_b ON nt;"),
            },
        ],
    );
    let down_ok = t.dialect() == Dialect::MySql;
    m.upgrade(t.db(), "head").await.unwrap();
    let st = m.current(t.db()).await.unwrap();
    assert!(st.is_at_head(), "{st:?}");
    assert!(m.set().get("nt2").is_some_and(|r| !r.is_transactional()));
    if down_ok {
        m.downgrade(t.db(), "-1").await.unwrap();
        assert_eq!(m.current(t.db()).await.unwrap().current, ["nt1"]);
    }
    t
}

async fn drift_is_refused(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), 2);
    m.run(t.db()).await.unwrap();
    let path = dir.path().join("r001_test.sql");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("PRIMARY KEY)", "PRIMARY KEY, x INTEGER)");
    std::fs::write(&path, text).unwrap();
    let edited = common::load(dir.path());
    for err in [
        edited.run(t.db()).await.unwrap_err(),
        edited.check(t.db()).await.unwrap_err(),
    ] {
        match &err {
            Error::Drift {
                revision,
                file,
                recorded,
                embedded,
                ..
            } => {
                assert_eq!(revision, "r001");
                assert_eq!(&**file, "r001_test.sql");
                assert_ne!(recorded, embedded);
                assert!(err.to_string().contains(recorded.as_str()));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(edited.current(t.db()).await.unwrap().drifted, ["r001"]);
    t
}

async fn unknown_applied_revisions_need_opt_in(t: TestDb) -> TestDb {
    let newer_dir = tempfile::tempdir().unwrap();
    let newer = chain(newer_dir.path(), 3);
    newer.run(t.db()).await.unwrap();
    let older_dir = tempfile::tempdir().unwrap();
    let older = chain(older_dir.path(), 2);
    match older.run(t.db()).await.unwrap_err() {
        Error::UnknownApplied { revisions } => assert_eq!(revisions, ["r002"]),
        other => panic!("{other:?}"),
    }
    let tolerant = older.with_options(Options::default().allow_unknown_applied(true));
    assert!(tolerant.run(t.db()).await.unwrap().is_noop());
    assert_eq!(tolerant.current(t.db()).await.unwrap().unknown, ["r002"]);
    t
}

async fn stamp_records_without_running_sql(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), 3);
    let r = m.stamp(t.db(), &["r001"], false).await.unwrap();
    assert_eq!(ids(&r), ["r000", "r001"]);
    assert!(!table_exists(t.db(), "t0").await, "stamp must not run SQL");
    assert_eq!(m.current(t.db()).await.unwrap().current, ["r001"]);
    assert_eq!(ids(&m.upgrade(t.db(), "head").await.unwrap()), ["r002"]);
    m.stamp(t.db(), &["base"], true).await.unwrap();
    assert!(m.current(t.db()).await.unwrap().applied.is_empty());
    let audit = m.audit(t.db()).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "stamp").count(), 2 + 3);
    t
}

async fn offline_sql_brings_a_database_to_head(t: TestDb) -> TestDb {
    let m = sample();
    let script = m.upgrade_sql(t.dialect(), None, "head").unwrap();
    assert!(script.contains("CREATE TABLE users"));
    match t.db() {
        Db::MySql(_) => {
            for stmt in kiln_core::split::split(&script, Dialect::MySql).unwrap() {
                exec(t.db(), stmt.sql).await;
            }
        }
        _ => exec(t.db(), &script).await,
    }
    m.check(t.db())
        .await
        .expect("the offline script must leave the database at head");
    let down = m.downgrade_sql(t.dialect(), None, "e5f6a1b2c3d4");
    assert!(matches!(
        down,
        Err(Error::Target(kiln_core::TargetError::Irreversible { .. }))
    ));
    t
}

async fn sixteen_concurrent_runners_apply_each_revision_once(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = std::sync::Arc::new(chain(dir.path(), 8));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        // Each runner gets its own pool, as separate replicas would.
        let db = Db::connect(t.url()).await.unwrap();
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            let r = m.run(&db).await;
            db.close().await;
            r
        }));
    }
    let mut applied = 0;
    for task in tasks {
        applied += task.await.unwrap().unwrap().steps.len();
    }
    assert_eq!(
        applied, 8,
        "every revision applied exactly once across all runners"
    );
    let audit = m.audit(t.db()).await.unwrap();
    let mut per_rev: HashMap<String, usize> = HashMap::new();
    for a in audit.iter().filter(|a| a.action == "upgrade") {
        *per_rev.entry(a.revision.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(per_rev.len(), 8);
    assert!(per_rev.values().all(|&n| n == 1), "{per_rev:?}");
    t
}

async fn irreversible_revision_blocks_downgrade(t: TestDb) -> TestDb {
    let m = sample();
    m.run(t.db()).await.unwrap();
    let err = m.downgrade(t.db(), "base").await.unwrap_err();
    assert!(err.to_string().contains("f6a1b2c3d4e5"), "{err}");
    assert!(err.to_string().contains("irreversible"), "{err}");
    assert!(
        m.current(t.db()).await.unwrap().is_at_head(),
        "nothing may change"
    );
    t
}

async fn custom_table_names_are_used(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), 1).with_options(
        Options::default()
            .version_table("my_versions")
            .audit_table("my_audit"),
    );
    m.run(t.db()).await.unwrap();
    assert!(table_exists(t.db(), "my_versions").await);
    assert!(table_exists(t.db(), "my_audit").await);
    assert!(table_exists(t.db(), "my_versions_state").await);
    assert!(!table_exists(t.db(), "kiln_version").await);
    let bad =
        chain(dir.path(), 1).with_options(Options::default().version_table("x; DROP TABLE y"));
    assert!(matches!(bad.run(t.db()).await, Err(Error::Config(_))));
    t
}

async fn bookkeeping_schema_is_configurable(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    if t.dialect() == Dialect::MySql {
        // On MySQL a "schema" is another database on the server, which this test could not drop
        // with its own database; the PostgreSQL run covers the qualified names.
        return t;
    }
    let m = chain(dir.path(), 2).with_options(Options::default().schema("kiln_meta"));
    m.run(t.db()).await.unwrap();
    m.check(t.db()).await.unwrap();
    let in_schema = match t.dialect() {
        Dialect::Postgres => {
            raw_rows(
                t.db(),
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'kiln_meta'",
            )
            .await
        }
        // SQLite has no schemas: the setting is ignored and the tables land in `main`.
        _ => usize::from(table_exists(t.db(), "kiln_version").await) * 3,
    };
    assert_eq!(in_schema, 3, "version, state and audit tables");
    assert!(
        table_exists(t.db(), "t1").await,
        "the migrations themselves run in the default schema"
    );
    t
}

async fn check_reports_a_migration_in_progress_not_dirt(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let slow = match t.dialect() {
        Dialect::Postgres => "SELECT pg_sleep(2);",
        Dialect::MySql => "SELECT SLEEP(2);",
        _ => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000) SELECT count(*) FROM c;"
        }
    };
    let m = std::sync::Arc::new(write_set(
        dir.path(),
        &[
            rev(
                "p1",
                "",
                "CREATE TABLE p1_t (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE p1_t;"),
            ),
            Rev {
                id: "p2",
                parents: "p1",
                header: "-- kiln:transaction false\n",
                up: slow,
                down: Some(""),
            },
        ],
    ));
    let runner = {
        let m = m.clone();
        let db = t.db().clone();
        tokio::spawn(async move { m.run(&db).await })
    };
    // Wait until the slow revision is marked as running.
    let started = std::time::Instant::now();
    loop {
        let st = m.current(t.db()).await.unwrap();
        if st.in_progress == ["p2"] {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "p2 never started: {st:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    match m.check(t.db()).await {
        Err(Error::InProgress { revision }) => assert_eq!(revision, "p2"),
        other => panic!("expected InProgress while p2 runs, got {other:?}"),
    }
    assert_eq!(runner.await.unwrap().unwrap().steps.len(), 2);
    m.check(t.db()).await.unwrap();
    t
}
