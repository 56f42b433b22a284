//! SQLite's statement rules: `ALTER TABLE` forms it lacks, foreign-key enforcement, pragmas.

use crate::engine::{Checker, Stmt};
use crate::facts::{Default, Op};
use kiln_core::Dialect;

/// Pragmas that silently do nothing inside a transaction.
const NOT_IN_TRANSACTION: &[&str] = &["foreign_keys", "journal_mode", "synchronous", "page_size"];

pub(crate) fn check(c: &mut Checker<'_>, s: &Stmt<'_>) {
    if c.opts.dialect != Dialect::Sqlite {
        return;
    }
    for op in &s.ops {
        let unsupported = match op {
            Op::TypeChange { column, .. } => Some(format!("changing the type of `{column}`")),
            Op::SetNotNull { column, .. } => Some(format!("SET NOT NULL on `{column}`")),
            Op::AddForeignKey { .. } => Some("adding a foreign key".into()),
            Op::AddCheck { .. } => Some("adding a CHECK constraint".into()),
            Op::AddUnique { .. } => Some("adding a UNIQUE or PRIMARY KEY constraint".into()),
            Op::DropConstraint { .. } => Some("dropping a constraint".into()),
            Op::OtherAlter { what, .. } if *what != "VALIDATE CONSTRAINT" => Some((*what).into()),
            Op::AddColumn { column, .. } if column.primary_key || column.unique => {
                Some(format!("adding `{}` as PRIMARY KEY or UNIQUE", column.name))
            }
            Op::AddColumn { column, .. }
                if column.not_null && matches!(column.default, None | Some(Default::Null)) =>
            {
                Some(format!(
                    "adding `{}` NOT NULL without a default",
                    column.name
                ))
            }
            Op::AddColumn { column, .. } if column.default == Some(Default::Volatile) => Some(
                format!("adding `{}` with a non-constant default", column.name),
            ),
            Op::AddColumn { column, .. } if column.default == Some(Default::Stored) => Some(
                format!("adding `{}` as a STORED generated column", column.name),
            ),
            _ => None,
        };
        if let Some(what) = unsupported {
            let m = format!("SQLite's ALTER TABLE cannot do this: {what}");
            c.hit("sqlite-alter-unsupported", op.table(), "", m);
        }
        let fk = match op {
            Op::CreateTable { foreign_key, .. } => *foreign_key,
            Op::AddColumn { column, .. } => column.references,
            _ => false,
        };
        if fk {
            let m = "foreign key declared; SQLite enforces it only with PRAGMA foreign_keys = ON"
                .to_owned();
            c.hit("sqlite-foreign-keys-off", None, "REFERENCES", m);
        }
        if let Op::Pragma { name, .. } = op
            && c.input.revision.is_transactional()
            && NOT_IN_TRANSACTION.contains(&name.as_str())
        {
            let m = format!("PRAGMA {name} has no effect inside the revision's transaction");
            c.hit("sqlite-pragma-in-transaction", None, name, m);
        }
    }
}
