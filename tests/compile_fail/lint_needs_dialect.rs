// kiln.toml denies a rule but nothing declares the dialect: the rules differ per engine.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/lint_denied");

fn main() {}
