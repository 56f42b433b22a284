// Two revisions declare branch label `content`.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/duplicate_label");

fn main() {}
