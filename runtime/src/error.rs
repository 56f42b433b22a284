//! Errors from applying, reverting and inspecting revisions.

use crate::report::{Report, Step};
use kiln_core::TargetError;
use std::fmt;
use std::time::Duration;

/// Everything that can go wrong while kiln talks to a database.
///
/// Messages name the revision and its file; [`Error::help`] says what to run next where the
/// message does not. `Debug` shows the same text as `Display` plus the help line and the steps a
/// failed run completed, so `main() -> Result<(), Box<dyn std::error::Error>>` prints a readable
/// error rather than a dump of fields.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database driver failed (connection refused, permission denied, ...).
    /// The driver's text passes through [`crate::url::redact_url`] for any URL it echoes.
    #[error("database error while {context}: {}", crate::url::redact_text(&driver_text(source)))]
    Database {
        /// What kiln was doing.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The target does not resolve.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A statement of a revision failed.
    #[error("{direction} of revision `{revision}` failed at {file}{}: {message}{}", line.map(|l| format!(":{l}")).unwrap_or_default(), outcome_hint(*dirty, *run_rolled_back))]
    Statement {
        /// `upgrade` or `downgrade`.
        direction: &'static str,
        /// The revision.
        revision: String,
        /// Its file.
        file: String,
        /// The line of the failing statement in the file, when it could be found.
        line: Option<u32>,
        /// The database's own error message.
        message: String,
        /// `true` when the database may hold part of the revision (MySQL DDL, `transaction false`).
        dirty: bool,
        /// In whole-run mode ([`crate::TransactionMode::All`]), how many revisions had run in the
        /// same transaction before this one: all rolled back with it, none of them applied.
        /// `None` in per-revision mode.
        run_rolled_back: Option<u32>,
        /// The steps of the same run that completed (committed) before it; see
        /// [`Error::completed_steps`]. A thin box, so `Error` stays small enough to return by
        /// value.
        report: Option<Box<Report>>,
    },
    /// A revision failed part-way earlier and the database may hold part of it.
    #[error("the database is dirty: revision `{revision}` ({file}) stopped part-way during {direction}{}; MySQL/MariaDB and `transaction false` revisions cannot roll back, so some of its statements may have taken effect. Inspect the schema, finish or undo the revision by hand, then record the truth with `kiln stamp {revision}` (fully applied) or `kiln stamp {parents}` (fully undone)", error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Dirty {
        /// The revision.
        revision: String,
        /// Its file.
        file: String,
        /// `upgrade` or `downgrade`.
        direction: String,
        /// The recorded error.
        error: Option<Box<str>>,
        /// What to stamp when the revision is fully undone.
        parents: String,
    },
    /// Another runner is applying a revision right now (from [`crate::Migrator::check`]).
    #[error(
        "revision `{revision}` is being applied by another runner right now (it holds the migration lock); wait for it to finish and check again"
    )]
    InProgress {
        /// The revision in progress.
        revision: String,
    },
    /// An applied revision differs from the embedded one.
    #[error(
        "revision `{revision}` ({file}) was applied with checksum sha256:{recorded} but this binary embeds sha256:{embedded}; the file was edited after it ran. To fix it, {}", crate::advice::drift(current, *unknown)
    )]
    Drift {
        /// The revision.
        revision: String,
        /// Its file.
        file: Box<str>,
        /// The checksum recorded in the database.
        recorded: String,
        /// The checksum of the embedded file.
        embedded: String,
        /// The database's current revisions (the applied revisions' tips), for the advice. Boxed
        /// so that `Error` stays small enough to return by value.
        current: Box<[String]>,
        /// `true` when the database also has revisions this binary does not know.
        unknown: bool,
    },
    /// The database has revisions this binary does not know.
    #[error("the database has revision(s) this binary does not know: {}; it was migrated by a newer binary. Deploy that binary, or allow it during a rolling deploy with `Options::allow_unknown_applied(true)` (`--allow-unknown` on the CLI)", revisions.join(", "))]
    UnknownApplied {
        /// The unknown revisions.
        revisions: Vec<String>,
    },
    // Refusals about what the database holds beyond this binary's graph, and about a run's
    // outcome (engine, item 9 and 6 of issue 9).
    /// A downgrade would revert revisions that applied revisions this binary does not know may
    /// build on.
    #[error("refusing to downgrade: the database has applied revision(s) this binary does not know ({}), and kiln does not record their parents, so they may build on {}, which this downgrade would revert; reverting a revision under an applied child leaves that child on a schema it needs. Downgrade with the binary or migration directory that knows {}, which reverts them first; if they were undone by hand, forget them with `kiln stamp --purge {}` and downgrade again", unknown.join(", "), reverting.join(", "), unknown.join(", "), if current.is_empty() { "base".to_owned() } else { current.join(" ") })]
    UnknownDescendants {
        /// What the downgrade would have reverted.
        reverting: Vec<String>,
        /// The applied revisions this binary does not know.
        unknown: Vec<String>,
        /// The database's current known revisions (what a purge should keep).
        current: Vec<String>,
    },
    /// The database is not at head (from [`crate::Migrator::check`]).
    #[error("the database is not at head: {} pending ({}); run `kiln upgrade heads` or let the service migrate at start-up", pending.len(), pending.join(", "))]
    NotAtHead {
        /// Revisions not yet applied.
        pending: Vec<String>,
    },
    /// A statement of a revision gave up waiting for a lock another session held (its DDL lock
    /// timeout; see "DDL guardrails" in docs/runtime.md), on its last attempt.
    #[error("{direction} of revision `{revision}` gave up waiting for a lock at {file}{} after {attempts} attempt(s){}: {}; held by: {}{}", line.map(|l| format!(":{l}")).unwrap_or_default(), detail.timeout.map(|t| format!(" of {} each", kiln_core::time::format_duration(t))).unwrap_or_default(), detail.message, detail.blockers.join("; "), lock_hint(*dirty, *run_rolled_back))]
    DdlLockTimeout {
        /// `upgrade` or `downgrade`.
        direction: &'static str,
        /// The revision.
        revision: String,
        /// Its file.
        file: String,
        /// The line of the statement that waited, when it could be found.
        line: Option<u32>,
        /// How many times the revision was tried (1 + the retries).
        attempts: u32,
        /// `true` when earlier statements of the revision ran outside a transaction, so the
        /// database may hold part of it.
        dirty: bool,
        /// As in [`Error::Statement`]: in whole-run mode, how many revisions ran before this one
        /// in the same rolled-back transaction.
        run_rolled_back: Option<u32>,
        /// The wait, the server's message and the sessions that held the lock.
        detail: Box<LockWait>,
        /// The steps of the same run that completed before it; see [`Error::completed_steps`].
        report: Option<Box<Report>>,
    },
    /// Another runner held the lock for longer than the timeout.
    #[error(
        "timed out after {:.1} s waiting for the migration lock ({what}); another runner is migrating this database. Wait for it, or raise the timeout (`Options::lock_timeout`; `--lock-timeout SECONDS` on the CLI)", waited.as_secs_f64()
    )]
    LockTimeout {
        /// The timeout that expired (not the measured wait, which a loaded machine stretches).
        waited: Duration,
        /// Which lock.
        what: String,
    },
    /// A stamp was asked for while another runner holds the run lock.
    #[error(
        "another runner holds the migration lock ({what}) and is changing the database right now, so kiln does not stamp: the state you decided on may already be out of date, and a revision shown as running is in progress, not dirty. Wait for the run to finish, look again with `kiln check` or `kiln current`, and stamp only if it still reports a problem"
    )]
    StampWhileRunning {
        /// Which lock is held.
        what: String,
    },
    /// The run's lease in the lock table ([`crate::LockMode::Table`]) could not be renewed before
    /// it expired, or another runner took it over; the run stopped before its next revision.
    #[error(
        "the migration lease in table {table} {why}, so another runner may be migrating this database now; kiln stopped before {next} and every revision before it is committed. Run `kiln current` to see the state, then run the same command again"
    )]
    LeaseLost {
        /// The lock table.
        table: String,
        /// What happened to the lease.
        why: String,
        /// What the run did not start: a revision, or the `COMMIT` that would have applied one.
        next: String,
    },
    /// The run was stopped on request after a revision completed.
    #[error(
        "stopped on request after {completed} revision(s); the database is consistent at that point"
    )]
    Interrupted {
        /// Revisions completed before stopping.
        completed: usize,
        /// Those steps; see [`Error::completed_steps`].
        report: Option<Box<Report>>,
    },
    /// A revision's SQL could not be split into statements.
    #[error("cannot split revision `{revision}` ({file}:{line}) into statements: {message}")]
    Split {
        /// The revision.
        revision: String,
        /// Its file.
        file: String,
        /// The line in the file.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// The SQLite run lock file could not be opened or locked (owned by another user, a
    /// read-only directory, ...).
    #[error(
        "cannot {action} the run lock file {path}: {source}. kiln creates and locks this file next to the database so that runners take turns; make it (and its directory) writable by this user, or if it belongs to another user and no kiln process is running, remove it"
    )]
    LockFile {
        /// The lock file (or the database file whose real path was wanted).
        path: String,
        /// What kiln tried: `open`, `lock`, ...
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The migration set declares a dialect (kiln.toml or the `migrations!` argument) other than
    /// the database's: kiln read its SQL the way the declared dialect does, so it would not be
    /// safe to run it on this database.
    #[error(
        "these migrations declare `dialect = \"{}\"` (kiln.toml or the migrations! macro argument), but the database is {actual}; kiln found their sections and statements as {declared} reads SQL, so it will not run them on {actual}: connect to a {declared} database, or declare `dialect = \"{}\"` and run `kiln check`", declared.name(), actual.name()
    )]
    DialectMismatch {
        /// The declared dialect.
        declared: kiln_core::Dialect,
        /// The database's.
        actual: kiln_core::Dialect,
    },
    /// A setting is invalid.
    #[error("invalid setting: {0}")]
    Config(String),
    /// The database URL is invalid or names an engine this build does not include.
    #[error("cannot use database URL `{url}`: {reason}")]
    Url {
        /// The URL with any password removed.
        url: String,
        /// Why.
        reason: String,
    },
    // Lost connections (see `crate::net`).
    /// The connection to the server was lost (reset, or no reply within the I/O timeout while
    /// the server was not working on the request). `outcome` says what became of the revision in
    /// flight, checked after reconnecting where kiln could.
    #[error("the connection to the database was lost {}{}: {cause}; {}", lost_where(revision.as_deref(), file.as_deref(), *line, during), shared_note(*shared_with, *outcome), outcome.describe(revision.as_deref().unwrap_or("REV"), parents))]
    ConnectionLost {
        /// What kiln was doing: `the upgrade of`, `the COMMIT of`, `taking the migration lock`, ...
        during: Box<str>,
        /// The revision in flight, if any.
        revision: Option<String>,
        /// Its file.
        file: Option<String>,
        /// The line of the statement in flight, when one was.
        line: Option<u32>,
        /// The revision's parents (what to stamp when it is fully undone), `base` for a root.
        parents: Box<str>,
        /// What became of the revision in flight.
        outcome: LostOutcome,
        /// How many other revisions of the run were in the same transaction (whole-run mode,
        /// `TransactionMode::All`) and so share `outcome`: rolled back or committed with it.
        shared_with: u32,
        /// What failed: the reset, or how long kiln waited and what the server said.
        cause: Box<str>,
        /// The steps of the same run that completed before the connection was lost; see
        /// [`Error::completed_steps`].
        report: Option<Box<Report>>,
    },
    /// Reading the migration directory failed (runtime-loaded sets).
    #[error("{0}")]
    Invalid(#[from] kiln_core::Diagnostics),
}

