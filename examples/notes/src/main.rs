//! `notes`: a small note-taking CLI that brings its own database to the newest schema every time it
//! starts, with nothing but itself: the migrations are compiled into the binary.
//!
//! ```text
//! notes add "buy milk"        record a note
//! notes list                  print every note, oldest first
//! notes --migrate-only        bring the database to head and exit (a separate deploy step)
//! notes --check-only list     refuse to start unless the database is already at head
//! ```
//!
//! The database is `sqlite://notes.db` (created in the current directory) unless `DATABASE_URL`
//! names another: `postgres://user@host/db` or `mysql://user@host/db` (MariaDB too).
//! `NOTES_CHECK_ONLY=1` is the same as `--check-only`, for replicas that must never migrate.

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::error::Error;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

/// Every revision of the repository's sample set, checked and embedded at compile time. A broken
/// revision graph or an edited locked file is a compile error, not a failed deploy.
static MIGRATOR: kiln::Migrator = kiln::migrations!("../../migrations");

const DEFAULT_URL: &str = "sqlite://notes.db";

const USAGE: &str = "usage: notes [--check-only | --migrate-only] [add TEXT... | list]

  add TEXT...      record a note (author: $NOTES_USER, default `me@localhost`)
  list             print every note, oldest first
  --migrate-only   bring the database to head, then exit
  --check-only     do not migrate: refuse to start unless the database is at head
                   (also NOTES_CHECK_ONLY=1)

The database is DATABASE_URL, default sqlite://notes.db.";

type BoxError = Box<dyn Error + Send + Sync>;

#[derive(Debug, PartialEq)]
enum Command {
    Add(String),
    List,
    MigrateOnly,
}

