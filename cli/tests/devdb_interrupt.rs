//! Ctrl-C during `kiln schema dump`: the dev database kiln created on the server is dropped
//! before it exits, with the interrupted exit code (issue 11: "drops every temporary database
//! afterwards, also on error or Ctrl-C").

mod common;

use common::Sandbox;
use kiln_runtime::Db;
use std::time::{Duration, Instant};

/// The dev databases of process `pid` on the test server (kiln names them
/// `kiln_dev_<time>_<pid>_<n>`, so tests running beside this one are not counted).
async fn dev_databases_of(db: &Db, pid: u32) -> Vec<String> {
    let Db::Postgres(pool) = db else {
        panic!("a PostgreSQL test database");
    };
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(format!("kiln\\_dev\\_%\\_{pid}\\_%"))
            .fetch_all(pool)
            .await
            .expect("list databases");
    rows.into_iter().map(|r| r.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_schema_dump_drops_the_dev_database() {
    let Some(t) = kiln_testing::TestDb::postgres().await else {
        return;
    };
    let sb = Sandbox::new();
    // A head that takes a while to replay, so the dev database exists when Ctrl-C comes.
    sb.write(
        "migrations/a1_slow.sql",
        "-- kiln:revision a1\n\n-- kiln:upgrade\nCREATE TABLE t (id INT PRIMARY KEY);\nSELECT pg_sleep(60);\n",
    );
    let child = sb
        .kiln_std()
        .args([
            "schema",
            "dump",
            "--dialect",
            "postgres",
            "--dev-url",
            t.url(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start kiln");
    let pid = child.id();
    let start = Instant::now();
    let created = loop {
        let names = dev_databases_of(t.db(), pid).await;
        if !names.is_empty() {
            break names;
        }
        assert!(
            start.elapsed() < Duration::from_secs(50),
            "kiln never created its dev database"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Give the replay a moment to reach the slow statement, then press Ctrl-C.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("send SIGINT");
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait for kiln");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("stopped by Ctrl-C"), "{stderr}");
    assert!(
        dev_databases_of(t.db(), pid).await.is_empty(),
        "the dev database {created:?} outlived the interrupted run"
    );
    t.drop_database().await.expect("drop test database");
}
