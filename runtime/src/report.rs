//! What runs report back: steps taken, the database's state, history and audit rows.

use std::time::Duration;

/// Which way a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Direction {
    /// Applied.
    Upgrade,
    /// Reverted.
    Downgrade,
    /// Recorded as applied without running SQL.
    Stamp,
    /// Removed from the record without running SQL (a stamp below it, or `--purge`).
    Unstamp,
}

impl Direction {
    /// `upgrade`, `downgrade`, `stamp` or `unstamp`. The audit table's `action` column says
    /// `stamp` for both stamp directions and tells them apart by `outcome` (`recorded` or
    /// `removed`); see [`AuditEntry::outcome`].
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
            Direction::Stamp => "stamp",
            Direction::Unstamp => "unstamp",
        }
    }
}

/// One revision applied, reverted or stamped.
///
/// Displays as the runtime's log line does: `upgrade a1b2: create notes (3.1 ms)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// The revision.
    pub revision: String,
    /// Which way.
    pub direction: Direction,
    /// Its message.
    pub message: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.direction.as_str(), self.revision)?;
        if let Some(m) = self.message.as_deref().filter(|m| !m.is_empty()) {
            write!(f, ": {m}")?;
        }
        match self.direction {
            Direction::Stamp => f.write_str(" (recorded as applied)"),
            Direction::Unstamp => f.write_str(" (removed)"),
            _ => write!(f, " ({:.1} ms)", self.duration.as_secs_f64() * 1000.0),
        }
    }
}

/// The outcome of a run.
///
/// Displays as one line for a service's start-up log: `nothing to do: the database is up to
/// date`, or `2 steps: upgrade a1b2: create notes (3.1 ms); upgrade b2c3 (0.4 ms)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// What was done, in order. Empty when the database was already where it was asked to be.
    pub steps: Vec<Step>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.steps.len() {
            0 => f.write_str("nothing to do: the database is up to date"),
            n => {
                write!(f, "{n} step{}: ", if n == 1 { "" } else { "s" })?;
                for (i, step) in self.steps.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{step}")?;
                }
                Ok(())
            }
        }
    }
}

impl Report {
    /// `true` when nothing had to be done.
    pub fn is_noop(&self) -> bool {
        self.steps.is_empty()
    }
}

/// The state column of a version row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RowState {
    /// The revision ran to the end and is recorded as applied.
    Applied,
    /// The marker of an upgrade in progress; left behind, the revision is dirty.
    Running,
    /// The marker of a downgrade in progress; left behind, the revision is dirty.
    Reverting,
}

impl RowState {
    /// The text stored in the version table.
    pub const fn as_str(self) -> &'static str {
        match self {
            RowState::Applied => "applied",
            RowState::Running => "running",
            RowState::Reverting => "reverting",
        }
    }

    /// The state stored as `s`, or `None` for text kiln never writes.
    pub fn parse(s: &str) -> Option<RowState> {
        [RowState::Applied, RowState::Running, RowState::Reverting]
            .into_iter()
            .find(|st| st.as_str() == s)
    }

    /// The marker state a run in `direction` writes before its statements.
    pub const fn marker(direction: Direction) -> RowState {
        match direction {
            Direction::Downgrade => RowState::Reverting,
            _ => RowState::Running,
        }
    }
}

/// A row of the version table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedRevision {
    /// The revision.
    pub revision: String,
    /// The checksum of what ran.
    pub checksum: String,
    /// `applied`, or `running`/`reverting` for a revision that stopped part-way (dirty); see
    /// [`RowState`] and [`AppliedRevision::row_state`].
    pub state: String,
    /// When it was applied (UTC, RFC 3339).
    pub applied_at: String,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// The error that left it dirty, if any.
    pub error: Option<String>,
}

impl AppliedRevision {
    /// The row's state, or `None` when the stored text is not one kiln writes.
    pub fn row_state(&self) -> Option<RowState> {
        RowState::parse(&self.state)
    }

    /// `true` when the row records the revision as applied; any other row is dirty.
    pub fn is_applied(&self) -> bool {
        self.row_state() == Some(RowState::Applied)
    }
}

/// The database's migration state, as `kiln current` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// Every row of the version table, oldest first.
    pub applied: Vec<AppliedRevision>,
    /// Applied revisions that no other applied revision builds on: Alembic's "current".
    pub current: Vec<String>,
    /// Revisions of this set not yet applied (to reach every head).
    pub pending: Vec<String>,
    /// Applied revisions this binary does not know.
    pub unknown: Vec<String>,
    /// Revisions that stopped part-way: marked as running or reverting while no runner holds
    /// the run lock.
    pub dirty: Vec<String>,
    /// Revisions marked as running or reverting while another runner holds the run lock: a
    /// migration in progress, not damage. Never in [`Self::dirty`] at the same time.
    pub in_progress: Vec<String>,
    /// Applied revisions whose recorded checksum differs from the embedded file.
    pub drifted: Vec<String>,
}

