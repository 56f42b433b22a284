//! The text form of a [`Schema`]: one `key: value` line per object, sorted, and the parser
//! that reads a snapshot of it back.

use crate::model::{Schema, dialect_name};
use std::fmt;

impl Schema {
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
        for (sig, r) in &self.routines {
            out.push(format!("routine {sig}"), r.description.clone());
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
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

fn named(name: &Option<String>) -> String {
    name.as_ref()
        .map(|n| format!(" named {n}"))
        .unwrap_or_default()
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

pub(crate) fn line(k: &str, v: &str) -> String {
    if v.is_empty() {
        k.to_owned()
    } else {
        format!("{k}: {v}")
    }
}

/// Splits `key: value` at the first `: ` outside quotes and parentheses (keys of constraints
/// contain expressions, which may contain `: `).
pub(crate) fn parse_line(l: &str) -> (String, String) {
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
