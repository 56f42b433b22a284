//! The fleet benchmark (issue 15): `Migrator::run_each` over many SQLite files and many
//! PostgreSQL schemas, from empty and as a no-op rerun, against the sum of single-database floors
//! divided by the workers, plus the process's peak memory.
//!
//! Usage: kiln-bench-fleet [--sqlite N] [--pg N] [--revisions R] [--jobs J] [--sample K]
//!
//! The floor of one database is one ordinary run on it alone (connect, upgrade to heads, close),
//! timed one database after another (`run_each` with one worker) on `--sample` databases of the
//! same kind that are not part of the fleet; the fleet's ideal is `N × mean floor / jobs`.
//!
//! That ideal assumes the machine does `jobs` floors at once as fast as one. To show what it
//! really does, the same floor also runs in `jobs` separate processes at once (this binary again,
//! with `--worker FILE`), each on `--sample` databases of its own: what a shell loop with
//! `xargs -P jobs` gets at best, sharing nothing but the machine. The last column compares the
//! fleet with that. Servers: `KILN_BENCH_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`); a server that does not answer is skipped.

use kiln_bench::sets::{Kind, Set};
use kiln_runtime::fleet::{FleetOp, FleetOptions, FleetTarget, Target};
use kiln_runtime::{Db, Migrator, RawConnection};
use std::time::{Duration, Instant};

struct Args {
    sqlite: usize,
    pg: usize,
    revisions: usize,
    jobs: usize,
    sample: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        sqlite: 10_000,
        pg: 1_000,
        revisions: 20,
        jobs: 4,
        sample: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--sqlite" => a.sqlite = value,
            "--pg" => a.pg = value,
            "--revisions" => a.revisions = value,
            "--jobs" => a.jobs = value.max(1),
            "--sample" => a.sample = value.max(1),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

fn main() -> std::process::ExitCode {
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some("--worker") {
        return worker(argv.next().unwrap_or_default());
    }
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "{e}\nusage: kiln-bench-fleet [--sqlite N] [--pg N] [--revisions R] [--jobs J] [--sample K]"
            );
            return std::process::ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.jobs + 1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&a)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiln-bench-fleet: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Where a fleet's databases live: SQLite files in a directory, or schemas on one server.
enum Place {
    Files(std::path::PathBuf),
    Schemas(String),
}

impl Place {
    /// Databases `prefix_00000` to `prefix_{n-1}`.
    fn targets(&self, prefix: &str, n: usize) -> anyhow::Result<Vec<FleetTarget>> {
        (0..n)
            .map(|i| self.target(&format!("{prefix}_{i:05}")))
            .collect()
    }

    fn target(&self, name: &str) -> anyhow::Result<FleetTarget> {
        Ok(match self {
            Place::Files(dir) => FleetTarget::url(format!(
                "sqlite://{}",
                dir.join(format!("{name}.db")).display()
            )),
            Place::Schemas(url) => FleetTarget::schema(url, name)?,
        })
    }

    /// The worker file's line for database `name`: `files DIR NAME` or `schemas URL NAME`.
    fn line(&self, name: &str) -> String {
        match self {
            Place::Files(dir) => format!("files\t{}\t{name}", dir.display()),
            Place::Schemas(url) => format!("schemas\t{url}\t{name}"),
        }
    }
}

