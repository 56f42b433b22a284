//! Output forms: human (snippet, note, help), JSON and SARIF 2.1.0.
//!
//! JSON is written by hand: the shapes are small and fixed, and kiln-lint stays free of serde so
//! that the macro's optional lint feature adds only the parser to a user's build.

use crate::{Finding, RULES, Severity};
use std::fmt::Write;

/// The findings as a compiler would show them, one block each, then a summary line.
pub fn human(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let width = f.line.to_string().len();
        let pad = " ".repeat(width);
        let _ = writeln!(out, "{}[{}]: {}", f.severity, f.rule, f.message);
        let _ = writeln!(
            out,
            "{pad}--> {}:{}:{} (revision {})",
            f.path, f.line, f.column, f.revision
        );
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{} | {}", f.line, f.source_line);
        let _ = writeln!(
            out,
            "{pad} | {}{}",
            " ".repeat(f.column.saturating_sub(1)),
            "^".repeat(f.len)
        );
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{pad} = note: {}", f.note);
        let _ = writeln!(out, "{pad} = help: {}", f.help);
        if f.rule != "invalid-waiver" {
            let _ = writeln!(out, "{pad} = waive: -- kiln:allow {} <reason>", f.rule);
        }
        out.push('\n');
    }
    out.push_str(&summary(findings));
    out.push('\n');
    out
}

/// One finding as the `migrations!` macro's compile error: the layout of kiln-core's
/// diagnostics (`path:line: message`, the numbered line, `help:`), which every other compile
/// error of the macro uses, plus the rule's note and the waiver to write.
pub fn compile_error(f: &Finding) -> String {
    let mut out = format!(
        "{}:{}: {}[{}]: {} (revision {})\n  {:>4} | {}\n  note: {}\n  help: {}",
        f.path,
        f.line,
        f.severity,
        f.rule,
        f.message,
        f.revision,
        f.line,
        f.source_line.trim_end(),
        f.note,
        f.help
    );
    if f.rule != "invalid-waiver" {
        let _ = write!(out, "\n  waive: -- kiln:allow {} <reason>", f.rule);
    }
    out
}

/// `2 errors, 1 warning, 0 notes` (or `no findings`).
pub fn summary(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "no findings".into();
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}, {}",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
        plural(count(Severity::Note), "note")
    )
}

/// A JSON string literal.
pub(crate) fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON array of findings, one object per line.
pub fn json(findings: &[Finding]) -> String {
    let mut out = String::from("[");
    for (i, f) in findings.iter().enumerate() {
        out.push_str(if i == 0 { "\n  " } else { ",\n  " });
        let _ = write!(
            out,
            "{{\"rule\":{},\"severity\":{},\"revision\":{},\"path\":{},\"line\":{},\"column\":{},\"length\":{},\"message\":{},\"note\":{},\"help\":{}}}",
            q(f.rule),
            q(f.severity.as_str()),
            q(&f.revision),
            q(&f.path),
            f.line,
            f.column,
            f.len,
            q(&f.message),
            q(&f.note),
            q(&f.help)
        );
    }
    out.push_str(if findings.is_empty() { "]\n" } else { "\n]\n" });
    out
}

/// A SARIF 2.1.0 log with one run: every rule in the driver, every finding as a result.
pub fn sarif(findings: &[Finding], version: &str) -> String {
    let mut rules = String::new();
    for (i, r) in RULES.iter().enumerate() {
        if i > 0 {
            rules.push(',');
        }
        let _ = write!(
            rules,
            "\n          {{\"id\":{},\"shortDescription\":{{\"text\":{}}},\"fullDescription\":{{\"text\":{}}},\"help\":{{\"text\":{}}},\"defaultConfiguration\":{{\"level\":{}}}}}",
            q(r.id),
            q(r.summary),
            q(r.note),
            q(r.help),
            q(level(r.severity))
        );
    }
    let mut results = String::new();
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            results.push(',');
        }
        let index = RULES.iter().position(|r| r.id == f.rule).unwrap_or(0);
        let _ = write!(
            results,
            "\n    {{\"ruleId\":{},\"ruleIndex\":{index},\"level\":{},\"message\":{{\"text\":{}}},\"locations\":[{{\"physicalLocation\":{{\"artifactLocation\":{{\"uri\":{}}},\"region\":{{\"startLine\":{},\"startColumn\":{},\"endColumn\":{}}}}}}}],\"properties\":{{\"revision\":{}}}}}",
            q(f.rule),
            q(level(f.severity)),
            q(&format!("{} ({})", f.message, f.help)),
            q(&f.path.replace('\\', "/")),
            f.line,
            f.column,
            f.column + f.len,
            q(&f.revision)
        );
    }
    format!(
        "{{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n  \"runs\": [{{\n    \"tool\": {{\n      \"driver\": {{\n        \"name\": \"kiln\",\n        \"version\": {},\n        \"rules\": [{rules}\n        ]\n      }}\n    }},\n    \"results\": [{results}\n    ]\n  }}]\n}}\n",
        q(version)
    )
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_json_requires() {
        assert_eq!(q("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
