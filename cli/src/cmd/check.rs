//! `kiln check`: the CI and deploy gate.
//!
//! Validates the directory and the lock exactly as the macro does (exit 3 with the macro's text).
//! Drafts are reported, and fail with `--locked` (exit 5). With a database (unless `--offline`),
//! pending revisions (or a revision another runner is applying right now) fail with exit 6,
//! drift or revisions the directory does not know with 7, and a dirty database with 8. When the
//! dialect is known (kiln.toml or the URL), the drafts are linted too: error-level findings exit 9
//! when nothing else fails. When several fail, the exit code is the most serious one; every
//! finding is printed.

use super::db::{block_on, connect, migrator};
use crate::action::CheckSettings;
use crate::error::{Code, Fail};
use crate::out;
use crate::settings::Settings;
use kiln_core::{Diagnostics, MigrationSet};
use kiln_runtime::Status;
use serde_json::{Value, json};

/// One reason for a non-zero exit, with its next step.
struct Finding {
    code: Code,
    kind: &'static str,
    message: String,
    help: String,
}

/// What `check` learned about the directory and the lock.
struct DirFacts<'a> {
    drafts: Vec<&'a str>,
    heads: Vec<&'a str>,
    has_lock: bool,
}

pub fn check(s: &Settings, a: &CheckSettings) -> anyhow::Result<Code> {
    if let Some((file, dialect, dev)) = &a.schema {
        return super::schema::check_schema(s, file.as_deref(), *dialect, dev);
    }
    let set = match kiln_core::load_dir(&s.dir) {
        Ok(l) => l.set,
        Err(d) => {
            if a.json {
                out::json(&invalid_json(s, &d));
            }
            return Err(Fail::invalid(&s.dir.display, &d));
        }
    };
    let dir = DirFacts {
        drafts: set.drafts().map(|r| r.id()).collect(),
        heads: set.heads().iter().map(|h| &**h).collect(),
        has_lock: s.dir.lock_path().exists(),
    };
    // The directory's lines come before connecting, so they are there even when the database
    // cannot be reached.
    if !a.json {
        render_directory(s, a, &set, &dir);
    }
    let mut findings: Vec<Finding> = Vec::new();
    if a.locked && !dir.drafts.is_empty() {
        findings.push(Finding {
            code: Code::Drafts,
            kind: "drafts",
            message: format!(
                "{} not in kiln.lock: {}",
                out::count(dir.drafts.len(), "draft revision"),
                out::some(&dir.drafts)
            ),
            help: "run `kiln lock` once they are final, and commit kiln.lock with them".into(),
        });
    }

    // Lint the drafts when the dialect is known; its errors fail check only when nothing more
    // serious (pending, drift, dirty) does.
    let lint = super::lint::for_check(s, &set);
    if let Some(l) = &lint {
        if !a.json {
            out::line(format!(
                "lint: {} in {} ({} errors){}",
                out::count(l.total, "finding"),
                out::count(l.drafts, "draft"),
                l.errors,
                if l.total > 0 {
                    "; `kiln lint` shows them"
                } else {
                    ""
                }
            ));
        }
        if l.errors > 0 {
            findings.push(Finding {
                code: Code::LintErrors,
                kind: "lint",
                message: format!(
                    "{} in draft revisions",
                    out::count(l.errors, "lint error")
                ),
                help: "run `kiln lint` to see them; fix each statement or waive it with `-- kiln:allow RULE reason`".into(),
            });
        }
    }

    let use_db = !a.offline && s.database.is_some();
    let status = if use_db {
        let url = s.require_database("check")?;
        let options = s.options.clone().allow_unknown_applied(a.allow_unknown);
        let m = migrator(set.clone(), options);
        let st = block_on(async {
            let db = connect(url).await?;
            let r = m.current(&db).await;
            db.close().await;
            anyhow::Ok(r?)
        })??;
        findings.extend(database_findings(s, &set, &st, a.allow_unknown));
        if !a.json && findings.iter().all(|f| f.code == Code::Drafts) {
            out::line(format!(
                "database {}: ok (at every head, nothing dirty or drifted)",
                url.shown()
            ));
        }
        Some(st)
    } else {
        None
    };

    // Lint errors (9) rank below every other finding: a deploy gate must still see 6, 7 or 8.
    let code = findings
        .iter()
        .map(|f| f.code)
        .filter(|c| *c != Code::LintErrors)
        .max()
        .or_else(|| {
            findings
                .iter()
                .any(|f| f.code == Code::LintErrors)
                .then_some(Code::LintErrors)
        })
        .unwrap_or(Code::Ok);
    if a.json {
        let database = if use_db {
            s.database.as_ref().map(|d| d.shown())
        } else {
            None
        };
        let mut v = valid_json(s, &set, &dir, database, status.as_ref(), &findings, code);
        if let Some(obj) = v.as_object_mut() {
            obj.insert(
                "lint".into(),
                json!(
                    lint.as_ref()
                        .map(|l| json!({"findings": l.total, "errors": l.errors}))
                ),
            );
        }
        out::json(&v);
    }
    for f in &findings {
        out::error_text(&format!("kiln: {}\n  help: {}", f.message, f.help));
    }
    Ok(code)
}

