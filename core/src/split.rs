//! Splitting a migration script into the statements the runtime executes one at a time.
//!
//! Migrations marked `transaction false` (PostgreSQL's `CREATE INDEX CONCURRENTLY` cannot run in
//! a transaction block) and every MySQL/MariaDB migration are sent to the server statement by
//! statement, so kiln has to find the statement boundaries itself. This module owns that job: one
//! linear scan over the bytes of the script that knows each dialect's quoting, comment and
//! compound-statement rules, and that remembers the line each statement starts on so a failure can
//! be reported as "statement at line N of file F failed".
//!
//! # Where a statement ends
//!
//! A statement ends at a `;` that is outside every string, quoted identifier, comment and
//! dollar-quoted body, and outside every compound block (see below). On PostgreSQL a `;` inside
//! parentheses does not end a statement either, as in psql, because `CREATE RULE ... DO ALSO
//! (INSERT ...; INSERT ...)` is one statement. On MySQL a `DELIMITER xx` line (recognised like the
//! `mysql` client does: on a line of its own, between statements) replaces `;` with `xx` until the
//! next `DELIMITER` line; while a custom delimiter is active only the delimiter ends a statement
//! and compound blocks are not tracked, exactly as the `mysql` client behaves.
//!
//! Comments and whitespace between statements are dropped; comments inside a statement (after its
//! first real token) stay in its text. MySQL's executable comments (`/*! ... */`, `/*M! ... */`)
//! are statement text, not comments, because mysqldump writes whole statements inside them.
//!
//! # When `BEGIN` opens a block
//!
//! `BEGIN` is both a transaction statement and the opener of a compound body, so it only opens a
//! block (whose `;`s then do not end the statement) in these cases:
//!
//! * **PostgreSQL**: only `BEGIN ATOMIC` (the SQL-standard function body). Every other `BEGIN`,
//!   including `BEGIN ISOLATION LEVEL ...`, is a transaction statement; PL/pgSQL bodies live in
//!   dollar-quoted strings and need no tracking.
//! * **MySQL and SQLite**:
//!   1. inside an open block, any `BEGIN` opens a nested block;
//!   2. in a statement whose first word is `CREATE` and that names `TRIGGER` (SQLite, MySQL) or
//!      `PROCEDURE`, `FUNCTION`, `EVENT` (MySQL) outside parentheses, a `BEGIN` outside
//!      parentheses opens the body;
//!   3. a `BEGIN` that is the first word of a statement opens a block (MariaDB's
//!      `BEGIN NOT ATOMIC ... END`) unless the next token is the end of the statement or one of
//!      `TRANSACTION`, `WORK`, `DEFERRED`, `IMMEDIATE`, `EXCLUSIVE`.
//!
//! Inside an open block `END` closes the innermost construct and `CASE ... END` nests (CASE also
//! appears in expressions). On MySQL, `IF`, `WHILE`, `LOOP` and `REPEAT` open a construct only
//! where a statement of the body starts (after `;`, `BEGIN`, a label, or `THEN`/`ELSE`/`DO`/`LOOP`/
//! `REPEAT` of an enclosing statement), which is what separates the `IF` statement from the `IF()`
//! function and the `REPEAT` statement from `REPEAT()`; the word after `END` (`END IF`,
//! `END LOOP`, ...) closes nothing further. Keywords are matched case-insensitively as whole words
//! and never inside strings, comments or quoted identifiers.
//!
//! # Limitations
//!
//! * Unquoted identifiers spelled `BEGIN`, `END` or `CASE` inside a compound body (MySQL allows
//!   some as column names) upset the block count; quote them.
//! * A MySQL routine or trigger body must be a `BEGIN ... END` block or a single simple statement;
//!   a bare `IF`/`LOOP`/... body without `BEGIN` is not tracked.
//! * Tokens (literals, quoted identifiers, comments, dollar quoting) come from [`crate::lex`],
//!   the lexer the section scanner uses too. [`split`] reads with the dialect's default settings;
//!   [`split_with`] takes a [`Syntax`] for PostgreSQL's `standard_conforming_strings = off` or
//!   MySQL's `NO_BACKSLASH_ESCAPES`. MySQL's `ANSI_QUOTES` mode is not modelled.
//! * `DELIMITER` is only recognised between statements, not in the middle of one.

use crate::lex::{self, Kind, Unterminated};
pub use crate::lex::{Dialect, Syntax};
use std::mem;

/// One statement of a script, borrowed from the script's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement's text from its first token, without trailing ASCII whitespace (the
    /// whitespace every engine skips) and without its terminating delimiter.
    pub sql: &'a str,
    /// 1-based line in the input where the statement's first non-blank, non-comment character is.
    pub line: usize,
}

/// Why a script could not be split: something opened is never closed, or a `DELIMITER` directive
/// is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
#[non_exhaustive]
pub struct SplitError {
    /// 1-based line where the offending construct starts.
    pub line: usize,
    /// What is wrong, e.g. "unterminated dollar-quoted string $fn$ that starts here".
    pub message: String,
    /// Which kind of problem it is.
    pub kind: SplitErrorKind,
    /// Byte offset in the script where the offending construct starts.
    pub offset: usize,
}

/// The kinds of [`SplitError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SplitErrorKind {
    /// A literal, quoted identifier, comment or dollar-quoted body is never closed (a lexical
    /// problem: every later character is read as part of it).
    Unterminated {
        /// What is open, e.g. `escape string literal E'...'`.
        what: String,
    },
    /// A compound block (`BEGIN ... END`, `CASE ... END`, ...) is never closed.
    Block,
    /// A MySQL `DELIMITER` line names no delimiter.
    Delimiter,
}

/// Splits `sql` into its statements according to `dialect`'s lexical rules.
///
/// Statements made only of whitespace and comments are dropped, so a script of only comments
/// yields an empty list. Text after the last delimiter is a statement too if it has content. See
/// the [module documentation](self) for how delimiters, `DELIMITER` and compound bodies are
/// handled.
///
/// # Errors
///
/// Returns a [`SplitError`] naming the starting line of an unterminated string, quoted
/// identifier, block comment, dollar-quoted string or compound block, or of a `DELIMITER` line
/// without a delimiter.
pub fn split(sql: &str, dialect: Dialect) -> Result<Vec<Statement<'_>>, SplitError> {
    split_with(sql, Syntax::new(dialect))
}

/// Splits `sql` like [`split`], with the full lexical settings of `syntax` (for example
/// PostgreSQL with `standard_conforming_strings = off`, or MySQL with `NO_BACKSLASH_ESCAPES`).
///
/// # Errors
///
/// As [`split`].
pub fn split_with(sql: &str, syntax: Syntax) -> Result<Vec<Statement<'_>>, SplitError> {
    Splitter::new(sql, syntax).run()
}

const DEFAULT_DELIMITER: &str = ";";

/// Maps byte offsets to 1-based line numbers. Offsets are asked for in increasing order, so
/// counting forward from the previous answer keeps the whole scan linear.
struct LineCursor {
    offset: usize,
    line: usize,
}

