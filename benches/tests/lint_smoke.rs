//! The lint benchmark still runs: five heavy revisions, one pass. Timing is never checked.

#[test]
fn lint_bench_runs_at_a_tiny_size() {
    let root = std::env::temp_dir().join(format!("kiln-lint-smoke-{}", std::process::id()));
    let t = kiln_bench::lint::lint_bench(&root, 5, 1).unwrap();
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(t.revisions, 5);
    assert_eq!(t.runs, 1);
    // Each heavy revision inserts and updates rows next to its DDL.
    assert!(t.findings >= 5, "{t:?}");
}
