//! Lost connections at every moment of a run, through a real TCP proxy on 127.0.0.1 that resets
//! ("cut") or stops forwarding ("freeze") at a chosen byte string: before any revision (the run
//! lock), mid-statement, just before a `COMMIT` and just after it (the server committed, the
//! reply is lost). Each test checks the error and its message, the database afterwards (version
//! rows, tables), that no run lock is left, and that the next run completes.
//!
//! The cells `lost_connection.rs` already covers (PostgreSQL: freeze and reset mid-statement,
//! the reply of a `COMMIT` lost, a `COMMIT` that never arrives; MariaDB: freeze and reset
//! mid-statement, the in-progress marker's reply lost) are not repeated here; the table in
//! `docs/runtime.md` ("Lost connections: what is tested") lists both files' cells. SQLite has no
//! network connection to lose. MariaDB has no whole-run transaction (its DDL commits by itself),
//! so whole-run mode is tested on PostgreSQL only.

mod common;

use common::{freeze_set, raw_rows, rerun_completes, rev, table_exists, write_set};
use kiln_runtime::{Db, Dialect, Error, LockMode, LostOutcome, Migrator, Options, TransactionMode};
use kiln_testing::{Fault, FaultTrigger, Proxy, Scope, TestDb};
use std::time::{Duration, Instant};

/// Every test's own guard: kiln must have returned long before this.
const GUARD: Duration = Duration::from_secs(60);

/// r1 creates `a`; r2 creates `b`, then `freeze_here` (the mid-statement trigger).
fn set(dir: &std::path::Path, mode: TransactionMode) -> Migrator {
    freeze_set(dir).with_options(
        // The session lock: the proxy listens on a port of its own, which `LockMode::Auto`
        // takes for a pooler; these tests are about a direct session whose network fails.
        Options::default()
            .io_timeout(Some(Duration::from_secs(1)))
            .lock_mode(LockMode::Session)
            .transaction_mode(mode),
    )
}

fn on(needle: &str, fault: Fault, scope: Scope) -> FaultTrigger {
    FaultTrigger {
        needle: needle.as_bytes().to_vec(),
        fault,
        scope,
    }
}

/// Runs `upgrade head` through a new proxy whose trigger fires at the `nth` occurrence of its
/// needle; returns the proxy (still frozen or cut) and the error.
async fn upgrade_with(m: &Migrator, t: &TestDb, trigger: FaultTrigger, nth: u32) -> (Proxy, Error) {
    let (proxy, url) = Proxy::for_url(t.url()).await.expect("start proxy");
    let db = Db::connect(&url).await.expect("connect through proxy");
    proxy.arm_nth(trigger, nth);
    let res = tokio::time::timeout(GUARD, m.upgrade(&db, "head"))
        .await
        .expect("kiln hung on a lost connection");
    assert_eq!(proxy.fired(), 1, "the fault was never injected: {res:?}");
    (proxy, res.expect_err("the run must fail"))
}

/// The parts of a `ConnectionLost` the tests look at.
fn lost(e: &Error) -> (Option<&str>, LostOutcome, u32) {
    match e {
        Error::ConnectionLost {
            revision,
            outcome,
            shared_with,
            ..
        } => (revision.as_deref(), *outcome, *shared_with),
        other => panic!("expected ConnectionLost, got: {other}"),
    }
}

/// What every message says: what happened, never to fix the SQL, and what to run.
fn assert_says(e: &Error, parts: &[&str]) {
    let text = e.to_string();
    assert!(
        text.contains("connection to the database was lost"),
        "{text}"
    );
    assert!(!text.contains("Fix the SQL"), "{text}");
    for p in parts {
        assert!(text.contains(p), "missing `{p}` in: {text}");
    }
}

