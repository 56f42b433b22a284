// A migration without `-- kiln:revision`.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/missing_directive");

fn main() {}
