//! The directory loader: which files it reads, how drafts and the lock work, and how problems
//! across a whole directory are reported (all at once, in a deterministic order).

use kiln_core::checksum;
use kiln_core::{Diagnostics, Lock, MigrationDir, MigrationSet, Problem, load_dir, scan_dir};
use std::path::Path;

fn write(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// A temporary migration directory shown as `m` in messages.
fn dir_with(files: &[(&str, &str)]) -> (tempfile::TempDir, MigrationDir) {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), files);
    let dir = MigrationDir::new(tmp.path().to_path_buf(), "m");
    (tmp, dir)
}

fn load_ok(dir: &MigrationDir) -> MigrationSet {
    load_dir(dir).unwrap_or_else(|d| panic!("{d}")).set
}

fn load_err(dir: &MigrationDir) -> Diagnostics {
    match load_dir(dir) {
        Ok(l) => panic!("loaded: {:?}", l.set),
        Err(d) => d,
    }
}

/// `(path, line, problem)` of each diagnostic, for exact comparisons.
fn summary(d: &Diagnostics) -> Vec<(String, Option<usize>, Problem)> {
    d.iter()
        .map(|d| (d.path.clone(), d.line, d.problem.clone()))
        .collect()
}

fn rev(id: &str, parent: Option<&str>) -> String {
    let revises = parent.map_or(String::new(), |p| format!("-- kiln:revises {p}\n"));
    format!(
        "-- kiln:revision {id}\n{revises}-- kiln:message {id}\n\n-- kiln:upgrade\nSELECT '{id}';\n"
    )
}

fn sum(text: &str) -> String {
    checksum::checksum(&checksum::normalize(text.as_bytes()).unwrap())
}

fn lock_of(entries: &[(&str, &str, &str)]) -> String {
    let mut lock = Lock::default();
    for (id, file, text) in entries {
        lock.insert(id, &sum(text), file);
    }
    lock.render()
}

// ------------------------------------------------------------------------------ what is read

#[test]
fn readme_files_dotfiles_and_the_lock_are_not_migrations() {
    let a = rev("a1", None);
    let b = rev("b2", Some("a1"));
    let lock = lock_of(&[("a1", "a1_init.sql", &a)]);
    let (tmp, dir) = dir_with(&[
        ("a1_init.sql", &a),
        ("b2_next.sql", &b),
        ("README.md", "# notes\n"),
        ("readme", "plain\n"),
        ("ReadMe.sql", "not parsed either\n"),
        (".editorconfig", "root = true\n"),
        (".git/HEAD", "a dot-directory\n"),
        ("kiln.lock", &lock),
    ]);
    let loaded = load_dir(&dir).unwrap_or_else(|d| panic!("{d}"));
    let ids: Vec<&str> = loaded.set.revisions().iter().map(|r| r.id()).collect();
    assert_eq!(ids, ["a1", "b2"]);
    // Only migrations and the lock are read (and so tracked for rebuilds).
    let mut read: Vec<String> = loaded
        .read_paths
        .iter()
        .map(|p| p.strip_prefix(tmp.path()).unwrap().display().to_string())
        .collect();
    read.sort();
    assert_eq!(read, ["a1_init.sql", "b2_next.sql", "kiln.lock"]);
}

#[test]
fn other_files_and_directories_are_each_reported() {
    let (_tmp, dir) = dir_with(&[
        ("a1_init.sql", &rev("a1", None)),
        ("notes.txt", "x\n"),
        ("a2_old.sql.bak", "x\n"),
        ("A3_SHOUT.SQL", "x\n"),
        ("archive/z9_old.sql", &rev("z9", None)),
    ]);
    let d = load_err(&dir);
    let got: Vec<(String, Problem)> = d
        .iter()
        .map(|d| (d.path.clone(), d.problem.clone()))
        .collect();
    let not = |f: &str| {
        (
            format!("m/{f}"),
            Problem::NotAMigration { file: f.to_owned() },
        )
    };
    // Sorted by file name, each with a remedy.
    assert_eq!(
        got,
        [
            not("A3_SHOUT.SQL"),
            not("a2_old.sql.bak"),
            not("archive"),
            not("notes.txt")
        ]
    );
    assert!(
        d.to_string()
            .contains("help: a migration directory holds only")
    );
}

