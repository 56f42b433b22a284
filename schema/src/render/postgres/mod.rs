//! PostgreSQL's spelling of each change: tables and their constraints, `ALTER TABLE` per column,
//! foreign keys added after every table exists (as `pg_dump` does, so cycles need no care),
//! enum types, sequences, schemas and extensions.

use super::plan::Planner;
use super::{StepKind, ident, idents, qname};
use crate::model::{Check, Column, ForeignKey, PrimaryKey, Schema, Table, Unique};
use kiln_core::Dialect;

const D: Dialect = Dialect::Postgres;

mod table;
pub(in crate::render) use table::{alter_table, create_table};

/// Drops of what goes or changes on kept tables, and what tables will need: schemas,
/// extensions, types and sequences.
pub(super) fn before_tables(p: &mut Planner, from: &Schema, to: &Schema) {
    for (n, f) in &from.tables {
        let Some(t) = to.tables.get(n) else {
            // Its foreign keys may reference other tables that go: drop them first.
            for fk in &f.foreign_keys {
                if let Some(name) = &fk.name
                    && fk.references != *n
                {
                    p.push(
                        StepKind::Change,
                        format!("drop foreign key {name} on {n}"),
                        vec![drop_constraint(n, name)],
                    );
                }
            }
            continue;
        };
        for fk in f
            .foreign_keys
            .iter()
            .filter(|k| !t.foreign_keys.contains(k))
        {
            if let Some(name) = &fk.name {
                p.push(
                    StepKind::Change,
                    format!("drop foreign key {name} on {n}"),
                    vec![drop_constraint(n, name)],
                );
            }
        }
        for i in f.indexes.iter().filter(|i| !t.indexes.contains(i)) {
            p.push(
                StepKind::Change,
                format!("drop index {} on {n}", i.name),
                vec![format!("DROP INDEX {}", qualified_index(n, &i.name))],
            );
        }
        let mut names: Vec<&String> = Vec::new();
        names.extend(
            f.uniques
                .iter()
                .filter(|u| !t.uniques.contains(u))
                .filter_map(|u| u.name.as_ref()),
        );
        names.extend(
            f.checks
                .iter()
                .filter(|c| !t.checks.contains(c))
                .filter_map(|c| c.name.as_ref()),
        );
        if f.primary_key != t.primary_key
            && let Some(PrimaryKey { name: Some(pk), .. }) = &f.primary_key
        {
            names.push(pk);
        }
        for name in names {
            let name = name.trim_end_matches(" nulls not distinct");
            p.push(
                StepKind::Change,
                format!("drop constraint {name} on {n}"),
                vec![drop_constraint(n, name)],
            );
        }
    }
    for s in to.schemas.difference(&from.schemas) {
        p.push(
            StepKind::Change,
            format!("create schema {s}"),
            vec![format!("CREATE SCHEMA {}", ident(D, s))],
        );
    }
    for e in to.extensions.difference(&from.extensions) {
        p.push(
            StepKind::Change,
            format!("create extension {e}"),
            vec![format!("CREATE EXTENSION IF NOT EXISTS {}", ident(D, e))],
        );
    }
    enums(p, from, to);
    for (n, desc) in &to.types {
        match (from.types.get(n), desc.strip_prefix("composite ")) {
            (Some(old), _) if old == desc => {}
            (None, Some(fields)) => p.push(
                StepKind::Change,
                format!("create type {n}"),
                vec![format!("CREATE TYPE {} AS {fields}", qname(D, n))],
            ),
            (None, None) => p.unrenderable(format!(
                "type {n} ({desc}) is new: kiln does not render domains; write CREATE DOMAIN by hand"
            )),
            (Some(_), _) => p.unrenderable(format!(
                "type {n} changed to `{desc}`: write the ALTER TYPE or ALTER DOMAIN by hand"
            )),
        }
    }
    for (n, desc) in &to.sequences {
        let Some(seq) = Sequence::parse(desc) else {
            p.unrenderable(format!("sequence {n}: cannot read `{desc}`"));
            continue;
        };
        match from.sequences.get(n).and_then(|d| Sequence::parse(d)) {
            None => p.push(
                StepKind::Change,
                format!("create sequence {n}"),
                vec![format!("CREATE SEQUENCE {} {}", qname(D, n), seq.options())],
            ),
            Some(old) if old.options() != seq.options() => p.push(
                StepKind::Change,
                format!("alter sequence {n}"),
                vec![format!("ALTER SEQUENCE {} {}", qname(D, n), seq.options())],
            ),
            Some(_) => {}
        }
    }
}

