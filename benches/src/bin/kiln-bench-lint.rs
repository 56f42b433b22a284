//! Times `kiln lint` over generated revisions: `kiln-bench-lint [N=1000] [RUNS=5]`.
//! Issue 14's target is N = 1,000 under a second. Never fails on timing.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(1000);
    let runs = args.get(1).copied().unwrap_or(5);
    let root = std::env::temp_dir().join(format!("kiln-bench-lint-{}", std::process::id()));
    let result = kiln_bench::lint::lint_bench(&root, n, runs);
    let _ = std::fs::remove_dir_all(&root);
    match result {
        Ok(t) => {
            println!(
                "lint: {} revisions, {} findings, median {:.1} ms over {} runs (target: 1,000 revisions under 1 s: {})",
                t.revisions,
                t.findings,
                t.median.as_secs_f64() * 1000.0,
                t.runs,
                if t.revisions >= 1000 && t.median.as_secs_f64() < 1.0 {
                    "yes"
                } else if t.revisions >= 1000 {
                    "NO"
                } else {
                    "n/a at this size"
                }
            );
            println!(
                "lint, history locked and one draft reported (what migrations! adds per build): median {:.1} ms",
                t.one_draft.as_secs_f64() * 1000.0
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kiln-bench-lint: {e}");
            ExitCode::FAILURE
        }
    }
}
