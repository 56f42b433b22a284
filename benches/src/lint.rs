//! `kiln lint` speed (issue 14: 1,000 revisions under a second): the heavy set, every revision
//! in scope, PostgreSQL rules, timed from the loaded set to the findings.

use crate::sets::{Kind, Set};
use std::path::Path;
use std::time::{Duration, Instant};

/// One lint measurement.
#[derive(Debug, Clone)]
pub struct LintTiming {
    /// Revisions linted.
    pub revisions: usize,
    /// Findings of one run.
    pub findings: usize,
    /// Median of the runs.
    pub median: Duration,
    /// Median of the same lint with every revision but the last locked and only the draft
    /// reported: what `migrations!` with the `lint` feature adds to each build.
    pub one_draft: Duration,
    /// Runs timed.
    pub runs: usize,
}

/// Writes `n` heavy revisions under `root/lint`, loads them, and times `runs` lint passes.
pub fn lint_bench(root: &Path, n: usize, runs: usize) -> std::io::Result<LintTiming> {
    let dir = root.join("lint");
    Set::new(Kind::Heavy, n).write_kiln(&dir)?;
    let md = kiln_core::MigrationDir::new(&dir, "migrations");
    let set = kiln_core::load_dir(&md)
        .map_err(|d| std::io::Error::other(d.to_string()))?
        .set;
    let opts = kiln_lint::Options::new(kiln_core::Dialect::Postgres);
    let mut times = Vec::with_capacity(runs.max(1));
    let mut findings = 0;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let f = kiln_lint::lint(
            &set,
            &opts,
            |r| md.display_file(r.file()),
            |_| String::new(),
            |_| true,
        );
        times.push(start.elapsed());
        findings = f.len();
    }
    times.sort();
    // The history locked, the last revision a draft: what the macro sees in a real project.
    let mut lock = kiln_core::Lock::default();
    for r in set.revisions().iter().take(set.len().saturating_sub(1)) {
        lock.insert(r.id(), r.checksum(), r.file());
    }
    std::fs::write(dir.join("kiln.lock"), lock.render())?;
    let locked = kiln_core::load_dir(&md)
        .map_err(|d| std::io::Error::other(d.to_string()))?
        .set;
    let mut drafts = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        kiln_lint::lint(
            &locked,
            &opts,
            |r| md.display_file(r.file()),
            |_| String::new(),
            kiln_core::Revision::is_draft,
        );
        drafts.push(start.elapsed());
    }
    drafts.sort();
    Ok(LintTiming {
        revisions: set.len(),
        findings,
        median: times[times.len() / 2],
        one_draft: drafts[drafts.len() / 2],
        runs: times.len(),
    })
}
