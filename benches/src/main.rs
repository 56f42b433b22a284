//! `cargo run --release -p kiln-bench -- all`: every scenario of issue 6, one table.
//!
//! Usage: kiln-bench [all|startup|apply|compile|size|cli|bigscript]... [--quick] [--runs N] [--checks N] [--small N] [--heavy N] [--files N]
//!                   [--no-alembic] [--no-build] [--no-sqlite] [--no-pg] [--no-mysql] [--big-mb N] [--out FILE]
//! Servers: KILN_BENCH_PG (default postgres://postgres@127.0.0.1:5432/test) and KILN_BENCH_MYSQL
//! (default mysql://root@127.0.0.1:3306/test); unreachable servers are skipped with a note.

use kiln_bench::{Config, run};
use std::path::PathBuf;

fn main() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ is inside the workspace")
        .to_path_buf();
    // <target>/release/kiln-bench
    let target_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().and_then(|p| p.parent()).map(PathBuf::from))
        .unwrap_or_else(|| workspace.join("target"));
    let mut cfg = Config::full(workspace, target_dir);
    let mut picked: Vec<String> = Vec::new();
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "all" => {}
            "startup" | "apply" | "compile" | "size" | "cli" | "bigscript" => picked.push(a),
            "--quick" => {
                let keep = cfg.clone();
                cfg = Config::smoke(keep.workspace, keep.target_dir);
                cfg.build_scratch = keep.build_scratch;
                cfg.alembic = keep.alembic;
            }
            "--runs" => cfg.runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--checks" => {
                cfg.checks = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--checks N")
            }
            "--small" => cfg.small = args.next().and_then(|v| v.parse().ok()).expect("--small N"),
            "--heavy" => cfg.heavy = args.next().and_then(|v| v.parse().ok()).expect("--heavy N"),
            "--files" => {
                cfg.compile_files = args.next().and_then(|v| v.parse().ok()).expect("--files N")
            }
            "--no-alembic" => cfg.alembic = false,
            "--no-build" => cfg.build_scratch = false,
            "--no-mysql" => cfg.servers.mysql = None,
            "--no-pg" => cfg.servers.pg = None,
            "--no-sqlite" => cfg.sqlite = false,
            "--big-mb" => {
                cfg.big_script_mb = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--big-mb N")
            }
            "--out" => out = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                eprintln!(
                    "usage: kiln-bench [all|startup|apply|compile|size|cli|bigscript]... [--quick] [--runs N] [--checks N] [--small N] [--heavy N] [--files N] [--no-alembic] [--no-build] [--no-sqlite] [--no-pg] [--no-mysql] [--big-mb N] [--out FILE]"
                );
                return;
            }
            other => {
                eprintln!("kiln-bench: unknown argument `{other}` (try --help)");
                std::process::exit(2);
            }
        }
    }
    if !picked.is_empty() {
        cfg.scenarios = picked;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let results = rt.block_on(run(&cfg));
    let table = results.render();
    println!("{table}");
    let path = out.unwrap_or_else(|| cfg.servers.work.join("results.md"));
    if std::fs::write(&path, &table).is_ok() {
        eprintln!("table written to {}", path.display());
    }
}
