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
        // From here on the database exists, so the value that removes it must exist too.
        let cleanup = Cleanup::Server {
            admin_url: admin_url.to_owned(),
            name: name.clone(),
            dialect,
        };
        let url = with_database(admin_url, &name);
        match Db::connect(&url).await {
            Ok(db) => Ok(DevDb {
                db,
                url,
                cleanup: Some(cleanup),
            }),
            Err(e) => {
                let _ = cleanup.run().await;
                Err(e)
            }
        }
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
                let sql = match dialect {
                    Dialect::MySql => {
                        format!("DROP DATABASE IF EXISTS {}", quote_ident(dialect, &name))
                    }
                    _ => format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        quote_ident(dialect, &name)
                    ),
                };
                let r = async {
                    let mut conn = RawConnection::acquire(&admin).await?;
                    conn.script(sql)
                        .await
                        .map_err(Error::db(format!("dropping the dev database {name}")))
                }
                .await;
                admin.close().await;
                r
            }
        }
    }
}

impl Drop for DevDb {
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take() else {
            return;
        };
        // This may run inside an async runtime that cannot be blocked: clean up on a thread
        // of its own, with a runtime of its own, and wait for it.
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
                    eprintln!("kiln: could not drop a dev database: {e}");
                }
            });
        });
        let _ = handle.join();
    }
}
