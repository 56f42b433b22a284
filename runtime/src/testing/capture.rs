//! Reading a [`Schema`] from each engine's catalog: `pg_catalog` on PostgreSQL,
//! `information_schema` on MySQL/MariaDB, `sqlite_master` and the `pragma_*` table functions on
//! SQLite.
//!
//! Every query is a fixed string or is built from names the catalog itself returned, quoted as
//! literals; nothing a test author passes reaches SQL text.

use super::schema::{Check, Column, ForeignKey, Index, PrimaryKey, Schema, Table, Trigger, Unique};
use super::sqltext;
use crate::db::{Conn, Db, TextRow};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::sql::{quote_ident, quote_literal};
use kiln_core::Dialect;
use std::collections::{BTreeMap, BTreeSet};

/// What a capture leaves out: kiln's own bookkeeping tables (and the schema holding them).
#[derive(Debug, Clone, Default)]
pub(crate) struct Exclude {
    /// Schema (PostgreSQL) or database (MySQL) of the tables; `None` for the default one.
    pub schema: Option<String>,
    /// Unqualified table names.
    pub tables: Vec<String>,
}

impl Exclude {
    pub(crate) fn kiln(options: &Options) -> Exclude {
        Exclude {
            schema: options.schema.as_deref().map(str::to_owned),
            tables: vec![
                options.version_table.to_string(),
                options.state_table(),
                options.audit_table.to_string(),
            ],
        }
    }

    /// The excluded tables as a capture names them, given the connection's default schema.
    fn names(&self, default_schema: Option<&str>) -> BTreeSet<String> {
        self.tables
            .iter()
            .map(|t| match (&self.schema, default_schema) {
                (Some(s), Some(d)) if s == d => t.clone(),
                (Some(s), _) => format!("{s}.{t}"),
                (None, _) => t.clone(),
            })
            .collect()
    }
}

pub(crate) async fn capture(db: &Db, exclude: &Exclude) -> Result<Schema> {
    let mut conn = db.acquire().await?;
    let mut schema = match conn.dialect() {
        Dialect::Postgres => postgres(&mut conn, exclude).await?,
        Dialect::MySql => mysql(&mut conn).await?,
        _ => sqlite(&mut conn).await?,
    };
    let default_schema = match conn.dialect() {
        Dialect::Postgres => text(&mut conn, "SELECT current_schema()::text").await?,
        Dialect::MySql => text(&mut conn, "SELECT DATABASE()").await?,
        _ => None,
    };
    let gone = exclude.names(default_schema.as_deref());
    schema.tables.retain(|name, _| !gone.contains(name));
    schema.triggers.retain(|_, t| !gone.contains(&t.table));
    schema.sequences.retain(|_, desc| {
        !gone
            .iter()
            .any(|t| desc.contains(&format!("owned by {t}.")))
    });
    Ok(schema)
}

async fn rows(conn: &mut Conn, sql: &str, ints: &[usize]) -> Result<Vec<TextRow>> {
    conn.rows(sql, ints)
        .await
        .map_err(Error::db("reading the schema from the catalog"))
}

async fn text(conn: &mut Conn, sql: &str) -> Result<Option<String>> {
    Ok(rows(conn, sql, &[])
        .await?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten()))
}

