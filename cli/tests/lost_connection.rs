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
