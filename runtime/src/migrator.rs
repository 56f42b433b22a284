//! [`Migrator`]: an embedded (or loaded) migration set plus the settings used to apply it.

use crate::options::Options;
use kiln_core::embedded::{EmbeddedSet, SetSource};
use kiln_core::{Diagnostics, MigrationDir, MigrationSet};
use std::borrow::Cow;

/// A validated migration set and how to apply it.
///
/// Usually built at compile time by `kiln::migrations!()` into a `static`; [`Migrator::load`]
/// builds the same thing from a directory at run time (the CLI does this). An embedded set is held
/// in the macro's flat form and decoded on first use of [`Migrator::set`] (see
/// `kiln_core::embedded`); the no-op start-up check never decodes it.
#[derive(Debug, Clone)]
pub struct Migrator {
    set: SetSource,
    options: Options,
}

const ZERO_DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Migrator {
    /// A migrator with no revisions. The macro also expands to this after reporting a compile
    /// error, so one mistake does not produce a cascade of type errors.
    pub const EMPTY: Migrator = Migrator::from_set(MigrationSet::from_parts(
        Cow::Borrowed(&[]),
        Cow::Borrowed(&[]),
        Cow::Borrowed(&[]),
        Cow::Borrowed(ZERO_DIGEST),
    ));

    /// Wraps a validated set with default [`Options`].
    pub const fn from_set(set: MigrationSet) -> Self {
        Migrator {
            set: SetSource::built(set),
            options: Options::DEFAULT,
        }
    }

    /// Wraps a set embedded by `kiln::migrations!`, with default [`Options`]. Hidden: generated
    /// code calls it.
    #[doc(hidden)]
    pub const fn embedded(set: &'static EmbeddedSet) -> Self {
        Migrator {
            set: SetSource::embedded(set),
            options: Options::DEFAULT,
        }
    }

    /// Loads and validates a directory at run time, with the same checks the macro makes.
    pub fn load(dir: &MigrationDir) -> Result<Self, Diagnostics> {
        kiln_core::load_dir(dir).map(|l| Migrator::from_set(l.set))
    }

    /// The same revisions with other settings.
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The settings in use.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The revisions (an embedded set is decoded on the first call).
    pub fn set(&self) -> &MigrationSet {
        self.set.get()
    }

    /// The set as held: what [`Session`] takes, so the start-up check can skip decoding.
    pub(crate) fn source(&self) -> &SetSource {
        &self.set
    }
}

use crate::db::Db;
use crate::engine::{Op, Session, history_of, status_of};
use crate::error::{Error, Result};
use crate::report::{AuditEntry, HistoryEntry, Hooks, Report, Status};
use kiln_core::{Plan, Target};
use std::future::Future;
use std::pin::Pin;

/// A future compiled in this crate, whatever crate awaits it.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

impl Migrator {
    /// Brings the database to every head: what a service calls at start-up.
    ///
    /// When nothing is pending this is one read of one row, whatever the number of revisions, and
    /// takes no lock. Otherwise it takes the run lock, re-reads the state under it (another
    /// replica may have finished the work meanwhile) and applies what is still missing.
    pub async fn run(&self, db: impl Into<Db>) -> Result<Report> {
        self.run_boxed(db.into()).await
    }

