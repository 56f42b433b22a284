//! Regression tests for the CLI side of issue 9 (items 6, 8, 9, 10 and 12) with the real binary:
//! whole-run output that never calls rolled-back revisions applied, options after positional
//! targets, downgrades refused under unknown children, `check` and `upgrade` agreeing after a
//! hand-edited version table, one drift advice, stamp and audit labels, and an empty directory.

mod common;

use common::{Rev, Sandbox, ok, run};
use kiln_testing::TestDb;

/// The standard set plus a revision whose second statement fails.
fn with_failing_tail(sb: &Sandbox) {
    sb.standard();
    sb.revision(&Rev::new("ff66", "ee55", "broken").sql(
        "SELECT 1;\nINSERT INTO no_such_table (id) VALUES (1);",
        Some(""),
    ));
}

fn whole_run_failure(sb: &Sandbox, url: &str) {
    with_failing_tail(sb);
    let (code, stdout, stderr) = run(sb, url, &["upgrade", "heads", "--transaction", "all"]);
    assert_eq!(code, 4, "{stdout}\n{stderr}");
    // Every revision that ran says "ran"; none says it was applied or upgraded.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines.iter().all(|l| l.starts_with("ran ")), "{stdout}");
    assert!(!stdout.contains("upgrade ") && !stdout.contains("applied"));
    assert!(!stdout.contains("committed"), "{stdout}");
    assert!(
        stderr.contains("the whole run's transaction was rolled back")
            && stderr.contains("the 5 revision(s) that ran before it")
            && stderr.contains("6 rolled back in all"),
        "{stderr}"
    );
    // The output and the database agree: nothing is applied.
    let (code, current, stderr) = run(sb, url, &["current"]);
    assert_eq!((code, current.as_str()), (0, ""), "{stderr}");
    assert!(stderr.contains("nothing is applied"), "{stderr}");

    // A run that commits says so once, after the revisions that ran.
    let up = ok(sb, url, &["upgrade", "ee55", "--transaction", "all"]);
    let lines: Vec<&str> = up.lines().collect();
    assert_eq!(lines.len(), 7, "{up}");
    assert!(lines[..5].iter().all(|l| l.starts_with("ran ")), "{up}");
    assert_eq!(lines[5], "committed 5 revisions in one transaction");
    assert!(lines[6].starts_with("applied 5 revisions in "), "{up}");
}

#[test]
fn whole_run_failure_on_sqlite_reports_nothing_applied() {
    let sb = Sandbox::new();
    let url = sb.sqlite_url("app.db");
    whole_run_failure(&sb, &url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn whole_run_failure_on_postgres_reports_nothing_applied() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    whole_run_failure(&Sandbox::new(), db.url());
    db.drop_database().await.unwrap();
}

/// `kiln stamp r2 --database-url U --dir d`, as typed during incident recovery, and options after
/// the positional argument of every other command that takes one.
#[test]
fn options_after_positional_targets() {
    let sb = Sandbox::new();
    sb.standard();
    std::fs::rename(sb.migrations(), sb.path().join("d")).unwrap();
    let url = sb.sqlite_url("app.db");
    let kiln = |args: &[&str]| {
        let out = sb.kiln().args(args).output().unwrap();
        let text = format!("{}{}", common::text(&out.stdout), common::text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "kiln {args:?}:\n{text}");
        text
    };
    let st = kiln(&["stamp", "bb22", "--database-url", &url, "--dir", "d"]);
    assert!(
        st.contains("stamp bb22: create notes (recorded as applied)"),
        "{st}"
    );
    kiln(&[
        "stamp",
        "aa11",
        "cd44",
        "--database-url",
        &url,
        "--dir",
        "d",
    ]);
    kiln(&["stamp", "--purge", "--dir", "d", "--database-url", &url]);
    kiln(&[
        "upgrade",
        "heads",
        "--database-url",
        &url,
        "--dir",
        "d",
        "--no-lock",
    ]);
    kiln(&[
        "downgrade",
        "-1",
        "--database-url",
        &url,
        "--dir",
        "d",
        "--allow-unknown",
    ]);
    kiln(&["upgrade", "+1", "--dir", "d", "--database-url", &url]);
    kiln(&["show", "bb22", "--dir", "d", "--json"]);
    kiln(&["history", "-r", "base:head", "--dir", "d", "--no-graph"]);
    let cur = kiln(&["current", "--database-url", &url, "--dir", "d"]);
    assert!(cur.contains("ee55"), "{cur}");
    // A negative step still reaches the target parser.
    let out = sb
        .kiln()
        .args(["stamp", "-1", "--database-url", &url, "--dir", "d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!common::text(&out.stderr).contains("--database-url"));
}

#[test]
fn downgrade_under_an_unknown_child_is_refused() {
    let sb = Sandbox::new();
    sb.standard();
    sb.revision(&Rev::new("ff66", "ee55", "newer"));
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["upgrade", "heads"]);
    std::fs::remove_file(sb.migrations().join("ff66_newer.sql")).unwrap();
    let (code, stdout, stderr) = run(&sb, &url, &["downgrade", "-1", "--allow-unknown"]);
    assert_eq!(code, 7, "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("refusing to downgrade")
            && stderr.contains("(ff66)")
            && stderr.contains("`kiln stamp --purge ee55`"),
        "{stderr}"
    );
    let (code, _, stderr) = run(
        &sb,
        &url,
        &["downgrade", "-1", "--allow-unknown", "--dry-run"],
    );
    assert_eq!(code, 7, "{stderr}");
    let (_, current, _) = run(&sb, &url, &["current"]);
    assert!(
        current.contains("ee55") && current.contains("ff66"),
        "{current}"
    );
}

#[test]
fn check_and_upgrade_agree_after_a_hand_deleted_row() {
    let sb = Sandbox::new();
    sb.revision(&Rev::new("aa11", "", "one").sql(
        "CREATE TABLE IF NOT EXISTS one_t (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE one_t;"),
    ));
    sb.revision(&Rev::new("bb22", "aa11", "two").sql(
        "CREATE TABLE IF NOT EXISTS two_t (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE two_t;"),
    ));
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["upgrade", "heads"]);
    // The operator's manual edit, through the same driver kiln uses.
    let edit = url.clone();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async move {
            let db = kiln_runtime::Db::connect(&edit).await.unwrap();
            let kiln_runtime::Db::Sqlite(pool) = &db else {
                unreachable!()
            };
            sqlx::query("DELETE FROM kiln_version WHERE revision = 'bb22'")
                .execute(pool)
                .await
                .unwrap();
            db.close().await;
        });
    let (code, _, stderr) = run(&sb, &url, &["check"]);
    assert_eq!(code, 6, "{stderr}");
    assert!(stderr.contains("1 revision pending (bb22)"), "{stderr}");
    let up = ok(&sb, &url, &["upgrade", "heads"]);
    assert!(up.starts_with("upgrade aa11 -> bb22: two ("), "{up}");
    assert_eq!(run(&sb, &url, &["check"]).0, 0);
}

