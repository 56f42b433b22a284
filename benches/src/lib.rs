//! kiln-bench: kiln side by side with sqlx's migrator, refinery and Alembic (issue 6).
//!
//! `cargo run --release -p kiln-bench -- all` runs every scenario and prints one table of medians
//! and ratios. Benchmarks never fail on timing: a scenario whose tool is missing (no server, no
//! Python) is skipped with a note. See `docs/benchmarks.md`.

pub mod autogen;
pub mod bigscript;
pub mod db;
pub mod lint;
pub mod scenarios;
pub mod scratch;
pub mod sets;

use std::path::PathBuf;
use std::time::Duration;

/// What to run and how big.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which scenarios: `startup`, `apply`, `compile`, `size`, `cli`, `bigscript`.
    pub scenarios: Vec<String>,
    /// Repetitions of each slow measurement (fresh database each time).
    pub runs: usize,
    /// Timed calls of each start-up check.
    pub checks: usize,
    /// Revision counts of the start-up scenario.
    pub startup_sizes: Vec<usize>,
    /// Size of the kiln-only flatness check (10,000 in the full run).
    pub flat_size: usize,
    /// Revisions of the small and heavy apply sets.
    pub small: usize,
    pub heavy: usize,
    /// Files embedded by the compile-time scenario.
    pub compile_files: usize,
    /// Revisions of the self-migrating binaries and of the CLI scenario.
    pub size_revisions: usize,
    pub cli_revisions: usize,
    /// Size in MB of the one large SQLite revision of scenario 6 (0 skips it).
    pub big_script_mb: usize,
    /// Builds the scratch crates of scenarios 3 and 4 (slow: dependencies build once).
    pub build_scratch: bool,
    /// Installs and runs Alembic.
    pub alembic: bool,
    pub servers: db::Servers,
    /// Measures SQLite (PostgreSQL and MariaDB are on when their server answers).
    pub sqlite: bool,
    /// The workspace root (for path dependencies of the scratch crates and the CLI).
    pub workspace: PathBuf,
    /// The target directory the harness itself was built into.
    pub target_dir: PathBuf,
}

impl Config {
    /// The full run of issue 6.
    pub fn full(workspace: PathBuf, target_dir: PathBuf) -> Config {
        let work = target_dir.join("kiln-bench");
        Config {
            scenarios: ["startup", "apply", "compile", "size", "cli", "bigscript"]
                .map(str::to_owned)
                .to_vec(),
            runs: 5,
            checks: 200,
            startup_sizes: vec![10, 100, 1000],
            flat_size: 10_000,
            small: 1000,
            heavy: 100,
            compile_files: 1000,
            size_revisions: 100,
            cli_revisions: 1000,
            big_script_mb: 50,
            build_scratch: true,
            alembic: true,
            sqlite: true,
            servers: db::Servers {
                work,
                pg: Some(
                    std::env::var("KILN_BENCH_PG")
                        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
                ),
                mysql: Some(
                    std::env::var("KILN_BENCH_MYSQL")
                        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into()),
                ),
            },
            workspace,
            target_dir,
        }
    }

    /// Every scenario at tiny sizes: checks that the harness works, not how fast anything is.
    pub fn smoke(workspace: PathBuf, target_dir: PathBuf) -> Config {
        let mut c = Config::full(workspace, target_dir);
        c.servers.work = c.target_dir.join("kiln-bench-smoke");
        c.runs = 1;
        c.checks = 3;
        c.startup_sizes = vec![3];
        c.flat_size = 5;
        c.small = 4;
        c.heavy = 2;
        c.compile_files = 3;
        c.size_revisions = 3;
        c.cli_revisions = 3;
        c.big_script_mb = 1;
        c.build_scratch = std::env::var_os("KILN_BENCH_SMOKE_BUILD").is_some();
        c.alembic = std::env::var_os("KILN_BENCH_SMOKE_ALEMBIC").is_some();
        c
    }
}

/// One measured value.
#[derive(Debug, Clone)]
pub struct Row {
    /// The table section, e.g. `start-up check, PostgreSQL, 1,000 revisions`.
    pub group: String,
    pub tool: String,
    pub value: f64,
    pub unit: Unit,
    /// The fastest and slowest sample, for timed rows: on a virtual machine two runs of the same
    /// command can differ by more than the gaps between tools, and the range shows it.
    pub range: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Millis,
    Bytes,
}

/// Everything measured, plus notes about what was skipped.
#[derive(Debug, Default)]
pub struct Results {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Results {
    pub fn push_ms(&mut self, group: &str, tool: &str, samples: &[Duration]) {
        self.rows.push(Row {
            group: group.to_owned(),
            tool: tool.to_owned(),
            value: median_ms(samples),
            unit: Unit::Millis,
            range: range_ms(samples),
        });
    }

