// The same draft as tests/fixtures/lint_denied, with a waiver on the statement: it compiles
// although kiln.toml denies require-concurrent-index.
static M: kiln::Migrator = kiln::migrations!("tests/fixtures/lint_waived", dialect = "postgres");

fn main() {
    let ids: Vec<&str> = M.set().revisions().iter().map(|r| r.id()).collect();
    assert_eq!(ids, ["0001", "0002", "0003"]);
}