/// Waits (the server may need a moment to notice a reset client) until nobody holds kiln's run
/// lock on this database; panics after 20 s.
async fn assert_no_lock(t: &TestDb) {
    let sql = match t.db().dialect() {
        Dialect::Postgres => "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())".to_owned(),
        _ => format!(
            "SELECT 1 FROM DUAL WHERE IS_USED_LOCK(CONCAT('{}', ':', DATABASE())) IS NOT NULL",
            mysql_lock_name()
        ),
    };
    let start = Instant::now();
    while raw_rows(t.db(), &sql).await > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "kiln's run lock outlived the lost session"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `GET_LOCK` name `runtime/src/db/lock.rs` uses for the default tables, without the
/// database suffix. The key is documented as stable across kiln versions, so a test may derive it.
fn mysql_lock_name() -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(b"kiln:.kiln_version");
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    format!("kiln:{:016x}", u64::from_be_bytes(b) >> 1)
}

async fn current(m: &Migrator, t: &TestDb) -> (Vec<String>, Vec<String>) {
    let st = m.current(t.db()).await.expect("current");
    (st.current, st.dirty)
}

/// Clears a dirty `r2` the way the message says (`kiln stamp r2`: every statement ran), then a
/// rerun completes with nothing left to do.
async fn stamp_then_rerun(m: &Migrator, t: &TestDb) {
    m.stamp(t.db(), &["r2"], false)
        .await
        .expect("stamp r2 as the message advises");
    rerun_completes(m, t.db(), 0).await;
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

// --- Before any revision: the run lock. ---

/// The lock is granted, its reply lost: kiln ends that session (or it would hold the lock
/// until the server's keepalive gave up on it) and says nothing was changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lock_reply_lost_before_any_revision_leaves_no_lock() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let trigger = on(
        "pg_try_advisory_lock",
        Fault::FreezeAfter,
        Scope::Connection,
    );
    let (_p, err) = upgrade_with(&m, &t, trigger, 1).await;
    assert_eq!(lost(&err), (None, LostOutcome::Unchanged, 0), "{err}");
    assert_says(
        &err,
        &[
            "while taking the migration lock",
            "nothing was being changed",
            "Run the same command again",
            "kiln current",
        ],
    );
    assert_no_lock(&t).await;
    assert!(!table_exists(t.db(), "a").await);
    rerun_completes(&m, t.db(), 2).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reset_before_any_revision_changes_nothing() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let trigger = on("pg_try_advisory_lock", Fault::CutBefore, Scope::Connection);
    let (_p, err) = upgrade_with(&m, &t, trigger, 1).await;
    assert_eq!(lost(&err), (None, LostOutcome::Unchanged, 0), "{err}");
    assert_says(&err, &["nothing was being changed", "reset"]);
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 2).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_lock_reply_lost_before_any_revision_leaves_no_lock() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let trigger = on("GET_LOCK", Fault::FreezeAfter, Scope::Connection);
    let (_p, err) = upgrade_with(&m, &t, trigger, 1).await;
    assert_eq!(lost(&err), (None, LostOutcome::Unchanged, 0), "{err}");
    assert_says(
        &err,
        &[
            "while taking the migration lock",
            "nothing was being changed",
        ],
    );
    assert_no_lock(&t).await;
    assert_eq!(current(&m, &t).await, (Vec::new(), Vec::new()));
    rerun_completes(&m, t.db(), 2).await;
    t.drop_database().await.unwrap();
}

// --- Mid-statement. ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reset_after_the_statement_was_sent_rolls_back() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let trigger = on("freeze_here", Fault::CutAfter, Scope::Connection);
    let (_p, err) = upgrade_with(&m, &t, trigger, 1).await;
    assert_eq!(
        lost(&err),
        (Some("r2"), LostOutcome::RolledBack, 0),
        "{err}"
    );
    assert_says(
        &err,
        &["revision `r2`", "outcome: rolled back", "kiln current"],
    );
    assert_eq!(current(&m, &t).await, (vec!["r1".to_owned()], Vec::new()));
    assert!(!table_exists(t.db(), "b").await);
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 1).await;
    t.drop_database().await.unwrap();
}

