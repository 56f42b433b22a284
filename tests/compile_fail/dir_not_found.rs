// A directory that does not exist: the error points at the path literal.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/does_not_exist");

fn main() {}
