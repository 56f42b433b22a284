//! Every rule fires on the statement it is about and stays quiet on the safe form, including
//! the exemptions only kiln's context allows.

use kiln_core::{Dialect, Revision, format};
use kiln_lint::{Finding, Input, Options, Severity, lint_revisions};

/// Parses revision files (graph order: each revises the one before unless it says otherwise).
/// A file whose header has the comment `-- draft` is not locked. Only the last is reported.
fn run_with(opts: &Options, files: &[&str]) -> Vec<Finding> {
    let revs: Vec<Revision> = files
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let id = format!("r{i}");
            let mut text = format!("-- kiln:revision {id}\n{text}");
            if i > 0 && !text.contains("kiln:revises") {
                text = text.replacen('\n', &format!("\n-- kiln:revises r{}\n", i - 1), 1);
            }
            let name = format!("{id}.sql");
            let p = format::parse_file(&name, &name, text.as_bytes())
                .unwrap_or_else(|e| panic!("{text}: {e:?}"));
            Revision::from_parts(
                p.revision.value.clone().into(),
                name.into(),
                None,
                None,
                p.revises
                    .value
                    .iter()
                    .map(|s| s.clone().into())
                    .collect::<Vec<_>>()
                    .into(),
                Vec::new().into(),
                Vec::new().into(),
                p.transactional,
                p.up_sql().to_owned().into(),
                p.up_line as u32,
                p.down_sql().map(|d| d.to_owned().into()),
                p.down_line as u32,
                p.checksum.clone().into(),
                text.lines()
                    .take_while(|l| !l.contains("kiln:upgrade"))
                    .any(|l| l == "-- draft"),
            )
        })
        .collect();
    let inputs: Vec<Input<'_>> = revs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let text = files[i];
            Input {
                revision: r,
                path: format!("migrations/{}", r.file()),
                header: format!(
                    "-- kiln:revision {}\n{}",
                    r.id(),
                    text.split("-- kiln:upgrade").next().unwrap_or("")
                ),
                report: i + 1 == revs.len(),
            }
        })
        .collect();
    lint_revisions(&inputs, opts)
}

fn run(d: Dialect, files: &[&str]) -> Vec<&'static str> {
    run_with(&Options::new(d), files)
        .iter()
        .map(|f| f.rule)
        .collect()
}

fn up(d: Dialect, sql: &str) -> Vec<&'static str> {
    run(d, &[&format!("-- kiln:upgrade\n{sql}\n")])
}

fn pg(sql: &str) -> Vec<&'static str> {
    up(
        Dialect::Postgres,
        &format!("SET lock_timeout = '2s';\n{sql}"),
    )
}

fn pg_notx(sql: &str) -> Vec<&'static str> {
    run(
        Dialect::Postgres,
        &[&format!(
            "-- kiln:transaction false\n-- kiln:upgrade\nSET lock_timeout = '2s';\n{sql}\n"
        )],
    )
}

const PREV: &str = "-- kiln:upgrade\nCREATE TABLE t (id bigint PRIMARY KEY, a text, b text);\n";

#[test]
fn create_index_needs_concurrently_and_concurrently_needs_no_transaction() {
    assert_eq!(pg("CREATE INDEX i ON t (a);"), ["require-concurrent-index"]);
    assert_eq!(
        pg("CREATE INDEX CONCURRENTLY i ON t (a);"),
        ["concurrently-in-transaction"]
    );
    assert!(pg_notx("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);").is_empty());
    assert_eq!(
        pg_notx("CREATE INDEX CONCURRENTLY i ON t (a);"),
        ["prefer-robust-stmts"]
    );
}

#[test]
fn drop_index_needs_concurrently() {
    assert_eq!(pg("DROP INDEX i;"), ["require-concurrent-index-drop"]);
    assert!(pg_notx("DROP INDEX CONCURRENTLY IF EXISTS i;").is_empty());
    assert_eq!(
        pg("DROP INDEX CONCURRENTLY i;"),
        ["concurrently-in-transaction"]
    );
}