impl LineCursor {
    fn line_at(&mut self, bytes: &[u8], pos: usize) -> usize {
        let pos = pos.min(bytes.len());
        if pos < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        let newlines = bytes
            .get(self.offset..pos)
            .map_or(0, |s| s.iter().filter(|&&b| b == b'\n').count());
        self.line += newlines;
        self.offset = pos;
        self.line
    }
}

/// The words the block tracker cares about; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kw {
    Begin,
    End,
    Case,
    If,
    Loop,
    While,
    Repeat,
    Then,
    Else,
    Do,
    Create,
    Atomic,
    Trigger,
    Procedure,
    Function,
    Event,
    Transaction,
    Work,
    Deferred,
    Immediate,
    Exclusive,
    Other,
}

fn keyword(word: &[u8]) -> Kw {
    let mut buf = [0u8; 11];
    let Some(upper) = buf.get_mut(..word.len()) else {
        return Kw::Other;
    };
    upper.copy_from_slice(word);
    upper.make_ascii_uppercase();
    match &*upper {
        b"BEGIN" => Kw::Begin,
        b"END" => Kw::End,
        b"CASE" => Kw::Case,
        b"IF" => Kw::If,
        b"LOOP" => Kw::Loop,
        b"WHILE" => Kw::While,
        b"REPEAT" => Kw::Repeat,
        b"THEN" => Kw::Then,
        b"ELSE" => Kw::Else,
        b"DO" => Kw::Do,
        b"CREATE" => Kw::Create,
        b"ATOMIC" => Kw::Atomic,
        b"TRIGGER" => Kw::Trigger,
        b"PROCEDURE" => Kw::Procedure,
        b"FUNCTION" => Kw::Function,
        b"EVENT" => Kw::Event,
        b"TRANSACTION" => Kw::Transaction,
        b"WORK" => Kw::Work,
        b"DEFERRED" => Kw::Deferred,
        b"IMMEDIATE" => Kw::Immediate,
        b"EXCLUSIVE" => Kw::Exclusive,
        _ => Kw::Other,
    }
}

/// A significant (non-whitespace, non-comment) token as the block tracker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Word(Kw),
    /// A `:` that is not part of `:=`; after a word at the start of a body statement it ends a
    /// label.
    Colon,
    Open,
    Close,
    Other,
}

/// An open compound construct; `END` closes the innermost one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Begin,
    CaseExpr,
    CaseStmt,
    If,
    Loop,
    While,
    Repeat,
}

impl Block {
    fn describe(self, dialect: Dialect) -> &'static str {
        match self {
            Block::Begin if dialect == Dialect::Postgres => "BEGIN ATOMIC ... END block",
            Block::Begin => "BEGIN ... END block",
            Block::CaseExpr => "CASE ... END expression",
            Block::CaseStmt => "CASE ... END CASE statement",
            Block::If => "IF ... END IF statement",
            Block::Loop => "LOOP ... END LOOP statement",
            Block::While => "WHILE ... END WHILE statement",
            Block::Repeat => "REPEAT ... END REPEAT statement",
        }
    }
}

/// Tracks compound blocks within the current statement, so that `;` inside them does not end
/// it. The rules are in the module documentation.
struct Blocks {
    dialect: Dialect,
    /// False while a custom MySQL delimiter is active: then only the delimiter matters.
    enabled: bool,
    seen_token: bool,
    starts_with_create: bool,
    /// The statement creates a trigger or stored program, so its `BEGIN` opens the body.
    routine: bool,
    parens: usize,
    /// Open constructs with the byte offset of their opening keyword, innermost last.
    stack: Vec<(Block, usize)>,
    /// A `BEGIN` whose meaning depends on the next token.
    pending_begin: Option<usize>,
    /// The next token starts a statement of a MySQL body.
    body_start: bool,
    /// The previous token was a word at the start of a body statement, so a `:` makes it a label.
    label: bool,
    /// The previous token was a block-closing `END`, so `IF`/`LOOP`/... now is its qualifier.
    after_end: bool,
}

impl Blocks {
    fn new(dialect: Dialect) -> Self {
        Blocks {
            dialect,
            enabled: true,
            seen_token: false,
            starts_with_create: false,
            routine: false,
            parens: 0,
            stack: Vec::new(),
            pending_begin: None,
            body_start: false,
            label: false,
            after_end: false,
        }
    }

    fn reset(&mut self) {
        self.seen_token = false;
        self.starts_with_create = false;
        self.routine = false;
        self.parens = 0;
        self.stack.clear();
        self.pending_begin = None;
        self.body_start = false;
        self.label = false;
        self.after_end = false;
    }

    fn innermost_open(&self) -> Option<(Block, usize)> {
        self.stack.last().copied()
    }

    fn open(&mut self, block: Block, at: usize) {
        self.stack.push((block, at));
    }

    fn is_routine_kind(&self, kw: Kw) -> bool {
        match self.dialect {
            Dialect::Postgres => false,
            Dialect::Sqlite => kw == Kw::Trigger,
            Dialect::MySql => matches!(kw, Kw::Trigger | Kw::Procedure | Kw::Function | Kw::Event),
        }
    }

    /// Called at a `;`; returns whether it ends the statement.
    fn semicolon(&mut self) -> bool {
        if !self.enabled {
            return true;
        }
        if self.dialect == Dialect::Postgres && self.parens > 0 {
            return false;
        }
        // `BEGIN;` is a transaction statement, never a block.
        self.pending_begin = None;
        if self.stack.is_empty() {
            return true;
        }
        self.body_start = true;
        self.label = false;
        self.after_end = false;
        false
    }

    fn token(&mut self, tok: Tok, at: usize) {
        if !self.enabled {
            return;
        }
        let first = !mem::replace(&mut self.seen_token, true);
        if let Some(begin_at) = self.pending_begin.take() {
            let kw = match tok {
                Tok::Word(kw) => kw,
                _ => Kw::Other,
            };
            let opens = match self.dialect {
                Dialect::Postgres => kw == Kw::Atomic,
                Dialect::MySql | Dialect::Sqlite => !matches!(
                    kw,
                    Kw::Transaction | Kw::Work | Kw::Deferred | Kw::Immediate | Kw::Exclusive
                ),
            };
            if opens {
                self.open(Block::Begin, begin_at);
                self.body_start = true;
            }
        }
        let at_start = mem::take(&mut self.body_start);
        let label = mem::take(&mut self.label);
        let after_end = mem::take(&mut self.after_end);
        match tok {
            Tok::Open => self.parens += 1,
            Tok::Close => self.parens = self.parens.saturating_sub(1),
            Tok::Colon => self.body_start = label,
            Tok::Other => {}
            Tok::Word(kw) => self.word(kw, at, first, at_start, after_end),
        }
    }

