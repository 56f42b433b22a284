//! [`TestDb`]: a database that exists for one test, and the template databases that make a
//! migrated one cheap.

use crate::with_database;
use kiln_core::Dialect;
use kiln_runtime::{
    Db, Error, Migrator, RawConnection, Result, quote_ident, quote_literal, redact_url,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default PostgreSQL server for tests.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Default MySQL/MariaDB server for tests.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// Prefix of every throwaway database's name, followed by its creation time (hex Unix seconds)
/// so [`drop_orphans`] can tell old leftovers from databases in use.
const TEST_PREFIX: &str = "kiln_t_";
/// Prefix of template databases (PostgreSQL) and template files (SQLite).
const TEMPLATE_PREFIX: &str = "kiln_tpl_";
/// 2020-09-13: any creation time before this is not one `unique_name` wrote.
const PLAUSIBLE_SECS: u64 = 1_600_000_000;

/// A database that exists for one test.
///
/// Dropped when the value is dropped, also when the test panics. Call
/// [`TestDb::drop_database`] at the end of a test to see errors from dropping it.
#[derive(Debug)]
pub struct TestDb {
    db: Db,
    url: String,
    cleanup: Option<Cleanup>,
}

#[derive(Debug)]
enum Cleanup {
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    File(tempfile::TempDir),
    Server {
        admin_url: String,
        name: String,
        dialect: Dialect,
    },
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unique_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{TEST_PREFIX}{:x}_{}_{}_{nanos:x}",
        unix_secs(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The environment variable naming the server of `dialect`, and the URL it gives (or the
/// default). `None` for SQLite, which needs no server.
pub fn server_url(dialect: Dialect) -> Option<(&'static str, String)> {
    let (var, default) = match dialect {
        Dialect::Postgres => ("KILN_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        Dialect::MySql => ("KILN_TEST_MYSQL_URL", DEFAULT_MYSQL_URL),
        _ => return None,
    };
    Some((
        var,
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_owned()),
    ))
}

/// Outside CI an unusable server is a loud skip (`Ok(None)`); in CI it is an error, because a
/// check that silently did not run is worse than one that failed.
fn unavailable<T>(dialect: Dialect, var: &str, url: &str, e: &Error) -> Result<Option<T>> {
    if in_ci() {
        return Err(Error::Url {
            url: redact_url(url),
            reason: format!(
                "CI is set, so an unusable {dialect:?} test server is a failure rather than a skip ({e}); start it or point {var} at one"
            ),
        });
    }
    eprintln!(
        "\n*** SKIPPING {dialect:?} TEST: cannot use {} ({e}).\n*** Set {var} to a reachable server to run it (CI=true makes this a failure).\n",
        redact_url(url)
    );
    Ok(None)
}

/// Fails fast when nothing listens at the URL's host and port, instead of waiting out the
/// pool's connect timeout once per test. URLs it cannot parse (sockets, unusual forms) pass and
/// are left to the driver.
async fn reachable(url: &str, dialect: Dialect) -> Result<()> {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return Ok(());
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() || host_port.contains(',') {
        return Ok(());
    }
    let addr = if host_port.ends_with(']') || !host_port.contains(':') {
        let port = if dialect == Dialect::MySql {
            3306
        } else {
            5432
        };
        format!("{host_port}:{port}")
    } else {
        host_port.to_owned()
    };
    match tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(addr.as_str()),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("nothing answers at {addr}: {e}")),
        Err(_) => Err(format!("{addr} did not answer within 3 s")),
    }
    .map_err(|reason| Error::Url {
        url: redact_url(url),
        reason,
    })
}

fn db_error(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

impl TestDb {
    /// A new SQLite database in a temporary file.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite() -> Result<TestDb> {
        let dir = tempfile::tempdir()
            .map_err(|e| Error::Config(format!("cannot create a temporary directory: {e}")))?;
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let db = Db::connect(&url).await?;
        Ok(TestDb {
            db,
            url,
            cleanup: Some(Cleanup::File(dir)),
        })
    }

    /// A new database on the PostgreSQL server named by `KILN_TEST_POSTGRES_URL`, or `None`
    /// (outside CI) when that server cannot be reached.
    ///
    /// # Panics
    /// When `CI` is set and the server cannot be used: see [`TestDb::try_new`] for a version
    /// that returns the error instead.
    #[cfg(feature = "postgres")]
    pub async fn postgres() -> Option<TestDb> {
        TestDb::new(Dialect::Postgres).await
    }

    /// A new database on the MySQL/MariaDB server named by `KILN_TEST_MYSQL_URL`, or `None`
    /// (outside CI) when that server cannot be reached.
    ///
    /// # Panics
    /// When `CI` is set and the server cannot be used: see [`TestDb::try_new`].
    #[cfg(feature = "mysql")]
    pub async fn mysql() -> Option<TestDb> {
        TestDb::new(Dialect::MySql).await
    }

    /// A new database of the given engine (`None` when a server is unavailable outside CI).
    ///
    /// # Panics
    /// When the database cannot be created and `CI` is set, or SQLite cannot create a file:
    /// this is the convenient form for test bodies. [`TestDb::try_new`] returns the error.
    pub async fn new(dialect: Dialect) -> Option<TestDb> {
        match TestDb::try_new(dialect).await {
            Ok(db) => db,
            Err(e) => panic!("cannot create a {dialect:?} test database: {e}"),
        }
    }

    /// A new database of the given engine: `Ok(None)` after a loud notice when the server
    /// cannot be used outside CI, an error when it cannot be used in CI (`CI` set) or when this
    /// build lacks the engine's feature.
    pub async fn try_new(dialect: Dialect) -> Result<Option<TestDb>> {
        match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => TestDb::sqlite().await.map(Some),
            _ => {
                let Some((var, admin_url)) = server_url(dialect) else {
                    return Err(missing_engine(dialect));
                };
                if !engine_enabled(dialect) {
                    return Err(missing_engine(dialect));
                }
                let created = match reachable(&admin_url, dialect).await {
                    Ok(()) => TestDb::create_on_server(&admin_url, dialect, None).await,
                    Err(e) => Err(e),
                };
                match created {
                    Ok(db) => Ok(Some(db)),
                    Err(e) => unavailable(dialect, var, &admin_url, &e),
                }
            }
        }
    }

    /// A new database already migrated to every head of `migrator`: the cheap path for many
    /// tests that need the same schema.
    ///
    /// - PostgreSQL: cloned with `CREATE DATABASE ... TEMPLATE` from a template database named
    ///   after the set's digest ([`template_name`]), built once under an advisory lock and kept
    ///   for later runs (remove it with [`drop_templates`]).
    /// - SQLite: a copy of a migrated file kept in the system temporary directory under the same
    ///   name.
    /// - MySQL/MariaDB, which has no template databases: a new database, migrated.
    ///
    /// The clone carries the template's version rows and audit trail (one `upgrade` row per
    /// revision, recorded when the template was built). `Ok(None)` as for [`TestDb::try_new`].
    pub async fn migrated(migrator: &Migrator, dialect: Dialect) -> Result<Option<TestDb>> {
        match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => sqlite_from_template(migrator).await.map(Some),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                let Some((var, admin_url)) = server_url(dialect) else {
                    return Err(missing_engine(dialect));
                };
                let connected = match reachable(&admin_url, dialect).await {
                    Ok(()) => Db::connect(&admin_url).await,
                    Err(e) => Err(e),
                };
                let admin = match connected {
                    Ok(a) => a,
                    Err(e) => return unavailable(dialect, var, &admin_url, &e),
                };
                let r = pg_from_template(&admin, &admin_url, migrator).await;
                admin.close().await;
                r.map(Some)
            }
            _ => {
                let Some(t) = TestDb::try_new(dialect).await? else {
                    return Ok(None);
                };
                migrator
                    .run(t.db())
                    .await
                    .map_err(|e| context(e, "migrating a test database to every head"))?;
                Ok(Some(t))
            }
        }
    }

    async fn create_on_server(
        admin_url: &str,
        dialect: Dialect,
        template: Option<&str>,
    ) -> Result<TestDb> {
        let admin = Db::connect(admin_url).await?;
        let r = TestDb::create_with(&admin, admin_url, dialect, template).await;
        admin.close().await;
        r
    }

    async fn create_with(
        admin: &Db,
        admin_url: &str,
        dialect: Dialect,
        template: Option<&str>,
    ) -> Result<TestDb> {
        let name = unique_name();
        let mut create = format!("CREATE DATABASE {}", quote_ident(dialect, &name));
        if let Some(t) = template {
            create.push_str(&format!(" TEMPLATE {}", quote_ident(dialect, t)));
        }
        let mut conn = RawConnection::acquire(admin).await?;
        conn.script(create)
            .await
            .map_err(Error::db("creating a test database"))?;
        drop(conn);
        // From here on the database exists, so the value that removes it must exist too, even
        // if connecting fails.
        let cleanup = Cleanup::Server {
            admin_url: admin_url.to_owned(),
            name: name.clone(),
            dialect,
        };
        let url = with_database(admin_url, &name);
        match Db::connect(&url).await {
            Ok(db) => Ok(TestDb {
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

    /// The database, to hand to a [`Migrator`].
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Its URL (for the CLI or a child process).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its engine.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Drops the database now and reports failures (dropping the value does the same silently).
    pub async fn drop_database(mut self) -> Result<()> {
        self.db.close().await;
        match self.cleanup.take() {
            Some(c) => c.run().await,
            None => Ok(()),
        }
    }
}

fn engine_enabled(dialect: Dialect) -> bool {
    match dialect {
        Dialect::Postgres => cfg!(feature = "postgres"),
        Dialect::MySql => cfg!(feature = "mysql"),
        _ => cfg!(feature = "sqlite"),
    }
}

fn missing_engine(dialect: Dialect) -> Error {
    let feature = match dialect {
        Dialect::Postgres => "postgres",
        Dialect::MySql => "mysql",
        _ => "sqlite",
    };
    Error::Config(format!(
        "this build does not include the {dialect:?} engine; enable kiln's `{feature}` feature"
    ))
}

/// Puts what kiln was doing in front of an error that does not say it.
pub(crate) fn context(e: Error, what: &str) -> Error {
    match e {
        Error::Config(m) => Error::Config(format!("{what}: {m}")),
        other => other,
    }
}

impl Cleanup {
    async fn run(self) -> Result<()> {
        match self {
            Cleanup::File(dir) => dir
                .close()
                .map_err(|e| Error::Config(format!("cannot remove a temporary directory: {e}"))),
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

async fn drop_server_database(admin: &Db, dialect: Dialect, name: &str) -> Result<()> {
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
        .map_err(Error::db(format!("dropping test database {name}")))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take() else {
            return;
        };
        if let Cleanup::File(dir) = cleanup {
            drop(dir);
            return;
        }
        // Dropped without `drop_database` (a failing test, most likely): clean up on a thread of
        // its own, since this may run inside an async runtime that cannot be blocked.
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
                    eprintln!("kiln: could not drop a test database: {e}");
                }
            });
        });
        let _ = handle.join();
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

/// The name of `migrator`'s template database (PostgreSQL) or file (SQLite):
/// `kiln_tpl_<first 16 hex digits of the set's digest>_<8 hex digits of the settings>`.
///
/// The digest changes whenever a revision is added, removed or edited, so a stale template is
/// never used: a changed set simply gets a new one. The settings part covers what else ends up
/// in the template: kiln's table names and schema, and kiln's own version (the bookkeeping
/// format may change between versions).
pub fn template_name(migrator: &Migrator) -> String {
    use sha2::{Digest, Sha256};
    let o = migrator.options();
    let settings = format!(
        "{}\0{}\0{}\0{}",
        o.version_table,
        o.audit_table,
        o.schema.as_deref().unwrap_or(""),
        env!("CARGO_PKG_VERSION")
    );
    let h = Sha256::digest(settings.as_bytes());
    let digest: String = migrator.set().digest().chars().take(16).collect();
    format!(
        "{TEMPLATE_PREFIX}{digest}_{}",
        kiln_core::checksum::hex(&h[..4])
    )
}

/// Where SQLite template files are kept: `kiln-test-templates` in the system temporary
/// directory.
pub fn sqlite_template_dir() -> PathBuf {
    std::env::temp_dir().join("kiln-test-templates")
}

fn io(what: &str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error {
    let what = format!("{what} {}", path.display());
    move |e| Error::Config(format!("cannot {what}: {e}"))
}

#[cfg(feature = "sqlite")]
async fn sqlite_from_template(m: &Migrator) -> Result<TestDb> {
    let dir = sqlite_template_dir();
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let template = dir.join(format!("{}.db", template_name(m)));
    let tmp = tempfile::tempdir()
        .map_err(|e| Error::Config(format!("cannot create a temporary directory: {e}")))?;
    let file = tmp.path().join("test.db");
    let mut attempt = 0;
    loop {
        attempt += 1;
        if !template.exists() {
            // One builder at a time, across processes too, so a template is built once; the
            // others wait and then find it.
            let lock = dir.join(format!("{}.lock", template_name(m)));
            let _held = lock_file(&lock).await?;
            if !template.exists() {
                sqlite_build_template(m, &dir, &template).await?;
            }
        }
        match std::fs::copy(&template, &file) {
            Ok(_) => break,
            // Removed by a concurrent cleanup between the check and the copy: build it again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 3 => {}
            Err(e) => return Err(io("copy", &template)(e)),
        }
    }
    let url = format!("sqlite://{}", file.display());
    let db = Db::connect(&url).await?;
    Ok(TestDb {
        db,
        url,
        cleanup: Some(Cleanup::File(tmp)),
    })
}

/// Waits for an exclusive lock on `path` (created if missing); released when the file is
/// dropped, or when the process dies.
#[cfg(feature = "sqlite")]
async fn lock_file(path: &std::path::Path) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io("open", path))?;
    let mut pause = Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", path)(e)),
        }
    }
}

