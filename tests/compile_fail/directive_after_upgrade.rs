// A header directive inside the upgrade section.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/directive_after_upgrade");

fn main() {}
