//! Settings for applying revisions: bookkeeping table names, transaction mode, locking.

use crate::error::{Error, Result};
use crate::lock_mode::LockMode;
use crate::sql::check_name;
use kiln_core::Dialect;
use std::borrow::Cow;
use std::time::Duration;

/// How revisions are grouped into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TransactionMode {
    /// Each revision and its bookkeeping commit together; a failure keeps the revisions before it.
    /// The default: it behaves the same on every engine (MySQL cannot do better, since its DDL
    /// commits implicitly) and keeps locks short during long runs.
    #[default]
    PerRevision,
    /// The whole run commits at once or not at all (PostgreSQL and SQLite; on MySQL DDL still
    /// commits implicitly, so this degrades to per-revision).
    All,
}

/// Settings used when a [`crate::Migrator`] touches a database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Table with one row per applied revision. Default `kiln_version`.
    pub version_table: Cow<'static, str>,
    /// Append-only audit table. Default `kiln_audit`.
    pub audit_table: Cow<'static, str>,
    /// Schema (PostgreSQL) or database (MySQL) holding both tables; `None` uses the connection's
    /// default. Ignored on SQLite.
    pub schema: Option<Cow<'static, str>>,
    /// Transaction grouping. Default [`TransactionMode::PerRevision`].
    pub transaction_mode: TransactionMode,
    /// Take a lock for the whole run so concurrent runners apply each revision once. Default `true`.
    pub lock: bool,
    /// How long to wait for the lock. Default 60 s.
    pub lock_timeout: Duration,
    /// Which lock (see "Behind a pooler" in docs/runtime.md). Default [`LockMode::Auto`].
    pub lock_mode: LockMode,
    /// How long a lease of [`LockMode::Table`] lasts without renewal; the run renews it every
    /// third of that, and a killed runner's lease is taken over this long after its last renewal.
    /// Default 30 s.
    pub lease: Duration,
    /// Tolerate applied revisions this binary does not know (a newer binary migrated the database
    /// during a rolling deploy). Default `false`.
    pub allow_unknown_applied: bool,
    /// Recorded in the audit trail. Default: none.
    pub app_version: Option<Cow<'static, str>>,

    // Lost connections (see "Lost connections and timeouts" in docs/runtime.md).
    /// How long kiln waits for a reply from PostgreSQL or MySQL before checking, over a second
    /// connection, whether the server is still working on the request. A server still executing
    /// the statement is waited for (a long migration is never cut short); an idle or vanished
    /// session, or a server that cannot be reached, ends the run with
    /// [`crate::Error::ConnectionLost`]. `None` waits forever. Default 30 s. Ignored on SQLite.
    pub io_timeout: Option<Duration>,

    // DDL guardrails (see "DDL guardrails" in docs/runtime.md).
    /// How long each statement of a revision may wait for a lock before the server gives up
    /// (PostgreSQL `lock_timeout`; MySQL/MariaDB `lock_wait_timeout` and
    /// `innodb_lock_wait_timeout`, in whole seconds, rounded up; SQLite `busy_timeout`), so a
    /// migration stuck behind a long transaction does not hold every query queued behind it.
    /// A revision's `-- kiln:lock-timeout` overrides it. `None` (or zero) leaves the server's
    /// setting alone. Default `None`.
    pub ddl_lock_timeout: Option<Duration>,
    /// How long each statement of a revision may run (PostgreSQL `statement_timeout`, MariaDB
    /// `max_statement_time`, MySQL `max_execution_time`, which MySQL applies to `SELECT` only;
    /// not available on SQLite). A revision's `-- kiln:statement-timeout` overrides it. `None`
    /// (or zero) leaves the server's setting alone. Default `None`.
    pub ddl_statement_timeout: Option<Duration>,
    /// How many times a revision that gave up waiting for a lock is tried again, after a
    /// backoff, before the run fails. Default 0.
    pub ddl_retries: u32,
    /// The wait before the first retry; each further one waits twice as long, up to
    /// [`Options::MAX_DDL_RETRY_BACKOFF`]. Default 1 s.
    pub ddl_retry_backoff: Duration,
}

impl Options {
    /// The defaults, usable in `const` contexts.
    pub const DEFAULT: Options = Options {
        version_table: Cow::Borrowed("kiln_version"),
        audit_table: Cow::Borrowed("kiln_audit"),
        schema: None,
        transaction_mode: TransactionMode::PerRevision,
        lock: true,
        lock_timeout: Duration::from_secs(60),
        lock_mode: LockMode::Auto,
        lease: Duration::from_secs(30),
        allow_unknown_applied: false,
        app_version: None,
        io_timeout: Some(Duration::from_secs(30)),
        ddl_lock_timeout: None,
        ddl_statement_timeout: None,
        ddl_retries: 0,
        ddl_retry_backoff: Duration::from_secs(1),
    };

