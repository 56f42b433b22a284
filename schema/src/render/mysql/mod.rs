//! MySQL/MariaDB's spelling of each change: tables with their keys, indexes and checks
//! (`table.rs`, one `ALTER TABLE` per kept table), columns and key parts (`column.rs`); here,
//! what the planner runs around them: foreign keys dropped first and added once every table
//! exists, MariaDB sequences, views, and triggers recreated in their firing order.
//!
//! MySQL commits every DDL statement on its own, so a migration that fails half-way is left
//! half-applied; kiln's runtime marks such a revision (see docs/runtime.md), and the proof on
//! dev databases is what catches a bad rendering before it reaches a real one.

use super::plan::Planner;
use super::{StepKind, ident};
use crate::model::{ForeignKey, Schema, Trigger};
use kiln_core::Dialect;

mod column;
mod table;

pub(in crate::render) use column::table_name;
pub(in crate::render) use table::{alter_table, create_table};

const D: Dialect = Dialect::MySql;

/// Whether a kept foreign key must be dropped and added again: the keys or indexes of the
/// table it references change, and MySQL refuses to drop an index a foreign key needs.
fn rebound(from: &Schema, to: &Schema, fk: &ForeignKey) -> bool {
    match (
        from.tables.get(&fk.references),
        to.tables.get(&fk.references),
    ) {
        (Some(f), Some(t)) => {
            f.primary_key != t.primary_key || f.uniques != t.uniques || f.indexes != t.indexes
        }
        _ => false,
    }
}

/// Foreign keys that go or change, on every table (a dropped table's too, so tables that
/// reference each other can be dropped in any order), and those whose referenced keys
/// change; sequences created or altered.
pub(super) fn before_tables(p: &mut Planner, from: &Schema, to: &Schema) {
    for (n, f) in &from.tables {
        let kept = to.tables.get(n);
        for fk in &f.foreign_keys {
            if kept.is_some_and(|t| t.foreign_keys.contains(fk)) && !rebound(from, to, fk) {
                continue;
            }
            let Some(name) = &fk.name else { continue };
            p.push(
                StepKind::Change,
                format!("drop foreign key {name} on {n}"),
                vec![format!(
                    "ALTER TABLE {} DROP FOREIGN KEY {}",
                    table_name(n),
                    ident(D, name)
                )],
            );
        }
    }
    for (n, desc) in &to.sequences {
        let Some(options) = sequence(desc) else {
            p.unrenderable(format!("sequence {n}: cannot read `{desc}`"));
            continue;
        };
        match from.sequences.get(n) {
            None => p.push(
                StepKind::Change,
                format!("create sequence {n}"),
                vec![format!("CREATE SEQUENCE {} {options}", table_name(n))],
            ),
            Some(old) if old != desc => p.push(
                StepKind::Change,
                format!("alter sequence {n}"),
                vec![format!("ALTER SEQUENCE {} {options}", table_name(n))],
            ),
            Some(_) => {}
        }
    }
}

/// Foreign keys that are new, changed or rebound, once every table and index exists (an index
/// named like the key is then used by it instead of a second one being made).
pub(super) fn after_tables(p: &mut Planner, from: &Schema, to: &Schema) {
    super::plan::add_foreign_keys(
        p,
        from,
        to,
        |fk| rebound(from, to, fk),
        |n, fk| {
            format!(
                "ALTER TABLE {} ADD {}",
                table_name(n),
                column::foreign_key(fk)
            )
        },
    );
}

/// Sequences nothing declares any more.
pub(super) fn last(p: &mut Planner, from: &Schema, to: &Schema) {
    for n in from
        .sequences
        .keys()
        .filter(|n| !to.sequences.contains_key(*n))
    {
        p.push(
            StepKind::Change,
            format!("drop sequence {n}"),
            vec![format!("DROP SEQUENCE {}", table_name(n))],
        );
    }
}

/// `start S increment I min A max B cache C[ cycle]` as `CREATE`/`ALTER SEQUENCE` options.
fn sequence(desc: &str) -> Option<String> {
    let (main, cycle) = match desc.strip_suffix(" cycle") {
        Some(m) => (m, "CYCLE"),
        None => (desc, "NOCYCLE"),
    };
    let words: Vec<&str> = main.split(' ').collect();
    let mut out: Vec<String> = super::sequence_options(&words)?
        .into_iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    out.push(cycle.to_owned());
    Some(out.join(" "))
}

