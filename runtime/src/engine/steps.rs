//! One revision's step in a run: its SQL section and line, the progress events, the log line.

use crate::report::{Direction, Event, Hooks, Report, Step};
use kiln_core::Revision;
use std::borrow::Cow;
use std::time::Duration;

pub(super) fn section(rev: &Revision, direction: Direction) -> &str {
    match direction {
        Direction::Downgrade => rev.down_sql().unwrap_or(""),
        _ => rev.up_sql(),
    }
}

/// The section as a `Cow`: borrowed (free to clone) for embedded sets, so the SQL is never copied.
pub(super) fn section_cow(rev: &Revision, direction: Direction) -> Cow<'static, str> {
    match direction {
        Direction::Downgrade => rev.down_sql_cow().cloned().unwrap_or(Cow::Borrowed("")),
        _ => rev.up_sql_cow().clone(),
    }
}

pub(super) fn emit_starting(
    hooks: &Hooks<'_>,
    rev: &Revision,
    direction: Direction,
    index: usize,
    total: usize,
) {
    if let Some(cb) = hooks.on_event {
        cb(&Event::Starting {
            revision: rev.id(),
            direction,
            index,
            total,
        });
    }
}

pub(super) fn make_step(rev: &Revision, direction: Direction, duration: Duration) -> Step {
    Step {
        revision: rev.id().to_owned(),
        direction,
        message: rev.message().map(str::to_owned),
        duration,
    }
}

pub(super) fn finish_step(
    hooks: &Hooks<'_>,
    rev: &Revision,
    direction: Direction,
    duration: Duration,
    index: usize,
    total: usize,
    report: &mut Report,
) {
    let step = make_step(rev, direction, duration);
    log_step(rev, &step);
    if let Some(cb) = hooks.on_event {
        cb(&Event::Finished {
            step: &step,
            index,
            total,
        });
    }
    report.steps.push(step);
}

pub(super) fn section_line(rev: &Revision, direction: Direction) -> u32 {
    match direction {
        Direction::Downgrade => rev.down_line(),
        _ => rev.up_line(),
    }
}

pub(super) fn log_step(rev: &Revision, step: &Step) {
    let from = if rev.parents().is_empty() {
        "base".to_owned()
    } else {
        rev.parents().join(", ")
    };
    let ms = step.duration.as_secs_f64() * 1000.0;
    match step.direction {
        Direction::Downgrade => {
            tracing::info!(target: "kiln", revision = rev.id(), "downgrade {} -> {from}: {} ({ms:.1} ms)", rev.id(), rev.message().unwrap_or(""))
        }
        _ => {
            tracing::info!(target: "kiln", revision = rev.id(), "upgrade {from} -> {}: {} ({ms:.1} ms)", rev.id(), rev.message().unwrap_or(""))
        }
    }
}