#[derive(Debug)]
struct Args {
    check_only: bool,
    command: Command,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut check_only = std::env::var("NOTES_CHECK_ONLY").is_ok_and(|v| v == "1" || v == "true");
    let mut migrate_only = false;
    let mut rest = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--check-only" => check_only = true,
            "--migrate-only" => migrate_only = true,
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with("--") && rest.is_empty() => {
                return Err(format!("unknown option `{flag}`"));
            }
            _ => rest.push(arg),
        }
    }
    let command = match (migrate_only, rest.split_first()) {
        (true, None) => Command::MigrateOnly,
        (true, Some(_)) => return Err("--migrate-only takes no command".into()),
        (false, Some((cmd, text))) if cmd == "add" && !text.is_empty() => {
            Command::Add(text.join(" "))
        }
        (false, Some((cmd, []))) if cmd == "list" => Command::List,
        (false, Some((cmd, _))) if cmd == "add" => return Err("`add` needs the note's text".into()),
        (false, Some((cmd, _))) => return Err(format!("unknown command `{cmd}`")),
        (false, None) => return Err("no command given".into()),
    };
    if check_only && command == Command::MigrateOnly {
        return Err("--check-only and --migrate-only contradict each other".into());
    }
    Ok(Args {
        check_only,
        command,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    // kiln reports every revision it applies through `tracing` (target `kiln`); logs go to stderr
    // so that stdout carries only the command's output.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(tracing::Level::INFO)
        .init();

    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) if problem.is_empty() => {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("notes: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    match run(&url, args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("notes: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str, args: Args) -> Result<(), BoxError> {
    prepare_database(url, args.check_only).await?;
    if args.command == Command::MigrateOnly {
        return Ok(());
    }
    // The service's own pool. sqlx's `Any` driver picks the engine from the URL; it knows MariaDB
    // by its protocol's name.
    let url = match url.strip_prefix("mariadb:") {
        Some(rest) => format!("mysql:{rest}"),
        None => url.to_owned(),
    };
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .map_err(|e| format!("cannot open {}: {e}", kiln::redact_url(&url)))?;
    let notes = Notes {
        pool,
        postgres: kiln::url::dialect_of(&url) == Some(kiln::Dialect::Postgres),
    };
    match args.command {
        Command::Add(text) => {
            let author = std::env::var("NOTES_USER").unwrap_or_else(|_| "me@localhost".into());
            notes.add(&author, &text).await?;
        }
        Command::List => {
            let rows = notes.list().await?;
            let mut out = std::io::stdout().lock();
            for (id, created_at, author, body) in rows {
                match writeln!(out, "{id:>4}  {created_at}  {author}  {body}") {
                    // `notes list | head` closed the pipe: not an error.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
                    other => other?,
                }
            }
        }
        Command::MigrateOnly => {}
    }
    notes.pool.close().await;
    Ok(())
}

/// What this example is about: the schema is made right (or checked) before anything else runs.
///
/// `Migrator::run` is safe when many replicas start at once: when the database is already at head
/// it costs one single-row read; otherwise it takes a lock, re-reads the state under it and applies
/// only what another replica has not applied meanwhile.
async fn prepare_database(url: &str, check_only: bool) -> Result<(), BoxError> {
    let db = kiln::Db::connect(url).await?;
    let outcome = if check_only {
        MIGRATOR
            .check(&db)
            .await
            .map(|()| tracing::info!("the database is at head; starting (check-only mode)"))
            .map_err(|e| format!("refusing to start (check-only mode): {e}"))
    } else {
        MIGRATOR
            .run(&db)
            .await
            .map(|report| match report.steps.len() {
                0 => tracing::info!("the database is at head"),
                n => tracing::info!("applied {n} revision(s); the database is at head"),
            })
            .map_err(|e| format!("cannot bring the database to head: {e}"))
    };
    // kiln's connections are only needed at start-up.
    db.close().await;
    Ok(outcome?)
}

/// The service's own queries. The sample schema's ids are plain `INTEGER PRIMARY KEY` columns (no
/// auto-increment, which is spelled differently on every engine), so new ids are `MAX(id) + 1`
/// and a writer that loses a race to another process simply tries again.
struct Notes {
    pool: AnyPool,
    /// PostgreSQL numbers its placeholders.
    postgres: bool,
}

type NoteRow = (i64, String, String, String);

impl Notes {
    /// `?` placeholders, rewritten to `$1, $2, ...` for PostgreSQL. Only ever applied to the
    /// literal queries below (values are always bound), hence `AssertSqlSafe` where they are used.
    fn sql(&self, sql: &str) -> String {
        if !self.postgres {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len() + 8);
        for (n, part) in sql.split('?').enumerate() {
            if n > 0 {
                out.push_str(&format!("${n}"));
            }
            out.push_str(part);
        }
        out
    }

    async fn add(&self, author: &str, text: &str) -> Result<(), BoxError> {
        // RFC 3339 to the second, from kiln's own calendar rather than a time crate of our own.
        let now = kiln::core::time::rfc3339_seconds(kiln::core::time::now_micros());
        let add_user = self.sql(
            "INSERT INTO users (id, email, created_at) \
             SELECT next_id, ?, ? FROM (SELECT COALESCE(MAX(id), 0) + 1 AS next_id FROM users) n \
             WHERE NOT EXISTS (SELECT 1 FROM users WHERE email = ?)",
        );
        let add_note = self.sql(
            "INSERT INTO notes (id, user_id, body, created_at) \
             SELECT COALESCE(MAX(id), 0) + 1, (SELECT id FROM users WHERE email = ?), ?, ? \
             FROM notes",
        );
        retry_conflicts(|| {
            sqlx::query(AssertSqlSafe(add_user.as_str()))
                .bind(author)
                .bind(&now)
                .bind(author)
                .execute(&self.pool)
        })
        .await?;
        retry_conflicts(|| {
            sqlx::query(AssertSqlSafe(add_note.as_str()))
                .bind(author)
                .bind(text)
                .bind(&now)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<NoteRow>, BoxError> {
        let rows = sqlx::query(
            "SELECT n.id, n.created_at, u.email, n.body \
             FROM notes n JOIN users u ON u.id = n.user_id ORDER BY n.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }
}

/// Runs a write again when it lost a race to a concurrent writer: a duplicate new id, a deadlock
/// (MariaDB's `INSERT ... SELECT` locks what it reads), or a busy SQLite file.
async fn retry_conflicts<F, Fut, T>(mut attempt: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut tries = 0u64;
    loop {
        match attempt().await {
            Err(sqlx::Error::Database(e)) if tries < 50 && is_conflict(&*e) => {
                tries += 1;
                // A little jitter so the losers do not collide again in lockstep.
                let jitter = u64::from(std::process::id()) % 7 + tries;
                tokio::time::sleep(Duration::from_millis(jitter * 3)).await;
            }
            other => return other,
        }
    }
}

fn is_conflict(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.is_unique_violation()
        || matches!(
            e.code().as_deref(),
            // serialization failure / deadlock (PostgreSQL, MySQL), SQLITE_BUSY and its variants
            Some("40001" | "40P01" | "5" | "261" | "517")
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_the_commands() {
        assert_eq!(
            parse(&["add", "buy", "milk"]).map(|a| a.command),
            Ok(Command::Add("buy milk".into()))
        );
        assert_eq!(parse(&["list"]).map(|a| a.command), Ok(Command::List));
        assert!(parse(&["--check-only", "list"]).is_ok_and(|a| a.check_only));
        assert_eq!(
            parse(&["--migrate-only"]).map(|a| a.command),
            Ok(Command::MigrateOnly)
        );
        assert!(parse(&["add"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["--check-only", "--migrate-only"]).is_err());
    }

    #[test]
    fn formats_utc_dates() {
        // RFC 3339 to the second, from kiln's own calendar rather than a time crate of our own.
        let now = kiln::core::time::rfc3339_seconds(kiln::core::time::now_micros());
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }

    #[test]
    fn the_sample_set_is_embedded() {
        assert_eq!(MIGRATOR.heads(), ["f6a1b2c3d4e5"]);
    }
}