#[test]
fn constraints_need_not_valid_or_an_index() {
    let fk = "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id)";
    assert_eq!(pg(&format!("{fk};")), ["foreign-key-not-valid"]);
    assert!(
        pg(&format!(
            "{fk} NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT f;"
        ))
        .is_empty()
    );
    assert_eq!(
        pg("ALTER TABLE t ADD CONSTRAINT c CHECK (a <> '');"),
        ["check-not-valid"]
    );
    assert!(pg("ALTER TABLE t ADD CONSTRAINT c CHECK (a <> '') NOT VALID;").is_empty());
    assert_eq!(
        pg("ALTER TABLE t ADD CONSTRAINT u UNIQUE (a);"),
        ["unique-without-index"]
    );
    assert_eq!(
        pg("ALTER TABLE t ADD PRIMARY KEY (a);"),
        ["unique-without-index"]
    );
    assert!(pg("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i;").is_empty());
    assert_eq!(
        pg("ALTER TABLE t ADD COLUMN u_id bigint REFERENCES u (id);"),
        ["foreign-key-not-valid"]
    );
    // Found comparing with squawk on supabase/auth: a column added as PRIMARY KEY or UNIQUE
    // builds its index inside the ALTER.
    assert_eq!(
        pg("ALTER TABLE t ADD COLUMN id uuid PRIMARY KEY;"),
        ["unique-without-index"]
    );
    assert_eq!(
        pg("ALTER TABLE t ADD COLUMN code text UNIQUE;"),
        ["unique-without-index"]
    );
}

#[test]
fn columns_not_null_defaults_and_types() {
    assert_eq!(
        pg("ALTER TABLE t ALTER COLUMN a SET NOT NULL;"),
        ["set-not-null"]
    );
    assert_eq!(
        pg("ALTER TABLE t ADD COLUMN c int NOT NULL;"),
        ["add-column-required"]
    );
    assert!(pg("ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;").is_empty());
    assert_eq!(
        pg("ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid();"),
        ["volatile-default"]
    );
    assert_eq!(
        pg("ALTER TABLE t ADD COLUMN c bigserial;"),
        ["volatile-default"]
    );
    assert!(pg("ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now();").is_empty());
    // Found comparing with squawk on supabase/auth: a stored generated column and an identity
    // column are computed for every row, so adding one rewrites the table.
    assert_eq!(
        pg("ALTER TABLE t ADD COLUMN c text GENERATED ALWAYS AS (lower(a)) STORED;"),
        ["volatile-default"]
    );
    assert_eq!(
        pg("ALTER TABLE t ADD COLUMN c bigint GENERATED ALWAYS AS IDENTITY;"),
        ["volatile-default"]
    );
    // sqlparser's PostgreSQL grammar predates PostgreSQL 18's virtual columns: a note, never a
    // rewrite.
    assert_eq!(
        pg("ALTER TABLE t ADD COLUMN c text GENERATED ALWAYS AS (lower(a)) VIRTUAL;"),
        ["unparsed-statement"]
    );
    assert_eq!(
        up(
            Dialect::Sqlite,
            "ALTER TABLE t ADD COLUMN c text GENERATED ALWAYS AS (lower(a)) STORED;"
        ),
        ["sqlite-alter-unsupported"]
    );
    let mut old = Options::new(Dialect::Postgres);
    old.postgres_version = 10;
    let f = run_with(
        &old,
        &["-- kiln:upgrade\nSET lock_timeout = '1s';\nALTER TABLE t ADD COLUMN c int DEFAULT 0;\n"],
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, "volatile-default");
    assert!(f[0].message.contains("PostgreSQL 10"), "{}", f[0].message);
    assert_eq!(
        pg("ALTER TABLE t ALTER COLUMN a TYPE bigint;"),
        ["column-type-change"]
    );
}

#[test]
fn renames_and_drops() {
    assert_eq!(pg("ALTER TABLE t RENAME COLUMN a TO b;"), ["rename-column"]);
    assert_eq!(pg("ALTER TABLE t RENAME TO u;"), ["rename-table"]);
    let drop_col = "-- kiln:upgrade\nSET lock_timeout = '1s';\nALTER TABLE t DROP COLUMN a;\n-- kiln:downgrade\nALTER TABLE t ADD COLUMN a text;\n";
    assert_eq!(run(Dialect::Postgres, &[drop_col]), ["drop-column"]);
    let drop_table = "-- kiln:upgrade\nSET lock_timeout = '1s';\nDROP TABLE t;\n-- kiln:downgrade\nCREATE TABLE t (id bigint);\n";
    assert_eq!(run(Dialect::Postgres, &[drop_table]), ["drop-table"]);
}

