//! kiln-testing against real PostgreSQL, MariaDB and SQLite: the sample set passes every
//! ready-made check (through `schema_tests!`, so the macro is under test too), every check fails
//! with a clear message on a fixture broken the way it is meant to catch, and template databases
//! are shared safely. Schema capture itself is tested in kiln-schema's `tests/capture.rs`.

// The runtime's fixture helpers (migration sets written to temporary directories), shared
// rather than copied.
#[path = "../../runtime/tests/common/mod.rs"]
mod common;
#[macro_use]
#[path = "support/per_engine.rs"]
mod per_engine;

use common::{Rev, exec, rev, sample, write_set};
use kiln_runtime::{Dialect, Migrator};
use kiln_testing::{
    self as testing, CheckError, CheckErrorKind, CheckReport, TestDb, template_name,
};
use std::path::Path;
use std::time::{Duration, Instant};

// The sample set passes every check on every engine.
kiln_testing::schema_tests!(
    common::sample(),
    engines = [sqlite, postgres, mysql],
    checks = [
        single_head,
        no_drafts,
        upgrade_from_base,
        stairway,
        downgrade_leaves_no_trace,
        matches_schema_file("tests/schema"),
    ],
);

on_every_engine!(
    stairway_catches_a_downgrade_that_does_not_undo,
    stairway_and_no_trace_catch_a_leftover_table,
    stairway_reports_irreversible_revisions_and_continues,
    no_trace_reports_the_lowest_reachable_point,
    no_trace_counts_rows_left_behind,
    schema_file_mismatch_is_a_readable_diff,
    broken_schema_file_names_its_line,
    upgrade_from_base_names_the_failing_revision,
    migrated_databases_share_one_template_safely,
);

/// The error of a check that must fail, or `None` when it was skipped (server unavailable
/// outside CI). A pass is a test failure.
fn must_fail(r: Result<CheckReport, CheckError>) -> Option<CheckError> {
    match r {
        Ok(rep) if rep.skipped.is_some() => {
            eprintln!("{rep}");
            None
        }
        Ok(rep) => panic!("the check passed but must fail:\n{rep}"),
        Err(e) => {
            assert_eq!(e.kind, CheckErrorKind::Failed, "{e}");
            Some(e)
        }
    }
}

fn must_pass(r: Result<CheckReport, CheckError>) -> CheckReport {
    match r {
        Ok(rep) => rep,
        Err(e) => panic!("{e}"),
    }
}

fn two_tables(dir: &Path, down: &str) -> Migrator {
    write_set(
        dir,
        &[rev(
            "aa01",
            "",
            "CREATE TABLE t1 (id INTEGER PRIMARY KEY);\nCREATE TABLE t2 (id INTEGER PRIMARY KEY);",
            Some(down),
        )],
    )
}

async fn stairway_catches_a_downgrade_that_does_not_undo(d: Dialect) {
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[
            rev(
                "aa01",
                "",
                "CREATE TABLE t1 (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE t1;"),
            ),
            rev(
                "bb02",
                "aa01",
                "ALTER TABLE t1 ADD COLUMN note VARCHAR(20);",
                Some("SELECT 1;"),
            ),
        ],
    );
    let Some(e) = must_fail(testing::stairway(&m, d).await) else {
        return;
    };
    let msg = e.to_string();
    assert!(msg.starts_with("kiln check `stairway` on "), "{msg}");
    assert!(
        msg.contains("the downgrade of revision `bb02 (bb02 message)` (bb02_test.sql) does not undo its upgrade"),
        "{msg}"
    );
    assert!(msg.contains("`downgrade aa01`"), "{msg}");
    assert!(
        msg.contains("only in after the downgrade:\n    table t1 column note: "),
        "{msg}"
    );
    // The first revision passed: the message is about the second only.
    assert!(!msg.contains("aa01 message"), "{msg}");
}

