// Without a declared dialect, SQLite's reading leaves E'it\'s new' open at the downgrade marker.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/marker_in_literal");

fn main() {}
