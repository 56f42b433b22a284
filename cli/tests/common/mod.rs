//! Shared helpers for the `kiln` binary's integration tests: a sandbox directory per test, the
//! binary with a clean environment, and small migration sets written on the fly.
#![allow(dead_code)]

pub mod autogen;

use std::path::{Path, PathBuf};

/// The `KILN_*` variables of the test's own environment, except the suite's `KILN_TEST_*`
/// server URLs: each run removes them, so a developer's shell cannot leak a setting in. Read
/// from the environment rather than listed, so a setting added to the binary is covered too.
pub fn kiln_variables() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("KILN_") && !k.starts_with("KILN_TEST_"))
        .collect()
}

/// A temporary working directory with a `migrations/` directory in it.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("migrations")).expect("mkdir migrations");
        Sandbox { dir }
    }

    /// A sandbox without the `migrations/` directory.
    pub fn empty() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn migrations(&self) -> PathBuf {
        self.path().join("migrations")
    }

    /// `kiln` run in the sandbox, with no configuration inherited from the test's environment.
    pub fn kiln(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_kiln"));
        c.current_dir(self.path()).env_remove("DATABASE_URL");
        for var in kiln_variables() {
            c.env_remove(var);
        }
        c
    }

    /// The same as a `std::process::Command`, for tests that need to signal or re-parent it.
    pub fn kiln_std(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"));
        c.current_dir(self.path()).env_remove("DATABASE_URL");
        for var in kiln_variables() {
            c.env_remove(var);
        }
        c
    }

    /// A SQLite database file in the sandbox.
    pub fn sqlite_url(&self, name: &str) -> String {
        format!("sqlite://{}", self.path().join(name).display())
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).expect("read")
    }

    /// Writes one revision file into `migrations/`.
    pub fn revision(&self, r: &Rev<'_>) {
        let mut t = format!("-- kiln:revision {}\n", r.id);
        if !r.parents.is_empty() {
            t += &format!("-- kiln:revises {}\n", r.parents);
        }
        if !r.labels.is_empty() {
            t += &format!("-- kiln:branch {}\n", r.labels);
        }
        t += &format!("-- kiln:message {}\n", r.message);
        if !r.transactional {
            t += "-- kiln:transaction false\n";
        }
        t += &format!("\n-- kiln:upgrade\n{}\n", r.up);
        if let Some(down) = r.down {
            t += &format!("\n-- kiln:downgrade\n{down}\n");
        }
        self.write(&format!("migrations/{}_{}.sql", r.id, r.slug()), &t);
    }

    /// The standard set: a base, a branch point, two branches and their merge.
    ///
    /// ```text
    /// aa11 <- bb22 <- cc33 <-+- ee55
    ///              <- cd44 <-+
    /// ```
    pub fn standard(&self) {
        for r in standard() {
            self.revision(&r);
        }
    }

    /// The standard set without its merge: two unlabelled heads, an invalid directory.
    pub fn two_heads(&self) {
        for r in standard().into_iter().filter(|r| r.id != "ee55") {
            self.revision(&r);
        }
    }

    /// Two labelled branches from one base: `aa11 <- xb1 <- xb2` (label x) and
    /// `aa11 <- yb1` (label y).
    pub fn labelled(&self) {
        let base = standard().remove(0);
        self.revision(&base);
        self.revision(&Rev::new("xb1", "aa11", "x one").labels("x"));
        self.revision(&Rev::new("xb2", "xb1", "x two"));
        self.revision(&Rev::new("yb1", "aa11", "y one").labels("y"));
    }
}

/// A revision to write.
#[derive(Clone)]
pub struct Rev<'a> {
    pub id: &'a str,
    pub parents: &'a str,
    pub labels: &'a str,
    pub message: &'a str,
    pub up: &'a str,
    pub down: Option<&'a str>,
    pub transactional: bool,
}