/// Column `i` of a row, empty when NULL.
fn s(row: &TextRow, i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

fn o(row: &TextRow, i: usize) -> Option<String> {
    row.get(i).cloned().flatten().filter(|v| !v.is_empty())
}

fn list(v: &str) -> Vec<String> {
    if v.is_empty() {
        Vec::new()
    } else {
        v.split(", ").map(str::to_owned).collect()
    }
}

fn finish(tables: &mut BTreeMap<String, Table>) {
    for t in tables.values_mut() {
        t.foreign_keys.sort();
        t.uniques.sort();
        t.checks.sort();
        t.indexes.sort();
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const PG_NS: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'";

/// A name qualified with its schema unless that is the connection's default.
fn pg_name(ns: &str, name: &str) -> String {
    format!(
        "CASE WHEN {ns}.nspname = current_schema() THEN {name}::text ELSE {ns}.nspname || '.' || {name} END"
    )
}

/// Excludes objects that belong to an extension: they are the extension's, not the migrations'.
fn pg_not_ext(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '{catalog}'::regclass AND x.objid = {oid} AND x.deptype = 'e')"
    )
}

fn pg_action(c: &str) -> String {
    match c {
        "r" => "restrict",
        "c" => "cascade",
        "n" => "set null",
        "d" => "set default",
        _ => "no action",
    }
    .to_owned()
}

async fn postgres(conn: &mut Conn, exclude: &Exclude) -> Result<Schema> {
    let mut schema = Schema::empty(Dialect::Postgres);
    let tbl = pg_name("n", "c.relname");
    let not_ext = pg_not_ext("pg_class", "c.oid");

    for r in rows(
        conn,
        &format!(
            "SELECT n.nspname::text FROM pg_namespace n WHERE {PG_NS} AND n.nspname <> 'public' \
             AND n.nspname IS DISTINCT FROM current_schema() AND {}",
            pg_not_ext("pg_namespace", "n.oid")
        ),
        &[],
    )
    .await?
    {
        let name = s(&r, 0);
        if exclude.schema.as_deref() != Some(name.as_str()) {
            schema.schemas.insert(name);
        }
    }
    for r in rows(
        conn,
        "SELECT extname::text FROM pg_extension WHERE extname <> 'plpgsql'",
        &[],
    )
    .await?
    {
        schema.extensions.insert(s(&r, 0));
    }

    for r in rows(
        conn,
        &format!(
            "SELECT {tbl}, c.relkind::text, c.relpersistence::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'f') AND {PG_NS} AND {not_ext}"
        ),
        &[],
    )
    .await?
    {
        let mut options = Vec::new();
        match s(&r, 1).as_str() {
            "p" => options.push("partitioned"),
            "f" => options.push("foreign"),
            _ => {}
        }
        if s(&r, 2) == "u" {
            options.push("unlogged");
        }
        schema.tables.insert(
            s(&r, 0),
            Table {
                options: options.join(", "),
                ..Table::default()
            },
        );
    }

    for r in rows(
        conn,
        &format!(
            "SELECT {tbl}, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull::text, \
             pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text, \
             CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') AND {PG_NS} \
             ORDER BY 1, a.attnum"
        ),
        &[],
    )
    .await?
    {
        let Some(t) = schema.tables.get_mut(&s(&r, 0)) else {
            continue;
        };
        let mut extra = Vec::new();
        let mut default = o(&r, 4);
        match s(&r, 5).as_str() {
            "a" => extra.push("generated always as identity".to_owned()),
            "d" => extra.push("generated by default as identity".to_owned()),
            _ => {}
        }
        if s(&r, 6) == "s" {
            extra.push(format!(
                "generated always as ({}) stored",
                default.take().unwrap_or_default()
            ));
        }
        if let Some(c) = o(&r, 7) {
            extra.push(format!("collate {c}"));
        }
        t.columns.push(Column {
            name: s(&r, 1),
            data_type: s(&r, 2),
            nullable: s(&r, 3) != "true",
            default,
            extra: extra.join(" "),
        });
    }

    let cols = |arr: &str, rel: &str| {
        format!(
            "(SELECT string_agg(a.attname::text, ', ' ORDER BY u.ord) FROM unnest(k.{arr}) WITH ORDINALITY u(num, ord) \
             JOIN pg_attribute a ON a.attrelid = k.{rel} AND a.attnum = u.num)"
        )
    };
    for r in rows(
        conn,
        &format!(
            "SELECT {tbl}, k.conname::text, k.contype::text, {}, \
             (SELECT {} FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = k.confrelid), \
             {}, k.confupdtype::text, k.confdeltype::text, pg_get_constraintdef(k.oid, true) \
             FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {PG_NS}",
            cols("conkey", "conrelid"),
            pg_name("rn", "rc.relname"),
            cols("confkey", "confrelid"),
        ),
        &[],
    )
    .await?
    {
        let Some(t) = schema.tables.get_mut(&s(&r, 0)) else {
            continue;
        };
        let name = Some(s(&r, 1));
        let def = s(&r, 8);
        match s(&r, 2).as_str() {
            "p" => {
                t.primary_key = Some(PrimaryKey {
                    name,
                    columns: list(&s(&r, 3)),
                })
            }
            "u" => t.uniques.push(Unique {
                columns: list(&s(&r, 3)),
                name: Some(match def.contains("NULLS NOT DISTINCT") {
                    true => format!("{} nulls not distinct", s(&r, 1)),
                    false => s(&r, 1),
                }),
            }),
            "f" => {
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
                t.foreign_keys.push(ForeignKey {
                    columns: list(&s(&r, 3)),
                    references: s(&r, 4),
                    referenced_columns: list(&s(&r, 5)),
                    on_update: pg_action(&s(&r, 6)),
                    on_delete: pg_action(&s(&r, 7)),
                    options: options.join(", "),
                    name,
                });
            }
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

    for r in rows(
        conn,
        &format!(
            "SELECT {tbl}, ic.relname::text, i.indisunique::text, pg_get_indexdef(i.indexrelid) \
             FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'f') AND {PG_NS} AND NOT EXISTS (SELECT 1 FROM pg_constraint k \
             WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))"
        ),
        &[],
    )
    .await?
    {
        let Some(t) = schema.tables.get_mut(&s(&r, 0)) else {
            continue;
        };
        let def = s(&r, 3);
        // What precedes USING names the table, schema-qualified; the rest is the definition.
        let def = def
            .split_once(" USING ")
            .map_or(def.clone(), |(_, rest)| rest.to_owned());
        t.indexes.push(Index {
            name: s(&r, 1),
            unique: s(&r, 2) == "true",
            definition: def,
        });
    }

    for r in rows(
        conn,
        &format!(
            "SELECT {tbl}, c.relkind::text, pg_get_viewdef(c.oid, true) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND {PG_NS} AND {not_ext}"
        ),
        &[],
    )
    .await?
    {
        let def = sqltext::normalize(&s(&r, 2));
        let def = if s(&r, 1) == "m" {
            format!("materialized: {def}")
        } else {
            def
        };
        schema.views.insert(s(&r, 0), def);
    }

    for r in rows(
        conn,
        &format!(
            "SELECT {tbl}, t.tgname::text, pg_get_triggerdef(t.oid, true) FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT t.tgisinternal AND {PG_NS}"
        ),
        &[],
    )
    .await?
    {
        schema.triggers.insert(
            format!("{} on {}", s(&r, 1), s(&r, 0)),
            Trigger {
                table: s(&r, 0),
                definition: sqltext::normalize(&s(&r, 2)),
            },
        );
    }

    for r in rows(
        conn,
        &format!(
            "SELECT {tbl}, format_type(q.seqtypid, NULL), q.seqstart::text, q.seqincrement::text, \
             q.seqmin::text, q.seqmax::text, q.seqcache::text, q.seqcycle::text, \
             (SELECT {} || '.' || a.attname FROM pg_depend d JOIN pg_class oc ON oc.oid = d.refobjid \
              JOIN pg_namespace on_ ON on_.oid = oc.relnamespace \
              JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' AND d.refobjsubid > 0 LIMIT 1) \
             FROM pg_sequence q JOIN pg_class c ON c.oid = q.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {PG_NS} AND {not_ext} AND NOT EXISTS (SELECT 1 FROM pg_depend d \
             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')",
            pg_name("on_", "oc.relname")
        ),
        &[],
    )
    .await?
    {
        let mut desc = format!(
            "{} start {} increment {} min {} max {} cache {}{}",
            s(&r, 1),
            s(&r, 2),
            s(&r, 3),
            s(&r, 4),
            s(&r, 5),
            s(&r, 6),
            if s(&r, 7) == "true" { " cycle" } else { "" }
        );
        if let Some(owner) = o(&r, 8) {
            desc.push_str(&format!(" owned by {owner}"));
        }
        schema.sequences.insert(s(&r, 0), desc);
    }

    let typ = pg_name("n", "t.typname");
    let type_not_ext = pg_not_ext("pg_type", "t.oid");
    for r in rows(
        conn,
        &format!(
            "SELECT {typ}, string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid \
             WHERE {PG_NS} AND {type_not_ext} GROUP BY 1"
        ),
        &[],
    )
    .await?
    {
        schema.enums.insert(s(&r, 0), list(&s(&r, 1)));
    }
    for r in rows(
        conn,
        &format!(
            "SELECT {typ}, format_type(t.typbasetype, t.typtypmod), t.typnotnull::text, t.typdefault, \
             (SELECT string_agg(pg_get_constraintdef(k.oid, true), ' ' ORDER BY k.conname) FROM pg_constraint k WHERE k.contypid = t.oid) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE t.typtype = 'd' AND {PG_NS} AND {type_not_ext}"
        ),
        &[],
    )
    .await?
    {
        let mut desc = format!("domain {}", s(&r, 1));
        if s(&r, 2) == "true" {
            desc.push_str(" not null");
        }
        if let Some(d) = o(&r, 3) {
            desc.push_str(&format!(" default {d}"));
        }
        if let Some(c) = o(&r, 4) {
            desc.push_str(&format!(" {c}"));
        }
        schema.types.insert(s(&r, 0), desc);
    }
    for r in rows(
        conn,
        &format!(
            "SELECT {typ}, (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) \
             FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class c ON c.oid = t.typrelid \
             WHERE t.typtype = 'c' AND c.relkind = 'c' AND {PG_NS} AND {type_not_ext}"
        ),
        &[],
    )
    .await?
    {
        schema
            .types
            .insert(s(&r, 0), format!("composite ({})", s(&r, 1)));
    }

    for r in rows(
        conn,
        &format!(
            "SELECT {} || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.prokind::text, \
             pg_get_function_result(p.oid), l.lanname::text, p.prosrc \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang \
             WHERE {PG_NS} AND {}",
            pg_name("n", "p.proname"),
            pg_not_ext("pg_proc", "p.oid")
        ),
        &[],
    )
    .await?
    {
        let kind = match s(&r, 1).as_str() {
            "p" => "procedure",
            "a" => "aggregate",
            "w" => "window function",
            _ => "function",
        };
        let mut desc = kind.to_owned();
        if let Some(result) = o(&r, 2) {
            desc.push_str(&format!(" returns {result}"));
        }
        desc.push_str(&format!(
            " language {}: {}",
            s(&r, 3),
            sqltext::normalize(&s(&r, 4))
        ));
        schema.routines.insert(s(&r, 0), desc);
    }

    finish(&mut schema.tables);
    Ok(schema)
}

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB

async fn mysql(conn: &mut Conn) -> Result<Schema> {
    let mut schema = Schema::empty(Dialect::MySql);
    let db = text(conn, "SELECT DATABASE()").await?.unwrap_or_default();
    // View definitions name every table as `db`.`table`; the two databases compared have
    // different names, so the qualifier is dropped.
    let qualifier = format!("{}.", quote_ident(Dialect::MySql, &db));
    let mut collations: BTreeMap<String, String> = BTreeMap::new();
    let mut sequences = Vec::new();

    for r in rows(
        conn,
        "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE()",
        &[],
    )
    .await?
    {
        let name = s(&r, 0);
        match s(&r, 1).as_str() {
            "VIEW" => {}
            "SEQUENCE" => sequences.push(name),
            kind => {
                let mut options = format!("engine {}, collation {}", s(&r, 2), s(&r, 3));
                if kind != "BASE TABLE" {
                    options = format!("{}, {options}", kind.to_ascii_lowercase());
                }
                collations.insert(name.clone(), s(&r, 3));
                schema.tables.insert(
                    name,
                    Table {
                        options,
                        ..Table::default()
                    },
                );
            }
        }
    }

    for r in rows(
        conn,
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, \
         GENERATION_EXPRESSION, COLLATION_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
        &[],
    )
    .await?
    {
        let table = s(&r, 0);
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        let mut extra = Vec::new();
        let generated = o(&r, 6);
        match o(&r, 5) {
            Some(e) if generated.is_some() => extra.push(format!(
                "as ({}) {}",
                generated.clone().unwrap_or_default(),
                e.to_ascii_lowercase()
            )),
            Some(e) => extra.push(e.to_ascii_lowercase()),
            None => {}
        }
        if let Some(c) = o(&r, 7)
            && collations.get(&table) != Some(&c)
        {
            extra.push(format!("collate {c}"));
        }
        // MariaDB spells "no default" on a nullable column as the text NULL.
        let default = o(&r, 4).filter(|d| d != "NULL" || generated.is_some());
        t.columns.push(Column {
            name: s(&r, 1),
            data_type: s(&r, 2),
            nullable: s(&r, 3) == "YES",
            default: if generated.is_some() { None } else { default },
            extra: extra.join(" "),
        });
    }

    // Primary keys and unique constraints are unique indexes on MySQL: read them all from
    // STATISTICS, where prefix lengths and order are visible.
    let mut indexes: BTreeMap<(String, String), (bool, String, Vec<String>)> = BTreeMap::new();
    for r in rows(
        conn,
        "SELECT TABLE_NAME, INDEX_NAME, CAST(NON_UNIQUE AS CHAR), COLUMN_NAME, CAST(SUB_PART AS CHAR), \
         COLLATION, INDEX_TYPE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        &[],
    )
    .await?
    {
        let mut col = o(&r, 3).unwrap_or_else(|| "<expression>".to_owned());
        if let Some(p) = o(&r, 4) {
            col.push_str(&format!("({p})"));
        }
        if s(&r, 5) == "D" {
            col.push_str(" desc");
        }
        let e = indexes
            .entry((s(&r, 0), s(&r, 1)))
            .or_insert_with(|| (s(&r, 2) == "0", s(&r, 6).to_ascii_lowercase(), Vec::new()));
        e.2.push(col);
    }
    for ((table, name), (unique, method, columns)) in indexes {
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        if name == "PRIMARY" {
            t.primary_key = Some(PrimaryKey {
                name: None,
                columns,
            });
        } else if unique {
            t.uniques.push(Unique {
                columns,
                name: Some(name),
            });
        } else {
            t.indexes.push(Index {
                name,
                unique,
                definition: format!("{method} ({})", columns.join(", ")),
            });
        }
    }

    let mut fks: BTreeMap<(String, String), ForeignKey> = BTreeMap::new();
    for r in rows(
        conn,
        "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, \
         k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, c.UPDATE_RULE, c.DELETE_RULE \
         FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS c \
         ON c.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME \
         AND c.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
         WHERE k.CONSTRAINT_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
         ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        &[],
    )
    .await?
    {
        let references = if s(&r, 3) == db {
            s(&r, 4)
        } else {
            format!("{}.{}", s(&r, 3), s(&r, 4))
        };
        let fk = fks
            .entry((s(&r, 0), s(&r, 1)))
            .or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                references,
                referenced_columns: Vec::new(),
                on_update: s(&r, 6).to_ascii_lowercase(),
                on_delete: s(&r, 7).to_ascii_lowercase(),
                options: String::new(),
                name: Some(s(&r, 1)),
            });
        fk.columns.push(s(&r, 2));
        fk.referenced_columns.push(s(&r, 5));
    }
    for ((table, _), fk) in fks {
        if let Some(t) = schema.tables.get_mut(&table) {
            t.foreign_keys.push(fk);
        }
    }

    for r in rows(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
         WHERE CONSTRAINT_SCHEMA = DATABASE()",
        &[],
    )
    .await?
    {
        if let Some(t) = schema.tables.get_mut(&s(&r, 0)) {
            t.checks.push(Check {
                expression: s(&r, 2),
                name: Some(s(&r, 1)),
            });
        }
    }

    for r in rows(
        conn,
        "SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION FROM information_schema.VIEWS \
         WHERE TABLE_SCHEMA = DATABASE()",
        &[],
    )
    .await?
    {
        let mut def = sqltext::normalize(&s(&r, 1).replace(&qualifier, ""));
        if s(&r, 2) != "NONE" && !s(&r, 2).is_empty() {
            def.push_str(&format!(
                " with {} check option",
                s(&r, 2).to_ascii_lowercase()
            ));
        }
        schema.views.insert(s(&r, 0), def);
    }

    for r in rows(
        conn,
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORIENTATION, \
         ACTION_STATEMENT, CAST(ACTION_ORDER AS CHAR) FROM information_schema.TRIGGERS \
         WHERE TRIGGER_SCHEMA = DATABASE()",
        &[],
    )
    .await?
    {
        schema.triggers.insert(
            format!("{} on {}", s(&r, 0), s(&r, 1)),
            Trigger {
                table: s(&r, 1),
                definition: format!(
                    "{} {} for each {} (order {}): {}",
                    s(&r, 2),
                    s(&r, 3),
                    s(&r, 4).to_ascii_lowercase(),
                    s(&r, 6),
                    sqltext::normalize(&s(&r, 5).replace(&qualifier, ""))
                ),
            },
        );
    }

    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows(
        conn,
        "SELECT SPECIFIC_NAME, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER FROM information_schema.PARAMETERS \
         WHERE SPECIFIC_SCHEMA = DATABASE() AND ORDINAL_POSITION > 0 ORDER BY SPECIFIC_NAME, ORDINAL_POSITION",
        &[],
    )
    .await?
    {
        let p = [o(&r, 1), o(&r, 2), o(&r, 3)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        params.entry(s(&r, 0)).or_default().push(p);
    }
    for r in rows(
        conn,
        "SELECT ROUTINE_NAME, ROUTINE_TYPE, DTD_IDENTIFIER, ROUTINE_DEFINITION FROM information_schema.ROUTINES \
         WHERE ROUTINE_SCHEMA = DATABASE()",
        &[],
    )
    .await?
    {
        let name = s(&r, 0);
        let args = params.get(&name).map(|p| p.join(", ")).unwrap_or_default();
        let mut desc = s(&r, 1).to_ascii_lowercase();
        if let Some(result) = o(&r, 2) {
            desc.push_str(&format!(" returns {result}"));
        }
        desc.push_str(&format!(
            ": {}",
            sqltext::normalize(&s(&r, 3).replace(&qualifier, ""))
        ));
        schema.routines.insert(format!("{name}({args})"), desc);
    }

    for name in sequences {
        let sql = format!(
            "SELECT CAST(start_value AS CHAR), CAST(increment AS CHAR), CAST(minimum_value AS CHAR), \
             CAST(maximum_value AS CHAR), CAST(cache_size AS CHAR), CAST(cycle_option AS CHAR) FROM {}",
            quote_ident(Dialect::MySql, &name)
        );
        let desc = match rows(conn, &sql, &[]).await?.into_iter().next() {
            Some(r) => format!(
                "start {} increment {} min {} max {} cache {}{}",
                s(&r, 0),
                s(&r, 1),
                s(&r, 2),
                s(&r, 3),
                s(&r, 4),
                if s(&r, 5) == "1" { " cycle" } else { "" }
            ),
            None => String::new(),
        };
        schema.sequences.insert(name, desc);
    }

    finish(&mut schema.tables);
    Ok(schema)
}

// ---------------------------------------------------------------------------------------------
// SQLite

async fn sqlite(conn: &mut Conn) -> Result<Schema> {
    let mut schema = Schema::empty(Dialect::Sqlite);
    let lit = |v: &str| quote_literal(Dialect::Sqlite, v);
    let master = rows(
        conn,
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         ORDER BY type, name",
        &[],
    )
    .await?;
    let sql_of = |name: &str| {
        master
            .iter()
            .find(|r| s(r, 1) == name)
            .map(|r| s(r, 3))
            .unwrap_or_default()
    };
    let mut flags: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for r in rows(
        conn,
        "SELECT name, wr, strict FROM pragma_table_list WHERE schema = 'main' AND type = 'table'",
        &[1, 2],
    )
    .await?
    {
        flags.insert(s(&r, 0), (s(&r, 1) == "1", s(&r, 2) == "1"));
    }

    for m in master.iter().filter(|r| s(r, 0) == "table") {
        let name = s(m, 1);
        let create = s(m, 3);
        let mut options = Vec::new();
        if has_virtual(&create) {
            options.push("virtual");
        }
        let (without_rowid, strict) = flags.get(&name).copied().unwrap_or_default();
        if without_rowid {
            options.push("without rowid");
        }
        if strict {
            options.push("strict");
        }
        if sqltext::has_keyword(&create, "autoincrement") {
            options.push("autoincrement");
        }
        let mut t = Table {
            options: options.join(", "),
            ..Table::default()
        };

        let mut pk: Vec<(i64, String)> = Vec::new();
        for r in rows(
            conn,
            &format!(
                "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo({}) ORDER BY cid",
                lit(&name)
            ),
            &[2, 4, 5],
        )
        .await?
        {
            let hidden = s(&r, 5);
            if hidden == "1" {
                continue;
            }
            let extra = match hidden.as_str() {
                "2" => "generated always virtual",
                "3" => "generated always stored",
                _ => "",
            };
            let pos: i64 = s(&r, 4).parse().unwrap_or(0);
            if pos > 0 {
                pk.push((pos, s(&r, 0)));
            }
            t.columns.push(Column {
                name: s(&r, 0),
                data_type: sqltext::normalize(&s(&r, 1)).to_lowercase(),
                nullable: s(&r, 2) != "1",
                default: o(&r, 3).map(|d| sqltext::normalize(&d)),
                extra: extra.to_owned(),
            });
        }
        pk.sort();
        if !pk.is_empty() {
            t.primary_key = Some(PrimaryKey {
                name: None,
                columns: pk.into_iter().map(|(_, c)| c).collect(),
            });
        }

        let mut fks: BTreeMap<String, ForeignKey> = BTreeMap::new();
        for r in rows(
            conn,
            &format!(
                "SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" \
                 FROM pragma_foreign_key_list({}) ORDER BY id, seq",
                lit(&name)
            ),
            &[0, 1],
        )
        .await?
        {
            let fk = fks.entry(s(&r, 0)).or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                references: s(&r, 2),
                referenced_columns: Vec::new(),
                on_update: s(&r, 5).to_ascii_lowercase(),
                on_delete: s(&r, 6).to_ascii_lowercase(),
                options: match s(&r, 7).as_str() {
                    "NONE" | "" => String::new(),
                    m => format!("match {}", m.to_ascii_lowercase()),
                },
                name: None,
            });
            fk.columns.push(s(&r, 3));
            // No column named: the referenced table's primary key, resolved below.
            fk.referenced_columns.push(s(&r, 4));
        }
        t.foreign_keys = fks.into_values().collect();

        for r in rows(
            conn,
            &format!(
                "SELECT name, \"unique\", origin, partial FROM pragma_index_list({})",
                lit(&name)
            ),
            &[1, 3],
        )
        .await?
        {
            let index = s(&r, 0);
            let origin = s(&r, 2);
            if origin == "pk" {
                continue;
            }
            let mut keys = Vec::new();
            let mut has_expression = false;
            for k in rows(
                conn,
                &format!(
                    "SELECT name, \"desc\", coll, cid FROM pragma_index_xinfo({}) WHERE key = 1 ORDER BY seqno",
                    lit(&index)
                ),
                &[1, 3],
            )
            .await?
            {
                let mut col = match o(&k, 0) {
                    Some(c) => c,
                    None => {
                        has_expression = true;
                        "<expression>".to_owned()
                    }
                };
                if s(&k, 2) != "BINARY" && !s(&k, 2).is_empty() {
                    col.push_str(&format!(" collate {}", s(&k, 2)));
                }
                if s(&k, 1) == "1" {
                    col.push_str(" desc");
                }
                keys.push(col);
            }
            if origin == "u" {
                t.uniques.push(Unique {
                    columns: keys,
                    name: None,
                });
                continue;
            }
            let create = sql_of(&index);
            let mut definition = if has_expression {
                sqltext::index_keys(&create).unwrap_or_else(|| format!("({})", keys.join(", ")))
            } else {
                format!("({})", keys.join(", "))
            };
            if s(&r, 3) == "1"
                && let Some(pred) = sqltext::index_predicate(&create)
            {
                definition.push_str(&format!(" where {pred}"));
            }
            t.indexes.push(Index {
                name: index,
                unique: s(&r, 1) == "1",
                definition,
            });
        }

        for (expression, name) in sqltext::checks(&create) {
            t.checks.push(Check { expression, name });
        }
        schema.tables.insert(name, t);
    }

    let pks: BTreeMap<String, Vec<String>> = schema
        .tables
        .iter()
        .filter_map(|(n, t)| {
            t.primary_key
                .as_ref()
                .map(|p| (n.clone(), p.columns.clone()))
        })
        .collect();
    for t in schema.tables.values_mut() {
        for fk in &mut t.foreign_keys {
            if fk.referenced_columns.iter().all(String::is_empty) {
                fk.referenced_columns = pks
                    .get(&fk.references)
                    .cloned()
                    .unwrap_or_else(|| vec!["<primary key>".to_owned()]);
            }
        }
    }

    for m in &master {
        match s(m, 0).as_str() {
            "view" => {
                schema.views.insert(s(m, 1), sqltext::normalize(&s(m, 3)));
            }
            "trigger" => {
                schema.triggers.insert(
                    format!("{} on {}", s(m, 1), s(m, 2)),
                    Trigger {
                        table: s(m, 2),
                        definition: sqltext::normalize(&s(m, 3)),
                    },
                );
            }
            _ => {}
        }
    }

    finish(&mut schema.tables);
    Ok(schema)
}

fn has_virtual(create: &str) -> bool {
    sqltext::normalize(create)
        .to_ascii_uppercase()
        .starts_with("CREATE VIRTUAL TABLE")
}
