//! PostgreSQL's statement rules: locks, rewrites, types, retry safety, lock_timeout.

use crate::Section;
use crate::engine::{Checker, Stmt};
use crate::facts::{Column, Default, Op};
use kiln_core::Dialect;

pub(crate) fn check(c: &mut Checker<'_>, s: &Stmt<'_>) {
    if c.opts.dialect != Dialect::Postgres {
        return;
    }
    let transactional = c.input.revision.is_transactional();
    for op in &s.ops {
        lock_timeout(c, s, op);
        match op {
            Op::CreateIndex {
                table,
                concurrently,
                if_not_exists,
                ..
            } => {
                if !concurrently {
                    let m = format!("CREATE INDEX on `{table}` without CONCURRENTLY");
                    c.hit("require-concurrent-index", Some(table), "INDEX", m);
                }
                if !transactional && !if_not_exists {
                    robust(c, "CREATE INDEX without IF NOT EXISTS", "INDEX");
                }
            }
            Op::DropIndex {
                concurrently,
                if_exists,
            } => {
                if !concurrently {
                    let m = "DROP INDEX without CONCURRENTLY".to_owned();
                    c.hit("require-concurrent-index-drop", None, "INDEX", m);
                }
                if !transactional && !if_exists {
                    robust(c, "DROP INDEX without IF EXISTS", "INDEX");
                }
            }
            Op::CreateTable {
                columns,
                if_not_exists,
                ..
            } => {
                for col in columns {
                    types(c, col, &col.ty);
                }
                if !transactional && !if_not_exists {
                    robust(c, "CREATE TABLE without IF NOT EXISTS", "TABLE");
                }
            }
            Op::DropTable { if_exists, .. } if !transactional && !if_exists => {
                robust(c, "DROP TABLE without IF EXISTS", "TABLE");
            }
            Op::AddColumn {
                table,
                column,
                if_not_exists,
            } => {
                add_column(c, table, column);
                if column.primary_key || column.unique {
                    let (what, word) = if column.primary_key {
                        ("PRIMARY KEY", "PRIMARY")
                    } else {
                        ("UNIQUE", "UNIQUE")
                    };
                    let m = format!(
                        "`{table}.{}` is added as {what}: its index is built under an ACCESS EXCLUSIVE lock",
                        column.name
                    );
                    c.hit("unique-without-index", Some(table), word, m);
                }
                if column.references {
                    let m = format!(
                        "`{table}.{}` is added with REFERENCES: the foreign key is validated at once",
                        column.name
                    );
                    c.hit("foreign-key-not-valid", Some(table), "REFERENCES", m);
                }
                if !transactional && !if_not_exists {
                    robust(c, "ADD COLUMN without IF NOT EXISTS", "ADD");
                }
            }
            Op::DropColumn { if_exists, .. } if !transactional && !if_exists => {
                robust(c, "DROP COLUMN without IF EXISTS", "DROP");
            }
            Op::TypeChange { column, ty, .. } => {
                let col = Column {
                    name: column.clone(),
                    ty: ty.clone(),
                    not_null: false,
                    default: None,
                    primary_key: false,
                    unique: false,
                    references: false,
                };
                types(c, &col, ty);
            }
            Op::AddForeignKey {
                table,
                not_valid: false,
            } => {
                let m = format!("foreign key added to `{table}` without NOT VALID");
                c.hit("foreign-key-not-valid", Some(table), "FOREIGN", m);
            }
            Op::AddCheck {
                table,
                not_valid: false,
            } => {
                let m = format!("CHECK constraint added to `{table}` without NOT VALID");
                c.hit("check-not-valid", Some(table), "CHECK", m);
            }
            Op::AddUnique {
                table,
                using_index: false,
                primary,
            } => {
                let (what, word) = if *primary {
                    ("PRIMARY KEY", "PRIMARY")
                } else {
                    ("UNIQUE", "UNIQUE")
                };
                let m = format!(
                    "{what} constraint on `{table}` builds its index under an ACCESS EXCLUSIVE lock"
                );
                c.hit("unique-without-index", Some(table), word, m);
            }
            Op::SetNotNull { table, column } => {
                let m = format!(
                    "SET NOT NULL on `{table}.{column}` scans the table under an ACCESS EXCLUSIVE lock"
                );
                c.hit("set-not-null", Some(table), "NOT", m);
            }
            _ => {}
        }
    }
}

