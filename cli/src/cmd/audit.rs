//! `kiln audit`: the database's append-only audit trail, filtered by revision, action, outcome
//! and time. Times are compared in the runtime's fixed-width UTC form. The trail does not depend
//! on the migration directory, so an auditor needs only the database URL.

use super::db::{block_on, connect};
use crate::action::AuditSettings;
use crate::error::Code;
use crate::out;
use crate::settings::Settings;
use kiln_runtime::Migrator;
use serde_json::{Value, json};

pub fn audit(s: &Settings, a: &AuditSettings) -> anyhow::Result<Code> {
    let url = s.require_database("audit")?;
    let m = Migrator::EMPTY.with_options(s.options.clone());
    block_on(async {
        let db = connect(url).await?;
        let rows = m.audit(&db).await;
        db.close().await;
        let rows = rows?;
        let mut rows: Vec<_> = rows
            .into_iter()
            .filter(|r| {
                a.revision.as_deref().is_none_or(|want| {
                    r.revision
                        .as_deref()
                        .is_some_and(|got| got.starts_with(want))
                })
            })
            .filter(|r| a.action.is_none_or(|act| r.action == act))
            .filter(|r| !a.failed || r.is_failure())
            .filter(|r| {
                a.since
                    .as_deref()
                    .is_none_or(|t| r.started_at.as_str() >= t)
            })
            .filter(|r| a.until.as_deref().is_none_or(|t| r.started_at.as_str() < t))
            .collect();
        if let Some(n) = a.limit {
            let skip = rows.len().saturating_sub(n);
            rows.drain(..skip);
        }
        if a.json {
            let items: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id,
                        "run_id": r.run_id,
                        "action": r.action,
                        "revision": r.revision,
                        "checksum": r.checksum,
                        "started_at": r.started_at,
                        "finished_at": r.finished_at,
                        "duration_ms": r.duration_ms,
                        "outcome": r.outcome,
                        "error": r.error,
                        "db_user": r.db_user,
                        "host": r.host,
                        "app_version": r.app_version,
                        "kiln_version": r.kiln_version,
                    })
                })
                .collect();
            out::json(&Value::Array(items));
            return Ok(Code::Ok);
        }
        if rows.is_empty() {
            out::note("no audit rows match");
            return Ok(Code::Ok);
        }
        for r in &rows {
            let who = match (&r.db_user, &r.host) {
                (Some(u), Some(h)) => format!("by {u} on {h}"),
                (Some(u), None) => format!("by {u}"),
                (None, Some(h)) => format!("on {h}"),
                (None, None) => String::new(),
            };
            let mut line = format!(
                "{}  {:<9} {:<12} {:<6} {:>7} ms  {who}",
                r.started_at,
                r.action,
                r.revision.as_deref().unwrap_or("-"),
                r.outcome,
                r.duration_ms
            );
            if let Some(v) = &r.app_version {
                line += &format!("  app {v}");
            }
            if let Some(e) = &r.error {
                line += &format!("\n    error: {}", e.replace('\n', "\n    "));
            }
            out::line(line);
        }
        anyhow::Ok(Code::Ok)
    })?
}
