//! The ready-made checks: one call each, a [`CheckReport`] when the set is sound, a
//! [`CheckError`] that reads well as a test failure when it is not. This file holds the report
//! and error types, what the checks share, and the checks that need no schema comparison; the
//! others have a file each.

mod no_trace;
mod schema_file;
mod stairway;

pub use no_trace::downgrade_leaves_no_trace;
pub use schema_file::matches_schema_file;
pub use stairway::stairway;

use crate::testdb::{TestDb, server_url};
use kiln_core::Dialect;
use kiln_runtime::{Db, Error, Migrator};
use kiln_schema::{Schema, dialect_name};
use std::fmt;
use std::time::{Duration, Instant};

/// What a check did, for the test log. A check that could not run because its server is
/// unreachable outside CI returns a report with [`CheckReport::skipped`] set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// The check's name, e.g. `stairway`.
    pub check: &'static str,
    /// The engine it ran on; `None` for checks that need no database.
    pub dialect: Option<Dialect>,
    /// Why the check did not run, when it did not (server unavailable outside CI).
    pub skipped: Option<String>,
    /// How many revisions the check went through.
    pub revisions: usize,
    /// Irreversible revisions met: applied but, by design, never downgraded.
    pub irreversible: Vec<String>,
    /// Revisions still applied at the lowest point a downgrade could reach
    /// ([`downgrade_leaves_no_trace`]); empty when that point is base.
    pub kept: Vec<String>,
    /// What was done, one line per step worth knowing.
    pub notes: Vec<String>,
    /// How long the check took.
    pub elapsed: Duration,
}

impl CheckReport {
    fn new(check: &'static str, dialect: Option<Dialect>) -> CheckReport {
        CheckReport {
            check,
            dialect,
            skipped: None,
            revisions: 0,
            irreversible: Vec::new(),
            kept: Vec::new(),
            notes: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    fn skip(mut self, dialect: Dialect) -> CheckReport {
        let var = server_url(dialect).map_or("", |(v, _)| v);
        self.skipped = Some(format!(
            "the {} server is unavailable; set {var} to run this check (CI=true makes this a failure)",
            dialect_name(dialect)
        ));
        self
    }

    fn done(mut self, started: Instant) -> CheckReport {
        self.elapsed = started.elapsed();
        self
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kiln check `{}`", self.check)?;
        if let Some(d) = self.dialect {
            write!(f, " on {}", dialect_name(d))?;
        }
        if let Some(why) = &self.skipped {
            return write!(f, ": SKIPPED, {why}");
        }
        write!(
            f,
            ": passed ({} revision(s), {:.2} s)",
            self.revisions,
            self.elapsed.as_secs_f64()
        )?;
        if !self.irreversible.is_empty() {
            write!(
                f,
                "\n  irreversible, not downgraded: {}",
                self.irreversible.join(", ")
            )?;
        }
        if !self.kept.is_empty() {
            write!(
                f,
                "\n  still applied at the lowest reachable point: {}",
                self.kept.join(", ")
            )?;
        }
        for n in &self.notes {
            write!(f, "\n  {n}")?;
        }
        Ok(())
    }
}

/// Whether a check found a problem in the migration set or could not run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckErrorKind {
    /// The migration set is unsound: the message says where and how.
    Failed,
    /// The check could not run: no server in CI, a file that cannot be read, a database
    /// error unrelated to the migrations.
    Setup,
}

/// A failed check. Its `Display` is the whole story, written to be read as a test failure.
#[derive(Debug)]
#[non_exhaustive]
pub struct CheckError {
    /// The check's name.
    pub check: &'static str,
    /// The engine it ran on.
    pub dialect: Option<Dialect>,
    /// Failed or could not run.
    pub kind: CheckErrorKind,
    /// What went wrong, possibly several lines (a schema diff).
    pub message: String,
    source: Option<Error>,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kiln check `{}`", self.check)?;
        if let Some(d) = self.dialect {
            write!(f, " on {}", dialect_name(d))?;
        }
        match self.kind {
            CheckErrorKind::Failed => write!(f, " failed: {}", self.message),
            CheckErrorKind::Setup => write!(f, " could not run: {}", self.message),
        }
    }
}

