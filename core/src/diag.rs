//! Problems found in a migration directory, and how they are shown.
//!
//! Validation never stops at the first problem: the loader collects every [`Diagnostic`] into a
//! [`Diagnostics`] list so one build (or one `kiln check`) shows everything that is wrong. The macro
//! and the CLI render diagnostics with the same [`Diagnostic`] `Display`, so an error reads the same
//! whether the compiler or the command line reports it.

use std::fmt;

/// What is wrong. Every message names the revision or file it is about; [`Problem::help`] says
/// what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The migration directory does not exist.
    #[error("migration directory `{path}` does not exist")]
    DirNotFound {
        /// The directory as given.
        path: String,
    },
    /// The directory or a file in it could not be read.
    #[error("cannot read `{path}`: {reason}")]
    Io {
        /// What could not be read.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// A file that is neither a migration nor one of the files kiln tolerates.
    #[error("`{file}` is not a migration file")]
    NotAMigration {
        /// The file name.
        file: String,
    },
    /// A file is not valid UTF-8.
    #[error("`{file}` is not UTF-8 text (invalid byte at line {line}, column {column})")]
    NotUtf8 {
        /// The file name.
        file: String,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based column of the first invalid byte.
        column: usize,
    },
    /// A required directive is absent.
    #[error("`{file}` has no `-- kiln:{directive}` directive")]
    MissingDirective {
        /// The file name.
        file: String,
        /// The directive's name.
        directive: String,
    },
    /// A directive appears twice.
    #[error("`-- kiln:{directive}` appears twice (first on line {first_line})")]
    DuplicateDirective {
        /// The directive's name.
        directive: String,
        /// Where it first appeared.
        first_line: usize,
    },
    /// A `-- kiln:` line whose name kiln does not know.
    #[error("unknown directive `-- kiln:{directive}`")]
    UnknownDirective {
        /// The name as written.
        directive: String,
        /// The closest known directive.
        suggestion: Option<String>,
    },
    /// A directive whose value does not parse.
    #[error("malformed `-- kiln:{directive}` value `{value}`: {reason}")]
    MalformedDirective {
        /// The directive's name.
        directive: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header directive after `-- kiln:upgrade`.
    #[error("`-- kiln:{directive}` is a header directive but appears after `-- kiln:upgrade`")]
    DirectiveAfterUpgrade {
        /// The directive's name.
        directive: String,
    },
    /// SQL in the header.
    #[error("SQL before the `-- kiln:upgrade` marker")]
    SqlBeforeUpgrade,
    /// No `-- kiln:upgrade` marker.
    #[error("`{file}` has no `-- kiln:upgrade` section")]
    MissingUpgrade {
        /// The file name.
        file: String,
    },
    /// An upgrade section with nothing but whitespace and comments.
    #[error("the `-- kiln:upgrade` section of `{file}` contains no SQL")]
    EmptyUpgrade {
        /// The file name.
        file: String,
    },
    /// A section marker appears twice.
    #[error("`-- kiln:{section}` appears twice (first on line {first_line})")]
    DuplicateSection {
        /// `upgrade` or `downgrade`.
        section: String,
        /// Where it first appeared.
        first_line: usize,
    },
    /// `-- kiln:downgrade` before `-- kiln:upgrade`.
    #[error("`-- kiln:downgrade` comes before `-- kiln:upgrade`")]
    DowngradeBeforeUpgrade,
    /// The revision id differs from the file name's prefix.
    #[error("revision `{revision}` does not match its file name `{file}`")]
    RevisionMismatch {
        /// The id in the header.
        revision: String,
        /// The file name.
        file: String,
    },
    /// Two files declare the same revision.
    #[error("revision `{revision}` is declared twice, here and in `{first_file}`")]
    DuplicateRevision {
        /// The id.
        revision: String,
        /// The other file.
        first_file: String,
    },
    /// A parent that no file declares.
    #[error("revision `{revision}` revises `{parent}`, which does not exist")]
    UnknownParent {
        /// The child.
        revision: String,
        /// The missing parent.
        parent: String,
        /// The closest existing id.
        suggestion: Option<String>,
    },
    /// A dependency that is neither a revision nor a branch label.
    #[error(
        "revision `{revision}` depends on `{dependency}`, which is neither a revision nor a branch label"
    )]
    UnknownDependency {
        /// The dependent revision.
        revision: String,
        /// The missing dependency.
        dependency: String,
        /// The closest existing id or label.
        suggestion: Option<String>,
    },
    /// Revisions that (transitively) revise or depend on themselves.
    #[error("revisions form a cycle (each revises or depends on the next): {}", cycle.join(" -> "))]
    Cycle {
        /// The cycle, first element repeated at the end.
        cycle: Vec<String>,
    },
    /// Several heads that are not each on their own labelled branch.
    #[error("the migration graph has {} heads: {}", heads.len(), with_files(heads, files))]
    MultipleHeads {
        /// The heads.
        heads: Vec<String>,
        /// Their files, in the same order.
        files: Vec<String>,
    },
    /// Several bases that are not each labelled.
    #[error("the migration graph has {} bases: {}", bases.len(), with_files(bases, files))]
    MultipleBases {
        /// The bases.
        bases: Vec<String>,
        /// Their files, in the same order.
        files: Vec<String>,
    },
    /// A branch label declared by two revisions.
    #[error("branch label `{label}` is declared by `{revision}` and by `{first_revision}`")]
    DuplicateLabel {
        /// The label.
        label: String,
        /// The second revision declaring it.
        revision: String,
        /// The first revision declaring it.
        first_revision: String,
    },
    /// A branch label equal to a revision id, which would make targets ambiguous.
    #[error("branch label `{label}` is also a revision id")]
    LabelIsRevision {
        /// The label.
        label: String,
    },
    /// A locked revision whose file changed.
    #[error(
        "revision `{revision}` was changed after it was locked: kiln.lock has sha256:{locked}, `{file}` now has sha256:{actual}"
    )]
    LockedChanged {
        /// The revision.
        revision: String,
        /// Its file.
        file: String,
        /// The checksum in the lock.
        locked: String,
        /// The checksum of the file now.
        actual: String,
    },
    /// A locked revision whose file is gone.
    #[error("revision `{revision}` is locked but its file `{file}` is gone")]
    LockedDeleted {
        /// The revision.
        revision: String,
        /// The file the lock names.
        file: String,
    },
    /// A string literal, quoted identifier or comment that never ends.
    #[error(
        "unterminated {what} starting on this line (as read by {readings}); everything after it would be read as part of it"
    )]
    Unterminated {
        /// What is left open.
        what: String,
        /// The readings (dialects) that leave it open, e.g. `PostgreSQL`.
        readings: String,
        /// The readings that close it, empty when every reading agrees.
        closed_in: String,
        /// `true` when the migration set declares its dialect.
        declared: bool,
    },
    /// A `-- kiln:` line that a dialect's reading places inside a literal, comment or
    /// dollar-quoted body, so kiln cannot tell whether it is a marker or data.
    #[error(
        "`-- kiln:{marker}` on this line is inside the {what} opened on line {opened_line} (as read by {readings})"
    )]
    MarkerInside {
        /// The directive's name as written, e.g. `downgrade`.
        marker: String,
        /// What the line is inside, e.g. `escape string literal E'...'`.
        what: String,
        /// Where that opened.
        opened_line: usize,
        /// The readings (dialects) that place the line inside it.
        readings: String,
        /// The readings that do not, empty when every reading agrees.
        closed_in: String,
        /// `true` when the migration set declares its dialect.
        declared: bool,
    },
    /// A section cannot be split into statements the way the database's client would run it.
    #[error("{message} (as read by {reading})")]
    Split {
        /// The reading, e.g. `MySQL/MariaDB`.
        reading: String,
        /// What is wrong.
        message: String,
    },
    /// kiln.toml is not valid TOML (or not UTF-8).
    #[error("`{path}` is not valid TOML: {reason}")]
    ConfigSyntax {
        /// The file as displayed.
        path: String,
        /// What the TOML parser says.
        reason: String,
    },
    /// A key kiln.toml may not hold.
    #[error("unknown key `{key}` in kiln.toml")]
    ConfigUnknownKey {
        /// The key, with its table (`postgres.standard_conforming_strings`).
        key: String,
        /// The closest known key.
        suggestion: Option<String>,
        /// Every known key, comma-separated.
        known: String,
    },
    /// A kiln.toml value of the wrong type.
    #[error("kiln.toml key `{key}` must be {expected}")]
    ConfigInvalid {
        /// The key.
        key: String,
        /// What it must be.
        expected: String,
    },
    /// A rule id in kiln.toml's `[lint]` lists that kiln-lint does not have.
    #[error("unknown lint rule `{rule}` in kiln.toml's `{key}`")]
    UnknownLintRule {
        /// The list: `lint.deny`, `lint.warn` or `lint.allow`.
        key: String,
        /// The id as written.
        rule: String,
        /// The closest known id.
        suggestion: Option<String>,
    },
    /// A rule named twice in kiln.toml's `[lint]` lists.
    #[error(
        "lint rule `{rule}` is named twice: in `{first}` (line {first_line}) and in `{second}`"
    )]
    LintRuleTwice {
        /// The rule id.
        rule: String,
        /// The list that names it first.
        first: String,
        /// Its line there.
        first_line: usize,
        /// The list that names it again.
        second: String,
    },
    /// The `migrations!` macro's `dialect` argument contradicts kiln.toml's `dialect`.
    #[error(
        "the macro argument says `dialect = \"{argument}\"` but kiln.toml says `dialect = \"{config}\"` (line {line})"
    )]
    DialectConflict {
        /// The macro's dialect.
        argument: String,
        /// kiln.toml's dialect.
        config: String,
        /// kiln.toml's line.
        line: usize,
    },
    /// A lock file line that does not parse.
    #[error("malformed kiln.lock: {reason}")]
    MalformedLock {
        /// What is wrong.
        reason: String,
    },
}

