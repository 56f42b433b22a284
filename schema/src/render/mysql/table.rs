//! MySQL/MariaDB's `CREATE TABLE` (keys, indexes and checks inline; foreign keys come later,
//! once every table exists) and the `ALTER TABLE` of a kept table: every change to one table in
//! a single statement, which MySQL runs as one atomic table change (DDL is not transactional,
//! so fewer statements leave fewer half-done states), with new and moved columns placed by
//! `FIRST`/`AFTER` in the declared order.

use super::column::{self, Generated, Options};
use super::{D, table_name};
use crate::model::{Column, Table};
use crate::render::plan::Planner;
use crate::render::{StepKind, ident};

/// `CREATE TABLE` with its columns, primary key, unique keys, indexes and checks.
pub(in crate::render) fn create_table(p: &mut Planner, name: &str, t: &Table) {
    match definition(name, t) {
        Ok(sql) => p.push(StepKind::Change, format!("create table {name}"), vec![sql]),
        Err(why) => p.unrenderable(format!("table {name}: {why}")),
    }
}

fn definition(name: &str, t: &Table) -> Result<String, String> {
    let o = Options::parse(&t.options);
    if let Some(kind) = o.kind {
        return Err(format!(
            "it is {kind}; kiln renders base tables only, write this one by hand"
        ));
    }
    let mut items: Vec<String> = t
        .columns
        .iter()
        .map(column::definition)
        .collect::<Result<_, _>>()?;
    if let Some(pk) = &t.primary_key {
        items.push(format!(
            "PRIMARY KEY ({})",
            column::key_parts(&pk.columns, false)?
        ));
    }
    for u in &t.uniques {
        items.push(unique(u)?);
    }
    for i in &t.indexes {
        items.push(column::index(i, o.engine)?);
    }
    items.extend(t.checks.iter().map(column::check));
    Ok(format!(
        "CREATE TABLE {} (\n  {}\n) {}",
        table_name(name),
        items.join(",\n  "),
        o.sql()
    ))
}

fn unique(u: &crate::model::Unique) -> Result<String, String> {
    let cols = column::key_parts(&u.columns, false)?;
    Ok(match &u.name {
        Some(n) => format!("UNIQUE KEY {} ({cols})", ident(D, n)),
        None => format!("UNIQUE KEY ({cols})"),
    })
}

/// What one table's `ALTER TABLE` gathers: its clauses and a header line per change.
struct Alter {
    clauses: Vec<String>,
    notes: Vec<(StepKind, String)>,
}

impl Alter {
    fn add(&mut self, clause: String, kind: StepKind, note: String) {
        self.clauses.push(clause);
        self.notes.push((kind, note));
    }
}

/// Every change to a kept table but its foreign keys, as one `ALTER TABLE`: drops of keys,
/// indexes, checks and columns first, then columns added, moved and modified in the declared
/// order, then the new keys, indexes and checks.
pub(in crate::render) fn alter_table(p: &mut Planner, n: &str, f: &Table, t: &Table) {
    match alter(n, f, t) {
        Ok(a) => {
            let last = a.notes.len().saturating_sub(1);
            for (i, (kind, note)) in a.notes.into_iter().enumerate() {
                let sql = if i == last && !a.clauses.is_empty() {
                    vec![format!(
                        "ALTER TABLE {}\n  {}",
                        table_name(n),
                        a.clauses.join(",\n  ")
                    )]
                } else {
                    Vec::new()
                };
                p.push(kind, note, sql);
            }
        }
        Err(why) => p.unrenderable(format!("table {n}: {why}")),
    }
}

