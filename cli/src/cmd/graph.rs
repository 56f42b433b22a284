//! `kiln graph [--format dot|mermaid]`: the revision graph as a picture people can render.
//!
//! Edges point from parent to child (the direction of an upgrade); `depends-on` edges are dashed.
//! Heads are drawn bold, drafts dashed, irreversible revisions as hexagons, labels in the node text.

use crate::action::GraphFormat;
use crate::error::Code;
use crate::out;
use crate::settings::Settings;

pub fn graph(s: &Settings, format: GraphFormat) -> anyhow::Result<Code> {
    let set = crate::lenient::load(&s.dir, crate::lenient::Tolerate::READ)?;
    let is_head = |id: &str| set.heads().iter().any(|h| h == id);
    let label = |r: &kiln_core::Revision| {
        let mut t = r.id().to_owned();
        if !r.branch_labels().is_empty() {
            let l: Vec<&str> = r.branch_labels().iter().map(|x| &**x).collect();
            t += &format!(" ({})", l.join(", "));
        }
        if let Some(m) = r.message().filter(|m| !m.is_empty()) {
            t += "\n";
            t += m;
        }
        t
    };
    let mut lines = Vec::new();
    match format {
        GraphFormat::Dot => {
            lines.push("digraph kiln {".to_owned());
            lines.push("  rankdir=BT;".to_owned());
            lines.push("  node [shape=box, fontname=\"monospace\"];".to_owned());
            for r in set.revisions() {
                let mut attrs = vec![format!("label=\"{}\"", dot_escape(&label(r)))];
                if is_head(r.id()) {
                    attrs.push("penwidth=2".into());
                }
                if r.is_draft() {
                    attrs.push("style=dashed".into());
                }
                if r.is_irreversible() {
                    attrs.push("shape=hexagon".into());
                }
                lines.push(format!("  \"{}\" [{}];", r.id(), attrs.join(", ")));
            }
            for r in set.revisions() {
                for p in r.parents() {
                    lines.push(format!("  \"{p}\" -> \"{}\";", r.id()));
                }
                for d in r.depends_on() {
                    lines.push(format!(
                        "  \"{d}\" -> \"{}\" [style=dashed, label=\"depends on\"];",
                        r.id()
                    ));
                }
            }
            lines.push("}".to_owned());
        }
        GraphFormat::Mermaid => {
            lines.push("flowchart BT".to_owned());
            for r in set.revisions() {
                let text = mermaid_escape(&label(r));
                let node = if r.is_irreversible() {
                    format!("  {}{{{{\"{text}\"}}}}", r.id())
                } else {
                    format!("  {}[\"{text}\"]", r.id())
                };
                lines.push(node);
            }
            for r in set.revisions() {
                for p in r.parents() {
                    lines.push(format!("  {p} --> {}", r.id()));
                }
                for d in r.depends_on() {
                    lines.push(format!("  {d} -. depends on .-> {}", r.id()));
                }
            }
            let heads: Vec<&str> = set.heads().iter().map(|h| &**h).collect();
            if !heads.is_empty() {
                lines.push("  classDef head stroke-width:3px".to_owned());
                lines.push(format!("  class {} head", heads.join(",")));
            }
            let drafts: Vec<&str> = set.drafts().map(|r| r.id()).collect();
            if !drafts.is_empty() {
                lines.push("  classDef draft stroke-dasharray: 5 5".to_owned());
                lines.push(format!("  class {} draft", drafts.join(",")));
            }
        }
    }
    for l in lines {
        out::line(l);
    }
    Ok(Code::Ok)
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;").replace('\n', "<br/>")
}