    fn word(&mut self, kw: Kw, at: usize, first: bool, at_start: bool, after_end: bool) {
        let mysql = self.dialect == Dialect::MySql;
        let depth = self.stack.len();
        if first {
            self.starts_with_create = kw == Kw::Create;
        }
        if self.starts_with_create && depth == 0 && self.parens == 0 && self.is_routine_kind(kw) {
            self.routine = true;
        }
        if mysql && after_end && matches!(kw, Kw::If | Kw::Loop | Kw::While | Kw::Repeat | Kw::Case)
        {
            return;
        }
        let top = self.stack.last().map(|&(block, _)| block);
        let body_keyword = mysql && depth > 0 && at_start;
        match kw {
            Kw::Begin => match self.dialect {
                Dialect::Postgres => self.pending_begin = Some(at),
                _ if depth > 0 || (self.routine && self.parens == 0) => {
                    self.open(Block::Begin, at);
                    self.body_start = true;
                }
                _ if first => self.pending_begin = Some(at),
                _ => {}
            },
            Kw::End if depth > 0 => {
                self.stack.pop();
                self.after_end = mysql;
            }
            Kw::Case if depth > 0 => {
                // Only a CASE where a body statement starts is the statement form, which ends
                // with END CASE and whose THEN/ELSE branches hold statements.
                let block = if body_keyword {
                    Block::CaseStmt
                } else {
                    Block::CaseExpr
                };
                self.open(block, at);
            }
            Kw::If if body_keyword => self.open(Block::If, at),
            Kw::While if body_keyword => self.open(Block::While, at),
            Kw::Loop | Kw::Repeat if body_keyword => {
                let block = if kw == Kw::Loop {
                    Block::Loop
                } else {
                    Block::Repeat
                };
                self.open(block, at);
                self.body_start = true;
            }
            Kw::Then | Kw::Else if mysql && matches!(top, Some(Block::If | Block::CaseStmt)) => {
                self.body_start = true;
            }
            Kw::Do if mysql && top == Some(Block::While) => self.body_start = true,
            _ => self.label = mysql && at_start,
        }
    }
}

struct Splitter<'a> {
    src: &'a str,
    bytes: &'a [u8],
    syntax: Syntax,
    dialect: Dialect,
    pos: usize,
    lines: LineCursor,
    /// Byte offset and line of the current statement's first token.
    current: Option<(usize, usize)>,
    delimiter: &'a str,
    blocks: Blocks,
    out: Vec<Statement<'a>>,
}

impl<'a> Splitter<'a> {
    fn new(src: &'a str, syntax: Syntax) -> Self {
        Splitter {
            src,
            bytes: src.as_bytes(),
            syntax,
            dialect: syntax.dialect,
            pos: 0,
            lines: LineCursor { offset: 0, line: 1 },
            current: None,
            delimiter: DEFAULT_DELIMITER,
            blocks: Blocks::new(syntax.dialect),
            out: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Vec<Statement<'a>>, SplitError> {
        while self.pos < self.bytes.len() {
            self.step()?;
        }
        if self.current.is_some() {
            if let Some((block, at)) = self.blocks.innermost_open() {
                let what = block.describe(self.dialect);
                let message = format!("unterminated {what} that starts here");
                return Err(self.error(at, message, SplitErrorKind::Block));
            }
            self.end_statement(self.bytes.len());
        }
        Ok(self.out)
    }

    fn error(&mut self, at: usize, message: String, kind: SplitErrorKind) -> SplitError {
        SplitError {
            line: self.lines.line_at(self.bytes, at),
            message,
            kind,
            offset: at,
        }
    }

    fn custom_delimiter(&self) -> Option<&'a [u8]> {
        (self.delimiter != DEFAULT_DELIMITER).then_some(self.delimiter.as_bytes())
    }

    /// Consumes the token starting at `self.pos`.
    fn step(&mut self) -> Result<(), SplitError> {
        let at = self.pos;
        let custom = self.custom_delimiter();
        if let Some(d) = custom
            && self.bytes.get(at..).is_some_and(|rest| rest.starts_with(d))
        {
            self.pos = at + d.len();
            self.end_statement(at);
            return Ok(());
        }
        let t = match lex::token(self.src, at, self.syntax, custom) {
            Ok(t) => t,
            Err(Unterminated { what, at }) => {
                let message = format!("unterminated {what} that starts here");
                return Err(self.error(at, message, SplitErrorKind::Unterminated { what }));
            }
        };
        self.pos = t.end.max(at + 1);
        match t.kind {
            Kind::Space | Kind::LineComment | Kind::BlockComment => {}
            Kind::Executable | Kind::Quoted => self.token(at, Tok::Other),
            Kind::Word => self.word(at, t.end)?,
            Kind::Punct => match self.bytes.get(at) {
                Some(b';') if custom.is_none() => {
                    if self.current.is_some() && self.blocks.semicolon() {
                        self.end_statement(at);
                    }
                }
                Some(b'(') => self.token(at, Tok::Open),
                Some(b')') => self.token(at, Tok::Close),
                Some(b':') if self.bytes.get(at + 1) != Some(&b'=') => self.token(at, Tok::Colon),
                _ => self.token(at, Tok::Other),
            },
        }
        Ok(())
    }

    fn token(&mut self, at: usize, tok: Tok) {
        if self.current.is_none() {
            let line = self.lines.line_at(self.bytes, at);
            self.current = Some((at, line));
        }
        self.blocks.token(tok, at);
    }

    fn end_statement(&mut self, end: usize) {
        if let Some((start, line)) = self.current.take()
            // Only the whitespace every engine skips: trimming a character the engine reads
            // (U+0085 after `--` on MySQL, where it keeps `--` from opening a comment) would
            // change what the statement means.
            && let Some(sql) = self
                .src
                .get(start..end)
                .map(|s| s.trim_end_matches(|c: char| c.is_ascii_whitespace()))
            && !sql.is_empty()
        {
            self.out.push(Statement { sql, line });
        }
        self.blocks.reset();
    }

    fn word(&mut self, at: usize, end: usize) -> Result<(), SplitError> {
        let word = self.bytes.get(at..end).unwrap_or_default();
        if self.dialect == Dialect::MySql
            && self.current.is_none()
            && word.eq_ignore_ascii_case(b"DELIMITER")
            && self.is_directive_line(at, end)
        {
            return self.delimiter_directive(at, end);
        }
        self.token(at, Tok::Word(keyword(word)));
        Ok(())
    }

    /// Whether the `DELIMITER` word at `at..end` stands alone at the start of its line.
    fn is_directive_line(&self, at: usize, end: usize) -> bool {
        let followed_by_space = matches!(
            self.bytes.get(end),
            None | Some(b' ' | b'\t' | b'\r' | b'\n')
        );
        let before = self.src.get(..at).unwrap_or_default();
        followed_by_space
            && before
                .chars()
                .rev()
                .take_while(|&c| c != '\n')
                .all(lex::is_space)
    }

    fn delimiter_directive(&mut self, at: usize, end: usize) -> Result<(), SplitError> {
        let line_end = lex::line_end(self.bytes, end);
        let argument = self
            .src
            .get(end..line_end)
            .and_then(|rest| rest.split_whitespace().next());
        let Some(delimiter) = argument else {
            let message = "DELIMITER directive without a delimiter: write `DELIMITER //` (any \
                           characters) on its own line, and `DELIMITER ;` to go back"
                .to_owned();
            return Err(self.error(at, message, SplitErrorKind::Delimiter));
        };
        self.delimiter = delimiter;
        self.blocks.enabled = delimiter == DEFAULT_DELIMITER;
        self.pos = line_end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];

