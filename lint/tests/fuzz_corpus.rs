//! Replays the committed fuzz corpus of the `lint` target (`fuzz/corpus/lint/`) through the
//! property the fuzz target runs (`kiln_lint::fuzzprops::lint`). See `docs/fuzzing.md`.

use std::path::{Path, PathBuf};

#[test]
fn lint_corpus_holds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/lint");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| kiln_lint::fuzzprops::lint(&bytes)).is_err() {
            panic!("{} fails its property (see above)", path.display());
        }
    }
}

/// Found by the `lint` target: sqlparser 0.59's SQLite grammar panicked on `MATCH` or `REGEXP`
/// without a right operand (`kiln lint` crashed on a typo). Now it is a statement kiln-lint
/// could not parse, and the operators still parse where they are complete.
#[test]
fn sqlite_match_or_regexp_without_an_operand_is_unparsed_not_a_panic() {
    use kiln_lint::facts::{Op, analyze};
    for sql in [
        "SELECT 1 MATCH",
        "SELECT a REGEXP",
        "UPDATE t SET a = b MATCH {",
    ] {
        let ops = analyze(sql, kiln_lint::Dialect::Sqlite).ops;
        assert!(
            matches!(ops.as_slice(), [Op::Unparsed { .. }]),
            "{sql}: {ops:?}"
        );
    }
    let ops = analyze(
        "SELECT * FROM notes WHERE body MATCH 'kiln'",
        kiln_lint::Dialect::Sqlite,
    )
    .ops;
    assert!(
        !ops.iter().any(|o| matches!(o, Op::Unparsed { .. })),
        "{ops:?}"
    );
}
