//! `--each`: `upgrade`, `downgrade`, `current` and `check` on a fleet of databases (a list of
//! URLs, SQLite files matching a pattern, schemas or databases matching a pattern on one server,
//! or the rows of a query against a control database).
//!
//! Its flags are declared here and flattened into those commands' arguments; `action.rs` turns
//! them into one [`FleetSettings`]. The work is the runtime's `Migrator::run_each`; this module
//! lists the targets, draws the progress bar (counts), prints one line (or one JSON object) per
//! database as it finishes, then the summary table, and picks the exit code: the fleet's own
//! `partial failure` when a database failed or was skipped.

use super::db::migrator;
use crate::error::{Code, Fail};
use crate::out;
use crate::settings::Settings;
use anyhow::Context as _;
use kiln_runtime::fleet::{
    DbResult, FleetOp, FleetOptions, FleetReport, FleetTarget, Outcome, Target,
};
use kiln_runtime::{Options, Status};
use serde_json::{Value, json};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The fleet flags of `upgrade`, `downgrade`, `current` and `check`.
#[derive(Debug, Default, clap::Args)]
pub struct EachArgs {
    /// Run on every database listed in FILE, one URL per line (`-` reads stdin; blank lines and
    /// `#` comments are skipped)
    #[arg(
        long,
        value_name = "FILE",
        group = "each_source",
        help_heading = "Fleets"
    )]
    pub each: Option<String>,
    /// Run on every SQLite file matching GLOB (`*`, `?` in any path component), e.g. 'data/*.db'
    #[arg(
        long,
        value_name = "GLOB",
        group = "each_source",
        help_heading = "Fleets"
    )]
    pub each_sqlite: Option<String>,
    /// Run on every PostgreSQL schema (MySQL: database) matching the SQL LIKE PATTERN on the
    /// server of --database-url, e.g. 'tenant_%'
    #[arg(
        long,
        value_name = "PATTERN",
        group = "each_source",
        help_heading = "Fleets"
    )]
    pub each_schema: Option<String>,
    /// Run on every URL the first column of SQL returns, run against --database-url (the control
    /// database), e.g. 'SELECT url FROM tenants'
    #[arg(
        long,
        value_name = "SQL",
        group = "each_source",
        help_heading = "Fleets"
    )]
    pub each_query: Option<String>,
    /// Databases worked on at once [default: 4]
    #[arg(
        long,
        value_name = "N",
        requires = "each_source",
        help_heading = "Fleets"
    )]
    pub jobs: Option<usize>,
    /// Run the first N databases before any other, and stop everything if one of them fails
    /// [default: 0]
    #[arg(
        long,
        value_name = "N",
        requires = "each_source",
        help_heading = "Fleets"
    )]
    pub canary: Option<usize>,
    /// After a failure, carry on with the remaining databases (default: start no more)
    #[arg(long, requires = "each_source", help_heading = "Fleets")]
    pub keep_going: bool,
}

impl EachArgs {
    /// `true` when a fleet source was given.
    pub fn is_set(&self) -> bool {
        self.each.is_some()
            || self.each_sqlite.is_some()
            || self.each_schema.is_some()
            || self.each_query.is_some()
    }
}

/// Where the fleet's databases come from.
#[derive(Debug)]
pub enum Source {
    /// A file of URLs, or `-` for stdin.
    File(String),
    /// SQLite files matching a pattern.
    Sqlite(String),
    /// Schemas (MySQL: databases) matching a LIKE pattern on the configured server.
    Schema(String),
    /// URLs from a query against the configured control database.
    Query(String),
}

/// What to do on each database.
#[derive(Debug)]
pub enum Verb {
    Upgrade(Target),
    Downgrade(Target),
    Current,
    Check,
}

/// A fleet command with its arguments checked.
#[derive(Debug)]
pub struct FleetSettings {
    pub verb: Verb,
    pub source: Source,
    pub jobs: usize,
    pub canary: usize,
    pub keep_going: bool,
    pub json: bool,
    pub options: Options,
}

impl FleetSettings {
    /// Checks the fleet flags; `None` when no `--each*` flag was given.
    pub fn from_args(
        verb: Verb,
        each: EachArgs,
        json: bool,
        options: Options,
    ) -> anyhow::Result<FleetSettings> {
        let source = match each {
            EachArgs { each: Some(f), .. } => Source::File(f),
            EachArgs {
                each_sqlite: Some(g),
                ..
            } => Source::Sqlite(g),
            EachArgs {
                each_schema: Some(p),
                ..
            } => Source::Schema(p),
            EachArgs {
                each_query: Some(q),
                ..
            } => Source::Query(q),
            _ => {
                return Err(Fail::usage(
                    "no fleet given",
                    "pass --each FILE, --each-sqlite GLOB, --each-schema PATTERN or --each-query SQL",
                ));
            }
        };
        Ok(FleetSettings {
            verb,
            source,
            jobs: each.jobs.unwrap_or(4).max(1),
            canary: each.canary.unwrap_or(0),
            keep_going: each.keep_going,
            json,
            options,
        })
    }
}

