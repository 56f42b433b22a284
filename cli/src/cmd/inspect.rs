//! The read commands: `current`, `history`, `heads`, `branches` and `show`.
//!
//! Text output follows Alembic's (`a1b2 -> b2c3 (head), message`); `--json` gives the same
//! facts as JSON values built here, so kiln-core and kiln-runtime need no serde.

use super::db::with_db;
use crate::action::{CurrentSettings, HistorySettings, ListSettings, ShowSettings};
use crate::error::Code;
use crate::graph_text;
use crate::out;
use crate::range::resolve_one;
use crate::settings::Settings;
use kiln_core::time::format_duration;
use kiln_core::{MigrationSet, Plan, Revision, RevisionGraph};
use kiln_runtime::Status;
use serde_json::{Value, json};

/// Facts about the graph shared by the read commands.
pub struct View<'a> {
    pub set: &'a MigrationSet,
    pub graph: RevisionGraph,
}

impl<'a> View<'a> {
    pub fn new(set: &'a MigrationSet) -> Self {
        View {
            set,
            graph: RevisionGraph::of_set(set),
        }
    }

    fn rev(&self, i: usize) -> &'a Revision {
        &self.set.revisions()[i]
    }

    fn is_head(&self, i: usize) -> bool {
        self.set.heads().iter().any(|h| h == self.rev(i).id())
    }

    /// ` (label) (head)` and friends, Alembic-style.
    fn tags(&self, i: usize, current: bool) -> String {
        let r = self.rev(i);
        let mut t = String::new();
        for l in r.branch_labels() {
            t += &format!(" ({l})");
        }
        if self.is_head(i) {
            t += " (head)";
        }
        if self.graph.children(i).len() > 1 {
            t += " (branchpoint)";
        }
        if r.is_merge() {
            t += " (mergepoint)";
        }
        if current {
            t += " (current)";
        }
        if r.is_draft() {
            t += " (draft)";
        }
        t
    }

    /// `id (tags), message`.
    fn short(&self, i: usize, current: bool) -> String {
        let r = self.rev(i);
        match r.message() {
            Some(m) if !m.is_empty() => format!("{}{}, {m}", r.id(), self.tags(i, current)),
            _ => format!("{}{}", r.id(), self.tags(i, current)),
        }
    }

    /// `id (tags) message`, for graph lines.
    fn oneline(&self, i: usize, current: bool) -> String {
        let r = self.rev(i);
        format!(
            "{}{} {}",
            r.id(),
            self.tags(i, current),
            r.message().unwrap_or("")
        )
        .trim_end()
        .to_owned()
    }

    /// Alembic's history line: `parents -> id (tags), message`.
    fn arrow(&self, i: usize, current: bool) -> String {
        let r = self.rev(i);
        let from = if r.parents().is_empty() {
            "<base>".to_owned()
        } else {
            join(r.parents())
        };
        format!("{from} -> {}", self.short(i, current))
    }

    /// The verbose block.
    fn block(&self, s: &Settings, i: usize, current: bool, applied: Option<&str>) -> Vec<String> {
        let r = self.rev(i);
        let mut lines = vec![format!("Rev: {}{}", r.id(), self.tags(i, current))];
        lines.push(format!(
            "Parent: {}",
            if r.parents().is_empty() {
                "<base>".to_owned()
            } else {
                join(r.parents())
            }
        ));
        if !self.graph.children(i).is_empty() {
            lines.push(format!(
                "Children: {}",
                self.ids(self.graph.children(i)).join(", ")
            ));
        }
        if !r.depends_on().is_empty() {
            lines.push(format!("Depends on: {}", join(r.depends_on())));
        }
        if !r.branch_labels().is_empty() {
            lines.push(format!("Branch labels: {}", join(r.branch_labels())));
        }
        lines.push(format!("Path: {}", s.dir.display_file(r.file())));
        if let Some(c) = r.created() {
            lines.push(format!("Created: {c}"));
        }
        if let Some(a) = applied {
            lines.push(format!("Applied: {a}"));
        }
        lines.push(format!(
            "Locked: {}",
            if r.is_draft() { "no (draft)" } else { "yes" }
        ));
        if !r.is_transactional() {
            lines.push("Transaction: false".into());
        }
        if let Some(d) = r.lock_timeout() {
            lines.push(format!("Lock timeout: {}", format_duration(d)));
        }
        if let Some(d) = r.statement_timeout() {
            lines.push(format!("Statement timeout: {}", format_duration(d)));
        }
        if r.is_irreversible() {
            lines.push("Downgrade: none (irreversible)".into());
        }
        lines.push(String::new());
        lines.push(format!("    {}", r.message().unwrap_or("")));
        lines.push(String::new());
        lines
    }

    fn ids(&self, v: &[usize]) -> Vec<String> {
        v.iter().map(|&i| self.rev(i).id().to_owned()).collect()
    }

    /// A revision as JSON.
    pub fn json(&self, s: &Settings, i: usize) -> Value {
        let r = self.rev(i);
        json!({
            "revision": r.id(),
            "parents": strs(r.parents()),
            "children": self.ids(self.graph.children(i)),
            "depends_on": strs(r.depends_on()),
            "branch_labels": strs(r.branch_labels()),
            "message": r.message(),
            "created": r.created(),
            "file": r.file(),
            "path": s.dir.display_file(r.file()),
            "checksum": r.checksum(),
            "draft": r.is_draft(),
            "transactional": r.is_transactional(),
            "lock_timeout_ms": r.lock_timeout().map(|d| d.as_millis() as u64),
            "statement_timeout_ms": r.statement_timeout().map(|d| d.as_millis() as u64),
            "reversible": !r.is_irreversible(),
            "head": self.is_head(i),
            "base": r.parents().is_empty(),
            "mergepoint": r.is_merge(),
            "branchpoint": self.graph.children(i).len() > 1,
        })
    }
}