    /// Sets the version table name.
    pub fn version_table(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.version_table = name.into();
        self
    }
    /// Sets the audit table name.
    pub fn audit_table(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.audit_table = name.into();
        self
    }
    /// Sets the schema (PostgreSQL) or database (MySQL) of the bookkeeping tables.
    pub fn schema(mut self, schema: impl Into<Cow<'static, str>>) -> Self {
        self.schema = Some(schema.into());
        self
    }
    /// Sets the transaction mode.
    pub fn transaction_mode(mut self, mode: TransactionMode) -> Self {
        self.transaction_mode = mode;
        self
    }
    /// Turns the run lock on or off.
    pub fn lock(mut self, on: bool) -> Self {
        self.lock = on;
        self
    }
    /// Sets how long to wait for the run lock.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }
    /// Sets which lock keeps concurrent runners apart.
    pub fn lock_mode(mut self, mode: LockMode) -> Self {
        self.lock_mode = mode;
        self
    }
    /// Sets how long a lease of [`LockMode::Table`] lasts without renewal.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
    /// Tolerates applied revisions unknown to this binary.
    pub fn allow_unknown_applied(mut self, allow: bool) -> Self {
        self.allow_unknown_applied = allow;
        self
    }
    /// Records an application version in the audit trail.
    pub fn app_version(mut self, version: impl Into<Cow<'static, str>>) -> Self {
        self.app_version = Some(version.into());
        self
    }
    /// Sets the I/O timeout (`None`: wait for every reply forever); see [`Options::io_timeout`].
    pub fn io_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.io_timeout = timeout;
        self
    }
    /// The name of the one-row state table: the version table's name plus `_state`.
    pub fn state_table(&self) -> String {
        format!("{}_state", self.version_table)
    }

    /// The name of the lease table of [`crate::LockMode::Table`]: the version table's name plus
    /// `_lock`.
    pub fn lock_table(&self) -> String {
        format!("{}_lock", self.version_table)
    }

    /// Checks the names before anything touches a database: every name is 1 to 63 characters of
    /// A-Z, a-z, 0-9 and `_`, and on `dialect` (when known) every table kiln derives from them
    /// fits the engine's identifier limit: PostgreSQL silently truncates names over 63 bytes (so a
    /// 63-character version table's `_state` table would land on the version table itself), and
    /// MySQL/MariaDB refuses table names over 64 characters. [`crate::Migrator`] calls this on
    /// every operation; the CLI calls it while reading its flags, to fail as a usage error.
    pub fn validate(&self, dialect: Option<Dialect>) -> Result<()> {
        check_name("version table", &self.version_table)?;
        check_name("audit table", &self.audit_table)?;
        if let Some(s) = &self.schema {
            check_name("schema", s)?;
        }
        let (engine, limit) = match dialect {
            Some(Dialect::Postgres) => ("PostgreSQL", 63),
            Some(Dialect::MySql) => ("MySQL/MariaDB", 64),
            _ => return Ok(()),
        };
        let state = self.state_table();
        if state.len() > limit {
            return Err(Error::Config(format!(
                "version table `{}` is {} characters, so kiln's state table `{state}` would be {}, over {engine}'s limit of {limit}; use a version table name of at most {} characters (--version-table)",
                self.version_table,
                self.version_table.len(),
                state.len(),
                limit - "_state".len()
            )));
        }
        Ok(())
    }
}

/// The DDL guardrails (see "DDL guardrails" in docs/runtime.md).
impl Options {
    /// The longest wait between two attempts of a revision, however many retries there are.
    pub const MAX_DDL_RETRY_BACKOFF: Duration = Duration::from_secs(30);

    /// Sets how long a revision's statements may wait for a lock; see
    /// [`Options::ddl_lock_timeout`].
    pub fn ddl_lock_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.ddl_lock_timeout = timeout;
        self
    }
    /// Sets how long a revision's statements may run; see [`Options::ddl_statement_timeout`].
    pub fn ddl_statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.ddl_statement_timeout = timeout;
        self
    }
    /// Sets how many times a revision that hit its lock timeout is tried again.
    pub fn ddl_retries(mut self, retries: u32) -> Self {
        self.ddl_retries = retries;
        self
    }
    /// Sets the wait before the first retry (it doubles for each further one).
    pub fn ddl_retry_backoff(mut self, first: Duration) -> Self {
        self.ddl_retry_backoff = first;
        self
    }
    /// The wait before retry number `retry` (1 for the first): the backoff doubled for each
    /// earlier retry, at most [`Options::MAX_DDL_RETRY_BACKOFF`].
    pub fn ddl_backoff_before(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.ddl_retry_backoff
            .saturating_mul(factor)
            .min(Self::MAX_DDL_RETRY_BACKOFF)
    }
}