impl Problem {
    /// What to do about it, in one or two sentences; `None` when the message says it all.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Problem::DirNotFound { .. } => {
                "create it with `kiln init`, or name the right directory (relative to the crate's Cargo.toml)".into()
            }
            Problem::Io { .. } => return None,
            Problem::NotAMigration { .. } => "a migration directory holds only `<revision>_<slug>.sql` files, `kiln.lock`, README files and dotfiles; move this file elsewhere".into(),
            Problem::NotUtf8 { .. } => "save the file as UTF-8 (a BOM and CRLF line endings are fine)".into(),
            Problem::MissingDirective { directive, .. } => {
                format!("add a `-- kiln:{directive} ...` line to the header, before `-- kiln:upgrade`")
            }
            Problem::DuplicateDirective { .. } => "keep one of the two lines; lists are comma-separated on a single line".into(),
            Problem::UnknownDirective { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `-- kiln:{s}`? (known: revision, revises, depends-on, branch, message, created, transaction, lock-timeout, statement-timeout, upgrade, downgrade)"),
                None => "known directives: revision, revises, depends-on, branch, message, created, transaction, lock-timeout, statement-timeout, upgrade, downgrade; write other comments without the `kiln:` prefix".into(),
            },
            Problem::MalformedDirective { directive, .. } => match directive.as_str() {
                "revision" | "revises" | "depends-on" => "revision ids are 1 to 32 characters of A-Z, a-z, 0-9 and `_`; lists are comma-separated".into(),
                "branch" => "branch labels are 1 to 64 characters of A-Z, a-z, 0-9, `_` and `-`; lists are comma-separated".into(),
                "created" => "write an RFC 3339 time such as `2026-11-23T21:00:00Z`".into(),
                "transaction" => "write `-- kiln:transaction false` to run outside a transaction, or leave the line out".into(),
                "lock-timeout" | "statement-timeout" => format!("write a whole number and a unit, e.g. `-- kiln:{directive} 5s` (units: ms, s, min, h, d, w; `0` turns the run's setting off for this revision)"),
                "upgrade" | "downgrade" => format!("write `-- kiln:{directive}` alone on its line; put a note on the next line as a plain `--` comment"),
                _ => return None,
            },
            Problem::DirectiveAfterUpgrade { .. } => "move the line up into the header, above `-- kiln:upgrade`".into(),
            Problem::SqlBeforeUpgrade => "put SQL after `-- kiln:upgrade` or `-- kiln:downgrade`; the header holds only `-- ` comments".into(),
            Problem::MissingUpgrade { .. } => "add a `-- kiln:upgrade` line followed by the SQL to apply".into(),
            Problem::EmptyUpgrade { .. } => "write the SQL this revision applies after `-- kiln:upgrade` (only merge revisions may be empty)".into(),
            Problem::DuplicateSection { .. } => "a file has one upgrade section and at most one downgrade section".into(),
            Problem::DowngradeBeforeUpgrade => "put the `-- kiln:upgrade` section first".into(),
            Problem::RevisionMismatch { revision, .. } => {
                format!("rename the file to `{revision}_<slug>.sql`, or fix `-- kiln:revision`")
            }
            Problem::DuplicateRevision { .. } => "give one of them a new id (`kiln revision` picks a random one) and update whatever revises it".into(),
            Problem::UnknownParent { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`? Fix the `-- kiln:revises` line, or restore the missing revision"),
                None => "fix the `-- kiln:revises` line to name an existing revision (`kiln heads` lists the current heads), or restore the missing file".into(),
            },
            Problem::UnknownDependency { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`? Fix the `-- kiln:depends-on` line"),
                None => "fix the `-- kiln:depends-on` line to name an existing revision or branch label".into(),
            },
            Problem::Cycle { .. } => "a revision cannot come before itself: remove one `revises` or `depends-on` edge of the cycle".into(),
            Problem::MultipleHeads { heads, .. } => format!(
                "two lines of work were added concurrently; join them with `kiln merge -m \"merge heads\" {}`, or give each its own `-- kiln:branch` label",
                heads.join(" ")
            ),
            Problem::MultipleBases { .. } => "every extra base needs its own `-- kiln:branch` label, or it should revise an existing revision".into(),
            Problem::DuplicateLabel { .. } => "branch labels name one branch each; rename one of them".into(),
            Problem::LabelIsRevision { .. } => "rename the label so `LABEL@head` and revision targets cannot be confused".into(),
            Problem::LockedChanged { revision, .. } => format!(
                "locked revisions may already be applied somewhere, so put the change in a new revision (`kiln revision -m \"...\"`); if the edit is deliberate and safe, re-lock it with `kiln lock --accept {revision}`"
            ),
            Problem::LockedDeleted { revision, .. } => format!(
                "restore the file from version control; if the removal is deliberate, drop it from the lock with `kiln lock --accept {revision}`"
            ),
            Problem::Unterminated { what, readings, closed_in, declared } => {
                let mut h = format!("by the rules of {readings} the {what} never closes; close it");
                h.push_str(&disagreement(closed_in, *declared));
                h
            }
            Problem::MarkerInside { what, readings, closed_in, declared, .. } => {
                let mut h = format!(
                    "by the rules of {readings} the {what} is still open here; close it before this line, or if the marker text is data, split it (e.g. '-- ' || 'kiln:...')"
                );
                h.push_str(&disagreement(closed_in, *declared));
                h
            }
            Problem::Split { .. } => "fix the section so the database's client would run it as written".into(),
            Problem::ConfigSyntax { .. } => "fix the file; kiln.toml is TOML (https://toml.io)".into(),
            Problem::ConfigUnknownKey { suggestion, known, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`? (known keys: {known})"),
                None => format!("known keys: {known}"),
            },
            Problem::ConfigInvalid { .. } => return None,
            Problem::UnknownLintRule { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`? Rule ids are the names in brackets in `kiln lint`'s output (`error[{s}]`); docs/lint.md lists every rule"),
                None => "rule ids are the names in brackets in `kiln lint`'s output, e.g. `error[require-concurrent-index]`; docs/lint.md lists every rule".into(),
            },
            Problem::LintRuleTwice { .. } => "a rule has one level: keep it in one of `deny`, `warn` and `allow`".into(),
            Problem::DialectConflict { .. } => "remove one of the two, or make them agree".into(),
            Problem::MalformedLock { .. } => "each line is `<revision> sha256:<64 hex digits> <file>`; regenerate it with `kiln lock` if in doubt".into(),
        })
    }
}

