//! kiln: database migrations baked into the binary at build time, checked by the compiler.
//!
//! A migration directory holds one SQL file per revision, linked into a graph by
//! `-- kiln:revises` the way Alembic links revisions by `down_revision`. [`migrations!`] reads the
//! directory while the crate compiles, checks the graph and the lock file, and embeds every
//! revision; a broken chain is a compile error that names the file, the line and the fix. At run
//! time a [`Migrator`] brings a PostgreSQL, MySQL/MariaDB or SQLite database to any revision, safely
//! even when many replicas start at once.
//!
//! ```
//! static MIGRATOR: kiln::Migrator = kiln::migrations!();
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = kiln::Db::connect("sqlite::memory:").await?;
//! MIGRATOR.run(&db).await?; // upgrade to every head; a single-row read once there
//! assert!(MIGRATOR.current(&db).await?.is_at_head());
//!
//! // Alembic's targets work too.
//! MIGRATOR.downgrade(&db, "e5f6a1b2c3d4").await.unwrap_err(); // f6a1... is irreversible
//! # Ok(())
//! # }
//! ```
//!
//! The embedded set is plain data, available without a database:
//!
//! ```
//! static MIGRATOR: kiln::Migrator = kiln::migrations!("migrations");
//!
//! let set = MIGRATOR.set();
//! assert_eq!(set.heads(), ["f6a1b2c3d4e5"]);
//! assert!(set.drafts().next().is_none(), "every revision is locked in kiln.lock");
//! let merge = set.get("e5f6a1b2c3d4").unwrap();
//! assert!(merge.is_merge());
//! ```
//!
//! Crate features: `sqlite` (default), `postgres`, `mysql` choose the engines; `testing` adds
//! `kiln::testing` (the kiln-testing crate) and `kiln::schema_tests!` for schema checks in
//! `cargo test`; `lint` makes `migrations!` fail the build on the lint rules kiln.toml's
//! `[lint] deny` names, in revisions not yet in kiln.lock (off by default: it compiles an SQL
//! parser into the macro). The `docs/` directory of the
//! repository covers the file format, the CLI, the runtime, testing and moving from Alembic, sqlx,
//! refinery and diesel.

#![warn(missing_docs)]

/// The format, parser, graph, checksums and lock file (re-exported `kiln-core`).
pub use kiln_core as core;

/// Embeds and validates a migration directory at compile time.
///
/// `kiln::migrations!()` reads `migrations/` next to the crate's `Cargo.toml`;
/// `kiln::migrations!("db/migrations")` names another directory (relative to `Cargo.toml`, or
/// absolute). The result is a [`Migrator`] usable in a `static`.
///
/// Every problem in the directory becomes a compile error: files that are not migrations,
/// non-UTF-8 text, missing, duplicated, unknown or malformed directives, a revision id that does
/// not match its file name, an empty upgrade section, duplicate revisions, unknown parents (with the
/// closest id suggested), cycles, several heads or bases not on labelled branches (with the exact
/// `kiln merge` command), duplicate branch labels, and locked revisions that changed or vanished.
/// All problems are reported at once.
///
/// Editing a file rebuilds the crate. To notice *added* files, call
/// `kiln_core::build::watch("migrations")` from `build.rs`.
pub use kiln_macros::migrations;

pub use kiln_runtime::*;

/// The sqlx kiln is built on (0.9), with the engines of kiln's features enabled: use
/// `kiln::sqlx::SqlitePool` and friends instead of a sqlx dependency of your own, so the two can
/// never disagree. A service on sqlx 0.8 cannot add kiln (cargo allows one crate linking
/// `sqlite3` per build), see the README.
pub use kiln_runtime::sqlx;

/// Schema checks for `cargo test` (feature `testing`): throwaway databases, schema capture, the
/// ready-made checks. The kiln-testing crate, re-exported.
#[cfg(feature = "testing")]
pub use kiln_testing as testing;

#[cfg(feature = "testing")]
pub use kiln_testing::schema_tests;
