//! kiln-core: the migration file format, parser, revision graph, checksums and lock file.
//!
//! This crate has no database code. The `migrations!` macro, the runtime and the `kiln` CLI all
//! load migration directories through [`resolve_dir`] and [`load_dir`], so the checks made while a
//! crate compiles and the checks the CLI makes on the same directory can never disagree.

#![warn(missing_docs)]

pub mod build;
pub mod checksum;
pub mod config;
pub mod diag;
pub mod dir;
pub mod fileread;
pub mod format;
pub mod graph;
pub mod lex;
pub mod lock;
pub mod model;
pub mod revgraph;
pub mod split;
mod stretch;
pub mod target;
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
