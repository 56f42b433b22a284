//! Every key kiln.toml may hold: the `KEYS` table (name, table, type, where the value goes), the
//! types a value may have, and the check of one value against its key's type, with the fix in
//! the message. Adding a setting is one row here.

use super::*;

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
    /// A duration in kiln's one spelling (`"200ms"`, `"5s"`, `"10min"`, see
    /// [`crate::time::parse_duration`]) or a whole number of seconds; 0 is "no limit".
    Duration,
    /// A whole number, 0 to 100.
    Count,
    /// An array of lint rule ids.
    Rules,
    /// A PostgreSQL major version (9 or more).
    PgVersion,
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
            ValueKind::Duration => "\"5s\"",
            ValueKind::Count => "3",
            ValueKind::Rules => "[\"drop-table\"]",
            ValueKind::PgVersion => "16",
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
    Duration(Duration),
    Count(u32),
    Rules(Vec<(String, usize)>),
    PgVersion(u32),
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

/// A `[lint]` key holding rule ids, with the field it fills.
macro_rules! rules_key {
    ($name:literal, $field:ident) => {
        Key {
            table: Some("lint"),
            name: $name,
            kind: ValueKind::Rules,
            apply: |c, v, line| {
                if let Value::Rules(r) = v {
                    c.lint.$field = Some((r, line));
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
    Key {
        table: None,
        name: "ddl_lock_timeout",
        kind: ValueKind::Duration,
        apply: |c, v, line| {
            if let Value::Duration(d) = v {
                c.ddl_lock_timeout = Some((d, line));
            }
        },
    },
    Key {
        table: None,
        name: "ddl_statement_timeout",
        kind: ValueKind::Duration,
        apply: |c, v, line| {
            if let Value::Duration(d) = v {
                c.ddl_statement_timeout = Some((d, line));
            }
        },
    },
    Key {
        table: None,
        name: "ddl_retries",
        kind: ValueKind::Count,
        apply: |c, v, line| {
            if let Value::Count(n) = v {
                c.ddl_retries = Some((n, line));
            }
        },
    },
    rules_key!("deny", deny),
    rules_key!("warn", warn),
    rules_key!("allow", allow),
    Key {
        table: Some("lint"),
        name: "postgres_version",
        kind: ValueKind::PgVersion,
        apply: |c, v, line| {
            if let Value::PgVersion(n) = v {
                c.lint.postgres_version = Some((n, line));
            }
        },
    },
];

/// The most `ddl_retries` kiln accepts: past a handful, waiting longer between attempts (the
/// backoff doubles) is what helps, not more attempts.
pub const MAX_RETRIES: u32 = 100;

impl Config {
    pub(super) fn set(
        &mut self,
        table: Option<&str>,
        name: &str,
        value: &toml::de::DeValue<'_>,
        line: usize,
        line_of: &dyn Fn(usize) -> usize,
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
            (ValueKind::Duration, toml::de::DeValue::String(s)) => {
                match crate::time::parse_timeout(s) {
                    Ok(d) => Value::Duration(d),
                    Err(reason) => return Err(invalid(&format!("a duration ({reason})"))),
                }
            }
            (ValueKind::Duration, toml::de::DeValue::Integer(i)) => {
                match u64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(n) if Duration::from_secs(n) <= crate::time::MAX_TIMEOUT => {
                        Value::Duration(Duration::from_secs(n))
                    }
                    _ => {
                        return Err(invalid(
                            "a duration in quotes such as \"200ms\", or whole seconds up to 24 days",
                        ));
                    }
                }
            }
            (ValueKind::Duration, _) => {
                return Err(invalid(
                    "a duration in quotes such as \"200ms\" or \"10min\"",
                ));
            }
            (ValueKind::Count, toml::de::DeValue::Integer(i)) => {
                match u32::from_str_radix(i.as_str(), i.radix()) {
                    Ok(n) if n <= MAX_RETRIES => Value::Count(n),
                    _ => return Err(invalid(&format!("a whole number from 0 to {MAX_RETRIES}"))),
                }
            }
            (ValueKind::Count, _) => {
                return Err(invalid(&format!(
                    "a whole number from 0 to {MAX_RETRIES} (no quotes)"
                )));
            }
            (ValueKind::Rules, toml::de::DeValue::Array(items)) => {
                let mut rules = Vec::new();
                for item in items {
                    match item.get_ref() {
                        toml::de::DeValue::String(s) if !s.trim().is_empty() => {
                            rules.push((s.trim().to_owned(), line_of(item.span().start)));
                        }
                        _ => return Err(invalid("an array of rule ids in double quotes")),
                    }
                }
                Value::Rules(rules)
            }
            (ValueKind::Rules, _) => return Err(invalid("an array of rule ids in double quotes")),
            (ValueKind::PgVersion, toml::de::DeValue::Integer(i)) => {
                match u32::from_str_radix(i.as_str(), i.radix()) {
                    Ok(n) if n >= 9 => Value::PgVersion(n),
                    _ => return Err(invalid("a PostgreSQL major version, 9 or more")),
                }
            }
            (ValueKind::PgVersion, _) => {
                return Err(invalid("a PostgreSQL major version, 9 or more (no quotes)"));
            }
            (ValueKind::LockMode, toml::de::DeValue::String(s)) => match LockMode::from_name(s) {
                Some(m) => Value::LockMode(m),
                None => return Err(invalid(LOCK_MODES)),
            },
            (ValueKind::LockMode, _) => return Err(invalid(LOCK_MODES)),
        };
        (key.apply)(self, checked, line);
        Ok(())
    }
}
