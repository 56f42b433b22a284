//! [`DevDb`]: a throwaway database for kiln's schema tools (`kiln schema dump`, `check
//! --schema`, `revision --autogenerate`): a temporary SQLite file, or a temporary database on a
//! PostgreSQL or MySQL/MariaDB server. It is always removed: by [`DevDb::drop_database`], or by
//! `Drop` on every other path (an error, a panic, a cancelled future).
//!
//! This is not a test harness (kiln-testing's `TestDb` is, with templates and cleanup of
//! orphans); it is the one primitive the CLI needs, so the CLI never depends on kiln-testing.

use kiln_core::Dialect;
use kiln_runtime::url::with_database;
use kiln_runtime::{Db, Error, RawConnection, Result, quote_ident};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The prefix of every dev database's name: `kiln_dev_<unix seconds, hex>_<pid>_<n>`, so an
/// orphan (the process was killed) says when and by whom it was made.
pub const DEV_PREFIX: &str = "kiln_dev_";

/// A throwaway database, removed when dropped.
#[derive(Debug)]
pub struct DevDb {
    db: Db,
    url: String,
    cleanup: Option<Cleanup>,
}

#[derive(Debug)]
enum Cleanup {
    File(PathBuf),
    Server {
        admin_url: String,
        name: String,
        dialect: Dialect,
    },
}

fn unique_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{DEV_PREFIX}{secs:x}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl DevDb {
    /// Creates an empty database. SQLite: a file in the system's temporary directory
    /// (`server_url` is not used). PostgreSQL and MySQL/MariaDB: a database named
    /// `kiln_dev_...` on the server of `server_url` (any database URL on that server; kiln
    /// connects to it only to create and drop the temporary one).
    pub async fn create(dialect: Dialect, server_url: Option<&str>) -> Result<DevDb> {
        let name = unique_name();
        if dialect == Dialect::Sqlite {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let cleanup = Cleanup::File(path);
            return match Db::connect(&url).await {
                Ok(db) => Ok(DevDb {
                    db,
                    url,
                    cleanup: Some(cleanup),
                }),
                Err(e) => {
                    let _ = cleanup.run().await;
                    Err(e)
                }
            };
        }
        let Some(admin_url) = server_url else {
            return Err(Error::Config(format!(
                "a {} dev database needs a server: pass --dev-url or set KILN_DEV_URL (or a database URL, whose server is used)",
                crate::dialect_name(dialect)
            )));
        };
        let admin = Db::connect(admin_url).await?;
        let created = async {
            let mut conn = RawConnection::acquire(&admin).await?;
            conn.script(format!("CREATE DATABASE {}", quote_ident(dialect, &name)))
                .await
                .map_err(Error::db(format!("creating the dev database {name}")))
        }
        .await;
        admin.close().await;
        created?;
        let (db, url) = connect_created(admin_url, dialect, &name).await?;
        Ok(DevDb {
            db,
            url,
            cleanup: Some(Cleanup::Server {
                admin_url: admin_url.to_owned(),
                name,
                dialect,
            }),
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes the pool and removes the database now, reporting failures (dropping the value
    /// does the same, silently but for a line on stderr).
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
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(p));
                }
                Ok(())
            }
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

/// Connects to the database `name` just created on the server of `admin_url`, returning the pool
/// and its URL. If that fails the database is dropped again, so a failed start leaves nothing
/// behind. Shared with kiln-testing's test databases: one owner for creating a throwaway
/// database's connection and for removing it.
pub async fn connect_created(
    admin_url: &str,
    dialect: Dialect,
    name: &str,
) -> Result<(Db, String)> {
    let url = with_database(admin_url, name);
    match Db::connect(&url).await {
        Ok(db) => Ok((db, url)),
        Err(e) => {
            if let Ok(admin) = Db::connect(admin_url).await {
                let _ = drop_server_database(&admin, dialect, name).await;
                admin.close().await;
            }
            Err(e)
        }
    }
}

/// Drops the throwaway database `name` through `admin`, a pool on the same server: `WITH
/// (FORCE)` on PostgreSQL, so a session left open (a failed test's pool) cannot keep it.
pub async fn drop_server_database(admin: &Db, dialect: Dialect, name: &str) -> Result<()> {
    let sql = match dialect {
        Dialect::MySql => format!("DROP DATABASE IF EXISTS {}", quote_ident(dialect, name)),
        _ => format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(dialect, name)
        ),
    };
    let mut conn = RawConnection::acquire(admin).await?;
    conn.script(sql)
        .await
        .map_err(Error::db(format!("dropping the throwaway database {name}")))
}

impl Drop for DevDb {
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take() else {
            return;
        };
        clean_up_blocking(self.db.clone(), "a dev database", cleanup.run());
    }
}

/// Closes `pool`, then runs `cleanup`, from `Drop`: on a thread of its own with a runtime of its
/// own, waited for, because `Drop` may run inside an async runtime that cannot be blocked. A
/// failure is a line on stderr naming `what`. Shared with kiln-testing's test databases.
pub fn clean_up_blocking(
    pool: Db,
    what: &'static str,
    cleanup: impl std::future::Future<Output = Result<()>> + Send + 'static,
) {
    let handle = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            pool.close().await;
            if let Err(e) = cleanup.await {
                eprintln!("kiln: could not drop {what}: {e}");
            }
        });
    });
    let _ = handle.join();
}