/// Runs a fleet command.
pub fn fleet(s: &Settings, f: &FleetSettings) -> anyhow::Result<Code> {
    let set = crate::repo::load(&s.dir)?;
    let mig = migrator(set, f.options.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(f.jobs + 1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let targets = rt.block_on(targets(s, &f.source))?;
    if targets.is_empty() {
        return Err(Fail::usage(
            format!(
                "the fleet is empty: {} matched no database",
                describe(&f.source)
            ),
            "check the file, pattern or query; `kiln current --database-url URL` looks at one database",
        ));
    }
    let op = match &f.verb {
        Verb::Upgrade(t) => FleetOp::Upgrade(t.clone()),
        Verb::Downgrade(t) => FleetOp::Downgrade(t.clone()),
        Verb::Current | Verb::Check => FleetOp::Status,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let options = FleetOptions::default()
        .jobs(f.jobs)
        .canary(f.canary)
        .keep_going(f.keep_going)
        .cancel(Arc::clone(&cancel));
    let total = targets.len();
    let started = Instant::now();
    let printer = Printer::new(f, total);
    let report = rt.block_on(async {
        let handler = tokio::spawn(ctrl_c(Arc::clone(&cancel)));
        tokio::task::yield_now().await;
        let on_result = |r: &DbResult| printer.result(r);
        let report = mig.run_each(targets, op, &options, &on_result).await;
        handler.abort();
        report
    });
    out::clear_bar();
    let code = exit_code(f, &report);
    printer.summary(&report, started, code);
    Ok(code)
}

/// Ctrl-C stops the fleet: no database starts any more and the running ones stop after their
/// revision in progress; a second Ctrl-C exits at once.
async fn ctrl_c(cancel: Arc<AtomicBool>) {
    loop {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        if cancel.swap(true, Ordering::SeqCst) {
            out::note("second Ctrl-C: stopping now; the revisions in progress are abandoned");
            std::process::exit(Code::Interrupted as i32);
        }
        out::note(
            "Ctrl-C: no more databases start; the running ones stop after their revision in progress (press Ctrl-C again to stop at once)",
        );
    }
}

fn describe(source: &Source) -> String {
    match source {
        Source::File(f) if f == "-" => "standard input".to_owned(),
        Source::File(f) => format!("the file `{f}`"),
        Source::Sqlite(g) => format!("the pattern `{g}`"),
        Source::Schema(p) => format!("the schema pattern `{p}`"),
        Source::Query(_) => "the --each-query query".to_owned(),
    }
}

/// Lists the fleet's databases.
async fn targets(s: &Settings, source: &Source) -> anyhow::Result<Vec<FleetTarget>> {
    Ok(match source {
        Source::File(f) => {
            let text = if f == "-" {
                let mut t = String::new();
                std::io::stdin()
                    .read_to_string(&mut t)
                    .context("cannot read the list of databases from standard input")?;
                t
            } else {
                std::fs::read_to_string(s.cwd.join(f)).map_err(|e| {
                    Fail::usage(
                        format!("cannot read the list of databases `{f}`: {e}"),
                        "pass a file with one database URL per line, or `-` to read them from standard input",
                    )
                })?
            };
            let mut out = Vec::new();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if let Err(e) = kiln_runtime::url::validate(line) {
                    return Err(Fail::usage(
                        format!("{f}:{}: {e}", n + 1),
                        "each line of the list is one database URL (sqlite:, postgres:, mysql:)",
                    ));
                }
                out.push(FleetTarget::url(line));
            }
            out
        }
        Source::Sqlite(pattern) => glob(&s.cwd, pattern)?
            .into_iter()
            .map(|p| FleetTarget::url(format!("sqlite://{}", p.display())))
            .collect(),
        Source::Schema(pattern) => {
            let url = s.require_database("--each-schema")?;
            kiln_runtime::fleet::schemas_like(url.url(), pattern).await?
        }
        Source::Query(sql) => {
            let url = s.require_database("--each-query")?;
            kiln_runtime::fleet::urls_from_query(url.url(), sql).await?
        }
    })
}

/// The files matching `pattern` (`*` and `?` in any component), sorted. Relative patterns are
/// resolved against `cwd` but returned as written, so the URLs printed look like the pattern.
fn glob(cwd: &Path, pattern: &str) -> anyhow::Result<Vec<PathBuf>> {
    let absolute = pattern.starts_with('/');
    let mut found = vec![if absolute {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut next = Vec::new();
        for base in &found {
            if !part.contains(['*', '?']) {
                next.push(base.join(part));
                continue;
            }
            let Ok(entries) = std::fs::read_dir(cwd.join(base)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if (name.starts_with('.') && !part.starts_with('.')) || !wildcard(part, &name) {
                    continue;
                }
                next.push(base.join(&name));
            }
        }
        found = next;
        if last {
            found.retain(|p| cwd.join(p).is_file());
        }
    }
    found.sort();
    Ok(found)
}

/// `*` matches any run of characters, `?` one character.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// How a database's status reads in `check --each`: the finding and its exit code.
fn judge(st: &Status) -> (&'static str, Code) {
    if !st.dirty.is_empty() {
        ("dirty", Code::Dirty)
    } else if !st.drifted.is_empty() {
        ("drifted", Code::Drift)
    } else if !st.unknown.is_empty() {
        ("ahead", Code::Drift)
    } else if !st.pending.is_empty() || !st.in_progress.is_empty() {
        ("behind", Code::Pending)
    } else {
        ("at head", Code::Ok)
    }
}

fn exit_code(f: &FleetSettings, report: &FleetReport) -> Code {
    if report.cancelled {
        return Code::Interrupted;
    }
    if !report.is_complete() {
        return Code::PartialFailure;
    }
    match f.verb {
        Verb::Check => report
            .results
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Status(st) => Some(judge(st).1),
                _ => None,
            })
            .max()
            .unwrap_or(Code::Ok),
        _ => Code::Ok,
    }
}

/// The per-database word of a result: `applied`, `at head`, `failed`, `skipped`, or for
/// `check`/`current` the status.
fn word(verb: &Verb, outcome: &Outcome) -> &'static str {
    match (verb, outcome) {
        (Verb::Check | Verb::Current, Outcome::Status(st)) => judge(st).0,
        (Verb::Downgrade(_), Outcome::Applied(_)) => "reverted",
        (Verb::Downgrade(_), Outcome::AtHead) => "nothing to do",
        _ => outcome.as_str(),
    }
}

