//! kiln-lint: finds the migration statements that lock, rewrite or break a busy database.
//!
//! The engine reads a [`kiln_core::MigrationSet`] revision by revision: kiln-core's splitter
//! cuts each section into statements (so a finding knows its revision, file, line and column),
//! `sqlparser` parses each statement with the dialect's grammar, [`facts`] turns the syntax tree
//! into the few facts the rules need, and the rules in [`rules`] judge them with what only kiln
//! knows: which revision created a table, whether a revision runs in a transaction, what its
//! downgrade undoes, what its parent used. Waivers (`-- kiln:allow RULE reason`) are in
//! [`waiver`]; the human, JSON and SARIF forms in [`render`]. `docs/lint.md` documents every rule.

#![warn(missing_docs)]

pub mod facts;
#[doc(hidden)]
pub mod fuzzprops;
pub mod render;
pub mod rules;
pub mod waiver;

mod engine;

pub use kiln_core::Dialect;

use std::collections::BTreeMap;
use std::fmt;

/// How serious a finding is. `Error` findings are the deny level: `kiln lint` exits with its
/// findings code when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; never fails a run.
    Note,
    /// Likely to hurt on a busy database.
    Warning,
    /// Will hurt (or cannot work); fails `kiln lint`.
    Error,
}

impl Severity {
    /// `error`, `warning` or `note`: the word shown in every output form.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kiln.toml's `[lint]` lists make of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// `allow`: never reported.
    Allow,
    /// `warn`: reported as a warning.
    Warn,
    /// `deny`: reported as an error (and, with kiln-macros' `lint` feature, a compile error).
    Deny,
}

/// Settings of one lint run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Whose grammar and locking rules apply.
    pub dialect: Dialect,
    /// The PostgreSQL major version the migrations run on (some locks changed with versions:
    /// 11 stopped rewriting tables for constant defaults, 12 lets a validated `CHECK` skip
    /// `SET NOT NULL`'s scan).
    pub postgres_version: u32,
    /// The lexical settings statements are split with (kiln.toml's `[postgres]`/`[mysql]`).
    pub syntax: kiln_core::Syntax,
    /// Rules whose level kiln.toml changes; the others keep their own severity.
    pub levels: BTreeMap<&'static str, Level>,
}

impl Options {
    /// Default settings for `dialect` (PostgreSQL 16, every rule at its own severity).
    pub fn new(dialect: Dialect) -> Self {
        Options {
            dialect,
            postgres_version: DEFAULT_POSTGRES_VERSION,
            syntax: kiln_core::Syntax::new(dialect),
            levels: BTreeMap::new(),
        }
    }

    /// Takes the levels and the PostgreSQL version from kiln.toml's `[lint]` table. Ids that
    /// are not rules are skipped: reading the file with
    /// [`kiln_core::config::Config::read_with_rules`] and [`rule_ids`] has reported them.
    pub fn with_config(mut self, lint: &kiln_core::config::LintConfig) -> Self {
        let lists = [
            (&lint.deny, Level::Deny),
            (&lint.warn, Level::Warn),
            (&lint.allow, Level::Allow),
        ];
        for (list, level) in lists {
            for (id, _) in list.iter().flat_map(|(items, _)| items) {
                if let Some(r) = rule(id) {
                    self.levels.insert(r.id, level);
                }
            }
        }
        if let Some((v, _)) = lint.postgres_version {
            self.postgres_version = v;
        }
        self
    }

    /// The severity `rule` is reported with, `None` when kiln.toml allows it. `invalid-waiver`
    /// keeps its own: a malformed waiver is never a matter of taste.
    pub fn severity(&self, rule: &RuleInfo) -> Option<Severity> {
        if rule.id == "invalid-waiver" {
            return Some(rule.severity);
        }
        match self.levels.get(rule.id) {
            Some(Level::Allow) => None,
            Some(Level::Warn) => Some(Severity::Warning),
            Some(Level::Deny) => Some(Severity::Error),
            None => Some(rule.severity),
        }
    }

    /// The rules kiln.toml denies, by id.
    pub fn denied(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.levels
            .iter()
            .filter(|(_, l)| **l == Level::Deny)
            .map(|(id, _)| *id)
    }
}

/// Every rule id, for checking kiln.toml's `[lint]` lists
/// ([`kiln_core::config::Config::read_with_rules`]).
pub fn rule_ids() -> Vec<&'static str> {
    RULES.iter().map(|r| r.id).collect()
}

/// The PostgreSQL version assumed when none is configured.
pub const DEFAULT_POSTGRES_VERSION: u32 = 16;

/// Which section of a revision a finding is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// Above `-- kiln:upgrade`.
    Header,
    /// `-- kiln:upgrade`.
    Upgrade,
    /// `-- kiln:downgrade`.
    Downgrade,
}

/// One finding: a rule, where it fired and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's id, e.g. `require-concurrent-index`.
    pub rule: &'static str,
    /// The rule's severity.
    pub severity: Severity,
    /// The revision id.
    pub revision: String,
    /// The revision's path as given in [`Input::path`].
    pub path: String,
    /// Which section.
    pub section: Section,
    /// 1-based line in the file.
    pub line: usize,
    /// 1-based column (in characters) of the offending text.
    pub column: usize,
    /// Length in characters of the offending text on that line (at least 1).
    pub len: usize,
    /// The file's line, for the snippet.
    pub source_line: String,
    /// What is wrong, specific to this statement.
    pub message: String,
    /// Why it hurts (lock, version).
    pub note: String,
    /// The safe recipe.
    pub help: String,
}

pub use engine::{Input, header, lint, lint_revisions};
pub use rules::{RULES, RuleInfo, rule};