/// The directory and lock lines of the text report.
fn render_directory(s: &Settings, a: &CheckSettings, set: &MigrationSet, dir: &DirFacts<'_>) {
    if set.is_empty() {
        out::line(format!(
            "directory {}: no revisions yet; write the first with `kiln revision -m \"...\"`",
            s.dir.display
        ));
    } else {
        out::line(format!(
            "directory {}: ok ({}, {})",
            s.dir.display,
            out::count(set.len(), "revision"),
            out::count(dir.heads.len(), "head")
        ));
    }
    let lock = s.dir.display_file(kiln_core::LOCK_FILE);
    if !dir.has_lock {
        out::line(format!(
            "lock: no lock file yet ({lock}); `kiln lock` writes it once revisions are final"
        ));
    } else if set.is_empty() {
        out::line(format!(
            "lock: {lock} exists and there is nothing to lock yet"
        ));
    } else if dir.drafts.is_empty() {
        out::line(format!("lock: ok (every revision is locked in {lock})"));
    } else if !a.locked {
        out::line(format!(
            "lock: {} not yet locked ({}); `kiln check --locked` refuses drafts",
            out::count(dir.drafts.len(), "draft"),
            out::some(&dir.drafts)
        ));
    }
}

/// The findings a database's state gives, most serious kinds first.
fn database_findings(
    s: &Settings,
    set: &MigrationSet,
    st: &Status,
    allow_unknown: bool,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for d in &st.dirty {
        let row = st.applied.iter().find(|r| &r.revision == d);
        let err = row
            .and_then(|r| r.error.as_deref())
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let parents = set
            .get(d)
            .map(|r| {
                if r.parents().is_empty() {
                    "base".to_owned()
                } else {
                    r.parents()
                        .iter()
                        .map(|p| &**p)
                        .collect::<Vec<_>>()
                        .join(" ")
                }
            })
            .unwrap_or_else(|| "<its parents>".into());
        findings.push(Finding {
            code: Code::Dirty,
            kind: "dirty",
            message: format!("the database is dirty: revision `{d}` stopped part-way{err}"),
            help: format!(
                "inspect the schema, finish or undo the revision by hand, then record the truth with `kiln stamp {d}` (fully applied) or `kiln stamp {parents}` (fully undone)"
            ),
        });
    }
    // `current` lists unknown revisions too; the stamp advice can only name known ones.
    let known_current: Vec<String> = st
        .current
        .iter()
        .filter(|c| !st.unknown.contains(c))
        .cloned()
        .collect();
    for r in &st.in_progress {
        findings.push(Finding {
            code: Code::Pending,
            kind: "in_progress",
            message: format!(
                "revision `{r}` is being applied by another runner right now (it holds the migration lock)"
            ),
            help: "wait for that run to finish and check again; do not stamp while it runs".into(),
        });
    }
    for d in &st.drifted {
        let recorded = st
            .applied
            .iter()
            .find(|r| &r.revision == d)
            .map(|r| r.checksum.clone())
            .unwrap_or_default();
        let (file, now) = set
            .get(d)
            .map(|r| (s.dir.display_file(r.file()), r.checksum().to_owned()))
            .unwrap_or_default();
        findings.push(Finding {
            code: Code::Drift,
            kind: "drift",
            message: format!(
                "revision `{d}` was applied with sha256:{recorded}, but {file} now has sha256:{now}"
            ),
            help: kiln_runtime::advice::drift(&known_current, !st.unknown.is_empty()),
        });
    }
    if !st.unknown.is_empty() && !allow_unknown {
        findings.push(Finding {
            code: Code::Drift,
            kind: "unknown",
            message: format!(
                "the database has revisions this directory does not know: {}",
                st.unknown.join(", ")
            ),
            help: "check out the newer migrations, or pass --allow-unknown during a rolling deploy"
                .into(),
        });
    }
    if !st.pending.is_empty() {
        findings.push(Finding {
            code: Code::Pending,
            kind: "pending",
            message: format!(
                "the database is behind: {} pending ({})",
                out::count(st.pending.len(), "revision"),
                out::some(&st.pending)
            ),
            help: "run `kiln upgrade heads`".into(),
        });
    }
    findings
}

/// `--json` for a directory that does not validate.
fn invalid_json(s: &Settings, d: &Diagnostics) -> Value {
    let problems: Vec<Value> = d
        .iter()
        .map(|p| {
            json!({
                "path": p.path,
                "line": p.line,
                "message": p.problem.to_string(),
                "help": p.problem.help(),
                "text": p.to_string(),
            })
        })
        .collect();
    json!({
        "directory": s.dir.display,
        "valid": false,
        "problems": problems,
        "exit_code": Code::Invalid.number(),
    })
}

/// `--json` for a valid directory, with the database's state when it was checked.
fn valid_json(
    s: &Settings,
    set: &MigrationSet,
    dir: &DirFacts<'_>,
    database: Option<String>,
    status: Option<&Status>,
    findings: &[Finding],
    code: Code,
) -> Value {
    json!({
        "directory": s.dir.display,
        "valid": true,
        "revisions": set.len(),
        "lock_file": dir.has_lock,
        "heads": dir.heads,
        "drafts": dir.drafts,
        "database": database,
        "pending": status.map(|st| st.pending.clone()),
        "dirty": status.map(|st| st.dirty.clone()),
        "in_progress": status.map(|st| st.in_progress.clone()),
        "drifted": status.map(|st| st.drifted.clone()),
        "unknown": status.map(|st| st.unknown.clone()),
        "findings": findings.iter().map(|f| json!({
            "kind": f.kind,
            "exit_code": f.code.number(),
            "message": f.message,
            "help": f.help,
        })).collect::<Vec<_>>(),
        "exit_code": code.number(),
    })
}
