//! The run lock as one run holds it: which lock [`crate::LockMode`] picks for this connection,
//! taking and releasing it, and, for the transaction lock, the check every writing transaction
//! makes under it. The locks themselves are in `db/lock.rs` (session) and `lease.rs` (table).

use super::Session;
use super::lease::{Lease, LeaseState, held_elsewhere};
use crate::db::{RunLock, lock_key};
use crate::error::{Error, Result};
use crate::lock_mode::{Chosen, Path, choose, path_of};
use kiln_core::checksum::hex;
use std::sync::Arc;
use std::time::Duration;

/// What a run's transactions must do about the run lock.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    /// Transaction lock: the advisory lock key every writing transaction takes.
    pub xact: Option<i64>,
    /// Transaction lock: how long a transaction waits for it, in milliseconds.
    pub wait_ms: u64,
    /// Transaction lock: a writing transaction found that another runner changed the state since
    /// this run read it. It was rolled back; the run reads the state again and plans anew.
    pub raced: bool,
    /// Lease: its state, checked before each revision.
    pub lease: Option<Arc<LeaseState>>,
}

impl Guard {
    /// `Err` when the run's lease is gone; `next` names what it would have started.
    pub fn check(&self, next: impl FnOnce() -> String) -> Result<()> {
        match &self.lease {
            Some(l) => l.check(next),
            None => Ok(()),
        }
    }

    /// The script that opens a writing transaction under the transaction lock and reads the state
    /// row, and the digest it must read for the run's view of the state to still be true.
    pub fn xact_begin(
        &self,
        sql: &crate::sql::Sql,
        digest: &[u8; 32],
        dirty: i64,
    ) -> Option<(String, String)> {
        self.xact
            .map(|key| (sql.begin_xact_locked(key, dirty, self.wait_ms), hex(digest)))
    }
}

/// An error from the script of [`Guard::xact_begin`]: the lock's timeout (55P03) is
/// [`Error::LockTimeout`], anything else a database error. The transaction is aborted either way.
pub(crate) fn xact_error(e: sqlx::Error, guard: &Guard) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("55P03") => Error::LockTimeout {
            waited: Duration::from_millis(guard.wait_ms),
            what: format!(
                "PostgreSQL transaction-scoped advisory lock {}",
                guard.xact.unwrap_or_default()
            ),
        },
        _ => Error::db("taking the transaction lock")(e),
    }
}

/// A held run lock.
pub(crate) enum Held {
    /// Locking is off.
    None,
    Session(RunLock),
    /// Held only inside each writing transaction; nothing to release.
    Transaction,
    Lease(Lease),
}

