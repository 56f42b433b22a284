// 0002 revises 0004, which (through 0003) revises 0002: the cycle is printed.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/cycle");

fn main() {}
