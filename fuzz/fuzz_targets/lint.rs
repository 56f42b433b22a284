//! Fuzz target `lint`: runs `kiln_lint::fuzzprops::lint` (the property, shared with the corpus
//! replay in `lint/tests/fuzz_corpus.rs`) on every input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_lint::fuzzprops::lint(data));
