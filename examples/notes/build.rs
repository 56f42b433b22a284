//! Rebuilds when a revision file is added to an embedded migration directory (editing one is
//! noticed by `kiln::migrations!` itself).

fn main() {
    kiln_core::build::watch("../../migrations");
    kiln_core::build::watch("tests/fixtures/slow");
}