fn strs(v: &[kiln_core::Str]) -> Vec<&str> {
    v.iter().map(|x| &**x).collect()
}

fn join(v: &[kiln_core::Str]) -> String {
    strs(v).join(", ")
}

/// Indices of the database's current revisions.
fn current_indices(set: &MigrationSet, st: &Status) -> Vec<usize> {
    st.current.iter().filter_map(|c| set.index_of(c)).collect()
}

/// Warnings about a database's state, on stderr.
fn warn_status(st: &Status) {
    for d in &st.dirty {
        let err = st
            .applied
            .iter()
            .find(|a| &a.revision == d)
            .and_then(|a| a.error.as_deref())
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        out::note(format!(
            "warning: revision `{d}` stopped part-way and the database is dirty{err}; see `kiln check`"
        ));
    }
    for r in &st.in_progress {
        out::note(format!(
            "revision `{r}` is being applied by another runner right now; it is not dirty, wait for the run to finish"
        ));
    }
    for d in &st.drifted {
        out::note(format!(
            "warning: revision `{d}` was applied with a different checksum than its file has now (drift)"
        ));
    }
    if !st.unknown.is_empty() {
        out::note(format!(
            "warning: the database has revisions this directory does not know: {}",
            st.unknown.join(", ")
        ));
    }
}

pub fn current(s: &Settings, a: &CurrentSettings) -> anyhow::Result<Code> {
    with_db(s, "current", s.options.clone(), async |m, db| {
        let st = m.current(db).await?;
        let view = View::new(m.set());
        let db_shown = s.database.as_ref().map(|d| d.shown());
        if a.json {
            let applied: Vec<Value> = st
                .applied
                .iter()
                .map(|r| {
                    json!({
                        "revision": r.revision,
                        "checksum": r.checksum,
                        "state": r.state,
                        "applied_at": r.applied_at,
                        "duration_ms": r.duration_ms,
                        "error": r.error,
                    })
                })
                .collect();
            let current: Vec<Value> = st
                .current
                .iter()
                .map(|c| match m.set().index_of(c) {
                    Some(i) => view.json(s, i),
                    None => json!({ "revision": c, "unknown": true }),
                })
                .collect();
            out::json(&json!({
                "database": db_shown,
                "current": current,
                "at_head": st.is_at_head(),
                "pending": st.pending,
                "dirty": st.dirty,
                "in_progress": st.in_progress,
                "drifted": st.drifted,
                "unknown": st.unknown,
                "applied": applied,
            }));
            return Ok(Code::Ok);
        }
        if st.current.is_empty() {
            out::note("nothing is applied: the database is at base");
        }
        for c in &st.current {
            let Some(i) = m.set().index_of(c) else {
                out::line(format!("{c} (unknown to this directory)"));
                continue;
            };
            if a.verbose {
                let applied = st
                    .applied
                    .iter()
                    .find(|r| &r.revision == c)
                    .map(|r| format!("{} (took {} ms)", r.applied_at, r.duration_ms));
                for l in view.block(s, i, true, applied.as_deref()) {
                    out::line(l);
                }
            } else {
                out::line(view.short(i, false));
            }
        }
        if a.verbose {
            if let Some(d) = &db_shown {
                out::line(format!(
                    "Database: {d} (from {})",
                    s.database_source().unwrap_or_default()
                ));
            }
            out::line(format!(
                "Applied: {} of {}",
                st.applied.iter().filter(|r| r.is_applied()).count(),
                m.set().len()
            ));
            out::line(format!(
                "Pending: {}",
                if st.pending.is_empty() {
                    "none".to_owned()
                } else {
                    st.pending.join(", ")
                }
            ));
        } else if !st.pending.is_empty() {
            out::note(format!(
                "{} pending ({}); `kiln upgrade heads` applies them",
                out::count(st.pending.len(), "revision"),
                st.pending.join(", ")
            ));
        }
        warn_status(&st);
        Ok(Code::Ok)
    })
}

