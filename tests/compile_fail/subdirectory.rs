// A subdirectory inside the migration directory.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/subdirectory");

fn main() {}
