//! The migration file format: one `<revision>_<slug>.sql` file per revision.
//!
//! ```sql
//! -- kiln:revision 8b1e0c5d2a7f
//! -- kiln:revises 3f2a9c1b7d4e
//! -- kiln:message add user preferences column
//!
//! -- kiln:upgrade
//! ALTER TABLE users ADD COLUMN preferences TEXT;
//!
//! -- kiln:downgrade
//! ALTER TABLE users DROP COLUMN preferences;
//! ```
//!
//! This module turns one file's bytes into a [`ParsedFile`], reporting every problem in the file at
//! once. Cross-file checks (parents exist, no cycles, one head) belong to [`crate::graph`].
//!
//! # How sections are found
//!
//! A line whose first non-blank characters are `--`, optional spaces and `kiln:` (in any case) is
//! a directive or marker *candidate*, found by its text alone. The text between two candidates is
//! then read by every applicable dialect reading ([`crate::lex::Readings`]: the declared dialect,
//! or PostgreSQL, MySQL/MariaDB and SQLite with their default settings when none is declared). If
//! any reading leaves a literal, quoted identifier, comment or dollar-quoted body open at the
//! next candidate, the candidate is an error ([`Problem::MarkerInside`]) naming the construct,
//! the line it opened on and the reading: kiln never silently decides that a marker is data, or
//! that data is a marker. Something left open at the end of the file is
//! [`Problem::Unterminated`]. Statement-level problems the runtime would hit (a MySQL
//! `DELIMITER` line without a delimiter; with a declared dialect, any block left open) are
//! [`Problem::Split`]. The lexer is [`crate::lex`], the same one [`crate::split`] uses; the
//! stretch checks are in `stretch.rs`.

use crate::checksum;
use crate::diag::{Diagnostic, Diagnostics, Problem, closest};
use crate::lex::{self, Readings};
use crate::stretch::Stretches;
use std::ops::Range;
use std::time::Duration;

mod header;
pub use header::is_rfc3339;

/// Header directives, in the order documentation lists them.
pub const HEADER_DIRECTIVES: &[&str] = &[
    "revision",
    "revises",
    "depends-on",
    "branch",
    "message",
    "created",
    "transaction",
    "lock-timeout",
    "statement-timeout",
];
/// `-- kiln:allow RULE reason`: a lint waiver, allowed in the header (for the whole revision)
/// and in sections (for the next statement), any number of times. The format only lets it
/// through; what it means, and whether its rule and reason are valid, is kiln-lint's business.
pub const WAIVER_DIRECTIVE: &str = "allow";
/// Section markers.
pub const SECTION_MARKERS: &[&str] = &["upgrade", "downgrade"];

/// Longest revision id.
pub const MAX_ID_LEN: usize = 32;
/// Longest branch label.
pub const MAX_LABEL_LEN: usize = 64;

/// A directive's value and the line it was on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// 1-based line of the directive.
    pub line: usize,
}

/// One migration file, parsed but not yet checked against the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFile {
    /// The file name, e.g. `8b1e0c5d2a7f_add_prefs.sql`.
    pub file: String,
    /// The path used in messages.
    pub path: String,
    /// The normalized text (see [`crate::checksum`]).
    pub text: String,
    /// SHA-256 of [`Self::text`], hex.
    pub checksum: String,
    /// `-- kiln:revision`.
    pub revision: Located<String>,
    /// `-- kiln:revises`; empty for a base.
    pub revises: Located<Vec<String>>,
    /// `-- kiln:depends-on`, as written (ids or labels).
    pub depends_on: Located<Vec<String>>,
    /// `-- kiln:branch`.
    pub branches: Located<Vec<String>>,
    /// `-- kiln:message`.
    pub message: Option<String>,
    /// `-- kiln:created`.
    pub created: Option<String>,
    /// `-- kiln:transaction`; `true` unless the file says `false`.
    pub transactional: bool,
    /// `-- kiln:lock-timeout` (`Some(ZERO)`: off for this revision, whatever the run says).
    pub lock_timeout: Option<Duration>,
    /// `-- kiln:statement-timeout` (`Some(ZERO)`: off for this revision).
    pub statement_timeout: Option<Duration>,
    /// Byte range of the upgrade SQL within [`Self::text`].
    pub up: Range<usize>,
    /// 1-based line where the upgrade SQL starts.
    pub up_line: usize,
    /// Byte range of the downgrade SQL, when there is a downgrade section.
    pub down: Option<Range<usize>>,
    /// 1-based line where the downgrade SQL starts (0 without a downgrade section).
    pub down_line: usize,
}

impl ParsedFile {
    /// The upgrade SQL.
    pub fn up_sql(&self) -> &str {
        &self.text[self.up.clone()]
    }
    /// The downgrade SQL, if any.
    pub fn down_sql(&self) -> Option<&str> {
        self.down.clone().map(|r| &self.text[r])
    }
}

