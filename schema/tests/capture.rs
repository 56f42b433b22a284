//! kiln-schema against real PostgreSQL, MariaDB and SQLite: a capture sees each object kind on
//! each engine, its text form round-trips, every change shows up in the diff, and kiln's own
//! tables are left out under the names the migrator gives them. Throwaway databases come from
//! kiln-testing.

// The runtime's fixture helpers (migration sets written to temporary directories), shared
// rather than copied.
#[path = "../../runtime/tests/common/mod.rs"]
mod common;
#[macro_use]
#[path = "../../testing/tests/support/per_engine.rs"]
mod per_engine;

use common::{exec, sample};
use kiln_runtime::{Dialect, Options};
use kiln_schema::Schema;
use kiln_testing::TestDb;

on_every_engine!(
    capture_sees_every_object_kind,
    capture_leaves_out_kiln_tables_by_their_configured_names,
);

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
            "routine plus_one(IN x int(11)): function returns int(11) deterministic: RETURN x + 1",
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
    // SQLite's guard triggers on the version table (docs/runtime.md, "Start-up cost") go with it.
    assert!(
        s.triggers.values().all(|t| !t.table.starts_with("kiln_")),
        "{:?}",
        s.triggers.keys().collect::<Vec<_>>()
    );
    let all = Schema::capture_all(t.db()).await.unwrap();
    for k in ["kiln_version", "kiln_version_state", "kiln_audit"] {
        assert!(all.tables.contains_key(k), "{k}");
    }
    if d == Dialect::Sqlite {
        let guards = all
            .triggers
            .values()
            .filter(|t| t.table == "kiln_version")
            .count();
        assert_eq!(guards, 3, "{:?}", all.triggers.keys().collect::<Vec<_>>());
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