/// What a revision that gave up waiting for a lock waited for, and on whom.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockWait {
    /// The lock timeout of each attempt; `None` when the server's own setting expired.
    pub timeout: Option<Duration>,
    /// The database's message for the last attempt.
    pub message: String,
    /// The sessions that held locks in a transaction older than the wait, as kiln could see
    /// them (process id, application or user, state, when the transaction began, its query),
    /// or a line saying why kiln cannot tell.
    pub blockers: Vec<String>,
}

fn lock_hint(dirty: bool, run_rolled_back: Option<u32>) -> String {
    let state = match (dirty, run_rolled_back) {
        (true, _) => {
            "statements of the revision before this one ran outside a transaction, so the database is marked dirty: inspect the schema, then finish the revision by hand and record it with `kiln stamp`"
        }
        (false, Some(n)) if n > 0 => {
            "the whole run's transaction was rolled back, so none of its revisions is applied and the database is as it was before the run"
        }
        _ => "the revision was not applied and the database is as it was before it",
    };
    format!(
        ". Queries queued behind it waited at most the lock timeout; {state}. Let the blocking transaction finish (or end it), then run again"
    )
}

fn outcome_hint(dirty: bool, run_rolled_back: Option<u32>) -> std::borrow::Cow<'static, str> {
    match (dirty, run_rolled_back) {
        (true, _) => DIRTY_HINT.into(),
        (false, Some(n)) if n > 0 => format!(
            "; the whole run's transaction was rolled back: the {n} revision(s) that ran before it in that transaction are not applied either ({} rolled back in all), and the database is as it was before that transaction began. Fix the SQL in a new revision (or in this one, if it is still a draft) and run again; `kiln current` shows the state",
            n + 1
        )
        .into(),
        _ => ROLLED_BACK_HINT.into(),
    }
}

