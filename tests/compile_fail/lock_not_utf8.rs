// A kiln.lock that is not UTF-8.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/lock_not_utf8");

fn main() {}
