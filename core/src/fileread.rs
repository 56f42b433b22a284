//! Reading one file of a migration directory safely: regular files only, never more than a cap.
//!
//! A migration directory can hold anything a checkout or a colleague put there. A FIFO would make
//! `open` wait forever for a writer, and a symlink to `/dev/zero` would be read until memory runs
//! out, so kiln looks at what a name points to before opening it, and never reads past the cap.

use std::io::Read;
use std::path::Path;

/// The largest migration file (or `kiln.lock`) kiln reads by default: 64 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// The environment variable that overrides [`DEFAULT_MAX_FILE_SIZE`]: a number of bytes, or a
/// number with a `K`, `M` or `G` suffix (powers of 1024), e.g. `KILN_MAX_FILE_SIZE=256M`. It is
/// read wherever a directory is loaded: by the `migrations!` macro while the crate compiles, by
/// `Migrator::load` and by the CLI.
pub const MAX_FILE_SIZE_VAR: &str = "KILN_MAX_FILE_SIZE";

/// The size cap in force: [`MAX_FILE_SIZE_VAR`] when it is set, else the default. An invalid value
/// is an error naming the variable, rather than a silent fallback.
pub fn max_file_size() -> Result<u64, String> {
    match std::env::var(MAX_FILE_SIZE_VAR) {
        Ok(v) if !v.trim().is_empty() => parse_size(v.trim()).ok_or_else(|| {
            format!(
                "{MAX_FILE_SIZE_VAR}=`{v}` is not a size; write a number of bytes or a number with K, M or G, e.g. {MAX_FILE_SIZE_VAR}=256M"
            )
        }),
        _ => Ok(DEFAULT_MAX_FILE_SIZE),
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let (digits, unit) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_uppercase()),
        _ => (s, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return None,
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1u64 << shift).filter(|&b| b > 0)
}

/// Human text for a byte count, for messages.
fn size_text(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{b} bytes")
    }
}

/// What a non-regular file is, for the message.
fn kind_of(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Why a file could not be read: `NotFound` is kept apart so callers can treat a missing optional
/// file (the lock) as absent.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// Nothing exists at the path (or a symlink points nowhere).
    NotFound,
    /// Anything else, as a reason that says what to do.
    Other(String),
}

/// Reads the regular file at `path` (following symlinks), refusing FIFOs, devices, sockets and
/// directories, and files larger than `cap` bytes.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::NotFound
        } else {
            ReadError::Other(e.to_string())
        }
    };
    // Decide from the metadata before opening: opening a FIFO blocks until a writer appears.
    let meta = std::fs::metadata(path).map_err(io)?;
    let not_regular = |ft: std::fs::FileType| {
        ReadError::Other(format!(
            "it is {}, and kiln reads only regular files (or symlinks to them) here; move it out of the migration directory",
            kind_of(ft)
        ))
    };
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let too_big = |size: u64| {
        ReadError::Other(format!(
            "it is {}, over kiln's limit of {} for one file; split it into several revisions, or raise the limit with {MAX_FILE_SIZE_VAR} (e.g. {MAX_FILE_SIZE_VAR}=256M)",
            size_text(size),
            size_text(cap)
        ))
    };
    if meta.len() > cap {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    // The name may have been swapped between the two looks; the open handle is what is read.
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    // Sizes can lie (files in /proc say 0, a file can grow while read): read at most one byte
    // past the cap, whatever the metadata said.
    let mut bytes = Vec::with_capacity(meta.len().min(cap) as usize);
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("10K"), Some(10 << 10));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size("12X"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999G"), None);
    }
}