fn robust(c: &mut Checker<'_>, what: &str, word: &str) {
    let m = format!("{what} in a revision with `-- kiln:transaction false`");
    c.hit("prefer-robust-stmts", None, word, m);
}

fn add_column(c: &mut Checker<'_>, table: &str, col: &Column) {
    types(c, col, &col.ty);
    let name = &col.name;
    match col.default {
        None | Some(Default::Null) if col.not_null && !col.primary_key => {
            let m = format!(
                "`{table}.{name}` is NOT NULL without a default: fails if `{table}` has rows"
            );
            c.hit("add-column-required", Some(table), name, m);
        }
        Some(Default::Volatile) => {
            let m = format!(
                "`{table}.{name}` gets a volatile default: every row of `{table}` is rewritten"
            );
            c.hit("volatile-default", Some(table), name, m);
        }
        Some(Default::Stored) => {
            let m = format!(
                "`{table}.{name}` is a stored generated column: every row of `{table}` is computed and rewritten"
            );
            c.hit("volatile-default", Some(table), name, m);
        }
        Some(Default::Constant) if c.opts.postgres_version < 11 => {
            let v = c.opts.postgres_version;
            let m = format!(
                "`{table}.{name}` gets a default: PostgreSQL {v} rewrites every row of `{table}` (11 and later do not)"
            );
            c.hit("volatile-default", Some(table), name, m);
        }
        _ => {}
    }
}

/// Type preferences, for a new column or a new type.
fn types(c: &mut Checker<'_>, col: &Column, ty: &str) {
    let name = &col.name;
    let t = ty.to_ascii_uppercase();
    let head = t.split('(').next().unwrap_or("").trim();
    if matches!(
        head,
        "VARCHAR" | "CHARACTER VARYING" | "CHAR" | "CHARACTER" | "BPCHAR"
    ) && (t.contains('(') || head.starts_with("CHAR") && !head.contains("VARYING"))
    {
        let m = format!("`{name}` is {ty}; prefer text");
        c.hit("prefer-text", None, name, m);
    }
    if t.starts_with("TIMESTAMP") && !t.contains("WITH TIME ZONE") && t != "TIMESTAMPTZ" {
        let m = format!("`{name}` is {ty} (no time zone); prefer timestamptz");
        c.hit("prefer-timestamptz", None, name, m);
    }
}

/// `lock-timeout`: the first statement of the upgrade that waits for a lock on an existing
/// table, with no `SET lock_timeout` before it in the revision. Reported once per revision.
fn lock_timeout(c: &mut Checker<'_>, s: &Stmt<'_>, op: &Op) {
    if matches!(op, Op::SetLockTimeout) {
        c.lock_timeout = true;
        return;
    }
    if s.section != Section::Upgrade
        || c.lock_timeout
        || c.lock_timeout_reported
        || !op.takes_lock()
    {
        return;
    }
    let new = match op {
        Op::DropTable { tables, .. } => tables.iter().all(|t| c.is_new(t)),
        Op::CreateTable { referenced, .. } => referenced.iter().all(|t| c.is_new(t)),
        _ => op.table().is_some_and(|t| c.is_new(t)),
    };
    if new {
        return;
    }
    c.lock_timeout_reported = true;
    let m = "this statement waits for a lock with no lock_timeout set in the revision".to_owned();
    c.hit("lock-timeout", op.table(), "", m);
}
