//! The DDL guardrails against real servers (issue 13 item 2): a revision whose `ALTER TABLE` waits
//! behind another session's open transaction gives up after its lock timeout, so the queries
//! queued behind it are not held, leaves the database as it was, names the blocking session, and
//! succeeds on a retry once the blocker commits; each attempt is in the audit trail. Also the
//! statement timeout, and SQLite's busy timeout against a second connection's write transaction.
//!
//! Nothing here asserts speed: every wait has a 30 s guard that only a queue kiln failed to
//! release (or a hung run) reaches.

#[macro_use]
mod common;

use common::{Rev, rev, write_set};
use kiln_runtime::{Db, Dialect, Error, Hooks, Migrator, Options, RawConnection, TransactionMode};
use kiln_testing::TestDb;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What no step of these tests may reach; only a queue that was never released does.
const GUARD: Duration = Duration::from_secs(30);

on_servers!(
    a_revision_behind_an_open_transaction_gives_up_and_releases_the_queue,
    a_retry_succeeds_once_the_blocker_commits,
    a_statement_timeout_ends_a_long_statement,
);

/// The lock timeout the tests use: MariaDB counts lock waits in whole seconds.
fn wait_for(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::MySql => "1s",
        _ => "200ms",
    }
}

/// `r1` creates `t` with a row; `r2` adds a column under `-- kiln:lock-timeout` (unless
/// `header` says otherwise).
fn alter_set(dir: &std::path::Path, header: &str) -> Migrator {
    write_set(
        dir,
        &[
            rev(
                "r1",
                "",
                "CREATE TABLE t (id INTEGER PRIMARY KEY);\nINSERT INTO t (id) VALUES (1);",
                Some("DROP TABLE t;"),
            ),
            Rev {
                id: "r2",
                parents: "r1",
                header,
                up: "ALTER TABLE t ADD COLUMN c INTEGER;",
                down: Some("ALTER TABLE t DROP COLUMN c;"),
            },
        ],
    )
}

/// A session with an open transaction that has read `t`, holding a lock every `ALTER TABLE t`
/// waits for; with its server-side id.
async fn blocker(db: &Db) -> (RawConnection, String) {
    let mut c = RawConnection::acquire(db).await.unwrap();
    c.close_on_drop();
    let id_sql = match db.dialect() {
        Dialect::Postgres => {
            c.script("SET application_name = 'kiln_test_blocker'; BEGIN; SELECT count(*) FROM t")
                .await
                .unwrap();
            "SELECT CAST(pg_backend_pid() AS INT8)"
        }
        _ => {
            c.script("START TRANSACTION").await.unwrap();
            c.rows("SELECT CAST(count(*) AS SIGNED) FROM t", &[0])
                .await
                .unwrap();
            "SELECT CAST(CONNECTION_ID() AS SIGNED)"
        }
    };
    let id = c.rows(id_sql, &[0]).await.unwrap()[0][0].clone().unwrap();
    (c, id)
}

/// `t`'s ids, as integers every engine reads as `INT8`.
fn ids(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "SELECT CAST(id AS INT8) FROM t",
        _ => "SELECT CAST(id AS SIGNED) FROM t",
    }
}

