// A locked revision whose file is gone.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/locked_deleted");

fn main() {}
