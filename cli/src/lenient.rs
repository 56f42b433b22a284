//! Loading a directory for commands that tolerate some of its problems: the read commands
//! (`heads`, `history`, `branches`, `show`, `graph`, `current`) and the writers of new files
//! (`revision`, `merge`). The problems they may live with are classified here, in one place;
//! every other command, the macro and `kiln check` keep refusing them.
//!
//! Two kinds are tolerated, each reported as a warning on stderr:
//! - a draft whose upgrade section has no SQL yet (what `kiln revision` just wrote): nothing that
//!   only reads the graph or adds a file runs that SQL;
//! - the graph's shape: several heads, or several bases, not each on its own labelled branch.
//!   That is exactly when people need `kiln heads`, `history` and `merge`.

use crate::error::Fail;
use crate::out;
use kiln_core::{Diagnostics, MigrationDir, MigrationSet, Problem, Revision, Scan, StrList};
use std::borrow::Cow;

/// What a command can live with.
#[derive(Debug, Clone, Copy)]
pub struct Tolerate {
    /// Drafts whose upgrade section has no SQL yet.
    pub empty_drafts: bool,
    /// Several heads or bases that are not each on a labelled branch.
    pub shape: bool,
}

impl Tolerate {
    /// The read commands: both.
    pub const READ: Tolerate = Tolerate {
        empty_drafts: true,
        shape: true,
    };
    /// Commands that write a new revision: empty drafts only (which head to build on is theirs
    /// to decide).
    pub const WRITE: Tolerate = Tolerate {
        empty_drafts: true,
        shape: false,
    };
}

/// `true` for the graph-shape problems a read command tolerates.
pub fn is_shape(p: &Problem) -> bool {
    matches!(
        p,
        Problem::MultipleHeads { .. } | Problem::MultipleBases { .. }
    )
}

/// Reads the directory, accepting the empty drafts `t` allows: their files are parsed as drafts
/// and their problems returned separately instead of staying in the scan.
pub fn scan(dir: &MigrationDir, t: Tolerate) -> (Scan, Diagnostics) {
    let mut scan = kiln_core::scan_dir(dir);
    let mut tolerated = Diagnostics::default();
    if !t.empty_drafts {
        return (scan, tolerated);
    }
    let Ok(cap) = kiln_core::fileread::max_file_size() else {
        return (scan, tolerated);
    };
    // kiln.toml's problems are already in the scan's diagnostics; this reading only re-reads files.
    let readings = kiln_core::dir::readings(dir, &mut kiln_core::Diagnostics::default());
    for name in scan.unparsed.clone() {
        let shown = dir.display_file(&name);
        let only_empty = {
            let mut own = scan
                .diagnostics
                .iter()
                .filter(|d| d.path == shown)
                .peekable();
            own.peek().is_some() && own.all(|d| matches!(d.problem, Problem::EmptyUpgrade { .. }))
        };
        if !only_empty {
            continue;
        }
        let Ok(bytes) = kiln_core::fileread::read_regular(&dir.path.join(&name), cap) else {
            continue;
        };
        let Ok(file) = kiln_core::format::parse_draft_with(&shown, &name, &bytes, &readings) else {
            continue;
        };
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut scan.diagnostics.0)
            .into_iter()
            .partition(|d| d.path == shown);
        scan.diagnostics.0 = rest;
        mine.into_iter().for_each(|d| tolerated.push(d));
        scan.unparsed.retain(|n| n != &name);
        scan.files.push(file);
    }
    scan.files.sort_by(|a, b| a.file.cmp(&b.file));
    (scan, tolerated)
}

/// Loads the set, tolerating what `t` allows and warning about it on stderr. Anything else is the
/// usual exit-3 failure, listing every problem (tolerated ones included).
pub fn load(dir: &MigrationDir, t: Tolerate) -> anyhow::Result<MigrationSet> {
    let (scan, mut tolerated) = scan(dir, t);
    let set = match kiln_core::build_set(dir, scan.clone()) {
        Ok(set) => set,
        Err(d) if t.shape && d.iter().all(|x| is_shape(&x.problem)) => {
            d.0.into_iter().for_each(|x| tolerated.push(x));
            build_with_stand_ins(dir, scan)
                .map_err(|d| Fail::invalid(&dir.display, &merged(&tolerated, d)))?
        }
        Err(d) => return Err(Fail::invalid(&dir.display, &merged(&tolerated, d))),
    };
    warn(dir, &tolerated);
    Ok(set)
}

/// Prints tolerated problems as a warning, exactly as the macro would show them.
pub fn warn(dir: &MigrationDir, tolerated: &Diagnostics) {
    if tolerated.is_empty() {
        return;
    }
    out::note(format!(
        "warning: the migration directory `{}` has {} that the build and `kiln check` refuse (shown here, not fatal for this command):\n{tolerated}",
        dir.display,
        out::count(tolerated.len(), "problem"),
    ));
}

fn merged(first: &Diagnostics, then: Diagnostics) -> Diagnostics {
    let mut all = first.clone();
    then.0.into_iter().for_each(|d| all.push(d));
    all
}

/// A prefix no branch label can have (labels are `[A-Za-z0-9_-]`), so a stand-in never meets a
/// real one.
const STAND_IN: &str = "kiln stand-in ";

/// Builds the set of a graph whose only problem is its shape: every head and base gets a stand-in
/// label in memory so the core's shape rule is met, and the labels are removed again from the
/// result. Everything else (ids, parents, cycles, the lock) is checked as usual.
fn build_with_stand_ins(dir: &MigrationDir, mut scan: Scan) -> Result<MigrationSet, Diagnostics> {
    let parents: Vec<String> = scan
        .files
        .iter()
        .flat_map(|f| f.revises.value.iter().cloned())
        .collect();
    for f in &mut scan.files {
        let head = !parents.contains(&f.revision.value);
        if head || f.revises.value.is_empty() {
            let label = format!("{STAND_IN}{}", f.revision.value);
            f.branches.value.push(label);
        }
    }
    let set = kiln_core::build_set(dir, scan)?;
    let revisions: Vec<Revision> = set.revisions().iter().map(without_stand_ins).collect();
    Ok(MigrationSet::from_parts(
        Cow::Owned(revisions),
        list(set.heads()),
        list(set.bases()),
        Cow::Owned(set.digest().to_owned()),
    )
    .with_syntax(set.syntax()))
}

fn list(v: &[kiln_core::Str]) -> StrList {
    Cow::Owned(v.to_vec())
}

fn without_stand_ins(r: &Revision) -> Revision {
    let labels: Vec<kiln_core::Str> = r
        .branch_labels()
        .iter()
        .filter(|l| !l.starts_with(STAND_IN))
        .cloned()
        .collect();
    Revision::from_parts(
        Cow::Owned(r.id().to_owned()),
        Cow::Owned(r.file().to_owned()),
        r.message().map(|m| Cow::Owned(m.to_owned())),
        r.created().map(|c| Cow::Owned(c.to_owned())),
        list(r.parents()),
        list(r.depends_on()),
        Cow::Owned(labels),
        r.is_transactional(),
        r.up_sql_cow().clone(),
        r.up_line(),
        r.down_sql_cow().cloned(),
        r.down_line(),
        Cow::Owned(r.checksum().to_owned()),
        r.is_draft(),
    )
    .with_timeouts(r.lock_timeout(), r.statement_timeout())
}
