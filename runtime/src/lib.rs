//! kiln-runtime: applies embedded revisions to PostgreSQL, MySQL/MariaDB and SQLite through sqlx.

#![warn(missing_docs)]

mod migrator;
mod options;

pub use migrator::Migrator;
pub use options::{Options, TransactionMode};
