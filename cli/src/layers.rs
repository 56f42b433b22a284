//! Where each global setting comes from: the first of its flag, its `KILN_*` variable in the
//! process environment, the same variable in `./.env`, the nearest `kiln.toml` (found by walking
//! up from the working directory; the keys are kiln-core's `config::KEYS`), and the default.
//! Every value remembers its origin, for `kiln config` and `current -v`.
//!
//! `kiln lint`'s settings live here too: `[lint]`'s rule lists (kiln.toml only; their ids are
//! checked against kiln-lint's table when the file is read, so every command refuses a
//! misspelt rule) and the PostgreSQL version (`--postgres-version` → `KILN_POSTGRES_VERSION` →
//! `[lint] postgres_version` → 16; the flag belongs to `kiln lint` and is applied by it).
//!
//! The database URL is the exception in naming only: its variable is `DATABASE_URL`, or the one
//! kiln.toml's `database_url_env` names, so that a committed file never needs the password.

use crate::args::GlobalArgs;
use crate::error::{Code, Fail};
use kiln_core::config::{CONFIG_FILE, Config, LintConfig, LockMode, Transaction};
use kiln_core::diag::Diagnostics;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag, e.g. `--schema`.
    Flag(&'static str),
    /// The process environment.
    Env(String),
    /// `./.env`.
    DotEnv(String),
    /// kiln.toml (as shown) and the key's line.
    File(String, usize),
    /// kiln's default.
    Default,
}

impl Origin {
    /// `flag --schema`, `env KILN_SCHEMA`, `.env KILN_SCHEMA`, `kiln.toml:3`, `default`.
    pub fn describe(&self) -> String {
        match self {
            Origin::Flag(f) => format!("flag {f}"),
            Origin::Env(v) => format!("env {v}"),
            Origin::DotEnv(v) => format!(".env {v}"),
            Origin::File(path, line) => format!("{path}:{line}"),
            Origin::Default => "default".to_owned(),
        }
    }

