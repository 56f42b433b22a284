//! The one SQL lexer of kiln-core: where each token starts and ends in each dialect.
//!
//! Everything in kiln that has to know whether a character is inside a string literal, a quoted
//! identifier, a comment or a dollar-quoted body asks this module: the statement splitter
//! ([`crate::split`]) and the section scanner ([`crate::format`]) both read a script as a stream of
//! [`Token`]s from [`token`], so the two can never disagree about where a literal ends.
//!
//! The rules follow each database's own scanner ([`Syntax`] selects them):
//!
//! | construct | PostgreSQL | MySQL / MariaDB | SQLite |
//! | --- | --- | --- | --- |
//! | `'...'` | `''` escapes `'`; `\` escapes only with `standard_conforming_strings = off` | `''` and `\` escape (unless `NO_BACKSLASH_ESCAPES`) | `''` only |
//! | `E'...'` | `''` and `\` escape | (an `E` then a string) | (an `E` then a string) |
//! | `"..."` | identifier, `""` | string, like `'...'` | identifier, `""` |
//! | `` `...` `` | (an operator character) | identifier, ` `` ` | identifier, ` `` ` |
//! | `[...]` | (punctuation) | (punctuation) | identifier up to the first `]` |
//! | `$tag$...$tag$` | dollar quoting (not after an identifier character) | (part of a word) | (a parameter) |
//! | `-- ` | comment | comment only if followed by whitespace, a control character or the end | comment |
//! | `#` | (an operator) | comment | (a parameter) |
//! | `/* */` | comment, **nests** | comment, no nesting; `/*!` and `/*M!` are executable SQL | comment, no nesting |

use std::fmt;

/// The SQL dialect whose lexical rules a reading follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL: nested block comments, `E'...'` strings, dollar quoting, `BEGIN ATOMIC` bodies.
    Postgres,
    /// MySQL and MariaDB: backslash escapes, backticks, `#` comments, `DELIMITER`, stored-program
    /// bodies.
    MySql,
    /// SQLite: backticks and `[bracket]` identifiers, `CREATE TRIGGER ... BEGIN ... END` bodies.
    Sqlite,
}

impl Dialect {
    /// Every dialect, in the order messages list them.
    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];

    /// The spelling kiln.toml and the `migrations!` macro use: `postgres`, `mysql`, `sqlite`.
    pub const fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// The dialect named `name` as kiln.toml spells it (`postgres`, `mysql`, `sqlite`, or the
    /// aliases `postgresql`, `mariadb`), case-insensitively.
    pub fn from_name(name: &str) -> Option<Dialect> {
        match name.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::MySql),
            "sqlite" => Some(Dialect::Sqlite),
            _ => None,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL/MariaDB",
            Dialect::Sqlite => "SQLite",
        })
    }
}

/// The full lexical settings of one reading: the dialect plus the server settings that change
/// how literals are read.
///
/// Build one with [`Syntax::new`] and the `with_` methods (all `const`, so the `migrations!` macro
/// can embed one in a `static`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Syntax {
    /// The dialect.
    pub dialect: Dialect,
    /// PostgreSQL's `standard_conforming_strings` (on by default since 9.1): when off, `\`
    /// escapes in every `'...'` literal, not only in `E'...'`. Ignored by other dialects.
    pub standard_conforming_strings: bool,
    /// MySQL's backslash escapes in `'...'` and `"..."` (on unless the `sql_mode` has
    /// `NO_BACKSLASH_ESCAPES`). Ignored by other dialects.
    pub backslash_escapes: bool,
}

impl Syntax {
    /// `dialect` with its servers' default settings.
    pub const fn new(dialect: Dialect) -> Syntax {
        Syntax {
            dialect,
            standard_conforming_strings: true,
            backslash_escapes: true,
        }
    }

    /// The same reading with PostgreSQL's `standard_conforming_strings` set to `on`.
    pub const fn with_standard_conforming_strings(mut self, on: bool) -> Syntax {
        self.standard_conforming_strings = on;
        self
    }

    /// The same reading with MySQL's backslash escapes on (`false` = `NO_BACKSLASH_ESCAPES`).
    pub const fn with_backslash_escapes(mut self, on: bool) -> Syntax {
        self.backslash_escapes = on;
        self
    }

