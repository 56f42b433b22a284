//! A migrating process killed with SIGKILL in the middle of a long revision, on real PostgreSQL,
//! MariaDB and SQLite, using the `slowmigrate` fixture binary (`tests/fixtures/slow/<engine>`:
//! `fault1` creates `fault_items` and `fault_knob`; `fault2` inserts item 2, runs a slow statement
//! for `fault_knob.seconds`, inserts item 3; `fault3` creates `fault_after`).
//!
//! - PostgreSQL and SQLite run a revision and its bookkeeping in one transaction: the next start
//!   finds the database as it was before `fault2` and completes.
//! - MariaDB commits DDL implicitly, so kiln marks `fault2` as `running` before its first
//!   statement: the next start refuses with a message naming the revision and the commands that
//!   resolve it, and changes nothing.
//! - Either way the killed process's run lock does not outlive it: the next start is not held up
//!   anywhere near the 60 s lock timeout.

#[macro_use]
mod common;

use common::{column, describe, execute, output_within, sql_pool, table_exists};
use kiln::Migrator;
use kiln::testing::TestDb;
use kiln::{AuditEntry, Dialect};
use sqlx::AnyPool;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

static POSTGRES: Migrator = kiln::migrations!("tests/fixtures/slow/postgres");
static MYSQL: Migrator = kiln::migrations!("tests/fixtures/slow/mysql");
static SQLITE: Migrator = kiln::migrations!("tests/fixtures/slow/sqlite");

const SLOWMIGRATE: &str = env!("CARGO_BIN_EXE_slowmigrate");

/// How long a restart may take. Far below the 60 s lock timeout, far above a healthy run.
const RESTART_LIMIT: Duration = Duration::from_secs(15);

fn fixture(dialect: Dialect) -> &'static Migrator {
    match dialect {
        Dialect::Postgres => &POSTGRES,
        Dialect::MySql => &MYSQL,
        _ => &SQLITE,
    }
}

fn slowmigrate(url: &str, target: Option<&str>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(SLOWMIGRATE);
    cmd.env("DATABASE_URL", url).args(target);
    cmd
}

on_every_engine!(killed_in_the_middle_of_a_long_revision);