#[test]
fn a_missing_directory_is_reported_by_the_name_given() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = kiln_core::resolve_dir(tmp.path(), Some("db/migrations"));
    assert_eq!(dir.path, tmp.path().join("db/migrations"));
    let d = load_err(&dir);
    assert_eq!(
        summary(&d),
        [(
            "db/migrations".to_owned(),
            None,
            Problem::DirNotFound {
                path: "db/migrations".into()
            }
        )]
    );
}

#[test]
fn an_empty_directory_is_an_empty_set() {
    let (_tmp, dir) = dir_with(&[("README.md", "nothing yet\n")]);
    let set = load_ok(&dir);
    assert!(set.is_empty());
    assert!(set.heads().is_empty() && set.bases().is_empty());
}

// ------------------------------------------------------------------------------ drafts and lock

#[test]
fn revisions_missing_from_the_lock_are_drafts() {
    let a = rev("a1", None);
    let b = rev("b2", Some("a1"));
    let c = rev("c3", Some("b2"));
    let files = [
        ("a1_init.sql", a.as_str()),
        ("b2_next.sql", &b),
        ("c3_last.sql", &c),
    ];

    // No lock file at all: everything is a draft.
    let (_t, dir) = dir_with(&files);
    assert_eq!(load_ok(&dir).drafts().count(), 3);

    // A lock with the first two.
    let lock = lock_of(&[("a1", "a1_init.sql", &a), ("b2", "b2_next.sql", &b)]);
    let (_t, dir) = dir_with(&[files[0], files[1], files[2], ("kiln.lock", &lock)]);
    let set = load_ok(&dir);
    let drafts: Vec<&str> = set.drafts().map(|r| r.id()).collect();
    assert_eq!(drafts, ["c3"]);
    assert!(!set.get("a1").unwrap().is_draft());
    assert_eq!(set.get("a1").unwrap().checksum(), sum(&a));
}

#[test]
fn locking_a_loaded_set_makes_nothing_a_draft() {
    let a = rev("a1", None);
    let b = rev("b2", Some("a1"));
    let (tmp, dir) = dir_with(&[("a1_init.sql", &a), ("b2_next.sql", &b)]);
    let before = load_ok(&dir);
    let mut lock = Lock::default();
    for r in before.revisions() {
        lock.insert(r.id(), r.checksum(), r.file());
    }
    std::fs::write(tmp.path().join("kiln.lock"), lock.render()).unwrap();
    let after = load_ok(&dir);
    assert_eq!(after.drafts().count(), 0);
    // Locking changes draft status only, not checksums or the set digest.
    assert_eq!(after.digest(), before.digest());
}

#[test]
fn crlf_and_bom_do_not_break_a_lock_taken_on_lf_text() {
    let a = rev("a1", None);
    let lock = lock_of(&[("a1", "a1_init.sql", &a)]);
    let windows = format!("\u{feff}{}", a.replace('\n', "\r\n"));
    let (_t, dir) = dir_with(&[("a1_init.sql", &windows), ("kiln.lock", &lock)]);
    let set = load_ok(&dir);
    assert!(!set.get("a1").unwrap().is_draft());
    assert_eq!(set.get("a1").unwrap().checksum(), sum(&a));
}

#[test]
fn a_changed_locked_revision_names_file_both_checksums_and_the_ways_out() {
    let a = rev("a1", None);
    let edited = a.replace("SELECT 'a1';", "SELECT 'a1', 'edited';");
    let lock = lock_of(&[("a1", "a1_init.sql", &a)]);
    let (_t, dir) = dir_with(&[("a1_init.sql", &edited), ("kiln.lock", &lock)]);
    let d = load_err(&dir);
    assert_eq!(
        summary(&d),
        [(
            "m/a1_init.sql".to_owned(),
            Some(1),
            Problem::LockedChanged {
                revision: "a1".into(),
                file: "m/a1_init.sql".into(),
                locked: sum(&a),
                actual: sum(&edited),
            }
        )]
    );
    let text = d.to_string();
    assert!(text.contains(&format!("sha256:{}", sum(&a))), "{text}");
    assert!(text.contains(&format!("sha256:{}", sum(&edited))), "{text}");
    assert!(text.contains("kiln revision -m"), "{text}");
    assert!(text.contains("kiln lock --accept a1"), "{text}");
}