/// Waits until some session waits for a lock on `t` (kiln's `ALTER TABLE`).
async fn until_waiting(db: &Db) {
    let sql = match db.dialect() {
        Dialect::Postgres => {
            "SELECT CAST(count(*) AS INT8) FROM pg_locks WHERE NOT granted AND relation = CAST('t' AS regclass)"
        }
        _ => {
            "SELECT CAST(count(*) AS SIGNED) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND STATE LIKE 'Waiting for table metadata lock%'"
        }
    };
    let mut probe = RawConnection::acquire(db).await.unwrap();
    let started = Instant::now();
    loop {
        let n = probe.rows(sql, &[0]).await.unwrap()[0][0].clone().unwrap();
        if n != "0" {
            return;
        }
        assert!(started.elapsed() < GUARD, "kiln never waited for the lock");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_revision_behind_an_open_transaction_gives_up_and_releases_the_queue(
    t: TestDb,
) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let header = format!("-- kiln:lock-timeout {}\n", wait_for(t.dialect()));
    let m = alter_set(dir.path(), &header);
    m.upgrade(t.db(), "r1").await.unwrap();
    let (mut block, blocker_id) = blocker(t.db()).await;

    let run = {
        let (m, db) = (m.clone(), t.db().clone());
        tokio::spawn(async move { tokio::time::timeout(GUARD, m.run(&db)).await })
    };
    until_waiting(t.db()).await;
    // A reader arriving while kiln waits is queued behind kiln's pending exclusive lock; it gets
    // through while the blocker is still open only because kiln gave up. Without the guardrail
    // it would wait as long as the blocker's transaction, here past the guard.
    let mut reader = RawConnection::acquire(t.db()).await.unwrap();
    let read = tokio::time::timeout(GUARD, reader.rows(ids(t.dialect()), &[0])).await;
    assert_eq!(read.expect("the reader stayed queued").unwrap().len(), 1);

    let err = run.await.unwrap().expect("kiln gave up").unwrap_err();
    let shown = err.to_string();
    match &err {
        Error::DdlLockTimeout {
            revision,
            attempts,
            dirty,
            detail,
            line,
            ..
        } => {
            assert_eq!((revision.as_str(), *attempts, *dirty), ("r2", 1, false));
            assert!(line.is_some(), "{shown}");
            assert!(
                detail.blockers.iter().any(|b| b.contains(&blocker_id)),
                "the blocker {blocker_id} is named: {shown}"
            );
            if t.dialect() == Dialect::Postgres {
                assert!(
                    shown.contains("kiln_test_blocker") && shown.contains("55P03"),
                    "{shown}"
                );
            } else {
                assert!(shown.contains("Lock wait timeout exceeded"), "{shown}");
            }
        }
        other => panic!("expected a lock timeout, got {other:?}"),
    }
    assert!(shown.contains("r2_test.sql:"), "{shown}");
    assert!(err.help().is_some_and(|h| h.contains("--ddl-retries")));

    // The blocker's own transaction carries on, and the database is as it was: r2 is pending,
    // nothing is dirty, the column was not added.
    assert_eq!(block.rows(ids(t.dialect()), &[0]).await.unwrap().len(), 1);
    block.script("COMMIT").await.unwrap();
    let st = m.current(t.db()).await.unwrap();
    assert!(st.dirty.is_empty(), "{st:?}");
    assert_eq!(st.pending, ["r2"]);
    let audit = m.audit(t.db()).await.unwrap();
    let last = audit.last().unwrap();
    assert_eq!(
        (last.revision.as_deref(), last.outcome.as_str()),
        (Some("r2"), "failed")
    );
    // With the blocker gone the same run goes through.
    m.run(t.db()).await.unwrap();
    assert!(m.current(t.db()).await.unwrap().pending.is_empty());
    t
}

async fn a_retry_succeeds_once_the_blocker_commits(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    // The limit comes from the options this time; whole-run mode retries the transaction.
    let m = alter_set(dir.path(), "").with_options(
        Options::default()
            .ddl_lock_timeout(Some(
                kiln_core::time::parse_duration(wait_for(t.dialect())).unwrap(),
            ))
            .ddl_retries(20)
            .ddl_retry_backoff(Duration::from_millis(100))
            .transaction_mode(TransactionMode::All),
    );
    m.upgrade(t.db(), "r1").await.unwrap();
    let (mut block, _) = blocker(t.db()).await;
    let run = {
        let (m, db) = (m.clone(), t.db().clone());
        tokio::spawn(async move { tokio::time::timeout(GUARD, m.run(&db)).await })
    };
    // The blocker commits once kiln has given up at least once (a `retry` row).
    let started = Instant::now();
    while !m
        .audit(t.db())
        .await
        .unwrap()
        .iter()
        .any(|a| a.outcome == "retry")
    {
        assert!(started.elapsed() < GUARD, "no attempt was recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    block.script("COMMIT").await.unwrap();
    let report = run.await.unwrap().expect("the retry went through").unwrap();
    assert_eq!(report.steps.len(), 1);
    let audit = m.audit(t.db()).await.unwrap();
    let r2: Vec<_> = audit
        .iter()
        .filter(|a| a.revision.as_deref() == Some("r2"))
        .collect();
    let (last, tries) = r2.split_last().unwrap();
    assert_eq!(last.outcome, "ok");
    assert!(!tries.is_empty());
    for (n, a) in tries.iter().enumerate() {
        assert_eq!(a.outcome, "retry");
        assert_eq!(a.run_id, last.run_id);
        let error = a.error.as_deref().unwrap_or_default();
        assert!(
            error.starts_with(&format!(
                "attempt {} of 21 gave up waiting for a lock",
                n + 1
            )),
            "{error}"
        );
    }
    assert!(m.current(t.db()).await.unwrap().pending.is_empty());
    t
}

async fn a_statement_timeout_ends_a_long_statement(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let slow = match t.dialect() {
        Dialect::Postgres => "SELECT pg_sleep(60);",
        _ => "SELECT SLEEP(60);",
    };
    let m = write_set(
        dir.path(),
        &[Rev {
            id: "s1",
            parents: "",
            header: "-- kiln:statement-timeout 300ms\n",
            up: slow,
            down: None,
        }],
    );
    let err = tokio::time::timeout(GUARD, m.run(t.db()))
        .await
        .expect("the statement was not cut short")
        .unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, Error::Statement { .. }), "{shown}");
    assert!(
        shown.contains("statement timeout") || shown.contains("max_statement_time"),
        "{shown}"
    );
    let help = err.help().unwrap_or_default();
    assert!(help.contains("-- kiln:statement-timeout"), "{help}");
    let st = m.current(t.db()).await.unwrap();
    if t.dialect() == Dialect::Postgres {
        // Rolled back with its transaction.
        assert_eq!(
            (st.pending.as_slice(), st.dirty.len()),
            (&["s1".to_owned()][..], 0)
        );
    } else {
        // MariaDB runs it outside a transaction, under the usual marker: the failure is recorded.
        assert_eq!(st.dirty, ["s1"]);
    }
    t
}

/// SQLite: a second connection's write transaction makes kiln's `BEGIN IMMEDIATE` wait; the
/// busy timeout ends the wait, and a retry after that connection commits goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_busy_timeout_gives_up_and_retries() {
    let t = TestDb::sqlite().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = alter_set(dir.path(), "-- kiln:lock-timeout 200ms\n");
    m.upgrade(t.db(), "r1").await.unwrap();
    // A second pool on the same file, so the writer is another connection for sure.
    let other = Db::connect(t.url()).await.unwrap();
    let mut writer = RawConnection::acquire(&other).await.unwrap();
    writer
        .script("BEGIN IMMEDIATE; INSERT INTO t (id) VALUES (2)")
        .await
        .unwrap();

    let err = tokio::time::timeout(GUARD, m.run(t.db()))
        .await
        .expect("kiln gave up")
        .unwrap_err();
    assert!(
        matches!(&err, Error::DdlLockTimeout { revision, attempts: 1, .. } if revision == "r2"),
        "{err:?}"
    );
    assert!(err.to_string().contains("SQLite cannot say which"), "{err}");

    // With retries, the run waits until the writer commits (after kiln's second attempt
    // started, which the progress events show).
    let starts = std::sync::Arc::new(AtomicUsize::new(0));
    let m = m.with_options(
        Options::default()
            .ddl_retries(50)
            .ddl_retry_backoff(Duration::from_millis(50)),
    );
    let run = {
        let (m, db, starts) = (m.clone(), t.db().clone(), starts.clone());
        tokio::spawn(async move {
            let count = move |e: &kiln_runtime::Event<'_>| {
                if matches!(e, kiln_runtime::Event::Starting { revision: "r2", .. }) {
                    starts.fetch_add(1, Ordering::SeqCst);
                }
            };
            let hooks = Hooks {
                on_event: Some(&count),
                ..Hooks::default()
            };
            tokio::time::timeout(GUARD, m.upgrade_with(&db, "heads", hooks)).await
        })
    };
    let started = Instant::now();
    while starts.load(Ordering::SeqCst) < 2 {
        assert!(started.elapsed() < GUARD, "kiln never tried again");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    writer.script("COMMIT").await.unwrap();
    run.await.unwrap().expect("the retry went through").unwrap();
    // SQLite cannot take the retry rows while the writer holds the database: they are written
    // once the revision's outcome is known, after its own row.
    let audit = m.audit(t.db()).await.unwrap();
    let r2 = |outcome: &str| {
        audit
            .iter()
            .any(|a| a.outcome == outcome && a.revision.as_deref() == Some("r2"))
    };
    assert!(r2("retry") && r2("ok"), "{audit:?}");
    assert!(m.current(t.db()).await.unwrap().pending.is_empty());
    drop(writer);
    other.close().await;
    t.drop_database().await.unwrap();
}

