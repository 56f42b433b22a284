//! The fleet benchmark (issue 15): `Migrator::run_each` over many SQLite files and many
//! PostgreSQL schemas, from empty and as a no-op rerun, against the sum of single-database floors
//! divided by the workers, plus the process's peak memory.
//!
//! Usage: kiln-bench-fleet [--sqlite N] [--pg N] [--revisions R] [--jobs J] [--sample K]
//!
//! The floor of one database is one ordinary run on it alone (connect, upgrade to heads, close),
//! timed one database after another (`run_each` with one worker) on `--sample` databases of the
//! same kind that are not part of the fleet; the fleet's ideal is `N × mean floor / jobs`. Servers: `KILN_BENCH_PG` (default
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

async fn run(a: &Args) -> anyhow::Result<()> {
    let work = tempfile_dir()?;
    let dir = work.join("migrations");
    Set::new(Kind::Small, a.revisions).write_kiln(&dir)?;
    let d = kiln_core::MigrationDir::new(dir.clone(), "migrations");
    let m = Migrator::load(&d).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "| fleet | databases | revisions | jobs | run | total | mean floor | ideal (N × floor / jobs) | ratio |"
    );
    println!("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |");
    if a.sqlite > 0 {
        let files = |prefix: &str, n: usize| -> Vec<FleetTarget> {
            (0..n)
                .map(|i| {
                    FleetTarget::url(format!(
                        "sqlite://{}",
                        work.join(format!("{prefix}_{i:05}.db")).display()
                    ))
                })
                .collect()
        };
        measure(
            &m,
            a,
            "SQLite files",
            files("floor", a.sample),
            files("t", a.sqlite),
        )
        .await?;
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
                s.script(sql).await?;
                drop(s);
                db.close().await;
                let schemas = |prefix: &str, n: usize| -> anyhow::Result<Vec<FleetTarget>> {
                    (0..n)
                        .map(|i| Ok(FleetTarget::schema(&url, &format!("{prefix}_{i:05}"))?))
                        .collect()
                };
                let r = measure(
                    &m,
                    a,
                    "PostgreSQL schemas",
                    schemas("floor", a.sample)?,
                    schemas("t", a.pg)?,
                )
                .await;
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

/// Times the floors on `sample` (one database after another, from empty then no-op) and the fleet
/// on `fleet` (from empty, then the rerun), and prints two rows.
async fn measure(
    m: &Migrator,
    a: &Args,
    what: &str,
    sample: Vec<FleetTarget>,
    fleet: Vec<FleetTarget>,
) -> anyhow::Result<()> {
    // The floor and the fleet alternate (floor from empty, fleet from empty, floor no-op, fleet
    // no-op), so a change in the machine's load hits both sides of each ratio alike.
    for run in ["from empty", "no-op rerun"] {
        let floor = timed(m, what, &sample, 1).await?;
        let total = timed(m, what, &fleet, a.jobs).await?;
        let mean = floor.as_secs_f64() / sample.len() as f64;
        let ideal = mean * fleet.len() as f64 / a.jobs as f64;
        println!(
            "| {what} | {} | {} | {} | {run} | {:.2} s | {:.2} ms | {:.2} s | {:.2}x |",
            fleet.len(),
            a.revisions,
            a.jobs,
            total.as_secs_f64(),
            mean * 1000.0,
            ideal,
            total.as_secs_f64() / ideal
        );
    }
    Ok(())
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
