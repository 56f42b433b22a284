//! Finding, reading and validating a migration directory.
//!
//! [`resolve_dir`] is the one place that turns a user's directory argument into a path, and
//! [`load_dir`] the one place that turns a directory into a [`MigrationSet`]. The macro, the
//! runtime and the CLI all go through both, so a set checked at compile time and the same set
//! loaded at run time are identical by construction (and a test proves it).

use crate::checksum;
use crate::config;
use crate::diag::{Diagnostic, Diagnostics, Problem};
use crate::fileread::{self, ReadError};
use crate::format::{self, ParsedFile};
use crate::graph;
use crate::lex::{Dialect, Readings, Syntax};
use crate::lock::{LOCK_FILE, Lock};
use crate::model::{MigrationSet, Revision};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A migration directory: where to read it and how to name it in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationDir {
    /// The path to read.
    pub path: PathBuf,
    /// The directory as the user wrote it, used as the prefix of every path in messages.
    pub display: String,
    /// The `kiln.toml` that applies, found by [`resolve_dir`] (see [`crate::config`]).
    pub config: Option<PathBuf>,
    /// A dialect the caller declares for the set (the `migrations!` macro's `dialect`
    /// argument); it must agree with kiln.toml's.
    pub dialect: Option<Dialect>,
}

impl MigrationDir {
    /// The directory at `path`, shown as `display`, with no kiln.toml and no declared dialect.
    pub fn new(path: impl Into<PathBuf>, display: impl Into<String>) -> Self {
        MigrationDir {
            path: path.into(),
            display: display.into(),
            config: None,
            dialect: None,
        }
    }
    /// The displayed path of a file in this directory.
    pub fn display_file(&self, name: &str) -> String {
        if self.display.is_empty() || self.display == "." {
            name.to_owned()
        } else {
            format!("{}/{}", self.display.trim_end_matches('/'), name)
        }
    }
    /// The path of `kiln.lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.path.join(LOCK_FILE)
    }
}

/// The directory `given` (default `migrations`) relative to `base`, the crate's manifest
/// directory for the macro or the working directory for the CLI. An absolute `given` is used as is.
/// The `kiln.toml` in `base` or its nearest ancestor that has one applies to it.
pub fn resolve_dir(base: &Path, given: Option<&str>) -> MigrationDir {
    let given = given.unwrap_or("migrations");
    let p = Path::new(given);
    MigrationDir {
        path: if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        },
        display: given.to_owned(),
        config: config::find(base),
        dialect: None,
    }
}

/// How the files of `dir` are read: its kiln.toml (if any) and declared dialect. The problems
/// found in kiln.toml go to `diags`.
pub fn readings(dir: &MigrationDir, diags: &mut Diagnostics) -> Readings {
    let shown = dir
        .config
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    config::load(dir.config.as_deref(), &shown, dir.dialect, diags)
}

/// Files kiln tolerates in a migration directory without reading them.
pub fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.') || name == LOCK_FILE || name.to_ascii_lowercase().starts_with("readme")
}

/// What reading a directory found, before cross-file checks.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Files that parsed, sorted by file name.
    pub files: Vec<ParsedFile>,
    /// The lock, when `kiln.lock` exists and parses.
    pub lock: Option<Lock>,
    /// Absolute paths of every file read (migrations and lock), for build-time change tracking.
    pub read_paths: Vec<PathBuf>,
    /// Problems found while reading and parsing.
    pub diagnostics: Diagnostics,
    /// The dialect reading the set declares (kiln.toml or the macro argument), if any.
    pub syntax: Option<Syntax>,
    /// Names of migration files that could not be read or did not parse, sorted. Their problems
    /// are in [`Self::diagnostics`]; the graph checks use the names so a revision in a broken file
    /// is not also reported as missing.
    pub unparsed: Vec<String>,
    /// The files named in kiln.lock that exist as regular files, found while reading so that
    /// the lock check (like every check) need not look at the disk.
    pub locked_present: BTreeSet<String>,
}

