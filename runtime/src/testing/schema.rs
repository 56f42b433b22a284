//! [`Schema`]: a normalized, comparable description of a database's schema, its text form and
//! a line-oriented diff.
//!
//! A capture is meant to be compared with another capture *of the same engine*: types, defaults
//! and expressions are kept in each engine's own canonical spelling (what its catalog returns),
//! so PostgreSQL's `character varying(255)` and MariaDB's `varchar(255)` are not unified.
//!
//! Everything the comparison looks at is visible in the text form: one object per line,
//! `key: value`, sorted. The diff pairs lines by key, so a changed column shows up as one
//! "changed" entry rather than as an unrelated removal and addition.

use kiln_core::Dialect;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The schema of one database, as read from its catalog by [`Schema::capture`].
///
/// Names in the connection's default schema (PostgreSQL's `current_schema()`, MySQL's
/// `DATABASE()`, SQLite's `main`) are unqualified; other PostgreSQL schemas appear as
/// `schema.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Schema {
    /// The engine it was read from.
    pub dialect: Dialect,
    /// PostgreSQL schemas other than `public`, the connection's own and kiln's.
    pub schemas: BTreeSet<String>,
    /// PostgreSQL extensions other than `plpgsql`.
    pub extensions: BTreeSet<String>,
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
    /// Views by name: their definition, normalized (materialized views are prefixed with
    /// `materialized:`).
    pub views: BTreeMap<String, String>,
    /// Triggers by `name on table`.
    pub triggers: BTreeMap<String, Trigger>,
    /// Sequences by name (PostgreSQL, MariaDB): their parameters and owner. Sequences that
    /// back identity columns are described by the column instead.
    pub sequences: BTreeMap<String, String>,
    /// PostgreSQL enum types by name: their labels in order.
    pub enums: BTreeMap<String, Vec<String>>,
    /// Other PostgreSQL types (domains and composite types) by name: a description.
    pub types: BTreeMap<String, String>,
    /// Functions and procedures (PostgreSQL, MySQL/MariaDB) by signature: kind, result,
    /// language and normalized body.
    pub routines: BTreeMap<String, String>,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Table {
    /// Storage options that change behaviour: `unlogged`, `partitioned` (PostgreSQL), the
    /// engine and collation (MySQL), `without rowid`, `strict`, `autoincrement` (SQLite).
    pub options: String,
    /// Columns in table order.
    pub columns: Vec<Column>,
    /// The primary key, if any.
    pub primary_key: Option<PrimaryKey>,
    /// Foreign keys, sorted.
    pub foreign_keys: Vec<ForeignKey>,
    /// Unique constraints, sorted. On MySQL/MariaDB, where a unique constraint *is* a unique
    /// index, every unique index is listed here.
    pub uniques: Vec<Unique>,
    /// Check constraints (and PostgreSQL exclusion constraints), sorted.
    pub checks: Vec<Check>,
    /// Indexes that do not implement a constraint above, sorted by name.
    pub indexes: Vec<Index>,
}

/// A column.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type in the engine's canonical spelling, lower case (SQLite: the declared type,
    /// lower-cased with whitespace normalized).
    pub data_type: String,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// Its default expression, if any. MariaDB's explicit `DEFAULT NULL` counts as none.
    pub default: Option<String>,
    /// Identity, generation, `auto_increment`, `on update` and non-default collation.
    pub extra: String,
}

/// A primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrimaryKey {
    /// The constraint's name where the engine keeps one a user can choose (PostgreSQL).
    pub name: Option<String>,
    /// Its columns, in key order.
    pub columns: Vec<String>,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ForeignKey {
    /// Referencing columns, in key order.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// Referenced columns, in key order.
    pub referenced_columns: Vec<String>,
    /// `no action`, `restrict`, `cascade`, `set null` or `set default`.
    pub on_update: String,
    /// `no action`, `restrict`, `cascade`, `set null` or `set default`.
    pub on_delete: String,
    /// Anything else: `deferrable`, `initially deferred`, `match full`, `not valid`.
    pub options: String,
    /// The constraint's name, where the engine keeps one.
    pub name: Option<String>,
}

