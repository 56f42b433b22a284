//! `kiln revision` and `kiln merge`: writing new revision files.
//!
//! Both compose the file in memory, check that the directory would still validate with it (a
//! revision never writes a file that breaks the graph), and only then create it, never replacing
//! an existing file. The lock is touched only with `--lock`, and only for the new revision.

use crate::action::{MergeSettings, RevisionSettings};
use crate::error::{Code, Fail};
use crate::lenient::{self, Tolerate};
use crate::range::resolve_one;
use crate::settings::Settings;
use crate::{out, repo, time};
use kiln_core::diag::{Problem, closest};
use kiln_core::format::{ParsedFile, is_valid_id, is_valid_label};
use kiln_core::{MigrationDir, Plan, Scan, Target};

/// What goes into a new file's header.
struct Header<'a> {
    id: &'a str,
    parents: &'a [String],
    depends_on: &'a [String],
    labels: &'a [String],
    message: &'a str,
    created: &'a str,
}

/// The body of a new file.
#[derive(Clone, Copy)]
enum Body<'a> {
    /// Template comments that say where the SQL goes.
    Template,
    /// Bare markers.
    Empty,
    /// A merge: no SQL, and nothing to undo.
    Merge,
    /// For validation before writing: SQL that parses.
    Placeholder,
    /// Written by `--autogenerate`: everything after the header.
    Generated(&'a str),
}

fn render(h: &Header<'_>, body: Body<'_>) -> String {
    let mut t = format!("-- kiln:revision {}\n", h.id);
    if !h.parents.is_empty() {
        t += &format!("-- kiln:revises {}\n", h.parents.join(", "));
    }
    if !h.depends_on.is_empty() {
        t += &format!("-- kiln:depends-on {}\n", h.depends_on.join(", "));
    }
    if !h.labels.is_empty() {
        t += &format!("-- kiln:branch {}\n", h.labels.join(", "));
    }
    t += &format!("-- kiln:message {}\n", h.message);
    t += &format!("-- kiln:created {}\n\n", h.created);
    t += match body {
        Body::Template => {
            "-- kiln:upgrade\n\
             -- The SQL that applies this revision goes here.\n\
             \n\
             -- kiln:downgrade\n\
             -- The SQL that undoes it goes here. Leave the section empty if there is nothing to undo;\n\
             -- delete it, marker included, if the revision cannot be undone.\n"
        }
        Body::Empty => "-- kiln:upgrade\n\n-- kiln:downgrade\n",
        Body::Merge => {
            "-- kiln:upgrade\n-- A merge joins heads; it needs no SQL of its own.\n\n-- kiln:downgrade\n"
        }
        Body::Placeholder => "-- kiln:upgrade\nSELECT 1;\n\n-- kiln:downgrade\n",
        Body::Generated(text) => text,
    };
    t
}

/// A message fit for the one-line `-- kiln:message` directive.
fn one_line(message: &str) -> anyhow::Result<String> {
    let m = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if m.is_empty() {
        return Err(Fail::usage(
            "the message is empty",
            "say what the revision does, e.g. -m \"add users.email\"",
        ));
    }
    Ok(m)
}

/// Checks a `--rev-id` against the directory.
fn check_new_id(id: &str, ids: &[&str], labels: &[&str]) -> anyhow::Result<()> {
    if !is_valid_id(id) {
        return Err(Fail::usage(
            format!("`{id}` is not a valid revision id"),
            "revision ids are 1 to 32 characters of A-Z, a-z, 0-9 and `_`; leave --rev-id out for a random one",
        ));
    }
    if ids.contains(&id) || labels.contains(&id) {
        return Err(Fail::usage(
            format!("`{id}` is already a revision id or branch label"),
            "pick another --rev-id, or leave it out for a random one",
        ));
    }
    if let Some(other) = ids
        .iter()
        .find(|o| o.starts_with(id) || id.starts_with(**o))
    {
        out::note(format!(
            "warning: `{id}` and `{other}` share a prefix; targets must spell out enough of each"
        ));
    }
    Ok(())
}

