//! The `notes` binary under load, on real PostgreSQL, MariaDB and SQLite: 32 processes released at
//! the same moment against one fresh database each apply every revision exactly once; and the
//! check-only mode refuses a database that is not at head. Each test creates and drops its own
//! database through `kiln::testing::TestDb`.

#[macro_use]
mod common;

use common::{Barrier, describe, output_within, scalar, sql_pool};
use kiln::Dialect;
use kiln::testing::TestDb;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The set the binary embeds, embedded the same way here to compare against.
static MIGRATOR: kiln::Migrator = kiln::migrations!("../../migrations");

const NOTES: &str = env!("CARGO_BIN_EXE_notes");
const PROCESSES: usize = 32;

on_every_engine!(
    thirty_two_processes_started_at_once_apply_each_revision_once,
    check_only_refuses_a_database_behind_head,
);

async fn thirty_two_processes_started_at_once_apply_each_revision_once(dialect: Dialect) {
    let Some(db) = TestDb::new(dialect).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let barrier = Barrier::new(dir.path());
    let started = Instant::now();
    let runs: Vec<_> = (0..PROCESSES)
        .map(|i| {
            let mut cmd = barrier.command(NOTES);
            cmd.args(["add", &format!("note from process {i}")])
                .env("DATABASE_URL", db.url())
                .env("NOTES_USER", format!("user{}@example.com", i % 4))
                .env_remove("NOTES_CHECK_ONLY");
            tokio::spawn(output_within(cmd, Duration::from_secs(60)))
        })
        .collect();
    barrier.release_when_waiting(PROCESSES).await;
    let mut outputs = Vec::new();
    for run in runs {
        outputs.push(run.await.expect("join"));
    }
    eprintln!(
        "{dialect:?}: {PROCESSES} processes finished in {:?}",
        started.elapsed()
    );

    // Every process started, migrated or found the database migrated, and did its work.
    for out in &outputs {
        assert!(out.status.success(), "a process failed: {}", describe(out));
    }
    let migrators: Vec<_> = outputs
        .iter()
        .filter(|o| String::from_utf8_lossy(&o.stderr).contains("applied 6 revision(s)"))
        .collect();
    assert_eq!(
        migrators.len(),
        1,
        "exactly one process applies the revisions; the others find them applied"
    );

    // Every revision is applied exactly once.
    let status = MIGRATOR.current(db.db()).await.expect("status");
    assert!(status.is_at_head(), "{status:?}");
    let applied: Vec<&str> = status.applied.iter().map(|r| r.revision.as_str()).collect();
    let expected: Vec<&str> = MIGRATOR.set().revisions().iter().map(|r| r.id()).collect();
    assert_eq!(applied.len(), expected.len(), "{applied:?}");
    assert_eq!(
        applied.iter().copied().collect::<HashSet<_>>(),
        expected.iter().copied().collect::<HashSet<_>>()
    );
    assert!(status.applied.iter().all(|r| r.state == "applied"));

    // The audit trail shows one successful application of each, all by one run, and no failure.
    let audit = MIGRATOR.audit(db.db()).await.expect("audit");
    let upgrades: Vec<_> = audit.iter().filter(|a| a.action == "upgrade").collect();
    assert_eq!(upgrades.len(), expected.len(), "{audit:#?}");
    for id in &expected {
        let rows: Vec<_> = upgrades
            .iter()
            .filter(|a| a.revision.as_deref() == Some(id))
            .collect();
        assert_eq!(rows.len(), 1, "audit rows for {id}: {rows:#?}");
        assert_eq!(rows[0].outcome, "ok");
    }
    assert!(audit.iter().all(|a| a.outcome == "ok"), "{audit:#?}");
    let runs: HashSet<_> = upgrades.iter().map(|a| a.run_id.as_str()).collect();
    assert_eq!(runs.len(), 1, "one run applied everything: {runs:?}");

    // And the service itself worked in every process.
    let pool = sql_pool(&db).await;
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM notes").await,
        PROCESSES as i64
    );
    assert_eq!(
        scalar(&pool, "SELECT COUNT(DISTINCT body) FROM notes").await,
        PROCESSES as i64
    );
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM users").await, 4);
    pool.close().await;
    db.drop_database().await.expect("drop the test database");
}

async fn check_only_refuses_a_database_behind_head(dialect: Dialect) {
    let Some(db) = TestDb::new(dialect).await else {
        return;
    };
    let notes = |args: &[&str], check_only_env: bool| {
        let mut cmd = tokio::process::Command::new(NOTES);
        cmd.args(args).env("DATABASE_URL", db.url());
        if check_only_env {
            cmd.env("NOTES_CHECK_ONLY", "1");
        } else {
            cmd.env_remove("NOTES_CHECK_ONLY");
        }
        output_within(cmd, Duration::from_secs(30))
    };

    // A fresh database: check-only refuses to start and names what is missing.
    for (args, env) in [
        (&["--check-only", "list"][..], false),
        (&["list"][..], true),
    ] {
        let out = notes(args, env).await;
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("refusing to start")
                && stderr.contains("not at head")
                && stderr.contains("6 pending")
                && stderr.contains("kiln upgrade heads"),
            "{}",
            describe(&out)
        );
    }
    let status = MIGRATOR.current(db.db()).await.expect("status");
    assert!(status.applied.is_empty(), "check-only changed nothing");

    // A separate step migrates; then check-only starts.
    let out = notes(&["--migrate-only"], false).await;
    assert!(out.status.success(), "{}", describe(&out));
    let out = notes(&["add", "checked"], true).await;
    assert!(out.status.success(), "{}", describe(&out));
    let out = notes(&["--check-only", "list"], false).await;
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("checked"));

    // One revision behind (as after an older migration step): refused again.
    MIGRATOR
        .stamp(db.db(), &["e5f6a1b2c3d4"], false)
        .await
        .expect("stamp one revision back");
    let out = notes(&["--check-only", "list"], false).await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("f6a1b2c3d4e5"));

    db.drop_database().await.expect("drop the test database");
}
