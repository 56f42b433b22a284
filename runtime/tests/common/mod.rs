//! Shared helpers for the runtime's integration tests: migration sets written to temp dirs.

#![allow(dead_code)]

use kiln_core::{MigrationDir, resolve_dir};
use kiln_runtime::{Db, Dialect, Migrator};
use std::path::Path;

/// One revision for [`set`]: id, parents (comma-separated), extra header lines, up SQL, down SQL.
pub struct Rev<'a> {
    pub id: &'a str,
    pub parents: &'a str,
    pub header: &'a str,
    pub up: &'a str,
    pub down: Option<&'a str>,
}

pub const fn rev<'a>(id: &'a str, parents: &'a str, up: &'a str, down: Option<&'a str>) -> Rev<'a> {
    Rev {
        id,
        parents,
        header: "",
        up,
        down,
    }
}

/// Writes the revisions into `dir` and loads them.
pub fn write_set(dir: &Path, revs: &[Rev<'_>]) -> Migrator {
    for r in revs {
        let mut text = format!(
            "-- kiln:revision {}\n-- kiln:message {} message\n",
            r.id, r.id
        );
        if !r.parents.is_empty() {
            text += &format!("-- kiln:revises {}\n", r.parents);
        }
        text += r.header;
        text += "\n-- kiln:upgrade\n";
        text += r.up;
        text += "\n";
        if let Some(d) = r.down {
            text += "\n-- kiln:downgrade\n";
            text += d;
            text += "\n";
        }
        std::fs::write(dir.join(format!("{}_test.sql", r.id)), text).expect("write migration");
    }
    load(dir)
}

pub fn load(dir: &Path) -> Migrator {
    let d = MigrationDir::new(dir.to_owned(), "migrations");
    match Migrator::load(&d) {
        Ok(m) => m,
        Err(e) => panic!("fixture set is invalid:\n{e}"),
    }
}

/// The sample set in the repository's `migrations/`.
pub fn sample() -> Migrator {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let d = resolve_dir(&root, None);
    Migrator::load(&d).unwrap_or_else(|e| panic!("{e}"))
}

/// A linear chain of `n` tables.
pub fn chain(dir: &Path, n: usize) -> Migrator {
    let revs: Vec<(String, String, String, String)> = (0..n)
        .map(|i| {
            (
                format!("r{i:03}"),
                if i == 0 {
                    String::new()
                } else {
                    format!("r{:03}", i - 1)
                },
                format!("CREATE TABLE t{i} (id INTEGER PRIMARY KEY);"),
                format!("DROP TABLE t{i};"),
            )
        })
        .collect();
    let list: Vec<Rev<'_>> = revs
        .iter()
        .map(|(id, p, up, down)| rev(id, p, up, Some(down)))
        .collect();
    write_set(dir, &list)
}

/// Whether a table exists in the database's default schema.
pub async fn table_exists(db: &Db, name: &str) -> bool {
    let sql = match db.dialect() {
        Dialect::Sqlite => {
            format!("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '{name}'")
        }
        Dialect::Postgres => format!(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{name}'"
        ),
        _ => format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{name}'"
        ),
    };
    raw_rows(db, &sql).await > 0
}

/// Runs a query and counts the rows it returns.
pub async fn raw_rows(db: &Db, sql: &str) -> usize {
    use sqlx::AssertSqlSafe;
    match db {
        Db::Sqlite(p) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .fetch_all(p)
            .await
            .expect(sql)
            .len(),
        Db::Postgres(p) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .fetch_all(p)
            .await
            .expect(sql)
            .len(),
        Db::MySql(p) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .fetch_all(p)
            .await
            .expect(sql)
            .len(),
        _ => unreachable!(),
    }
}

/// Runs SQL, panicking on failure.
pub async fn exec(db: &Db, sql: &str) {
    use sqlx::AssertSqlSafe;
    match db {
        Db::Sqlite(p) => drop(
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(p)
                .await
                .expect(sql),
        ),
        Db::Postgres(p) => drop(
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(p)
                .await
                .expect(sql),
        ),
        Db::MySql(p) => drop(
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(p)
                .await
                .expect(sql),
        ),
        _ => unreachable!(),
    }
}

/// PgBouncer's `host:port` in transaction mode, or `None` (a loud skip) outside CI when it is not
/// configured.
pub fn pgbouncer() -> Option<String> {
    pooler_address("KILN_TEST_PGBOUNCER_URL")
}

