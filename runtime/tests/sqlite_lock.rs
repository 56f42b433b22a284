//! The SQLite run lock is keyed on the real database file (issue 9 item 7): two runners that
//! spell the same file differently (a symlink, `sqlite:file:`, `?mode=rwc`) still take turns.
//! Also the lock's own failures (issue 9 item 12): a timeout names the lock file and
//! `--lock-timeout` with a rounded duration, and a lock file kiln cannot open is its own error.

#![cfg(unix)]

mod common;

use common::{Rev, rev, write_set};
use kiln_runtime::{Db, Error, Migrator, Options};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `p1`, then `p2`, a `transaction false` revision that keeps SQLite busy for several seconds:
/// long enough, even on a fast idle machine, for five impatient runners to find the lock held.
fn slow_set(dir: &std::path::Path) -> Migrator {
    write_set(
        dir,
        &[
            rev(
                "p1",
                "",
                "CREATE TABLE p1_t (id INTEGER PRIMARY KEY);",
                None,
            ),
            Rev {
                id: "p2",
                parents: "p1",
                header: "-- kiln:transaction false\n",
                up: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 25000000) SELECT count(*) FROM c;",
                down: None,
            },
        ],
    )
}

/// Starts a run through `first` and returns once `p2` is running.
async fn start_slow_run(
    m: &Arc<Migrator>,
    first: &str,
) -> tokio::task::JoinHandle<kiln_runtime::Result<kiln_runtime::Report>> {
    let db = Db::connect(first).await.unwrap();
    let runner = {
        let m = m.clone();
        let db = db.clone();
        tokio::spawn(async move { m.run(&db).await })
    };
    let started = Instant::now();
    loop {
        let st = m.current(&db).await.unwrap();
        if st.applied.iter().any(|r| r.revision == "p2") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "p2 never started: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    runner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_through_different_spellings_of_one_file_take_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("data").join("app.db");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, tmp.path().join("link.db")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("data"), tmp.path().join("dirlink")).unwrap();
    let first = format!("sqlite://{}", real.display());
    let others = [
        format!("sqlite://{}", tmp.path().join("link.db").display()),
        format!("sqlite:file:{}", real.display()),
        format!("sqlite://file:{}", real.display()),
        format!("sqlite://{}?mode=rwc", real.display()),
        format!("sqlite://{}/dirlink/../data/app.db", tmp.path().display()),
    ];
    let migrations = tempfile::tempdir().unwrap();
    let m = Arc::new(slow_set(migrations.path()));
    let runner = start_slow_run(&m, &first).await;
    // While the first runner holds the lock, every other spelling must find it taken, not see a
    // "dirty" p2 or take a lock of its own.
    let impatient = slow_set(migrations.path())
        .with_options(Options::default().lock_timeout(Duration::from_millis(200)));
    let mut seconds = Vec::new();
    for other in &others {
        let second = Db::connect(other).await.unwrap();
        match impatient.run(&second).await {
            Err(Error::LockTimeout { what, .. }) => {
                assert!(what.contains("data/app.db.kiln-lock"), "{other}: {what}");
            }
            other_result => panic!("{other}: expected the lock to be held, got {other_result:?}"),
        }
        seconds.push(second);
    }
    assert_eq!(runner.await.unwrap().unwrap().steps.len(), 2);
    // Once the first runner is done, every spelling sees the same database at head.
    for second in seconds {
        impatient.check(&second).await.unwrap();
        second.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_timeout_names_the_lock_file_and_the_setting_with_a_rounded_duration() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("app.db").display());
    let migrations = tempfile::tempdir().unwrap();
    let m = Arc::new(slow_set(migrations.path()));
    let runner = start_slow_run(&m, &url).await;
    let waiting = slow_set(migrations.path())
        .with_options(Options::default().lock_timeout(Duration::from_millis(250)));
    let e = waiting
        .run(&Db::connect(&url).await.unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("timed out after 0.2 s") || e.contains("timed out after 0.3 s"),
        "{e}"
    );
    assert!(e.contains("--lock-timeout"), "{e}");
    assert!(e.contains("app.db.kiln-lock"), "{e}");
    runner.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_file_that_cannot_be_opened_is_a_lock_file_error() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("app.db");
    // Something kiln cannot open for writing where the lock file goes (root can write any file,
    // so a directory stands in for a file owned by another user).
    std::fs::create_dir(tmp.path().join("app.db.kiln-lock")).unwrap();
    let db = Db::connect(&format!("sqlite://{}", db_path.display()))
        .await
        .unwrap();
    let migrations = tempfile::tempdir().unwrap();
    let m = write_set(
        migrations.path(),
        &[rev("a1", "", "CREATE TABLE a (x INTEGER);", None)],
    );
    match m.run(&db).await {
        Err(e @ Error::LockFile { .. }) => {
            let text = e.to_string();
            assert!(text.contains("app.db.kiln-lock"), "{text}");
            assert!(text.contains("writable"), "{text}");
            assert!(!text.contains("invalid setting"), "{text}");
        }
        other => panic!("expected a lock file error, got {other:?}"),
    }
}
