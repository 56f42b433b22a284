//! The stairway: every revision upgraded, downgraded one step and upgraded again, with the
//! schema compared at each step.

use super::{CheckError, CheckReport, Ctx, applied, describe, finish, ids, members, steps};
use crate::testdb::TestDb;
use kiln_core::{Dialect, Plan, Target};
use kiln_runtime::Migrator;
use kiln_schema::Schema;
use std::time::Instant;

/// The stairway: for every revision in order, upgrade to it, capture the schema, downgrade one
/// step, check the schema equals the one before the upgrade, upgrade again and check the schema
/// equals the first upgrade's.
///
/// "One step" is made exact even with branches and merges: before revision `R` is stepped, the
/// database is brought to exactly `R`'s ancestors (its parents and `depends-on` revisions and
/// everything they need, nothing else), so upgrading to `R` applies `R` alone and `R` is then
/// the only current revision. The downgrade target is an explicit revision: the parent whose
/// strict descendants among the applied revisions are exactly `R` (computed with the same
/// [`Plan`] the runtime uses, and checked against what was actually reverted), else `base` or
/// `-1` when those revert exactly `R`. Moving between revisions on different branches reverts
/// the other branch with explicit targets first; when an irreversible revision stands in the
/// way, the walk continues on a new throwaway database upgraded to `R`'s parents, and says so
/// in the report.
///
/// Irreversible revisions are upgraded and captured but never downgraded; they are listed in
/// [`CheckReport::irreversible`].
pub async fn stairway(migrator: &Migrator, dialect: Dialect) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let ctx = Ctx {
        check: "stairway",
        dialect: Some(dialect),
    };
    let Some(mut t) = ctx.fresh(dialect).await? else {
        return Ok(ctx.report().skip(dialect));
    };
    let r = stairway_on(ctx, migrator, dialect, &mut t).await;
    finish(t).await;
    r.map(|rep| rep.done(started))
}

async fn stairway_on(
    ctx: Ctx,
    m: &Migrator,
    dialect: Dialect,
    t: &mut TestDb,
) -> Result<CheckReport, CheckError> {
    let set = m.set();
    let plan = Plan::new(set);
    let mut rep = ctx.report();
    // A capture of the database as it is now, valid until the next migration command.
    let mut last: Option<(Vec<bool>, Schema)> = None;
    let mut stepped = Vec::new();
    for (k, rev) in set.revisions().iter().enumerate() {
        let need = plan.ancestors_or_self(plan.graph().requires(k));
        let now = applied(ctx, m, t.db()).await?;
        if now != need {
            last = None;
            move_to(ctx, m, &plan, dialect, t, now, &need, k, &mut rep).await?;
        }
        let before = match last.take() {
            Some((state, schema)) if state == need => schema,
            _ => ctx.capture(m, t).await?,
        };
        let id = rev.id();
        let up = m
            .upgrade(t.db(), id)
            .await
            .map_err(|e| ctx.failed_by(format_args!("upgrading to {}", describe(m, k)), e))?;
        if steps(&up) != [id] {
            return Err(ctx.failed(format!(
                "upgrading to `{id}` from its parents applied {:?} instead of `{id}` alone",
                steps(&up)
            )));
        }
        let after = ctx.capture(m, t).await?;
        let mut with = need.clone();
        with[k] = true;
        rep.revisions += 1;
        if rev.is_irreversible() {
            rep.irreversible.push(id.to_owned());
            last = Some((with, after));
            continue;
        }

        let Some(target) = one_step_target(&plan, &with, k) else {
            return Err(ctx.failed(format!(
                "no downgrade target reverts `{id}` alone (the stairway needs one to check its downgrade)"
            )));
        };
        let down = m.downgrade(t.db(), &target).await.map_err(|e| {
            ctx.failed_by(
                format_args!("downgrading {} (to `{target}`)", describe(m, k)),
                e,
            )
        })?;
        if steps(&down) != [id] {
            return Err(ctx.failed(format!(
                "downgrading to `{target}` reverted {:?} instead of `{id}` alone",
                steps(&down)
            )));
        }
        let reverted = ctx.capture(m, t).await?;
        if let Some(d) = before.diff_labeled(&reverted, "before the upgrade", "after the downgrade")
        {
            return Err(ctx.failed(format!(
                "the downgrade of revision {} does not undo its upgrade: the schema after `downgrade {target}` differs from the schema before `upgrade {id}`:\n{d}",
                describe(m, k)
            )));
        }
        m.upgrade(t.db(), id).await.map_err(|e| {
            ctx.failed_by(
                format_args!(
                    "upgrading to {} again after its downgrade failed, so the downgrade left something behind the upgrade trips over",
                    describe(m, k)
                ),
                e,
            )
        })?;
        let again = ctx.capture(m, t).await?;
        if let Some(d) = after.diff_labeled(&again, "first upgrade", "upgrade after downgrade") {
            return Err(ctx.failed(format!(
                "upgrading revision {} again after its downgrade gives a different schema than the first time:\n{d}",
                describe(m, k)
            )));
        }
        last = Some((with, again));
        stepped.push(format!("{id} -> {target}"));
    }
    rep.notes.push(format!(
        "{} revision(s) upgraded, downgraded one step and upgraded again with identical schemas",
        stepped.len()
    ));
    if !stepped.is_empty() {
        rep.notes.push(format!(
            "one-step downgrade targets: {}",
            stepped.join(", ")
        ));
    }
    Ok(rep)
}

