//! Exit codes, the CLI's own failures, and how every error is shown.
//!
//! Commands return `anyhow::Result`. Whatever fails, [`report`] walks the error chain for the
//! first value it knows (a [`Fail`], a runtime [`kiln_runtime::Error`], a [`TargetError`] or a
//! core [`Diagnostics`]), picks the exit code from it, and prints `kiln: <message>` followed by a
//! `help:` line saying what to run next. Validation problems are printed exactly as the
//! `migrations!` macro prints them, because both use the core's `Display`.

use crate::out;
use kiln_core::{Diagnostics, TargetError};
use std::fmt;

/// The exit status of `kiln`. Documented in `docs/cli.md`; scripts and CI rely on the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// Success.
    Ok = 0,
    /// An error that fits no other class (a file could not be written, ...).
    Failure = 1,
    /// Usage error: bad arguments, an unknown or ambiguous revision, a bad URL, no database URL.
    Usage = 2,
    /// The migration directory or its lock file is invalid.
    Invalid = 3,
    /// The database could not be reached or a statement failed.
    Database = 4,
    /// `check --locked`: some revisions are drafts (not in `kiln.lock`).
    Drafts = 5,
    /// The database is behind: revisions are pending.
    Pending = 6,
    /// The database disagrees with the directory: an applied revision was edited, or the
    /// database has revisions the directory does not know.
    Drift = 7,
    /// A revision stopped part-way; the database is marked dirty.
    Dirty = 8,
    /// Stopped by Ctrl-C after a completed revision.
    Interrupted = 130,
}

impl From<Code> for std::process::ExitCode {
    fn from(c: Code) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}

/// A failure the CLI itself detected, with its exit code and the next step.
#[derive(Debug)]
pub struct Fail {
    /// Exit code.
    pub code: Code,
    /// One-line message, shown after `kiln: `.
    pub message: String,
    /// Text printed verbatim after the message (core diagnostics).
    pub detail: Option<String>,
    /// What to do next.
    pub help: Option<String>,
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

impl Fail {
    /// A failure with an exit code and a next step.
    pub fn with(code: Code, message: impl Into<String>, help: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Fail {
            code,
            message: message.into(),
            detail: None,
            help: Some(help.into()),
        })
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>, help: impl Into<String>) -> anyhow::Error {
        Fail::with(Code::Usage, message, help)
    }

    /// An invalid migration directory (exit 3): the diagnostics exactly as the macro shows them.
    pub fn invalid(dir: &str, diags: &Diagnostics) -> anyhow::Error {
        let n = diags.len();
        anyhow::Error::new(Fail {
            code: Code::Invalid,
            message: format!(
                "the migration directory `{dir}` has {n} problem{}:",
                if n == 1 { "" } else { "s" }
            ),
            detail: Some(diags.to_string()),
            help: Some("fix the problems above, then run `kiln check`".into()),
        })
    }
}

