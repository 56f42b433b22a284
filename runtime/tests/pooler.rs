//! kiln behind a transaction-mode pooler (PgBouncer, `KILN_TEST_PGBOUNCER_URL`, started by
//! `.ci/pgbouncer`) and the lease lock: many runners at once, each revision applied once, no run
//! failing, and no advisory lock left held after any scenario.

mod common;

use common::{Rev, chain, exec, pgbouncer, pooler_address, raw_rows, table_exists, write_set};
use kiln_runtime::{Db, Dialect, Error, LockMode, Migrator, Options, TransactionMode};
use kiln_testing::TestDb;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const RUNNERS: usize = 32;
const REVISIONS: usize = 6;

/// Advisory locks held in `db`'s database right now, asked of the server itself.
async fn advisory_locks(db: &Db) -> usize {
    raw_rows(
        db,
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await
}

/// What a race came to: failures (their messages) and revisions applied, summed over runners.
struct Outcome {
    failures: Vec<String>,
    applied: usize,
}

/// Starts `RUNNERS` runners at once, each with its own pool as separate replicas would have.
async fn race(url: &str, m: Arc<Migrator>) -> Outcome {
    let mut tasks = Vec::new();
    for _ in 0..RUNNERS {
        let db = Db::connect(url).await.unwrap();
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            let r = m.upgrade(&db, "heads").await;
            db.close().await;
            r
        }));
    }
    let mut out = Outcome {
        failures: Vec::new(),
        applied: 0,
    };
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => out.applied += r.steps.len(),
            Err(e) => out.failures.push(e.to_string()),
        }
    }
    out
}

/// Every revision has exactly one audit row: none applied twice, none missing.
async fn each_applied_once(m: &Migrator, db: &Db) {
    let mut per_rev: HashMap<String, usize> = HashMap::new();
    for a in m.audit(db).await.unwrap() {
        *per_rev.entry(a.revision.unwrap_or_default()).or_default() += 1;
    }
    assert!(
        per_rev.len() == REVISIONS && per_rev.values().all(|&n| n == 1),
        "{per_rev:?}"
    );
    let st = m.current(db).await.unwrap();
    assert!(st.pending.is_empty() && st.dirty.is_empty(), "{st:?}");
}

/// 32 runners through PgBouncer with `options` on a chain of `REVISIONS` tables; asserts the
/// scenario's figures and prints them.
async fn through_pgbouncer(name: &str, options: Options) {
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS).with_options(options);
    race_through_pgbouncer(name, m).await;
}

