//! `downgrade_leaves_no_trace`: from every head down to base (or as low as irreversible
//! revisions allow), nothing is left behind.

use super::stairway::downgrade_options;
use super::{CheckError, CheckReport, Ctx, applied, finish, ids, members};
use crate::testdb::TestDb;
use kiln_core::{Dialect, Plan};
use kiln_runtime::{Error, Migrator, RawConnection, quote_ident};
use std::time::Instant;

/// A downgrade leaves no trace: from every head down to base, no table, view, type, sequence,
/// trigger or routine is left besides kiln's own tables, and kiln's version table is empty.
///
/// Irreversible revisions make base unreachable from the head. Then two things are checked,
/// and the report says which revisions stayed:
/// 1. From every head, the database is downgraded to the lowest point explicit targets can
///    reach without reverting an irreversible revision, and its schema (and the number of rows
///    in each table) must equal a new database upgraded straight to that point.
/// 2. A new database is upgraded to every revision that does not need an irreversible one,
///    then downgraded to base, and must be empty as above.
pub async fn downgrade_leaves_no_trace(
    migrator: &Migrator,
    dialect: Dialect,
) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let ctx = Ctx {
        check: "downgrade_leaves_no_trace",
        dialect: Some(dialect),
    };
    let mut rep = ctx.report();
    rep.revisions = migrator.set().len();
    let plan = Plan::new(migrator.set());
    let n = migrator.set().len();
    let irreversible: Vec<usize> = (0..n)
        .filter(|&i| migrator.set().revisions()[i].is_irreversible())
        .collect();
    rep.irreversible = ids(migrator, irreversible.iter().copied());

    let Some(t) = TestDb::migrated(migrator, dialect)
        .await
        .map_err(|e| ctx.failed_by("upgrading a throwaway database to every head", e))?
    else {
        return Ok(rep.skip(dialect));
    };
    let r = lowest_point(ctx, migrator, &plan, dialect, &t, &mut rep).await;
    finish(t).await;
    r?;

    if !irreversible.is_empty() {
        let blocked = plan.descendants_or_self(&irreversible);
        let reversible: Vec<bool> = (0..n).map(|i| !blocked[i]).collect();
        let Some(t) = ctx.fresh(dialect).await? else {
            return Ok(rep.skip(dialect));
        };
        let r = async {
            if reversible.iter().any(|&b| b) {
                for h in plan.current_heads(&reversible) {
                    let id = migrator.set().revisions()[h].id();
                    migrator.upgrade(t.db(), id).await.map_err(|e| {
                        ctx.failed_by(format_args!("upgrading to `{id}`"), e)
                    })?;
                }
                downgrade_to_base(ctx, migrator, &t).await?;
                rep.notes.push(format!(
                    "every revision that needs no irreversible one ({}) downgraded to base without a trace",
                    ids(migrator, members(&reversible)).join(", ")
                ));
            }
            Ok::<_, CheckError>(())
        }
        .await;
        finish(t).await;
        r?;
    }
    Ok(rep.done(started))
}

