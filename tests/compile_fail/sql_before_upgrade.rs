// SQL in the header, before `-- kiln:upgrade`.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/sql_before_upgrade");

fn main() {}