    fn sqls(input: &str, dialect: Dialect) -> Vec<&str> {
        match split(input, dialect) {
            Ok(statements) => statements.iter().map(|s| s.sql).collect(),
            Err(e) => panic!("{dialect:?}: unexpected error {e} for {input:?}"),
        }
    }

    fn lines(input: &str, dialect: Dialect) -> Vec<usize> {
        match split(input, dialect) {
            Ok(statements) => statements.iter().map(|s| s.line).collect(),
            Err(e) => panic!("{dialect:?}: unexpected error {e} for {input:?}"),
        }
    }

    fn err(input: &str, dialect: Dialect) -> SplitError {
        match split(input, dialect) {
            Ok(statements) => panic!("{dialect:?}: expected an error, got {statements:?}"),
            Err(e) => e,
        }
    }

    /// Checks what must hold for any input: statements are non-empty, trimmed, in order,
    /// non-overlapping slices of the input whose `line` matches their offset; errors name a line
    /// that exists.
    fn check_invariants(input: &str, dialect: Dialect) -> bool {
        let line_count = input.matches('\n').count() + 1;
        match split(input, dialect) {
            Ok(statements) => {
                let base = input.as_ptr() as usize;
                let mut previous_end = 0;
                for statement in &statements {
                    let offset = (statement.sql.as_ptr() as usize).wrapping_sub(base);
                    assert!(!statement.sql.is_empty(), "{dialect:?} {input:?}");
                    assert_eq!(
                        statement.sql,
                        statement
                            .sql
                            .trim_start()
                            .trim_end_matches(|c: char| c.is_ascii_whitespace()),
                        "{dialect:?} {input:?}"
                    );
                    assert!(offset >= previous_end, "{dialect:?} {input:?}");
                    assert!(offset + statement.sql.len() <= input.len());
                    assert_eq!(
                        input.get(offset..offset + statement.sql.len()),
                        Some(statement.sql)
                    );
                    let expected_line = input[..offset].matches('\n').count() + 1;
                    assert_eq!(statement.line, expected_line, "{dialect:?} {input:?}");
                    previous_end = offset + statement.sql.len();
                }
                true
            }
            Err(e) => {
                assert!(
                    (1..=line_count).contains(&e.line),
                    "{dialect:?} {input:?}: {e}"
                );
                assert!(!e.message.is_empty());
                false
            }
        }
    }

    // ---- basic splitting -------------------------------------------------------------------

    #[test]
    fn splits_on_semicolons_and_trims() {
        for dialect in ALL {
            assert_eq!(
                sqls("  SELECT 1;\n\tSELECT 2 ;SELECT 3", dialect),
                ["SELECT 1", "SELECT 2", "SELECT 3"]
            );
        }
    }

    #[test]
    fn empty_and_blank_statements_are_dropped() {
        for dialect in ALL {
            assert!(sqls("", dialect).is_empty());
            assert!(sqls(" \n\t\r\n ", dialect).is_empty());
            assert!(sqls(";;; ;\n;", dialect).is_empty());
            assert_eq!(sqls(";;SELECT 1;;", dialect), ["SELECT 1"]);
        }
    }

    #[test]
    fn comment_only_input_yields_nothing() {
        for dialect in ALL {
            assert!(sqls("-- one\n/* two ; */\n-- three;\n", dialect).is_empty());
            assert!(sqls("-- a;\n;\n/* b */;", dialect).is_empty());
        }
        assert!(sqls("# mysql comment;\n", Dialect::MySql).is_empty());
    }

    #[test]
    fn trailing_text_without_delimiter_is_a_statement() {
        for dialect in ALL {
            assert_eq!(
                sqls("SELECT 1;\nSELECT 2\n", dialect),
                ["SELECT 1", "SELECT 2"]
            );
            assert_eq!(sqls("SELECT 1;\n-- trailing\n", dialect), ["SELECT 1"]);
        }
    }

    #[test]
    fn comments_inside_statements_are_kept() {
        for dialect in ALL {
            assert_eq!(
                sqls("-- leading\nSELECT /* inner; */ 1 -- tail;\n, 2;", dialect),
                ["SELECT /* inner; */ 1 -- tail;\n, 2"]
            );
        }
    }

    #[test]
    fn statement_text_excludes_leading_comments_and_delimiter() {
        for dialect in ALL {
            let statements = split("/* header */ -- note\n\n  CREATE TABLE t (a int);", dialect);
            assert_eq!(
                statements,
                Ok(vec![Statement {
                    sql: "CREATE TABLE t (a int)",
                    line: 3
                }])
            );
        }
    }

    // ---- line numbers ------------------------------------------------------------------------

    #[test]
    fn line_numbers_follow_blank_lines_and_comments() {
        let input = "\n\nSELECT 1;\n-- comment\n\n/* block\n comment */ SELECT\n 2;\n\n  SELECT 3; SELECT 4;";
        for dialect in ALL {
            assert_eq!(lines(input, dialect), [3, 7, 10, 10]);
        }
    }

    #[test]
    fn line_numbers_count_newlines_inside_strings_and_comments() {
        let input = "SELECT 'a\nb\nc';\n/* x\ny */\nSELECT \"q\nq\";\nSELECT 3;";
        for dialect in ALL {
            assert_eq!(lines(input, dialect), [1, 6, 8]);
        }
    }

    #[test]
    fn crlf_input() {
        let input = "-- header\r\nSELECT 1;\r\n\r\nSELECT\r\n  2;\r\nSELECT 3\r\n";
        for dialect in ALL {
            let statements = split(input, dialect).unwrap_or_default();
            assert_eq!(statements.len(), 3, "{dialect:?}");
            assert_eq!(
                statements[0],
                Statement {
                    sql: "SELECT 1",
                    line: 2
                }
            );
            assert_eq!(
                statements[1],
                Statement {
                    sql: "SELECT\r\n  2",
                    line: 4
                }
            );
            assert_eq!(
                statements[2],
                Statement {
                    sql: "SELECT 3",
                    line: 6
                }
            );
        }
        assert_eq!(
            sqls(
                "DELIMITER //\r\nSELECT 1;//\r\nDELIMITER ;\r\nSELECT 2;",
                Dialect::MySql
            ),
            ["SELECT 1;", "SELECT 2"]
        );
    }

    // ---- Unicode -------------------------------------------------------------------------------

    #[test]
    fn unicode_text_identifiers_and_whitespace() {
        for dialect in ALL {
            assert_eq!(
                sqls(
                    "INSERT INTO café VALUES ('🦀;ü');\u{3000}SELECT ñandú;\u{a0}",
                    dialect
                ),
                ["INSERT INTO café VALUES ('🦀;ü')", "SELECT ñandú"]
            );
            assert_eq!(
                split("\u{feff}SELECT 1;", dialect),
                Ok(vec![Statement {
                    sql: "SELECT 1",
                    line: 1
                }])
            );
            assert_eq!(
                sqls("-- ünïcödé ; comment\nSELECT 'é'", dialect),
                ["SELECT 'é'"]
            );
        }
    }