    /// The body of [`Migrator::run`], boxed so the state machine is compiled once in this crate
    /// rather than in every crate that calls `run` (issue 15: it dominated the build of a crate
    /// embedding its migrations). One allocation per call.
    fn run_boxed(&self, db: Db) -> BoxFuture<'_, Report> {
        Box::pin(async move {
            let mut s = Session::open(&self.set, &self.options, &db).await?;
            if s.at_head_fast().await? {
                return Ok(Report::default());
            }
            s.mutate(Op::Upgrade(Target::Heads), Hooks::default()).await
        })
    }

    /// Fails unless the database is exactly at every head with nothing dirty, drifted or unknown.
    /// Changes nothing and takes no lock: for replicas that must not migrate.
    pub async fn check(&self, db: impl Into<Db>) -> Result<()> {
        self.check_boxed(db.into()).await
    }

    /// The body of [`Migrator::check`], boxed for the reason given at [`Migrator::run_boxed`].
    fn check_boxed(&self, db: Db) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut s = Session::open(&self.set, &self.options, &db).await?;
            if s.at_head_fast().await? {
                return Ok(());
            }
            let rows = s.read_versions().await?.unwrap_or_default();
            if let Err(e) = crate::engine::analyze(self.set(), &self.options, &rows) {
                // A revision marked as running is only dirty if nobody is running it: while another
                // replica holds the run lock it is a migration in progress, and the advice to repair
                // it by hand would be dangerous.
                if let Error::Dirty { revision, .. } = &e
                    && self.options().lock
                    && s.lock_held_elsewhere().await?
                {
                    return Err(Error::InProgress {
                        revision: revision.clone(),
                    });
                }
                return Err(e);
            }
            let status = status_of(self.set(), rows);
            if status.pending.is_empty() {
                Ok(())
            } else {
                Err(Error::NotAtHead {
                    pending: status.pending,
                })
            }
        })
    }

    /// Applies every revision needed to reach `target` (Alembic's grammar: `head`, `heads`, `+1`,
    /// a revision prefix, `LABEL@head`, ...).
    pub async fn upgrade(&self, db: impl Into<Db>, target: &str) -> Result<Report> {
        self.upgrade_with(db, target, Hooks::default()).await
    }

    /// [`Migrator::upgrade`] with progress callbacks and a stop flag.
    pub async fn upgrade_with(
        &self,
        db: impl Into<Db>,
        target: &str,
        hooks: Hooks<'_>,
    ) -> Result<Report> {
        self.mutate(db, Op::Upgrade(Target::parse(target)?), hooks)
            .await
    }

    /// Reverts every applied revision that `target` does not need, children first (`-1`, `base`,
    /// a revision, `LABEL@base`, ...). Revisions on other labelled branches are left alone.
    pub async fn downgrade(&self, db: impl Into<Db>, target: &str) -> Result<Report> {
        self.downgrade_with(db, target, Hooks::default()).await
    }

    /// [`Migrator::downgrade`] with progress callbacks and a stop flag.
    pub async fn downgrade_with(
        &self,
        db: impl Into<Db>,
        target: &str,
        hooks: Hooks<'_>,
    ) -> Result<Report> {
        self.mutate(db, Op::Downgrade(Target::parse(target)?), hooks)
            .await
    }

    /// One locked run of `op`: the shared body of [`Migrator::upgrade_with`] and
    /// [`Migrator::downgrade_with`].
    async fn mutate(&self, db: impl Into<Db>, op: Op, hooks: Hooks<'_>) -> Result<Report> {
        self.mutate_boxed(db.into(), op, hooks).await
    }

    /// The body of [`Migrator::mutate`], boxed for the reason given at [`Migrator::run_boxed`].
    fn mutate_boxed<'a>(&'a self, db: Db, op: Op, hooks: Hooks<'a>) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            Session::open(&self.set, &self.options, &db)
                .await?
                .mutate(op, hooks)
                .await
        })
    }

    /// Records the database as being exactly at `targets` (and everything they need) without
    /// running any SQL. Clears a dirty marker. With `purge`, first forgets every recorded row,
    /// including ones this binary does not know. Audited.
    ///
    /// Refuses at once with [`Error::StampWhileRunning`] while another runner holds the run lock
    /// (it does not wait: the state to record was decided before that run changed it); otherwise
    /// takes the lock and reads the state under it.
    pub async fn stamp(&self, db: impl Into<Db>, targets: &[&str], purge: bool) -> Result<Report> {
        let targets = targets
            .iter()
            .map(|t| Target::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let db = db.into();
        Session::open(&self.set, &self.options, &db)
            .await?
            .mutate(Op::Stamp(targets, purge), Hooks::default())
            .await
    }

    /// What the database has applied, what is pending, and anything wrong. A revision another
    /// runner is applying right now is in [`Status::in_progress`](crate::Status), not `dirty`.
    pub async fn current(&self, db: impl Into<Db>) -> Result<Status> {
        let db = db.into();
        Session::open(&self.set, &self.options, &db)
            .await?
            .status()
            .await
    }

    /// Revisions not yet applied, in the order `run` would apply them.
    pub async fn pending(&self, db: impl Into<Db>) -> Result<Vec<String>> {
        Ok(self.current(db).await?.pending)
    }

    /// Every revision in order, with when it was applied.
    pub async fn history(&self, db: impl Into<Db>) -> Result<Vec<HistoryEntry>> {
        let status = self.current(db).await?;
        Ok(history_of(self.set(), &status))
    }

    /// The set's heads.
    pub fn heads(&self) -> Vec<&str> {
        self.set().heads().iter().map(|h| &**h).collect()
    }

    /// The audit trail, oldest first.
    pub async fn audit(&self, db: impl Into<Db>) -> Result<Vec<AuditEntry>> {
        let db = db.into();
        Session::open(&self.set, &self.options, &db)
            .await?
            .audit()
            .await
    }

    /// The revisions an upgrade to `target` would apply, without changing anything.
    pub async fn plan_upgrade(&self, db: impl Into<Db>, target: &str) -> Result<Vec<String>> {
        let target = Target::parse(target)?;
        let (applied, _) = self.applied(db).await?;
        let plan = Plan::new(self.set());
        Ok(self.ids(&plan.upgrade(&applied, &target)?))
    }

    /// The revisions a downgrade to `target` would revert, without changing anything.
    pub async fn plan_downgrade(&self, db: impl Into<Db>, target: &str) -> Result<Vec<String>> {
        let target = Target::parse(target)?;
        let (applied, status) = self.applied(db).await?;
        let plan = Plan::new(self.set());
        let todo = plan.downgrade(&applied, &target)?;
        crate::guard::downgrade_below_unknown(self.set(), &status.applied, &applied, &todo)?;
        Ok(self.ids(&todo))
    }

    async fn applied(&self, db: impl Into<Db>) -> Result<(Vec<bool>, Status)> {
        let db = db.into();
        let mut s = Session::open(&self.set, &self.options, &db).await?;
        let rows = s.read_versions().await?.unwrap_or_default();
        let applied = crate::engine::analyze(self.set(), &self.options, &rows)?;
        Ok((applied, status_of(self.set(), rows)))
    }

    fn ids(&self, v: &[usize]) -> Vec<String> {
        v.iter()
            .map(|&i| self.set().revisions()[i].id().to_owned())
            .collect()
    }
}
