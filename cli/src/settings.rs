//! From parsed arguments to typed settings: configuration order, the database URL, runtime
//! options, and per-command values checked before anything touches the disk or the network.
//!
//! Configuration order (documented in `docs/cli.md`):
//! - database URL: `--database-url`, else `DATABASE_URL`, else `DATABASE_URL` in `./.env`;
//! - migration directory: `--dir`, else `KILN_DIR`, else `KILN_DIR` in `./.env`, else `migrations`.
//!
//! `.env` is read without changing the process environment, and only from the working directory.

use crate::args::{self, Cli, Command, DialectArg, GlobalArgs, RunArgs, TransactionArg};
use crate::error::Fail;
use crate::{out, range, time};
use anyhow::Context as _;
use kiln_core::{Dialect, MigrationDir, Target};
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
    pub action: Action,
}

/// A command with its arguments checked.
#[derive(Debug)]
pub enum Action {
    Init {
        dir: MigrationDir,
        write_build_rs: bool,
    },
    Revision(args::RevisionArgs),
    Merge(args::MergeArgs),
    Move(MoveSettings),
    Current(args::CurrentArgs),
    History(HistorySettings),
    Heads(args::ListArgs),
    Branches(args::ListArgs),
    Show(args::ShowArgs),
    Stamp(StampSettings),
    Check(args::CheckArgs),
    Lock(args::LockArgs),
    Graph(args::GraphFormat),
    Audit(AuditSettings),
    Lint(crate::cmd::lint::LintArgs),
}

/// Which way `upgrade`/`downgrade` go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn verb(self) -> &'static str {
        match self {
            Direction::Up => "upgrade",
            Direction::Down => "downgrade",
        }
    }
}

/// `upgrade` and `downgrade`.
#[derive(Debug)]
pub struct MoveSettings {
    pub direction: Direction,
    pub mode: MoveMode,
    /// Options for this run (global ones plus the run flags).
    pub options: Options,
}

#[derive(Debug)]
pub enum MoveMode {
    /// Run against the database (or only list with `dry_run`).
    Run {
        target: String,
        dry_run: bool,
        json: bool,
    },
    /// Print the SQL of `from` → `to`.
    Sql {
        dialect: Dialect,
        from: Option<String>,
        to: String,
    },
}

/// `history`.
#[derive(Debug)]
pub struct HistorySettings {
    pub range: range::Range,
    pub verbose: bool,
    pub indicate_current: bool,
    pub graph: bool,
    pub json: bool,
}

/// `stamp`.
#[derive(Debug)]
pub struct StampSettings {
    pub revisions: Vec<String>,
    pub purge: bool,
    pub options: Options,
}

