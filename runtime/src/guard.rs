//! Refusals decided after planning and before anything runs: plans that are valid for the graph
//! this binary knows but unsafe for what the database actually holds.

use crate::error::{Error, Result};
use crate::report::AppliedRevision;
use kiln_core::{MigrationSet, Plan};
use std::collections::HashSet;

/// Refuses a downgrade that would revert anything while the database holds applied revisions
/// this binary does not know.
///
/// The version table records no parents, so an unknown revision (applied by a newer binary
/// during a rolling deploy) may build on any applied revision. Reverting one of those would leave
/// the unknown child applied on a schema it needs; the binary that knows the child reverts it
/// first, so the advice is to use that binary.
pub(crate) fn downgrade_below_unknown(
    set: &MigrationSet,
    rows: &[AppliedRevision],
    applied: &[bool],
    todo: &[usize],
) -> Result<()> {
    let known: HashSet<&str> = set.revisions().iter().map(|r| r.id()).collect();
    let unknown: Vec<String> = rows
        .iter()
        .filter(|r| !known.contains(r.revision.as_str()))
        .map(|r| r.revision.clone())
        .collect();
    if unknown.is_empty() || todo.is_empty() {
        return Ok(());
    }
    let current = Plan::new(set)
        .current_heads(applied)
        .into_iter()
        .map(|i| set.revisions()[i].id().to_owned())
        .collect::<Vec<_>>();
    Err(Error::UnknownDescendants {
        reverting: todo
            .iter()
            .map(|&i| set.revisions()[i].id().to_owned())
            .collect(),
        unknown,
        current,
    })
}
