//! The README's `schema_tests!` example, through the facade: `kiln::schema_tests!` expands to
//! paths inside kiln-testing (`$crate`), so a crate that depends on `kiln` alone (feature
//! `testing`) gets one passing `#[test]` per check, and `kiln::testing::*` names the same items.
//! SQLite only: the checks themselves run on every engine in kiln-testing's own tests.

static MIGRATOR: kiln::Migrator = kiln::migrations!();

kiln::schema_tests!(
    MIGRATOR,
    engines = [sqlite],
    checks = [
        single_head,
        no_drafts,
        upgrade_from_base,
        stairway,
        downgrade_leaves_no_trace,
        matches_schema_file("testing/tests/schema"),
    ],
);

#[tokio::test]
async fn the_testing_module_keeps_its_paths() {
    let t = kiln::testing::TestDb::sqlite().await.unwrap();
    MIGRATOR.run(t.db()).await.unwrap();
    let schema = kiln::testing::Schema::capture_with(t.db(), MIGRATOR.options())
        .await
        .unwrap();
    assert!(schema.table("notes").is_some(), "{schema}");
    let report = kiln::testing::single_head(&MIGRATOR).await.unwrap();
    assert_eq!(report.check, "single_head");
    t.drop_database().await.unwrap();
}