async fn killed_in_the_middle_of_a_long_revision(dialect: Dialect) {
    let Some(db) = TestDb::new(dialect).await else {
        return;
    };
    let pool = sql_pool(&db).await;
    let url = match dialect {
        // Without this setting PostgreSQL only notices a vanished client when it next talks to
        // it, so the killed run's `pg_sleep` would keep its session (and the run lock) for the full
        // 30 s. See `postgres_default_settings_wait_for_the_orphaned_statement` for that case.
        Dialect::Postgres => format!("{}?options[client_connection_check_interval]=200", db.url()),
        _ => db.url().to_owned(),
    };

    kill_during_fault2(&db, &pool, &url).await;
    let m = fixture(dialect);
    let audit_before = m.audit(db.db()).await.expect("audit");
    assert_eq!(upgrades_ok(&audit_before), ["fault1"], "{audit_before:#?}");
    assert!(
        audit_before.iter().all(|a| a.outcome == "ok"),
        "the killed process recorded nothing else: {audit_before:#?}"
    );

    if dialect == Dialect::MySql {
        // Until MariaDB notices the killed client, its session still runs the statement and holds
        // the run lock, and kiln rightly reports fault2 as in progress; then it is dirt.
        let killed = Instant::now();
        let mut status = m.current(db.db()).await.expect("status");
        while !status.in_progress.is_empty() && killed.elapsed() < RESTART_LIMIT {
            tokio::time::sleep(Duration::from_millis(50)).await;
            status = m.current(db.db()).await.expect("status");
        }
        // The revision stopped part-way: its first statement took effect and it is marked dirty.
        assert_eq!(
            states(&status),
            [("fault1", "applied"), ("fault2", "running")]
        );
        assert_eq!(status.dirty, ["fault2"]);
        assert_eq!(items(&pool).await, [1, 2]);

        // The next start refuses, promptly, saying which revision and what to run.
        let (out, took) = timed(slowmigrate(&url, None)).await;
        eprintln!("{dialect:?}: the restart after the kill refused in {took:?}");
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert!(took < RESTART_LIMIT, "the restart took {took:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for needle in [
            "dirty",
            "`fault2`",
            "fault2_slow.sql",
            "kiln stamp fault2",
            "kiln stamp fault1",
        ] {
            assert!(stderr.contains(needle), "no {needle:?} in:\n{stderr}");
        }

        // ... and does not make things worse: nothing applied is lost, nothing more is run.
        let status = m.current(db.db()).await.expect("status");
        assert_eq!(
            states(&status),
            [("fault1", "applied"), ("fault2", "running")]
        );
        assert_eq!(items(&pool).await, [1, 2]);
        assert!(!table_exists(&pool, dialect, "fault_after").await);
        // The audit trail now shows the killed run: the restart that found its marker recorded
        // it, once, with the time the marker was set.
        let audit = m.audit(db.db()).await.expect("audit");
        assert_eq!(audit[..audit_before.len()], audit_before[..]);
        let found: Vec<_> = audit[audit_before.len()..].iter().collect();
        assert_eq!(found.len(), 1, "{audit:#?}");
        assert_eq!(found[0].revision.as_deref(), Some("fault2"));
        assert_eq!(found[0].outcome, "interrupted");
        let marker = status.applied.iter().find(|a| a.revision == "fault2");
        assert_eq!(
            Some(found[0].started_at.as_str()),
            marker.map(|a| a.applied_at.as_str())
        );

        // Resolving it the way the message says: undo the partial revision by hand, record the
        // truth with `stamp`, start again.
        execute(&pool, "DELETE FROM fault_items WHERE id = 2").await;
        m.stamp(db.db(), &["fault1"], false).await.expect("stamp");
    } else {
        // The revision's transaction died with the process: no trace of it, fault1 intact.
        let status = m.current(db.db()).await.expect("status");
        assert_eq!(states(&status), [("fault1", "applied")]);
        assert!(status.dirty.is_empty());
        assert_eq!(status.pending, ["fault2", "fault3"]);
        assert_eq!(items(&pool).await, [1]);
    }

    // The next start completes (quickly: the knob makes fault2 instant this time).
    execute(&pool, "UPDATE fault_knob SET seconds = 0").await;
    let (out, took) = timed(slowmigrate(&url, None)).await;
    eprintln!("{dialect:?}: the restart completed in {took:?}");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(took < RESTART_LIMIT, "the restart took {took:?}");
    let status = m.current(db.db()).await.expect("status");
    assert!(status.is_at_head(), "{status:?}");
    assert_eq!(
        states(&status),
        [
            ("fault1", "applied"),
            ("fault2", "applied"),
            ("fault3", "applied")
        ]
    );
    assert_eq!(items(&pool).await, [1, 2, 3]);
    assert!(table_exists(&pool, dialect, "fault_after").await);
    let audit = m.audit(db.db()).await.expect("audit");
    assert_eq!(
        upgrades_ok(&audit),
        ["fault1", "fault2", "fault3"],
        "{audit:#?}"
    );

    pool.close().await;
    db.drop_database().await.expect("drop the test database");
}

