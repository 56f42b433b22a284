//! One lint run: revisions in graph order, each split into statements, facts, rules, waivers.
//!
//! Every revision of the set is read so that context is known (which tables a draft created,
//! what a parent used), but only the revisions in scope are reported.

use crate::facts::{self, Op};
use crate::rules::{self, RuleInfo, context, mysql, postgres, sqlite};
use crate::waiver::{self, Waiver};
use crate::{Finding, Options, Section};
use kiln_core::{Dialect, MigrationSet, Revision, Syntax, split};
use std::collections::{HashMap, HashSet};

/// One revision to lint, with what the set's model does not carry.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The revision.
    pub revision: &'a Revision,
    /// The path shown in findings (e.g. `migrations/a1b2_add_users.sql`).
    pub path: String,
    /// The header text (the file above `-- kiln:upgrade`), for revision-wide waivers; empty
    /// when unknown.
    pub header: String,
    /// Whether findings for this revision are reported (the others only give context).
    pub report: bool,
}

/// One statement of a section, with its facts.
pub(crate) struct Stmt<'a> {
    pub sql: &'a str,
    /// Byte offset of `sql` in its section.
    pub offset: usize,
    pub section: Section,
    pub ops: Vec<Op>,
    /// Waivers written just before the statement.
    pub waivers: Vec<Waiver>,
}

/// A finding before its position is resolved to a line and column.
struct Raw {
    rule: &'static RuleInfo,
    section: Section,
    /// Byte range in the section's text.
    at: (usize, usize),
    message: String,
    /// Waivers of the statement it belongs to.
    stmt: usize,
}

/// What a revision's upgrade does, kept for the revisions after it.
#[derive(Default)]
pub(crate) struct Summary {
    /// Tables it creates.
    pub created: HashSet<String>,
    /// (table, column) pairs it adds, indexes or declares.
    pub columns: HashSet<(String, String)>,
    /// The lower-case words of its data statements (a column named in an UPDATE).
    pub data_words: HashSet<String>,
}

/// The state rules see for one revision.
pub(crate) struct Checker<'a> {
    pub opts: &'a Options,
    pub input: &'a Input<'a>,
    /// Tables created by this revision so far: no deployed code uses them yet.
    pub new_tables: HashSet<String>,
    /// Tables created by drafts before this revision: not deployed anywhere either.
    pub draft_tables: &'a HashSet<String>,
    /// The parents' summaries.
    pub parents: Vec<&'a Summary>,
    /// A `SET lock_timeout` ran earlier in the revision.
    pub lock_timeout: bool,
    /// `lock-timeout` was reported once for this revision already.
    pub lock_timeout_reported: bool,
    raws: Vec<Raw>,
    current: usize,
    section: Section,
    sql: &'a str,
    offset: usize,
}

impl<'a> Checker<'a> {
    /// Reports `rule` at the first occurrence of `word` in the current statement (at its start
    /// when `word` is empty or absent), unless the table is new and the rule is about locks.
    pub fn hit(&mut self, id: &str, table: Option<&str>, word: &str, message: String) {
        let Some(rule) = rules::rule(id) else {
            return;
        };
        if !rule.engines.include(self.opts.dialect) || self.opts.severity(rule).is_none() {
            return;
        }
        if rule.lock_rule && table.is_some_and(|t| self.is_new(t)) {
            return;
        }
        let (s, e) = find_word(self.sql, word).unwrap_or((0, first_word_len(self.sql)));
        self.raws.push(Raw {
            rule,
            section: self.section,
            at: (self.offset + s, self.offset + e),
            message,
            stmt: self.current,
        });
    }

    /// Whether `table` was created where no deployed code uses it yet.
    pub fn is_new(&self, table: &str) -> bool {
        let short = table.rsplit('.').next().unwrap_or(table);
        [table, short]
            .iter()
            .any(|t| self.new_tables.contains(*t) || self.draft_tables.contains(*t))
    }

    pub(crate) fn at(&mut self, idx: usize, stmt: &Stmt<'a>) {
        self.current = idx;
        self.section = stmt.section;
        self.sql = stmt.sql;
        self.offset = stmt.offset;
    }
}

