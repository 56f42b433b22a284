//! Helpers shared by the load and fault tests: per-engine test generation, plain SQL against a
//! test database, and a start barrier for child processes.

#![allow(dead_code)]

use kiln::Dialect;
use kiln::testing::TestDb;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Generates one `#[tokio::test]` per engine for each scenario `async fn(Dialect)`.
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(kiln::Dialect::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(kiln::Dialect::Postgres).await } )* }
        mod mysql { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(kiln::Dialect::MySql).await } )* }
    };
}

/// A plain connection pool to a test database, for the assertions' own queries.
pub async fn sql_pool(db: &TestDb) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(2)
        .connect(db.url())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", db.url()))
}

/// The first column of the first row, as an integer.
pub async fn scalar(pool: &AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The first column of every row, as integers.
pub async fn column(pool: &AnyPool, sql: &str) -> Vec<i64> {
    sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub async fn execute(pool: &AnyPool, sql: &str) {
    sqlx::query(AssertSqlSafe(sql))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Whether a table exists in the test database.
pub async fn table_exists(pool: &AnyPool, dialect: Dialect, name: &str) -> bool {
    let sql = match dialect {
        Dialect::Sqlite => {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{name}'")
        }
        Dialect::Postgres => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{name}'"
        ),
        _ => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{name}'"
        ),
    };
    scalar(pool, &sql).await > 0
}

/// Polls `probe` every 50 ms until it is true; panics with `what` after `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !probe().await {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A start barrier for child processes: each child is started under `flock --shared` on a file this
/// value holds an exclusive lock on, so they all block until [`Barrier::release`] and then start
/// at the same moment.
pub struct Barrier {
    file: std::fs::File,
    path: PathBuf,
}

impl Barrier {
    pub fn new(dir: &Path) -> Barrier {
        let path = dir.join("start.barrier");
        let file = std::fs::File::create(&path).expect("create the barrier file");
        file.lock().expect("lock the barrier file");
        Barrier { file, path }
    }

    /// A command that runs `program` once the barrier is released.
    pub fn command(&self, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("flock");
        cmd.arg("--shared").arg(&self.path).arg(program);
        cmd
    }

    /// Waits (up to 10 s) until `n` processes are blocked on the barrier, as `/proc/locks` shows
    /// them; then releases them all at once.
    pub async fn release_when_waiting(self, n: usize) {
        use std::os::unix::fs::MetadataExt;
        let ino = std::fs::metadata(&self.path).map(|m| m.ino()).unwrap_or(0);
        let needle = format!(":{ino} ");
        let start = Instant::now();
        let mut waiting = 0;
        while start.elapsed() < Duration::from_secs(10) {
            let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
            waiting = locks
                .lines()
                .filter(|l| l.contains("->") && l.contains(&needle))
                .count();
            if waiting >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.file.unlock().expect("release the barrier");
        eprintln!("released {waiting} of {n} processes waiting at the barrier");
    }
}

/// The exit status and output of a finished child, for assertion messages.
pub fn describe(out: &std::process::Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a command to completion with a time limit (the child is killed if it is exceeded).
pub async fn output_within(
    mut cmd: tokio::process::Command,
    limit: Duration,
) -> std::process::Output {
    cmd.kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.as_std().get_program()));
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(out) => out.expect("wait for the child process"),
        Err(_) => panic!("the child process did not finish within {limit:?}"),
    }
}