/// A unique constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Unique {
    /// Its columns, in key order.
    pub columns: Vec<String>,
    /// The constraint's name, where the engine keeps one a user can choose.
    pub name: Option<String>,
}

/// A check constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Check {
    /// The condition, as the engine prints it (SQLite: as written, whitespace normalized).
    pub expression: String,
    /// The constraint's name, where the engine keeps one.
    pub name: Option<String>,
}

/// An index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Index {
    /// Its name.
    pub name: String,
    /// Whether it is unique.
    pub unique: bool,
    /// Method, key columns or expressions with their order, and predicate.
    pub definition: String,
}

/// A trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Trigger {
    /// The table it fires on.
    pub table: String,
    /// Timing, events and action, normalized.
    pub definition: String,
}

impl Schema {
    /// A schema with nothing in it.
    pub fn empty(dialect: Dialect) -> Schema {
        Schema {
            dialect,
            schemas: BTreeSet::new(),
            extensions: BTreeSet::new(),
            tables: BTreeMap::new(),
            views: BTreeMap::new(),
            triggers: BTreeMap::new(),
            sequences: BTreeMap::new(),
            enums: BTreeMap::new(),
            types: BTreeMap::new(),
            routines: BTreeMap::new(),
        }
    }

    /// `true` when the database holds no object at all (kiln's own tables aside).
    pub fn is_empty(&self) -> bool {
        self.lines().is_empty()
    }

    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// Every object as a `(key, value)` line, sorted by key. Keys identify an object (a
    /// column by table and name, a foreign key by its columns and target, ...); values hold
    /// what can change about it. This is what [`Schema::diff`] compares and what the text
    /// form prints.
    pub fn lines(&self) -> Vec<(String, String)> {
        let mut out = Lines::default();
        for s in &self.schemas {
            out.push(format!("schema {s}"), String::new());
        }
        for e in &self.extensions {
            out.push(format!("extension {e}"), String::new());
        }
        for (name, labels) in &self.enums {
            out.push(format!("enum {name}"), labels.join(", "));
        }
        for (name, desc) in &self.types {
            out.push(format!("type {name}"), desc.clone());
        }
        for (name, desc) in &self.sequences {
            out.push(format!("sequence {name}"), desc.clone());
        }
        for (name, t) in &self.tables {
            let p = format!("table {name}");
            out.push(p.clone(), t.options.clone());
            let order: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            out.push(format!("{p} columns"), order.join(", "));
            for c in &t.columns {
                out.push(format!("{p} column {}", c.name), c.describe());
            }
            if let Some(pk) = &t.primary_key {
                out.push(
                    format!("{p} primary key"),
                    format!("({}){}", pk.columns.join(", "), named(&pk.name)),
                );
            }
            for fk in &t.foreign_keys {
                out.push(
                    format!(
                        "{p} foreign key ({}) references {} ({})",
                        fk.columns.join(", "),
                        fk.references,
                        fk.referenced_columns.join(", ")
                    ),
                    format!(
                        "on update {}, on delete {}{}{}",
                        fk.on_update,
                        fk.on_delete,
                        if fk.options.is_empty() {
                            String::new()
                        } else {
                            format!(", {}", fk.options)
                        },
                        named(&fk.name)
                    ),
                );
            }
            for u in &t.uniques {
                out.push(
                    format!("{p} unique ({})", u.columns.join(", ")),
                    named(&u.name).trim_start().to_owned(),
                );
            }
            for c in &t.checks {
                out.push(
                    format!("{p} check {}", c.expression),
                    named(&c.name).trim_start().to_owned(),
                );
            }
            for i in &t.indexes {
                out.push(
                    format!("{p} index {}", i.name),
                    format!("{}{}", if i.unique { "unique " } else { "" }, i.definition),
                );
            }
        }
        for (name, def) in &self.views {
            out.push(format!("view {name}"), def.clone());
        }
        for (key, t) in &self.triggers {
            out.push(format!("trigger {key}"), t.definition.clone());
        }
        for (sig, desc) in &self.routines {
            out.push(format!("routine {sig}"), desc.clone());
        }
        out.0.sort();
        out.0
    }

