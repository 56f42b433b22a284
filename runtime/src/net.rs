//! Lost connections: the watchdog that keeps a silent network from hanging a run, and ending the
//! orphaned server session once kiln has given up on it.
//!
//! sqlx 0.9 exposes no socket options (no client-side TCP keepalive, no read timeout), so a
//! request whose reply never comes waits forever. Every round trip of a run therefore goes through
//! [`Watchdog::guard`]: after `io_timeout` without a reply, kiln opens a second connection and
//! asks the server what its session is doing. A session still executing the statement is a
//! legitimately long migration and kiln keeps waiting; a session that is idle, blocked writing to
//! the network, or gone, or a server kiln cannot reach at all, means the connection is lost.
//!
//! Behind a transaction-mode pooler the server session changes from one transaction to the next,
//! so there is no session id to ask about. There kiln marks its own requests instead
//! ([`Watched::watch_pooled`]): every SQL text the run sends starts with a comment unique to the
//! run, which PostgreSQL shows in `pg_stat_activity.query` for as long as a session works on it or
//! sits in the transaction it opened. A session setting (`application_name`) would not do: PgBouncer
//! leaves it on the server session for the next client that has none of its own.

use crate::db::{Arg, Conn, Db, Exec, RunLock, TextRow};
use crate::error::Result;
use crate::sql::{Sql, trusted};
use kiln_core::Dialect;
use std::borrow::Cow;
use std::future::Future;
use std::time::{Duration, Instant};

/// Why kiln gave up on a connection; carried inside a `sqlx::Error::Io` so it travels the same
/// paths as a reset.
#[derive(Debug)]
pub(crate) struct Silent(pub String);

impl std::fmt::Display for Silent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Silent {}

/// `true` when a driver error means the connection itself failed (reset, closed, timed out by the
/// watchdog), as opposed to the server rejecting a statement.
pub(crate) fn is_lost(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed
    )
}

/// The reason a lost connection is reported with.
pub(crate) fn cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => match io.get_ref().and_then(|i| i.downcast_ref::<Silent>()) {
            Some(s) => s.0.clone(),
            None => format!("the connection was closed or reset ({io})"),
        },
        other => crate::error::driver_text(other),
    }
}

fn silent(why: String) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        Silent(why),
    ))
}

/// How to open a second connection to the same server.
#[derive(Clone)]
enum Target {
    Local,
    #[cfg(feature = "postgres")]
    Pg(std::sync::Arc<sqlx::postgres::PgConnectOptions>),
    #[cfg(feature = "mysql")]
    MySql(std::sync::Arc<sqlx::mysql::MySqlConnectOptions>),
}

/// The server session a run talks through: its id, and on PostgreSQL its start time, because
/// process ids are reused and kiln must never end someone else's session.
#[derive(Debug, Clone)]
struct Backend {
    id: i64,
    started: Option<String>,
}

/// Bounds every round trip of one connection (see the module documentation).
#[derive(Clone)]
pub(crate) struct Watchdog {
    timeout: Option<Duration>,
    target: Target,
    backend: Option<Backend>,
    /// Behind a pooler (PostgreSQL): the comment every request of the run starts with.
    tag: Option<String>,
}

/// What the second connection saw.
enum Verdict {
    Busy,
    Lost(String),
}

