//! Hostile entries in a migration directory (issue 9 item 11): a FIFO must not hang the loader, a
//! symlink to a device must not be read until memory runs out, and a huge file is refused with a
//! message that names it. A symlink to a regular file is still read.

#![cfg(unix)]

use kiln_core::{Diagnostics, MigrationDir, Problem, load_dir};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

const GOOD: &str =
    "-- kiln:revision a1\n-- kiln:message first\n\n-- kiln:upgrade\nCREATE TABLE t (id INTEGER);\n";

fn dir_at(path: &Path) -> MigrationDir {
    MigrationDir::new(path, "m")
}

/// Loads the directory on another thread, failing the test instead of hanging with it.
fn load_within_10s(dir: MigrationDir) -> Result<kiln_core::Loaded, Diagnostics> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load_dir(&dir));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("loading the directory did not finish within 10 s (it hangs)")
}

fn io_reason(d: &Diagnostics, path: &str) -> String {
    d.iter()
        .find_map(|x| match &x.problem {
            Problem::Io { path: p, reason } if p == path => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no read problem for {path}:\n{d}"))
}

#[test]
fn a_fifo_is_reported_not_waited_on() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a1_first.sql"), GOOD).unwrap();
    let fifo = tmp.path().join("b2_pipe.sql");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let d = load_within_10s(dir_at(tmp.path())).unwrap_err();
    let reason = io_reason(&d, "m/b2_pipe.sql");
    assert!(reason.contains("a FIFO"), "{reason}");
    assert!(reason.contains("regular files"), "{reason}");
    let text = d.to_string();
    assert!(text.contains("m/b2_pipe.sql"), "{text}");
}

#[test]
fn a_fifo_named_kiln_lock_is_reported_not_waited_on() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a1_first.sql"), GOOD).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(tmp.path().join("kiln.lock"))
        .status()
        .unwrap();
    assert!(made.success());
    let d = load_within_10s(dir_at(tmp.path())).unwrap_err();
    assert!(io_reason(&d, "m/kiln.lock").contains("a FIFO"), "{d}");
}

#[test]
fn a_symlink_to_dev_zero_is_refused_without_reading_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", tmp.path().join("a1_zero.sql")).unwrap();
    let d = load_within_10s(dir_at(tmp.path())).unwrap_err();
    let reason = io_reason(&d, "m/a1_zero.sql");
    assert!(reason.contains("a character device"), "{reason}");
}

#[test]
fn a_file_over_the_cap_is_refused_with_its_size_and_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let big = std::fs::File::create(tmp.path().join("a1_huge.sql")).unwrap();
    // Sparse: no disk space is used, but the file says it is one byte over 64 MiB.
    big.set_len(kiln_core::DEFAULT_MAX_FILE_SIZE + 1).unwrap();
    let d = load_within_10s(dir_at(tmp.path())).unwrap_err();
    let reason = io_reason(&d, "m/a1_huge.sql");
    assert!(reason.contains("over kiln's limit of 64.0 MiB"), "{reason}");
    assert!(reason.contains("KILN_MAX_FILE_SIZE"), "{reason}");
}

#[test]
fn a_symlink_to_a_regular_file_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("first.sql");
    std::fs::write(&target, GOOD).unwrap();
    std::os::unix::fs::symlink(&target, tmp.path().join("a1_first.sql")).unwrap();
    let loaded = load_within_10s(dir_at(tmp.path())).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(loaded.set.len(), 1);
}

#[test]
fn a_dangling_symlink_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/nonexistent/kiln/x.sql", tmp.path().join("a1_gone.sql")).unwrap();
    let d = load_within_10s(dir_at(tmp.path())).unwrap_err();
    assert!(!io_reason(&d, "m/a1_gone.sql").is_empty());
}
