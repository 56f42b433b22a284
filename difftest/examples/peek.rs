//! Prints generated cases (for looking at what the generator writes).
use kiln_core::lex::{Dialect, Syntax};
fn main() {
    let d = match std::env::args().nth(1).as_deref() {
        Some("mysql") => Dialect::MySql,
        Some("sqlite") => Dialect::Sqlite,
        _ => Dialect::Postgres,
    };
    for seed in 0..4 {
        let c = kiln_difftest::case(Syntax::new(d), seed, seed % 2 == 0);
        println!(
            "=== seed {seed} inside={} up={:?}\n{}",
            c.marker_inside, c.up, c.file
        );
    }
}
