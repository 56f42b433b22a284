//! `kiln config`: the effective global settings and where each came from.

use crate::action::ConfigSettings;
use crate::error::Code;
use crate::layers::{Layered, Origin};
use crate::out;
use crate::settings::Settings;
use serde_json::json;

/// Prints one row per setting: name, value, origin. The URL's password is redacted by the
/// runtime's URL owner (and every printed line is scrubbed again by [`out`]).
pub fn config(s: &Settings, a: &ConfigSettings) -> anyhow::Result<Code> {
    let l = &s.layers;
    let text = |v: &Layered<String>| (v.value.clone(), v.origin.clone());
    let unset = |d: &str| (d.to_owned(), Origin::Default);
    let limit = |v: &Layered<std::time::Duration>| match (&v.origin, v.value.is_zero()) {
        (Origin::Default, true) => unset("(none)"),
        _ => (kiln_core::time::format_duration(v.value), v.origin.clone()),
    };
    let rules = |list: &Option<(Vec<(String, usize)>, usize)>| match (list, &l.file) {
        (Some((items, line)), Some(file)) => (
            items
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>()
                .join(","),
            Origin::File(file.clone(), *line),
        ),
        _ => unset("(none)"),
    };
    let rows: Vec<(&str, (String, Origin))> = vec![
        ("dir", (s.dir.display.clone(), l.dir.origin.clone())),
        ("database_url_env", text(&l.database_url_env)),
        (
            "database_url",
            match &l.database_url {
                Some(u) => (kiln_runtime::redact_url(&u.value), u.origin.clone()),
                None => unset("(none)"),
            },
        ),
        (
            "schema",
            l.schema
                .as_ref()
                .map_or_else(|| unset("(the connection's)"), text),
        ),
        ("version_table", text(&l.version_table)),
        ("audit_table", text(&l.audit_table)),
        (
            "transaction",
            (
                l.transaction.value.name().to_owned(),
                l.transaction.origin.clone(),
            ),
        ),
        (
            "lock_timeout",
            (
                l.lock_timeout.value.to_string(),
                l.lock_timeout.origin.clone(),
            ),
        ),
        (
            "lock_mode",
            (
                l.lock_mode.value.name().to_owned(),
                l.lock_mode.origin.clone(),
            ),
        ),
        (
            "io_timeout",
            (l.io_timeout.value.to_string(), l.io_timeout.origin.clone()),
        ),
        (
            "app_version",
            l.app_version.as_ref().map_or_else(|| unset("(none)"), text),
        ),
        ("ddl_lock_timeout", limit(&l.ddl_lock_timeout)),
        ("ddl_statement_timeout", limit(&l.ddl_statement_timeout)),
        (
            "ddl_retries",
            (
                l.ddl_retries.value.to_string(),
                l.ddl_retries.origin.clone(),
            ),
        ),
        ("lint.deny", rules(&l.lint.deny)),
        ("lint.warn", rules(&l.lint.warn)),
        ("lint.allow", rules(&l.lint.allow)),
        (
            "lint.postgres_version",
            (
                l.postgres_version.value.to_string(),
                l.postgres_version.origin.clone(),
            ),
        ),
    ];
    if a.json {
        let mut settings = serde_json::Map::new();
        for (name, (value, origin)) in &rows {
            let unset = matches!(origin, Origin::Default) && value.starts_with('(');
            let mut entry = origin.json();
            entry["value"] = if unset { json!(null) } else { json!(value) };
            settings.insert((*name).to_owned(), entry);
        }
        out::json(&json!({"kiln_toml": l.file, "settings": settings}));
        return Ok(Code::Ok);
    }
    out::line(format!(
        "{:<22} {}",
        "kiln.toml",
        l.file
            .as_deref()
            .unwrap_or("(none found in the working directory or its parents)")
    ));
    for (name, (value, origin)) in &rows {
        out::line(format!("{name:<22} {value:<28} {}", origin.describe()));
    }
    Ok(Code::Ok)
}
