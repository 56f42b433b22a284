//! Issue 9 item 1 end to end: `kiln` finds section markers the way the database reads SQL, or
//! refuses the file. The attack files made `kiln upgrade head` run the downgrade's `DROP TABLE`.

mod common;

use common::{Sandbox, run, text};
use kiln_testing::{Schema, TestDb};

const BASE: &str = "-- kiln:revision 0001\n-- kiln:upgrade\nCREATE TABLE users (id INT, greeting VARCHAR(40));\nINSERT INTO users VALUES (1, 'hi');\n-- kiln:downgrade\nDROP TABLE users;\n";

/// PostgreSQL escape strings: the one-size scanner balanced the quotes across the marker.
const PG_ATTACK: &str = "-- kiln:revision 0002\n-- kiln:revises 0001\n-- kiln:upgrade\nUPDATE users SET greeting = E'it\\'s new';\n-- kiln:downgrade\nUPDATE users SET greeting = E'it\\'s old';\nDROP TABLE users;\nCREATE TABLE users_replaced (id INT);\n";

/// The same with MySQL's default backslash escapes.
const MY_ATTACK: &str = "-- kiln:revision 0002\n-- kiln:revises 0001\n-- kiln:upgrade\nUPDATE users SET greeting = 'it\\'s new';\n-- kiln:downgrade\nUPDATE users SET greeting = 'it\\'s old';\nDROP TABLE users;\nCREATE TABLE users_replaced (id INT);\n";

/// Comments nest on PostgreSQL only.
const NESTED: &str = "-- kiln:revision 0002\n-- kiln:revises 0001\n-- kiln:upgrade\n/* note /* legacy */\nUPDATE users SET greeting = 'x';\n-- kiln:downgrade\nDROP TABLE users;\n";

fn sandbox(attack: &str, toml: Option<&str>) -> Sandbox {
    let sb = Sandbox::new();
    sb.write("migrations/0001_base.sql", BASE);
    sb.write("migrations/0002_attack.sql", attack);
    if let Some(t) = toml {
        sb.write("kiln.toml", t);
    }
    sb
}

/// `kiln check` exits 3 (invalid directory) and names the file and line.
fn check_refuses(sb: &Sandbox, line: &str, also: &[&str]) {
    let out = sb.kiln().arg("check").output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(line), "{line} missing from:\n{err}");
    for a in also {
        assert!(err.contains(a), "{a} missing from:\n{err}");
    }
}

#[test]
fn attack_files_are_refused_without_a_declared_dialect() {
    check_refuses(
        &sandbox(PG_ATTACK, None),
        "migrations/0002_attack.sql:5:",
        &[
            "opened on line 4",
            "(as read by SQLite)",
            "dialect = \"postgres\"",
        ],
    );
    check_refuses(
        &sandbox(MY_ATTACK, None),
        "migrations/0002_attack.sql:5:",
        &["opened on line 4", "PostgreSQL and SQLite"],
    );
    check_refuses(
        &sandbox(NESTED, None),
        "migrations/0002_attack.sql:6:",
        &["block comment opened on line 4", "(as read by PostgreSQL)"],
    );
    // Declaring the wrong dialect does not make them pass.
    check_refuses(
        &sandbox(PG_ATTACK, Some("dialect = \"sqlite\"\n")),
        "migrations/0002_attack.sql:5:",
        &[],
    );
    check_refuses(
        &sandbox(NESTED, Some("dialect = \"postgres\"\n")),
        "migrations/0002_attack.sql:6:",
        &[],
    );
}

#[test]
fn declared_dialect_reads_the_sections_as_the_database_does() {
    let sb = sandbox(PG_ATTACK, Some("dialect = \"postgres\"\n"));
    let out = sb.kiln().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = sb.kiln().args(["show", "0002"]).output().unwrap();
    let shown = text(&out.stdout);
    assert!(!shown.contains("irreversible"), "{shown}");
}

#[test]
fn kiln_toml_problems_name_the_file_and_line() {
    let sb = sandbox(
        BASE,
        Some("dialect = \"postgres\"\n[postgres]\nstandard_conforming_string = false\n"),
    );
    sb.write("migrations/0002_attack.sql", "");
    std::fs::remove_file(sb.migrations().join("0002_attack.sql")).unwrap();
    let out = sb.kiln().arg("check").output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("kiln.toml:3:"), "{err}");
    assert!(
        err.contains("postgres.standard_conforming_strings"),
        "{err}"
    );
}

#[test]
fn delimiter_without_a_delimiter_fails_check() {
    let sb = Sandbox::new();
    sb.write(
        "migrations/0001_p.sql",
        "-- kiln:revision 0001\n-- kiln:upgrade\nCREATE TABLE t (x INT);\nDELIMITER\nSELECT 1;\n",
    );
    check_refuses(&sb, "migrations/0001_p.sql:4:", &["DELIMITER"]);
}

#[test]
fn a_set_declared_for_another_engine_is_not_run() {
    let sb = sandbox(PG_ATTACK, Some("dialect = \"postgres\"\n"));
    let url = sb.sqlite_url("x.db");
    let (code, _, stderr) = run(&sb, &url, &["upgrade", "head"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("dialect = \"postgres\""), "{stderr}");
    assert!(stderr.contains("the database is SQLite"), "{stderr}");
}

/// Runs the attack file on a real server with the dialect declared: the upgrade applies and the
/// downgrade's `DROP TABLE` does not run.
async fn upgrade_keeps_the_table(db: TestDb, attack: &str, dialect: &str) {
    let sb = sandbox(attack, Some(&format!("dialect = \"{dialect}\"\n")));
    let (code, stdout, stderr) = run(&sb, db.url(), &["upgrade", "head"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let schema = Schema::capture(db.db().clone()).await.unwrap();
    assert!(schema.table("users").is_some(), "{}", schema.to_text());
    assert!(
        schema.table("users_replaced").is_none(),
        "{}",
        schema.to_text()
    );
    // And the downgrade, run on purpose, is the whole downgrade.
    let (code, stdout, stderr) = run(&sb, db.url(), &["downgrade", "0001"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let schema = Schema::capture(db.db().clone()).await.unwrap();
    assert!(
        schema.table("users_replaced").is_some(),
        "{}",
        schema.to_text()
    );
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn postgres_escape_string_attack_keeps_the_data() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    upgrade_keeps_the_table(db, PG_ATTACK, "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn mariadb_backslash_attack_keeps_the_data() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    upgrade_keeps_the_table(db, MY_ATTACK, "mysql").await;
}