    #[test]
    fn unicode_inside_keywords_is_not_a_keyword() {
        // `BEGINé` is an identifier, so this is no block opener and the `;` splits.
        assert_eq!(
            sqls(
                "CREATE TRIGGER t AFTER INSERT ON x BEGINé; SELECT 1;",
                Dialect::Sqlite
            ),
            ["CREATE TRIGGER t AFTER INSERT ON x BEGINé", "SELECT 1"]
        );
    }

    // ---- strings and quoted identifiers ------------------------------------------------------

    #[test]
    fn single_quotes_with_doubled_quote_escape() {
        for dialect in ALL {
            assert_eq!(
                sqls("SELECT 'it''s; fine';SELECT ''';'", dialect),
                ["SELECT 'it''s; fine'", "SELECT ''';'"]
            );
        }
    }

    #[test]
    fn backslash_escapes_only_where_the_dialect_has_them() {
        let input = r"SELECT 'a\'; SELECT 2; -- ';";
        assert_eq!(
            sqls(input, Dialect::MySql),
            [r"SELECT 'a\'; SELECT 2; -- '"]
        );
        assert_eq!(sqls(input, Dialect::Postgres), [r"SELECT 'a\'", "SELECT 2"]);
        assert_eq!(sqls(input, Dialect::Sqlite), [r"SELECT 'a\'", "SELECT 2"]);
        assert_eq!(
            sqls(r#"SELECT "x\";y"; SELECT 2"#, Dialect::MySql),
            [r#"SELECT "x\";y""#, "SELECT 2"]
        );
        assert_eq!(
            sqls(r"SELECT 'a\\'; SELECT 2", Dialect::MySql),
            [r"SELECT 'a\\'", "SELECT 2"]
        );
    }

    #[test]
    fn double_quoted_identifiers() {
        for dialect in ALL {
            assert_eq!(
                sqls(r#"SELECT "a;""b" FROM "t;"; SELECT 2"#, dialect),
                [r#"SELECT "a;""b" FROM "t;""#, "SELECT 2"]
            );
        }
    }

    #[test]
    fn backticks_in_mysql_and_sqlite_only() {
        for dialect in [Dialect::MySql, Dialect::Sqlite] {
            assert_eq!(
                sqls("SELECT `a;``b`; SELECT 2", dialect),
                ["SELECT `a;``b`", "SELECT 2"]
            );
        }
        assert_eq!(sqls("SELECT `a;b`", Dialect::Postgres), ["SELECT `a", "b`"]);
    }

    #[test]
    fn brackets_in_sqlite_only() {
        assert_eq!(
            sqls("SELECT [a;b] FROM [t]; SELECT 2", Dialect::Sqlite),
            ["SELECT [a;b] FROM [t]", "SELECT 2"]
        );
        assert_eq!(sqls("SELECT a[1;2]", Dialect::MySql), ["SELECT a[1", "2]"]);
    }

    #[test]
    fn postgres_escape_strings() {
        let input = r"SELECT E'it\'s; \\'; SELECT e'\n;'; SELECT 'plain\'; SELECT 4";
        assert_eq!(
            sqls(input, Dialect::Postgres),
            [
                r"SELECT E'it\'s; \\'",
                r"SELECT e'\n;'",
                r"SELECT 'plain\'",
                "SELECT 4"
            ]
        );
        // Only a lone `E` is a prefix: `name'...'` is an ordinary string after an identifier.
        assert_eq!(
            sqls(r"SELECT nE'a\'; SELECT 2", Dialect::Postgres),
            [r"SELECT nE'a\'", "SELECT 2"]
        );
    }

    // ---- comments ------------------------------------------------------------------------------

    #[test]
    fn line_comments_hide_semicolons() {
        for dialect in ALL {
            assert_eq!(
                sqls("SELECT 1 -- ; not here\n+ 1; SELECT 2", dialect),
                ["SELECT 1 -- ; not here\n+ 1", "SELECT 2"]
            );
        }
    }

    #[test]
    fn mysql_hash_comments_and_dash_rule() {
        assert_eq!(
            sqls("SELECT 1 # ; hidden\n; SELECT 2", Dialect::MySql),
            ["SELECT 1 # ; hidden", "SELECT 2"]
        );
        // `#` is an operator on PostgreSQL.
        assert_eq!(
            sqls("SELECT 1 # 2; SELECT 3", Dialect::Postgres),
            ["SELECT 1 # 2", "SELECT 3"]
        );
        // MySQL needs whitespace after `--`; elsewhere `--2` already starts a comment.
        assert_eq!(
            sqls("SELECT 5--2; SELECT 3", Dialect::MySql),
            ["SELECT 5--2", "SELECT 3"]
        );
        assert_eq!(
            sqls("SELECT 5--2; SELECT 3", Dialect::Postgres),
            ["SELECT 5--2; SELECT 3"]
        );
        assert_eq!(sqls("SELECT 1;--\n", Dialect::MySql), ["SELECT 1"]);
        assert_eq!(sqls("SELECT 1;--\tx;", Dialect::MySql), ["SELECT 1"]);
    }

    #[test]
    fn block_comments_nest_only_on_postgres() {
        let input = "SELECT 1 /* a /* b */ ; */; SELECT 2";
        assert_eq!(
            sqls(input, Dialect::Postgres),
            ["SELECT 1 /* a /* b */ ; */", "SELECT 2"]
        );
        assert_eq!(
            sqls(input, Dialect::MySql),
            ["SELECT 1 /* a /* b */", "*/", "SELECT 2"]
        );
        assert_eq!(
            sqls(input, Dialect::Sqlite),
            ["SELECT 1 /* a /* b */", "*/", "SELECT 2"]
        );
        for dialect in ALL {
            assert_eq!(sqls("SELECT /**/ 1;/*/ ; */", dialect), ["SELECT /**/ 1"]);
        }
    }

    #[test]
    fn mysql_executable_comments_are_statements() {
        let input = "/*!40101 SET @OLD=@@SQL_MODE */;\n/*M!100100 SET x=1 */;\n/* plain */;";
        assert_eq!(
            split(input, Dialect::MySql),
            Ok(vec![
                Statement {
                    sql: "/*!40101 SET @OLD=@@SQL_MODE */",
                    line: 1
                },
                Statement {
                    sql: "/*M!100100 SET x=1 */",
                    line: 2
                },
            ])
        );
        assert!(sqls(input, Dialect::Sqlite).is_empty());
    }

    // ---- dollar quoting --------------------------------------------------------------------------

    #[test]
    fn dollar_quoting() {
        let input = "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\n\
                     DO $fn$ BEGIN PERFORM '$$;'; END $fn$;\n\
                     SELECT $a$ $b$ ; $a$;";
        assert_eq!(
            sqls(input, Dialect::Postgres),
            [
                "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql",
                "DO $fn$ BEGIN PERFORM '$$;'; END $fn$",
                "SELECT $a$ $b$ ; $a$",
            ]
        );
    }

    #[test]
    fn dollar_parameters_and_identifiers_are_not_quotes() {
        assert_eq!(
            sqls(
                "SELECT $1, $2::int; SELECT a$b$, $ FROM t$x; SELECT 3",
                Dialect::Postgres
            ),
            ["SELECT $1, $2::int", "SELECT a$b$, $ FROM t$x", "SELECT 3"]
        );
        assert_eq!(
            sqls("SELECT $1$; SELECT 2", Dialect::Postgres),
            ["SELECT $1$", "SELECT 2"]
        );
        // Dollar quoting is PostgreSQL's alone.
        assert_eq!(sqls("SELECT $$;$$", Dialect::Sqlite), ["SELECT $$", "$$"]);
    }

    #[test]
    fn dollar_tags_may_be_unicode_and_are_case_sensitive() {
        assert_eq!(
            sqls("SELECT $é$ ; $É$ ; $é$; SELECT 2", Dialect::Postgres),
            ["SELECT $é$ ; $É$ ; $é$", "SELECT 2"]
        );
    }

    // ---- compound bodies -------------------------------------------------------------------------

    #[test]
    fn sqlite_trigger_body() {
        let input = "CREATE TRIGGER trg AFTER INSERT ON t\n\
                     WHEN CASE WHEN new.a > 0 THEN 1 ELSE 0 END\n\
                     BEGIN\n  \
                       UPDATE t SET b = CASE WHEN new.a > 1 THEN 'x;' ELSE 'END' END;\n  \
                       INSERT INTO log VALUES ('end;'); -- END;\n\
                     END;\n\
                     SELECT 1;";
        let statements = split(input, Dialect::Sqlite).unwrap_or_default();
        assert_eq!(statements.len(), 2);
        assert!(statements[0].sql.starts_with("CREATE TRIGGER trg"));
        assert!(statements[0].sql.ends_with("-- END;\nEND"));
        assert_eq!(
            statements[1],
            Statement {
                sql: "SELECT 1",
                line: 7
            }
        );
        assert_eq!(
            sqls(
                "create temp trigger t before delete on x begin select 1; end; select 2",
                Dialect::Sqlite
            ),
            [
                "create temp trigger t before delete on x begin select 1; end",
                "select 2"
            ]
        );
    }

    #[test]
    fn mysql_trigger_and_event() {
        let input = "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW\n\
                     BEGIN\n  IF NEW.a < 0 THEN SET NEW.a = 0; END IF;\nEND;\n\
                     CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; END;\n\
                     CREATE TRIGGER t2 AFTER INSERT ON t FOR EACH ROW SET @n = 1;\n\
                     SELECT 1;";
        assert_eq!(lines(input, Dialect::MySql), [1, 5, 6, 7]);
    }

    #[test]
    fn mysql_procedure_with_nested_constructs() {
        let input = "CREATE DEFINER=`root`@`%` PROCEDURE p(IN n INT)\n\
            BEGIN\n\
              DECLARE i INT DEFAULT 0;\n\
              DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN SET @err = 1; END;\n\
              outer_loop: LOOP\n\
                SET i = i + 1;\n\
                IF i > n THEN LEAVE outer_loop; END IF;\n\
                IF (i % 2 = 0) THEN ITERATE outer_loop;\n\
                ELSEIF i = 3 THEN SELECT 'three;';\n\
                ELSE SELECT IF(i > 1, 'big', 'small'); END IF;\n\
              END LOOP outer_loop;\n\
              WHILE i > 0 DO SET i = i - 1; END WHILE;\n\
              lbl: REPEAT SET i = i + 1; UNTIL i >= 3 END REPEAT lbl;\n\
              CASE i WHEN 3 THEN SELECT CASE WHEN n > 1 THEN 'a' ELSE 'b' END; ELSE BEGIN END; END CASE;\n\
              SET @s = REPEAT('x', 3);\n\
              SELECT IF(n > 0, 1, 0) INTO @r;\n\
              DROP TABLE IF EXISTS tmp;\n\
            END;\n\
            SELECT 2;";
        let statements = split(input, Dialect::MySql).unwrap_or_default();
        assert_eq!(statements.len(), 2);
        assert!(
            statements[0]
                .sql
                .ends_with("DROP TABLE IF EXISTS tmp;\nEND")
        );
        assert_eq!(
            statements[1],
            Statement {
                sql: "SELECT 2",
                line: 19
            }
        );
    }

    #[test]
    fn mysql_function_without_begin() {
        assert_eq!(
            sqls(
                "CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN CASE WHEN 1 THEN 2 END; SELECT f()",
                Dialect::MySql
            ),
            [
                "CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN CASE WHEN 1 THEN 2 END",
                "SELECT f()"
            ]
        );
    }

    #[test]
    fn mariadb_anonymous_block() {
        assert_eq!(
            sqls(
                "BEGIN NOT ATOMIC SELECT 1; SELECT 2; END; SELECT 3",
                Dialect::MySql
            ),
            ["BEGIN NOT ATOMIC SELECT 1; SELECT 2; END", "SELECT 3"]
        );
    }

    #[test]
    fn postgres_begin_atomic() {
        let input = "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\n\
                     BEGIN ATOMIC\n  \
                       SELECT CASE WHEN a > 0 THEN a + b ELSE b END;\n  \
                       SELECT 1;\n\
                     END;\n\
                     CREATE PROCEDURE p() begin /* c */ atomic insert into t values (1); end;\n\
                     SELECT 2;";
        assert_eq!(lines(input, Dialect::Postgres), [1, 6, 7]);
        let statements = sqls(input, Dialect::Postgres);
        assert!(statements[0].ends_with("SELECT 1;\nEND"));
    }

    #[test]
    fn postgres_semicolons_in_parentheses_do_not_split() {
        assert_eq!(
            sqls(
                "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 1",
                Dialect::Postgres
            ),
            [
                "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))",
                "SELECT 1"
            ]
        );
        assert_eq!(
            sqls("SELECT (1; SELECT 2", Dialect::MySql),
            ["SELECT (1", "SELECT 2"]
        );
    }

    #[test]
    fn transaction_statements_are_not_blocks() {
        let common = "BEGIN;\nINSERT INTO t VALUES (1);\nCOMMIT;\nBEGIN\n-- why not\n;\nSELECT 1;\nEND;\nBEGIN";
        for dialect in ALL {
            assert_eq!(
                sqls(common, dialect),
                [
                    "BEGIN",
                    "INSERT INTO t VALUES (1)",
                    "COMMIT",
                    "BEGIN\n-- why not",
                    "SELECT 1",
                    "END",
                    "BEGIN"
                ],
                "{dialect:?}"
            );
        }
        assert_eq!(
            sqls(
                "BEGIN TRANSACTION; SELECT 1; COMMIT TRANSACTION;",
                Dialect::Sqlite
            ),
            ["BEGIN TRANSACTION", "SELECT 1", "COMMIT TRANSACTION"]
        );
        for mode in ["DEFERRED", "immediate", "Exclusive"] {
            let input = format!("BEGIN {mode} TRANSACTION; SELECT 1; END;");
            assert_eq!(sqls(&input, Dialect::Sqlite).len(), 3, "{mode}");
        }
        assert_eq!(
            sqls(
                "BEGIN WORK; SELECT 1; COMMIT; START TRANSACTION; SELECT 2; ROLLBACK;",
                Dialect::MySql
            )
            .len(),
            6
        );
        assert_eq!(
            sqls(
                "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT 1; COMMIT; BEGIN WORK READ ONLY; END;",
                Dialect::Postgres
            )
            .len(),
            5
        );
    }

    #[test]
    fn keywords_must_be_whole_words_outside_quotes() {
        let input = "CREATE TABLE legend (begin_date date, ending int, \"begin\" int, `case` int, [end] int);\n\
                     SELECT 'BEGIN' /* BEGIN */ -- BEGIN\n;\n\
                     SELECT 3;";
        assert_eq!(lines(input, Dialect::Sqlite), [1, 2, 4]);
        let mysql = input.replace("[end]", "`end`");
        assert_eq!(lines(&mysql, Dialect::MySql), [1, 2, 4]);
        let postgres = input
            .replace("[end]", "\"end\"")
            .replace("`case`", "\"case\"");
        assert_eq!(lines(&postgres, Dialect::Postgres), [1, 2, 4]);
    }

    #[test]
    fn begin_in_a_routine_header_parenthesis_is_not_a_body() {
        // MySQL allows `begin` as an unquoted column name.
        assert_eq!(
            sqls(
                "CREATE TABLE event (begin INT, x INT); SELECT 1",
                Dialect::MySql
            ),
            ["CREATE TABLE event (begin INT, x INT)", "SELECT 1"]
        );
    }

    #[test]
    fn begin_is_case_insensitive() {
        assert_eq!(
            sqls(
                "create trigger t after insert on x BeGiN select 1; eNd; select 2",
                Dialect::MySql
            ),
            [
                "create trigger t after insert on x BeGiN select 1; eNd",
                "select 2"
            ]
        );
    }

    // ---- DELIMITER -------------------------------------------------------------------------------

    #[test]
    fn mysql_delimiter_directive() {
        let input = "SELECT 0;\n\
                     DELIMITER //\n\
                     CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND//\n\
                     delimiter $$\n\
                     CREATE FUNCTION f() RETURNS INT BEGIN RETURN 1; END$$\n\
                     Delimiter ;\n\
                     SELECT 3;";
        let statements = split(input, Dialect::MySql).unwrap_or_default();
        assert_eq!(
            statements,
            vec![
                Statement {
                    sql: "SELECT 0",
                    line: 1
                },
                Statement {
                    sql: "CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND",
                    line: 3
                },
                Statement {
                    sql: "CREATE FUNCTION f() RETURNS INT BEGIN RETURN 1; END",
                    line: 9
                },
                Statement {
                    sql: "SELECT 3",
                    line: 11
                },
            ]
        );
    }

    #[test]
    fn custom_delimiter_ignores_semicolons_and_blocks() {
        assert_eq!(
            sqls(
                "DELIMITER ;;\nSELECT 1; SELECT 2;;\nBEGIN;;\nSELECT ';;';;",
                Dialect::MySql
            ),
            ["SELECT 1; SELECT 2", "BEGIN", "SELECT ';;'"]
        );
        // The text after the last custom delimiter is still a statement.
        assert_eq!(
            sqls("DELIMITER //\nSELECT 1; SELECT 2", Dialect::MySql),
            ["SELECT 1; SELECT 2"]
        );
        // The directive's own line is not part of anything, including trailing text on it.
        assert_eq!(
            sqls("  DELIMITER   //   \nSELECT 1//", Dialect::MySql),
            ["SELECT 1"]
        );
    }

    #[test]
    fn delimiter_only_between_statements_on_its_own_line_and_only_on_mysql() {
        assert_eq!(
            sqls("SELECT 1; DELIMITER //\nSELECT 2//", Dialect::MySql),
            ["SELECT 1", "DELIMITER //\nSELECT 2//"]
        );
        assert_eq!(
            sqls("SELECT 1\nDELIMITER //\n;", Dialect::MySql),
            ["SELECT 1\nDELIMITER //"]
        );
        assert_eq!(
            sqls("SELECT delimiter FROM t; SELECT delimiters", Dialect::MySql),
            ["SELECT delimiter FROM t", "SELECT delimiters"]
        );
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            assert_eq!(
                sqls("DELIMITER //\nSELECT 1//\nDELIMITER ;\nSELECT 2;", dialect),
                ["DELIMITER //\nSELECT 1//\nDELIMITER", "SELECT 2"]
            );
        }
    }

    #[test]
    fn delimiter_without_argument_is_an_error() {
        let e = err("SELECT 1;\nDELIMITER   \nSELECT 2;", Dialect::MySql);
        assert_eq!(e.line, 2);
        assert!(e.message.contains("DELIMITER"), "{e}");
    }

    // ---- errors ----------------------------------------------------------------------------------

    #[test]
    fn unterminated_quotes_name_their_line() {
        let cases: [(&str, Dialect, usize, &str); 9] = [
            (
                "SELECT 1;\nSELECT 'abc;\n\n",
                Dialect::Postgres,
                2,
                "string literal",
            ),
            (
                "SELECT 1;\n\nSELECT 'it''s",
                Dialect::Sqlite,
                3,
                "string literal",
            ),
            ("SELECT 'a\\'", Dialect::MySql, 1, "string literal"),
            ("SELECT\n\"abc", Dialect::Postgres, 2, "quoted identifier"),
            (
                "SELECT\n\"abc\\\"",
                Dialect::MySql,
                2,
                "double-quoted string",
            ),
            (
                "\n\nSELECT `a``",
                Dialect::MySql,
                3,
                "backtick-quoted identifier",
            ),
            (
                "SELECT `a",
                Dialect::Sqlite,
                1,
                "backtick-quoted identifier",
            ),
            (
                "SELECT 1;\nSELECT [a",
                Dialect::Sqlite,
                2,
                "bracket-quoted identifier",
            ),
            (
                "SELECT 1;\nSELECT E'a\\'",
                Dialect::Postgres,
                2,
                "escape string literal E'...'",
            ),
        ];
        for (input, dialect, line, what) in cases {
            let e = err(input, dialect);
            assert_eq!(e.line, line, "{input:?}");
            assert_eq!(
                e.message,
                format!("unterminated {what} that starts here"),
                "{input:?}"
            );
        }
    }

    #[test]
    fn unterminated_block_comments() {
        for dialect in ALL {
            let e = err("SELECT 1;\n/* never\nclosed ;", dialect);
            assert_eq!(e.line, 2);
            assert_eq!(e.message, "unterminated block comment that starts here");
        }
        // A nested comment needs two closings on PostgreSQL only.
        let e = err("SELECT 1 /* a\n/* b */", Dialect::Postgres);
        assert_eq!(e.line, 1);
        assert_eq!(
            sqls("SELECT 1 /* a\n/* b */", Dialect::MySql),
            ["SELECT 1 /* a\n/* b */"]
        );
    }

    #[test]
    fn unterminated_dollar_quotes() {
        let e = err(
            "SELECT 1;\n\nCREATE FUNCTION f() AS $fn$\nBEGIN; END $$;",
            Dialect::Postgres,
        );
        assert_eq!(e.line, 3);
        assert_eq!(
            e.message,
            "unterminated dollar-quoted string $fn$ that starts here"
        );
        assert_eq!(
            err("DO $$ x", Dialect::Postgres).message,
            "unterminated dollar-quoted string $$ that starts here"
        );
    }

    #[test]
    fn unterminated_blocks() {
        let e = err(
            "SELECT 1;\nCREATE TRIGGER t AFTER INSERT ON x\nBEGIN\n  SELECT 1;\n",
            Dialect::Sqlite,
        );
        assert_eq!(
            (e.line, e.message.as_str()),
            (3, "unterminated BEGIN ... END block that starts here")
        );

        let e = err(
            "CREATE FUNCTION f() RETURNS int\nBEGIN ATOMIC\nSELECT 1;",
            Dialect::Postgres,
        );
        assert_eq!(
            (e.line, e.message.as_str()),
            (
                2,
                "unterminated BEGIN ATOMIC ... END block that starts here"
            )
        );

        let e = err(
            "CREATE PROCEDURE p()\nBEGIN\n  WHILE x DO\n    SELECT 1;\n",
            Dialect::MySql,
        );
        assert_eq!(
            (e.line, e.message.as_str()),
            (
                3,
                "unterminated WHILE ... END WHILE statement that starts here"
            )
        );

        let e = err(
            "CREATE PROCEDURE p() BEGIN\nSELECT CASE WHEN 1 THEN 2;",
            Dialect::MySql,
        );
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "unterminated CASE ... END expression that starts here")
        );

        let e = err("BEGIN NOT ATOMIC\nSELECT 1;", Dialect::MySql);
        assert_eq!(e.line, 1);

        // A forgotten END IF is absorbed by the procedure's END, so the body is what is left open.
        let e = err(
            "CREATE PROCEDURE p()\nBEGIN\nIF a THEN SELECT 1;\nEND;",
            Dialect::MySql,
        );
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "unterminated BEGIN ... END block that starts here")
        );