/// What became of the work in flight when a connection was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LostOutcome {
    /// Nothing was being written.
    Unchanged,
    /// The revision's transaction had not committed; kiln ended the old session, so it is rolled
    /// back.
    RolledBack,
    /// The COMMIT got no reply; kiln reconnected and found the revision recorded.
    Committed,
    /// The COMMIT got no reply; kiln reconnected, ended the old session and found no record.
    NotCommitted,
    /// kiln could not reconnect (or not end the old session) to find out.
    Unknown,
    /// A statement of a revision that cannot roll back (MySQL/MariaDB DDL, `transaction false`)
    /// was in flight: it may or may not have run, and the revision stays marked in progress.
    Dirty,
    /// The in-progress marker's COMMIT got no reply, so no statement of the revision was sent;
    /// `true` when the marker reached the database anyway and is still there.
    NotStarted(bool),
    /// Every statement was acknowledged; only recording the revision as applied was lost.
    StatementsDone,
}

impl LostOutcome {
    fn describe(self, rev: &str, parents: &str) -> String {
        let again = "Run the same command again once the database is reachable; `kiln current` shows the state";
        match self {
            LostOutcome::Unchanged => format!("nothing was being changed. {again}"),
            LostOutcome::RolledBack => format!("outcome: rolled back; its transaction never committed, and the server rolls it back (and releases the run lock) when the old session ends, which kiln asks for and the server does by itself once it notices the lost client, so the database is as it was before the revision. {again}"),
            LostOutcome::Committed => "outcome: committed; kiln reconnected and found the revision recorded as applied. Run `kiln current` to confirm, then continue".to_owned(),
            LostOutcome::NotCommitted => format!("outcome: not committed; kiln reconnected, ended the old server session and found no record of the revision, so it was rolled back. {again}"),
            LostOutcome::Unknown => format!("outcome: unknown; the last request got no reply and kiln could not reconnect to check. When the database is reachable run `kiln current`: revision `{rev}` is listed as applied if its COMMIT landed, and as dirty if it stopped part-way"),
            LostOutcome::Dirty => format!("outcome: unknown; revision `{rev}` cannot roll back (MySQL/MariaDB DDL or `transaction false`) and the statement in flight may or may not have run on the server, so it stays marked in progress and kiln cannot tell which. Run `kiln current`, inspect the schema, finish or undo the revision by hand, then record the truth with `kiln stamp {rev}` (fully applied) or `kiln stamp {parents}` (fully undone)"),
            LostOutcome::NotStarted(false) => format!("outcome: not started; no statement of it was sent and its in-progress marker was not recorded. {again}"),
            LostOutcome::NotStarted(true) => format!("outcome: not started; the COMMIT of its in-progress marker reached the server but the reply did not, and kiln sends no statement before that reply, so none of its statements ran. The marker is still recorded: clear it with `kiln stamp {parents}`, then run the same command again"),
            LostOutcome::StatementsDone => format!("outcome: applied but not recorded; the server acknowledged every statement of `{rev}`, only recording it was lost, so it stays marked in progress. Record it with `kiln stamp {rev}`, then continue"),
        }
    }
}

