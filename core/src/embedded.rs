//! The form `kiln::migrations!` embeds a migration set in, and its lazy decoding into a
//! [`MigrationSet`].
//!
//! Why a second form: rustc type-checks and const-evaluates what the macro emits, and a thousand
//! struct literals of `Cow` fields and `Option`s (generic constructors it has to infer one by one)
//! made a crate embedding 1,000 revisions build 1.86x slower than the same crate with
//! `sqlx::migrate!` (docs/benchmarks.md). [`EmbeddedRevision`] holds only `&'static str`, string
//! slices and integers, with absent values as flag bits instead of `Option`s, which rustc evaluates
//! several times faster. [`SetSource`] turns it into the ordinary [`MigrationSet`] on first use, so
//! the rest of kiln sees one type; the start-up check reads only the count, digest and dialect,
//! which the embedded form answers without decoding.

use crate::lex::Syntax;
use crate::model::{MigrationSet, Revision, Str, StrList};
use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::Duration;

/// One revision as the macro embeds it. Not a stable API: generated code builds it, users should
/// not; [`SetSource`] decodes it into a [`Revision`].
#[doc(hidden)]
#[derive(Debug)]
pub struct EmbeddedRevision {
    pub id: &'static str,
    pub file: &'static str,
    /// `""` unless [`EmbeddedRevision::MESSAGE`] is set.
    pub message: &'static str,
    /// `""` unless [`EmbeddedRevision::CREATED`] is set.
    pub created: &'static str,
    pub parents: &'static [&'static str],
    pub depends_on: &'static [&'static str],
    pub branch_labels: &'static [&'static str],
    /// The `EmbeddedRevision::*` bits; see [`EmbeddedRevision::flags_of`].
    pub flags: u32,
    /// Milliseconds; meaningful only with [`EmbeddedRevision::LOCK_TIMEOUT`].
    pub lock_timeout_ms: u32,
    /// Milliseconds; meaningful only with [`EmbeddedRevision::STATEMENT_TIMEOUT`].
    pub statement_timeout_ms: u32,
    pub up: &'static str,
    pub up_line: u32,
    /// `""` unless [`EmbeddedRevision::DOWN`] is set.
    pub down: &'static str,
    pub down_line: u32,
    pub checksum: &'static str,
}

impl EmbeddedRevision {
    /// The revision runs in a transaction.
    pub const TRANSACTIONAL: u32 = 1;
    /// The revision is not yet recorded in `kiln.lock`.
    pub const DRAFT: u32 = 1 << 1;
    /// `message` is present.
    pub const MESSAGE: u32 = 1 << 2;
    /// `created` is present.
    pub const CREATED: u32 = 1 << 3;
    /// `down` is present (the revision is reversible).
    pub const DOWN: u32 = 1 << 4;
    /// `lock_timeout_ms` is present.
    pub const LOCK_TIMEOUT: u32 = 1 << 5;
    /// `statement_timeout_ms` is present.
    pub const STATEMENT_TIMEOUT: u32 = 1 << 6;

    /// The flag bits describing `r`: what the macro writes into `flags`.
    pub fn flags_of(r: &Revision) -> u32 {
        [
            (r.is_transactional(), Self::TRANSACTIONAL),
            (r.is_draft(), Self::DRAFT),
            (r.message().is_some(), Self::MESSAGE),
            (r.created().is_some(), Self::CREATED),
            (r.down_sql().is_some(), Self::DOWN),
            (r.lock_timeout().is_some(), Self::LOCK_TIMEOUT),
            (r.statement_timeout().is_some(), Self::STATEMENT_TIMEOUT),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit)
    }

