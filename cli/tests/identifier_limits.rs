//! Bookkeeping table names the engine cannot hold are a usage error (exit 2) before anything
//! connects (issue 9 item 12): PostgreSQL truncates identifiers over 63 bytes, so a 63-character
//! version table's `_state` table landed on the version table itself, and MariaDB refuses table
//! names over 64 characters.

mod common;

use common::{Sandbox, run};
use kiln_testing::TestDb;

#[test]
fn names_too_long_for_the_engine_exit_2_before_connecting() {
    let sb = Sandbox::new();
    sb.standard();
    for (url, len, most) in [
        ("postgres://kiln@127.0.0.1:1/db", 63, 57),
        ("postgres://kiln@127.0.0.1:1/db", 58, 57),
        ("mariadb://kiln@127.0.0.1:1/db", 60, 58),
        ("mysql://kiln@127.0.0.1:1/db", 59, 58),
    ] {
        let name = "v".repeat(len);
        let (code, _, stderr) = run(&sb, url, &["--version-table", &name, "current"]);
        assert_eq!(code, 2, "{url} {len}: {stderr}");
        assert!(stderr.contains(&format!("{name}_state")), "{stderr}");
        assert!(
            stderr.contains(&format!("at most {most} characters")),
            "{stderr}"
        );
        assert!(stderr.contains("--version-table"), "{stderr}");
    }
    // 64 characters is over every engine's limit for any name.
    let (code, _, stderr) = run(
        &sb,
        "sqlite://app.db",
        &["--audit-table", &"a".repeat(64), "current"],
    );
    assert_eq!(code, 2, "{stderr}");
}

/// The longest version table the engine allows is used end to end.
async fn longest_allowed_works(db: Option<TestDb>, len: usize) {
    let Some(db) = db else {
        return;
    };
    let sb = Sandbox::new();
    sb.standard();
    let name = "v".repeat(len);
    for args in [&["upgrade", "heads"][..], &["check"]] {
        let (code, _, stderr) = run(
            &sb,
            db.url(),
            &[&["--version-table", &name][..], args].concat(),
        );
        assert_eq!(code, 0, "{args:?}: {stderr}");
    }
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_longest_allowed_version_table_works_on_postgres() {
    longest_allowed_works(TestDb::postgres().await, 57).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_longest_allowed_version_table_works_on_mariadb() {
    longest_allowed_works(TestDb::mysql().await, 58).await;
}