    /// The origin as JSON: its kind plus the flag, variable, or file and line.
    pub fn json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Origin::Flag(f) => json!({"source": "flag", "flag": f}),
            Origin::Env(v) => json!({"source": "env", "variable": v}),
            Origin::DotEnv(v) => json!({"source": "dotenv", "variable": v}),
            Origin::File(p, l) => json!({"source": "kiln.toml", "file": p, "line": l}),
            Origin::Default => json!({"source": "default"}),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Layered<T> {
    pub value: T,
    pub origin: Origin,
}

/// Every global setting, resolved.
#[derive(Debug, Clone)]
pub struct Layers {
    /// The kiln.toml that applies, as shown, if any.
    pub file: Option<String>,
    pub dir: Layered<String>,
    /// The migration directory's path: `dir` from the working directory, or from kiln.toml's
    /// directory when kiln.toml set it.
    pub dir_path: PathBuf,
    /// The variable holding the database URL.
    pub database_url_env: Layered<String>,
    pub database_url: Option<Layered<String>>,
    pub schema: Option<Layered<String>>,
    pub version_table: Layered<String>,
    pub audit_table: Layered<String>,
    pub transaction: Layered<Transaction>,
    pub lock_timeout: Layered<u64>,
    pub lock_mode: Layered<LockMode>,
    pub io_timeout: Layered<u64>,
    pub app_version: Option<Layered<String>>,
    /// The DDL guardrails; zero is "no limit". Their flags are run flags, applied after these.
    pub ddl_lock_timeout: Layered<Duration>,
    pub ddl_statement_timeout: Layered<Duration>,
    pub ddl_retries: Layered<u32>,
    /// kiln.toml's `[lint]` table (rule ids already checked).
    pub lint: LintConfig,
    /// The PostgreSQL version `kiln lint` assumes, before its `--postgres-version` flag.
    pub postgres_version: Layered<u32>,
}

/// The variables kiln reads, besides the one holding the database URL.
pub const VARIABLES: &[&str] = &[
    "KILN_DIR",
    "KILN_SCHEMA",
    "KILN_VERSION_TABLE",
    "KILN_AUDIT_TABLE",
    "KILN_TRANSACTION",
    "KILN_LOCK_TIMEOUT",
    "KILN_LOCK_MODE",
    "KILN_IO_TIMEOUT",
    "KILN_APP_VERSION",
    "KILN_DDL_LOCK_TIMEOUT",
    "KILN_DDL_STATEMENT_TIMEOUT",
    "KILN_DDL_RETRIES",
    "KILN_POSTGRES_VERSION",
];

/// Resolves every global setting for a run in `cwd`.
pub fn resolve(cwd: &Path, g: &GlobalArgs) -> anyhow::Result<Layers> {
    let found = kiln_core::config::find(cwd);
    let (config, file, file_dir) = match &found {
        Some(path) => {
            let shown = shown_path(cwd, path);
            let config = Config::read_with_rules(path, &shown, &kiln_lint::rule_ids())
                .map_err(|d| bad_file(&shown, d))?;
            (config, Some(shown), path.parent().map(Path::to_path_buf))
        }
        None => (Config::default(), None, None),
    };
    let file_name = file.clone().unwrap_or_else(|| CONFIG_FILE.to_owned());
    let at = |line: usize| Origin::File(file_name.clone(), line);
    let text = |v: &Option<(String, usize)>| v.as_ref().map(|(s, l)| (s.clone(), at(*l)));

    let database_url_env = match text(&config.database_url_env) {
        Some((value, origin)) => Layered { value, origin },
        None => Layered {
            value: "DATABASE_URL".to_owned(),
            origin: Origin::Default,
        },
    };
    let mut wanted: Vec<&str> = VARIABLES.to_vec();
    wanted.push(&database_url_env.value);
    let dotenv = crate::settings::DotEnv::read(cwd, &wanted)?;
    let env = |var: &str| -> Option<(String, Origin)> {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return Some((
                v.to_string_lossy().into_owned(),
                Origin::Env(var.to_owned()),
            ));
        }
        dotenv
            .get(var)
            .filter(|v| !v.is_empty())
            .map(|v| (v.to_owned(), Origin::DotEnv(var.to_owned())))
    };
    let pick =
        |flag: (&'static str, &Option<String>), var: &str, file: Option<(String, Origin)>| {
            flag.1
                .clone()
                .map(|v| (v, Origin::Flag(flag.0)))
                .or_else(|| env(var))
                .or(file)
                .map(|(value, origin)| Layered { value, origin })
        };
    let or_default = |l: Option<Layered<String>>, d: &str| {
        l.unwrap_or_else(|| Layered {
            value: d.to_owned(),
            origin: Origin::Default,
        })
    };

