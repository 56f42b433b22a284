// kiln.toml denies require-concurrent-index (tests/trybuild.kiln.toml): the draft 0003 builds an
// index on an existing table without CONCURRENTLY. The locked 0002 does the same and is not
// reported: denying a rule later must not break the build of history.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/lint_denied", dialect = "postgres");

fn main() {}