async fn stairway_and_no_trace_catch_a_leftover_table(d: Dialect) {
    let dir = tempfile::tempdir().unwrap();
    let m = two_tables(dir.path(), "DROP TABLE t1;");
    let Some(e) = must_fail(testing::downgrade_leaves_no_trace(&m, d).await) else {
        return;
    };
    let msg = e.to_string();
    assert!(
        msg.contains("after downgrading to base these objects are left behind"),
        "{msg}"
    );
    assert!(msg.contains("\n    table t2"), "{msg}");
    assert!(!msg.contains("table t1"), "{msg}");

    let e = must_fail(testing::stairway(&m, d).await).unwrap();
    let msg = e.to_string();
    assert!(
        msg.contains("only in after the downgrade:\n    table t2"),
        "{msg}"
    );

    // The same set with a correct downgrade passes both.
    let good = tempfile::tempdir().unwrap();
    let m = two_tables(good.path(), "DROP TABLE t2;\nDROP TABLE t1;");
    must_pass(testing::downgrade_leaves_no_trace(&m, d).await);
    let rep = must_pass(testing::stairway(&m, d).await);
    assert_eq!(rep.revisions, 1);
}

/// `a` ← `b` (irreversible), `a` ← `c`, merge `d`: stepping `c` needs `b` reverted, which is
/// impossible, so the walk goes on in a new database.
fn irreversible_in_the_middle(dir: &Path) -> Migrator {
    write_set(
        dir,
        &[
            Rev {
                header: "-- kiln:created 2026-01-01T00:00:00Z\n",
                ..rev(
                    "aa01",
                    "",
                    "CREATE TABLE a (id INTEGER PRIMARY KEY);",
                    Some("DROP TABLE a;"),
                )
            },
            Rev {
                header: "-- kiln:created 2026-01-02T00:00:00Z\n",
                ..rev("bb02", "aa01", "INSERT INTO a (id) VALUES (1);", None)
            },
            Rev {
                header: "-- kiln:created 2026-01-03T00:00:00Z\n",
                ..rev(
                    "cc03",
                    "aa01",
                    "CREATE TABLE c (id INTEGER PRIMARY KEY);",
                    Some("DROP TABLE c;"),
                )
            },
            Rev {
                header: "-- kiln:created 2026-01-04T00:00:00Z\n",
                ..rev(
                    "dd04",
                    "bb02, cc03",
                    "CREATE TABLE d (id INTEGER PRIMARY KEY);",
                    Some("DROP TABLE d;"),
                )
            },
        ],
    )
}

async fn stairway_reports_irreversible_revisions_and_continues(d: Dialect) {
    let dir = tempfile::tempdir().unwrap();
    let m = irreversible_in_the_middle(dir.path());
    let rep = must_pass(testing::stairway(&m, d).await);
    if rep.skipped.is_some() {
        return;
    }
    assert_eq!(rep.revisions, 4);
    assert_eq!(rep.irreversible, ["bb02"]);
    let text = rep.to_string();
    assert!(
        text.contains("irreversible, not downgraded: bb02"),
        "{text}"
    );
    assert!(
        text.contains("started over on a new database at `cc03`"),
        "{text}"
    );
    assert!(
        text.contains("3 revision(s) upgraded, downgraded one step and upgraded again"),
        "{text}"
    );

    // The sample: a branch point, a merge and an irreversible head.
    let rep = must_pass(testing::stairway(&sample(), d).await);
    assert_eq!(rep.revisions, 6);
    assert_eq!(rep.irreversible, ["f6a1b2c3d4e5"]);
    let text = rep.to_string();
    // Each step down is an explicit parent (or base), the branch is left and rejoined with
    // explicit targets, and the merge is stepped down to one of its parents alone.
    assert!(
        text.contains("one-step downgrade targets: a1b2c3d4e5f6 -> base, b2c3d4e5f6a1 -> a1b2c3d4e5f6, c3d4e5f6a1b2 -> b2c3d4e5f6a1, d4e5f6a1b2c3 -> b2c3d4e5f6a1, e5f6a1b2c3d4 -> c3d4e5f6a1b2"),
        "{text}"
    );
    assert!(
        text.contains("before `d4e5f6a1b2c3`: downgrade b2c3d4e5f6a1 (reverted c3d4e5f6a1b2)"),
        "{text}"
    );
    assert!(
        text.contains("before `e5f6a1b2c3d4`: upgrade c3d4e5f6a1b2 (applied c3d4e5f6a1b2)"),
        "{text}"
    );
}

