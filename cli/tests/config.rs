//! One configuration for every command: kiln.toml (found walking up from the working
//! directory), `KILN_*` variables from the environment and `./.env`, flags, and `kiln config`,
//! which says where each setting came from.
//!
//! The PostgreSQL tests get their own database from `kiln_testing::TestDb` (the `ops` schema
//! lives and dies with it); outside CI an unreachable server makes them pass without running.

mod common;

use common::{Sandbox, ok, run, text};
use kiln_testing::TestDb;

/// Runs `kiln` in `dir` (a directory inside the sandbox) with extra variables.
fn kiln_in(sb: &Sandbox, rel: &str, vars: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut c = sb.kiln();
    c.current_dir(sb.path().join(rel));
    for (k, v) in vars {
        c.env(k, v);
    }
    let out = c.args(args).output().expect("run kiln");
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// The value and source `kiln config --json` reports for `key`.
fn setting(sb: &Sandbox, vars: &[(&str, &str)], args: &[&str], key: &str) -> (String, String) {
    let mut all = vec!["config", "--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = kiln_in(sb, "", vars, &all);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let s = &v["settings"][key];
    (
        s["value"].as_str().unwrap_or("null").to_owned(),
        s["source"].as_str().unwrap_or("?").to_owned(),
    )
}

/// The bug this file exists for: after `upgrade --schema ops`, a plain `kiln current` looked in
/// the connection's schema, said nothing was applied and advised re-running everything. With the
/// schema in kiln.toml every command finds the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn schema_from_kiln_toml_reaches_every_command_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let sb = Sandbox::new();
    sb.standard();
    sb.write("kiln.toml", "schema = \"ops\"\n");
    ok(&sb, db.url(), &["upgrade", "heads", "--schema", "ops"]);
    let (code, stdout, stderr) = run(&sb, db.url(), &["current"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("ee55 (head)"), "{stdout}{stderr}");
    assert!(!stderr.contains("upgrade heads"), "{stderr}");
    // The state really is in `ops`: the connection's own schema has none of it.
    let (_, public, _) = run(&sb, db.url(), &["current", "--schema", "public"]);
    assert_eq!(public.trim(), "");
    let (code, _, stderr) = run(&sb, db.url(), &["check"]);
    assert_eq!(code, 0, "{stderr}");
    db.drop_database().await.unwrap();
}

/// The same with `KILN_SCHEMA`, from the environment and from `./.env`.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn kiln_schema_variable_reaches_every_command_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let sb = Sandbox::new();
    sb.standard();
    ok(&sb, db.url(), &["upgrade", "heads", "--schema", "ops"]);
    let vars = [("DATABASE_URL", db.url()), ("KILN_SCHEMA", "ops")];
    let (code, stdout, stderr) = kiln_in(&sb, "", &vars, &["current"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("ee55 (head)"), "{stdout}{stderr}");
    assert!(!stderr.contains("upgrade heads"), "{stderr}");
    sb.write(".env", "KILN_SCHEMA=ops\n");
    let (code, stdout, stderr) = run(&sb, db.url(), &["current"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("ee55 (head)"), "{stdout}{stderr}");
    db.drop_database().await.unwrap();
}

/// Flags beat the environment, which beats `./.env`, which beats kiln.toml, which beats the
/// default; and each layer is reported as the source.
#[test]
fn precedence_is_flag_env_dotenv_file_default() {
    let sb = Sandbox::new();
    let key = "version_table";
    assert_eq!(
        setting(&sb, &[], &[], key),
        ("kiln_version".into(), "default".into())
    );
    sb.write("kiln.toml", "version_table = \"from_file\"\n");
    assert_eq!(
        setting(&sb, &[], &[], key),
        ("from_file".into(), "kiln.toml".into())
    );
    sb.write(".env", "KILN_VERSION_TABLE=from_dotenv\n");
    assert_eq!(
        setting(&sb, &[], &[], key),
        ("from_dotenv".into(), "dotenv".into())
    );
    let env = [("KILN_VERSION_TABLE", "from_env")];
    assert_eq!(
        setting(&sb, &env, &[], key),
        ("from_env".into(), "env".into())
    );
    let flag = ["--version-table", "from_flag"];
    assert_eq!(
        setting(&sb, &env, &flag, key),
        ("from_flag".into(), "flag".into())
    );
    // An empty variable counts as unset.
    let empty = [("KILN_VERSION_TABLE", "")];
    assert_eq!(
        setting(&sb, &empty, &[], key),
        ("from_dotenv".into(), "dotenv".into())
    );
}

/// The URL's variable can be renamed in kiln.toml, so the file never holds the password; the
/// renamed variable is read from the environment and from `./.env`.
#[test]
fn database_url_env_names_the_variable() {
    let sb = Sandbox::new();
    sb.write("kiln.toml", "database_url_env = \"APP_DB\"\n");
    let url = sb.sqlite_url("app.db");
    let vars = [("APP_DB", url.as_str())];
    assert_eq!(
        setting(&sb, &vars, &[], "database_url"),
        (url.clone(), "env".into())
    );
    sb.write(".env", &format!("APP_DB={url}\n"));
    assert_eq!(
        setting(&sb, &[], &[], "database_url"),
        (url, "dotenv".into())
    );
    // DATABASE_URL is not consulted once another variable is named.
    let other = [("DATABASE_URL", "sqlite::memory:")];
    assert_eq!(setting(&sb, &other, &[], "database_url").1, "dotenv");
}

/// kiln.toml's settings change what a run does, not only what `config` prints: the tables land
/// under kiln.toml's names, and plain commands find them.
#[test]
fn kiln_toml_tables_are_used_by_runs_on_sqlite() {
    let sb = Sandbox::new();
    sb.standard();
    let url = sb.sqlite_url("t.db");
    sb.write(
        "kiln.toml",
        &format!("database_url = \"{url}\"\nversion_table = \"app_versions\"\naudit_table = \"app_audit\"\napp_version = \"9.9\"\n"),
    );
    let (code, _, stderr) = kiln_in(&sb, "", &[], &["upgrade", "heads"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, stdout, _) = kiln_in(&sb, "", &[], &["current"]);
    assert!(stdout.starts_with("ee55 (head)"), "{stdout}");
    // Under the default names there is nothing: the state really is in app_versions.
    let (_, stdout, _) = kiln_in(
        &sb,
        "",
        &[],
        &["current", "--version-table", "kiln_version"],
    );
    assert_eq!(stdout.trim(), "");
    let (code, stdout, stderr) = kiln_in(&sb, "", &[], &["audit", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"9.9\""), "{stdout}");
}

/// kiln.toml is found from a subdirectory, and its `dir` is relative to the file, not to the
/// working directory.
#[test]
fn kiln_toml_is_found_walking_up_from_a_subdirectory() {
    let sb = Sandbox::empty();
    sb.write("db/migrations/.keep", "");
    std::fs::remove_file(sb.path().join("db/migrations/.keep")).unwrap();
    sb.write("kiln.toml", "dir = \"db/migrations\"\nschema = \"ops\"\n");
    sb.write("src/deep/.keep", "");
    let (code, _, stderr) = kiln_in(&sb, "src/deep", &[], &["revision", "-m", "first"]);
    assert_eq!(code, 0, "{stderr}");
    let files = std::fs::read_dir(sb.path().join("db/migrations"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "the revision goes to kiln.toml's directory");
    let (code, stdout, stderr) = kiln_in(&sb, "src/deep", &[], &["config"]);
    assert_eq!(code, 0, "{stderr}");
    let toml = sb.path().join("kiln.toml").display().to_string();
    assert!(
        stdout.contains(&format!(
            "schema                 ops                          {toml}:2"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("kiln.toml              {toml}\n")),
        "{stdout}"
    );
}

/// `kiln config`'s text, pinned: every setting, its value and where it came from, with the
/// password redacted by the runtime's URL owner.
#[test]
fn config_output_is_pinned() {
    let sb = Sandbox::new();
    sb.write(
        "kiln.toml",
        "dialect = \"postgres\"\nschema = \"ops\"\ntransaction = \"all\"\nlock_timeout = 5\nddl_statement_timeout = \"10min\"\n[lint]\ndeny = [\"drop-table\", \"set-not-null\"]\nallow = [\"prefer-text\"]\n",
    );
    sb.write(".env", "KILN_AUDIT_TABLE=trail\n");
    let vars = [
        ("DATABASE_URL", "postgres://app:s3cr3t@db.internal/app"),
        ("KILN_IO_TIMEOUT", "0"),
        ("KILN_DDL_LOCK_TIMEOUT", "200ms"),
        ("KILN_POSTGRES_VERSION", "12"),
    ];
    let (code, stdout, stderr) = kiln_in(&sb, "", &vars, &["config", "--app-version", "x"]);
    assert_eq!(code, 2, "config takes no run flags: {stdout}{stderr}");
    let (code, stdout, stderr) = kiln_in(&sb, "", &vars, &["config", "--version-table", "v"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "\
kiln.toml              kiln.toml
dir                    migrations                   default
database_url_env       DATABASE_URL                 default
database_url           postgres://app:***@db.internal/app env DATABASE_URL
schema                 ops                          kiln.toml:2
version_table          v                            flag --version-table
audit_table            trail                        .env KILN_AUDIT_TABLE
transaction            all                          kiln.toml:3
lock_timeout           5                            kiln.toml:4
lock_mode              auto                         default
io_timeout             0                            env KILN_IO_TIMEOUT
app_version            (none)                       default
ddl_lock_timeout       200ms                        env KILN_DDL_LOCK_TIMEOUT
ddl_statement_timeout  10min                        kiln.toml:5
ddl_retries            0                            default
lint.deny              drop-table,set-not-null      kiln.toml:7
lint.warn              (none)                       default
lint.allow             prefer-text                  kiln.toml:8
lint.postgres_version  12                           env KILN_POSTGRES_VERSION
"
    );
    assert!(!stderr.contains("s3cr3t"));
}

/// A password in kiln.toml (usually committed) is redacted and warned about.
#[test]
fn a_password_in_kiln_toml_is_redacted_and_warned_about() {
    let sb = Sandbox::new();
    sb.write(
        "kiln.toml",
        "database_url = \"postgres://app:hunter22@db/app\"\n",
    );
    let (code, stdout, stderr) = kiln_in(&sb, "", &[], &["config", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("hunter22") && !stderr.contains("hunter22"));
    assert!(stdout.contains("postgres://app:***@db/app"), "{stdout}");
    assert!(
        stderr.contains("kiln.toml:1 holds a database password") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
}

/// A bad kiln.toml stops every command with the file, the line and the fix (exit 3).
#[test]
fn a_bad_kiln_toml_names_file_line_and_fix() {
    let sb = Sandbox::new();
    sb.write(
        "kiln.toml",
        "schema = \"ops\"\nlock_timeout = \"60\"\nshema = \"x\"\n",
    );
    let (code, _, stderr) = kiln_in(&sb, "", &[], &["heads"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("kiln: `kiln.toml` has 2 problems:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kiln.toml:2: kiln.toml key `lock_timeout` must be a whole number of seconds, 0 or more (no quotes), e.g. `lock_timeout = 60`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kiln.toml:3: unknown key `shema` in kiln.toml"),
        "{stderr}"
    );
    assert!(stderr.contains("help: did you mean `schema`?"), "{stderr}");
    // A variable of the wrong type is a usage error naming the variable.
    sb.write("kiln.toml", "");
    let (code, _, stderr) = kiln_in(&sb, "", &[("KILN_LOCK_TIMEOUT", "soon")], &["heads"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("KILN_LOCK_TIMEOUT is `soon`"), "{stderr}");
    let (code, _, stderr) = kiln_in(&sb, "", &[("KILN_LOCK_MODE", "lease")], &["heads"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "KILN_LOCK_MODE is `lease`, which is not `auto`, `session`, `transaction` or `table`"
        ),
        "{stderr}"
    );
    sb.write("kiln.toml", "lock_mode = \"lease\"\n");
    let (code, _, stderr) = kiln_in(&sb, "", &[], &["heads"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("kiln.toml:1: kiln.toml key `lock_mode` must be \"auto\", \"session\", \"transaction\" or \"table\""),
        "{stderr}"
    );
}

/// `lock_mode` is layered like every setting: kiln.toml, then `KILN_LOCK_MODE`.
#[test]
fn lock_mode_comes_from_kiln_toml_or_the_environment() {
    let sb = Sandbox::new();
    sb.write("kiln.toml", "lock_mode = \"transaction\"\n");
    let (code, stdout, stderr) = kiln_in(&sb, "", &[], &["config"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("lock_mode              transaction                  kiln.toml:1"),
        "{stdout}"
    );
    let (code, stdout, stderr) = kiln_in(&sb, "", &[("KILN_LOCK_MODE", "table")], &["config"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("lock_mode              table                        env KILN_LOCK_MODE"),
        "{stdout}"
    );
}
