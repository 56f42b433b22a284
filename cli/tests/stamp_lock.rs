//! A revision that another runner is applying right now is "in progress", not "dirty", in
//! `kiln check` and `kiln current`, and `kiln stamp` refuses to record a state while that runner
//! holds the run lock (issue 9 item 2). A real `kiln upgrade` process applies a slow
//! `transaction false` revision while the other commands run, on PostgreSQL, MariaDB and SQLite.

mod common;

use common::{Rev, Sandbox, run, text};
use kiln_testing::TestDb;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `p1`, then `p2`, a `transaction false` revision running `slow`.
fn write_set(sb: &Sandbox, slow: &'static str) {
    sb.revision(&Rev::new("p1", "", "first").sql("CREATE TABLE p1_t (id INTEGER);", None));
    sb.revision(
        &Rev::new("p2", "p1", "slow")
            .sql(slow, None)
            .non_transactional(),
    );
}

/// The `current --json` state, read with the binary.
fn state(sb: &Sandbox, url: &str) -> serde_json::Value {
    let (code, stdout, stderr) = run(sb, url, &["current", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn scenario(url: &str, slow: &'static str) {
    let sb = Sandbox::new();
    write_set(&sb, slow);
    let runner = sb
        .kiln_std()
        .env("DATABASE_URL", url)
        .args(["upgrade", "heads"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until p2 is marked as running by the runner.
    let started = Instant::now();
    loop {
        let st = state(&sb, url);
        if st["in_progress"] == serde_json::json!(["p2"]) {
            assert_eq!(st["dirty"], serde_json::json!([]), "{st}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "p2 never started: {st}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let (code, stdout, stderr) = run(&sb, url, &["current"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("`p2` is being applied by another runner"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("dirty;") && !stderr.contains("is dirty"),
        "{stderr}"
    );
    assert!(stdout.contains("p1"), "{stdout}");

    let (code, _, stderr) = run(&sb, url, &["check"]);
    assert_eq!(code, 6, "in progress is not dirty (8): {stderr}");
    assert!(
        stderr.contains("`p2` is being applied by another runner"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("kiln stamp"),
        "no repair advice while it runs: {stderr}"
    );

    // The advice a dirty database would get: it must not undo what the runner applies.
    let before = Instant::now();
    let (code, _, stderr) = run(&sb, url, &["stamp", "p1"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("another runner holds the migration lock"),
        "{stderr}"
    );
    assert!(
        before.elapsed() < Duration::from_secs(20),
        "stamp refuses at once instead of waiting for the lock"
    );

    let out = runner.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let st = state(&sb, url);
    assert_eq!(
        st["at_head"], true,
        "the runner's revisions are all recorded: {st}"
    );
    let (code, _, stderr) = run(&sb, url, &["check"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn in_progress_is_not_dirty_and_stamp_refuses_on_sqlite() {
    let sb = Sandbox::new();
    let url = sb.sqlite_url("app.db");
    scenario(
        &url,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 6000000) SELECT count(*) FROM c;",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn in_progress_is_not_dirty_and_stamp_refuses_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let url = db.url().to_owned();
    tokio::task::spawn_blocking(move || scenario(&url, "SELECT pg_sleep(6);"))
        .await
        .unwrap();
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn in_progress_is_not_dirty_and_stamp_refuses_on_mariadb() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let url = db.url().to_owned();
    tokio::task::spawn_blocking(move || scenario(&url, "SELECT SLEEP(6);"))
        .await
        .unwrap();
    db.drop_database().await.unwrap();
}
