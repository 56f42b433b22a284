//! kiln-core: the migration file format, parser, revision graph, checksums and lock file.
//!
//! This crate has no database code. The `migrations!` macro, the runtime and the `kiln` CLI all
//! load migration directories through [`resolve_dir`] and [`load_dir`], so the checks made while a
//! crate compiles and the checks the CLI makes on the same directory can never disagree.
//!
//! # Stability
//!
//! The items re-exported at the crate root and the modules shown in these docs (`build`, `config`,
//! `diag`, `dir`, `lock`, `model`, `split`, `target`) are kiln-core's API. The hidden modules
//! (`checksum`, `embedded`, `fileread`, `format`, `fuzzprops`, `graph`, `lex`, `time`) are public only so
//! that kiln's own crates (the macro, the runtime, the CLI, kiln-testing, the benches, the
//! differential tests and the fuzz targets) can share one implementation; they may change in any
//! release, so other code should not use them.

#![warn(missing_docs)]

pub mod build;
#[doc(hidden)]
pub mod checksum;
pub mod config;
pub mod diag;
pub mod dir;
#[doc(hidden)]
pub mod embedded;
#[doc(hidden)]
pub mod fileread;
#[doc(hidden)]
pub mod format;
#[doc(hidden)]
pub mod fuzzprops;
#[doc(hidden)]
pub mod graph;
#[doc(hidden)]
pub mod lex;
pub mod lock;
pub mod model;
mod revgraph;
pub mod split;
mod stretch;
pub mod target;
#[doc(hidden)]
pub mod time;

pub use diag::{Diagnostic, Diagnostics, Problem};
pub use dir::{Loaded, MigrationDir, Scan, build_set, load_dir, resolve_dir, scan_dir};
pub use fileread::{DEFAULT_MAX_FILE_SIZE, MAX_FILE_SIZE_VAR};
pub use lex::{Readings, Syntax};
pub use lock::{LOCK_FILE, Lock};
pub use model::{MigrationSet, Revision, Str, StrList};
pub use revgraph::RevisionGraph;
pub use split::{Dialect, Statement};
pub use target::{Plan, Target, TargetError};