#[test]
fn a_deleted_locked_revision_points_at_its_lock_line() {
    let a = rev("a1", None);
    let b = rev("b2", Some("a1"));
    let lock = lock_of(&[("a1", "a1_init.sql", &a), ("b2", "b2_next.sql", &b)]);
    let (_t, dir) = dir_with(&[("a1_init.sql", &a), ("kiln.lock", &lock)]);
    let d = load_err(&dir);
    // Line 1 is the header comment, a1 is on line 2, b2 on line 3.
    assert_eq!(
        summary(&d),
        [(
            "m/kiln.lock".to_owned(),
            Some(3),
            Problem::LockedDeleted {
                revision: "b2".into(),
                file: "m/b2_next.sql".into()
            }
        )]
    );
    assert!(d.to_string().contains("restore the file"), "{d}");
}

#[test]
fn a_locked_file_that_no_longer_parses_is_not_called_deleted() {
    let a = rev("a1", None);
    let broken = a.replace("-- kiln:message a1", "-- kiln:mesage a1");
    let lock = lock_of(&[("a1", "a1_init.sql", &a)]);
    let (_t, dir) = dir_with(&[("a1_init.sql", &broken), ("kiln.lock", &lock)]);
    let d = load_err(&dir);
    let problems: Vec<Problem> = d.iter().map(|d| d.problem.clone()).collect();
    assert_eq!(
        problems,
        [Problem::UnknownDirective {
            directive: "mesage".into(),
            suggestion: Some("message".into())
        }]
    );
}

#[test]
fn every_bad_lock_line_is_reported_with_its_line() {
    let a = rev("a1", None);
    let lock = format!(
        "# header\na1 sha256:{} a1_init.sql\nb2 sha256:abc b2_next.sql\n\nc-3 sha256:{} c.sql\nd4\n",
        sum(&a),
        "0".repeat(64)
    );
    let (_t, dir) = dir_with(&[("a1_init.sql", &a), ("kiln.lock", &lock)]);
    let d = load_err(&dir);
    let lines: Vec<Option<usize>> = d.iter().map(|d| d.line).collect();
    assert_eq!(lines, [Some(3), Some(5), Some(6)]);
    assert!(d.iter().all(|d| d.path == "m/kiln.lock"));
    assert!(
        d.iter()
            .all(|d| matches!(d.problem, Problem::MalformedLock { .. }))
    );
    let text = d.to_string();
    assert!(text.contains("m/kiln.lock:3: malformed kiln.lock: `sha256:abc` is not `sha256:` followed by 64 hex digits"), "{text}");
    assert!(text.contains("`c-3` is not a valid revision id"), "{text}");
    assert!(
        text.contains("m/kiln.lock:6: malformed kiln.lock: expected three fields"),
        "{text}"
    );
}

#[test]
fn a_lock_that_is_not_utf8_is_malformed_at_its_line() {
    let a = rev("a1", None);
    let (tmp, dir) = dir_with(&[("a1_init.sql", &a)]);
    std::fs::write(tmp.path().join("kiln.lock"), b"# header\n\xff\n").unwrap();
    let d = load_err(&dir);
    assert_eq!(d.len(), 1);
    assert_eq!(d.0[0].line, Some(2));
    assert!(
        matches!(&d.0[0].problem, Problem::MalformedLock { reason } if reason.contains("not UTF-8"))
    );
}

// ------------------------------------------------------------------------------ all at once

/// A directory broken in many independent ways, across files and the lock.
fn many_problems() -> Vec<(&'static str, String)> {
    let a = rev("a1", None);
    let lock = lock_of(&[("a1", "a1_init.sql", &a), ("z9", "z9_gone.sql", "gone")]);
    vec![
        ("a1_init.sql", a.replace("SELECT 'a1';", "SELECT 'changed';")),
        // Two problems in one file.
        (
            "b2_next.sql",
            "-- kiln:revision b2\n-- kiln:revises a1\n-- kiln:created soon\n-- kiln:colour blue\n\n-- kiln:upgrade\nSELECT 1;\n".into(),
        ),
        ("c3_mismatch.sql", rev("c4", Some("a1"))),
        ("d4_orphan.sql", rev("d4", Some("a2"))),
        (
            "e5_dep.sql",
            "-- kiln:revision e5\n-- kiln:revises a1\n-- kiln:depends-on nowhere\n\n-- kiln:upgrade\nSELECT 1;\n".into(),
        ),
        ("f6_empty.sql", "-- kiln:revision f6\n-- kiln:revises a1\n\n-- kiln:upgrade\n-- nothing\n".into()),
        ("kiln.lock", lock),
        ("notes.txt", "x\n".into()),
    ]
}