/// In whole-run mode the outcome is the transaction's, not one revision's: say so, or a reader
/// takes the revisions before it for applied when they were rolled back with it.
fn shared_note(n: u32, outcome: LostOutcome) -> String {
    let fate = match outcome {
        LostOutcome::RolledBack | LostOutcome::NotCommitted => "rolled back with it, not applied",
        LostOutcome::Committed => "committed with it",
        LostOutcome::Unknown => "committed with it or not at all",
        _ => return String::new(),
    };
    match n {
        0 => String::new(),
        n => format!(
            ", in one transaction with {n} other revision(s) of this run (whole-run mode), {fate}"
        ),
    }
}

fn lost_where(rev: Option<&str>, file: Option<&str>, line: Option<u32>, during: &str) -> String {
    match (rev, file) {
        (Some(r), Some(f)) => format!(
            "during {during} revision `{r}` ({f}{})",
            line.map(|l| format!(":{l}")).unwrap_or_default()
        ),
        (Some(r), None) => format!("during {during} revision `{r}`"),
        _ => format!("while {during}"),
    }
}

const ROLLED_BACK_HINT: &str = "; the revision was rolled back and the database is as it was before it. Fix the SQL in a new revision (or in this one, if it is still a draft) and run again";
const DIRTY_HINT: &str = "; the database is now marked dirty and further runs are refused until it is resolved. Inspect the schema, finish or undo the revision by hand, then run `kiln stamp` to record the real state";

