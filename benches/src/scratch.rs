//! Scenarios 3 (compile time) and 4 (binary size, peak memory): scratch crates built from the
//! templates in `benches/selfmig/`, each its own workspace under the harness's work directory,
//! sharing one target directory so their dependencies build once.

use crate::sets::{Kind, Set};
use crate::{Config, Results};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Kiln,
    Sqlx,
    Empty,
}

/// Writes a scratch crate: Cargo.toml, src/main.rs from a template, migrations/ from `set`.
fn write_crate(cfg: &Config, name: &str, flavor: Flavor, set: &Set) -> anyhow::Result<PathBuf> {
    let dir = cfg.servers.work.join("scratch").join(name);
    std::fs::create_dir_all(dir.join("src"))?;
    let ws = cfg.workspace.display().to_string();
    let deps = match flavor {
        Flavor::Kiln | Flavor::Empty => format!("kiln = {{ path = \"{ws}\" }}\n"),
        Flavor::Sqlx => "sqlx = { version = \"0.9\", default-features = false, features = [\"runtime-tokio\", \"sqlite\", \"migrate\", \"macros\"] }\n".to_owned(),
    };
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n# Its own workspace: not a member of kiln's.\n[workspace]\n\n[dependencies]\n{deps}tokio = {{ version = \"1\", features = [\"rt\", \"macros\"] }}\n"
        ),
    )?;
    let template = match flavor {
        Flavor::Kiln => "kiln_main.rs",
        Flavor::Sqlx => "sqlx_main.rs",
        Flavor::Empty => "empty_main.rs",
    };
    std::fs::copy(
        cfg.workspace.join("benches/selfmig").join(template),
        dir.join("src/main.rs"),
    )?;
    // The workspace's lock file: the same dependency versions as kiln itself.
    if !dir.join("Cargo.lock").exists() {
        std::fs::copy(cfg.workspace.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    }
    let mig = dir.join("migrations");
    match flavor {
        Flavor::Kiln => set.write_kiln(&mig)?,
        Flavor::Sqlx => set.write_sqlx(&mig)?,
        Flavor::Empty => {
            if mig.exists() {
                std::fs::remove_dir_all(&mig)?;
            }
        }
    }
    Ok(dir)
}

fn cargo(dir: &Path, cfg: &Config, release: bool) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(dir)
        .arg("build")
        .arg("--quiet")
        .env("CARGO_TARGET_DIR", cfg.servers.work.join("scratch/target"))
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTFLAGS");
    if release {
        c.arg("--release");
    }
    c
}

fn build(dir: &Path, cfg: &Config, release: bool) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let out = cargo(dir, cfg, release).output()?;
    let took = t.elapsed();
    anyhow::ensure!(
        out.status.success(),
        "building {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(took)
}

/// Checks a generated crate's manifest without building (the smoke test's light path).
fn metadata(dir: &Path) -> anyhow::Result<()> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(dir)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "cargo metadata in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Scenario 3: compile time of a crate embedding `compile_files` migrations.
pub fn compile(cfg: &Config, res: &mut Results) -> anyhow::Result<()> {
    let n = cfg.compile_files;
    let set = Set::new(Kind::Small, n);
    let group = format!("3. compile time (dev build of the crate, deps built), {n} files");
    // The macro's own work: load and validate the directory, as `kiln::migrations!` does.
    let kdir = write_crate(cfg, "compile-kiln", Flavor::Kiln, &set)?;
    let sdir = write_crate(cfg, "compile-sqlx", Flavor::Sqlx, &set)?;
    let edir = write_crate(cfg, "compile-empty", Flavor::Empty, &set)?;
    let mdir = kiln_core::MigrationDir::new(kdir.join("migrations"), "migrations");
    let mut load = Vec::new();
    for _ in 0..cfg.runs.max(3) {
        let t = Instant::now();
        let loaded = kiln_core::load_dir(&mdir).map_err(|e| anyhow::anyhow!("{e}"))?;
        load.push(t.elapsed());
        anyhow::ensure!(loaded.set.len() == n);
    }
    if !cfg.build_scratch {
        for d in [&kdir, &sdir, &edir] {
            metadata(d)?;
        }
        res.push_ms(
            &group,
            "kiln::migrations! expansion work (load + validate, in-process)",
            &load,
        );
        res.note("scratch crates generated but not built (set KILN_BENCH_SMOKE_BUILD=1 to build)");
        return Ok(());
    }
    let mut rows: Vec<(&str, &PathBuf, Vec<Duration>)> = vec![
        ("sqlx::migrate!", &sdir, vec![]),
        ("kiln::migrations!", &kdir, vec![]),
        ("no migrations (kiln::Migrator::EMPTY)", &edir, vec![]),
    ];
    // Dependencies first, untimed.
    for (_, dir, _) in &rows {
        build(dir, cfg, false)?;
    }
    for _ in 0..cfg.runs.max(3) {
        for (_, dir, v) in rows.iter_mut() {
            let main = dir.join("src/main.rs");
            let text = std::fs::read(&main)?;
            std::fs::write(&main, text)?; // touch: rebuild this crate only
            v.push(build(dir, cfg, false)?);
        }
    }
    for (tool, _, v) in &rows {
        res.push_ms(&group, tool, v);
    }
    res.push_ms(
        &group,
        "kiln::migrations! expansion work (load + validate, in-process)",
        &load,
    );
    Ok(())
}

