//! Many runners starting at once against one database: kiln's own tables are created safely on
//! every engine, each revision is applied once, and no advisory lock outlives a run.

#[macro_use]
mod common;

use common::{chain, raw_rows};
use kiln_runtime::{Db, Dialect, Migrator, Options};
use kiln_testing::TestDb;
use std::collections::HashMap;
use std::sync::Arc;

const RUNNERS: usize = 32;

on_every_engine!(
    thirty_two_runners_on_a_fresh_database_apply_each_revision_once,
    thirty_two_unlocked_runners_create_the_tables_together,
);

/// Advisory locks held in the test's database right now (PostgreSQL; 0 elsewhere).
pub async fn advisory_locks(db: &Db) -> usize {
    if db.dialect() != Dialect::Postgres {
        return 0;
    }
    raw_rows(
        db,
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await
}

/// Starts `RUNNERS` runners at once, each with its own pool as separate replicas would have, and
/// returns each one's outcome.
async fn race(
    url: &str,
    m: Arc<Migrator>,
    target: &'static str,
) -> Vec<kiln_runtime::Result<kiln_runtime::Report>> {
    let mut tasks = Vec::new();
    for _ in 0..RUNNERS {
        let db = Db::connect(url).await.unwrap();
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            let r = m.upgrade(&db, target).await;
            db.close().await;
            r
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn thirty_two_runners_on_a_fresh_database_apply_each_revision_once(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(chain(dir.path(), 4));
    let results = race(t.url(), m.clone(), "heads").await;
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures: {failures:#?}",
        failures.len()
    );
    let applied: usize = results.iter().flatten().map(|r| r.steps.len()).sum();
    assert_eq!(applied, 4, "every revision applied exactly once");
    let mut per_rev: HashMap<String, usize> = HashMap::new();
    for a in m.audit(t.db()).await.unwrap() {
        *per_rev.entry(a.revision.unwrap_or_default()).or_default() += 1;
    }
    assert!(
        per_rev.len() == 4 && per_rev.values().all(|&n| n == 1),
        "{per_rev:?}"
    );
    assert_eq!(
        advisory_locks(t.db()).await,
        0,
        "no advisory lock left held"
    );
    t
}

/// With the lock off nothing serializes the creation of kiln's tables: every runner creates them
/// at the same moment (an upgrade to `base` has nothing else to do), and none may fail.
async fn thirty_two_unlocked_runners_create_the_tables_together(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(chain(dir.path(), 2).with_options(Options::default().lock(false)));
    let results = race(t.url(), m.clone(), "base").await;
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures: {failures:#?}",
        failures.len()
    );
    let st = m.current(t.db()).await.unwrap();
    assert!(st.applied.is_empty() && st.pending.len() == 2, "{st:?}");
    assert_eq!(advisory_locks(t.db()).await, 0);
    t
}