/// The end of a help text when dialect readings disagree about a construct.
fn disagreement(closed_in: &str, declared: bool) -> String {
    if closed_in.is_empty() {
        return String::new();
    }
    let mut h = format!(" (by the rules of {closed_in} it is closed");
    if declared {
        h.push(')');
    } else {
        h.push_str("; the readings disagree because no dialect is declared: declare it in kiln.toml (`dialect = \"postgres\"`, `\"mysql\"` or `\"sqlite\"`) or as the macro argument (`kiln::migrations!(\"migrations\", dialect = \"postgres\")`))");
    }
    h
}

/// `a (a_x.sql), b (b_y.sql)`.
fn with_files(ids: &[String], files: &[String]) -> String {
    ids.iter()
        .zip(files.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(id, f)| match f {
            Some(f) => format!("{id} ({f})"),
            None => id.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One problem at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file it is about, as displayed (the migration directory joined with the file name),
    /// or the directory itself.
    pub path: String,
    /// The 1-based line, when the problem is on one line.
    pub line: Option<usize>,
    /// That line's text, for the snippet.
    pub source_line: Option<String>,
    /// What is wrong.
    pub problem: Problem,
}

impl Diagnostic {
    /// A problem with a whole file or directory.
    pub fn new(path: impl Into<String>, problem: Problem) -> Self {
        Diagnostic {
            path: path.into(),
            line: None,
            source_line: None,
            problem,
        }
    }

    /// A problem on one line of `text`.
    pub fn at(path: impl Into<String>, text: &str, line: usize, problem: Problem) -> Self {
        Diagnostic {
            path: path.into(),
            line: Some(line),
            source_line: text.lines().nth(line.saturating_sub(1)).map(str::to_owned),
            problem,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path, line, self.problem)?,
            None => write!(f, "{}: {}", self.path, self.problem)?,
        }
        if let (Some(line), Some(src)) = (self.line, &self.source_line) {
            write!(f, "\n  {line:>4} | {}", src.trim_end())?;
        }
        if let Some(help) = self.problem.help() {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Every problem found in one directory, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    /// Adds several, in order.
    pub fn extend(&mut self, more: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(more);
    }
    /// `true` when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        // A shared prefix of 4+ characters is how truncated or mistyped hex ids usually look.
        let d = if c.len() >= 4 && (c.starts_with(word) || word.starts_with(c)) {
            0
        } else {
            edit_distance(word, c).min(prefix_distance(word, c))
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let limit = (word.chars().count().max(c.chars().count()) / 3).max(1);
    (d <= limit).then(|| c.to_owned())
}

/// A mistyped prefix of a longer id (`970f` for `970e8710f29d`): the distance to the candidate's
/// first characters, counted only for a word of 4+ characters and when it is small for the word
/// itself (otherwise `usize::MAX`), so a short word is not matched against every long id.
fn prefix_distance(word: &str, candidate: &str) -> usize {
    let len = word.chars().count();
    if len < 4 || candidate.chars().count() <= len {
        return usize::MAX;
    }
    let head: String = candidate.chars().take(len).collect();
    let d = edit_distance(word, &head);
    if d <= len / 3 { d } else { usize::MAX }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_and_rejects_strangers() {
        let ids = ["3f2a9c1b7d4e", "8b1e0c5d2a7f"];
        assert_eq!(
            closest("3f2a9c1b7d4f", ids).as_deref(),
            Some("3f2a9c1b7d4e")
        );
        assert_eq!(closest("8b1e", ids).as_deref(), Some("8b1e0c5d2a7f"));
        assert_eq!(closest("zzzzzz", ids), None);
        // A mistyped prefix of a long id (issue 12: `970f` for `970e8710f29d`).
        assert_eq!(
            closest("970f", ["970e8710f29d", "1a2b3c4d5e6f"]).as_deref(),
            Some("970e8710f29d")
        );
        assert_eq!(closest("9x0f", ["970e8710f29d"]), None);
        assert_eq!(
            closest("hed", ["head", "heads", "base"]).as_deref(),
            Some("head")
        );
        assert_eq!(
            closest("revison", ["revision", "revises"]).as_deref(),
            Some("revision")
        );
    }

    #[test]
    fn display_has_location_snippet_and_help() {
        let d = Diagnostic::at(
            "migrations/b_x.sql",
            "-- kiln:revision b\n-- kiln:revises zz\n",
            2,
            Problem::UnknownParent {
                revision: "b".into(),
                parent: "zz".into(),
                suggestion: None,
            },
        );
        let s = d.to_string();
        assert!(
            s.starts_with("migrations/b_x.sql:2: revision `b` revises `zz`"),
            "{s}"
        );
        assert!(s.contains("     2 | -- kiln:revises zz"), "{s}");
        assert!(s.contains("help: fix the `-- kiln:revises` line"), "{s}");
    }
}
