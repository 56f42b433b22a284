//! `kiln lint`: scope, dialect, the three output forms (human and SARIF pinned in
//! `tests/lint/`), exit codes, and a run over the repository's sample `migrations/`.
//! `KILN_BLESS=1` rewrites the pinned files; read the diff before committing it.

mod common;

use common::{Rev, Sandbox, text};
use std::path::Path;

/// A locked base that creates `users`, then a draft that locks it three ways, one of them
/// waived, and one waiver without a reason.
fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.write("kiln.toml", "dialect = \"postgres\"\n");
    sb.revision(&Rev::new("aa11", "", "create users").sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);",
        Some("DROP TABLE users;"),
    ));
    let out = sb.kiln().arg("lock").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    sb.revision(&Rev::new("bb22", "aa11", "index users").sql(
        "SET lock_timeout = '2s';\n\
         CREATE INDEX users_email ON users (email);\n\
         -- kiln:allow set-not-null users has 40 rows and is read once a day\n\
         ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n\
         -- kiln:allow volatile-default\n\
         ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
        Some("DROP INDEX users_email;\nALTER TABLE users DROP COLUMN token;"),
    ));
    sb
}

fn pinned(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lint")
        .join(name);
    if std::env::var_os("KILN_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(actual, expected, "{name} differs; KILN_BLESS=1 rewrites it");
}

#[test]
fn human_output_is_pinned_and_errors_exit_9() {
    let sb = sandbox();
    let out = sb.kiln().arg("lint").output().unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    pinned("human.txt", &text(&out.stdout));
}

#[test]
fn sarif_output_is_pinned() {
    let sb = sandbox();
    let out = sb
        .kiln()
        .args(["lint", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(9));
    let stdout = text(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().all(|r| {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        v["runs"][0]["tool"]["driver"]["rules"][i]["id"] == r["ruleId"]
    }));
    pinned("sarif.json", &stdout);
}

#[test]
fn json_lists_every_finding_with_its_place() {
    let sb = sandbox();
    let out = sb
        .kiln()
        .args(["lint", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let rules: Vec<(&str, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        rules,
        [
            ("require-concurrent-index", 7),
            ("invalid-waiver", 10),
            ("volatile-default", 11),
            // Downgrades are linted for locks too.
            ("require-concurrent-index-drop", 14)
        ]
    );
    assert_eq!(v[0]["revision"], "bb22");
    assert_eq!(v[0]["path"], "migrations/bb22_index_users.sql");
    assert_eq!(v[0]["column"], 8);
}

#[test]
fn scope_is_drafts_by_default_and_all_rev_or_range_on_request() {
    let sb = sandbox();
    let ids = |args: &[&str]| -> Vec<String> {
        let out = sb
            .kiln()
            .arg("lint")
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["revision"].as_str().unwrap().to_owned())
            .collect();
        ids.dedup();
        ids
    };
    // The locked base creates a table without a lock_timeout: only --all, aa11 or a range
    // that holds it show that it was looked at (it has no finding), so check bb22's presence.
    assert_eq!(ids(&[]), ["bb22"]);
    assert_eq!(ids(&["aa11"]), Vec::<String>::new());
    assert_eq!(ids(&["--all"]), ["bb22"]);
    assert_eq!(ids(&["aa11:head"]), ["bb22"]);
    assert_eq!(ids(&["bb22"]), ["bb22"]);
    let out = sb.kiln().args(["lint", "aa11"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("no findings (1 revision linted)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn nothing_to_lint_and_usage_errors() {
    let sb = Sandbox::new();
    sb.revision(&Rev::new("aa11", "", "base"));
    let out = sb.kiln().arg("lint").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("kiln: kiln lint needs to know the SQL dialect"),
        "{err}"
    );
    assert!(err.contains("--dialect"), "{err}");
    let out = sb
        .kiln()
        .args(["lint", "--dialect", "sqlite", "current:head"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = sb
        .kiln()
        .args(["lint", "--dialect", "sqlite", "zz99"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    sb.kiln().arg("lock").output().unwrap();
    let out = sb
        .kiln()
        .args(["lint", "--dialect", "sqlite"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("nothing to lint: every revision is locked"));
    // The dialect from the database URL's scheme, without connecting.
    let out = sb
        .kiln()
        .args([
            "lint",
            "--all",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn the_sample_migrations_lint_clean_of_errors_on_every_engine() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dialect in ["postgres", "mysql", "sqlite"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
            .current_dir(&repo)
            .env_remove("DATABASE_URL")
            .env_remove("KILN_DIR")
            .args(["lint", "--all", "--format", "json", "--dialect", dialect])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{dialect}: {}",
            text(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
        let mut rules: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap())
            .collect();
        rules.sort();
        rules.dedup();
        let expected: &[&str] = match dialect {
            // INTEGER keys, VARCHAR(n) columns, and the ALTER in c3d4 with no lock_timeout.
            "postgres" => &["lock-timeout", "prefer-bigint-pk", "prefer-text"],
            // b2c3 creates a table and its index: two implicit commits.
            "mysql" => &["mysql-implicit-commit", "prefer-bigint-pk"],
            // notes.user_id REFERENCES users: a note that enforcement is per connection.
            _ => &["sqlite-foreign-keys-off"],
        };
        assert_eq!(rules, expected, "{dialect}");
    }
}

#[test]
fn check_lints_the_drafts_and_ranks_lint_errors_below_the_rest() {
    let sb = sandbox();
    let out = sb.kiln().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("lint: 4 findings in 1 draft (3 errors); `kiln lint` shows them"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("kiln: 3 lint errors in draft revisions"));
    // Drafts refused by --locked (5) outrank lint errors.
    let out = sb.kiln().args(["check", "--locked"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    let out = sb.kiln().args(["check", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["lint"]["errors"], 3);
    assert_eq!(v["exit_code"], 9);
    // Locked: nothing to lint, check passes.
    sb.kiln().arg("lock").output().unwrap();
    let out = sb.kiln().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("lint:"));
}

/// A locked base and a draft whose only finding is a note (`prefer-text`) and, on PostgreSQL 10,
/// an error (`volatile-default`: before 11 any default rewrites the table).
fn levels_sandbox(toml: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.write("kiln.toml", &format!("dialect = \"postgres\"\n{toml}"));
    sb.revision(&Rev::new("aa11", "", "create users").sql(
        "CREATE TABLE users (id bigint PRIMARY KEY);",
        Some("DROP TABLE users;"),
    ));
    let out = sb.kiln().arg("lock").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    sb.revision(&Rev::new("bb22", "aa11", "nick").sql(
        "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN nick varchar(40) DEFAULT 'x';",
        Some("ALTER TABLE users DROP COLUMN nick;"),
    ));
    sb
}

/// `(exit code, [(severity, rule)])` of `kiln lint --format json` with `args` and `vars`.
fn lint_json(sb: &Sandbox, args: &[&str], vars: &[(&str, &str)]) -> (i32, Vec<(String, String)>) {
    let mut cmd = sb.kiln();
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd
        .arg("lint")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout))
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    let found = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_owned(),
                f["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (out.status.code().unwrap(), found)
}

fn pair(severity: &str, rule: &str) -> (String, String) {
    (severity.to_owned(), rule.to_owned())
}

#[test]
fn kiln_toml_denies_warns_and_allows_rules() {
    let note = levels_sandbox("");
    assert_eq!(
        lint_json(&note, &[], &[]),
        (0, vec![pair("note", "prefer-text")])
    );
    let denied = levels_sandbox("[lint]\ndeny = [\"prefer-text\"]\n");
    assert_eq!(
        lint_json(&denied, &[], &[]),
        (9, vec![pair("error", "prefer-text")]),
        "a denied rule's finding is an error and fails the run"
    );
    let out = denied.kiln().arg("lint").output().unwrap();
    assert_eq!(out.status.code(), Some(9));
    assert!(
        text(&out.stdout).starts_with("error[prefer-text]: `nick` is VARCHAR(40); prefer text"),
        "{}",
        text(&out.stdout)
    );
    let out = denied.kiln().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(9), "check honours deny too");
    let warned = levels_sandbox("[lint]\nwarn = [\"prefer-text\"]\n");
    assert_eq!(
        lint_json(&warned, &[], &[]),
        (0, vec![pair("warning", "prefer-text")])
    );
    let allowed = levels_sandbox("[lint]\nallow = [\"prefer-text\"]\n");
    assert_eq!(lint_json(&allowed, &[], &[]), (0, vec![]));
    // An error-level rule lowered to a warning no longer fails the run.
    let lowered = levels_sandbox("[lint]\nwarn = [\"volatile-default\"]\npostgres_version = 10\n");
    assert_eq!(
        lint_json(&lowered, &[], &[]),
        (
            0,
            vec![
                pair("note", "prefer-text"),
                pair("warning", "volatile-default")
            ]
        )
    );
}

#[test]
fn postgres_version_comes_from_flag_env_kiln_toml_then_default() {
    let v10 = (
        9,
        vec![
            pair("note", "prefer-text"),
            pair("error", "volatile-default"),
        ],
    );
    let v16 = (0, vec![pair("note", "prefer-text")]);
    let sb = levels_sandbox("");
    assert_eq!(lint_json(&sb, &[], &[]), v16, "default 16");
    let sb = levels_sandbox("[lint]\npostgres_version = 10\n");
    assert_eq!(lint_json(&sb, &[], &[]), v10, "kiln.toml");
    let env = [("KILN_POSTGRES_VERSION", "16")];
    assert_eq!(lint_json(&sb, &[], &env), v16, "env over kiln.toml");
    sb.write(".env", "KILN_POSTGRES_VERSION=16\n");
    assert_eq!(lint_json(&sb, &[], &[]), v16, ".env over kiln.toml");
    let flag = ["--postgres-version", "10"];
    assert_eq!(lint_json(&sb, &flag, &env), v10, "flag over env");
    let out = sb
        .kiln()
        .env("KILN_POSTGRES_VERSION", "sixteen")
        .arg("lint")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "KILN_POSTGRES_VERSION is `sixteen`, which is not a PostgreSQL major version"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unknown_rules_in_kiln_toml_stop_every_command_at_their_line() {
    let sb = levels_sandbox("");
    sb.write(
        "kiln.toml",
        "dialect = \"postgres\"\n[lint]\ndeny = [\n  \"drop-table\",\n  \"prefer-txt\",\n]\n",
    );
    for cmd in ["lint", "check", "heads"] {
        let out = sb.kiln().arg(cmd).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{cmd}");
        let err = text(&out.stderr);
        assert!(
            err.contains("kiln.toml:5: unknown lint rule `prefer-txt` in kiln.toml's `lint.deny`\n     5 |   \"prefer-txt\",\n  help: did you mean `prefer-text`?"),
            "{cmd}: {err}"
        );
    }
}