/// Checks new branch labels against the directory.
fn check_labels(new: &[String], id: &str, ids: &[&str], labels: &[&str]) -> anyhow::Result<()> {
    for (i, l) in new.iter().enumerate() {
        if !is_valid_label(l) {
            return Err(Fail::usage(
                format!("`{l}` is not a valid branch label"),
                "branch labels are 1 to 64 characters of A-Z, a-z, 0-9, `_` and `-`",
            ));
        }
        if labels.contains(&l.as_str()) || new[..i].contains(l) {
            return Err(Fail::usage(
                format!("branch label `{l}` is already used"),
                "`kiln branches` lists the labels; pick a new one",
            ));
        }
        if ids.contains(&l.as_str()) || l == id {
            return Err(Fail::usage(
                format!("branch label `{l}` is also a revision id"),
                "pick a label that is not a revision id",
            ));
        }
    }
    Ok(())
}

/// Validates the directory as it would be with `file` added; the diagnostics if it would not.
fn simulate(
    dir: &MigrationDir,
    scan: &Scan,
    file: ParsedFile,
) -> Result<(), kiln_core::Diagnostics> {
    let mut scan = scan.clone();
    scan.files.push(file);
    scan.files.sort_by(|a, b| a.file.cmp(&b.file));
    kiln_core::build_set(dir, scan).map(|_| ())
}

fn would_break(diags: &kiln_core::Diagnostics) -> anyhow::Error {
    anyhow::Error::new(crate::error::Fail {
        code: Code::Usage,
        message: "the new revision would make the migration directory invalid, so it was not written:"
            .into(),
        detail: Some(diags.to_string()),
        help: Some(
            "choose another --head or add --branch-label so every head is on its own labelled branch"
                .into(),
        ),
    })
}

/// Writes the file and, with `lock`, records it in kiln.lock.
fn write(
    dir: &MigrationDir,
    id: &str,
    name: &str,
    text: &str,
    lock: bool,
) -> anyhow::Result<String> {
    let shown = dir.display_file(name);
    repo::create_new(&dir.path.join(name), &shown, text)?;
    if lock {
        let mut l = repo::read_lock(dir)?;
        l.insert(id, &kiln_core::checksum::checksum(text), name);
        repo::write_lock(dir, &l)?;
    }
    Ok(shown)
}

pub fn revision(s: &Settings, a: &RevisionSettings) -> anyhow::Result<Code> {
    revision_with(s, a, None)
}

/// A revision body written by `--autogenerate`, and the proof it must pass before the file is
/// written: given the set as it would be with the new revision and the new revision's id.
pub struct Generated<'a> {
    /// Everything after the header: sections, comments and SQL.
    pub body: String,
    /// Runs the proof; an error stops the write.
    pub prove: &'a dyn Fn(&kiln_core::MigrationSet, &str) -> anyhow::Result<()>,
}

