//! [`TestDb`]: a database that exists for one test, on a server found through the environment
//! or in a temporary SQLite file, dropped afterwards. Templates (`templates.rs`) make a migrated
//! one cheap; `cleanup.rs` removes what killed test processes and older sets leave behind.

mod cleanup;
mod templates;

pub use cleanup::{drop_orphans, drop_template, drop_templates};
#[cfg(feature = "postgres")]
use templates::pg_from_template;
#[cfg(feature = "sqlite")]
use templates::sqlite_from_template;
pub use templates::{sqlite_template_dir, template_name};

use kiln_core::Dialect;
use kiln_runtime::url::{redact_url, tcp_address};
use kiln_runtime::{Db, Error, Migrator, RawConnection, Result, quote_ident};
pub(crate) use kiln_schema::drop_server_database;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default PostgreSQL server for tests.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Default MySQL/MariaDB server for tests.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// Prefix of every throwaway database's name, followed by its creation time (hex Unix seconds)
/// so [`drop_orphans`] can tell old leftovers from databases in use.
const TEST_PREFIX: &str = "kiln_t_";
/// Prefix of template databases (PostgreSQL) and template files (SQLite).
const TEMPLATE_PREFIX: &str = "kiln_tpl_";
/// 2020-09-13: any creation time before this is not one `unique_name` wrote.
const PLAUSIBLE_SECS: u64 = 1_600_000_000;

/// A database that exists for one test.
///
/// Dropped when the value is dropped, also when the test panics. Call
/// [`TestDb::drop_database`] at the end of a test to see errors from dropping it.
#[derive(Debug)]
pub struct TestDb {
    db: Db,
    url: String,
    cleanup: Option<Cleanup>,
}

#[derive(Debug)]
enum Cleanup {
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    File(tempfile::TempDir),
    Server {
        admin_url: String,
        name: String,
        dialect: Dialect,
    },
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unique_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{TEST_PREFIX}{:x}_{}_{}_{nanos:x}",
        unix_secs(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether the suite runs under CI (`CI` set to anything but empty, `false` or `0`), where a
/// server or tool a test needs must be there: a missing one fails the test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The environment variable naming the server of `dialect`, and the URL it gives (or the
/// default). `None` for SQLite, which needs no server.
pub fn server_url(dialect: Dialect) -> Option<(&'static str, String)> {
    let (var, default) = match dialect {
        Dialect::Postgres => ("KILN_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        Dialect::MySql => ("KILN_TEST_MYSQL_URL", DEFAULT_MYSQL_URL),
        _ => return None,
    };
    Some((
        var,
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_owned()),
    ))
}

/// Outside CI an unusable server is a loud skip (`Ok(None)`); in CI it is an error, because a
/// check that silently did not run is worse than one that failed.
fn unavailable<T>(dialect: Dialect, var: &str, url: &str, e: &Error) -> Result<Option<T>> {
    if in_ci() {
        return Err(Error::Url {
            url: redact_url(url),
            reason: format!(
                "CI is set, so an unusable {dialect:?} test server is a failure rather than a skip ({e}); start it or point {var} at one"
            ),
        });
    }
    eprintln!(
        "\n*** SKIPPING {dialect:?} TEST: cannot use {} ({e}).\n*** Set {var} to a reachable server to run it (CI=true makes this a failure).\n",
        redact_url(url)
    );
    Ok(None)
}

/// Fails fast when nothing listens at the URL's host and port, instead of waiting out the
/// pool's connect timeout once per test. URLs it cannot parse (sockets, unusual forms) pass and
/// are left to the driver.
async fn reachable(url: &str) -> Result<()> {
    let Some((host, port)) = tcp_address(url) else {
        return Ok(());
    };
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    match tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(addr.as_str()),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("nothing answers at {addr}: {e}")),
        Err(_) => Err(format!("{addr} did not answer within 3 s")),
    }
    .map_err(|reason| Error::Url {
        url: redact_url(url),
        reason,
    })
}

