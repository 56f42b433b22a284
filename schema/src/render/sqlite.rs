//! SQLite's spelling of each change. `ALTER TABLE` can only add a plain column at the end and
//! drop an unconstrained one; every other change to a table is the documented rebuild: keep the
//! rows aside, drop the old table, create the new one, copy the rows back, recreate its indexes
//! (the planner recreates triggers and views after any rebuild). Rows that reference a rebuilt
//! table stay valid: see [`rebuild`].

use super::plan::{Planner, children_first};
use super::{StepKind, ident, idents};
use crate::model::{Column, ForeignKey, Schema, Table};
use kiln_core::Dialect;
use std::collections::BTreeSet;

const D: Dialect = Dialect::Sqlite;

/// Whether turning `f` into `t` needs a rebuild rather than `ALTER TABLE`.
pub(super) fn needs_rebuild(f: &Table, t: &Table) -> bool {
    if f == t {
        return false;
    }
    let same_constraints = f.options == t.options
        && f.primary_key == t.primary_key
        && f.foreign_keys == t.foreign_keys
        && f.uniques == t.uniques
        && f.checks == t.checks;
    if !same_constraints {
        return true;
    }
    // Kept columns unchanged and in order; new ones at the end, addable; dropped ones free.
    let kept: Vec<&Column> = f
        .columns
        .iter()
        .filter(|c| t.column(&c.name).is_some())
        .collect();
    let declared: Vec<&Column> = t
        .columns
        .iter()
        .filter(|c| f.column(&c.name).is_some())
        .collect();
    if kept != declared
        || t.columns[..declared.len()]
            .iter()
            .ne(declared.iter().copied())
    {
        return true;
    }
    let added_ok = t.columns[declared.len()..].iter().all(addable);
    let dropped_ok = f
        .columns
        .iter()
        .filter(|c| t.column(&c.name).is_none())
        .all(|c| droppable(f, c));
    !(added_ok && dropped_ok)
}

/// `ALTER TABLE ADD COLUMN` takes a column that is nullable or has a constant default, and is
/// not generated.
fn addable(c: &Column) -> bool {
    if !c.extra.is_empty() {
        return false;
    }
    match c.default.as_deref() {
        None => c.nullable,
        Some(d) => {
            let u = d.to_ascii_uppercase();
            let constant = !d.starts_with('(') && !u.starts_with("CURRENT_");
            constant && (c.nullable || u != "NULL")
        }
    }
}

/// `ALTER TABLE DROP COLUMN` refuses a column that a key, constraint or index uses.
fn droppable(t: &Table, c: &Column) -> bool {
    let uses = |cols: &[String]| cols.iter().any(|x| x == &c.name);
    !t.primary_key.as_ref().is_some_and(|p| uses(&p.columns))
        && !t.uniques.iter().any(|u| uses(&u.columns))
        && !t.foreign_keys.iter().any(|f| uses(&f.columns))
        && !t
            .checks
            .iter()
            .any(|k| super::plan::mentions(&k.expression, &c.name))
        && c.extra.is_empty()
}

/// `CREATE TABLE` with everything inline (SQLite has no `ADD CONSTRAINT`).
pub(super) fn create_table(p: &mut Planner, name: &str, t: &Table) {
    match definition(name, t) {
        Ok(sql) => p.push(StepKind::Change, format!("create table {name}"), vec![sql]),
        Err(why) => p.unrenderable(format!("table {name}: {why}")),
    }
}

/// Indexes that go or change, then columns dropped and added (the only changes that reach
/// here: see [`needs_rebuild`]).
pub(super) fn alter_table(p: &mut Planner, n: &str, f: &Table, t: &Table) {
    for i in f.indexes.iter().filter(|i| !t.indexes.contains(i)) {
        p.push(
            StepKind::Change,
            format!("drop index {} on {n}", i.name),
            vec![format!("DROP INDEX {}", ident(D, &i.name))],
        );
    }
    for c in f.columns.iter().filter(|c| t.column(&c.name).is_none()) {
        p.push(
            StepKind::Destructive,
            format!("drop column {n}.{} (its data is lost)", c.name),
            vec![format!(
                "ALTER TABLE {} DROP COLUMN {}",
                ident(D, n),
                ident(D, &c.name)
            )],
        );
    }
    for c in t.columns.iter().filter(|c| f.column(&c.name).is_none()) {
        p.push(
            StepKind::Change,
            format!("add column {n}.{}", c.name),
            vec![format!(
                "ALTER TABLE {} ADD COLUMN {}",
                ident(D, n),
                column(c, false)
            )],
        );
    }
}