#[cfg(feature = "sqlite")]
async fn sqlite_build_template(
    m: &Migrator,
    dir: &std::path::Path,
    template: &std::path::Path,
) -> Result<()> {
    // Built under a name of its own and renamed into place, so a concurrent test never copies
    // a half-migrated file and the loser of a race just replaces an identical file.
    static N: AtomicU64 = AtomicU64::new(0);
    let building = dir.join(format!(
        "{}.{}.{}.building",
        template_name(m),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let db = Db::connect(&format!("sqlite://{}", building.display())).await?;
    let r = m.run(&db).await;
    db.close().await;
    let mut lock = building.clone().into_os_string();
    lock.push(".kiln-lock");
    let _ = std::fs::remove_file(&lock);
    if let Err(e) = r {
        let _ = std::fs::remove_file(&building);
        return Err(context(e, "building the SQLite template"));
    }
    std::fs::rename(&building, template).map_err(io("rename into place", template))
}

/// The advisory lock key serializing work on one template: any process building, or dropping,
/// the same template waits for the one that holds it.
fn template_lock_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("kiln-template:{name}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) >> 1) as i64
}

/// `Some(true)` for a finished template, `Some(false)` for one a crashed process left
/// half-built, `None` when there is none.
async fn pg_template_state(conn: &mut RawConnection, name: &str) -> Result<Option<bool>> {
    let rows = conn
        .rows(
            &format!(
                "SELECT datistemplate::text FROM pg_database WHERE datname = {}",
                quote_literal(Dialect::Postgres, name)
            ),
            &[],
        )
        .await
        .map_err(Error::db("looking up a template database"))?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| r.into_iter().next().flatten().as_deref() == Some("true")))
}

