//! MySQL and MariaDB: the capture from `information_schema`, one function per kind of object.
//!
//! Names are those of the connection's database (`DATABASE()`), unqualified. View, trigger and
//! routine bodies name tables as `` `db`.`table` ``; the two databases a comparison looks at
//! have different names, so that qualifier is dropped.

use super::{query, single_text};
use crate::model::{
    Check, Column, ForeignKey, Index, PrimaryKey, Routine, Schema, Table, Trigger, Unique,
};
use crate::sqltext;
use kiln_core::Dialect;
use kiln_runtime::{RawConnection, Result, quote_ident};
use std::collections::BTreeMap;

/// Reads every kind of object the model holds.
pub(super) async fn capture(conn: &mut RawConnection) -> Result<Schema> {
    let mut schema = Schema::empty(Dialect::MySql);
    let database = single_text(conn, "SELECT DATABASE()")
        .await?
        .unwrap_or_default();
    let qualifier = format!("{}.", quote_ident(Dialect::MySql, &database));
    let listed = tables(conn, &mut schema).await?;
    columns(conn, &listed.collations, &mut schema).await?;
    indexes(conn, &mut schema).await?;
    foreign_keys(conn, &database, &mut schema).await?;
    checks(conn, &mut schema).await?;
    views(conn, &qualifier, &mut schema).await?;
    triggers(conn, &qualifier, &mut schema).await?;
    routines(conn, &qualifier, &mut schema).await?;
    sequences(conn, listed.sequences, &mut schema).await?;
    Ok(schema)
}

/// What the table listing tells the later steps.
struct Listed {
    /// Each table's default collation: a column's own collation is shown only when it differs.
    collations: BTreeMap<String, String>,
    /// MariaDB sequences, which `information_schema.TABLES` lists among the tables.
    sequences: Vec<String>,
}

