//! SQLite: the capture from `sqlite_master` and the `pragma_*` table functions, one function per
//! kind of object. SQLite keeps no catalog of check constraints and keeps index expressions only
//! as written, so those are read from the stored `CREATE` statements with `sqltext`.

use super::{Row, query};
use crate::model::{Check, Column, ForeignKey, Index, PrimaryKey, Schema, Table, Trigger, Unique};
use crate::sqltext;
use kiln_core::Dialect;
use kiln_runtime::{RawConnection, Result, quote_literal};
use std::collections::BTreeMap;

/// Reads every kind of object the model holds.
pub(super) async fn capture(conn: &mut RawConnection) -> Result<Schema> {
    let mut schema = Schema::empty(Dialect::Sqlite);
    let master = query(
        conn,
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         ORDER BY type, name",
        &[],
    )
    .await?;
    let flags = table_flags(conn).await?;
    for m in master.iter().filter(|r| r.text(0) == "table") {
        let name = m.text(1);
        let create = m.text(3);
        let mut t = Table {
            options: table_options(&create, flags.get(&name).copied().unwrap_or_default()),
            ..Table::default()
        };
        columns(conn, &name, &mut t).await?;
        foreign_keys(conn, &name, &mut t).await?;
        indexes(conn, &master, &name, &mut t).await?;
        for (expression, name) in sqltext::checks(&create) {
            t.checks.push(Check { expression, name });
        }
        schema.tables.insert(name, t);
    }
    resolve_implicit_references(&mut schema);
    views_and_triggers(&master, &mut schema);
    Ok(schema)
}

/// `(without rowid, strict)` of each table, from `pragma_table_list`.
async fn table_flags(conn: &mut RawConnection) -> Result<BTreeMap<String, (bool, bool)>> {
    let mut flags = BTreeMap::new();
    for r in query(
        conn,
        "SELECT name, wr, strict FROM pragma_table_list WHERE schema = 'main' AND type = 'table'",
        &[1, 2],
    )
    .await?
    {
        flags.insert(r.text(0), (r.text(1) == "1", r.text(2) == "1"));
    }
    Ok(flags)
}

/// The options that change a table's behaviour: virtual, without rowid, strict,
/// autoincrement.
fn table_options(create: &str, (without_rowid, strict): (bool, bool)) -> String {
    let mut options = Vec::new();
    if is_virtual(create) {
        options.push("virtual");
    }
    if without_rowid {
        options.push("without rowid");
    }
    if strict {
        options.push("strict");
    }
    if sqltext::has_keyword(create, "autoincrement") {
        options.push("autoincrement");
    }
    options.join(", ")
}

fn is_virtual(create: &str) -> bool {
    sqltext::normalize(create)
        .to_ascii_uppercase()
        .starts_with("CREATE VIRTUAL TABLE")
}

