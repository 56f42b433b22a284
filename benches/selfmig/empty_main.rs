//! Baseline for the compile-time scenario: the kiln crate with no migrations embedded.
static MIGRATOR: kiln::Migrator = kiln::Migrator::EMPTY;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args().nth(1).expect("usage: selfmig DATABASE_URL");
    let db = kiln::Db::connect(&url).await.expect("connect");
    MIGRATOR.run(&db).await.expect("migrate");
}