impl Status {
    /// `true` when every revision is applied and nothing is dirty, unknown or drifted.
    pub fn is_at_head(&self) -> bool {
        self.pending.is_empty()
            && self.unknown.is_empty()
            && self.dirty.is_empty()
            && self.in_progress.is_empty()
            && self.drifted.is_empty()
    }
}

/// One revision in `history` order, with its state in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The revision.
    pub revision: String,
    /// Parents.
    pub parents: Vec<String>,
    /// Its message.
    pub message: Option<String>,
    /// Its file.
    pub file: String,
    /// Branch labels declared on it.
    pub branch_labels: Vec<String>,
    /// When it was applied, if it is.
    pub applied_at: Option<String>,
    /// Whether it is one of the database's current revisions.
    pub is_current: bool,
    /// Whether it is a head of the set.
    pub is_head: bool,
    /// Whether it is a draft (not in `kiln.lock`).
    pub is_draft: bool,
}

/// The `outcome` of an audit row for a completed step.
pub(crate) const OUTCOME_OK: &str = "ok";
/// The `outcome` of an audit row for a failed step.
pub(crate) const OUTCOME_FAILED: &str = "failed";
/// The `outcome` of a stamp row that recorded a revision as applied.
pub(crate) const OUTCOME_RECORDED: &str = "recorded";
/// The `outcome` of a stamp row that removed a revision from the record.
pub(crate) const OUTCOME_REMOVED: &str = "removed";
/// The `outcome` of a row that `stamp --purge` forgot.
pub(crate) const OUTCOME_PURGED: &str = "purged";
/// The `outcome` of an attempt that gave up waiting for a lock and was tried again (the DDL
/// guardrails' retries).
pub(crate) const OUTCOME_RETRY: &str = "retry";
/// The `outcome` of the row recording a killed run's marker.
pub(crate) const OUTCOME_INTERRUPTED: &str = "interrupted";

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// Groups the rows of one run.
    pub run_id: String,
    /// `upgrade`, `downgrade` or `stamp`.
    pub action: String,
    /// The revision, if the row is about one.
    pub revision: Option<String>,
    /// The checksum of what ran.
    pub checksum: Option<String>,
    /// Start time (UTC, RFC 3339).
    pub started_at: String,
    /// End time (UTC, RFC 3339).
    pub finished_at: String,
    /// Duration in milliseconds.
    pub duration_ms: i64,
    /// `ok` or `failed` for upgrades and downgrades; `recorded` or `removed` for a stamp of one
    /// revision, `purged` for a row that `stamp --purge` forgot (`ok` for a stamp that changed
    /// nothing); `interrupted` for a `running` or
    /// `reverting` marker left by a run that stopped without finishing (killed, or its connection
    /// lost), recorded by the next run that found it.
    pub outcome: String,
    /// The error, for failures.
    pub error: Option<String>,
    /// The database user.
    pub db_user: Option<String>,
    /// The machine that ran kiln.
    pub host: Option<String>,
    /// The application's version, if configured.
    pub app_version: Option<String>,
    /// kiln's version.
    pub kiln_version: String,
}

impl AuditEntry {
    /// `true` for a row about something that went wrong: a failed step, or a run that stopped
    /// without finishing.
    pub fn is_failure(&self) -> bool {
        self.outcome == OUTCOME_FAILED || self.outcome == OUTCOME_INTERRUPTED
    }
}

/// Progress notifications, for progress bars and logs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A revision is about to run.
    Starting {
        /// The revision.
        revision: &'a str,
        /// Which way.
        direction: Direction,
        /// 0-based position in the plan.
        index: usize,
        /// Plan length.
        total: usize,
    },
    /// A revision ran inside a whole-run transaction ([`crate::TransactionMode::All`]). It is
    /// not applied yet: [`Event::Committed`] follows when the transaction commits; if a later
    /// revision fails, every revision reported as ran is rolled back and the run returns the
    /// error instead.
    Ran {
        /// What ran.
        step: &'a Step,
        /// 0-based position in the plan.
        index: usize,
        /// Plan length.
        total: usize,
    },
    /// A whole-run transaction committed: these revisions (reported by [`Event::Ran`]) are now
    /// applied.
    Committed {
        /// The revisions the transaction applied, in order.
        steps: &'a [Step],
    },
    /// A revision finished and is committed (per-revision transactions, or no transaction).
    Finished {
        /// What was done.
        step: &'a Step,
        /// 0-based position in the plan.
        index: usize,
        /// Plan length.
        total: usize,
    },
}

/// Optional controls for a run: progress callback and a stop flag checked between revisions.
#[derive(Default, Clone, Copy)]
pub struct Hooks<'a> {
    /// Called before and after each revision.
    pub on_event: Option<&'a (dyn Fn(&Event<'_>) + Send + Sync)>,
    /// When set to `true`, the run stops after the revision in progress and returns
    /// [`crate::Error::Interrupted`].
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Hooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("on_event", &self.on_event.is_some())
            .field("stop", &self.stop)
            .finish()
    }
}
