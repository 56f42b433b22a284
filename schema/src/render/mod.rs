//! DDL from the model: the [`Migration`] that turns one [`Schema`] into another, as SQL in
//! dependency order, with one [`Step`] per change. `kiln schema dump` is the migration from an
//! empty schema (so a dump and a generated revision can never disagree), `kiln revision
//! --autogenerate` renders head → declared for the upgrade and declared → head for the downgrade.
//!
//! The planner (`plan.rs`) decides what changes and in which order; the per-engine files spell
//! each statement. Anything the model holds but cannot be rendered back is a [`StepKind::Unrenderable`]
//! step: never skipped silently.

mod mysql;
mod plan;
mod postgres;
mod routines;
mod sqlite;

use crate::model::{Schema, dialect_name};
use kiln_core::Dialect;

pub(crate) use plan::plan;

/// What kind of change a [`Step`] is; decides how its header line reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StepKind {
    /// An ordinary change.
    Change,
    /// A change that loses data (a dropped table or column, a narrowing type change).
    Destructive,
    /// Something to read before applying (column order, a table rebuild, a failing case).
    Warning,
    /// A dropped and an added object that look alike: a rename kiln does not guess.
    PossibleRename,
    /// A difference kiln cannot express in SQL from the model; the migration is incomplete.
    Unrenderable,
}

/// One change: a line for the generated file's header and its SQL statements (each without the
/// final `;`). Notes have no SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// What kind of change.
    pub kind: StepKind,
    /// One line saying what changes, e.g. `add column users.email`.
    pub summary: String,
    /// The statements, in order.
    pub sql: Vec<String>,
}

/// The SQL that turns one schema into another, in dependency order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Migration {
    /// The engine the SQL is for.
    pub dialect: Dialect,
    /// The changes, in the order their SQL runs.
    pub steps: Vec<Step>,
}

/// A rename the user asked for (`--rename users=people`, `--rename users.name=full_name`):
/// kiln never guesses one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rename {
    /// A table: old and new name.
    Table {
        /// The name at head.
        from: String,
        /// The declared name.
        to: String,
    },
    /// A column of a table (named as at head).
    Column {
        /// The table, as named at head.
        table: String,
        /// The column's name at head.
        from: String,
        /// The declared name.
        to: String,
    },
}

impl Rename {
    /// Reads `OLD=NEW` (a table) or `TABLE.OLD=NEW` (a column of TABLE). A name that is a table
    /// of `head` is a table, so PostgreSQL's `schema.table=new` works too.
    pub fn parse(text: &str, head: &Schema) -> Result<Rename, String> {
        let (old, new) = text
            .split_once('=')
            .map(|(a, b)| (a.trim(), b.trim()))
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
            .ok_or_else(|| {
                format!("`{text}` is not a rename: write OLD=NEW for a table or TABLE.OLD=NEW for a column")
            })?;
        if head.tables.contains_key(old) {
            return Ok(Rename::Table {
                from: old.to_owned(),
                to: new.to_owned(),
            });
        }
        match old.rsplit_once('.') {
            Some((table, column)) if head.tables.contains_key(table) => {
                let has = head.tables[table].columns.iter().any(|c| c.name == column);
                if !has {
                    return Err(format!(
                        "--rename {text}: table {table} has no column {column} at head"
                    ));
                }
                Ok(Rename::Column {
                    table: table.to_owned(),
                    from: column.to_owned(),
                    to: new.to_owned(),
                })
            }
            _ => Err(format!(
                "--rename {text}: there is no table `{old}` (nor a column of that name) at head"
            )),
        }
    }

    /// The rename the other way, for the downgrade.
    pub fn inverse(&self) -> Rename {
        match self {
            Rename::Table { from, to } => Rename::Table {
                from: to.clone(),
                to: from.clone(),
            },
            Rename::Column { table, from, to } => Rename::Column {
                table: table.clone(),
                from: to.clone(),
                to: from.clone(),
            },
        }
    }
}

impl Migration {
    /// `true` when the two schemas were equal: nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps kiln could not render; a migration with any is incomplete.
    pub fn unrenderable(&self) -> Vec<&Step> {
        self.steps
            .iter()
            .filter(|s| s.kind == StepKind::Unrenderable)
            .collect()
    }

    /// One comment line per step, in order, those that need attention marked:
    /// `-- + add table users`, `-- ! drop column users.age (destructive)`.
    pub fn header(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            let mark = match s.kind {
                StepKind::Change => "-- ",
                StepKind::Destructive => "-- DESTRUCTIVE: ",
                StepKind::Warning => "-- WARNING: ",
                StepKind::PossibleRename => "-- POSSIBLE RENAME: ",
                StepKind::Unrenderable => "-- NOT RENDERED: ",
            };
            out.push_str(mark);
            out.push_str(&s.summary);
            out.push('\n');
        }
        out
    }

    /// The statements, each ending with `;` and a blank line between steps (on MySQL/MariaDB a
    /// statement that holds `;`, a routine's body, between `DELIMITER` lines).
    pub fn sql(&self) -> String {
        let mut out = String::new();
        for s in self.steps.iter().filter(|s| !s.sql.is_empty()) {
            if !out.is_empty() {
                out.push('\n');
            }
            for st in &s.sql {
                out.push_str(&routines::terminated(self.dialect, st));
            }
        }
        out
    }
}

impl Schema {
    /// The migration that turns this schema into `to`: its SQL in dependency order and one
    /// [`Step`] per change. `renames` (named as in `self`) are rendered as renames rather than
    /// a drop and an add. Run it the other way round for the downgrade.
    pub fn migration_to(&self, to: &Schema, renames: &[Rename]) -> Migration {
        plan(self, to, renames)
    }

