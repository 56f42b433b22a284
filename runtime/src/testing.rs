//! Throwaway databases for tests (feature `testing`).
//!
//! Each [`TestDb`] is a database nobody else uses: a fresh database with a unique name on
//! PostgreSQL and MySQL/MariaDB, a temporary file on SQLite. It is dropped when the value is
//! dropped, also when the test panics, so tests run in parallel and leave nothing behind.
//!
//! Servers are found through `KILN_TEST_POSTGRES_URL` and `KILN_TEST_MYSQL_URL` (defaults:
//! `postgres://postgres@127.0.0.1:5432/test` and `mysql://root@127.0.0.1:3306/test`). When a
//! server cannot be reached, [`TestDb::postgres`] and [`TestDb::mysql`] return `None` after printing
//! a loud notice naming the variable, so the test can skip; when the `CI` variable is set they
//! panic instead, because in CI a missing server is a failure, never a silent skip.

use crate::db::{Db, redact_url};
use crate::error::{Error, Result};
use kiln_core::Dialect;
use std::sync::atomic::{AtomicU64, Ordering};

/// Default PostgreSQL server for tests.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Default MySQL/MariaDB server for tests.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    db: Db,
    url: String,
    cleanup: Option<Cleanup>,
}

#[derive(Debug)]
enum Cleanup {
    File(tempfile::TempDir),
    Server {
        admin_url: String,
        name: String,
        dialect: Dialect,
    },
}

fn unique_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "kiln_t_{}_{}_{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Replaces the database name in a server URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

impl TestDb {
    /// A new SQLite database in a temporary file.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite() -> Result<TestDb> {
        let dir = tempfile::tempdir()
            .map_err(|e| Error::Config(format!("cannot create a temporary directory: {e}")))?;
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let db = Db::connect(&url).await?;
        Ok(TestDb {
            db,
            url,
            cleanup: Some(Cleanup::File(dir)),
        })
    }

    /// A new database on the PostgreSQL server named by `KILN_TEST_POSTGRES_URL`, or `None`
    /// (outside CI) when that server cannot be reached.
    #[cfg(feature = "postgres")]
    pub async fn postgres() -> Option<TestDb> {
        Self::server(
            "KILN_TEST_POSTGRES_URL",
            DEFAULT_POSTGRES_URL,
            Dialect::Postgres,
        )
        .await
    }

    /// A new database on the MySQL/MariaDB server named by `KILN_TEST_MYSQL_URL`, or `None`
    /// (outside CI) when that server cannot be reached.
    #[cfg(feature = "mysql")]
    pub async fn mysql() -> Option<TestDb> {
        Self::server("KILN_TEST_MYSQL_URL", DEFAULT_MYSQL_URL, Dialect::MySql).await
    }

    /// A new database of the given engine (`None` when a server is unavailable outside CI).
    pub async fn new(dialect: Dialect) -> Option<TestDb> {
        match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => match TestDb::sqlite().await {
                Ok(db) => Some(db),
                Err(e) => panic!("cannot create a SQLite test database: {e}"),
            },
            #[cfg(feature = "postgres")]
            Dialect::Postgres => TestDb::postgres().await,
            #[cfg(feature = "mysql")]
            Dialect::MySql => TestDb::mysql().await,
            #[allow(unreachable_patterns)]
            other => panic!("this build does not include the {other:?} engine"),
        }
    }

    #[allow(dead_code)]
    async fn server(var: &str, default: &str, dialect: Dialect) -> Option<TestDb> {
        let admin_url = std::env::var(var).unwrap_or_else(|_| default.to_owned());
        match Self::create_on_server(&admin_url, dialect).await {
            Ok(db) => Some(db),
            Err(e) if in_ci() => panic!(
                "CI is set but the {dialect:?} test server at {} is unusable: {e}. Start it or point {var} at one.",
                redact_url(&admin_url)
            ),
            Err(e) => {
                eprintln!(
                    "\n*** SKIPPING {dialect:?} TEST: cannot use {} ({e}).\n*** Set {var} to a reachable server to run it (CI=true makes this a failure).\n",
                    redact_url(&admin_url)
                );
                None
            }
        }
    }

    #[allow(dead_code)]
    async fn create_on_server(admin_url: &str, dialect: Dialect) -> Result<TestDb> {
        let name = unique_name();
        let admin = Db::connect(admin_url).await?;
        let create = match dialect {
            Dialect::MySql => format!("CREATE DATABASE `{name}`"),
            _ => format!("CREATE DATABASE \"{name}\""),
        };
        let mut conn = admin.acquire().await?;
        conn.script(create)
            .await
            .map_err(Error::db("creating a test database"))?;
        drop(conn);
        admin.close().await;
        let url = with_database(admin_url, &name);
        let db = Db::connect(&url).await?;
        Ok(TestDb {
            db,
            url,
            cleanup: Some(Cleanup::Server {
                admin_url: admin_url.to_owned(),
                name,
                dialect,
            }),
        })
    }

    /// The database, to hand to a [`crate::Migrator`].
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Its URL (for the CLI or a child process).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its engine.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Drops the database now and reports failures (dropping the value does the same silently).
    pub async fn drop_database(mut self) -> Result<()> {
        self.db.close().await;
        match self.cleanup.take() {
            Some(c) => c.run().await,
            None => Ok(()),
        }
    }
}

impl Cleanup {
    async fn run(self) -> Result<()> {
        match self {
            Cleanup::File(dir) => dir
                .close()
                .map_err(|e| Error::Config(format!("cannot remove a temporary directory: {e}"))),
            Cleanup::Server {
                admin_url,
                name,
                dialect,
            } => {
                let admin = Db::connect(&admin_url).await?;
                let sql = match dialect {
                    Dialect::MySql => format!("DROP DATABASE IF EXISTS `{name}`"),
                    _ => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                };
                let mut conn = admin.acquire().await?;
                let r = conn
                    .script(sql)
                    .await
                    .map_err(Error::db("dropping a test database"));
                drop(conn);
                admin.close().await;
                r
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take() else {
            return;
        };
        if let Cleanup::File(dir) = cleanup {
            drop(dir);
            return;
        }
        // Dropped without `drop_database` (a failing test, most likely): clean up on a thread of
        // its own, since this may run inside an async runtime that cannot be blocked.
        let pool = self.db.clone();
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                pool.close().await;
                if let Err(e) = cleanup.run().await {
                    eprintln!("kiln: could not drop a test database: {e}");
                }
            });
        });
        let _ = handle.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:1/test", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(
            with_database("mysql://root@h:3306/test?ssl-mode=disabled", "x"),
            "mysql://root@h:3306/x?ssl-mode=disabled"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
