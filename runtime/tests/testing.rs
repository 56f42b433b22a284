//! `kiln_runtime::testing` against real PostgreSQL, MariaDB and SQLite: the sample set passes
//! every ready-made check (through `schema_tests!`, so the macro is under test too), every check
//! fails with a clear message on a fixture broken the way it is meant to catch, schema capture
//! sees each object kind on each engine, and template databases are shared safely.

mod common;

use common::{Rev, exec, rev, sample, write_set};
use kiln_runtime::testing::{
    self, CheckError, CheckErrorKind, CheckReport, Schema, TestDb, template_name,
};
use kiln_runtime::{Dialect, Migrator, Options};
use std::path::Path;
use std::time::{Duration, Instant};

// The sample set passes every check on every engine.
kiln_runtime::schema_tests!(
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

/// Generates one `#[tokio::test]` per engine for each scenario taking a `Dialect`.
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(kiln_runtime::Dialect::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(kiln_runtime::Dialect::Postgres).await } )* }
        mod mysql { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(kiln_runtime::Dialect::MySql).await } )* }
    };
}

on_every_engine!(
    stairway_catches_a_downgrade_that_does_not_undo,
    stairway_and_no_trace_catch_a_leftover_table,
    stairway_reports_irreversible_revisions_and_continues,
    no_trace_reports_the_lowest_reachable_point,
    no_trace_counts_rows_left_behind,
    schema_file_mismatch_is_a_readable_diff,
    broken_schema_file_names_its_line,
    upgrade_from_base_names_the_failing_revision,
    capture_sees_every_object_kind,
    capture_leaves_out_kiln_tables_by_their_configured_names,
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
// Schema capture

/// One object of each kind, per engine.
fn every_kind(d: Dialect) -> &'static [&'static str] {
    match d {
        Dialect::Postgres => &[
            "CREATE SCHEMA reporting",
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
            "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
            "CREATE SEQUENCE ticket_seq START 100 INCREMENT 5",
            "CREATE TABLE users (
                id INTEGER PRIMARY KEY,
                email VARCHAR(255) NOT NULL UNIQUE,
                created_at VARCHAR(40) NOT NULL DEFAULT 'now',
                m mood,
                n numeric(10,2) CHECK (n > 0),
                s serial,
                g bigint GENERATED ALWAYS AS IDENTITY,
                CONSTRAINT email_len CHECK (length(email) > 3)
            )",
            "CREATE TABLE notes (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                body VARCHAR(2000) NOT NULL
            )",
            "CREATE INDEX notes_user_idx ON notes (user_id)",
            "CREATE UNIQUE INDEX notes_body_idx ON notes (lower(body) DESC) WHERE id > 0",
            "CREATE VIEW v AS SELECT id, email FROM users WHERE id > 1",
            "CREATE FUNCTION trim_body() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.body := trim(NEW.body); RETURN NEW; END $$",
            "CREATE TRIGGER notes_trim BEFORE INSERT OR UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION trim_body()",
            "CREATE TABLE reporting.daily (d date PRIMARY KEY)",
        ],
        Dialect::MySql => &[
            "CREATE TABLE users (
                id INTEGER PRIMARY KEY,
                email VARCHAR(255) NOT NULL UNIQUE,
                created_at VARCHAR(40) NOT NULL DEFAULT 'now',
                m ENUM('sad', 'ok'),
                n DECIMAL(10,2) CHECK (n > 0),
                s BIGINT NOT NULL AUTO_INCREMENT UNIQUE,
                CONSTRAINT email_len CHECK (length(email) > 3)
            )",
            "CREATE TABLE notes (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL,
                body VARCHAR(2000) NOT NULL,
                CONSTRAINT notes_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
            )",
            "CREATE INDEX notes_user_idx ON notes (user_id)",
            "CREATE INDEX notes_body_idx ON notes (body(20) DESC)",
            "CREATE VIEW v AS SELECT id, email FROM users WHERE id > 1",
            "CREATE TRIGGER notes_trim BEFORE INSERT ON notes FOR EACH ROW SET NEW.body = trim(NEW.body)",
            "CREATE FUNCTION plus_one(x INT) RETURNS INT DETERMINISTIC RETURN x + 1",
            "CREATE SEQUENCE ticket_seq START WITH 100 INCREMENT BY 5",
        ],
        _ => &[
            "CREATE TABLE users (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email VARCHAR (255) NOT NULL UNIQUE,
                created_at VARCHAR(40) NOT NULL DEFAULT 'now',
                n NUMERIC CHECK (n > 0),
                CONSTRAINT email_len CHECK (length(email) > 3)
            )",
            "CREATE TABLE notes (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                body TEXT NOT NULL,
                UNIQUE (user_id, body)
            )",
            "CREATE INDEX notes_user_idx ON notes (user_id)",
            "CREATE UNIQUE INDEX notes_body_idx ON notes (lower(body) DESC) WHERE id > 0",
            "CREATE VIEW v AS SELECT id, email FROM users WHERE id > 1",
            "CREATE TRIGGER notes_trim AFTER INSERT ON notes BEGIN UPDATE notes SET body = trim(body) WHERE id = NEW.id; END",
        ],
    }
}