fn alter(n: &str, f: &Table, t: &Table) -> Result<Alter, String> {
    let (fo, to) = (Options::parse(&f.options), Options::parse(&t.options));
    if fo.kind != to.kind {
        return Err(format!(
            "its kind changes (`{}` → `{}`); write this change by hand",
            f.options, t.options
        ));
    }
    let mut a = Alter {
        clauses: Vec::new(),
        notes: Vec::new(),
    };
    if fo.engine != to.engine && !to.engine.is_empty() {
        a.add(
            format!("ENGINE={}", to.engine),
            StepKind::Warning,
            format!(
                "table {n}: engine {} → {} copies the table",
                fo.engine, to.engine
            ),
        );
    }
    let recollate = fo.collation != to.collation;
    if recollate && let Some(cs) = to.charset() {
        a.add(
            cs,
            StepKind::Change,
            format!(
                "table {n}: collation {} → {} (its text columns are converted)",
                fo.collation, to.collation
            ),
        );
    }
    for i in f.indexes.iter().filter(|i| !t.indexes.contains(i)) {
        let clause = format!("DROP INDEX {}", ident(D, &i.name));
        a.add(
            clause,
            StepKind::Change,
            format!("drop index {} on {n}", i.name),
        );
    }
    for u in f.uniques.iter().filter(|u| !t.uniques.contains(u)) {
        if let Some(name) = &u.name {
            let clause = format!("DROP INDEX {}", ident(D, name));
            a.add(
                clause,
                StepKind::Change,
                format!("drop unique key {name} on {n}"),
            );
        }
    }
    for c in f.checks.iter().filter(|c| !t.checks.contains(c)) {
        if let Some(name) = &c.name {
            let clause = format!("DROP CONSTRAINT {}", ident(D, name));
            a.add(
                clause,
                StepKind::Change,
                format!("drop check {name} on {n}"),
            );
        }
    }
    if f.primary_key.is_some() && f.primary_key != t.primary_key {
        a.add(
            "DROP PRIMARY KEY".into(),
            StepKind::Change,
            format!("drop primary key on {n}"),
        );
    }
    columns(&mut a, n, f, t, recollate)?;
    if let Some(pk) = t
        .primary_key
        .as_ref()
        .filter(|_| f.primary_key != t.primary_key)
    {
        let cols = column::key_parts(&pk.columns, false)?;
        a.add(
            format!("ADD PRIMARY KEY ({cols})"),
            StepKind::Change,
            format!("add primary key ({}) on {n}", pk.columns.join(", ")),
        );
    }
    for u in t.uniques.iter().filter(|u| !f.uniques.contains(u)) {
        let summary = format!("add unique key ({}) on {n}", u.columns.join(", "));
        a.add(format!("ADD {}", unique(u)?), StepKind::Change, summary);
    }
    for i in t.indexes.iter().filter(|i| !f.indexes.contains(i)) {
        let clause = format!("ADD {}", column::index(i, to.engine)?);
        a.add(
            clause,
            StepKind::Change,
            format!("create index {} on {n}", i.name),
        );
    }
    for c in t.checks.iter().filter(|c| !f.checks.contains(c)) {
        let summary = format!("add check {} on {n}", c.expression);
        a.add(
            format!("ADD {}", column::check(c)),
            StepKind::Change,
            summary,
        );
    }
    Ok(a)
}