    /// The text form: a header naming the engine, then one `key: value` line per object.
    /// Stable across runs, so it can be kept as a snapshot and compared with
    /// [`Schema::diff_text`].
    pub fn to_text(&self) -> String {
        let mut s = format!("-- kiln schema capture ({})\n", dialect_name(self.dialect));
        for (k, v) in self.lines() {
            s.push_str(&line(&k, &v));
            s.push('\n');
        }
        s
    }

    /// `None` when the two schemas are equal; otherwise a readable, line-oriented account of
    /// what is only in `self` (left), only in `other` (right), and changed.
    pub fn diff(&self, other: &Schema) -> Option<String> {
        self.diff_labeled(other, "left", "right")
    }

    /// [`Schema::diff`] with names for the two sides ("migrated database", "schema.sql", ...).
    pub fn diff_labeled(&self, other: &Schema, left: &str, right: &str) -> Option<String> {
        diff_lines(&self.lines(), &other.lines(), left, right)
    }

    /// Compares with a snapshot in the text form of [`Schema::to_text`] (this capture is the
    /// left side, the snapshot the right). Lines starting with `--` and blank lines are ignored.
    pub fn diff_text(&self, snapshot: &str) -> Option<String> {
        let theirs: Vec<(String, String)> = snapshot
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
            .map(parse_line)
            .collect();
        diff_lines(&self.lines(), &theirs, "database", "snapshot")
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Column {
    /// `type null|not null [default ...] [extra]`, as the text form shows it.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} {}",
            self.data_type,
            if self.nullable { "null" } else { "not null" }
        );
        if let Some(d) = &self.default {
            s.push_str(" default ");
            s.push_str(d);
        }
        if !self.extra.is_empty() {
            s.push(' ');
            s.push_str(&self.extra);
        }
        s
    }
}

fn named(name: &Option<String>) -> String {
    name.as_ref()
        .map(|n| format!(" named {n}"))
        .unwrap_or_default()
}

pub(crate) fn dialect_name(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "PostgreSQL",
        Dialect::MySql => "MySQL/MariaDB",
        _ => "SQLite",
    }
}

/// Lines with duplicate keys made unique (`#2`, `#3`, ...), so two identical foreign keys are
/// both counted instead of one hiding the other.
#[derive(Default)]
struct Lines(Vec<(String, String)>);

impl Lines {
    fn push(&mut self, key: String, value: String) {
        let mut k = key.clone();
        let mut n = 1;
        while self.0.iter().any(|(existing, _)| *existing == k) {
            n += 1;
            k = format!("{key} #{n}");
        }
        self.0.push((k, value));
    }
}

fn line(k: &str, v: &str) -> String {
    if v.is_empty() {
        k.to_owned()
    } else {
        format!("{k}: {v}")
    }
}

/// Splits `key: value` at the first `: ` outside quotes and parentheses (keys of constraints
/// contain expressions, which may contain `: `).
fn parse_line(l: &str) -> (String, String) {
    let b = l.as_bytes();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    for i in 0..b.len() {
        match (quote, b[i]) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c @ (b'"' | b'\'' | b'`')) => quote = Some(c),
            (None, b'(') => depth += 1,
            (None, b')') => depth -= 1,
            (None, b':') if depth == 0 && b.get(i + 1) == Some(&b' ') => {
                return (l[..i].to_owned(), l[i + 2..].to_owned());
            }
            _ => {}
        }
    }
    (l.to_owned(), String::new())
}

