//! Scenarios 1 (start-up check), 2 (apply) and 5 (CLI against Alembic).

use crate::db::{Engine, Fresh, rusqlite_conn};
use crate::sets::{Kind, Set, Written, rev_id};
use crate::{Config, Results};
use kiln_runtime::{Migrator, Options, TransactionMode};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn engines(cfg: &Config) -> Vec<Engine> {
    let mut v = Vec::new();
    if cfg.sqlite {
        v.push(Engine::Sqlite);
    }
    if cfg.servers.pg.is_some() {
        v.push(Engine::Postgres);
    }
    if cfg.servers.mysql.is_some() {
        v.push(Engine::MySql);
    }
    v
}

/// Loads a written kiln directory.
pub(crate) fn load(dir: &Path) -> anyhow::Result<Migrator> {
    let d = kiln_core::MigrationDir::new(dir.to_owned(), "migrations");
    Migrator::load(&d).map_err(|e| anyhow::anyhow!("{e}"))
}

fn group_n(n: usize) -> String {
    if n >= 1000 {
        format!("{},{:03}", n / 1000, n % 1000)
    } else {
        n.to_string()
    }
}

/// Times `f` `times` times after `warm` untimed calls.
async fn sample<F, Fut>(warm: usize, times: usize, mut f: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..warm {
        f().await?;
    }
    let mut out = Vec::with_capacity(times);
    for _ in 0..times {
        let t = Instant::now();
        f().await?;
        out.push(t.elapsed());
    }
    Ok(out)
}

/// Runs refinery on a fresh database; `grouped` puts every migration in one transaction.
async fn refinery_run(
    fresh: &Fresh,
    runner: &refinery::Runner,
    pragmas: &[(String, String)],
) -> anyhow::Result<()> {
    match fresh {
        Fresh::Sqlite { path, .. } => {
            let mut conn = rusqlite_conn(path, pragmas)?;
            runner.run(&mut conn)?;
        }
        Fresh::Postgres { url, .. } => {
            let (mut client, connection) =
                tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            let task = tokio::spawn(connection);
            runner.run_async(&mut client).await?;
            drop(client);
            let _ = task.await;
        }
        Fresh::MySql { .. } => anyhow::bail!("refinery is measured on SQLite and PostgreSQL only"),
    }
    Ok(())
}