/// The first case-insensitive occurrence of `word` at word boundaries in `sql`, as a byte range.
fn find_word(sql: &str, word: &str) -> Option<(usize, usize)> {
    if word.is_empty() {
        return None;
    }
    let hay = sql.to_ascii_lowercase();
    let needle = word.to_ascii_lowercase();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    hay.match_indices(&needle)
        .find(|(i, _)| {
            let before = hay[..*i].chars().next_back();
            let after = hay[i + needle.len()..].chars().next();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        })
        .map(|(i, _)| (i, i + needle.len()))
}

fn first_word_len(sql: &str) -> usize {
    sql.find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(sql.len())
        .max(1)
}

/// The header of `rev`'s file in the directory at `dir` (the text above `-- kiln:upgrade`), for
/// revision-wide waivers; the model keeps only the sections. The directory was just loaded, so
/// a read failure means the file changed meanwhile: the header is then empty, and the
/// statement waivers still apply.
pub fn header(dir: &std::path::Path, rev: &Revision) -> String {
    let Ok(bytes) = std::fs::read(dir.join(rev.file())) else {
        return String::new();
    };
    let Ok(text) = kiln_core::checksum::normalize(&bytes) else {
        return String::new();
    };
    let marker = (rev.up_line() as usize).saturating_sub(1);
    text.lines()
        .take(marker.saturating_sub(1))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Lints a whole set: `path` gives each revision's display path and `header` its header text;
/// `report` says which revisions are in scope. Findings come in graph order, then by position.
pub fn lint(
    set: &MigrationSet,
    opts: &Options,
    path: impl Fn(&Revision) -> String,
    header: impl Fn(&Revision) -> String,
    report: impl Fn(&Revision) -> bool,
) -> Vec<Finding> {
    let inputs: Vec<Input<'_>> = set
        .revisions()
        .iter()
        .map(|r| Input {
            revision: r,
            path: path(r),
            header: header(r),
            report: report(r),
        })
        .collect();
    lint_revisions(&inputs, opts)
}

/// Lints revisions given in graph order (parents first).
pub fn lint_revisions(inputs: &[Input<'_>], opts: &Options) -> Vec<Finding> {
    let syntax = opts.syntax;
    let mut summaries: HashMap<&str, Summary> = HashMap::new();
    let mut draft_tables: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    // Only what a reported revision looks at is parsed: its parents' summaries and the drafts'
    // tables. The macro lints the few drafts of a long history on every build, so the cost
    // follows the drafts, not the history.
    let wanted: HashSet<&str> = inputs
        .iter()
        .filter(|i| i.report)
        .flat_map(|i| i.revision.parents().iter().map(|p| p.as_ref()))
        .collect();
    for input in inputs {
        let rev = input.revision;
        if !input.report && !rev.is_draft() && !wanted.contains(rev.id()) {
            continue;
        }
        let up = section(rev.up_sql(), Section::Upgrade, syntax, opts.dialect);
        let summary = summarize(&up);
        if input.report {
            let down = rev
                .down_sql()
                .map(|d| section(d, Section::Downgrade, syntax, opts.dialect));
            let parents: Vec<&Summary> = rev
                .parents()
                .iter()
                .filter_map(|p| summaries.get(p.as_ref()))
                .collect();
            let mut c = Checker {
                opts,
                input,
                new_tables: HashSet::new(),
                draft_tables: &draft_tables,
                parents,
                lock_timeout: false,
                lock_timeout_reported: false,
                raws: Vec::new(),
                current: 0,
                section: Section::Upgrade,
                sql: "",
                offset: 0,
            };
            let stmts: Vec<&Stmt<'_>> = up.iter().chain(down.iter().flatten()).collect();
            for (i, s) in stmts.iter().enumerate() {
                c.at(i, s);
                postgres::check(&mut c, s);
                mysql::check(&mut c, s);
                sqlite::check(&mut c, s);
                context::statement(&mut c, s);
                for op in &s.ops {
                    if let (Section::Upgrade, Op::CreateTable { table, .. }) = (s.section, op) {
                        c.new_tables.insert(table.clone());
                    }
                }
            }
            context::revision(&mut c, &up, down.as_deref(), &stmts);
            out.extend(resolve(opts, input, c.raws, &stmts));
        }
        if rev.is_draft() {
            draft_tables.extend(summary.created.iter().cloned());
        }
        summaries.insert(rev.id(), summary);
    }
    out
}

/// Splits a section and analyzes each statement. A section kiln-core accepted always splits;
/// if it somehow does not, there is nothing to lint in it.
fn section<'a>(text: &'a str, which: Section, syntax: Syntax, d: Dialect) -> Vec<Stmt<'a>> {
    let Ok(stmts) = split::split_with(text, syntax) else {
        return Vec::new();
    };
    let waivers = waiver::scan(text);
    let mut out: Vec<Stmt<'a>> = Vec::new();
    let mut w = waivers.into_iter().peekable();
    for s in stmts {
        let offset = s.sql.as_ptr() as usize - text.as_ptr() as usize;
        let mut mine = Vec::new();
        while let Some(x) = w.next_if(|x| x.offset < offset) {
            mine.push(x);
        }
        out.push(Stmt {
            sql: s.sql,
            offset,
            section: which,
            ops: facts::analyze(s.sql, d).ops,
            waivers: mine,
        });
    }
    out
}

