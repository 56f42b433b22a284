// A locked revision whose file changed: both checksums and both ways out.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/locked_changed");

fn main() {}
