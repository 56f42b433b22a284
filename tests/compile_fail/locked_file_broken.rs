// A locked file that no longer parses is reported as broken, not as gone.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/locked_file_broken");

fn main() {}
