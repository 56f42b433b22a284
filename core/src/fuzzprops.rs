//! The properties kiln's fuzz targets check (`fuzz/`), shared with the tests that replay the
//! committed corpus (`core/tests/fuzz_corpus.rs`), so a fuzz target and its replay cannot
//! disagree. Each function takes the raw fuzz input and panics when a property fails.
//!
//! Inputs whose first byte picks a reading ([`syntax_of`]) read the rest as text; invalid UTF-8
//! is replaced rather than rejected, so every input exercises the code under test.

use crate::checksum;
use crate::format::{self, ParsedFile};
use crate::lex::{self, Dialect, Readings, Syntax};
use crate::split::{self, Statement};
use crate::target::Target;
use std::borrow::Cow;

/// The reading a fuzz input's first byte selects: each dialect with its default settings, and
/// the two server settings that change how literals are read.
pub fn syntax_of(b: u8) -> Syntax {
    match b % 5 {
        0 => Syntax::new(Dialect::Postgres),
        1 => Syntax::new(Dialect::Postgres).with_standard_conforming_strings(false),
        2 => Syntax::new(Dialect::MySql),
        3 => Syntax::new(Dialect::MySql).with_backslash_escapes(false),
        _ => Syntax::new(Dialect::Sqlite),
    }
}

/// The reading chosen by the first byte and the rest as text.
fn reading_and_text(data: &[u8]) -> (Syntax, Cow<'_, str>) {
    match data.split_first() {
        Some((&b, rest)) => (syntax_of(b), String::from_utf8_lossy(rest)),
        None => (Syntax::new(Dialect::Postgres), Cow::Borrowed("")),
    }
}

/// The file parser on arbitrary bytes: no panic, and when the file parses,
///
/// * its sections are slices of its text, its checksum is that of its text;
/// * a draft parse (which only adds leniency) agrees with it;
/// * the same revision written back out by [`rewrite`] (header directives, then the sections
///   verbatim) parses to the same revision: the format can say everything it reads.
///
/// The first byte picks the declared reading of a second parse; the first parse uses the default
/// readings (no dialect declared). The file is named after its `-- kiln:revision` line so that
/// the name check passes and the rest of the parser is reached.
pub fn file_parser(data: &[u8]) {
    let (syntax, _) = reading_and_text(data);
    let bytes = data.get(1..).unwrap_or_default();
    for readings in [Readings::default(), Readings::of(syntax)] {
        let name = file_name(bytes);
        let Ok(p) = format::parse_file_with(&name, &name, bytes, &readings) else {
            continue;
        };
        assert!(format::is_valid_id(&p.revision.value), "{p:?}");
        assert_eq!(p.checksum, checksum::checksum(&p.text));
        assert!(p.text.get(p.up.clone()).is_some(), "up range {:?}", p.up);
        if let Some(d) = &p.down {
            assert!(p.text.get(d.clone()).is_some(), "down range {d:?}");
        }
        let draft = format::parse_draft_with(&name, &name, bytes, &readings)
            .unwrap_or_else(|e| panic!("strict parse accepted, draft parse refused: {e:?}"));
        assert_eq!(draft, p, "a draft parse must agree with a strict one");
        let again = rewrite(&p);
        if checksum::normalize(again.as_bytes()).ok().as_deref() != Some(again.as_str()) {
            // Section text that normalizing changes (a `\r` before a line end) is kept as read,
            // and cannot be written back byte for byte.
            continue;
        }
        let q = format::parse_file_with(&name, &name, again.as_bytes(), &readings)
            .unwrap_or_else(|e| panic!("the rewritten file does not parse: {e:?}\n{again}"));
        assert_same_revision(&p, &q, &again);
    }
}

/// `<id>.sql` for the first `-- kiln:revision` line of `bytes`, or `a1.sql`.
fn file_name(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .find_map(|l| format::directive_value(l, "revision"))
        .filter(|id| format::is_valid_id(id))
        .map_or_else(|| "a1.sql".to_owned(), |id| format!("{id}.sql"))
}

