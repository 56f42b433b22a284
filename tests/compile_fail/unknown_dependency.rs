// A `depends-on` naming a label that does not exist gets a suggestion.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/unknown_dependency");

fn main() {}