impl<'a> Rev<'a> {
    pub fn new(id: &'a str, parents: &'a str, message: &'a str) -> Rev<'a> {
        Rev {
            id,
            parents,
            labels: "",
            message,
            up: "SELECT 1;",
            down: Some(""),
            transactional: true,
        }
    }
    pub fn labels(mut self, l: &'a str) -> Self {
        self.labels = l;
        self
    }
    pub fn sql(mut self, up: &'a str, down: Option<&'a str>) -> Self {
        self.up = up;
        self.down = down;
        self
    }
    pub fn non_transactional(mut self) -> Self {
        self.transactional = false;
        self
    }
    fn slug(&self) -> String {
        self.message.replace(' ', "_")
    }
}

/// Portable SQL for SQLite, PostgreSQL and MariaDB.
pub fn standard() -> Vec<Rev<'static>> {
    vec![
        Rev::new("aa11", "", "create users").sql(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL);",
            Some("DROP TABLE users;"),
        ),
        Rev::new("bb22", "aa11", "create notes").sql(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(100));",
            Some("DROP TABLE notes;"),
        ),
        Rev::new("cc33", "bb22", "add users name").sql(
            "ALTER TABLE users ADD COLUMN name VARCHAR(100);",
            Some("ALTER TABLE users DROP COLUMN name;"),
        ),
        Rev::new("cd44", "bb22", "create tags").sql(
            "CREATE TABLE tags (id INTEGER PRIMARY KEY);",
            Some("DROP TABLE tags;"),
        ),
        Rev::new("ee55", "cc33, cd44", "merge name and tags").sql("-- nothing", Some("")),
    ]
}

/// Output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The core's rendering of the sandbox directory's problems: what the macro prints.
pub fn core_diagnostics(sb: &Sandbox, dir: &str) -> String {
    let d = kiln_core::resolve_dir(sb.path(), Some(dir));
    match kiln_core::load_dir(&d) {
        Ok(_) => panic!("{dir} is valid"),
        Err(diags) => diags.to_string(),
    }
}

/// `true` when a step line carries a duration, e.g. `(3.1 ms)` or `(1.20 s)`.
pub fn has_duration(line: &str) -> bool {
    let Some(open) = line.rfind('(') else {
        return false;
    };
    let inner = line[open + 1..].trim_end_matches(')');
    let mut parts = inner.split(' ');
    matches!(
        (parts.next(), parts.next()),
        (Some(n), Some("ms" | "s")) if n.parse::<f64>().is_ok()
    )
}