/// The exit code and next step for a runtime error.
fn classify_runtime(e: &kiln_runtime::Error) -> (Code, Option<&'static str>) {
    use kiln_runtime::Error as E;
    match e {
        E::Target(t) => (Code::Usage, target_help(t)),
        E::Url { .. } => (
            Code::Usage,
            Some(
                "pass a URL such as `sqlite://app.db`, `postgres://user@host/db` or `mysql://user@host/db` with --database-url or DATABASE_URL",
            ),
        ),
        E::Invalid(_) => (Code::Invalid, None),
        E::Dirty { .. } => (Code::Dirty, None),
        E::Drift { .. } | E::UnknownApplied { .. } | E::UnknownDescendants { .. } => {
            (Code::Drift, None)
        }
        E::NotAtHead { .. } => (Code::Pending, None),
        E::Interrupted { .. } => (
            Code::Interrupted,
            Some(
                "run `kiln current` to see where it stopped; run the same command again to continue",
            ),
        ),
        E::Database { source, .. } if is_connection_problem(source) => (
            Code::Database,
            Some("check that the server is running and that the URL, user and database are right"),
        ),
        E::Database { .. } => (
            Code::Database,
            Some(
                "the server was reached and refused a statement kiln sent; the message above says why. Behind a connection pooler, see --lock-mode",
            ),
        ),
        E::ConnectionLost { .. } => (
            Code::Database,
            Some(
                "run `kiln current` once the database is reachable; --io-timeout sets how long kiln waits for a silent server",
            ),
        ),
        E::LockTimeout { .. } | E::Statement { .. } | E::Split { .. } | E::Config(_) => {
            (Code::Database, None)
        }
        _ => (Code::Database, None),
    }
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

fn target_help(t: &TargetError) -> Option<&'static str> {
    match t {
        TargetError::Unknown { .. } => {
            Some("`kiln history` lists every revision, `kiln heads` the heads")
        }
        TargetError::AmbiguousPrefix { .. } => Some("type more characters of the revision id"),
        TargetError::MultipleHeads { .. } | TargetError::Ambiguous { .. } => {
            Some("`kiln heads` and `kiln branches` show the choices")
        }
        TargetError::Irreversible { .. } => Some(
            "downgrade to a revision above it, or undo it by hand and record that with `kiln stamp`",
        ),
        _ => Some(
            "targets: head, heads, base, REV (or a unique prefix), +N, -N, REV+N, LABEL@head, LABEL@base, LABEL@+N",
        ),
    }
}

/// Prints an error to stderr and returns the exit code it maps to.
pub fn report(err: &anyhow::Error) -> Code {
    let mut code = Code::Failure;
    let mut help: Option<String> = None;
    let mut detail: Option<String> = None;
    // The chain, outermost context first, down to the first error kiln knows: its own message
    // already includes its causes, so going further would repeat them.
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Fail>() {
            code = f.code;
            help = f.help.clone();
            detail = f.detail.clone();
            parts.push(f.message.clone());
            break;
        }
        if let Some(e) = cause.downcast_ref::<kiln_runtime::Error>() {
            let (c, h) = classify_runtime(e);
            code = c;
            help = h.map(str::to_owned);
            if let kiln_runtime::Error::Invalid(d) = e {
                detail = Some(d.to_string());
                parts.push(format!(
                    "the migration directory has {} problem(s):",
                    d.len()
                ));
                help = Some("fix the problems above, then run `kiln check`".into());
            } else {
                parts.push(e.to_string());
            }
            break;
        }
        if let Some(t) = cause.downcast_ref::<TargetError>() {
            code = Code::Usage;
            help = target_help(t).map(str::to_owned);
            parts.push(t.to_string());
            break;
        }
        if let Some(d) = cause.downcast_ref::<Diagnostics>() {
            code = Code::Invalid;
            detail = Some(d.to_string());
            parts.push(format!(
                "the migration directory has {} problem(s):",
                d.len()
            ));
            help = Some("fix the problems above, then run `kiln check`".into());
            break;
        }
        parts.push(cause.to_string());
    }
    let mut text = format!("kiln: {}", parts.join(": "));
    match (detail, help) {
        // The detail (core diagnostics) has `help:` lines of its own; the next step for the
        // whole run goes on a `kiln:` line after it.
        (Some(d), h) => {
            text.push('\n');
            text.push_str(&d);
            if let Some(h) = h {
                text.push_str("\nkiln: ");
                text.push_str(&h);
            }
        }
        (None, Some(h)) => {
            text.push_str("\n  help: ");
            text.push_str(&h);
        }
        (None, None) => {}
    }
    out::error_text(&text);
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(source: sqlx::Error) -> kiln_runtime::Error {
        kiln_runtime::Error::Database {
            context: "creating kiln's bookkeeping tables".into(),
            source,
        }
    }

    #[test]
    fn only_connection_problems_point_at_the_url() {
        let (_, help) = classify_runtime(&db_error(sqlx::Error::PoolTimedOut));
        assert!(help.is_some_and(|h| h.contains("URL")), "{help:?}");
        let (_, help) = classify_runtime(&db_error(sqlx::Error::RowNotFound));
        assert!(
            help.is_some_and(|h| !h.contains("URL") && h.contains("refused")),
            "{help:?}"
        );
    }
}