    /// The readings kiln applies when a migration set declares no dialect: every dialect with
    /// its default settings. A file must read the same way in all of them at every section marker.
    pub const DEFAULT_READINGS: [Syntax; 3] = [
        Syntax::new(Dialect::Postgres),
        Syntax::new(Dialect::MySql),
        Syntax::new(Dialect::Sqlite),
    ];

    /// Whether `\` escapes the next character in a plain `'...'` literal.
    fn backslash_in_plain_strings(self) -> bool {
        match self.dialect {
            Dialect::Postgres => !self.standard_conforming_strings,
            Dialect::MySql => self.backslash_escapes,
            Dialect::Sqlite => false,
        }
    }
}

impl fmt::Display for Syntax {
    /// `PostgreSQL`, `PostgreSQL (standard_conforming_strings = off)`, `MySQL/MariaDB`,
    /// `MySQL/MariaDB (NO_BACKSLASH_ESCAPES)` or `SQLite`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.dialect)?;
        match self.dialect {
            Dialect::Postgres if !self.standard_conforming_strings => {
                f.write_str(" (standard_conforming_strings = off)")
            }
            Dialect::MySql if !self.backslash_escapes => f.write_str(" (NO_BACKSLASH_ESCAPES)"),
            _ => Ok(()),
        }
    }
}

/// The readings a migration set is checked with: the declared [`Syntax`], or every dialect's
/// default reading when none is declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readings {
    declared: Option<Syntax>,
    all: Vec<Syntax>,
}

impl Readings {
    /// The one reading of a set that declares its dialect.
    pub fn of(syntax: Syntax) -> Readings {
        Readings {
            declared: Some(syntax),
            all: vec![syntax],
        }
    }

    /// The readings of a set that declares no dialect.
    pub fn undeclared(all: [Syntax; 3]) -> Readings {
        Readings {
            declared: None,
            all: all.to_vec(),
        }
    }

    /// The declared reading, if the set declares its dialect.
    pub fn declared(&self) -> Option<Syntax> {
        self.declared
    }

    /// Every reading that applies.
    pub fn all(&self) -> &[Syntax] {
        &self.all
    }
}

impl Default for Readings {
    /// No dialect declared: [`Syntax::DEFAULT_READINGS`].
    fn default() -> Self {
        Readings::undeclared(Syntax::DEFAULT_READINGS)
    }
}

/// What kind of token [`token`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Whitespace (including a byte-order mark).
    Space,
    /// `-- ...` or MySQL's `# ...`, up to (not including) the newline.
    LineComment,
    /// `/* ... */`.
    BlockComment,
    /// MySQL's executable comment `/*! ... */` or `/*M! ... */`: SQL, not a comment.
    Executable,
    /// A string literal, quoted identifier or dollar-quoted body.
    Quoted,
    /// An identifier, keyword or number (letters, digits, `_`, `$`, non-ASCII).
    Word,
    /// Any other single character.
    Punct,
}

/// One token: its kind and byte range in the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: Kind,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
}

/// A literal, quoted identifier, comment or dollar-quoted body that the script never closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unterminated {
    /// What is open, e.g. `escape string literal E'...'` or `dollar-quoted string $fn$`.
    pub what: String,
    /// Byte offset where it opens.
    pub at: usize,
}