/// `p` written as a migration file: its header directives, then its sections verbatim.
pub fn rewrite(p: &ParsedFile) -> String {
    let mut out = format!("-- kiln:revision {}\n", p.revision.value);
    for (name, list) in [
        ("revises", &p.revises.value),
        ("depends-on", &p.depends_on.value),
        ("branch", &p.branches.value),
    ] {
        if !list.is_empty() {
            out.push_str(&format!("-- kiln:{name} {}\n", list.join(", ")));
        }
    }
    if let Some(m) = &p.message {
        out.push_str(&format!("-- kiln:message {m}\n"));
    }
    if let Some(c) = &p.created {
        out.push_str(&format!("-- kiln:created {c}\n"));
    }
    if !p.transactional {
        out.push_str("-- kiln:transaction false\n");
    }
    out.push_str("-- kiln:upgrade\n");
    out.push_str(p.up_sql());
    if let Some(d) = p.down_sql() {
        out.push_str("-- kiln:downgrade\n");
        out.push_str(d);
    }
    out
}

fn assert_same_revision(p: &ParsedFile, q: &ParsedFile, text: &str) {
    let fields = |f: &ParsedFile| {
        (
            f.revision.value.clone(),
            f.revises.value.clone(),
            f.depends_on.value.clone(),
            f.branches.value.clone(),
            f.message.clone(),
            f.created.clone(),
            f.transactional,
            f.up_sql().to_owned(),
            f.down_sql().map(str::to_owned),
        )
    };
    assert_eq!(fields(p), fields(q), "rewritten file:\n{text}");
}

/// The section scanner's lexer on arbitrary text in the reading the first byte picks: no panic;
/// the tokens tile the text (each starts where the last ended, none is empty, all end on
/// character boundaries) up to the end or to the one unterminated construct, which is last; and
/// `first_code` agrees with the tokens.
pub fn sections(data: &[u8]) {
    let (syntax, text) = reading_and_text(data);
    let text = text.as_ref();
    let mut pos = 0;
    let mut first = None;
    let mut open = None;
    for t in lex::tokens(text, syntax) {
        assert!(open.is_none(), "a token after an unterminated construct");
        match t {
            Ok(t) => {
                assert_eq!(t.start, pos, "tokens must tile the text");
                assert!(t.end > t.start && t.end <= text.len(), "{t:?}");
                assert!(text.is_char_boundary(t.end), "{t:?}");
                let comment = matches!(
                    t.kind,
                    lex::Kind::Space | lex::Kind::LineComment | lex::Kind::BlockComment
                );
                if !comment && first.is_none() {
                    first = Some(t.start);
                }
                pos = t.end;
            }
            Err(u) => {
                assert_eq!(
                    u.at, pos,
                    "an unterminated construct opens where a token would"
                );
                if u.what != "block comment" && first.is_none() {
                    first = Some(u.at);
                }
                open = Some(u);
            }
        }
    }
    if open.is_none() {
        assert_eq!(pos, text.len(), "the tokens must reach the end");
    }
    assert_eq!(lex::first_code(text, syntax), first);
    let _ = format::has_sql_in(text, &Readings::of(syntax));
}