        for (input, what) in [
            (
                "CREATE PROCEDURE p() BEGIN\nIF a THEN SELECT 1;",
                "IF ... END IF statement",
            ),
            (
                "CREATE PROCEDURE p() BEGIN\nl: LOOP SELECT 1;",
                "LOOP ... END LOOP statement",
            ),
            (
                "CREATE PROCEDURE p() BEGIN\nREPEAT SELECT 1;",
                "REPEAT ... END REPEAT statement",
            ),
            (
                "CREATE PROCEDURE p() BEGIN\nCASE x WHEN 1 THEN SELECT 1;",
                "CASE ... END CASE statement",
            ),
        ] {
            let e = err(input, Dialect::MySql);
            assert_eq!(e.line, 2, "{input}");
            assert_eq!(e.message, format!("unterminated {what} that starts here"));
        }
    }

    #[test]
    fn error_display_includes_line() {
        let e = err("\n\nSELECT 'x", Dialect::Sqlite);
        assert_eq!(
            e.to_string(),
            "line 3: unterminated string literal that starts here"
        );
    }

    #[test]
    fn errors_report_the_first_problem_even_after_valid_statements() {
        let input = "SELECT 1;\nSELECT 2;\nSELECT \"a;\nSELECT 'b";
        let e = err(input, Dialect::Postgres);
        assert_eq!(e.line, 3);
        assert!(e.message.contains("quoted identifier"));
    }

    // ---- scale and robustness --------------------------------------------------------------------

    #[test]
    fn large_input_is_split_completely() {
        let statement = "INSERT INTO t VALUES (1, 'a;b', \"c\"); -- x;\n";
        let input = statement.repeat(50_000);
        for dialect in ALL {
            let statements = split(&input, dialect).unwrap_or_default();
            assert_eq!(statements.len(), 50_000, "{dialect:?}");
            assert_eq!(statements[49_999].line, 50_000);
        }
        let deep = format!(
            "CREATE PROCEDURE p() BEGIN {} {} END; SELECT 1",
            "BEGIN ".repeat(10_000),
            "END; ".repeat(10_000)
        );
        assert_eq!(sqls(&deep, Dialect::MySql).len(), 2);
    }

    #[test]
    fn pathological_repetitions_terminate() {
        for fragment in [
            "$", "$a", "$a$", "/*", "*/", "'", "E'", "--", "-", "\\", "[", "BEGIN ", "é",
        ] {
            let input = fragment.repeat(20_000);
            for dialect in ALL {
                check_invariants(&input, dialect);
            }
        }
    }

    #[test]
    fn every_prefix_of_valid_scripts_is_handled() {
        let scripts = [
            "SELECT 'a;''b' /* c; */ -- d;\n, \"e;\"; SELECT 2",
            "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT CASE WHEN 1 THEN 'é' END; END; SELECT 1",
            "DO $fn$ BEGIN; END $fn$; SELECT E'\\'';\nCREATE FUNCTION f() BEGIN ATOMIC SELECT 1; END",
            "DELIMITER //\nCREATE PROCEDURE p() BEGIN IF a THEN SELECT 1; END IF; END//\nDELIMITER ;\nSELECT `x`; # y",
            "\u{feff}BEGIN; SELECT [a;b]; END;\r\nSELECT 🦀",
        ];
        let mut ok = 0;
        let mut failed = 0;
        for script in scripts {
            for (end, _) in script.char_indices().chain([(script.len(), ' ')]) {
                for dialect in ALL {
                    if check_invariants(&script[..end], dialect) {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                }
            }
        }
        assert!(ok > 0 && failed > 0, "ok {ok}, failed {failed}");
    }

    #[test]
    fn random_inputs_never_panic_and_keep_invariants() {
        const FRAGMENTS: &[&str] = &[
            "SELECT 1",
            ";",
            " ",
            "\n",
            "\r\n",
            "\t",
            "'",
            "''",
            "\"",
            "`",
            "[",
            "]",
            "--",
            "-- c\n",
            "#",
            "/*",
            "*/",
            "/*!",
            "$$",
            "$a$",
            "$1",
            "$",
            "E'",
            "e",
            "\\",
            "BEGIN",
            "END",
            "CASE",
            "IF",
            "END IF",
            "LOOP",
            "WHILE",
            "REPEAT",
            "THEN",
            "ELSE",
            "DO",
            "ATOMIC",
            "NOT",
            "CREATE TRIGGER t",
            "CREATE PROCEDURE p()",
            "TRANSACTION",
            "DELIMITER //\n",
            "DELIMITER ;\n",
            "DELIMITER\n",
            "DELIMITER $$\n",
            "//",
            "(",
            ")",
            ":",
            "lbl:",
            ":=",
            "é",
            "🦀",
            "\u{3000}",
            "\u{feff}",
            "x",
            "begin_date",
            "M!",
            "!",
            "*",
            "/",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut ok, mut failed) = (0, 0);
        let mut input = String::new();
        for _ in 0..4_000 {
            input.clear();
            let len = next() % 24;
            for _ in 0..len {
                let pick = (next() % FRAGMENTS.len() as u64) as usize;
                input.push_str(FRAGMENTS[pick]);
                if next() % 3 == 0 {
                    input.push(' ');
                }
            }
            for dialect in ALL {
                if check_invariants(&input, dialect) {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
        }
        // The generator must exercise both outcomes for the check to mean anything.
        assert!(ok > 1_000 && failed > 1_000, "ok {ok}, failed {failed}");
    }
}
