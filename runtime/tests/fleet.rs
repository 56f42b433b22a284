//! Fleets (`Migrator::run_each`): many SQLite files, a broken tenant, the canary, cancellation
//! and a rerun, two runners on one list, PostgreSQL schemas and MySQL databases on one server,
//! and a list read from a control database.

mod common;

use common::{chain, exec, raw_rows, table_exists};
use kiln_runtime::fleet::{
    DbResult, FleetOp, FleetOptions, FleetReport, FleetTarget, Outcome, SkipReason, Target,
};
use kiln_runtime::{Db, Dialect, Migrator};
use kiln_testing::{Proxy, TestDb};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const REVISIONS: usize = 3;

fn files(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| dir.join(format!("tenant_{i:03}.db")))
        .collect()
}

fn targets(paths: &[PathBuf]) -> Vec<FleetTarget> {
    paths
        .iter()
        .map(|p| FleetTarget::url(format!("sqlite://{}", p.display())))
        .collect()
}

fn upgrade() -> FleetOp {
    FleetOp::Upgrade(Target::Heads)
}

fn quiet(_: &DbResult) {}

async fn run(m: &Migrator, t: Vec<FleetTarget>, o: &FleetOptions) -> FleetReport {
    m.run_each(t, upgrade(), o, &quiet).await
}

/// The number of successful upgrade rows in the database's audit trail.
async fn upgrades_audited(m: &Migrator, url: &str) -> usize {
    let db = Db::connect(url).await.unwrap();
    let n = m
        .audit(&db)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.action == "upgrade" && a.outcome == "ok")
        .count();
    db.close().await;
    n
}

