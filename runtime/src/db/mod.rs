//! Connections to the three engines behind one type: [`Db`], and connecting to a URL.
//!
//! [`Db`] is what users hand to a [`crate::Migrator`]: a pool of any enabled engine, or a URL.
//! The rest of the module is split by job: [`Conn`] (one checked-out connection, `conn`), the
//! run lock (`lock`), the batch executor (`exec`) and the raw SQLite handle (`raw_sqlite`, the
//! only `unsafe` code of the runtime). Every operation is written once and expanded for each
//! engine by a dispatch macro, so the engines cannot drift apart.

mod conn;
mod exec;
mod lock;
#[cfg(feature = "sqlite")]
mod raw_sqlite;

pub(crate) use conn::{Arg, Conn, TextRow, is_concurrent_create, is_missing_table};
pub(crate) use exec::Exec;
pub(crate) use lock::{RunLock, lock_key};

use crate::error::{Error, Result};
use kiln_core::Dialect;
use std::time::Duration;

/// A database to migrate: a sqlx pool of an enabled engine.
///
/// `&PgPool`, `&MySqlPool` and `&SqlitePool` (and the pools themselves) convert into it, so
/// `MIGRATOR.run(&pool)` works with whichever pool an application already has.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Db {
    /// SQLite (feature `sqlite`, on by default).
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// PostgreSQL (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// MySQL or MariaDB (feature `mysql`).
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    #[doc(hidden)]
    Never(std::convert::Infallible),
}

macro_rules! dispatch {
    ($value:expr, $enum:ident, $c:ident => $body:expr) => {
        match $value {
            #[cfg(feature = "sqlite")]
            $enum::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            $enum::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            $enum::MySql($c) => $body,
            $enum::Never(n) => match *n {},
        }
    };
}

/// `From` a pool, owned or borrowed (a clone of a pool shares its connections), for each engine.
macro_rules! from_pool {
    ($($feature:literal, $pool:ty => $variant:ident;)*) => {$(
        #[cfg(feature = $feature)]
        impl From<$pool> for Db {
            fn from(p: $pool) -> Db {
                Db::$variant(p)
            }
        }
        #[cfg(feature = $feature)]
        impl From<&$pool> for Db {
            fn from(p: &$pool) -> Db {
                Db::$variant(p.clone())
            }
        }
    )*};
}

from_pool! {
    "sqlite", sqlx::SqlitePool => Sqlite;
    "postgres", sqlx::PgPool => Postgres;
    "mysql", sqlx::MySqlPool => MySql;
}

impl From<&Db> for Db {
    fn from(d: &Db) -> Db {
        d.clone()
    }
}

/// Servers a fleet has already connected to, so that its later databases on the same server skip
/// the probe (one connection, and one server backend, fewer per database).
///
/// Keyed by where a connection goes (host and port, or socket path), not by database: a
/// schema-per-tenant fleet has one key for a thousand tenants. A server that stops answering
/// is forgotten at the first failure, so the next database probes again and fails at once.
#[derive(Debug, Default)]
pub(crate) struct Reached(std::sync::Mutex<std::collections::HashSet<String>>);

impl Reached {
    fn knows(&self, key: &str) -> bool {
        self.0.lock().is_ok_and(|s| s.contains(key))
    }

    fn remember(&self, key: String, reached: bool) {
        if let Ok(mut s) = self.0.lock() {
            if reached {
                s.insert(key);
            } else {
                s.remove(&key);
            }
        }
    }
}

/// Where a connection goes: the socket path, else host and port.
#[allow(dead_code)]
fn server_key(host: &str, port: u16, socket: Option<&std::path::PathBuf>) -> String {
    match socket {
        Some(path) => path.display().to_string(),
        None => format!("{host}:{port}"),
    }
}

/// Builds a network engine's pool, probing first unless `reached` knows the server.
///
/// Without a probe, a server that went away since shows up as the pool's timeout; the probe then
/// runs to report the driver's own reason, as it would have at first.
#[allow(dead_code)]
async fn network_pool<DB: sqlx::Database>(
    opts: <DB::Connection as sqlx::Connection>::Options,
    key: String,
    shown: &str,
    reached: Option<&Reached>,
) -> Result<sqlx::Pool<DB>> {
    let known = reached.is_some_and(|r| r.knows(&key));
    if !known {
        probe::<DB::Connection>(&opts, shown).await?;
    }
    let pool = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts.clone())
        .await;
    if let Some(r) = reached {
        r.remember(key, pool.is_ok());
    }
    match pool {
        Ok(pool) => Ok(pool),
        Err(e) => {
            if known && matches!(e, sqlx::Error::PoolTimedOut) {
                probe::<DB::Connection>(&opts, shown).await?;
            }
            Err(connecting(shown, e))
        }
    }
}

/// The error of a connection to `shown` (a URL without its password) that failed with `source`.
fn connecting(shown: &str, source: sqlx::Error) -> Error {
    Error::Database {
        context: format!("connecting to {shown}"),
        source,
    }
}

