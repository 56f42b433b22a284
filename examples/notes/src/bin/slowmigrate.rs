//! Test fixture for `tests/faults.rs`, not part of the example: it starts the way `notes` does
//! (`Migrator::run` on `DATABASE_URL`), but embeds a set whose revision `fault2` runs for a long
//! time, so a test can SIGKILL it in the middle of a revision. There is no SQL that sleeps on every
//! engine, so it embeds one copy of the set per engine and picks the one for the URL's engine.
//!
//! `slowmigrate [TARGET]`: without a target, the start-up upgrade to head; with one, an upgrade to
//! that revision only (to prepare a database up to the slow revision).

use kiln::{Db, Dialect, Migrator};
use std::io::IsTerminal;
use std::process::ExitCode;

static POSTGRES: Migrator = kiln::migrations!("tests/fixtures/slow/postgres");
static MYSQL: Migrator = kiln::migrations!("tests/fixtures/slow/mysql");
static SQLITE: Migrator = kiln::migrations!("tests/fixtures/slow/sqlite");

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(tracing::Level::INFO)
        .init();
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("slowmigrate: set DATABASE_URL");
        return ExitCode::from(2);
    };
    let target = std::env::args().nth(1);
    match migrate(&url, target.as_deref()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slowmigrate: cannot bring the database to head: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(url: &str, target: Option<&str>) -> kiln::Result<()> {
    let db = Db::connect(url).await?;
    let migrator = match db.dialect() {
        Dialect::Postgres => &POSTGRES,
        Dialect::MySql => &MYSQL,
        _ => &SQLITE,
    };
    let outcome = match target {
        None => migrator.run(&db).await,
        Some(target) => migrator.upgrade(&db, target).await,
    };
    db.close().await;
    outcome.map(drop)
}
