//! kiln-runtime: applies embedded revisions to PostgreSQL, MySQL/MariaDB and SQLite through sqlx.
//!
//! The entry point is [`Migrator`], usually built at compile time by `kiln::migrations!()`.
//! A service calls [`Migrator::run`] at start-up; tools call [`Migrator::upgrade`],
//! [`Migrator::downgrade`], [`Migrator::stamp`] and the read-only [`Migrator::current`],
//! [`Migrator::history`] and [`Migrator::audit`]; [`Migrator::run_each`] applies one set to a
//! fleet of databases ([`fleet`]).
//!
//! kiln's own tools built on the runtime (kiln-schema's catalog capture, kiln-testing's
//! throwaway databases) send the SQL text they build through [`RawConnection`], so every dynamic
//! statement still passes the runtime's one audited hand-over to sqlx.

#![warn(missing_docs)]
// With only some engine features on, the code of the others compiles out and leaves helpers
// unused; a build with every engine (`--all-features`, what CI lints strictly) has none of
// these, and CI also builds each engine alone so users never see warnings from kiln.
#![cfg_attr(
    not(all(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(unused, clippy::drop_non_drop, clippy::match_like_matches_macro)
)]

pub mod advice;
mod db;
mod engine;
mod error;
pub mod fleet;
mod guard;
mod lock_mode;
mod migrator;
mod net;
mod offline;
mod options;
mod raw;
mod report;
mod sql;
pub mod url;
mod util;

pub use db::Db;
pub use error::{Error, LockWait, LostOutcome, Result};
pub use kiln_core::Dialect;
pub use lock_mode::LockMode;
pub use migrator::Migrator;
pub use options::{Options, TransactionMode};
pub use raw::{RawConnection, quote_ident, quote_literal};
pub use report::{
    AppliedRevision, AuditEntry, Direction, Event, HistoryEntry, Hooks, Report, RowState, Status,
    Step,
};
pub use url::redact_url;

/// The sqlx kiln is built on (0.9), with the engines of kiln's features enabled. A service that
/// uses it through `kiln::sqlx` cannot end up with a second sqlx (two versions of sqlx link two
/// `libsqlite3-sys`, which cargo refuses: "only one package may link sqlite3").
pub use sqlx;
