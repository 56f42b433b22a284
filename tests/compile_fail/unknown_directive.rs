// A typo in a directive name (`revices`) gets a suggestion.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/unknown_directive");

fn main() {}