/// `kiln revision`, with a generated body when `generated` is given.
pub fn revision_with(
    s: &Settings,
    a: &RevisionSettings,
    generated: Option<Generated<'_>>,
) -> anyhow::Result<Code> {
    let dir = &s.dir;
    // An empty draft (the previous `kiln revision`, not yet filled in) does not stop the next.
    let (scan, tolerated) = lenient::scan(dir, Tolerate::WRITE);
    let set = kiln_core::build_set(dir, scan.clone()).map_err(|d| {
        let mut all = tolerated.clone();
        d.0.into_iter().for_each(|x| all.push(x));
        Fail::invalid(&dir.display, &all)
    })?;
    lenient::warn(dir, &tolerated);
    let plan = Plan::new(&set);
    let message = one_line(&a.message)?;
    let ids: Vec<&str> = set.revisions().iter().map(|r| r.id()).collect();
    let labels: Vec<&str> = set
        .revisions()
        .iter()
        .flat_map(|r| r.branch_labels().iter().map(|l| &**l))
        .collect();
    let id = match &a.rev_id {
        Some(id) => {
            check_new_id(id, &ids, &labels)?;
            id.clone()
        }
        None => repo::random_id(&ids)?,
    };

    let parents: Vec<String> = match &a.head {
        None => match set.heads() {
            [] => Vec::new(),
            [one] => vec![one.to_string()],
            many => {
                return Err(Fail::usage(
                    format!(
                        "there are {} heads ({}); which one should the new revision build on?",
                        many.len(),
                        many.iter().map(|h| &**h).collect::<Vec<_>>().join(", ")
                    ),
                    "pass --head REV or --head LABEL@head (`kiln heads` lists them)",
                ));
            }
        },
        Some(Target::Base) => {
            if !set.is_empty() && a.branch_labels.is_empty() {
                return Err(Fail::usage(
                    "a new base next to existing revisions needs a branch label",
                    "add --branch-label NAME so the new base starts its own labelled branch",
                ));
            }
            Vec::new()
        }
        Some(h) => {
            let i = resolve_one(&plan, h)?;
            let r = &set.revisions()[i];
            let is_head = set.heads().iter().any(|x| x == r.id());
            if !is_head && !a.splice {
                return Err(Fail::usage(
                    format!("revision `{}` is not a head", r.id()),
                    "pass --splice to start a new branch from it (usually with --branch-label), or name a head (`kiln heads`)",
                ));
            }
            vec![r.id().to_owned()]
        }
    };
    check_labels(&a.branch_labels, &id, &ids, &labels)?;
    let mut depends_on: Vec<String> = Vec::new();
    for d in &a.depends_on {
        let d = d.trim();
        let resolved = if labels.contains(&d) {
            d.to_owned()
        } else {
            set.revisions()[plan.resolve(d)?].id().to_owned()
        };
        if !depends_on.contains(&resolved) {
            depends_on.push(resolved);
        }
    }

    let created = time::now_rfc3339_seconds();
    let header = Header {
        id: &id,
        parents: &parents,
        depends_on: &depends_on,
        labels: &a.branch_labels,
        message: &message,
        created: &created,
    };
    let name = repo::file_name(&id, &message);
    let probe = repo::parse_text(dir, &name, &render(&header, Body::Placeholder))
        .map_err(|d| would_break(&d))?;
    simulate(dir, &scan, probe).map_err(|d| would_break(&d))?;

    let text = match &generated {
        Some(g) => {
            let text = render(&header, Body::Generated(&g.body));
            let file = repo::parse_text(dir, &name, &text).map_err(|d| would_break(&d))?;
            let mut with = scan.clone();
            with.files.push(file);
            with.files.sort_by(|a, b| a.file.cmp(&b.file));
            let set = kiln_core::build_set(dir, with).map_err(|d| would_break(&d))?;
            (g.prove)(&set, &id)?;
            text
        }
        None => render(&header, if a.empty { Body::Empty } else { Body::Template }),
    };
    let shown = write(dir, &id, &name, &text, a.lock)?;
    let on = if parents.is_empty() {
        "a new base".to_owned()
    } else {
        format!("on {}", parents.join(", "))
    };
    out::line(format!("created {shown} ({id}, {on})"));
    if a.lock {
        out::note(format!(
            "locked `{id}` as written: from now on, editing {shown} needs `kiln lock --accept {id}`"
        ));
    } else if generated.is_some() {
        out::note(format!(
            "next: review {shown} (the header lists every change and warning), run it up, down and up on a copy of real data, then `kiln lock`"
        ));
    } else {
        out::note(format!(
            "next: write the upgrade SQL in {shown}, then `kiln lock` when it is final"
        ));
    }
    Ok(Code::Ok)
}

/// A light view of parsed files for `merge`, which must work while the directory has several
/// heads (and so does not validate).
struct Lite<'a> {
    files: &'a [ParsedFile],
}

impl Lite<'_> {
    fn ids(&self) -> Vec<&str> {
        self.files
            .iter()
            .map(|f| f.revision.value.as_str())
            .collect()
    }
    fn heads(&self) -> Vec<&str> {
        self.ids()
            .into_iter()
            .filter(|id| {
                !self
                    .files
                    .iter()
                    .any(|f| f.revises.value.iter().any(|p| p == id))
            })
            .collect()
    }
    fn labels(&self) -> Vec<&str> {
        self.files
            .iter()
            .flat_map(|f| f.branches.value.iter().map(String::as_str))
            .collect()
    }
    /// Heads that descend from (or are) `root`.
    fn heads_below(&self, root: &str) -> Vec<&str> {
        self.heads()
            .into_iter()
            .filter(|h| self.descends(h, root))
            .collect()
    }
    fn descends(&self, from: &str, root: &str) -> bool {
        let mut stack = vec![from];
        let mut seen = Vec::new();
        while let Some(id) = stack.pop() {
            if id == root {
                return true;
            }
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            if let Some(f) = self.files.iter().find(|f| f.revision.value == id) {
                stack.extend(f.revises.value.iter().map(String::as_str));
            }
        }
        false
    }
    fn label_root(&self, label: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.branches.value.iter().any(|l| l == label))
            .map(|f| f.revision.value.as_str())
    }
    /// Resolves one `merge` argument to heads.
    fn resolve(&self, given: &str) -> anyhow::Result<Vec<String>> {
        let g = given.trim();
        let ids = self.ids();
        if g == "heads" || g == "head" {
            return Ok(self.heads().into_iter().map(str::to_owned).collect());
        }
        let label = g.strip_suffix("@head").unwrap_or(g);
        if let Some(root) = self.label_root(label) {
            return Ok(self
                .heads_below(root)
                .into_iter()
                .map(str::to_owned)
                .collect());
        }
        if ids.contains(&g) {
            return Ok(vec![g.to_owned()]);
        }
        let matches: Vec<&str> = ids.iter().copied().filter(|i| i.starts_with(g)).collect();
        match matches.as_slice() {
            [one] => Ok(vec![(*one).to_owned()]),
            [] => {
                let hint = closest(g, ids.iter().copied().chain(self.labels()));
                Err(Fail::usage(
                    format!(
                        "no revision or branch label matches `{g}`{}",
                        hint.map(|h| format!("; did you mean `{h}`?"))
                            .unwrap_or_default()
                    ),
                    "`kiln heads` lists the heads a merge can join",
                ))
            }
            many => Err(Fail::usage(
                format!(
                    "`{g}` is ambiguous: it is a prefix of {}; give more characters",
                    many.join(", ")
                ),
                "type more characters of the revision id",
            )),
        }
    }
}

