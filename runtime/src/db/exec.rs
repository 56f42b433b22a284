//! The executor of a batch of transactional revisions: a connection's simple-query path, or the
//! raw SQLite handle without sqlx's worker-thread hand-off.

use super::Conn;
#[cfg(feature = "sqlite")]
use super::raw_sqlite;
use std::borrow::Cow;

/// Where the SQL of transactional revisions runs: the connection's own simple-query path, or on
/// SQLite the raw handle, locked out of sqlx's worker thread once for the whole batch.
///
/// On SQLite, sqlx sends every statement to a worker thread and back, which costs more than
/// running the statement; a locked handle runs a whole batch of revisions with plain
/// `sqlite3_prepare_v2`/`sqlite3_step` calls, like `sqlite3_exec`, and no thread hand-off. The
/// statements then run on the calling task, as SQLite's own API does.
pub(crate) enum Exec<'a> {
    Conn(&'a mut Conn),
    #[cfg(feature = "sqlite")]
    /// The handle, and whether to move each statement off the async worker (see [`blocking`]).
    Sqlite(sqlx::sqlite::LockedSqliteHandle<'a>, bool),
}

impl Conn {
    /// The executor for a batch of transactional revisions.
    ///
    /// `offload` moves each SQLite script off the async worker with `block_in_place`. That costs
    /// tens of microseconds per call: noise next to the commit of a per-revision transaction, but
    /// about 10% of a whole-run batch of small revisions, where the run instead keeps its worker
    /// thread for the duration, like any synchronous call.
    pub async fn executor(&mut self, offload: bool) -> std::result::Result<Exec<'_>, sqlx::Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => Ok(Exec::Sqlite(c.lock_handle().await?, offload)),
            other => Ok(Exec::Conn(other)),
        }
    }
}

impl Exec<'_> {
    /// [`Conn::last_text`] over the network; SQLite's handle never needs it (its run lock is a
    /// file, see `LockMode`), so there it reads nothing.
    pub async fn last_text(
        &mut self,
        sql: String,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        match self {
            Exec::Conn(c) => c.last_text(sql).await,
            #[cfg(feature = "sqlite")]
            Exec::Sqlite(..) => Ok(None),
        }
    }

    /// Runs SQL text as-is, several statements allowed, stopping at the first error.
    pub async fn script(&mut self, sql: Cow<'static, str>) -> std::result::Result<(), sqlx::Error> {
        match self {
            Exec::Conn(c) => c.script(sql).await,
            #[cfg(feature = "sqlite")]
            Exec::Sqlite(h, offload) => {
                let db = h.as_raw_handle().as_ptr();
                if *offload {
                    blocking(|| raw_sqlite::exec(db, &sql))
                } else {
                    raw_sqlite::exec(db, &sql)
                }
            }
        }
    }
}

/// Runs blocking work (a SQLite statement on the raw handle) without stalling the other tasks of
/// a multi-threaded runtime. A current-thread runtime has no other worker to hand them to, so
/// there the work simply runs; the engine yields between revisions so a Ctrl-C handler still gets
/// its turn.
#[cfg(feature = "sqlite")]
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
