// `0002_posts.sql` declares revision `0003`.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/revision_mismatch");

fn main() {}
