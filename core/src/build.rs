//! The one-line `build.rs` helper that makes cargo notice added and removed migration files.
//!
//! `kiln::migrations!()` embeds each file with `include_str!`, so editing a file already triggers a
//! rebuild. A *new* file is invisible to that mechanism on stable Rust; telling cargo to watch the
//! directory from a build script closes the gap.

/// Tells cargo to re-run the build (and so re-expand `kiln::migrations!`) when anything in `dir`
/// changes. Call it from `build.rs` with the same directory you give the macro:
///
/// ```no_run
/// // in build.rs, as the whole of `fn main`:
/// kiln_core::build::watch("migrations");
/// ```
pub fn watch(dir: &str) {
    println!("cargo::rerun-if-changed={dir}");
}
