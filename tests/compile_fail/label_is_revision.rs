// A branch label that is also a revision id.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/label_is_revision");

fn main() {}
