//! MySQL/MariaDB's spelling of the pieces a table is made of: a column definition (read back
//! from the capture's `extra`), key parts with prefix lengths and `DESC`, index clauses by
//! method, check and foreign-key constraints, and table options (engine, charset, collation).

use super::D;
use crate::model::{Check, Column, ForeignKey, Index};
use crate::render::{ident, idents};

/// How a column is generated, read from the capture's `extra`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Generated<'a> {
    /// An ordinary column.
    No,
    /// `AS (expr) VIRTUAL`.
    Virtual(&'a str),
    /// `AS (expr) STORED`.
    Stored(&'a str),
}

impl Generated<'_> {
    /// Whether a change between `self` and `other` needs the column dropped and added again:
    /// MariaDB refuses `MODIFY` between ordinary, virtual and stored ("not yet supported for
    /// generated columns").
    pub(super) fn kind_differs(&self, other: &Generated<'_>) -> bool {
        std::mem::discriminant(self) != std::mem::discriminant(other)
    }
}

/// The capture's `extra` taken apart: generation, the attributes MySQL writes after the
/// default (`auto_increment`, `on update ...`, `invisible`) and a collation other than the
/// table's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Extra<'a> {
    pub(super) generated: Generated<'a>,
    /// Attributes in DDL spelling, e.g. `AUTO_INCREMENT`, `ON UPDATE current_timestamp()`.
    pub(super) attributes: Vec<String>,
    /// MySQL 8's `DEFAULT_GENERATED`: the default is an expression.
    pub(super) default_expression: bool,
    pub(super) collate: Option<&'a str>,
}

/// Reads `extra`, or says which part kiln cannot spell back.
pub(super) fn extra(extra: &str) -> Result<Extra<'_>, String> {
    // A collation name has no spaces or parentheses, so a trailing `collate NAME` is one.
    let (rest, collate) = match extra.rsplit_once("collate ") {
        Some((before, name))
            if (before.is_empty() || before.ends_with(' ')) && !name.contains([' ', ')', '(']) =>
        {
            (before.trim_end(), Some(name))
        }
        _ => (extra, None),
    };
    let mut out = Extra {
        generated: Generated::No,
        attributes: Vec::new(),
        default_expression: false,
        collate,
    };
    if let Some(body) = rest.strip_prefix("as (") {
        out.generated = if let Some(e) = body.strip_suffix(") virtual generated") {
            Generated::Virtual(e)
        } else if let Some(e) = body.strip_suffix(") stored generated") {
            Generated::Stored(e)
        } else {
            return Err(format!("generated column `{rest}`"));
        };
        return Ok(out);
    }
    let mut words = rest.split_whitespace().peekable();
    while let Some(w) = words.next() {
        match w {
            "auto_increment" => out.attributes.push("AUTO_INCREMENT".into()),
            "invisible" => out.attributes.push("INVISIBLE".into()),
            "default_generated" => out.default_expression = true,
            "on" if words.peek() == Some(&"update") => {
                words.next();
                let Some(what) = words.next() else {
                    return Err(format!("`{rest}`"));
                };
                out.attributes.push(format!("ON UPDATE {what}"));
            }
            _ => return Err(format!("column attribute `{w}` in `{rest}`")),
        }
    }
    Ok(out)
}

/// A column definition as `CREATE TABLE`, `ADD COLUMN` and `MODIFY COLUMN` take it.
pub(super) fn definition(c: &Column) -> Result<String, String> {
    let x = extra(&c.extra)?;
    let mut s = format!("{} {}", ident(D, &c.name), c.data_type);
    if let Some(co) = x.collate {
        s.push_str(&format!(" COLLATE {co}"));
    }
    match x.generated {
        Generated::Virtual(e) => return Ok(format!("{s} GENERATED ALWAYS AS ({e}) VIRTUAL")),
        Generated::Stored(e) => return Ok(format!("{s} GENERATED ALWAYS AS ({e}) STORED")),
        Generated::No => {}
    }
    s.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
    if let Some(d) = &c.default {
        s.push_str(" DEFAULT ");
        s.push_str(&default(d, x.default_expression));
    }
    for a in &x.attributes {
        s.push(' ');
        s.push_str(a);
    }
    Ok(s)
}