/// A driver error as kiln shows it. For a server's error this is its message and SQLSTATE code:
/// sqlx's own text adds PostgreSQL's `line` field, which is the line of the *server's C source*
/// that raised it (`database "x" does not exist at line 948`), easily read as a line of SQL.
pub(crate) fn driver_text(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => match d.code() {
            Some(code) => format!("{} (code {code})", d.message()),
            None => d.message().to_owned(),
        },
        other => other.to_string(),
    }
}

/// `true` when a statement's message (as [`driver_text`] shows it) is the server cancelling it for
/// its statement timeout: PostgreSQL 57014 with that reason, MariaDB 1969 (SQLSTATE 70100),
/// MySQL 3024.
fn is_statement_timeout(message: &str) -> bool {
    message.contains("statement timeout")
        || message.contains("max_statement_time exceeded")
        || message.contains("maximum statement execution time exceeded")
}

/// `true` when a driver error means kiln could not reach or log in to the database, the only case
/// in which the URL is worth checking: a statement the server refused says nothing about it.
fn is_connection_problem(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => matches!(
            d.code().as_deref(),
            // Authentication, unknown database or role, too many connections.
            Some("28P01" | "28000" | "3D000" | "53300" | "1045" | "1049" | "1040" | "1044")
        ),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Configuration(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_) => true,
        _ => false,
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let done = self.completed_steps();
        if !done.is_empty() {
            write!(f, "\ncompleted before the failure:")?;
            for step in done {
                write!(f, "\n  {step}")?;
            }
        }
        if let Some(help) = self.help() {
            write!(f, "\nhelp: {help}")?;
        }
        Ok(())
    }
}

/// What a pooler in front of PostgreSQL refused, read from its error (PgBouncer answers with
/// SQLSTATE 08P01 and a message of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pooler {
    /// Statement pooling: no transactions at all.
    Statement,
    /// A startup parameter it does not know.
    Startup,
}