/// The lines of [`every_kind`]'s capture that show each kind was read, and read right.
fn expected_lines(d: Dialect) -> &'static [&'static str] {
    match d {
        Dialect::Postgres => &[
            "schema reporting",
            "enum mood: 'sad', 'ok', 'happy'",
            "type posint: domain integer CHECK (VALUE > 0)",
            "sequence ticket_seq: bigint start 100 increment 5 min 1 max 9223372036854775807 cache 1",
            "sequence users_s_seq: integer start 1 increment 1 min 1 max 2147483647 cache 1 owned by users.s",
            "table users columns: id, email, created_at, m, n, s, g",
            "table users column id: integer not null",
            "table users column email: character varying(255) not null",
            "table users column created_at: character varying(40) not null default 'now'::character varying",
            "table users column m: mood null",
            "table users column n: numeric(10,2) null",
            "table users column s: integer not null default nextval('users_s_seq'::regclass)",
            "table users column g: bigint not null generated always as identity",
            "table users primary key: (id) named users_pkey",
            "table users unique (email): named users_email_key",
            "table users check (n > 0::numeric): named users_n_check",
            "table users check (length(email::text) > 3): named email_len",
            "table notes foreign key (user_id) references users (id): on update no action, on delete cascade named notes_user_id_fkey",
            "table notes index notes_user_idx: btree (user_id)",
            "table notes index notes_body_idx: unique btree (lower((body)::text) DESC) WHERE (id > 0)",
            "table reporting.daily column d: date not null",
            "view v: SELECT users.id, users.email FROM users WHERE users.id > 1",
            "trigger notes_trim on notes: CREATE TRIGGER notes_trim BEFORE INSERT OR UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION trim_body()",
            "routine trim_body(): function returns trigger language plpgsql: BEGIN NEW.body := trim(NEW.body); RETURN NEW; END",
        ],
        Dialect::MySql => &[
            "sequence ticket_seq: start 100 increment 5 min 1 max 9223372036854775806 cache 1000",
            "table users columns: id, email, created_at, m, n, s",
            "table users column id: int(11) not null",
            "table users column created_at: varchar(40) not null default 'now'",
            "table users column m: enum('sad','ok') null",
            "table users column n: decimal(10,2) null",
            "table users column s: bigint(20) not null auto_increment",
            "table users primary key: (id)",
            "table users unique (email): named email",
            "table users unique (s): named s",
            "table users check `n` > 0: named n",
            "table users check octet_length(`email`) > 3: named email_len",
            "table notes foreign key (user_id) references users (id): on update restrict, on delete cascade named notes_user_fk",
            "table notes index notes_user_idx: btree (user_id)",
            "table notes index notes_body_idx: btree (body(20) desc)",
            "view v: select `users`.`id` AS `id`, `users`.`email` AS `email` from `users` where `users`.`id` > 1",
            "trigger notes_trim on notes: BEFORE INSERT for each row (order 1): SET NEW.body = trim(NEW.body)",
            "routine plus_one(IN x int(11)): function returns int(11): RETURN x + 1",
        ],
        _ => &[
            "table users: autoincrement",
            "table users columns: id, email, created_at, n",
            "table users column id: integer null",
            "table users column email: varchar(255) not null",
            "table users column created_at: varchar(40) not null default 'now'",
            "table users column n: numeric null",
            "table users primary key: (id)",
            "table users unique (email)",
            "table users check n > 0",
            "table users check length(email) > 3: named email_len",
            "table notes foreign key (user_id) references users (id): on update no action, on delete cascade",
            "table notes unique (user_id, body)",
            "table notes index notes_user_idx: (user_id)",
            "table notes index notes_body_idx: unique (lower(body) DESC) where id > 0",
            "view v: CREATE VIEW v AS SELECT id, email FROM users WHERE id > 1",
            "trigger notes_trim on notes: CREATE TRIGGER notes_trim AFTER INSERT ON notes BEGIN UPDATE notes SET body = trim(body) WHERE id = NEW.id; END",
        ],
    }
}

