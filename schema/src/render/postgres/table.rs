//! PostgreSQL's `CREATE TABLE` and the `ALTER TABLE` of a kept table, column by column.

use super::*;

/// `CREATE TABLE` with its columns, primary key, unique and check constraints.
pub(in crate::render) fn create_table(p: &mut Planner, name: &str, t: &Table) {
    if t.options.contains("partitioned") || t.options.contains("foreign") {
        p.unrenderable(format!(
            "table {name} is {}: kiln does not render its partitioning or server; write it by hand",
            t.options
        ));
        return;
    }
    let mut items: Vec<String> = t.columns.iter().map(column).collect();
    if let Some(pk) = &t.primary_key {
        items.push(format!(
            "{}PRIMARY KEY ({})",
            constraint(&pk.name),
            idents(D, &pk.columns)
        ));
    }
    items.extend(t.uniques.iter().map(unique));
    items.extend(t.checks.iter().map(check));
    let unlogged = if t.options.contains("unlogged") {
        "UNLOGGED "
    } else {
        ""
    };
    let body = if items.is_empty() {
        String::new()
    } else {
        format!("\n    {}\n", items.join(",\n    "))
    };
    p.push(
        StepKind::Change,
        format!("create table {name}"),
        vec![format!(
            "CREATE {unlogged}TABLE {} ({body})",
            qname(D, name)
        )],
    );
}

/// Column by column: drops, additions (PostgreSQL appends them), then changes; then the new
/// primary key and constraints (the old ones were dropped before).
pub(in crate::render) fn alter_table(p: &mut Planner, n: &str, f: &Table, t: &Table) {
    let alter = |what: String| format!("ALTER TABLE {} {what}", qname(D, n));
    if f.options != t.options {
        let sql = match (
            f.options.contains("unlogged"),
            t.options.contains("unlogged"),
        ) {
            (false, true) if !t.options.contains("partitioned") => Some("SET UNLOGGED"),
            (true, false) if !t.options.contains("partitioned") => Some("SET LOGGED"),
            _ => None,
        };
        match sql {
            Some(s) => p.push(
                StepKind::Change,
                format!("table {n}: {}", s.to_lowercase()),
                vec![alter(s.to_owned())],
            ),
            None => p.unrenderable(format!(
                "table {n}: options change from `{}` to `{}`",
                f.options, t.options
            )),
        }
    }
    for c in f.columns.iter().filter(|c| t.column(&c.name).is_none()) {
        p.push(
            StepKind::Destructive,
            format!("drop column {n}.{} (its data is lost)", c.name),
            vec![alter(format!("DROP COLUMN {}", ident(D, &c.name)))],
        );
    }
    let kept: Vec<&str> = f
        .columns
        .iter()
        .filter(|c| t.column(&c.name).is_some())
        .map(|c| c.name.as_str())
        .collect();
    for (i, c) in t.columns.iter().enumerate() {
        if f.column(&c.name).is_some() {
            continue;
        }
        p.push(
            StepKind::Change,
            format!("add column {n}.{}", c.name),
            vec![alter(format!("ADD COLUMN {}", column(c)))],
        );
        if !c.nullable && c.default.is_none() && c.extra.is_empty() {
            p.push(
                StepKind::Warning,
                format!(
                    "column {n}.{} is NOT NULL without a default: adding it fails if {n} has rows",
                    c.name
                ),
                Vec::new(),
            );
        }
        let later_kept = t.columns[i + 1..]
            .iter()
            .any(|x| kept.contains(&x.name.as_str()));
        if later_kept {
            p.push(
                StepKind::Warning,
                format!(
                    "PostgreSQL appends column {n}.{} at the end; the declared schema puts it {}",
                    c.name,
                    match i {
                        0 => "first".to_owned(),
                        _ => format!("after {}", t.columns[i - 1].name),
                    }
                ),
                Vec::new(),
            );
        }
    }
    let new_order: Vec<&str> = t
        .columns
        .iter()
        .filter(|c| kept.contains(&c.name.as_str()))
        .map(|c| c.name.as_str())
        .collect();
    if new_order != kept {
        p.push(
            StepKind::Warning,
            format!(
                "table {n}: the declared column order ({}) differs from head's ({}); PostgreSQL cannot reorder columns, so it stays",
                new_order.join(", "),
                kept.join(", ")
            ),
            Vec::new(),
        );
    }
    for c in &t.columns {
        if let Some(old) = f.column(&c.name)
            && old != c
        {
            alter_column(p, n, old, c);
        }
    }
    if f.primary_key != t.primary_key
        && let Some(pk) = &t.primary_key
    {
        p.push(
            StepKind::Change,
            format!("add primary key ({}) on {n}", pk.columns.join(", ")),
            vec![alter(format!(
                "ADD {}PRIMARY KEY ({})",
                constraint(&pk.name),
                idents(D, &pk.columns)
            ))],
        );
    }
    for u in t.uniques.iter().filter(|u| !f.uniques.contains(u)) {
        p.push(
            StepKind::Change,
            format!("add unique ({}) on {n}", u.columns.join(", ")),
            vec![alter(format!("ADD {}", unique(u)))],
        );
    }
    for c in t.checks.iter().filter(|c| !f.checks.contains(c)) {
        p.push(
            StepKind::Change,
            format!("add check {} on {n}", c.expression),
            vec![alter(format!("ADD {}", check(c)))],
        );
    }
}

fn alter_column(p: &mut Planner, n: &str, old: &Column, c: &Column) {
    let col = ident(D, &c.name);
    let at = |what: String| format!("ALTER TABLE {} ALTER COLUMN {col} {what}", qname(D, n));
    let (o_kind, o_collate) = split_extra(&old.extra);
    let (kind, collate) = split_extra(&c.extra);
    let mut sql = Vec::new();
    if o_kind != kind {
        match (o_kind, kind) {
            (o, "") if o.contains("identity") => sql.push(at("DROP IDENTITY".into())),
            ("", k) if k.contains("identity") => sql.push(at(format!("ADD {}", k.to_uppercase()))),
            (o, "") if o.starts_with("generated always as (") => {
                sql.push(at("DROP EXPRESSION".into()))
            }
            _ => {
                p.unrenderable(format!(
                    "column {n}.{}: `{o_kind}` becomes `{kind}`; drop and add the column by hand",
                    c.name
                ));
                return;
            }
        }
    }
    if old.data_type != c.data_type || o_collate != collate {
        let coll = collate
            .map(|x| format!(" COLLATE {}", kiln_runtime::quote_ident(D, x)))
            .unwrap_or_default();
        sql.push(at(format!(
            "TYPE {}{coll} USING {col}::{}",
            c.data_type, c.data_type
        )));
        p.push(
            StepKind::Warning,
            format!(
                "column {n}.{}: type {} → {} rewrites the table and fails on values that do not convert",
                c.name, old.data_type, c.data_type
            ),
            Vec::new(),
        );
    }
    if old.default != c.default {
        sql.push(match &c.default {
            Some(d) => at(format!("SET DEFAULT {d}")),
            None => at("DROP DEFAULT".into()),
        });
    }
    if old.nullable != c.nullable {
        sql.push(at(if c.nullable {
            "DROP NOT NULL".into()
        } else {
            "SET NOT NULL".into()
        }));
    }
    p.push(
        StepKind::Change,
        format!(
            "alter column {n}.{}: {} → {}",
            c.name,
            old.describe(),
            c.describe()
        ),
        sql,
    );
}