async fn no_trace_reports_the_lowest_reachable_point(d: Dialect) {
    let dir = tempfile::tempdir().unwrap();
    let m = irreversible_in_the_middle(dir.path());
    let rep = must_pass(testing::downgrade_leaves_no_trace(&m, d).await);
    if rep.skipped.is_some() {
        return;
    }
    // `dd04` goes; `cc03` cannot go without `bb02` (every target that reverts it reverts its
    // irreversible sibling too), so the lowest point is `bb02` and `cc03`.
    assert_eq!(rep.kept, ["aa01", "bb02", "cc03"]);
    let text = rep.to_string();
    assert!(
        text.contains("lowest point reachable from the head: bb02, cc03"),
        "{text}"
    );
    assert!(
        text.contains("every revision that needs no irreversible one (aa01, cc03) downgraded to base without a trace"),
        "{text}"
    );

    let rep = must_pass(testing::downgrade_leaves_no_trace(&sample(), d).await);
    assert_eq!(rep.irreversible, ["f6a1b2c3d4e5"]);
    assert_eq!(rep.kept.len(), 6, "{rep}");
    assert!(
        rep.to_string()
            .contains("nothing can be downgraded from the head")
    );
}

async fn no_trace_counts_rows_left_behind(d: Dialect) {
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[
            rev(
                "aa01",
                "",
                "CREATE TABLE a (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE a;"),
            ),
            rev("bb02", "aa01", "INSERT INTO a (id) VALUES (1);", None),
            // Seeds a row and forgets to remove it on the way down.
            rev(
                "cc03",
                "bb02",
                "INSERT INTO a (id) VALUES (2);",
                Some("SELECT 1;"),
            ),
        ],
    );
    let Some(e) = must_fail(testing::downgrade_leaves_no_trace(&m, d).await) else {
        return;
    };
    let msg = e.to_string();
    assert!(
        msg.contains("table a holds 2 row(s) after downgrading from the head to bb02, but 1 when upgraded straight to it"),
        "{msg}"
    );
}

fn schema_file(d: Dialect) -> std::path::PathBuf {
    testing::__private::schema_file(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema"),
        d,
    )
}

async fn schema_file_mismatch_is_a_readable_diff(d: Dialect) {
    let declared = std::fs::read_to_string(schema_file(d)).unwrap();
    let (from, to) = match d {
        Dialect::Postgres => (
            "email character varying(255)",
            "email character varying(200)",
        ),
        Dialect::MySql => ("`email` varchar(255)", "`email` varchar(200)"),
        _ => ("email VARCHAR(255)", "email VARCHAR(200)"),
    };
    assert!(declared.contains(from));
    let edited = declared.replace(from, to)
        + match d {
            Dialect::MySql => "CREATE TABLE extra (id INT PRIMARY KEY);\n",
            _ => "CREATE TABLE extra (id INTEGER PRIMARY KEY);\n",
        };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.sql");
    std::fs::write(&path, edited).unwrap();
    let Some(e) = must_fail(testing::matches_schema_file(&sample(), d, &path).await) else {
        return;
    };
    let msg = e.to_string();
    let file = path.display().to_string();
    assert!(
        msg.contains(&format!(
            "the schema the migrations build differs from {file}"
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("only in {file}:\n    table extra")),
        "{msg}"
    );
    assert!(
        msg.contains("changed:\n    table users column email\n"),
        "{msg}"
    );
    assert!(msg.contains("255"), "{msg}");
    assert!(msg.contains("200"), "{msg}");
}

async fn broken_schema_file_names_its_line(d: Dialect) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.sql");
    std::fs::write(
        &path,
        "CREATE TABLE ok (id INTEGER PRIMARY KEY);\n\nCREATE TABLE broken (id INTEGER PRIMARY KEY,);\n",
    )
    .unwrap();
    let Some(e) = must_fail(testing::matches_schema_file(&sample(), d, &path).await) else {
        return;
    };
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "{}:3: the declared schema does not apply",
            path.display()
        )),
        "{msg}"
    );
    let missing = testing::matches_schema_file(&sample(), d, dir.path().join("nope.sql"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind, CheckErrorKind::Setup);
    assert!(missing.to_string().contains("cannot read"), "{missing}");
}

