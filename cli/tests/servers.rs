//! The running commands (upgrade, downgrade, current, history, stamp, check, audit) on
//! PostgreSQL and MariaDB/MySQL, in throwaway databases from `kiln_testing::TestDb`.
//!
//! Outside CI a server that cannot be reached makes the test print a notice and pass without
//! running; with `CI` set, `TestDb` fails the test instead.

mod common;

use common::{Sandbox, run, running_commands};
use kiln_testing::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn every_running_command_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let sb = Sandbox::new();
    running_commands(&sb, db.url());
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn every_running_command_on_mariadb() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let sb = Sandbox::new();
    running_commands(&sb, db.url());
    db.drop_database().await.unwrap();
}

/// A database that does not exist on a reachable server is a database error (exit 4), with the
/// server's own message.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn missing_database_on_a_live_server() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let url = kiln_testing::with_database(db.url(), "kiln_no_such_database");
    let sb = Sandbox::new();
    sb.standard();
    let (code, _, stderr) = run(&sb, &url, &["current"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("kiln_no_such_database"), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    db.drop_database().await.unwrap();
}
