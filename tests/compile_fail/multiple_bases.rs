// Two unlabelled bases.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/multiple_bases");

fn main() {}
