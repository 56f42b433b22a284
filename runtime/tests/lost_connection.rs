//! A connection that goes silent or is reset mid-run, through a real TCP proxy on 127.0.0.1:
//! kiln returns (bounded by the I/O timeout), says the connection was lost and what became of the
//! revision, leaves no run lock behind, and the database is consistent (rolled back on
//! PostgreSQL, marked dirty on MariaDB).

mod common;

use common::{freeze_set, rev, table_exists, write_set};
use kiln_runtime::{Db, Dialect, Error, LockMode, LostOutcome, Migrator, Options};
use kiln_testing::{Fault, FaultTrigger, Proxy, Scope, TestDb};
use std::time::Duration;

/// Every test's own guard: kiln must have returned long before this.
const GUARD: Duration = Duration::from_secs(60);

/// A two-revision set whose second revision contains `freeze_here`, the proxy's trigger.
fn set(dir: &std::path::Path) -> Migrator {
    freeze_set(dir).with_options(watched())
}

/// A one-second I/O timeout and the session lock. The test proxy listens on a port of its own,
/// which `LockMode::Auto` takes for a pooler (and then neither identifies the session nor
/// bounds round trips); these tests are about a direct session whose network fails.
fn watched() -> Options {
    Options::default()
        .io_timeout(Some(Duration::from_secs(1)))
        .lock_mode(LockMode::Session)
}

/// The database through a new proxy.
async fn through_proxy(t: &TestDb) -> (Proxy, Db) {
    let (proxy, url) = Proxy::for_url(t.url()).await.expect("start proxy");
    let db = Db::connect(&url).await.expect("connect through proxy");
    (proxy, db)
}

/// Runs `upgrade head` through the proxy with `trigger` armed; returns the error.
async fn upgrade_with_fault(m: &Migrator, t: &TestDb, trigger: FaultTrigger) -> (Proxy, Error) {
    let (proxy, db) = through_proxy(t).await;
    proxy.arm(trigger);
    let res = tokio::time::timeout(GUARD, m.upgrade(&db, "head"))
        .await
        .expect("kiln hung on a lost connection");
    assert_eq!(proxy.fired(), 1, "the fault was never injected");
    let err = res.expect_err("the run must fail");
    (proxy, err)
}

fn trigger(fault: Fault, scope: Scope) -> FaultTrigger {
    FaultTrigger {
        needle: b"freeze_here".to_vec(),
        fault,
        scope,
    }
}

fn outcome_of(e: &Error) -> LostOutcome {
    outcome_for(e, "r2")
}

/// The outcome of a lost connection that happened during revision `rev`.
fn outcome_for(e: &Error, rev: &str) -> LostOutcome {
    match e {
        Error::ConnectionLost {
            outcome, revision, ..
        } => {
            assert_eq!(revision.as_deref(), Some(rev), "{e}");
            *outcome
        }
        other => panic!("expected ConnectionLost, got: {other}"),
    }
}

fn assert_message(e: &Error) {
    let text = e.to_string();
    assert!(
        text.contains("connection to the database was lost"),
        "{text}"
    );
    assert!(
        text.contains("revision `r2`") && text.contains("r2_test.sql"),
        "{text}"
    );
    assert!(
        text.contains("kiln current") || text.contains("kiln stamp"),
        "{text}"
    );
    assert!(!text.contains("Fix the SQL"), "{text}");
}

/// Waits until a second runner over a direct connection gets the run lock (the server noticed
/// the lost session and released it), then checks the state by finishing the upgrade.
async fn second_runner_finishes(m: &Migrator, t: &TestDb) {
    let direct = m
        .clone()
        .with_options(Options::default().lock_timeout(Duration::from_secs(20)));
    let report = tokio::time::timeout(GUARD, direct.upgrade(t.db(), "head"))
        .await
        .expect("second runner hung")
        .expect("second runner must get the lock and finish");
    assert_eq!(report.steps.len(), 1, "only r2 was left to apply");
    assert!(table_exists(t.db(), "freeze_here").await);
}

async fn pg() -> Option<(TestDb, tempfile::TempDir)> {
    Some((
        TestDb::new(Dialect::Postgres).await?,
        tempfile::tempdir().ok()?,
    ))
}