#[test]
fn type_preferences() {
    assert_eq!(
        pg("CREATE TABLE n (id int PRIMARY KEY, s varchar(10), c char(2), at timestamp);"),
        [
            "prefer-bigint-pk",
            "prefer-text",
            "prefer-text",
            "prefer-timestamptz"
        ]
    );
    assert_eq!(
        pg("CREATE TABLE n (id serial PRIMARY KEY);"),
        ["prefer-bigint-pk"]
    );
    assert!(pg("CREATE TABLE n (id bigint PRIMARY KEY, s text, v varchar, at timestamptz, b timestamp with time zone);").is_empty());
}

#[test]
fn robust_statements_only_matter_without_a_transaction() {
    assert!(pg("CREATE TABLE n (id bigint);").is_empty());
    assert_eq!(
        pg_notx(
            "CREATE TABLE n (id bigint);\nALTER TABLE t ADD COLUMN c text;\nDROP TABLE IF EXISTS m;"
        ),
        [
            "prefer-robust-stmts",
            "prefer-robust-stmts",
            "destructive-without-downgrade",
            "drop-table"
        ]
    );
}

#[test]
fn transaction_control_inside_a_transactional_revision() {
    assert_eq!(
        pg("BEGIN;\nSELECT 1;\nCOMMIT;"),
        ["nested-transaction", "nested-transaction"]
    );
    assert!(pg_notx("BEGIN;\nSELECT 1;\nCOMMIT;").is_empty());
    assert_eq!(
        up(Dialect::Sqlite, "BEGIN;\nSELECT 1;\nCOMMIT;"),
        ["nested-transaction", "nested-transaction"]
    );
}

#[test]
fn lock_timeout_is_wanted_before_the_first_lock_once() {
    let f = up(
        Dialect::Postgres,
        "ALTER TABLE t ADD COLUMN c text;\nALTER TABLE t ADD COLUMN d text;",
    );
    assert_eq!(f, ["lock-timeout"]);
    assert!(
        up(
            Dialect::Postgres,
            "SET LOCAL lock_timeout = '1s';\nALTER TABLE t ADD COLUMN c text;"
        )
        .is_empty()
    );
    assert!(
        up(
            Dialect::Postgres,
            "CREATE TABLE n (id bigint);\nCREATE INDEX i ON n (id);"
        )
        .is_empty()
    );
}

/// Found comparing with squawk on lemmy's history: a new table whose foreign key references an
/// existing table locks that table (SHARE ROW EXCLUSIVE), and DROP VIEW locks the view (ACCESS
/// EXCLUSIVE); both wait behind running queries.
#[test]
fn new_tables_referencing_existing_ones_and_dropped_views_want_a_lock_timeout() {
    let refs = [
        "CREATE TABLE n (id bigint PRIMARY KEY, u bigint REFERENCES users (id));",
        "CREATE TABLE n (id bigint PRIMARY KEY, u bigint, FOREIGN KEY (u) REFERENCES users);",
        "DROP VIEW user_view CASCADE;",
        "DROP MATERIALIZED VIEW user_mview;",
    ];
    for sql in refs {
        assert_eq!(up(Dialect::Postgres, sql), ["lock-timeout"], "{sql}");
    }
    // A table new in the revision, or itself, is no one's to wait for.
    let quiet = [
        "CREATE TABLE a (id bigint PRIMARY KEY);\nCREATE TABLE b (id bigint PRIMARY KEY, a bigint REFERENCES a);",
        "CREATE TABLE tree (id bigint PRIMARY KEY, parent bigint REFERENCES tree (id));",
        "SET lock_timeout = '1s';\nCREATE TABLE n (id bigint PRIMARY KEY, u bigint REFERENCES users (id));",
    ];
    for sql in quiet {
        assert!(up(Dialect::Postgres, sql).is_empty(), "{sql}");
    }
}

