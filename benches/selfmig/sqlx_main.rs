//! The same binary with sqlx's migrator (issue 6, scenario 4).
use std::str::FromStr;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args().nth(1).expect("usage: selfmig DATABASE_URL");
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .expect("url")
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.expect("connect");
    MIGRATOR.run(&pool).await.expect("migrate");
}
