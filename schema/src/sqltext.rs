//! Just enough SQL lexing to normalize text the catalogs return verbatim (SQLite keeps the
//! `CREATE` statements as written) and to find `CHECK` constraints, which SQLite records
//! nowhere else.

// Only the SQLite capture reads `CREATE` statements; the others just normalize.
#![cfg_attr(not(feature = "sqlite"), allow(dead_code))]

/// One lexical token of SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A keyword or identifier, quoted or not.
    Word,
    /// A string literal.
    Str,
    /// Any other single character, or a run of digits.
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
    end: usize,
}

fn tokens(sql: &str) -> Vec<Token<'_>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            _ if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(b.len());
                continue;
            }
            b'\'' => {
                i = close_quote(b, i, b'\'');
                Kind::Str
            }
            b'"' | b'`' => {
                i = close_quote(b, i, c);
                Kind::Word
            }
            b'[' => {
                while i < b.len() && b[i] != b']' {
                    i += 1;
                }
                i = (i + 1).min(b.len());
                Kind::Word
            }
            _ if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'$'
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                if c.is_ascii_digit() {
                    Kind::Punct
                } else {
                    Kind::Word
                }
            }
            _ => {
                i += 1;
                Kind::Punct
            }
        };
        // Multi-byte characters are consumed whole above, so `i` is on a char boundary.
        let end = i.min(b.len());
        out.push(Token {
            kind,
            text: sql.get(start..end).unwrap_or(""),
            start,
            end,
        });
    }
    out
}