/// The tables to rebuild: those `ALTER TABLE` cannot change, and every table with a foreign key
/// to one of them whose `ON DELETE` acts (`CASCADE`, `SET NULL`, `SET DEFAULT`, `RESTRICT`):
/// dropping the old parent would act on its rows, so it is rebuilt too (transitively). Rows of a
/// `NO ACTION` child only count as violations until the parent's rows are back (see
/// [`rebuild`]), so such a child is left alone.
pub(super) fn rebuilt(from: &Schema, to: &Schema) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = from
        .tables
        .iter()
        .filter(|(n, f)| to.tables.get(*n).is_some_and(|t| needs_rebuild(f, t)))
        .map(|(n, _)| n.clone())
        .collect();
    loop {
        let more: Vec<String> = from
            .tables
            .iter()
            .filter(|(n, f)| {
                !set.contains(*n)
                    && to.tables.contains_key(*n)
                    && f.foreign_keys
                        .iter()
                        .any(|k| set.contains(&k.references) && k.on_delete != "no action")
            })
            .map(|(n, _)| n.clone())
            .collect();
        if more.is_empty() {
            return set;
        }
        set.extend(more);
    }
}

/// The rebuild of [`rebuilt`]'s tables: SQLite's documented procedure, inside kiln's transaction
/// (where `PRAGMA foreign_keys = OFF` does nothing). Foreign-key checks are deferred to the
/// commit; each table's rows are kept in a plain `_kiln_old_t` copy; the old tables are dropped,
/// children first (a drop counts the rows that still reference the table as violations); the new
/// tables are created under their own names, parents first, and the rows copied back, which
/// clears those violations again as each referenced row returns; the copies are dropped.
pub(super) fn rebuild(p: &mut Planner, set: &BTreeSet<String>, from: &Schema, to: &Schema) {
    let old = |n: &str| ident(D, &format!("_kiln_old_{n}"));
    let names: Vec<&String> = set.iter().collect();
    let parents_first: Vec<&String> = children_first(to, &names).into_iter().rev().collect();
    let (mut creates, mut copies, mut cleanup) = (Vec::new(), Vec::new(), Vec::new());
    for n in &parents_first {
        let (f, t) = (&from.tables[n.as_str()], &to.tables[n.as_str()]);
        match definition(n, t) {
            Ok(d) => creates.push(d),
            Err(why) => {
                p.unrenderable(format!("table {n}: {why}"));
                return;
            }
        }
        let copied: Vec<String> = t
            .columns
            .iter()
            .filter(|c| c.extra.is_empty() && f.column(&c.name).is_some_and(|o| o.extra.is_empty()))
            .map(|c| c.name.clone())
            .collect();
        let cols = idents(D, &copied);
        copies.push(format!(
            "INSERT INTO {} ({cols}) SELECT {cols} FROM {}",
            ident(D, n),
            old(n)
        ));
        cleanup.push(format!("DROP TABLE {}", old(n)));
        let (kind, summary) = describe_rebuild(n, f, t, set);
        let mut sql = Vec::new();
        if creates.len() == 1 {
            sql.push("PRAGMA defer_foreign_keys = ON".to_owned());
        }
        sql.push(format!(
            "CREATE TABLE {} AS SELECT * FROM {}",
            old(n),
            ident(D, n)
        ));
        p.push(kind, summary, sql);
    }
    let mut swap: Vec<String> = children_first(from, &names)
        .into_iter()
        .map(|n| format!("DROP TABLE {}", ident(D, n)))
        .collect();
    swap.extend(creates);
    swap.extend(copies);
    swap.extend(cleanup);
    p.push(
        StepKind::Change,
        format!(
            "replace {} with the rebuilt tables and copy the rows back (foreign keys checked at commit)",
            names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
        ),
        swap,
    );
}