/// Whole-run mode sends both revisions in one script: the lost script takes r1 down with it,
/// and the message says so instead of implying r1 stays applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_whole_run_frozen_mid_statement_rolls_back_the_whole_run() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path(), TransactionMode::All);
    let trigger = on("freeze_here", Fault::FreezeBefore, Scope::Connection);
    let (_p, err) = upgrade_with(&m, &t, trigger, 1).await;
    let (_, outcome, shared) = lost(&err);
    assert_eq!((outcome, shared), (LostOutcome::RolledBack, 1), "{err}");
    assert_says(
        &err,
        &[
            "in one transaction with 1 other revision(s) of this run",
            "rolled back with it, not applied",
            "outcome: rolled back",
        ],
    );
    assert!(err.completed_steps().is_empty(), "{err:?}");
    assert_eq!(current(&m, &t).await, (Vec::new(), Vec::new()));
    assert!(!table_exists(t.db(), "a").await);
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 2).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_statement_ran_but_its_reply_was_lost_is_dirty() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let trigger = on("freeze_here", Fault::FreezeAfter, Scope::Connection);
    let (_p, err) = upgrade_with(&m, &t, trigger, 1).await;
    assert_eq!(lost(&err), (Some("r2"), LostOutcome::Dirty, 0), "{err}");
    assert_says(
        &err,
        &[
            "r2_test.sql:",
            "may or may not have run",
            "kiln stamp r2",
            "kiln stamp r1",
        ],
    );
    // The statement reached the server and ran; only its reply was lost.
    assert!(table_exists(t.db(), "freeze_here").await);
    assert_eq!(
        current(&m, &t).await,
        (vec!["r1".to_owned()], vec!["r2".to_owned()])
    );
    assert_no_lock(&t).await;
    let again = m.upgrade(t.db(), "head").await;
    assert!(matches!(again, Err(Error::Dirty { .. })), "{again:?}");
    stamp_then_rerun(&m, &t).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_reset_after_the_statement_was_sent_is_dirty() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let trigger = on("freeze_here", Fault::CutAfter, Scope::All);
    let (_p, err) = upgrade_with(&m, &t, trigger, 1).await;
    assert_eq!(lost(&err), (Some("r2"), LostOutcome::Dirty, 0), "{err}");
    assert_says(&err, &["r2_test.sql:", "kiln stamp r2"]);
    assert_eq!(current(&m, &t).await.1, ["r2"]);
    assert_no_lock(&t).await;
    // Whether `freeze_here` exists depends on whether the server ran the statement before it
    // saw the reset; a real operator looks, and so does the test, before stamping.
    if !table_exists(t.db(), "freeze_here").await {
        common::exec(t.db(), "CREATE TABLE freeze_here (id INT PRIMARY KEY)").await;
    }
    stamp_then_rerun(&m, &t).await;
    t.drop_database().await.unwrap();
}

// --- Just before COMMIT. ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reset_just_before_commit_is_not_committed() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path(), TransactionMode::PerRevision);
    // The second COMMIT is r2's.
    let (_p, err) =
        upgrade_with(&m, &t, on("COMMIT", Fault::CutBefore, Scope::Connection), 2).await;
    assert_eq!(
        lost(&err),
        (Some("r2"), LostOutcome::NotCommitted, 0),
        "{err}"
    );
    assert_says(
        &err,
        &[
            "the COMMIT of revision `r2`",
            "outcome: not committed",
            "kiln current",
        ],
    );
    assert_eq!(current(&m, &t).await, (vec!["r1".to_owned()], Vec::new()));
    assert!(!table_exists(t.db(), "b").await);
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 1).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_whole_run_commit_never_arrives_applies_nothing() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path(), TransactionMode::All);
    let (_p, err) = upgrade_with(
        &m,
        &t,
        on("COMMIT", Fault::FreezeBefore, Scope::Connection),
        1,
    )
    .await;
    assert_eq!(
        lost(&err),
        (Some("r2"), LostOutcome::NotCommitted, 1),
        "{err}"
    );
    assert_says(
        &err,
        &["outcome: not committed", "rolled back with it, not applied"],
    );
    assert_eq!(current(&m, &t).await, (Vec::new(), Vec::new()));
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 2).await;
    t.drop_database().await.unwrap();
}

