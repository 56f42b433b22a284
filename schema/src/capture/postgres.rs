//! PostgreSQL: the capture from `pg_catalog`, one function per kind of object. Objects that
//! belong to an extension are the extension's, not the migrations', and are left out.

use super::{Exclude, query, split_list};
use crate::model::{
    Check, Column, ForeignKey, Index, PrimaryKey, Routine, Schema, Table, Trigger, Unique,
};
use crate::sqltext;
use kiln_core::Dialect;
use kiln_runtime::{RawConnection, Result};

/// The condition on `pg_namespace n` that leaves out the system schemas.
const USER_SCHEMAS: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'";

/// Reads every kind of object the model holds.
pub(super) async fn capture(conn: &mut RawConnection, exclude: &Exclude) -> Result<Schema> {
    let mut schema = Schema::empty(Dialect::Postgres);
    schemas(conn, exclude, &mut schema).await?;
    extensions(conn, &mut schema).await?;
    tables(conn, &mut schema).await?;
    columns(conn, &mut schema).await?;
    constraints(conn, &mut schema).await?;
    indexes(conn, &mut schema).await?;
    views(conn, &mut schema).await?;
    triggers(conn, &mut schema).await?;
    sequences(conn, &mut schema).await?;
    enums(conn, &mut schema).await?;
    domains(conn, &mut schema).await?;
    composite_types(conn, &mut schema).await?;
    routines(conn, &mut schema).await?;
    Ok(schema)
}

/// SQL for a name qualified with its schema (`ns`, an alias of `pg_namespace`) unless that is
/// the connection's default.
fn qualified(ns: &str, name: &str) -> String {
    format!(
        "CASE WHEN {ns}.nspname = current_schema() THEN {name}::text ELSE {ns}.nspname || '.' || {name} END"
    )
}

/// SQL for the name of the relation `c` in schema `n`, qualified as [`qualified`] does.
fn relation_name() -> String {
    qualified("n", "c.relname")
}

/// The condition that the object `oid` of `catalog` does not belong to an extension.
fn not_in_extension(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '{catalog}'::regclass AND x.objid = {oid} AND x.deptype = 'e')"
    )
}

/// Schemas other than `public`, the connection's own and the one kiln's tables live in.
async fn schemas(conn: &mut RawConnection, exclude: &Exclude, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT n.nspname::text FROM pg_namespace n WHERE {USER_SCHEMAS} AND n.nspname <> 'public' \
             AND n.nspname IS DISTINCT FROM current_schema() AND {}",
            not_in_extension("pg_namespace", "n.oid")
        ),
        &[],
    )
    .await?
    {
        let name = r.text(0);
        if exclude.schema.as_deref() != Some(name.as_str()) {
            schema.schemas.insert(name);
        }
    }
    Ok(())
}

/// Extensions other than `plpgsql`, which every database has.
async fn extensions(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        "SELECT extname::text FROM pg_extension WHERE extname <> 'plpgsql'",
        &[],
    )
    .await?
    {
        schema.extensions.insert(r.text(0));
    }
    Ok(())
}

/// Ordinary, partitioned and foreign tables, with the options that change their behaviour.
async fn tables(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, c.relkind::text, c.relpersistence::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'f') AND {USER_SCHEMAS} AND {}",
            relation_name(),
            not_in_extension("pg_class", "c.oid")
        ),
        &[],
    )
    .await?
    {
        let mut options = Vec::new();
        match r.text(1).as_str() {
            "p" => options.push("partitioned"),
            "f" => options.push("foreign"),
            _ => {}
        }
        if r.text(2) == "u" {
            options.push("unlogged");
        }
        schema.tables.insert(
            r.text(0),
            Table {
                options: options.join(", "),
                ..Table::default()
            },
        );
    }
    Ok(())
}

