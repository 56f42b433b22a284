// A cycle closed by a `depends-on` edge points at the `depends-on` line.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/dependency_cycle");

fn main() {}
