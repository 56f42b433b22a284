// `-- kiln:message` twice in one header.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/duplicate_directive");

fn main() {}
