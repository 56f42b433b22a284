//! The set `kiln::migrations!` embeds at compile time equals the set `kiln-core` loads from the
//! same directory at run time, field for field (`MigrationSet: PartialEq` compares every revision
//! with its SQL, lines, checksums, flags and draft status, plus heads, bases and the digest).

use kiln::core::{MigrationSet, load_dir, resolve_dir};

static SAMPLE: kiln::Migrator = kiln::migrations!();
static LABELLED: kiln::Migrator = kiln::migrations!("tests/fixtures/labelled_branches");
static CRLF_BOM: kiln::Migrator = kiln::migrations!("tests/fixtures/crlf_bom");
static DECLARED: kiln::Migrator =
    kiln::migrations!("tests/fixtures/marker_in_literal", dialect = "postgres");

fn load(given: Option<&str>) -> MigrationSet {
    let dir = resolve_dir(env!("CARGO_MANIFEST_DIR").as_ref(), given);
    load_dir(&dir).unwrap_or_else(|d| panic!("{d}")).set
}

#[test]
fn sample_migrations_embedded_equal_loaded() {
    let loaded = load(None);
    assert_eq!(SAMPLE.set(), &loaded);
    // The comparison is not vacuous: the sample set has a branch point, a merge and an
    // irreversible revision, all locked.
    assert_eq!(loaded.len(), 6);
    assert!(loaded.revisions().iter().any(|r| r.is_merge()));
    assert!(loaded.revisions().iter().any(|r| r.is_irreversible()));
    assert_eq!(loaded.heads().len(), 1);
    assert_eq!(loaded.drafts().count(), 0);
}

#[test]
fn labelled_branches_embedded_equal_loaded() {
    let loaded = load(Some("tests/fixtures/labelled_branches"));
    assert_eq!(LABELLED.set(), &loaded);
    assert_eq!(loaded.heads().len(), 3);
    assert_eq!(loaded.bases().len(), 2);
    assert!(loaded.drafts().count() > 0);
}

#[test]
fn crlf_bom_embedded_equal_loaded() {
    assert_eq!(CRLF_BOM.set(), &load(Some("tests/fixtures/crlf_bom")));
}

/// The dialect a set declares travels with it: the macro embeds the same reading the runtime
/// loads, and both found the sections the way PostgreSQL reads `E'it\\'s new'`.
#[test]
fn declared_dialect_embedded_equal_loaded() {
    let mut dir = resolve_dir(
        env!("CARGO_MANIFEST_DIR").as_ref(),
        Some("tests/fixtures/marker_in_literal"),
    );
    dir.dialect = Some(kiln::core::Dialect::Postgres);
    let loaded = kiln::Migrator::load(&dir).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(DECLARED.set(), loaded.set());
    let syntax = DECLARED.set().syntax().unwrap();
    assert_eq!(syntax.dialect, kiln::core::Dialect::Postgres);
    assert!(syntax.standard_conforming_strings);
    let rev = &DECLARED.set().revisions()[0];
    assert!(rev.down_sql().unwrap().contains("DROP TABLE users"));
    assert!(!rev.up_sql().contains("DROP TABLE"));
    // Undeclared sets carry no reading.
    assert_eq!(SAMPLE.set().syntax(), None);
}

#[test]
fn runtime_loader_agrees() {
    let dir = resolve_dir(env!("CARGO_MANIFEST_DIR").as_ref(), None);
    let migrator = kiln::Migrator::load(&dir).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(migrator.set(), SAMPLE.set());
}

#[test]
fn embedded_order_is_topological() {
    let set = SAMPLE.set();
    for (i, r) in set.revisions().iter().enumerate() {
        for p in r.parents().iter().chain(r.depends_on()) {
            assert!(
                set.index_of(p).unwrap() < i,
                "{} before its parent {p}",
                r.id()
            );
        }
    }
}