/// PostgreSQL with default settings: the killed run's backend goes on with its statement until
/// the statement ends, keeping the advisory lock (and its open transaction) until then. The next
/// start waits for it, which is safe, then finds the revision rolled back and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_default_settings_wait_for_the_orphaned_statement() {
    let Some(db) = TestDb::new(Dialect::Postgres).await else {
        return;
    };
    let pool = sql_pool(&db).await;
    let (out, _) = timed(slowmigrate(db.url(), Some("fault1"))).await;
    assert!(out.status.success(), "{}", describe(&out));
    execute(&pool, "UPDATE fault_knob SET seconds = 4").await;

    kill_during_fault2(&db, &pool, db.url()).await;
    let killed = Instant::now();
    execute(&pool, "UPDATE fault_knob SET seconds = 0").await;
    let (out, took) = timed(slowmigrate(db.url(), None)).await;
    assert!(out.status.success(), "{}", describe(&out));
    assert!(took < RESTART_LIMIT, "the restart took {took:?}");
    eprintln!(
        "restart finished {:?} after the kill (the orphaned pg_sleep(4) had started before it)",
        killed.elapsed()
    );
    let status = POSTGRES.current(db.db()).await.expect("status");
    assert!(status.is_at_head(), "{status:?}");
    assert_eq!(items(&pool).await, [1, 2, 3]);
    let audit = POSTGRES.audit(db.db()).await.expect("audit");
    assert_eq!(upgrades_ok(&audit), ["fault1", "fault2", "fault3"]);

    pool.close().await;
    db.drop_database().await.expect("drop the test database");
}

/// Starts `slowmigrate` to head, waits until `fault2`'s slow statement is running and SIGKILLs it.
async fn kill_during_fault2(db: &TestDb, pool: &AnyPool, url: &str) {
    let dialect = db.dialect();
    let logs = tempfile::NamedTempFile::new().expect("log file");
    let mut child = slowmigrate(url, None)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(logs.reopen().expect("log file"))
        .kill_on_drop(true)
        .spawn()
        .expect("start slowmigrate");
    let log = || std::fs::read_to_string(logs.path()).unwrap_or_default();

    // The slow statement is visible on the server; on SQLite, which runs inside the process,
    // fault1 is committed and fault2 (whose first statement is a one-row insert) has begun.
    let probe = match dialect {
        Dialect::Postgres => {
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND state = 'active' AND query LIKE '%pg_sleep(seconds)%' AND pid <> pg_backend_pid()"
        }
        Dialect::MySql => {
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() \
             AND info LIKE '%SLEEP(seconds)%' AND id <> CONNECTION_ID()"
        }
        _ => "SELECT COUNT(*) FROM kiln_version WHERE revision = 'fault1' AND state = 'applied'",
    };
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("slowmigrate exited early ({status}):\n{}", log());
        }
        // kiln's tables appear with the first run; until then the probe's table may be missing.
        let started = sqlx::query_scalar::<_, i64>(probe)
            .fetch_one(pool)
            .await
            .is_ok_and(|n| n > 0);
        if started {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "fault2's slow statement did not start within 20 s; log:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if dialect == Dialect::Sqlite {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    child.start_kill().expect("send SIGKILL");
    let status = child.wait().await.expect("wait for slowmigrate");
    assert_eq!(
        status.signal(),
        Some(9),
        "slowmigrate was still running when killed ({status}); log:\n{}",
        log()
    );
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "killed well before fault2's 30 s were up"
    );
}

async fn timed(cmd: tokio::process::Command) -> (std::process::Output, Duration) {
    let start = Instant::now();
    let out = output_within(cmd, Duration::from_secs(90)).await;
    (out, start.elapsed())
}

async fn items(pool: &AnyPool) -> Vec<i64> {
    column(pool, "SELECT id FROM fault_items ORDER BY id").await
}

fn states(status: &kiln::Status) -> Vec<(&str, &str)> {
    let mut v: Vec<_> = status
        .applied
        .iter()
        .map(|r| (r.revision.as_str(), r.state.as_str()))
        .collect();
    v.sort();
    v
}

/// The revisions with a successful `upgrade` row in the audit trail, in order.
fn upgrades_ok(audit: &[AuditEntry]) -> Vec<&str> {
    audit
        .iter()
        .filter(|a| a.action == "upgrade" && a.outcome == "ok")
        .filter_map(|a| a.revision.as_deref())
        .collect()
}
