//! The lease lock of [`crate::LockMode::Table`]: one row of `<version table>_lock`, taken with
//! one conditional `UPDATE`, renewed by a background task while the run lives, taken over by the
//! next runner once it has expired, and released at the end of the run (or, if the run's future
//! is dropped, by a task the drop spawns; failing both, it expires).

use crate::db::{Arg, Db, is_concurrent_create};
use crate::error::{Error, Result};
use crate::net::Watched;
use crate::sql::Sql;
use crate::util::{host_name, now_rfc3339, run_id};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// What the renewal task found: held, taken over, or not renewable.
const HELD: u8 = 0;
const TAKEN: u8 = 1;
const EXPIRED: u8 = 2;

/// The lease's state as the run sees it, shared with the renewal task.
#[derive(Debug)]
pub(crate) struct LeaseState {
    state: AtomicU8,
    /// The lock table, for messages.
    table: String,
}

impl LeaseState {
    /// `Err` when the run no longer holds its lease; `next` names what it will not start.
    pub fn check(&self, next: impl FnOnce() -> String) -> Result<()> {
        let why = match self.state.load(Ordering::SeqCst) {
            HELD => return Ok(()),
            TAKEN => "was taken over by another runner",
            _ => "could not be renewed before it expired",
        };
        Err(Error::LeaseLost {
            table: self.table.clone(),
            why: why.to_owned(),
            next: next(),
        })
    }
}

/// A held lease.
pub(crate) struct Lease {
    owner: String,
    pub state: Arc<LeaseState>,
    renewal: tokio::task::JoinHandle<()>,
    db: Db,
    release_sql: String,
    released: bool,
}

impl Lease {
    /// Creates the lock table if needed and takes a lease of length `lease`, waiting up to
    /// `timeout`. The renewal task extends it every third of `lease`, so a run survives two
    /// failed renewals in a row.
    pub async fn take(
        conn: &mut Watched,
        db: &Db,
        sql: &Sql,
        timeout: Duration,
        lease: Duration,
    ) -> Result<Lease> {
        for stmt in sql.create_lock_table() {
            let mut attempt = 0;
            loop {
                match conn.script(stmt.clone()).await {
                    Ok(()) => break,
                    Err(e) if attempt < 3 && is_concurrent_create(&e) => attempt += 1,
                    Err(e) => return Err(Error::db("creating kiln's lock table")(e)),
                }
            }
        }
        let owner = run_id();
        let ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX).max(1);
        let take = [
            Arg::Text(owner.clone()),
            Arg::OptText(host_name()),
            Arg::Int(i64::from(std::process::id())),
            Arg::Text(now_rfc3339()),
            Arg::Int(ms),
        ];
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        let mut seen: Option<Holder> = None;
        loop {
            let n = conn
                .exec(&sql.take_lease(), &take)
                .await
                .map_err(Error::db("taking the migration lease"))?;
            if n == 1 {
                if let Some(h) = seen.filter(|h| h.left_ms < 0) {
                    tracing::warn!(target: "kiln", "took over the expired migration lease of {}", h.describe());
                }
                break;
            }
            seen = holder(conn, sql).await?;
            if start.elapsed() >= timeout {
                return Err(Error::LockTimeout {
                    waited: start.elapsed(),
                    what: match seen {
                        Some(h) => format!("lease in table {} held by {}", sql.lock, h.describe()),
                        None => format!("lease in table {}", sql.lock),
                    },
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
        let state = Arc::new(LeaseState {
            state: AtomicU8::new(HELD),
            table: sql.lock.clone(),
        });
        let renewal = tokio::spawn(renew(
            db.clone(),
            sql.renew_lease(),
            owner.clone(),
            lease,
            state.clone(),
        ));
        Ok(Lease {
            owner,
            state,
            renewal,
            db: db.clone(),
            release_sql: sql.release_lease(),
            released: false,
        })
    }

    /// Stops renewing and frees the lease, if this run still holds it.
    pub async fn release(mut self, conn: &mut Watched) -> Result<()> {
        self.renewal.abort();
        self.released = true;
        conn.exec(&self.release_sql, &[Arg::Text(self.owner.clone())])
            .await
            .map(|_| ())
            .map_err(Error::db("releasing the migration lease"))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
        if self.released {
            return;
        }
        // The run's future was dropped (cancelled, or it panicked): free the lease from the pool
        // rather than leave the next runner waiting for it to expire.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (db, sql, owner) = (
                self.db.clone(),
                self.release_sql.clone(),
                self.owner.clone(),
            );
            rt.spawn(async move {
                if let Ok(mut c) = db.acquire().await {
                    let _ = c.exec(&sql, &[Arg::Text(owner)]).await;
                }
            });
        }
    }
}

/// The renewal task: extends the lease every third of its length over a connection of its own
/// from the pool, and records when it was taken over or could not be renewed in time.
async fn renew(db: Db, sql: String, owner: String, lease: Duration, state: Arc<LeaseState>) {
    let ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX).max(1);
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(lease / 3).await;
        let done = async {
            let mut c = db.acquire().await.ok()?;
            c.exec(&sql, &[Arg::Int(ms), Arg::Text(owner.clone())])
                .await
                .ok()
        };
        match tokio::time::timeout(lease / 3, done).await {
            Ok(Some(1)) => renewed = Instant::now(),
            Ok(Some(_)) => {
                state.state.store(TAKEN, Ordering::SeqCst);
                return;
            }
            _ if renewed.elapsed() >= lease => {
                state.state.store(EXPIRED, Ordering::SeqCst);
                return;
            }
            _ => {}
        }
    }
}

/// Who holds the lease, as the lock table says.
#[derive(Debug)]
struct Holder {
    owner: String,
    host: Option<String>,
    pid: Option<String>,
    since: Option<String>,
    left_ms: i64,
}

impl Holder {
    fn describe(&self) -> String {
        format!(
            "run {} on {} (pid {}) since {}, {}",
            self.owner,
            self.host.as_deref().unwrap_or("an unknown host"),
            self.pid.as_deref().unwrap_or("?"),
            self.since.as_deref().unwrap_or("?"),
            if self.left_ms < 0 {
                format!("expired {:.1} s ago", -self.left_ms as f64 / 1000.0)
            } else {
                format!(
                    "expiring in {:.1} s unless renewed",
                    self.left_ms as f64 / 1000.0
                )
            }
        )
    }
}

async fn holder(conn: &mut Watched, sql: &Sql) -> Result<Option<Holder>> {
    let rows = conn
        .rows(&sql.lease_holder(), &[2, 4])
        .await
        .map_err(Error::db("reading the migration lease"))?;
    Ok(rows.into_iter().next().map(|mut r| {
        let mut take = |i: usize| r.get_mut(i).and_then(Option::take);
        Holder {
            owner: take(0).unwrap_or_default(),
            host: take(1),
            pid: take(2),
            since: take(3),
            left_ms: take(4).and_then(|s| s.parse().ok()).unwrap_or(0),
        }
    }))
}

/// `true` when another runner holds an unexpired lease right now.
pub(crate) async fn held_elsewhere(conn: &mut Watched, sql: &Sql) -> Result<bool> {
    match holder(conn, sql).await {
        Ok(h) => Ok(h.is_some_and(|h| h.left_ms >= 0)),
        Err(Error::Database { source, .. }) if crate::db::is_missing_table(&source) => Ok(false),
        Err(e) => Err(e),
    }
}