#[cfg(feature = "postgres")]
async fn pg_from_template(admin: &Db, admin_url: &str, m: &Migrator) -> Result<TestDb> {
    let tpl = template_name(m);
    let mut attempt = 0;
    loop {
        attempt += 1;
        pg_ensure_template(admin, admin_url, &tpl, m).await?;
        match TestDb::create_with(admin, admin_url, Dialect::Postgres, Some(&tpl)).await {
            Ok(t) => return Ok(t),
            // The template was dropped by a concurrent cleanup (3D000), or a session was still
            // leaving it (55006): build or wait, and try again.
            Err(Error::Database { source, .. })
                if attempt < 4
                    && matches!(db_error(&source).as_deref(), Some("3D000") | Some("55006")) =>
            {
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(feature = "postgres")]
async fn pg_ensure_template(admin: &Db, admin_url: &str, tpl: &str, m: &Migrator) -> Result<()> {
    let mut conn = RawConnection::acquire(admin).await?;
    if pg_template_state(&mut conn, tpl).await? == Some(true) {
        return Ok(());
    }
    // A session lock must not go back to the pool if this future is dropped half-way.
    conn.close_on_drop();
    let key = template_lock_key(tpl);
    conn.exec("SELECT pg_advisory_lock($1)", &[key])
        .await
        .map_err(Error::db("locking the template database"))?;
    let built = pg_build_template(&mut conn, admin_url, tpl, m).await;
    let unlocked = conn
        .exec("SELECT pg_advisory_unlock($1)", &[key])
        .await
        .map_err(Error::db("unlocking the template database"));
    built?;
    unlocked.map(|_| ())
}

#[cfg(feature = "postgres")]
async fn pg_build_template(
    conn: &mut RawConnection,
    admin_url: &str,
    tpl: &str,
    m: &Migrator,
) -> Result<()> {
    let q = quote_ident(Dialect::Postgres, tpl);
    match pg_template_state(conn, tpl).await? {
        // Another process finished it while this one waited for the lock.
        Some(true) => return Ok(()),
        Some(false) => conn
            .script(format!("DROP DATABASE IF EXISTS {q} WITH (FORCE)"))
            .await
            .map_err(Error::db("dropping a half-built template database"))?,
        None => {}
    }
    conn.script(format!("CREATE DATABASE {q}"))
        .await
        .map_err(Error::db("creating a template database"))?;
    let db = Db::connect(&with_database(admin_url, tpl)).await;
    let migrated = match db {
        Ok(db) => {
            let r = m.run(&db).await;
            db.close().await;
            r
        }
        Err(e) => Err(e),
    };
    if let Err(e) = migrated {
        let _ = conn
            .script(format!("DROP DATABASE IF EXISTS {q} WITH (FORCE)"))
            .await;
        return Err(context(e, "building the template database"));
    }
    // No connections from now on, so `CREATE DATABASE ... TEMPLATE` never finds the template in
    // use; marking it a template last is what tells other processes it is finished.
    for sql in [
        format!("ALTER DATABASE {q} WITH ALLOW_CONNECTIONS false"),
        format!("ALTER DATABASE {q} IS_TEMPLATE true"),
    ] {
        conn.script(sql)
            .await
            .map_err(Error::db("marking the template database finished"))?;
    }
    Ok(())
}

/// Removes `migrator`'s template database (PostgreSQL) or file (SQLite); `true` if there
/// was one. Tests cloning it at the same moment wait for the drop and then build it again.
pub async fn drop_template(migrator: &Migrator, dialect: Dialect) -> Result<bool> {
    let name = template_name(migrator);
    match dialect {
        Dialect::Postgres => {
            let Some((_, admin_url)) = server_url(dialect) else {
                return Ok(false);
            };
            let admin = Db::connect(&admin_url).await?;
            let r = async {
                let mut conn = RawConnection::acquire(&admin).await?;
                let exists = pg_template_state(&mut conn, &name).await?.is_some();
                drop(conn);
                if exists {
                    pg_drop_template(&admin, &name).await?;
                }
                Ok(exists)
            }
            .await;
            admin.close().await;
            r
        }
        Dialect::Sqlite => {
            let dir = sqlite_template_dir();
            let _ = std::fs::remove_file(dir.join(format!("{name}.lock")));
            let file = dir.join(format!("{name}.db"));
            match std::fs::remove_file(&file) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(io("remove", &file)(e)),
            }
        }
        _ => Ok(false),
    }
}

/// Removes kiln's template databases (PostgreSQL) or files (SQLite) except `keep`'s, and
/// returns their names. Templates are kept between runs on purpose (building one costs a full
/// migration); each is named after its set's digest, so templates of older sets pile up as
/// migrations change. Call this from a cleanup step (or a test run last) to remove them.
///
/// MySQL/MariaDB has no templates: nothing to do.
pub async fn drop_templates(dialect: Dialect, keep: Option<&Migrator>) -> Result<Vec<String>> {
    let keep = keep.map(template_name);
    let mut dropped = Vec::new();
    match dialect {
        Dialect::Postgres => {
            let Some((_, admin_url)) = server_url(dialect) else {
                return Ok(dropped);
            };
            let admin = Db::connect(&admin_url).await?;
            let r = async {
                for name in list_databases(&admin, dialect, TEMPLATE_PREFIX).await? {
                    if Some(&name) != keep.as_ref() {
                        pg_drop_template(&admin, &name).await?;
                        dropped.push(name);
                    }
                }
                Ok::<_, Error>(())
            }
            .await;
            admin.close().await;
            r?;
        }
        Dialect::Sqlite => {
            let dir = sqlite_template_dir();
            let Ok(entries) = std::fs::read_dir(&dir) else {
                return Ok(dropped);
            };
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let stem = file.split('.').next().unwrap_or("").to_owned();
                if !file.starts_with(TEMPLATE_PREFIX) || Some(&stem) == keep.as_ref() {
                    continue;
                }
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => dropped.push(file),
                    // Removed meanwhile by a concurrent cleanup: the goal is reached.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io("remove", &entry.path())(e)),
                }
            }
        }
        _ => {}
    }
    Ok(dropped)
}

