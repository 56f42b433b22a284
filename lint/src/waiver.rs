//! `-- kiln:allow RULE reason`: waivers written in the file, so they are reviewed and
//! checksummed with the SQL they excuse.
//!
//! In the header a waiver covers the whole revision; in a section it covers the next statement.
//! kiln-core's format parser accepts the directive in both places (see `docs/format.md`); what
//! it means is owned here.

use crate::rules;

/// One `-- kiln:allow` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// Byte offset of the line's text in the scanned text.
    pub offset: usize,
    /// Byte offset of the line's end.
    pub end: usize,
    /// The rule id as written (may be empty or unknown: see [`problem`]).
    pub rule: String,
    /// The reason; empty when missing.
    pub reason: String,
}

/// Finds the waiver lines of `text`, in order. Like every `-- kiln:` line, a waiver is found by
/// its text alone; kiln-core has already refused a file where such a line sits inside a literal
/// or comment.
pub fn scan(text: &str) -> Vec<Waiver> {
    let mut out = Vec::new();
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let Some(value) = kiln_core::format::directive_value(line, "allow") else {
            continue;
        };
        let lead = line.len() - line.trim_start().len();
        let mut parts = value.splitn(2, char::is_whitespace);
        out.push(Waiver {
            offset: start + lead,
            end: start + line.len(),
            rule: parts.next().unwrap_or("").to_owned(),
            reason: parts.next().unwrap_or("").trim().to_owned(),
        });
    }
    out
}

/// What is wrong with a waiver, if anything: no rule, an unknown rule, or no reason.
pub fn problem(w: &Waiver) -> Option<String> {
    if w.rule.is_empty() {
        return Some("`-- kiln:allow` names no rule".into());
    }
    if rules::rule(&w.rule).is_none() {
        let close = rules::RULES
            .iter()
            .map(|r| r.id)
            .find(|id| id.contains(w.rule.as_str()) || w.rule.contains(id));
        return Some(match close {
            Some(c) => format!("unknown rule `{}` in waiver (did you mean `{c}`?)", w.rule),
            None => format!("unknown rule `{}` in waiver", w.rule),
        });
    }
    if w.reason.is_empty() {
        return Some(format!("waiver of `{}` gives no reason", w.rule));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waivers_are_found_with_rule_and_reason() {
        let text = "SELECT 1;\n  --   KILN:allow drop-column  nobody reads it\n-- kiln:allow\n-- kiln:allowed x\n";
        let w = scan(text);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[0].rule, "drop-column");
        assert_eq!(w[0].reason, "nobody reads it");
        assert_eq!(&text[w[0].offset..w[0].offset + 2], "--");
        assert_eq!(problem(&w[0]), None);
        assert_eq!(
            problem(&w[1]).as_deref(),
            Some("`-- kiln:allow` names no rule")
        );
    }

    #[test]
    fn unknown_rules_and_missing_reasons_are_problems() {
        let w = |rule: &str, reason: &str| Waiver {
            offset: 0,
            end: 0,
            rule: rule.into(),
            reason: reason.into(),
        };
        assert_eq!(
            problem(&w("drop-colum", "x")).as_deref(),
            Some("unknown rule `drop-colum` in waiver (did you mean `drop-column`?)")
        );
        assert_eq!(
            problem(&w("drop-column", "")).as_deref(),
            Some("waiver of `drop-column` gives no reason")
        );
    }
}