async fn maria() -> Option<(TestDb, tempfile::TempDir)> {
    Some((
        TestDb::new(Dialect::MySql).await?,
        tempfile::tempdir().ok()?,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_frozen_network_mid_revision_rolls_back_and_frees_the_lock() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path());
    let (proxy, err) = upgrade_with_fault(&m, &t, trigger(Fault::FreezeBefore, Scope::All)).await;
    assert_eq!(outcome_of(&err), LostOutcome::RolledBack, "{err}");
    assert_message(&err);
    assert!(
        err.to_string().contains("no reply from the server"),
        "{err}"
    );
    // The whole network is frozen, so kiln could not end its old session; the server does when
    // it notices the connection is gone (here: the network comes back with a reset).
    proxy.cut();
    let st = m.current(t.db()).await.unwrap();
    assert_eq!(st.current, ["r1"], "r2 rolled back: {st:?}");
    assert!(!table_exists(t.db(), "b").await);
    second_runner_finishes(&m, &t).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lost_reply_ends_the_orphaned_session_at_once() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path());
    // The statement reaches the server, its reply does not; new connections still work, so kiln
    // ends the old session itself: no lock stays behind although the proxy never resets it.
    let (_proxy, err) =
        upgrade_with_fault(&m, &t, trigger(Fault::FreezeAfter, Scope::Connection)).await;
    assert_eq!(outcome_of(&err), LostOutcome::RolledBack, "{err}");
    assert_message(&err);
    assert!(!table_exists(t.db(), "b").await);
    let held = common::raw_rows(
        t.db(),
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await;
    assert_eq!(held, 0, "an advisory lock outlived the lost session");
    second_runner_finishes(&m, &t).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lost_commit_is_checked_after_reconnecting() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path());
    let commit = |fault| FaultTrigger {
        needle: b"COMMIT".to_vec(),
        fault,
        scope: Scope::Connection,
    };
    // The COMMIT of r1 lands but its reply is lost: kiln finds r1 recorded.
    let (_p, err) = upgrade_with_fault(&m, &t, commit(Fault::FreezeAfter)).await;
    assert_eq!(outcome_for(&err, "r1"), LostOutcome::Committed, "{err}");
    assert!(
        err.to_string().contains("the COMMIT of revision `r1`"),
        "{err}"
    );
    assert_eq!(m.current(t.db()).await.unwrap().current, ["r1"]);
    // The COMMIT of r2 never reaches the server: kiln finds it not committed.
    let (_p, err) = upgrade_with_fault(&m, &t, commit(Fault::FreezeBefore)).await;
    assert_eq!(outcome_of(&err), LostOutcome::NotCommitted, "{err}");
    assert_eq!(m.current(t.db()).await.unwrap().current, ["r1"]);
    second_runner_finishes(&m, &t).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reset_mid_revision_rolls_back() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path());
    let (_p, err) = upgrade_with_fault(&m, &t, trigger(Fault::CutBefore, Scope::All)).await;
    assert_eq!(outcome_of(&err), LostOutcome::RolledBack, "{err}");
    assert_message(&err);
    assert!(!table_exists(t.db(), "b").await);
    second_runner_finishes(&m, &t).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_frozen_network_mid_revision_is_dirty_and_frees_the_lock() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path());
    let (proxy, err) = upgrade_with_fault(&m, &t, trigger(Fault::FreezeBefore, Scope::All)).await;
    assert_eq!(outcome_of(&err), LostOutcome::Dirty, "{err}");
    assert_message(&err);
    let text = err.to_string();
    assert!(
        text.contains("r2_test.sql:"),
        "the statement's line: {text}"
    );
    assert!(text.contains("kiln stamp r1"), "{text}");
    proxy.cut();
    let st = m.current(t.db()).await.unwrap();
    assert_eq!(st.dirty, ["r2"], "{st:?}");
    // A second runner gets the lock (the server ended the lost session) and stops at the dirty
    // marker instead of waiting for a lock nobody holds.
    let direct = m
        .clone()
        .with_options(Options::default().lock_timeout(Duration::from_secs(20)));
    let again = tokio::time::timeout(GUARD, direct.upgrade(t.db(), "head"))
        .await
        .expect("second runner hung");
    assert!(matches!(again, Err(Error::Dirty { .. })), "{again:?}");
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_lost_marker_reply_proves_nothing_ran() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path());
    // The first COMMIT of a MariaDB run is r1's in-progress marker. It lands; its reply does not.
    let (_p, err) = upgrade_with_fault(
        &m,
        &t,
        FaultTrigger {
            needle: b"COMMIT".to_vec(),
            fault: Fault::FreezeAfter,
            scope: Scope::Connection,
        },
    )
    .await;
    assert_eq!(
        outcome_for(&err, "r1"),
        LostOutcome::NotStarted(true),
        "{err}"
    );
    assert!(
        err.to_string().contains("none of its statements ran"),
        "{err}"
    );
    assert!(
        !table_exists(t.db(), "a").await,
        "no statement of r1 may have run"
    );
    assert_eq!(m.current(t.db()).await.unwrap().dirty, ["r1"]);
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_reset_mid_revision_is_dirty() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path());
    let (_p, err) = upgrade_with_fault(&m, &t, trigger(Fault::CutBefore, Scope::All)).await;
    assert_eq!(outcome_of(&err), LostOutcome::Dirty, "{err}");
    assert_message(&err);
    assert_eq!(m.current(t.db()).await.unwrap().dirty, ["r2"]);
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_statement_is_not_a_lost_connection() {
    let Some((t, dir)) = pg().await else { return };
    // Three seconds of work against a one-second I/O timeout: the server says it is busy.
    let m = write_set(
        dir.path(),
        &[rev(
            "r1",
            "",
            "SELECT pg_sleep(3);\nCREATE TABLE a (id INT);",
            None,
        )],
    )
    .with_options(watched());
    let (_proxy, db) = through_proxy(&t).await;
    let report = tokio::time::timeout(GUARD, m.upgrade(&db, "head"))
        .await
        .expect("hung")
        .expect("a long statement must be waited for");
    assert_eq!(report.steps.len(), 1);
    t.drop_database().await.unwrap();
}