async fn upgrade_from_base_names_the_failing_revision(d: Dialect) {
    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[
            rev(
                "aa01",
                "",
                "CREATE TABLE t1 (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE t1;"),
            ),
            rev(
                "bb02",
                "aa01",
                "INSERT INTO no_such_table (id) VALUES (1);",
                Some("SELECT 1;"),
            ),
        ],
    );
    let Some(e) = must_fail(testing::upgrade_from_base(&m, d).await) else {
        return;
    };
    let msg = e.to_string();
    assert!(
        msg.contains("upgrading a new database to every head failed: upgrade of revision `bb02` failed at bb02_test.sql"),
        "{msg}"
    );
    assert!(msg.contains("no_such_table"), "{msg}");
    assert!(std::error::Error::source(&e).is_some());
    let rep = must_pass(testing::upgrade_from_base(&sample(), d).await);
    if rep.skipped.is_none() {
        assert_eq!(rep.revisions, 6);
    }
}

#[tokio::test]
async fn single_head_and_no_drafts() {
    let rep = must_pass(testing::single_head(&sample()).await);
    assert!(rep.to_string().contains("head: f6a1b2c3d4e5"), "{rep}");
    must_pass(testing::no_drafts(&sample()).await);

    let dir = tempfile::tempdir().unwrap();
    let m = write_set(
        dir.path(),
        &[
            rev("core1", "", "SELECT 1;", Some("SELECT 1;")),
            Rev {
                header: "-- kiln:branch billing\n",
                ..rev("bill1", "core1", "SELECT 1;", Some("SELECT 1;"))
            },
            Rev {
                header: "-- kiln:branch shipping\n",
                ..rev("ship1", "core1", "SELECT 1;", Some("SELECT 1;"))
            },
        ],
    );
    let e = must_fail(testing::single_head(&m).await).unwrap();
    assert_eq!(
        e.to_string(),
        "kiln check `single_head` failed: the migration set has 2 heads (bill1, ship1); a release needs exactly one. Join them with `kiln merge -m \"merge heads\" bill1 ship1`"
    );
    // No kiln.lock next to the fixture: every revision is a draft.
    let e = must_fail(testing::no_drafts(&m).await).unwrap();
    let msg = e.to_string();
    assert!(
        msg.contains("3 revision(s) are drafts, not recorded in kiln.lock: core1 (core1_test.sql)"),
        "{msg}"
    );
    assert!(msg.contains("`kiln lock`"), "{msg}");
    assert!(must_fail(testing::single_head(&Migrator::EMPTY).await).is_some());
}

// ---------------------------------------------------------------------------------------------
// Templates

/// A set nobody else uses, so its template is built by this test.
fn unique_set(dir: &Path) -> Migrator {
    let tag = format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let up = format!("CREATE TABLE t_{tag} (id INTEGER PRIMARY KEY);");
    let down = format!("DROP TABLE t_{tag};");
    write_set(dir, &[rev("aa01", "", &up, Some(&down))])
}

/// Serializes the tests that assert how many times a template was built with the one that drops
/// every template: the others in this file only need the drops to be survivable, and they are.
static TEMPLATE_CENSUS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn migrated_databases_share_one_template_safely(d: Dialect) {
    let _census = TEMPLATE_CENSUS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let m = unique_set(dir.path());
    let name = template_name(&m);
    assert_ne!(name, template_name(&sample()));
    // Eight tests asking for the same schema at once: the template is built once, under the
    // lock, and every clone is at head with the one recorded application.
    if d == Dialect::Postgres {
        // What a builder killed half-way leaves: the database, never marked a template.
        let Some(t) = TestDb::try_new(d).await.unwrap() else {
            return;
        };
        exec(t.db(), &format!("CREATE DATABASE \"{name}\"")).await;
        t.drop_database().await.unwrap();
    }
    let shared = std::sync::Arc::new(m.clone());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let m = shared.clone();
            tokio::spawn(async move { TestDb::migrated(&m, d).await })
        })
        .collect();
    let mut dbs: Vec<TestDb> = Vec::new();
    for h in handles {
        dbs.extend(h.await.unwrap().unwrap());
    }
    if dbs.is_empty() {
        return;
    }
    assert_eq!(dbs.len(), 8);
    for t in &dbs {
        m.check(t.db()).await.unwrap();
        let audit = m.audit(t.db()).await.unwrap();
        assert_eq!(audit.len(), 1, "{audit:?}");
    }
    let runs: std::collections::BTreeSet<String> = {
        let mut s = std::collections::BTreeSet::new();
        for t in &dbs {
            s.insert(m.audit(t.db()).await.unwrap()[0].run_id.clone());
        }
        s
    };
    if d != Dialect::MySql {
        assert_eq!(runs.len(), 1, "one template build, cloned: {runs:?}");
        assert!(testing::drop_template(&m, d).await.unwrap());
        assert!(!testing::drop_template(&m, d).await.unwrap());
    } else {
        assert_eq!(
            runs.len(),
            8,
            "MySQL has no templates: each database migrated"
        );
    }
    for t in dbs.drain(..) {
        t.drop_database().await.unwrap();
    }
}