fn db_error(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
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
    ///
    /// # Panics
    /// When `CI` is set and the server cannot be used: see [`TestDb::try_new`] for a version
    /// that returns the error instead.
    #[cfg(feature = "postgres")]
    pub async fn postgres() -> Option<TestDb> {
        TestDb::new(Dialect::Postgres).await
    }

    /// A new database on the MySQL/MariaDB server named by `KILN_TEST_MYSQL_URL`, or `None`
    /// (outside CI) when that server cannot be reached.
    ///
    /// # Panics
    /// When `CI` is set and the server cannot be used: see [`TestDb::try_new`].
    #[cfg(feature = "mysql")]
    pub async fn mysql() -> Option<TestDb> {
        TestDb::new(Dialect::MySql).await
    }

    /// A new database of the given engine (`None` when a server is unavailable outside CI).
    ///
    /// # Panics
    /// When the database cannot be created and `CI` is set, or SQLite cannot create a file:
    /// this is the convenient form for test bodies. [`TestDb::try_new`] returns the error.
    pub async fn new(dialect: Dialect) -> Option<TestDb> {
        match TestDb::try_new(dialect).await {
            Ok(db) => db,
            Err(e) => panic!("cannot create a {dialect:?} test database: {e}"),
        }
    }

    /// A new database of the given engine: `Ok(None)` after a loud notice when the server
    /// cannot be used outside CI, an error when it cannot be used in CI (`CI` set) or when this
    /// build lacks the engine's feature.
    pub async fn try_new(dialect: Dialect) -> Result<Option<TestDb>> {
        match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => TestDb::sqlite().await.map(Some),
            _ => {
                let Some((var, admin_url)) = server_url(dialect) else {
                    return Err(missing_engine(dialect));
                };
                if !engine_enabled(dialect) {
                    return Err(missing_engine(dialect));
                }
                let created = match reachable(&admin_url).await {
                    Ok(()) => TestDb::create_on_server(&admin_url, dialect, None).await,
                    Err(e) => Err(e),
                };
                match created {
                    Ok(db) => Ok(Some(db)),
                    Err(e) => unavailable(dialect, var, &admin_url, &e),
                }
            }
        }
    }

    /// A new database already migrated to every head of `migrator`: the cheap path for many
    /// tests that need the same schema.
    ///
    /// - PostgreSQL: cloned with `CREATE DATABASE ... TEMPLATE` from a template database named
    ///   after the set's digest ([`template_name`]), built once under an advisory lock and kept
    ///   for later runs (remove it with [`drop_templates`]).
    /// - SQLite: a copy of a migrated file kept in the system temporary directory under the same
    ///   name.
    /// - MySQL/MariaDB, which has no template databases: a new database, migrated.
    ///
    /// The clone carries the template's version rows and audit trail (one `upgrade` row per
    /// revision, recorded when the template was built). `Ok(None)` as for [`TestDb::try_new`].
    pub async fn migrated(migrator: &Migrator, dialect: Dialect) -> Result<Option<TestDb>> {
        match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => sqlite_from_template(migrator).await.map(Some),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                let Some((var, admin_url)) = server_url(dialect) else {
                    return Err(missing_engine(dialect));
                };
                let connected = match reachable(&admin_url).await {
                    Ok(()) => Db::connect(&admin_url).await,
                    Err(e) => Err(e),
                };
                let admin = match connected {
                    Ok(a) => a,
                    Err(e) => return unavailable(dialect, var, &admin_url, &e),
                };
                let r = pg_from_template(&admin, &admin_url, migrator).await;
                admin.close().await;
                r.map(Some)
            }
            _ => {
                let Some(t) = TestDb::try_new(dialect).await? else {
                    return Ok(None);
                };
                migrator
                    .run(t.db())
                    .await
                    .map_err(|e| context(e, "migrating a test database to every head"))?;
                Ok(Some(t))
            }
        }
    }

    async fn create_on_server(
        admin_url: &str,
        dialect: Dialect,
        template: Option<&str>,
    ) -> Result<TestDb> {
        let admin = Db::connect(admin_url).await?;
        let r = TestDb::create_with(&admin, admin_url, dialect, template).await;
        admin.close().await;
        r
    }

    async fn create_with(
        admin: &Db,
        admin_url: &str,
        dialect: Dialect,
        template: Option<&str>,
    ) -> Result<TestDb> {
        let name = unique_name();
        let mut create = format!("CREATE DATABASE {}", quote_ident(dialect, &name));
        if let Some(t) = template {
            create.push_str(&format!(" TEMPLATE {}", quote_ident(dialect, t)));
        }
        let mut conn = RawConnection::acquire(admin).await?;
        conn.script(create)
            .await
            .map_err(Error::db("creating a test database"))?;
        drop(conn);
        // kiln-schema's helper drops the database again if connecting fails.
        let (db, url) = kiln_schema::connect_created(admin_url, dialect, &name).await?;
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

    /// The database, to hand to a [`Migrator`].
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

fn engine_enabled(dialect: Dialect) -> bool {
    match dialect {
        Dialect::Postgres => cfg!(feature = "postgres"),
        Dialect::MySql => cfg!(feature = "mysql"),
        _ => cfg!(feature = "sqlite"),
    }
}

fn missing_engine(dialect: Dialect) -> Error {
    let feature = match dialect {
        Dialect::Postgres => "postgres",
        Dialect::MySql => "mysql",
        _ => "sqlite",
    };
    Error::Config(format!(
        "this build does not include the {dialect:?} engine; enable kiln's `{feature}` feature"
    ))
}

/// Puts what kiln was doing in front of an error that does not say it.
pub(crate) fn context(e: Error, what: &str) -> Error {
    match e {
        Error::Config(m) => Error::Config(format!("{what}: {m}")),
        other => other,
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
                let r = drop_server_database(&admin, dialect, &name).await;
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
        // Dropped without `drop_database` (a failing test, most likely).
        kiln_schema::clean_up_blocking(self.db.clone(), "a test database", cleanup.run());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_creation_time() {
        let n = unique_name();
        let secs = n
            .strip_prefix(TEST_PREFIX)
            .and_then(|r| r.split('_').next())
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap();
        assert!(unix_secs() - secs < 5);
        assert!(n.len() <= 63, "{n}");
        assert_ne!(unique_name(), unique_name());
    }
}
