// A MySQL-style backslash escape leaves a literal open that would swallow the downgrade section.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/unterminated");

fn main() {}