/// Columns dropped, then the declared order walked once: a column missing at its place is
/// added there, one found later is moved there (`MODIFY ... AFTER`), a changed one is
/// modified. Each clause sees the columns as the previous ones left them, so `AFTER` always
/// names a column already in place.
fn columns(a: &mut Alter, n: &str, f: &Table, t: &Table, recollate: bool) -> Result<(), String> {
    let regenerated = |c: &Column| -> Result<bool, String> {
        Ok(match f.column(&c.name) {
            Some(old) => column::extra(&old.extra)?
                .generated
                .kind_differs(&column::extra(&c.extra)?.generated),
            None => false,
        })
    };
    let mut dropped: Vec<&str> = Vec::new();
    for c in &f.columns {
        match t.column(&c.name) {
            // A generated column's values come back with it: no data is lost.
            None if column::extra(&c.extra)?.generated != Generated::No => a.add(
                format!("DROP COLUMN {}", ident(D, &c.name)),
                StepKind::Change,
                format!("drop generated column {n}.{}", c.name),
            ),
            None => a.add(
                format!("DROP COLUMN {}", ident(D, &c.name)),
                StepKind::Destructive,
                format!("drop column {n}.{} (its data is lost)", c.name),
            ),
            Some(new) if regenerated(new)? => a.add(
                format!("DROP COLUMN {}", ident(D, &c.name)),
                StepKind::Warning,
                format!(
                    "column {n}.{}: `{}` → `{}` is a drop and an add (MySQL cannot modify a column into or out of generation)",
                    c.name,
                    c.describe(),
                    new.describe()
                ),
            ),
            Some(_) => continue,
        }
        dropped.push(&c.name);
    }
    let mut order: Vec<&str> = f
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .filter(|c| !dropped.contains(c))
        .collect();
    for (i, c) in t.columns.iter().enumerate() {
        let place = match i {
            0 => " FIRST".to_owned(),
            _ => format!(" AFTER {}", ident(D, &t.columns[i - 1].name)),
        };
        let def = column::definition(c)?;
        let Some(at) = order.iter().position(|x| *x == c.name) else {
            let placed = if i == order.len() { "" } else { place.as_str() };
            a.add(
                format!("ADD COLUMN {def}{placed}"),
                StepKind::Change,
                format!("add column {n}.{}{}", c.name, place_note(placed)),
            );
            if !c.nullable && c.default.is_none() && c.extra.is_empty() {
                a.notes.push((
                    StepKind::Warning,
                    format!(
                        "column {n}.{} is NOT NULL without a default: existing rows get the type's implicit default (0, '', ...)",
                        c.name
                    ),
                ));
            }
            order.insert(i, &c.name);
            continue;
        };
        let old = f.column(&c.name);
        let changed = old != Some(c) || (recollate && column::textual(c));
        let moved = at != i;
        if !changed && !moved {
            continue;
        }
        let placed = if moved { place.as_str() } else { "" };
        let summary = match old.filter(|o| *o != c) {
            Some(o) => format!(
                "alter column {n}.{}: {} → {}{}",
                c.name,
                o.describe(),
                c.describe(),
                place_note(placed)
            ),
            None if moved => format!("move column {n}.{}{}", c.name, place_note(placed)),
            None => format!("convert column {n}.{} to the table's collation", c.name),
        };
        a.add(
            format!("MODIFY COLUMN {def}{placed}"),
            StepKind::Change,
            summary,
        );
        if let Some(o) = old.filter(|o| o.data_type != c.data_type) {
            a.notes.push((
                StepKind::Warning,
                format!(
                    "column {n}.{}: type {} → {} copies the table; values that do not fit fail (strict mode) or are cut",
                    c.name, o.data_type, c.data_type
                ),
            ));
        }
        if moved {
            order.remove(at);
            order.insert(i, &c.name);
        }
    }
    Ok(())
}

/// ` (after x)` / ` (first)` for a header line, from the `AFTER`/`FIRST` clause.
fn place_note(placed: &str) -> String {
    match placed.trim() {
        "" => String::new(),
        "FIRST" => " (first)".to_owned(),
        p => format!(" ({})", p.replace("AFTER ", "after ").replace('`', "")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Column;

    fn col(name: &str) -> Column {
        Column {
            name: name.into(),
            data_type: "int(11)".into(),
            nullable: true,
            default: None,
            extra: String::new(),
        }
    }

    fn table(cols: &[&str]) -> Table {
        Table {
            options: "engine InnoDB, collation utf8mb4_general_ci".into(),
            columns: cols.iter().map(|c| col(c)).collect(),
            ..Table::default()
        }
    }

    #[test]
    fn new_and_moved_columns_are_placed_in_declared_order() {
        let a = alter(
            "t",
            &table(&["a", "b", "c"]),
            &table(&["x", "a", "c", "b", "y"]),
        )
        .unwrap();
        assert_eq!(
            a.clauses,
            vec![
                "ADD COLUMN `x` int(11) NULL FIRST",
                "MODIFY COLUMN `c` int(11) NULL AFTER `a`",
                "ADD COLUMN `y` int(11) NULL",
            ]
        );
        assert!(a.notes.iter().any(|(_, s)| s == "add column t.x (first)"));
        assert!(
            a.notes
                .iter()
                .any(|(_, s)| s == "move column t.c (after a)")
        );
    }
}
