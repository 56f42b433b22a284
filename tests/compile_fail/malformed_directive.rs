// A `-- kiln:created` value that is not an RFC 3339 time.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/malformed_directive");

fn main() {}
