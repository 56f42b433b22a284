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

/// What `kiln.toml` says; every field is `None` when the file does not set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// `dialect`, with its line.
    pub dialect: Option<(Dialect, usize)>,
    /// `[postgres] standard_conforming_strings`.
    pub standard_conforming_strings: Option<bool>,
    /// `[mysql] backslash_escapes`.
    pub backslash_escapes: Option<bool>,
}

/// The type a key's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `true` or `false`.
    Bool,
    /// One of `postgres`, `mysql`, `sqlite`.
    Dialect,
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

/// A checked value, already of the key's [`ValueKind`].
#[derive(Debug, Clone, Copy)]
enum Value {
    Bool(bool),
    Dialect(Dialect),
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
            expected: expected.to_owned(),
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
    let text = match std::fs::read(path) {
        Ok(bytes) => match crate::checksum::normalize(&bytes) {
            Ok(t) => t,
            Err(e) => {
                let reason = format!(
                    "not UTF-8 text (invalid byte at line {}, column {})",
                    e.line, e.column
                );
                return (
                    fallback(),
                    vec![Diagnostic::new(
                        shown,
                        Problem::ConfigSyntax {
                            path: shown.to_owned(),
                            reason,
                        },
                    )],
                );
            }
        },
        Err(e) => {
            return (
                fallback(),
                vec![Diagnostic::new(
                    shown,
                    Problem::Io {
                        path: shown.to_owned(),
                        reason: e.to_string(),
                    },
                )],
            );
        }
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