/// `true` when `s` is a valid revision id: 1 to 32 of `[A-Za-z0-9_]`.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `true` when `s` is a valid branch label: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn is_valid_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LABEL_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `true` when `name` is a file the loader should parse (ends in `.sql`).
pub fn is_migration_file_name(name: &str) -> bool {
    name.ends_with(".sql")
}

/// `true` when the file name belongs to revision `id`: `<id>.sql` or `<id>_<slug>.sql`.
pub fn file_matches_revision(file: &str, id: &str) -> bool {
    let stem = file.strip_suffix(".sql").unwrap_or(file);
    stem == id
        || stem
            .strip_prefix(id)
            .is_some_and(|rest| rest.starts_with('_'))
}

/// Parses one file with the default readings (no dialect declared). `path` is used in messages,
/// `file` is the bare file name.
pub fn parse_file(path: &str, file: &str, bytes: &[u8]) -> Result<ParsedFile, Vec<Diagnostic>> {
    parse_file_with(path, file, bytes, &Readings::default())
}

/// Parses one file, reading its SQL with `readings` (see the module documentation).
pub fn parse_file_with(
    path: &str,
    file: &str,
    bytes: &[u8],
    readings: &Readings,
) -> Result<ParsedFile, Vec<Diagnostic>> {
    let text = match checksum::normalize(bytes) {
        Ok(t) => t,
        Err(e) => {
            return Err(vec![Diagnostic {
                path: path.to_owned(),
                line: Some(e.line),
                source_line: None,
                problem: Problem::NotUtf8 {
                    file: file.to_owned(),
                    line: e.line,
                    column: e.column,
                },
            }]);
        }
    };
    Parser::new(path, file, text, readings).run()
}

/// Parses one file like [`parse_file_with`], adding its problems to `diags`, the accumulator
/// of the stage that reads a directory; `None` when the file has any.
pub fn parse_into(
    path: &str,
    file: &str,
    bytes: &[u8],
    readings: &Readings,
    diags: &mut Diagnostics,
) -> Option<ParsedFile> {
    match parse_file_with(path, file, bytes, readings) {
        Ok(f) => Some(f),
        Err(problems) => {
            diags.extend(problems);
            None
        }
    }
}

/// Like [`parse_file_with`], but a revision whose upgrade section has no SQL yet (a draft just
/// written by `kiln revision`) is returned instead of refused. Only for tools that read the graph
/// without running SQL; the macro, `kiln check` and every run use [`parse_file_with`].
pub fn parse_draft_with(
    path: &str,
    file: &str,
    bytes: &[u8],
    readings: &Readings,
) -> Result<ParsedFile, Vec<Diagnostic>> {
    let Ok(text) = checksum::normalize(bytes) else {
        // The strict parse reports the encoding problem; a draft parse only adds leniency.
        return parse_file_with(path, file, bytes, readings);
    };
    let mut parser = Parser::new(path, file, text, readings);
    parser.allow_empty_upgrade = true;
    parser.run()
}

/// A directive or marker line: `-- kiln:name value`.
struct DirectiveLine<'a> {
    name: String,
    value: &'a str,
}

/// The value of a `-- kiln:<name> value` line (the name in any case), or `None` if `line` is
/// not that directive. For tools that read directives the format itself only lets through,
/// such as [`WAIVER_DIRECTIVE`].
pub fn directive_value<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    directive(line).filter(|d| d.name == name).map(|d| d.value)
}

/// Recognises `-- kiln:name value` (any spacing after `--`, the `kiln:` prefix in any case).
fn directive(line: &str) -> Option<DirectiveLine<'_>> {
    let rest = line.trim_start().strip_prefix("--")?.trim_start();
    let prefix = rest.get(..5)?;
    if !prefix.eq_ignore_ascii_case("kiln:") {
        return None;
    }
    let rest = &rest[5..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    Some(DirectiveLine {
        name: rest[..end].to_ascii_lowercase(),
        value: rest[end..].trim(),
    })
}

struct Parser<'r> {
    path: String,
    file: String,
    text: String,
    readings: &'r Readings,
    errors: Vec<Diagnostic>,
    /// Set by [`parse_draft_with`]: an upgrade section without SQL is not an error.
    allow_empty_upgrade: bool,
}

#[derive(Default)]
struct Header {
    revision: Option<Located<String>>,
    revises: Option<Located<Vec<String>>>,
    depends_on: Option<Located<Vec<String>>>,
    branches: Option<Located<Vec<String>>>,
    message: Option<Located<String>>,
    created: Option<Located<String>>,
    transaction: Option<Located<bool>>,
    lock_timeout: Option<Located<Duration>>,
    statement_timeout: Option<Located<Duration>>,
}

impl<'r> Parser<'r> {
    fn new(path: &str, file: &str, text: String, readings: &'r Readings) -> Self {
        Parser {
            path: path.to_owned(),
            file: file.to_owned(),
            text,
            readings,
            errors: Vec::new(),
            allow_empty_upgrade: false,
        }
    }