/// Creates `tenant_{index}`'s file with a table that revision `r001` also creates, so that
/// revision fails there.
async fn break_tenant(path: &Path) {
    let db = Db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    exec(&db, "CREATE TABLE t1 (x TEXT)").await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_fleet_of_fifty_files_reaches_head_and_a_rerun_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    let paths = files(dir.path(), 50);
    let seen = AtomicUsize::new(0);
    let report = m
        .run_each(
            targets(&paths),
            upgrade(),
            &FleetOptions::default().jobs(4),
            &|_| {
                seen.fetch_add(1, Ordering::SeqCst);
            },
        )
        .await;
    assert_eq!(seen.load(Ordering::SeqCst), 50, "one callback per database");
    assert_eq!(report.results.len(), 50);
    assert!(report.is_complete());
    for (i, r) in report.results.iter().enumerate() {
        assert_eq!(r.index, i, "results come back in list order");
        match &r.outcome {
            Outcome::Applied(rep) => assert_eq!(rep.steps.len(), REVISIONS),
            other => panic!("{}: {other:?}", r.target.shown()),
        }
    }
    for p in &paths {
        let url = format!("sqlite://{}", p.display());
        assert_eq!(upgrades_audited(&m, &url).await, REVISIONS, "{url}");
    }
    let again = run(&m, targets(&paths), &FleetOptions::default().jobs(4)).await;
    assert_eq!(again.count("at head"), 50, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broken_tenant_fails_alone_with_keep_going_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    let paths = files(dir.path(), 20);
    break_tenant(&paths[7]).await;
    let report = run(
        &m,
        targets(&paths),
        &FleetOptions::default().jobs(4).keep_going(true),
    )
    .await;
    assert_eq!(report.count("applied"), 19);
    let failed: Vec<&DbResult> = report.failed().collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].index, 7);
    assert!(failed[0].target.shown().ends_with("tenant_007.db"));
    let Outcome::Failed { revision, error } = &failed[0].outcome else {
        unreachable!()
    };
    assert_eq!(revision.as_deref(), Some("r001"));
    assert_eq!(error.completed_steps().len(), 1, "r000 stays applied");
    assert!(!report.is_complete());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_keep_going_a_failure_stops_new_databases() {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    let paths = files(dir.path(), 30);
    break_tenant(&paths[1]).await;
    let report = run(&m, targets(&paths), &FleetOptions::default().jobs(2)).await;
    assert_eq!(report.failed().count(), 1);
    let skipped: Vec<&DbResult> = report
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skipped(SkipReason::EarlierFailure)))
        .collect();
    assert!(skipped.len() >= 20, "{report:?}");
    for r in skipped {
        assert!(
            !paths[r.index].exists(),
            "a skipped database is not touched"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_canary_stops_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    let paths = files(dir.path(), 12);
    break_tenant(&paths[0]).await;
    let report = run(
        &m,
        targets(&paths),
        &FleetOptions::default().jobs(4).canary(1).keep_going(true),
    )
    .await;
    assert!(matches!(report.results[0].outcome, Outcome::Failed { .. }));
    for r in &report.results[1..] {
        assert!(
            matches!(r.outcome, Outcome::Skipped(SkipReason::CanaryFailed)),
            "{r:?}"
        );
        assert!(!paths[r.index].exists(), "untouched: {}", r.target.shown());
    }
    // A healthy canary lets the rest run.
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 12);
    let report = run(&m, targets(&paths), &FleetOptions::default().canary(3)).await;
    assert_eq!(report.count("applied"), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_run_is_completed_by_a_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    let paths = files(dir.path(), 40);
    let options = FleetOptions::default().jobs(2);
    let cancel = Arc::clone(&options.cancel);
    let report = m
        .run_each(targets(&paths), upgrade(), &options, &|r: &DbResult| {
            if r.index >= 5 {
                cancel.store(true, Ordering::SeqCst);
            }
        })
        .await;
    assert!(report.cancelled);
    let done = report.count("applied");
    assert!(report.count("skipped") > 0, "{report:?}");
    assert!(done >= 4, "{report:?}");
    let rerun = run(&m, targets(&paths), &FleetOptions::default().jobs(4)).await;
    assert!(rerun.is_complete(), "{rerun:?}");
    for (before, after) in report.results.iter().zip(&rerun.results) {
        if matches!(before.outcome, Outcome::Applied(_)) {
            assert!(matches!(after.outcome, Outcome::AtHead), "{after:?}");
        }
    }
    for p in &paths {
        let url = format!("sqlite://{}", p.display());
        assert_eq!(upgrades_audited(&m, &url).await, REVISIONS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_on_one_list_apply_each_database_once() {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    let paths = files(dir.path(), 40);
    let (oa, ob) = (
        FleetOptions::default().jobs(3),
        FleetOptions::default().jobs(3),
    );
    let (a, b) = tokio::join!(run(&m, targets(&paths), &oa), run(&m, targets(&paths), &ob));
    assert!(a.is_complete() && b.is_complete(), "{a:?} {b:?}");
    for (i, path) in paths.iter().enumerate() {
        let applied = [&a, &b]
            .iter()
            .filter(|r| matches!(r.results[i].outcome, Outcome::Applied(_)))
            .count();
        assert_eq!(applied, 1, "database {i} applied by exactly one runner");
        let url = format!("sqlite://{}", path.display());
        assert_eq!(upgrades_audited(&m, &url).await, REVISIONS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_schemas_per_tenant_each_get_the_revisions_and_their_own_tables() {
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    for s in [
        "tenant_1", "tenant_2", "tenant_3", "tenant_4", "tenant_5", "other",
    ] {
        exec(test.db(), &format!("CREATE SCHEMA {s}")).await;
    }
    let list = kiln_runtime::fleet::schemas_like(test.url(), "tenant%")
        .await
        .unwrap();
    let names: Vec<&str> = list.iter().filter_map(|t| t.schema_name()).collect();
    assert_eq!(
        names,
        ["tenant_1", "tenant_2", "tenant_3", "tenant_4", "tenant_5"]
    );
    let report = run(&m, list.clone(), &FleetOptions::default().jobs(3)).await;
    assert_eq!(report.count("applied"), 5, "{report:?}");
    let count = |schema: &str, table: &str| {
        format!(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = '{table}'"
        )
    };
    for s in &names {
        assert_eq!(raw_rows(test.db(), &count(s, "t2")).await, 1, "{s}.t2");
        assert_eq!(raw_rows(test.db(), &count(s, "kiln_version")).await, 1);
    }
    assert_eq!(raw_rows(test.db(), &count("other", "t0")).await, 0);
    assert_eq!(raw_rows(test.db(), &count("public", "t0")).await, 0);
    let again = run(&m, list, &FleetOptions::default()).await;
    assert_eq!(again.count("at head"), 5);
    test.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_databases_matching_a_pattern_are_migrated_and_dropped() {
    let Some(test) = TestDb::mysql().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    let base = test.url().rsplit('/').next().unwrap().to_owned();
    let names: Vec<String> = (1..=3).map(|i| format!("{base}_t{i}")).collect();
    for n in &names {
        exec(test.db(), &format!("CREATE DATABASE `{n}`")).await;
    }
    let list = kiln_runtime::fleet::schemas_like(test.url(), &format!("{base}_t%"))
        .await
        .unwrap();
    assert_eq!(list.len(), 3);
    let report = run(&m, list.clone(), &FleetOptions::default().jobs(3)).await;
    let outcome = report.count("applied");
    for n in &names {
        let url = kiln_runtime::url::with_database(test.url(), n);
        let db = Db::connect(&url).await.unwrap();
        let has = table_exists(&db, "t2").await;
        db.close().await;
        exec(test.db(), &format!("DROP DATABASE `{n}`")).await;
        assert!(has, "{n}.t2");
    }
    assert_eq!(outcome, 3, "{report:?}");
    test.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_control_database_lists_the_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    let paths = files(dir.path(), 4);
    let control = format!("sqlite://{}", dir.path().join("control.db").display());
    let db = Db::connect(&control).await.unwrap();
    exec(&db, "CREATE TABLE tenants (url TEXT, active INTEGER)").await;
    for (i, p) in paths.iter().enumerate() {
        exec(
            &db,
            &format!(
                "INSERT INTO tenants VALUES ('sqlite://{}', {})",
                p.display(),
                i32::from(i != 2)
            ),
        )
        .await;
    }
    db.close().await;
    let list = kiln_runtime::fleet::urls_from_query(
        &control,
        "SELECT url FROM tenants WHERE active = 1 ORDER BY url",
    )
    .await
    .unwrap();
    assert_eq!(list.len(), 3);
    let report = run(&m, list, &FleetOptions::default()).await;
    assert_eq!(report.count("applied"), 3);
    assert!(!paths[2].exists(), "an inactive tenant is not in the fleet");
    assert_eq!(
        Dialect::Sqlite,
        kiln_runtime::url::dialect_of(&control).unwrap()
    );
}

#[test]
fn a_schema_target_sets_the_search_path_and_never_shows_the_password() {
    let t = FleetTarget::schema(
        "postgres://app:s3cret@db:5432/main?sslmode=disable",
        "tenant_9",
    )
    .unwrap();
    assert_eq!(
        t.raw_url(),
        "postgres://app:s3cret@db:5432/main?sslmode=disable&options=-csearch_path%3Dtenant_9"
    );
    assert!(!t.shown().contains("s3cret"));
    assert!(!format!("{t:?}").contains("s3cret"));
    let my = FleetTarget::schema("mysql://root:pw@h/ops", "tenant_9").unwrap();
    assert_eq!(my.raw_url(), "mysql://root:pw@h/tenant_9");
    assert!(FleetTarget::schema("postgres://h/db", "bad name").is_err());
    assert!(FleetTarget::schema("sqlite://x.db", "t").is_err());
}

/// On a schema-per-tenant fleet every database is on one server: only the first is probed with a
/// connection of its own, the rest open just their pool's. When the server goes away mid-run, the
/// next database reports the driver's reason (refused), not the pool's timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_probes_a_server_once_and_names_the_refusal_when_it_goes_away() {
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    let names = ["tenant_1", "tenant_2", "tenant_3", "tenant_4", "tenant_5"];
    for s in names {
        exec(test.db(), &format!("CREATE SCHEMA {s}")).await;
    }
    let (proxy, url) = Proxy::for_url(test.url()).await.expect("start proxy");
    let list: Vec<FleetTarget> = names
        .iter()
        .map(|s| FleetTarget::schema(&url, s).unwrap())
        .collect();
    // One worker, so exactly one database reaches the server first (with more, each worker's first
    // database may probe before any has answered).
    let report = run(&m, list.clone(), &FleetOptions::default().jobs(1)).await;
    assert_eq!(report.count("applied"), 5, "{report:?}");
    // One probe for the server, then one pooled connection per tenant (not a probe each: 10).
    assert_eq!(proxy.connections(), 1 + 5, "connections through the proxy");

    // The proxy goes away once the second tenant is done; jobs(1) so the rest start after it.
    let proxy = std::sync::Mutex::new(Some(proxy));
    let done = AtomicUsize::new(0);
    let on_result = |_: &DbResult| {
        if done.fetch_add(1, Ordering::SeqCst) + 1 == 2 {
            proxy.lock().unwrap().take();
        }
    };
    let report = m
        .run_each(
            list,
            FleetOp::Status,
            &FleetOptions::default().jobs(1).keep_going(true),
            &on_result,
        )
        .await;
    let failed: Vec<&DbResult> = report.failed().collect();
    assert_eq!(failed.len(), 3, "{report:?}");
    for r in failed {
        let Outcome::Failed { error, .. } = &r.outcome else {
            unreachable!()
        };
        let text = error.to_string();
        assert!(!text.contains("timed out"), "{text}");
        assert!(text.contains("connecting to"), "{text}");
    }
    test.drop_database().await.unwrap();
}
