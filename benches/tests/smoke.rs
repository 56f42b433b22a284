//! The harness itself still runs: every scenario at tiny sizes. Timing is never checked.
//! PostgreSQL and MariaDB are used when reachable (KILN_BENCH_PG / KILN_BENCH_MYSQL) and skipped
//! otherwise; the scratch crates of scenarios 3 and 4 are generated and checked with
//! `cargo metadata` but only built with KILN_BENCH_SMOKE_BUILD=1, and Alembic only runs with
//! KILN_BENCH_SMOKE_ALEMBIC=1, to keep the test light.

use kiln_bench::{Config, run};
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_at_tiny_sizes() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    // <target>/debug/deps/smoke-*
    let target_dir = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .to_path_buf();
    let cfg = Config::smoke(workspace, target_dir);
    let results = run(&cfg).await;
    let table = results.render();
    println!("{table}");
    let stopped: Vec<&String> = results
        .notes
        .iter()
        .filter(|n| n.starts_with("scenario "))
        .collect();
    assert!(stopped.is_empty(), "{stopped:?}\n{table}");
    for group in ["1. no-op start-up check, SQLite file", "2. apply 4 small"] {
        assert!(
            results.rows.iter().any(|r| r.group.starts_with(group)),
            "no rows for {group}:\n{table}"
        );
    }
    assert!(
        results.rows.iter().any(|r| r.group.starts_with("3.")),
        "{table}"
    );
    assert!(
        results.rows.iter().any(|r| r.group.starts_with("5.")),
        "{table}"
    );
    assert!(
        results.rows.iter().any(|r| r.group.starts_with("6.")),
        "{table}"
    );
    assert!(results.rows.iter().all(|r| r.value.is_finite()), "{table}");
}
