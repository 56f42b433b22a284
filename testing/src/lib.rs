//! kiln-testing: schema checks for `cargo test`, on top of kiln-runtime's public API and
//! kiln-schema's captures. Users reach it as `kiln::testing` (the facade's `testing` feature)
//! and [`kiln::schema_tests!`](crate::schema_tests).
//!
//! - [`TestDb`]: a database nobody else uses, dropped afterwards (also when the test panics): a
//!   fresh database with a unique name on PostgreSQL and MySQL/MariaDB, a temporary file on
//!   SQLite. [`TestDb::migrated`] gives one already at every head cheaply, from a template
//!   database (PostgreSQL) or file (SQLite) keyed by the set's digest.
//! - [`Schema`] (re-exported from kiln-schema): a normalized, comparable capture of a database's
//!   schema read from the engine's catalog, with a text form and a readable diff.
//! - Ready-made checks, one call each: [`single_head`], [`no_drafts`], [`upgrade_from_base`],
//!   [`stairway`], [`matches_schema_file`], [`downgrade_leaves_no_trace`].
//! - [`Proxy`]: a TCP proxy on 127.0.0.1 that tests freeze, cut and resume, to check what kiln
//!   does when the network fails mid-revision.
//! - [`schema_tests!`](crate::schema_tests): one line in a test file generates a `#[test]` per
//!   check and engine.
//!
//! ```ignore
//! // tests/schema.rs of a crate with `kiln = { features = ["testing", ...] }` as a dev-dependency
//! static MIGRATOR: kiln::Migrator = kiln::migrations!();
//!
//! kiln::schema_tests!(
//!     MIGRATOR,
//!     engines = [sqlite, postgres, mysql],
//!     checks = [single_head, upgrade_from_base, stairway, downgrade_leaves_no_trace,
//!               matches_schema_file("tests/schema")],
//! );
//! ```
//!
//! Servers are found through `KILN_TEST_POSTGRES_URL` and `KILN_TEST_MYSQL_URL` (defaults:
//! `postgres://postgres@127.0.0.1:5432/test` and `mysql://root@127.0.0.1:3306/test`); the user
//! needs the right to create databases. When a server cannot be reached, databases are not
//! created and checks return a report marked skipped, after printing a loud notice naming the
//! variable; when the `CI` variable is set this is an error instead, because in CI a missing
//! server is a failure, never a silent skip.
//!
//! Templates persist by design (building one costs a full migration) and are named after the
//! set's digest, so a changed set never uses a stale one; [`drop_templates`] removes them and
//! [`drop_orphans`] removes databases left by killed test processes. See `docs/testing.md`.
//!
//! Crate features `sqlite` (default), `postgres` and `mysql` choose the engines, as in
//! kiln-runtime.

#![warn(missing_docs)]
// With only some engine features on, the code of the others compiles out and leaves helpers
// unused; a build with every engine (`--all-features`, what CI lints strictly) has none of
// these, and CI also builds each engine alone so users never see warnings from kiln.
#![cfg_attr(
    not(all(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(unused, clippy::drop_non_drop, clippy::match_like_matches_macro)
)]

mod checks;
mod macros;
mod proxy;
mod testdb;

pub use checks::{
    CheckError, CheckErrorKind, CheckReport, downgrade_leaves_no_trace, matches_schema_file,
    no_drafts, single_head, stairway, upgrade_from_base,
};
pub use kiln_schema::{
    Check, Column, ForeignKey, Index, PrimaryKey, Schema, Table, Trigger, Unique,
};
pub use proxy::{Fault, FaultTrigger, Proxy, Scope};
pub use testdb::{
    DEFAULT_MYSQL_URL, DEFAULT_POSTGRES_URL, TestDb, drop_orphans, drop_template, drop_templates,
    in_ci, server_url, sqlite_template_dir, template_name,
};

pub use kiln_runtime::url::with_database;

/// Support for [`schema_tests!`](crate::schema_tests); not a stable API.
#[doc(hidden)]
pub mod __private {
    use super::{CheckError, CheckReport};
    pub use kiln_core::Dialect;
    use std::future::Future;
    use std::path::PathBuf;

    /// Runs one check to completion on a runtime of its own, so the generated tests need no
    /// async test attribute, and turns a failure into the test's panic.
    ///
    /// # Panics
    /// When the check fails: that is how the generated test fails.
    pub fn run(check: impl Future<Output = Result<CheckReport, CheckError>>) {
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("kiln: cannot start a tokio runtime for the check: {e}"),
        };
        match rt.block_on(check) {
            Ok(report) => println!("{report}"),
            Err(e) => panic!("{e}"),
        }
    }

    /// `dir/<engine>.sql`: `sqlite.sql`, `postgres.sql` or `mysql.sql`.
    pub fn schema_file(dir: impl Into<PathBuf>, dialect: Dialect) -> PathBuf {
        dir.into().join(match dialect {
            Dialect::Postgres => "postgres.sql",
            Dialect::MySql => "mysql.sql",
            _ => "sqlite.sql",
        })
    }
}