    let dir = or_default(
        pick(("--dir", &g.dir), "KILN_DIR", text(&config.dir)),
        "migrations",
    );
    let dir_path = match (&dir.origin, &file_dir) {
        (Origin::File(..), Some(base)) => base.join(&dir.value),
        _ => cwd.join(&dir.value),
    };
    let database_url = pick(
        ("--database-url", &g.database_url),
        &database_url_env.value,
        text(&config.database_url),
    )
    .filter(|l| !l.value.trim().is_empty());
    let schema = pick(("--schema", &g.schema), "KILN_SCHEMA", text(&config.schema));
    let version_table = or_default(
        pick(
            ("--version-table", &g.version_table),
            "KILN_VERSION_TABLE",
            text(&config.version_table),
        ),
        "kiln_version",
    );
    let audit_table = or_default(
        pick(
            ("--audit-table", &g.audit_table),
            "KILN_AUDIT_TABLE",
            text(&config.audit_table),
        ),
        "kiln_audit",
    );
    let app_version = pick(
        ("--app-version", &None),
        "KILN_APP_VERSION",
        text(&config.app_version),
    );
    let transaction = match env("KILN_TRANSACTION") {
        Some((v, origin)) => Layered {
            value: Transaction::from_name(v.trim())
                .ok_or_else(|| bad_var(&origin, &v, "`per-revision` or `all`"))?,
            origin,
        },
        None => match config.transaction {
            Some((t, l)) => Layered {
                value: t,
                origin: at(l),
            },
            None => Layered {
                value: Transaction::PerRevision,
                origin: Origin::Default,
            },
        },
    };
    let lock_mode = match env("KILN_LOCK_MODE") {
        Some((v, origin)) => Layered {
            value: LockMode::from_name(v.trim()).ok_or_else(|| {
                bad_var(&origin, &v, "`auto`, `session`, `transaction` or `table`")
            })?,
            origin,
        },
        None => match config.lock_mode {
            Some((m, l)) => Layered {
                value: m,
                origin: at(l),
            },
            None => Layered {
                value: LockMode::Auto,
                origin: Origin::Default,
            },
        },
    };
    let seconds = |flag: (&'static str, Option<u64>),
                   var: &str,
                   file: Option<(u64, usize)>,
                   default: u64|
     -> anyhow::Result<Layered<u64>> {
        if let Some(v) = flag.1 {
            return Ok(Layered {
                value: v,
                origin: Origin::Flag(flag.0),
            });
        }
        if let Some((v, origin)) = env(var) {
            let value = v
                .trim()
                .parse()
                .map_err(|_| bad_var(&origin, &v, "a whole number of seconds, e.g. 60"))?;
            return Ok(Layered { value, origin });
        }
        Ok(match file {
            Some((value, l)) => Layered {
                value,
                origin: at(l),
            },
            None => Layered {
                value: default,
                origin: Origin::Default,
            },
        })
    };
    let lock_timeout = seconds(
        ("--lock-timeout", None),
        "KILN_LOCK_TIMEOUT",
        config.lock_timeout,
        60,
    )?;
    let io_timeout = seconds(
        ("--io-timeout", g.io_timeout),
        "KILN_IO_TIMEOUT",
        config.io_timeout,
        30,
    )?;
    // The guardrails' flags are run flags (`settings::run_options`), so here: env, file, default.
    let typed = |var: &str,
                 file: Option<(String, usize)>,
                 parse: &dyn Fn(&str) -> Result<String, String>,
                 default: &str|
     -> anyhow::Result<Layered<String>> {
        if let Some((v, origin)) = env(var) {
            let value = parse(v.trim()).map_err(|why| bad_var(&origin, &v, &why))?;
            return Ok(Layered { value, origin });
        }
        Ok(match file {
            Some((value, l)) => Layered {
                value,
                origin: at(l),
            },
            None => Layered {
                value: default.to_owned(),
                origin: Origin::Default,
            },
        })
    };
    let timeout =
        |var: &str, file: Option<(Duration, usize)>| -> anyhow::Result<Layered<Duration>> {
            let parse = |s: &str| {
                kiln_core::time::parse_timeout(s)
                    .map(|d| d.as_millis().to_string())
                    .map_err(|why| format!("a duration such as `5s` or `200ms` ({why})"))
            };
            let file = file.map(|(d, l)| (d.as_millis().to_string(), l));
            let l = typed(var, file, &parse, "0")?;
            Ok(Layered {
                value: Duration::from_millis(l.value.parse().unwrap_or(0)),
                origin: l.origin,
            })
        };
    let ddl_lock_timeout = timeout("KILN_DDL_LOCK_TIMEOUT", config.ddl_lock_timeout)?;
    let ddl_statement_timeout =
        timeout("KILN_DDL_STATEMENT_TIMEOUT", config.ddl_statement_timeout)?;
    let retries = |s: &str| match s.parse::<u32>() {
        Ok(n) if n <= kiln_core::config::MAX_RETRIES => Ok(n.to_string()),
        _ => Err(format!(
            "a whole number from 0 to {}",
            kiln_core::config::MAX_RETRIES
        )),
    };
    let file_retries = config.ddl_retries.map(|(n, l)| (n.to_string(), l));
    let l = typed("KILN_DDL_RETRIES", file_retries, &retries, "0")?;
    let ddl_retries = Layered {
        value: l.value.parse().unwrap_or(0),
        origin: l.origin,
    };
    let postgres_version = match env("KILN_POSTGRES_VERSION") {
        Some((v, origin)) => Layered {
            value: v
                .trim()
                .parse()
                .ok()
                .filter(|n| *n >= 9)
                .ok_or_else(|| bad_var(&origin, &v, "a PostgreSQL major version, e.g. 16"))?,
            origin,
        },
        None => match config.lint.postgres_version {
            Some((value, l)) => Layered {
                value,
                origin: at(l),
            },
            None => Layered {
                value: kiln_lint::DEFAULT_POSTGRES_VERSION,
                origin: Origin::Default,
            },
        },
    };
    if let Some(l) = &database_url {
        warn_password_in_file(l, &database_url_env.value);
    }
    Ok(Layers {
        file,
        dir,
        dir_path,
        database_url_env,
        database_url,
        schema,
        version_table,
        audit_table,
        transaction,
        lock_timeout,
        lock_mode,
        io_timeout,
        app_version,
        ddl_lock_timeout,
        ddl_statement_timeout,
        ddl_retries,
        lint: config.lint,
        postgres_version,
    })
}

impl Layers {
    /// The migration directory, named in messages as given (relative to the working directory),
    /// or by its full path when it came from a kiln.toml in a parent directory.
    pub fn migration_dir(&self, cwd: &Path) -> kiln_core::MigrationDir {
        let mut dir = kiln_core::resolve_dir(cwd, Some(&self.dir.value));
        if self.dir_path != dir.path {
            dir = kiln_core::resolve_dir(cwd, Some(&self.dir_path.to_string_lossy()));
        }
        dir
    }

