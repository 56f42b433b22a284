//! Connections to the three engines behind one type, and the run lock.
//!
//! [`Db`] is what users hand to a [`crate::Migrator`]: a pool of any enabled engine, or a URL.
//! `Conn` is one checked-out connection; every operation is written once and expanded for each
//! engine by `dispatch!`, so the engines cannot drift apart.

use crate::error::{Error, Result};
use crate::sql::{Sql, trusted};
use kiln_core::Dialect;
use std::borrow::Cow;
use std::time::{Duration, Instant};

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

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for Db {
    fn from(p: sqlx::SqlitePool) -> Db {
        Db::Sqlite(p)
    }
}
#[cfg(feature = "sqlite")]
impl From<&sqlx::SqlitePool> for Db {
    fn from(p: &sqlx::SqlitePool) -> Db {
        Db::Sqlite(p.clone())
    }
}
#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for Db {
    fn from(p: sqlx::PgPool) -> Db {
        Db::Postgres(p)
    }
}
#[cfg(feature = "postgres")]
impl From<&sqlx::PgPool> for Db {
    fn from(p: &sqlx::PgPool) -> Db {
        Db::Postgres(p.clone())
    }
}
#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for Db {
    fn from(p: sqlx::MySqlPool) -> Db {
        Db::MySql(p)
    }
}
#[cfg(feature = "mysql")]
impl From<&sqlx::MySqlPool> for Db {
    fn from(p: &sqlx::MySqlPool) -> Db {
        Db::MySql(p.clone())
    }
}
impl From<&Db> for Db {
    fn from(d: &Db) -> Db {
        d.clone()
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
        Ok(Err(e)) => Err(Error::Database {
            context: format!("connecting to {shown}"),
            source: e,
        }),
        Err(_) => Err(Error::Database {
            context: format!("connecting to {shown}"),
            source: sqlx::Error::PoolTimedOut,
        }),
    }
}

impl Db {
    /// Connects to a URL: `sqlite:`, `postgres:`/`postgresql:`, `mysql:`/`mariadb:`. SQLite files
    /// are created when missing. The error never contains the password.
    pub async fn connect(url: &str) -> Result<Db> {
        let shown = crate::url::redact_url(url);
        let bad = |reason: String| Error::Url {
            url: shown.clone(),
            reason,
        };
        crate::url::validate(url)?;
        let scheme = url.split(':').next().unwrap_or("").to_ascii_lowercase();
        let connect_err = |e: sqlx::Error| Error::Database {
            context: format!("connecting to {shown}"),
            source: e,
        };
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
                    .map_err(connect_err)?;
                Ok(Db::Sqlite(pool))
            }
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                use std::str::FromStr;
                let opts = sqlx::postgres::PgConnectOptions::from_str(url)
                    .map_err(|e| bad(e.to_string()))?;
                probe::<sqlx::PgConnection>(&opts, &shown).await?;
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .map_err(connect_err)?;
                Ok(Db::Postgres(pool))
            }
            #[cfg(feature = "mysql")]
            "mysql" | "mariadb" => {
                use std::str::FromStr;
                let opts = sqlx::mysql::MySqlConnectOptions::from_str(&crate::url::for_driver(url))
                    .map_err(|e| bad(e.to_string()))?;
                probe::<sqlx::MySqlConnection>(&opts, &shown).await?;
                let pool = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .map_err(connect_err)?;
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
        raw_sqlite::db_filename(h.as_raw_handle().as_ptr())
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

/// The operating-system user, when no environment variable names it (containers often set none).
fn os_user() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let name = passwd.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid.to_string()).then(|| name.to_owned())
        });
        Some(name.unwrap_or_else(|| format!("uid {uid}")))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A bound value.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// One checked-out connection.
pub(crate) enum Conn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
    #[allow(dead_code)]
    Never(std::convert::Infallible),
}

