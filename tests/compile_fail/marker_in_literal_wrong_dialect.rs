// Declaring a dialect whose reading still places the marker inside a literal is an error too.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/marker_in_literal", dialect = "sqlite");

fn main() {}
