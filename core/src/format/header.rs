//! The header directives of a migration file (`-- kiln:revision`, `revises`, `depends-on`,
//! `branches`, `message`, `created`, `transaction` and the timeouts): each one's value checked
//! and recorded once, with its line, by the parser in `mod.rs`.

use super::*;

impl Parser<'_> {
    pub(super) fn header_directive(&mut self, h: &mut Header, line: usize, d: &DirectiveLine<'_>) {
        let first_line = match d.name.as_str() {
            "revision" => h.revision.as_ref().map(|l| l.line),
            "revises" => h.revises.as_ref().map(|l| l.line),
            "depends-on" => h.depends_on.as_ref().map(|l| l.line),
            "branch" => h.branches.as_ref().map(|l| l.line),
            "message" => h.message.as_ref().map(|l| l.line),
            "created" => h.created.as_ref().map(|l| l.line),
            "lock-timeout" => h.lock_timeout.as_ref().map(|l| l.line),
            "statement-timeout" => h.statement_timeout.as_ref().map(|l| l.line),
            _ => h.transaction.as_ref().map(|l| l.line),
        };
        if let Some(first_line) = first_line {
            self.error(
                line,
                Problem::DuplicateDirective {
                    directive: d.name.clone(),
                    first_line,
                },
            );
            return;
        }
        let malformed = |reason: &str| Problem::MalformedDirective {
            directive: d.name.clone(),
            value: d.value.to_owned(),
            reason: reason.to_owned(),
        };
        match d.name.as_str() {
            "revision" => {
                if !is_valid_id(d.value) {
                    self.error(
                        line,
                        malformed("expected 1 to 32 characters of A-Z, a-z, 0-9 and `_`"),
                    );
                }
                h.revision = Some(Located {
                    value: d.value.to_owned(),
                    line,
                });
            }
            "revises" | "depends-on" | "branch" => {
                let is_branch = d.name == "branch";
                match split_list(d.value) {
                    Some(items) => {
                        let bad = items.iter().find(|i| {
                            if d.name == "revises" {
                                !is_valid_id(i)
                            } else {
                                !is_valid_label(i)
                            }
                        });
                        if let Some(bad) = bad {
                            let what = if is_branch || d.name == "depends-on" {
                                format!("`{bad}` is not a valid revision id or branch label")
                            } else {
                                format!("`{bad}` is not a valid revision id")
                            };
                            self.error(line, malformed(&what));
                        } else if let Some(dup) = first_duplicate(&items) {
                            self.error(line, malformed(&format!("`{dup}` is listed twice")));
                        }
                        let located = Some(Located { value: items, line });
                        match d.name.as_str() {
                            "revises" => h.revises = located,
                            "depends-on" => h.depends_on = located,
                            _ => h.branches = located,
                        }
                    }
                    None => self.error(
                        line,
                        malformed("expected a comma-separated list with no empty items"),
                    ),
                }
            }
            "message" => {
                h.message = Some(Located {
                    value: d.value.to_owned(),
                    line,
                })
            }
            "created" => {
                if !is_rfc3339(d.value) {
                    self.error(
                        line,
                        malformed("expected an RFC 3339 time like 2026-11-23T21:00:00Z"),
                    );
                }
                h.created = Some(Located {
                    value: d.value.to_owned(),
                    line,
                });
            }
            "lock-timeout" | "statement-timeout" => {
                // Read here, once: the runtime only ever sees a valid duration.
                let value = match crate::time::parse_timeout(d.value) {
                    Ok(v) => v,
                    Err(reason) => {
                        self.error(line, malformed(&format!("expected a duration: {reason}")));
                        Duration::ZERO
                    }
                };
                let located = Some(Located { value, line });
                if d.name == "lock-timeout" {
                    h.lock_timeout = located;
                } else {
                    h.statement_timeout = located;
                }
            }
            _ => {
                let value = match d.value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        self.error(line, malformed("expected `true` or `false`"));
                        true
                    }
                };
                h.transaction = Some(Located { value, line });
            }
        }
    }
}

/// Splits `a, b,c` into items; `None` for an empty list or an empty item.
fn split_list(value: &str) -> Option<Vec<String>> {
    let items: Vec<String> = value.split(',').map(|s| s.trim().to_owned()).collect();
    if items.iter().any(String::is_empty) {
        return None;
    }
    Some(items)
}

fn first_duplicate(items: &[String]) -> Option<&str> {
    items
        .iter()
        .enumerate()
        .find(|(i, a)| items[..*i].contains(a))
        .map(|(_, a)| a.as_str())
}

/// Checks `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` with field ranges (RFC 3339 `date-time`).
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |r: Range<usize>, lo: u32, hi: u32| -> bool {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            && s[r].parse::<u32>().is_ok_and(|n| (lo..=hi).contains(&n))
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return false;
    }
    if !(num(0..4, 0, 9999)
        && num(5..7, 1, 12)
        && num(8..10, 1, 31)
        && num(11..13, 0, 23)
        && num(14..16, 0, 59)
        && num(17..19, 0, 60))
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            b.len() == i + 6
                && b[i + 3] == b':'
                && num(i + 1..i + 3, 0, 23)
                && num(i + 4..i + 6, 0, 59)
        }
        _ => false,
    }
}
