//! `kiln lint`: the lint rules of kiln-lint over the revisions a pull request adds.
//!
//! Arguments are declared here rather than in `args.rs` so the command stays one file: the
//! scope (drafts by default, `--all`, one revision or a `START:END` range), the dialect
//! (`--dialect`, else kiln.toml, else the database URL's scheme, never connecting), the output
//! form and the PostgreSQL version (layered in `layers.rs`). kiln.toml's `[lint]` lists raise,
//! lower or silence rules. Error-level findings exit 9; warnings and notes exit 0.

use crate::args::DialectArg;
use crate::error::{Code, Fail};
use crate::out;
use crate::range::{Range, resolve_one};
use crate::repo;
use crate::settings::Settings;
use clap::{Args, ValueEnum};
use kiln_core::{Dialect, MigrationSet, Plan, Revision, Syntax, Target};
use kiln_lint::{Options, Severity, render};

#[derive(Debug, Args)]
pub struct LintArgs {
    /// A revision (id, prefix, label, LABEL@head) or a range START:END [default: the drafts,
    /// i.e. revisions not in kiln.lock]
    #[arg(
        value_name = "REV|RANGE",
        allow_hyphen_values = true,
        conflicts_with = "all"
    )]
    pub revisions: Option<String>,
    /// Lint every revision
    #[arg(long)]
    pub all: bool,
    /// SQL dialect [default: kiln.toml's `dialect`, then the database URL's scheme]
    #[arg(long, value_enum)]
    pub dialect: Option<DialectArg>,
    /// Output form
    #[arg(long, value_enum, default_value = "human")]
    pub format: LintFormat,
    /// PostgreSQL major version the migrations run on [default: KILN_POSTGRES_VERSION, then
    /// kiln.toml's `[lint] postgres_version`, then 16]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(9..))]
    pub postgres_version: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// Snippets with a note and a help line, like a compiler
    Human,
    /// A JSON array of findings
    Json,
    /// SARIF 2.1.0, for code scanning in CI
    Sarif,
}

pub fn lint(s: &Settings, a: &LintArgs) -> anyhow::Result<Code> {
    let set = repo::load(&s.dir)?;
    let dialect = dialect(s, a, &set)?;
    let scope = scope(&set, a)?;
    let mut opts = options(s, &set, dialect);
    if let Some(v) = a.postgres_version {
        opts.postgres_version = v;
    }
    let at = set.positions();
    let index = |r: &Revision| at.get(r.id()).copied().unwrap_or(usize::MAX);
    let findings = kiln_lint::lint(
        &set,
        &opts,
        |r| s.dir.display_file(r.file()),
        |r| kiln_lint::header(&s.dir.path, r),
        |r| scope.get(index(r)).copied().unwrap_or(false),
    );
    let linted = scope.iter().filter(|b| **b).count();
    match a.format {
        LintFormat::Json => out::line(render::json(&findings).trim_end()),
        LintFormat::Sarif => {
            out::line(render::sarif(&findings, env!("CARGO_PKG_VERSION")).trim_end())
        }
        LintFormat::Human if linted == 0 => out::line(if a.all || a.revisions.is_some() {
            "nothing to lint: no revision in that scope".to_owned()
        } else {
            "nothing to lint: every revision is locked (lint one with REV, a range, or --all)"
                .to_owned()
        }),
        LintFormat::Human => {
            let text = render::human(&findings);
            out::line(format!(
                "{} ({} linted)",
                text.trim_end(),
                out::count(linted, "revision")
            ));
        }
    }
    Ok(if findings.iter().any(|f| f.severity == Severity::Error) {
        Code::LintErrors
    } else {
        Code::Ok
    })
}

/// What `kiln check` reports of lint: the drafts' findings, when the dialect is declared in
/// kiln.toml or given by the database URL (check has no `--dialect`). `None`: nothing to lint,
/// or no dialect known.
pub struct CheckLint {
    /// Error-level findings.
    pub errors: usize,
    /// All findings.
    pub total: usize,
    /// Drafts linted.
    pub drafts: usize,
}

pub fn for_check(s: &Settings, set: &MigrationSet) -> Option<CheckLint> {
    let dialect = set
        .syntax()
        .map(|x| x.dialect)
        .or_else(|| s.database.as_ref().and_then(|db| db.dialect()))?;
    let drafts = set.drafts().count();
    if drafts == 0 {
        return None;
    }
    let opts = options(s, set, dialect);
    let findings = kiln_lint::lint(
        set,
        &opts,
        |r| s.dir.display_file(r.file()),
        |r| kiln_lint::header(&s.dir.path, r),
        Revision::is_draft,
    );
    Some(CheckLint {
        errors: findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count(),
        total: findings.len(),
        drafts,
    })
}

/// The lint settings for `dialect`: the set's reading, kiln.toml's `[lint]` levels and the
/// layered PostgreSQL version.
fn options(s: &Settings, set: &MigrationSet, dialect: Dialect) -> Options {
    let mut opts = Options::new(dialect).with_config(&s.layers.lint);
    opts.postgres_version = s.layers.postgres_version.value;
    opts.syntax = set
        .syntax()
        .filter(|x| x.dialect == dialect)
        .unwrap_or(Syntax::new(dialect));
    opts
}

fn dialect(s: &Settings, a: &LintArgs, set: &MigrationSet) -> anyhow::Result<Dialect> {
    if let Some(d) = a.dialect {
        return Ok(match d {
            DialectArg::Sqlite => Dialect::Sqlite,
            DialectArg::Postgres => Dialect::Postgres,
            DialectArg::Mysql => Dialect::MySql,
        });
    }
    if let Some(x) = set.syntax() {
        return Ok(x.dialect);
    }
    s.database.as_ref().and_then(|db| db.dialect()).ok_or_else(|| {
        Fail::usage(
            "kiln lint needs to know the SQL dialect: the rules differ per engine",
            "pass --dialect sqlite|postgres|mysql, set `dialect` in kiln.toml, or configure a database URL (it is not connected to)",
        )
    })
}

/// Which revisions are reported, by the set's index.
fn scope(set: &MigrationSet, a: &LintArgs) -> anyhow::Result<Vec<bool>> {
    let revs = set.revisions();
    if a.all {
        return Ok(vec![true; revs.len()]);
    }
    let Some(text) = &a.revisions else {
        return Ok(revs.iter().map(Revision::is_draft).collect());
    };
    let plan = Plan::new(set);
    if text.contains(':') {
        let range = Range::parse(text)?;
        if range.needs_database() {
            return Err(Fail::usage(
                "kiln lint reads no database, so `current` cannot be used",
                "name revisions, e.g. `kiln lint a1b2:head`",
            ));
        }
        return range.select(&plan, None);
    }
    let target = Target::parse(text)?;
    let one = resolve_one(&plan, &target)?;
    Ok((0..revs.len()).map(|i| i == one).collect())
}
