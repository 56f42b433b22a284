// A revision that revises itself.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/self_revision");

fn main() {}