/// Prints results as they come and the summary at the end.
struct Printer<'a> {
    f: &'a FleetSettings,
    total: usize,
    done: AtomicUsize,
    counts: Mutex<Vec<(&'static str, usize)>>,
    bar: bool,
}

impl<'a> Printer<'a> {
    fn new(f: &'a FleetSettings, total: usize) -> Self {
        Printer {
            f,
            total,
            done: AtomicUsize::new(0),
            counts: Mutex::new(Vec::new()),
            bar: out::stderr_is_terminal() && !f.json,
        }
    }

    fn result(&self, r: &DbResult) {
        let w = word(&self.f.verb, &r.outcome);
        let label = {
            let Ok(mut counts) = self.counts.lock() else {
                return;
            };
            match counts.iter_mut().find(|(k, _)| *k == w) {
                Some((_, n)) => *n += 1,
                None => counts.push((w, 1)),
            }
            counts
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if self.f.json {
            out::line(json_line(&self.f.verb, r));
        } else if !matches!(r.outcome, Outcome::Skipped(_)) {
            out::line(text_line(&self.f.verb, r));
        }
        if self.bar {
            out::bar(done, self.total, &label);
        }
    }

    fn summary(&self, report: &FleetReport, started: Instant, code: Code) {
        let counts = self.counts.lock().map(|c| c.clone()).unwrap_or_default();
        if self.f.json {
            let by: serde_json::Map<String, Value> = counts
                .iter()
                .map(|(k, n)| ((*k).to_owned(), json!(n)))
                .collect();
            out::line(json!({
                "summary": {
                    "databases": report.results.len(),
                    "outcomes": by,
                    "cancelled": report.cancelled,
                    "seconds": started.elapsed().as_secs_f64(),
                    "exit_code": code.number(),
                }
            }));
            return;
        }
        out::line(format!(
            "fleet: {} in {} ({} at a time)",
            out::count(report.results.len(), "database"),
            out::duration(started.elapsed()),
            self.f.jobs
        ));
        let width = counts.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, n) in &counts {
            out::line(format!("  {k:<width$}  {n:>6}"));
        }
        let failed: Vec<&DbResult> = report.failed().collect();
        if !failed.is_empty() {
            out::line("failed:");
            for r in failed.iter().take(50) {
                out::line(format!("  {}", text_line(&self.f.verb, r)));
            }
            if failed.len() > 50 {
                out::line(format!(
                    "  and {} more (--json lists every one)",
                    failed.len() - 50
                ));
            }
        }
        if let Some(reason) = report.results.iter().find_map(|r| match r.outcome {
            Outcome::Skipped(why) => Some(why),
            _ => None,
        }) {
            out::line(format!(
                "skipped {} ({}); run the same command again to continue: databases already at head cost one read",
                out::count(report.count("skipped"), "database"),
                reason.as_str()
            ));
        }
    }
}

