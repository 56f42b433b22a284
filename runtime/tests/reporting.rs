//! What a run reports and records, against real PostgreSQL, MariaDB and SQLite (issue 10 item 6,
//! issue 12 items 8-10): recorded durations that are never `0 ms` for work that ran, a failed run
//! that carries the steps it completed, errors whose `Debug` reads like their `Display` with the
//! help line, and server errors without PostgreSQL's C source line posing as a SQL position.

#[macro_use]
mod common;

use common::{rev, write_set};
use kiln_runtime::{Direction, Error, Migrator};
use kiln_testing::TestDb;

// One `#[tokio::test]` per engine for each scenario; a scenario returns the database to drop.
engines!(
    recorded_durations_are_never_zero: [sqlite, postgres, mysql],
    failed_run_carries_its_completed_steps: [sqlite, postgres, mysql],
);

/// Two quick revisions and an empty merge-like revision: the recorded durations used to be
/// truncated to whole milliseconds, so SQLite's sub-millisecond revisions were recorded as `0 ms`.
async fn recorded_durations_are_never_zero(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[
            rev(
                "r000",
                "",
                "CREATE TABLE d0 (id INTEGER);",
                Some("DROP TABLE d0;"),
            ),
            rev("r001", "r000", "SELECT 1;", Some("SELECT 1;")),
        ],
    );
    let report = m.upgrade(t.db(), "heads").await.unwrap();
    assert_eq!(report.steps.len(), 2);
    let status = m.current(t.db()).await.unwrap();
    for row in &status.applied {
        assert!(row.duration_ms >= 1, "{row:?}");
    }
    let audit = m.audit(t.db()).await.unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");
    for (row, step) in audit.iter().zip(&report.steps) {
        assert!(row.duration_ms >= 1, "{row:?}");
        // The step the caller sees includes the revision's COMMIT, which the row (written inside
        // that transaction) cannot: it is never shorter than what was recorded.
        let shown_us = step.duration.as_micros() as u64;
        assert!(
            shown_us.div_ceil(1000) as i64 >= row.duration_ms,
            "{step:?} vs {row:?}"
        );
    }
    t
}

async fn failed_run_carries_its_completed_steps(t: TestDb) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let m: Migrator = write_set(
        dir.path(),
        &[
            rev(
                "r000",
                "",
                "CREATE TABLE c0 (id INTEGER);",
                Some("DROP TABLE c0;"),
            ),
            rev(
                "r001",
                "r000",
                "CREATE TABLE c1 (id INTEGER);",
                Some("DROP TABLE c1;"),
            ),
            rev(
                "r002",
                "r001",
                "SELECT 1;\nINSERT INTO missing_t VALUES (1);",
                Some("SELECT 1;"),
            ),
        ],
    );
    let err = m.upgrade(t.db(), "heads").await.unwrap_err();
    assert!(matches!(err, Error::Statement { .. }), "{err}");
    let done: Vec<(&str, Direction)> = err
        .completed_steps()
        .iter()
        .map(|s| (s.revision.as_str(), s.direction))
        .collect();
    assert_eq!(
        done,
        [("r000", Direction::Upgrade), ("r001", Direction::Upgrade)]
    );
    // What a service's `main` prints: the message, then what completed, never a field dump.
    let debug = format!("{err:?}");
    assert!(debug.starts_with(&err.to_string()), "{debug}");
    assert!(
        debug.contains("completed before the failure:\n  upgrade r000: r000 message ("),
        "{debug}"
    );
    assert!(!debug.contains("Statement {"), "{debug}");
    // A run with nothing completed before the failure carries nothing.
    let err = m.upgrade(t.db(), "heads").await.unwrap_err();
    assert!(err.completed_steps().is_empty(), "{err:?}");
    t
}

/// PostgreSQL reports the line of its own C source that raised an error; sqlx's text shows it as
/// `... at line 948`, which reads as a line of SQL. kiln's message leaves it out.
#[tokio::test]
async fn postgres_source_line_is_not_shown_as_a_position() {
    let Ok(url) = std::env::var("KILN_TEST_POSTGRES_URL") else {
        return;
    };
    let url = kiln_runtime::url::with_database(&url, "kiln_surely_missing_db");
    let err = kiln_runtime::Db::connect(&url).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("does not exist"), "{text}");
    assert!(text.contains("(code 3D000)"), "{text}");
    assert!(!text.contains(" at line "), "{text}");
    let debug = format!("{err:?}");
    assert!(!debug.contains(" at line "), "{debug}");
    assert!(
        debug.contains("help: check that the server is running"),
        "{debug}"
    );
}