/// Drops one template under its lock, so it never disappears in the middle of being built.
async fn pg_drop_template(admin: &Db, name: &str) -> Result<()> {
    let mut conn = RawConnection::acquire(admin).await?;
    conn.close_on_drop();
    let key = template_lock_key(name);
    conn.exec("SELECT pg_advisory_lock($1)", &[key])
        .await
        .map_err(Error::db("locking a template database"))?;
    let q = quote_ident(Dialect::Postgres, name);
    // Two round trips: DROP DATABASE refuses to run in the implicit transaction of a
    // multi-statement query. A template that is already gone is not an error.
    let mut r = Ok(());
    for sql in [
        format!("ALTER DATABASE {q} IS_TEMPLATE false"),
        format!("DROP DATABASE IF EXISTS {q} WITH (FORCE)"),
    ] {
        match conn.script(sql).await {
            Ok(()) => {}
            Err(e) if db_error(&e).as_deref() == Some("3D000") => break,
            Err(e) => {
                r = Err(Error::db(format!("dropping template database {name}"))(e));
                break;
            }
        }
    }
    let _ = conn.exec("SELECT pg_advisory_unlock($1)", &[key]).await;
    r
}

/// Drops throwaway databases left on the server of `dialect` by test processes that were
/// killed before they could clean up (SIGKILL, a power cut), if they were created more than
/// `older_than` ago, and returns their names. Pick an age longer than any test run, so
/// databases of tests still running are left alone. Templates are not touched (see
/// [`drop_templates`]). SQLite's temporary files live in the system temporary directory and
/// are not tracked: nothing to do.
pub async fn drop_orphans(dialect: Dialect, older_than: Duration) -> Result<Vec<String>> {
    let Some((_, admin_url)) = server_url(dialect) else {
        return Ok(Vec::new());
    };
    let admin = Db::connect(&admin_url).await?;
    let cutoff = unix_secs().saturating_sub(older_than.as_secs());
    let r = async {
        let mut dropped = Vec::new();
        for name in list_databases(&admin, dialect, TEST_PREFIX).await? {
            let created = name
                .strip_prefix(TEST_PREFIX)
                .and_then(|rest| rest.split('_').next())
                .and_then(|h| u64::from_str_radix(h, 16).ok());
            // Names from before timestamps were added (`kiln_t_<pid>_...`) parse as tiny
            // numbers; leave them alone rather than drop a database a running test owns.
            if created.is_some_and(|c| c > PLAUSIBLE_SECS && c < cutoff) {
                drop_server_database(&admin, dialect, &name).await?;
                dropped.push(name);
            }
        }
        Ok(dropped)
    }
    .await;
    admin.close().await;
    r
}