/// Changes to [`every_kind`], each with a line the diff must show.
fn changes(d: Dialect) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        (
            "ALTER TABLE users ADD COLUMN nick VARCHAR(20) DEFAULT 'x'",
            "only in after:\n    table users column nick: ",
        ),
        ("DROP VIEW v", "only in before:\n    view v: "),
        match d {
            // MariaDB keeps the index its foreign key needs.
            Dialect::MySql => (
                "DROP INDEX notes_body_idx ON notes",
                "only in before:\n    table notes index notes_body_idx: btree (body(20) desc)",
            ),
            _ => (
                "DROP INDEX notes_user_idx",
                "table notes index notes_user_idx",
            ),
        },
    ];
    match d {
        Dialect::Postgres => v.extend([
            (
                "ALTER TABLE users ALTER COLUMN email TYPE VARCHAR(300)",
                "changed:\n    table users column email\n      before: character varying(255) not null\n      after:  character varying(300) not null",
            ),
            ("ALTER TABLE users ALTER COLUMN n SET NOT NULL", "table users column n"),
            ("ALTER TABLE users ALTER COLUMN created_at DROP DEFAULT", "table users column created_at"),
            ("ALTER TABLE users DROP CONSTRAINT email_len", "table users check (length(email::text) > 3)"),
            ("ALTER TABLE users DROP CONSTRAINT users_email_key", "table users unique (email)"),
            ("ALTER TYPE mood ADD VALUE 'meh'", "enum mood"),
            ("DROP TRIGGER notes_trim ON notes", "trigger notes_trim on notes"),
            ("DROP FUNCTION trim_body()", "routine trim_body()"),
            ("ALTER SEQUENCE ticket_seq INCREMENT 10", "sequence ticket_seq"),
            ("DROP DOMAIN posint", "type posint"),
            ("ALTER TABLE notes DROP CONSTRAINT notes_user_id_fkey", "table notes foreign key (user_id)"),
            ("ALTER TABLE notes DROP CONSTRAINT notes_pkey", "table notes primary key"),
            ("DROP TABLE reporting.daily", "table reporting.daily"),
            ("DROP SCHEMA reporting", "schema reporting"),
        ]),
        Dialect::MySql => v.extend([
            (
                "ALTER TABLE users MODIFY email VARCHAR(300) NOT NULL",
                "changed:\n    table users column email\n      before: varchar(255) not null\n      after:  varchar(300) not null",
            ),
            ("ALTER TABLE users DROP CONSTRAINT email_len", "table users check octet_length(`email`) > 3"),
            ("ALTER TABLE users DROP INDEX email", "table users unique (email)"),
            ("DROP TRIGGER notes_trim", "trigger notes_trim on notes"),
            ("DROP FUNCTION plus_one", "routine plus_one(IN x int(11))"),
            ("DROP SEQUENCE ticket_seq", "sequence ticket_seq"),
            ("ALTER TABLE notes DROP FOREIGN KEY notes_user_fk", "table notes foreign key (user_id)"),
        ]),
        _ => v.extend([
            ("DROP TRIGGER notes_trim", "trigger notes_trim on notes"),
            ("DROP INDEX notes_body_idx", "table notes index notes_body_idx"),
            (
                "ALTER TABLE users ADD COLUMN age INTEGER CHECK (age >= 0)",
                "only in after:\n    table users check age >= 0",
            ),
            (
                "CREATE TABLE t3 (a TEXT NOT NULL DEFAULT 'a', CHECK (a <> ''))",
                "only in after:\n    table t3",
            ),
        ]),
    }
    v
}