fn summarize(up: &[Stmt<'_>]) -> Summary {
    let mut s = Summary::default();
    for st in up {
        for op in &st.ops {
            match op {
                Op::CreateTable { table, columns, .. } => {
                    s.created.insert(table.clone());
                    for c in columns {
                        s.columns.insert((table.clone(), c.name.clone()));
                    }
                }
                Op::AddColumn { table, column, .. } => {
                    s.columns.insert((table.clone(), column.name.clone()));
                }
                Op::CreateIndex { table, columns, .. } => {
                    for c in columns {
                        s.columns.insert((table.clone(), c.clone()));
                    }
                }
                Op::RenameColumn { table, to, .. } => {
                    s.columns.insert((table.clone(), to.clone()));
                }
                Op::Data => s.data_words.extend(
                    st.sql
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .filter(|w| !w.is_empty())
                        .map(str::to_lowercase),
                ),
                _ => {}
            }
        }
    }
    s
}

/// Applies waivers and turns byte offsets into lines and columns.
fn resolve(opts: &Options, input: &Input<'_>, raws: Vec<Raw>, stmts: &[&Stmt<'_>]) -> Vec<Finding> {
    let rev = input.revision;
    let header = waiver::scan(&input.header);
    let mut out = Vec::new();
    let mut invalid = |w: &Waiver, section: Section, text: &str, first_line: usize| {
        if let Some(problem) = waiver::problem(w) {
            out.push(place(
                opts,
                input,
                section,
                text,
                first_line,
                (w.offset, w.end),
                {
                    let rule = rules::rule("invalid-waiver");
                    (rule, problem)
                },
            ));
        }
    };
    for w in &header {
        invalid(w, Section::Header, &input.header, 1);
    }
    for s in stmts {
        let (text, first) = section_text(rev, s.section);
        for w in &s.waivers {
            invalid(w, s.section, text, first);
        }
    }
    let waived = |rule: &str, stmt: usize| {
        let ok = |w: &Waiver| w.rule == rule && !w.reason.is_empty();
        header.iter().any(ok) || stmts.get(stmt).is_some_and(|s| s.waivers.iter().any(ok))
    };
    for raw in raws {
        if waived(raw.rule.id, raw.stmt) {
            continue;
        }
        let (text, first) = section_text(rev, raw.section);
        out.push(place(
            opts,
            input,
            raw.section,
            text,
            first,
            raw.at,
            (Some(raw.rule), raw.message),
        ));
    }
    out.sort_by_key(|f| (f.section, f.line, f.column));
    out
}

fn section_text(rev: &Revision, s: Section) -> (&str, usize) {
    match s {
        Section::Downgrade => (rev.down_sql().unwrap_or(""), rev.down_line() as usize),
        _ => (rev.up_sql(), rev.up_line() as usize),
    }
}

fn place(
    opts: &Options,
    input: &Input<'_>,
    section: Section,
    text: &str,
    first_line: usize,
    (start, end): (usize, usize),
    (rule, message): (Option<&'static RuleInfo>, String),
) -> Finding {
    let rule = rule.unwrap_or(&rules::RULES[0]);
    let start = start.min(text.len());
    let before = &text[..start];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let source_line = text[line_start..line_end].to_owned();
    let end = end.clamp(start, line_end);
    Finding {
        rule: rule.id,
        severity: opts.severity(rule).unwrap_or(rule.severity),
        revision: input.revision.id().to_owned(),
        path: input.path.clone(),
        section,
        line: first_line + before.matches('\n').count(),
        column: text[line_start..start].chars().count() + 1,
        len: text[start..end].chars().count().max(1),
        source_line,
        message,
        note: rule.note.to_owned(),
        help: rule.help.to_owned(),
    }
}
