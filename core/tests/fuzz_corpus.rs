//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same property
//! functions the fuzz targets run (`kiln_core::fuzzprops`), so every input a campaign found
//! interesting, and every crash it found once, stays checked by `cargo test`. See
//! `docs/fuzzing.md`.

use kiln_core::fuzzprops;
use std::path::{Path, PathBuf};

/// Every file of `fuzz/corpus/<target>/`, sorted; panics when there is none, so a moved corpus
/// cannot make the replay pass vacuously.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Runs `property` on every input of `target`'s corpus, naming the file that fails.
fn replay(target: &str, property: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        if std::panic::catch_unwind(|| property(&bytes)).is_err() {
            panic!("{} fails its property (see above)", path.display());
        }
    }
}

#[test]
fn file_parser_corpus_holds() {
    replay("file_parser", fuzzprops::file_parser);
}

#[test]
fn sections_corpus_holds() {
    replay("sections", fuzzprops::sections);
}

#[test]
fn splitter_corpus_holds() {
    replay("splitter", fuzzprops::splitter);
}

#[test]
fn targets_corpus_holds() {
    replay("targets", fuzzprops::targets);
}

// What the campaigns found (docs/fuzzing.md): three ways the splitter's round trip first failed.
// Each is the behaviour of the engines' own clients, so the splitter keeps it and the property
// allows for it; these tests pin it.

/// psql sends a script's tail that ends inside parentheses as it is; so does kiln, and a `;`
/// inside those parentheses does not end it.
#[test]
fn postgres_script_ending_inside_parentheses_keeps_its_tail() {
    let s =
        kiln_core::split::split("SELECT 1;\nSELECT (2; 3", kiln_core::Dialect::Postgres).unwrap();
    let texts: Vec<&str> = s.iter().map(|s| s.sql).collect();
    assert_eq!(texts, ["SELECT 1", "SELECT (2; 3"]);
}

/// On MySQL `--` starts a comment only before a space or control character: `--;` is a
/// statement `--` (the server rejects it), not a comment that swallows the `;`.
#[test]
fn mysql_dashes_before_a_semicolon_are_not_a_comment() {
    let s = kiln_core::split::split("--;\nSELECT 1;", kiln_core::Dialect::MySql).unwrap();
    let texts: Vec<&str> = s.iter().map(|s| s.sql).collect();
    assert_eq!(texts, ["--", "SELECT 1"]);
}

/// Like the `mysql` client, kiln reads `DELIMITER` as a directive only at the start of a line;
/// after a statement on the same line it is a statement of its own.
#[test]
fn mysql_delimiter_after_a_statement_on_its_line_is_a_statement() {
    let s = kiln_core::split::split("SELECT 1;DELIMITER ;\nSELECT 2;", kiln_core::Dialect::MySql)
        .unwrap();
    let texts: Vec<&str> = s.iter().map(|s| s.sql).collect();
    assert_eq!(texts, ["SELECT 1", "DELIMITER", "SELECT 2"]);
}

/// Under a custom delimiter the `mysql` client tracks no blocks, and neither does kiln: an
/// unfinished `IF` is the server's to reject, not a split error.
#[test]
fn mysql_custom_delimiter_tracks_no_blocks() {
    let sql = "DELIMITER //\nCREATE PROCEDURE p() BEGIN IF x//\nDELIMITER ;\nSELECT 1;";
    let s = kiln_core::split::split(sql, kiln_core::Dialect::MySql).unwrap();
    let texts: Vec<&str> = s.iter().map(|s| s.sql).collect();
    assert_eq!(texts, ["CREATE PROCEDURE p() BEGIN IF x", "SELECT 1"]);
}

/// `--` at the very end of a MySQL script is a comment (nothing follows it), so `BEGIN--` is a
/// transaction statement, not the opener of a block.
#[test]
fn mysql_dashes_at_the_end_are_a_comment() {
    let s = kiln_core::split::split("BEGIN--", kiln_core::Dialect::MySql).unwrap();
    let texts: Vec<&str> = s.iter().map(|s| s.sql).collect();
    assert_eq!(texts, ["BEGIN--"]);
}

/// Found by the second campaign (`fuzz/corpus/splitter/crash-6cb90a75…`): a statement's end is
/// trimmed of ASCII whitespace only, the whitespace every engine skips. Trimming U+0085 (NEXT
/// LINE) after `--` on MySQL turned a statement the server rejects into a comment once rejoined.
#[test]
fn mysql_dashes_before_unicode_space_keep_it() {
    let s = kiln_core::split::split("--\u{85}", kiln_core::Dialect::MySql).unwrap();
    let texts: Vec<&str> = s.iter().map(|s| s.sql).collect();
    assert_eq!(texts, ["--\u{85}"]);
    let s = kiln_core::split::split("SELECT 1 \n;", kiln_core::Dialect::Postgres).unwrap();
    assert_eq!(s[0].sql, "SELECT 1", "ASCII whitespace is still trimmed");
}