/// Columns in table order: type, nullability, default, identity, generation and a collation
/// other than the type's.
async fn columns(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull::text, \
             pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text, \
             CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') AND {USER_SCHEMAS} \
             ORDER BY 1, a.attnum",
            relation_name()
        ),
        &[],
    )
    .await?
    {
        let Some(t) = schema.tables.get_mut(&r.text(0)) else {
            continue;
        };
        let mut extra = Vec::new();
        let mut default = r.optional(4);
        match r.text(5).as_str() {
            "a" => extra.push("generated always as identity".to_owned()),
            "d" => extra.push("generated by default as identity".to_owned()),
            _ => {}
        }
        if r.text(6) == "s" {
            // A stored generated column keeps its expression where a default would be.
            extra.push(format!(
                "generated always as ({}) stored",
                default.take().unwrap_or_default()
            ));
        }
        if let Some(c) = r.optional(7) {
            extra.push(format!("collate {c}"));
        }
        t.columns.push(Column {
            name: r.text(1),
            data_type: r.text(2),
            nullable: r.text(3) != "true",
            default,
            extra: extra.join(" "),
        });
    }
    Ok(())
}

/// SQL for the comma-separated names of the columns whose numbers are in the array `arr` of
/// the constraint `k`, on the relation `k.{rel}`, in key order.
fn key_columns(arr: &str, rel: &str) -> String {
    format!(
        "(SELECT string_agg(a.attname::text, ', ' ORDER BY u.ord) FROM unnest(k.{arr}) WITH ORDINALITY u(num, ord) \
         JOIN pg_attribute a ON a.attrelid = k.{rel} AND a.attnum = u.num)"
    )
}

/// Primary keys, unique, foreign-key and check constraints (exclusion constraints are kept as
/// checks, whole, as the engine prints them).
async fn constraints(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, k.conname::text, k.contype::text, {}, \
             (SELECT {} FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = k.confrelid), \
             {}, k.confupdtype::text, k.confdeltype::text, pg_get_constraintdef(k.oid, true) \
             FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {USER_SCHEMAS}",
            relation_name(),
            key_columns("conkey", "conrelid"),
            qualified("rn", "rc.relname"),
            key_columns("confkey", "confrelid"),
        ),
        &[],
    )
    .await?
    {
        let Some(t) = schema.tables.get_mut(&r.text(0)) else {
            continue;
        };
        let name = Some(r.text(1));
        let def = r.text(8);
        match r.text(2).as_str() {
            "p" => {
                t.primary_key = Some(PrimaryKey {
                    name,
                    columns: split_list(&r.text(3)),
                })
            }
            "u" => t.uniques.push(Unique {
                columns: split_list(&r.text(3)),
                name: Some(match def.contains("NULLS NOT DISTINCT") {
                    true => format!("{} nulls not distinct", r.text(1)),
                    false => r.text(1),
                }),
            }),
            "f" => t.foreign_keys.push(ForeignKey {
                columns: split_list(&r.text(3)),
                references: r.text(4),
                referenced_columns: split_list(&r.text(5)),
                on_update: fk_action(&r.text(6)),
                on_delete: fk_action(&r.text(7)),
                options: fk_options(&def),
                name,
            }),
            "c" => t.checks.push(Check {
                expression: def
                    .strip_prefix("CHECK ")
                    .map(str::to_owned)
                    .unwrap_or(def),
                name,
            }),
            // Exclusion and future constraint kinds: kept whole, as the engine prints them.
            _ => t.checks.push(Check {
                expression: def,
                name,
            }),
        }
    }
    Ok(())
}

/// A foreign key's `ON UPDATE`/`ON DELETE` action from its one-letter catalog code.
fn fk_action(code: &str) -> String {
    match code {
        "r" => "restrict",
        "c" => "cascade",
        "n" => "set null",
        "d" => "set default",
        _ => "no action",
    }
    .to_owned()
}

/// The options of a foreign key, read from its definition as `pg_get_constraintdef` prints it.
fn fk_options(def: &str) -> String {
    let upper = def.to_ascii_uppercase();
    let options: Vec<&str> = [
        ("MATCH FULL", "match full"),
        ("INITIALLY DEFERRED", "initially deferred"),
        ("DEFERRABLE", "deferrable"),
        ("NOT VALID", "not valid"),
    ]
    .iter()
    .filter(|(needle, _)| {
        upper.contains(needle) && !(*needle == "DEFERRABLE" && upper.contains("NOT DEFERRABLE"))
    })
    .map(|(_, shown)| *shown)
    .collect();
    options.join(", ")
}

