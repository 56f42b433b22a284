//! `kiln lock [--accept REV]...`: maintaining `kiln.lock`.
//!
//! Plain `kiln lock` records drafts (revisions not yet locked) of a directory that validates; it
//! never touches a locked revision, so an edited one stays an error. `--accept REV` is the
//! deliberate way out: it re-records a locked revision whose file changed (or drops one whose file
//! was deleted), prints both checksums on stderr in capitals, and touches nothing else.

use crate::action::LockSettings;
use crate::error::{Code, Fail};
use crate::settings::Settings;
use crate::{out, repo};
use kiln_core::diag::closest;

pub fn lock(s: &Settings, a: &LockSettings) -> anyhow::Result<Code> {
    if a.accept.is_empty() {
        lock_drafts(s)
    } else {
        accept(s, &a.accept)
    }
}

fn lock_drafts(s: &Settings) -> anyhow::Result<Code> {
    let dir = &s.dir;
    let set = repo::load(dir)?;
    let drafts: Vec<_> = set.drafts().collect();
    if drafts.is_empty() {
        out::line(format!(
            "nothing to lock: every revision is in {}",
            dir.display_file(kiln_core::LOCK_FILE)
        ));
        return Ok(Code::Ok);
    }
    let mut l = repo::read_lock(dir)?;
    for r in &drafts {
        l.insert(r.id(), r.checksum(), r.file());
    }
    repo::write_lock(dir, &l)?;
    for r in &drafts {
        out::line(format!(
            "locked {} ({})",
            r.id(),
            dir.display_file(r.file())
        ));
    }
    out::note(format!(
        "commit {} with the migrations; from now on these files must not change",
        dir.display_file(kiln_core::LOCK_FILE)
    ));
    Ok(Code::Ok)
}

fn accept(s: &Settings, revs: &[String]) -> anyhow::Result<Code> {
    let dir = &s.dir;
    let scan = repo::scan(dir)?;
    let mut l = scan.lock.clone().unwrap_or_default();
    let locked: Vec<String> = l.entries.keys().cloned().collect();
    let mut changed = 0;
    for given in revs {
        let g = given.trim();
        let id = if locked.iter().any(|k| k == g) {
            g.to_owned()
        } else {
            let m: Vec<&String> = locked.iter().filter(|k| k.starts_with(g)).collect();
            match m.as_slice() {
                [one] => (*one).clone(),
                [] => {
                    let is_draft = scan.files.iter().any(|f| f.revision.value.starts_with(g));
                    return Err(if is_draft {
                        Fail::usage(
                            format!("revision `{g}` is not locked, so there is nothing to accept"),
                            "`kiln lock` (without --accept) records new revisions",
                        )
                    } else {
                        Fail::usage(
                            format!(
                                "no locked revision matches `{g}`{}",
                                closest(g, locked.iter().map(String::as_str))
                                    .map(|c| format!("; did you mean `{c}`?"))
                                    .unwrap_or_default()
                            ),
                            "`kiln check` names the revisions whose files changed",
                        )
                    });
                }
                many => {
                    return Err(Fail::usage(
                        format!(
                            "`{g}` is ambiguous: it is a prefix of {}; give more characters",
                            many.iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        "type more characters of the revision id",
                    ));
                }
            }
        };
        let Some(entry) = l.entries.get(&id).cloned() else {
            continue;
        };
        match scan.files.iter().find(|f| f.revision.value == id) {
            Some(f) if f.checksum == entry.checksum && f.file == entry.file => {
                out::line(format!(
                    "{id}: {} already matches the lock; nothing to accept",
                    dir.display_file(&f.file)
                ));
            }
            Some(f) => {
                out::note(format!(
                    "WARNING: RE-LOCKING EDITED REVISION `{id}` ({})\n  \
                     was sha256:{}\n  \
                     now sha256:{}\n  \
                     Databases that already applied `{id}` keep the old version and will report drift \
                     (exit 7 from `kiln check`); record reviewed databases with `kiln stamp`.",
                    dir.display_file(&f.file),
                    entry.checksum,
                    f.checksum
                ));
                l.insert(&id, &f.checksum, &f.file);
                out::line(format!("re-locked {id} ({})", dir.display_file(&f.file)));
                changed += 1;
            }
            None if dir.path.join(&entry.file).is_file() => {
                return Err(Fail::with(
                    Code::Invalid,
                    format!(
                        "{} is still there but does not declare revision `{id}`",
                        dir.display_file(&entry.file)
                    ),
                    "fix the file's `-- kiln:revision` line, or move it away first",
                ));
            }
            None => {
                out::note(format!(
                    "WARNING: DROPPING DELETED REVISION `{id}` FROM THE LOCK (was {}, sha256:{}).\n  \
                     Databases that applied it will report it as unknown.",
                    dir.display_file(&entry.file),
                    entry.checksum
                ));
                l.entries.remove(&id);
                out::line(format!("dropped {id} from the lock"));
                changed += 1;
            }
        }
    }
    if changed > 0 {
        repo::write_lock(dir, &l)?;
    }
    // Say whether the directory is now valid; remaining problems are not fixed by --accept.
    if let Err(d) = kiln_core::load_dir(dir) {
        return Err(Fail::invalid(&dir.display, &d));
    }
    Ok(Code::Ok)
}
