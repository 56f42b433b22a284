//! `kiln upgrade`, `kiln downgrade` and `kiln stamp`: the commands that change the database.
//!
//! Each completed revision prints one line with its duration as soon as it finishes; on a
//! terminal a progress bar on stderr shows the revision in flight. Ctrl-C sets the runtime's stop
//! flag, so the run ends after the revision in progress, with everything before it committed
//! (exit 130); a second Ctrl-C exits at once, which the database treats like a dropped connection.

use super::db::{block_on, connect, migrator};
use crate::action::{MoveMode, MoveSettings, StampSettings, verb};
use crate::error::{Code, Fail};
use crate::out;
use crate::settings::Settings;
use kiln_core::MigrationSet;
use kiln_runtime::Direction;
use kiln_runtime::{Event, Hooks, Migrator, Report, Step};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub fn movement(s: &Settings, m: &MoveSettings) -> anyhow::Result<Code> {
    let set = crate::repo::load(&s.dir)?;
    refuse_empty(s, &set, verb(m.direction))?;
    match &m.mode {
        MoveMode::Sql { dialect, from, to } => {
            let mig = migrator(set, m.options.clone());
            let from = from.as_ref().map(ToString::to_string);
            let (from, to) = (from.as_deref(), to.to_string());
            let script = match m.direction {
                Direction::Upgrade => mig.upgrade_sql(*dialect, from, &to)?,
                _ => mig.downgrade_sql(*dialect, from, &to)?,
            };
            out::line(script.trim_end());
            Ok(Code::Ok)
        }
        MoveMode::Run {
            target,
            dry_run: true,
            json,
        } => {
            let target = &target.to_string();
            let url = s.require_database(&format!("{} --dry-run", verb(m.direction)))?;
            let mig = migrator(set, m.options.clone());
            let ids = block_on(async {
                let db = connect(url).await?;
                let r = match m.direction {
                    Direction::Upgrade => mig.plan_upgrade(&db, target).await,
                    _ => mig.plan_downgrade(&db, target).await,
                };
                db.close().await;
                anyhow::Ok(r?)
            })??;
            print_plan(mig.set(), m.direction, target, &ids, *json);
            Ok(Code::Ok)
        }
        MoveMode::Run { target, .. } => {
            let target = &target.to_string();
            let url = s.require_database(verb(m.direction))?;
            let mig = migrator(set, m.options.clone());
            let started = Instant::now();
            let report = block_on(run_with_signals(&mig, url, m.direction, target))??;
            summary(&report, m.direction, target, started);
            Ok(Code::Ok)
        }
    }
}

/// A directory without revisions has nothing to move to; without this the target grammar would
/// answer "there are 0 heads ()". An error rather than a no-op, since a wrong `--dir` looks the
/// same and must not pass silently.
fn refuse_empty(s: &Settings, set: &MigrationSet, verb: &str) -> anyhow::Result<()> {
    if set.is_empty() {
        return Err(Fail::usage(
            format!(
                "cannot {verb}: the migration directory `{}` has no revisions yet",
                s.dir.display
            ),
            "write the first with `kiln revision -m \"...\"`, or point --dir (or KILN_DIR) at the right directory",
        ));
    }
    Ok(())
}

/// What `--dry-run` prints.
fn print_plan(set: &MigrationSet, d: Direction, target: &str, ids: &[String], json: bool) {
    if json {
        let steps: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| {
                let r = set.get(id);
                serde_json::json!({
                    "revision": id,
                    "message": r.and_then(|r| r.message()),
                    "file": r.map(|r| r.file()),
                })
            })
            .collect();
        out::json(&serde_json::json!({
            "direction": verb(d),
            "target": target,
            "revisions": steps,
        }));
        return;
    }
    if ids.is_empty() {
        out::line(format!(
            "nothing to {}: the database is already at `{target}`",
            verb(d)
        ));
        return;
    }
    out::line(format!(
        "would {} {} to reach `{target}`:",
        verb(d),
        out::count(ids.len(), "revision")
    ));
    for id in ids {
        let msg = set.get(id).and_then(|r| r.message()).unwrap_or("");
        out::line(format!("  {} {id}  {msg}", verb(d)));
    }
}

