//! What a statement does, as far as the rules care: the parser's syntax tree reduced to facts.
//!
//! Rules never look at `sqlparser`'s tree themselves, so a parser upgrade (its tree changes
//! often) touches this one module (`facts/`). A statement the parser does not accept is still classified by
//! its leading words where that is unambiguous (`DROP INDEX CONCURRENTLY`, `SET lock_timeout`,
//! `BEGIN`), and otherwise reported as [`Op::Unparsed`] so a gap in coverage is visible.

use kiln_core::Dialect;
use sqlparser::ast::{
    AlterColumnOperation, AlterTableAlgorithm, AlterTableLock, AlterTableOperation, ColumnDef,
    ColumnOption, CreateIndex, CreateTable, DataType, Expr, GeneratedExpressionMode, ObjectName,
    ObjectType, Set, Statement as Ast, TableConstraint,
};
use sqlparser::dialect::{Dialect as SqlDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

mod alter;
mod sqlite;
use alter::alter;
use sqlite::Sqlite;

/// One column as declared by `CREATE TABLE` or `ADD COLUMN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name, unquoted and lower-cased.
    pub name: String,
    /// The declared type as written by the parser, upper-case (`VARCHAR(100)`, `SERIAL`).
    pub ty: String,
    /// `NOT NULL` (or `PRIMARY KEY`).
    pub not_null: bool,
    /// The `DEFAULT`, if any.
    pub default: Option<Default>,
    /// `PRIMARY KEY` on the column.
    pub primary_key: bool,
    /// `UNIQUE` on the column.
    pub unique: bool,
    /// `REFERENCES` on the column.
    pub references: bool,
}

/// What kind of default a column has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// A constant, or a function evaluated once per statement (`now()`).
    Constant,
    /// `NULL`.
    Null,
    /// A volatile function (`random()`, `gen_random_uuid()`, `clock_timestamp()`,
    /// `nextval(...)`, an identity column's sequence), evaluated per row, so adding the column
    /// rewrites the table.
    Volatile,
    /// `GENERATED ALWAYS AS (...) STORED`: computed and stored for every row, so adding the
    /// column rewrites the table too.
    Stored,
}

