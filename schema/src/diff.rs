//! The diff of two [`Schema`]s: their text-form lines paired by key, so a changed column is one
//! "changed" entry rather than an unrelated removal and addition.

use crate::model::Schema;
use crate::text::{line, parse_line};
use std::collections::BTreeMap;

impl Schema {
    /// `None` when the two schemas are equal; otherwise a readable, line-oriented account of
    /// what is only in `self` (left), only in `other` (right), and changed.
    pub fn diff(&self, other: &Schema) -> Option<String> {
        self.diff_labeled(other, "left", "right")
    }

    /// [`Schema::diff`] with names for the two sides ("migrated database", "schema.sql", ...).
    pub fn diff_labeled(&self, other: &Schema, left: &str, right: &str) -> Option<String> {
        diff_lines(&self.lines(), &other.lines(), left, right)
    }

    /// Compares with a snapshot in the text form of [`Schema::to_text`] (this capture is the
    /// left side, the snapshot the right). Lines starting with `--` and blank lines are ignored.
    pub fn diff_text(&self, snapshot: &str) -> Option<String> {
        let theirs: Vec<(String, String)> = snapshot
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
            .map(parse_line)
            .collect();
        diff_lines(&self.lines(), &theirs, "database", "snapshot")
    }
}

fn diff_lines(
    left: &[(String, String)],
    right: &[(String, String)],
    left_name: &str,
    right_name: &str,
) -> Option<String> {
    let l: BTreeMap<&str, &str> = left.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r: BTreeMap<&str, &str> = right
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let only_left: Vec<String> = l
        .iter()
        .filter(|(k, _)| !r.contains_key(*k))
        .map(|(k, v)| line(k, v))
        .collect();
    let only_right: Vec<String> = r
        .iter()
        .filter(|(k, _)| !l.contains_key(*k))
        .map(|(k, v)| line(k, v))
        .collect();
    let changed: Vec<(&str, &str, &str)> = l
        .iter()
        .filter_map(|(k, lv)| match r.get(k) {
            Some(rv) if rv != lv => Some((*k, *lv, *rv)),
            _ => None,
        })
        .collect();
    if only_left.is_empty() && only_right.is_empty() && changed.is_empty() {
        return None;
    }
    let width = left_name.len().max(right_name.len()) + 1;
    let mut out = String::new();
    let mut section = |title: String, items: &[String]| {
        if !items.is_empty() {
            out.push_str(&format!("  {title}:\n"));
            for i in items {
                out.push_str(&format!("    {i}\n"));
            }
        }
    };
    section(format!("only in {left_name}"), &only_left);
    section(format!("only in {right_name}"), &only_right);
    if !changed.is_empty() {
        out.push_str("  changed:\n");
        for (k, lv, rv) in changed {
            out.push_str(&format!(
                "    {k}\n      {:<width$} {}\n      {:<width$} {}\n",
                format!("{left_name}:"),
                show(lv),
                format!("{right_name}:"),
                show(rv),
            ));
        }
    }
    Some(out.trim_end().to_owned())
}

fn show(v: &str) -> &str {
    if v.is_empty() { "(nothing)" } else { v }
}

#[cfg(test)]
mod tests {
    use crate::model::{Check, Column, ForeignKey, PrimaryKey, Schema, Table};
    use kiln_core::Dialect;

    fn users(email_type: &str) -> Schema {
        let mut s = Schema::empty(Dialect::Postgres);
        s.tables.insert(
            "users".into(),
            Table {
                columns: vec![
                    Column {
                        name: "id".into(),
                        data_type: "integer".into(),
                        nullable: false,
                        default: None,
                        extra: String::new(),
                    },
                    Column {
                        name: "email".into(),
                        data_type: email_type.into(),
                        nullable: false,
                        default: None,
                        extra: String::new(),
                    },
                ],
                primary_key: Some(PrimaryKey {
                    name: Some("users_pkey".into()),
                    columns: vec!["id".into()],
                }),
                checks: vec![Check {
                    expression: "CHECK (a: b)".into(),
                    name: None,
                }],
                ..Table::default()
            },
        );
        s
    }

    #[test]
    fn equal_schemas_have_no_diff() {
        assert_eq!(users("text").diff(&users("text")), None);
        assert!(Schema::empty(Dialect::Sqlite).is_empty());
        assert!(!users("text").is_empty());
    }

    #[test]
    fn diff_pairs_changed_lines_and_lists_the_rest() {
        let mut right = users("character varying(10)");
        right.views.insert("v".into(), "SELECT 1".into());
        let d = users("text")
            .diff_labeled(&right, "migrated", "schema.sql")
            .unwrap();
        assert!(
            d.contains("only in schema.sql:\n    view v: SELECT 1"),
            "{d}"
        );
        assert!(
            d.contains("changed:\n    table users column email\n      migrated:   text not null\n      schema.sql: character varying(10) not null"),
            "{d}"
        );
        assert!(!d.contains("only in migrated"), "{d}");
    }

    #[test]
    fn text_form_round_trips_through_diff_text() {
        let s = users("text");
        let text = s.to_text();
        assert!(text.starts_with("-- kiln schema capture (PostgreSQL)\n"));
        assert!(text.contains("table users primary key: (id) named users_pkey\n"));
        assert_eq!(s.diff_text(&text), None, "{text}");
        let edited = text.replace("email: text", "email: integer");
        let d = s.diff_text(&edited).unwrap();
        assert!(d.contains("table users column email"), "{d}");
    }

    #[test]
    fn duplicate_keys_are_all_kept() {
        let mut s = users("text");
        let fk = ForeignKey {
            columns: vec!["id".into()],
            references: "users".into(),
            referenced_columns: vec!["id".into()],
            on_update: "no action".into(),
            on_delete: "no action".into(),
            options: String::new(),
            name: None,
        };
        let t = s.tables.get_mut("users").unwrap();
        t.foreign_keys = vec![fk.clone(), fk];
        let lines = s.lines();
        assert!(
            lines.iter().any(|(k, _)| k.ends_with("(id) #2")),
            "{lines:?}"
        );
        assert!(s.diff(&users("text")).is_some());
    }
}
