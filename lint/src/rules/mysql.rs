//! MySQL/MariaDB's statement rules: table copies and online-DDL clauses the server will refuse.
//!
//! InnoDB's online DDL decides per operation whether it can run `INSTANT`, `INPLACE` or only
//! `COPY`, and whether it allows `LOCK=NONE`; asking for more than the operation supports is an
//! error at run time, not a slower run.

use crate::engine::{Checker, Stmt};
use crate::facts::Op;
use kiln_core::Dialect;

pub(crate) fn check(c: &mut Checker<'_>, s: &Stmt<'_>) {
    if c.opts.dialect != Dialect::MySql {
        return;
    }
    let algorithm = s.ops.iter().find_map(|o| match o {
        Op::Algorithm(a) => Some(a.as_str()),
        _ => None,
    });
    let lock_none = s
        .ops
        .iter()
        .any(|o| matches!(o, Op::Lock(l) if l == "NONE"));
    let adds_pk = s
        .ops
        .iter()
        .any(|o| matches!(o, Op::AddUnique { primary: true, .. }));
    for op in &s.ops {
        let table = op.table();
        // What the operation needs at least: 0 instant, 1 in place, 2 copy; and whether it
        // permits concurrent writes (LOCK=NONE).
        let (needs, why, lock_ok) = match op {
            Op::TypeChange { column, .. } => (2, format!("changing the type of `{column}`"), false),
            Op::DropConstraint { primary: true, .. } if !adds_pk => (
                2,
                "dropping the primary key without adding one".to_owned(),
                false,
            ),
            Op::DropConstraint { primary: true, .. } => {
                (1, "replacing the primary key".to_owned(), true)
            }
            Op::AddUnique { primary, .. } => (
                1,
                if *primary {
                    "adding a primary key"
                } else {
                    "adding a unique key"
                }
                .to_owned(),
                true,
            ),
            Op::CreateIndex { .. } => (1, "adding an index".to_owned(), true),
            Op::AddForeignKey { .. } => (
                2,
                "adding a foreign key with foreign_key_checks on".to_owned(),
                false,
            ),
            Op::AddCheck { .. } => (2, "adding a CHECK constraint".to_owned(), false),
            Op::SetNotNull { column, .. } => (1, format!("making `{column}` NOT NULL"), true),
            _ => continue,
        };
        let asked = match algorithm {
            Some("INSTANT") => Some(0),
            Some("INPLACE") => Some(1),
            _ => None,
        };
        if let Some(a) = asked.filter(|a| *a < needs) {
            let alg = if a == 0 { "INSTANT" } else { "INPLACE" };
            let m = format!(
                "ALGORITHM={alg} is not possible for {why}: the server refuses the statement"
            );
            c.hit("mysql-lock-none-impossible", table, "ALGORITHM", m);
        } else if lock_none && !lock_ok {
            let m =
                format!("LOCK=NONE is not possible for {why}: the server refuses the statement");
            c.hit("mysql-lock-none-impossible", table, "LOCK", m);
        }
        if needs == 2 && !matches!(op, Op::TypeChange { .. } | Op::AddForeignKey { .. }) {
            let m = format!("{why} copies the table (ALGORITHM=COPY)");
            c.hit("mysql-table-copy", table, "", m);
        }
    }
    if algorithm == Some("COPY") {
        let table = s.ops.iter().find_map(Op::table);
        let m = "ALGORITHM=COPY copies the table and blocks writes while it does".to_owned();
        c.hit("mysql-table-copy", table, "ALGORITHM", m);
    }
}
