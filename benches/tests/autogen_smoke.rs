//! The autogenerate benchmark still runs, and its proof holds: ten SQLite tables, one pass.
//! Timing is never checked.

#[tokio::test]
async fn autogen_bench_runs_at_a_tiny_size() {
    let t = kiln_bench::autogen::autogen_bench(kiln_core::Dialect::Sqlite, None, 10)
        .await
        .unwrap();
    assert_eq!(t.tables, 10);
    // Tables 0 is touched: a column, an index, a default (a SQLite rebuild and an index).
    assert!(t.changes >= 2, "{t:?}");
}
