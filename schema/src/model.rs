//! [`Schema`] and its parts: a normalized, comparable description of a database's schema (the
//! text form is in `text.rs`, the diff in `diff.rs`).
//!
//! A capture is meant to be compared with another capture *of the same engine*: types, defaults
//! and expressions are kept in each engine's own canonical spelling (what its catalog returns),
//! so PostgreSQL's `character varying(255)` and MariaDB's `varchar(255)` are not unified.
//!
//! Everything the comparison looks at is visible in the text form: one object per line,
//! `key: value`, sorted. The diff pairs lines by key, so a changed column shows up as one
//! "changed" entry rather than as an unrelated removal and addition.

use kiln_core::Dialect;
use std::collections::{BTreeMap, BTreeSet};

/// The schema of one database, as read from its catalog by [`Schema::capture`].
///
/// Names in the connection's default schema (PostgreSQL's `current_schema()`, MySQL's
/// `DATABASE()`, SQLite's `main`) are unqualified; other PostgreSQL schemas appear as
/// `schema.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Schema {
    /// The engine it was read from.
    pub dialect: Dialect,
    /// PostgreSQL schemas other than `public`, the connection's own and kiln's.
    pub schemas: BTreeSet<String>,
    /// PostgreSQL extensions other than `plpgsql`.
    pub extensions: BTreeSet<String>,
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
    /// Views by name: their definition, normalized (materialized views are prefixed with
    /// `materialized:`).
    pub views: BTreeMap<String, String>,
    /// Triggers by `name on table`.
    pub triggers: BTreeMap<String, Trigger>,
    /// Sequences by name (PostgreSQL, MariaDB): their parameters and owner. Sequences that
    /// back identity columns are described by the column instead.
    pub sequences: BTreeMap<String, String>,
    /// PostgreSQL enum types by name: their labels in order.
    pub enums: BTreeMap<String, Vec<String>>,
    /// Other PostgreSQL types (domains and composite types) by name: a description.
    pub types: BTreeMap<String, String>,
    /// Functions and procedures (PostgreSQL, MySQL/MariaDB) by signature (`name(arguments)`).
    pub routines: BTreeMap<String, Routine>,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Table {
    /// Storage options that change behaviour: `unlogged`, `partitioned` (PostgreSQL), the
    /// engine and collation (MySQL), `without rowid`, `strict`, `autoincrement` (SQLite).
    pub options: String,
    /// Columns in table order.
    pub columns: Vec<Column>,
    /// The primary key, if any.
    pub primary_key: Option<PrimaryKey>,
    /// Foreign keys, sorted.
    pub foreign_keys: Vec<ForeignKey>,
    /// Unique constraints, sorted. On MySQL/MariaDB, where a unique constraint *is* a unique
    /// index, every unique index is listed here.
    pub uniques: Vec<Unique>,
    /// Check constraints (and PostgreSQL exclusion constraints), sorted.
    pub checks: Vec<Check>,
    /// Indexes that do not implement a constraint above, sorted by name.
    pub indexes: Vec<Index>,
}

/// A column.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type in the engine's canonical spelling, lower case (SQLite: the declared type,
    /// lower-cased with whitespace normalized).
    pub data_type: String,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// Its default expression, if any. MariaDB's explicit `DEFAULT NULL` counts as none.
    pub default: Option<String>,
    /// Identity, generation, `auto_increment`, `on update` and non-default collation.
    pub extra: String,
}

/// A primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrimaryKey {
    /// The constraint's name where the engine keeps one a user can choose (PostgreSQL).
    pub name: Option<String>,
    /// Its columns, in key order.
    pub columns: Vec<String>,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ForeignKey {
    /// Referencing columns, in key order.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// Referenced columns, in key order.
    pub referenced_columns: Vec<String>,
    /// `no action`, `restrict`, `cascade`, `set null` or `set default`.
    pub on_update: String,
    /// `no action`, `restrict`, `cascade`, `set null` or `set default`.
    pub on_delete: String,
    /// Anything else: `deferrable`, `initially deferred`, `match full`, `not valid`.
    pub options: String,
    /// The constraint's name, where the engine keeps one.
    pub name: Option<String>,
}

