//! Fresh databases for each measurement, and the engine-level floor operations.

use sqlx::AssertSqlSafe;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// An engine under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    MySql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite file",
            Engine::Postgres => "PostgreSQL",
            Engine::MySql => "MariaDB",
        }
    }
}

/// One database, created empty.
pub enum Fresh {
    Sqlite {
        path: PathBuf,
        pool: sqlx::SqlitePool,
    },
    Postgres {
        url: String,
        pool: sqlx::PgPool,
    },
    MySql {
        url: String,
        pool: sqlx::MySqlPool,
    },
}

/// Where the benchmark puts its files, and how to reach the servers.
#[derive(Debug, Clone)]
pub struct Servers {
    pub work: PathBuf,
    pub pg: Option<String>,
    pub mysql: Option<String>,
}

impl Servers {
    /// A new empty database called `name` (dropped first if it exists).
    pub async fn fresh(&self, engine: Engine, name: &str) -> anyhow::Result<Fresh> {
        match engine {
            Engine::Sqlite => {
                let dir = self.work.join("db");
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(format!("{name}.db"));
                for suffix in ["", "-wal", "-shm", "-journal", ".kiln-lock"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(p));
                }
                let opts = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true);
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(opts)
                    .await?;
                Ok(Fresh::Sqlite { path, pool })
            }
            Engine::Postgres => {
                let base = self
                    .pg
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("no PostgreSQL"))?;
                let admin = sqlx::PgPool::connect(base).await?;
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&admin)
                .await?;
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                let url = kiln_runtime::url::with_database(base, name);
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .connect(&url)
                    .await?;
                Ok(Fresh::Postgres { url, pool })
            }
            Engine::MySql => {
                let base = self
                    .mysql
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("no MariaDB"))?;
                let admin = sqlx::MySqlPool::connect(base).await?;
                sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                    .execute(&admin)
                    .await?;
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                let url = kiln_runtime::url::with_database(base, name);
                let pool = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(4)
                    .connect(&url)
                    .await?;
                Ok(Fresh::MySql { url, pool })
            }
        }
    }

    /// Drops a database made by [`Servers::fresh`].
    pub async fn drop_db(&self, fresh: Fresh, name: &str) {
        match fresh {
            Fresh::Sqlite { pool, path } => {
                pool.close().await;
                let _ = std::fs::remove_file(path);
            }
            Fresh::Postgres { pool, .. } => {
                pool.close().await;
                if let Some(base) = &self.pg
                    && let Ok(admin) = sqlx::PgPool::connect(base).await
                {
                    let _ = sqlx::raw_sql(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&admin)
                    .await;
                    admin.close().await;
                }
            }
            Fresh::MySql { pool, .. } => {
                pool.close().await;
                if let Some(base) = &self.mysql
                    && let Ok(admin) = sqlx::MySqlPool::connect(base).await
                {
                    let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            }
        }
    }
}