fn pooler_refusal(e: &sqlx::Error) -> Option<Pooler> {
    let sqlx::Error::Database(d) = e else {
        return None;
    };
    if d.code().as_deref() != Some("08P01") {
        return None;
    }
    let m = d.message();
    if m.contains("statement pooling mode") {
        Some(Pooler::Statement)
    } else if m.contains("unsupported startup parameter") {
        Some(Pooler::Startup)
    } else {
        None
    }
}

impl Error {
    /// What to do about it, in one sentence, where the message itself does not already say so
    /// (drift, dirty and unknown revisions carry their repair in the message). The CLI prints it
    /// as its `help:` line; `Debug` appends it too.
    pub fn help(&self) -> Option<String> {
        let text = match self {
            Error::Target(t) => target_help(t),
            Error::Url { .. } => {
                "pass a URL such as `sqlite://app.db`, `postgres://user@host/db` or `mysql://user@host/db` with --database-url or DATABASE_URL (`Db::connect` in a service)"
            }
            Error::Invalid(_) => "fix the problems above, then run `kiln check`",
            Error::Interrupted { .. } => {
                "run `kiln current` to see where it stopped; run the same command again to continue"
            }
            Error::Database { source, .. } if pooler_refusal(source) == Some(Pooler::Statement) => {
                "PgBouncer in statement pooling mode cannot run a transaction, and migrations need them: point kiln at a pool in transaction or session mode (kiln detects the pooler and takes a lock that works there) or at the server itself"
            }
            Error::Database { source, .. } if pooler_refusal(source) == Some(Pooler::Startup) => {
                "a pooler (PgBouncer) refused a setting sqlx sends when it connects: add it to `ignore_startup_parameters` in pgbouncer.ini (sqlx sends `extra_float_digits`), or connect to the server itself"
            }
            Error::Database { source, .. } if is_connection_problem(source) => {
                "check that the server is running and that the URL, user and database are right"
            }
            Error::Database { .. } => {
                "the server was reached and refused a statement kiln sent; the message above says why"
            }
            Error::ConnectionLost { .. } => {
                "run `kiln current` once the database is reachable; --io-timeout (`Options::io_timeout`) sets how long kiln waits for a silent server"
            }
            Error::Statement { message, .. } if is_statement_timeout(message) => {
                "the statement ran longer than its statement timeout (--ddl-statement-timeout, `ddl_statement_timeout`, or the revision's `-- kiln:statement-timeout`); raise it for this revision, or split the work into cheaper statements"
            }
            Error::DdlLockTimeout { .. } => {
                "to wait and try again by itself, set --ddl-retries N (`ddl_retries` in kiln.toml, `Options::ddl_retries`); to wait longer each time, raise --ddl-lock-timeout or the revision's `-- kiln:lock-timeout`"
            }
            _ => return None,
        };
        Some(text.to_owned())
    }

    /// The revision the error is about, when it is about one (a failed statement, a dirty or
    /// drifted revision, a lost connection mid-revision): what a fleet's report names.
    pub fn revision(&self) -> Option<&str> {
        match self {
            Error::Statement { revision, .. }
            | Error::Dirty { revision, .. }
            | Error::InProgress { revision }
            | Error::Drift { revision, .. }
            | Error::Split { revision, .. } => Some(revision),
            Error::ConnectionLost { revision, .. } => revision.as_deref(),
            _ => None,
        }
    }

    /// The steps of the failed run that completed before the error, in order: revisions that
    /// were committed and stay applied (or reverted). Empty for errors that are not about a run
    /// under way, and for a failure in whole-run mode, which rolls back everything it ran.
    pub fn completed_steps(&self) -> &[Step] {
        self.report().map_or(&[], |r| &r.steps)
    }

    /// The report of what the failed run completed before the error (as refinery's error
    /// carries), or `None` when it completed nothing; see [`Error::completed_steps`].
    pub fn report(&self) -> Option<&Report> {
        match self {
            Error::Statement { report, .. }
            | Error::DdlLockTimeout { report, .. }
            | Error::Interrupted { report, .. }
            | Error::ConnectionLost { report, .. } => report.as_deref(),
            _ => None,
        }
    }

