// The dialect argument names one of postgres, mysql, sqlite.
static M: kiln::Migrator = kiln::migrations!("migrations", dialect = "oracle");

fn main() {}
