// A stray `notes.txt` is an error; README.md, .gitkeep and kiln.lock beside it are not.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/not_a_migration");

fn main() {}