/// One thing a statement does. An `ALTER TABLE` with several actions yields several ops.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// `CREATE TABLE`.
    CreateTable {
        /// The table.
        table: String,
        /// Its columns.
        columns: Vec<Column>,
        /// It declares a foreign key (column or table constraint).
        foreign_key: bool,
        /// The tables its foreign keys reference: creating it locks each of them (SHARE ROW
        /// EXCLUSIVE on PostgreSQL), which waits behind their running queries.
        referenced: Vec<String>,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `CREATE [UNIQUE] INDEX`.
    CreateIndex {
        /// The table.
        table: String,
        /// `CONCURRENTLY`.
        concurrently: bool,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// The indexed columns (plain column references only).
        columns: Vec<String>,
    },
    /// `DROP VIEW` / `DROP MATERIALIZED VIEW`: an ACCESS EXCLUSIVE lock on the view, which
    /// waits behind every query reading it.
    DropView,
    /// `DROP INDEX`.
    DropIndex {
        /// `CONCURRENTLY`.
        concurrently: bool,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `DROP TABLE`.
    DropTable {
        /// The tables.
        tables: Vec<String>,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `ALTER TABLE ... ADD COLUMN`.
    AddColumn {
        /// The table.
        table: String,
        /// The column.
        column: Column,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `ALTER TABLE ... DROP COLUMN`.
    DropColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `ALTER TABLE ... RENAME COLUMN` (or MySQL's `CHANGE` to a new name).
    RenameColumn {
        /// The table.
        table: String,
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// `ALTER TABLE ... RENAME TO`.
    RenameTable {
        /// The table.
        table: String,
    },
    /// A column's type changes (`ALTER COLUMN ... TYPE`, MySQL's `MODIFY`/`CHANGE`).
    TypeChange {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The new type, upper-case.
        ty: String,
    },
    /// `ALTER COLUMN ... SET NOT NULL`.
    SetNotNull {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// `ADD [CONSTRAINT] FOREIGN KEY`.
    AddForeignKey {
        /// The table.
        table: String,
        /// `NOT VALID`.
        not_valid: bool,
    },
    /// `ADD [CONSTRAINT] CHECK`.
    AddCheck {
        /// The table.
        table: String,
        /// `NOT VALID`.
        not_valid: bool,
    },
    /// `ADD [CONSTRAINT] UNIQUE` / `PRIMARY KEY`.
    AddUnique {
        /// The table.
        table: String,
        /// Built from an existing index (`USING INDEX`).
        using_index: bool,
        /// `PRIMARY KEY` rather than `UNIQUE`.
        primary: bool,
    },
    /// `DROP CONSTRAINT` / `DROP PRIMARY KEY` / `DROP FOREIGN KEY`.
    DropConstraint {
        /// The table.
        table: String,
        /// `DROP PRIMARY KEY`.
        primary: bool,
    },
    /// Any other `ALTER TABLE` action (`ALTER COLUMN ... SET DEFAULT`, `VALIDATE CONSTRAINT`,
    /// ...), with the words that name it for SQLite's support check.
    OtherAlter {
        /// The table.
        table: String,
        /// What it is, e.g. `ALTER COLUMN SET DEFAULT`.
        what: &'static str,
        /// Whether it takes a lock worth a `lock_timeout` (everything but `VALIDATE`).
        locks: bool,
    },
    /// MySQL `ALGORITHM=...` (upper-case).
    Algorithm(String),
    /// MySQL `LOCK=...` (upper-case).
    Lock(String),
    /// `INSERT`, `UPDATE`, `DELETE`, `MERGE`, `TRUNCATE`, `COPY`.
    Data,
    /// `BEGIN` / `START TRANSACTION`.
    Begin,
    /// `COMMIT` / `ROLLBACK` / `END`.
    Commit,
    /// `SET [LOCAL] lock_timeout`.
    SetLockTimeout,
    /// `PRAGMA name`.
    Pragma {
        /// The pragma's name, lower-case.
        name: String,
        /// Its value, lower-case, if set.
        value: Option<String>,
    },
    /// Any other DDL (`CREATE VIEW`, `CREATE FUNCTION`, `COMMENT ON`, ...).
    OtherDdl,
    /// Anything else that changes nothing lint cares about (`SELECT`, `SET x`).
    Other,
    /// The parser did not accept the statement.
    Unparsed {
        /// The parser's message.
        error: String,
    },
}

impl Op {
    /// The table this op locks, if it works on one existing table.
    pub fn table(&self) -> Option<&str> {
        match self {
            Op::CreateIndex { table, .. }
            | Op::AddColumn { table, .. }
            | Op::DropColumn { table, .. }
            | Op::RenameColumn { table, .. }
            | Op::RenameTable { table }
            | Op::TypeChange { table, .. }
            | Op::SetNotNull { table, .. }
            | Op::AddForeignKey { table, .. }
            | Op::AddCheck { table, .. }
            | Op::AddUnique { table, .. }
            | Op::DropConstraint { table, .. }
            | Op::OtherAlter { table, .. } => Some(table),
            _ => None,
        }
    }

    /// Schema changes (which commit implicitly on MySQL).
    pub fn is_ddl(&self) -> bool {
        !matches!(
            self,
            Op::Data
                | Op::Begin
                | Op::Commit
                | Op::SetLockTimeout
                | Op::Pragma { .. }
                | Op::Other
                | Op::Unparsed { .. }
                | Op::Algorithm(_)
                | Op::Lock(_)
        )
    }

    /// Takes a lock on an existing object that waits behind (and blocks) running queries.
    pub fn takes_lock(&self) -> bool {
        match self {
            Op::CreateTable { referenced, .. } => !referenced.is_empty(),
            Op::OtherDdl => false,
            Op::CreateIndex { concurrently, .. } | Op::DropIndex { concurrently, .. } => {
                !concurrently
            }
            Op::OtherAlter { locks, .. } => *locks,
            Op::DropTable { .. } | Op::DropView => true,
            op => op.table().is_some(),
        }
    }
}

/// The facts of one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// What it does; empty for nothing of interest.
    pub ops: Vec<Op>,
}

/// How deep brackets may nest in a statement handed to sqlparser's parser. Its recursive descent
/// tries alternatives at each level and backtracks on failure, so the time grows about twofold per
/// level (nested calls `f(f(...))`: 16 ms at 12 levels, 4 s at 20, measured on the fuzz target),
/// and a draft with an unclosed parenthesis could stall `kiln lint` or the build for minutes, or
/// overflow a thread's stack. Real migrations stay far below this; deeper statements are reported
/// as not parsed.
const MAX_NESTING: usize = 12;

/// Parses one statement (as cut by kiln's splitter) with `dialect`'s grammar.
pub fn analyze(sql: &str, dialect: Dialect) -> Facts {
    let parsed = match dialect {
        Dialect::Postgres => parse(&PostgreSqlDialect {}, sql),
        Dialect::MySql => parse(&MySqlDialect {}, sql),
        _ => parse(&Sqlite(SQLiteDialect {}), sql),
    };
    let ops = match parsed {
        Ok(stmts) => stmts.iter().flat_map(ops_of).collect(),
        Err(error) => fallback(sql).unwrap_or_else(|| vec![Op::Unparsed { error }]),
    };
    Facts { ops }
}

/// Tokenizes with sqlparser's own tokenizer, refuses a statement nested deeper than
/// [`MAX_NESTING`], then parses the same tokens.
///
/// The depth is measured on the tokens the parser will see, not on kiln's reading of the text:
/// the two can disagree about where a comment starts (PostgreSQL ends an operator before `--`,
/// so `?--(` opens a comment there, while sqlparser reads an operator and a parenthesis), and a
/// guard that reads differently from the parser guards nothing (the third fuzz finding).
fn parse(d: &dyn SqlDialect, sql: &str) -> Result<Vec<Ast>, String> {
    let tokens = Tokenizer::new(d, sql)
        .tokenize_with_location()
        .map_err(|e| e.to_string())?;
    let deep = nesting(&tokens);
    if deep > MAX_NESTING {
        return Err(format!(
            "brackets nest {deep} levels deep; kiln-lint parses statements up to {MAX_NESTING}"
        ));
    }
    Parser::new(d)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|e| e.to_string())
}

/// The deepest nesting of parentheses, square brackets and braces among `tokens`.
fn nesting(tokens: &[TokenWithSpan]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for t in tokens {
        match t.token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                depth += 1;
                max = max.max(depth);
            }
            Token::RParen | Token::RBracket | Token::RBrace => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Normalizes an identifier or qualified name: unquoted, lower-case.
fn name(n: &ObjectName) -> String {
    n.0.iter()
        .map(|p| match p.as_ident() {
            Some(i) => i.value.to_lowercase(),
            None => p.to_string().to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn ident(i: &sqlparser::ast::Ident) -> String {
    i.value.to_lowercase()
}

fn ops_of(stmt: &Ast) -> Vec<Op> {
    match stmt {
        Ast::CreateTable(CreateTable {
            name: n,
            columns,
            constraints,
            if_not_exists,
            ..
        }) => {
            let mut referenced: Vec<String> = columns
                .iter()
                .flat_map(|c| &c.options)
                .filter_map(|o| match &o.option {
                    ColumnOption::ForeignKey { foreign_table, .. } => Some(name(foreign_table)),
                    _ => None,
                })
                .chain(constraints.iter().filter_map(|c| match c {
                    TableConstraint::ForeignKey { foreign_table, .. } => Some(name(foreign_table)),
                    _ => None,
                }))
                .collect();
            referenced.sort();
            referenced.dedup();
            let table = name(n);
            // A self-reference locks nothing that exists.
            referenced.retain(|t| *t != table);
            let columns: Vec<Column> = columns.iter().map(column).collect();
            let foreign_key = columns.iter().any(|c| c.references)
                || constraints
                    .iter()
                    .any(|c| matches!(c, TableConstraint::ForeignKey { .. }));
            vec![Op::CreateTable {
                table,
                columns,
                foreign_key,
                referenced,
                if_not_exists: *if_not_exists,
            }]
        }
        Ast::CreateIndex(CreateIndex {
            table_name,
            concurrently,
            if_not_exists,
            columns,
            ..
        }) => vec![Op::CreateIndex {
            table: name(table_name),
            concurrently: *concurrently,
            if_not_exists: *if_not_exists,
            columns: columns
                .iter()
                .filter_map(|c| match &c.column.expr {
                    Expr::Identifier(i) => Some(ident(i)),
                    _ => None,
                })
                .collect(),
        }],
        Ast::Drop {
            object_type,
            if_exists,
            names,
            ..
        } => match object_type {
            ObjectType::Table => vec![Op::DropTable {
                tables: names.iter().map(name).collect(),
                if_exists: *if_exists,
            }],
            ObjectType::Index => vec![Op::DropIndex {
                concurrently: false,
                if_exists: *if_exists,
            }],
            ObjectType::View | ObjectType::MaterializedView => vec![Op::DropView],
            _ => vec![Op::OtherDdl],
        },
        Ast::AlterTable {
            name: n,
            operations,
            ..
        } => {
            let table = name(n);
            operations.iter().map(|o| alter(&table, o)).collect()
        }
        Ast::Insert(_)
        | Ast::Update { .. }
        | Ast::Delete(_)
        | Ast::Merge { .. }
        | Ast::Truncate { .. }
        | Ast::Copy { .. } => vec![Op::Data],
        Ast::StartTransaction { .. } => vec![Op::Begin],
        Ast::Commit { .. } | Ast::Rollback { .. } => vec![Op::Commit],
        Ast::Set(Set::SingleAssignment { variable, .. })
            if name(variable).ends_with("lock_timeout") =>
        {
            vec![Op::SetLockTimeout]
        }
        Ast::Pragma { name: n, value, .. } => vec![Op::Pragma {
            name: name(n),
            value: value
                .as_ref()
                .map(|v| v.to_string().trim_matches('\'').to_lowercase()),
        }],
        Ast::Query(_)
        | Ast::Set(_)
        | Ast::ShowVariable { .. }
        | Ast::Explain { .. }
        | Ast::Analyze { .. } => vec![Op::Other],
        _ => vec![Op::OtherDdl],
    }
}

fn column(c: &ColumnDef) -> Column {
    let mut col = Column {
        name: ident(&c.name),
        ty: c.data_type.to_string().to_uppercase(),
        not_null: false,
        default: None,
        primary_key: false,
        unique: false,
        references: false,
    };
    if matches!(c.data_type, DataType::Custom(..)) && is_serial(&col.ty) {
        col.default = Some(Default::Volatile);
    }
    for o in &c.options {
        match &o.option {
            ColumnOption::NotNull => col.not_null = true,
            ColumnOption::Default(e) => col.default = Some(default_kind(e)),
            ColumnOption::Unique { is_primary, .. } => {
                if *is_primary {
                    col.primary_key = true;
                    col.not_null = true;
                } else {
                    col.unique = true;
                }
            }
            ColumnOption::ForeignKey { .. } => col.references = true,
            // An identity column is filled from its sequence row by row; a stored generated
            // column is computed for every row (a virtual one, PostgreSQL 18's default, is not).
            ColumnOption::Generated {
                generation_expr: None,
                ..
            } => col.default = Some(Default::Volatile),
            ColumnOption::Generated {
                generation_expr_mode: Some(GeneratedExpressionMode::Stored),
                ..
            } => col.default = Some(Default::Stored),
            _ => {}
        }
    }
    col
}

/// `serial`, `bigserial`, `smallserial` (and `serial4`/`serial8`): a sequence default.
pub fn is_serial(ty: &str) -> bool {
    let t = ty.to_ascii_uppercase();
    t.ends_with("SERIAL") || t == "SERIAL4" || t == "SERIAL8" || t == "SERIAL2"
}

const VOLATILE: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "uuid",
    "rand",
    "random_bytes",
];

fn default_kind(e: &Expr) -> Default {
    match e {
        Expr::Value(v) if v.to_string().eq_ignore_ascii_case("null") => Default::Null,
        _ => {
            // The expression as the parser prints it: a call is `name(`, lower-cased.
            let text = e.to_string().to_lowercase();
            let volatile = VOLATILE.iter().any(|f| {
                text.match_indices(&format!("{f}(")).any(|(i, _)| {
                    i == 0 || !text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                })
            });
            if volatile {
                Default::Volatile
            } else {
                Default::Constant
            }
        }
    }
}

/// The upper-case words of `sql` outside quotes, for the few forms the parser lacks.
fn words(sql: &str) -> Vec<String> {
    sql.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '"' || c == '.'))
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_matches('"').to_uppercase())
        .collect()
}

/// Forms `sqlparser` does not accept but whose meaning is plain from the leading words.
fn fallback(sql: &str) -> Option<Vec<Op>> {
    let w = words(sql);
    let at = |i: usize| w.get(i).map(String::as_str).unwrap_or("");
    match (at(0), at(1)) {
        ("DROP", "INDEX") => {
            let concurrently = at(2) == "CONCURRENTLY";
            let rest = if concurrently { 3 } else { 2 };
            let if_exists = at(rest) == "IF" && at(rest + 1) == "EXISTS";
            Some(vec![Op::DropIndex {
                concurrently,
                if_exists,
            }])
        }
        ("ALTER", "TABLE") if w.windows(2).any(|p| p[0] == "USING" && p[1] == "INDEX") => {
            let mut i = 2;
            while matches!(at(i), "IF" | "EXISTS" | "ONLY") {
                i += 1;
            }
            Some(vec![Op::AddUnique {
                table: at(i).to_lowercase(),
                using_index: true,
                primary: w.iter().any(|x| x == "PRIMARY"),
            }])
        }
        ("SET", _) if w.iter().take(3).any(|x| x == "LOCK_TIMEOUT") => {
            Some(vec![Op::SetLockTimeout])
        }
        ("PRAGMA", n) if !n.is_empty() => Some(vec![Op::Pragma {
            name: n.rsplit('.').next().unwrap_or(n).to_lowercase(),
            value: w.get(2).map(|v| v.to_lowercase()),
        }]),
        // Every COMMENT ON form only sets a description (the parser knows a few of them).
        ("COMMENT", "ON") => Some(vec![Op::Other]),
        ("BEGIN", _) | ("START", "TRANSACTION") => Some(vec![Op::Begin]),
        ("COMMIT", _) | ("ROLLBACK", _) | ("END", _) => Some(vec![Op::Commit]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> Vec<Op> {
        analyze(sql, Dialect::Postgres).ops
    }

    #[test]
    fn postgres_forms_are_understood() {
        assert!(
            matches!(&pg("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)")[0],
            Op::CreateIndex { concurrently: true, if_not_exists: true, table, columns } if table == "t" && columns == &["a"])
        );
        assert!(matches!(
            &pg("DROP INDEX CONCURRENTLY IF EXISTS i")[0],
            Op::DropIndex {
                concurrently: true,
                if_exists: true
            }
        ));
        assert!(matches!(
            &pg("DROP INDEX i")[0],
            Op::DropIndex {
                concurrently: false,
                if_exists: false
            }
        ));
        assert!(matches!(
            &pg("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id) NOT VALID")[0],
            Op::AddForeignKey {
                not_valid: true,
                ..
            }
        ));
        assert!(
            matches!(&pg("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i")[0],
            Op::AddUnique { using_index: true, primary: false, table } if table == "t")
        );
        assert!(matches!(
            &pg("ALTER TABLE t ALTER COLUMN a TYPE bigint")[0],
            Op::TypeChange { .. }
        ));
        assert!(matches!(
            &pg("ALTER TABLE t ALTER COLUMN a SET NOT NULL")[0],
            Op::SetNotNull { .. }
        ));
        assert_eq!(pg("SET lock_timeout = '2s'"), vec![Op::SetLockTimeout]);
        assert_eq!(
            pg("SET LOCAL lock_timeout TO '2s'"),
            vec![Op::SetLockTimeout]
        );
        assert_eq!(pg("BEGIN"), vec![Op::Begin]);
        assert!(matches!(
            &pg("ALTER TABLE t VALIDATE CONSTRAINT f")[0],
            Op::OtherAlter { locks: false, .. }
        ));
        let ops = pg("ALTER TABLE t ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid()");
        assert!(
            matches!(&ops[0], Op::AddColumn { column, .. } if column.default == Some(Default::Volatile) && column.not_null)
        );
        let ops = pg("ALTER TABLE t ADD COLUMN c bigserial");
        assert!(
            matches!(&ops[0], Op::AddColumn { column, .. } if column.default == Some(Default::Volatile))
        );
    }

    #[test]
    fn mysql_forms_are_understood() {
        let ops = analyze(
            "ALTER TABLE t MODIFY COLUMN a BIGINT, ALGORITHM=INPLACE, LOCK=NONE",
            Dialect::MySql,
        )
        .ops;
        assert!(matches!(&ops[0], Op::TypeChange { .. }));
        assert!(ops.contains(&Op::Algorithm("INPLACE".into())));
        assert!(ops.contains(&Op::Lock("NONE".into())));
        let ops = analyze("ALTER TABLE t CHANGE a b INT", Dialect::MySql).ops;
        assert!(matches!(&ops[0], Op::RenameColumn { from, to, .. } if from == "a" && to == "b"));
    }

    #[test]
    fn sqlite_pragma() {
        assert_eq!(
            analyze("PRAGMA foreign_keys = ON", Dialect::Sqlite).ops,
            vec![Op::Pragma {
                name: "foreign_keys".into(),
                value: Some("on".into())
            }]
        );
    }

    /// Found by the second fuzz campaign (`fuzz/corpus/lint/timeout-50355e88…`): sqlparser's
    /// backtracking doubles its time per nesting level, so a deeply nested statement is reported
    /// as not parsed instead of being handed to it (30 levels would take hours).
    #[test]
    fn deeply_nested_statements_are_not_handed_to_the_parser() {
        let sql = format!("SELECT {}1{}", "f(".repeat(30), ")".repeat(30));
        let ops = analyze(&sql, Dialect::Postgres).ops;
        assert!(
            matches!(&ops[..], [Op::Unparsed { error }] if error.contains("nest 30 levels")),
            "{ops:?}"
        );
        let unclosed = format!("SELECT 2 / {}", "(x ".repeat(30));
        assert!(matches!(
            &analyze(&unclosed, Dialect::MySql).ops[..],
            [Op::Unparsed { .. }]
        ));
        // Square brackets nest the parser as deeply as parentheses.
        let brackets = format!("SELECT a{}", "[(".repeat(15));
        assert!(matches!(
            &analyze(&brackets, Dialect::Postgres).ops[..],
            [Op::Unparsed { error }] if error.contains("nest 30 levels")
        ));
        // Within the limit, a nested statement is parsed as before.
        for depth in [8, MAX_NESTING] {
            let ok = format!("SELECT {}1{}", "f(".repeat(depth), ")".repeat(depth));
            let ops = analyze(&ok, Dialect::Postgres).ops;
            assert!(
                !ops.iter().any(|o| matches!(o, Op::Unparsed { .. })),
                "{depth}: {ops:?}"
            );
        }
    }

    /// Found by the second fuzz campaign (`fuzz/corpus/lint/timeout-39d1fc40`, 15 s of CPU, and a
    /// stack overflow on a 2 MiB thread): the depth guard read the text with kiln's lexer, for
    /// which PostgreSQL's `?--(` ends the operator and opens a comment, while sqlparser's
    /// tokenizer reads `?-` and `-(` and parses every parenthesis after it. The guard now counts
    /// the parser's own tokens.
    #[test]
    fn nesting_is_measured_on_the_tokens_the_parser_reads() {
        let sql = format!("SELECT a ?--{}", "(b ".repeat(30));
        let ops = analyze(&sql, Dialect::Postgres).ops;
        assert!(
            matches!(&ops[..], [Op::Unparsed { error }] if error.contains("nest 30 levels")),
            "{ops:?}"
        );
    }
}
