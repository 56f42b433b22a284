//! Fleets: one migration set applied to many databases ([`Migrator::run_each`]), with bounded
//! parallelism, a canary, a failure policy and cancellation; and the targets it runs on
//! ([`FleetTarget`], schemas or databases listed from one server).
//!
//! Each database is one ordinary run: its own connection, its own run lock, its own audit rows.
//! Nothing is shared between databases but the worker slots, so several processes (on several
//! machines) can work through the same list: the run lock makes them take turns per database, and
//! the one-read check makes a database already at head cost one query. A rerun after a crash or a
//! partial failure therefore resumes by construction.

use crate::db::{Db, Reached};
use crate::engine::{Op, Session};
use crate::error::{Error, Result};
use crate::migrator::Migrator;
use crate::options::Options;
use crate::raw::{RawConnection, quote_literal};
use crate::report::{Hooks, Report, Status};
use kiln_core::Dialect;

/// Targets of [`FleetOp`] (`head`, `heads`, ...): [`Target::parse`] reads Alembic's grammar.
pub use kiln_core::Target;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One database of a fleet: a URL, and for a schema per tenant, the schema.
#[derive(Clone, PartialEq, Eq)]
pub struct FleetTarget {
    url: String,
    schema: Option<String>,
}

impl std::fmt::Debug for FleetTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetTarget")
            .field("url", &self.shown())
            .field("schema", &self.schema)
            .finish()
    }
}

impl FleetTarget {
    /// A whole database, as its URL names it.
    pub fn url(url: impl Into<String>) -> FleetTarget {
        FleetTarget {
            url: url.into(),
            schema: None,
        }
    }

    /// One tenant's schema on the server `server_url` names.
    ///
    /// On PostgreSQL the run connects with `search_path` set to `schema` (the URL parameter
    /// `options=-csearch_path%3D<schema>`, see [`crate::url::with_search_path`]), so the
    /// revisions' unqualified names land in the tenant's schema, and kiln's own tables (and so its
    /// run lock) live there too ([`Options::schema`]). On MySQL/MariaDB a schema is a database:
    /// the URL's database name is replaced. SQLite has no schemas.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a schema name that is not 1 to 63 of `A-Z a-z 0-9 _`, or a SQLite
    /// URL; [`Error::Url`] for a URL kiln cannot use.
    pub fn schema(server_url: &str, schema: &str) -> Result<FleetTarget> {
        crate::sql::check_name("schema", schema)?;
        let url = match crate::url::validate(server_url)? {
            Dialect::Postgres => crate::url::with_search_path(server_url, schema),
            Dialect::MySql => crate::url::with_database(server_url, schema),
            _ => {
                return Err(Error::Config(format!(
                    "SQLite has no schemas, so `{}` cannot hold tenant `{schema}`; list the SQLite files instead (`--each-sqlite 'data/*.db'`)",
                    crate::url::redact_url(server_url)
                )));
            }
        };
        Ok(FleetTarget {
            url,
            schema: Some(schema.to_owned()),
        })
    }

    /// The URL kiln connects to (it may hold a password: print [`FleetTarget::shown`]).
    pub fn raw_url(&self) -> &str {
        &self.url
    }

    /// The tenant schema, for targets made by [`FleetTarget::schema`].
    pub fn schema_name(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The URL without its password, safe to print.
    pub fn shown(&self) -> String {
        crate::url::redact_url(&self.url)
    }

    /// The options for this target: `base`, with the tenant's schema holding kiln's tables on
    /// PostgreSQL (so each tenant has its own version table and its own run lock).
    fn options(&self, base: &Options) -> Options {
        match (&self.schema, crate::url::dialect_of(&self.url)) {
            (Some(s), Some(Dialect::Postgres)) => base.clone().schema(s.clone()),
            _ => base.clone(),
        }
    }
}

/// What to do on each database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FleetOp {
    /// Upgrade to a target (`head`, `heads`, ...). A database already at every head costs one
    /// read and takes no lock.
    Upgrade(Target),
    /// Downgrade to a target.
    Downgrade(Target),
    /// Read the status only (`kiln current --each`, `kiln check --each`). Changes nothing.
    Status,
}

