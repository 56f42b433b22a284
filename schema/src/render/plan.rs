//! The planner: which objects change between two schemas, and in which order their SQL runs.
//!
//! Order (the downgrade is the same planner run the other way, so it is reversed by
//! construction): renames; drops of triggers, views, foreign keys, indexes and constraints that
//! go or change; types, sequences and schemas that objects will need; routines (see
//! `routines.rs`); tables dropped (children first), created and altered; then foreign keys,
//! routines that need a new table, indexes, views (dependencies first) and triggers; last the
//! drops of what nothing uses any more (routines first).

use super::{Migration, Rename, Step, StepKind, mysql, postgres, qname, routines, sqlite};
use crate::model::{Schema, Table};
use kiln_core::Dialect;
use std::collections::{BTreeMap, BTreeSet};

/// The migration that turns `from` into `to`, applying `renames` (named as in `from`) first.
pub fn plan(from: &Schema, to: &Schema, renames: &[Rename]) -> Migration {
    let d = to.dialect;
    let mut p = Planner {
        d,
        steps: Vec::new(),
    };
    let mut from = from.clone();
    for r in renames {
        p.rename(&mut from, r);
    }
    p.possible_renames(&from, to);
    let from = &from;

    let rebuilt: BTreeSet<String> = match d {
        Dialect::Sqlite => sqlite::rebuilt(from, to),
        _ => BTreeSet::new(),
    };
    let any_rebuild = !rebuilt.is_empty();
    // Routines dropped and created again take the triggers and views that call them along.
    let recreated = routines::recreated(from, to);
    let calls_recreated = |sql: &str| recreated.iter().any(|r| mentions(sql, r));

    // Triggers and views go first: they may depend on anything below.
    let drop_trigger = |k: &String| {
        let t = &from.triggers[k];
        to.tables.contains_key(&t.table)
            && (any_rebuild || to.triggers.get(k) != Some(t) || calls_recreated(&t.definition))
            && !rebuilt.contains(&t.table)
    };
    for k in from.triggers.keys().filter(|k| drop_trigger(k)) {
        let t = &from.triggers[k];
        let name = k.split(" on ").next().unwrap_or(k);
        p.push(
            StepKind::Change,
            format!("drop trigger {k}"),
            vec![match d {
                Dialect::Postgres => format!(
                    "DROP TRIGGER {} ON {}",
                    super::ident(d, name),
                    qname(d, &t.table)
                ),
                _ => format!("DROP TRIGGER {}", super::ident(d, name)),
            }],
        );
    }
    let view_changes = views_to_replace(from, to, any_rebuild, &calls_recreated);
    for v in view_order(from, &view_changes.dropped).iter().rev() {
        let def = &from.views[v];
        let kind = if def.starts_with("materialized:") {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        p.push(
            StepKind::Change,
            format!("drop view {v}"),
            vec![format!("DROP {kind} {}", qname(d, v))],
        );
    }

    match d {
        Dialect::Postgres => postgres::before_tables(&mut p, from, to),
        Dialect::MySql => mysql::before_tables(&mut p, from, to),
        _ => {}
    }
    routines::before_tables(&mut p, from, to);

    // Tables that go: children before the tables they reference.
    let gone: Vec<&String> = from
        .tables
        .keys()
        .filter(|n| !to.tables.contains_key(*n))
        .collect();
    for n in children_first(from, &gone) {
        p.push(
            StepKind::Destructive,
            format!("drop table {n} (its rows are lost)"),
            vec![format!("DROP TABLE {}", qname(d, n))],
        );
    }
    for (n, t) in to
        .tables
        .iter()
        .filter(|(n, _)| !from.tables.contains_key(*n))
    {
        match d {
            Dialect::Postgres => postgres::create_table(&mut p, n, t),
            Dialect::MySql => mysql::create_table(&mut p, n, t),
            _ => sqlite::create_table(&mut p, n, t),
        }
    }
    for (n, t) in &to.tables {
        let Some(f) = from.tables.get(n) else {
            continue;
        };
        if f == t {
            continue;
        }
        match d {
            Dialect::Postgres => postgres::alter_table(&mut p, n, f, t),
            Dialect::MySql => mysql::alter_table(&mut p, n, f, t),
            _ if rebuilt.contains(n) => {}
            _ => sqlite::alter_table(&mut p, n, f, t),
        }
    }
    if !rebuilt.is_empty() {
        sqlite::rebuild(&mut p, &rebuilt, from, to);
    }
    match d {
        Dialect::Postgres => postgres::after_tables(&mut p, from, to),
        Dialect::MySql => mysql::after_tables(&mut p, from, to),
        _ => {}
    }
    routines::after_tables(&mut p, from, to);

    // Indexes of new, changed and rebuilt tables (a rebuild drops every index of its table).
    // MySQL's are part of its CREATE and ALTER TABLE.
    for (n, t) in to.tables.iter().filter(|_| d != Dialect::MySql) {
        let old = from.tables.get(n).filter(|_| !rebuilt.contains(n));
        for i in &t.indexes {
            if old.is_some_and(|o| o.indexes.contains(i)) {
                continue;
            }
            p.push(
                StepKind::Change,
                format!("create index {} on {n}", i.name),
                vec![create_index(d, n, i)],
            );
        }
    }
    for v in view_order(to, &view_changes.created) {
        p.push(
            StepKind::Change,
            format!("create view {v}"),
            vec![create_view(d, &v, &to.views[&v])],
        );
    }
    let created: Vec<&String> = to
        .triggers
        .iter()
        .filter(|(k, t)| {
            any_rebuild
                || from.triggers.get(*k) != Some(t)
                || !from.tables.contains_key(&t.table)
                || calls_recreated(&t.definition)
                || rebuilt.contains(&t.table)
        })
        .map(|(k, _)| k)
        .collect();
    if d == Dialect::MySql {
        mysql::create_triggers(&mut p, to, &created);
    }
    for k in created.iter().filter(|_| d != Dialect::MySql) {
        p.push(
            StepKind::Change,
            format!("create trigger {k}"),
            vec![to.triggers[k.as_str()].definition.clone()],
        );
    }
    routines::drop_gone(&mut p, from, to);
    match d {
        Dialect::Postgres => postgres::last(&mut p, from, to),
        Dialect::MySql => mysql::last(&mut p, from, to),
        _ => {}
    }
    p.finish()
}

/// Collects the steps; the engine files add to it.
pub(super) struct Planner {
    pub(super) d: Dialect,
    steps: Vec<Step>,
}

impl Planner {
    pub(super) fn push(&mut self, kind: StepKind, summary: String, sql: Vec<String>) {
        self.steps.push(Step { kind, summary, sql });
    }

    pub(super) fn unrenderable(&mut self, summary: impl Into<String>) {
        self.push(StepKind::Unrenderable, summary.into(), Vec::new());
    }

    /// An empty planner, for the engine files' unit tests.
    #[cfg(test)]
    pub(super) fn new(d: Dialect) -> Planner {
        Planner {
            d,
            steps: Vec::new(),
        }
    }

    pub(super) fn finish(self) -> Migration {
        Migration {
            dialect: self.d,
            steps: self.steps,
        }
    }

    /// Renders a rename and applies it to `from`, so the rest of the plan sees the new name.
    fn rename(&mut self, from: &mut Schema, r: &Rename) {
        let d = self.d;
        match r {
            Rename::Table { from: old, to: new } => {
                let Some(t) = from.tables.remove(old) else {
                    return;
                };
                from.tables.insert(new.clone(), t);
                for t in from.tables.values_mut() {
                    for fk in &mut t.foreign_keys {
                        if fk.references == *old {
                            fk.references = new.clone();
                        }
                    }
                }
                for t in from.triggers.values_mut() {
                    if t.table == *old {
                        t.table = new.clone();
                    }
                }
                let bare = new.rsplit('.').next().unwrap_or(new);
                self.push(
                    StepKind::Change,
                    format!("rename table {old} to {new}"),
                    vec![match d {
                        Dialect::MySql => format!(
                            "RENAME TABLE {} TO {}",
                            mysql::table_name(old),
                            mysql::table_name(new)
                        ),
                        _ => format!(
                            "ALTER TABLE {} RENAME TO {}",
                            qname(d, old),
                            super::ident(d, bare)
                        ),
                    }],
                );
            }
            Rename::Column {
                table,
                from: old,
                to: new,
            } => {
                let Some(t) = from.tables.get_mut(table) else {
                    return;
                };
                let swap = |c: &mut String| {
                    if c == old {
                        *c = new.clone();
                    }
                };
                t.columns.iter_mut().for_each(|c| swap(&mut c.name));
                if let Some(pk) = &mut t.primary_key {
                    pk.columns.iter_mut().for_each(swap);
                }
                t.uniques
                    .iter_mut()
                    .for_each(|u| u.columns.iter_mut().for_each(swap));
                t.foreign_keys
                    .iter_mut()
                    .for_each(|f| f.columns.iter_mut().for_each(swap));
                for other in from.tables.values_mut() {
                    for fk in &mut other.foreign_keys {
                        if fk.references == *table {
                            fk.referenced_columns.iter_mut().for_each(swap);
                        }
                    }
                }
                self.push(
                    StepKind::Change,
                    format!("rename column {table}.{old} to {new}"),
                    vec![format!(
                        "ALTER TABLE {} RENAME COLUMN {} TO {}",
                        qname(d, table),
                        super::ident(d, old),
                        super::ident(d, new)
                    )],
                );
            }
        }
    }

    /// Flags a dropped and an added column (or table) that look alike. Never acts on it.
    fn possible_renames(&mut self, from: &Schema, to: &Schema) {
        for (n, t) in &to.tables {
            let Some(f) = from.tables.get(n) else {
                continue;
            };
            for gone in f.columns.iter().filter(|c| t.column(&c.name).is_none()) {
                for new in t.columns.iter().filter(|c| f.column(&c.name).is_none()) {
                    if gone.describe() == new.describe() {
                        self.push(
                            StepKind::PossibleRename,
                            format!(
                                "column {n}.{} is dropped and {n}.{} added with the same definition; if it is a rename, run again with --rename {n}.{}={}",
                                gone.name, new.name, gone.name, new.name
                            ),
                            Vec::new(),
                        );
                    }
                }
            }
        }
        let shape = |t: &Table| t.columns.iter().map(|c| c.describe()).collect::<Vec<_>>();
        for (old, f) in from
            .tables
            .iter()
            .filter(|(n, _)| !to.tables.contains_key(*n))
        {
            for (new, t) in to
                .tables
                .iter()
                .filter(|(n, _)| !from.tables.contains_key(*n))
            {
                if shape(f) == shape(t) {
                    self.push(
                        StepKind::PossibleRename,
                        format!(
                            "table {old} is dropped and {new} created with the same columns; if it is a rename, run again with --rename {old}={new}"
                        ),
                        Vec::new(),
                    );
                }
            }
        }
    }
}

/// Adds the foreign keys of `to` that `from` does not have, and those `again` says were
/// dropped to be added back, once every table exists; `sql` spells `ALTER TABLE ... ADD ...`
/// for a table and key in the engine's words.
pub(super) fn add_foreign_keys(
    p: &mut Planner,
    from: &Schema,
    to: &Schema,
    again: impl Fn(&crate::model::ForeignKey) -> bool,
    sql: impl Fn(&str, &crate::model::ForeignKey) -> String,
) {
    for (n, t) in &to.tables {
        let old = from.tables.get(n);
        for fk in &t.foreign_keys {
            if old.is_some_and(|o| o.foreign_keys.contains(fk)) && !again(fk) {
                continue;
            }
            p.push(
                StepKind::Change,
                format!(
                    "add foreign key {n} ({}) → {} ({})",
                    fk.columns.join(", "),
                    fk.references,
                    fk.referenced_columns.join(", ")
                ),
                vec![sql(n, fk)],
            );
        }
    }
}

impl Table {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&crate::model::Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// `CREATE [UNIQUE] INDEX`: the definition is kept in the engine's own spelling (PostgreSQL:
/// what follows `USING`; SQLite: the key list and predicate).
fn create_index(d: Dialect, table: &str, i: &crate::model::Index) -> String {
    let unique = if i.unique { "UNIQUE " } else { "" };
    match d {
        Dialect::Postgres => format!(
            "CREATE {unique}INDEX {} ON {} USING {}",
            super::ident(d, &i.name),
            qname(d, table),
            i.definition
        ),
        _ => format!(
            "CREATE {unique}INDEX {} ON {} {}",
            super::ident(d, &i.name),
            qname(d, table),
            i.definition
        ),
    }
}

/// A view as the model keeps it: SQLite keeps the whole `CREATE VIEW`, PostgreSQL the query.
fn create_view(d: Dialect, name: &str, def: &str) -> String {
    match d {
        Dialect::MySql => mysql::create_view(name, def),
        Dialect::Postgres => match def.strip_prefix("materialized: ") {
            Some(q) => format!("CREATE MATERIALIZED VIEW {} AS {q}", qname(d, name)),
            None => format!("CREATE VIEW {} AS {def}", qname(d, name)),
        },
        _ => def.to_owned(),
    }
}

struct ViewChanges {
    dropped: BTreeSet<String>,
    created: BTreeSet<String>,
}

/// Views that go or change (or call a routine dropped and created again), and every view that
/// uses one of them (it must be dropped first and created again after). A SQLite table rebuild
/// replaces every view.
fn views_to_replace(
    from: &Schema,
    to: &Schema,
    all: bool,
    calls_recreated: &dyn Fn(&str) -> bool,
) -> ViewChanges {
    let mut dropped: BTreeSet<String> = from
        .views
        .iter()
        .filter(|(n, def)| all || to.views.get(*n) != Some(def) || calls_recreated(def))
        .map(|(n, _)| n.clone())
        .collect();
    loop {
        let more: Vec<String> = from
            .views
            .iter()
            .filter(|(n, def)| !dropped.contains(*n) && dropped.iter().any(|x| mentions(def, x)))
            .map(|(n, _)| n.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        dropped.extend(more);
    }
    let created = to
        .views
        .iter()
        .filter(|(n, def)| dropped.contains(*n) || from.views.get(*n) != Some(def))
        .map(|(n, _)| n.clone())
        .collect();
    ViewChanges { dropped, created }
}

/// `true` when `sql` uses the name `name` as a word (a view using another view or a table).
pub(super) fn mentions(sql: &str, name: &str) -> bool {
    let bare = name.rsplit('.').next().unwrap_or(name);
    let lower = sql.to_ascii_lowercase();
    let needle = bare.to_ascii_lowercase();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    lower.match_indices(&needle).any(|(i, _)| {
        let before = lower[..i].chars().next_back();
        let after = lower[i + needle.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// The views in `names` ordered so each comes after the views it uses (then by name).
fn view_order(s: &Schema, names: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut left: Vec<&String> = names.iter().filter(|n| s.views.contains_key(*n)).collect();
    while !left.is_empty() {
        let ready: Vec<&String> = left
            .iter()
            .copied()
            .filter(|n| {
                !left
                    .iter()
                    .any(|o| o != n && mentions(&s.views[n.as_str()], o))
            })
            .collect();
        // A cycle cannot be created; fall back to name order rather than loop.
        let take = if ready.is_empty() {
            left.clone()
        } else {
            ready
        };
        for n in &take {
            out.push((*n).clone());
        }
        left.retain(|n| !take.contains(n));
    }
    out
}

/// `names` ordered so a table comes before the tables it references (children first).
pub(super) fn children_first<'a>(s: &Schema, names: &[&'a String]) -> Vec<&'a String> {
    let refs: BTreeMap<&str, Vec<&str>> = names
        .iter()
        .map(|n| {
            (
                n.as_str(),
                s.tables[n.as_str()]
                    .foreign_keys
                    .iter()
                    .map(|f| f.references.as_str())
                    .filter(|r| r != n)
                    .collect(),
            )
        })
        .collect();
    let mut out = Vec::new();
    let mut left: Vec<&'a String> = names.to_vec();
    while !left.is_empty() {
        // A table is ready when no other table still to be dropped references it.
        let ready: Vec<&'a String> = left
            .iter()
            .copied()
            .filter(|n| {
                !left
                    .iter()
                    .any(|o| o != n && refs[o.as_str()].contains(&n.as_str()))
            })
            .collect();
        let take = if ready.is_empty() {
            left.clone()
        } else {
            ready
        };
        out.extend(take.iter().copied());
        left.retain(|n| !take.contains(n));
    }
    out
}
