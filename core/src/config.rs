//! `kiln.toml`: the one owner of kiln's project configuration file.
//!
//! The file is found by walking up from the base directory that [`crate::resolve_dir`] gets (the
//! crate's manifest directory for the macro, the working directory for the CLI), so a workspace
//! can keep one `kiln.toml` at its root. Every key kiln reads from it is listed in [`KEYS`]; this
//! module is the only code that reads the file, so adding a setting means adding one row there
//! and one field to [`Config`].
//!
//! ```toml
//! dialect = "postgres"              # postgres | mysql | sqlite; how kiln reads the SQL files
//! dir = "migrations"                # relative to this file's directory (the CLI's default)
//! database_url_env = "DATABASE_URL" # the variable holding the URL (never a password here)
//! schema = "ops"                    # where kiln's tables live; the CLI and `Options` agree
//! version_table = "kiln_version"
//! audit_table = "kiln_audit"
//! transaction = "per-revision"      # per-revision | all
//! lock_timeout = 60                 # seconds
//! lock_mode = "auto"                # auto | session | transaction | table
//! io_timeout = 30                   # seconds; 0 waits forever
//! app_version = "1.4.2"
//!
//! [postgres]
//! standard_conforming_strings = true  # false: `\` escapes in every '...' literal
//!
//! [mysql]
//! backslash_escapes = true            # false: the server runs with NO_BACKSLASH_ESCAPES
//! ```
//!
//! Problems (a TOML syntax error, an unknown key, a value of the wrong type) are
//! [`Diagnostic`]s with the file and line, like every other problem kiln reports.

use crate::diag::{Diagnostic, Problem, closest};
use crate::lex::{Dialect, Readings, Syntax};
use std::path::{Path, PathBuf};

/// The configuration file's name.
pub const CONFIG_FILE: &str = "kiln.toml";

/// What `kiln.toml` says; every field is `None` when the file does not set it. Settings the CLI
/// and the runtime share carry their line, so `kiln config` can say where each came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// `dialect`, with its line.
    pub dialect: Option<(Dialect, usize)>,
    /// `[postgres] standard_conforming_strings`.
    pub standard_conforming_strings: Option<bool>,
    /// `[mysql] backslash_escapes`.
    pub backslash_escapes: Option<bool>,
    /// `dir`: the migration directory, relative to the directory holding kiln.toml. Read by the
    /// CLI; the `migrations!` macro names its directory in its own argument.
    pub dir: Option<(String, usize)>,
    /// `database_url`: the URL itself. Prefer [`Config::database_url_env`]: this file is
    /// usually committed, and a URL here should carry no password.
    pub database_url: Option<(String, usize)>,
    /// `database_url_env`: the name of the environment variable holding the URL (default
    /// `DATABASE_URL`).
    pub database_url_env: Option<(String, usize)>,
    /// `schema`: schema (PostgreSQL) or database (MySQL) of kiln's tables.
    pub schema: Option<(String, usize)>,
    /// `version_table`.
    pub version_table: Option<(String, usize)>,
    /// `audit_table`.
    pub audit_table: Option<(String, usize)>,
    /// `transaction`: `per-revision` or `all`.
    pub transaction: Option<(Transaction, usize)>,
    /// `lock_timeout`, in seconds.
    pub lock_timeout: Option<(u64, usize)>,
    /// `lock_mode`: which lock keeps concurrent runners apart.
    pub lock_mode: Option<(LockMode, usize)>,
    /// `io_timeout`, in seconds; 0 waits forever.
    pub io_timeout: Option<(u64, usize)>,
    /// `app_version`: recorded in the audit trail.
    pub app_version: Option<(String, usize)>,
}

/// `transaction` in kiln.toml (the runtime's `TransactionMode`, which core cannot name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transaction {
    /// `per-revision`: one transaction per revision.
    PerRevision,
    /// `all`: one transaction for the whole run.
    All,
}