/// How a fleet run proceeds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FleetOptions {
    /// Databases worked on at once. Default 4; 0 is taken as 1.
    pub jobs: usize,
    /// The first `canary` databases run (up to `jobs` at a time) before any other starts; if one
    /// of them fails, no other database is touched, whatever [`FleetOptions::keep_going`] says.
    /// Default 0.
    pub canary: usize,
    /// After a failure, keep starting the remaining databases (`true`) or start no more
    /// (`false`, the default; the ones already running finish).
    pub keep_going: bool,
    /// Set it to `true` to stop: no database starts any more, and the ones running stop after
    /// their revision in progress ([`Error::Interrupted`]). Ctrl-C sets it in the CLI.
    pub cancel: Arc<AtomicBool>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            jobs: 4,
            canary: 0,
            keep_going: false,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl FleetOptions {
    /// Sets the number of databases worked on at once.
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }
    /// Sets the number of canary databases.
    pub fn canary(mut self, canary: usize) -> Self {
        self.canary = canary;
        self
    }
    /// Keep going after a failure.
    pub fn keep_going(mut self, on: bool) -> Self {
        self.keep_going = on;
        self
    }
    /// Uses `flag` as the cancellation flag.
    pub fn cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = flag;
        self
    }
}

/// Why a database was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// A canary database failed.
    CanaryFailed,
    /// Another database failed and [`FleetOptions::keep_going`] was off.
    EarlierFailure,
    /// The run was cancelled.
    Cancelled,
}

impl SkipReason {
    /// `canary failed`, `earlier failure`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::CanaryFailed => "canary failed",
            SkipReason::EarlierFailure => "earlier failure",
            SkipReason::Cancelled => "cancelled",
        }
    }
}

/// What became of one database.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// Revisions were applied (or reverted); the report lists them.
    Applied(Report),
    /// Nothing to do: already where it was asked to be.
    AtHead,
    /// The run failed; revisions completed before the failure stay applied
    /// ([`Error::completed_steps`]).
    Failed {
        /// The revision that failed, when the error is about one.
        revision: Option<String>,
        /// What went wrong.
        error: Error,
    },
    /// Not started.
    Skipped(SkipReason),
    /// The database's status ([`FleetOp::Status`]).
    Status(Status),
}

impl Outcome {
    /// `applied`, `at head`, `failed`, `skipped` or `status`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Applied(_) => "applied",
            Outcome::AtHead => "at head",
            Outcome::Failed { .. } => "failed",
            Outcome::Skipped(_) => "skipped",
            Outcome::Status(_) => "status",
        }
    }
}

/// One database's result.
#[derive(Debug)]
#[non_exhaustive]
pub struct DbResult {
    /// Its position in the list of targets, from 0.
    pub index: usize,
    /// The database.
    pub target: FleetTarget,
    /// What became of it.
    pub outcome: Outcome,
    /// Time spent on it (zero when skipped).
    pub duration: Duration,
}

/// Every database's result, in the order of the list.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct FleetReport {
    /// One per target, ordered by [`DbResult::index`].
    pub results: Vec<DbResult>,
    /// The run was cancelled.
    pub cancelled: bool,
}

impl FleetReport {
    /// How many results have this outcome name ([`Outcome::as_str`]).
    pub fn count(&self, outcome: &str) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome.as_str() == outcome)
            .count()
    }

    /// The failed databases.
    pub fn failed(&self) -> impl Iterator<Item = &DbResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
    }

    /// `true` when no database failed or was skipped.
    pub fn is_complete(&self) -> bool {
        self.results
            .iter()
            .all(|r| !matches!(r.outcome, Outcome::Failed { .. } | Outcome::Skipped(_)))
    }
}

