//! kiln: database migrations baked into the binary at build time, checked by the compiler.
//!
//! See the README for the file format and a quick start.

#![warn(missing_docs)]

pub use kiln_core as core;
pub use kiln_macros::migrations;
pub use kiln_runtime::*;
