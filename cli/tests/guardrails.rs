//! `kiln upgrade` with the DDL guardrails on PostgreSQL: `--ddl-lock-timeout` makes a revision
//! stuck behind another session's open transaction give up, exit 4 with a message naming the
//! blocking session and a help line, and leave the database as it was; `KILN_DDL_RETRIES` (and
//! kiln.toml) make the next run wait for the blocker and succeed.

mod common;

use common::{Rev, Sandbox, ok, run};
use kiln_runtime::RawConnection;
use kiln_testing::TestDb;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_revision_gives_up_names_the_blocker_and_retries() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let sb = Sandbox::new();
    sb.revision(&Rev::new("aa11", "", "create t").sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE t;"),
    ));
    sb.revision(&Rev::new("bb22", "aa11", "add c").sql(
        "ALTER TABLE t ADD COLUMN c INTEGER;",
        Some("ALTER TABLE t DROP COLUMN c;"),
    ));
    ok(&sb, db.url(), &["upgrade", "aa11"]);

    let mut blocker = RawConnection::acquire(db.db()).await.unwrap();
    blocker.close_on_drop();
    blocker
        .script("SET application_name = 'cli_blocker'; BEGIN; SELECT count(*) FROM t")
        .await
        .unwrap();
    let pid = blocker
        .rows("SELECT CAST(pg_backend_pid() AS INT8)", &[0])
        .await
        .unwrap()[0][0]
        .clone()
        .unwrap();

    let url = db.url().to_owned();
    let sb = std::sync::Arc::new(sb);
    let failed = {
        let (sb, url) = (sb.clone(), url.clone());
        tokio::task::spawn_blocking(move || {
            run(
                &sb,
                &url,
                &["upgrade", "heads", "--ddl-lock-timeout", "200ms"],
            )
        })
        .await
        .unwrap()
    };
    let (code, _, stderr) = failed;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("revision `bb22` gave up waiting for a lock")
            && stderr.contains(&format!("pid {pid} (application `cli_blocker`")),
        "{stderr}"
    );
    assert!(
        stderr.contains("help:") && stderr.contains("--ddl-retries"),
        "{stderr}"
    );
    assert!(ok(&sb, &url, &["current"]).contains("aa11"));

    // A bad duration is a usage error that says how to write one.
    let (code, _, stderr) = run(&sb, &url, &["upgrade", "heads", "--ddl-lock-timeout", "5"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`5s`"), "{stderr}");

    // With retries (from the environment) and the limit from kiln.toml, the run waits for the
    // blocker, which commits once kiln has tried at least once.
    sb.write("kiln.toml", "ddl_lock_timeout = \"200ms\"\n");
    let retried = {
        let (sb, url) = (sb.clone(), url.clone());
        tokio::task::spawn_blocking(move || {
            let out = sb
                .kiln()
                .env("DATABASE_URL", &url)
                .env("KILN_DDL_RETRIES", "50")
                .args(["upgrade", "heads"])
                .output()
                .expect("run kiln");
            (out.status.code().unwrap_or(-1), common::text(&out.stderr))
        })
    };
    let started = std::time::Instant::now();
    loop {
        let n = blocker
            .rows(
                "SELECT CAST(count(*) AS INT8) FROM kiln_audit WHERE revision = 'bb22' AND outcome = 'retry'",
                &[0],
            )
            .await
            .unwrap()[0][0]
            .clone()
            .unwrap();
        if n != "0" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "kiln never retried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    blocker.script("COMMIT").await.unwrap();
    let (code, stderr) = retried.await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(ok(&sb, &url, &["current"]).contains("bb22"));
    drop(blocker);
    db.drop_database().await.unwrap();
}

/// The directives are shown by `kiln show`, and a bad duration stops `kiln check` with the file,
/// the line and how to write one (exit 3).
#[test]
fn directives_are_shown_and_a_bad_one_is_refused_at_its_line() {
    let sb = Sandbox::new();
    sb.write(
        "migrations/aa11_add.sql",
        "-- kiln:revision aa11\n-- kiln:lock-timeout 5s\n-- kiln:statement-timeout 10min\n\n-- kiln:upgrade\nCREATE TABLE t (id INTEGER);\n",
    );
    let text = ok(&sb, "sqlite::memory:", &["show", "aa11"]);
    assert!(
        text.contains("Lock timeout: 5s") && text.contains("Statement timeout: 10min"),
        "{text}"
    );
    let json = ok(&sb, "sqlite::memory:", &["show", "aa11", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["lock_timeout_ms"], 5000);
    assert_eq!(v["statement_timeout_ms"], 600_000);

    sb.write(
        "migrations/aa11_add.sql",
        "-- kiln:revision aa11\n-- kiln:lock-timeout 5 seconds\n\n-- kiln:upgrade\nCREATE TABLE t (id INTEGER);\n",
    );
    let (code, _, stderr) = run(&sb, "sqlite::memory:", &["check"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(
            "migrations/aa11_add.sql:2: malformed `-- kiln:lock-timeout` value `5 seconds`"
        ) && stderr
            .contains("help: write a whole number and a unit, e.g. `-- kiln:lock-timeout 5s`"),
        "{stderr}"
    );
}