/// Tables with their engine and collation (system-versioned and other non-base kinds named).
async fn tables(conn: &mut RawConnection, schema: &mut Schema) -> Result<Listed> {
    let mut listed = Listed {
        collations: BTreeMap::new(),
        sequences: Vec::new(),
    };
    for r in query(
        conn,
        "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE()",
        &[],
    )
    .await?
    {
        let name = r.text(0);
        match r.text(1).as_str() {
            "VIEW" => {}
            "SEQUENCE" => listed.sequences.push(name),
            kind => {
                let mut options = format!("engine {}, collation {}", r.text(2), r.text(3));
                if kind != "BASE TABLE" {
                    options = format!("{}, {options}", kind.to_ascii_lowercase());
                }
                listed.collations.insert(name.clone(), r.text(3));
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
    Ok(listed)
}

/// Columns in table order: type, nullability, default, `EXTRA` (auto_increment, on update,
/// generation) and a collation other than the table's.
async fn columns(
    conn: &mut RawConnection,
    collations: &BTreeMap<String, String>,
    schema: &mut Schema,
) -> Result<()> {
    for r in query(
        conn,
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, \
         GENERATION_EXPRESSION, COLLATION_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
        &[],
    )
    .await?
    {
        let table = r.text(0);
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        let mut extra = Vec::new();
        let generated = r.optional(6);
        match r.optional(5) {
            Some(e) if generated.is_some() => extra.push(format!(
                "as ({}) {}",
                generated.clone().unwrap_or_default(),
                e.to_ascii_lowercase()
            )),
            Some(e) => extra.push(e.to_ascii_lowercase()),
            None => {}
        }
        if let Some(c) = r.optional(7)
            && collations.get(&table) != Some(&c)
        {
            extra.push(format!("collate {c}"));
        }
        // MariaDB spells "no default" on a nullable column as the text NULL.
        let default = r.optional(4).filter(|d| d != "NULL" || generated.is_some());
        t.columns.push(Column {
            name: r.text(1),
            data_type: r.text(2),
            nullable: r.text(3) == "YES",
            default: if generated.is_some() { None } else { default },
            extra: extra.join(" "),
        });
    }
    Ok(())
}

/// Primary keys, unique constraints and indexes. They are all indexes on MySQL: read them from
/// `STATISTICS`, where prefix lengths and order are visible.
async fn indexes(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    let mut indexes: BTreeMap<(String, String), (bool, String, Vec<String>)> = BTreeMap::new();
    for r in query(
        conn,
        "SELECT TABLE_NAME, INDEX_NAME, CAST(NON_UNIQUE AS CHAR), COLUMN_NAME, CAST(SUB_PART AS CHAR), \
         COLLATION, INDEX_TYPE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        &[],
    )
    .await?
    {
        let mut col = r.optional(3).unwrap_or_else(|| "<expression>".to_owned());
        if let Some(p) = r.optional(4) {
            col.push_str(&format!("({p})"));
        }
        if r.text(5) == "D" {
            col.push_str(" desc");
        }
        let e = indexes.entry((r.text(0), r.text(1))).or_insert_with(|| {
            (
                r.text(2) == "0",
                r.text(6).to_ascii_lowercase(),
                Vec::new(),
            )
        });
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
    Ok(())
}

/// Foreign keys, one row per column in the catalog, gathered per constraint. A referenced
/// table in another database keeps that database's name.
async fn foreign_keys(conn: &mut RawConnection, database: &str, schema: &mut Schema) -> Result<()> {
    let mut fks: BTreeMap<(String, String), ForeignKey> = BTreeMap::new();
    for r in query(
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
        let references = if r.text(3) == database {
            r.text(4)
        } else {
            format!("{}.{}", r.text(3), r.text(4))
        };
        let fk = fks
            .entry((r.text(0), r.text(1)))
            .or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                references,
                referenced_columns: Vec::new(),
                on_update: r.text(6).to_ascii_lowercase(),
                on_delete: r.text(7).to_ascii_lowercase(),
                options: String::new(),
                name: Some(r.text(1)),
            });
        fk.columns.push(r.text(2));
        fk.referenced_columns.push(r.text(5));
    }
    for ((table, _), fk) in fks {
        if let Some(t) = schema.tables.get_mut(&table) {
            t.foreign_keys.push(fk);
        }
    }
    Ok(())
}

/// Check constraints.
async fn checks(conn: &mut RawConnection, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
         WHERE CONSTRAINT_SCHEMA = DATABASE()",
        &[],
    )
    .await?
    {
        if let Some(t) = schema.tables.get_mut(&r.text(0)) {
            t.checks.push(Check {
                expression: r.text(2),
                name: Some(r.text(1)),
            });
        }
    }
    Ok(())
}

/// Views by their normalized definition and check option.
async fn views(conn: &mut RawConnection, qualifier: &str, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        "SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION FROM information_schema.VIEWS \
         WHERE TABLE_SCHEMA = DATABASE()",
        &[],
    )
    .await?
    {
        let mut def = sqltext::normalize(&r.text(1).replace(qualifier, ""));
        if r.text(2) != "NONE" && !r.text(2).is_empty() {
            def.push_str(&format!(
                " with {} check option",
                r.text(2).to_ascii_lowercase()
            ));
        }
        schema.views.insert(r.text(0), def);
    }
    Ok(())
}

/// Triggers: timing, event, order and normalized body.
async fn triggers(conn: &mut RawConnection, qualifier: &str, schema: &mut Schema) -> Result<()> {
    for r in query(
        conn,
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORIENTATION, \
         ACTION_STATEMENT, CAST(ACTION_ORDER AS CHAR) FROM information_schema.TRIGGERS \
         WHERE TRIGGER_SCHEMA = DATABASE()",
        &[],
    )
    .await?
    {
        let body = r.text(5).replace(qualifier, "");
        schema.triggers.insert(
            format!("{} on {}", r.text(0), r.text(1)),
            Trigger {
                table: r.text(1),
                definition: format!(
                    "{} {} for each {} (order {}): {}",
                    r.text(2),
                    r.text(3),
                    r.text(4).to_ascii_lowercase(),
                    r.text(6),
                    sqltext::normalize(&body)
                ),
                source: body.trim().to_owned(),
            },
        );
    }
    Ok(())
}