/// Enum types: new ones created, labels added with `ADD VALUE ... BEFORE`; anything else is a
/// type rebuild kiln names instead of rendering.
fn enums(p: &mut Planner, from: &Schema, to: &Schema) {
    for (n, labels) in &to.enums {
        let Some(old) = from.enums.get(n) else {
            p.push(
                StepKind::Change,
                format!("create enum type {n}"),
                vec![format!(
                    "CREATE TYPE {} AS ENUM ({})",
                    qname(D, n),
                    labels.join(", ")
                )],
            );
            continue;
        };
        if old == labels {
            continue;
        }
        let kept: Vec<&String> = labels.iter().filter(|l| old.contains(l)).collect();
        if kept.len() != old.len() || kept.iter().zip(old).any(|(a, b)| *a != b) {
            rebuild_enum(p, from, n, old, labels);
            continue;
        }
        for (i, l) in labels.iter().enumerate() {
            if old.contains(l) {
                continue;
            }
            let place = labels[i + 1..]
                .iter()
                .find(|x| old.contains(x))
                .map(|next| format!(" BEFORE {next}"))
                .unwrap_or_default();
            p.push(
                StepKind::Change,
                format!(
                    "add value {l} to enum type {n} (usable only after this transaction commits)"
                ),
                vec![format!("ALTER TYPE {} ADD VALUE {l}{place}", qname(D, n))],
            );
        }
    }
}

/// Labels removed or reordered: PostgreSQL cannot do that in place, so the type is rebuilt:
/// the old one renamed, the new one created, every column using it converted through text
/// (its default dropped and set again), the old one dropped.
fn rebuild_enum(p: &mut Planner, from: &Schema, n: &str, old: &[String], labels: &[String]) {
    let bare = n.rsplit('.').next().unwrap_or(n);
    let parked = format!("{bare}_kiln_old");
    let mut sql = vec![
        format!("ALTER TYPE {} RENAME TO {}", qname(D, n), ident(D, &parked)),
        format!(
            "CREATE TYPE {} AS ENUM ({})",
            qname(D, n),
            labels.join(", ")
        ),
    ];
    for (t, table) in &from.tables {
        for c in table
            .columns
            .iter()
            .filter(|c| c.data_type == n || c.data_type == format!("{n}[]"))
        {
            let at = format!(
                "ALTER TABLE {} ALTER COLUMN {}",
                qname(D, t),
                ident(D, &c.name)
            );
            if c.default.is_some() {
                sql.push(format!("{at} DROP DEFAULT"));
            }
            sql.push(format!(
                "{at} TYPE {} USING {}::text::{}",
                c.data_type,
                ident(D, &c.name),
                c.data_type
            ));
            if let Some(d) = &c.default {
                sql.push(format!("{at} SET DEFAULT {d}"));
            }
        }
    }
    sql.push(format!("DROP TYPE {}", qualified_index(n, &parked)));
    p.push(
        StepKind::Warning,
        format!(
            "rebuild enum type {n} ({} → {}): rows holding a removed label make it fail",
            old.join(", "),
            labels.join(", ")
        ),
        sql,
    );
}

/// Foreign keys, once every table exists.
pub(super) fn after_tables(p: &mut Planner, from: &Schema, to: &Schema) {
    super::plan::add_foreign_keys(
        p,
        from,
        to,
        |_| false,
        |n, fk| format!("ALTER TABLE {} ADD {}", qname(D, n), foreign_key(fk)),
    );
}

