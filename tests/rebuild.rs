//! Adding, editing and removing a migration file makes the next `cargo build` see the change.
//!
//! The test writes a scratch crate into a temporary directory that depends on this workspace's
//! `kiln` by path, with the documented one-line `build.rs` (`kiln_core::build::watch`), and builds
//! and runs it with `cargo run` after each change to its `migrations/` directory. The scratch
//! build uses its own target directory, `<workspace>/target/rebuild-scratch`, because the cargo
//! running this test holds the lock on the workspace's; that directory is kept between runs, so
//! only the first run compiles kiln's dependencies.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");

const MAIN_RS: &str = r#"static MIGRATOR: kiln::Migrator = kiln::migrations!();

fn main() {
    let set = MIGRATOR.set();
    println!("revisions: {}", set.len());
    for r in set.revisions() {
        println!("{} {}", r.id(), r.message().unwrap_or(""));
    }
}
"#;

const BUILD_RS: &str = "fn main() {\n    kiln_core::build::watch(\"migrations\");\n}\n";

fn migration(id: &str, parent: Option<&str>, message: &str, sql: &str) -> String {
    let revises = parent.map_or(String::new(), |p| format!("-- kiln:revises {p}\n"));
    format!("-- kiln:revision {id}\n{revises}-- kiln:message {message}\n\n-- kiln:upgrade\n{sql}\n")
}

struct Scratch {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    target: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("scratch");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("migrations")).unwrap();
        let ws = Path::new(WORKSPACE);
        let manifest = format!(
            r#"[package]
name = "kiln-rebuild-scratch"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
kiln = {{ path = {kiln}, default-features = false }}

[build-dependencies]
kiln-core = {{ path = {core} }}
"#,
            kiln = toml_str(ws),
            core = toml_str(&ws.join("core")),
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        std::fs::write(dir.join("build.rs"), BUILD_RS).unwrap();
        std::fs::write(dir.join("src").join("main.rs"), MAIN_RS).unwrap();
        // The workspace's lock, so the scratch crate builds the same dependency versions (and
        // needs no registry look-up that the workspace did not need).
        std::fs::copy(ws.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
        Scratch {
            _tmp: tmp,
            dir,
            target: ws.join("target").join("rebuild-scratch"),
        }
    }

    fn write(&self, name: &str, text: &str) {
        // Cargo compares modification times with the previous build's; keep this change clearly
        // after it even on file systems with coarse timestamps.
        std::thread::sleep(Duration::from_millis(1100));
        std::fs::write(self.dir.join("migrations").join(name), text).unwrap();
    }

    fn remove(&self, name: &str) {
        std::thread::sleep(Duration::from_millis(1100));
        std::fs::remove_file(self.dir.join("migrations").join(name)).unwrap();
    }

    fn cargo_run(&self) -> Output {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Command::new(cargo)
            .args(["run", "--quiet"])
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", &self.target)
            // Keep what the outer `cargo test` set for this package from leaking in.
            .env_remove("CARGO_MANIFEST_DIR")
            .env_remove("CARGO_PKG_NAME")
            .env_remove("CARGO_PRIMARY_PACKAGE")
            .output()
            .expect("cannot run cargo")
    }

    /// Builds and runs the scratch crate, returning what it printed.
    fn run_ok(&self) -> String {
        let out = self.cargo_run();
        assert!(
            out.status.success(),
            "scratch crate failed to build or run:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn toml_str(p: &Path) -> String {
    let s = p.to_str().expect("workspace path is not UTF-8");
    format!("'{s}'")
}

#[test]
fn adding_editing_and_removing_migrations_rebuilds() {
    let s = Scratch::new();
    s.write(
        "0001_init.sql",
        &migration(
            "0001",
            None,
            "create users",
            "CREATE TABLE users (id INTEGER);",
        ),
    );
    let first = s.run_ok();
    assert!(first.starts_with("revisions: 1\n"), "{first}");

    // Adding a file: only the build script's directory watch can notice this.
    s.write(
        "0002_posts.sql",
        &migration(
            "0002",
            Some("0001"),
            "create posts",
            "CREATE TABLE posts (id INTEGER);",
        ),
    );
    let second = s.run_ok();
    assert!(second.starts_with("revisions: 2\n"), "{second}");
    assert!(second.contains("0002 create posts\n"), "{second}");

    // Editing a file.
    s.write(
        "0002_posts.sql",
        &migration(
            "0002",
            Some("0001"),
            "create blog posts",
            "CREATE TABLE posts (id INTEGER);",
        ),
    );
    let third = s.run_ok();
    assert!(third.contains("0002 create blog posts\n"), "{third}");
    assert!(!third.contains("0002 create posts\n"), "{third}");

    // Breaking the chain fails the build with kiln's message.
    s.write(
        "0003_tags.sql",
        &migration(
            "0003",
            Some("0009"),
            "create tags",
            "CREATE TABLE tags (id INTEGER);",
        ),
    );
    let broken = s.cargo_run();
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(!broken.status.success(), "a broken chain built:\n{stderr}");
    assert!(
        stderr.contains(
            "migrations/0003_tags.sql:2: revision `0003` revises `0009`, which does not exist"
        ),
        "{stderr}"
    );

    // Removing the broken file makes it build again, with the earlier revisions.
    s.remove("0003_tags.sql");
    let fourth = s.run_ok();
    assert!(fourth.starts_with("revisions: 2\n"), "{fourth}");
}
