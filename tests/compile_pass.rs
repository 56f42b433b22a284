//! Directories that must compile, embedded by `kiln::migrations!` and checked for what they hold:
//! tolerated extra files, CRLF line endings and byte-order marks, and labelled branches whose
//! extra heads and bases are allowed, and a draft that breaks a lint rule no kiln.toml denies.

use kiln::core::Revision;

static TOLERATED: kiln::Migrator = kiln::migrations!("tests/fixtures/tolerated_files");
static CRLF_BOM: kiln::Migrator = kiln::migrations!("tests/fixtures/crlf_bom");
static LABELLED: kiln::Migrator = kiln::migrations!("tests/fixtures/labelled_branches");
// The draft the compile-fail case `lint_denied` rejects: here no kiln.toml denies the rule (the
// tests build with the macro's `lint` feature on).
static NOT_DENIED: kiln::Migrator =
    kiln::migrations!("tests/fixtures/lint_denied", dialect = "postgres");

fn ids(revisions: &[Revision]) -> Vec<&str> {
    revisions.iter().map(Revision::id).collect()
}

#[test]
fn readme_dotfiles_and_the_lock_file_are_tolerated() {
    // The directory also holds README.md, readme.txt, .editorconfig, .gitkeep and kiln.lock.
    let set = TOLERATED.set();
    assert_eq!(ids(set.revisions()), ["0001", "0002"]);
    assert!(
        set.revisions()
            .iter()
            .all(|r| r.file().ends_with(".sql") && !r.file().contains("README"))
    );
    // kiln.lock locks 0001 only, so 0002 is a draft.
    assert!(!set.get("0001").unwrap().is_draft());
    assert!(set.get("0002").unwrap().is_draft());
    assert_eq!(set.drafts().map(Revision::id).collect::<Vec<_>>(), ["0002"]);
}

#[test]
fn crlf_and_bom_files_compile_and_are_normalized() {
    // 0001 has a BOM and CRLF, 0002 CRLF only, 0003 a BOM only; kiln.lock (itself BOM + CRLF)
    // holds the checksums of the LF, BOM-less text, and the set compiles, so the checksums match.
    let set = CRLF_BOM.set();
    assert_eq!(ids(set.revisions()), ["0001", "0002", "0003"]);
    assert!(set.drafts().next().is_none(), "every revision is locked");
    for r in set.revisions() {
        assert!(!r.up_sql().contains('\r'), "{}: CR left in up SQL", r.id());
        assert!(!r.down_sql().unwrap_or("").contains('\r'), "{}", r.id());
        assert!(!r.up_sql().starts_with('\u{feff}'));
    }
    let init = set.get("0001").unwrap();
    assert_eq!(init.message(), Some("create users"));
    assert_eq!(init.created(), Some("2026-11-01T09:00:00Z"));
    assert!(init.up_sql().starts_with("CREATE TABLE users (\n"));
    assert_eq!(init.down_sql(), Some("DROP TABLE users;\n"));
    assert_eq!(
        init.up_line(),
        6,
        "line numbers count CRLF lines like LF lines"
    );
    assert_eq!(set.get("0002").unwrap().parents(), ["0001"]);
}

#[test]
fn every_extra_head_and_base_on_its_own_labelled_branch_compiles() {
    let set = LABELLED.set();
    // Bases a0 (label core) and b0 (label audit); heads a2 (search), a3 (billing), b1 (audit).
    assert_eq!(set.heads(), ["a2", "a3", "b1"]);
    assert_eq!(set.bases(), ["b0", "a0"]);
    // `depends-on search` is resolved to the revision that declares the label.
    let b1 = set.get("b1").unwrap();
    assert_eq!(b1.depends_on(), ["a2"]);
    assert!(set.index_of("a2").unwrap() < set.index_of("b1").unwrap());
    assert_eq!(set.get("a2").unwrap().branch_labels(), ["search"]);
    assert!(!set.get("a2").unwrap().is_transactional());
    assert!(set.get("a3").unwrap().is_irreversible());
    assert_eq!(b1.down_sql(), Some(""), "empty downgrade: nothing to undo");
    assert!(!b1.is_irreversible());
    assert_eq!(
        set.drafts().map(Revision::id).collect::<Vec<_>>(),
        ["a2", "a3", "b1"]
    );
}

#[test]
fn a_lint_finding_no_kiln_toml_denies_does_not_stop_the_build() {
    let set = NOT_DENIED.set();
    assert_eq!(set.drafts().map(Revision::id).collect::<Vec<_>>(), ["0003"]);
    assert!(
        set.get("0003")
            .unwrap()
            .up_sql()
            .contains("CREATE INDEX users_email")
    );
}