/// Whitespace between tokens. A byte-order mark counts because editors leave one at the start of
/// files and it must not become the first character of a statement.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// The token that starts at byte `at` of `src` (which must be a character boundary before the
/// end). `stop` is a custom MySQL delimiter: a word ends where it starts, because `END$$` must
/// split after `END` as the `mysql` client does.
///
/// # Errors
///
/// [`Unterminated`] when a literal, quoted identifier, comment or dollar-quoted body opens at `at`
/// and never closes.
pub fn token(
    src: &str,
    at: usize,
    syntax: Syntax,
    stop: Option<&[u8]>,
) -> Result<Token, Unterminated> {
    let b = src.as_bytes();
    let d = syntax.dialect;
    let next = b.get(at + 1).copied();
    let tok = |kind, end: usize| {
        Ok(Token {
            kind,
            start: at,
            end,
        })
    };
    let Some(&c) = b.get(at) else {
        return tok(Kind::Space, at);
    };
    match c {
        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => tok(Kind::Space, at + 1),
        b'-' if next == Some(b'-') && dash_comment(b, at, d) => {
            tok(Kind::LineComment, comment_end(b, at, d))
        }
        b'#' if d == Dialect::MySql => tok(Kind::LineComment, line_end(b, at)),
        b'/' if next == Some(b'*') => {
            let end =
                block_comment_end(b, at, d == Dialect::Postgres).ok_or_else(|| Unterminated {
                    what: "block comment".to_owned(),
                    at,
                })?;
            let executable = d == Dialect::MySql
                && b.get(at + 2..)
                    .is_some_and(|r| r.starts_with(b"!") || r.starts_with(b"M!"));
            tok(
                if executable {
                    Kind::Executable
                } else {
                    Kind::BlockComment
                },
                end,
            )
        }
        b'\'' => {
            let backslash = syntax.backslash_in_plain_strings();
            quoted(b, at, at, b'\'', backslash, "string literal")
        }
        b'"' if d == Dialect::MySql => quoted(
            b,
            at,
            at,
            b'"',
            syntax.backslash_escapes,
            "double-quoted string",
        ),
        b'"' => quoted(b, at, at, b'"', false, "quoted identifier"),
        b'`' if d != Dialect::Postgres => {
            quoted(b, at, at, b'`', false, "backtick-quoted identifier")
        }
        b'[' if d == Dialect::Sqlite => match b
            .get(at + 1..)
            .and_then(|r| r.iter().position(|&x| x == b']'))
        {
            Some(i) => tok(Kind::Quoted, at + 1 + i + 1),
            None => Err(Unterminated {
                what: "bracket-quoted identifier".to_owned(),
                at,
            }),
        },
        b'$' if d == Dialect::Postgres => dollar(src, at),
        0x80..=0xff => match src.get(at..).and_then(|s| s.chars().next()) {
            Some(ch) if is_space(ch) => tok(Kind::Space, at + ch.len_utf8()),
            _ => word(src, at, syntax, stop),
        },
        _ if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' => word(src, at, syntax, stop),
        _ => tok(Kind::Punct, at + 1),
    }
}

/// MySQL needs whitespace or a control character after `--` for a comment (`5--2` is arithmetic
/// there); the other dialects always start a comment.
fn dash_comment(b: &[u8], at: usize, d: Dialect) -> bool {
    d != Dialect::MySql || b.get(at + 2).is_none_or(|&c| c <= b' ')
}

/// Where a `--` comment starting at `at` ends: PostgreSQL's scanner also ends it at a lone `\r`
/// (a carriage return that is not part of CRLF survives kiln's normalization).
fn comment_end(b: &[u8], at: usize, d: Dialect) -> usize {
    if d != Dialect::Postgres {
        return line_end(b, at);
    }
    b.get(at..)
        .and_then(|r| r.iter().position(|&c| c == b'\n' || c == b'\r'))
        .map_or(b.len(), |i| at + i)
}

/// Offset of the `\n` ending the line that contains `from`, or the end of input.
pub(crate) fn line_end(b: &[u8], from: usize) -> usize {
    b.get(from..)
        .and_then(|r| r.iter().position(|&c| c == b'\n'))
        .map_or(b.len(), |i| from + i)
}