    /// The same error carrying the steps its run completed before it (for the variants that can
    /// end a run part-way).
    pub(crate) fn with_completed(mut self, steps: Vec<Step>) -> Error {
        if let Error::Statement { report, .. }
        | Error::DdlLockTimeout { report, .. }
        | Error::Interrupted { report, .. }
        | Error::ConnectionLost { report, .. } = &mut self
            && !steps.is_empty()
        {
            *report = Some(Box::new(Report { steps }));
        }
        self
    }

    /// Wraps a driver error as [`Error::Database`], saying what kiln was doing:
    /// `.map_err(Error::db("creating a test database"))`.
    pub fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
        let context = context.into();
        move |source| Error::Database { context, source }
    }
}

fn target_help(t: &TargetError) -> &'static str {
    match t {
        TargetError::Unknown { .. } => {
            "`kiln history` lists every revision, `kiln heads` the heads"
        }
        TargetError::AmbiguousPrefix { .. } => "type more characters of the revision id",
        TargetError::MultipleHeads { .. } | TargetError::Ambiguous { .. } => {
            "`kiln heads` and `kiln branches` show the choices"
        }
        TargetError::Irreversible { .. } => {
            "downgrade to a revision above it, or undo it by hand and record that with `kiln stamp`"
        }
        _ => {
            "targets: head, heads, base, REV (or a unique prefix), +N, -N, REV+N, LABEL@head, LABEL@base, LABEL@+N"
        }
    }
}

/// `Result` with kiln's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::Error;

    fn db_error(source: sqlx::Error) -> Error {
        Error::Database {
            context: "creating kiln's bookkeeping tables".into(),
            source,
        }
    }

    #[test]
    fn only_connection_problems_point_at_the_url() {
        let help = db_error(sqlx::Error::PoolTimedOut).help();
        assert!(help.as_ref().is_some_and(|h| h.contains("URL")), "{help:?}");
        let help = db_error(sqlx::Error::RowNotFound).help();
        assert!(
            help.as_ref()
                .is_some_and(|h| !h.contains("URL") && h.contains("refused")),
            "{help:?}"
        );
    }
    use crate::report::{Direction, Report, Step};
    use std::time::Duration;

    fn step(id: &str) -> Step {
        Step {
            revision: id.into(),
            direction: Direction::Upgrade,
            message: Some("create notes".into()),
            duration: Duration::from_micros(3_100),
        }
    }

    #[test]
    fn debug_reads_like_display_with_the_steps_and_the_help_line() {
        let e = Error::Interrupted {
            completed: 1,
            report: Some(Box::new(Report {
                steps: vec![step("a1b2")],
            })),
        };
        assert_eq!(
            format!("{e:?}"),
            format!(
                "{e}\ncompleted before the failure:\n  upgrade a1b2: create notes (3.1 ms)\nhelp: run `kiln current` to see where it stopped; run the same command again to continue"
            )
        );
        // Errors whose message carries the repair have no help line and read exactly the same.
        let e = Error::NotAtHead {
            pending: vec!["a1b2".into()],
        };
        assert_eq!(format!("{e:?}"), e.to_string());
        assert_eq!(e.help(), None);
    }

    #[test]
    fn report_displays_as_one_log_line() {
        assert_eq!(
            Report::default().to_string(),
            "nothing to do: the database is up to date"
        );
        let r = Report {
            steps: vec![step("a1b2"), step("b2c3")],
        };
        assert_eq!(
            r.to_string(),
            "2 steps: upgrade a1b2: create notes (3.1 ms); upgrade b2c3: create notes (3.1 ms)"
        );
    }

    #[test]
    fn error_stays_small_enough_to_return_by_value() {
        assert!(
            std::mem::size_of::<Error>() < 128,
            "{}",
            std::mem::size_of::<Error>()
        );
    }
}
