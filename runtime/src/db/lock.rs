//! The run lock that keeps two kiln runs off one database: a PostgreSQL advisory lock, a MySQL
//! `GET_LOCK`, or a sidecar lock file next to a SQLite database.

use super::Conn;
use crate::error::{Error, Result};
use crate::sql::Sql;
#[cfg(feature = "mysql")]
use crate::sql::trusted;
use kiln_core::Dialect;
use std::time::{Duration, Instant};

/// The sidecar lock file of a file-backed SQLite database, `<real path of the file>.kiln-lock`;
/// `None` for in-memory and temporary databases.
///
/// The run lock must be the same for every spelling of one database (`sqlite://x.db`,
/// `sqlite:file:x.db`, `file:` URIs, `?mode=rwc`, relative paths, symlinks), so the file name is
/// asked of SQLite itself (the path it opened) and then resolved to its canonical form. For a
/// plain path this is the file earlier kiln versions locked, so they still exclude each other.
#[cfg(feature = "sqlite")]
async fn sqlite_lock_path(
    c: &mut sqlx::pool::PoolConnection<sqlx::Sqlite>,
) -> Result<Option<std::path::PathBuf>> {
    let opened = {
        let mut h = c
            .lock_handle()
            .await
            .map_err(Error::db("reading the SQLite database's file name"))?;
        super::raw_sqlite::db_filename(h.as_raw_handle().as_ptr())
    };
    let Some(opened) = opened else {
        return Ok(None);
    };
    let real = std::fs::canonicalize(&opened).map_err(|source| Error::LockFile {
        path: opened.display().to_string(),
        action: "find the real path of the database file for",
        source,
    })?;
    let mut lock = real.into_os_string();
    lock.push(".kiln-lock");
    Ok(Some(lock.into()))
}

impl Conn {
    /// Takes the run lock, waiting up to `timeout`.
    pub async fn lock(&mut self, sql: &Sql, timeout: Duration) -> Result<RunLock> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        let key = lock_key(&sql.lock_name);
        #[cfg(feature = "sqlite")]
        let lock_file = match self {
            Conn::Sqlite(c) => sqlite_lock_path(c).await?,
            _ => None,
        };
        loop {
            let got = match self {
                #[cfg(feature = "sqlite")]
                Conn::Sqlite(_) => match &lock_file {
                    None => Some(RunLock::None),
                    Some(path) => {
                        let lock_error = |action, source| Error::LockFile {
                            path: path.display().to_string(),
                            action,
                            source,
                        };
                        let file = std::fs::OpenOptions::new()
                            .create(true)
                            .truncate(false)
                            .write(true)
                            .open(path)
                            .map_err(|e| lock_error("open", e))?;
                        match file.try_lock() {
                            Ok(()) => Some(RunLock::File(file)),
                            Err(std::fs::TryLockError::WouldBlock) => None,
                            Err(std::fs::TryLockError::Error(e)) => {
                                return Err(lock_error("lock", e));
                            }
                        }
                    }
                },
                #[cfg(feature = "postgres")]
                Conn::Postgres(_) => {
                    // A simple query, like all of kiln's statements on PostgreSQL (see
                    // `Conn::exec`); the key is an integer kiln computed.
                    let ok = self
                        .first_text(format!("SELECT CAST(pg_try_advisory_lock({key}) AS TEXT)"))
                        .await
                        .map_err(Error::db("taking the migration lock"))?;
                    (ok.as_deref() == Some("true")).then_some(RunLock::Pg(key))
                }
                #[cfg(feature = "mysql")]
                Conn::MySql(c) => {
                    let name = format!("kiln:{key:016x}");
                    let ok: Option<i64> = sqlx::query_scalar(trusted(
                        "SELECT GET_LOCK(CONCAT(?, ':', COALESCE(DATABASE(), '')), 0)",
                    ))
                    .bind(name.clone())
                    .fetch_one(&mut **c)
                    .await
                    .map_err(Error::db("taking the migration lock"))?;
                    (ok == Some(1)).then_some(RunLock::MySql(name))
                }
                Conn::Never(n) => match *n {},
            };
            if let Some(lock) = got {
                return Ok(lock);
            }
            if start.elapsed() >= timeout {
                return Err(Error::LockTimeout {
                    waited: timeout,
                    what: match self.dialect() {
                        Dialect::Postgres => format!("PostgreSQL advisory lock {key}"),
                        Dialect::MySql => "MySQL GET_LOCK".to_owned(),
                        #[cfg(feature = "sqlite")]
                        _ => match &lock_file {
                            Some(p) => format!("SQLite lock file {}", p.display()),
                            None => "SQLite lock file".to_owned(),
                        },
                        #[cfg(not(feature = "sqlite"))]
                        _ => "lock".to_owned(),
                    },
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Releases the run lock.
    pub async fn unlock(&mut self, lock: RunLock) -> Result<()> {
        match (lock, self) {
            #[cfg(feature = "postgres")]
            (RunLock::Pg(key), c @ Conn::Postgres(_)) => {
                c.script(format!("SELECT pg_advisory_unlock({key})"))
                    .await
                    .map_err(Error::db("releasing the migration lock"))?;
            }
            #[cfg(feature = "mysql")]
            (RunLock::MySql(name), Conn::MySql(c)) => {
                sqlx::query(trusted(
                    "SELECT RELEASE_LOCK(CONCAT(?, ':', COALESCE(DATABASE(), '')))",
                ))
                .bind(name)
                .execute(&mut **c)
                .await
                .map_err(Error::db("releasing the migration lock"))?;
            }
            #[cfg(feature = "sqlite")]
            (RunLock::File(f), _) => drop(f),
            _ => {}
        }
        Ok(())
    }
}

/// A 63-bit key derived from the lock name, stable across kiln versions.
pub(crate) fn lock_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("kiln:{name}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) >> 1) as i64
}

/// A held run lock.
#[derive(Debug)]
pub(crate) enum RunLock {
    /// Locking is off, or the database is in memory (one process only).
    None,
    #[cfg(feature = "sqlite")]
    File(std::fs::File),
    #[cfg(feature = "postgres")]
    Pg(i64),
    #[cfg(feature = "mysql")]
    MySql(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_and_positive() {
        assert_eq!(lock_key("a"), lock_key("a"));
        assert_ne!(lock_key("a"), lock_key("b"));
        assert!(lock_key("x") >= 0);
    }
}
