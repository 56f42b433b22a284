//! SQLite's raw execution path on scripts that stress it: a large revision of many statements
//! (issue 9 item 4: it was quadratic in the script's size) and a NUL byte inside the SQL, which
//! must be refused rather than silently end the script.

mod common;

use common::{raw_rows, rev, write_set};
use kiln_runtime::{Error, Options, TransactionMode};
use kiln_testing::TestDb;

/// About 2 MB of INSERTs with comments, blank lines and empty statements between them, in one
/// revision: every statement runs, in order, and nothing after the last one is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_revision_runs_every_statement() {
    for mode in [TransactionMode::PerRevision, TransactionMode::All] {
        let t = TestDb::sqlite().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut up =
            String::from("CREATE TABLE big (id INTEGER PRIMARY KEY, note TEXT NOT NULL);\n");
        let n = 30_000;
        for i in 0..n {
            up += &format!(
                "INSERT INTO big (id, note) VALUES ({i}, 'row {i}; with a semicolon and -- not a comment');\n"
            );
            if i % 1000 == 0 {
                up += "-- a comment between statements\n;\n/* a block comment; */\n\n";
            }
        }
        up += "CREATE TABLE after_the_inserts (x INTEGER);\n-- trailing comment";
        assert!(up.len() > 2_000_000);
        let m = write_set(dir.path(), &[rev("big1", "", &up, Some("DROP TABLE big;"))])
            .with_options(Options::default().transaction_mode(mode));
        let report = m.run(t.db()).await.unwrap();
        assert_eq!(report.steps.len(), 1);
        assert_eq!(raw_rows(t.db(), "SELECT id FROM big").await, n);
        assert_eq!(
            raw_rows(
                t.db(),
                "SELECT id FROM big WHERE note = 'row ' || id || '; with a semicolon and -- not a comment'"
            )
            .await,
            n
        );
        assert_eq!(
            raw_rows(
                t.db(),
                "SELECT name FROM sqlite_master WHERE name = 'after_the_inserts'"
            )
            .await,
            1,
            "the statement after the inserts ran"
        );
        t.drop_database().await.unwrap();
    }
}

/// SQLite reads a C string: a NUL byte in a revision would end the script there, and the
/// statements after it would be skipped while the revision is recorded as applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_byte_in_the_sql_is_refused_not_a_silent_end() {
    let t = TestDb::sqlite().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[rev(
            "nul1",
            "",
            "CREATE TABLE before_nul (x INTEGER);\nSELECT 1;\0\nCREATE TABLE after_nul (x INTEGER);",
            None,
        )],
    );
    match m.run(t.db()).await {
        Err(Error::Statement {
            revision, message, ..
        }) => {
            assert_eq!(revision, "nul1");
            assert!(message.contains("NUL byte"), "{message}");
        }
        Err(Error::Database { source, .. }) => {
            assert!(source.to_string().contains("NUL byte"), "{source}");
        }
        other => panic!("a NUL byte must fail the revision, got {other:?}"),
    }
    let st = m.current(t.db()).await.unwrap();
    assert!(
        st.current.is_empty(),
        "nothing is recorded as applied: {st:?}"
    );
    assert_eq!(
        raw_rows(
            t.db(),
            "SELECT name FROM sqlite_master WHERE name = 'before_nul'"
        )
        .await,
        0,
        "the revision was rolled back"
    );
    t.drop_database().await.unwrap();
}
