//! The ready-made checks: one call each, a [`CheckReport`] when the set is sound, a
//! [`CheckError`] that reads well as a test failure when it is not.

use crate::testdb::{TestDb, server_url};
use kiln_core::{Dialect, Plan, Target};
use kiln_runtime::{Db, Error, Migrator, RawConnection, quote_ident};
use kiln_schema::{Schema, dialect_name};
use std::fmt;
use std::path::Path;
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

/// What revision `i` needs applied first: its parents and `depends-on` revisions.
fn requires(m: &Migrator, i: usize) -> Vec<usize> {
    let r = &m.set().revisions()[i];
    r.parents()
        .iter()
        .chain(r.depends_on())
        .filter_map(|p| m.set().index_of(p))
        .collect()
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
    for a in st.applied.iter().filter(|a| a.state == "applied") {
        if let Some(i) = m.set().index_of(&a.revision) {
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

// ---------------------------------------------------------------------------------------------
// The stairway

/// The stairway: for every revision in order, upgrade to it, capture the schema, downgrade one
/// step, check the schema equals the one before the upgrade, upgrade again and check the schema
/// equals the first upgrade's.
///
/// "One step" is made exact even with branches and merges: before revision `R` is stepped, the
/// database is brought to exactly `R`'s ancestors (its parents and `depends-on` revisions and
/// everything they need, nothing else), so upgrading to `R` applies `R` alone and `R` is then
/// the only current revision. The downgrade target is an explicit revision: the parent whose
/// strict descendants among the applied revisions are exactly `R` (computed with the same
/// [`Plan`] the runtime uses, and checked against what was actually reverted), else `base` or
/// `-1` when those revert exactly `R`. Moving between revisions on different branches reverts
/// the other branch with explicit targets first; when an irreversible revision stands in the
/// way, the walk continues on a new throwaway database upgraded to `R`'s parents, and says so
/// in the report.
///
/// Irreversible revisions are upgraded and captured but never downgraded; they are listed in
/// [`CheckReport::irreversible`].
pub async fn stairway(migrator: &Migrator, dialect: Dialect) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let ctx = Ctx {
        check: "stairway",
        dialect: Some(dialect),
    };
    let Some(mut t) = ctx.fresh(dialect).await? else {
        return Ok(ctx.report().skip(dialect));
    };
    let r = stairway_on(ctx, migrator, dialect, &mut t).await;
    finish(t).await;
    r.map(|rep| rep.done(started))
}

async fn stairway_on(
    ctx: Ctx,
    m: &Migrator,
    dialect: Dialect,
    t: &mut TestDb,
) -> Result<CheckReport, CheckError> {
    let set = m.set();
    let plan = Plan::new(set);
    let mut rep = ctx.report();
    // A capture of the database as it is now, valid until the next migration command.
    let mut last: Option<(Vec<bool>, Schema)> = None;
    let mut stepped = Vec::new();
    for (k, rev) in set.revisions().iter().enumerate() {
        let need = plan.ancestors_or_self(&requires(m, k));
        let now = applied(ctx, m, t.db()).await?;
        if now != need {
            last = None;
            move_to(ctx, m, &plan, dialect, t, now, &need, k, &mut rep).await?;
        }
        let before = match last.take() {
            Some((state, schema)) if state == need => schema,
            _ => ctx.capture(m, t).await?,
        };
        let id = rev.id();
        let up = m
            .upgrade(t.db(), id)
            .await
            .map_err(|e| ctx.failed_by(format_args!("upgrading to {}", describe(m, k)), e))?;
        if steps(&up) != [id] {
            return Err(ctx.failed(format!(
                "upgrading to `{id}` from its parents applied {:?} instead of `{id}` alone",
                steps(&up)
            )));
        }
        let after = ctx.capture(m, t).await?;
        let mut with = need.clone();
        with[k] = true;
        rep.revisions += 1;
        if rev.is_irreversible() {
            rep.irreversible.push(id.to_owned());
            last = Some((with, after));
            continue;
        }

        let Some(target) = one_step_target(&plan, &with, k) else {
            return Err(ctx.failed(format!(
                "no downgrade target reverts `{id}` alone (the stairway needs one to check its downgrade)"
            )));
        };
        let down = m.downgrade(t.db(), &target).await.map_err(|e| {
            ctx.failed_by(
                format_args!("downgrading {} (to `{target}`)", describe(m, k)),
                e,
            )
        })?;
        if steps(&down) != [id] {
            return Err(ctx.failed(format!(
                "downgrading to `{target}` reverted {:?} instead of `{id}` alone",
                steps(&down)
            )));
        }
        let reverted = ctx.capture(m, t).await?;
        if let Some(d) = before.diff_labeled(&reverted, "before the upgrade", "after the downgrade")
        {
            return Err(ctx.failed(format!(
                "the downgrade of revision {} does not undo its upgrade: the schema after `downgrade {target}` differs from the schema before `upgrade {id}`:\n{d}",
                describe(m, k)
            )));
        }
        m.upgrade(t.db(), id).await.map_err(|e| {
            ctx.failed_by(
                format_args!(
                    "upgrading to {} again after its downgrade failed, so the downgrade left something behind the upgrade trips over",
                    describe(m, k)
                ),
                e,
            )
        })?;
        let again = ctx.capture(m, t).await?;
        if let Some(d) = after.diff_labeled(&again, "first upgrade", "upgrade after downgrade") {
            return Err(ctx.failed(format!(
                "upgrading revision {} again after its downgrade gives a different schema than the first time:\n{d}",
                describe(m, k)
            )));
        }
        last = Some((with, again));
        stepped.push(format!("{id} -> {target}"));
    }
    rep.notes.push(format!(
        "{} revision(s) upgraded, downgraded one step and upgraded again with identical schemas",
        stepped.len()
    ));
    if !stepped.is_empty() {
        rep.notes.push(format!(
            "one-step downgrade targets: {}",
            stepped.join(", ")
        ));
    }
    Ok(rep)
}

/// A downgrade target whose plan, from `applied`, reverts exactly revision `k`: a parent,
/// `base` or `-1`, in that order of preference.
fn one_step_target(plan: &Plan<'_>, applied: &[bool], k: usize) -> Option<String> {
    let rev = &plan.set().revisions()[k];
    let exact = |t: &Target| plan.downgrade(applied, t).is_ok_and(|p| p == [k]);
    rev.parents()
        .iter()
        .find(|p| exact(&Target::Revision(p.to_string())))
        .map(|p| p.to_string())
        .or_else(|| exact(&Target::Base).then(|| "base".to_owned()))
        .or_else(|| exact(&Target::Relative(-1)).then(|| "-1".to_owned()))
}

/// Every target that could revert something, with the plan each would run from `applied`, in
/// order of preference: explicit revisions first, then branch labels, `base`, and `-1` last.
/// Targets the runtime would refuse (irreversible revisions, ambiguity) are left out.
fn downgrade_options(plan: &Plan<'_>, applied: &[bool]) -> Vec<(String, Vec<usize>)> {
    let set = plan.set();
    let mut targets: Vec<Target> = set
        .revisions()
        .iter()
        .map(|r| Target::Revision(r.id().to_owned()))
        .collect();
    for r in set.revisions() {
        for l in r.branch_labels() {
            targets.push(Target::LabelBase(l.to_string()));
            targets.push(Target::LabelRelative(l.to_string(), -1));
        }
    }
    targets.extend([Target::Base, Target::Relative(-1)]);
    targets
        .into_iter()
        .filter_map(|t| {
            let p = plan.downgrade(applied, &t).ok()?;
            (!p.is_empty()).then(|| (t.to_string(), p))
        })
        .collect()
}

/// Brings the database from `now` to exactly `need` (the ancestors of revision `k`): reverts
/// what `need` lacks with explicit targets, preferring ones that revert nothing else, then
/// upgrades to `k`'s parents. Starts over on a new database when an irreversible revision
/// blocks the way down.
#[allow(clippy::too_many_arguments)]
async fn move_to(
    ctx: Ctx,
    m: &Migrator,
    plan: &Plan<'_>,
    dialect: Dialect,
    t: &mut TestDb,
    mut now: Vec<bool>,
    need: &[bool],
    k: usize,
    rep: &mut CheckReport,
) -> Result<(), CheckError> {
    loop {
        let extra: Vec<usize> = (0..now.len()).filter(|&i| now[i] && !need[i]).collect();
        if extra.is_empty() {
            break;
        }
        // Best: a plan inside `extra`, as large as possible; else one touching `extra` that
        // reverts as few needed revisions as possible (they are upgraded again below).
        let best = downgrade_options(plan, &now)
            .into_iter()
            .filter(|(_, p)| p.iter().any(|i| extra.contains(i)))
            .min_by_key(|(_, p)| {
                let outside = p.iter().filter(|i| !extra.contains(i)).count();
                (outside, usize::MAX - p.len())
            });
        let Some((target, _)) = best else {
            let blockers: Vec<String> = ids(
                m,
                extra
                    .iter()
                    .copied()
                    .filter(|&i| plan.set().revisions()[i].is_irreversible()),
            );
            rep.notes.push(format!(
                "started over on a new database at `{}`: its parents cannot be reached by downgrading past irreversible {}",
                plan.set().revisions()[k].id(),
                if blockers.is_empty() { "revisions".to_owned() } else { blockers.join(", ") }
            ));
            let Some(fresh) = ctx.fresh(dialect).await? else {
                return Err(ctx.setup_msg("the database server went away during the check"));
            };
            let old = std::mem::replace(t, fresh);
            finish(old).await;
            now = vec![false; now.len()];
            continue;
        };
        let down = m.downgrade(t.db(), &target).await.map_err(|e| {
            ctx.failed_by(
                format_args!(
                    "downgrading to `{target}` to reach the parents of {}",
                    describe(m, k)
                ),
                e,
            )
        })?;
        rep.notes.push(format!(
            "before `{}`: downgrade {target} (reverted {})",
            plan.set().revisions()[k].id(),
            steps(&down).join(", ")
        ));
        now = applied(ctx, m, t.db()).await?;
    }
    for p in requires(m, k) {
        let id = &plan.set().revisions()[p].id();
        let up = m.upgrade(t.db(), id).await.map_err(|e| {
            ctx.failed_by(
                format_args!("upgrading to `{id}`, a parent of {}", describe(m, k)),
                e,
            )
        })?;
        if !up.is_noop() {
            rep.notes.push(format!(
                "before `{}`: upgrade {id} (applied {})",
                plan.set().revisions()[k].id(),
                steps(&up).join(", ")
            ));
        }
    }
    let reached = applied(ctx, m, t.db()).await?;
    if reached != need {
        return Err(ctx.failed(format!(
            "could not bring the database to exactly the ancestors of `{}`: applied {:?}, wanted {:?}",
            plan.set().revisions()[k].id(),
            ids(m, members(&reached)),
            ids(m, members(need))
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

/// The schema the migrations build equals a declared schema file for this engine: the file is
/// applied, statement by statement, to a second throwaway database and the two captures are
/// compared; the diff is the failure message.
pub async fn matches_schema_file(
    migrator: &Migrator,
    dialect: Dialect,
    path: impl AsRef<Path>,
) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let path = path.as_ref();
    let ctx = Ctx {
        check: "matches_schema_file",
        dialect: Some(dialect),
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| ctx.setup_msg(format!("cannot read {}: {e}", path.display())))?;
    let Some(migrated) = TestDb::migrated(migrator, dialect)
        .await
        .map_err(|e| ctx.failed_by("migrating a throwaway database to every head", e))?
    else {
        return Ok(ctx.report().skip(dialect));
    };
    let declared = match ctx.fresh(dialect).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            finish(migrated).await;
            return Ok(ctx.report().skip(dialect));
        }
        Err(e) => {
            finish(migrated).await;
            return Err(e);
        }
    };
    let r = async {
        apply_file(ctx, &declared, &text, path).await?;
        let ours = ctx.capture(migrator, &migrated).await?;
        let theirs = ctx.capture(migrator, &declared).await?;
        let file = path.display().to_string();
        if let Some(d) = ours.diff_labeled(&theirs, "the migrations", &file) {
            return Err(ctx.failed(format!(
                "the schema the migrations build differs from {file}:\n{d}"
            )));
        }
        let mut rep = ctx.report();
        rep.revisions = migrator.set().len();
        rep.notes.push(format!(
            "{} object line(s) identical to {file}",
            ours.lines().len()
        ));
        Ok(rep)
    }
    .await;
    finish(migrated).await;
    finish(declared).await;
    r.map(|rep| rep.done(started))
}

async fn apply_file(ctx: Ctx, t: &TestDb, text: &str, path: &Path) -> Result<(), CheckError> {
    let statements = kiln_core::split::split(text, t.dialect()).map_err(|e| {
        ctx.failed(format!(
            "{}:{}: cannot split into statements: {}",
            path.display(),
            e.line,
            e.message
        ))
    })?;
    let mut conn = RawConnection::acquire(t.db())
        .await
        .map_err(|e| ctx.setup("cannot connect", e))?;
    for st in statements {
        if let Err(e) = conn.script(st.sql.to_owned()).await {
            return Err(ctx.failed(format!(
                "{}:{}: the declared schema does not apply: {e}",
                path.display(),
                st.line
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

/// A downgrade leaves no trace: from every head down to base, no table, view, type, sequence,
/// trigger or routine is left besides kiln's own tables, and kiln's version table is empty.
///
/// Irreversible revisions make base unreachable from the head. Then two things are checked,
/// and the report says which revisions stayed:
/// 1. From every head, the database is downgraded to the lowest point explicit targets can
///    reach without reverting an irreversible revision, and its schema (and the number of rows
///    in each table) must equal a new database upgraded straight to that point.
/// 2. A new database is upgraded to every revision that does not need an irreversible one,
///    then downgraded to base, and must be empty as above.
pub async fn downgrade_leaves_no_trace(
    migrator: &Migrator,
    dialect: Dialect,
) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let ctx = Ctx {
        check: "downgrade_leaves_no_trace",
        dialect: Some(dialect),
    };
    let mut rep = ctx.report();
    rep.revisions = migrator.set().len();
    let plan = Plan::new(migrator.set());
    let n = migrator.set().len();
    let irreversible: Vec<usize> = (0..n)
        .filter(|&i| migrator.set().revisions()[i].is_irreversible())
        .collect();
    rep.irreversible = ids(migrator, irreversible.iter().copied());

    let Some(t) = TestDb::migrated(migrator, dialect)
        .await
        .map_err(|e| ctx.failed_by("upgrading a throwaway database to every head", e))?
    else {
        return Ok(rep.skip(dialect));
    };
    let r = lowest_point(ctx, migrator, &plan, dialect, &t, &mut rep).await;
    finish(t).await;
    r?;

    if !irreversible.is_empty() {
        let blocked = plan.descendants_or_self(&irreversible);
        let reversible: Vec<bool> = (0..n).map(|i| !blocked[i]).collect();
        let Some(t) = ctx.fresh(dialect).await? else {
            return Ok(rep.skip(dialect));
        };
        let r = async {
            if reversible.iter().any(|&b| b) {
                for h in plan.current_heads(&reversible) {
                    let id = migrator.set().revisions()[h].id();
                    migrator.upgrade(t.db(), id).await.map_err(|e| {
                        ctx.failed_by(format_args!("upgrading to `{id}`"), e)
                    })?;
                }
                downgrade_to_base(ctx, migrator, &t).await?;
                rep.notes.push(format!(
                    "every revision that needs no irreversible one ({}) downgraded to base without a trace",
                    ids(migrator, members(&reversible)).join(", ")
                ));
            }
            Ok::<_, CheckError>(())
        }
        .await;
        finish(t).await;
        r?;
    }
    Ok(rep.done(started))
}

/// Check 1 of [`downgrade_leaves_no_trace`], on a database at every head.
async fn lowest_point(
    ctx: Ctx,
    m: &Migrator,
    plan: &Plan<'_>,
    dialect: Dialect,
    t: &TestDb,
    rep: &mut CheckReport,
) -> Result<(), CheckError> {
    let mut now = applied(ctx, m, t.db()).await?;
    if !rep.irreversible.is_empty() {
        // Only plans the runtime accepts are offered, so none reverts an irreversible
        // revision; take the largest until none is left.
        while let Some((target, _)) = downgrade_options(plan, &now)
            .into_iter()
            .min_by_key(|(_, p)| usize::MAX - p.len())
        {
            m.downgrade(t.db(), &target)
                .await
                .map_err(|e| ctx.failed_by(format_args!("downgrading to `{target}`"), e))?;
            now = applied(ctx, m, t.db()).await?;
        }
    }
    if !now.iter().any(|&a| a) || rep.irreversible.is_empty() {
        downgrade_to_base(ctx, m, t).await?;
        rep.notes
            .push("every head downgraded to base without a trace".to_owned());
        return Ok(());
    }
    rep.kept = ids(m, members(&now));
    let heads = ids(m, plan.current_heads(&now));
    if now.iter().all(|&a| a) {
        rep.notes.push(format!(
            "nothing can be downgraded from the head: every revision is needed by irreversible {}",
            rep.irreversible.join(", ")
        ));
        return Ok(());
    }
    let Some(straight) = ctx.fresh(dialect).await? else {
        return Err(ctx.setup_msg("the database server went away during the check"));
    };
    let r = async {
        for h in &heads {
            m.upgrade(straight.db(), h)
                .await
                .map_err(|e| ctx.failed_by(format_args!("upgrading to `{h}`"), e))?;
        }
        let down = ctx.capture(m, t).await?;
        let up = ctx.capture(m, &straight).await?;
        let at = heads.join(", ");
        if let Some(d) = down.diff_labeled(&up, "downgraded from the head", "upgraded straight")
        {
            return Err(ctx.failed(format!(
                "downgrading from the head to the lowest reachable point ({at}) leaves a different schema than upgrading straight to it:\n{d}"
            )));
        }
        for table in down.tables.keys() {
            let a = count_rows(ctx, t, table).await?;
            let b = count_rows(ctx, &straight, table).await?;
            if a != b {
                return Err(ctx.failed(format!(
                    "table {table} holds {a} row(s) after downgrading from the head to {at}, but {b} when upgraded straight to it: a downgrade left rows behind (or removed too many)"
                )));
            }
        }
        rep.notes.push(format!(
            "lowest point reachable from the head: {at}; schema and row counts equal to upgrading straight there"
        ));
        Ok(())
    }
    .await;
    finish(straight).await;
    r
}

/// Downgrades to base and checks nothing but kiln's own tables is left, and no version row.
async fn downgrade_to_base(ctx: Ctx, m: &Migrator, t: &TestDb) -> Result<(), CheckError> {
    m.downgrade(t.db(), "base")
        .await
        .map_err(|e| ctx.failed_by("downgrading to base", e))?;
    let left = ctx.capture(m, t).await?;
    if !left.is_empty() {
        let lines: Vec<String> = left
            .lines()
            .into_iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    format!("    {k}")
                } else {
                    format!("    {k}: {v}")
                }
            })
            .collect();
        return Err(ctx.failed(format!(
            "after downgrading to base these objects are left behind (kiln's own tables aside):\n{}",
            lines.join("\n")
        )));
    }
    let st = m
        .current(t.db())
        .await
        .map_err(|e| ctx.setup("cannot read the version table", e))?;
    if !st.applied.is_empty() {
        return Err(ctx.failed(format!(
            "after downgrading to base kiln's version table still holds rows for {}",
            st.applied
                .iter()
                .map(|a| format!("{} ({})", a.revision, a.state))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

async fn count_rows(ctx: Ctx, t: &TestDb, table: &str) -> Result<u64, CheckError> {
    let d = t.dialect();
    let name = match table.split_once('.') {
        Some((s, n)) if d == Dialect::Postgres => {
            format!("{}.{}", quote_ident(d, s), quote_ident(d, n))
        }
        _ => quote_ident(d, table),
    };
    let mut conn = RawConnection::acquire(t.db())
        .await
        .map_err(|e| ctx.setup("cannot connect", e))?;
    let rows = conn
        .rows(&format!("SELECT COUNT(*) FROM {name}"), &[0])
        .await
        .map_err(|e| {
            ctx.setup(
                format_args!("cannot count the rows of {table}"),
                Error::db("counting rows")(e),
            )
        })?;
    Ok(rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}