pub fn history(s: &Settings, h: &HistorySettings) -> anyhow::Result<Code> {
    let set = crate::lenient::load(&s.dir, crate::lenient::Tolerate::READ)?;
    let needs_db = h.indicate_current || h.range.needs_database();
    let status = if needs_db {
        let why = if h.indicate_current {
            "history --indicate-current"
        } else {
            "a range with `current`"
        };
        Some(with_db(s, why, s.options.clone(), async |m, db| {
            Ok(m.current(db).await?)
        })?)
    } else {
        None
    };
    let plan = Plan::new(&set);
    let current = status.as_ref().map(|st| current_indices(&set, st));
    let selected = h.range.select(&plan, current.as_deref())?;
    let view = View::new(&set);
    let order: Vec<usize> = (0..set.len()).rev().filter(|&i| selected[i]).collect();
    let is_current =
        |i: usize| h.indicate_current && current.as_ref().is_some_and(|c| c.contains(&i));
    let applied_at = |i: usize| -> Option<String> {
        status.as_ref().and_then(|st| {
            st.applied
                .iter()
                .find(|a| a.revision == set.revisions()[i].id() && a.is_applied())
                .map(|a| a.applied_at.clone())
        })
    };
    if h.json {
        let items: Vec<Value> = order
            .iter()
            .map(|&i| {
                let mut v = view.json(s, i);
                if h.indicate_current
                    && let Some(o) = v.as_object_mut()
                {
                    o.insert("current".into(), Value::Bool(is_current(i)));
                    o.insert("applied_at".into(), json!(applied_at(i)));
                }
                v
            })
            .collect();
        out::json(&Value::Array(items));
        return Ok(Code::Ok);
    }
    if order.is_empty() {
        out::note("no revisions in that range");
        return Ok(Code::Ok);
    }
    if h.verbose {
        for &i in &order {
            let applied = if h.indicate_current {
                applied_at(i)
            } else {
                None
            };
            for l in view.block(s, i, is_current(i), applied.as_deref()) {
                out::line(l);
            }
        }
    } else if h.graph {
        let parents: Vec<Vec<usize>> = (0..view.graph.len())
            .map(|i| {
                let ps = view.graph.parents(i).iter().copied();
                ps.filter(|&p| selected[p]).collect()
            })
            .collect();
        for row in graph_text::draw(&order, &parents) {
            match row.node {
                Some(i) => {
                    let deps = set.revisions()[i].depends_on();
                    let extra = if deps.is_empty() {
                        String::new()
                    } else {
                        format!(" [depends on {}]", join(deps))
                    };
                    out::line(format!(
                        "{} {}{extra}",
                        row.graph,
                        view.oneline(i, is_current(i))
                    ));
                }
                None => out::line(row.graph),
            }
        }
    } else {
        for &i in &order {
            out::line(view.arrow(i, is_current(i)));
        }
    }
    Ok(Code::Ok)
}