impl Migrator {
    /// Applies `op` to every target: a fleet of databases, schemas or files.
    ///
    /// Targets are pulled from the iterator only as workers free up, at most
    /// [`FleetOptions::jobs`] at a time; each is one ordinary run (its own connection, run lock
    /// and audit rows in that database). `on_result` is called once per database as it finishes
    /// (or is skipped), in completion order, for progress bars and logs. Must be called inside a
    /// Tokio runtime; the databases run as tasks, so a multi-threaded runtime spreads SQLite's
    /// synchronous work over its threads.
    ///
    /// ```no_run
    /// # async fn demo(m: &kiln_runtime::Migrator) {
    /// use kiln_runtime::fleet::{FleetOp, FleetOptions, FleetTarget, Target};
    /// let targets = (1..=3).map(|i| FleetTarget::url(format!("sqlite://data/tenant_{i}.db")));
    /// let op = FleetOp::Upgrade(Target::Heads);
    /// let report = m
    ///     .run_each(targets, op, &FleetOptions::default().canary(1), &|r| {
    ///         println!("{}: {}", r.target.shown(), r.outcome.as_str())
    ///     })
    ///     .await;
    /// assert!(report.is_complete());
    /// # }
    /// ```
    pub async fn run_each<I>(
        &self,
        targets: I,
        op: FleetOp,
        fleet: &FleetOptions,
        on_result: &(dyn Fn(&DbResult) + Send + Sync),
    ) -> FleetReport
    where
        I: IntoIterator<Item = FleetTarget>,
    {
        let me = Arc::new(self.clone());
        let op = Arc::new(op);
        let reached = Arc::new(Reached::default());
        let jobs = fleet.jobs.max(1);
        let cancel = &fleet.cancel;
        let mut targets = targets.into_iter().enumerate();
        let mut running = tokio::task::JoinSet::new();
        let mut results = Vec::new();
        let mut stop: Option<SkipReason> = None;
        let mut started = 0usize;
        let record = |r: DbResult, results: &mut Vec<DbResult>| {
            on_result(&r);
            results.push(r);
        };
        loop {
            if stop.is_none() && cancel.load(Ordering::SeqCst) {
                stop = Some(SkipReason::Cancelled);
            }
            // Once the canaries have started, nothing else starts until every one has finished.
            let canary_barrier = fleet.canary > 0 && started == fleet.canary && !running.is_empty();
            if stop.is_none()
                && !canary_barrier
                && running.len() < jobs
                && let Some((index, target)) = targets.next()
            {
                started += 1;
                let me = Arc::clone(&me);
                let op = Arc::clone(&op);
                let cancel = Arc::clone(cancel);
                let reached = Arc::clone(&reached);
                running.spawn(async move {
                    let t0 = Instant::now();
                    let outcome = me.one(&target, &op, &cancel, &reached).await;
                    DbResult {
                        index,
                        target,
                        outcome,
                        duration: t0.elapsed(),
                    }
                });
                continue;
            }
            // Nothing running and nothing started: the list is done, or the run stops.
            let Some(joined) = running.join_next().await else {
                break;
            };
            let r = match joined {
                Ok(r) => r,
                // Only a panic in a driver or a runtime shutting down ends a task this way; the
                // run stops starting databases, as after a failure.
                Err(e) => {
                    stop.get_or_insert(SkipReason::EarlierFailure);
                    tracing::error!("a fleet task ended abnormally: {e}");
                    continue;
                }
            };
            if matches!(r.outcome, Outcome::Failed { .. }) {
                if r.index < fleet.canary {
                    stop = Some(SkipReason::CanaryFailed);
                } else if !fleet.keep_going {
                    stop.get_or_insert(SkipReason::EarlierFailure);
                }
            }
            record(r, &mut results);
        }
        let reason = stop.unwrap_or(SkipReason::EarlierFailure);
        for (index, target) in targets {
            record(
                DbResult {
                    index,
                    target,
                    outcome: Outcome::Skipped(reason),
                    duration: Duration::ZERO,
                },
                &mut results,
            );
        }
        results.sort_by_key(|r| r.index);
        FleetReport {
            results,
            cancelled: cancel.load(Ordering::SeqCst),
        }
    }

