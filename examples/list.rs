//! Prints the embedded sample migrations in the order kiln applies them.

static MIGRATOR: kiln::Migrator = kiln::migrations!();

fn main() {
    let set = MIGRATOR.set();
    for r in set.revisions() {
        let parents = r.parents().join(", ");
        println!(
            "{} <- [{parents}] {}{}",
            r.id(),
            r.message().unwrap_or(""),
            if r.is_draft() { " (draft)" } else { "" }
        );
    }
    println!("heads: {}", set.heads().join(", "));
}
