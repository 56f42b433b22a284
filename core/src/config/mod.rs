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
//! ddl_lock_timeout = "5s"           # how long a revision's statement may wait for a lock
//! ddl_statement_timeout = "10min"   # how long a revision's statement may run
//! ddl_retries = 3                   # attempts after a lock timeout (default 0)
//! app_version = "1.4.2"
//!
//! [postgres]
//! standard_conforming_strings = true  # false: `\` escapes in every '...' literal
//!
//! [mysql]
//! backslash_escapes = true            # false: the server runs with NO_BACKSLASH_ESCAPES
//!
//! [lint]
//! deny = ["drop-table"]               # these rules' findings are errors (and, with the
//!                                     # macro's `lint` feature, compile errors)
//! warn = ["require-concurrent-index"] # warnings only
//! allow = ["prefer-text"]             # never reported
//! postgres_version = 15               # the server's major version, for version-dependent locks
//! ```
//!
//! The rule ids in `[lint]` belong to kiln-lint, which depends on this crate, so
//! [`Config::parse`] only checks that they are strings; the callers that lint check them against
//! kiln-lint's table with [`Config::parse_with_rules`] / [`Config::read_with_rules`].
//!
//! Problems (a TOML syntax error, an unknown key, a value of the wrong type) are
//! [`Diagnostic`]s with the file and line, like every other problem kiln reports.

use crate::diag::{Diagnostic, Diagnostics, Problem, closest};
use crate::lex::{Dialect, Readings, Syntax};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod keys;
pub use keys::{KEYS, Key, MAX_RETRIES, ValueKind};

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
    /// `ddl_lock_timeout`: how long a revision's statement may wait for a lock (0: no limit).
    pub ddl_lock_timeout: Option<(Duration, usize)>,
    /// `ddl_statement_timeout`: how long a revision's statement may run (0: no limit).
    pub ddl_statement_timeout: Option<(Duration, usize)>,
    /// `ddl_retries`: how many times a revision that hit its lock timeout is tried again.
    pub ddl_retries: Option<(u32, usize)>,
    /// The `[lint]` table.
    pub lint: LintConfig,
}

/// kiln.toml's `[lint]` table: how `kiln lint` (and, with kiln-macros' `lint` feature, the
/// `migrations!` macro) treats each rule. Each list holds `(rule id, line)` pairs and the line of
/// its key, `None` when the file does not set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LintConfig {
    /// `deny`: rules whose findings are errors.
    pub deny: Option<(Vec<(String, usize)>, usize)>,
    /// `warn`: rules whose findings are warnings.
    pub warn: Option<(Vec<(String, usize)>, usize)>,
    /// `allow`: rules that are not reported at all.
    pub allow: Option<(Vec<(String, usize)>, usize)>,
    /// `postgres_version`: the PostgreSQL major version the migrations run on.
    pub postgres_version: Option<(u32, usize)>,
}