#[test]
fn a_table_new_in_the_revision_or_a_draft_is_exempt_from_lock_rules() {
    assert!(pg("CREATE TABLE n (id bigint, a text);\nCREATE INDEX i ON n (a);\nALTER TABLE n ALTER COLUMN a SET NOT NULL;").is_empty());
    let later = "-- kiln:upgrade\nCREATE INDEX i ON t (a);\nALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id);\n";
    // The table comes from a draft: nobody uses it yet.
    let draft = format!("-- draft\n{PREV}");
    assert!(run(Dialect::Postgres, &[&draft, later]).is_empty());
    // From a locked revision: deployed, so the locks hurt.
    assert_eq!(
        run(Dialect::Postgres, &[PREV, later]),
        [
            "lock-timeout",
            "require-concurrent-index",
            "foreign-key-not-valid"
        ]
    );
}

#[test]
fn mixed_ddl_and_data() {
    assert_eq!(
        pg("ALTER TABLE t ADD COLUMN c text;\nUPDATE t SET c = a;"),
        ["mixed-ddl-and-data"]
    );
    assert!(pg("UPDATE t SET a = b;").is_empty());
}

#[test]
fn destructive_upgrades_need_a_real_downgrade() {
    let no_down = "-- kiln:upgrade\nSET lock_timeout = '1s';\nALTER TABLE t DROP COLUMN a;\n";
    assert_eq!(
        run(Dialect::Postgres, &[no_down]),
        ["destructive-without-downgrade", "drop-column"]
    );
    let empty = format!("{no_down}-- kiln:downgrade\n");
    assert_eq!(
        run(Dialect::Postgres, &[&empty]),
        ["destructive-without-downgrade", "drop-column"]
    );
    let wrong = format!("{no_down}-- kiln:downgrade\nALTER TABLE t ADD COLUMN b text;\n");
    assert_eq!(
        run(Dialect::Postgres, &[&wrong]),
        ["drop-column", "downgrade-misses-column"]
    );
}

#[test]
fn renaming_or_dropping_what_the_previous_revision_used_is_two_phase() {
    let rename = "-- kiln:upgrade\nSET lock_timeout = '1s';\nALTER TABLE t RENAME COLUMN a TO z;\n";
    assert_eq!(
        run(Dialect::Postgres, &[PREV, rename]),
        ["two-phase-column-change"]
    );
    let backfill = "-- kiln:upgrade\nUPDATE t SET b = a;\n";
    let drop = "-- kiln:upgrade\nSET lock_timeout = '1s';\nALTER TABLE t DROP COLUMN b;\n-- kiln:downgrade\nALTER TABLE t ADD COLUMN b text;\n";
    assert_eq!(
        run(Dialect::Postgres, &[PREV, backfill, drop]),
        ["two-phase-column-change"]
    );
    // A column the parent never touched: an ordinary rename.
    let other = "-- kiln:upgrade\nSET lock_timeout = '1s';\nALTER TABLE t RENAME COLUMN q TO z;\n";
    assert_eq!(run(Dialect::Postgres, &[PREV, other]), ["rename-column"]);
}

#[test]
fn mysql_copies_refusals_and_implicit_commits() {
    let my = |sql: &str| up(Dialect::MySql, sql);
    assert_eq!(
        my("ALTER TABLE t MODIFY COLUMN a BIGINT;"),
        ["column-type-change"]
    );
    assert_eq!(
        my("ALTER TABLE t MODIFY COLUMN a BIGINT, ALGORITHM=INPLACE, LOCK=NONE;"),
        ["column-type-change", "mysql-lock-none-impossible"]
    );
    assert_eq!(
        my("ALTER TABLE t DROP PRIMARY KEY, LOCK=NONE;"),
        ["mysql-table-copy", "mysql-lock-none-impossible"]
    );
    assert!(my("ALTER TABLE t ADD COLUMN c INT, ALGORITHM=INSTANT;").is_empty());
    assert_eq!(
        my("ALTER TABLE t ADD INDEX i (a), ALGORITHM=INPLACE, LOCK=NONE;").len(),
        0
    );
    assert_eq!(
        my("ALTER TABLE t ADD COLUMN c INT, ALGORITHM=COPY;"),
        ["mysql-table-copy"]
    );
    assert_eq!(
        my("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id);"),
        ["foreign-key-not-valid"]
    );
    assert_eq!(my("ALTER TABLE t CHANGE a b INT;"), ["rename-column"]);
    assert_eq!(
        my("CREATE TABLE n (id INT AUTO_INCREMENT PRIMARY KEY);\nCREATE INDEX i ON n (id);"),
        ["prefer-bigint-pk", "mysql-implicit-commit"]
    );
    assert!(my("CREATE TABLE n (id BIGINT PRIMARY KEY);").is_empty());
}

