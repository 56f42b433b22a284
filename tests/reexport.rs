//! `kiln::sqlx` is the sqlx kiln is built on (issue 12 item 11): a service that takes its pool
//! types from it can hand them to kiln without a sqlx dependency of its own.

static MIGRATOR: kiln::Migrator = kiln::migrations!("migrations");

#[tokio::test]
async fn a_pool_from_kiln_sqlx_runs_the_migrations() {
    // One connection, so the in-memory database kiln migrates is the one read back below.
    let pool = kiln::sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("an in-memory SQLite pool");
    let db = kiln::Db::from(&pool);
    let report = MIGRATOR.run(&db).await.expect("the sample set applies");
    assert!(!report.steps.is_empty(), "{report}");
    let tables: i64 = kiln::sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'kiln_version'",
    )
    .fetch_one(&pool)
    .await
    .expect("the version table is readable through the same pool");
    assert_eq!(tables, 1);
}
