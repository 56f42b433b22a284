//! `--each`: fleets of SQLite files, a broken tenant, a killed run completed by a rerun, two
//! processes on one list, PostgreSQL schemas and MySQL databases on one server, a list from a
//! control database, and passwords never shown.

mod common;

use common::{Sandbox, text};
use kiln_runtime::RawConnection;
use kiln_testing::TestDb;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// A sandbox with the standard set (4 revisions to reach the head) and `n` empty SQLite files
/// in `data/`.
fn fleet(n: usize) -> Sandbox {
    let sb = Sandbox::new();
    sb.standard();
    for i in 0..n {
        sb.write(&format!("data/t{i:02}.db"), "");
    }
    sb
}

fn kiln(sb: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let out = sb.kiln().args(args).output().expect("run kiln");
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// The number of databases a summary table lists for `what`: the line `  applied      47`.
fn summary_count(stdout: &str, what: &str) -> usize {
    stdout
        .lines()
        .filter_map(|l| l.trim().rsplit_once(' '))
        .filter(|(k, _)| k.trim() == what)
        .find_map(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

/// Runs SQL on a test database.
async fn sql(db: &TestDb, text: &str) {
    let mut c = RawConnection::acquire(db.db()).await.unwrap();
    c.script(text.to_owned()).await.unwrap();
}

#[test]
fn a_sqlite_fleet_with_four_jobs_reaches_head_and_check_current_agree() {
    let sb = fleet(50);
    let glob = "data/*.db";
    let (code, stdout, stderr) = kiln(
        &sb,
        &["upgrade", "heads", "--each-sqlite", glob, "--jobs", "4"],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(summary_count(&stdout, "applied"), 50, "{stdout}");
    assert!(stdout.contains("fleet: 50 databases in "), "{stdout}");
    assert!(
        stdout.contains("applied 5 revisions (") && stdout.contains("sqlite://data/t07.db"),
        "{stdout}"
    );
    let (code, stdout, _) = kiln(&sb, &["check", "--each-sqlite", glob]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(summary_count(&stdout, "at head"), 50, "{stdout}");
    let (code, stdout, _) = kiln(&sb, &["current", "--each-sqlite", glob, "--json"]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 51, "one object per database and a summary");
    assert_eq!(lines[0]["current"], serde_json::json!(["ee55"]));
    assert_eq!(lines[50]["summary"]["databases"], 50);
    let (code, stdout, _) = kiln(&sb, &["upgrade", "heads", "--each-sqlite", glob]);
    assert_eq!(code, 0);
    assert_eq!(summary_count(&stdout, "at head"), 50, "{stdout}");
}

#[test]
fn a_broken_tenant_fails_the_others_finish_and_the_exit_code_says_partial_failure() {
    let sb = fleet(12);
    // bb22 creates `notes`; tenant 7 already has one, so its bb22 fails.
    let setup = tokio::runtime::Runtime::new().unwrap();
    setup.block_on(async {
        let db = kiln_runtime::Db::connect(&sb.sqlite_url("data/t07.db"))
            .await
            .unwrap();
        let mut c = RawConnection::acquire(&db).await.unwrap();
        c.script("CREATE TABLE notes (x TEXT)").await.unwrap();
    });
    let args = [
        "upgrade",
        "heads",
        "--each-sqlite",
        "data/*.db",
        "--jobs",
        "3",
    ];
    let (code, stdout, stderr) = kiln(&sb, &[&args[..], &["--keep-going"]].concat());
    assert_eq!(code, 13, "{stdout}\n{stderr}");
    assert_eq!(summary_count(&stdout, "applied"), 11, "{stdout}");
    assert_eq!(summary_count(&stdout, "failed"), 1, "{stdout}");
    let failed = stdout
        .split("\nfailed:\n")
        .nth(1)
        .expect("a failed section");
    assert!(
        failed.contains("failed at revision bb22") && failed.contains("sqlite://data/t07.db"),
        "{stdout}"
    );
    // JSON names it too, and the rerun leaves it failed and the others at head.
    let (code, stdout, _) = kiln(&sb, &[&args[..], &["--keep-going", "--json"]].concat());
    assert_eq!(code, 13);
    let broken: serde_json::Value = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["outcome"] == "failed")
        .expect("the failed database");
    assert_eq!(broken["database"], "sqlite://data/t07.db");
    assert_eq!(broken["revision"], "bb22");
    assert!(stdout.contains("\"at head\":11"), "{stdout}");

    // Without --keep-going nothing starts after the failure.
    let sb2 = fleet(30);
    setup.block_on(async {
        let db = kiln_runtime::Db::connect(&sb2.sqlite_url("data/t01.db"))
            .await
            .unwrap();
        let mut c = RawConnection::acquire(&db).await.unwrap();
        c.script("CREATE TABLE notes (x TEXT)").await.unwrap();
    });
    let (code, stdout, _) = kiln(
        &sb2,
        &[
            "upgrade",
            "heads",
            "--each-sqlite",
            "data/*.db",
            "--jobs",
            "1",
        ],
    );
    assert_eq!(code, 13, "{stdout}");
    assert_eq!(summary_count(&stdout, "skipped"), 28, "{stdout}");
    assert!(
        stdout.contains("skipped 28 databases (earlier failure); run the same command again"),
        "{stdout}"
    );

    // A failing canary stops everything else, --keep-going or not.
    let (code, stdout, _) = kiln(&sb2, &["upgrade", "heads", "--each-sqlite", "nothing/*.db"]);
    assert_eq!(code, 2, "an unmatched pattern is a usage error: {stdout}");
    let (code, stdout, _) = kiln(
        &sb2,
        &[
            "upgrade",
            "heads",
            "--each-sqlite",
            "data/t*.db",
            "--canary",
            "2",
            "--keep-going",
        ],
    );
    assert_eq!(code, 13);
    assert_eq!(summary_count(&stdout, "skipped"), 28, "{stdout}");
    assert!(stdout.contains("(canary failed)"), "{stdout}");
}

#[test]
fn a_killed_run_is_completed_by_a_rerun() {
    let sb = fleet(120);
    let mut child = sb
        .kiln_std()
        .args([
            "upgrade",
            "heads",
            "--each-sqlite",
            "data/*.db",
            "--jobs",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    for _ in 0..10 {
        lines.next().expect("a result line").unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, stdout, stderr) = kiln(&sb, &["upgrade", "heads", "--each-sqlite", "data/*.db"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(summary_count(&stdout, "at head") >= 10, "{stdout}");
    assert_eq!(
        summary_count(&stdout, "at head") + summary_count(&stdout, "applied"),
        120
    );
    let (code, stdout, _) = kiln(&sb, &["check", "--each-sqlite", "data/*.db"]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn two_processes_on_one_list_apply_each_database_once() {
    let sb = fleet(40);
    let list: String = (0..40)
        .map(|i| format!("{}\n", sb.sqlite_url(&format!("data/t{i:02}.db"))))
        .collect();
    sb.write("fleet.txt", &format!("# tenants\n\n{list}"));
    let spawn = || {
        sb.kiln_std()
            .args([
                "upgrade",
                "heads",
                "--each",
                "fleet.txt",
                "--jobs",
                "3",
                "--json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b.stderr));
    let mut applied = std::collections::HashMap::<String, usize>::new();
    for out in [&a.stdout, &b.stdout] {
        for l in text(out).lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["outcome"] == "applied" {
                assert_eq!(v["revisions"].as_array().unwrap().len(), 5);
                *applied.entry(v["database"].to_string()).or_default() += 1;
            }
        }
    }
    assert_eq!(applied.len(), 40, "every database applied");
    assert!(applied.values().all(|&n| n == 1), "{applied:?}");
    // The audit trail of one of them holds each revision once.
    let (code, stdout, _) = kiln(
        &sb,
        &[
            "--database-url",
            &sb.sqlite_url("data/t05.db"),
            "audit",
            "--json",
        ],
    );
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 5, "{stdout}");
}

#[test]
fn a_control_database_lists_the_fleet_and_a_missing_list_is_a_usage_error() {
    let sb = fleet(3);
    let control = sb.sqlite_url("control.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = kiln_runtime::Db::connect(&control).await.unwrap();
        let mut c = RawConnection::acquire(&db).await.unwrap();
        c.script(format!(
            "CREATE TABLE tenants (url TEXT); INSERT INTO tenants VALUES ('{}'), ('{}')",
            sb.sqlite_url("data/t00.db"),
            sb.sqlite_url("data/t02.db")
        ))
        .await
        .unwrap();
    });
    let (code, stdout, stderr) = kiln(
        &sb,
        &[
            "--database-url",
            &control,
            "upgrade",
            "heads",
            "--each-query",
            "SELECT url FROM tenants",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(summary_count(&stdout, "applied"), 2, "{stdout}");
    let (code, _, stderr) = kiln(&sb, &["upgrade", "heads", "--each", "nope.txt"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot read the list of databases `nope.txt`"),
        "{stderr}"
    );
    let (code, _, stderr) = kiln(&sb, &["upgrade", "heads", "--jobs", "2"]);
    assert_eq!(code, 2, "--jobs needs a fleet: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn postgres_schema_per_tenant_with_each_schema() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    for i in 1..=5 {
        sql(&db, &format!("CREATE SCHEMA tenant_{i}")).await;
    }
    sql(&db, "CREATE SCHEMA other").await;
    // Tenant 4 already has `notes`: its bb22 fails, the others finish.
    sql(&db, "CREATE TABLE tenant_4.notes (x TEXT)").await;
    let sb = Sandbox::new();
    sb.standard();
    let url = db.url().to_owned();
    let each = ["--each-schema", "tenant_%", "--keep-going"];
    let (code, stdout, stderr) = kiln(
        &sb,
        &[&["--database-url", &url, "upgrade", "heads"][..], &each].concat(),
    );
    assert_eq!(code, 13, "{stdout}\n{stderr}");
    assert_eq!(summary_count(&stdout, "applied"), 4, "{stdout}");
    assert!(
        stdout.contains("failed at revision bb22") && stdout.contains("search_path%3Dtenant_4"),
        "{stdout}"
    );
    let (code, stdout, _) = kiln(
        &sb,
        &[&["--database-url", &url, "check"][..], &each[..2]].concat(),
    );
    assert_eq!(code, 6, "tenant_4 is behind: {stdout}");
    assert_eq!(summary_count(&stdout, "at head"), 4, "{stdout}");
    assert_eq!(summary_count(&stdout, "behind"), 1, "{stdout}");
    // One tenant by hand, as docs/cli.md's recipe says: the same tables and the same lock.
    sql(&db, "DROP TABLE tenant_4.notes").await;
    let one = kiln_runtime::url::with_search_path(&url, "tenant_4");
    let (code, stdout, stderr) = kiln(
        &sb,
        &[
            "--database-url",
            &one,
            "--schema",
            "tenant_4",
            "upgrade",
            "heads",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (code, stdout, _) = kiln(
        &sb,
        &[&["--database-url", &url, "check"][..], &each[..2]].concat(),
    );
    assert_eq!(code, 0, "{stdout}");
    let mut c = RawConnection::acquire(db.db()).await.unwrap();
    let rows = c
        .rows(
            "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'tags' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let schemas: Vec<String> = rows.into_iter().filter_map(|r| r[0].clone()).collect();
    assert_eq!(
        schemas,
        ["tenant_1", "tenant_2", "tenant_3", "tenant_4", "tenant_5"]
    );
    drop(c);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn mysql_databases_matching_a_pattern() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let base = db.url().rsplit('/').next().unwrap().to_owned();
    let names: Vec<String> = (1..=3).map(|i| format!("{base}_t{i}")).collect();
    for n in &names {
        sql(&db, &format!("CREATE DATABASE `{n}`")).await;
    }
    let sb = Sandbox::new();
    sb.standard();
    let pattern = format!("{base}_t%");
    let (code, stdout, stderr) = kiln(
        &sb,
        &[
            "--database-url",
            db.url(),
            "upgrade",
            "heads",
            "--each-schema",
            &pattern,
            "--jobs",
            "3",
        ],
    );
    let (check, checked, _) = kiln(
        &sb,
        &[
            "--database-url",
            db.url(),
            "check",
            "--each-schema",
            &pattern,
        ],
    );
    for n in &names {
        sql(&db, &format!("DROP DATABASE `{n}`")).await;
    }
    db.drop_database().await.unwrap();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(summary_count(&stdout, "applied"), 3, "{stdout}");
    assert_eq!(check, 0, "{checked}");
    assert_eq!(summary_count(&checked, "at head"), 3, "{checked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn passwords_in_a_fleet_list_are_never_shown() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let sb = Sandbox::new();
    sb.standard();
    // A wrong database with a password: the server's refusal is reported, the password is not.
    let with_password = db
        .url()
        .replacen("://postgres@", "://postgres:Hunter2secret@", 1);
    let missing = kiln_runtime::url::with_database(&with_password, "kiln_fleet_no_such_db");
    sb.write("fleet.txt", &format!("{missing}\n"));
    let (code, stdout, stderr) = kiln(&sb, &["upgrade", "heads", "--each", "fleet.txt"]);
    let (jcode, json, jerr) = kiln(&sb, &["upgrade", "heads", "--each", "fleet.txt", "--json"]);
    db.drop_database().await.unwrap();
    assert_eq!(code, 13, "{stdout}\n{stderr}");
    assert_eq!(jcode, 13);
    for text in [&stdout, &stderr, &json, &jerr] {
        assert!(!text.contains("Hunter2secret"), "{text}");
    }
    assert!(stdout.contains("postgres:***@"), "{stdout}");
}