impl LintConfig {
    /// The three lists as `(key, rule, line)`, in the order deny, warn, allow.
    pub fn rules(&self) -> impl Iterator<Item = (&'static str, &str, usize)> {
        [
            ("lint.deny", &self.deny),
            ("lint.warn", &self.warn),
            ("lint.allow", &self.allow),
        ]
        .into_iter()
        .flat_map(|(key, list)| {
            list.iter()
                .flat_map(|(items, _)| items.iter())
                .map(move |(rule, line)| (key, rule.as_str(), *line))
        })
    }
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
        Config::parse_inner(path, text, None)
    }

    /// [`Config::parse`], and every rule id in `[lint]` must be one of `rules` (kiln-lint's
    /// table, which this crate cannot name): an unknown one is reported at its line with the
    /// closest known id.
    ///
    /// # Errors
    ///
    /// As [`Config::parse`], plus [`Problem::UnknownLintRule`].
    pub fn parse_with_rules(
        path: &str,
        text: &str,
        rules: &[&str],
    ) -> Result<Config, Vec<Diagnostic>> {
        Config::parse_inner(path, text, Some(rules))
    }

    fn parse_inner(
        path: &str,
        text: &str,
        rules: Option<&[&str]>,
    ) -> Result<Config, Vec<Diagnostic>> {
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
                        if let Err(p) =
                            config.set(Some(name), k.get_ref(), v.get_ref(), line, &line_of)
                        {
                            errors.push(diag(k.span().start, p));
                        }
                    }
                }
                v => {
                    let line = line_of(key.span().start);
                    if let Err(p) = config.set(None, name, v, line, &line_of) {
                        errors.push(diag(key.span().start, p));
                    }
                }
            }
        }
        errors.extend(
            config
                .lint_problems(rules)
                .into_iter()
                .map(|(line, p)| Diagnostic::at(path, text, line, p)),
        );
        if errors.is_empty() {
            Ok(config)
        } else {
            errors.sort_by_key(|d| d.line);
            Err(errors)
        }
    }

    /// A rule named in two of `[lint]`'s lists (it can have one level), and, when `rules` is
    /// given, a rule id that is not in it.
    fn lint_problems(&self, rules: Option<&[&str]>) -> Vec<(usize, Problem)> {
        let mut out = Vec::new();
        let named: Vec<_> = self.lint.rules().collect();
        for (i, &(key, rule, line)) in named.iter().enumerate() {
            if let Some(known) = rules
                && !known.contains(&rule)
            {
                out.push((
                    line,
                    Problem::UnknownLintRule {
                        key: key.to_owned(),
                        rule: rule.to_owned(),
                        suggestion: closest(rule, known.iter().copied()),
                    },
                ));
            } else if let Some(&(first, _, first_line)) =
                named[..i].iter().find(|(_, r, _)| *r == rule)
            {
                out.push((
                    line,
                    Problem::LintRuleTwice {
                        rule: rule.to_owned(),
                        first: first.to_owned(),
                        first_line,
                        second: key.to_owned(),
                    },
                ));
            }
        }
        out
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

    /// [`Config::read`], checking `[lint]`'s rule ids against `rules` (see
    /// [`Config::parse_with_rules`]).
    ///
    /// # Errors
    ///
    /// As [`Config::parse_with_rules`], or the file cannot be read.
    pub fn read_with_rules(
        path: &Path,
        shown: &str,
        rules: &[&str],
    ) -> Result<Config, Vec<Diagnostic>> {
        let text = read_text(path, shown)?;
        Config::parse_with_rules(shown, &text, rules)
    }
}

