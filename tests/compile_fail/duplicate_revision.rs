// Two files declare revision `0002`.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/duplicate_revision");

fn main() {}
