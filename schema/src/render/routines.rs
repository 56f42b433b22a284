//! Functions and procedures: each engine's spelling of their DDL and where in a migration they
//! are created, replaced and dropped. PostgreSQL's definition is the engine's own `CREATE OR
//! REPLACE` (`pg_get_functiondef`); MySQL/MariaDB's is built by the capture from the catalog.
//!
//! Order: routines that are dropped and created again go once what calls them is gone (the
//! planner drops the triggers and views that call them first); then new and changed routines,
//! callees first, before tables (column defaults and checks may call them) — except a SQL
//! routine whose body names a table this migration creates (PostgreSQL checks a SQL body
//! against the catalog), which comes right after the tables; routines that go are dropped
//! last, after everything that called them, before the types they may use (a SQL routine that
//! names a table that goes, before that table: the mirror image).

use super::plan::{Planner, mentions};
use super::{StepKind, ident, qname};
use crate::model::{Routine, Schema};
use kiln_core::Dialect;
use std::collections::BTreeMap;

/// How a routine present on both sides changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Same,
    /// `CREATE OR REPLACE` can change it in place.
    Replace,
    /// Drop and create: PostgreSQL's `CREATE OR REPLACE` cannot change a kind, the arguments'
    /// names and defaults or the result, and MySQL has no `CREATE OR REPLACE` for routines.
    Recreate,
}

fn change(d: Dialect, old: &Routine, new: &Routine) -> Change {
    if old == new {
        Change::Same
    } else if d == Dialect::Postgres && old.kind == new.kind && old.header == new.header {
        Change::Replace
    } else {
        Change::Recreate
    }
}

/// The routines of `s` by what pairs them across two schemas: the signature on PostgreSQL
/// (overloads are different routines), the kind and name on MySQL/MariaDB (no overloading: a
/// routine whose parameters change is the same routine, changed).
fn keyed(s: &Schema) -> BTreeMap<String, &Routine> {
    s.routines
        .iter()
        .map(|(sig, r)| match s.dialect {
            Dialect::Postgres => (sig.clone(), r),
            _ => (format!("{} {}", r.kind, r.name.to_ascii_lowercase()), r),
        })
        .collect()
}

/// The names of the routines that are dropped and created again: the planner drops the
/// triggers and views that call one before, and creates them again after.
pub(super) fn recreated(from: &Schema, to: &Schema) -> Vec<String> {
    let (old, new) = (keyed(from), keyed(to));
    new.iter()
        .filter(|(k, r)| {
            old.get(*k)
                .is_some_and(|o| change(to.dialect, o, r) == Change::Recreate)
        })
        .map(|(_, r)| r.name.clone())
        .collect()
}

/// Before tables: drops of the routines created again (and, on MySQL, of those that go), then
/// the new and changed routines that need no table of this migration, callees first.
pub(super) fn before_tables(p: &mut Planner, from: &Schema, to: &Schema) {
    let (old, new) = (keyed(from), keyed(to));
    let mut dropped: Vec<&Routine> = new
        .iter()
        .filter_map(|(k, r)| {
            let o = old.get(k)?;
            (change(to.dialect, o, r) == Change::Recreate).then_some(*o)
        })
        .collect();
    let gone = old
        .iter()
        .filter(|(k, _)| !new.contains_key(*k))
        .map(|(_, r)| *r);
    match p.d {
        // The mirror of `after_tables`: a routine that needs a table that goes goes first.
        Dialect::Postgres => dropped.extend(gone.filter(|r| needs_gone_table(r, from, to))),
        // Nothing on MySQL refuses the drop of a routine something calls.
        _ => dropped.extend(gone),
    }
    for r in dependency_order(dropped).into_iter().rev() {
        warn_if_called(p, from, r);
        drop(p, r);
    }
    create(p, from, to, false);
}

/// After tables: the new and changed SQL routines whose body names a table this migration
/// creates.
pub(super) fn after_tables(p: &mut Planner, from: &Schema, to: &Schema) {
    create(p, from, to, true);
}

/// Last: the routines that go (PostgreSQL), callers first, once nothing calls them.
pub(super) fn drop_gone(p: &mut Planner, from: &Schema, to: &Schema) {
    if p.d != Dialect::Postgres {
        return;
    }
    let new = keyed(to);
    let gone: Vec<&Routine> = keyed(from)
        .into_iter()
        .filter(|(k, r)| !new.contains_key(k) && !needs_gone_table(r, from, to))
        .map(|(_, r)| r)
        .collect();
    for r in dependency_order(gone).into_iter().rev() {
        drop(p, r);
    }
}

