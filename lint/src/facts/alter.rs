//! `ALTER TABLE` operations reduced to facts: which rewrite the table, which take which lock,
//! and on MySQL which `ALGORITHM`/`LOCK` the statement asks for.

use super::*;

/// One operation of `ALTER TABLE table`, as the rules see it.
pub(super) fn alter(table: &str, op: &AlterTableOperation) -> Op {
    let table = table.to_owned();
    let other = |what, locks| Op::OtherAlter {
        table: table.clone(),
        what,
        locks,
    };
    match op {
        AlterTableOperation::AddColumn {
            column_def,
            if_not_exists,
            ..
        } => Op::AddColumn {
            table,
            column: column(column_def),
            if_not_exists: *if_not_exists,
        },
        AlterTableOperation::DropColumn {
            column_names,
            if_exists,
            ..
        } => Op::DropColumn {
            table,
            column: column_names.first().map(ident).unwrap_or_default(),
            if_exists: *if_exists,
        },
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => Op::RenameColumn {
            table,
            from: ident(old_column_name),
            to: ident(new_column_name),
        },
        AlterTableOperation::RenameTable { .. } => Op::RenameTable { table },
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            ..
        } => {
            if ident(old_name) != ident(new_name) {
                Op::RenameColumn {
                    table,
                    from: ident(old_name),
                    to: ident(new_name),
                }
            } else {
                Op::TypeChange {
                    table,
                    column: ident(old_name),
                    ty: data_type.to_string().to_uppercase(),
                }
            }
        }
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            ..
        } => Op::TypeChange {
            table,
            column: ident(col_name),
            ty: data_type.to_string().to_uppercase(),
        },
        AlterTableOperation::AlterColumn { column_name, op } => match op {
            AlterColumnOperation::SetDataType { data_type, .. } => Op::TypeChange {
                table,
                column: ident(column_name),
                ty: data_type.to_string().to_uppercase(),
            },
            AlterColumnOperation::SetNotNull => Op::SetNotNull {
                table,
                column: ident(column_name),
            },
            AlterColumnOperation::DropNotNull => other("ALTER COLUMN DROP NOT NULL", true),
            AlterColumnOperation::SetDefault { .. } => other("ALTER COLUMN SET DEFAULT", true),
            AlterColumnOperation::DropDefault => other("ALTER COLUMN DROP DEFAULT", true),
            _ => other("ALTER COLUMN", true),
        },
        AlterTableOperation::AddConstraint {
            constraint,
            not_valid,
        } => match constraint {
            TableConstraint::ForeignKey { .. } => Op::AddForeignKey {
                table,
                not_valid: *not_valid,
            },
            TableConstraint::Check { .. } => Op::AddCheck {
                table,
                not_valid: *not_valid,
            },
            TableConstraint::Unique { .. } => Op::AddUnique {
                table,
                using_index: false,
                primary: false,
            },
            TableConstraint::PrimaryKey { .. } => Op::AddUnique {
                table,
                using_index: false,
                primary: true,
            },
            _ => other("ADD CONSTRAINT", true),
        },
        AlterTableOperation::DropConstraint { .. } | AlterTableOperation::DropForeignKey { .. } => {
            Op::DropConstraint {
                table,
                primary: false,
            }
        }
        AlterTableOperation::DropPrimaryKey { .. } => Op::DropConstraint {
            table,
            primary: true,
        },
        AlterTableOperation::ValidateConstraint { .. } => other("VALIDATE CONSTRAINT", false),
        AlterTableOperation::Algorithm { algorithm, .. } => Op::Algorithm(
            match algorithm {
                AlterTableAlgorithm::Default => "DEFAULT",
                AlterTableAlgorithm::Instant => "INSTANT",
                AlterTableAlgorithm::Inplace => "INPLACE",
                AlterTableAlgorithm::Copy => "COPY",
            }
            .into(),
        ),
        AlterTableOperation::Lock { lock, .. } => Op::Lock(
            match lock {
                AlterTableLock::Default => "DEFAULT",
                AlterTableLock::None => "NONE",
                AlterTableLock::Shared => "SHARED",
                AlterTableLock::Exclusive => "EXCLUSIVE",
            }
            .into(),
        ),
        _ => other("ALTER TABLE", true),
    }
}