    /// Records a problem; the snippet is filled in by [`Parser::finish_errors`], because the
    /// text is borrowed by the scan while errors are found.
    fn error(&mut self, line: usize, problem: Problem) {
        self.errors.push(Diagnostic {
            path: self.path.clone(),
            line: Some(line),
            source_line: None,
            problem,
        });
    }

    fn finish_errors(mut self) -> Vec<Diagnostic> {
        for d in &mut self.errors {
            if let (Some(line), None) = (d.line, &d.source_line)
                && !matches!(d.problem, Problem::NotUtf8 { .. })
            {
                d.source_line = self
                    .text
                    .lines()
                    .nth(line.saturating_sub(1))
                    .map(str::to_owned);
            }
        }
        self.errors
    }

    fn run(mut self) -> Result<ParsedFile, Vec<Diagnostic>> {
        let mut header = Header::default();
        let mut upgrade: Option<(usize, usize)> = None; // (marker line, byte offset after marker)
        let mut downgrade: Option<(usize, usize, usize)> = None; // (marker line, marker start, after)
        // Where the text since the last candidate line starts: (offset, line).
        let mut stretch_start = (0, 1);
        let mut stretches = Stretches::default();

        let text = std::mem::take(&mut self.text);
        let mut offset = 0;
        for (idx, raw) in text.split_inclusive('\n').enumerate() {
            let line_no = idx + 1;
            let start = offset;
            offset += raw.len();
            let line = raw.strip_suffix('\n').unwrap_or(raw);
            // Candidates are found by their text alone; whether a reading places one inside a
            // literal or comment is decided per stretch below, and is an error, never a choice.
            let Some(d) = directive(line) else {
                continue;
            };
            let in_section = upgrade.is_some() || downgrade.is_some();
            let stretch = text.get(stretch_start.0..start).unwrap_or_default();
            let next = Some((line_no, d.name.clone()));
            self.stretch(&mut stretches, stretch, stretch_start.1, in_section, next);
            stretch_start = (offset, line_no + 1);

            if SECTION_MARKERS.contains(&d.name.as_str()) {
                if !d.value.is_empty() {
                    self.error(
                        line_no,
                        Problem::MalformedDirective {
                            directive: d.name.clone(),
                            value: d.value.to_owned(),
                            reason: "a section marker takes no value".into(),
                        },
                    );
                }
                if d.name == "upgrade" {
                    if let Some((first, _)) = upgrade {
                        self.error(
                            line_no,
                            Problem::DuplicateSection {
                                section: "upgrade".into(),
                                first_line: first,
                            },
                        );
                    } else {
                        // Reported once, at the downgrade marker; the upgrade section still
                        // counts as present so the file is not also said to lack one.
                        if let Some((down_marker, _, _)) = downgrade {
                            self.error(down_marker, Problem::DowngradeBeforeUpgrade);
                        }
                        upgrade = Some((line_no, offset));
                    }
                } else if let Some((first, _, _)) = downgrade {
                    self.error(
                        line_no,
                        Problem::DuplicateSection {
                            section: "downgrade".into(),
                            first_line: first,
                        },
                    );
                } else {
                    // A downgrade before the upgrade is reported when the upgrade marker
                    // turns up; with no upgrade marker at all only that is reported.
                    downgrade = Some((line_no, start, offset));
                }
                continue;
            }
            if d.name == WAIVER_DIRECTIVE {
                continue;
            }
            if HEADER_DIRECTIVES.contains(&d.name.as_str()) {
                if in_section {
                    self.error(
                        line_no,
                        Problem::DirectiveAfterUpgrade {
                            directive: d.name.clone(),
                        },
                    );
                } else {
                    self.header_directive(&mut header, line_no, &d);
                }
                continue;
            }
            let mut known = HEADER_DIRECTIVES
                .iter()
                .chain(SECTION_MARKERS)
                .copied()
                .chain([WAIVER_DIRECTIVE]);
            let suggestion = if d.name.is_empty() {
                // `-- kiln: revision a1`: a space after the colon.
                let word = d.value.split_whitespace().next().unwrap_or("");
                known
                    .find(|k| k.eq_ignore_ascii_case(word))
                    .map(str::to_owned)
            } else {
                closest(&d.name, known)
            };
            self.error(
                line_no,
                Problem::UnknownDirective {
                    directive: d.name.clone(),
                    suggestion,
                },
            );
        }
        let in_section = upgrade.is_some() || downgrade.is_some();
        let stretch = text.get(stretch_start.0..).unwrap_or_default();
        self.stretch(&mut stretches, stretch, stretch_start.1, in_section, None);
        self.text = text;

        let Some(revision) = header.revision.clone() else {
            let problem = Problem::MissingDirective {
                file: self.file.clone(),
                directive: "revision".into(),
            };
            self.error(1, problem);
            return Err(self.finish_errors());
        };
        if is_valid_id(&revision.value) && !file_matches_revision(&self.file, &revision.value) {
            self.error(
                revision.line,
                Problem::RevisionMismatch {
                    revision: revision.value.clone(),
                    file: self.file.clone(),
                },
            );
        }

        let end = self.text.len();
        let (up, up_line) = match upgrade {
            Some((marker, after)) => {
                let up_end = match downgrade {
                    Some((_, dstart, _)) if dstart >= after => dstart,
                    _ => end,
                };
                (after..up_end, marker + 1)
            }
            None => {
                let problem = Problem::MissingUpgrade {
                    file: self.file.clone(),
                };
                self.errors.push(Diagnostic::new(&self.path, problem));
                (end..end, 0)
            }
        };
        // A merge only joins heads, so it is the one kind of revision that may have no SQL.
        let is_merge = header.revises.as_ref().is_some_and(|r| r.value.len() > 1);
        if upgrade.is_some()
            && !is_merge
            && !self.allow_empty_upgrade
            && !has_sql_in(&self.text[up.clone()], self.readings)
        {
            self.error(
                up_line - 1,
                Problem::EmptyUpgrade {
                    file: self.file.clone(),
                },
            );
        }
        let (down, down_line) = match downgrade {
            Some((marker, _, after)) => (Some(after..end), marker + 1),
            None => (None, 0),
        };

        if !self.errors.is_empty() {
            return Err(self.finish_errors());
        }
        let empty = |line| Located {
            value: Vec::new(),
            line,
        };
        Ok(ParsedFile {
            checksum: checksum::checksum(&self.text),
            revises: header.revises.unwrap_or_else(|| empty(revision.line)),
            depends_on: header.depends_on.unwrap_or_else(|| empty(revision.line)),
            branches: header.branches.unwrap_or_else(|| empty(revision.line)),
            message: header.message.map(|m| m.value),
            created: header.created.map(|c| c.value),
            transactional: header.transaction.is_none_or(|t| t.value),
            lock_timeout: header.lock_timeout.map(|l| l.value),
            statement_timeout: header.statement_timeout.map(|l| l.value),
            revision,
            file: self.file,
            path: self.path,
            text: self.text,
            up,
            up_line,
            down,
            down_line,
        })
    }