/// End (exclusive) of the block comment opening at `at`, or `None` when it never closes.
fn block_comment_end(b: &[u8], at: usize, nests: bool) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = at + 2;
    while let Some(rest) = b.get(i..) {
        i += rest.iter().position(|&c| c == b'*' || c == b'/')?;
        match (b.get(i), b.get(i + 1)) {
            (Some(b'*'), Some(b'/')) => {
                i += 2;
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            (Some(b'/'), Some(b'*')) if nests => {
                i += 2;
                depth += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The quoted token whose opening `quote` is at `open`; it began at `start` (before an `E`
/// prefix). A doubled quote stands for itself; with `backslash`, `\` hides the next byte.
fn quoted(
    b: &[u8],
    start: usize,
    open: usize,
    quote: u8,
    backslash: bool,
    what: &str,
) -> Result<Token, Unterminated> {
    let mut i = open + 1;
    while let Some(rest) = b.get(i..) {
        let Some(found) = rest
            .iter()
            .position(|&c| c == quote || (backslash && c == b'\\'))
        else {
            break;
        };
        i += found;
        let escaped = b.get(i) == Some(&b'\\') || b.get(i + 1) == Some(&quote);
        if !escaped {
            return Ok(Token {
                kind: Kind::Quoted,
                start,
                end: i + 1,
            });
        }
        i += 2;
    }
    Err(Unterminated {
        what: what.to_owned(),
        at: start,
    })
}

/// A `$` on PostgreSQL: a dollar-quoted string when a valid `$tag$` starts here, otherwise an
/// ordinary character (as in the `$1` parameter, whose tag would start with a digit).
fn dollar(src: &str, at: usize) -> Result<Token, Unterminated> {
    let b = src.as_bytes();
    let is_tag_start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c >= 0x80;
    let mut i = at + 1;
    if b.get(i).is_some_and(|&c| is_tag_start(c)) {
        i += 1;
        while b
            .get(i)
            .is_some_and(|&c| is_tag_start(c) || c.is_ascii_digit())
        {
            i += 1;
        }
    }
    let tag = match src.get(at..i + 1) {
        Some(tag) if b.get(i) == Some(&b'$') => tag,
        _ => {
            return Ok(Token {
                kind: Kind::Punct,
                start: at,
                end: at + 1,
            });
        }
    };
    let body = i + 1;
    match src.get(body..).and_then(|rest| rest.find(tag)) {
        Some(found) => Ok(Token {
            kind: Kind::Quoted,
            start: at,
            end: body + found + tag.len(),
        }),
        None => Err(Unterminated {
            what: format!("dollar-quoted string {tag}"),
            at,
        }),
    }
}

/// An identifier, keyword or number starting at `at`; on PostgreSQL the word `E` directly followed
/// by `'` opens an escape string instead.
fn word(src: &str, at: usize, syntax: Syntax, stop: Option<&[u8]>) -> Result<Token, Unterminated> {
    let b = src.as_bytes();
    // PostgreSQL allows `$` inside identifiers but not in numbers: `1$a$` is `1` and then a
    // dollar-quoted string.
    let dollar_ok =
        syntax.dialect != Dialect::Postgres || !b.get(at).is_some_and(u8::is_ascii_digit);
    let mut i = at;
    while let Some(&c) = b.get(i) {
        if i > at && stop.is_some_and(|s| b[i..].starts_with(s)) {
            break;
        }
        if c.is_ascii_alphanumeric() || c == b'_' || (c == b'$' && dollar_ok) {
            i += 1;
        } else if c >= 0x80 {
            match src.get(i..).and_then(|s| s.chars().next()) {
                Some(ch) if !is_space(ch) => i += ch.len_utf8(),
                _ => break,
            }
        } else {
            break;
        }
    }
    // Guarantees progress even if `at` were somehow not the start of a word character.
    let end = i.max(at + 1);
    if syntax.dialect == Dialect::Postgres
        && end == at + 1
        && matches!(b.get(at), Some(b'e' | b'E'))
        && b.get(end) == Some(&b'\'')
    {
        return quoted(b, at, end, b'\'', true, "escape string literal E'...'");
    }
    Ok(Token {
        kind: Kind::Word,
        start: at,
        end,
    })
}

/// Iterates over the tokens of `src` (no custom delimiter), stopping at the first unterminated
/// construct, which it yields as the last item.
pub fn tokens(src: &str, syntax: Syntax) -> impl Iterator<Item = Result<Token, Unterminated>> + '_ {
    let mut pos = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= src.len() {
            return None;
        }
        let t = token(src, pos, syntax, None);
        match &t {
            Ok(t) => pos = t.end.max(pos + 1),
            Err(_) => failed = true,
        }
        Some(t)
    })
}

/// The offset of the first token of `src` that is not whitespace or a comment, in `syntax`'s
/// reading. An unterminated string counts as code; an unterminated comment does not.
pub fn first_code(src: &str, syntax: Syntax) -> Option<usize> {
    tokens(src, syntax).find_map(|t| match t {
        Ok(t) if matches!(t.kind, Kind::Space | Kind::LineComment | Kind::BlockComment) => None,
        Ok(t) => Some(t.start),
        Err(u) if u.what == "block comment" => None,
        Err(u) => Some(u.at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str, syntax: Syntax) -> Vec<(Kind, &str)> {
        tokens(src, syntax)
            .map(|t| t.unwrap())
            .filter(|t| t.kind != Kind::Space)
            .map(|t| (t.kind, &src[t.start..t.end]))
            .collect()
    }

    const PG: Syntax = Syntax::new(Dialect::Postgres);
    const MY: Syntax = Syntax::new(Dialect::MySql);
    const LITE: Syntax = Syntax::new(Dialect::Sqlite);

    #[test]
    fn backslashes_follow_the_settings() {
        let src = r"'a\'b'";
        assert!(tokens(src, PG).any(|t| t.is_err()));
        assert_eq!(kinds(src, MY), [(Kind::Quoted, src)]);
        assert!(tokens(src, LITE).any(|t| t.is_err()));
        let off = PG.with_standard_conforming_strings(false);
        assert_eq!(kinds(src, off), [(Kind::Quoted, src)]);
        let nbe = MY.with_backslash_escapes(false);
        assert!(tokens(src, nbe).any(|t| t.is_err()));
        assert_eq!(kinds(r"E'\''", PG), [(Kind::Quoted, r"E'\''")]);
        assert_eq!(
            kinds(r"xE'a'", PG),
            [(Kind::Word, "xE"), (Kind::Quoted, "'a'")]
        );
    }

    #[test]
    fn comments_per_dialect() {
        assert_eq!(
            kinds("/* a /* b */ */", PG),
            [(Kind::BlockComment, "/* a /* b */ */")]
        );
        assert_eq!(
            kinds("/* a /* b */ */", MY),
            [
                (Kind::BlockComment, "/* a /* b */"),
                (Kind::Punct, "*"),
                (Kind::Punct, "/")
            ]
        );
        assert_eq!(kinds("# x", MY), [(Kind::LineComment, "# x")]);
        assert_eq!(kinds("--x", MY)[0], (Kind::Punct, "-"));
        assert_eq!(
            kinds("/*! SELECT 1 */", MY),
            [(Kind::Executable, "/*! SELECT 1 */")]
        );
        assert_eq!(kinds("[a]", LITE), [(Kind::Quoted, "[a]")]);
    }

    // Found while attacking the lexer: PostgreSQL ends a `--` comment at a lone CR, and a number
    // does not swallow a following dollar tag.
    #[test]
    fn postgres_comment_ends_at_a_lone_cr_and_numbers_stop_at_dollar() {
        assert_eq!(kinds("-- a\r'x'", PG)[1], (Kind::Quoted, "'x'"));
        assert_eq!(kinds("-- a\r'x'", LITE), [(Kind::LineComment, "-- a\r'x'")]);
        assert_eq!(
            kinds("1$a$;$a$", PG),
            [(Kind::Word, "1"), (Kind::Quoted, "$a$;$a$")]
        );
        assert_eq!(kinds("a$b$", PG), [(Kind::Word, "a$b$")]);
        assert_eq!(kinds("1$a$", MY), [(Kind::Word, "1$a$")]);
    }

    #[test]
    fn first_code_skips_comments() {
        assert_eq!(first_code("-- a\n/* b */ # c", PG), Some(13));
        assert_eq!(first_code("-- a\n/* b */ # c", MY), None);
        assert_eq!(first_code("/* open", PG), None);
        assert_eq!(first_code(" 'open", PG), Some(1));
    }

    #[test]
    fn names_round_trip() {
        for d in Dialect::ALL {
            assert_eq!(Dialect::from_name(d.name()), Some(d));
        }
        assert_eq!(Dialect::from_name("MariaDB"), Some(Dialect::MySql));
        assert_eq!(Dialect::from_name("oracle"), None);
    }
}
