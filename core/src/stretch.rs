//! The checks on one stretch of a migration file: the text between two `-- kiln:` candidate
//! lines, read by every applicable dialect reading (see [`crate::format`] for the rule).

use crate::diag::Problem;
use crate::lex::{self, Readings, Syntax};
use crate::split::{self, SplitErrorKind};

/// What the stretch checks of one file remember from one stretch to the next.
#[derive(Debug, Default)]
pub(crate) struct Stretches {
    sql_in_header_reported: bool,
    /// A construct was left open at a marker, so what follows is misread.
    misread: bool,
}

impl Stretches {
    /// The problems of `text`, which starts on line `first_line` and is followed by the candidate
    /// `next` (line, directive name) or by the end of the file. `in_section` is false in the
    /// header, where any SQL is a problem. After a construct was found open at a marker, later
    /// stretches are not lexed: their text is misread by construction (the closing quote reads as
    /// an opening one), and the first error is the one to fix.
    pub(crate) fn check(
        &mut self,
        readings: &Readings,
        text: &str,
        first_line: usize,
        in_section: bool,
        next: Option<(usize, String)>,
    ) -> Vec<(usize, Problem)> {
        let mut out = Vec::new();
        if !in_section && !self.sql_in_header_reported {
            let code = readings
                .all()
                .iter()
                .filter_map(|&s| lex::first_code(text, s))
                .min();
            if let Some(at) = code {
                self.sql_in_header_reported = true;
                out.push((line_of(text, at, first_line), Problem::SqlBeforeUpgrade));
            }
        }
        if !self.misread {
            self.misread = open_at_end(readings, text, first_line, next, &mut out);
        }
        out
    }
}

fn line_of(text: &str, at: usize, first_line: usize) -> usize {
    first_line + text.get(..at).unwrap_or(text).matches('\n').count()
}

/// Reads `text` with every reading: a literal, comment or dollar body left open at the next
/// candidate (or at the end of the file) is a problem, and so is what the runtime could not
/// split. Returns `true` when something is left open.
fn open_at_end(
    readings: &Readings,
    text: &str,
    first_line: usize,
    next: Option<(usize, String)>,
    out: &mut Vec<(usize, Problem)>,
) -> bool {
    let declared = readings.declared().is_some();
    let mut open: Vec<(Syntax, String, usize)> = Vec::new();
    let mut closed: Vec<Syntax> = Vec::new();
    for &syntax in readings.all() {
        let e = match split::split_with(text, syntax) {
            Ok(_) => {
                closed.push(syntax);
                continue;
            }
            Err(e) => e,
        };
        let line = first_line + e.line - 1;
        match e.kind {
            SplitErrorKind::Unterminated { what } => {
                open.push((syntax, what, line));
                continue;
            }
            // A `DELIMITER` line only means something to MySQL, and elsewhere it is not valid
            // SQL either; a block left open is only certain to fail when the dialect is known.
            SplitErrorKind::Delimiter => out.push((line, split_problem(syntax, e.message))),
            SplitErrorKind::Block if declared => out.push((line, split_problem(syntax, e.message))),
            _ => {}
        }
        // The split was cut short by the problem above; whether this reading leaves anything
        // open is judged by lexing alone.
        match lex::tokens(text, syntax).find_map(Result::err) {
            Some(u) => open.push((syntax, u.what, line_of(text, u.at, first_line))),
            None => closed.push(syntax),
        }
    }
    let Some((_, what, opened_line)) = open.first().cloned() else {
        return false;
    };
    let open_readings: Vec<Syntax> = open.iter().map(|(s, ..)| *s).collect();
    let readings = names(&open_readings);
    let closed_in = names(&closed);
    out.push(match next {
        Some((line, marker)) => (
            line,
            Problem::MarkerInside {
                marker,
                what,
                opened_line,
                readings,
                closed_in,
                declared,
            },
        ),
        None => (
            opened_line,
            Problem::Unterminated {
                what,
                readings,
                closed_in,
                declared,
            },
        ),
    });
    true
}

fn split_problem(syntax: Syntax, message: String) -> Problem {
    Problem::Split {
        reading: syntax.to_string(),
        message,
    }
}

/// The names of `readings`, e.g. `PostgreSQL and SQLite`.
fn names(readings: &[Syntax]) -> String {
    let names: Vec<String> = readings.iter().map(Syntax::to_string).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