/// MariaDB's first COMMIT of a revision writes its in-progress marker; kiln sends no statement
/// before it is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_marker_commit_never_arrives_is_not_started() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path(), TransactionMode::PerRevision);
    // COMMITs: r1's marker, r1's record, r2's marker.
    let (_p, err) = upgrade_with(
        &m,
        &t,
        on("COMMIT", Fault::FreezeBefore, Scope::Connection),
        3,
    )
    .await;
    assert_eq!(
        lost(&err),
        (Some("r2"), LostOutcome::NotStarted(false), 0),
        "{err}"
    );
    assert_says(
        &err,
        &[
            "outcome: not started",
            "Run the same command again",
            "kiln current",
        ],
    );
    assert!(!table_exists(t.db(), "b").await);
    assert_eq!(current(&m, &t).await, (vec!["r1".to_owned()], Vec::new()));
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 1).await;
    t.drop_database().await.unwrap();
}

/// MariaDB's last COMMIT of a revision records it as applied after every statement ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_record_commit_never_arrives_is_applied_but_not_recorded() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path(), TransactionMode::PerRevision);
    // COMMITs: r1's marker, r1's record, r2's marker, r2's record.
    let (_p, err) = upgrade_with(
        &m,
        &t,
        on("COMMIT", Fault::FreezeBefore, Scope::Connection),
        4,
    )
    .await;
    assert_eq!(
        lost(&err),
        (Some("r2"), LostOutcome::StatementsDone, 0),
        "{err}"
    );
    assert_says(
        &err,
        &[
            "the recording of revision `r2`",
            "applied but not recorded",
            "kiln stamp r2",
        ],
    );
    assert!(table_exists(t.db(), "freeze_here").await);
    assert_eq!(current(&m, &t).await.1, ["r2"]);
    assert_no_lock(&t).await;
    stamp_then_rerun(&m, &t).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_reset_just_before_record_commit_is_applied_but_not_recorded() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let (_p, err) =
        upgrade_with(&m, &t, on("COMMIT", Fault::CutBefore, Scope::Connection), 4).await;
    assert_eq!(
        lost(&err),
        (Some("r2"), LostOutcome::StatementsDone, 0),
        "{err}"
    );
    assert_says(&err, &["kiln stamp r2"]);
    assert_eq!(current(&m, &t).await.1, ["r2"]);
    assert_no_lock(&t).await;
    stamp_then_rerun(&m, &t).await;
    t.drop_database().await.unwrap();
}

// --- Just after COMMIT: the server committed, the reply is lost. ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reset_just_after_commit_finds_it_committed() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let (_p, err) = upgrade_with(&m, &t, on("COMMIT", Fault::CutAfter, Scope::Connection), 1).await;
    assert_eq!(lost(&err), (Some("r1"), LostOutcome::Committed, 0), "{err}");
    assert_says(
        &err,
        &[
            "the COMMIT of revision `r1`",
            "outcome: committed",
            "kiln current",
        ],
    );
    assert_eq!(current(&m, &t).await, (vec!["r1".to_owned()], Vec::new()));
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 1).await;
    t.drop_database().await.unwrap();
}

/// With the whole network gone kiln cannot look: it says it cannot know, and what to run once
/// the database is back. The COMMIT did land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commit_reply_lost_with_the_network_gone_is_unknown() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let (proxy, err) = upgrade_with(&m, &t, on("COMMIT", Fault::FreezeAfter, Scope::All), 1).await;
    assert_eq!(lost(&err), (Some("r1"), LostOutcome::Unknown, 0), "{err}");
    assert_says(
        &err,
        &[
            "the COMMIT of revision `r1`",
            "outcome: unknown",
            "could not reconnect",
            "run `kiln current`: revision `r1` is listed as applied if its COMMIT landed",
        ],
    );
    // The network comes back with a reset: the server ends the old session and its lock.
    proxy.cut();
    assert_no_lock(&t).await;
    assert_eq!(current(&m, &t).await, (vec!["r1".to_owned()], Vec::new()));
    rerun_completes(&m, t.db(), 1).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_whole_run_commit_reply_lost_finds_the_whole_run_committed() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path(), TransactionMode::All);
    let (_p, err) = upgrade_with(
        &m,
        &t,
        on("COMMIT", Fault::FreezeAfter, Scope::Connection),
        1,
    )
    .await;
    assert_eq!(lost(&err), (Some("r2"), LostOutcome::Committed, 1), "{err}");
    assert_says(&err, &["outcome: committed", "committed with it"]);
    assert_eq!(current(&m, &t).await, (vec!["r2".to_owned()], Vec::new()));
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 0).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_record_commit_reply_lost_finds_it_committed() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let (_p, err) = upgrade_with(
        &m,
        &t,
        on("COMMIT", Fault::FreezeAfter, Scope::Connection),
        4,
    )
    .await;
    assert_eq!(lost(&err), (Some("r2"), LostOutcome::Committed, 0), "{err}");
    assert_says(&err, &["outcome: committed", "kiln current"]);
    assert_eq!(current(&m, &t).await, (vec!["r2".to_owned()], Vec::new()));
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 0).await;
    t.drop_database().await.unwrap();
}