#[test]
fn sqlite_alter_forms_foreign_keys_and_pragmas() {
    let lite = |sql: &str| up(Dialect::Sqlite, sql);
    assert_eq!(
        lite("ALTER TABLE t ALTER COLUMN a SET DEFAULT 1;"),
        ["sqlite-alter-unsupported"]
    );
    assert_eq!(
        lite("ALTER TABLE t ADD COLUMN c INTEGER NOT NULL;"),
        ["sqlite-alter-unsupported"]
    );
    assert_eq!(
        lite("ALTER TABLE t ADD COLUMN c INTEGER UNIQUE;"),
        ["sqlite-alter-unsupported"]
    );
    assert!(lite("ALTER TABLE t ADD COLUMN c INTEGER NOT NULL DEFAULT 0;").is_empty());
    assert!(lite("ALTER TABLE t RENAME COLUMN a TO b;") == ["rename-column"]);
    assert_eq!(
        lite("CREATE TABLE c (id INTEGER PRIMARY KEY, t_id INTEGER REFERENCES t (id));"),
        ["sqlite-foreign-keys-off"]
    );
    assert_eq!(
        lite("PRAGMA foreign_keys = ON;"),
        ["sqlite-pragma-in-transaction"]
    );
    assert!(lite("PRAGMA user_version = 3;").is_empty());
    let notx = run(
        Dialect::Sqlite,
        &["-- kiln:transaction false\n-- kiln:upgrade\nPRAGMA foreign_keys = OFF;\n"],
    );
    assert!(notx.is_empty(), "{notx:?}");
}

#[test]
fn waivers_silence_one_statement_or_the_revision_and_need_a_reason() {
    let stmt = "-- kiln:allow require-concurrent-index the table has ten rows\nCREATE INDEX i ON t (a);\nCREATE INDEX j ON t (b);";
    assert_eq!(pg(stmt), ["require-concurrent-index"]);
    let whole = "-- kiln:allow require-concurrent-index small table\n-- kiln:upgrade\nSET lock_timeout = '1s';\nCREATE INDEX i ON t (a);\nCREATE INDEX j ON t (b);\n";
    assert!(run(Dialect::Postgres, &[whole]).is_empty());
    let f = run_with(
        &Options::new(Dialect::Postgres),
        &[
            "-- kiln:upgrade\nSET lock_timeout = '1s';\n-- kiln:allow require-concurrent-index\nCREATE INDEX i ON t (a);\n",
        ],
    );
    let rules: Vec<_> = f.iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["invalid-waiver", "require-concurrent-index"]);
    assert_eq!(
        f[0].message,
        "waiver of `require-concurrent-index` gives no reason"
    );
    assert_eq!((f[0].line, f[0].column), (4, 1));
    assert_eq!(pg("-- kiln:allow nope why\nSELECT 1;"), ["invalid-waiver"]);
}

/// `[lint]` of a kiln.toml, as kiln-core reads it.
fn lint_config(toml: &str) -> kiln_core::config::LintConfig {
    let rules = kiln_lint::rule_ids();
    kiln_core::config::Config::parse_with_rules("kiln.toml", toml, &rules)
        .unwrap()
        .lint
}