/// Opens one connection directly before a pool is built. A pool retries a refused connection
/// until its acquire timeout and then reports only "timed out"; this reports the driver's real
/// reason (connection refused, unknown host, bad password) at once.
#[allow(dead_code)]
async fn probe<C: sqlx::Connection>(opts: &C::Options, shown: &str) -> Result<()> {
    match tokio::time::timeout(Duration::from_secs(10), C::connect_with(opts)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(connecting(shown, e)),
        Err(_) => Err(connecting(shown, sqlx::Error::PoolTimedOut)),
    }
}

impl Db {
    /// Connects to a URL: `sqlite:`, `postgres:`/`postgresql:`, `mysql:`/`mariadb:`. SQLite files
    /// are created when missing. The error never contains the password.
    pub async fn connect(url: &str) -> Result<Db> {
        Db::connect_to(url, None).await
    }

    /// [`Db::connect`], skipping the probe on a server `reached` has seen answer.
    pub(crate) async fn connect_to(url: &str, reached: Option<&Reached>) -> Result<Db> {
        // Only the network engines probe; a build with SQLite alone has no other use for it.
        let _ = &reached;
        let shown = crate::url::redact_url(url);
        let bad = |reason: String| Error::Url {
            url: shown.clone(),
            reason,
        };
        crate::url::validate(url)?;
        let scheme = url.split(':').next().unwrap_or("").to_ascii_lowercase();
        match scheme.as_str() {
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                use std::str::FromStr;
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                    .map_err(|e| bad(e.to_string()))?
                    .create_if_missing(true);
                // An in-memory database lives as long as one of its connections: keep one open
                // for the life of the pool.
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(4)
                    .min_connections(u32::from(in_memory))
                    .idle_timeout(if in_memory {
                        None
                    } else {
                        Some(Duration::from_secs(600))
                    })
                    .max_lifetime(if in_memory {
                        None
                    } else {
                        Some(Duration::from_secs(1800))
                    })
                    .connect_with(opts)
                    .await
                    .map_err(|e| connecting(&shown, e))?;
                Ok(Db::Sqlite(pool))
            }
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                use std::str::FromStr;
                let opts = sqlx::postgres::PgConnectOptions::from_str(url)
                    .map_err(|e| bad(e.to_string()))?;
                let key = server_key(opts.get_host(), opts.get_port(), opts.get_socket());
                let pool = network_pool(opts, key, &shown, reached).await?;
                Ok(Db::Postgres(pool))
            }
            #[cfg(feature = "mysql")]
            "mysql" | "mariadb" => {
                use std::str::FromStr;
                let opts = sqlx::mysql::MySqlConnectOptions::from_str(&crate::url::for_driver(url))
                    .map_err(|e| bad(e.to_string()))?;
                let key = server_key(opts.get_host(), opts.get_port(), opts.get_socket());
                let pool = network_pool(opts, key, &shown, reached).await?;
                Ok(Db::MySql(pool))
            }
            #[allow(unreachable_patterns)]
            "sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb" => Err(bad(format!(
                "this build of kiln does not include the `{scheme}` engine; enable kiln's `{}` feature",
                match scheme.as_str() {
                    "postgresql" => "postgres",
                    "mariadb" => "mysql",
                    s => s,
                }
            ))),
            _ => Err(bad(
                "expected a URL starting with sqlite:, postgres:, postgresql:, mysql: or mariadb:"
                    .into(),
            )),
        }
    }

    /// The SQL dialect of this database.
    pub fn dialect(&self) -> Dialect {
        dispatch!(self, Db, _p => dialect_of_pool(_p))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        dispatch!(self, Db, p => p.close().await)
    }

    pub(crate) async fn acquire(&self) -> Result<Conn> {
        let ctx = "acquiring a connection";
        Ok(match self {
            #[cfg(feature = "sqlite")]
            Db::Sqlite(p) => Conn::Sqlite(p.acquire().await.map_err(Error::db(ctx))?),
            #[cfg(feature = "postgres")]
            Db::Postgres(p) => Conn::Postgres(p.acquire().await.map_err(Error::db(ctx))?),
            #[cfg(feature = "mysql")]
            Db::MySql(p) => Conn::MySql(p.acquire().await.map_err(Error::db(ctx))?),
            Db::Never(n) => match *n {},
        })
    }
}

trait DialectOf {
    fn dialect() -> Dialect;
}
#[cfg(feature = "sqlite")]
impl DialectOf for sqlx::Sqlite {
    fn dialect() -> Dialect {
        Dialect::Sqlite
    }
}
#[cfg(feature = "postgres")]
impl DialectOf for sqlx::Postgres {
    fn dialect() -> Dialect {
        Dialect::Postgres
    }
}
#[cfg(feature = "mysql")]
impl DialectOf for sqlx::MySql {
    fn dialect() -> Dialect {
        Dialect::MySql
    }
}
#[allow(dead_code)]
fn dialect_of_pool<DB: sqlx::Database + DialectOf>(_: &sqlx::Pool<DB>) -> Dialect {
    DB::dialect()
}

#[allow(dead_code)]
fn dialect_of_conn<DB: sqlx::Database + DialectOf>(_: &sqlx::pool::PoolConnection<DB>) -> Dialect {
    DB::dialect()
}