// --- After the last revision: releasing the lock. ---

/// Every revision committed; the unlock never reaches the server. kiln ends the session that
/// still holds the lock, and the error carries the steps that completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unlock_lost_after_the_run_ends_the_session_holding_the_lock() {
    let Some((t, dir)) = pg().await else { return };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let trigger = on("pg_advisory_unlock", Fault::FreezeBefore, Scope::Connection);
    let (_p, err) = upgrade_with(&m, &t, trigger, 1).await;
    assert_eq!(lost(&err), (None, LostOutcome::Unchanged, 0), "{err}");
    assert_says(
        &err,
        &[
            "while releasing the migration lock",
            "nothing was being changed",
        ],
    );
    assert_eq!(err.completed_steps().len(), 2, "{err:?}");
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 0).await;
    t.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_unlock_lost_after_the_run_ends_the_session_holding_the_lock() {
    let Some((t, dir)) = maria().await else {
        return;
    };
    let m = set(dir.path(), TransactionMode::PerRevision);
    let trigger = on("RELEASE_LOCK", Fault::FreezeBefore, Scope::Connection);
    let (_p, err) = upgrade_with(&m, &t, trigger, 1).await;
    assert_eq!(lost(&err), (None, LostOutcome::Unchanged, 0), "{err}");
    assert_eq!(err.completed_steps().len(), 2, "{err:?}");
    assert_no_lock(&t).await;
    rerun_completes(&m, t.db(), 0).await;
    t.drop_database().await.unwrap();
}

// --- PostgreSQL's `transaction false` revisions follow MariaDB's marker protocol. ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_transaction_false_statement_reply_lost_is_dirty() {
    let Some((t, dir)) = pg().await else { return };
    let mut r2 = rev(
        "r2",
        "r1",
        "CREATE TABLE b (id INT PRIMARY KEY);\nCREATE TABLE freeze_here (id INT PRIMARY KEY);",
        Some("DROP TABLE freeze_here;\nDROP TABLE b;"),
    );
    r2.header = "-- kiln:transaction false\n";
    let m = write_set(
        dir.path(),
        &[
            rev("r1", "", "CREATE TABLE a (id INT PRIMARY KEY);", None),
            r2,
        ],
    )
    .with_options(
        Options::default()
            .io_timeout(Some(Duration::from_secs(1)))
            .lock_mode(LockMode::Session),
    );
    let trigger = on("freeze_here", Fault::FreezeAfter, Scope::Connection);
    let (_p, err) = upgrade_with(&m, &t, trigger, 1).await;
    assert_eq!(lost(&err), (Some("r2"), LostOutcome::Dirty, 0), "{err}");
    assert_says(&err, &["r2_test.sql:", "kiln stamp r2", "kiln stamp r1"]);
    assert!(
        table_exists(t.db(), "b").await,
        "`transaction false` keeps b"
    );
    assert_eq!(
        current(&m, &t).await,
        (vec!["r1".to_owned()], vec!["r2".to_owned()])
    );
    assert_no_lock(&t).await;
    stamp_then_rerun(&m, &t).await;
    t.drop_database().await.unwrap();
}
