//! Stand-in for the `kiln` command in scenario 5 while the real CLI (cli/) is being written: a
//! process that does what `kiln current` and `kiln upgrade head` do through the runtime: load the
//! migration directory, connect, read the state or run the upgrade, print, exit.
//!
//! Usage: kiln-bench-cli DATABASE_URL MIGRATION_DIR (current | upgrade TARGET)

use kiln_runtime::{Db, Migrator};
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, dir, verb, rest @ ..] = args.as_slice() else {
        eprintln!("usage: kiln-bench-cli DATABASE_URL MIGRATION_DIR (current | upgrade TARGET)");
        return ExitCode::from(2);
    };
    let d = kiln_core::MigrationDir::new(dir.as_str(), dir.clone());
    let m = match Migrator::load(&d) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let db = match Db::connect(url).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("kiln: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r = match (verb.as_str(), rest) {
        ("current", []) => m.current(&db).await.map(|st| {
            for h in &st.current {
                println!("{h}");
            }
        }),
        ("upgrade", [target]) => m.upgrade(&db, target).await.map(|r| {
            for s in &r.steps {
                println!("upgrade {}", s.revision);
            }
        }),
        _ => {
            eprintln!(
                "usage: kiln-bench-cli DATABASE_URL MIGRATION_DIR (current | upgrade TARGET)"
            );
            return ExitCode::from(2);
        }
    };
    db.close().await;
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiln: {e}");
            ExitCode::FAILURE
        }
    }
}