async fn capture_sees_every_object_kind(d: Dialect) {
    let Some(t) = TestDb::try_new(d).await.unwrap() else {
        return;
    };
    assert!(Schema::capture(t.db()).await.unwrap().is_empty());
    for sql in every_kind(d) {
        exec(t.db(), sql).await;
    }
    let schema = Schema::capture(t.db()).await.unwrap();
    let text = schema.to_text();
    for line in expected_lines(d) {
        assert!(
            text.lines().any(|l| l == *line),
            "missing line\n  {line}\nin the {d:?} capture:\n{text}"
        );
    }
    assert_eq!(
        schema,
        Schema::capture(t.db()).await.unwrap(),
        "captures are stable"
    );
    assert_eq!(schema.diff_text(&text), None, "the text form round-trips");

    let mut before = schema;
    for (sql, expected) in changes(d) {
        exec(t.db(), sql).await;
        let after = Schema::capture(t.db()).await.unwrap();
        let diff = before
            .diff_labeled(&after, "before", "after")
            .unwrap_or_else(|| panic!("`{sql}` changed nothing in the {d:?} capture"));
        assert!(
            diff.contains(expected),
            "after `{sql}` the {d:?} diff lacks {expected:?}:\n{diff}"
        );
        before = after;
    }
    t.drop_database().await.unwrap();
}

async fn capture_leaves_out_kiln_tables_by_their_configured_names(d: Dialect) {
    let Some(t) = TestDb::try_new(d).await.unwrap() else {
        return;
    };
    let m = sample();
    m.run(t.db()).await.unwrap();
    let s = Schema::capture(t.db()).await.unwrap();
    assert_eq!(
        s.tables.keys().collect::<Vec<_>>(),
        ["note_tags", "notes", "tags", "users"]
    );
    let all = Schema::capture_all(t.db()).await.unwrap();
    for k in ["kiln_version", "kiln_version_state", "kiln_audit"] {
        assert!(all.tables.contains_key(k), "{k}");
    }

    let dir = tempfile::tempdir().unwrap();
    let custom = common::chain(dir.path(), 1).with_options(
        Options::default()
            .version_table("my_versions")
            .audit_table("my_audit"),
    );
    custom.run(t.db()).await.unwrap();
    let s = Schema::capture_with(t.db(), custom.options())
        .await
        .unwrap();
    assert!(s.tables.contains_key("t0"));
    assert!(s.tables.contains_key("kiln_version"), "not this migrator's");
    for k in ["my_versions", "my_versions_state", "my_audit"] {
        assert!(!s.tables.contains_key(k), "{k}");
    }
    if d == Dialect::Postgres {
        // kiln's tables in a schema of their own: neither they nor the schema are the set's.
        let in_schema = sample().with_options(Options::default().schema("kiln_meta"));
        let t2 = TestDb::try_new(d).await.unwrap().unwrap();
        in_schema.run(t2.db()).await.unwrap();
        let s = Schema::capture_with(t2.db(), in_schema.options())
            .await
            .unwrap();
        assert_eq!(
            s.tables.keys().collect::<Vec<_>>(),
            ["note_tags", "notes", "tags", "users"]
        );
        assert!(s.schemas.is_empty(), "{s}");
        let all = Schema::capture_all(t2.db()).await.unwrap();
        assert!(all.schemas.contains("kiln_meta"), "{all}");
        assert!(all.tables.contains_key("kiln_meta.kiln_version"), "{all}");
        t2.drop_database().await.unwrap();
    }
    t.drop_database().await.unwrap();
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
/// `cargo test -p kiln-runtime --all-features --test testing -- --ignored --nocapture`.
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