/// A view from its captured query (and check option).
pub(super) fn create_view(name: &str, def: &str) -> String {
    for option in ["cascaded", "local"] {
        if let Some(q) = def.strip_suffix(&format!(" with {option} check option")) {
            return format!(
                "CREATE VIEW {} AS {q} WITH {} CHECK OPTION",
                table_name(name),
                option.to_uppercase()
            );
        }
    }
    format!("CREATE VIEW {} AS {def}", table_name(name))
}

/// A trigger's captured definition taken apart: `TIMING EVENT for each row (order N): body`.
struct Parsed<'a> {
    timing_event: &'a str,
    order: u32,
    body: &'a str,
}

fn parse_trigger(def: &str) -> Option<Parsed<'_>> {
    let (head, body) = def.split_once("): ")?;
    let (timing_event, order) = head.split_once(" for each row (order ")?;
    Some(Parsed {
        timing_event,
        order: order.parse().ok()?,
        body,
    })
}

/// Creates the triggers in `create` (keys of `to.triggers`) in their declared firing order:
/// each after the one that precedes it on its table and event (`FOLLOWS`), created earlier here
/// or kept. The first of a table and event goes before the first kept one (`PRECEDES`): the
/// triggers dropped before it may have left a kept one first.
pub(super) fn create_triggers(p: &mut Planner, to: &Schema, create: &[&String]) {
    let mut todo: Vec<(&String, &Trigger, Parsed<'_>)> = Vec::new();
    for k in create {
        let t = &to.triggers[k.as_str()];
        match parse_trigger(&t.definition) {
            Some(parsed) => todo.push((k, t, parsed)),
            None => p.unrenderable(format!("trigger {k}: cannot read `{}`", t.definition)),
        }
    }
    todo.sort_by(|a, b| {
        (&a.1.table, a.2.timing_event, a.2.order).cmp(&(&b.1.table, b.2.timing_event, b.2.order))
    });
    // The declared triggers of a table and event, in firing order: (order, name, kept).
    let group = |table: &str, te: &str| -> Vec<(u32, &str, bool)> {
        let mut g: Vec<(u32, &str, bool)> = to
            .triggers
            .iter()
            .filter(|(_, t)| t.table == table)
            .filter_map(|(k, t)| {
                let parsed = parse_trigger(&t.definition)?;
                let name = k.split(" on ").next().unwrap_or(k);
                let kept = !create.contains(&k);
                (parsed.timing_event == te).then_some((parsed.order, name, kept))
            })
            .collect();
        g.sort();
        g
    };
    for (k, t, parsed) in todo {
        let name = k.split(" on ").next().unwrap_or(k);
        let g = group(&t.table, parsed.timing_event);
        let place = match g.iter().position(|(_, n, _)| *n == name) {
            Some(0) | None => g
                .iter()
                .find(|(_, _, kept)| *kept)
                .map(|(_, other, _)| format!(" PRECEDES {}", ident(D, other)))
                .unwrap_or_default(),
            Some(i) => format!(" FOLLOWS {}", ident(D, g[i - 1].1)),
        };
        p.push(
            StepKind::Change,
            format!("create trigger {k}"),
            vec![format!(
                "CREATE TRIGGER {} {} ON {} FOR EACH ROW{place} {}",
                ident(D, name),
                parsed.timing_event,
                table_name(&t.table),
                if t.source.is_empty() {
                    parsed.body
                } else {
                    &t.source
                }
            )],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_and_views_read_back() {
        assert_eq!(
            sequence("start 5 increment 2 min 1 max 100 cache 1000 cycle").as_deref(),
            Some("START WITH 5 INCREMENT BY 2 MINVALUE 1 MAXVALUE 100 CACHE 1000 CYCLE")
        );
        assert_eq!(sequence("start 5 increment"), None);
        assert_eq!(
            create_view("v", "select 1 AS `1` with local check option"),
            "CREATE VIEW `v` AS select 1 AS `1` WITH LOCAL CHECK OPTION"
        );
        let t = parse_trigger("BEFORE INSERT for each row (order 2): SET NEW.a = 1").unwrap();
        assert_eq!(
            (t.timing_event, t.order, t.body),
            ("BEFORE INSERT", 2, "SET NEW.a = 1")
        );
    }
}
