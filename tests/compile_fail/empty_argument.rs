// An empty directory name is refused rather than read as the crate root.
static M: kiln::Migrator = kiln::migrations!("");

fn main() {}