    /// Checks the text between two candidate lines (see [`crate::stretch`]).
    fn stretch(
        &mut self,
        state: &mut Stretches,
        text: &str,
        first_line: usize,
        in_section: bool,
        next: Option<(usize, String)>,
    ) {
        for (line, problem) in state.check(self.readings, text, first_line, in_section, next) {
            self.error(line, problem);
        }
    }
}
/// `true` when `sql` has anything but whitespace and comments in some default reading (see
/// [`crate::lex::Syntax::DEFAULT_READINGS`]).
pub fn has_sql(sql: &str) -> bool {
    has_sql_in(sql, &Readings::default())
}

/// `true` when `sql` has anything but whitespace and comments in some reading of `readings`.
pub fn has_sql_in(sql: &str, readings: &Readings) -> bool {
    readings
        .all()
        .iter()
        .any(|&s| lex::first_code(sql, s).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lex::Syntax;

    fn parse(text: &str) -> Result<ParsedFile, Vec<Diagnostic>> {
        parse_file("m/a1_x.sql", "a1_x.sql", text.as_bytes())
    }

    #[test]
    fn a_draft_parse_accepts_an_empty_upgrade_and_nothing_else() {
        let empty = "-- kiln:revision a1\n-- kiln:upgrade\n-- write SQL here\n-- kiln:downgrade\n";
        let draft = |t: &str| {
            parse_draft_with("m/a1_x.sql", "a1_x.sql", t.as_bytes(), &Readings::default())
        };
        assert!(matches!(
            &problems(empty)[..],
            [Problem::EmptyUpgrade { .. }]
        ));
        let f = draft(empty).expect("a draft parses");
        assert_eq!((f.up_sql().trim(), f.up_line), ("-- write SQL here", 3));
        assert_eq!(f.checksum, checksum::checksum(&f.text));
        // Every other problem is still reported.
        let errs = draft("-- kiln:revision a1\n-- kiln:upgrade\n-- kiln:upgrade\n").unwrap_err();
        assert!(
            errs.iter()
                .all(|d| !matches!(d.problem, Problem::EmptyUpgrade { .. }))
                && !errs.is_empty()
        );
    }

    fn problems(text: &str) -> Vec<Problem> {
        parse(text)
            .unwrap_err()
            .into_iter()
            .map(|d| d.problem)
            .collect()
    }

    const GOOD: &str = "-- kiln:revision a1\n-- kiln:revises b2, c3\n-- kiln:message hello\n\n-- kiln:upgrade\nCREATE TABLE t (x INT);\n\n-- kiln:downgrade\nDROP TABLE t;\n";

    #[test]
    fn parses_a_complete_file() {
        let p = parse(GOOD).unwrap();
        assert_eq!(p.revision.value, "a1");
        assert_eq!(p.revises.value, ["b2", "c3"]);
        assert_eq!(p.message.as_deref(), Some("hello"));
        assert_eq!(p.up_sql(), "CREATE TABLE t (x INT);\n\n");
        assert_eq!(p.up_line, 6);
        assert_eq!(p.down_sql(), Some("DROP TABLE t;\n"));
        assert_eq!(p.down_line, 9);
        assert!(p.transactional);
    }

    #[test]
    fn crlf_and_bom_parse_like_lf() {
        let windows = format!("\u{feff}{}", GOOD.replace('\n', "\r\n"));
        let a = parse(GOOD).unwrap();
        let b = parse(&windows).unwrap();
        assert_eq!(a.checksum, b.checksum);
        assert_eq!(a.up_sql(), b.up_sql());
        assert_eq!(a.down_sql(), b.down_sql());
    }

    fn parse_as(text: &str, syntax: Syntax) -> Result<ParsedFile, Vec<Diagnostic>> {
        parse_file_with(
            "m/a1_x.sql",
            "a1_x.sql",
            text.as_bytes(),
            &Readings::of(syntax),
        )
    }

    const PG: Syntax = Syntax::new(crate::lex::Dialect::Postgres);
    const MY: Syntax = Syntax::new(crate::lex::Dialect::MySql);
    const LITE: Syntax = Syntax::new(crate::lex::Dialect::Sqlite);

    /// The one error of `errs`, which must be a marker inside something, with its fields.
    fn marker_inside(errs: &[Diagnostic]) -> (usize, usize, String, String, String) {
        assert_eq!(errs.len(), 1, "{errs:?}");
        match &errs[0].problem {
            Problem::MarkerInside {
                what,
                opened_line,
                readings,
                closed_in,
                ..
            } => (
                errs[0].line.unwrap(),
                *opened_line,
                what.clone(),
                readings.clone(),
                closed_in.clone(),
            ),
            other => panic!("not MarkerInside: {other:?}"),
        }
    }

    // The old scanner silently treated a marker inside a literal as SQL; kiln now refuses to
    // decide either way.
    #[test]
    fn marker_inside_a_string_literal_is_an_error() {
        let text = "-- kiln:revision a1\n-- kiln:upgrade\nINSERT INTO t VALUES ('x\n-- kiln:downgrade\n');\n";
        let (line, opened, what, readings, closed) = marker_inside(&parse(text).unwrap_err());
        assert_eq!((line, opened), (4, 3));
        assert_eq!(what, "string literal");
        assert_eq!(readings, "PostgreSQL, MySQL/MariaDB and SQLite");
        assert_eq!(closed, "");
        let shown = parse(text).unwrap_err()[0].to_string();
        assert!(shown.contains("m/a1_x.sql:4:"), "{shown}");
        assert!(shown.contains("opened on line 3"), "{shown}");
        assert!(shown.contains("'-- ' || 'kiln:...'"), "{shown}");
    }

    #[test]
    fn marker_inside_dollar_quotes_and_block_comments_is_an_error() {
        let text = "-- kiln:revision a1\n-- kiln:upgrade\nCREATE FUNCTION f() RETURNS int AS $body$\n-- kiln:downgrade\n$body$ LANGUAGE sql;\n";
        let (line, opened, what, readings, _) = marker_inside(&parse_as(text, PG).unwrap_err());
        assert_eq!(
            (line, opened, what.as_str(), readings.as_str()),
            (4, 3, "dollar-quoted string $body$", "PostgreSQL")
        );
        let text = "-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1;\n/*\n-- kiln:downgrade\n*/\n";
        for syntax in [PG, MY, LITE] {
            let (line, opened, what, ..) = marker_inside(&parse_as(text, syntax).unwrap_err());
            assert_eq!((line, opened, what.as_str()), (5, 4, "block comment"));
        }
    }

    /// Issue 9's data-loss file: the downgrade ran as part of the upgrade on PostgreSQL.
    #[test]
    fn waivers_pass_in_the_header_and_in_sections_and_count_in_the_checksum() {
        let text = "-- kiln:revision a1\n-- kiln:allow drop-table legacy\n-- kiln:allow x y\n-- kiln:upgrade\n-- kiln:allow drop-column gone\nALTER TABLE t DROP COLUMN c;\n-- kiln:downgrade\n-- KILN:allow drop-column back\nSELECT 1;\n";
        let p = parse(text).unwrap();
        assert!(p.up_sql().contains("-- kiln:allow drop-column gone"));
        let other = parse(&text.replace("gone", "old")).unwrap();
        assert_ne!(p.checksum, other.checksum);
        assert_eq!(
            directive_value("  --KILN:allow rule why", "allow"),
            Some("rule why")
        );
        assert_eq!(directive_value("-- kiln:allowed x", "allow"), None);
        // A waiver alone is not SQL.
        assert!(
            parse("-- kiln:revision a1\n-- kiln:upgrade\n-- kiln:allow drop-table x\n").is_err()
        );
    }

    const PG_ATTACK: &str = "-- kiln:revision a1\n-- kiln:upgrade\nUPDATE users SET greeting = E'it\\'s new';\n-- kiln:downgrade\nUPDATE users SET greeting = E'it\\'s old';\nDROP TABLE users;\n";
    /// The MariaDB variant: backslash escapes are MySQL's default.
    const MY_ATTACK: &str = "-- kiln:revision a1\n-- kiln:upgrade\nUPDATE users SET greeting = 'it\\'s new';\n-- kiln:downgrade\nUPDATE users SET greeting = 'it\\'s old';\nDROP TABLE users;\n";
    /// Comments nest on PostgreSQL only.
    const NESTED_ATTACK: &str = "-- kiln:revision a1\n-- kiln:upgrade\n/* note /* legacy */\nCREATE TABLE t (x INT);\n-- kiln:downgrade\nDROP TABLE t;\n";

    #[test]
    fn postgres_escape_strings_attack() {
        // No dialect declared: SQLite reads the literal as still open at the marker.
        let (line, opened, what, readings, closed) = marker_inside(&parse(PG_ATTACK).unwrap_err());
        assert_eq!((line, opened), (4, 3));
        assert_eq!(
            (what.as_str(), readings.as_str()),
            ("string literal", "SQLite")
        );
        assert_eq!(closed, "PostgreSQL and MySQL/MariaDB");
        let help = parse(PG_ATTACK).unwrap_err()[0].problem.help().unwrap();
        assert!(help.contains("dialect = \"postgres\""), "{help}");
        // Declared: the sections are where PostgreSQL puts them.
        let p = parse_as(PG_ATTACK, PG).unwrap();
        assert_eq!(p.up_sql(), "UPDATE users SET greeting = E'it\\'s new';\n");
        assert!(p.down_sql().unwrap().contains("DROP TABLE users"));
        // Declared as SQLite, the same file is an error, never a silent misreading.
        let (line, opened, ..) = marker_inside(&parse_as(PG_ATTACK, LITE).unwrap_err());
        assert_eq!((line, opened), (4, 3));
    }

    #[test]
    fn mysql_backslash_attack() {
        let (line, opened, _, readings, closed) = marker_inside(&parse(MY_ATTACK).unwrap_err());
        assert_eq!((line, opened), (4, 3));
        assert_eq!(
            (readings.as_str(), closed.as_str()),
            ("PostgreSQL and SQLite", "MySQL/MariaDB")
        );
        let p = parse_as(MY_ATTACK, MY).unwrap();
        assert_eq!(p.up_sql(), "UPDATE users SET greeting = 'it\\'s new';\n");
        assert!(p.down_sql().unwrap().contains("DROP TABLE users"));
        // With NO_BACKSLASH_ESCAPES the server reads it like standard SQL: an error again.
        assert!(parse_as(MY_ATTACK, MY.with_backslash_escapes(false)).is_err());
        // PostgreSQL with standard_conforming_strings off reads it like MySQL.
        assert!(parse_as(MY_ATTACK, PG.with_standard_conforming_strings(false)).is_ok());
    }

    #[test]
    fn nested_comment_attack() {
        let (line, opened, what, readings, _) = marker_inside(&parse(NESTED_ATTACK).unwrap_err());
        assert_eq!(
            (line, opened, what.as_str(), readings.as_str()),
            (5, 3, "block comment", "PostgreSQL")
        );
        for syntax in [MY, LITE] {
            let p = parse_as(NESTED_ATTACK, syntax).unwrap();
            assert!(p.up_sql().contains("CREATE TABLE"));
            assert_eq!(p.down_sql(), Some("DROP TABLE t;\n"));
        }
    }

    #[test]
    fn header_stretches_are_checked_too() {
        let text = "-- kiln:revision a1\n/* a header note\n-- kiln:upgrade\n*/\nSELECT 1;\n";
        let (line, opened, ..) = marker_inside(&parse(text).unwrap_err());
        assert_eq!((line, opened), (3, 2));
        // `#` is a comment only on MySQL; elsewhere it is SQL in the header.
        let text = "-- kiln:revision a1\n# note\n-- kiln:upgrade\nSELECT 1;\n";
        assert!(parse_as(text, MY).is_ok());
        assert!(matches!(&problems(text)[0], Problem::SqlBeforeUpgrade));
    }

    #[test]
    fn mysql_dash_comment_needs_a_space() {
        // `--'` is not a comment on MySQL, so the quote opens a literal there.
        let text =
            "-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1 --'\n;\n-- kiln:downgrade\nSELECT 2;\n";
        assert!(parse_as(text, PG).is_ok());
        let (line, opened, _, readings, _) = marker_inside(&parse(text).unwrap_err());
        assert_eq!((line, opened, readings.as_str()), (5, 3, "MySQL/MariaDB"));
    }

    #[test]
    fn delimiter_without_a_delimiter_is_an_error() {
        let text = "-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1;\nDELIMITER\nSELECT 2;\n";
        for errs in [parse(text).unwrap_err(), parse_as(text, MY).unwrap_err()] {
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert_eq!(errs[0].line, Some(4));
            assert!(
                matches!(&errs[0].problem, Problem::Split { reading, .. } if reading == "MySQL/MariaDB")
            );
        }
        let ok = "-- kiln:revision a1\n-- kiln:upgrade\nDELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END//\nDELIMITER ;\n";
        assert!(parse_as(ok, MY).is_ok());
    }

    #[test]
    fn open_blocks_are_errors_once_the_dialect_is_known() {
        let text = "-- kiln:revision a1\n-- kiln:upgrade\nCREATE TRIGGER t AFTER INSERT ON x BEGIN\nSELECT 1;\n";
        assert!(parse(text).is_ok());
        let errs = parse_as(text, LITE).unwrap_err();
        assert!(
            matches!(&errs[0].problem, Problem::Split { .. }),
            "{errs:?}"
        );
        assert_eq!(errs[0].line, Some(3));
    }

    #[test]
    fn directives_tolerate_odd_spacing_and_case() {
        let text =
            "  --kiln:revision a1\n--   KILN:message   spaced out  \n-- kiln:upgrade\nSELECT 1;\n";
        let p = parse(text).unwrap();
        assert_eq!(p.message.as_deref(), Some("spaced out"));
    }

    #[test]
    fn trailing_comment_with_marker_text_is_not_a_marker() {
        let text = "-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1; -- kiln:downgrade\n";
        assert!(parse(text).unwrap().down.is_none());
    }

    #[test]
    fn empty_downgrade_is_reversible_absent_is_irreversible() {
        let p =
            parse("-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1;\n-- kiln:downgrade\n").unwrap();
        assert_eq!(p.down_sql(), Some(""));
        let p = parse("-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1;\n").unwrap();
        assert_eq!(p.down_sql(), None);
    }

    #[test]
    fn reports_every_problem_in_a_file() {
        let text = "-- kiln:revision a1\n-- kiln:revison x\n-- kiln:created yesterday\nSELECT 1;\n-- kiln:upgrade\n-- only a comment\n-- kiln:revises b\n";
        let p = problems(text);
        assert!(
            matches!(&p[0], Problem::UnknownDirective { suggestion: Some(s), .. } if s == "revision"),
            "{p:?}"
        );
        assert!(
            matches!(&p[1], Problem::MalformedDirective { directive, .. } if directive == "created"),
            "{p:?}"
        );
        assert!(matches!(&p[2], Problem::SqlBeforeUpgrade), "{p:?}");
        assert!(
            matches!(&p[3], Problem::DirectiveAfterUpgrade { directive } if directive == "revises"),
            "{p:?}"
        );
        assert!(matches!(&p[4], Problem::EmptyUpgrade { .. }), "{p:?}");
        assert_eq!(p.len(), 5);
    }

    #[test]
    fn missing_pieces() {
        assert!(
            matches!(&problems("-- kiln:upgrade\nSELECT 1;\n")[0], Problem::MissingDirective { directive, .. } if directive == "revision")
        );
        assert!(matches!(
            &problems("-- kiln:revision a1\n")[0],
            Problem::MissingUpgrade { .. }
        ));
        assert!(
            parse("-- kiln:revision a1\n-- kiln:revises b, c\n-- kiln:upgrade\n-- merge\n").is_ok()
        );
        assert!(matches!(
            &problems("-- kiln:revision zz\n-- kiln:upgrade\nSELECT 1;\n")[0],
            Problem::RevisionMismatch { .. }
        ));
        assert!(matches!(
            &problems("-- kiln:revision a1\n-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1;\n")[0],
            Problem::DuplicateDirective { first_line: 1, .. }
        ));
        assert!(matches!(
            &problems("-- kiln:revision a1\n-- kiln:revises a,,b\n-- kiln:upgrade\nSELECT 1;\n")[0],
            Problem::MalformedDirective { .. }
        ));
        assert!(matches!(
            &problems(
                "-- kiln:revision a1\n-- kiln:downgrade\nSELECT 1;\n-- kiln:upgrade\nSELECT 1;\n"
            )[0],
            Problem::DowngradeBeforeUpgrade
        ));
        assert!(matches!(
            &problems("-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1;\n-- kiln:upgrade\n")[0],
            Problem::DuplicateSection { .. }
        ));
        assert!(matches!(
            &problems(
                "-- kiln:revision a1\n-- kiln:transaction maybe\n-- kiln:upgrade\nSELECT 1;\n"
            )[0],
            Problem::MalformedDirective { .. }
        ));
    }

    #[test]
    fn timeout_directives_are_read_and_part_of_the_checksum() {
        let plain =
            parse("-- kiln:revision a1\n-- kiln:upgrade\nALTER TABLE t ADD c INT;\n").unwrap();
        assert_eq!((plain.lock_timeout, plain.statement_timeout), (None, None));
        let text = |lock: &str| {
            format!(
                "-- kiln:revision a1\n-- kiln:Lock-Timeout {lock}\n-- kiln:statement-timeout 10min\n-- kiln:upgrade\nALTER TABLE t ADD c INT;\n"
            )
        };
        let five = parse(&text("5s")).unwrap();
        assert_eq!(five.lock_timeout, Some(Duration::from_secs(5)));
        assert_eq!(five.statement_timeout, Some(Duration::from_secs(600)));
        let other = parse(&text("200ms")).unwrap();
        assert_eq!(other.lock_timeout, Some(Duration::from_millis(200)));
        // Changing a guardrail changes what ran, so an applied revision's edit is drift.
        assert_ne!(five.checksum, other.checksum);
        assert_ne!(five.checksum, plain.checksum);
        assert_eq!(
            parse(&text("0")).unwrap().lock_timeout,
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_bad_timeout_is_an_error_at_its_line_with_help() {
        for (value, says) in [
            ("5", "no unit"),
            ("soon", "whole number"),
            ("5 parsecs", "not a unit"),
            ("30d", "longest"),
        ] {
            let text = format!(
                "-- kiln:revision a1\n-- kiln:message m\n-- kiln:lock-timeout {value}\n-- kiln:upgrade\nSELECT 1;\n"
            );
            let errs = parse(&text).unwrap_err();
            assert_eq!(errs.len(), 1, "{errs:?}");
            let shown = errs[0].to_string();
            assert!(
                shown.starts_with("m/a1_x.sql:3: malformed `-- kiln:lock-timeout` value"),
                "{shown}"
            );
            assert!(shown.contains(says), "{value}: {shown}");
            let help = errs[0].problem.help().unwrap_or_default();
            assert!(help.contains("`-- kiln:lock-timeout 5s`"), "{help}");
        }
        let twice = "-- kiln:revision a1\n-- kiln:statement-timeout 1s\n-- kiln:statement-timeout 2s\n-- kiln:upgrade\nSELECT 1;\n";
        assert!(matches!(
            &problems(twice)[..],
            [Problem::DuplicateDirective { first_line: 2, .. }]
        ));
        let late = "-- kiln:revision a1\n-- kiln:upgrade\n-- kiln:lock-timeout 1s\nSELECT 1;\n";
        assert!(matches!(
            &problems(late)[..],
            [Problem::DirectiveAfterUpgrade { .. }]
        ));
    }

    #[test]
    fn unterminated_literal_is_an_error_not_a_swallowed_downgrade() {
        let text = "-- kiln:revision a1\n-- kiln:upgrade\nINSERT INTO t VALUES ('it''s);\n-- kiln:downgrade\nDELETE FROM t;\n";
        let (line, opened, what, ..) = marker_inside(&parse(text).unwrap_err());
        assert_eq!((line, opened, what.as_str()), (4, 3, "string literal"));
        let text = "-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1;\nSELECT 'open\n";
        let errs = parse(text).unwrap_err();
        assert_eq!(errs[0].line, Some(4));
        assert!(
            matches!(&errs[0].problem, Problem::Unterminated { what, .. } if what == "string literal")
        );
        let text = "-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1; /* open\n";
        assert!(
            matches!(&problems(text)[0], Problem::Unterminated { what, .. } if what == "block comment")
        );
    }

    #[test]
    fn not_utf8_names_the_line() {
        let err = parse_file("m/a1.sql", "a1.sql", b"-- kiln:revision a1\n\xff\n").unwrap_err();
        assert!(matches!(
            err[0].problem,
            Problem::NotUtf8 {
                line: 2,
                column: 1,
                ..
            }
        ));
    }

    #[test]
    fn file_name_rules() {
        assert!(file_matches_revision("0001_init_users.sql", "0001_init"));
        assert!(file_matches_revision("abc.sql", "abc"));
        assert!(!file_matches_revision("abcd_x.sql", "abc"));
        assert!(is_valid_id("A_z9"));
        assert!(!is_valid_id(&"a".repeat(33)));
        assert!(!is_valid_id("a-b"));
    }

    #[test]
    fn rfc3339() {
        assert!(is_rfc3339("2026-11-23T21:00:00Z"));
        assert!(is_rfc3339("2026-11-23T21:00:00.123+01:00"));
        assert!(!is_rfc3339("2026-13-23T21:00:00Z"));
        assert!(!is_rfc3339("2026-11-23"));
        assert!(!is_rfc3339("2026-11-23T21:00:00"));
    }

    #[test]
    fn has_sql_ignores_comments() {
        assert!(!has_sql("\n-- x\n/* y\n z */\n  "));
        assert!(has_sql("/* y */ SELECT 1"));
    }

    #[test]
    fn dollar_parameters_are_not_quotes() {
        let text = "-- kiln:revision a1\n-- kiln:upgrade\nSELECT $1, a$b$ FROM t;\n-- kiln:downgrade\nSELECT $2;\n";
        assert!(parse_as(text, PG).is_ok());
    }
}
