// The macro takes nothing or one string literal.
static M: kiln::Migrator = kiln::migrations!(42);

fn main() {}
