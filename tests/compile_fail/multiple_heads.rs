// Two unlabelled heads: the message names them and gives the `kiln merge` command.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/multiple_heads");

fn main() {}