/// Functions and procedures by name and parameters: the description compared (kind, result,
/// characteristics other than the defaults, normalized body) and a `CREATE` statement built
/// from the catalog (`SHOW CREATE` would add the `DEFINER`, a user the target may not have).
async fn routines(conn: &mut RawConnection, qualifier: &str, schema: &mut Schema) -> Result<()> {
    const D: Dialect = Dialect::MySql;
    // Per routine: the parameters as the key shows them, and as `CREATE` declares them.
    let mut params: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for r in query(
        conn,
        "SELECT SPECIFIC_NAME, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER, ROUTINE_TYPE \
         FROM information_schema.PARAMETERS \
         WHERE SPECIFIC_SCHEMA = DATABASE() AND ORDINAL_POSITION > 0 ORDER BY SPECIFIC_NAME, ORDINAL_POSITION",
        &[],
    )
    .await?
    {
        let shown = [r.optional(1), r.optional(2), r.optional(3)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        // Only a procedure's parameters have a mode; MariaDB reports `IN` for a function's.
        let mode = match (r.text(4).as_str(), r.optional(1)) {
            ("PROCEDURE", Some(m)) => format!("{m} "),
            _ => String::new(),
        };
        let declared = format!("{mode}{} {}", quote_ident(D, &r.text(2)), r.text(3));
        let entry = params.entry(r.text(0)).or_default();
        entry.0.push(shown);
        entry.1.push(declared);
    }
    for r in query(
        conn,
        "SELECT ROUTINE_NAME, ROUTINE_TYPE, DTD_IDENTIFIER, ROUTINE_DEFINITION, IS_DETERMINISTIC, \
         SQL_DATA_ACCESS, SECURITY_TYPE, ROUTINE_COMMENT FROM information_schema.ROUTINES \
         WHERE ROUTINE_SCHEMA = DATABASE()",
        &[],
    )
    .await?
    {
        let name = r.text(0);
        let (shown, declared) = params.get(&name).cloned().unwrap_or_default();
        let kind = r.text(1).to_ascii_lowercase();
        let body = r.text(3).replace(qualifier, "");
        let mut desc = kind.clone();
        let mut create = format!(
            "CREATE {} {}({})",
            r.text(1),
            quote_ident(D, &name),
            declared.join(", ")
        );
        if let Some(result) = r.optional(2) {
            desc.push_str(&format!(" returns {result}"));
            create.push_str(&format!(" RETURNS {result}"));
        }
        let mut characteristics = Vec::new();
        if r.text(4) == "YES" {
            characteristics.push("DETERMINISTIC".to_owned());
        }
        if let Some(access) = r.optional(5).filter(|a| a != "CONTAINS SQL") {
            characteristics.push(access);
        }
        if r.text(6) == "INVOKER" {
            characteristics.push("SQL SECURITY INVOKER".to_owned());
        }
        for c in &characteristics {
            desc.push(' ');
            desc.push_str(&c.to_ascii_lowercase());
        }
        if let Some(comment) = r.optional(7) {
            desc.push_str(&format!(" comment {comment}"));
            characteristics.push(format!(
                "COMMENT {}",
                kiln_runtime::quote_literal(D, &comment)
            ));
        }
        for c in &characteristics {
            create.push_str("\n    ");
            create.push_str(c);
        }
        desc.push_str(&format!(": {}", sqltext::normalize(&body)));
        create.push('\n');
        create.push_str(body.trim());
        schema.routines.insert(
            format!("{name}({})", shown.join(", ")),
            Routine {
                description: desc,
                kind,
                name,
                identity: String::new(),
                header: String::new(),
                definition: create,
            },
        );
    }
    Ok(())
}

/// MariaDB sequences, each read with a `SELECT` of its own (the catalog has no table of their
/// parameters).
async fn sequences(
    conn: &mut RawConnection,
    names: Vec<String>,
    schema: &mut Schema,
) -> Result<()> {
    for name in names {
        let sql = format!(
            "SELECT CAST(start_value AS CHAR), CAST(increment AS CHAR), CAST(minimum_value AS CHAR), \
             CAST(maximum_value AS CHAR), CAST(cache_size AS CHAR), CAST(cycle_option AS CHAR) FROM {}",
            quote_ident(Dialect::MySql, &name)
        );
        let desc = match query(conn, &sql, &[]).await?.into_iter().next() {
            Some(r) => format!(
                "start {} increment {} min {} max {} cache {}{}",
                r.text(0),
                r.text(1),
                r.text(2),
                r.text(3),
                r.text(4),
                if r.text(5) == "1" { " cycle" } else { "" }
            ),
            None => String::new(),
        };
        schema.sequences.insert(name, desc);
    }
    Ok(())
}
