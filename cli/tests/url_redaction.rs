//! Passwords never reach the output (issue 9 item 3), whatever form the URL takes and whichever
//! path prints it: `--database-url` (also as `--database-url=URL`), `DATABASE_URL`, `./.env`;
//! invalid URLs, unreachable servers, a live server refusing the password, clap echoing an
//! argument, `-v` and `--json`. Redaction is by structure: a one-letter password does not mask
//! that letter in the rest of the text.

mod common;

use common::{Sandbox, text};
use kiln_testing::TestDb;

/// How the URL reaches kiln.
#[derive(Debug, Clone, Copy)]
enum Via {
    Flag,
    FlagEquals,
    Env,
    DotEnv,
}

const VIAS: [Via; 4] = [Via::Flag, Via::FlagEquals, Via::Env, Via::DotEnv];

/// Runs `kiln args...` with the URL given `via`; returns (exit code, stdout + stderr).
fn kiln_with(sb: &Sandbox, via: Via, url: &str, args: &[&str]) -> (i32, String) {
    let _ = std::fs::remove_file(sb.path().join(".env"));
    let mut c = sb.kiln();
    match via {
        Via::Flag => {
            c.arg("--database-url").arg(url);
        }
        Via::FlagEquals => {
            c.arg(format!("--database-url={url}"));
        }
        Via::Env => {
            c.env("DATABASE_URL", url);
        }
        Via::DotEnv => sb.write(".env", &format!("DATABASE_URL='{url}'\n")),
    }
    let out = c.args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// Asserts that none of `secrets` appears in `all`.
fn assert_hidden(all: &str, secrets: &[&str], what: &str) {
    for s in secrets {
        assert!(!all.contains(s), "{what} leaked `{s}`:\n{all}");
    }
}

struct Case {
    url: &'static str,
    /// Every piece of the password as it could appear (raw, decoded, split at a delimiter).
    secrets: &'static [&'static str],
    /// Exit code of `kiln current`.
    code: i32,
    /// Text the output must contain (the redacted URL, or the reason).
    shows: &'static str,
}

const CASES: &[Case] = &[
    // The base64 password with an unencoded `/`: refused (the driver would take part of
    // it for the port), shown without any of it.
    Case {
        url: "postgres://adv_user:q8+Zk/9wXy==@db.internal:5432/app",
        secrets: &["q8+Zk", "9wXy", "Zk/9"],
        code: 2,
        shows: "postgres://adv_user:***@db.internal:5432/app",
    },
    Case {
        url: "postgres://kiln:Qm?Xe7Lz@127.0.0.1:1/db",
        secrets: &["Qm?", "Xe7Lz", "Qm"],
        code: 2,
        shows: "%3F",
    },
    Case {
        url: "mysql://kiln:Hx#4Rw@127.0.0.1:1/db",
        secrets: &["Hx#", "4Rw"],
        code: 2,
        shows: "%23",
    },
    Case {
        url: "mysql://kiln@127.0.0.1:1/db?password=ParamSekr1t&ssl-mode=disabled",
        secrets: &["ParamSekr1t"],
        code: 4,
        shows: "password=***",
    },
    Case {
        url: "mysql://kiln@127.0.0.1:1/db?pwd=PwdSekr1t",
        secrets: &["PwdSekr1t"],
        code: 4,
        shows: "pwd=***",
    },
    Case {
        url: "postgres://kiln@127.0.0.1:1/db?sslpassword=SslSekr1t",
        secrets: &["SslSekr1t"],
        code: 4,
        shows: "sslpassword=***",
    },
    Case {
        url: "postgres://kiln:Enc%2FSekr1t%3F@127.0.0.1:1/db",
        secrets: &["Enc%2FSekr1t", "Enc/Sekr1t", "Sekr1t"],
        code: 4,
        shows: "kiln:***@127.0.0.1:1",
    },
    Case {
        url: "postgres://kiln:p%40ss@wd@127.0.0.1:1/db",
        secrets: &["p%40ss", "p@ss", "ss@wd"],
        code: 4,
        shows: "kiln:***@127.0.0.1:1",
    },
];