/// Reads the kiln.toml at `path` (shown as `shown`) and returns the readings for a set whose
/// caller declared `declared`. Every problem found goes to `diags`, the one accumulator of the
/// stage that reads a directory (see `dir::scan_dir`); on a problem the readings fall back to
/// the undeclared defaults, so the files can still be read and their own problems reported.
pub fn load(
    path: Option<&Path>,
    shown: &str,
    declared: Option<Dialect>,
    diags: &mut Diagnostics,
) -> Readings {
    let fallback = || {
        Config::default()
            .readings(declared)
            .unwrap_or_else(|_| Readings::undeclared(Syntax::DEFAULT_READINGS))
    };
    let Some(path) = path else {
        return fallback();
    };
    let text = match read_text(path, shown) {
        Ok(t) => t,
        Err(d) => {
            diags.extend(d);
            return fallback();
        }
    };
    match Config::parse(shown, &text) {
        Ok(config) => match config.readings(declared) {
            Ok(r) => r,
            Err(p) => {
                let line = match &p {
                    Problem::DialectConflict { line, .. } => *line,
                    _ => 1,
                };
                diags.push(Diagnostic::at(shown, &text, line, p));
                fallback()
            }
        },
        Err(errors) => {
            diags.extend(errors);
            fallback()
        }
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
    fn reads_the_ddl_guardrails() {
        let c = Config::parse(
            "kiln.toml",
            "ddl_lock_timeout = \"200ms\"\nddl_statement_timeout = 90\nddl_retries = 3\n",
        )
        .unwrap();
        assert_eq!(c.ddl_lock_timeout, Some((Duration::from_millis(200), 1)));
        assert_eq!(c.ddl_statement_timeout, Some((Duration::from_secs(90), 2)));
        assert_eq!(c.ddl_retries, Some((3, 3)));
        let p = problems(
            "ddl_lock_timeout = \"5\"\nddl_statement_timeout = true\nddl_retries = 101\nddl_retries_max = 1\n",
        );
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(
            matches!(&p[0], (Some(1), Problem::ConfigInvalid { key, expected }) if key == "ddl_lock_timeout" && expected.contains("no unit") && expected.contains("`ddl_lock_timeout = \"5s\"`")),
            "{p:?}"
        );
        assert!(
            matches!(&p[1], (Some(2), Problem::ConfigInvalid { key, .. }) if key == "ddl_statement_timeout"),
            "{p:?}"
        );
        assert!(
            matches!(&p[2], (Some(3), Problem::ConfigInvalid { key, expected }) if key == "ddl_retries" && expected.contains("0 to 100")),
            "{p:?}"
        );
        assert!(
            matches!(&p[3], (Some(4), Problem::ConfigUnknownKey { suggestion: Some(s), .. }) if s == "ddl_retries"),
            "{p:?}"
        );
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
    fn lint_table_lists_rules_with_their_lines() {
        let c = Config::parse(
            "kiln.toml",
            "[lint]\ndeny = [\n  \"drop-table\",\n  \"set-not-null\",\n]\nallow = [\"prefer-text\"]\npostgres_version = 12\n",
        )
        .unwrap();
        assert_eq!(
            c.lint.deny,
            Some((
                vec![("drop-table".to_owned(), 3), ("set-not-null".to_owned(), 4)],
                2
            ))
        );
        assert_eq!(c.lint.allow, Some((vec![("prefer-text".to_owned(), 6)], 6)));
        assert_eq!(c.lint.warn, None);
        assert_eq!(c.lint.postgres_version, Some((12, 7)));
        assert_eq!(
            c.lint.rules().collect::<Vec<_>>(),
            [
                ("lint.deny", "drop-table", 3),
                ("lint.deny", "set-not-null", 4),
                ("lint.allow", "prefer-text", 6)
            ]
        );
    }

    #[test]
    fn lint_rules_are_checked_against_the_callers_table() {
        let text = "[lint]\ndeny = [\"drop-table\",\n  \"set-not-nul\"]\nwarn = [\"zzz\"]\n";
        // Without the table (the macro's loader), any id is accepted.
        assert!(Config::parse("kiln.toml", text).is_ok());
        let known = ["drop-table", "set-not-null"];
        let errs = Config::parse_with_rules("kiln.toml", text, &known).unwrap_err();
        let got: Vec<_> = errs.iter().map(|d| (d.line, d.problem.clone())).collect();
        assert_eq!(
            got,
            [
                (
                    Some(3),
                    Problem::UnknownLintRule {
                        key: "lint.deny".into(),
                        rule: "set-not-nul".into(),
                        suggestion: Some("set-not-null".into()),
                    }
                ),
                (
                    Some(4),
                    Problem::UnknownLintRule {
                        key: "lint.warn".into(),
                        rule: "zzz".into(),
                        suggestion: None,
                    }
                ),
            ]
        );
        assert_eq!(errs[0].source_line.as_deref(), Some("  \"set-not-nul\"]"));
        assert!(errs[0].to_string().contains("did you mean `set-not-null`?"));
    }

    #[test]
    fn lint_values_of_the_wrong_type_or_named_twice() {
        let p = problems(
            "[lint]\ndeny = \"drop-table\"\nwarn = [1]\npostgres_version = 8\nallow = [\"a\", \"b\"]\n",
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            matches!(&p[0], (Some(2), Problem::ConfigInvalid { key, expected }) if key == "lint.deny" && expected.contains("[\"drop-table\"]")),
            "{p:?}"
        );
        assert!(
            matches!(&p[1], (Some(3), Problem::ConfigInvalid { key, .. }) if key == "lint.warn")
        );
        assert!(
            matches!(&p[2], (Some(4), Problem::ConfigInvalid { key, .. }) if key == "lint.postgres_version")
        );
        let p = problems(
            "[lint]\ndeny = [\"drop-table\"]\nallow = [\"prefer-text\", \"drop-table\"]\n",
        );
        assert_eq!(
            p,
            [(
                Some(3),
                Problem::LintRuleTwice {
                    rule: "drop-table".into(),
                    first: "lint.deny".into(),
                    first_line: 2,
                    second: "lint.allow".into(),
                }
            )]
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