async fn list_databases(admin: &Db, dialect: Dialect, prefix: &str) -> Result<Vec<String>> {
    let pattern = quote_literal(dialect, &format!("{}%", prefix.replace('_', "\\_")));
    let sql = match dialect {
        Dialect::MySql => format!(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE {pattern}"
        ),
        _ => format!("SELECT datname::text FROM pg_database WHERE datname LIKE {pattern}"),
    };
    let mut conn = RawConnection::acquire(admin).await?;
    let rows = conn
        .rows(&sql, &[])
        .await
        .map_err(Error::db("listing databases"))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_creation_time() {
        let n = unique_name();
        let secs = n
            .strip_prefix(TEST_PREFIX)
            .and_then(|r| r.split('_').next())
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap();
        assert!(unix_secs() - secs < 5);
        assert!(n.len() <= 63, "{n}");
        assert_ne!(unique_name(), unique_name());
    }

    #[test]
    fn template_names_follow_the_set_and_the_settings() {
        let m = Migrator::EMPTY;
        let a = template_name(&m);
        assert!(a.starts_with("kiln_tpl_0000000000000000_"), "{a}");
        assert!(a.len() <= 63);
        let other = m
            .clone()
            .with_options(kiln_runtime::Options::default().version_table("v2"));
        assert_ne!(template_name(&other), a);
        assert_eq!(template_name(&m), a);
    }
}