#[test]
fn drift_advice_is_the_same_everywhere() {
    let sb = Sandbox::new();
    sb.standard();
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["upgrade", "cc33"]);
    let p = "migrations/aa11_create_users.sql";
    sb.write(p, &sb.read(p).replace("NOT NULL", "NOT NULL /* edited */"));
    let advice = kiln_runtime::advice::drift(&["cc33".to_owned()], false);
    let (code, _, check) = run(&sb, &url, &["check"]);
    assert_eq!(code, 7, "{check}");
    let (code, _, upgrade) = run(&sb, &url, &["upgrade", "heads"]);
    assert_eq!(code, 7, "{upgrade}");
    for text in [&check, &upgrade] {
        assert!(text.contains(&advice), "{text}");
        assert!(!text.contains("--purge"), "{text}");
    }
    // Following the advice keeps cd44 and ee55 pending: nothing is recorded that did not run.
    ok(&sb, &url, &["stamp", "cc33"]);
    let (code, _, stderr) = run(&sb, &url, &["check"]);
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.contains("2 revisions pending (cd44, ee55)"),
        "{stderr}"
    );
}

#[test]
fn stamp_audit_rows_say_recorded_or_removed() {
    let sb = Sandbox::new();
    sb.standard();
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["stamp", "cc33"]);
    let down = ok(&sb, &url, &["stamp", "aa11"]);
    assert!(
        down.contains("stamp cc33: add users name (removed)"),
        "{down}"
    );
    assert!(
        down.contains("stamp bb22: create notes (removed)"),
        "{down}"
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&sb, &url, &["audit", "--json"])).unwrap();
    let rows: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("aa11", "recorded"),
        ("bb22", "recorded"),
        ("cc33", "recorded"),
        ("bb22", "removed"),
        ("cc33", "removed"),
    ];
    assert_eq!(rows, want.map(|(r, o)| (r.to_owned(), o.to_owned())), "{v}");
    let table = ok(&sb, &url, &["audit"]);
    assert!(table.contains("removed"), "{table}");
    // Neither is a failure.
    let (code, _, stderr) = run(&sb, &url, &["audit", "--failed"]);
    assert_eq!(code, 0);
    assert!(stderr.contains("no audit rows match"), "{stderr}");
}

#[test]
fn empty_directory_says_no_revisions_yet() {
    let sb = Sandbox::new();
    let (code, stdout, stderr) = run(&sb, &sb.sqlite_url("app.db"), &["check", "--offline"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("migrations: no revisions yet"), "{stdout}");
    assert!(stdout.contains("kiln revision -m"), "{stdout}");
    assert!(
        stdout.contains("lock: no lock file yet (migrations/kiln.lock)"),
        "{stdout}"
    );
    assert!(!stdout.contains("lock: ok"), "{stdout}");
    assert!(!stdout.contains("0 heads"), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&ok(&sb, "", &["check", "--offline", "--json"])).unwrap();
    assert_eq!(v["lock_file"], false);

    let (code, _, stderr) = run(&sb, &sb.sqlite_url("app.db"), &["upgrade", "head"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("has no revisions yet") && stderr.contains("kiln revision -m"),
        "{stderr}"
    );
    assert!(!stderr.contains("0 heads ()"), "{stderr}");

    // Once there is a lock file (after `kiln init`, say), the lock line says so.
    sb.write("migrations/kiln.lock", "");
    let (_, stdout, _) = run(&sb, "", &["check", "--offline"]);
    assert!(
        stdout.contains("lock: migrations/kiln.lock exists and there is nothing to lock yet"),
        "{stdout}"
    );
}
