//! kiln's MySQL/MariaDB reading against a real server: every statement kiln splits is executed
//! one at a time and must be accepted and select exactly the values the generator meant, in the
//! server's default mode and with `NO_BACKSLASH_ESCAPES`. The statements only `SELECT` literals,
//! so they touch no table.
//!
//! Needs `KILN_TEST_MYSQL_URL`; outside CI a missing variable skips with a notice, in CI it fails.

use kiln_core::lex::{Dialect, Syntax};
use kiln_difftest::{Case, case, kiln_reading};
use sqlx::{Connection, MySqlConnection, Row};

fn url() -> Option<String> {
    match std::env::var("KILN_TEST_MYSQL_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("KILN_TEST_MYSQL_URL is not set in CI")
        }
        Err(_) => {
            eprintln!("SKIPPED: set KILN_TEST_MYSQL_URL to run the MariaDB differential tests");
            None
        }
    }
}

async fn values(conn: &mut MySqlConnection, sql: &str) -> Result<Vec<String>, String> {
    let row = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| format!("MariaDB rejects {sql:?}: {e}"))?;
    (0..row.len())
        .map(|i| {
            row.try_get::<String, _>(i)
                .map_err(|e| format!("column {i} of {sql:?}: {e}"))
        })
        .collect()
}

async fn check(conn: &mut MySqlConnection, c: &Case, syntax: Syntax) -> Result<(), String> {
    let Some(reading) = kiln_reading(c, syntax)? else {
        return Ok(());
    };
    let sections =
        std::iter::once((&reading.up, &c.up)).chain(reading.down.iter().zip(c.down.iter()));
    for (statements, meant) in sections {
        for (sql, meant) in statements.iter().zip(meant) {
            let got = values(conn, sql).await?;
            if &got != meant {
                return Err(format!(
                    "statement {sql:?}: MariaDB selects {got:?}, the generator meant {meant:?}"
                ));
            }
        }
    }
    Ok(())
}

async fn run(syntax: Syntax, mode: Option<&str>, default_cases: u64) {
    let Some(url) = url() else {
        return;
    };
    let mut conn = MySqlConnection::connect(&url)
        .await
        .expect("connect to MariaDB");
    if let Some(mode) = mode {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SET SESSION sql_mode = '{mode}'"
        )))
        .execute(&mut conn)
        .await
        .expect("set sql_mode");
    }
    let first = kiln_difftest::first_seed();
    let n = kiln_difftest::cases(default_cases);
    let mut failure = None;
    for seed in first..first + n {
        let c = case(syntax, seed, seed % 3 == 0);
        if let Err(e) = check(&mut conn, &c, syntax).await {
            failure = Some(format!(
                "case KILN_DIFF_SEED={seed} failed: {e}\n--- file ---\n{}",
                c.file
            ));
            break;
        }
    }
    conn.close().await.ok();
    if let Some(f) = failure {
        panic!("{syntax}: {f}");
    }
    eprintln!("{syntax}: {n} cases from seed {first} agree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn mariadb_reading_matches_the_server() {
    run(Syntax::new(Dialect::MySql), None, 600).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn mariadb_no_backslash_escapes_matches_the_server() {
    let nbe = Syntax::new(Dialect::MySql).with_backslash_escapes(false);
    run(nbe, Some("NO_BACKSLASH_ESCAPES"), 300).await;
}