impl Watchdog {
    pub fn new(db: &Db, timeout: Option<Duration>) -> Watchdog {
        let target = match db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite(_) => Target::Local,
            #[cfg(feature = "postgres")]
            Db::Postgres(p) => Target::Pg(p.connect_options()),
            #[cfg(feature = "mysql")]
            Db::MySql(p) => Target::MySql(p.connect_options()),
            Db::Never(n) => match *n {},
        };
        Watchdog {
            timeout,
            target,
            backend: None,
            tag: None,
        }
    }

    /// `sql` as this connection sends it: with the run's tag in front behind a pooler.
    fn tagged<'a>(&self, sql: impl Into<Cow<'a, str>>) -> Cow<'a, str> {
        let sql = sql.into();
        match &self.tag {
            Some(tag) => Cow::Owned(format!("{tag}{sql}")),
            None => sql,
        }
    }

    fn limit(&self) -> Option<Duration> {
        match self.target {
            Target::Local => None,
            _ => self.timeout,
        }
    }

    /// Awaits one round trip; after each `io_timeout` without a reply, asks the server whether
    /// it is still working on it, and fails with a [`Silent`] error when it is not.
    pub async fn guard<T>(
        &self,
        fut: impl Future<Output = std::result::Result<T, sqlx::Error>>,
    ) -> std::result::Result<T, sqlx::Error> {
        let Some(limit) = self.limit() else {
            return fut.await;
        };
        let mut fut = std::pin::pin!(fut);
        let start = Instant::now();
        loop {
            if let Ok(r) = tokio::time::timeout(limit, fut.as_mut()).await {
                return r;
            }
            match self.verdict(limit).await {
                Verdict::Busy => continue,
                Verdict::Lost(why) => {
                    return Err(silent(format!(
                        "no reply from the server for {} s (io timeout {} s): {why}",
                        start.elapsed().as_secs(),
                        limit.as_secs_f64()
                    )));
                }
            }
        }
    }

    async fn verdict(&self, limit: Duration) -> Verdict {
        if let (None, Some(tag)) = (&self.backend, &self.tag) {
            return match tokio::time::timeout(limit, self.tagged_state(tag, limit)).await {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => Verdict::Lost(format!(
                    "a second connection to look for the server session working for this run failed ({e})"
                )),
                Err(_) => Verdict::Lost(
                    "a second connection to look for the server session working for this run got no answer either"
                        .into(),
                ),
            };
        }
        let Some(b) = &self.backend else {
            return Verdict::Lost(
                "kiln had not yet learned which server session to ask about".into(),
            );
        };
        match tokio::time::timeout(limit, self.session_state(b, limit)).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => Verdict::Lost(format!(
                "a second connection to check on session {} failed ({e})",
                b.id
            )),
            Err(_) => Verdict::Lost(format!(
                "a second connection to check on session {} got no answer either",
                b.id
            )),
        }
    }

    async fn session_state(
        &self,
        b: &Backend,
        limit: Duration,
    ) -> std::result::Result<Verdict, sqlx::Error> {
        use sqlx::Connection as _;
        let secs = limit.as_secs_f64();
        match &self.target {
            Target::Local => Ok(Verdict::Busy),
            #[cfg(feature = "postgres")]
            Target::Pg(o) => {
                let mut c = sqlx::PgConnection::connect_with(o).await?;
                let row: Option<PgActivity> = sqlx::query_as(
                    "SELECT state, wait_event, CAST(EXTRACT(EPOCH FROM clock_timestamp() - state_change) AS FLOAT8) FROM pg_stat_activity WHERE pid = $1",
                )
                .bind(b.id as i32)
                .persistent(false)
                .fetch_optional(&mut c)
                .await?;
                let _ = c.close().await;
                Ok(match row {
                    None => Verdict::Lost(format!("the server has no session {} any more", b.id)),
                    Some(activity) => pg_verdict(&format!("session {}", b.id), activity, secs),
                })
            }
            #[cfg(feature = "mysql")]
            Target::MySql(o) => {
                let mut c = sqlx::MySqlConnection::connect_with(o).await?;
                let row: Option<(String, i64, Option<String>)> = sqlx::query_as(
                    "SELECT COMMAND, CAST(TIME AS SIGNED), STATE FROM information_schema.PROCESSLIST WHERE ID = ?",
                )
                .bind(b.id)
                .persistent(false)
                .fetch_optional(&mut c)
                .await?;
                let _ = c.close().await;
                Ok(match row {
                    None => Verdict::Lost(format!("the server has no session {} any more", b.id)),
                    Some((command, time, state)) => {
                        let state = state.unwrap_or_default();
                        let writing = state.to_ascii_lowercase().contains("to net");
                        let working = command == "Query" && !writing;
                        // A session asleep for less than the timeout finished moments ago.
                        if working || (command == "Sleep" && (time as f64) < secs) {
                            Verdict::Busy
                        } else {
                            Verdict::Lost(format!(
                                "the server's session {} is `{command}` ({state}) for {time} s, so the request or its reply is stuck in the network",
                                b.id
                            ))
                        }
                    }
                })
            }
        }
    }

    /// Behind a pooler: what the server session working on this run's request (the one whose
    /// current or last query carries the run's tag and that is still busy or inside a
    /// transaction) is doing.
    async fn tagged_state(
        &self,
        tag: &str,
        limit: Duration,
    ) -> std::result::Result<Verdict, sqlx::Error> {
        #[cfg(feature = "postgres")]
        if let Target::Pg(o) = &self.target {
            use sqlx::Connection as _;
            let mut c = sqlx::PgConnection::connect_with(o).await?;
            type Tagged = (i32, Option<String>, Option<String>, Option<f64>);
            let row: Option<Tagged> = sqlx::query_as(TAGGED_SESSION)
                .bind(tag)
                .persistent(false)
                .fetch_optional(&mut c)
                .await?;
            let _ = c.close().await;
            return Ok(match row {
                None => Verdict::Lost(
                    "no server session is working on the request or holds its transaction, so the request or its reply is stuck in the network"
                        .into(),
                ),
                Some((pid, state, wait, idle)) => pg_verdict(
                    &format!("session {pid} serving this run"),
                    (state, wait, idle),
                    limit.as_secs_f64(),
                ),
            });
        }
        let _ = (tag, limit);
        Ok(Verdict::Busy)
    }

    /// Ends the server session kiln gave up on, so it can neither hold the run lock nor commit
    /// anything later when the network comes back. `Ok` once the session is gone.
    pub async fn end_orphan(&self) -> std::result::Result<(), String> {
        if let (None, Some(tag)) = (&self.backend, &self.tag) {
            let limit = self.limit().unwrap_or(Duration::from_secs(10));
            return match tokio::time::timeout(limit * 2, self.end_tagged(tag)).await {
                Ok(r) => {
                    r.map_err(|e| format!("could not end the server session serving this run: {e}"))
                }
                Err(_) => Err(format!(
                    "could not reach the server to end the session serving this run within {} s",
                    (limit * 2).as_secs()
                )),
            };
        }
        let Some(b) = &self.backend else {
            return Err("kiln did not know its server session".into());
        };
        let limit = self.limit().unwrap_or(Duration::from_secs(10));
        match tokio::time::timeout(limit * 2, self.end_session(b)).await {
            Ok(r) => r.map_err(|e| format!("could not end session {}: {e}", b.id)),
            Err(_) => Err(format!(
                "could not reach the server to end session {} within {} s",
                b.id,
                (limit * 2).as_secs()
            )),
        }
    }

    /// Behind a pooler: ends the server sessions still working on this run's request or holding
    /// its transaction (and with it the transaction lock). A pooled session that has moved on to
    /// another client runs that client's queries, so the tag cannot match it.
    async fn end_tagged(&self, tag: &str) -> std::result::Result<(), sqlx::Error> {
        #[cfg(feature = "postgres")]
        if let Target::Pg(o) = &self.target {
            use sqlx::Connection as _;
            let mut c = sqlx::PgConnection::connect_with(o).await?;
            let end = format!("SELECT pg_terminate_backend(pid) FROM ({TAGGED_SESSION}) AS s");
            while sqlx::query_scalar::<_, Option<bool>>(trusted(end.clone()))
                .bind(tag)
                .persistent(false)
                .fetch_optional(&mut c)
                .await?
                .is_some()
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = c.close().await;
        }
        let _ = tag;
        Ok(())
    }

    async fn end_session(&self, b: &Backend) -> std::result::Result<(), sqlx::Error> {
        use sqlx::Connection as _;
        match &self.target {
            Target::Local => Ok(()),
            #[cfg(feature = "postgres")]
            Target::Pg(o) => {
                let mut c = sqlx::PgConnection::connect_with(o).await?;
                loop {
                    let alive: Option<bool> = sqlx::query_scalar(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND CAST(backend_start AS TEXT) = $2",
                    )
                    .bind(b.id as i32)
                    .bind(b.started.clone().unwrap_or_default())
                    .persistent(false)
                .fetch_optional(&mut c)
                    .await?;
                    if alive.is_none() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let _ = c.close().await;
                Ok(())
            }
            #[cfg(feature = "mysql")]
            Target::MySql(o) => {
                let mut c = sqlx::MySqlConnection::connect_with(o).await?;
                loop {
                    let alive: Option<i64> = sqlx::query_scalar(
                        "SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?",
                    )
                    .bind(b.id)
                    .persistent(false)
                    .fetch_optional(&mut c)
                    .await?;
                    if alive.is_none() {
                        break;
                    }
                    // An id is an integer read from the server, never text from outside.
                    let kill = format!("KILL CONNECTION {}", b.id);
                    if let Err(e) = sqlx::raw_sql(trusted(kill)).execute(&mut c).await {
                        // 1094: unknown thread id, it ended between the two statements.
                        let gone = matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("HY000") || d.message().contains("Unknown thread"));
                        if !gone {
                            return Err(e);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let _ = c.close().await;
                Ok(())
            }
        }
    }
}

/// The server session (other than the asking one) whose query starts with the tag `$1` and that
/// is working on it or sits in the transaction it belongs to, the most recently changed first.
#[cfg(feature = "postgres")]
const TAGGED_SESSION: &str = "SELECT pid, state, wait_event, CAST(EXTRACT(EPOCH FROM clock_timestamp() - state_change) AS FLOAT8) FROM pg_stat_activity WHERE strpos(query, $1) = 1 AND pid <> pg_backend_pid() AND (state = 'active' OR state LIKE 'idle in transaction%') ORDER BY state_change DESC LIMIT 1";

/// A PostgreSQL session as `pg_stat_activity` shows it: state, wait event, and seconds since
/// the state last changed.
#[cfg(feature = "postgres")]
type PgActivity = (Option<String>, Option<String>, Option<f64>);

/// Whether a PostgreSQL session (`who`) is still working on kiln's request.
#[cfg(feature = "postgres")]
fn pg_verdict(who: &str, (state, wait, idle): PgActivity, secs: f64) -> Verdict {
    let state = state.unwrap_or_default();
    let working = state == "active" && wait.as_deref() != Some("ClientWrite");
    // A session that finished moments ago: the reply may still be on its way.
    let just_finished = state != "active" && idle.unwrap_or(f64::MAX) < secs;
    if working || just_finished {
        Verdict::Busy
    } else {
        Verdict::Lost(format!(
            "the server's {who} is `{state}`{}, so the request or its reply is stuck in the network",
            wait.map(|w| format!(" ({w})")).unwrap_or_default()
        ))
    }
}

/// A connection whose every round trip is bounded by a [`Watchdog`]. It offers the methods of
/// [`Conn`] the engine uses, so no call can bypass the watchdog by accident.
pub(crate) struct Watched {
    conn: Conn,
    dog: Watchdog,
}

impl Watched {
    pub fn new(conn: Conn, dog: Watchdog) -> Watched {
        Watched { conn, dog }
    }

    /// The watchdog, for the clean-up after a loss.
    pub fn dog(&self) -> &Watchdog {
        &self.dog
    }

    /// Learns which server session this is (so the watchdog can ask about it), and asks the
    /// server to probe the client's socket on its own: PostgreSQL's TCP keepalive settings are
    /// per session, and make the server end a session whose client vanished, releasing the
    /// run lock, within about a minute instead of the system's two hours.
    pub async fn identify(&mut self) {
        let Watched { conn, dog } = self;
        let limit = dog.limit();
        let read = async {
            match conn.dialect() {
                Dialect::Postgres => {
                    let _ = conn
                        .script(
                            "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
                        )
                        .await;
                    let row = conn
                        .rows(
                            "SELECT CAST(pid AS INT8), CAST(backend_start AS TEXT) FROM pg_stat_activity WHERE pid = pg_backend_pid()",
                            &[0],
                        )
                        .await
                        .ok()?;
                    let mut r = row.into_iter().next()?;
                    Some(Backend {
                        id: r.first_mut()?.take()?.parse().ok()?,
                        started: r.get_mut(1).and_then(Option::take),
                    })
                }
                Dialect::MySql => {
                    let row = conn
                        .rows("SELECT CAST(CONNECTION_ID() AS SIGNED)", &[0])
                        .await
                        .ok()?;
                    let mut r = row.into_iter().next()?;
                    Some(Backend {
                        id: r.first_mut()?.take()?.parse().ok()?,
                        started: None,
                    })
                }
                _ => None,
            }
        };
        dog.backend = match limit {
            Some(l) => tokio::time::timeout(l, read).await.ok().flatten(),
            None => read.await,
        };
    }

    pub fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    /// For a transaction lock or a lease, where a pooler or proxy may be in between and the
    /// server session change between transactions: the watchdog must not ask about, or end, a
    /// session by id, since it may be serving someone else by then. On PostgreSQL it follows the
    /// run's requests by their tag instead (see the module documentation); elsewhere it stops
    /// bounding round trips.
    pub fn watch_pooled(&mut self) {
        self.dog.backend = None;
        match self.dog.target {
            #[cfg(feature = "postgres")]
            Target::Pg(_) if self.dog.timeout.is_some() => {
                self.dog.tag = Some(format!("/* kiln run {} */ ", crate::util::run_id()));
            }
            _ => self.dog.timeout = None,
        }
    }

    /// The same watching on a new connection of the run (after a loss).
    pub fn watch_like(&mut self, other: &Watchdog) {
        if other.tag.is_some() {
            self.dog.backend = None;
            self.dog.tag = other.tag.clone();
        } else if other.timeout.is_none() {
            self.dog.timeout = None;
        }
    }

    pub async fn last_text(
        &mut self,
        sql: String,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        let sql = self.dog.tagged(sql).into_owned();
        self.dog.guard(self.conn.last_text(sql)).await
    }

    pub fn close_on_drop(&mut self) {
        self.conn.close_on_drop()
    }

    pub async fn script(
        &mut self,
        sql: impl Into<Cow<'static, str>>,
    ) -> std::result::Result<(), sqlx::Error> {
        let sql = self.dog.tagged(sql);
        self.dog.guard(self.conn.script(sql)).await
    }

    pub async fn exec(&mut self, sql: &str, args: &[Arg]) -> std::result::Result<u64, sqlx::Error> {
        let sql = self.dog.tagged(sql);
        self.dog.guard(self.conn.exec(&sql, args)).await
    }

    pub async fn rows(
        &mut self,
        sql: &str,
        int_columns: &[usize],
    ) -> std::result::Result<Vec<TextRow>, sqlx::Error> {
        let sql = self.dog.tagged(sql);
        self.dog.guard(self.conn.rows(&sql, int_columns)).await
    }

    pub async fn first_text(
        &mut self,
        sql: String,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        let sql = self.dog.tagged(sql).into_owned();
        self.dog.guard(self.conn.first_text(sql)).await
    }

    pub async fn check_text(
        &mut self,
        sql: String,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        let sql = self.dog.tagged(sql).into_owned();
        self.dog.guard(self.conn.check_text(sql)).await
    }

    pub async fn current_user(&mut self) -> Option<String> {
        self.dog
            .guard(async { Ok(self.conn.current_user().await) })
            .await
            .ok()
            .flatten()
    }

    pub async fn lock(&mut self, sql: &Sql, timeout: Duration) -> Result<RunLock> {
        let Watched { conn, dog } = self;
        guard_kiln(dog, conn.lock(sql, timeout), "taking the migration lock").await
    }

    pub async fn unlock(&mut self, lock: RunLock) -> Result<()> {
        let Watched { conn, dog } = self;
        guard_kiln(dog, conn.unlock(lock), "releasing the migration lock").await
    }

    pub async fn executor(
        &mut self,
        offload: bool,
    ) -> std::result::Result<WatchedExec<'_>, sqlx::Error> {
        let Watched { conn, dog } = self;
        let exec = dog.guard(conn.executor(offload)).await?;
        Ok(WatchedExec { exec, dog })
    }
}

/// [`Watchdog::guard`] for the calls that already return kiln's error (the lock).
async fn guard_kiln<T>(
    dog: &Watchdog,
    fut: impl Future<Output = Result<T>>,
    context: &str,
) -> Result<T> {
    let mut kiln_err = None;
    let r = dog
        .guard(async {
            match fut.await {
                Ok(v) => Ok(Some(v)),
                Err(e) => {
                    kiln_err = Some(e);
                    Ok(None)
                }
            }
        })
        .await;
    match r {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(kiln_err.unwrap_or_else(|| crate::error::Error::Config(context.into()))),
        Err(e) => Err(crate::error::Error::db(context)(e)),
    }
}

/// An [`Exec`] whose scripts are bounded by the connection's watchdog.
pub(crate) struct WatchedExec<'a> {
    exec: Exec<'a>,
    dog: &'a Watchdog,
}

impl WatchedExec<'_> {
    /// `true` over the network (PostgreSQL); `false` on SQLite's locked handle.
    pub fn is_remote(&self) -> bool {
        matches!(self.exec, Exec::Conn(_))
    }

    pub async fn script(&mut self, sql: Cow<'static, str>) -> std::result::Result<(), sqlx::Error> {
        let sql = self.dog.tagged(sql);
        self.dog.guard(self.exec.script(sql)).await
    }

    pub async fn last_text(
        &mut self,
        sql: String,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        let sql = self.dog.tagged(sql).into_owned();
        self.dog.guard(self.exec.last_text(sql)).await
    }
}
