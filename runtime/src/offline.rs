//! Offline SQL: the script a range of revisions would run, for review (Alembic's `--sql`).

use crate::engine::guardrails::{self, Limits};
use crate::error::Result;
use crate::migrator::Migrator;
use crate::sql::{Sql, quote_literal};
use kiln_core::checksum::{hex, revision_digest, xor_into};
use kiln_core::{Dialect, Plan, Target};
use std::fmt::Write as _;

impl Migrator {
    /// Renders the SQL that upgrading from `from` (`None` or `base` for an empty database) to
    /// `to` would run on `dialect`, bookkeeping included, as one reviewable script.
    pub fn upgrade_sql(&self, dialect: Dialect, from: Option<&str>, to: &str) -> Result<String> {
        self.render(dialect, from, to, true)
    }

    /// Renders the SQL that downgrading from `from` (`None` for every head) to `to` would run.
    pub fn downgrade_sql(&self, dialect: Dialect, from: Option<&str>, to: &str) -> Result<String> {
        self.render(dialect, from, to, false)
    }

    fn render(&self, dialect: Dialect, from: Option<&str>, to: &str, up: bool) -> Result<String> {
        let set = self.set();
        let plan = Plan::new(set);
        let none = vec![false; set.len()];
        let from_target = match from {
            Some(f) => Target::parse(f)?,
            None if up => Target::Base,
            None => Target::Heads,
        };
        let mut applied = vec![false; set.len()];
        for i in plan.upgrade(&none, &from_target)? {
            applied[i] = true;
        }
        let to = Target::parse(to)?;
        let steps = if up {
            plan.upgrade(&applied, &to)?
        } else {
            plan.downgrade(&applied, &to)?
        };
        let sql = Sql::new(dialect, self.options())?;
        let mut digest = [0u8; 32];
        for (i, r) in set.revisions().iter().enumerate() {
            if applied[i] {
                xor_into(&mut digest, &revision_digest(r.id(), r.checksum()));
            }
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "-- kiln {} script for {:?}: {} revision(s), {} {} -> {}\n",
            if up { "upgrade" } else { "downgrade" },
            dialect,
            steps.len(),
            if up { "upgrading" } else { "downgrading" },
            from.unwrap_or(if up { "base" } else { "heads" }),
            to
        );
        for stmt in sql.create_tables() {
            let _ = writeln!(out, "{stmt};\n");
        }
        let lit = |s: &str| quote_literal(dialect, s);
        let now = sql.now_expr();
        for &i in &steps {
            let r = &set.revisions()[i];
            xor_into(&mut digest, &revision_digest(r.id(), r.checksum()));
            let atomic = r.is_transactional() && dialect != Dialect::MySql;
            let body = if up {
                r.up_sql()
            } else {
                r.down_sql().unwrap_or("")
            };
            let _ = writeln!(
                out,
                "-- {} {}: {} ({})",
                if up { "upgrade" } else { "downgrade" },
                r.id(),
                r.message().unwrap_or("").replace('\n', " "),
                r.file()
            );
            // The DDL guardrails, as the runtime would set them (see docs/runtime.md).
            let limits = Limits::of(r, self.options());
            let [before, first, after] = guardrails::offline(dialect, limits, atomic);
            out.push_str(&before);
            if atomic {
                let _ = writeln!(out, "{};", sql.begin());
            }
            out.push_str(&first);
            let _ = writeln!(out, "{}", body.trim_end());
            if !body.trim_end().ends_with(';') && kiln_core::format::has_sql(body) {
                out.push_str(";\n");
            }
            out.push_str(&after);
            if up {
                let _ = writeln!(
                    out,
                    "INSERT INTO {} (revision, checksum, state, applied_at, duration_ms, kiln_version, error) VALUES ({}, {}, 'applied', {now}, 0, {}, NULL);",
                    sql.version,
                    lit(r.id()),
                    lit(r.checksum()),
                    lit(env!("CARGO_PKG_VERSION"))
                );
            } else {
                let _ = writeln!(
                    out,
                    "DELETE FROM {} WHERE revision = {};",
                    sql.version,
                    lit(r.id())
                );
            }
            let _ = writeln!(
                out,
                "UPDATE {} SET digest = {}, dirty = 0, updated_at = {now} WHERE id = 1;",
                sql.state,
                lit(&sql.stored_digest(&hex(&digest)))
            );
            let user = match dialect {
                Dialect::Postgres => "current_user",
                Dialect::MySql => "CURRENT_USER()",
                _ => "NULL",
            };
            let _ = writeln!(
                out,
                "INSERT INTO {} (run_id, action, revision, checksum, started_at, finished_at, duration_ms, outcome, error, db_user, host, app_version, kiln_version) VALUES ('offline', {}, {}, {}, {now}, {now}, 0, 'ok', NULL, {user}, NULL, NULL, {});",
                sql.audit,
                lit(if up { "upgrade" } else { "downgrade" }),
                lit(r.id()),
                lit(r.checksum()),
                lit(env!("CARGO_PKG_VERSION"))
            );
            if atomic {
                out.push_str("COMMIT;\n");
            }
            out.push('\n');
        }
        if steps.is_empty() {
            out.push_str("-- nothing to do\n");
        }
        Ok(out)
    }
}
