// Two downgrade sections.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/duplicate_section");

fn main() {}
