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