/// The header line of one table's rebuild: what changes, and what is lost.
fn describe_rebuild(n: &str, f: &Table, t: &Table, set: &BTreeSet<String>) -> (StepKind, String) {
    let lost: Vec<&str> = f
        .columns
        .iter()
        .filter(|c| t.column(&c.name).is_none())
        .map(|c| c.name.as_str())
        .collect();
    let mut changes = Vec::new();
    for c in &t.columns {
        match f.column(&c.name) {
            None => changes.push(format!("add column {}", c.name)),
            Some(o) if o != c => changes.push(format!(
                "column {}: {} → {}",
                c.name,
                o.describe(),
                c.describe()
            )),
            _ => {}
        }
    }
    for c in &lost {
        changes.push(format!("drop column {c}"));
    }
    for (differs, what) in [
        (f.primary_key != t.primary_key, "primary key"),
        (f.foreign_keys != t.foreign_keys, "foreign keys"),
        (f.uniques != t.uniques, "unique constraints"),
        (f.checks != t.checks, "check constraints"),
    ] {
        if differs {
            changes.push(what.into());
        }
    }
    if f.options != t.options {
        changes.push(format!("options `{}` → `{}`", f.options, t.options));
    }
    if changes.is_empty() && f != t {
        changes.push("column order".into());
    }
    if changes.is_empty() {
        let parents: Vec<&str> = f
            .foreign_keys
            .iter()
            .map(|k| k.references.as_str())
            .filter(|r| set.contains(*r) && *r != n)
            .collect();
        changes.push(format!(
            "unchanged; the ON DELETE of its reference to {} would act on its rows",
            parents.join(", ")
        ));
    }
    let summary = format!(
        "rebuild table {n} ({}){}",
        changes.join("; "),
        if lost.is_empty() {
            String::new()
        } else {
            format!(": the data of {} is lost", lost.join(", "))
        }
    );
    match lost.is_empty() {
        true => (StepKind::Change, summary),
        false => (StepKind::Destructive, summary),
    }
}

/// The whole `CREATE TABLE` statement, or why the model cannot spell it.
fn definition(name: &str, t: &Table) -> Result<String, String> {
    if t.options.contains("virtual") {
        return Err("virtual tables are not rendered (their module arguments are not in the model); write CREATE VIRTUAL TABLE by hand".into());
    }
    if let Some(c) = t.columns.iter().find(|c| !c.extra.is_empty()) {
        return Err(format!(
            "column {} is `{}`: SQLite's catalog does not give kiln the expression, write the table by hand",
            c.name, c.extra
        ));
    }
    let autoincrement = t.options.contains("autoincrement");
    let inline_pk = match &t.primary_key {
        Some(pk) if autoincrement && pk.columns.len() == 1 => Some(pk.columns[0].as_str()),
        _ => None,
    };
    let mut items: Vec<String> = t
        .columns
        .iter()
        .map(|c| column(c, inline_pk == Some(c.name.as_str())))
        .collect();
    if let (Some(pk), None) = (&t.primary_key, inline_pk) {
        items.push(format!("PRIMARY KEY ({})", keys(&pk.columns)));
    }
    for u in &t.uniques {
        items.push(format!("UNIQUE ({})", keys(&u.columns)));
    }
    for c in &t.checks {
        let name = c
            .name
            .as_ref()
            .map(|n| format!("CONSTRAINT {} ", ident(D, n)))
            .unwrap_or_default();
        items.push(format!("{name}CHECK ({})", c.expression));
    }
    items.extend(t.foreign_keys.iter().map(foreign_key));
    let mut options = Vec::new();
    if t.options.contains("without rowid") {
        options.push("WITHOUT ROWID");
    }
    if t.options.contains("strict") {
        options.push("STRICT");
    }
    Ok(format!(
        "CREATE TABLE {} (\n    {}\n){}",
        ident(D, name),
        items.join(",\n    "),
        if options.is_empty() {
            String::new()
        } else {
            format!(" {}", options.join(", "))
        }
    ))
}

/// Key columns as the capture writes them: a bare name, or a name with `collate`/`desc`.
fn keys(cols: &[String]) -> String {
    cols.iter()
        .map(|c| match c.split_once(' ') {
            Some((name, rest)) => format!("{} {rest}", ident(D, name)),
            None => ident(D, c),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn column(c: &Column, pk_autoincrement: bool) -> String {
    let mut s = ident(D, &c.name);
    if !c.data_type.is_empty() {
        s.push(' ');
        s.push_str(&c.data_type);
    }
    if pk_autoincrement {
        s.push_str(" PRIMARY KEY AUTOINCREMENT");
    }
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    s
}

fn foreign_key(fk: &ForeignKey) -> String {
    let target = if fk.referenced_columns.iter().any(|c| c == "<primary key>") {
        String::new()
    } else {
        format!(" ({})", idents(D, &fk.referenced_columns))
    };
    let mut s = format!(
        "FOREIGN KEY ({}) REFERENCES {}{target}",
        idents(D, &fk.columns),
        ident(D, &fk.references)
    );
    for (what, action) in [("UPDATE", &fk.on_update), ("DELETE", &fk.on_delete)] {
        if action != "no action" {
            s.push_str(&format!(" ON {what} {}", action.to_uppercase()));
        }
    }
    if let Some(m) = fk.options.strip_prefix("match ") {
        s.push_str(&format!(" MATCH {}", m.to_uppercase()));
    }
    s
}