impl Transaction {
    /// The spelling kiln.toml, `KILN_TRANSACTION` and `--transaction` use.
    pub fn name(self) -> &'static str {
        match self {
            Transaction::PerRevision => "per-revision",
            Transaction::All => "all",
        }
    }

    /// The mode spelled `name`, if any.
    pub fn from_name(name: &str) -> Option<Transaction> {
        match name {
            "per-revision" => Some(Transaction::PerRevision),
            "all" => Some(Transaction::All),
            _ => None,
        }
    }
}

/// `lock_mode` in kiln.toml; the runtime's `Options::lock_mode` (re-exported there as
/// `kiln_runtime::LockMode`).
/// Which lock keeps concurrent runners off one database; see "Behind a pooler" in
/// the runtime's documentation (`docs/runtime.md`) for what each guarantees and costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LockMode {
    /// `session` on a direct connection, `transaction` when PostgreSQL is reached through a
    /// pooler or proxy (detected once per run, see [`LockMode::Transaction`]), `table` on a
    /// PostgreSQL-wire database that is not PostgreSQL. The default.
    #[default]
    Auto,
    /// A lock held by the session for the whole run: PostgreSQL's `pg_advisory_lock`, MySQL's
    /// `GET_LOCK`, SQLite's lock file. Breaks behind a transaction-mode pooler, where the session
    /// kiln talks to changes between transactions.
    Session,
    /// PostgreSQL only: `pg_advisory_xact_lock`, taken by every transaction that writes kiln's
    /// tables, which re-checks inside it that nobody changed the state since it was read. Works
    /// behind transaction-mode poolers; MySQL has no transaction-scoped `GET_LOCK`.
    Transaction,
    /// A lease in a lock table next to the version table (owner, host, pid, expiry), renewed
    /// while the run lives and taken over once expired: for engines and proxies with no
    /// advisory locks at all.
    Table,
}

impl LockMode {
    /// The spelling kiln.toml's `lock_mode`, `KILN_LOCK_MODE` and `--lock-mode` use.
    pub fn name(self) -> &'static str {
        match self {
            LockMode::Auto => "auto",
            LockMode::Session => "session",
            LockMode::Transaction => "transaction",
            LockMode::Table => "table",
        }
    }

    /// The mode spelled `name` (`auto`, `session`, `transaction` or `table`), if any.
    pub fn from_name(name: &str) -> Option<LockMode> {
        [
            LockMode::Auto,
            LockMode::Session,
            LockMode::Transaction,
            LockMode::Table,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }
}

impl std::fmt::Display for LockMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The values of `lock_mode`, for messages.
const LOCK_MODES: &str = "\"auto\", \"session\", \"transaction\" or \"table\"";

/// The type a key's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `true` or `false`.
    Bool,
    /// One of `postgres`, `mysql`, `sqlite`.
    Dialect,
    /// A non-empty string.
    Text,
    /// A whole number of seconds, 0 or more.
    Seconds,
    /// `per-revision` or `all`.
    Transaction,
    /// `auto`, `session`, `transaction` or `table`.
    LockMode,
}

/// One setting kiln.toml may hold.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The table it lives in (`None` for the top level).
    pub table: Option<&'static str>,
    /// Its name.
    pub name: &'static str,
    /// The type of its value.
    pub kind: ValueKind,
    /// Where the value goes.
    apply: fn(&mut Config, Value, usize),
}

impl ValueKind {
    /// A value of this kind, for help texts.
    fn example(self) -> &'static str {
        match self {
            ValueKind::Bool => "true",
            ValueKind::Dialect => "\"postgres\"",
            ValueKind::Text => "\"name\"",
            ValueKind::Seconds => "60",
            ValueKind::Transaction => "\"per-revision\"",
            ValueKind::LockMode => "\"auto\"",
        }
    }
}

/// A checked value, already of the key's [`ValueKind`].
#[derive(Debug, Clone)]
enum Value {
    Bool(bool),
    Dialect(Dialect),
    Text(String),
    Seconds(u64),
    Transaction(Transaction),
    LockMode(LockMode),
}

