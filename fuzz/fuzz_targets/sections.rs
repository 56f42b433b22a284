//! Fuzz target `sections`: runs `kiln_core::fuzzprops::sections` (the property, shared with the corpus
//! replay in `core/tests/fuzz_corpus.rs`) on every input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_core::fuzzprops::sections(data));
