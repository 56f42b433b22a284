//! From parsed arguments to typed settings: configuration order, the database URL, runtime
//! options, and per-command values checked before anything touches the disk or the network.
//!
//! Where each global setting comes from (flag, environment, `./.env`, kiln.toml, default) is
//! decided in [`crate::layers`]; this module turns the result into typed settings.
//!
//! `.env` is read without changing the process environment, and only from the working directory.

use crate::args::{Cli, GlobalArgs, LockModeArg, RunArgs, TransactionArg};
use crate::error::Fail;
use crate::out;
use anyhow::Context as _;
use kiln_core::{Dialect, MigrationDir};
use kiln_runtime::{LockMode, Options, TransactionMode};
use std::path::PathBuf;
use std::time::Duration;

/// Where a setting came from, for messages.
pub type Source = crate::layers::Origin;

/// The database URL and where it came from. The URL itself is never printed; see [`Self::shown`].
#[derive(Debug, Clone)]
pub struct DbUrl {
    url: String,
    pub source: Source,
}

impl DbUrl {
    /// The URL to connect with.
    pub fn url(&self) -> &str {
        &self.url
    }
    /// The URL with its password removed, for output.
    pub fn shown(&self) -> String {
        kiln_runtime::redact_url(&self.url)
    }
    /// The SQL dialect the URL's scheme names, without connecting.
    pub fn dialect(&self) -> Option<Dialect> {
        kiln_runtime::url::dialect_of(&self.url)
    }
}

/// Settings shared by every command.
#[derive(Debug)]
pub struct Settings {
    /// The working directory.
    pub cwd: PathBuf,
    /// The migration directory.
    pub dir: MigrationDir,
    /// The database, when one is configured.
    pub database: Option<DbUrl>,
    /// Runtime options from the global settings (table names, schema, timeouts).
    pub options: Options,
    /// Every global setting and where it came from.
    pub layers: crate::layers::Layers,
    /// What to do.
    pub action: crate::action::Action,
}

impl Settings {
    /// Validates the parsed command line.
    pub fn from_args(cli: Cli) -> anyhow::Result<Settings> {
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        let Cli { global, command } = cli;
        check_flags(&global)?;
        let layers = crate::layers::resolve(&cwd, &global)?;
        if layers.dir.value.trim().is_empty() {
            return Err(Fail::usage(
                "the migration directory is empty",
                "pass --dir DIR or set KILN_DIR to a directory",
            ));
        }
        let dir = layers.migration_dir(&cwd);
        let database = layers.database_url.clone().map(|l| {
            out::protect_url(&l.value);
            DbUrl {
                url: l.value,
                source: l.origin,
            }
        });
        let options = layers.options();
        // Names the engine cannot hold (a `_state` table over PostgreSQL's 63 bytes) are a usage
        // error before anything connects.
        if let Err(e) = options.validate(database.as_ref().and_then(DbUrl::dialect)) {
            return Err(Fail::usage(
                match e {
                    kiln_runtime::Error::Config(reason) => reason,
                    other => other.to_string(),
                },
                "pick shorter names with --version-table, --audit-table and --schema, or in kiln.toml (which your binary's `Options::from_kiln_toml` reads too)",
            ));
        }
        let action =
            crate::action::Action::from_command(command, &cwd, &dir, database.as_ref(), &options)?;
        Ok(Settings {
            cwd,
            dir,
            database,
            options,
            layers,
            action,
        })
    }

    /// The configured database, or a usage error saying how to configure one.
    pub fn require_database(&self, why: &str) -> anyhow::Result<&DbUrl> {
        self.database.as_ref().ok_or_else(|| {
            Fail::usage(
                format!("{why} needs a database, and none is configured"),
                format!(
                    "pass --database-url URL, set {var}, put {var}=... in ./.env, or name the variable in kiln.toml (`database_url_env = \"{var}\"`)",
                    var = self.layers.database_url_env.value
                ),
            )
        })
    }

    /// Describes where the database URL came from, for verbose output.
    pub fn database_source(&self) -> Option<String> {
        self.database.as_ref().map(|d| d.source.describe())
    }
}

/// The entries of `./.env` that kiln reads.
#[derive(Debug, Default)]
pub struct DotEnv {
    entries: Vec<(String, String)>,
}

impl DotEnv {
    /// The entries of `cwd/.env` named in `wanted`.
    pub fn read(cwd: &std::path::Path, wanted: &[&str]) -> anyhow::Result<DotEnv> {
        let path = cwd.join(".env");
        let iter = match dotenvy::from_path_iter(&path) {
            Ok(it) => it,
            Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DotEnv::default());
            }
            Err(e) => return Err(dotenv_error(&e)),
        };
        let mut entries = Vec::new();
        for item in iter {
            match item {
                Ok((k, v)) if wanted.contains(&k.as_str()) => entries.push((k, v)),
                Ok(_) => {}
                Err(e) => return Err(dotenv_error(&e)),
            }
        }
        Ok(DotEnv { entries })
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A `.env` problem, without echoing the offending line (it may hold a password).
fn dotenv_error(e: &dotenvy::Error) -> anyhow::Error {
    let what = match e {
        dotenvy::Error::LineParse(_, index) => {
            format!("./.env cannot be parsed (near character {index} of an entry)")
        }
        dotenvy::Error::Io(io) => format!("cannot read ./.env: {io}"),
        _ => "./.env cannot be read".to_owned(),
    };
    Fail::usage(
        what,
        "fix ./.env (lines are KEY=value), or pass --database-url and --dir explicitly",
    )
}

/// Empty name flags are usage errors (an empty variable is treated as unset instead).
fn check_flags(g: &GlobalArgs) -> anyhow::Result<()> {
    let check = |flag: &str, v: &str| -> anyhow::Result<()> {
        if v.trim().is_empty() {
            return Err(Fail::usage(
                format!("--{flag} is empty"),
                format!("give --{flag} a name, or leave it out for the default"),
            ));
        }
        Ok(())
    };
    for (flag, v) in [
        ("version-table", &g.version_table),
        ("audit-table", &g.audit_table),
        ("schema", &g.schema),
    ] {
        if let Some(v) = v {
            check(flag, v)?;
        }
    }
    Ok(())
}

/// Global options plus the flags of a command that changes the database.
pub fn run_options(mut o: Options, run: &RunArgs, tx: Option<TransactionArg>) -> Options {
    o = o.allow_unknown_applied(run.allow_unknown);
    if run.no_lock {
        o = o.lock(false);
    }
    if let Some(secs) = run.lock_timeout {
        o = o.lock_timeout(Duration::from_secs(secs));
    }
    if let Some(mode) = run.lock_mode {
        o = o.lock_mode(match mode {
            LockModeArg::Auto => LockMode::Auto,
            LockModeArg::Session => LockMode::Session,
            LockModeArg::Transaction => LockMode::Transaction,
            LockModeArg::Table => LockMode::Table,
        });
    }
    if let Some(v) = &run.app_version {
        o = o.app_version(v.clone());
    }
    if let Some(d) = run.ddl_lock_timeout {
        o = o.ddl_lock_timeout((!d.is_zero()).then_some(d));
    }
    if let Some(d) = run.ddl_statement_timeout {
        o = o.ddl_statement_timeout((!d.is_zero()).then_some(d));
    }
    if let Some(n) = run.ddl_retries {
        o = o.ddl_retries(n);
    }
    if let Some(tx) = tx {
        o = o.transaction_mode(match tx {
            TransactionArg::PerRevision => TransactionMode::PerRevision,
            TransactionArg::All => TransactionMode::All,
        });
    }
    o
}