/// Runs the move with progress output and a Ctrl-C handler.
async fn run_with_signals(
    mig: &Migrator,
    url: &crate::settings::DbUrl,
    direction: Direction,
    target: &str,
) -> anyhow::Result<Report> {
    let stop = Arc::new(AtomicBool::new(false));
    let handler = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            loop {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                if stop.swap(true, Ordering::SeqCst) {
                    out::note("second Ctrl-C: stopping now; the revision in progress is abandoned");
                    std::process::exit(Code::Interrupted as i32);
                }
                out::note(
                    "Ctrl-C: stopping after the revision in progress (press Ctrl-C again to stop at once)",
                );
            }
        })
    };
    // Let the handler register before anything can take long.
    tokio::task::yield_now().await;
    let db = connect(url).await;
    let result = match db {
        Ok(db) => {
            let set = mig.set();
            let bar = out::stderr_is_terminal();
            let on_event = move |e: &Event<'_>| progress(set, bar, e);
            let hooks = Hooks {
                on_event: Some(&on_event),
                stop: Some(&stop),
            };
            let r = match direction {
                Direction::Upgrade => mig.upgrade_with(&db, target, hooks).await,
                _ => mig.downgrade_with(&db, target, hooks).await,
            };
            db.close().await;
            r.map_err(anyhow::Error::new)
        }
        Err(e) => Err(e),
    };
    handler.abort();
    result
}

/// One progress event: a bar while a revision runs, a line when it is done.
fn progress(set: &MigrationSet, bar: bool, e: &Event<'_>) {
    match e {
        Event::Starting {
            revision,
            direction,
            index,
            total,
        } if bar => {
            let msg = set.get(revision).and_then(|r| r.message()).unwrap_or("");
            out::bar(
                *index,
                *total,
                &format!("{} {revision} {msg}", direction.as_str()),
            );
        }
        Event::Finished { step, .. } => out::line(step_line(set, step)),
        // Whole-run mode: nothing is applied until the transaction commits, so a revision that
        // ran says so, and only the commit says how many are now applied.
        Event::Ran { step, .. } => out::line(ran_line(set, step)),
        Event::Committed { steps } => out::line(format!(
            "committed {} in one transaction",
            out::count(steps.len(), "revision")
        )),
        _ => {}
    }
}

/// `ran a1b2 -> b2c3: create notes (3.1 ms)`: a revision that ran inside a whole-run transaction
/// that has not committed yet.
fn ran_line(set: &MigrationSet, step: &Step) -> String {
    let line = step_line(set, step);
    let rest = line.split_once(' ').map_or(line.as_str(), |(_, rest)| rest);
    format!("ran {rest}")
}

/// `upgrade a1b2 -> b2c3: create notes (3.1 ms)`, like the runtime's log lines.
pub fn step_line(set: &MigrationSet, step: &Step) -> String {
    let rev = set.get(&step.revision);
    let parents = match rev {
        Some(r) if !r.parents().is_empty() => r
            .parents()
            .iter()
            .map(|p| &**p)
            .collect::<Vec<_>>()
            .join(", "),
        Some(_) => "base".to_owned(),
        None => "?".to_owned(),
    };
    let msg = step.message.as_deref().unwrap_or("");
    let took = out::duration(step.duration);
    match step.direction {
        kiln_runtime::Direction::Upgrade => {
            format!("upgrade {parents} -> {}: {msg} ({took})", step.revision)
        }
        kiln_runtime::Direction::Downgrade => {
            format!("downgrade {} -> {parents}: {msg} ({took})", step.revision)
        }
        kiln_runtime::Direction::Unstamp => {
            format!("stamp {}{} (removed)", step.revision, colon(msg))
        }
        _ => format!(
            "stamp {}{} (recorded as applied)",
            step.revision,
            colon(msg)
        ),
    }
}

fn colon(msg: &str) -> String {
    if msg.is_empty() {
        String::new()
    } else {
        format!(": {msg}")
    }
}

fn summary(report: &Report, d: Direction, target: &str, started: Instant) {
    if report.is_noop() {
        out::line(format!(
            "nothing to {}: the database is already at `{target}`",
            verb(d)
        ));
    } else {
        out::line(format!(
            "{} {} in {}",
            match d {
                Direction::Upgrade => "applied",
                _ => "reverted",
            },
            out::count(report.steps.len(), "revision"),
            out::duration(started.elapsed())
        ));
    }
}

pub fn stamp(s: &Settings, st: &StampSettings) -> anyhow::Result<Code> {
    let set = crate::repo::load(&s.dir)?;
    refuse_empty(s, &set, "stamp")?;
    let url = s.require_database("stamp")?;
    let mig = migrator(set, st.options.clone());
    let targets: Vec<String> = st.revisions.iter().map(ToString::to_string).collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let report = block_on(async {
        let db = connect(url).await?;
        let r = mig.stamp(&db, &targets, st.purge).await;
        db.close().await;
        anyhow::Ok(r?)
    })??;
    for step in &report.steps {
        out::line(step_line(mig.set(), step));
    }
    if report.is_noop() {
        out::line("nothing to stamp: the recorded state already matches");
    } else {
        out::line(format!(
            "stamped {} (no SQL was run; recorded in the audit trail)",
            out::count(report.steps.len(), "revision")
        ));
    }
    Ok(Code::Ok)
}