/// Scenario 1: the no-op start-up check at head.
pub async fn startup(cfg: &Config, res: &mut Results) -> anyhow::Result<()> {
    // 1: the small set with every tool; 1b: the data-only set at the smallest size and at the
    // flatness size, for kiln, its floor and the one-row read.
    let mut cases: Vec<(Kind, usize, bool)> = cfg
        .startup_sizes
        .iter()
        .map(|&n| (Kind::Small, n, false))
        .collect();
    let smallest = cfg.startup_sizes.iter().copied().min().unwrap_or(10);
    cases.push((Kind::Rows, smallest, true));
    cases.push((Kind::Rows, cfg.flat_size, true));
    for engine in engines(cfg) {
        for &(kind, n, kiln_only) in &cases {
            let set = Written::new(&cfg.servers.work, kind, n)?;
            let group = if kind == Kind::Rows {
                format!(
                    "1b. no-op start-up check (data-only set), {}, {} revisions",
                    engine.name(),
                    group_n(n)
                )
            } else {
                format!(
                    "1. no-op start-up check, {}, {} revisions",
                    engine.name(),
                    group_n(n)
                )
            };
            eprintln!("-- {group}");
            let tag = format!(
                "kb_s_{}_{}_{n}",
                engine_tag(engine),
                crate::sets::kind_name(kind)
            );

            // Floor: lock, read the version table, release, in one call on the engine's own path.
            let floor_db = cfg.servers.fresh(engine, &format!("{tag}_floor")).await?;
            floor_db.exec_script(&set.set.floor_script()).await?;
            let s = sample(10, cfg.checks, || floor_db.floor_check()).await?;
            res.push_ms(&group, "floor (lock + read version table + unlock)", &s);
            cfg.servers.drop_db(floor_db, &format!("{tag}_floor")).await;

            // kiln, and the one-row read on the same database.
            let kiln_db = cfg.servers.fresh(engine, &format!("{tag}_kiln")).await?;
            let m = load(&set.kiln)?
                .with_options(Options::default().transaction_mode(TransactionMode::All));
            m.run(kiln_db.kiln_db()).await?;
            let s = sample(10, cfg.checks, || async {
                let r = m.run(kiln_db.kiln_db()).await?;
                anyhow::ensure!(r.is_noop(), "kiln's start-up check was not a no-op");
                Ok(())
            })
            .await?;
            res.push_ms(&group, "kiln Migrator::run", &s);
            let s = sample(10, cfg.checks, || {
                kiln_db.one_row("SELECT digest FROM kiln_version_state WHERE id = 1")
            })
            .await?;
            res.push_ms(&group, "one-row read (sqlx query, same pool)", &s);
            cfg.servers.drop_db(kiln_db, &format!("{tag}_kiln")).await;
            if kiln_only {
                continue;
            }

            // sqlx's migrator.
            let sqlx_db = cfg.servers.fresh(engine, &format!("{tag}_sqlx")).await?;
            let migrator = sqlx::migrate::Migrator::new(set.sqlx.as_path()).await?;
            sqlx_db.sqlx_migrate(&migrator).await?;
            let s = sample(10, cfg.checks, || sqlx_db.sqlx_migrate(&migrator)).await?;
            res.push_ms(&group, "sqlx Migrator::run", &s);
            cfg.servers.drop_db(sqlx_db, &format!("{tag}_sqlx")).await;

            // refinery (SQLite through rusqlite, PostgreSQL through tokio-postgres).
            if engine != Engine::MySql {
                let ref_db = cfg.servers.fresh(engine, &format!("{tag}_ref")).await?;
                let pragmas = ref_db.sqlite_pragmas().await?;
                let runner = refinery::Runner::new(&set.set.refinery()).set_grouped(true);
                refinery_run(&ref_db, &runner, &pragmas).await?;
                let s = match &ref_db {
                    Fresh::Sqlite { path, .. } => {
                        let mut conn = rusqlite_conn(path, &pragmas)?;
                        sample(10, cfg.checks, || {
                            let r = runner.run(&mut conn).map(|_| ()).map_err(Into::into);
                            std::future::ready(r)
                        })
                        .await?
                    }
                    Fresh::Postgres { url, .. } => {
                        let (mut client, connection) =
                            tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
                        let task = tokio::spawn(connection);
                        let mut v = Vec::new();
                        for i in 0..10 + cfg.checks {
                            let t = Instant::now();
                            runner.run_async(&mut client).await?;
                            if i >= 10 {
                                v.push(t.elapsed());
                            }
                        }
                        drop(client);
                        let _ = task.await;
                        v
                    }
                    Fresh::MySql { .. } => unreachable!(),
                };
                res.push_ms(&group, "refinery Runner::run", &s);
                cfg.servers.drop_db(ref_db, &format!("{tag}_ref")).await;
            }
        }
    }
    Ok(())
}

fn engine_tag(e: Engine) -> &'static str {
    match e {
        Engine::Sqlite => "lite",
        Engine::Postgres => "pg",
        Engine::MySql => "my",
    }
}