/// A default as DDL takes it: literals bare, expressions in parentheses (MariaDB prints
/// `concat('a','b')` without them, and `DEFAULT concat(...)` does not parse).
fn default(d: &str, expression: bool) -> String {
    let literal = d.starts_with('\'')
        || d.starts_with("b'")
        || d.starts_with("x'")
        || d.starts_with("0x")
        || d.eq_ignore_ascii_case("null")
        || d.parse::<f64>().is_ok();
    let wrapped = d.starts_with('(') && d.ends_with(')');
    if (literal && !expression) || wrapped {
        d.to_owned()
    } else {
        format!("({d})")
    }
}

/// Whether the column's type takes a character set (a table's collation applies to it).
pub(super) fn textual(c: &Column) -> bool {
    let t = c.data_type.as_str();
    [
        "char",
        "varchar",
        "tinytext",
        "text",
        "mediumtext",
        "longtext",
        "enum",
        "set",
    ]
    .iter()
    .any(|p| t == *p || t.starts_with(&format!("{p}(")) || t.starts_with(&format!("{p} ")))
        || c.extra.contains("collate ")
}

/// One key part as the capture writes it (`name`, `name(10)`, `name desc`), quoted; `spatial`
/// drops the prefix length MariaDB reports for spatial keys.
fn key_part(part: &str, spatial: bool) -> Result<String, String> {
    if part == "<expression>" {
        return Err(
            "an expression key part (MariaDB's catalog does not give the expression)".into(),
        );
    }
    let (rest, desc) = match part.strip_suffix(" desc") {
        Some(r) => (r, " DESC"),
        None => (part, ""),
    };
    let (name, prefix) = match rest.strip_suffix(')').and_then(|r| r.rsplit_once('(')) {
        Some((n, len)) if !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) => {
            (n, format!("({len})"))
        }
        _ => (rest, String::new()),
    };
    let prefix = if spatial { String::new() } else { prefix };
    Ok(format!("{}{prefix}{desc}", ident(D, name)))
}

/// Key parts, comma-separated.
pub(super) fn key_parts(parts: &[String], spatial: bool) -> Result<String, String> {
    Ok(parts
        .iter()
        .map(|p| key_part(p, spatial))
        .collect::<Result<Vec<_>, _>>()?
        .join(", "))
}

/// `[FULLTEXT|SPATIAL] KEY name (parts) [USING ...]` from an index's `method (parts)`.
/// `engine` decides whether `btree` must be spelled out (MEMORY tables default to hash).
pub(super) fn index(i: &Index, engine: &str) -> Result<String, String> {
    let (method, list) = i
        .definition
        .split_once(" (")
        .and_then(|(m, l)| Some((m, l.strip_suffix(')')?)))
        .ok_or_else(|| format!("index {}: cannot read `{}`", i.name, i.definition))?;
    let parts: Vec<String> = list.split(", ").map(str::to_owned).collect();
    let memory = engine.eq_ignore_ascii_case("memory");
    let (kind, using) = match method {
        "btree" => ("KEY", if memory { " USING BTREE" } else { "" }),
        "hash" => ("KEY", " USING HASH"),
        "fulltext" => ("FULLTEXT KEY", ""),
        "spatial" => ("SPATIAL KEY", ""),
        other => return Err(format!("index {}: method `{other}`", i.name)),
    };
    let cols =
        key_parts(&parts, method == "spatial").map_err(|why| format!("index {}: {why}", i.name))?;
    let unique = if i.unique { "UNIQUE " } else { "" };
    Ok(format!(
        "{unique}{kind} {} ({cols}){using}",
        ident(D, &i.name)
    ))
}

/// `CONSTRAINT name CHECK (expr)`.
pub(super) fn check(c: &Check) -> String {
    match &c.name {
        Some(n) => format!("CONSTRAINT {} CHECK ({})", ident(D, n), c.expression),
        None => format!("CHECK ({})", c.expression),
    }
}

/// A table name that may name another database (`db.table`).
pub(in crate::render) fn table_name(name: &str) -> String {
    match name.split_once('.') {
        Some((db, t)) => format!("{}.{}", ident(D, db), ident(D, t)),
        None => ident(D, name),
    }
}

/// `CONSTRAINT name FOREIGN KEY (...) REFERENCES t (...) [ON DELETE ...] [ON UPDATE ...]`;
/// `RESTRICT`, MySQL's default, is left out.
pub(super) fn foreign_key(fk: &ForeignKey) -> String {
    let mut s = format!(
        "{}FOREIGN KEY ({}) REFERENCES {} ({})",
        fk.name
            .as_ref()
            .map(|n| format!("CONSTRAINT {} ", ident(D, n)))
            .unwrap_or_default(),
        idents(D, &fk.columns),
        table_name(&fk.references),
        idents(D, &fk.referenced_columns)
    );
    for (what, action) in [("DELETE", &fk.on_delete), ("UPDATE", &fk.on_update)] {
        if action != "restrict" {
            s.push_str(&format!(" ON {what} {}", action.to_uppercase()));
        }
    }
    s
}