    /// The canonical DDL that creates this schema from nothing: what `kiln schema dump` prints.
    /// Deterministic (objects in dependency order, then by name). Objects the model cannot
    /// spell back are listed as `-- NOT RENDERED:` comments at the top, see
    /// [`Migration::unrenderable`].
    pub fn to_ddl(&self) -> String {
        let m = plan(&Schema::empty(self.dialect), self, &[]);
        let mut out = format!("-- kiln schema dump ({})\n", dialect_name(self.dialect));
        for s in m.unrenderable() {
            out.push_str(&format!("-- NOT RENDERED: {}\n", s.summary));
        }
        out.push('\n');
        out.push_str(&m.sql());
        out
    }

    /// A copy with each table's columns sorted by name, for comparisons where column order does
    /// not count (PostgreSQL appends a column that a migration adds).
    pub fn without_column_order(&self) -> Schema {
        let mut s = self.clone();
        for t in s.tables.values_mut() {
            t.columns.sort_by(|a, b| a.name.cmp(&b.name));
        }
        s
    }
}

/// Words that must be quoted to be used as a name in at least one engine. Quoting more than
/// needed is harmless; quoting less breaks the DDL, so the list errs on the long side.
const RESERVED: &[&str] = &[
    "abort",
    "action",
    "add",
    "after",
    "all",
    "alter",
    "always",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "attach",
    "authorization",
    "autoincrement",
    "before",
    "begin",
    "between",
    "binary",
    "both",
    "by",
    "cascade",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "commit",
    "concurrently",
    "conflict",
    "constraint",
    "create",
    "cross",
    "current",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "database",
    "default",
    "deferrable",
    "deferred",
    "delete",
    "desc",
    "detach",
    "distinct",
    "do",
    "drop",
    "each",
    "else",
    "end",
    "escape",
    "except",
    "exclude",
    "exclusive",
    "exists",
    "explain",
    "fail",
    "false",
    "fetch",
    "filter",
    "first",
    "following",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "generated",
    "glob",
    "grant",
    "group",
    "groups",
    "having",
    "if",
    "ignore",
    "ilike",
    "immediate",
    "in",
    "index",
    "indexed",
    "initially",
    "inner",
    "insert",
    "instead",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "key",
    "last",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "match",
    "materialized",
    "natural",
    "no",
    "not",
    "nothing",
    "notnull",
    "null",
    "nulls",
    "of",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "others",
    "outer",
    "over",
    "overlaps",
    "partition",
    "placing",
    "plan",
    "pragma",
    "preceding",
    "primary",
    "query",
    "raise",
    "range",
    "recursive",
    "references",
    "regexp",
    "reindex",
    "release",
    "rename",
    "replace",
    "restrict",
    "returning",
    "right",
    "rollback",
    "row",
    "rows",
    "savepoint",
    "select",
    "session_user",
    "set",
    "similar",
    "some",
    "symmetric",
    "table",
    "tablesample",
    "temp",
    "temporary",
    "then",
    "ties",
    "to",
    "trailing",
    "transaction",
    "trigger",
    "true",
    "unbounded",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "vacuum",
    "values",
    "variadic",
    "verbose",
    "view",
    "virtual",
    "when",
    "where",
    "window",
    "with",
    "without",
];

/// A name as DDL writes it: bare when it is a plain lower-case word that is not reserved,
/// quoted otherwise (always quoted on MySQL).
pub(crate) fn ident(d: Dialect, name: &str) -> String {
    // MySQL's reserved words are many and grow with each version (`rank` in 8.0); like
    // mysqldump, kiln quotes every name there.
    if d == Dialect::MySql {
        return kiln_runtime::quote_ident(d, name);
    }
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && RESERVED.binary_search(&name).is_err() {
        name.to_owned()
    } else {
        kiln_runtime::quote_ident(d, name)
    }
}

/// A possibly schema-qualified name (`schema.table` on PostgreSQL) as DDL writes it.
pub(crate) fn qname(d: Dialect, name: &str) -> String {
    match (d, name.split_once('.')) {
        (Dialect::Postgres, Some((s, n))) => format!("{}.{}", ident(d, s), ident(d, n)),
        _ => ident(d, name),
    }
}

/// A sequence's `start S increment I min A max B cache C` (as the captures write it) as
/// `CREATE SEQUENCE` options in order; `None` when a word is not one of these.
pub(crate) fn sequence_options(words: &[&str]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in words.chunks(2) {
        let [k, v] = pair else { return None };
        let key = match *k {
            "start" => "START WITH",
            "increment" => "INCREMENT BY",
            "min" => "MINVALUE",
            "max" => "MAXVALUE",
            "cache" => "CACHE",
            _ => return None,
        };
        out.push((key.to_owned(), (*v).to_owned()));
    }
    Some(out)
}

/// A comma-separated list of names.
pub(crate) fn idents(d: Dialect, names: &[String]) -> String {
    names
        .iter()
        .map(|n| ident(d, n))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_sorted_for_binary_search() {
        let mut sorted = RESERVED.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, RESERVED);
    }

    #[test]
    fn names_are_quoted_only_when_needed() {
        assert_eq!(ident(Dialect::Postgres, "users"), "users");
        assert_eq!(ident(Dialect::Postgres, "user"), "\"user\"");
        assert_eq!(ident(Dialect::Postgres, "Users"), "\"Users\"");
        assert_eq!(ident(Dialect::Sqlite, "a b"), "\"a b\"");
        assert_eq!(qname(Dialect::Postgres, "app.order"), "app.\"order\"");
    }
}
