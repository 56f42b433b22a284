//! `kiln.lock`: the committed record of which revisions are final and what their files hash to.
//!
//! One line per locked revision, sorted by revision id:
//!
//! ```text
//! # kiln.lock: checksums of locked migrations. Update it with `kiln lock`; review it like code.
//! 3f2a9c1b7d4e sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 3f2a9c1b7d4e_create_users.sql
//! ```
//!
//! Sorting by the (random) revision id scatters concurrent additions across the file, so two
//! branches that each lock a new revision rarely touch neighbouring lines and git merges them
//! without a conflict. The file name is there for reviewers and for the "file is gone" message.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The lock file's name inside the migration directory.
pub const LOCK_FILE: &str = "kiln.lock";

const HEADER: &str = "# kiln.lock: checksums of locked migrations. Update it with `kiln lock`; review it like code.\n";

/// One locked revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEntry {
    /// Hex SHA-256 of the normalized file.
    pub checksum: String,
    /// The file name when it was locked.
    pub file: String,
    /// 1-based line in `kiln.lock` (0 for entries not read from a file).
    pub line: usize,
}

/// The parsed lock: revision id → entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    /// Entries by revision id.
    pub entries: BTreeMap<String, LockEntry>,
}

/// A line of `kiln.lock` that does not parse. The reason does not repeat the line number:
/// messages show it as the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl Lock {
    /// Parses the lock file's (normalized) text, reporting every bad line.
    pub fn parse(text: &str) -> Result<Lock, Vec<LockError>> {
        let mut lock = Lock::default();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let mut parts = l.split_whitespace();
            let (Some(id), Some(sum), Some(file), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                errors.push(LockError {
                    line,
                    reason: format!(
                        "expected three fields, `<revision> sha256:<hex> <file>`, found {}",
                        l.split_whitespace().count()
                    ),
                });
                continue;
            };
            if !crate::format::is_valid_id(id) {
                errors.push(LockError {
                    line,
                    reason: format!("`{id}` is not a valid revision id"),
                });
                continue;
            }
            let hex = sum.strip_prefix("sha256:").unwrap_or("");
            if crate::checksum::parse_hex32(hex).is_none() {
                errors.push(LockError {
                    line,
                    reason: format!("`{sum}` is not `sha256:` followed by 64 hex digits"),
                });
                continue;
            }
            if let Some(prev) = lock.entries.get(id) {
                errors.push(LockError {
                    line,
                    reason: format!(
                        "revision `{id}` is locked twice (also on line {})",
                        prev.line
                    ),
                });
                continue;
            }
            lock.entries.insert(
                id.to_owned(),
                LockEntry {
                    checksum: hex.to_ascii_lowercase(),
                    file: file.to_owned(),
                    line,
                },
            );
        }
        if errors.is_empty() {
            Ok(lock)
        } else {
            Err(errors)
        }
    }

    /// Renders the lock in its canonical form (header, then entries sorted by id).
    pub fn render(&self) -> String {
        let mut out = String::from(HEADER);
        for (id, e) in &self.entries {
            let _ = writeln!(out, "{id} sha256:{} {}", e.checksum, e.file);
        }
        out
    }

    /// Records (or re-records) a revision.
    pub fn insert(&mut self, id: &str, checksum: &str, file: &str) {
        self.entries.insert(
            id.to_owned(),
            LockEntry {
                checksum: checksum.to_owned(),
                file: file.to_owned(),
                line: 0,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_sorted() {
        let mut l = Lock::default();
        l.insert("b", &"1".repeat(64), "b_x.sql");
        l.insert("a", &"2".repeat(64), "a_y.sql");
        let text = l.render();
        assert!(text.find("a sha256").unwrap() < text.find("b sha256").unwrap());
        let back = Lock::parse(&text).unwrap();
        assert_eq!(back.entries["a"].file, "a_y.sql");
        assert_eq!(back.entries["b"].line, 3);
    }

    #[test]
    fn reports_every_bad_line() {
        let text = format!(
            "a sha256:{}\nb md5:xyz b.sql\nc sha256:{} c.sql\nc sha256:{} c.sql\n",
            "0".repeat(64),
            "0".repeat(64),
            "0".repeat(64)
        );
        let errs = Lock::parse(&text).unwrap_err();
        assert_eq!(errs.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 2, 4]);
        assert!(errs[2].reason.contains("locked twice"));
    }
}
