//! kiln-schema: the schema of a PostgreSQL, MySQL/MariaDB or SQLite database, read from its
//! catalog into a normalized, comparable [`Schema`], with a text form and a readable diff.
//!
//! It is the shared base of kiln's schema features: kiln-testing's checks (the stairway,
//! `matches_schema_file`, `downgrade_leaves_no_trace`) compare captures with it, and the CLI can
//! capture any database it can connect to. There is no test harness in here; throwaway
//! databases live in kiln-testing.
//!
//! ```no_run
//! # async fn demo(pool: sqlx::SqlitePool) -> Result<(), kiln_runtime::Error> {
//! use kiln_schema::Schema;
//!
//! let before = Schema::capture(&pool).await?;
//! // ... run a migration ...
//! let after = Schema::capture(&pool).await?;
//! if let Some(diff) = before.diff_labeled(&after, "before", "after") {
//!     println!("the migration changed:\n{diff}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A capture takes anything that converts into a [`kiln_runtime::Db`]: a sqlx `PgPool`,
//! `MySqlPool` or `SqlitePool` (owned or borrowed), or a `Db` from `Db::connect(url)`.
//!
//! Crate features `sqlite` (default), `postgres` and `mysql` choose the engines, as in
//! kiln-runtime. Captures are compared between databases of the same engine: types and
//! expressions keep each engine's own spelling (see [`Schema`]).

#![warn(missing_docs)]
// With only some engine features on, the code of the others compiles out and leaves helpers
// unused; a build with every engine (`--all-features`, what CI lints strictly) has none of
// these, and CI also builds each engine alone so users never see warnings from kiln.
#![cfg_attr(
    not(all(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(unused, clippy::drop_non_drop, clippy::match_like_matches_macro)
)]

mod apply;
mod capture;
mod devdb;
mod diff;
mod model;
mod render;
mod sqltext;
mod text;

pub use apply::{ApplyError, apply_sql};
pub use devdb::{DEV_PREFIX, DevDb, clean_up_blocking, connect_created, drop_server_database};
pub use model::{
    Check, Column, ForeignKey, Index, PrimaryKey, Routine, Schema, Table, Trigger, Unique,
    dialect_name,
};
pub use render::{Migration, Rename, Step, StepKind};

use capture::Exclude;
use kiln_runtime::{Db, Options, Result};

impl Schema {
    /// Reads the schema of `db` from its catalog, leaving out kiln's bookkeeping tables under
    /// their default names (`kiln_version`, `kiln_version_state`, `kiln_audit`).
    pub async fn capture(db: impl Into<Db>) -> Result<Schema> {
        Schema::capture_with(db, &Options::DEFAULT).await
    }

    /// [`Schema::capture`], leaving out kiln's tables under the names (and schema) `options`
    /// gives them: pass `migrator.options()`.
    pub async fn capture_with(db: impl Into<Db>, options: &Options) -> Result<Schema> {
        capture::capture(&db.into(), &Exclude::kiln(options)).await
    }

    /// Everything in the database, kiln's own tables included.
    pub async fn capture_all(db: impl Into<Db>) -> Result<Schema> {
        capture::capture(&db.into(), &Exclude::default()).await
    }
}
