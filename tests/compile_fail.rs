//! The compile-fail suite: every way a migration directory can be broken is a compile error with a
//! pinned message (`tests/compile_fail/*.stderr`).
//!
//! Each case is a one-line program, `kiln::migrations!("tests/fixtures/<case>")`, over a fixture
//! directory in `tests/fixtures/`. trybuild compiles the cases as binaries of a generated crate in
//! `<target dir>/tests/trybuild/kiln/`, and cargo gives the macro *that* crate's directory as
//! `CARGO_MANIFEST_DIR`, not this one's. So before running the cases this test copies
//! `tests/fixtures` into the generated crate (byte for byte), where the cases' relative paths
//! resolve exactly as they would for a user's crate, and the messages show `tests/fixtures/...`
//! paths that do not depend on where the target directory is.
//!
//! Every case shares the generated crate's `kiln.toml`, staged from `tests/trybuild.kiln.toml`: it
//! denies one lint rule (no dialect, so the other cases read as before), for the compile-time
//! lint cases, `compile_fail/lint_*.rs` and the waived case in `compile_pass_lint/`, which must
//! compile and run under the same file. (`tests/compile_pass.rs` finds no kiln.toml, so the
//! same denied statement compiles there: nothing is denied.)
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test compile_fail`, then
//! read every changed `.stderr` file.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn broken_migration_directories_do_not_compile() {
    stage_fixtures();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
    t.pass("tests/compile_pass_lint/*.rs");
}

/// Copies `tests/fixtures` and the shared kiln.toml into the crate trybuild generates, replacing
/// any earlier copy.
fn stage_fixtures() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project_dir = target_dir().join("tests").join("trybuild").join("kiln");
    std::fs::create_dir_all(&project_dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", project_dir.display()));
    std::fs::copy(
        manifest_dir.join("tests").join("trybuild.kiln.toml"),
        project_dir.join("kiln.toml"),
    )
    .expect("cannot stage tests/trybuild.kiln.toml");
    let staged = project_dir.join("tests").join("fixtures");
    if staged.exists() {
        std::fs::remove_dir_all(&staged)
            .unwrap_or_else(|e| panic!("cannot remove {}: {e}", staged.display()));
    }
    copy_dir(&manifest_dir.join("tests").join("fixtures"), &staged);
}

/// The target directory exactly as trybuild finds it: from `cargo metadata`, which honours
/// `CARGO_TARGET_DIR` and `build.target-dir`.
fn target_dir() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version=1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cannot run `cargo metadata`");
    assert!(
        out.status.success(),
        "`cargo metadata` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8(out.stdout).expect("`cargo metadata` printed non-UTF-8");
    PathBuf::from(json_string_field(&json, "target_directory"))
}

/// The value of the first `"key":"..."` string field in `json`, unescaped.
fn json_string_field(json: &str, key: &str) -> String {
    let pat = format!("\"{key}\":\"");
    let start = json
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in cargo metadata"))
        + pat.len();
    let mut out = String::new();
    let mut chars = json[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return out,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let code = u32::from_str_radix(&hex, 16).expect("bad \\u escape");
                    out.push(char::from_u32(code).expect("bad \\u escape"));
                }
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    panic!("unterminated {key} in cargo metadata")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("cannot read a fixture directory entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst)
                .unwrap_or_else(|e| panic!("cannot copy {}: {e}", src.display()));
        }
    }
}