/// Creates (or replaces) the routines of `to` that are new or changed and, with `late`, only
/// those that need a table this migration creates (without, the others).
fn create(p: &mut Planner, from: &Schema, to: &Schema, late: bool) {
    let old = keyed(from);
    let new_tables: Vec<&String> = to
        .tables
        .keys()
        .filter(|t| !from.tables.contains_key(*t))
        .collect();
    // Each routine to create, and whether it was there before (then it was dropped above,
    // unless it is replaced in place).
    let mut how: Vec<(&Routine, Option<Change>)> = keyed(to)
        .into_iter()
        .map(|(k, r)| (r, old.get(&k).map(|o| change(to.dialect, o, r))))
        .filter(|(r, c)| *c != Some(Change::Same) && needs_new_table(p.d, r, &new_tables) == late)
        .collect();
    let order = dependency_order(how.iter().map(|(r, _)| *r).collect());
    how.sort_by_key(|(r, _)| order.iter().position(|o| std::ptr::eq(*o, *r)));
    for (r, c) in how {
        let what = format!("{} {}", r.kind, label(p.d, r));
        if r.definition.is_empty() {
            p.unrenderable(format!(
                "{what}: the engine prints no CREATE statement for an aggregate; write CREATE AGGREGATE by hand"
            ));
            continue;
        }
        let summary = match c {
            Some(Change::Replace) => format!("replace {what}"),
            Some(_) => format!("drop and create {what} (CREATE OR REPLACE cannot change it)"),
            None => format!("create {what}"),
        };
        p.push(StepKind::Change, summary, vec![r.definition.clone()]);
    }
}

/// PostgreSQL checks a SQL-language body against the catalog when it creates the routine, and
/// any routine's arguments and result against the types (a table's row type among them).
fn needs_new_table(d: Dialect, r: &Routine, new_tables: &[&String]) -> bool {
    if d != Dialect::Postgres {
        return false;
    }
    let checked = if r.description.contains(" language sql") {
        &r.definition
    } else {
        &r.header
    };
    new_tables.iter().any(|t| mentions(checked, t))
}

/// Whether `r` (of `from`) needs a table that `to` no longer has: PostgreSQL keeps a SQL body's
/// dependencies, so it goes before the table.
fn needs_gone_table(r: &Routine, from: &Schema, to: &Schema) -> bool {
    let gone: Vec<&String> = from
        .tables
        .keys()
        .filter(|t| !to.tables.contains_key(*t))
        .collect();
    needs_new_table(Dialect::Postgres, r, &gone)
}

/// A column default, check constraint or index that calls a routine refuses its drop; kiln
/// does not drop and add those around it, so the revision needs a hand.
fn warn_if_called(p: &mut Planner, from: &Schema, r: &Routine) {
    if p.d != Dialect::Postgres {
        return;
    }
    let callers: Vec<String> = from
        .tables
        .iter()
        .filter(|(_, t)| {
            t.columns
                .iter()
                .any(|c| c.default.as_deref().is_some_and(|x| mentions(x, &r.name)))
                || t.checks.iter().any(|c| mentions(&c.expression, &r.name))
                || t.indexes.iter().any(|i| mentions(&i.definition, &r.name))
        })
        .map(|(n, _)| n.clone())
        .collect();
    if !callers.is_empty() {
        p.push(
            StepKind::Warning,
            format!(
                "{} {} is dropped and created again, but a default, check or index of {} calls it: PostgreSQL refuses the drop; drop and add those around it by hand",
                r.kind,
                label(p.d, r),
                callers.join(", ")
            ),
            Vec::new(),
        );
    }
}

fn drop(p: &mut Planner, r: &Routine) {
    let what = format!("{} {}", r.kind, label(p.d, r));
    let sql = match (p.d, r.kind.as_str()) {
        (Dialect::Postgres, "procedure") => format!("DROP PROCEDURE {}", signature(p.d, r)),
        (Dialect::Postgres, "aggregate") => format!("DROP AGGREGATE {}", signature(p.d, r)),
        (Dialect::Postgres, _) => format!("DROP FUNCTION {}", signature(p.d, r)),
        (_, kind) => format!("DROP {} {}", kind.to_ascii_uppercase(), ident(p.d, &r.name)),
    };
    p.push(StepKind::Change, format!("drop {what}"), vec![sql]);
}

/// How a header line names a routine: as DDL does on PostgreSQL (the arguments tell overloads
/// apart), by its bare name on MySQL, as tables and triggers are named there.
fn label(d: Dialect, r: &Routine) -> String {
    match d {
        Dialect::Postgres => signature(d, r),
        _ => r.name.clone(),
    }
}

/// How DDL names a routine: with its identity arguments on PostgreSQL, by name on MySQL.
fn signature(d: Dialect, r: &Routine) -> String {
    match d {
        Dialect::Postgres => format!("{}({})", qname(d, &r.name), r.identity),
        _ => ident(d, &r.name),
    }
}