/// A downgrade target whose plan, from `applied`, reverts exactly revision `k`: a parent,
/// `base` or `-1`, in that order of preference.
fn one_step_target(plan: &Plan<'_>, applied: &[bool], k: usize) -> Option<String> {
    let rev = &plan.set().revisions()[k];
    let exact = |t: &Target| plan.downgrade(applied, t).is_ok_and(|p| p == [k]);
    rev.parents()
        .iter()
        .find(|p| exact(&Target::Revision(p.to_string())))
        .map(|p| p.to_string())
        .or_else(|| exact(&Target::Base).then(|| "base".to_owned()))
        .or_else(|| exact(&Target::Relative(-1)).then(|| "-1".to_owned()))
}

/// Every target that could revert something, with the plan each would run from `applied`, in
/// order of preference: explicit revisions first, then branch labels, `base`, and `-1` last.
/// Targets the runtime would refuse (irreversible revisions, ambiguity) are left out.
pub(super) fn downgrade_options(plan: &Plan<'_>, applied: &[bool]) -> Vec<(String, Vec<usize>)> {
    let set = plan.set();
    let mut targets: Vec<Target> = set
        .revisions()
        .iter()
        .map(|r| Target::Revision(r.id().to_owned()))
        .collect();
    for r in set.revisions() {
        for l in r.branch_labels() {
            targets.push(Target::LabelBase(l.to_string()));
            targets.push(Target::LabelRelative(l.to_string(), -1));
        }
    }
    targets.extend([Target::Base, Target::Relative(-1)]);
    targets
        .into_iter()
        .filter_map(|t| {
            let p = plan.downgrade(applied, &t).ok()?;
            (!p.is_empty()).then(|| (t.to_string(), p))
        })
        .collect()
}

/// Brings the database from `now` to exactly `need` (the ancestors of revision `k`): reverts
/// what `need` lacks with explicit targets, preferring ones that revert nothing else, then
/// upgrades to `k`'s parents. Starts over on a new database when an irreversible revision
/// blocks the way down.
#[allow(clippy::too_many_arguments)]
async fn move_to(
    ctx: Ctx,
    m: &Migrator,
    plan: &Plan<'_>,
    dialect: Dialect,
    t: &mut TestDb,
    mut now: Vec<bool>,
    need: &[bool],
    k: usize,
    rep: &mut CheckReport,
) -> Result<(), CheckError> {
    loop {
        let extra: Vec<usize> = (0..now.len()).filter(|&i| now[i] && !need[i]).collect();
        if extra.is_empty() {
            break;
        }
        // Best: a plan inside `extra`, as large as possible; else one touching `extra` that
        // reverts as few needed revisions as possible (they are upgraded again below).
        let best = downgrade_options(plan, &now)
            .into_iter()
            .filter(|(_, p)| p.iter().any(|i| extra.contains(i)))
            .min_by_key(|(_, p)| {
                let outside = p.iter().filter(|i| !extra.contains(i)).count();
                (outside, usize::MAX - p.len())
            });
        let Some((target, _)) = best else {
            let blockers: Vec<String> = ids(
                m,
                extra
                    .iter()
                    .copied()
                    .filter(|&i| plan.set().revisions()[i].is_irreversible()),
            );
            rep.notes.push(format!(
                "started over on a new database at `{}`: its parents cannot be reached by downgrading past irreversible {}",
                plan.set().revisions()[k].id(),
                if blockers.is_empty() { "revisions".to_owned() } else { blockers.join(", ") }
            ));
            let Some(fresh) = ctx.fresh(dialect).await? else {
                return Err(ctx.setup_msg("the database server went away during the check"));
            };
            let old = std::mem::replace(t, fresh);
            finish(old).await;
            now = vec![false; now.len()];
            continue;
        };
        let down = m.downgrade(t.db(), &target).await.map_err(|e| {
            ctx.failed_by(
                format_args!(
                    "downgrading to `{target}` to reach the parents of {}",
                    describe(m, k)
                ),
                e,
            )
        })?;
        rep.notes.push(format!(
            "before `{}`: downgrade {target} (reverted {})",
            plan.set().revisions()[k].id(),
            steps(&down).join(", ")
        ));
        now = applied(ctx, m, t.db()).await?;
    }
    for &p in plan.graph().requires(k) {
        let id = &plan.set().revisions()[p].id();
        let up = m.upgrade(t.db(), id).await.map_err(|e| {
            ctx.failed_by(
                format_args!("upgrading to `{id}`, a parent of {}", describe(m, k)),
                e,
            )
        })?;
        if !up.is_noop() {
            rep.notes.push(format!(
                "before `{}`: upgrade {id} (applied {})",
                plan.set().revisions()[k].id(),
                steps(&up).join(", ")
            ));
        }
    }
    let reached = applied(ctx, m, t.db()).await?;
    if reached != need {
        return Err(ctx.failed(format!(
            "could not bring the database to exactly the ancestors of `{}`: applied {:?}, wanted {:?}",
            plan.set().revisions()[k].id(),
            ids(m, members(&reached)),
            ids(m, members(need))
        )));
    }
    Ok(())
}