/// A top-level key holding a string, with the field it fills.
macro_rules! text_key {
    ($name:literal, $field:ident) => {
        Key {
            table: None,
            name: $name,
            kind: ValueKind::Text,
            apply: |c, v, line| {
                if let Value::Text(t) = v {
                    c.$field = Some((t, line));
                }
            },
        }
    };
}

/// A top-level key holding seconds, with the field it fills.
macro_rules! seconds_key {
    ($name:literal, $field:ident) => {
        Key {
            table: None,
            name: $name,
            kind: ValueKind::Seconds,
            apply: |c, v, line| {
                if let Value::Seconds(n) = v {
                    c.$field = Some((n, line));
                }
            },
        }
    };
}

/// Every key kiln.toml may hold. Add new settings here.
pub const KEYS: &[Key] = &[
    Key {
        table: None,
        name: "dialect",
        kind: ValueKind::Dialect,
        apply: |c, v, line| {
            if let Value::Dialect(d) = v {
                c.dialect = Some((d, line));
            }
        },
    },
    Key {
        table: Some("postgres"),
        name: "standard_conforming_strings",
        kind: ValueKind::Bool,
        apply: |c, v, _| {
            if let Value::Bool(b) = v {
                c.standard_conforming_strings = Some(b);
            }
        },
    },
    Key {
        table: Some("mysql"),
        name: "backslash_escapes",
        kind: ValueKind::Bool,
        apply: |c, v, _| {
            if let Value::Bool(b) = v {
                c.backslash_escapes = Some(b);
            }
        },
    },
    text_key!("dir", dir),
    text_key!("database_url", database_url),
    text_key!("database_url_env", database_url_env),
    text_key!("schema", schema),
    text_key!("version_table", version_table),
    text_key!("audit_table", audit_table),
    Key {
        table: None,
        name: "transaction",
        kind: ValueKind::Transaction,
        apply: |c, v, line| {
            if let Value::Transaction(t) = v {
                c.transaction = Some((t, line));
            }
        },
    },
    seconds_key!("lock_timeout", lock_timeout),
    Key {
        table: None,
        name: "lock_mode",
        kind: ValueKind::LockMode,
        apply: |c, v, line| {
            if let Value::LockMode(m) = v {
                c.lock_mode = Some((m, line));
            }
        },
    },
    seconds_key!("io_timeout", io_timeout),
    text_key!("app_version", app_version),
];

/// The nearest `kiln.toml` in `base` or one of its ancestors.
pub fn find(base: &Path) -> Option<PathBuf> {
    base.ancestors()
        .map(|dir| dir.join(CONFIG_FILE))
        .find(|p| p.is_file())
}