impl Session<'_> {
    /// The lock this run takes (asks the server once for `auto` on PostgreSQL).
    pub(super) async fn chosen_lock(&mut self) -> Result<Chosen> {
        let dialect = self.dialect;
        let mode = self.opts.lock_mode;
        let needs_path = mode == crate::LockMode::Auto && dialect == kiln_core::Dialect::Postgres;
        let path = if needs_path {
            self.path().await
        } else {
            Path::Direct
        };
        let non_transactional = self.set().revisions().iter().any(|r| !r.is_transactional());
        choose(mode, dialect, non_transactional, || path).map_err(Error::Config)
    }

    /// How the connection reaches PostgreSQL: what the server says it accepted, against what kiln
    /// dialled (see `lock_mode::path_of`).
    async fn path(&mut self) -> Path {
        let dialled: Option<(String, u16, bool)> = match &self.db {
            #[cfg(feature = "postgres")]
            crate::db::Db::Postgres(p) => {
                let o = p.connect_options();
                Some((
                    o.get_host().to_owned(),
                    o.get_port(),
                    o.get_socket().is_some(),
                ))
            }
            _ => None,
        };
        let Some((host, port, socket)) = dialled else {
            return Path::Direct;
        };
        let seen = self
            .conn
            .rows(
                "SELECT CAST(inet_server_port() AS TEXT), host(inet_server_addr()), version()",
                &[],
            )
            .await;
        let server = match seen {
            Ok(rows) => rows.into_iter().next().and_then(|mut r| {
                let version = r.get_mut(2).and_then(Option::take).unwrap_or_default();
                // CockroachDB and other PostgreSQL-wire databases answer in their own name.
                version.starts_with("PostgreSQL").then(|| {
                    (
                        r.first_mut().and_then(Option::take),
                        r.get_mut(1).and_then(Option::take),
                    )
                })
            }),
            Err(_) => None,
        };
        let path = path_of(&host, port, socket, server);
        tracing::debug!(target: "kiln", "lock mode auto: the connection is {path:?}");
        path
    }

    /// Takes the run lock; a stamp does not wait (see `mutate`).
    pub(super) async fn take_lock(&mut self, stamping: bool) -> Result<Held> {
        if !self.opts.lock {
            return Ok(Held::None);
        }
        let chosen = self.chosen_lock().await?;
        let timeout = if stamping {
            Duration::ZERO
        } else {
            self.opts.lock_timeout
        };
        let stamp_refused = |e: Error| match e {
            Error::LockTimeout { what, .. } if stamping => Error::StampWhileRunning { what },
            other => other,
        };
        match chosen {
            Chosen::Session => {
                self.conn.identify().await;
                match self.conn.lock(&self.sql, timeout).await {
                    Ok(lock) => Ok(Held::Session(lock)),
                    // The lock may have been granted with the reply lost: end that session, so
                    // the lock does not outlive it, and say what happened.
                    Err(Error::Database { context, source }) if self.lost_here(&source) => {
                        Err(self
                            .lost(&source, &context, None, None, super::lost::Phase::Other)
                            .await)
                    }
                    Err(e) => Err(stamp_refused(e)),
                }
            }
            Chosen::Transaction => {
                self.conn.watch_pooled();
                self.guard.xact = Some(lock_key(&self.sql.lock_name));
                self.guard.wait_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                Ok(Held::Transaction)
            }
            Chosen::Table => {
                self.conn.watch_pooled();
                let lease = Lease::take(
                    &mut self.conn,
                    &self.db,
                    &self.sql,
                    timeout,
                    self.opts.lease,
                )
                .await
                .map_err(stamp_refused)?;
                self.guard.lease = Some(lease.state.clone());
                Ok(Held::Lease(lease))
            }
        }
    }

    /// Releases the run lock. `lost`: the run's connection was lost, and with it a session lock;
    /// `failed`: the run failed, perhaps inside a transaction that still holds the transaction
    /// lock.
    pub(super) async fn release_lock(
        &mut self,
        held: Held,
        lost: bool,
        failed: bool,
    ) -> Result<()> {
        self.guard = Guard::default();
        match held {
            Held::Transaction if failed && !lost => {
                // Outside a transaction this is a no-op with a warning.
                let _ = self.conn.script("ROLLBACK").await;
                Ok(())
            }
            Held::None | Held::Transaction => Ok(()),
            Held::Session(_) if lost => Ok(()),
            Held::Session(lock) => self.conn.unlock(lock).await,
            Held::Lease(lease) => lease.release(&mut self.conn).await,
        }
    }

    /// Opens a transaction that writes kiln's tables. Under the transaction lock it takes the lock
    /// and, with `check`, returns `false` (having rolled back) when another runner changed the
    /// state since this run read it, setting [`Guard::raced`].
    pub(super) async fn begin_write(&mut self, check: bool) -> Result<bool> {
        let Some((script, expected)) = self.guard.xact_begin(&self.sql, &self.digest, self.dirty)
        else {
            self.tx(self.sql.begin(), "starting a transaction").await?;
            return Ok(true);
        };
        let seen = match self.conn.last_text(script).await {
            Ok(seen) => seen,
            Err(e) => {
                let _ = self.conn.script("ROLLBACK").await;
                return Err(xact_error(e, &self.guard));
            }
        };
        if !check || seen.as_deref() == Some(expected.as_str()) {
            return Ok(true);
        }
        self.tx("ROLLBACK", "rolling back").await?;
        self.guard.raced = true;
        Ok(false)
    }

    /// `true` when another runner holds the run lock right now (for `current` and `check`). The
    /// transaction lock is held only while a runner writes, so between two of its transactions
    /// a run in progress is not seen.
    pub(crate) async fn lock_held_elsewhere(&mut self) -> Result<bool> {
        match self.chosen_lock().await? {
            Chosen::Session => match self.conn.lock(&self.sql, Duration::ZERO).await {
                Ok(lock) => {
                    self.conn.unlock(lock).await?;
                    Ok(false)
                }
                Err(Error::LockTimeout { .. }) => Ok(true),
                Err(e) => Err(e),
            },
            Chosen::Transaction => {
                let key = lock_key(&self.sql.lock_name);
                let free = self
                    .conn
                    .first_text(format!(
                        "SELECT CAST(pg_try_advisory_xact_lock({key}) AS TEXT)"
                    ))
                    .await
                    .map_err(Error::db("looking at the migration lock"))?;
                Ok(free.as_deref() != Some("true"))
            }
            Chosen::Table => held_elsewhere(&mut self.conn, &self.sql).await,
        }
    }
}
