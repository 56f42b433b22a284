//! The running commands on SQLite, plus what only needs one engine to prove: exit codes for
//! pending, drift, unknown and dirty databases, configuration order, password hygiene,
//! unreachable servers and Ctrl-C.

mod common;

use common::{Rev, Sandbox, ok, run, running_commands, text};

#[test]
fn every_running_command_on_sqlite() {
    let sb = Sandbox::new();
    let url = sb.sqlite_url("app.db");
    running_commands(&sb, &url);
}

#[test]
fn drift_and_unknown_revisions_exit_7() {
    let sb = Sandbox::new();
    sb.standard();
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["upgrade", "heads"]);
    // A draft edited after it ran: the file and the database disagree.
    let p = "migrations/aa11_create_users.sql";
    sb.write(p, &sb.read(p).replace("NOT NULL", "NOT NULL /* edited */"));
    let (code, _, stderr) = run(&sb, &url, &["check"]);
    assert_eq!(code, 7, "{stderr}");
    assert!(
        stderr.contains("revision `aa11` was applied with sha256:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("migrations/aa11_create_users.sql now has sha256:"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&sb, &url, &["upgrade", "heads"]);
    assert_eq!(code, 7, "{stderr}");
    assert!(stderr.contains("was applied with checksum"), "{stderr}");
    let (_, _, stderr) = run(&sb, &url, &["current"]);
    assert!(
        stderr.contains("`aa11` was applied with a different checksum"),
        "{stderr}"
    );

    // A database migrated by a newer directory.
    let sb = Sandbox::new();
    sb.standard();
    let url = sb.sqlite_url("app.db");
    sb.revision(&Rev::new("ff66", "ee55", "newer"));
    ok(&sb, &url, &["upgrade", "heads"]);
    std::fs::remove_file(sb.migrations().join("ff66_newer.sql")).unwrap();
    let (code, _, stderr) = run(&sb, &url, &["check"]);
    assert_eq!(code, 7, "{stderr}");
    assert!(
        stderr.contains("the database has revisions this directory does not know: ff66"),
        "{stderr}"
    );
    assert_eq!(run(&sb, &url, &["check", "--allow-unknown"]).0, 0);
    let (code, _, stderr) = run(&sb, &url, &["upgrade", "heads"]);
    assert_eq!(code, 7, "{stderr}");
    assert_eq!(
        run(&sb, &url, &["upgrade", "heads", "--allow-unknown"]).0,
        0
    );
    assert_eq!(
        ok(&sb, &url, &["current"]),
        "ee55 (head) (mergepoint) (draft), merge name and tags\nff66 (unknown to this directory)\n"
    );
}

#[test]
fn a_failed_statement_exits_4_and_a_dirty_database_exits_8() {
    let sb = Sandbox::new();
    sb.standard();
    let url = sb.sqlite_url("app.db");
    sb.revision(
        &Rev::new("ff66", "ee55", "half done")
            .non_transactional()
            .sql(
                "CREATE TABLE half (id INTEGER);\nINSERT INTO no_such_table VALUES (1);",
                Some("DROP TABLE half;"),
            ),
    );
    let (code, stdout, stderr) = run(&sb, &url, &["upgrade", "heads"]);
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        5,
        "five revisions applied first: {stdout}"
    );
    assert!(
        stderr.contains("upgrade of revision `ff66` failed at ff66_half_done.sql:8: "),
        "{stderr}"
    );
    assert!(stderr.contains("no_such_table"), "{stderr}");
    let (code, _, stderr) = run(&sb, &url, &["check"]);
    assert_eq!(code, 8, "{stderr}");
    assert!(
        stderr.contains("the database is dirty: revision `ff66` stopped part-way"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kiln stamp ff66") && stderr.contains("kiln stamp ee55"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&sb, &url, &["upgrade", "heads"]);
    assert_eq!(code, 8, "{stderr}");
    assert!(stderr.contains("the database is dirty"), "{stderr}");
    // The failure is in the audit trail.
    let failed = ok(&sb, &url, &["audit", "--failed"]);
    assert!(
        failed.contains("ff66") && failed.contains("failed") && failed.contains("error: "),
        "{failed}"
    );
    // Recording the truth clears it.
    ok(&sb, &url, &["stamp", "ee55"]);
    assert_eq!(run(&sb, &url, &["check"]).0, 6);
}

#[test]
fn irreversible_revisions_block_downgrades() {
    let sb = Sandbox::new();
    sb.standard();
    sb.revision(&Rev::new("ff66", "ee55", "backfill").sql("UPDATE users SET email = email;", None));
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["upgrade", "heads"]);
    let (code, _, stderr) = run(&sb, &url, &["downgrade", "base"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("revision `ff66` (ff66_backfill.sql) is irreversible"),
        "{stderr}"
    );
    assert_eq!(
        ok(&sb, &url, &["current"]),
        "ff66 (head) (draft), backfill\n"
    );
}

#[test]
fn database_url_comes_from_flag_then_env_then_dotenv() {
    let sb = Sandbox::new();
    sb.standard();
    let (flag, env, dotenv) = (
        sb.sqlite_url("flag.db"),
        sb.sqlite_url("env.db"),
        sb.sqlite_url("dotenv.db"),
    );
    sb.write(
        ".env",
        &format!("# local settings\nDATABASE_URL={dotenv}\n"),
    );
    // .env alone.
    sb.kiln().args(["upgrade", "aa11"]).assert().success();
    // The environment beats .env.
    sb.kiln()
        .env("DATABASE_URL", &env)
        .args(["upgrade", "bb22"])
        .assert()
        .success();
    // The flag beats both.
    sb.kiln()
        .env("DATABASE_URL", &env)
        .args(["--database-url", &flag, "upgrade", "cc33"])
        .assert()
        .success();
    assert_eq!(
        ok(&sb, &dotenv, &["current"]),
        "aa11 (draft), create users\n"
    );
    assert_eq!(
        ok(&sb, &env, &["current"]),
        "bb22 (branchpoint) (draft), create notes\n"
    );
    assert_eq!(
        ok(&sb, &flag, &["current"]),
        "cc33 (draft), add users name\n"
    );
    let v = ok(&sb, &env, &["current", "-v"]);
    assert!(v.contains("(from env DATABASE_URL)"), "{v}");

    // No URL anywhere: a usage error that says how to configure one.
    std::fs::remove_file(sb.path().join(".env")).unwrap();
    let out = sb.kiln().arg("current").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("kiln: current needs a database, and none is configured"),
        "{err}"
    );
    assert!(err.contains("DATABASE_URL"), "{err}");
}

#[test]
fn passwords_never_appear_in_output() {
    let sb = Sandbox::new();
    sb.standard();
    let secret = "Sup3rS3cretPw";
    let cases: Vec<(Vec<String>, i32)> = vec![
        // Unreachable server, password in the user info and in a parameter.
        (
            vec![
                "--database-url".into(),
                format!("postgres://kiln:{secret}@127.0.0.1:1/db"),
                "current".into(),
            ],
            4,
        ),
        (
            vec![
                "--database-url".into(),
                format!("mysql://kiln@127.0.0.1:1/db?password={secret}"),
                "upgrade".into(),
                "heads".into(),
            ],
            4,
        ),
        // A URL kiln cannot use.
        (
            vec![
                "--database-url".into(),
                format!("oracle://kiln:{secret}@db/x"),
                "current".into(),
            ],
            2,
        ),
        (
            vec![
                "--database-url".into(),
                format!("postgres://kiln:{secret}@127.0.0.1:1/db"),
                "upgrade".into(),
                "heads".into(),
                "--sql".into(),
                "--dialect".into(),
                "sqlite".into(),
            ],
            0,
        ),
        // clap echoing an unexpected argument back.
        (
            vec![
                "current".into(),
                format!("postgres://kiln:{secret}@host/db"),
            ],
            2,
        ),
        // Percent-encoded.
        (
            vec![
                "--database-url".into(),
                format!("postgres://kiln:{secret}%21@127.0.0.1:1/db"),
                "check".into(),
            ],
            4,
        ),
    ];
    for (args, code) in cases {
        let out = sb.kiln().args(&args).output().unwrap();
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{args:?}: {all}");
        assert!(!all.contains(secret), "{args:?} leaked the password: {all}");
        if code != 0 {
            assert!(all.contains("***"), "{args:?}: {all}");
        }
    }
    // From DATABASE_URL and from .env.
    let out = sb
        .kiln()
        .env(
            "DATABASE_URL",
            format!("postgres://kiln:{secret}@127.0.0.1:1/db"),
        )
        .args(["current", "-v"])
        .output()
        .unwrap();
    assert!(!text(&out.stderr).contains(secret) && text(&out.stderr).contains("kiln:***@"));
    sb.write(
        ".env",
        &format!("DATABASE_URL='postgres://kiln:{secret}@127.0.0.1:1/db\n"),
    );
    let out = sb.kiln().arg("current").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(!err.contains(secret), "{err}");
    assert!(err.contains("./.env cannot be parsed"), "{err}");
}

#[test]
fn unreachable_servers_and_bad_urls() {
    let sb = Sandbox::new();
    sb.standard();
    for url in [
        "postgres://kiln@127.0.0.1:1/db",
        "mariadb://kiln@127.0.0.1:1/db",
    ] {
        let started = std::time::Instant::now();
        let (code, _, stderr) = run(&sb, url, &["upgrade", "heads"]);
        assert_eq!(code, 4, "{stderr}");
        assert!(
            stderr.starts_with("kiln: cannot reach the database server at 127.0.0.1:1 ("),
            "{stderr}"
        );
        assert!(stderr.contains("refused"), "{stderr}");
        assert!(
            stderr.contains("help: check that the server is running"),
            "{stderr}"
        );
        assert!(started.elapsed().as_secs() < 5, "it should fail fast");
    }
    let (code, _, stderr) = run(&sb, "mongodb://h/db", &["current"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "kiln: cannot use database URL `mongodb://h/db`: expected a URL starting with sqlite:"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("help: pass a URL such as"), "{stderr}");
    let (code, _, stderr) = run(&sb, "postgres://kiln@127.0.0.1:notaport/db", &["current"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot use database URL"), "{stderr}");
}

/// Ctrl-C while a slow revision runs: the run ends after it, with it committed, and exits 130.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_after_the_revision_in_progress() {
    let sb = Sandbox::new();
    sb.revision(&Rev::new("aa11", "", "slow").sql(
        "CREATE TABLE t AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000) SELECT count(*) AS n FROM c;",
        Some("DROP TABLE t;"),
    ));
    sb.revision(&Rev::new("bb22", "aa11", "next"));
    let url = sb.sqlite_url("app.db");
    let child = sb
        .kiln_std()
        .env("DATABASE_URL", &url)
        .args(["upgrade", "heads"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The run holds its lock file while it works; the signal handler is installed before that.
    let lock = sb.path().join("app.db.kiln-lock");
    let started = std::time::Instant::now();
    while !lock.exists() && started.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("upgrade base -> aa11: slow ("),
        "{stdout}"
    );
    assert!(!stdout.contains("bb22"), "{stdout}");
    assert!(
        stderr.contains("Ctrl-C: stopping after the revision in progress"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stopped on request after 1 revision(s)"),
        "{stderr}"
    );
    assert_eq!(ok(&sb, &url, &["current"]), "aa11 (draft), slow\n");
    ok(&sb, &url, &["upgrade", "heads"]);
}

/// Issue 12 items 3 and 4 through the binary: a downgrade target that is not applied, a prefix
/// too short to trust, and typos that get a suggestion. Each exits 2 and changes nothing.
#[test]
fn bad_targets_are_refused_with_what_to_type() {
    let sb = Sandbox::new();
    sb.standard();
    let url = sb.sqlite_url("app.db");
    ok(&sb, &url, &["upgrade", "aa11"]);
    let (code, _, stderr) = run(&sb, &url, &["downgrade", "cc33"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "kiln: `cc33` is not a valid downgrade target: revision `cc33` is not applied; the database is at aa11"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = run(&sb, &url, &["downgrade", "a"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("`a` is too short to name a revision: a prefix needs at least 4 characters (it matches `aa11`)"),
        "{stderr}"
    );
    for (typo, meant) in [("aa1x", "aa11"), ("hed", "head")] {
        let (code, _, stderr) = run(&sb, &url, &["upgrade", typo]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains(&format!(
                "no revision or branch label matches `{typo}`; did you mean `{meant}`?"
            )),
            "{stderr}"
        );
    }
    let current = ok(&sb, &url, &["current"]);
    assert!(current.contains("aa11"), "{current}");
    assert!(!current.contains("bb22"), "{current}");
}
