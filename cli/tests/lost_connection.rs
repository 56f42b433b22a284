//! `kiln upgrade` through a real TCP proxy that goes silent mid-revision: the command returns
//! (bounded by `--io-timeout`), exits 4, and says the connection was lost, what became of the
//! revision and to run `kiln current`, never to fix the SQL.

mod common;

use common::{Rev, Sandbox, run};
use kiln_testing::{Fault, FaultTrigger, Proxy, Scope, TestDb};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_through_a_frozen_network_says_the_connection_was_lost() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let sb = Sandbox::new();
    sb.revision(&Rev::new("a1", "", "first").sql("CREATE TABLE a (id INT);", None));
    sb.revision(&Rev::new("b2", "a1", "second").sql("CREATE TABLE freeze_here (id INT);", None));
    let (proxy, url) = Proxy::for_url(db.url()).await.unwrap();
    proxy.arm(FaultTrigger {
        needle: b"freeze_here".to_vec(),
        fault: Fault::FreezeBefore,
        scope: Scope::All,
    });
    // The proxy runs on this runtime's workers; the command blocks a thread of its own.
    let cmd = tokio::task::spawn_blocking(move || {
        let out = run(
            &sb,
            &url,
            &[
                "upgrade",
                "head",
                "--io-timeout",
                "1",
                "--lock-mode",
                "session",
            ],
        );
        drop(sb);
        out
    });
    let (code, _, stderr) = tokio::time::timeout(Duration::from_secs(60), cmd)
        .await
        .expect("kiln hung on a frozen network")
        .unwrap();
    assert_eq!(proxy.fired(), 1);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("connection to the database was lost"),
        "{stderr}"
    );
    assert!(stderr.contains("revision `b2`"), "{stderr}");
    assert!(stderr.contains("outcome: rolled back"), "{stderr}");
    assert!(stderr.contains("kiln current"), "{stderr}");
    assert!(!stderr.contains("Fix the SQL"), "{stderr}");
    drop(proxy);
    db.drop_database().await.unwrap();
}

/// The COMMIT reaches the server, then the whole network goes: kiln cannot look, so it says the
/// outcome is unknown and what to run once the database is back; it is, and shows a1 applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_whose_commit_reply_is_lost_with_the_network_says_it_cannot_know() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let sb = Sandbox::new();
    sb.revision(&Rev::new("a1", "", "first").sql("CREATE TABLE a (id INT);", None));
    let (proxy, url) = Proxy::for_url(db.url()).await.unwrap();
    proxy.arm(FaultTrigger {
        needle: b"COMMIT".to_vec(),
        fault: Fault::FreezeAfter,
        scope: Scope::All,
    });
    let direct = db.url().to_owned();
    let cmd = tokio::task::spawn_blocking(move || {
        // The session lock: `auto` takes the proxy's own port for a pooler (docs/runtime.md).
        let out = run(
            &sb,
            &url,
            &[
                "upgrade",
                "head",
                "--io-timeout",
                "1",
                "--lock-mode",
                "session",
            ],
        );
        (sb, out)
    });
    let (sb, (code, _, stderr)) = tokio::time::timeout(Duration::from_secs(60), cmd)
        .await
        .expect("kiln hung on a lost COMMIT reply")
        .unwrap();
    assert_eq!(proxy.fired(), 1);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("the COMMIT of revision `a1`"), "{stderr}");
    assert!(stderr.contains("outcome: unknown"), "{stderr}");
    assert!(stderr.contains("kiln current"), "{stderr}");
    // The network comes back with a reset; the COMMIT had landed.
    proxy.cut();
    let (code, stdout, stderr) =
        tokio::task::spawn_blocking(move || run(&sb, &direct, &["current"]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("a1"), "{stdout}");
    db.drop_database().await.unwrap();
}
