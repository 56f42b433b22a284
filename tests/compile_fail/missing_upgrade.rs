// A migration with a downgrade section but no `-- kiln:upgrade`.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/missing_upgrade");

fn main() {}