/// The statement splitter on arbitrary text in the reading the first byte picks: no panic; each
/// statement is a trimmed, non-empty slice of the input, in order, on the line it says; and
/// splitting the statements joined again gives the same statements.
///
/// The join writes each statement, its delimiter and a newline; a newline goes before the
/// delimiter where the script had space or its end after the statement (a trailing line comment
/// must not swallow the delimiter, and on MySQL a trailing `--` is a comment only before a space
/// or the end, not before `;`). On MySQL, when the script used `DELIMITER` (its
/// statements may contain `;`, and blocks are not tracked under a custom delimiter) the join
/// declares a delimiter no statement contains; a statement whose first word is `DELIMITER` is read
/// as the directive once it starts a line, so such scripts are left out. On PostgreSQL a script
/// may end inside parentheses (psql sends such a tail as it is, and so does kiln); that last
/// statement would swallow the `;` after it, so it is left out of the join.
pub fn splitter(data: &[u8]) {
    let (syntax, text) = reading_and_text(data);
    let text = text.as_ref();
    let Ok(first) = split::split_with(text, syntax) else {
        return;
    };
    let mut after = 0;
    for s in &first {
        let at = offset_in(text, s.sql);
        assert!(at >= after, "statements out of order: {first:?}");
        after = at + s.sql.len();
        let trimmed = s
            .sql
            .trim_start()
            .trim_end_matches(|c: char| c.is_ascii_whitespace());
        assert!(!s.sql.is_empty() && trimmed == s.sql, "{s:?}");
        let line = 1 + text[..at].matches('\n').count();
        assert_eq!(s.line, line, "the line of {s:?}");
    }
    let mut first = first;
    if syntax.dialect == Dialect::Postgres
        && first.last().is_some_and(|s| open_paren(s.sql, syntax))
    {
        first.pop();
    }
    let mysql = syntax.dialect == Dialect::MySql;
    if mysql && first.iter().any(|s| first_word_is_delimiter(s.sql)) {
        return;
    }
    let custom = mysql && uses_delimiter(text);
    let Some(joined) = join(text, &first, custom) else {
        return;
    };
    let second = split::split_with(&joined, syntax)
        .unwrap_or_else(|e| panic!("the joined statements do not split: {e}\n{joined}"));
    let texts = |v: &[Statement<'_>]| v.iter().map(|s| s.sql.to_owned()).collect::<Vec<_>>();
    assert_eq!(texts(&first), texts(&second), "joined:\n{joined}");
}

/// Whether `sql` leaves a parenthesis open (outside literals and comments).
fn open_paren(sql: &str, syntax: Syntax) -> bool {
    let mut depth = 0usize;
    for t in lex::tokens(sql, syntax).flatten() {
        match (t.kind, &sql[t.start..t.end]) {
            (lex::Kind::Punct, "(") => depth += 1,
            (lex::Kind::Punct, ")") => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    depth > 0
}

/// Byte offset of `part`, a slice of `whole`.
fn offset_in(whole: &str, part: &str) -> usize {
    let at = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    assert!(
        at + part.len() <= whole.len(),
        "a statement outside its script"
    );
    at
}

/// Whether a MySQL script has a line that starts with the word `DELIMITER` (a directive, or
/// text that a join could turn into one).
fn uses_delimiter(text: &str) -> bool {
    text.lines().any(first_word_is_delimiter)
}

fn first_word_is_delimiter(s: &str) -> bool {
    let s = s.trim_start();
    s.get(..9)
        .is_some_and(|w| w.eq_ignore_ascii_case("delimiter"))
}

/// The statements as one script (see [`splitter`]), under a declared delimiter when `custom`;
/// `None` when no delimiter can be declared.
fn join(text: &str, stmts: &[Statement<'_>], custom: bool) -> Option<String> {
    let delim = if custom {
        let d = (0..16)
            .map(|n| format!("$kiln{n}$"))
            // Not in any statement, nor made by a statement's tail and the delimiter together.
            .find(|d| {
                stmts
                    .iter()
                    .all(|s| format!("{}{d}", s.sql).find(d.as_str()) == Some(s.sql.len()))
            })?;
        Some(d)
    } else {
        None
    };
    let mut out = String::new();
    if let Some(d) = &delim {
        out.push_str(&format!("DELIMITER {d}\n"));
    }
    for s in stmts {
        let d = delim.as_deref().unwrap_or(";");
        out.push_str(s.sql);
        // What followed the statement in the script decides whether a trailing `--` was a
        // comment (MySQL: before a space or the end, not before `;`), so the join keeps it: a
        // newline where the script had space or its end, the delimiter at once where it had none.
        let at = offset_in(text, s.sql) + s.sql.len();
        if text[at..].chars().next().is_none_or(char::is_whitespace) {
            out.push('\n');
        }
        out.push_str(d);
        out.push('\n');
    }
    Some(out)
}

/// The target grammar on arbitrary text: no panic, and a parsed target displays as text that
/// parses to the same target.
pub fn targets(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(t) = Target::parse(&text) {
        let shown = t.to_string();
        assert_eq!(
            Target::parse(&shown).as_ref(),
            Ok(&t),
            "`{text}` parsed to {t:?}, shown as `{shown}`"
        );
    }
}