#[test]
fn every_problem_in_every_file_is_reported_at_once() {
    let files = many_problems();
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let (_t, dir) = dir_with(&refs);
    let d = load_err(&dir);
    let got: Vec<(String, Option<usize>, &str)> = d
        .iter()
        .map(|d| {
            let kind = match &d.problem {
                Problem::MalformedDirective { .. } => "malformed directive",
                Problem::UnknownDirective { .. } => "unknown directive",
                Problem::RevisionMismatch { .. } => "revision mismatch",
                Problem::EmptyUpgrade { .. } => "empty upgrade",
                Problem::NotAMigration { .. } => "not a migration",
                Problem::UnknownParent { .. } => "unknown parent",
                Problem::UnknownDependency { .. } => "unknown dependency",
                Problem::LockedChanged { .. } => "locked changed",
                Problem::LockedDeleted { .. } => "locked deleted",
                other => panic!("unexpected {other}"),
            };
            (d.path.clone(), d.line, kind)
        })
        .collect();
    let at = |p: &str, l: Option<usize>, k| (format!("m/{p}"), l, k);
    assert_eq!(
        got,
        [
            // Per-file problems, in file-name order.
            at("b2_next.sql", Some(3), "malformed directive"),
            at("b2_next.sql", Some(4), "unknown directive"),
            at("c3_mismatch.sql", Some(1), "revision mismatch"),
            at("f6_empty.sql", Some(4), "empty upgrade"),
            at("notes.txt", None, "not a migration"),
            // Then links between files.
            at("d4_orphan.sql", Some(2), "unknown parent"),
            at("e5_dep.sql", Some(3), "unknown dependency"),
            // Then the lock.
            at("a1_init.sql", Some(1), "locked changed"),
            at("kiln.lock", Some(3), "locked deleted"),
        ],
        "{d}"
    );
    // Every message names its file and line and says what to do.
    for diag in d.iter() {
        let text = diag.to_string();
        assert!(text.starts_with(&diag.path), "{text}");
        assert!(text.contains("help: "), "{text}");
    }
}

#[test]
fn problems_come_out_in_the_same_order_whatever_the_file_system_order() {
    let files = many_problems();
    let forward: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let backward: Vec<(&str, &str)> = forward.iter().rev().copied().collect();
    let (_t1, d1) = dir_with(&forward);
    let (_t2, d2) = dir_with(&backward);
    let first = load_err(&d1);
    assert_eq!(first, load_err(&d2));
    assert_eq!(first, load_err(&d1));
    assert_eq!(first.to_string(), load_err(&d2).to_string());
}

#[test]
fn suggestions_are_the_same_every_time() {
    // `0009` is one edit away from each of 0001..0005: the suggestion must not depend on
    // hash-map order, and must never be the revision itself.
    let (_t, dir) = dir_with(&[
        ("0001_a.sql", &rev("0001", None)),
        ("0002_b.sql", &rev("0002", Some("0001"))),
        ("0003_c.sql", &rev("0003", Some("0002"))),
        ("0004_d.sql", &rev("0004", Some("0003"))),
        ("0005_e.sql", &rev("0005", Some("0009"))),
    ]);
    let suggestions: Vec<Option<String>> = (0..20)
        .map(|_| match &load_err(&dir).0[0].problem {
            Problem::UnknownParent { suggestion, .. } => suggestion.clone(),
            other => panic!("{other}"),
        })
        .collect();
    assert!(
        suggestions.iter().all(|s| s == &suggestions[0]),
        "{suggestions:?}"
    );
    assert_eq!(suggestions[0].as_deref(), Some("0001"));
}

// ------------------------------------------------------------------------------ no cascades

#[test]
fn a_typo_in_revises_is_one_problem_not_also_an_extra_head() {
    let (_t, dir) = dir_with(&[
        ("a1b2c3_init.sql", &rev("a1b2c3", None)),
        ("b2c3d4_next.sql", &rev("b2c3d4", Some("a1b2c4"))),
    ]);
    let d = load_err(&dir);
    assert_eq!(
        summary(&d),
        [(
            "m/b2c3d4_next.sql".to_owned(),
            Some(2),
            Problem::UnknownParent {
                revision: "b2c3d4".into(),
                parent: "a1b2c4".into(),
                suggestion: Some("a1b2c3".into())
            }
        )]
    );
}