/// `applied 3 revisions (12.3 ms)  sqlite://data/t1.db`, `failed at revision r2: ...  URL`.
fn text_line(verb: &Verb, r: &DbResult) -> String {
    let who = r.target.shown();
    let took = out::duration(r.duration);
    match &r.outcome {
        Outcome::Applied(rep) => format!(
            "{} {} ({took})  {who}",
            word(verb, &r.outcome),
            out::count(rep.steps.len(), "revision")
        ),
        Outcome::Failed { revision, error } => {
            let at = revision
                .as_deref()
                .map(|rev| format!(" at revision {rev}"))
                .unwrap_or_default();
            let done = error.completed_steps().len();
            let kept = if done > 0 {
                format!(" ({} before it stay applied)", out::count(done, "revision"))
            } else {
                String::new()
            };
            format!("failed{at}{kept}  {who}: {error}")
        }
        Outcome::Status(st) => match verb {
            Verb::Current => format!(
                "{}  {who}",
                if st.current.is_empty() {
                    "(base)".to_owned()
                } else {
                    st.current.join(", ")
                }
            ),
            _ => {
                let (w, _) = judge(st);
                let detail = match w {
                    "behind" => format!(" ({} pending)", st.pending.len()),
                    "dirty" => format!(" ({})", st.dirty.join(", ")),
                    "drifted" => format!(" ({})", st.drifted.join(", ")),
                    "ahead" => format!(" (unknown: {})", st.unknown.join(", ")),
                    _ => String::new(),
                };
                format!("{w}{detail}  {who}")
            }
        },
        Outcome::Skipped(why) => format!("skipped ({})  {who}", why.as_str()),
        other => format!("{}  {who}", word(verb, other)),
    }
}

/// One database as a JSON line.
fn json_line(verb: &Verb, r: &DbResult) -> String {
    let mut v = json!({
        "database": r.target.shown(),
        "schema": r.target.schema_name(),
        "outcome": word(verb, &r.outcome),
        "duration_ms": r.duration.as_secs_f64() * 1000.0,
    });
    match &r.outcome {
        Outcome::Applied(rep) => {
            v["revisions"] = json!(rep.steps.iter().map(|s| &s.revision).collect::<Vec<_>>());
        }
        Outcome::Failed { revision, error } => {
            v["revision"] = json!(revision);
            v["error"] = json!(error.to_string());
            v["completed"] = json!(
                error
                    .completed_steps()
                    .iter()
                    .map(|s| &s.revision)
                    .collect::<Vec<_>>()
            );
        }
        Outcome::Skipped(why) => v["reason"] = json!(why.as_str()),
        Outcome::Status(st) => {
            v["current"] = json!(st.current);
            v["pending"] = json!(st.pending);
            v["dirty"] = json!(st.dirty);
            v["drifted"] = json!(st.drifted);
            v["unknown"] = json!(st.unknown);
        }
        _ => {}
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_a_shell() {
        assert!(wildcard("*.db", "t1.db"));
        assert!(wildcard("t?.db", "t1.db"));
        assert!(!wildcard("t?.db", "t10.db"));
        assert!(wildcard("*", "x"));
        assert!(!wildcard("*.db", "t1.db-wal"));
        assert!(wildcard("a*b*c", "aXbYc"));
    }

    #[test]
    fn glob_walks_every_component() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["a/1.db", "a/2.db", "b/3.db", "b/x.txt", "c/.hidden.db"] {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let found = glob(dir.path(), "*/*.db").unwrap();
        let shown: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(shown, ["a/1.db", "a/2.db", "b/3.db"]);
        assert_eq!(glob(dir.path(), "a/2.db").unwrap().len(), 1);
        assert!(glob(dir.path(), "nope/*.db").unwrap().is_empty());
    }
}
