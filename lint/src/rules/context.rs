//! Rules that need more than the statement: the revision's transaction mode, its other
//! statements, its downgrade, and what its parent revision used. Plus the engine-neutral
//! statement rules (renames, drops, type changes) whose exemptions come from that context.

use crate::Section;
use crate::engine::{Checker, Stmt};
use crate::facts::{Column, Op};
use kiln_core::Dialect;

/// Engine-neutral statement rules.
pub(crate) fn statement(c: &mut Checker<'_>, s: &Stmt<'_>) {
    let transactional = c.input.revision.is_transactional();
    let dialect = c.opts.dialect;
    let up = s.section == Section::Upgrade;
    for op in &s.ops {
        match op {
            Op::CreateIndex {
                concurrently: true, ..
            }
            | Op::DropIndex {
                concurrently: true, ..
            } if transactional => {
                let m =
                    "CONCURRENTLY cannot run inside the transaction kiln opens for this revision"
                        .to_owned();
                c.hit("concurrently-in-transaction", None, "CONCURRENTLY", m);
            }
            Op::Begin | Op::Commit if transactional && dialect != Dialect::MySql => {
                let m = "transaction control inside a revision kiln already runs in a transaction"
                    .to_owned();
                c.hit("nested-transaction", None, "", m);
            }
            Op::TypeChange { table, column, .. } if dialect != Dialect::Sqlite => {
                let m = format!("the type of `{table}.{column}` changes");
                c.hit("column-type-change", Some(table), column, m);
            }
            Op::RenameColumn { table, from, to } if up => column_gone(c, table, from, Some(to)),
            Op::RenameTable { table } if up => {
                let m = format!("table `{table}` is renamed");
                c.hit("rename-table", Some(table), "RENAME", m);
            }
            Op::DropColumn { table, column, .. } if up => column_gone(c, table, column, None),
            Op::DropTable { tables, .. } if up => {
                for t in tables {
                    let m = format!("table `{t}` is dropped");
                    c.hit("drop-table", Some(t), "TABLE", m);
                }
            }
            Op::AddForeignKey { table, .. } if dialect == Dialect::MySql => {
                let m = format!(
                    "foreign key added to `{table}`: with foreign_key_checks on, the table is copied"
                );
                c.hit("foreign-key-not-valid", Some(table), "FOREIGN", m);
            }
            Op::CreateTable { columns, .. } if dialect != Dialect::Sqlite => {
                for col in columns {
                    bigint_pk(c, col);
                }
            }
            Op::AddColumn { column, .. } if dialect != Dialect::Sqlite => bigint_pk(c, column),
            Op::Unparsed { error } => {
                let m = format!("not understood by the SQL parser ({error}); no rule checked it");
                c.hit("unparsed-statement", None, "", m);
            }
            _ => {}
        }
    }
}

fn bigint_pk(c: &mut Checker<'_>, col: &Column) {
    if !col.primary_key {
        return;
    }
    let t = col.ty.to_ascii_uppercase();
    let head = t.split('(').next().unwrap_or("").trim();
    if matches!(
        head,
        "INT"
            | "INTEGER"
            | "INT4"
            | "SERIAL"
            | "SERIAL4"
            | "SMALLINT"
            | "INT2"
            | "SMALLSERIAL"
            | "SERIAL2"
            | "MEDIUMINT"
            | "TINYINT"
    ) {
        let m = format!("primary key `{}` is {}", col.name, col.ty);
        c.hit("prefer-bigint-pk", None, &col.name, m);
    }
}

/// A rename (to `Some(new)`) or drop of `table.column`: the two-phase rule when the parent used
/// the column, else the plain rename or drop rule.
fn column_gone(c: &mut Checker<'_>, table: &str, column: &str, to: Option<&str>) {
    let what = if to.is_some() { "renamed" } else { "dropped" };
    if two_phase(c, table, column, what) {
        return;
    }
    match to {
        Some(to) => {
            let m = format!("`{table}.{column}` is renamed to `{to}`");
            c.hit("rename-column", Some(table), column, m);
        }
        None => {
            let m = format!("column `{table}.{column}` is dropped");
            c.hit("drop-column", Some(table), column, m);
        }
    }
}