#[test]
fn a_revision_whose_file_does_not_parse_is_not_also_missing() {
    let (_t, dir) = dir_with(&[
        ("a1_init.sql", &rev("a1", None)),
        (
            "b2_next.sql",
            &rev("b2", Some("a1")).replace("-- kiln:upgrade", "-- kiln:upgarde"),
        ),
        ("c3_last.sql", &rev("c3", Some("b2"))),
        (
            "d4_dep.sql",
            "-- kiln:revision d4\n-- kiln:revises c3\n-- kiln:depends-on b2\n-- kiln:upgrade\nSELECT 1;\n",
        ),
    ]);
    let scan = scan_dir(&dir);
    assert_eq!(scan.unparsed, ["b2_next.sql"]);
    let d = load_err(&dir);
    // Only b2's own problems: not "c3 revises b2, which does not exist", not "d4 depends on b2",
    // and not "two heads" or "two bases" from the hole b2 leaves in the graph.
    assert!(d.iter().all(|d| d.path == "m/b2_next.sql"), "{d}");
    assert!(
        d.iter()
            .any(|d| matches!(&d.problem, Problem::UnknownDirective { directive, .. } if directive == "upgarde")),
        "{d}"
    );
}

#[test]
fn a_duplicated_label_is_not_also_reported_as_extra_heads() {
    let (_t, dir) = dir_with(&[
        ("a1_init.sql", &rev("a1", None)),
        (
            "b2_x.sql",
            &rev("b2", Some("a1")).replace("-- kiln:message", "-- kiln:branch x\n-- kiln:message"),
        ),
        (
            "c3_y.sql",
            &rev("c3", Some("a1")).replace("-- kiln:message", "-- kiln:branch x\n-- kiln:message"),
        ),
    ]);
    let d = load_err(&dir);
    assert_eq!(d.len(), 1, "{d}");
    assert!(matches!(&d.0[0].problem, Problem::DuplicateLabel { label, .. } if label == "x"));
}

#[test]
fn a_dependency_cycle_points_at_the_depends_on_line() {
    let (_t, dir) = dir_with(&[
        ("a1_init.sql", &rev("a1", None)),
        (
            "b2_next.sql",
            "-- kiln:revision b2\n-- kiln:revises a1\n-- kiln:depends-on c3\n-- kiln:upgrade\nSELECT 1;\n",
        ),
        ("c3_last.sql", &rev("c3", Some("b2"))),
    ]);
    let d = load_err(&dir);
    assert_eq!(
        summary(&d),
        [(
            "m/b2_next.sql".to_owned(),
            Some(3),
            Problem::Cycle {
                cycle: vec!["b2".into(), "c3".into(), "b2".into()]
            }
        )]
    );
}

#[test]
fn a_downgrade_before_the_upgrade_is_one_problem_and_no_upgrade_is_another() {
    let (_t, dir) = dir_with(&[(
        "a1_init.sql",
        "-- kiln:revision a1\n-- kiln:downgrade\nDROP TABLE t;\n-- kiln:upgrade\nCREATE TABLE t (x INT);\n",
    )]);
    assert_eq!(
        summary(&load_err(&dir)),
        [(
            "m/a1_init.sql".to_owned(),
            Some(2),
            Problem::DowngradeBeforeUpgrade
        )]
    );

    let (_t, dir) = dir_with(&[(
        "a1_init.sql",
        "-- kiln:revision a1\n-- kiln:downgrade\nDROP TABLE t;\n",
    )]);
    assert_eq!(
        summary(&load_err(&dir)),
        [(
            "m/a1_init.sql".to_owned(),
            None,
            Problem::MissingUpgrade {
                file: "a1_init.sql".into()
            }
        )]
    );
}

#[test]
fn a_space_after_kiln_colon_suggests_the_directive() {
    let (_t, dir) = dir_with(&[(
        "a1_init.sql",
        "-- kiln:revision a1\n-- kiln: message hello\n-- kiln:upgrade\nSELECT 1;\n",
    )]);
    assert_eq!(
        summary(&load_err(&dir)),
        [(
            "m/a1_init.sql".to_owned(),
            Some(2),
            Problem::UnknownDirective {
                directive: String::new(),
                suggestion: Some("message".into())
            }
        )]
    );
}

#[test]
fn a_value_after_a_section_marker_is_malformed_and_says_why() {
    let (_t, dir) = dir_with(&[(
        "a1_init.sql",
        "-- kiln:revision a1\n-- kiln:upgrade now\nSELECT 1;\n",
    )]);
    let d = load_err(&dir);
    assert_eq!(d.len(), 1, "{d}");
    assert!(
        matches!(&d.0[0].problem, Problem::MalformedDirective { directive, .. } if directive == "upgrade")
    );
    assert!(
        d.to_string()
            .contains("help: write `-- kiln:upgrade` alone on its line"),
        "{d}"
    );
}