#[tokio::test]
async fn template_cleanup_keeps_what_it_is_told_to() {
    let _census = TEMPLATE_CENSUS.lock().await;
    for d in [Dialect::Sqlite, Dialect::Postgres] {
        let dir = tempfile::tempdir().unwrap();
        let m = unique_set(dir.path());
        let Some(t) = TestDb::migrated(&m, d).await.unwrap() else {
            continue;
        };
        t.drop_database().await.unwrap();
        let Some(t) = TestDb::migrated(&sample(), d).await.unwrap() else {
            continue;
        };
        t.drop_database().await.unwrap();
        let dropped = testing::drop_templates(d, Some(&sample())).await.unwrap();
        assert!(
            dropped.iter().any(|n| n.starts_with(&template_name(&m))),
            "{d:?}: {dropped:?}"
        );
        assert!(
            !dropped
                .iter()
                .any(|n| n.starts_with(&template_name(&sample())))
        );
        assert!(
            !testing::drop_template(&m, d).await.unwrap(),
            "already gone"
        );
    }
    assert!(
        testing::drop_templates(Dialect::MySql, None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn orphans_of_killed_processes_are_dropped_by_age() {
    for d in [Dialect::Postgres, Dialect::MySql] {
        // A name as a process killed in 2021 would have left it.
        let name = format!("kiln_t_60000000_{}_0_orphan", std::process::id());
        let Some(t) = TestDb::try_new(d).await.unwrap() else {
            continue;
        };
        let create = match d {
            Dialect::MySql => format!("CREATE DATABASE `{name}`"),
            _ => format!("CREATE DATABASE \"{name}\""),
        };
        exec(t.db(), &create).await;
        let dropped = testing::drop_orphans(d, Duration::from_secs(6 * 3600))
            .await
            .unwrap();
        assert!(dropped.contains(&name), "{d:?}: {dropped:?}");
        assert!(
            !dropped.iter().any(|n| t.url().ends_with(n.as_str())),
            "a database in use is young and must stay"
        );
        t.drop_database().await.unwrap();
    }
}

/// Measures what a template saves, for the sample set and for a chain of 50 revisions: the
/// time until a test holds a migrated database (dropping it afterwards costs the same either
/// way and is reported apart). Run with
/// `cargo test -p kiln-testing --all-features --test checks -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn template_saving() {
    const N: u32 = 10;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        ("sample (6 revisions)", sample()),
        ("chain of 50 revisions", common::chain(dir.path(), 50)),
    ];
    for d in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
        let (mut empty, mut dropping) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..N {
            let start = Instant::now();
            let Some(t) = TestDb::try_new(d).await.unwrap() else {
                return;
            };
            empty += start.elapsed();
            let start = Instant::now();
            t.drop_database().await.unwrap();
            dropping += start.elapsed();
        }
        println!(
            "{d:?}: empty database {:.1} ms, dropping one {:.1} ms",
            ms(empty / N),
            ms(dropping / N)
        );
        for (what, m) in &sets {
            // Warm up: build the template.
            let t = TestDb::migrated(m, d).await.unwrap().unwrap();
            t.drop_database().await.unwrap();
            let (mut migrate, mut template) = (Duration::ZERO, Duration::ZERO);
            for _ in 0..N {
                let start = Instant::now();
                let t = TestDb::try_new(d).await.unwrap().unwrap();
                m.run(t.db()).await.unwrap();
                migrate += start.elapsed();
                t.drop_database().await.unwrap();

                let start = Instant::now();
                let t = TestDb::migrated(m, d).await.unwrap().unwrap();
                template += start.elapsed();
                t.drop_database().await.unwrap();
            }
            println!(
                "{d:?}, {what}: new database + migrate {:.1} ms, from template {:.1} ms (mean of {N})",
                ms(migrate / N),
                ms(template / N)
            );
        }
        // The chain's template exists for this measurement only.
        testing::drop_template(&sets[1].1, d).await.unwrap();
    }
}