/// Indexes that do not implement a primary key, unique or exclusion constraint.
async fn indexes(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, ic.relname::text, i.indisunique::text, pg_get_indexdef(i.indexrelid) \
             FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'f') AND {USER_SCHEMAS} AND NOT EXISTS (SELECT 1 FROM pg_constraint k \
             WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))",
            relation_name()
        ),
        &[],
    )
    .await?
    {
        let Some(t) = schema.tables.get_mut(&r.text(0)) else {
            continue;
        };
        let def = r.text(3);
        // What precedes USING names the table, schema-qualified; the rest is the definition.
        let def = def
            .split_once(" USING ")
            .map_or(def.clone(), |(_, rest)| rest.to_owned());
        t.indexes.push(Index {
            name: r.text(1),
            unique: r.text(2) == "true",
            definition: def,
        });
    }
    Ok(())
}

/// Views and materialized views, by their normalized definition.
async fn views(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, c.relkind::text, pg_get_viewdef(c.oid, true) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMAS} AND {}",
            relation_name(),
            not_in_extension("pg_class", "c.oid")
        ),
        &[],
    )
    .await?
    {
        let def = sqltext::normalize(&r.text(2));
        let def = if r.text(1) == "m" {
            format!("materialized: {def}")
        } else {
            def
        };
        schema.views.insert(r.text(0), def);
    }
    Ok(())
}

/// User triggers (not the internal ones that implement foreign keys).
async fn triggers(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, t.tgname::text, pg_get_triggerdef(t.oid, true) FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT t.tgisinternal AND {USER_SCHEMAS}",
            relation_name()
        ),
        &[],
    )
    .await?
    {
        schema.triggers.insert(
            format!("{} on {}", r.text(1), r.text(0)),
            Trigger {
                table: r.text(0),
                definition: sqltext::normalize(&r.text(2)),
                source: String::new(),
            },
        );
    }
    Ok(())
}

/// Sequences with their parameters and owning column; those behind identity columns are
/// described by the column instead.
async fn sequences(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, format_type(q.seqtypid, NULL), q.seqstart::text, q.seqincrement::text, \
             q.seqmin::text, q.seqmax::text, q.seqcache::text, q.seqcycle::text, \
             (SELECT {} || '.' || a.attname FROM pg_depend d JOIN pg_class oc ON oc.oid = d.refobjid \
              JOIN pg_namespace on_ ON on_.oid = oc.relnamespace \
              JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' AND d.refobjsubid > 0 LIMIT 1) \
             FROM pg_sequence q JOIN pg_class c ON c.oid = q.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {USER_SCHEMAS} AND {} AND NOT EXISTS (SELECT 1 FROM pg_depend d \
             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')",
            relation_name(),
            qualified("on_", "oc.relname"),
            not_in_extension("pg_class", "c.oid")
        ),
        &[],
    )
    .await?
    {
        let mut desc = format!(
            "{} start {} increment {} min {} max {} cache {}{}",
            r.text(1),
            r.text(2),
            r.text(3),
            r.text(4),
            r.text(5),
            r.text(6),
            if r.text(7) == "true" { " cycle" } else { "" }
        );
        if let Some(owner) = r.optional(8) {
            desc.push_str(&format!(" owned by {owner}"));
        }
        schema.sequences.insert(r.text(0), desc);
    }
    Ok(())
}

/// SQL for the name of the type `t` in schema `n`, qualified as [`qualified`] does.
fn type_name() -> String {
    qualified("n", "t.typname")
}

/// Enum types and their labels in order.
async fn enums(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid \
             WHERE {USER_SCHEMAS} AND {} GROUP BY 1",
            type_name(),
            not_in_extension("pg_type", "t.oid")
        ),
        &[],
    )
    .await?
    {
        schema.enums.insert(r.text(0), split_list(&r.text(1)));
    }
    Ok(())
}

