//! The property kiln-lint's fuzz target checks (`fuzz/fuzz_targets/lint.rs`), shared with the
//! test that replays the committed corpus (`lint/tests/fuzz_corpus.rs`), so the two cannot
//! disagree. Panics when the property fails.

use crate::{Input, rule};
use crate::{Options, lint_revisions};
use kiln_core::Revision;
use kiln_core::fuzzprops::syntax_of;

/// Lints arbitrary SQL: no panic, and every finding names a known rule and a real position.
///
/// The first byte picks the reading (as in kiln-core's fuzz properties), whether the revision
/// runs in a transaction, and the PostgreSQL version; the rest, cut at NUL bytes, is the upgrade
/// of a parent revision, then the upgrade and the downgrade of the revision that is reported, so
/// the rules that look at the parent and at the downgrade run too.
pub fn lint(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let syntax = syntax_of(first);
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.split('\0');
    let parent_up = parts.next().unwrap_or_default().to_owned();
    let up = parts.next().unwrap_or_default().to_owned();
    let down = parts.next().map(str::to_owned);
    let revision = |id: &'static str, parents: Vec<&'static str>, up: String, down| {
        Revision::from_parts(
            id.into(),
            format!("{id}.sql").into(),
            None,
            None,
            parents
                .into_iter()
                .map(Into::into)
                .collect::<Vec<_>>()
                .into(),
            Vec::new().into(),
            Vec::new().into(),
            first & 0x80 == 0,
            up.into(),
            3,
            down,
            5,
            String::new().into(),
            first & 0x40 != 0,
        )
    };
    let revs = [
        revision("r0", Vec::new(), parent_up, None),
        revision("r1", vec!["r0"], up, down.map(Into::into)),
    ];
    let inputs: Vec<Input<'_>> = revs
        .iter()
        .enumerate()
        .map(|(i, r)| Input {
            revision: r,
            path: format!("migrations/{}", r.file()),
            header: String::new(),
            report: i == 1,
        })
        .collect();
    let mut opts = Options::new(syntax.dialect);
    opts.syntax = syntax;
    opts.postgres_version = 10 + u32::from(first & 0x3f) % 8;
    for f in lint_revisions(&inputs, &opts) {
        assert!(rule(f.rule).is_some(), "{f:?}");
        assert_eq!(f.revision, "r1", "{f:?}");
        assert!(f.line >= 1 && f.column >= 1 && f.len >= 1, "{f:?}");
    }
}