/// `audit`.
#[derive(Debug)]
pub struct AuditSettings {
    pub revision: Option<String>,
    /// Inclusive lower bound, canonical UTC text.
    pub since: Option<String>,
    /// Exclusive upper bound, canonical UTC text.
    pub until: Option<String>,
    pub action: Option<&'static str>,
    pub failed: bool,
    pub limit: Option<usize>,
    pub json: bool,
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
        let action = match command {
            Command::Init(a) => Action::Init {
                dir: match &a.path {
                    Some(p) => kiln_core::resolve_dir(&cwd, Some(p)),
                    None => dir.clone(),
                },
                write_build_rs: a.write_build_rs,
            },
            Command::Revision(a) => Action::Revision(a),
            Command::Merge(a) => Action::Merge(a),
            Command::Upgrade(a) => Action::Move(move_settings(
                Direction::Up,
                a,
                &options,
                database.as_ref(),
            )?),
            Command::Downgrade(a) => Action::Move(move_settings(
                Direction::Down,
                a,
                &options,
                database.as_ref(),
            )?),
            Command::Current(a) => Action::Current(a),
            Command::History(a) => Action::History(HistorySettings {
                range: range::Range::parse(a.range.as_deref().unwrap_or(":"))?,
                verbose: a.verbose,
                indicate_current: a.indicate_current,
                graph: !a.no_graph && (a.graph || out::stdout_is_terminal()),
                json: a.json,
            }),
            Command::Heads(a) => Action::Heads(a),
            Command::Branches(a) => Action::Branches(a),
            Command::Show(a) => Action::Show(a),
            Command::Stamp(a) => {
                if a.revisions.is_empty() && !a.purge {
                    return Err(Fail::usage(
                        "stamp needs at least one revision",
                        "name the state to record, e.g. `kiln stamp heads`, `kiln stamp a1b2c3`, or `kiln stamp --purge` to forget every row",
                    ));
                }
                for r in &a.revisions {
                    Target::parse(r)?;
                }
                Action::Stamp(StampSettings {
                    revisions: a.revisions,
                    purge: a.purge,
                    options: run_options(options.clone(), &a.run, None),
                })
            }
            Command::Check(a) => Action::Check(a),
            Command::Lock(a) => Action::Lock(a),
            Command::Graph(a) => Action::Graph(a.format),
            Command::Lint(a) => Action::Lint(a),
            Command::Audit(a) => {
                let now = time::now_unix_micros();
                let parse = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<String>> {
                    v.as_deref()
                        .map(|s| {
                            time::parse_user_time(s, now).map_err(|reason| {
                                Fail::usage(
                                    format!("--{flag} `{s}` is not a time: {reason}"),
                                    "write an RFC 3339 time (2026-11-23T21:00:00Z), a date (2026-11-23) or an age (30m, 12h, 7d, 2w)",
                                )
                            })
                        })
                        .transpose()
                };
                Action::Audit(AuditSettings {
                    since: parse("since", &a.since)?,
                    until: parse("until", &a.until)?,
                    revision: a.revision,
                    action: a.action.map(|x| match x {
                        args::ActionArg::Upgrade => "upgrade",
                        args::ActionArg::Downgrade => "downgrade",
                        args::ActionArg::Stamp => "stamp",
                    }),
                    failed: a.failed,
                    limit: a.limit,
                    json: a.json,
                })
            }
        };
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

fn move_settings(
    direction: Direction,
    a: args::MoveArgs,
    global: &Options,
    database: Option<&DbUrl>,
) -> anyhow::Result<MoveSettings> {
    let options = run_options(global.clone(), &a.run, a.transaction);
    let mode = if a.sql {
        let dialect = match a.dialect {
            Some(DialectArg::Sqlite) => Dialect::Sqlite,
            Some(DialectArg::Postgres) => Dialect::Postgres,
            Some(DialectArg::Mysql) => Dialect::MySql,
            None => match database {
                Some(db) => db.dialect().ok_or_else(|| {
                    Fail::usage(
                        format!(
                            "cannot tell the SQL dialect from the database URL `{}`",
                            db.shown()
                        ),
                        "pass --dialect sqlite|postgres|mysql",
                    )
                })?,
                None => {
                    return Err(Fail::usage(
                        "--sql needs to know the SQL dialect",
                        "pass --dialect sqlite|postgres|mysql, or configure a database URL (it is not connected to)",
                    ));
                }
            },
        };
        let (from, to) = match a.target.split_once(':') {
            Some((f, t)) => {
                let f = f.trim();
                let t = t.trim();
                if t.is_empty() {
                    return Err(Fail::usage(
                        format!("`{}` has no end revision after `:`", a.target),
                        format!("write FROM:TO, e.g. `base:head` or `a1b2:{}`", "heads"),
                    ));
                }
                ((!f.is_empty()).then(|| f.to_owned()), t.to_owned())
            }
            None => (None, a.target.trim().to_owned()),
        };
        if let Some(f) = &from {
            Target::parse(f)?;
        }
        Target::parse(&to)?;
        MoveMode::Sql { dialect, from, to }
    } else {
        if a.target.contains(':') {
            return Err(Fail::usage(
                format!("`{}` is a range; ranges only work with --sql", a.target),
                format!(
                    "run `kiln {} {} --sql`, or name a single target",
                    direction.verb(),
                    a.target
                ),
            ));
        }
        Target::parse(&a.target)?;
        MoveMode::Run {
            target: a.target.trim().to_owned(),
            dry_run: a.dry_run,
            json: a.json,
        }
    };
    Ok(MoveSettings {
        direction,
        mode,
        options,
    })
}
