//! The CLI's own failures, and how every error is shown (the exit codes are in [`crate::exit`]).
//!
//! Commands return `anyhow::Result`. Whatever fails, [`report`] walks the error chain for the
//! first value it knows (a [`Fail`], a runtime [`kiln_runtime::Error`], a [`TargetError`] or a
//! core [`Diagnostics`]), picks the exit code from it, and prints `kiln: <message>`, the steps a
//! failed run completed, and a `help:` line saying what to run next (the runtime error's own
//! [`kiln_runtime::Error::help`]). Validation problems are printed exactly as the
//! `migrations!` macro prints them, because both use the core's `Display`.

pub use crate::exit::Code;
use crate::out;
use kiln_core::{Diagnostics, TargetError};
use std::fmt;

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

/// The exit code for a runtime error. What to do next comes from the error itself
/// ([`kiln_runtime::Error::help`]), shared with services that print it.
fn classify_runtime(e: &kiln_runtime::Error) -> Code {
    use kiln_runtime::Error as E;
    match e {
        E::Target(_) | E::Url { .. } => Code::Usage,
        E::Invalid(_) => Code::Invalid,
        E::Dirty { .. } => Code::Dirty,
        E::Drift { .. } | E::UnknownApplied { .. } | E::UnknownDescendants { .. } => Code::Drift,
        E::NotAtHead { .. } => Code::Pending,
        E::Interrupted { .. } => Code::Interrupted,
        E::Database { .. }
        | E::ConnectionLost { .. }
        | E::LockTimeout { .. }
        | E::Statement { .. }
        | E::Split { .. }
        | E::Config(_) => Code::Database,
        _ => Code::Database,
    }
}

/// Prints an error to stderr and returns the exit code it maps to.
pub fn report(err: &anyhow::Error) -> Code {
    let mut code = Code::Failure;
    let mut help: Option<String> = None;
    let mut detail: Option<String> = None;
    let mut completed: Vec<kiln_runtime::Step> = Vec::new();
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
            code = classify_runtime(e);
            help = e.help();
            if let kiln_runtime::Error::Invalid(d) = e {
                detail = Some(d.to_string());
                parts.push(format!(
                    "the migration directory has {} problem(s):",
                    d.len()
                ));
            } else {
                parts.push(e.to_string());
                completed = e.completed_steps().to_vec();
            }
            break;
        }
        if let Some(t) = cause.downcast_ref::<TargetError>() {
            code = Code::Usage;
            help = kiln_runtime::Error::Target(t.clone()).help();
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
    // What the failed run did finish stays done; say so next to the failure, not only in the
    // progress lines above it.
    if !completed.is_empty() {
        text.push_str("\n  completed before the failure:");
        for step in &completed {
            text.push_str("\n    ");
            text.push_str(&step.to_string());
        }
    }
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