impl Config {
    /// Parses the text of a kiln.toml shown as `path` in messages, reporting every problem.
    ///
    /// # Errors
    ///
    /// One [`Diagnostic`] per problem: a TOML syntax error, an unknown key or table (with the
    /// closest known one), or a value of the wrong type.
    pub fn parse(path: &str, text: &str) -> Result<Config, Vec<Diagnostic>> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let diag =
            |offset: usize, problem: Problem| Diagnostic::at(path, text, line_of(offset), problem);
        let root = match toml::de::DeTable::parse(text) {
            Ok(t) => t.into_inner(),
            Err(e) => {
                let offset = e.span().map_or(0, |s| s.start);
                let reason = e.message().trim().to_owned();
                return Err(vec![diag(
                    offset,
                    Problem::ConfigSyntax {
                        path: path.to_owned(),
                        reason,
                    },
                )]);
            }
        };
        let mut config = Config::default();
        let mut errors = Vec::new();
        let mut entries: Vec<_> = root.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        for (key, value) in entries {
            let name = key.get_ref().as_ref();
            match value.get_ref() {
                toml::de::DeValue::Table(table) if KEYS.iter().any(|k| k.table == Some(name)) => {
                    let mut inner: Vec<_> = table.iter().collect();
                    inner.sort_by_key(|(k, _)| k.span().start);
                    for (k, v) in inner {
                        let line = line_of(k.span().start);
                        if let Err(p) = config.set(Some(name), k.get_ref(), v.get_ref(), line) {
                            errors.push(diag(k.span().start, p));
                        }
                    }
                }
                v => {
                    let line = line_of(key.span().start);
                    if let Err(p) = config.set(None, name, v, line) {
                        errors.push(diag(key.span().start, p));
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    fn set(
        &mut self,
        table: Option<&str>,
        name: &str,
        value: &toml::de::DeValue<'_>,
        line: usize,
    ) -> Result<(), Problem> {
        let full = match table {
            Some(t) => format!("{t}.{name}"),
            None => name.to_owned(),
        };
        let Some(key) = KEYS.iter().find(|k| k.table == table && k.name == name) else {
            let known: Vec<String> = KEYS
                .iter()
                .map(|k| match k.table {
                    Some(t) => format!("{t}.{}", k.name),
                    None => k.name.to_owned(),
                })
                .collect();
            let suggestion = closest(&full, known.iter().map(String::as_str));
            return Err(Problem::ConfigUnknownKey {
                key: full,
                suggestion,
                known: known.join(", "),
            });
        };
        let invalid = |expected: &str| Problem::ConfigInvalid {
            key: full.clone(),
            expected: format!("{expected}, e.g. `{full} = {}`", key.kind.example()),
        };
        let checked = match (key.kind, value) {
            (ValueKind::Bool, toml::de::DeValue::Boolean(b)) => Value::Bool(*b),
            (ValueKind::Bool, _) => return Err(invalid("`true` or `false`")),
            (ValueKind::Dialect, toml::de::DeValue::String(s)) => match Dialect::from_name(s) {
                Some(d) => Value::Dialect(d),
                None => return Err(invalid("one of \"postgres\", \"mysql\", \"sqlite\"")),
            },
            (ValueKind::Dialect, _) => {
                return Err(invalid("one of \"postgres\", \"mysql\", \"sqlite\""));
            }
            (ValueKind::Text, toml::de::DeValue::String(s)) if !s.trim().is_empty() => {
                Value::Text(s.to_string())
            }
            (ValueKind::Text, _) => return Err(invalid("a non-empty string in double quotes")),
            (ValueKind::Seconds, toml::de::DeValue::Integer(i)) => {
                match u64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(n) => Value::Seconds(n),
                    Err(_) => return Err(invalid("a whole number of seconds, 0 or more")),
                }
            }
            (ValueKind::Seconds, _) => {
                return Err(invalid("a whole number of seconds, 0 or more (no quotes)"));
            }
            (ValueKind::Transaction, toml::de::DeValue::String(s)) => {
                match Transaction::from_name(s) {
                    Some(t) => Value::Transaction(t),
                    None => return Err(invalid("\"per-revision\" or \"all\"")),
                }
            }
            (ValueKind::Transaction, _) => return Err(invalid("\"per-revision\" or \"all\"")),
            (ValueKind::LockMode, toml::de::DeValue::String(s)) => match LockMode::from_name(s) {
                Some(m) => Value::LockMode(m),
                None => return Err(invalid(LOCK_MODES)),
            },
            (ValueKind::LockMode, _) => return Err(invalid(LOCK_MODES)),
        };
        (key.apply)(self, checked, line);
        Ok(())
    }

    /// The readings that apply to a migration set: the dialect this file declares (or the
    /// `declared` one, e.g. from the macro argument) with this file's settings, or, when neither
    /// declares one, every dialect's default reading with this file's settings.
    ///
    /// # Errors
    ///
    /// [`Problem::DialectConflict`] when `declared` contradicts the file's `dialect`.
    pub fn readings(&self, declared: Option<Dialect>) -> Result<Readings, Problem> {
        let chosen = match (declared, self.dialect) {
            (Some(d), Some((f, line))) if d != f => {
                return Err(Problem::DialectConflict {
                    argument: d.name().to_owned(),
                    config: f.name().to_owned(),
                    line,
                });
            }
            (Some(d), _) | (None, Some((d, _))) => Some(d),
            (None, None) => None,
        };
        // Each setting changes only its own dialect's reading, so equal readings compare equal.
        let adjust = |s: Syntax| match s.dialect {
            Dialect::Postgres => match self.standard_conforming_strings {
                Some(on) => s.with_standard_conforming_strings(on),
                None => s,
            },
            Dialect::MySql => match self.backslash_escapes {
                Some(on) => s.with_backslash_escapes(on),
                None => s,
            },
            _ => s,
        };
        Ok(match chosen {
            Some(d) => Readings::of(adjust(Syntax::new(d))),
            None => Readings::undeclared(Syntax::DEFAULT_READINGS.map(adjust)),
        })
    }
}

/// The text of the kiln.toml at `path` (shown as `shown`), newlines normalized. The error is the
/// one diagnostic, in the list shape every caller returns.
fn read_text(path: &Path, shown: &str) -> Result<String, Vec<Diagnostic>> {
    let bytes = std::fs::read(path).map_err(|e| {
        vec![Diagnostic::new(
            shown,
            Problem::Io {
                path: shown.to_owned(),
                reason: e.to_string(),
            },
        )]
    })?;
    crate::checksum::normalize(&bytes).map_err(|e| {
        vec![Diagnostic::new(
            shown,
            Problem::ConfigSyntax {
                path: shown.to_owned(),
                reason: format!(
                    "not UTF-8 text (invalid byte at line {}, column {})",
                    e.line, e.column
                ),
            },
        )]
    })
}

impl Config {
    /// Reads and parses the kiln.toml at `path`, shown as `shown` in messages.
    ///
    /// # Errors
    ///
    /// Every problem, each with the file and (where there is one) the line and the fix.
    pub fn read(path: &Path, shown: &str) -> Result<Config, Vec<Diagnostic>> {
        let text = read_text(path, shown)?;
        Config::parse(shown, &text)
    }
}

/// Reads the kiln.toml at `path` (shown as `shown`), returning the readings for a set whose
/// caller declared `declared`, plus every problem found.
pub fn load(
    path: Option<&Path>,
    shown: &str,
    declared: Option<Dialect>,
) -> (Readings, Vec<Diagnostic>) {
    let fallback = || {
        Config::default()
            .readings(declared)
            .unwrap_or_else(|_| Readings::undeclared(Syntax::DEFAULT_READINGS))
    };
    let Some(path) = path else {
        return (fallback(), Vec::new());
    };
    let text = match read_text(path, shown) {
        Ok(t) => t,
        Err(d) => return (fallback(), d),
    };
    match Config::parse(shown, &text) {
        Ok(config) => match config.readings(declared) {
            Ok(r) => (r, Vec::new()),
            Err(p) => {
                let line = match &p {
                    Problem::DialectConflict { line, .. } => *line,
                    _ => 1,
                };
                (fallback(), vec![Diagnostic::at(shown, &text, line, p)])
            }
        },
        Err(errors) => (fallback(), errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<(Option<usize>, Problem)> {
        Config::parse("kiln.toml", text)
            .unwrap_err()
            .into_iter()
            .map(|d| (d.line, d.problem))
            .collect()
    }

    #[test]
    fn reads_every_key() {
        let c = Config::parse(
            "kiln.toml",
            "# a comment\ndialect = \"postgres\"\n[postgres]\nstandard_conforming_strings = false\n[mysql]\nbackslash_escapes = false\n",
        )
        .unwrap();
        assert_eq!(c.dialect, Some((Dialect::Postgres, 2)));
        assert_eq!(c.standard_conforming_strings, Some(false));
        let r = c.readings(None).unwrap();
        assert_eq!(
            r.declared(),
            Some(Syntax::new(Dialect::Postgres).with_standard_conforming_strings(false))
        );
        assert_eq!(Config::parse("kiln.toml", "").unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_have_lines_and_suggestions() {
        let p = problems(
            "dialect = \"mysql\"\ndialekt = \"x\"\n[postgres]\nstandard_conforming_string = true\n",
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            matches!(&p[0], (Some(2), Problem::ConfigUnknownKey { suggestion: Some(s), .. }) if s == "dialect"),
            "{p:?}"
        );
        assert!(
            matches!(&p[1], (Some(4), Problem::ConfigUnknownKey { suggestion: Some(s), .. }) if s == "postgres.standard_conforming_strings"),
            "{p:?}"
        );
    }

    #[test]
    fn wrong_types_and_syntax_errors() {
        let p = problems("dialect = \"oracle\"\n");
        assert!(
            matches!(&p[0], (Some(1), Problem::ConfigInvalid { key, .. }) if key == "dialect"),
            "{p:?}"
        );
        let p = problems("[mysql]\nbackslash_escapes = \"no\"\n");
        assert!(
            matches!(&p[0], (Some(2), Problem::ConfigInvalid { .. })),
            "{p:?}"
        );
        let p = problems("\n\ndialect = \n");
        assert!(
            matches!(&p[0], (Some(3), Problem::ConfigSyntax { .. })),
            "{p:?}"
        );
    }

    #[test]
    fn reads_the_shared_settings_with_their_lines() {
        let c = Config::parse(
            "kiln.toml",
            "dir = \"db/migrations\"\ndatabase_url_env = \"APP_DB\"\nschema = \"ops\"\nversion_table = \"v\"\naudit_table = \"a\"\ntransaction = \"all\"\nlock_timeout = 5\nio_timeout = 0\napp_version = \"1.2\"\ndatabase_url = \"sqlite::memory:\"\n",
        )
        .unwrap();
        assert_eq!(c.dir, Some(("db/migrations".to_owned(), 1)));
        assert_eq!(c.database_url_env, Some(("APP_DB".to_owned(), 2)));
        assert_eq!(c.schema, Some(("ops".to_owned(), 3)));
        assert_eq!(c.version_table, Some(("v".to_owned(), 4)));
        assert_eq!(c.audit_table, Some(("a".to_owned(), 5)));
        assert_eq!(c.transaction, Some((Transaction::All, 6)));
        assert_eq!(c.lock_timeout, Some((5, 7)));
        assert_eq!(c.io_timeout, Some((0, 8)));
        assert_eq!(c.app_version, Some(("1.2".to_owned(), 9)));
        assert_eq!(c.database_url, Some(("sqlite::memory:".to_owned(), 10)));
        // The macro's reading of the same file is unchanged by the shared settings.
        assert_eq!(c.readings(None).unwrap().declared(), None);
    }

    #[test]
    fn shared_settings_of_the_wrong_type_name_the_fix() {
        let p = problems(
            "schema = \"ops\"\nlock_timeout = \"60\"\ntransaction = \"each\"\nschema_name = \"x\"\nio_timeout = -1\nversion_table = \"\"\n",
        );
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(
            matches!(&p[0], (Some(2), Problem::ConfigInvalid { key, expected }) if key == "lock_timeout" && expected.contains("`lock_timeout = 60`")),
            "{p:?}"
        );
        assert!(
            matches!(&p[1], (Some(3), Problem::ConfigInvalid { key, expected }) if key == "transaction" && expected.contains("\"all\"")),
            "{p:?}"
        );
        assert!(
            matches!(&p[2], (Some(4), Problem::ConfigUnknownKey { suggestion: Some(s), .. }) if s == "schema"),
            "{p:?}"
        );
        assert!(
            matches!(&p[3], (Some(5), Problem::ConfigInvalid { key, .. }) if key == "io_timeout"),
            "{p:?}"
        );
        assert!(
            matches!(&p[4], (Some(6), Problem::ConfigInvalid { key, .. }) if key == "version_table"),
            "{p:?}"
        );
    }

    #[test]
    fn argument_must_agree_with_the_file() {
        let c = Config::parse("kiln.toml", "dialect = \"sqlite\"").unwrap();
        assert!(matches!(
            c.readings(Some(Dialect::MySql)),
            Err(Problem::DialectConflict { .. })
        ));
        assert!(c.readings(Some(Dialect::Sqlite)).is_ok());
        let none = Config::default().readings(None).unwrap();
        assert_eq!(none.declared(), None);
        assert_eq!(none.all().len(), 3);
    }
}