    /// A timeout as the macro embeds it: whole milliseconds. kiln-core accepts at most
    /// `i32::MAX` ms in a directive, so this is exact; `None` embeds as 0 without its flag.
    pub fn millis_of(d: Option<Duration>) -> u32 {
        d.map_or(0, |d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX))
    }

    fn has(&self, bit: u32) -> bool {
        self.flags & bit != 0
    }

    fn opt(&self, bit: u32, s: &'static str) -> Option<Str> {
        self.has(bit).then_some(Cow::Borrowed(s))
    }

    fn millis(&self, bit: u32, ms: u32) -> Option<Duration> {
        self.has(bit).then(|| Duration::from_millis(u64::from(ms)))
    }

    /// The ordinary [`Revision`]: the strings stay borrowed from the binary; only the lists of
    /// parents, dependencies and labels are allocated (and only when not empty).
    pub fn decode(&self) -> Revision {
        Revision {
            id: Cow::Borrowed(self.id),
            file: Cow::Borrowed(self.file),
            message: self.opt(Self::MESSAGE, self.message),
            created: self.opt(Self::CREATED, self.created),
            parents: str_list(self.parents),
            depends_on: str_list(self.depends_on),
            branch_labels: str_list(self.branch_labels),
            transactional: self.has(Self::TRANSACTIONAL),
            lock_timeout: self.millis(Self::LOCK_TIMEOUT, self.lock_timeout_ms),
            statement_timeout: self.millis(Self::STATEMENT_TIMEOUT, self.statement_timeout_ms),
            up: Cow::Borrowed(self.up),
            up_line: self.up_line,
            down: self.opt(Self::DOWN, self.down),
            down_line: self.down_line,
            checksum: Cow::Borrowed(self.checksum),
            draft: self.has(Self::DRAFT),
        }
    }
}

fn str_list(items: &'static [&'static str]) -> StrList {
    if items.is_empty() {
        Cow::Borrowed(&[])
    } else {
        Cow::Owned(items.iter().map(|s| Cow::Borrowed(*s)).collect())
    }
}

/// A whole set as the macro embeds it. Not a stable API (see [`EmbeddedRevision`]).
#[doc(hidden)]
#[derive(Debug)]
pub struct EmbeddedSet {
    /// In the topological order of [`MigrationSet::revisions`].
    pub revisions: &'static [EmbeddedRevision],
    pub heads: &'static [&'static str],
    pub bases: &'static [&'static str],
    pub digest: &'static str,
    pub syntax: Option<Syntax>,
}

impl EmbeddedSet {
    /// The ordinary [`MigrationSet`], equal to what [`crate::load_dir`] returned to the macro.
    pub fn decode(&self) -> MigrationSet {
        MigrationSet::from_parts(
            Cow::Owned(
                self.revisions
                    .iter()
                    .map(EmbeddedRevision::decode)
                    .collect(),
            ),
            str_list(self.heads),
            str_list(self.bases),
            Cow::Borrowed(self.digest),
        )
        .with_syntax(self.syntax)
    }
}

/// A migration set as a migrator holds it: built at run time, or embedded by the macro and decoded
/// on first use. The revision count, the digest and the declared dialect (all the start-up check
/// needs) never decode.
#[derive(Debug, Clone)]
pub struct SetSource(Source);

#[derive(Debug, Clone)]
enum Source {
    Built(MigrationSet),
    Embedded(&'static EmbeddedSet, OnceLock<MigrationSet>),
}

impl SetSource {
    /// A set already built (loaded at run time, or assembled by hand).
    pub const fn built(set: MigrationSet) -> Self {
        SetSource(Source::Built(set))
    }

    /// A set the macro embedded. Hidden: generated code calls it.
    #[doc(hidden)]
    pub const fn embedded(set: &'static EmbeddedSet) -> Self {
        SetSource(Source::Embedded(set, OnceLock::new()))
    }

    /// The set, decoding an embedded one the first time (later calls return the same value).
    pub fn get(&self) -> &MigrationSet {
        match &self.0 {
            Source::Built(set) => set,
            Source::Embedded(e, once) => once.get_or_init(|| e.decode()),
        }
    }

    /// [`MigrationSet::len`], without decoding.
    pub fn len(&self) -> usize {
        match &self.0 {
            Source::Built(set) => set.len(),
            Source::Embedded(e, _) => e.revisions.len(),
        }
    }

