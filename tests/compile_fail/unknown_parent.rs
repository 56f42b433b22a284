// A parent id with a typo gets the closest existing id as a suggestion.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/unknown_parent");

fn main() {}