/// `routines` ordered so each comes after the routines its definition calls (then as given);
/// a cycle (mutual recursion) falls back to the given order.
fn dependency_order(mut left: Vec<&Routine>) -> Vec<&Routine> {
    let mut out = Vec::new();
    while !left.is_empty() {
        let calls = |a: &Routine, b: &Routine| a.name != b.name && mentions(&a.definition, &b.name);
        let ready: Vec<&Routine> = left
            .iter()
            .copied()
            .filter(|a| !left.iter().any(|b| calls(a, b)))
            .collect();
        let take = if ready.is_empty() {
            left.clone()
        } else {
            ready
        };
        left.retain(|r| !take.iter().any(|t| std::ptr::eq(*t, *r)));
        out.extend(take);
    }
    out
}

/// One statement of the migration file, terminated. MySQL/MariaDB routine (and trigger) bodies
/// hold `;`, so such a statement gets a `DELIMITER` of its own, as `mysqldump` writes them
/// (kiln's splitter reads `DELIMITER` lines as the `mysql` client does).
pub(super) fn terminated(d: Dialect, statement: &str) -> String {
    if d != Dialect::MySql || !statement.contains(';') {
        return format!("{statement};\n");
    }
    let delimiter = ["//", "$$", ";;", "@@kiln@@"]
        .into_iter()
        .find(|x| !statement.contains(x))
        .unwrap_or("@@kiln@@");
    format!("DELIMITER {delimiter}\n{statement}{delimiter}\nDELIMITER ;\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mysql(routines: &[(&str, &str, &str)]) -> Schema {
        let mut s = Schema::empty(Dialect::MySql);
        for (sig, kind, definition) in routines {
            let name = sig.split('(').next().unwrap_or(sig).to_owned();
            s.routines.insert(
                (*sig).to_owned(),
                Routine {
                    description: format!("{kind}: {definition}"),
                    kind: (*kind).to_owned(),
                    name,
                    definition: (*definition).to_owned(),
                    ..Routine::default()
                },
            );
        }
        s
    }

    /// The MySQL/MariaDB text (its table renderer is another file's): a routine whose
    /// parameters change is the same routine, dropped and created; bodies get a `DELIMITER`
    /// and kiln's splitter reads the file back as exactly the statements rendered.
    #[test]
    fn mysql_routines_are_dropped_created_and_delimited() {
        let body = "CREATE FUNCTION `f`(`x` int, `y` int) RETURNS int\n    DETERMINISTIC\nBEGIN\n  DECLARE z int;\n  SET z = x + y; -- a // comment\n  RETURN z;\nEND";
        let from = mysql(&[
            (
                "f(IN x int)",
                "function",
                "CREATE FUNCTION `f`(`x` int) RETURNS int RETURN x",
            ),
            ("gone()", "procedure", "CREATE PROCEDURE `gone`() SELECT 1"),
        ]);
        let to = mysql(&[("f(IN x int, IN y int)", "function", body)]);
        assert_eq!(recreated(&from, &to), ["f"]);
        let mut p = Planner::new(Dialect::MySql);
        before_tables(&mut p, &from, &to);
        after_tables(&mut p, &from, &to);
        drop_gone(&mut p, &from, &to);
        let m = p.finish();
        let summaries: Vec<&str> = m.steps.iter().map(|s| s.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "drop procedure gone",
                "drop function f",
                "drop and create function f (CREATE OR REPLACE cannot change it)"
            ]
        );
        let sql = m.sql();
        assert!(
            sql.contains(&format!(
                "DROP FUNCTION `f`;\n\nDELIMITER $$\n{body}$$\nDELIMITER ;\n"
            )),
            "{sql}"
        );
        let split = kiln_core::split::split(&sql, Dialect::MySql).unwrap();
        let statements: Vec<&str> = split.iter().map(|s| s.sql).collect();
        assert_eq!(
            statements,
            ["DROP PROCEDURE `gone`", "DROP FUNCTION `f`", body]
        );
    }

    #[test]
    fn postgres_replaces_in_place_only_what_create_or_replace_can_change() {
        let r = |header: &str, body: &str| Routine {
            description: body.to_owned(),
            kind: "function".into(),
            header: header.into(),
            ..Routine::default()
        };
        let d = Dialect::Postgres;
        assert_eq!(
            change(
                d,
                &r("(x integer) integer", "a"),
                &r("(x integer) integer", "a")
            ),
            Change::Same
        );
        assert_eq!(
            change(
                d,
                &r("(x integer) integer", "a"),
                &r("(x integer) integer", "b")
            ),
            Change::Replace
        );
        assert_eq!(
            change(
                d,
                &r("(x integer) integer", "a"),
                &r("(x integer) bigint", "b")
            ),
            Change::Recreate
        );
        assert_eq!(
            change(Dialect::MySql, &r("", "a"), &r("", "b")),
            Change::Recreate
        );
        assert_eq!(terminated(d, "SELECT 1; SELECT 2"), "SELECT 1; SELECT 2;\n");
    }
}
