//! The commands that work on the migration directory alone: init, revision, merge, lock, check
//! (without a database), history, heads, branches, show, graph and `--sql`, plus usage errors.

mod common;

use common::{Rev, Sandbox, core_diagnostics, text};

#[test]
fn help_and_version_exit_zero() {
    let sb = Sandbox::new();
    let out = sb.kiln().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for verb in [
        "init",
        "revision",
        "merge",
        "upgrade",
        "downgrade",
        "current",
        "history",
        "heads",
        "branches",
        "show",
        "stamp",
        "check",
        "lock",
        "graph",
        "audit",
    ] {
        assert!(help.contains(verb), "{verb} missing from:\n{help}");
    }
    let out = sb.kiln().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("kiln "));
}

#[test]
fn usage_errors_exit_2_with_kiln_prefix() {
    let sb = Sandbox::new();
    let out = sb.kiln().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.starts_with("kiln: "), "{err}");
    assert!(err.contains("frobnicate"), "{err}");
    assert!(err.contains("--help"), "the next step is missing: {err}");

    let out = sb.kiln().arg("upgrade").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("<TARGET>"));

    // A target that is not in the grammar is refused before anything is read.
    let out = sb.kiln().args(["upgrade", "a b"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a target"));
}

#[test]
fn init_creates_directory_and_lock_and_prints_the_build_line() {
    let sb = Sandbox::empty();
    let out = sb.kiln().arg("init").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("cargo::rerun-if-changed=migrations"),
        "{stdout}"
    );
    assert!(sb.migrations().is_dir());
    let lock = sb.read("migrations/kiln.lock");
    assert!(lock.starts_with("# kiln.lock"), "{lock}");
    assert!(!sb.path().join("build.rs").exists());

    // Again: nothing is replaced.
    std::fs::write(sb.migrations().join("kiln.lock"), "# mine\n").unwrap();
    let out = sb
        .kiln()
        .args(["init", "--write-build-rs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(sb.read("migrations/kiln.lock"), "# mine\n");
    let build = sb.read("build.rs");
    assert!(
        build.contains("println!(\"cargo::rerun-if-changed=migrations\");"),
        "{build}"
    );

    // A build.rs that does not watch the directory is not edited.
    sb.write("build.rs", "fn main() {}\n");
    let out = sb
        .kiln()
        .args(["init", "db/migrations", "--write-build-rs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(sb.path().join("db/migrations/kiln.lock").is_file());
    assert!(text(&out.stderr).contains("rerun-if-changed=db/migrations"));
    assert_eq!(sb.read("build.rs"), "fn main() {}\n");
}

/// Tests run as root, where permission bits do not stop writes. A directory whose parent is a
/// regular file cannot be created by anyone, so `init` fails there with the OS's reason.
#[test]
fn init_fails_cleanly_when_a_parent_is_a_regular_file() {
    let sb = Sandbox::empty();
    sb.write("notadir", "x");
    let out = sb
        .kiln()
        .args(["init", "notadir/migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("kiln: cannot create the migration directory `notadir/migrations`"),
        "{err}"
    );
    assert!(err.contains("help:"), "{err}");
}

#[test]
fn revision_writes_a_random_id_based_on_the_head_and_leaves_the_lock_alone() {
    let sb = Sandbox::new();
    sb.standard();
    let lock_before = std::fs::read(sb.migrations().join("kiln.lock")).ok();
    let out = sb
        .kiln()
        .args(["revision", "-m", "Add the users' email index!"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let name = std::fs::read_dir(sb.migrations())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with("_add_the_users_email_index.sql"))
        .expect("new file");
    let id = &name[..12];
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{id}"
    );
    assert_eq!(name.len(), 12 + "_add_the_users_email_index.sql".len());
    assert!(stdout.contains(&format!("migrations/{name}")), "{stdout}");
    let body = sb.read(&format!("migrations/{name}"));
    assert!(
        body.starts_with(&format!("-- kiln:revision {id}\n-- kiln:revises ee55\n")),
        "{body}"
    );
    assert!(
        body.contains("-- kiln:message Add the users' email index!\n"),
        "{body}"
    );
    let created = body
        .lines()
        .find_map(|l| l.strip_prefix("-- kiln:created "))
        .expect("created");
    assert!(kiln_core::format::is_rfc3339(created), "{created}");
    let year: i32 = created[..4].parse().unwrap();
    assert!(year >= 2025, "{created}");
    assert!(body.contains("-- kiln:upgrade\n") && body.contains("-- kiln:downgrade\n"));
    assert_eq!(
        std::fs::read(sb.migrations().join("kiln.lock")).ok(),
        lock_before
    );
    assert!(
        text(&out.stderr).contains("kiln lock"),
        "the next step is missing"
    );
}

#[test]
fn revision_options_rev_id_labels_depends_empty_and_lock() {
    let sb = Sandbox::new();
    sb.standard();
    sb.kiln().arg("lock").assert().success();
    let lock_before = sb.read("migrations/kiln.lock");
    // Ids are validated and never reused.
    for (bad, msg) in [
        ("ee55", "already a revision id"),
        ("no-dash", "not a valid revision id"),
    ] {
        let out = sb
            .kiln()
            .args(["revision", "-m", "x", "--rev-id", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(text(&out.stderr).contains(msg), "{}", text(&out.stderr));
    }
    let out = sb
        .kiln()
        .args([
            "revision",
            "-m",
            "seed",
            "--rev-id",
            "ff66",
            "--depends-on",
            "cd44",
            "--empty",
            "--lock",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let body = sb.read("migrations/ff66_seed.sql");
    assert!(body.starts_with("-- kiln:revision ff66\n-- kiln:revises ee55\n-- kiln:depends-on cd44\n-- kiln:message seed\n"), "{body}");
    assert!(
        body.ends_with("-- kiln:upgrade\n\n-- kiln:downgrade\n"),
        "--empty writes bare markers: {body}"
    );
    // Only the new revision was added to the lock.
    let lock = sb.read("migrations/kiln.lock");
    let added: Vec<&str> = lock.lines().filter(|l| !lock_before.contains(*l)).collect();
    assert_eq!(added.len(), 1, "{lock}");
    assert!(added[0].starts_with("ff66 sha256:") && added[0].ends_with(" ff66_seed.sql"));
    let expected = kiln_core::checksum::checksum(&body);
    assert!(added[0].contains(&expected));
}

#[test]
fn revision_never_relocks_an_edited_revision() {
    let sb = Sandbox::new();
    sb.standard();
    sb.kiln().arg("lock").assert().success();
    let lock_before = sb.read("migrations/kiln.lock");
    let p = "migrations/bb22_create_notes.sql";
    sb.write(p, &sb.read(p).replace("VARCHAR(100)", "VARCHAR(200)"));
    for args in [vec!["revision", "-m", "next", "--lock"], vec!["lock"]] {
        let out = sb.kiln().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(&core_diagnostics(&sb, "migrations")), "{err}");
        assert!(err.contains("kiln lock --accept bb22"), "{err}");
        assert_eq!(sb.read("migrations/kiln.lock"), lock_before, "{args:?}");
    }
}

#[test]
fn revision_head_splice_and_labelled_branches() {
    let sb = Sandbox::new();
    sb.standard();
    let out = sb
        .kiln()
        .args(["revision", "-m", "x", "--head", "bb22"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("revision `bb22` is not a head"));
    assert!(text(&out.stderr).contains("--splice"));

    // Splicing would leave two unlabelled heads: refused with the core's explanation.
    let out = sb
        .kiln()
        .args(["revision", "-m", "x", "--head", "bb22", "--splice"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("would make the migration directory invalid"),
        "{err}"
    );
    assert!(err.contains("the migration graph has 2 heads"), "{err}");
    assert_eq!(std::fs::read_dir(sb.migrations()).unwrap().count(), 5);

    // With labelled branches, a new revision needs --head, which takes LABEL@head.
    let sb = Sandbox::new();
    sb.labelled();
    let out = sb.kiln().args(["revision", "-m", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("there are 2 heads (") && err.contains("--head"),
        "{err}"
    );
    // A label that exists already is refused.
    let out = sb
        .kiln()
        .args([
            "revision",
            "-m",
            "z",
            "--head",
            "y@head",
            "--branch-label",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("branch label `x` is already used"));
    let out = sb
        .kiln()
        .args([
            "revision", "-m", "x three", "--head", "x@head", "--rev-id", "xb3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        sb.read("migrations/xb3_x_three.sql")
            .contains("-- kiln:revises xb2\n")
    );
}

/// A read-only migration directory. As root, permission bits do not stop writes, so the test runs
/// `kiln` as `nobody` (uid 65534) when it is root; otherwise the mode alone makes the write fail.
#[test]
fn revision_in_a_read_only_directory_fails_with_the_reason() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::new();
    sb.standard();
    std::fs::set_permissions(sb.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(sb.migrations(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut cmd = sb.kiln_std();
    cmd.args(["revision", "-m", "blocked"]);
    // Whether we are root, read from /proc so the test needs no libc dependency.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"));
    if root {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    std::fs::set_permissions(sb.migrations(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.starts_with("kiln: cannot write `migrations/"), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(
        err.contains("help: make the migration directory writable"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(sb.migrations()).unwrap().count(), 5);
}

/// The other way a directory cannot be written as root: its path goes through a regular file.
/// Reading it fails first, and that is reported as the core reports it (exit 3).
#[test]
fn revision_under_a_regular_file_reports_the_core_error() {
    let sb = Sandbox::new();
    sb.write("plain", "not a directory");
    let out = sb
        .kiln()
        .args(["--dir", "plain/migrations", "revision", "-m", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(
        err.contains(&core_diagnostics(&sb, "plain/migrations")),
        "{err}"
    );
    assert!(err.contains("cannot read `plain/migrations`"), "{err}");
}

#[test]
fn merge_joins_two_heads_of_an_invalid_directory() {
    let sb = Sandbox::new();
    sb.two_heads();
    // The directory does not validate: two unlabelled heads.
    let out = sb.kiln().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("kiln merge -m \"merge heads\" cc33 cd44"));

    let out = sb
        .kiln()
        .args(["merge", "-m", "join", "cc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("only one is named"));
    let out = sb
        .kiln()
        .args(["merge", "-m", "join", "aa11", "cc33"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`aa11` is not a head"));

    let out = sb
        .kiln()
        .args([
            "merge",
            "-m",
            "join them",
            "heads",
            "--rev-id",
            "mm77",
            "--lock",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("merges cc33, cd44"));
    let body = sb.read("migrations/mm77_join_them.sql");
    assert!(body.contains("-- kiln:revises cc33, cd44\n"), "{body}");
    assert!(sb.read("migrations/kiln.lock").contains("mm77 sha256:"));
    sb.kiln().arg("check").assert().success();
    let out = sb.kiln().arg("heads").output().unwrap();
    assert_eq!(text(&out.stdout), "mm77 (head) (mergepoint), join them\n");
}

#[test]
fn lock_records_drafts_and_accept_relocks_loudly() {
    let sb = Sandbox::new();
    sb.standard();
    let out = sb.kiln().args(["check", "--locked"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).contains("5 draft revisions not in kiln.lock"));

    let out = sb.kiln().arg("lock").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout).matches("locked ").count(), 5);
    let lock = sb.read("migrations/kiln.lock");
    let ids: Vec<&str> = lock
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(ids, ["aa11", "bb22", "cc33", "cd44", "ee55"]);
    sb.kiln().args(["check", "--locked"]).assert().success();
    let out = sb.kiln().arg("lock").output().unwrap();
    assert!(text(&out.stdout).contains("nothing to lock"));

    // An edit of a locked revision is an error until it is accepted, loudly.
    let p = "migrations/cd44_create_tags.sql";
    sb.write(
        p,
        &sb.read(p)
            .replace("PRIMARY KEY", "PRIMARY KEY, name VARCHAR(10)"),
    );
    let out = sb.kiln().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let out = sb.kiln().args(["lock", "--accept", "cx"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no locked revision matches `cx`"));
    let out = sb.kiln().args(["lock", "--accept", "c"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("ambiguous"));
    let out = sb
        .kiln()
        .args(["lock", "--accept", "cd44"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("WARNING: RE-LOCKING EDITED REVISION `cd44`"),
        "{err}"
    );
    assert!(
        err.contains("was sha256:") && err.contains("now sha256:"),
        "{err}"
    );
    sb.kiln().args(["check", "--locked"]).assert().success();

    // A deliberately deleted revision is dropped only when accepted.
    std::fs::remove_file(sb.migrations().join("ee55_merge_name_and_tags.sql")).unwrap();
    let out = sb.kiln().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("is locked but its file"));
    // The directory has two heads again, so accepting the deletion still leaves it invalid.
    let out = sb
        .kiln()
        .args(["lock", "--accept", "ee55"])
        .output()
        .unwrap();
    assert!(text(&out.stderr).contains("DROPPING DELETED REVISION `ee55`"));
    assert!(!sb.read("migrations/kiln.lock").contains("ee55"));
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn invalid_directories_print_the_macro_diagnostics_verbatim() {
    let sb = Sandbox::new();
    sb.standard();
    sb.write(
        "migrations/zz99_broken.sql",
        "-- kiln:revision zz99\n-- kiln:revises bb23\n-- kiln:mesage typo\n-- kiln:upgrade\nSELECT 1;\n",
    );
    sb.write("migrations/notes.txt", "hello");
    let expected = core_diagnostics(&sb, "migrations");
    assert!(
        expected.contains("notes.txt") && expected.contains("mesage"),
        "{expected}"
    );
    for args in [
        vec!["check"],
        vec!["history"],
        vec!["heads"],
        vec!["upgrade", "heads", "--sql", "--dialect", "sqlite"],
        vec!["upgrade", "heads", "--database-url", "sqlite::memory:"],
        vec!["lock"],
    ] {
        let out = sb.kiln().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = text(&out.stderr);
        let first = err.lines().next().unwrap_or("");
        assert!(
            first.starts_with("kiln: the migration directory `migrations` has 2 problems"),
            "{args:?}: {err}"
        );
        assert!(err.contains(&format!("\n{expected}\n")), "{args:?}: {err}");
    }
    // --json on check describes the problems too.
    let out = sb.kiln().args(["check", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problems"].as_array().unwrap().len(), 2);
    assert_eq!(v["exit_code"], 3);
}

#[test]
fn check_reads_dir_from_flag_env_and_default() {
    let sb = Sandbox::new();
    sb.standard();
    std::fs::create_dir(sb.path().join("other")).unwrap();
    sb.write("other/x1_bad.sql", "-- kiln:revision x1\n");
    // The default: migrations/.
    sb.kiln().arg("check").assert().success();
    // KILN_DIR beats the default...
    let out = sb
        .kiln()
        .env("KILN_DIR", "other")
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("other/x1_bad.sql"));
    // ...and --dir beats KILN_DIR.
    sb.kiln()
        .env("KILN_DIR", "other")
        .args(["--dir", "migrations", "check"])
        .assert()
        .success();
    // KILN_DIR in .env counts when the variable is not set.
    sb.write(".env", "KILN_DIR=other\n");
    assert_eq!(
        sb.kiln().arg("check").output().unwrap().status.code(),
        Some(3)
    );
}

#[test]
fn history_plain_graph_json_and_ranges() {
    let sb = Sandbox::new();
    sb.standard();
    let out = sb.kiln().arg("history").output().unwrap();
    assert_eq!(
        text(&out.stdout),
        "cc33, cd44 -> ee55 (head) (mergepoint) (draft), merge name and tags\n\
         bb22 -> cd44 (draft), create tags\n\
         bb22 -> cc33 (draft), add users name\n\
         aa11 -> bb22 (branchpoint) (draft), create notes\n\
         <base> -> aa11 (draft), create users\n"
    );
    sb.kiln().arg("lock").assert().success();
    let out = sb.kiln().args(["history", "--graph"]).output().unwrap();
    assert_eq!(
        text(&out.stdout),
        "* ee55 (head) (mergepoint) merge name and tags\n\
         |\\\n\
         | * cd44 create tags\n\
         * | cc33 add users name\n\
         |/\n\
         * bb22 (branchpoint) create notes\n\
         * aa11 create users\n"
    );
    let ids = |range: &str| -> Vec<String> {
        let out = sb
            .kiln()
            .args(["history", "--json", "-r", range])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{range}: {}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["revision"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(":"), ["ee55", "cd44", "cc33", "bb22", "aa11"]);
    assert_eq!(ids("-1:"), ["ee55", "cd44", "cc33"]);
    assert_eq!(ids("bb22:cc33"), ["cc33", "bb22"]);
    assert_eq!(ids("cd44:"), ["ee55", "cd44"]);
    // A prefix shorter than 4 characters is refused (issue 12 item 4), in ranges too.
    let out = sb.kiln().args(["history", "-r", "cd:"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(ids("base:bb22"), ["bb22", "aa11"]);
    assert_eq!(ids("aa11:+1"), ["bb22", "aa11"]);
    assert_eq!(ids("cc33"), ["cc33"]);
    // One step below a merge could be either parent: refused with the choices.
    let out = sb
        .kiln()
        .args(["history", "-r", "ee55-1:ee55"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cc33, cd44"),
        "{}",
        text(&out.stderr)
    );

    let out = sb
        .kiln()
        .args(["history", "-r", "current:"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs a database"));
    let out = sb.kiln().args(["history", "-r", "+1:"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a revision range"));

    let sb = Sandbox::new();
    sb.labelled();
    sb.kiln().arg("lock").assert().success();
    let out = sb
        .kiln()
        .args(["history", "-r", "base:x@head", "--no-graph"])
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        "xb1 -> xb2 (head), x two\naa11 -> xb1 (x), x one\n<base> -> aa11 (branchpoint), create users\n"
    );
    let out = sb.kiln().args(["history", "--graph"]).output().unwrap();
    assert_eq!(
        text(&out.stdout),
        "* yb1 (y) (head) y one\n| * xb2 (head) x two\n| * xb1 (x) x one\n|/\n* aa11 (branchpoint) create users\n"
    );
    let out = sb
        .kiln()
        .args(["history", "-v", "-r", "xb2"])
        .output()
        .unwrap();
    let v = text(&out.stdout);
    assert!(v.contains("Rev: xb2 (head)\nParent: xb1\n"), "{v}");
    assert!(v.contains("Path: migrations/xb2_x_two.sql\n"), "{v}");
}

#[test]
fn heads_branches_show_and_revision_lookup_errors() {
    let sb = Sandbox::new();
    sb.labelled();
    let out = sb.kiln().arg("heads").output().unwrap();
    assert_eq!(
        text(&out.stdout),
        "xb2 (head) (draft), x two\nyb1 (y) (head) (draft), y one\n"
    );
    let out = sb.kiln().args(["heads", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["revision"], "xb2");
    assert_eq!(v[0]["head"], true);

    let out = sb.kiln().arg("branches").output().unwrap();
    assert_eq!(
        text(&out.stdout),
        "aa11 (branchpoint) (draft), create users\n    -> xb1 (x) (draft), x one\n    -> yb1 (y) (head) (draft), y one\n\
         branch `x`: starts at xb1, head xb2\nbranch `y`: starts at yb1, head yb1\n"
    );
    let out = sb.kiln().args(["branches", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["labels"][0]["heads"][0], "xb2");

    let out = sb.kiln().args(["show", "x@head"]).output().unwrap();
    let s = text(&out.stdout);
    assert!(
        s.starts_with("Rev: xb2 (head) (draft)\nParent: xb1\n"),
        "{s}"
    );
    assert!(s.contains("-- kiln:upgrade (line 6)\nSELECT 1;\n"), "{s}");
    let out = sb.kiln().args(["show", "yb1", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["revision"], "yb1");
    assert_eq!(v["upgrade_sql"], "SELECT 1;\n\n");
    assert_eq!(v["branch_labels"][0], "y");

    // Unknown, with the closest id suggested.
    let out = sb.kiln().args(["show", "xb3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("kiln: no revision or branch label matches `xb3`; did you mean `xb"),
        "{err}"
    );
    assert!(
        err.contains("help: `kiln history` lists every revision"),
        "{err}"
    );
    // Ambiguous prefix, with the candidates.
    let out = sb.kiln().args(["show", "xb"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("`xb` is ambiguous: it is a prefix of xb1, xb2"),
        "{err}"
    );
    // Several heads for `head`.
    let out = sb.kiln().args(["show", "head"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("there are 2 heads"));
}

#[test]
fn graph_as_dot_and_mermaid() {
    let sb = Sandbox::new();
    sb.standard();
    sb.revision(&Rev::new("ff66", "ee55", "irreversible").sql("SELECT 2;", None));
    let out = sb.kiln().arg("graph").output().unwrap();
    let dot = text(&out.stdout);
    assert!(dot.starts_with("digraph kiln {\n"), "{dot}");
    assert!(
        dot.contains("\"cc33\" -> \"ee55\";") && dot.contains("\"cd44\" -> \"ee55\";"),
        "{dot}"
    );
    assert!(
        dot.contains(
            "\"ff66\" [label=\"ff66\\nirreversible\", penwidth=2, style=dashed, shape=hexagon];"
        ),
        "{dot}"
    );
    assert!(dot.trim_end().ends_with('}'));
    let out = sb
        .kiln()
        .args(["graph", "--format", "mermaid"])
        .output()
        .unwrap();
    let m = text(&out.stdout);
    assert!(m.starts_with("flowchart BT\n"), "{m}");
    assert!(
        m.contains("  bb22 --> cc33\n") && m.contains("  ff66{{\"ff66<br/>irreversible\"}}\n"),
        "{m}"
    );
    assert!(m.contains("class ff66 head"), "{m}");
    let out = sb
        .kiln()
        .args(["graph", "--format", "png"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn offline_sql_for_targets_and_ranges() {
    let sb = Sandbox::new();
    sb.standard();
    let out = sb
        .kiln()
        .args(["upgrade", "heads", "--sql", "--dialect", "sqlite"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sql = text(&out.stdout);
    assert!(sql.contains("CREATE TABLE users"), "{sql}");
    assert!(sql.contains("-- upgrade ee55"), "{sql}");
    // A range, with the dialect taken from the URL's scheme (nothing is connected to).
    let out = sb
        .kiln()
        .args(["upgrade", "bb22:heads", "--sql"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sql = text(&out.stdout);
    assert!(
        !sql.contains("CREATE TABLE users") && sql.contains("CREATE TABLE tags"),
        "{sql}"
    );
    assert!(
        sql.contains("\"kiln_version\""),
        "PostgreSQL quoting: {sql}"
    );
    let out = sb
        .kiln()
        .args(["downgrade", "heads:bb22", "--sql", "--dialect", "mysql"])
        .output()
        .unwrap();
    let sql = text(&out.stdout);
    assert!(
        sql.contains("DROP TABLE tags;") && !sql.contains("DROP TABLE notes;"),
        "{sql}"
    );
    assert!(sql.contains("`kiln_version`"), "MySQL quoting: {sql}");

    let out = sb
        .kiln()
        .args(["upgrade", "heads", "--sql"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--dialect"));
    let out = sb.kiln().args(["upgrade", "aa11:bb22"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("ranges only work with --sql"));
    let out = sb.kiln().args(["upgrade", "heads"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("upgrade needs a database"), "{err}");
    assert!(err.contains("--database-url"), "{err}");
}
