// An upgrade section holding only a comment.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/empty_upgrade");

fn main() {}