impl std::error::Error for CheckError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Builds errors for one check on one engine.
#[derive(Clone, Copy)]
struct Ctx {
    check: &'static str,
    dialect: Option<Dialect>,
}

impl Ctx {
    fn failed(self, message: impl Into<String>) -> CheckError {
        CheckError {
            check: self.check,
            dialect: self.dialect,
            kind: CheckErrorKind::Failed,
            message: message.into(),
            source: None,
        }
    }

    /// A kiln error while running the set: a finding about the set when the set's SQL or
    /// graph is at fault, else (a lost connection, a refused `CREATE DATABASE`) a check that
    /// could not do its work.
    fn failed_by(self, what: impl fmt::Display, e: Error) -> CheckError {
        let finding = matches!(
            e,
            Error::Statement { .. }
                | Error::Split { .. }
                | Error::Target(_)
                | Error::Dirty { .. }
                | Error::Drift { .. }
                | Error::UnknownApplied { .. }
                | Error::NotAtHead { .. }
                | Error::Invalid(_)
        );
        CheckError {
            kind: if finding {
                CheckErrorKind::Failed
            } else {
                CheckErrorKind::Setup
            },
            message: format!("{what}: {e}"),
            source: Some(e),
            ..self.failed("")
        }
    }

    fn setup_msg(self, message: impl Into<String>) -> CheckError {
        CheckError {
            kind: CheckErrorKind::Setup,
            ..self.failed(message)
        }
    }

    /// A kiln error outside the set's SQL: the check could not do its work.
    fn setup(self, what: impl fmt::Display, e: Error) -> CheckError {
        CheckError {
            kind: CheckErrorKind::Setup,
            message: format!("{what}: {e}"),
            source: Some(e),
            ..self.failed("")
        }
    }

    fn report(self) -> CheckReport {
        CheckReport::new(self.check, self.dialect)
    }

    async fn fresh(self, dialect: Dialect) -> Result<Option<TestDb>, CheckError> {
        TestDb::try_new(dialect)
            .await
            .map_err(|e| self.setup("cannot create a throwaway database", e))
    }

    async fn capture(self, m: &Migrator, t: &TestDb) -> Result<Schema, CheckError> {
        Schema::capture_with(t.db(), m.options())
            .await
            .map_err(|e| self.setup("cannot read the schema", e))
    }
}

/// Drops a database a check is done with. A failure to drop is not a finding about the set,
/// so it is printed rather than turned into a failed check.
async fn finish(t: TestDb) {
    if let Err(e) = t.drop_database().await {
        eprintln!("kiln: could not drop a throwaway database: {e}");
    }
}

fn describe(m: &Migrator, i: usize) -> String {
    let r = &m.set().revisions()[i];
    format!("`{}` ({})", r.describe(), r.file())
}

fn ids(m: &Migrator, v: impl IntoIterator<Item = usize>) -> Vec<String> {
    v.into_iter()
        .map(|i| m.set().revisions()[i].id().to_owned())
        .collect()
}

fn members(v: &[bool]) -> Vec<usize> {
    (0..v.len()).filter(|&i| v[i]).collect()
}

/// Which revisions the database has applied; a dirty revision is a finding.
async fn applied(ctx: Ctx, m: &Migrator, db: &Db) -> Result<Vec<bool>, CheckError> {
    let st = m
        .current(db)
        .await
        .map_err(|e| ctx.setup("cannot read the version table", e))?;
    if !st.dirty.is_empty() {
        return Err(ctx.failed(format!(
            "revision(s) {} stopped part-way and left the database dirty",
            st.dirty.join(", ")
        )));
    }
    let mut v = vec![false; m.set().len()];
    let at = m.set().positions();
    for a in st.applied.iter().filter(|a| a.is_applied()) {
        if let Some(&i) = at.get(a.revision.as_str()) {
            v[i] = true;
        }
    }
    Ok(v)
}