pub fn merge(s: &Settings, a: &MergeSettings) -> anyhow::Result<Code> {
    let dir = &s.dir;
    // A directory with several unlabelled heads does not validate, and merging is the fix; an
    // empty draft does not matter to a merge either. Any other problem must be fixed first.
    let (scan, tolerated) = lenient::scan(dir, Tolerate::WRITE);
    if let Err(d) = kiln_core::build_set(dir, scan.clone())
        && !d
            .iter()
            .all(|x| matches!(x.problem, Problem::MultipleHeads { .. }))
    {
        let mut all = tolerated.clone();
        d.0.into_iter().for_each(|x| all.push(x));
        return Err(Fail::invalid(&dir.display, &all));
    }
    lenient::warn(dir, &tolerated);
    let lite = Lite { files: &scan.files };
    let message = one_line(&a.message)?;
    let mut parents: Vec<String> = Vec::new();
    for r in &a.revisions {
        for id in lite.resolve(r)? {
            if !parents.contains(&id) {
                parents.push(id);
            }
        }
    }
    let heads = lite.heads();
    if let Some(p) = parents.iter().find(|p| !heads.contains(&p.as_str())) {
        return Err(Fail::usage(
            format!("revision `{p}` is not a head, and a merge joins heads"),
            format!("the heads are: {}", heads.join(", ")),
        ));
    }
    if parents.len() < 2 {
        return Err(Fail::usage(
            format!(
                "a merge joins two or more heads; {} named: {}",
                if parents.len() == 1 {
                    "only one is"
                } else {
                    "none is"
                },
                parents.join(", ")
            ),
            format!("the heads are: {}", heads.join(", ")),
        ));
    }
    let ids = lite.ids();
    let labels = lite.labels();
    let id = match &a.rev_id {
        Some(id) => {
            check_new_id(id, &ids, &labels)?;
            id.clone()
        }
        None => repo::random_id(&ids)?,
    };
    check_labels(&a.branch_labels, &id, &ids, &labels)?;
    let created = time::now_rfc3339_seconds();
    let header = Header {
        id: &id,
        parents: &parents,
        depends_on: &[],
        labels: &a.branch_labels,
        message: &message,
        created: &created,
    };
    let name = repo::file_name(&id, &message);
    let text = render(&header, Body::Merge);
    let parsed = repo::parse_text(dir, &name, &text).map_err(|d| would_break(&d))?;
    // Merging some heads of several is allowed; anything else that would break is not.
    let remaining = simulate(dir, &scan, parsed).err();
    if let Some(d) = &remaining
        && !d
            .iter()
            .all(|x| matches!(x.problem, Problem::MultipleHeads { .. }))
    {
        return Err(would_break(d));
    }
    let shown = write(dir, &id, &name, &text, a.lock)?;
    out::line(format!(
        "created {shown} ({id}, merges {})",
        parents.join(", ")
    ));
    if let Some(d) = remaining {
        out::note(format!("warning: the directory still has problems:\n{d}"));
    }
    Ok(Code::Ok)
}