#[test]
fn every_password_form_on_every_configuration_path() {
    let sb = Sandbox::new();
    sb.standard();
    for case in CASES {
        for via in VIAS {
            for args in [&["current"][..], &["check", "--json"], &["current", "-v"]] {
                let what = format!("{via:?} {args:?} {}", case.url);
                let (code, all) = kiln_with(&sb, via, case.url, args);
                assert_eq!(code, case.code, "{what}:\n{all}");
                assert_hidden(&all, case.secrets, &what);
                assert!(
                    all.contains(case.shows),
                    "{what}: expected `{}` in\n{all}",
                    case.shows
                );
            }
        }
    }
}

#[test]
fn a_one_letter_password_does_not_mask_that_letter_elsewhere() {
    let sb = Sandbox::new();
    sb.standard();
    for via in VIAS {
        let (code, all) = kiln_with(&sb, via, "postgres://kiln:e@127.0.0.1:1/db", &["current"]);
        assert_eq!(code, 4, "{all}");
        assert!(all.contains("kiln:***@127.0.0.1:1/db"), "{via:?}: {all}");
        assert!(!all.contains("kiln:e@"), "{via:?}: {all}");
        // Only the password is masked: the words around it keep their `e`s.
        assert_eq!(
            all.matches("***").count(),
            all.matches("kiln:***@").count(),
            "{via:?}: {all}"
        );
        assert!(all.contains("server"), "{via:?}: {all}");
    }
}

#[test]
fn clap_echoing_a_url_argument_shows_it_redacted() {
    let sb = Sandbox::new();
    sb.standard();
    for url in [
        "postgres://adv_user:q8+Zk/9wXy==@db.internal:5432/app",
        "mysql://h/db?pwd=PwdSekr1t",
        "postgres://kiln:e@host/db",
    ] {
        let out = sb.kiln().args(["current", url]).output().unwrap();
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert_hidden(&all, &["q8+Zk", "9wXy", "PwdSekr1t", "kiln:e@"], url);
        assert!(all.contains("***"), "{url}: {all}");
    }
}

/// A live server that refuses the password: the driver's error is shown, the password is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_refused_password_on_a_live_server_is_not_shown() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let sb = Sandbox::new();
    sb.standard();
    // The same server and database, as a user that does not exist.
    let (scheme, rest) = db.url().split_once("://").unwrap();
    let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let url = format!("{scheme}://kiln_nobody:Wr0ngPw%2Fx@{host_and_db}");
    for via in VIAS {
        let (code, all) = kiln_with(&sb, via, &url, &["current"]);
        assert_eq!(code, 4, "{via:?}: {all}");
        assert!(all.contains("Access denied"), "{via:?}: {all}");
        assert_hidden(&all, &["Wr0ngPw", "Pw%2F", "Pw/x"], &format!("{via:?}"));
    }
    db.drop_database().await.unwrap();
}

/// `--json` and `-v` output on a live server: the URL appears redacted, parameters kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn json_output_on_a_live_server_shows_the_url_redacted() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let sb = Sandbox::new();
    sb.standard();
    // The test server trusts local connections, so any password is accepted.
    let url = format!(
        "{}?password=JsonSekr1t&application_name=kiln_test",
        db.url()
    );
    for via in VIAS {
        for args in [
            &["current", "--json"][..],
            &["check", "--json"],
            &["history", "-v"],
        ] {
            let (code, all) = kiln_with(&sb, via, &url, args);
            assert!(code == 0 || code == 6, "{via:?} {args:?}: {all}");
            assert_hidden(&all, &["JsonSekr1t"], &format!("{via:?} {args:?}"));
            if args[1] == "--json" {
                assert!(
                    all.contains("password=***&application_name=kiln_test"),
                    "{via:?} {args:?}: {all}"
                );
            }
        }
    }
    db.drop_database().await.unwrap();
}
