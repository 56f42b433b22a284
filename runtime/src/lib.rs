//! kiln-runtime: applies embedded revisions to PostgreSQL, MySQL/MariaDB and SQLite through sqlx.
//!
//! The entry point is [`Migrator`], usually built at compile time by `kiln::migrations!()`.
//! A service calls [`Migrator::run`] at start-up; tools call [`Migrator::upgrade`],
//! [`Migrator::downgrade`], [`Migrator::stamp`] and the read-only [`Migrator::current`],
//! [`Migrator::history`] and [`Migrator::audit`].
//!
//! kiln's own tools built on the runtime (kiln-schema's catalog capture, kiln-testing's
//! throwaway databases) send the SQL text they build through [`RawConnection`], so every dynamic
//! statement still passes the runtime's one audited hand-over to sqlx.

#![warn(missing_docs)]

mod db;
mod engine;
mod error;
mod migrator;
mod offline;
mod options;
mod raw;
mod report;
mod sql;
mod util;

pub use db::{Db, redact_url};
pub use error::{Error, Result};
pub use kiln_core::Dialect;
pub use migrator::Migrator;
pub use options::{Options, TransactionMode};
pub use raw::{RawConnection, quote_ident, quote_literal};
pub use report::{
    AppliedRevision, AuditEntry, Direction, Event, HistoryEntry, Hooks, Report, Status, Step,
};