async fn race_through_pgbouncer(name: &str, m: Migrator) {
    let Some(address) = pgbouncer() else {
        return;
    };
    let Some(t) = TestDb::new(Dialect::Postgres).await else {
        return;
    };
    let pooled = kiln_runtime::url::with_address(t.url(), &address);
    let m = Arc::new(m);
    let out = race(&pooled, m.clone()).await;
    let leaked = advisory_locks(t.db()).await;
    eprintln!(
        "{name}: {RUNNERS} runners through PgBouncer, {} failures, {} revisions applied, {leaked} advisory locks left",
        out.failures.len(),
        out.applied
    );
    assert!(
        out.failures.is_empty(),
        "{} failures: {:#?}",
        out.failures.len(),
        out.failures
    );
    assert_eq!(
        out.applied, REVISIONS,
        "every revision applied exactly once"
    );
    each_applied_once(&m, t.db()).await;
    assert_eq!(leaked, 0, "no advisory lock left held");
    let leased = table_exists(t.db(), "kiln_version_lock").await;
    let wants_lease = m.options().lock_mode == LockMode::Table
        || (m.options().lock_mode == LockMode::Auto && name.contains("transaction-false"));
    assert_eq!(
        leased, wants_lease,
        "the lease table is used exactly when {name} calls for it"
    );
    t.drop_database().await.expect("drop test database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_revision_runners_behind_pgbouncer_detect_it_and_take_the_transaction_lock() {
    through_pgbouncer("auto, per-revision", Options::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_run_runners_behind_pgbouncer_take_the_transaction_lock() {
    through_pgbouncer(
        "auto, whole run",
        Options::default().transaction_mode(TransactionMode::All),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_transaction_lock_behind_pgbouncer() {
    through_pgbouncer(
        "transaction, per-revision",
        Options::default().lock_mode(LockMode::Transaction),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_revision_runners_behind_pgbouncer_with_the_lease_table() {
    through_pgbouncer(
        "table, per-revision",
        Options::default().lock_mode(LockMode::Table),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_run_runners_behind_pgbouncer_with_the_lease_table() {
    through_pgbouncer(
        "table, whole run",
        Options::default()
            .lock_mode(LockMode::Table)
            .transaction_mode(TransactionMode::All),
    )
    .await;
}

/// A `transaction false` revision runs outside any transaction, so outside a transaction lock:
/// behind a pooler `auto` takes the lease for such a set, and no runner sees it half-done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_takes_the_lease_behind_pgbouncer_for_a_set_with_a_non_transactional_revision() {
    let dir = tempfile::tempdir().unwrap();
    let tables: Vec<(String, String, String)> = (0..REVISIONS)
        .map(|i| {
            (
                format!("r{i:03}"),
                if i == 0 {
                    String::new()
                } else {
                    format!("r{:03}", i - 1)
                },
                format!("CREATE TABLE t{i} (id INTEGER PRIMARY KEY);"),
            )
        })
        .collect();
    let revs: Vec<Rev<'_>> = tables
        .iter()
        .enumerate()
        .map(|(i, (id, parents, up))| Rev {
            id,
            parents,
            header: if i == 2 {
                "-- kiln:transaction false\n"
            } else {
                ""
            },
            up,
            down: None,
        })
        .collect();
    let m = write_set(dir.path(), &revs);
    race_through_pgbouncer("auto with a transaction-false revision", m).await;
}

/// The lease table on MariaDB: 32 runners at once, each revision applied once, the lease free
/// afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_runners_share_the_lease_table_on_mysql() {
    let Some(t) = TestDb::new(Dialect::MySql).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(
        chain(dir.path(), REVISIONS).with_options(Options::default().lock_mode(LockMode::Table)),
    );
    let out = race(t.url(), m.clone()).await;
    eprintln!(
        "table on MariaDB: {RUNNERS} runners, {} failures, {} revisions applied",
        out.failures.len(),
        out.applied
    );
    assert!(out.failures.is_empty(), "{:#?}", out.failures);
    assert_eq!(out.applied, REVISIONS);
    each_applied_once(&m, t.db()).await;
    assert_eq!(
        raw_rows(
            t.db(),
            "SELECT 1 FROM kiln_version_lock WHERE owner IS NOT NULL"
        )
        .await,
        0,
        "the lease is free after the runs"
    );
    t.drop_database().await.expect("drop test database");
}

/// Creates the lock table (a run to `base` takes and frees the lease) and then hands the lease
/// to a runner that is not there, expiring at `expires_ms` on the database's clock.
async fn ghost_lease(m: &Migrator, db: &Db, expires_ms: &str) {
    m.upgrade(db, "base").await.unwrap();
    exec(
        db,
        &format!("UPDATE kiln_version_lock SET owner = 'ghost', host = 'gone', pid = 1, acquired_at = 'then', expires_ms = {expires_ms} WHERE id = 1"),
    )
    .await;
}

async fn expired_lease_is_taken_over(dialect: Dialect) {
    let Some(t) = TestDb::new(dialect).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), 2).with_options(
        Options::default()
            .lock_mode(LockMode::Table)
            .lock_timeout(Duration::from_secs(10)),
    );
    ghost_lease(&m, t.db(), "1").await;
    let report = m.upgrade(t.db(), "heads").await.unwrap();
    assert_eq!(report.steps.len(), 2);
    assert_eq!(
        raw_rows(
            t.db(),
            "SELECT 1 FROM kiln_version_lock WHERE owner IS NULL"
        )
        .await,
        1,
        "the lease taken over from the ghost is free again"
    );
    t.drop_database().await.expect("drop test database");
}

async fn live_lease_makes_a_runner_wait_and_time_out(dialect: Dialect) {
    let Some(t) = TestDb::new(dialect).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), 2).with_options(
        Options::default()
            .lock_mode(LockMode::Table)
            .lock_timeout(Duration::from_millis(300)),
    );
    ghost_lease(&m, t.db(), "9000000000000000").await;
    let err = m.upgrade(t.db(), "heads").await.unwrap_err();
    let Error::LockTimeout { what, .. } = &err else {
        panic!("expected a lock timeout, got {err}");
    };
    assert!(
        what.contains("kiln_version_lock") && what.contains("run ghost on gone (pid 1)"),
        "{what}"
    );
    // The waiting runner sees the run as in progress rather than dirty, and stamp refuses.
    assert!(matches!(
        m.stamp(t.db(), &["heads"], false).await,
        Err(Error::StampWhileRunning { .. })
    ));
    assert!(m.current(t.db()).await.unwrap().applied.is_empty());
    t.drop_database().await.expect("drop test database");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_on_sqlite() {
    expired_lease_is_taken_over(Dialect::Sqlite).await;
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_on_mysql() {
    expired_lease_is_taken_over(Dialect::MySql).await;
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_on_postgres() {
    expired_lease_is_taken_over(Dialect::Postgres).await;
}

#[tokio::test]
async fn a_live_lease_makes_a_runner_wait_on_sqlite() {
    live_lease_makes_a_runner_wait_and_time_out(Dialect::Sqlite).await;
}

#[tokio::test]
async fn a_live_lease_makes_a_runner_wait_on_postgres() {
    live_lease_makes_a_runner_wait_and_time_out(Dialect::Postgres).await;
}

/// `transaction` needs PostgreSQL: MySQL refuses it with a message saying what to use instead.
#[tokio::test]
async fn the_transaction_lock_is_refused_on_mysql() {
    let Some(t) = TestDb::new(Dialect::MySql).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), 1).with_options(Options::default().lock_mode(LockMode::Transaction));
    let err = m.upgrade(t.db(), "heads").await.unwrap_err();
    assert!(
        err.to_string().contains("no transaction-scoped GET_LOCK"),
        "{err}"
    );
    t.drop_database().await.expect("drop test database");
}

/// A two-revision set whose first revision takes four seconds, with a lease of 1.5 s: the run
/// outlives its lease unless the lease is renewed (every 0.5 s; loose enough for a loaded CI
/// machine).
fn slow_leased_set(dir: &std::path::Path) -> Migrator {
    write_set(
        dir,
        &[
            common::rev(
                "r1",
                "",
                "SELECT pg_sleep(4);\nCREATE TABLE a (id INT);",
                None,
            ),
            common::rev("r2", "r1", "CREATE TABLE b (id INT);", None),
        ],
    )
    .with_options(
        Options::default()
            .lock_mode(LockMode::Table)
            .lease(Duration::from_millis(1500)),
    )
}

/// The lease is renewed while the run lives: a second runner arriving after the first lease
/// would have expired still finds it held, and the first run finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_renewed_while_the_run_lives() {
    let Some(t) = TestDb::new(Dialect::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = slow_leased_set(dir.path());
    let first = {
        let (m, db) = (m.clone(), t.db().clone());
        tokio::spawn(async move { m.upgrade(&db, "heads").await })
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let second = m
        .clone()
        .with_options(m.options().clone().lock_timeout(Duration::from_millis(300)));
    let waited = second.upgrade(t.db(), "heads").await;
    assert!(
        matches!(waited, Err(Error::LockTimeout { .. })),
        "{waited:?}"
    );
    let report = first.await.unwrap().unwrap();
    assert_eq!(report.steps.len(), 2);
    assert_eq!(
        raw_rows(
            t.db(),
            "SELECT 1 FROM kiln_version_lock WHERE owner IS NULL"
        )
        .await,
        1
    );
    t.drop_database().await.expect("drop test database");
}

/// A run whose lease was taken over while a revision ran does not commit it: the revision is
/// rolled back and the run stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_lease_was_taken_over_does_not_commit() {
    let Some(t) = TestDb::new(Dialect::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = slow_leased_set(dir.path());
    let run = {
        let (m, db) = (m.clone(), t.db().clone());
        tokio::spawn(async move { m.upgrade(&db, "heads").await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    exec(
        t.db(),
        "UPDATE kiln_version_lock SET owner = 'thief', host = 'elsewhere'",
    )
    .await;
    let err = run.await.unwrap().unwrap_err();
    let Error::LeaseLost { next, .. } = &err else {
        panic!("expected the lease to be lost, got {err}");
    };
    assert!(next.contains("COMMIT of revision `r1`"), "{err}");
    assert!(err.to_string().contains("was taken over"), "{err}");
    let st = m.current(t.db()).await.unwrap();
    assert!(st.applied.is_empty(), "{st:?}");
    assert!(!table_exists(t.db(), "a").await, "r1 was rolled back");
    t.drop_database().await.expect("drop test database");
}

/// The transaction lock's wait is bounded by `lock_timeout` like the other locks: a runner that
/// arrives while another one's revision transaction holds it gives up with a lock timeout, and the
/// first run finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transaction_lock_waits_at_most_the_lock_timeout() {
    let Some(t) = TestDb::new(Dialect::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[common::rev(
            "r1",
            "",
            "SELECT pg_sleep(2);\nCREATE TABLE a (id INT);",
            None,
        )],
    )
    .with_options(Options::default().lock_mode(LockMode::Transaction));
    let first = {
        let (m, db) = (m.clone(), t.db().clone());
        tokio::spawn(async move { m.upgrade(&db, "heads").await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let impatient = m
        .clone()
        .with_options(m.options().clone().lock_timeout(Duration::from_millis(300)));
    let err = impatient.upgrade(t.db(), "heads").await.unwrap_err();
    let Error::LockTimeout { what, .. } = &err else {
        panic!("expected a lock timeout, got {err}");
    };
    assert!(what.contains("transaction-scoped advisory lock"), "{what}");
    assert_eq!(first.await.unwrap().unwrap().steps.len(), 1);
    assert_eq!(advisory_locks(t.db()).await, 0);
    t.drop_database().await.expect("drop test database");
}

/// Runs a chain through the PgBouncer of `var` on a new database and returns the error; checks
/// that nothing was applied and no advisory lock is left.
async fn refused_by(var: &str) -> Option<Error> {
    let address = pooler_address(var)?;
    let t = TestDb::new(Dialect::Postgres).await?;
    let dir = tempfile::tempdir().unwrap();
    let m = chain(dir.path(), REVISIONS);
    let pooled = kiln_runtime::url::with_address(t.url(), &address);
    let res = match Db::connect(&pooled).await {
        Ok(db) => {
            let r = m.upgrade(&db, "head").await;
            db.close().await;
            r.map(|_| ())
        }
        Err(e) => Err(e),
    };
    let err = res.expect_err("the pooler must refuse the run");
    assert!(!table_exists(t.db(), "t0").await, "nothing was applied");
    assert_eq!(
        advisory_locks(t.db()).await,
        0,
        "no advisory lock left held"
    );
    t.drop_database().await.expect("drop test database");
    Some(err)
}

/// Statement pooling allows no transaction at all: kiln stops before applying anything and says
/// which pool mode to use instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_in_statement_mode_is_refused_with_what_to_use_instead() {
    let Some(err) = refused_by("KILN_TEST_PGBOUNCER_STATEMENT_URL").await else {
        return;
    };
    assert!(
        err.to_string().contains("statement pooling mode"),
        "the pooler's own words: {err}"
    );
    let help = err.help().unwrap_or_default();
    assert!(
        help.contains("statement pooling mode cannot run a transaction")
            && help.contains("transaction or session mode"),
        "{help}"
    );
}

/// PgBouncer's defaults refuse the `extra_float_digits` parameter every sqlx connection sends:
/// the help names the setting to change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_refusing_sqlx_startup_parameters_names_the_setting() {
    let Some(err) = refused_by("KILN_TEST_PGBOUNCER_BARE_URL").await else {
        return;
    };
    assert!(err.to_string().contains("extra_float_digits"), "{err}");
    let help = err.help().unwrap_or_default();
    assert!(help.contains("ignore_startup_parameters"), "{help}");
}