    /// [`MigrationSet::is_empty`], without decoding.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`MigrationSet::digest`], without decoding.
    pub fn digest(&self) -> &str {
        match &self.0 {
            Source::Built(set) => set.digest(),
            Source::Embedded(e, _) => e.digest,
        }
    }

    /// [`MigrationSet::syntax`], without decoding.
    pub fn syntax(&self) -> Option<Syntax> {
        match &self.0 {
            Source::Built(set) => set.syntax(),
            Source::Embedded(e, _) => e.syntax,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leak(s: &str) -> &'static str {
        Box::leak(s.to_owned().into_boxed_str())
    }

    fn leak_list(items: &[Str]) -> &'static [&'static str] {
        Box::leak(
            items
                .iter()
                .map(|s| leak(s))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        )
    }

    /// What the macro emits for `r`, built at run time.
    fn embed(r: &Revision) -> EmbeddedRevision {
        EmbeddedRevision {
            id: leak(r.id()),
            file: leak(r.file()),
            message: leak(r.message().unwrap_or("")),
            created: leak(r.created().unwrap_or("")),
            parents: leak_list(r.parents()),
            depends_on: leak_list(r.depends_on()),
            branch_labels: leak_list(r.branch_labels()),
            flags: EmbeddedRevision::flags_of(r),
            lock_timeout_ms: EmbeddedRevision::millis_of(r.lock_timeout()),
            statement_timeout_ms: EmbeddedRevision::millis_of(r.statement_timeout()),
            up: leak(r.up_sql()),
            up_line: r.up_line(),
            down: leak(r.down_sql().unwrap_or("")),
            down_line: r.down_line(),
            checksum: leak(r.checksum()),
        }
    }

    fn revision(i: u32, parents: &[&'static str], variant: bool) -> Revision {
        Revision {
            id: Cow::Owned(format!("{i:012x}")),
            file: Cow::Owned(format!("{i:012x}_x.sql")),
            message: variant.then_some(Cow::Borrowed("")),
            created: (!variant).then_some(Cow::Borrowed("2026-01-01T00:00:00Z")),
            parents: Cow::Owned(parents.iter().map(|p| Cow::Borrowed(*p)).collect()),
            depends_on: Cow::Borrowed(&[]),
            branch_labels: if variant {
                Cow::Owned(vec![Cow::Borrowed("side")])
            } else {
                Cow::Borrowed(&[])
            },
            transactional: !variant,
            lock_timeout: variant.then_some(Duration::ZERO),
            statement_timeout: variant.then_some(Duration::from_millis(i32::MAX as u64)),
            up: Cow::Borrowed("CREATE TABLE t (id INT);"),
            up_line: 4,
            down: (!variant).then_some(Cow::Borrowed("")),
            down_line: if variant { 0 } else { 7 },
            checksum: Cow::Owned(format!("{i:064x}")),
            draft: variant,
        }
    }

    #[test]
    fn decoding_gives_back_every_field_including_empty_and_absent_ones() {
        let revs = [
            revision(1, &[], false),
            revision(2, &["000000000001"], true),
        ];
        for r in &revs {
            assert_eq!(embed(r).decode(), *r);
        }
        let set = MigrationSet::from_parts(
            Cow::Owned(revs.to_vec()),
            Cow::Owned(vec![Cow::Borrowed("000000000002")]),
            Cow::Owned(vec![Cow::Borrowed("000000000001")]),
            Cow::Borrowed("ab"),
        )
        .with_syntax(Some(Syntax::new(crate::Dialect::Postgres)));
        let embedded: &'static EmbeddedSet = Box::leak(Box::new(EmbeddedSet {
            revisions: Box::leak(
                revs.iter()
                    .map(embed)
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            ),
            heads: &["000000000002"],
            bases: &["000000000001"],
            digest: "ab",
            syntax: set.syntax(),
        }));
        let source = SetSource::embedded(embedded);
        assert_eq!(
            (source.len(), source.digest(), source.syntax()),
            (2, "ab", set.syntax())
        );
        assert_eq!(*source.get(), set);
        assert!(std::ptr::eq(source.get(), source.get()), "decoded once");
    }
}
