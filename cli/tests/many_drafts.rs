//! `kiln check` on a directory with thousands of drafts: text output names a handful and counts
//! the rest (issue 9: 10,000 draft ids once made one 90 KB line); `--json` keeps every id.

mod common;

use common::{Rev, Sandbox, text};

const DRAFTS: usize = 10_000;

/// A locked base `aa11` followed by a chain of `DRAFTS` drafts `d00001 <- d00002 <- ...`.
fn many_drafts() -> Sandbox {
    let sb = Sandbox::new();
    sb.revision(&Rev::new("aa11", "", "base").sql("SELECT 1;", Some("SELECT 1;")));
    sb.kiln().arg("lock").assert().success();
    let mut parent = "aa11".to_owned();
    for i in 1..=DRAFTS {
        let id = format!("d{i:05}");
        sb.write(
            &format!("migrations/{id}_draft.sql"),
            &format!(
                "-- kiln:revision {id}\n-- kiln:revises {parent}\n-- kiln:message draft\n\n\
                 -- kiln:upgrade\nSELECT 1;\n\n-- kiln:downgrade\nSELECT 1;\n"
            ),
        );
        parent = id;
    }
    sb
}

fn longest_line(s: &str) -> usize {
    s.lines().map(str::len).max().unwrap_or(0)
}

#[test]
fn text_output_lists_a_handful_of_drafts_and_counts_the_rest() {
    let sb = many_drafts();

    let out = sb.kiln().arg("check").output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("lock: "))
        .unwrap_or_else(|| panic!("no lock line in:\n{stdout}"));
    assert!(
        line.contains("10000 drafts not yet locked (d00001, d00002,"),
        "{line}"
    );
    assert!(line.contains("d00010 and 9990 more)"), "{line}");
    assert!(!line.contains("d00011"), "{line}");
    assert!(
        longest_line(&stdout) < 200,
        "a line of {} bytes",
        longest_line(&stdout)
    );

    // `--locked` refuses them, with the same short list in the finding.
    let out = sb.kiln().args(["check", "--locked"]).output().unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(5), "{all}");
    assert!(
        all.contains("10000 draft revisions not in kiln.lock"),
        "{all}"
    );
    assert!(all.contains("d00010 and 9990 more"), "{all}");
    assert!(
        longest_line(&all) < 200,
        "a line of {} bytes",
        longest_line(&all)
    );
}

#[test]
fn json_output_keeps_every_draft() {
    let sb = many_drafts();
    let out = sb.kiln().args(["check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let drafts = v["drafts"].as_array().expect("drafts array");
    assert_eq!(drafts.len(), DRAFTS);
    assert_eq!(drafts[0], "d00001");
    assert_eq!(drafts[DRAFTS - 1], format!("d{DRAFTS:05}"));
}