impl Fresh {
    pub fn kiln_db(&self) -> kiln_runtime::Db {
        match self {
            Fresh::Sqlite { pool, .. } => pool.into(),
            Fresh::Postgres { pool, .. } => pool.into(),
            Fresh::MySql { pool, .. } => pool.into(),
        }
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Fresh::Sqlite { path, .. } => Some(path),
            _ => None,
        }
    }

    pub fn url(&self) -> Option<&str> {
        match self {
            Fresh::Sqlite { .. } => None,
            Fresh::Postgres { url, .. } | Fresh::MySql { url, .. } => Some(url),
        }
    }

    /// Runs a script through the engine's own path: `sqlite3_exec` on the raw handle sqlx exposes,
    /// the simple-query protocol on PostgreSQL, the text protocol on MariaDB.
    pub async fn exec_script(&self, script: &str) -> anyhow::Result<()> {
        match self {
            Fresh::Sqlite { pool, .. } => {
                let mut conn = pool.acquire().await?;
                let mut handle = conn.lock_handle().await?;
                sqlite3_exec(&mut handle, script)
            }
            Fresh::Postgres { pool, .. } => {
                sqlx::raw_sql(AssertSqlSafe(script.to_owned()))
                    .execute(pool)
                    .await?;
                Ok(())
            }
            Fresh::MySql { pool, .. } => {
                sqlx::raw_sql(AssertSqlSafe(script.to_owned()))
                    .execute(pool)
                    .await?;
                Ok(())
            }
        }
    }

    /// The same script through sqlx's own driver (`raw_sql`), for SQLite's driver overhead.
    pub async fn sqlx_script(&self, script: &str) -> anyhow::Result<()> {
        match self {
            Fresh::Sqlite { pool, .. } => {
                sqlx::raw_sql(AssertSqlSafe(script.to_owned()))
                    .execute(pool)
                    .await?;
                Ok(())
            }
            _ => self.exec_script(script).await,
        }
    }

    /// The floor of a start-up check: take the lock, read the version table, release; one call.
    pub async fn floor_check(&self) -> anyhow::Result<()> {
        const READ: &str = "SELECT version FROM floor_version ORDER BY version DESC LIMIT 1";
        match self {
            Fresh::Sqlite { pool, .. } => {
                let mut conn = pool.acquire().await?;
                let mut handle = conn.lock_handle().await?;
                sqlite3_exec(&mut handle, &format!("BEGIN IMMEDIATE; {READ}; COMMIT"))
            }
            Fresh::Postgres { pool, .. } => {
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "SELECT pg_advisory_lock(4242); {READ}; SELECT pg_advisory_unlock(4242)"
                )))
                .fetch_all(pool)
                .await?;
                Ok(())
            }
            Fresh::MySql { pool, .. } => {
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "SELECT GET_LOCK('kb', 10); {READ}; SELECT RELEASE_LOCK('kb')"
                )))
                .fetch_all(pool)
                .await?;
                Ok(())
            }
        }
    }

    /// A one-row read through sqlx's ordinary (prepared, cached) query path.
    pub async fn one_row(&self, sql: &'static str) -> anyhow::Result<()> {
        match self {
            Fresh::Sqlite { pool, .. } => {
                sqlx::query(sql).fetch_one(pool).await?;
            }
            Fresh::Postgres { pool, .. } => {
                sqlx::query(sql).fetch_one(pool).await?;
            }
            Fresh::MySql { pool, .. } => {
                sqlx::query(sql).fetch_one(pool).await?;
            }
        }
        Ok(())
    }

    /// The journal mode and synchronous setting sqlx uses, so rusqlite can match them.
    pub async fn sqlite_pragmas(&self) -> anyhow::Result<Vec<(String, String)>> {
        let Fresh::Sqlite { pool, .. } = self else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for p in ["journal_mode", "synchronous", "foreign_keys"] {
            let v: (String,) = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT CAST({p} AS TEXT) FROM pragma_{p}"
            )))
            .fetch_one(pool)
            .await?;
            out.push((p.to_owned(), v.0));
        }
        Ok(out)
    }

    /// A sqlx migrator run against this database.
    pub async fn sqlx_migrate(&self, m: &sqlx::migrate::Migrator) -> anyhow::Result<()> {
        match self {
            Fresh::Sqlite { pool, .. } => m.run(pool).await?,
            Fresh::Postgres { pool, .. } => m.run(pool).await?,
            Fresh::MySql { pool, .. } => m.run(pool).await?,
        }
        Ok(())
    }
}

/// `sqlite3_exec` on the raw handle of a locked sqlx connection.
pub fn sqlite3_exec(
    handle: &mut sqlx::sqlite::LockedSqliteHandle<'_>,
    script: &str,
) -> anyhow::Result<()> {
    let db = handle.as_raw_handle().as_ptr();
    let c = std::ffi::CString::new(script)?;
    let mut err: *mut std::ffi::c_char = std::ptr::null_mut();
    // SAFETY: the handle is locked away from sqlx's worker by the caller's `LockedSqliteHandle`;
    // `c` outlives the call; the error message is freed with `sqlite3_free` as documented.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_exec(db, c.as_ptr(), None, std::ptr::null_mut(), &mut err)
    };
    if rc == libsqlite3_sys::SQLITE_OK {
        return Ok(());
    }
    let msg = if err.is_null() {
        format!("sqlite3_exec failed with code {rc}")
    } else {
        // SAFETY: SQLite returned a NUL-terminated message it allocated.
        let m = unsafe { std::ffi::CStr::from_ptr(err) }
            .to_string_lossy()
            .into_owned();
        unsafe { libsqlite3_sys::sqlite3_free(err.cast()) };
        m
    };
    // Leave no transaction open behind a failure.
    let rollback = std::ffi::CString::new("ROLLBACK").expect("no NUL");
    // SAFETY: as above.
    unsafe {
        libsqlite3_sys::sqlite3_exec(db, rollback.as_ptr(), None, std::ptr::null_mut(), &mut err)
    };
    anyhow::bail!("{msg}")
}

/// Opens a rusqlite connection with sqlx's settings.
pub fn rusqlite_conn(
    path: &Path,
    pragmas: &[(String, String)],
) -> anyhow::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    for (k, v) in pragmas {
        conn.execute_batch(&format!("PRAGMA {k} = {v}"))?;
    }
    Ok(conn)
}

/// Parses a URL just to check it.
pub fn check_url(url: &str) -> bool {
    if kiln_runtime::url::dialect_of(url) == Some(kiln_runtime::Dialect::Postgres) {
        sqlx::postgres::PgConnectOptions::from_str(url).is_ok()
    } else {
        sqlx::mysql::MySqlConnectOptions::from_str(url).is_ok()
    }
}