/// Reads and parses every file in the directory, reporting every problem.
pub fn scan_dir(dir: &MigrationDir) -> Scan {
    let mut scan = Scan::default();
    let readings = readings(dir, &mut scan.diagnostics);
    scan.syntax = readings.declared();
    if let Some(p) = &dir.config {
        scan.read_paths.push(p.clone());
    }
    let entries = match std::fs::read_dir(&dir.path) {
        Ok(e) => e,
        Err(e) => {
            let problem = if e.kind() == std::io::ErrorKind::NotFound {
                Problem::DirNotFound {
                    path: dir.display.clone(),
                }
            } else {
                Problem::Io {
                    path: dir.display.clone(),
                    reason: e.to_string(),
                }
            };
            scan.diagnostics
                .push(Diagnostic::new(&dir.display, problem));
            return scan;
        }
    };
    let cap = match fileread::max_file_size() {
        Ok(c) => c,
        Err(reason) => {
            scan.diagnostics.push(Diagnostic::new(
                &dir.display,
                Problem::Io {
                    path: dir.display.clone(),
                    reason,
                },
            ));
            return scan;
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => names.push((
                e.file_name(),
                e.file_type().map(|t| t.is_dir()).unwrap_or(false),
            )),
            Err(e) => scan.diagnostics.push(Diagnostic::new(
                &dir.display,
                Problem::Io {
                    path: dir.display.clone(),
                    reason: e.to_string(),
                },
            )),
        }
    }
    names.sort();
    for (os_name, is_dir) in names {
        let name = os_name.to_string_lossy().into_owned();
        let shown = dir.display_file(&name);
        if is_ignored_name(&name) {
            continue;
        }
        if is_dir || !format::is_migration_file_name(&name) || os_name.to_str().is_none() {
            scan.diagnostics.push(Diagnostic::new(
                &shown,
                Problem::NotAMigration { file: name },
            ));
            continue;
        }
        let path = dir.path.join(&os_name);
        let bytes = match fileread::read_regular(&path, cap) {
            Ok(b) => b,
            Err(e) => {
                let reason = match e {
                    ReadError::NotFound => {
                        "the file disappeared while kiln read the directory".into()
                    }
                    ReadError::Other(r) => r,
                };
                scan.diagnostics.push(Diagnostic::new(
                    &shown,
                    Problem::Io {
                        path: shown.clone(),
                        reason,
                    },
                ));
                scan.unparsed.push(name);
                continue;
            }
        };
        scan.read_paths.push(path);
        match format::parse_into(&shown, &name, &bytes, &readings, &mut scan.diagnostics) {
            Some(f) => scan.files.push(f),
            None => scan.unparsed.push(name),
        }
    }
    let lock_path = dir.lock_path();
    match fileread::read_regular(&lock_path, cap) {
        Ok(bytes) => {
            scan.read_paths.push(lock_path);
            let shown = dir.display_file(LOCK_FILE);
            match checksum::normalize(&bytes) {
                Ok(text) => match Lock::parse(&text) {
                    Ok(lock) => {
                        scan.locked_present = lock
                            .entries
                            .values()
                            .filter(|e| dir.path.join(&e.file).is_file())
                            .map(|e| e.file.clone())
                            .collect();
                        scan.lock = Some(lock);
                    }
                    Err(errs) => {
                        for e in errs {
                            scan.diagnostics.push(Diagnostic::at(
                                &shown,
                                &text,
                                e.line,
                                Problem::MalformedLock { reason: e.reason },
                            ));
                        }
                    }
                },
                Err(e) => scan.diagnostics.push(Diagnostic {
                    path: shown,
                    line: Some(e.line),
                    source_line: None,
                    problem: Problem::MalformedLock {
                        reason: format!(
                            "not UTF-8 text (invalid byte at line {}, column {})",
                            e.line, e.column
                        ),
                    },
                }),
            }
        }
        Err(ReadError::NotFound) => {}
        Err(ReadError::Other(reason)) => scan.diagnostics.push(Diagnostic::new(
            dir.display_file(LOCK_FILE),
            Problem::Io {
                path: dir.display_file(LOCK_FILE),
                reason,
            },
        )),
    }
    scan
}

