//! Errors from applying, reverting and inspecting revisions.

use kiln_core::TargetError;
use std::time::Duration;

/// Everything that can go wrong while kiln talks to a database.
///
/// Messages name the revision and its file and say what to run next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database driver failed (connection refused, permission denied, ...).
    #[error("database error while {context}: {source}")]
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
    #[error("{direction} of revision `{revision}` failed at {file}{}: {message}{}", line.map(|l| format!(":{l}")).unwrap_or_default(), if *dirty { DIRTY_HINT } else { ROLLED_BACK_HINT })]
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
        error: Option<String>,
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
        "revision `{revision}` ({file}) was applied with checksum sha256:{recorded} but this binary embeds sha256:{embedded}; the file was edited after it ran. Restore the applied version and put the change in a new revision, or if the database really matches the new file, record it with `kiln stamp --purge` followed by `kiln stamp heads`"
    )]
    Drift {
        /// The revision.
        revision: String,
        /// Its file.
        file: String,
        /// The checksum recorded in the database.
        recorded: String,
        /// The checksum of the embedded file.
        embedded: String,
    },
    /// The database has revisions this binary does not know.
    #[error("the database has revision(s) this binary does not know: {}; it was migrated by a newer binary. Deploy that binary, or allow it during a rolling deploy with `Options::allow_unknown_applied(true)` (`--allow-unknown` on the CLI)", revisions.join(", "))]
    UnknownApplied {
        /// The unknown revisions.
        revisions: Vec<String>,
    },
    /// The database is not at head (from [`crate::Migrator::check`]).
    #[error("the database is not at head: {} pending ({}); run `kiln upgrade heads` or let the service migrate at start-up", pending.len(), pending.join(", "))]
    NotAtHead {
        /// Revisions not yet applied.
        pending: Vec<String>,
    },
    /// Another runner held the lock for longer than the timeout.
    #[error(
        "timed out after {waited:?} waiting for the migration lock ({what}); another runner is migrating this database. Wait for it, or raise the lock timeout"
    )]
    LockTimeout {
        /// How long kiln waited.
        waited: Duration,
        /// Which lock.
        what: String,
    },
    /// The run was stopped on request after a revision completed.
    #[error(
        "stopped on request after {completed} revision(s); the database is consistent at that point"
    )]
    Interrupted {
        /// Revisions completed before stopping.
        completed: usize,
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
    /// Reading the migration directory failed (runtime-loaded sets).
    #[error("{0}")]
    Invalid(#[from] kiln_core::Diagnostics),
}

const ROLLED_BACK_HINT: &str = "; the revision was rolled back and the database is as it was before it. Fix the SQL in a new revision (or in this one, if it is still a draft) and run again";
const DIRTY_HINT: &str = "; the database is now marked dirty and further runs are refused until it is resolved. Inspect the schema, finish or undo the revision by hand, then run `kiln stamp` to record the real state";

impl Error {
    /// Wraps a driver error as [`Error::Database`], saying what kiln was doing:
    /// `.map_err(Error::db("creating a test database"))`.
    pub fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
        let context = context.into();
        move |source| Error::Database { context, source }
    }
}

/// `Result` with kiln's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