/// The index just past the quote that closes the one at `open` (doubled quotes are escapes).
fn close_quote(b: &[u8], open: usize, q: u8) -> usize {
    let mut i = open + 1;
    while i < b.len() {
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// Collapses whitespace and comments, so text that differs only in layout compares equal:
/// tokens are joined by one space, except that nothing separates `(` or `.` from what follows,
/// `)`, `,`, `;` or `.` from what precedes, or a word from the `(` after it (`VARCHAR (255)` is
/// `VARCHAR(255)`); `,` and `;` are always followed by one space, operator characters written
/// together stay together (`>=`, `-1`), and a trailing `;` is dropped. String literals are kept
/// exactly.
pub(crate) fn normalize(sql: &str) -> String {
    let toks = tokens(sql);
    let mut out = String::with_capacity(sql.len());
    let is = |t: &Token<'_>, set: &[&str]| t.kind == Kind::Punct && set.contains(&t.text);
    let mut prev: Option<Token<'_>> = None;
    for t in &toks {
        if let Some(p) = prev {
            let glued = is(&p, &["(", "."])
                || is(t, &[")", ",", ";", "."])
                || (is(t, &["("]) && p.kind == Kind::Word)
                // MySQL's `@var` and `@@sysvar`: a space would make them invalid.
                || (is(&p, &["@"]) && p.end == t.start)
                || (p.kind == Kind::Punct
                    && t.kind == Kind::Punct
                    && p.end == t.start
                    && !is(&p, &[",", ";", ")"]));
            if !glued {
                out.push(' ');
            }
        }
        out.push_str(t.text);
        prev = Some(*t);
    }
    while out.ends_with(';') {
        out.pop();
    }
    out
}

/// `true` when `word` appears as a keyword (not inside a string or a quoted identifier).
pub(crate) fn has_keyword(sql: &str, word: &str) -> bool {
    tokens(sql)
        .iter()
        .any(|t| t.kind == Kind::Word && t.text.eq_ignore_ascii_case(word))
}

/// Removes identifier quotes: `"a""b"` → `a"b`, `` `x` `` → `x`, `[y]` → `y`.
pub(crate) fn unquote(ident: &str) -> String {
    let b = ident.as_bytes();
    match (b.first(), b.last()) {
        (Some(&q @ (b'"' | b'`')), Some(&l)) if l == q && b.len() >= 2 => {
            let inner = &ident[1..ident.len() - 1];
            let q = q as char;
            inner.replace(&format!("{q}{q}"), &q.to_string())
        }
        (Some(b'['), Some(b']')) if b.len() >= 2 => ident[1..ident.len() - 1].to_owned(),
        _ => ident.to_owned(),
    }
}

/// Every `CHECK (...)` in a `CREATE TABLE` statement: its normalized condition (without the
/// outer parentheses) and the name given by a preceding `CONSTRAINT name`, if any.
pub(crate) fn checks(create_table: &str) -> Vec<(String, Option<String>)> {
    let toks = tokens(create_table);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        let opens = toks.get(i + 1).is_some_and(|n| n.text == "(");
        if t.kind == Kind::Word && t.text.eq_ignore_ascii_case("check") && opens {
            let mut depth = 0;
            let mut j = i + 1;
            while j < toks.len() {
                match toks[j].text {
                    "(" if toks[j].kind == Kind::Punct => depth += 1,
                    ")" if toks[j].kind == Kind::Punct => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let inner_start = toks[i + 1].end;
            let inner_end = toks.get(j).map_or(create_table.len(), |t| t.start);
            let expr = normalize(create_table.get(inner_start..inner_end).unwrap_or(""));
            let name = match (
                i.checked_sub(2).map(|k| toks[k]),
                i.checked_sub(1).map(|k| toks[k]),
            ) {
                (Some(c), Some(n)) if c.text.eq_ignore_ascii_case("constraint") => {
                    Some(unquote(n.text))
                }
                _ => None,
            };
            out.push((expr, name));
            i = j;
        }
        i += 1;
    }
    out
}

/// The text after the first top-level `WHERE` of an index definition, normalized.
pub(crate) fn index_predicate(create_index: &str) -> Option<String> {
    let toks = tokens(create_index);
    let mut depth = 0i32;
    for t in &toks {
        match (t.kind, t.text) {
            (Kind::Punct, "(") => depth += 1,
            (Kind::Punct, ")") => depth -= 1,
            (Kind::Word, w) if depth == 0 && w.eq_ignore_ascii_case("where") => {
                return Some(normalize(create_index.get(t.end..).unwrap_or("")));
            }
            _ => {}
        }
    }
    None
}

/// The parenthesized key list of an index definition (`ON t (a, lower(b) DESC)`), normalized.
pub(crate) fn index_keys(create_index: &str) -> Option<String> {
    let toks = tokens(create_index);
    let on = toks
        .iter()
        .position(|t| t.kind == Kind::Word && t.text.eq_ignore_ascii_case("on"))?;
    let open = toks[on..].iter().position(|t| t.text == "(")? + on;
    let mut depth = 0;
    for t in &toks[open..] {
        match (t.kind, t.text) {
            (Kind::Punct, "(") => depth += 1,
            (Kind::Punct, ")") => {
                depth -= 1;
                if depth == 0 {
                    return Some(normalize(create_index.get(toks[open].start..t.end)?));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_layout_but_not_literals() {
        assert_eq!(
            normalize("SELECT  a ,\n b -- note\n FROM t WHERE x = 'a  b' ;"),
            "SELECT a, b FROM t WHERE x = 'a  b'"
        );
        assert_eq!(
            normalize("BEGIN UPDATE t SET b = trim( b )WHERE id>=-1;END"),
            "BEGIN UPDATE t SET b = trim(b) WHERE id >=-1; END"
        );
        assert_eq!(normalize("VARCHAR (255)"), "VARCHAR(255)");
        assert_eq!(normalize("/* c */ lower( x )"), "lower(x)");
        assert_eq!(normalize("SET @x = @@sql_mode"), "SET @x = @@sql_mode");
    }

    #[test]
    fn finds_checks_with_and_without_names() {
        let sql = "CREATE TABLE t (a INT CHECK (a > 0), b TEXT DEFAULT 'CHECK (no)', \
                   CONSTRAINT \"b len\" CHECK ( length(b) > (1) ))";
        assert_eq!(
            checks(sql),
            [
                ("a > 0".to_owned(), None),
                ("length(b) > (1)".to_owned(), Some("b len".to_owned()))
            ]
        );
    }

    #[test]
    fn reads_index_parts() {
        let sql = "CREATE UNIQUE INDEX i ON t (lower(b) DESC, c) WHERE (id > 0)";
        assert_eq!(index_keys(sql).as_deref(), Some("(lower(b) DESC, c)"));
        assert_eq!(index_predicate(sql).as_deref(), Some("(id > 0)"));
        assert_eq!(index_predicate("CREATE INDEX i ON t (a)"), None);
        assert!(has_keyword(
            "id INTEGER PRIMARY KEY AUTOINCREMENT",
            "autoincrement"
        ));
        assert!(!has_keyword(
            "x TEXT DEFAULT 'autoincrement'",
            "autoincrement"
        ));
        assert_eq!(unquote("\"a\"\"b\""), "a\"b");
        assert_eq!(unquote("[x]"), "x");
    }
}