pub fn heads(s: &Settings, a: &ListSettings) -> anyhow::Result<Code> {
    let set = crate::lenient::load(&s.dir, crate::lenient::Tolerate::READ)?;
    let view = View::new(&set);
    let heads = crate::range::heads(&set);
    if a.json {
        out::json(&Value::Array(
            heads.iter().map(|&i| view.json(s, i)).collect(),
        ));
    } else if heads.is_empty() {
        out::note("no revisions yet; `kiln revision -m MSG` creates the first");
    } else {
        for &i in &heads {
            if a.verbose {
                for l in view.block(s, i, false, None) {
                    out::line(l);
                }
            } else {
                out::line(view.short(i, false));
            }
        }
    }
    Ok(Code::Ok)
}

pub fn branches(s: &Settings, a: &ListSettings) -> anyhow::Result<Code> {
    let set = crate::lenient::load(&s.dir, crate::lenient::Tolerate::READ)?;
    let view = View::new(&set);
    let plan = Plan::new(&set);
    let points: Vec<usize> = (0..set.len())
        .filter(|&i| view.graph.children(i).len() > 1)
        .collect();
    let heads = crate::range::heads(&set);
    let mut labels: Vec<(String, usize, Vec<usize>)> = Vec::new();
    for (i, r) in set.revisions().iter().enumerate() {
        for l in r.branch_labels() {
            let lh: Vec<usize> = heads
                .iter()
                .copied()
                .filter(|&h| plan.labels_of(h).any(|x| x == &**l))
                .collect();
            labels.push((l.to_string(), i, lh));
        }
    }
    if a.json {
        out::json(&json!({
            "branchpoints": points.iter().map(|&i| {
                let mut v = view.json(s, i);
                if let Some(o) = v.as_object_mut() {
                    o.insert("children".into(), json!(view.ids(view.graph.children(i))));
                }
                v
            }).collect::<Vec<_>>(),
            "labels": labels.iter().map(|(l, root, hs)| json!({
                "label": l,
                "root": set.revisions()[*root].id(),
                "heads": view.ids(hs),
            })).collect::<Vec<_>>(),
        }));
        return Ok(Code::Ok);
    }
    if points.is_empty() && labels.is_empty() {
        out::note("no branch points and no branch labels: the history is a single line");
        return Ok(Code::Ok);
    }
    for &i in &points {
        if a.verbose {
            for l in view.block(s, i, false, None) {
                out::line(l);
            }
        } else {
            out::line(view.short(i, false));
        }
        for &c in view.graph.children(i) {
            out::line(format!("    -> {}", view.short(c, false)));
        }
    }
    for (l, root, hs) in &labels {
        out::line(format!(
            "branch `{l}`: starts at {}, head{} {}",
            set.revisions()[*root].id(),
            if hs.len() == 1 { "" } else { "s" },
            view.ids(hs).join(", ")
        ));
    }
    Ok(Code::Ok)
}

pub fn show(s: &Settings, a: &ShowSettings) -> anyhow::Result<Code> {
    let set = crate::lenient::load(&s.dir, crate::lenient::Tolerate::READ)?;
    let plan = Plan::new(&set);
    let i = resolve_one(&plan, &a.revision)?;
    let view = View::new(&set);
    let r = view.rev(i);
    if a.json {
        let mut v = view.json(s, i);
        if let Some(o) = v.as_object_mut() {
            o.insert("upgrade_sql".into(), json!(r.up_sql()));
            o.insert("upgrade_line".into(), json!(r.up_line()));
            o.insert("downgrade_sql".into(), json!(r.down_sql()));
            o.insert(
                "downgrade_line".into(),
                json!((r.down_line() > 0).then_some(r.down_line())),
            );
        }
        out::json(&v);
        return Ok(Code::Ok);
    }
    for l in view.block(s, i, false, None) {
        out::line(l);
    }
    out::line(format!("Checksum: sha256:{}", r.checksum()));
    out::line("");
    out::line(format!("-- kiln:upgrade (line {})", r.up_line()));
    out::line(r.up_sql().trim_matches('\n'));
    match r.down_sql() {
        Some(d) => {
            out::line(format!("-- kiln:downgrade (line {})", r.down_line()));
            if kiln_core::format::has_sql(d) {
                out::line(d.trim_matches('\n'));
            } else {
                out::line("-- (nothing to undo)");
            }
        }
        None => out::line("-- no downgrade section: this revision is irreversible"),
    }
    Ok(Code::Ok)
}