/// Scenario 2: apply from empty.
pub async fn apply(cfg: &Config, res: &mut Results) -> anyhow::Result<()> {
    for (kind, n) in [(Kind::Small, cfg.small), (Kind::Heavy, cfg.heavy)] {
        if n == 0 {
            continue;
        }
        let set = Written::new(&cfg.servers.work, kind, n)?;
        let floor_script = set.set.floor_script();
        let kiln_all = load(&set.kiln)?
            .with_options(Options::default().transaction_mode(TransactionMode::All));
        let kiln_per = load(&set.kiln)?
            .with_options(Options::default().transaction_mode(TransactionMode::PerRevision));
        let migrator = sqlx::migrate::Migrator::new(set.sqlx.as_path()).await?;
        let ref_migrations = set.set.refinery();
        let ref_grouped = refinery::Runner::new(&ref_migrations).set_grouped(true);
        let ref_each = refinery::Runner::new(&ref_migrations).set_grouped(false);
        for engine in engines(cfg) {
            if engine == Engine::MySql {
                // DDL commits implicitly on MariaDB: no transaction modes to compare, and refinery's
                // MySQL drivers are not built here; the apply targets are SQLite and PostgreSQL.
                continue;
            }
            let group = format!(
                "2. apply {} {} revisions from empty, {}",
                group_n(n),
                crate::sets::kind_name(kind),
                engine.name()
            );
            eprintln!("-- {group}");
            let name = format!("kb_a_{}", engine_tag(engine));
            let mut tools: Vec<(&str, Vec<Duration>)> = vec![
                (
                    "floor (one script, one transaction, engine's own path)",
                    vec![],
                ),
                ("kiln, TransactionMode::All", vec![]),
                ("kiln, TransactionMode::PerRevision", vec![]),
                ("sqlx Migrator::run", vec![]),
                ("refinery, grouped", vec![]),
                ("refinery, per migration", vec![]),
            ];
            if engine == Engine::Sqlite {
                tools.push(("same script through sqlx's driver (raw_sql)", vec![]));
                tools.push((
                    "same script on a rusqlite connection (execute_batch)",
                    vec![],
                ));
            }
            // Interleave the tools so drift in machine load spreads over all of them, and rotate
            // which goes first: a tool that follows one with many `fsync`s finds the kernel's
            // dirty pages flushed and writes faster, which in a fixed order favoured the same
            // tools every time.
            let count = tools.len();
            for run in 0..cfg.runs {
                for ti in (0..count).map(|i| (i + run) % count) {
                    let samples = &mut tools[ti].1;
                    let fresh = cfg.servers.fresh(engine, &name).await?;
                    let pragmas = fresh.sqlite_pragmas().await?;
                    let t = Instant::now();
                    match ti {
                        0 => fresh.exec_script(&floor_script).await?,
                        1 => drop(kiln_all.run(fresh.kiln_db()).await?),
                        2 => drop(kiln_per.run(fresh.kiln_db()).await?),
                        3 => fresh.sqlx_migrate(&migrator).await?,
                        4 => {
                            let t0 = Instant::now();
                            refinery_run(&fresh, &ref_grouped, &pragmas).await?;
                            samples.push(t0.elapsed());
                        }
                        5 => {
                            let t0 = Instant::now();
                            refinery_run(&fresh, &ref_each, &pragmas).await?;
                            samples.push(t0.elapsed());
                        }
                        6 => fresh.sqlx_script(&floor_script).await?,
                        _ => {
                            // What refinery's connection gives the floor's script: tells a gap
                            // between connections from a gap in the tool.
                            let Fresh::Sqlite { path, .. } = &fresh else {
                                unreachable!("SQLite only")
                            };
                            rusqlite_conn(path, &pragmas)?.execute_batch(&floor_script)?;
                        }
                    }
                    if ti != 4 && ti != 5 {
                        samples.push(t.elapsed());
                    }
                    cfg.servers.drop_db(fresh, &name).await;
                }
            }
            for (tool, samples) in &tools {
                res.push_ms(&group, tool, samples);
            }
        }
        if engines(cfg).contains(&Engine::Sqlite) && cfg.alembic {
            let group = format!(
                "2. apply {} {} revisions from empty, SQLite file",
                group_n(n),
                crate::sets::kind_name(kind)
            );
            match alembic_apply(cfg, &set.set) {
                Ok(s) => res.push_ms(&group, "alembic upgrade head (process)", &s),
                Err(e) => res.note(format!("Alembic apply skipped: {e:#}")),
            }
        }
    }
    Ok(())
}

/// The Alembic virtualenv (created by `benches/alembic/setup.sh` on first use).
pub fn alembic_bin(cfg: &Config) -> anyhow::Result<PathBuf> {
    let venv = cfg.servers.work.join("alembic-venv");
    let bin = venv.join("bin/alembic");
    if !bin.exists() {
        let script = cfg.workspace.join("benches/alembic/setup.sh");
        let st = Command::new("bash").arg(&script).arg(&venv).status()?;
        anyhow::ensure!(st.success(), "{} failed", script.display());
    }
    Ok(bin)
}

/// An Alembic project for `set` against a SQLite file; returns (project dir, database path).
fn alembic_project(cfg: &Config, set: &Set, name: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = cfg.servers.work.join(format!("alembic-{name}"));
    set.write_alembic(&dir.join("versions"))?;
    let src = cfg.workspace.join("benches/alembic");
    std::fs::copy(src.join("env.py"), dir.join("env.py"))?;
    std::fs::copy(src.join("script.py.mako"), dir.join("script.py.mako"))?;
    std::fs::copy(src.join("alembic.ini"), dir.join("alembic.ini"))?;
    let db = cfg.servers.work.join(format!("db/alembic-{name}.db"));
    std::fs::create_dir_all(db.parent().expect("has a parent"))?;
    Ok((dir, db))
}