    pub fn push_bytes(&mut self, group: &str, tool: &str, bytes: u64) {
        self.rows.push(Row {
            group: group.to_owned(),
            tool: tool.to_owned(),
            value: bytes as f64,
            unit: Unit::Bytes,
            range: None,
        });
    }

    pub fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        eprintln!("note: {s}");
        self.notes.push(s);
    }

    pub fn get(&self, group: &str, tool: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.group == group && r.tool == tool)
            .map(|r| r.value)
    }

    /// The table: each group with its rows, the first row of a group being the reference the
    /// ratio column divides by; then the targets of issue 6.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut groups: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !groups.contains(&r.group.as_str()) {
                groups.push(&r.group);
            }
        }
        let _ = writeln!(
            out,
            "| scenario | tool | median | ratio to first row | fastest to slowest |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
        for g in groups {
            let rows: Vec<&Row> = self.rows.iter().filter(|r| r.group == g).collect();
            let reference = rows[0].value;
            for r in rows {
                let shown = |v: f64| match r.unit {
                    Unit::Millis if v < 10.0 => format!("{v:.3} ms"),
                    Unit::Millis => format!("{v:.1} ms"),
                    Unit::Bytes if v >= 1048576.0 => format!("{:.2} MiB", v / 1048576.0),
                    Unit::Bytes => format!("{:.0} KiB", v / 1024.0),
                };
                let value = shown(r.value);
                let range = match r.range {
                    Some((lo, hi)) => format!("{} to {}", shown(lo), shown(hi)),
                    None => "-".to_owned(),
                };
                let ratio = if reference > 0.0 {
                    format!("{:.2}x", r.value / reference)
                } else {
                    "-".to_owned()
                };
                let _ = writeln!(out, "| {g} | {} | {value} | {ratio} | {range} |", r.tool);
            }
        }
        let targets = scenarios::targets(self);
        if !targets.is_empty() {
            let _ = writeln!(out, "\n| target (issue 6) | measured | met |");
            let _ = writeln!(out, "|---|---|---|");
            for (what, measured, met) in targets {
                let _ = writeln!(
                    out,
                    "| {what} | {measured} | {} |",
                    if met { "yes" } else { "NO" }
                );
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out);
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }
}

/// The fastest and slowest of `samples` in milliseconds, `None` when there are none.
pub fn range_ms(samples: &[Duration]) -> Option<(f64, f64)> {
    let ms = samples.iter().map(|d| d.as_secs_f64() * 1000.0);
    let lo = ms.clone().reduce(f64::min)?;
    let hi = ms.reduce(f64::max)?;
    Some((lo, hi))
}

/// The median of `samples` in milliseconds.
pub fn median_ms(samples: &[Duration]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs the configured scenarios.
pub async fn run(cfg: &Config) -> Results {
    let mut res = Results::default();
    std::fs::create_dir_all(&cfg.servers.work).expect("create the work directory");
    let mut servers = cfg.servers.clone();
    servers.pg = match &servers.pg {
        Some(url) if sqlx::PgPool::connect(url).await.is_ok() => Some(url.clone()),
        Some(url) => {
            res.note(format!(
                "PostgreSQL at {} not reachable: its rows are skipped",
                kiln_runtime::redact_url(url)
            ));
            None
        }
        None => None,
    };
    servers.mysql = match &servers.mysql {
        Some(url) if sqlx::MySqlPool::connect(url).await.is_ok() => Some(url.clone()),
        Some(url) => {
            res.note(format!(
                "MariaDB at {} not reachable: its rows are skipped",
                kiln_runtime::redact_url(url)
            ));
            None
        }
        None => None,
    };
    let cfg = Config {
        servers,
        ..cfg.clone()
    };
    for s in &cfg.scenarios {
        eprintln!("== scenario {s}");
        let r = match s.as_str() {
            "startup" => scenarios::startup(&cfg, &mut res).await,
            "apply" => scenarios::apply(&cfg, &mut res).await,
            "compile" => scratch::compile(&cfg, &mut res),
            "size" => scratch::size(&cfg, &mut res),
            "cli" => scenarios::cli(&cfg, &mut res).await,
            "bigscript" => bigscript::bigscript(&cfg, &mut res).await,
            other => Err(anyhow::anyhow!("unknown scenario `{other}`")),
        };
        if let Err(e) = r {
            res.note(format!("scenario {s} stopped: {e:#}"));
        }
    }
    res
}