fn diff_lines(
    left: &[(String, String)],
    right: &[(String, String)],
    left_name: &str,
    right_name: &str,
) -> Option<String> {
    let l: BTreeMap<&str, &str> = left.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r: BTreeMap<&str, &str> = right
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let only_left: Vec<String> = l
        .iter()
        .filter(|(k, _)| !r.contains_key(*k))
        .map(|(k, v)| line(k, v))
        .collect();
    let only_right: Vec<String> = r
        .iter()
        .filter(|(k, _)| !l.contains_key(*k))
        .map(|(k, v)| line(k, v))
        .collect();
    let changed: Vec<(&str, &str, &str)> = l
        .iter()
        .filter_map(|(k, lv)| match r.get(k) {
            Some(rv) if rv != lv => Some((*k, *lv, *rv)),
            _ => None,
        })
        .collect();
    if only_left.is_empty() && only_right.is_empty() && changed.is_empty() {
        return None;
    }
    let width = left_name.len().max(right_name.len()) + 1;
    let mut out = String::new();
    let mut section = |title: String, items: &[String]| {
        if !items.is_empty() {
            out.push_str(&format!("  {title}:\n"));
            for i in items {
                out.push_str(&format!("    {i}\n"));
            }
        }
    };
    section(format!("only in {left_name}"), &only_left);
    section(format!("only in {right_name}"), &only_right);
    if !changed.is_empty() {
        out.push_str("  changed:\n");
        for (k, lv, rv) in changed {
            out.push_str(&format!(
                "    {k}\n      {:<width$} {}\n      {:<width$} {}\n",
                format!("{left_name}:"),
                show(lv),
                format!("{right_name}:"),
                show(rv),
            ));
        }
    }
    Some(out.trim_end().to_owned())
}

fn show(v: &str) -> &str {
    if v.is_empty() { "(nothing)" } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(email_type: &str) -> Schema {
        let mut s = Schema::empty(Dialect::Postgres);
        s.tables.insert(
            "users".into(),
            Table {
                columns: vec![
                    Column {
                        name: "id".into(),
                        data_type: "integer".into(),
                        nullable: false,
                        default: None,
                        extra: String::new(),
                    },
                    Column {
                        name: "email".into(),
                        data_type: email_type.into(),
                        nullable: false,
                        default: None,
                        extra: String::new(),
                    },
                ],
                primary_key: Some(PrimaryKey {
                    name: Some("users_pkey".into()),
                    columns: vec!["id".into()],
                }),
                checks: vec![Check {
                    expression: "CHECK (a: b)".into(),
                    name: None,
                }],
                ..Table::default()
            },
        );
        s
    }

    #[test]
    fn equal_schemas_have_no_diff() {
        assert_eq!(users("text").diff(&users("text")), None);
        assert!(Schema::empty(Dialect::Sqlite).is_empty());
        assert!(!users("text").is_empty());
    }

    #[test]
    fn diff_pairs_changed_lines_and_lists_the_rest() {
        let mut right = users("character varying(10)");
        right.views.insert("v".into(), "SELECT 1".into());
        let d = users("text")
            .diff_labeled(&right, "migrated", "schema.sql")
            .unwrap();
        assert!(
            d.contains("only in schema.sql:\n    view v: SELECT 1"),
            "{d}"
        );
        assert!(
            d.contains("changed:\n    table users column email\n      migrated:   text not null\n      schema.sql: character varying(10) not null"),
            "{d}"
        );
        assert!(!d.contains("only in migrated"), "{d}");
    }

    #[test]
    fn text_form_round_trips_through_diff_text() {
        let s = users("text");
        let text = s.to_text();
        assert!(text.starts_with("-- kiln schema capture (PostgreSQL)\n"));
        assert!(text.contains("table users primary key: (id) named users_pkey\n"));
        assert_eq!(s.diff_text(&text), None, "{text}");
        let edited = text.replace("email: text", "email: integer");
        let d = s.diff_text(&edited).unwrap();
        assert!(d.contains("table users column email"), "{d}");
    }

    #[test]
    fn duplicate_keys_are_all_kept() {
        let mut s = users("text");
        let fk = ForeignKey {
            columns: vec!["id".into()],
            references: "users".into(),
            referenced_columns: vec!["id".into()],
            on_update: "no action".into(),
            on_delete: "no action".into(),
            options: String::new(),
            name: None,
        };
        let t = s.tables.get_mut("users").unwrap();
        t.foreign_keys = vec![fk.clone(), fk];
        let lines = s.lines();
        assert!(
            lines.iter().any(|(k, _)| k.ends_with("(id) #2")),
            "{lines:?}"
        );
        assert!(s.diff(&users("text")).is_some());
    }
}
