// A Latin-1 byte on line 3 of a migration.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/not_utf8");

fn main() {}