/// The `host:port` of the PgBouncer whose URL is in `var` (see `.ci/pgbouncer`), or `None` (a
/// loud skip) outside CI when it is not configured.
pub fn pooler_address(var: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|u| !u.is_empty());
    match url.as_deref().and_then(kiln_runtime::url::tcp_address) {
        Some((host, port)) => Some(format!("{host}:{port}")),
        None if kiln_testing::in_ci() => panic!(
            "CI is set but {var} is not: source .ci/prepare (it starts the PgBouncers of .ci/pgbouncer and exports their URLs)"
        ),
        None => {
            eprintln!(
                "SKIPPED: set {var} (see .ci/pgbouncer, which starts it) to run kiln's tests behind a pooler"
            );
            None
        }
    }
}

/// The lost-connection tests' set: r1 creates `a`; r2 creates `b`, then `freeze_here`, the
/// proxy's mid-statement trigger.
pub fn freeze_set(dir: &Path) -> Migrator {
    write_set(
        dir,
        &[
            rev(
                "r1",
                "",
                "CREATE TABLE a (id INT PRIMARY KEY);",
                Some("DROP TABLE a;"),
            ),
            rev(
                "r2",
                "r1",
                "CREATE TABLE b (id INT PRIMARY KEY);\nCREATE TABLE freeze_here (id INT PRIMARY KEY);",
                Some("DROP TABLE freeze_here;\nDROP TABLE b;"),
            ),
        ],
    )
}

/// After a lost connection: a direct run of `m` on `db` completes within a minute, applies
/// `steps` revisions and ends at `r2` of [`freeze_set`] with nothing dirty.
pub async fn rerun_completes(m: &Migrator, db: &Db, steps: usize) {
    use std::time::Duration;
    let direct = m
        .clone()
        .with_options(kiln_runtime::Options::default().lock_timeout(Duration::from_secs(20)));
    let report = tokio::time::timeout(Duration::from_secs(60), direct.upgrade(db, "head"))
        .await
        .expect("the rerun hung")
        .expect("the rerun must complete");
    assert_eq!(report.steps.len(), steps, "{report:?}");
    let st = m.current(db).await.expect("current");
    assert_eq!((st.current, st.dirty), (vec!["r2".to_owned()], Vec::new()));
    assert!(table_exists(db, "freeze_here").await);
}

/// Runs `f` on a fresh test database of `dialect` and drops it afterwards; without a server the
/// test is skipped outside CI and fails under it ([`kiln_testing::TestDb::new`]).
pub async fn with_engine<F, Fut>(dialect: Dialect, f: F)
where
    F: FnOnce(kiln_testing::TestDb) -> Fut,
    Fut: std::future::Future<Output = kiln_testing::TestDb>,
{
    let Some(db) = kiln_testing::TestDb::new(dialect).await else {
        return;
    };
    let db = f(db).await;
    db.drop_database().await.expect("drop test database");
}

/// For each `async fn name(TestDb) -> TestDb` of the test file, one test per engine:
/// `sqlite::name`, `postgres::name`, `mysql::name`.
#[allow(unused_macros)]
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { crate::common::with_engine(kiln_runtime::Dialect::Sqlite, super::$name).await } )* }
        on_servers!($($name),*);
    };
}

/// The same on the two network engines alone: `postgres::name`, `mysql::name`.
#[allow(unused_macros)]
macro_rules! on_servers {
    ($($name:ident),* $(,)?) => {
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { crate::common::with_engine(kiln_runtime::Dialect::Postgres, super::$name).await } )* }
        mod mysql { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { crate::common::with_engine(kiln_runtime::Dialect::MySql, super::$name).await } )* }
    };
}

/// For each `name: [engines]`, one test per listed engine: `name::sqlite`, `name::postgres`,
/// `name::mysql`.
#[allow(unused_macros)]
macro_rules! engines {
    ($($name:ident: [$($engine:ident),*]),* $(,)?) => {
        $( mod $name { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $engine() {
                let dialect = match stringify!($engine) {
                    "sqlite" => kiln_runtime::Dialect::Sqlite,
                    "postgres" => kiln_runtime::Dialect::Postgres,
                    _ => kiln_runtime::Dialect::MySql,
                };
                crate::common::with_engine(dialect, super::$name).await
            }
        )* } )*
    };
}