/// The table's options as the capture writes them: `engine E, collation C`, maybe led by a
/// kind (`system versioned`).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Options<'a> {
    pub(super) kind: Option<&'a str>,
    pub(super) engine: &'a str,
    pub(super) collation: &'a str,
}

impl<'a> Options<'a> {
    pub(super) fn parse(options: &'a str) -> Options<'a> {
        let mut o = Options {
            kind: None,
            engine: "",
            collation: "",
        };
        for part in options.split(", ") {
            if let Some(e) = part.strip_prefix("engine ") {
                o.engine = e;
            } else if let Some(c) = part.strip_prefix("collation ") {
                o.collation = c;
            } else if !part.is_empty() {
                o.kind = Some(part);
            }
        }
        o
    }

    /// `ENGINE=E DEFAULT CHARSET=cs COLLATE=C` (a collation's name starts with its charset's,
    /// and charset names have no `_`), each only when known.
    pub(super) fn sql(&self) -> String {
        let mut s = Vec::new();
        if !self.engine.is_empty() {
            s.push(format!("ENGINE={}", self.engine));
        }
        s.extend(self.charset());
        s.join(" ")
    }

    /// `DEFAULT CHARSET=cs COLLATE=C`, if the collation is known.
    pub(super) fn charset(&self) -> Option<String> {
        if self.collation.is_empty() {
            return None;
        }
        let cs = self.collation.split('_').next().unwrap_or(self.collation);
        Some(if cs == self.collation {
            format!("DEFAULT CHARSET={cs}")
        } else {
            format!("DEFAULT CHARSET={cs} COLLATE={}", self.collation)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: &str, nullable: bool, default: Option<&str>, extra: &str) -> Column {
        Column {
            name: "c".into(),
            data_type: t.into(),
            nullable,
            default: default.map(str::to_owned),
            extra: extra.into(),
        }
    }

    #[test]
    fn columns_are_spelled_back_from_the_capture() {
        let c = col("int(11)", false, None, "auto_increment");
        assert_eq!(
            definition(&c).unwrap(),
            "`c` int(11) NOT NULL AUTO_INCREMENT"
        );
        let c = col(
            "timestamp",
            false,
            Some("current_timestamp()"),
            "on update current_timestamp()",
        );
        assert_eq!(
            definition(&c).unwrap(),
            "`c` timestamp NOT NULL DEFAULT (current_timestamp()) ON UPDATE current_timestamp()"
        );
        let c = col("varchar(5)", true, Some("'it''s'"), "collate latin1_bin");
        assert_eq!(
            definition(&c).unwrap(),
            "`c` varchar(5) COLLATE latin1_bin NULL DEFAULT 'it''s'"
        );
        let c = col("int(11)", true, None, "as (`a` + 1) virtual generated");
        assert_eq!(
            definition(&c).unwrap(),
            "`c` int(11) GENERATED ALWAYS AS (`a` + 1) VIRTUAL"
        );
        let c = col("varchar(9)", true, Some("concat('a','b')"), "");
        assert!(
            definition(&c)
                .unwrap()
                .ends_with("DEFAULT (concat('a','b'))")
        );
        assert!(definition(&col("int", true, None, "weird thing")).is_err());
    }

    #[test]
    fn key_parts_keep_prefix_and_order() {
        let parts = vec!["name(10)".to_owned(), "score desc".to_owned()];
        assert_eq!(
            key_parts(&parts, false).unwrap(),
            "`name`(10), `score` DESC"
        );
        assert_eq!(key_parts(&["geo(32)".into()], true).unwrap(), "`geo`");
        assert!(key_parts(&["<expression>".into()], false).is_err());
    }

    #[test]
    fn table_options_name_engine_and_charset() {
        let o = Options::parse("engine InnoDB, collation utf8mb4_unicode_ci");
        assert_eq!(
            o.sql(),
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
        );
        let o = Options::parse("system versioned, engine InnoDB, collation binary");
        assert_eq!(o.kind, Some("system versioned"));
        assert_eq!(o.sql(), "ENGINE=InnoDB DEFAULT CHARSET=binary");
    }
}
