//! What the CLI shows about a run, with the real binary on SQLite (issue 10 item 6, issue 12 item
//! 10): durations in `audit` and `current -v` that are never `0 ms` for work that ran, purge rows
//! told apart from other stamps, and a failed run that names the steps it completed.

mod common;

use common::{Rev, Sandbox, ok, run};

#[test]
fn audit_and_current_show_recorded_durations_not_zero() {
    let sb = Sandbox::new();
    sb.standard();
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["upgrade", "heads"]);
    let table = ok(&sb, &url, &["audit"]);
    assert_eq!(table.lines().count(), 5, "{table}");
    for line in table.lines() {
        assert!(!line.contains("      0 ms"), "{table}");
    }
    // The merge revision runs no SQL; its row still says it took time.
    let shown = ok(&sb, &url, &["current", "-v"]);
    assert!(shown.contains("(took "), "{shown}");
    assert!(!shown.contains("(took 0 ms)"), "{shown}");
}

#[test]
fn purge_rows_are_told_apart_in_the_audit_trail() {
    let sb = Sandbox::new();
    sb.standard();
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["stamp", "cc33"]);
    ok(&sb, &url, &["stamp", "bb22"]);
    ok(&sb, &url, &["stamp", "--purge"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&sb, &url, &["audit", "--json"])).unwrap();
    let rows: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_str().unwrap_or("-").to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("aa11", "recorded"),
        ("bb22", "recorded"),
        ("cc33", "recorded"),
        ("cc33", "removed"),
        ("aa11", "purged"),
        ("bb22", "purged"),
    ];
    assert_eq!(rows, want.map(|(r, o)| (r.to_owned(), o.to_owned())), "{v}");
    let table = ok(&sb, &url, &["audit"]);
    assert_eq!(table.matches(" purged ").count(), 2, "{table}");
}

#[test]
fn failed_run_names_the_steps_it_completed() {
    let sb = Sandbox::new();
    sb.standard();
    sb.revision(&Rev::new("ff66", "ee55", "broken").sql(
        "SELECT 1;\nINSERT INTO no_such_table (id) VALUES (1);",
        Some(""),
    ));
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["upgrade", "cc33"]);
    let (code, stdout, stderr) = run(&sb, &url, &["upgrade", "heads"]);
    assert_eq!(code, 4, "{stdout}\n{stderr}");
    let after = stderr
        .split_once("completed before the failure:\n")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("{stderr}"));
    let listed: Vec<&str> = after
        .lines()
        .take_while(|l| l.starts_with("    "))
        .map(str::trim)
        .collect();
    assert_eq!(listed.len(), 2, "{stderr}");
    assert!(
        listed[0].starts_with("upgrade cd44: create tags ("),
        "{stderr}"
    );
    assert!(
        listed[1].starts_with("upgrade ee55: merge name and tags ("),
        "{stderr}"
    );
    // Its place: after the error, before the next step.
    let at = stderr.find("completed before").unwrap();
    assert!(
        stderr.find("kiln: upgrade of revision `ff66`").unwrap() < at,
        "{stderr}"
    );
}