/// Peak resident set of a child process, in bytes, as GNU time reports it (`%M`).
///
/// Not `wait4` from here: a child started by `fork` or `vfork`/`posix_spawn` is charged with its
/// parent's resident set until `exec` (measured: `/bin/true` "peaks" at the spawner's size), so the
/// spawner must be small. `/usr/bin/time` is (about 0.9 MiB, the floor of these numbers).
fn run_rss(exe: &Path, args: &[String]) -> anyhow::Result<u64> {
    const TIME: &str = "/usr/bin/time";
    anyhow::ensure!(
        Path::new(TIME).exists(),
        "peak RSS needs GNU time at {TIME} (Debian: apt-get install time)"
    );
    let out = Command::new(TIME)
        .arg("-f")
        .arg("kiln-bench-maxrss:%M")
        .arg(exe)
        .args(args)
        .stdout(std::process::Stdio::null())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{} failed: {}",
        exe.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let kib: u64 = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("kiln-bench-maxrss:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no peak RSS in {err}"))?;
    Ok(kib * 1024)
}

/// Scenario 4: binary size and peak memory of a minimal self-migrating binary.
pub fn size(cfg: &Config, res: &mut Results) -> anyhow::Result<()> {
    let n = cfg.size_revisions;
    let set = Set::new(Kind::Small, n);
    let kdir = write_crate(cfg, "selfmig-kiln", Flavor::Kiln, &set)?;
    let sdir = write_crate(cfg, "selfmig-sqlx", Flavor::Sqlx, &set)?;
    if !cfg.build_scratch {
        metadata(&kdir)?;
        metadata(&sdir)?;
        return Ok(());
    }
    let bins = [
        ("sqlx migrate!", &sdir, "selfmig-sqlx"),
        ("kiln", &kdir, "selfmig-kiln"),
    ];
    let group_size = "4. binary size (release, SQLite only)".to_owned();
    let group_rss = format!("4. peak RSS, apply {n} revisions to an empty SQLite file");
    let group_rss_noop = "4. peak RSS, no-op run at head".to_owned();
    let mut rss: Vec<(&str, u64, u64)> = Vec::new();
    for (tool, dir, bin) in bins {
        build(dir, cfg, true)?;
        let exe = cfg.servers.work.join("scratch/target/release").join(bin);
        res.push_bytes(&group_size, tool, std::fs::metadata(&exe)?.len());
        let mut apply = Vec::new();
        let mut noop = Vec::new();
        for _ in 0..cfg.runs.max(3) {
            let db = cfg.servers.work.join(format!("db/{bin}.db"));
            let _ = std::fs::remove_file(&db);
            let _ = std::fs::remove_file(db.with_extension("db.kiln-lock"));
            let url = vec![format!("sqlite://{}", db.display())];
            apply.push(run_rss(&exe, &url)?);
            noop.push(run_rss(&exe, &url)?);
        }
        apply.sort_unstable();
        noop.sort_unstable();
        rss.push((tool, apply[apply.len() / 2], noop[noop.len() / 2]));
    }
    for (tool, a, _) in &rss {
        res.push_bytes(&group_rss, tool, *a);
    }
    for (tool, _, b) in &rss {
        res.push_bytes(&group_rss_noop, tool, *b);
    }
    Ok(())
}
