//! From parsed arguments to typed settings: configuration order, the database URL, runtime
//! options, and per-command values checked before anything touches the disk or the network.
//!
//! Configuration order (documented in `docs/cli.md`):
//! - database URL: `--database-url`, else `DATABASE_URL`, else `DATABASE_URL` in `./.env`;
//! - migration directory: `--dir`, else `KILN_DIR`, else `KILN_DIR` in `./.env`, else `migrations`.
//!
//! `.env` is read without changing the process environment, and only from the working directory.

use crate::args::{Cli, GlobalArgs, RunArgs, TransactionArg};
use crate::error::Fail;
use crate::out;
use anyhow::Context as _;
use kiln_core::{Dialect, MigrationDir};
use kiln_runtime::{Options, TransactionMode};
use std::path::PathBuf;
use std::time::Duration;

/// Where a setting came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    DotEnv,
    Default,
}

impl Source {
    fn describe(self, flag: &str, var: &str) -> String {
        match self {
            Source::Flag => format!("--{flag}"),
            Source::Env => format!("the {var} environment variable"),
            Source::DotEnv => format!("{var} in ./.env"),
            Source::Default => "the default".to_owned(),
        }
    }
}

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
    /// Runtime options from the global flags (table names, schema).
    pub options: Options,
    /// What to do.
    pub action: crate::action::Action,
}

impl Settings {
    /// Validates the parsed command line.
    pub fn from_args(cli: Cli) -> anyhow::Result<Settings> {
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        let dotenv = DotEnv::read(&cwd)?;
        let Cli { global, command } = cli;
        let (dir_text, _) = pick(global.dir.clone(), "KILN_DIR", &dotenv)
            .unwrap_or_else(|| ("migrations".to_owned(), Source::Default));
        if dir_text.trim().is_empty() {
            return Err(Fail::usage(
                "the migration directory is empty",
                "pass --dir DIR or set KILN_DIR to a directory",
            ));
        }
        let dir = kiln_core::resolve_dir(&cwd, Some(&dir_text));
        let database = pick(global.database_url.clone(), "DATABASE_URL", &dotenv)
            .filter(|(u, _)| !u.trim().is_empty())
            .map(|(url, source)| {
                out::protect_url(&url);
                DbUrl { url, source }
            });
        let options = global_options(&global)?;
        // Names the engine cannot hold (a `_state` table over PostgreSQL's 63 bytes) are a usage
        // error before anything connects.
        if let Err(e) = options.validate(database.as_ref().and_then(DbUrl::dialect)) {
            return Err(Fail::usage(
                match e {
                    kiln_runtime::Error::Config(reason) => reason,
                    other => other.to_string(),
                },
                "pick shorter names with --version-table, --audit-table and --schema (the same ones as your binary's `Options`)",
            ));
        }
        let action =
            crate::action::Action::from_command(command, &cwd, &dir, database.as_ref(), &options)?;
        Ok(Settings {
            cwd,
            dir,
            database,
            options,
            action,
        })
    }

    /// The configured database, or a usage error saying how to configure one.
    pub fn require_database(&self, why: &str) -> anyhow::Result<&DbUrl> {
        self.database.as_ref().ok_or_else(|| {
            Fail::usage(
                format!("{why} needs a database, and none is configured"),
                "pass --database-url URL, set DATABASE_URL, or put DATABASE_URL=... in ./.env",
            )
        })
    }

    /// Describes where the database URL came from, for verbose output.
    pub fn database_source(&self) -> Option<String> {
        self.database
            .as_ref()
            .map(|d| d.source.describe("database-url", "DATABASE_URL"))
    }
}

/// The first of: the flag, the environment variable, the `.env` entry.
fn pick(flag: Option<String>, var: &str, dotenv: &DotEnv) -> Option<(String, Source)> {
    if let Some(v) = flag {
        return Some((v, Source::Flag));
    }
    if let Some(v) = std::env::var_os(var) {
        return Some((v.to_string_lossy().into_owned(), Source::Env));
    }
    dotenv.get(var).map(|v| (v.to_owned(), Source::DotEnv))
}

/// The entries of `./.env` that kiln reads.
#[derive(Debug, Default)]
struct DotEnv {
    entries: Vec<(String, String)>,
}

impl DotEnv {
    fn read(cwd: &std::path::Path) -> anyhow::Result<DotEnv> {
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
                Ok((k, v)) if k == "DATABASE_URL" || k == "KILN_DIR" => entries.push((k, v)),
                Ok(_) => {}
                Err(e) => return Err(dotenv_error(&e)),
            }
        }
        Ok(DotEnv { entries })
    }

    fn get(&self, key: &str) -> Option<&str> {
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

fn global_options(g: &GlobalArgs) -> anyhow::Result<Options> {
    let mut o = Options::default();
    let check = |flag: &str, v: &str| -> anyhow::Result<()> {
        if v.trim().is_empty() {
            return Err(Fail::usage(
                format!("--{flag} is empty"),
                format!("give --{flag} a name, or leave it out for the default"),
            ));
        }
        Ok(())
    };
    if let Some(t) = &g.version_table {
        check("version-table", t)?;
        o = o.version_table(t.clone());
    }
    if let Some(t) = &g.audit_table {
        check("audit-table", t)?;
        o = o.audit_table(t.clone());
    }
    if let Some(s) = &g.schema {
        check("schema", s)?;
        o = o.schema(s.clone());
    }
    if let Some(secs) = g.io_timeout {
        o = o.io_timeout((secs > 0).then(|| Duration::from_secs(secs)));
    }
    Ok(o)
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
    if let Some(v) = &run.app_version {
        o = o.app_version(v.clone());
    }
    if let Some(tx) = tx {
        o = o.transaction_mode(match tx {
            TransactionArg::PerRevision => TransactionMode::PerRevision,
            TransactionArg::All => TransactionMode::All,
        });
    }
    o
}