#[test]
fn kiln_toml_levels_raise_lower_and_silence_rules() {
    let file = "-- kiln:upgrade\nSET lock_timeout = '1s';\n-- kiln:allow nope\nCREATE INDEX i ON t (a);\nCREATE TABLE n (id bigint PRIMARY KEY, s varchar(9));\nDROP TABLE old;\n-- kiln:downgrade\nCREATE TABLE old (id bigint PRIMARY KEY);\nDROP TABLE n;\n";
    let levels = |toml: &str| -> Vec<(&'static str, Severity)> {
        let opts = Options::new(Dialect::Postgres).with_config(&lint_config(toml));
        run_with(&opts, &[file])
            .iter()
            .map(|f| (f.rule, f.severity))
            .collect()
    };
    use Severity::{Error, Note, Warning};
    assert_eq!(
        levels(""),
        [
            ("invalid-waiver", Error),
            ("require-concurrent-index", Error),
            ("prefer-text", Note),
            ("drop-table", Warning)
        ]
    );
    assert_eq!(
        levels(
            "[lint]\ndeny = [\"drop-table\"]\nwarn = [\"require-concurrent-index\", \"invalid-waiver\"]\nallow = [\"prefer-text\"]\n"
        ),
        [
            ("invalid-waiver", Error),
            ("require-concurrent-index", Warning),
            ("drop-table", Error)
        ],
        "invalid-waiver keeps its level: a malformed waiver is never a matter of taste"
    );
    // A waiver still excuses one reviewed statement of a denied rule.
    let denied = Options::new(Dialect::Postgres).with_config(&lint_config(
        "[lint]\ndeny = [\"require-concurrent-index\"]\n",
    ));
    let waived = "-- kiln:upgrade\nSET lock_timeout = '1s';\n-- kiln:allow require-concurrent-index ten rows\nCREATE INDEX i ON t (a);\n";
    assert!(run_with(&denied, &[waived]).is_empty());
    let unwaived = waived.replace("-- kiln:allow require-concurrent-index ten rows\n", "");
    assert_eq!(
        run_with(&denied, &[&unwaived])
            .iter()
            .map(|f| (f.rule, f.severity))
            .collect::<Vec<_>>(),
        [("require-concurrent-index", Error)]
    );
    let opts = Options::new(Dialect::Postgres).with_config(&lint_config(
        "[lint]\ndeny = [\"drop-table\", \"set-not-null\"]\npostgres_version = 10\n",
    ));
    assert_eq!(
        opts.denied().collect::<Vec<_>>(),
        ["drop-table", "set-not-null"]
    );
    assert_eq!(opts.postgres_version, 10);
    assert_eq!(
        kiln_lint::rule_ids().len(),
        kiln_lint::RULES.len(),
        "kiln.toml accepts every rule id"
    );
}

#[test]
fn a_finding_as_a_compile_error_names_the_file_line_rule_and_help() {
    let f = run_with(
        &Options::new(Dialect::Postgres),
        &["-- kiln:upgrade\nSET lock_timeout = '1s';\nCREATE INDEX i ON t (a);\n"],
    );
    assert_eq!(
        kiln_lint::render::compile_error(&f[0]),
        format!(
            "migrations/r0.sql:4: error[require-concurrent-index]: CREATE INDEX on `t` without CONCURRENTLY (revision r0)\n     4 | CREATE INDEX i ON t (a);\n  note: {}\n  help: {}\n  waive: -- kiln:allow require-concurrent-index <reason>",
            f[0].note, f[0].help
        )
    );
}

#[test]
fn findings_carry_revision_file_line_and_column() {
    let f = run_with(
        &Options::new(Dialect::Postgres),
        &[
            "-- a comment\n-- kiln:upgrade\nSET lock_timeout = '1s';\n\n  CREATE INDEX i\n    ON t (a);\n",
        ],
    );
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(f.revision, "r0");
    assert_eq!(f.path, "migrations/r0.sql");
    assert_eq!((f.line, f.column, f.len), (6, 10, 5));
    assert_eq!(f.source_line, "  CREATE INDEX i");
}

#[test]
fn unparsed_statements_are_visible() {
    let f = pg("CREATE FROBNICATOR x;");
    assert_eq!(f, ["unparsed-statement"]);
    // Found on supabase/auth: a comment on an index is harmless, whatever the parser knows.
    assert!(pg("COMMENT ON INDEX auth.users_email_partial_key IS 'Auth: partial';").is_empty());
}

#[test]
fn every_rule_is_documented() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/lint.md")).unwrap();
    for r in kiln_lint::RULES {
        assert!(
            doc.contains(&format!("### `{}`", r.id)),
            "{} is not in docs/lint.md",
            r.id
        );
        assert!(
            doc.contains(r.note),
            "the note of {} differs from docs/lint.md",
            r.id
        );
    }
}
