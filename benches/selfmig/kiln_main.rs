//! A minimal self-migrating binary with kiln (issue 6, scenario 4): embed, connect, run.
static MIGRATOR: kiln::Migrator = kiln::migrations!("migrations");

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args().nth(1).expect("usage: selfmig DATABASE_URL");
    let db = kiln::Db::connect(&url).await.expect("connect");
    MIGRATOR.run(&db).await.expect("migrate");
}