/// Sequence owners, then drops of what nothing uses any more.
pub(super) fn last(p: &mut Planner, from: &Schema, to: &Schema) {
    for (n, desc) in &to.sequences {
        let owner = Sequence::parse(desc).and_then(|s| s.owner);
        let old = from
            .sequences
            .get(n)
            .and_then(|d| Sequence::parse(d))
            .map(|s| s.owner);
        if let Some(o) = &owner
            && old.as_ref() != Some(&owner)
        {
            let (table, col) = o.rsplit_once('.').unwrap_or((o, ""));
            p.push(
                StepKind::Change,
                format!("sequence {n} owned by {o}"),
                vec![format!(
                    "ALTER SEQUENCE {} OWNED BY {}.{}",
                    qname(D, n),
                    qname(D, table),
                    ident(D, col)
                )],
            );
        } else if owner.is_none() && matches!(old, Some(Some(_))) {
            p.push(
                StepKind::Change,
                format!("sequence {n} owned by nobody"),
                vec![format!("ALTER SEQUENCE {} OWNED BY NONE", qname(D, n))],
            );
        }
    }
    for n in from
        .sequences
        .keys()
        .filter(|n| !to.sequences.contains_key(*n))
    {
        // IF EXISTS: a sequence owned by a dropped table went with it.
        p.push(
            StepKind::Change,
            format!("drop sequence {n}"),
            vec![format!("DROP SEQUENCE IF EXISTS {}", qname(D, n))],
        );
    }
    for n in from.enums.keys().filter(|n| !to.enums.contains_key(*n)) {
        p.push(
            StepKind::Change,
            format!("drop enum type {n}"),
            vec![format!("DROP TYPE {}", qname(D, n))],
        );
    }
    for n in from.types.keys().filter(|n| !to.types.contains_key(*n)) {
        let kind = if from.types[n].starts_with("domain") {
            "DOMAIN"
        } else {
            "TYPE"
        };
        p.push(
            StepKind::Change,
            format!("drop type {n}"),
            vec![format!("DROP {kind} {}", qname(D, n))],
        );
    }
    for e in from.extensions.difference(&to.extensions) {
        p.push(
            StepKind::Change,
            format!("drop extension {e}"),
            vec![format!("DROP EXTENSION {}", ident(D, e))],
        );
    }
    for s in from.schemas.difference(&to.schemas) {
        p.push(
            StepKind::Change,
            format!("drop schema {s}"),
            vec![format!("DROP SCHEMA {}", ident(D, s))],
        );
    }
}

fn drop_constraint(table: &str, name: &str) -> String {
    format!(
        "ALTER TABLE {} DROP CONSTRAINT {}",
        qname(D, table),
        ident(D, name)
    )
}

/// An index lives in its table's schema.
fn qualified_index(table: &str, name: &str) -> String {
    match table.split_once('.') {
        Some((s, _)) => format!("{}.{}", ident(D, s), ident(D, name)),
        None => ident(D, name),
    }
}

fn constraint(name: &Option<String>) -> String {
    name.as_ref()
        .map(|n| format!("CONSTRAINT {} ", ident(D, n)))
        .unwrap_or_default()
}