/// `--worker FILE`: the migrations directory on the first line, then one database per line
/// ([`Place::line`]); runs them one after another, as the floor does, and exits 0 when all
/// reached the heads.
fn worker(file: String) -> std::process::ExitCode {
    let go = || -> anyhow::Result<()> {
        let text = std::fs::read_to_string(&file)?;
        let mut lines = text.lines();
        let dir = lines.next().unwrap_or_default();
        let mut targets = Vec::new();
        for line in lines {
            let mut f = line.split('\t');
            let (kind, at, name) = (f.next(), f.next(), f.next());
            let place = match (kind, at) {
                (Some("files"), Some(at)) => Place::Files(at.into()),
                (Some("schemas"), Some(at)) => Place::Schemas(at.to_owned()),
                _ => anyhow::bail!("{file}: bad line {line:?}"),
            };
            targets.push(place.target(name.unwrap_or_default())?);
        }
        let d = kiln_core::MigrationDir::new(dir, "migrations");
        let m = Migrator::load(&d).map_err(|e| anyhow::anyhow!("{e}"))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(timed(&m, "worker", &targets, 1))?;
        Ok(())
    };
    match go() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiln-bench-fleet --worker: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(a: &Args) -> anyhow::Result<()> {
    let work = tempfile_dir()?;
    let dir = work.join("migrations");
    Set::new(Kind::Small, a.revisions).write_kiln(&dir)?;
    let d = kiln_core::MigrationDir::new(dir.clone(), "migrations");
    let m = Migrator::load(&d).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "| fleet | databases | revisions | jobs | run | total | mean floor | ideal (N × floor / jobs) | ratio | {} processes: per database | fleet / processes |",
        a.jobs
    );
    println!("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    if a.sqlite > 0 {
        measure(&m, a, "SQLite files", &Place::Files(work.clone()), &dir).await?;
    }
    if a.pg > 0 {
        let server = std::env::var("KILN_BENCH_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        match Db::connect(&server).await {
            Ok(admin) => {
                let name = format!("kiln_bench_fleet_{}", std::process::id());
                let mut c = RawConnection::acquire(&admin).await?;
                c.script(format!("CREATE DATABASE {name}")).await?;
                let url = kiln_runtime::url::with_database(&server, &name);
                let db = Db::connect(&url).await?;
                let mut s = RawConnection::acquire(&db).await?;
                let mut sql = String::new();
                for i in 0..a.sample {
                    sql.push_str(&format!("CREATE SCHEMA floor_{i:05};"));
                }
                for i in 0..a.pg {
                    sql.push_str(&format!("CREATE SCHEMA t_{i:05};"));
                }
                for p in 0..a.jobs {
                    for i in 0..a.sample {
                        sql.push_str(&format!("CREATE SCHEMA p{p}_{i:05};"));
                    }
                }
                s.script(sql).await?;
                drop(s);
                db.close().await;
                let r = measure(&m, a, "PostgreSQL schemas", &Place::Schemas(url), &dir).await;
                c.script(format!("DROP DATABASE {name} WITH (FORCE)"))
                    .await?;
                drop(c);
                admin.close().await;
                r?;
            }
            Err(e) => eprintln!("PostgreSQL skipped: {e}"),
        }
    }
    println!(
        "\npeak memory (VmHWM): {}",
        peak_memory().unwrap_or_else(|| "unknown".to_owned())
    );
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// Times the floor on `floor_*` (one database after another), the fleet on `t_*` and the same
/// floor in `jobs` processes at once on `p<k>_*` (from empty, then no-op), and prints two rows.
async fn measure(
    m: &Migrator,
    a: &Args,
    what: &str,
    place: &Place,
    migrations: &std::path::Path,
) -> anyhow::Result<()> {
    let sample = place.targets("floor", a.sample)?;
    let fleet = place.targets(
        "t",
        if matches!(place, Place::Files(_)) {
            a.sqlite
        } else {
            a.pg
        },
    )?;
    let mut files = Vec::new();
    for p in 0..a.jobs {
        let mut text = format!("{}\n", migrations.display());
        for i in 0..a.sample {
            text.push_str(&place.line(&format!("p{p}_{i:05}")));
            text.push('\n');
        }
        let file = std::env::temp_dir().join(format!(
            "kiln-bench-fleet-{}-worker-{p}.txt",
            std::process::id()
        ));
        std::fs::write(&file, text)?;
        files.push(file);
    }
    // The floor, the fleet and the processes alternate (floor, fleet and processes from empty,
    // then the three no-op), so a change in the machine's load hits every side of each ratio.
    for run in ["from empty", "no-op rerun"] {
        let floor = timed(m, what, &sample, 1).await?;
        let total = timed(m, what, &fleet, a.jobs).await?;
        let procs = processes(&files)?;
        let mean = floor.as_secs_f64() / sample.len() as f64;
        let ideal = mean * fleet.len() as f64 / a.jobs as f64;
        let per_db = procs.as_secs_f64() / (a.sample * a.jobs) as f64;
        let fleet_per_db = total.as_secs_f64() / fleet.len() as f64;
        println!(
            "| {what} | {} | {} | {} | {run} | {:.2} s | {:.2} ms | {:.2} s | {:.2}x | {:.2} ms | {:.2}x |",
            fleet.len(),
            a.revisions,
            a.jobs,
            total.as_secs_f64(),
            mean * 1000.0,
            ideal,
            total.as_secs_f64() / ideal,
            per_db * 1000.0,
            fleet_per_db / per_db
        );
    }
    for f in files {
        let _ = std::fs::remove_file(f);
    }
    Ok(())
}

/// Starts one `--worker` process per file, all at once, and waits for every one.
fn processes(files: &[std::path::PathBuf]) -> anyhow::Result<Duration> {
    let me = std::env::current_exe()?;
    let t0 = Instant::now();
    let children = files
        .iter()
        .map(|f| {
            std::process::Command::new(&me)
                .arg("--worker")
                .arg(f)
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    for mut c in children {
        let status = c.wait()?;
        anyhow::ensure!(status.success(), "a --worker process failed: {status}");
    }
    Ok(t0.elapsed())
}

/// One `run_each` over `targets` with `jobs` workers; with one worker each database runs alone,
/// one after another, through the same code path: the single-database floor.
async fn timed(
    m: &Migrator,
    what: &str,
    targets: &[FleetTarget],
    jobs: usize,
) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let options = FleetOptions::default().jobs(jobs);
    let report = m
        .run_each(
            targets.to_vec(),
            FleetOp::Upgrade(Target::Heads),
            &options,
            &|_| {},
        )
        .await;
    let took = t0.elapsed();
    if !report.is_complete() {
        let first = report.failed().next().map(|r| format!("{:?}", r.outcome));
        anyhow::bail!("{what}: the fleet did not complete: {first:?}");
    }
    Ok(took)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("kiln-bench-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The process's peak resident memory, from `/proc/self/status` (Linux).
fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().to_owned())
}