/// The result of loading a directory.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated set.
    pub set: MigrationSet,
    /// Every file read, for build-time change tracking.
    pub read_paths: Vec<PathBuf>,
}

/// Reads, parses and validates a directory: file format, graph and lock.
pub fn load_dir(dir: &MigrationDir) -> Result<Loaded, Diagnostics> {
    let scan = scan_dir(dir);
    let read_paths = scan.read_paths.clone();
    build_set(dir, scan).map(|set| Loaded { set, read_paths })
}

/// Validates a [`Scan`] into a set, adding graph and lock problems to the scan's own. Reads
/// nothing from the disk: [`scan_dir`] did.
pub fn build_set(dir: &MigrationDir, scan: Scan) -> Result<MigrationSet, Diagnostics> {
    let Scan {
        files,
        lock,
        mut diagnostics,
        unparsed,
        syntax,
        locked_present,
        ..
    } = scan;
    let graph = graph::check(&files, &unparsed, &mut diagnostics);
    if let Some(lock) = &lock {
        check_lock(dir, &files, lock, &locked_present, &mut diagnostics);
    }
    let Some(graph) = graph else {
        return Err(diagnostics);
    };
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let locked = |id: &str| lock.as_ref().is_some_and(|l| l.entries.contains_key(id));
    let owned_list = |v: &[String]| -> Cow<'static, [Cow<'static, str>]> {
        Cow::Owned(v.iter().map(|s| Cow::Owned(s.clone())).collect())
    };
    let revisions: Vec<Revision> = graph
        .order
        .iter()
        .map(|&i| {
            let f = &files[i];
            Revision::from_parts(
                Cow::Owned(f.revision.value.clone()),
                Cow::Owned(f.file.clone()),
                f.message.clone().map(Cow::Owned),
                f.created.clone().map(Cow::Owned),
                owned_list(&f.revises.value),
                owned_list(&graph.depends_on[i]),
                owned_list(&f.branches.value),
                f.transactional,
                Cow::Owned(f.up_sql().to_owned()),
                to_u32(f.up_line),
                f.down_sql().map(|s| Cow::Owned(s.to_owned())),
                to_u32(f.down_line),
                Cow::Owned(f.checksum.clone()),
                !locked(&f.revision.value),
            )
            .with_timeouts(f.lock_timeout, f.statement_timeout)
        })
        .collect();
    let ids = |v: &[usize]| -> Vec<String> {
        v.iter().map(|&i| files[i].revision.value.clone()).collect()
    };
    let digest = checksum::set_digest(
        files
            .iter()
            .map(|f| (f.revision.value.as_str(), f.checksum.as_str())),
    );
    Ok(MigrationSet::from_parts(
        Cow::Owned(revisions),
        owned_list(&ids(&graph.heads)),
        owned_list(&ids(&graph.bases)),
        Cow::Owned(digest),
    )
    .with_syntax(syntax))
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Compares the lock with the files: a locked revision must still exist with the same checksum.
/// `present` names the locked files that exist on disk ([`Scan::locked_present`]): a file that is
/// there but did not parse has its problem reported by the parser, not as a deleted revision.
pub fn check_lock(
    dir: &MigrationDir,
    files: &[ParsedFile],
    lock: &Lock,
    present: &BTreeSet<String>,
    diags: &mut Diagnostics,
) {
    for (id, entry) in &lock.entries {
        match files.iter().find(|f| &f.revision.value == id) {
            Some(f) if f.checksum != entry.checksum => diags.push(Diagnostic::at(
                &f.path,
                &f.text,
                f.revision.line,
                Problem::LockedChanged {
                    revision: id.clone(),
                    file: f.path.clone(),
                    locked: entry.checksum.clone(),
                    actual: f.checksum.clone(),
                },
            )),
            Some(_) => {}
            None if !files.iter().any(|f| f.file == entry.file)
                && present.contains(&entry.file) => {}
            None => diags.push(Diagnostic {
                path: dir.display_file(LOCK_FILE),
                line: (entry.line > 0).then_some(entry.line),
                source_line: None,
                problem: Problem::LockedDeleted {
                    revision: id.clone(),
                    file: dir.display_file(&entry.file),
                },
            }),
        }
    }
}
