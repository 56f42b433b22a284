// Labelling one of three heads is not enough: the two unlabelled ones are concurrent work nobody ordered.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/one_head_labelled");

fn main() {}
