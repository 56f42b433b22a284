//! Times autogenerate's parts on an N-table schema per engine: `kiln-bench-autogen [N=200]`.
//! PostgreSQL and MySQL/MariaDB use `KILN_TEST_POSTGRES_URL`'s and `KILN_TEST_MYSQL_URL`'s
//! servers (each skipped with a note when unreachable).
//! Never fails on timing.

use kiln_core::Dialect;
use std::process::ExitCode;

fn main() -> ExitCode {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let Ok(rt) = tokio::runtime::Runtime::new() else {
        eprintln!("kiln-bench-autogen: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    let pg = std::env::var("KILN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let my = std::env::var("KILN_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let mut failed = false;
    for (name, dialect, server) in [
        ("SQLite", Dialect::Sqlite, None),
        ("PostgreSQL", Dialect::Postgres, Some(pg.as_str())),
        ("MySQL/MariaDB", Dialect::MySql, Some(my.as_str())),
    ] {
        match rt.block_on(kiln_bench::autogen::autogen_bench(dialect, server, n)) {
            Ok(t) => println!(
                "autogenerate {name}: {} tables, {} changes: apply+capture both {:.0} ms, plan both ways {:.1} ms, prove (up, capture, down, capture) {:.0} ms",
                t.tables,
                t.changes,
                t.capture.as_secs_f64() * 1000.0,
                t.plan.as_secs_f64() * 1000.0,
                t.prove.as_secs_f64() * 1000.0
            ),
            Err(e) if dialect != Dialect::Sqlite => {
                println!("autogenerate {name}: skipped ({e})");
            }
            Err(e) => {
                eprintln!("kiln-bench-autogen: {name}: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