fn alembic_cmd(bin: &Path, dir: &Path, db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.current_dir(dir)
        .arg("-c")
        .arg(dir.join("alembic.ini"))
        .args(args)
        .env(
            "KILN_BENCH_ALEMBIC_URL",
            format!("sqlite:///{}", db.display()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    c
}

fn run_timed(mut c: Command) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let out = c.output()?;
    let took = t.elapsed();
    anyhow::ensure!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(took)
}

fn alembic_apply(cfg: &Config, set: &Set) -> anyhow::Result<Vec<Duration>> {
    let bin = alembic_bin(cfg)?;
    let (dir, db) = alembic_project(cfg, set, "apply")?;
    let mut v = Vec::new();
    for _ in 0..cfg.runs {
        let _ = std::fs::remove_file(&db);
        v.push(run_timed(alembic_cmd(
            &bin,
            &dir,
            &db,
            &["upgrade", "head"],
        ))?);
    }
    Ok(v)
}

/// The `kiln` command: the real CLI when it builds and understands `current`/`upgrade head` with a
/// URL and a directory, else the stand-in binary of this package (`kiln-bench-cli`), which calls
/// the runtime exactly as a CLI would (load the directory, connect, run).
fn kiln_cli(cfg: &Config, res: &mut Results) -> anyhow::Result<(PathBuf, bool)> {
    let exe_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // Test binaries live in deps/; the stand-in is a sibling of the harness binary.
    let standin = [
        exe_dir.join("kiln-bench-cli"),
        exe_dir.join("../kiln-bench-cli"),
    ]
    .into_iter()
    .find(|p| p.exists());
    if let Some(v) = std::env::var_os("KILN_BENCH_REAL_CLI") {
        // `1`: the workspace's target/release/kiln; anything else: the path of a built `kiln`.
        let real = if v == "1" {
            cfg.workspace.join("target/release/kiln")
        } else {
            PathBuf::from(v)
        };
        if real.exists() {
            res.note(format!("`kiln` is the real CLI at {}", real.display()));
            return Ok((real, true));
        }
        res.note(format!(
            "KILN_BENCH_REAL_CLI: {} does not exist, using the stand-in",
            real.display()
        ));
    }
    match standin {
        Some(p) => {
            res.note(
                "`kiln current`/`kiln upgrade head` measured with the stand-in `kiln-bench-cli` (same runtime calls: load the directory, connect, read or run); set KILN_BENCH_REAL_CLI=1 (or a path) to measure the real `kiln`",
            );
            Ok((p, false))
        }
        None => anyhow::bail!(
            "the stand-in CLI is not built: run `cargo build --release -p kiln-bench` first"
        ),
    }
}

/// Scenario 5: the CLI as whole processes, against Alembic's.
pub async fn cli(cfg: &Config, res: &mut Results) -> anyhow::Result<()> {
    let n = cfg.cli_revisions;
    let set = Written::new(&cfg.servers.work, Kind::Small, n)?;
    let group = format!("5. CLI no-op, SQLite file, {} revisions", group_n(n));
    let (exe, real) = kiln_cli(cfg, res)?;
    let db = cfg.servers.work.join("db/cli-kiln.db");
    std::fs::create_dir_all(db.parent().expect("has a parent"))?;
    let _ = std::fs::remove_file(&db);
    let url = format!("sqlite://{}", db.display());
    let kiln = |verb: &[&str]| {
        let mut c = Command::new(&exe);
        if real {
            c.args(verb)
                .env("DATABASE_URL", &url)
                .arg("--dir")
                .arg(&set.kiln);
        } else {
            c.arg(&url).arg(&set.kiln).args(verb);
        }
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        c
    };
    run_timed(kiln(&["upgrade", "head"]))?;
    let mut alembic: Option<(PathBuf, PathBuf, PathBuf)> = None;
    if cfg.alembic {
        match alembic_bin(cfg).and_then(|bin| {
            let (dir, adb) = alembic_project(cfg, &set.set, "cli")?;
            let _ = std::fs::remove_file(&adb);
            run_timed(alembic_cmd(&bin, &dir, &adb, &["upgrade", "head"]))?;
            Ok((bin, dir, adb))
        }) {
            Ok(a) => alembic = Some(a),
            Err(e) => res.note(format!("Alembic CLI skipped: {e:#}")),
        }
    }
    let runs = cfg.runs.max(3) * 2;
    for verb in [&["current"][..], &["upgrade", "head"][..]] {
        let g = format!("{group}: {}", verb.join(" "));
        if let Some((bin, dir, adb)) = &alembic {
            let mut v = Vec::new();
            for _ in 0..runs {
                v.push(run_timed(alembic_cmd(bin, dir, adb, verb))?);
            }
            res.push_ms(&g, &format!("alembic {}", verb.join(" ")), &v);
        }
        let mut v = Vec::new();
        for _ in 0..runs {
            v.push(run_timed(kiln(verb))?);
        }
        res.push_ms(&g, &format!("kiln {}", verb.join(" ")), &v);
    }
    let _ = rev_id(0);
    Ok(())
}

/// The targets of issue 6 that the measured rows decide: (what, measured, met).
pub fn targets(r: &Results) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for row in r
        .rows
        .iter()
        .filter(|x| x.tool == "kiln, TransactionMode::All")
    {
        if let Some(floor) = r.get(
            &row.group,
            "floor (one script, one transaction, engine's own path)",
        ) {
            let ratio = row.value / floor;
            out.push((
                format!(
                    "{}: kiln All within 1.2x of the floor",
                    row.group.trim_start_matches("2. ")
                ),
                format!("{ratio:.2}x"),
                ratio <= 1.2,
            ));
            let peers = [
                "sqlx Migrator::run",
                "refinery, grouped",
                "refinery, per migration",
            ];
            let best = peers
                .iter()
                .filter_map(|p| r.get(&row.group, p).map(|v| (p, v)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((p, v)) = best {
                out.push((
                    format!(
                        "{}: kiln All ahead of every peer",
                        row.group.trim_start_matches("2. ")
                    ),
                    format!("kiln / {p} = {:.2}x", row.value / v),
                    row.value <= v,
                ));
            }
        }
    }
    let mut flat: Vec<(String, f64, usize)> = Vec::new();
    for row in r.rows.iter().filter(|x| x.tool == "kiln Migrator::run") {
        if let Some(one) = r.get(&row.group, "one-row read (sqlx query, same pool)") {
            let ratio = row.value / one;
            out.push((
                format!(
                    "{}: kiln within 2x of a one-row read",
                    row.group.trim_start_matches("1. ")
                ),
                format!("{ratio:.2}x"),
                ratio <= 2.0,
            ));
        }
        // "…, ENGINE, N revisions"
        let parts: Vec<&str> = row.group.rsplitn(2, ", ").collect();
        if parts.len() == 2 {
            let n: usize = parts[0]
                .trim_end_matches(" revisions")
                .replace(',', "")
                .parse()
                .unwrap_or(0);
            flat.push((parts[1].to_owned(), row.value, n));
        }
    }
    let mut engines: Vec<String> = flat.iter().map(|f| f.0.clone()).collect();
    engines.dedup();
    for e in engines {
        let pts: Vec<&(String, f64, usize)> = flat.iter().filter(|f| f.0 == e).collect();
        let lo = pts.iter().min_by_key(|p| p.2);
        let hi = pts.iter().max_by_key(|p| p.2);
        if let (Some(lo), Some(hi)) = (lo, hi)
            && lo.2 != hi.2
        {
            let ratio = hi.1 / lo.1;
            out.push((
                format!(
                    "{}: kiln's check flat in N ({} vs {} revisions within 1.2x)",
                    e.trim_start_matches("1. no-op start-up check, ").replace(
                        "1b. no-op start-up check (data-only set), ",
                        "data-only set, "
                    ),
                    hi.2,
                    lo.2
                ),
                format!("{ratio:.2}x"),
                ratio <= 1.2,
            ));
        }
    }
    let compile = r
        .rows
        .iter()
        .find(|x| x.group.starts_with("3.") && x.tool.starts_with("kiln::migrations!"));
    if let Some(k) = compile
        && let Some(s) = r
            .rows
            .iter()
            .find(|x| x.group == k.group && x.tool.starts_with("sqlx::migrate!"))
    {
        out.push((
            "compile time no worse than sqlx::migrate!".to_owned(),
            format!("{:.2}x", k.value / s.value),
            k.value <= s.value * 1.05,
        ));
    }
    for verb in ["current", "upgrade head"] {
        let g = r
            .rows
            .iter()
            .find(|x| x.group.starts_with("5.") && x.tool == format!("kiln {verb}"));
        if let Some(k) = g
            && let Some(a) = r.get(&k.group, &format!("alembic {verb}"))
        {
            out.push((
                format!("`kiln {verb}` at least 20x faster than Alembic's"),
                format!("{:.1}x faster", a / k.value),
                a / k.value >= 20.0,
            ));
        }
    }
    out
}