/// Domains: base type, nullability, default and constraints.
async fn domains(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, format_type(t.typbasetype, t.typtypmod), t.typnotnull::text, t.typdefault, \
             (SELECT string_agg(pg_get_constraintdef(k.oid, true), ' ' ORDER BY k.conname) FROM pg_constraint k WHERE k.contypid = t.oid) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE t.typtype = 'd' AND {USER_SCHEMAS} AND {}",
            type_name(),
            not_in_extension("pg_type", "t.oid")
        ),
        &[],
    )
    .await?
    {
        let mut desc = format!("domain {}", r.text(1));
        if r.text(2) == "true" {
            desc.push_str(" not null");
        }
        if let Some(d) = r.optional(3) {
            desc.push_str(&format!(" default {d}"));
        }
        if let Some(c) = r.optional(4) {
            desc.push_str(&format!(" {c}"));
        }
        schema.types.insert(r.text(0), desc);
    }
    Ok(())
}

/// Composite types made with `CREATE TYPE ... AS (...)` (not the row types of tables).
async fn composite_types(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) \
             FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class c ON c.oid = t.typrelid \
             WHERE t.typtype = 'c' AND c.relkind = 'c' AND {USER_SCHEMAS} AND {}",
            type_name(),
            not_in_extension("pg_type", "t.oid")
        ),
        &[],
    )
    .await?
    {
        schema
            .types
            .insert(r.text(0), format!("composite ({})", r.text(1)));
    }
    Ok(())
}

/// Functions, procedures, aggregates and window functions, by signature: the description
/// compared (kind, result, language, options other than the defaults, normalized body) and the
/// definition `pg_get_functiondef` prints, named as the rest of the capture names objects.
async fn routines(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT {}, pg_get_function_identity_arguments(p.oid), p.prokind::text, \
             pg_get_function_result(p.oid), l.lanname::text, p.prosrc, pg_get_function_arguments(p.oid), \
             p.provolatile::text, p.proisstrict::text, p.prosecdef::text, p.proleakproof::text, \
             p.proparallel::text, array_to_string(p.proconfig, ', '), \
             CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END, \
             quote_ident(n.nspname) || '.' || quote_ident(p.proname) \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang \
             WHERE {USER_SCHEMAS} AND {}",
            qualified("n", "p.proname"),
            not_in_extension("pg_proc", "p.oid")
        ),
        &[],
    )
    .await?
    {
        let name = r.text(0);
        let identity = r.text(1);
        let kind = match r.text(2).as_str() {
            "p" => "procedure",
            "a" => "aggregate",
            "w" => "window function",
            _ => "function",
        };
        // The engine qualifies the name with its schema; the model names it as it names tables.
        let definition = r
            .text(13)
            .replacen(&r.text(14), &crate::render::qname(Dialect::Postgres, &name), 1)
            .trim_end()
            .to_owned();
        let mut desc = kind.to_owned();
        if let Some(result) = r.optional(3) {
            desc.push_str(&format!(" returns {result}"));
        }
        desc.push_str(&format!(" language {}", r.text(4)));
        if r.text(6) != identity {
            desc.push_str(&format!(" arguments ({})", r.text(6)));
        }
        for (on, option) in [
            (r.text(7) == "i", "immutable"),
            (r.text(7) == "s", "stable"),
            (r.text(8) == "true", "strict"),
            (r.text(9) == "true", "security definer"),
            (r.text(10) == "true", "leakproof"),
            (r.text(11) == "s", "parallel safe"),
            (r.text(11) == "r", "parallel restricted"),
        ] {
            if on {
                desc.push(' ');
                desc.push_str(option);
            }
        }
        if let Some(config) = r.optional(12) {
            desc.push_str(&format!(" set {config}"));
        }
        // A SQL-standard body (`BEGIN ATOMIC`, `RETURN`) has no source text: compare what
        // follows the definition's first line instead.
        let body = match r.optional(5).filter(|b| !b.trim().is_empty()) {
            Some(b) => b,
            None => definition
                .split_once('\n')
                .map_or(String::new(), |(_, rest)| rest.to_owned()),
        };
        desc.push_str(&format!(": {}", sqltext::normalize(&body)));
        schema.routines.insert(
            format!("{name}({identity})"),
            Routine {
                description: desc,
                kind: kind.to_owned(),
                header: format!("({}) {}", r.text(6), r.text(3)),
                name,
                identity,
                definition,
            },
        );
    }
    Ok(())
}