/// Columns in table order (hidden columns of virtual tables left out) and the primary key.
async fn columns(conn: &mut RawConnection, table: &str, t: &mut Table) -> Result<()> {
    let mut pk: Vec<(i64, String)> = Vec::new();
    for r in query(
        conn,
        &format!(
            "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo({}) ORDER BY cid",
            quote_literal(Dialect::Sqlite, table)
        ),
        &[2, 4, 5],
    )
    .await?
    {
        let hidden = r.text(5);
        if hidden == "1" {
            continue;
        }
        let extra = match hidden.as_str() {
            "2" => "generated always virtual",
            "3" => "generated always stored",
            _ => "",
        };
        let pos: i64 = r.text(4).parse().unwrap_or(0);
        if pos > 0 {
            pk.push((pos, r.text(0)));
        }
        t.columns.push(Column {
            name: r.text(0),
            data_type: sqltext::normalize(&r.text(1)).to_lowercase(),
            nullable: r.text(2) != "1",
            default: r.optional(3).map(|d| sqltext::normalize(&d)),
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
    Ok(())
}

/// Foreign keys, one row per column in the pragma, gathered per key. A key that names no
/// referenced column refers to the primary key: see [`resolve_implicit_references`].
async fn foreign_keys(conn: &mut RawConnection, table: &str, t: &mut Table) -> Result<()> {
    let mut fks: BTreeMap<String, ForeignKey> = BTreeMap::new();
    for r in query(
        conn,
        &format!(
            "SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" \
             FROM pragma_foreign_key_list({}) ORDER BY id, seq",
            quote_literal(Dialect::Sqlite, table)
        ),
        &[0, 1],
    )
    .await?
    {
        let fk = fks.entry(r.text(0)).or_insert_with(|| ForeignKey {
            columns: Vec::new(),
            references: r.text(2),
            referenced_columns: Vec::new(),
            on_update: r.text(5).to_ascii_lowercase(),
            on_delete: r.text(6).to_ascii_lowercase(),
            options: match r.text(7).as_str() {
                "NONE" | "" => String::new(),
                m => format!("match {}", m.to_ascii_lowercase()),
            },
            name: None,
        });
        fk.columns.push(r.text(3));
        fk.referenced_columns.push(r.text(4));
    }
    t.foreign_keys = fks.into_values().collect();
    Ok(())
}

/// Unique constraints and indexes (the primary key's index aside): key columns with collation
/// and order, expressions and the predicate of partial indexes.
async fn indexes(
    conn: &mut RawConnection,
    master: &[Row],
    table: &str,
    t: &mut Table,
) -> Result<()> {
    for r in query(
        conn,
        &format!(
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list({})",
            quote_literal(Dialect::Sqlite, table)
        ),
        &[1, 3],
    )
    .await?
    {
        let index = r.text(0);
        let origin = r.text(2);
        if origin == "pk" {
            continue;
        }
        let (keys, has_expression) = index_keys(conn, &index).await?;
        if origin == "u" {
            t.uniques.push(Unique {
                columns: keys,
                name: None,
            });
            continue;
        }
        let create = create_sql(master, &index);
        let mut definition = if has_expression {
            sqltext::index_keys(&create).unwrap_or_else(|| format!("({})", keys.join(", ")))
        } else {
            format!("({})", keys.join(", "))
        };
        if r.text(3) == "1"
            && let Some(pred) = sqltext::index_predicate(&create)
        {
            definition.push_str(&format!(" where {pred}"));
        }
        t.indexes.push(Index {
            name: index,
            unique: r.text(1) == "1",
            definition,
        });
    }
    Ok(())
}

/// The key columns of an index as `pragma_index_xinfo` shows them, and whether any key is an
/// expression (which the pragma does not spell out).
async fn index_keys(conn: &mut RawConnection, index: &str) -> Result<(Vec<String>, bool)> {
    let mut keys = Vec::new();
    let mut has_expression = false;
    for k in query(
        conn,
        &format!(
            "SELECT name, \"desc\", coll, cid FROM pragma_index_xinfo({}) WHERE key = 1 ORDER BY seqno",
            quote_literal(Dialect::Sqlite, index)
        ),
        &[1, 3],
    )
    .await?
    {
        let mut col = match k.optional(0) {
            Some(c) => c,
            None => {
                has_expression = true;
                "<expression>".to_owned()
            }
        };
        if k.text(2) != "BINARY" && !k.text(2).is_empty() {
            col.push_str(&format!(" collate {}", k.text(2)));
        }
        if k.text(1) == "1" {
            col.push_str(" desc");
        }
        keys.push(col);
    }
    Ok((keys, has_expression))
}

/// The `CREATE` statement `sqlite_master` keeps for an object, empty when there is none.
fn create_sql(master: &[Row], name: &str) -> String {
    master
        .iter()
        .find(|r| r.text(1) == name)
        .map(|r| r.text(3))
        .unwrap_or_default()
}

/// Fills in the referenced columns of foreign keys that name none: the referenced table's
/// primary key, or `<primary key>` when that table is not in the database.
fn resolve_implicit_references(schema: &mut Schema) {
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
}

/// Views and triggers, by their normalized `CREATE` statements.
fn views_and_triggers(master: &[Row], schema: &mut Schema) {
    for m in master {
        match m.text(0).as_str() {
            "view" => {
                schema
                    .views
                    .insert(m.text(1), sqltext::normalize(&m.text(3)));
            }
            "trigger" => {
                schema.triggers.insert(
                    format!("{} on {}", m.text(1), m.text(2)),
                    Trigger {
                        table: m.text(2),
                        definition: sqltext::normalize(&m.text(3)),
                        source: String::new(),
                    },
                );
            }
            _ => {}
        }
    }
}
