//! Issue 12 with the real binary on SQLite: inspecting a graph with several heads (item 1), a
//! second `kiln revision` after a still-empty one (5), a labelled branch next to an unlabelled
//! history (6), help that matches behaviour (12), and the verbs and flags Alembic users type (13).

mod common;

use common::{Sandbox, ok, run, text};

/// Item 1: the read commands work on a graph with two unlabelled heads and warn about it; the
/// commands that need one head, and the build's gate, still refuse.
#[test]
fn read_commands_work_with_two_heads_and_warn() {
    let sb = Sandbox::new();
    sb.two_heads();
    let url = sb.sqlite_url("app.db");
    for args in [
        &["heads"][..],
        &["history"],
        &["branches"],
        &["show", "cc33"],
        &["graph"],
        &["current"],
    ] {
        let (code, stdout, stderr) = run(&sb, &url, args);
        assert_eq!(code, 0, "kiln {args:?}:\n{stdout}\n{stderr}");
        assert!(
            stderr.contains("warning:") && stderr.contains("the migration graph has 2 heads"),
            "kiln {args:?} must warn about the heads:\n{stderr}"
        );
    }
    let heads = ok(&sb, &url, &["heads"]);
    assert!(
        heads.contains("cc33 (head)") && heads.contains("cd44 (head)"),
        "{heads}"
    );
    // No stand-in label leaks into the output.
    let history = ok(&sb, &url, &["history", "--json"]);
    assert!(!history.contains("stand-in"), "{history}");
    // `head` is ambiguous here; a run still refuses the invalid directory; merge still works.
    let (code, _, stderr) = run(&sb, &url, &["show", "head"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = run(&sb, &url, &["upgrade", "heads"]);
    assert_eq!(code, 3);
    let (code, _, _) = run(&sb, &url, &["check"]);
    assert_eq!(code, 3);
    ok(&sb, &url, &["merge", "-m", "join", "heads"]);
    let (code, _, stderr) = run(&sb, &url, &["heads"]);
    assert_eq!(code, 0);
    assert!(!stderr.contains("warning"), "{stderr}");
}

/// Item 5: a second `kiln revision` after a first one still empty works (with a warning); the
/// build's gate and runs still refuse the empty draft.
#[test]
fn revision_twice_in_a_row() {
    let sb = Sandbox::new();
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["revision", "-m", "one", "--rev-id", "r1"]);
    let (code, stdout, stderr) = run(&sb, &url, &["revision", "-m", "two", "--rev-id", "r2"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("(r2, on r1)"), "{stdout}");
    assert!(
        stderr.contains("warning:") && stderr.contains("contains no SQL"),
        "{stderr}"
    );
    for args in [&["heads"][..], &["history"], &["show", "r1"]] {
        let (code, _, stderr) = run(&sb, &url, args);
        assert_eq!(code, 0, "kiln {args:?}: {stderr}");
    }
    let (code, _, stderr) = run(&sb, &url, &["check", "--offline"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("contains no SQL"), "{stderr}");
    let (code, _, _) = run(&sb, &url, &["upgrade", "heads"]);
    assert_eq!(code, 3);
    let (code, _, _) = run(&sb, &url, &["lock"]);
    assert_eq!(code, 3);
}

/// Item 6: Alembic's `revision --head=base --branch-label=billing` beside an unlabelled, locked
/// history works and touches no existing file; both lines are then applied and addressable. A
/// second unlabelled head is still refused.
#[test]
fn labelled_base_beside_an_unlabelled_history() {
    let sb = Sandbox::new();
    sb.standard();
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["lock"]);
    let lock_before = sb.read("migrations/kiln.lock");
    let (code, stdout, stderr) = run(
        &sb,
        &url,
        &[
            "revision",
            "-m",
            "billing",
            "--head",
            "base",
            "--branch-label",
            "billing",
            "--rev-id",
            "bill1",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(sb.read("migrations/kiln.lock"), lock_before);
    let file = std::fs::read_dir(sb.migrations())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("bill1")
        })
        .expect("the new revision's file");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("-- kiln:branch billing"), "{written}");
    let filled = written.replacen(
        "-- kiln:upgrade\n",
        "-- kiln:upgrade\nCREATE TABLE invoices (id INTEGER PRIMARY KEY);\n",
        1,
    );
    std::fs::write(&file, filled).unwrap();
    ok(&sb, &url, &["check", "--offline"]);
    ok(&sb, &url, &["upgrade", "heads"]);
    let heads = ok(&sb, &url, &["heads"]);
    assert!(heads.contains("bill1 (billing) (head)"), "{heads}");
    assert!(heads.contains("ee55"), "{heads}");
    ok(&sb, &url, &["upgrade", "billing@head"]);
    // A splice without a label would leave a second unlabelled head: still refused.
    let (code, _, stderr) = run(
        &sb,
        &url,
        &["revision", "-m", "fork", "--head", "bb22", "--splice"],
    );
    assert_eq!(code, 2, "{stderr}");
}

/// Item 12: `--dir` help names the working directory, as the CLI resolves it.
#[test]
fn dir_help_matches_behaviour() {
    let sb = Sandbox::new();
    let out = sb.kiln().args(["upgrade", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    assert!(!help.contains("Cargo.toml"), "{help}");
    assert!(help.contains("relative to the working directory"), "{help}");
}

/// Item 13: `kiln edit REV` runs `$EDITOR` (here a script that appends a line) on the revision's
/// file, including a draft that has no SQL yet; VISUAL wins over EDITOR.
#[cfg(unix)]
#[test]
fn edit_opens_the_revision_in_the_editor() {
    use std::os::unix::fs::PermissionsExt as _;
    let sb = Sandbox::new();
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["revision", "-m", "first", "--rev-id", "r1"]);
    let script = sb.path().join("append.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf 'SELECT 1; -- %s\\n' \"$MARK\" >> \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = sb
        .kiln()
        .env_remove("VISUAL")
        .env("EDITOR", &script)
        .env("MARK", "by-editor")
        .args(["edit", "r1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = sb.read("migrations/r1_first.sql");
    assert!(file.ends_with("SELECT 1; -- by-editor\n"), "{file}");

    // VISUAL wins; a failing editor is an error that names it.
    let out = sb
        .kiln()
        .env("VISUAL", "false")
        .env("EDITOR", &script)
        .args(["edit", "r1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the editor `false` exited"),
        "{}",
        text(&out.stderr)
    );
    // No editor configured: a usage error saying what to set.
    let out = sb
        .kiln()
        .env_remove("VISUAL")
        .env_remove("EDITOR")
        .args(["edit", "r1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("set EDITOR"),
        "{}",
        text(&out.stderr)
    );
}

/// Item 13: verbs and flags Alembic has get a sentence naming kiln's equivalent (exit 2), not a
/// bare clap error; other typos keep clap's message.
#[test]
fn alembic_verbs_and_flags_name_the_equivalent() {
    let sb = Sandbox::new();
    let cases: &[(&[&str], &str)] = &[
        (&["ensure_version"], "creates its version and audit tables"),
        (&["list_templates"], "one revision template"),
        (&["init", "--template", "generic"], "one directory layout"),
        (&["upgrade", "head", "-x", "tenant=a"], "no -x arguments"),
        (&["-c", "alembic.ini", "current"], "no alembic.ini"),
        (&["current", "--config=alembic.ini"], "no alembic.ini"),
    ];
    for (args, expected) in cases {
        let out = sb.kiln().args(*args).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("is Alembic's") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("Usage:"), "{args:?}: {stderr}");
    }
    let out = sb.kiln().arg("upgrad").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("upgrade"),
        "{}",
        text(&out.stderr)
    );
}