/// A column definition: type, collation, identity or generation, NOT NULL, default.
fn column(c: &Column) -> String {
    let (kind, collate) = split_extra(&c.extra);
    let mut s = format!("{} {}", ident(D, &c.name), c.data_type);
    if let Some(co) = collate {
        s.push_str(&format!(" COLLATE {}", kiln_runtime::quote_ident(D, co)));
    }
    if !kind.is_empty() {
        s.push(' ');
        s.push_str(kind);
    }
    if !c.nullable && !kind.contains("identity") {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    s
}

/// The capture's `extra`: identity or generation, and a trailing `collate NAME`.
fn split_extra(extra: &str) -> (&str, Option<&str>) {
    if let Some(i) = extra.rfind("collate ")
        && (i == 0 || extra[..i].ends_with(' '))
        && !extra[i..].contains(')')
    {
        return (extra[..i].trim_end(), Some(&extra[i + "collate ".len()..]));
    }
    (extra, None)
}

fn unique(u: &Unique) -> String {
    let (name, nnd) = match &u.name {
        Some(n) => match n.strip_suffix(" nulls not distinct") {
            Some(base) => (Some(base.to_owned()), " NULLS NOT DISTINCT"),
            None => (Some(n.clone()), ""),
        },
        None => (None, ""),
    };
    format!(
        "{}UNIQUE{nnd} ({})",
        constraint(&name),
        idents(D, &u.columns)
    )
}

fn check(c: &Check) -> String {
    if c.expression.starts_with("EXCLUDE") {
        format!("{}{}", constraint(&c.name), c.expression)
    } else {
        format!("{}CHECK {}", constraint(&c.name), c.expression)
    }
}

fn foreign_key(fk: &ForeignKey) -> String {
    let mut s = format!(
        "{}FOREIGN KEY ({}) REFERENCES {} ({})",
        constraint(&fk.name),
        idents(D, &fk.columns),
        qname(D, &fk.references),
        idents(D, &fk.referenced_columns)
    );
    if fk.options.contains("match full") {
        s.push_str(" MATCH FULL");
    }
    for (what, action) in [("UPDATE", &fk.on_update), ("DELETE", &fk.on_delete)] {
        if action != "no action" {
            s.push_str(&format!(" ON {what} {}", action.to_uppercase()));
        }
    }
    if fk.options.contains("deferrable") {
        s.push_str(" DEFERRABLE");
        if fk.options.contains("initially deferred") {
            s.push_str(" INITIALLY DEFERRED");
        }
    }
    if fk.options.contains("not valid") {
        s.push_str(" NOT VALID");
    }
    s
}

/// A sequence's description as the capture writes it.
#[derive(Debug, PartialEq, Eq)]
struct Sequence {
    options: Vec<(String, String)>,
    cycle: bool,
    owner: Option<String>,
}

impl Sequence {
    /// `bigint start 1 increment 1 min 1 max 9223372036854775807 cache 1[ cycle][ owned by t.c]`.
    fn parse(desc: &str) -> Option<Sequence> {
        let (main, owner) = match desc.split_once(" owned by ") {
            Some((m, o)) => (m, Some(o.to_owned())),
            None => (desc, None),
        };
        let (main, cycle) = match main.strip_suffix(" cycle") {
            Some(m) => (m, true),
            None => (main, false),
        };
        let words: Vec<&str> = main.split(' ').collect();
        // The type may be two words (`double precision` is not allowed, but be lenient).
        let start = words.iter().position(|w| *w == "start")?;
        let mut options = vec![("AS".to_owned(), words[..start].join(" "))];
        options.extend(super::sequence_options(&words[start..])?);
        Some(Sequence {
            options,
            cycle,
            owner,
        })
    }

    fn options(&self) -> String {
        let mut s: Vec<String> = self
            .options
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        s.push(if self.cycle { "CYCLE" } else { "NO CYCLE" }.to_owned());
        s.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_read_back_from_their_description() {
        let s = Sequence::parse(
            "integer start 1 increment 1 min 1 max 2147483647 cache 1 owned by users.id",
        )
        .unwrap();
        assert_eq!(s.owner.as_deref(), Some("users.id"));
        assert_eq!(
            s.options(),
            "AS integer START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 CACHE 1 NO CYCLE"
        );
    }

    #[test]
    fn collation_is_split_from_identity() {
        assert_eq!(split_extra("collate C"), ("", Some("C")));
        assert_eq!(
            split_extra("generated always as identity"),
            ("generated always as identity", None)
        );
        assert_eq!(
            split_extra("generated always as ((a || 'collate x')) stored"),
            ("generated always as ((a || 'collate x')) stored", None)
        );
    }
}
