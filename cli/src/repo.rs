//! The migration directory on disk: loading it through kiln-core, writing new files and the lock
//! safely, and naming new revisions.

use crate::error::Fail;
use anyhow::Context as _;
use kiln_core::format::ParsedFile;
use kiln_core::{Lock, MigrationDir, MigrationSet, Scan};
use std::io::Write as _;
use std::path::Path;

/// Loads and validates the directory exactly as the `migrations!` macro does; an invalid
/// directory is an exit-3 failure that prints the core's diagnostics verbatim.
pub fn load(dir: &MigrationDir) -> anyhow::Result<MigrationSet> {
    kiln_core::load_dir(dir)
        .map(|l| l.set)
        .map_err(|d| Fail::invalid(&dir.display, &d))
}

/// Reads the directory, failing (exit 3) on any problem found while reading or parsing files.
pub fn scan(dir: &MigrationDir) -> anyhow::Result<Scan> {
    let scan = kiln_core::scan_dir(dir);
    if scan.diagnostics.is_empty() {
        Ok(scan)
    } else {
        Err(Fail::invalid(&dir.display, &scan.diagnostics))
    }
}

/// A fresh random revision id of 12 lower-case hex digits that is neither an existing id, nor a
/// prefix of one, nor has one as its prefix (so every unique prefix stays unique).
pub fn random_id(taken: &[&str]) -> anyhow::Result<String> {
    for _ in 0..64 {
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes)
            .map_err(|e| anyhow::anyhow!("cannot get random bytes for a revision id: {e}"))?;
        let id = kiln_core::checksum::hex(&bytes);
        if !taken
            .iter()
            .any(|t| t.starts_with(id.as_str()) || id.starts_with(t))
        {
            return Ok(id);
        }
    }
    anyhow::bail!("could not find an unused random revision id; pass --rev-id")
}

/// The file-name slug of a message: lower-case ASCII letters and digits joined by `_`, at most
/// 40 characters.
pub fn slug(message: &str) -> String {
    let mut s = String::new();
    for c in message.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('_') && !s.is_empty() {
            s.push('_');
        }
    }
    let mut s: String = s.trim_end_matches('_').chars().take(40).collect();
    while s.ends_with('_') {
        s.pop();
    }
    s
}

/// The file name of a new revision.
pub fn file_name(id: &str, message: &str) -> String {
    let slug = slug(message);
    if slug.is_empty() {
        format!("{id}.sql")
    } else {
        format!("{id}_{slug}.sql")
    }
}

/// Parses text as the file `name` of `dir` would be parsed, for checks before writing.
pub fn parse_text(
    dir: &MigrationDir,
    name: &str,
    text: &str,
) -> Result<ParsedFile, kiln_core::Diagnostics> {
    // kiln.toml's own problems are reported by the directory scan, not as this text's.
    let readings = kiln_core::dir::readings(dir, &mut kiln_core::Diagnostics::default());
    let mut diags = kiln_core::Diagnostics::default();
    kiln_core::format::parse_into(
        &dir.display_file(name),
        name,
        text.as_bytes(),
        &readings,
        &mut diags,
    )
    .ok_or(diags)
}

/// Creates `path` with `text`, refusing to replace an existing file.
pub fn create_new(path: &Path, shown: &str, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| write_error(shown, &e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| write_error(shown, &e))
}

/// Replaces `path` with `text` atomically (a temporary file in the same directory, renamed).
pub fn replace(path: &Path, shown: &str, text: &str) -> anyhow::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kiln".into());
    let tmp = parent.join(format!(".{name}.kiln-tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_error(shown, &e));
    }
    Ok(())
}

fn write_error(shown: &str, e: &std::io::Error) -> anyhow::Error {
    let hint = match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            "a file with that name already exists; pass another --rev-id or message".to_owned()
        }
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            "make the migration directory writable, or pass --dir to use another one".to_owned()
        }
        _ => "check that the migration directory exists and is a writable directory (`kiln init` creates it)".to_owned(),
    };
    Fail::with(
        crate::error::Code::Failure,
        format!("cannot write `{shown}`: {e}"),
        hint,
    )
}

/// Reads the lock as it is on disk (an absent lock is empty).
pub fn read_lock(dir: &MigrationDir) -> anyhow::Result<Lock> {
    let path = dir.lock_path();
    let shown = dir.display_file(kiln_core::LOCK_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{shown}`")),
    };
    let text = kiln_core::checksum::normalize(&bytes).map_err(|e| {
        Fail::with(
            crate::error::Code::Invalid,
            format!(
                "`{shown}` is not UTF-8 (line {}, column {})",
                e.line, e.column
            ),
            "regenerate it with `kiln lock`",
        )
    })?;
    Lock::parse(&text).map_err(|errs| {
        let lines: Vec<String> = errs
            .iter()
            .map(|e| format!("line {}: {}", e.line, e.reason))
            .collect();
        Fail::with(
            crate::error::Code::Invalid,
            format!("`{shown}` is malformed: {}", lines.join("; ")),
            "each line is `<revision> sha256:<64 hex digits> <file>`; fix it, or run `kiln check` for details",
        )
    })
}

/// Writes the lock in its canonical form.
pub fn write_lock(dir: &MigrationDir, lock: &Lock) -> anyhow::Result<()> {
    replace(
        &dir.lock_path(),
        &dir.display_file(kiln_core::LOCK_FILE),
        &lock.render(),
    )
}