    /// One database of a fleet: connect, run, close.
    async fn one(
        &self,
        target: &FleetTarget,
        op: &FleetOp,
        cancel: &AtomicBool,
        reached: &Reached,
    ) -> Outcome {
        let options = target.options(self.options());
        let db = match Db::connect_to(&target.url, Some(reached)).await {
            Ok(db) => db,
            Err(error) => return failed(error),
        };
        let result = self.one_on(&db, &options, op, cancel).await;
        db.close().await;
        match result {
            Ok(o) => o,
            Err(error) => failed(error),
        }
    }

    async fn one_on(
        &self,
        db: &Db,
        options: &Options,
        op: &FleetOp,
        cancel: &AtomicBool,
    ) -> Result<Outcome> {
        let mut s = Session::open(self.source(), options, db).await?;
        let hooks = Hooks {
            on_event: None,
            stop: Some(cancel),
        };
        let report = match op {
            FleetOp::Status => return Ok(Outcome::Status(s.status().await?)),
            FleetOp::Upgrade(t) => s.mutate(Op::Upgrade(t.clone()), hooks).await?,
            FleetOp::Downgrade(t) => s.mutate(Op::Downgrade(t.clone()), hooks).await?,
        };
        Ok(if report.is_noop() {
            Outcome::AtHead
        } else {
            Outcome::Applied(report)
        })
    }
}

fn failed(error: Error) -> Outcome {
    Outcome::Failed {
        revision: error.revision().map(str::to_owned),
        error,
    }
}

/// The schemas (PostgreSQL) or databases (MySQL/MariaDB) on the server `server_url` names whose
/// names match the SQL `LIKE` pattern (`tenant_%`), sorted, as fleet targets
/// ([`FleetTarget::schema`]). PostgreSQL's own schemas (`pg_*`, `information_schema`) and
/// MySQL's system databases never match.
///
/// # Errors
///
/// Connecting or reading the catalog fails, or the server is SQLite ([`Error::Config`]).
pub async fn schemas_like(server_url: &str, pattern: &str) -> Result<Vec<FleetTarget>> {
    let sql = match crate::url::validate(server_url)? {
        Dialect::Postgres => format!(
            "SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname LIKE {} AND nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1",
            quote_literal(Dialect::Postgres, pattern)
        ),
        Dialect::MySql => format!(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE {} AND SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1",
            quote_literal(Dialect::MySql, pattern)
        ),
        _ => {
            return Err(Error::Config(format!(
                "`--each-schema` needs a PostgreSQL or MySQL/MariaDB server, and `{}` is SQLite; list the files with `--each-sqlite 'data/*.db'`",
                crate::url::redact_url(server_url)
            )));
        }
    };
    let names = first_column(server_url, &sql, "listing the schemas").await?;
    names
        .iter()
        .map(|n| FleetTarget::schema(server_url, n))
        .collect()
}

/// The fleet a control database lists: the first column of `query`'s rows, one URL each
/// (`SELECT url FROM tenants`). Empty and NULL values are skipped.
///
/// # Errors
///
/// Connecting to the control database or running the query fails.
pub async fn urls_from_query(control_url: &str, query: &str) -> Result<Vec<FleetTarget>> {
    let urls = first_column(control_url, query, "running the --each-query query").await?;
    Ok(urls.into_iter().map(FleetTarget::url).collect())
}

async fn first_column(url: &str, sql: &str, what: &str) -> Result<Vec<String>> {
    let db = Db::connect(url).await?;
    let rows = async {
        let mut c = RawConnection::acquire(&db).await?;
        c.rows(sql, &[]).await.map_err(Error::db(what))
    }
    .await;
    db.close().await;
    Ok(rows?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}
