//! Reading a [`Schema`] from each engine's catalog: `pg_catalog` on PostgreSQL,
//! `information_schema` on MySQL/MariaDB, `sqlite_master` and the `pragma_*` table functions on
//! SQLite. One file per engine, one function per kind of catalog object; this file picks the
//! engine, leaves out kiln's own tables, and holds what the engines share.
//!
//! Every query is a fixed string or is built from names the catalog itself returned, quoted as
//! literals; nothing a test author passes reaches SQL text.

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use crate::model::{Schema, Table};
use kiln_core::Dialect;
use kiln_runtime::{Db, Error, Options, RawConnection, Result};
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
                options.lock_table(),
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
    let mut conn = RawConnection::acquire(db).await?;
    let mut schema: Schema = match conn.dialect() {
        #[cfg(feature = "postgres")]
        Dialect::Postgres => postgres::capture(&mut conn, exclude).await?,
        #[cfg(feature = "mysql")]
        Dialect::MySql => mysql::capture(&mut conn).await?,
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => sqlite::capture(&mut conn).await?,
        other => {
            return Err(Error::Config(format!(
                "this build of kiln-schema cannot read the {} catalog: enable the engine's feature on kiln-schema (kiln forwards its own)",
                crate::dialect_name(other)
            )));
        }
    };
    let default_schema = match conn.dialect() {
        Dialect::Postgres => single_text(&mut conn, "SELECT current_schema()::text").await?,
        Dialect::MySql => single_text(&mut conn, "SELECT DATABASE()").await?,
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
    sort_constraints(&mut schema.tables);
    Ok(schema)
}

/// One row of a catalog query: every column as optional text, in select order.
pub(crate) struct Row(Vec<Option<String>>);

impl Row {
    /// Column `i`, empty when NULL.
    fn text(&self, i: usize) -> String {
        self.0.get(i).cloned().flatten().unwrap_or_default()
    }

    /// Column `i`, `None` when NULL or empty.
    fn optional(&self, i: usize) -> Option<String> {
        self.0.get(i).cloned().flatten().filter(|v| !v.is_empty())
    }
}

/// Runs a catalog query; `int_columns` are the columns the engine returns as integers.
async fn query(conn: &mut RawConnection, sql: &str, int_columns: &[usize]) -> Result<Vec<Row>> {
    let rows = conn
        .rows(sql, int_columns)
        .await
        .map_err(Error::db("reading the schema from the catalog"))?;
    Ok(rows.into_iter().map(Row).collect())
}

/// The first column of the first row, `None` when there is no row or it is NULL.
async fn single_text(conn: &mut RawConnection, sql: &str) -> Result<Option<String>> {
    Ok(query(conn, sql, &[])
        .await?
        .into_iter()
        .next()
        .and_then(|r| r.0.into_iter().next().flatten()))
}

/// A list the catalog query joined with `", "`, split again.
#[cfg(feature = "postgres")]
fn split_list(v: &str) -> Vec<String> {
    if v.is_empty() {
        Vec::new()
    } else {
        v.split(", ").map(str::to_owned).collect()
    }
}

/// Puts each table's constraints in a stable order, whatever order the catalog returned.
fn sort_constraints(tables: &mut BTreeMap<String, Table>) {
    for t in tables.values_mut() {
        t.foreign_keys.sort();
        t.uniques.sort();
        t.checks.sort();
        t.indexes.sort();
    }
}
