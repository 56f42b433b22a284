// Labelling one of two heads is not enough: each needs its own branch label.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/one_head_labelled");

fn main() {}
