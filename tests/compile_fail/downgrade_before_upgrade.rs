// The downgrade section first.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/downgrade_before_upgrade");

fn main() {}