fn steps(r: &kiln_runtime::Report) -> Vec<String> {
    r.steps.iter().map(|s| s.revision.clone()).collect()
}

// ---------------------------------------------------------------------------------------------

/// The set has exactly one head. Several heads are legal on labelled branches, but a release
/// usually wants one line of history; the message gives the `kiln merge` command.
pub async fn single_head(migrator: &Migrator) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let ctx = Ctx {
        check: "single_head",
        dialect: None,
    };
    let heads = migrator.heads();
    match heads.as_slice() {
        [one] => {
            let mut rep = ctx.report();
            rep.revisions = migrator.set().len();
            rep.notes.push(format!("head: {one}"));
            Ok(rep.done(started))
        }
        [] => Err(ctx.failed("the migration set has no revisions, so it has no head")),
        many => Err(ctx.failed(format!(
            "the migration set has {} heads ({}); a release needs exactly one. Join them with `kiln merge -m \"merge heads\" {}`",
            many.len(),
            many.join(", "),
            many.join(" ")
        ))),
    }
}

/// Every revision is recorded in `kiln.lock`: no drafts, as a release build requires.
pub async fn no_drafts(migrator: &Migrator) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let ctx = Ctx {
        check: "no_drafts",
        dialect: None,
    };
    let drafts: Vec<String> = migrator
        .set()
        .drafts()
        .map(|r| format!("{} ({})", r.id(), r.file()))
        .collect();
    if drafts.is_empty() {
        let mut rep = ctx.report();
        rep.revisions = migrator.set().len();
        return Ok(rep.done(started));
    }
    Err(ctx.failed(format!(
        "{} revision(s) are drafts, not recorded in kiln.lock: {}. A release must not ship drafts: review them and record them with `kiln lock` (`kiln check --locked` makes CI enforce it)",
        drafts.len(),
        drafts.join(", ")
    )))
}

/// A new, empty database upgrades to every head; afterwards [`Migrator::check`] passes and
/// [`Migrator::run`] has nothing to do.
pub async fn upgrade_from_base(
    migrator: &Migrator,
    dialect: Dialect,
) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let ctx = Ctx {
        check: "upgrade_from_base",
        dialect: Some(dialect),
    };
    let Some(t) = ctx.fresh(dialect).await? else {
        return Ok(ctx.report().skip(dialect));
    };
    let r = upgrade_from_base_on(ctx, migrator, &t).await;
    finish(t).await;
    r.map(|rep| rep.done(started))
}

async fn upgrade_from_base_on(
    ctx: Ctx,
    m: &Migrator,
    t: &TestDb,
) -> Result<CheckReport, CheckError> {
    let mut rep = ctx.report();
    let report = m
        .upgrade(t.db(), "heads")
        .await
        .map_err(|e| ctx.failed_by("upgrading a new database to every head failed", e))?;
    rep.revisions = report.steps.len();
    let st = m
        .current(t.db())
        .await
        .map_err(|e| ctx.setup("cannot read the version table", e))?;
    if !st.is_at_head() {
        return Err(ctx.failed(format!(
            "after upgrading to every head the database is not at head: pending {:?}, dirty {:?}, drifted {:?}, unknown {:?}",
            st.pending, st.dirty, st.drifted, st.unknown
        )));
    }
    m.check(t.db())
        .await
        .map_err(|e| ctx.failed_by("`check` refuses the freshly upgraded database", e))?;
    let again = m
        .run(t.db())
        .await
        .map_err(|e| ctx.failed_by("`run` after the upgrade failed", e))?;
    if !again.is_noop() {
        return Err(ctx.failed(format!(
            "`run` after upgrading to every head applied {:?} again",
            steps(&again)
        )));
    }
    let total: Duration = report.steps.iter().map(|s| s.duration).sum();
    rep.notes.push(format!(
        "applied {} revision(s) in {:.0} ms of SQL",
        report.steps.len(),
        total.as_secs_f64() * 1000.0
    ));
    Ok(rep)
}