/// A unique constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Unique {
    /// Its columns, in key order.
    pub columns: Vec<String>,
    /// The constraint's name, where the engine keeps one a user can choose.
    pub name: Option<String>,
}

/// A check constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Check {
    /// The condition, as the engine prints it (SQLite: as written, whitespace normalized).
    pub expression: String,
    /// The constraint's name, where the engine keeps one.
    pub name: Option<String>,
}

/// An index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Index {
    /// Its name.
    pub name: String,
    /// Whether it is unique.
    pub unique: bool,
    /// Method, key columns or expressions with their order, and predicate.
    pub definition: String,
}

/// A trigger: what comparisons look at (its table and normalized definition) and, on
/// MySQL/MariaDB, the body as written, which DDL writes back.
///
/// Two triggers are equal when their tables and definitions are: the body as written keeps the
/// author's formatting, which must not make two otherwise equal schemas differ.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Trigger {
    /// The table it fires on.
    pub table: String,
    /// Timing, events and action, normalized.
    pub definition: String,
    /// MySQL/MariaDB: the body as the engine keeps it (`ACTION_STATEMENT`, its lines and
    /// comments; a `#` comment would swallow the rest of a body joined on one line). Empty
    /// elsewhere: the definition is the whole statement there.
    pub source: String,
}

impl PartialEq for Trigger {
    fn eq(&self, other: &Trigger) -> bool {
        self.table == other.table && self.definition == other.definition
    }
}

impl Eq for Trigger {}

/// A function or procedure: what comparisons look at (its normalized description) and what
/// DDL needs to write it back (its full definition, as the engine prints it).
///
/// Two routines are equal when their descriptions are: the definition keeps the author's
/// formatting, which must not make two otherwise equal schemas differ.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Routine {
    /// Kind, result, language, the options that differ from the defaults and the normalized
    /// body: the text form's value, compared insensitively to whitespace and formatting.
    pub description: String,
    /// `function`, `procedure`, `aggregate` or `window function`.
    pub kind: String,
    /// Its name, schema-qualified outside the default schema as table names are.
    pub name: String,
    /// The arguments that identify it among overloads, as `DROP FUNCTION name(...)` takes them
    /// (PostgreSQL; MySQL/MariaDB has no overloading and drops by name).
    pub identity: String,
    /// What `CREATE OR REPLACE` cannot change (PostgreSQL: the arguments with their names and
    /// defaults, and the result): when it differs the routine is dropped and created again.
    pub header: String,
    /// The whole `CREATE` statement without a final `;` (PostgreSQL: `CREATE OR REPLACE
    /// FUNCTION ...` from `pg_get_functiondef`), empty when the engine cannot print one
    /// (aggregates).
    pub definition: String,
}

impl PartialEq for Routine {
    fn eq(&self, other: &Routine) -> bool {
        self.description == other.description
    }
}

impl Eq for Routine {}

impl Schema {
    /// A schema with nothing in it.
    pub fn empty(dialect: Dialect) -> Schema {
        Schema {
            dialect,
            schemas: BTreeSet::new(),
            extensions: BTreeSet::new(),
            tables: BTreeMap::new(),
            views: BTreeMap::new(),
            triggers: BTreeMap::new(),
            sequences: BTreeMap::new(),
            enums: BTreeMap::new(),
            types: BTreeMap::new(),
            routines: BTreeMap::new(),
        }
    }

    /// `true` when the database holds no object at all (kiln's own tables aside).
    pub fn is_empty(&self) -> bool {
        self.lines().is_empty()
    }

    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }
}

impl Column {
    /// `type null|not null [default ...] [extra]`, as the text form shows it.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} {}",
            self.data_type,
            if self.nullable { "null" } else { "not null" }
        );
        if let Some(d) = &self.default {
            s.push_str(" default ");
            s.push_str(d);
        }
        if !self.extra.is_empty() {
            s.push(' ');
            s.push_str(&self.extra);
        }
        s
    }
}

/// The engine's name as kiln's messages print it: `PostgreSQL`, `MySQL/MariaDB` or `SQLite`.
pub fn dialect_name(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "PostgreSQL",
        Dialect::MySql => "MySQL/MariaDB",
        _ => "SQLite",
    }
}