/// The offline script (`--sql`) sets the limits the way a run would, for review: inside each
/// revision's transaction on PostgreSQL, around its statements on MySQL/MariaDB.
#[test]
fn offline_scripts_carry_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let m = alter_set(
        dir.path(),
        "-- kiln:lock-timeout 200ms\n-- kiln:statement-timeout 10min\n",
    );
    let pg = m.upgrade_sql(Dialect::Postgres, None, "heads").unwrap();
    let r2 = &pg[pg.find("-- upgrade r2").unwrap()..];
    assert!(
        r2.contains("BEGIN;\nSET LOCAL lock_timeout = '200ms';\nSET LOCAL statement_timeout = '600000ms';\nALTER TABLE t"),
        "{r2}"
    );
    let r1 = &pg[pg.find("-- upgrade r1").unwrap()..pg.find("-- upgrade r2").unwrap()];
    assert!(!r1.contains("lock_timeout"), "{r1}");
    let my = m.upgrade_sql(Dialect::MySql, None, "heads").unwrap();
    assert!(
        my.contains("SET SESSION lock_wait_timeout = 1, innodb_lock_wait_timeout = 1;\nSET SESSION max_statement_time = 600.000;"),
        "{my}"
    );
    assert!(
        my.contains("SET SESSION lock_wait_timeout = DEFAULT"),
        "{my}"
    );
    // The run's options apply to revisions without directives too.
    let plain = alter_set(tempfile::tempdir().unwrap().path(), "")
        .with_options(Options::default().ddl_lock_timeout(Some(Duration::from_secs(3))));
    let sqlite = plain.upgrade_sql(Dialect::Sqlite, None, "heads").unwrap();
    assert_eq!(
        sqlite.matches("PRAGMA busy_timeout = 3000;\nBEGIN").count(),
        2,
        "{sqlite}"
    );
}