macro_rules! on_conn {
    ($value:expr, $c:ident => $body:expr) => {
        match $value {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            Conn::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            Conn::MySql($c) => $body,
            Conn::Never(n) => match *n {},
        }
    };
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::OptText(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}

/// A row read generically: every column as optional text or integer, in select order.
pub(crate) type TextRow = Vec<Option<String>>;

impl Conn {
    pub fn dialect(&self) -> Dialect {
        on_conn!(self, _c => dialect_of_conn(_c))
    }

    /// Runs SQL text as-is (several statements allowed) through the engine's simple-query path.
    pub async fn script(
        &mut self,
        sql: impl Into<Cow<'static, str>>,
    ) -> std::result::Result<(), sqlx::Error> {
        let sql = trusted(sql);
        on_conn!(self, c => sqlx::raw_sql(sql).execute(&mut **c).await.map(|_| ()))
    }

    /// Runs one statement with bound values; returns rows affected.
    pub async fn exec(&mut self, sql: &str, args: &[Arg]) -> std::result::Result<u64, sqlx::Error> {
        let sql = trusted(sql.to_owned());
        on_conn!(self, c => {
            let q = bind_all!(sqlx::query(sql), args);
            q.execute(&mut **c).await.map(|r| r.rows_affected())
        })
    }

    /// Reads rows; integer columns are returned as text.
    pub async fn rows(
        &mut self,
        sql: &str,
        int_columns: &[usize],
    ) -> std::result::Result<Vec<TextRow>, sqlx::Error> {
        let sql = trusted(sql.to_owned());
        on_conn!(self, c => {
            use sqlx::Row as _;
            let rows = sqlx::query(sql).fetch_all(&mut **c).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let mut cols = Vec::with_capacity(row.len());
                for i in 0..row.len() {
                    if int_columns.contains(&i) {
                        let v: Option<i64> = row.try_get(i)?;
                        cols.push(v.map(|v| v.to_string()));
                    } else {
                        let v: Option<String> = row.try_get(i)?;
                        cols.push(v);
                    }
                }
                out.push(cols);
            }
            Ok(out)
        })
    }

    /// Reads the first text column of the first row of a simple query (one round trip, no
    /// prepare), or `None` when there is no row.
    pub async fn first_text(
        &mut self,
        sql: String,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        let sql = trusted(sql);
        on_conn!(self, c => {
            use sqlx::Row as _;
            let row = sqlx::raw_sql(sql).fetch_optional(&mut **c).await?;
            match row {
                Some(r) => r.try_get::<String, _>(0).map(Some),
                None => Ok(None),
            }
        })
    }

    /// [`Conn::first_text`] for the start-up check. On SQLite it goes through sqlx's statement
    /// cache (no round trip to save there, but no re-prepare on every check either); over the
    /// network it stays a simple query, one round trip even on a fresh connection.
    pub async fn check_text(
        &mut self,
        sql: String,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => {
                use sqlx::Row as _;
                let row = sqlx::query(trusted(sql)).fetch_optional(&mut **c).await?;
                match row {
                    Some(r) => r.try_get::<String, _>(0).map(Some),
                    None => Ok(None),
                }
            }
            _ => self.first_text(sql).await,
        }
    }

    /// The database user, for the audit trail.
    pub async fn current_user(&mut self) -> Option<String> {
        let sql = match self.dialect() {
            Dialect::Postgres => "SELECT CAST(current_user AS TEXT)",
            Dialect::MySql => "SELECT CURRENT_USER()",
            _ => {
                return std::env::var("USER")
                    .or_else(|_| std::env::var("LOGNAME"))
                    .or_else(|_| std::env::var("USERNAME"))
                    .ok()
                    .or_else(os_user);
            }
        };
        self.first_text(sql.to_owned()).await.ok().flatten()
    }

    /// Closes this connection instead of returning it to the pool when dropped, so a session lock
    /// can never leak into the pool, even if the caller's future is cancelled mid-run.
    /// SQLite's run lock is a separate file and its connections hold no session state, so they go
    /// back to the pool; closing one could even destroy an in-memory database.
    pub fn close_on_drop(&mut self) {
        match self {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => {}
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.close_on_drop(),
            #[cfg(feature = "mysql")]
            Conn::MySql(c) => c.close_on_drop(),
            Conn::Never(n) => match *n {},
        }
    }

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
                Conn::Postgres(c) => {
                    let ok: bool = sqlx::query_scalar(trusted("SELECT pg_try_advisory_lock($1)"))
                        .bind(key)
                        .fetch_one(&mut **c)
                        .await
                        .map_err(Error::db("taking the migration lock"))?;
                    ok.then_some(RunLock::Pg(key))
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
                    waited: start.elapsed(),
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
            (RunLock::Pg(key), Conn::Postgres(c)) => {
                sqlx::query(trusted("SELECT pg_advisory_unlock($1)"))
                    .bind(key)
                    .execute(&mut **c)
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

#[cfg(feature = "sqlite")]
mod raw_sqlite {
    //! `sqlite3_exec` on sqlx's raw handle: prepares and steps each statement of a script in
    //! turn, with SQLite's own error codes. The only `unsafe` code of the runtime.
    use libsqlite3_sys as ffi;
    use std::borrow::Cow;
    use std::ffi::{CStr, CString, c_char, c_int};

    /// An error reported by SQLite through the raw handle, shaped like sqlx's own `SqliteError`
    /// (the extended result code as the code), so callers see one kind of database error.
    #[derive(Debug)]
    pub(crate) struct RawSqliteError {
        code: c_int,
        message: String,
    }

    impl std::fmt::Display for RawSqliteError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.message)
        }
    }

    impl std::error::Error for RawSqliteError {}

    impl sqlx::error::DatabaseError for RawSqliteError {
        fn message(&self) -> &str {
            &self.message
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(self.code.to_string().into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            match self.code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    sqlx::error::ErrorKind::UniqueViolation
                }
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY => sqlx::error::ErrorKind::ForeignKeyViolation,
                ffi::SQLITE_CONSTRAINT_NOTNULL => sqlx::error::ErrorKind::NotNullViolation,
                ffi::SQLITE_CONSTRAINT_CHECK => sqlx::error::ErrorKind::CheckViolation,
                _ => sqlx::error::ErrorKind::Other,
            }
        }
    }

    fn error(db: *mut ffi::sqlite3) -> sqlx::Error {
        // SAFETY: `db` is a live handle locked for this thread; the message is copied at once.
        let (code, message) = unsafe {
            let code = ffi::sqlite3_extended_errcode(db);
            let msg = ffi::sqlite3_errmsg(db);
            let message = if msg.is_null() {
                format!("SQLite error {code}")
            } else {
                CStr::from_ptr(msg).to_string_lossy().into_owned()
            };
            (code, message)
        };
        sqlx::Error::Database(Box::new(RawSqliteError { code, message }))
    }

    /// The path of the file SQLite opened as the `main` database (absolute: SQLite resolves it),
    /// or `None` for an in-memory or temporary database.
    pub(crate) fn db_filename(db: *mut ffi::sqlite3) -> Option<std::path::PathBuf> {
        // SAFETY: `db` is a live handle locked for this thread by the caller's
        // `LockedSqliteHandle`; `c"main"` is a NUL-terminated literal. The returned text is owned
        // by the handle, valid until the handle changes databases, and copied before returning.
        let name = unsafe {
            let p = ffi::sqlite3_db_filename(db, c"main".as_ptr());
            if p.is_null() {
                return None;
            }
            CStr::from_ptr(p).to_bytes().to_vec()
        };
        if name.is_empty() {
            return None;
        }
        #[cfg(unix)]
        let path = {
            use std::os::unix::ffi::OsStringExt;
            std::ffi::OsString::from_vec(name).into()
        };
        #[cfg(not(unix))]
        let path = String::from_utf8_lossy(&name).into_owned().into();
        Some(path)
    }

    /// Runs every statement of `sql` in order; rows are discarded. Stops at the first error, with
    /// whatever the script opened (a transaction) left open, exactly as `sqlite3_exec` does.
    ///
    /// The script is copied once into a NUL-terminated buffer and handed to SQLite with length
    /// -1. Given an explicit length on text without a terminator, `sqlite3_prepare_v2` copies
    /// the rest of the script for every statement, which made large revisions quadratic.
    pub(crate) fn exec(db: *mut ffi::sqlite3, sql: &str) -> Result<(), sqlx::Error> {
        // An interior NUL would end SQLite's reading of the script there, silently skipping
        // every statement after it.
        let Ok(text) = CString::new(sql) else {
            return Err(sqlx::Error::Protocol(
                "the SQL contains a NUL byte, and SQLite would silently ignore everything after it; remove the byte from the file".into(),
            ));
        };
        let mut at: *const c_char = text.as_ptr();
        // SAFETY: `text` is a NUL-terminated buffer owned by this frame and outlives the loop.
        // `at` starts at its first byte and only ever moves to a `tail` SQLite returned, which
        // points into the same buffer at or before its terminator, so every read (`*at` and
        // SQLite's own, which stops at the NUL because the length is -1) stays inside it. `db` is
        // locked away from sqlx's worker by the caller's `LockedSqliteHandle`, so no other thread
        // uses it. Every prepared statement is finalized before the next is prepared and before
        // returning, on every path.
        unsafe {
            while *at != 0 {
                let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
                let mut tail: *const c_char = std::ptr::null();
                let rc = ffi::sqlite3_prepare_v2(db, at, -1, &mut stmt, &mut tail);
                if rc != ffi::SQLITE_OK {
                    if !stmt.is_null() {
                        ffi::sqlite3_finalize(stmt);
                    }
                    return Err(error(db));
                }
                if !stmt.is_null() {
                    loop {
                        match ffi::sqlite3_step(stmt) {
                            ffi::SQLITE_ROW => {}
                            ffi::SQLITE_DONE => break,
                            _ => {
                                let e = error(db);
                                ffi::sqlite3_finalize(stmt);
                                return Err(e);
                            }
                        }
                    }
                    ffi::sqlite3_finalize(stmt);
                }
                // A null stmt is an empty statement (`;`) or trailing whitespace and comments.
                // A tail that does not advance would loop forever; SQLite never returns one for
                // non-empty input, but the guard keeps that a promise of this code, not of SQLite.
                if tail.is_null() || tail <= at {
                    break;
                }
                at = tail;
            }
        }
        Ok(())
    }
}

#[allow(dead_code)]
fn dialect_of_conn<DB: sqlx::Database + DialectOf>(_: &sqlx::pool::PoolConnection<DB>) -> Dialect {
    DB::dialect()
}

/// A 63-bit key derived from the lock name, stable across kiln versions.
fn lock_key(name: &str) -> i64 {
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

/// `true` when a driver error says the table does not exist (a database never migrated).
pub(crate) fn is_missing_table(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code();
            matches!(
                code.as_deref(),
                Some("42P01") | Some("42S02") | Some("1146")
            ) || d.message().contains("no such table")
                || d.message().contains("doesn't exist")
        }
        _ => false,
    }
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
