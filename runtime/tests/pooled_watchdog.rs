//! The I/O watchdog behind a transaction-mode pooler: kiln → a real TCP proxy → PgBouncer →
//! PostgreSQL. There the server session changes between transactions, so the watchdog follows
//! the run's requests by the tag each carries (`runtime/src/net.rs`) instead of a session id.
//! A frozen connection must not hang the run, must not leave the transaction lock held by an
//! orphaned server transaction, and a long statement must not be cut short.

mod common;

use common::{freeze_set, pgbouncer, raw_rows, rerun_completes, rev, table_exists, write_set};
use kiln_runtime::{Db, Dialect, Error, LockMode, LostOutcome, Migrator, Options, TransactionMode};
use kiln_testing::{Fault, FaultTrigger, Proxy, Scope, TestDb};
use std::time::{Duration, Instant};

/// Every test's own guard: kiln must have returned long before this.
const GUARD: Duration = Duration::from_secs(60);

/// r1 creates `a`; r2 creates `b`, then `freeze_here` (the mid-statement trigger).
fn set(dir: &std::path::Path, lock: LockMode, mode: TransactionMode) -> Migrator {
    freeze_set(dir).with_options(
        Options::default()
            .io_timeout(Some(Duration::from_secs(1)))
            .lock_mode(lock)
            .transaction_mode(mode),
    )
}

/// A test database and a proxy in front of PgBouncer for it; `None` is a loud skip outside CI.
async fn behind_proxy_and_pgbouncer() -> Option<(TestDb, Proxy, String)> {
    let address = pgbouncer()?;
    let t = TestDb::new(Dialect::Postgres).await?;
    let pooled = kiln_runtime::url::with_address(t.url(), &address);
    let (proxy, url) = Proxy::for_url(&pooled).await.expect("start proxy");
    Some((t, proxy, url))
}

/// Waits until no advisory lock is held in the test database (the server may need a moment to
/// end a terminated session); panics after 20 s.
async fn assert_no_advisory_lock(t: &TestDb) {
    let sql = "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    let start = Instant::now();
    while raw_rows(t.db(), sql).await > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "an advisory lock outlived the frozen connection"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// No server transaction is left open in the test database by kiln (an orphan would hold the
/// transaction lock and the new tables' locks until PgBouncer or the server gave up on it).
async fn assert_no_open_transaction(t: &TestDb) {
    let sql = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'";
    let start = Instant::now();
    while raw_rows(t.db(), sql).await > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "a server transaction of the frozen run is still open"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `upgrade head` through `url` with the proxy's trigger armed; the run must fail, not hang.
async fn frozen_upgrade(m: &Migrator, proxy: &Proxy, url: &str, trigger: FaultTrigger) -> Error {
    let db = Db::connect(url)
        .await
        .expect("connect through proxy and PgBouncer");
    proxy.arm(trigger);
    let res = tokio::time::timeout(GUARD, m.upgrade(&db, "head"))
        .await
        .expect("kiln hung on a frozen connection behind PgBouncer");
    assert_eq!(proxy.fired(), 1, "the fault was never injected: {res:?}");
    res.expect_err("the run must fail")
}

fn lost(e: &Error) -> (Option<&str>, LostOutcome) {
    match e {
        Error::ConnectionLost {
            revision, outcome, ..
        } => (revision.as_deref(), *outcome),
        other => panic!("expected ConnectionLost, got: {other}"),
    }
}

/// The statement ran inside r2's transaction (which holds the transaction lock); its reply never
/// comes. The watchdog finds the server session by the run's tag, idle in that transaction, gives
/// up, and ends it: r2 is rolled back and the lock is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_reply_behind_pgbouncer_rolls_back_and_frees_the_transaction_lock() {
    let Some((t, proxy, url)) = behind_proxy_and_pgbouncer().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = set(
        dir.path(),
        LockMode::Transaction,
        TransactionMode::PerRevision,
    );
    let trigger = FaultTrigger {
        needle: b"freeze_here".to_vec(),
        fault: Fault::FreezeAfter,
        scope: Scope::Connection,
    };
    let err = frozen_upgrade(&m, &proxy, &url, trigger).await;
    assert_eq!(lost(&err), (Some("r2"), LostOutcome::RolledBack), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("serving this run") && text.contains("idle in transaction"),
        "the message says what the watchdog saw: {text}"
    );
    assert_no_open_transaction(&t).await;
    assert_no_advisory_lock(&t).await;
    assert!(
        table_exists(t.db(), "a").await,
        "r1 committed before the fault"
    );
    assert!(!table_exists(t.db(), "b").await, "r2 was rolled back");
    rerun_completes(&m, t.db(), 1).await;
    t.drop_database().await.unwrap();
}

/// The lease instead of the transaction lock, the whole run in one transaction, and the request
/// itself never arrives: no server session is working for the run, so kiln gives up at once,
/// nothing is applied, and the lease is handed back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_request_behind_pgbouncer_with_the_lease_applies_nothing() {
    let Some((t, proxy, url)) = behind_proxy_and_pgbouncer().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = set(dir.path(), LockMode::Table, TransactionMode::All);
    let trigger = FaultTrigger {
        needle: b"freeze_here".to_vec(),
        fault: Fault::FreezeBefore,
        scope: Scope::Connection,
    };
    let err = frozen_upgrade(&m, &proxy, &url, trigger).await;
    let (_, outcome) = lost(&err);
    assert_eq!(outcome, LostOutcome::RolledBack, "{err}");
    assert_no_open_transaction(&t).await;
    assert!(
        !table_exists(t.db(), "a").await,
        "the whole run rolled back"
    );
    // The lease was released by the run, so the next runner need not wait for it to expire.
    let held = raw_rows(
        t.db(),
        "SELECT 1 FROM kiln_version_lock WHERE owner IS NOT NULL",
    )
    .await;
    assert_eq!(held, 0, "the lease was handed back");
    rerun_completes(&m, t.db(), 2).await;
    t.drop_database().await.unwrap();
}

/// A statement that runs longer than the I/O timeout is not cut short behind the pooler: the
/// watchdog sees the tagged session working on it and keeps waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_statement_behind_pgbouncer_is_not_cut_short() {
    let Some((t, _proxy, url)) = behind_proxy_and_pgbouncer().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[rev(
            "r1",
            "",
            "SELECT pg_sleep(3);\nCREATE TABLE freeze_here (id INT PRIMARY KEY);",
            Some("DROP TABLE freeze_here;"),
        )],
    )
    .with_options(
        Options::default()
            .io_timeout(Some(Duration::from_secs(1)))
            .lock_mode(LockMode::Transaction),
    );
    let db = Db::connect(&url)
        .await
        .expect("connect through proxy and PgBouncer");
    let report = tokio::time::timeout(GUARD, m.upgrade(&db, "head"))
        .await
        .expect("kiln hung")
        .expect("a long statement is not a lost connection");
    assert_eq!(report.steps.len(), 1);
    assert!(table_exists(t.db(), "freeze_here").await);
    assert_no_advisory_lock(&t).await;
    db.close().await;
    t.drop_database().await.unwrap();
}
