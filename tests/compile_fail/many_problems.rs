// Problems in five files and the lock at once: every one is reported.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/many_problems");

fn main() {}