/// Runs `kiln` with a database URL and returns (exit code, stdout, stderr).
pub fn run(sb: &Sandbox, url: &str, args: &[&str]) -> (i32, String, String) {
    let out = sb
        .kiln()
        .env("DATABASE_URL", url)
        .args(args)
        .output()
        .expect("run kiln");
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// Runs `kiln` and insists on exit 0.
pub fn ok(sb: &Sandbox, url: &str, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(sb, url, args);
    assert_eq!(code, 0, "kiln {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// The revision ids in a JSON array of revisions or audit rows.
pub fn json_ids(stdout: &str, key: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(stdout).expect("JSON");
    v.as_array()
        .expect("array")
        .iter()
        .map(|r| r[key].as_str().unwrap_or("-").to_owned())
        .collect()
}

/// Every running command against one database: upgrade, downgrade, current, history, stamp,
/// check and audit, with the same expectations on every engine.
pub fn running_commands(sb: &Sandbox, url: &str) {
    sb.standard();
    assert_eq!(
        sb.kiln().arg("lock").output().unwrap().status.code(),
        Some(0)
    );

    // A fresh database is at base.
    let (code, stdout, stderr) = run(sb, url, &["current"]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(stderr.contains("nothing is applied"), "{stderr}");

    // --dry-run lists and changes nothing.
    let plan = ok(sb, url, &["upgrade", "+2", "--dry-run"]);
    assert_eq!(
        plan,
        "would upgrade 2 revisions to reach `+2`:\n  upgrade aa11  create users\n  upgrade bb22  create notes\n"
    );
    let plan = ok(sb, url, &["upgrade", "heads", "--dry-run", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(v["revisions"].as_array().unwrap().len(), 5);
    assert_eq!(ok(sb, url, &["current"]), "");

    // One line per step, each with its duration.
    let up = ok(sb, url, &["upgrade", "heads", "--app-version", "9.9.9"]);
    let lines: Vec<&str> = up.lines().collect();
    assert_eq!(lines.len(), 6, "{up}");
    assert!(
        lines[0].starts_with("upgrade base -> aa11: create users ("),
        "{up}"
    );
    assert!(
        lines[4].starts_with("upgrade cc33, cd44 -> ee55: merge name and tags ("),
        "{up}"
    );
    assert!(lines[..5].iter().all(|l| has_duration(l)), "{up}");
    assert!(lines[5].starts_with("applied 5 revisions in "), "{up}");
    assert_eq!(
        ok(sb, url, &["upgrade", "heads"]),
        "nothing to upgrade: the database is already at `heads`\n"
    );

    assert_eq!(
        ok(sb, url, &["current"]),
        "ee55 (head) (mergepoint), merge name and tags\n"
    );
    let v: serde_json::Value = serde_json::from_str(&ok(sb, url, &["current", "--json"])).unwrap();
    assert_eq!(v["at_head"], true);
    assert_eq!(v["current"][0]["revision"], "ee55");
    assert_eq!(v["applied"].as_array().unwrap().len(), 5);
    assert!(!v["database"].as_str().unwrap().is_empty());
    let verbose = ok(sb, url, &["current", "-v"]);
    assert!(
        verbose.contains("Rev: ee55 (head) (mergepoint) (current)"),
        "{verbose}"
    );
    assert!(verbose.contains("Pending: none"), "{verbose}");

    let hist = ok(sb, url, &["history", "--indicate-current", "--no-graph"]);
    assert!(
        hist.starts_with("cc33, cd44 -> ee55 (head) (mergepoint) (current), merge name and tags\n"),
        "{hist}"
    );
    let (code, stdout, _) = run(sb, url, &["check"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(": ok (at every head"), "{stdout}");

    // Downgrade to a branch point reverts both branches, children first.
    let down = ok(sb, url, &["downgrade", "bb22"]);
    let lines: Vec<&str> = down.lines().collect();
    assert_eq!(lines.len(), 4, "{down}");
    assert!(
        lines[0].starts_with("downgrade ee55 -> cc33, cd44: "),
        "{down}"
    );
    assert!(lines[..3].iter().all(|l| has_duration(l)), "{down}");
    assert!(lines[3].starts_with("reverted 3 revisions in "), "{down}");
    assert_eq!(
        ok(sb, url, &["current"]),
        "bb22 (branchpoint), create notes\n"
    );
    let (code, _, stderr) = run(sb, url, &["check"]);
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.contains("the database is behind: 3 revisions pending"),
        "{stderr}"
    );
    assert!(stderr.contains("kiln upgrade heads"), "{stderr}");
    let ids = json_ids(
        &ok(sb, url, &["history", "-r", "current:", "--json"]),
        "revision",
    );
    assert_eq!(ids, ["ee55", "cd44", "cc33", "bb22"]);
    let ids = json_ids(
        &ok(sb, url, &["history", "-r", "-1:current", "--json"]),
        "revision",
    );
    assert_eq!(ids, ["bb22", "aa11"]);

    // Bad targets are usage errors, before anything changes.
    let (code, _, stderr) = run(sb, url, &["upgrade", "cc34"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no revision or branch label matches `cc34`; did you mean `cc33`?"),
        "{stderr}"
    );
    let (code, _, stderr) = run(sb, url, &["upgrade", "c"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`c` is ambiguous: it is a prefix of cc33, cd44"),
        "{stderr}"
    );
    let (code, _, stderr) = run(sb, url, &["upgrade", "+1"]);
    assert_eq!(code, 2, "two revisions could come next");
    assert!(stderr.contains("cc33, cd44"), "{stderr}");

    // One branch, in one transaction for the whole run: what ran is applied at the commit
    // (MariaDB cannot roll back DDL, so each revision commits on its own there).
    let up = ok(sb, url, &["upgrade", "cd44", "--transaction", "all"]);
    assert!(
        up.starts_with("ran bb22 -> cd44: create tags (")
            && up.contains("\ncommitted 1 revision in one transaction\n")
            || up.starts_with("upgrade bb22 -> cd44: create tags (") && url.starts_with("mysql"),
        "{up}"
    );

    // Stamping records a state without running SQL.
    let st = ok(sb, url, &["stamp", "heads"]);
    assert!(
        st.contains("stamp cc33: add users name (recorded as applied)"),
        "{st}"
    );
    assert!(
        st.contains("stamp ee55: merge name and tags (recorded as applied)"),
        "{st}"
    );
    assert!(
        st.ends_with("stamped 2 revisions (no SQL was run; recorded in the audit trail)\n"),
        "{st}"
    );
    assert_eq!(run(sb, url, &["check"]).0, 0);
    let st = ok(sb, url, &["stamp", "bb22"]);
    assert!(
        st.contains("stamp ee55: merge name and tags (removed)"),
        "{st}"
    );
    assert_eq!(
        ok(sb, url, &["current"]),
        "bb22 (branchpoint), create notes\n"
    );
    let (code, _, stderr) = run(sb, url, &["stamp"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("stamp needs at least one revision"),
        "{stderr}"
    );
    let st = ok(sb, url, &["stamp", "--purge"]);
    assert!(
        st.contains("stamp aa11") && st.contains("(removed)"),
        "{st}"
    );
    assert_eq!(ok(sb, url, &["current"]), "");

    // The audit trail saw all of it, and filters.
    let all = json_ids(&ok(sb, url, &["audit", "--json"]), "action");
    assert!(all.len() >= 5 + 3 + 1 + 2 + 3 + 2, "{all:?}");
    let stamps = json_ids(
        &ok(sb, url, &["audit", "--action", "stamp", "--json"]),
        "action",
    );
    assert!(
        !stamps.is_empty() && stamps.iter().all(|a| a == "stamp"),
        "{stamps:?}"
    );
    let cd = json_ids(
        &ok(sb, url, &["audit", "--revision", "cd4", "--json"]),
        "revision",
    );
    assert!(cd.len() >= 3 && cd.iter().all(|r| r == "cd44"), "{cd:?}");
    assert_eq!(
        json_ids(
            &ok(sb, url, &["audit", "--since", "1h", "--json"]),
            "action"
        )
        .len(),
        all.len()
    );
    assert!(
        json_ids(
            &ok(sb, url, &["audit", "--until", "2000-01-01", "--json"]),
            "action"
        )
        .is_empty()
    );
    assert_eq!(
        json_ids(&ok(sb, url, &["audit", "--limit", "2", "--json"]), "action").len(),
        2
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(sb, url, &["audit", "--revision", "aa11", "--json"])).unwrap();
    assert_eq!(v[0]["app_version"], "9.9.9");
    assert_eq!(v[0]["outcome"], "ok");
    // The trail needs no migration directory.
    let last = ok(
        sb,
        url,
        &["--dir", "nowhere", "audit", "--limit", "1", "--json"],
    );
    assert_eq!(json_ids(&last, "action"), ["stamp"]);
    let table = ok(sb, url, &["audit", "--revision", "aa11"]);
    assert!(
        table.lines().next().unwrap().contains("upgrade   aa11"),
        "{table}"
    );
    let (code, _, stderr) = run(sb, url, &["audit", "--since", "yesterday"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--since `yesterday` is not a time"),
        "{stderr}"
    );
}

/// Runs a database's own client program (`sqlite3`, `psql`, `pg_dump`, `mysqldump`) on the
/// machine, for tests that read what other tools write. `None` when the program is not
/// installed, after a loud message; under CI that is a failure instead, since `.ci/prepare`
/// installs them.
pub fn client(program: &str, args: &[&std::ffi::OsStr]) -> Option<std::process::Output> {
    match std::process::Command::new(program).args(args).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{program} failed: {}",
                text(&out.stderr)
            );
            Some(out)
        }
        Err(e) if kiln_testing::in_ci() => {
            panic!("{program} cannot run ({e}); .ci/prepare installs it")
        }
        Err(e) => {
            eprintln!(
                "\n*** SKIPPING: {program} cannot run ({e}); install it (Debian: sqlite3, postgresql-client, mariadb-client) to run this test\n"
            );
            None
        }
    }
}
