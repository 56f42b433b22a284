// `dialect` is the only named argument.
static M: kiln::Migrator = kiln::migrations!("migrations", dialekt = "postgres");

fn main() {}