    /// The runtime options these settings describe (the run flags may still change them).
    pub fn options(&self) -> kiln_runtime::Options {
        let mut o = kiln_runtime::Options::default()
            .version_table(self.version_table.value.clone())
            .audit_table(self.audit_table.value.clone())
            .transaction_mode(match self.transaction.value {
                Transaction::All => kiln_runtime::TransactionMode::All,
                _ => kiln_runtime::TransactionMode::PerRevision,
            })
            .lock_timeout(std::time::Duration::from_secs(self.lock_timeout.value))
            .lock_mode(self.lock_mode.value)
            .io_timeout(
                (self.io_timeout.value > 0)
                    .then(|| std::time::Duration::from_secs(self.io_timeout.value)),
            );
        if let Some(s) = &self.schema {
            o = o.schema(s.value.clone());
        }
        if let Some(v) = &self.app_version {
            o = o.app_version(v.value.clone());
        }
        let limit = |l: &Layered<Duration>| (!l.value.is_zero()).then_some(l.value);
        o.ddl_lock_timeout(limit(&self.ddl_lock_timeout))
            .ddl_statement_timeout(limit(&self.ddl_statement_timeout))
            .ddl_retries(self.ddl_retries.value)
    }
}

/// `kiln.toml` when it is in the working directory, else its full path.
fn shown_path(cwd: &Path, path: &Path) -> String {
    match path.parent() {
        Some(p) if p == cwd => CONFIG_FILE.to_owned(),
        _ => path.display().to_string(),
    }
}

/// kiln.toml's problems, each with its line and fix (exit 3, as for the migration directory).
fn bad_file(shown: &str, problems: Vec<kiln_core::diag::Diagnostic>) -> anyhow::Error {
    let diags = Diagnostics(problems);
    let n = diags.len();
    anyhow::Error::new(Fail {
        code: Code::Invalid,
        message: format!(
            "`{shown}` has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        ),
        detail: Some(diags.to_string()),
        help: Some(format!(
            "fix `{shown}` (keys and types are listed in docs/cli.md, Configuration), then run `kiln config`"
        )),
    })
}

/// A variable whose value is not of its type; the value is shown, since these are not secrets.
fn bad_var(origin: &Origin, value: &str, expected: &str) -> anyhow::Error {
    let (var, place) = match origin {
        Origin::DotEnv(v) => (v.as_str(), " in ./.env"),
        Origin::Env(v) => (v.as_str(), ""),
        _ => ("the setting", ""),
    };
    Fail::usage(
        format!("{var}{place} is `{value}`, which is not {expected}"),
        format!("set {var} to {expected}, or unset it for kiln.toml's value or the default"),
    )
}

/// kiln.toml is usually committed; a password in it is a leak waiting to happen.
fn warn_password_in_file(url: &Layered<String>, var: &str) {
    if let Origin::File(path, line) = &url.origin
        && kiln_runtime::redact_url(&url.value) != url.value
    {
        crate::out::note(format!(
            "warning: {path}:{line} holds a database password; kiln.toml is usually committed, so put the URL in {var} (the environment or ./.env) and remove `database_url` from the file"
        ));
    }
}