/// Building [`Options`] from `kiln.toml`, the file the `kiln` command reads, so a service and the
/// CLI find kiln's tables in the same place.
impl Options {
    /// The defaults with every setting `config` makes: `schema`, `version_table`,
    /// `audit_table`, `transaction`, `lock_timeout`, `lock_mode`, `io_timeout` (0: wait
    /// forever), `app_version`, `ddl_lock_timeout`, `ddl_statement_timeout` (0: no limit) and
    /// `ddl_retries`. Keys only the CLI uses (`dir`, the database URL) and the dialect keys are
    /// left alone.
    pub fn from_config(config: &kiln_core::config::Config) -> Options {
        let mut o = Options::default();
        if let Some((s, _)) = &config.schema {
            o = o.schema(s.clone());
        }
        if let Some((t, _)) = &config.version_table {
            o = o.version_table(t.clone());
        }
        if let Some((t, _)) = &config.audit_table {
            o = o.audit_table(t.clone());
        }
        if let Some((t, _)) = config.transaction {
            o = o.transaction_mode(match t {
                kiln_core::config::Transaction::All => TransactionMode::All,
                _ => TransactionMode::PerRevision,
            });
        }
        if let Some((secs, _)) = config.lock_timeout {
            o = o.lock_timeout(Duration::from_secs(secs));
        }
        if let Some((mode, _)) = config.lock_mode {
            o = o.lock_mode(mode);
        }
        if let Some((secs, _)) = config.io_timeout {
            o = o.io_timeout((secs > 0).then(|| Duration::from_secs(secs)));
        }
        if let Some((v, _)) = &config.app_version {
            o = o.app_version(v.clone());
        }
        if let Some((d, _)) = config.ddl_lock_timeout {
            o = o.ddl_lock_timeout((!d.is_zero()).then_some(d));
        }
        if let Some((d, _)) = config.ddl_statement_timeout {
            o = o.ddl_statement_timeout((!d.is_zero()).then_some(d));
        }
        if let Some((n, _)) = config.ddl_retries {
            o = o.ddl_retries(n);
        }
        o
    }

    /// [`Options::from_config`] of the kiln.toml at `path`, typically
    /// `concat!(env!("CARGO_MANIFEST_DIR"), "/kiln.toml")` or a path shipped with the service.
    ///
    /// ```no_run
    /// let options = kiln_runtime::Options::from_kiln_toml("kiln.toml")?;
    /// # Ok::<(), kiln_runtime::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the file cannot be read or has a problem (an unknown key, a value
    /// of the wrong type), with the file, line and fix of each.
    pub fn from_kiln_toml(path: impl AsRef<std::path::Path>) -> Result<Options> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        match kiln_core::config::Config::read(path, &shown) {
            Ok(config) => Ok(Options::from_config(&config)),
            Err(problems) => Err(Error::Config(
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn options_from_kiln_toml_match_the_file() {
        let (_dir, path) = write(
            "dialect = \"postgres\"\ndir = \"db\"\ndatabase_url_env = \"APP_DB\"\nschema = \"ops\"\nversion_table = \"app_version\"\naudit_table = \"app_audit\"\ntransaction = \"all\"\nlock_timeout = 7\nlock_mode = \"table\"\nio_timeout = 0\napp_version = \"2.0\"\nddl_lock_timeout = \"2s\"\nddl_statement_timeout = 0\nddl_retries = 4\n",
        );
        let expected = Options::default()
            .schema("ops")
            .version_table("app_version")
            .audit_table("app_audit")
            .transaction_mode(TransactionMode::All)
            .lock_timeout(Duration::from_secs(7))
            .lock_mode(LockMode::Table)
            .io_timeout(None)
            .app_version("2.0")
            .ddl_lock_timeout(Some(Duration::from_secs(2)))
            .ddl_retries(4);
        assert_eq!(Options::from_kiln_toml(&path).unwrap(), expected);
        let (_dir, empty) = write("dialect = \"sqlite\"\n");
        assert_eq!(Options::from_kiln_toml(&empty).unwrap(), Options::DEFAULT);
    }

    #[test]
    fn the_retry_backoff_doubles_up_to_its_cap() {
        let o = Options::default().ddl_retry_backoff(Duration::from_millis(500));
        let waits: Vec<u64> = (1..=9)
            .map(|n| o.ddl_backoff_before(n).as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000
            ]
        );
        assert_eq!(
            Options::default().ddl_backoff_before(u32::MAX),
            Options::MAX_DDL_RETRY_BACKOFF
        );
    }

    #[test]
    fn a_bad_kiln_toml_names_file_line_and_fix() {
        let (_dir, path) = write("schema = \"ops\"\nlock_timeout = \"60\"\nshema = \"x\"\n");
        let Err(Error::Config(text)) = Options::from_kiln_toml(&path) else {
            panic!("a bad kiln.toml must be refused");
        };
        let shown = path.display().to_string();
        assert!(text.contains(&format!("{shown}:2: kiln.toml key `lock_timeout` must be a whole number of seconds, 0 or more (no quotes), e.g. `lock_timeout = 60`")), "{text}");
        assert!(
            text.contains(&format!("{shown}:3: unknown key `shema`")),
            "{text}"
        );
        assert!(text.contains("did you mean `schema`?"), "{text}");
        let missing = Options::from_kiln_toml(path.with_file_name("nope.toml"));
        assert!(matches!(missing, Err(Error::Config(t)) if t.contains("nope.toml")));
    }
}