/// Check 1 of [`downgrade_leaves_no_trace`], on a database at every head.
async fn lowest_point(
    ctx: Ctx,
    m: &Migrator,
    plan: &Plan<'_>,
    dialect: Dialect,
    t: &TestDb,
    rep: &mut CheckReport,
) -> Result<(), CheckError> {
    let mut now = applied(ctx, m, t.db()).await?;
    if !rep.irreversible.is_empty() {
        // Only plans the runtime accepts are offered, so none reverts an irreversible
        // revision; take the largest until none is left.
        while let Some((target, _)) = downgrade_options(plan, &now)
            .into_iter()
            .min_by_key(|(_, p)| usize::MAX - p.len())
        {
            m.downgrade(t.db(), &target)
                .await
                .map_err(|e| ctx.failed_by(format_args!("downgrading to `{target}`"), e))?;
            now = applied(ctx, m, t.db()).await?;
        }
    }
    if !now.iter().any(|&a| a) || rep.irreversible.is_empty() {
        downgrade_to_base(ctx, m, t).await?;
        rep.notes
            .push("every head downgraded to base without a trace".to_owned());
        return Ok(());
    }
    rep.kept = ids(m, members(&now));
    let heads = ids(m, plan.current_heads(&now));
    if now.iter().all(|&a| a) {
        rep.notes.push(format!(
            "nothing can be downgraded from the head: every revision is needed by irreversible {}",
            rep.irreversible.join(", ")
        ));
        return Ok(());
    }
    let Some(straight) = ctx.fresh(dialect).await? else {
        return Err(ctx.setup_msg("the database server went away during the check"));
    };
    let r = async {
        for h in &heads {
            m.upgrade(straight.db(), h)
                .await
                .map_err(|e| ctx.failed_by(format_args!("upgrading to `{h}`"), e))?;
        }
        let down = ctx.capture(m, t).await?;
        let up = ctx.capture(m, &straight).await?;
        let at = heads.join(", ");
        if let Some(d) = down.diff_labeled(&up, "downgraded from the head", "upgraded straight")
        {
            return Err(ctx.failed(format!(
                "downgrading from the head to the lowest reachable point ({at}) leaves a different schema than upgrading straight to it:\n{d}"
            )));
        }
        for table in down.tables.keys() {
            let a = count_rows(ctx, t, table).await?;
            let b = count_rows(ctx, &straight, table).await?;
            if a != b {
                return Err(ctx.failed(format!(
                    "table {table} holds {a} row(s) after downgrading from the head to {at}, but {b} when upgraded straight to it: a downgrade left rows behind (or removed too many)"
                )));
            }
        }
        rep.notes.push(format!(
            "lowest point reachable from the head: {at}; schema and row counts equal to upgrading straight there"
        ));
        Ok(())
    }
    .await;
    finish(straight).await;
    r
}

/// Downgrades to base and checks nothing but kiln's own tables is left, and no version row.
async fn downgrade_to_base(ctx: Ctx, m: &Migrator, t: &TestDb) -> Result<(), CheckError> {
    m.downgrade(t.db(), "base")
        .await
        .map_err(|e| ctx.failed_by("downgrading to base", e))?;
    let left = ctx.capture(m, t).await?;
    if !left.is_empty() {
        let lines: Vec<String> = left
            .lines()
            .into_iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    format!("    {k}")
                } else {
                    format!("    {k}: {v}")
                }
            })
            .collect();
        return Err(ctx.failed(format!(
            "after downgrading to base these objects are left behind (kiln's own tables aside):\n{}",
            lines.join("\n")
        )));
    }
    let st = m
        .current(t.db())
        .await
        .map_err(|e| ctx.setup("cannot read the version table", e))?;
    if !st.applied.is_empty() {
        return Err(ctx.failed(format!(
            "after downgrading to base kiln's version table still holds rows for {}",
            st.applied
                .iter()
                .map(|a| format!("{} ({})", a.revision, a.state))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

async fn count_rows(ctx: Ctx, t: &TestDb, table: &str) -> Result<u64, CheckError> {
    let d = t.dialect();
    let name = match table.split_once('.') {
        Some((s, n)) if d == Dialect::Postgres => {
            format!("{}.{}", quote_ident(d, s), quote_ident(d, n))
        }
        _ => quote_ident(d, table),
    };
    let mut conn = RawConnection::acquire(t.db())
        .await
        .map_err(|e| ctx.setup("cannot connect", e))?;
    let rows = conn
        .rows(&format!("SELECT COUNT(*) FROM {name}"), &[0])
        .await
        .map_err(|e| {
            ctx.setup(
                format_args!("cannot count the rows of {table}"),
                Error::db("counting rows")(e),
            )
        })?;
    Ok(rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}