/// `two-phase-column-change`: reports and returns true when a parent revision added, indexed
/// or wrote `table.column`.
fn two_phase(c: &mut Checker<'_>, table: &str, column: &str, what: &str) -> bool {
    let key = (table.to_owned(), column.to_owned());
    let short = table.rsplit('.').next().unwrap_or(table);
    let used = c.parents.iter().any(|p| {
        p.columns.contains(&key) || p.data_words.contains(column) && p.data_words.contains(short)
    });
    if used && !c.is_new(table) {
        let m = format!("`{table}.{column}` is {what}, but the previous revision uses it");
        c.hit("two-phase-column-change", Some(table), column, m);
    }
    used
}

/// Revision-wide rules, reported at the statement that shows the problem.
pub(crate) fn revision<'a>(
    c: &mut Checker<'a>,
    up: &[Stmt<'a>],
    down: Option<&[Stmt<'a>]>,
    all: &[&Stmt<'a>],
) {
    let index = |s: &Stmt<'_>| all.iter().position(|x| std::ptr::eq(*x, s)).unwrap_or(0);
    // Data and DDL together.
    let has_ddl = up.iter().any(|s| s.ops.iter().any(Op::is_ddl));
    if has_ddl
        && let Some(s) = up
            .iter()
            .find(|s| s.ops.iter().any(|o| matches!(o, Op::Data)))
    {
        c.at(index(s), s);
        let m = "data change in a revision that also changes the schema".to_owned();
        c.hit("mixed-ddl-and-data", None, "", m);
    }
    // MySQL: implicit commits.
    if c.opts.dialect == Dialect::MySql && up.len() > 1 {
        let ddl = up
            .iter()
            .enumerate()
            .find(|(i, s)| *i > 0 && s.ops.iter().any(Op::is_ddl))
            .or_else(|| {
                up.first()
                    .filter(|s| s.ops.iter().any(Op::is_ddl))
                    .map(|s| (0, s))
            });
        if let Some((_, s)) = ddl {
            c.at(index(s), s);
            let m = format!(
                "this DDL commits implicitly, so the revision's {} statements are not atomic",
                up.len()
            );
            c.hit("mysql-implicit-commit", None, "", m);
        }
    }
    // Destructive upgrades and their downgrades.
    let down_empty = down.is_none_or(|d| d.is_empty());
    for s in up {
        for op in &s.ops {
            let destroys = match op {
                Op::DropTable { tables, .. } => tables.first().cloned(),
                Op::DropColumn { table, column, .. } => Some(format!("{table}.{column}")),
                _ => None,
            };
            let Some(what) = destroys else { continue };
            c.at(index(s), s);
            if down_empty {
                let m = match down {
                    None => format!("`{what}` is dropped and the revision has no downgrade"),
                    Some(_) => format!("`{what}` is dropped and the downgrade is empty"),
                };
                c.hit("destructive-without-downgrade", None, "DROP", m);
            } else if let (Op::DropColumn { table, column, .. }, Some(d)) = (op, down)
                && !readds(d, table, column)
            {
                let m = format!(
                    "`{table}.{column}` is dropped, and the downgrade does not add it back"
                );
                c.hit("downgrade-misses-column", None, column, m);
            }
        }
    }
}

fn readds(down: &[Stmt<'_>], table: &str, column: &str) -> bool {
    down.iter().flat_map(|s| &s.ops).any(|op| match op {
        Op::AddColumn {
            table: t,
            column: col,
            ..
        } => t == table && col.name == column,
        Op::CreateTable {
            table: t, columns, ..
        } => t == table && columns.iter().any(|col| col.name == column),
        Op::RenameColumn { table: t, to, .. } => t == table && to == column,
        _ => false,
    })
}
