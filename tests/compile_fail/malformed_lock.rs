// Two bad lines in kiln.lock, each reported.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/malformed_lock");

fn main() {}
