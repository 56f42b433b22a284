//! The validated, embeddable description of a migration set.
//!
//! Every field is a `Cow<'static, _>` so the same types hold a set decoded from what the
//! `migrations!` macro embedded (borrowing the binary's strings; see `embedded.rs`) and one
//! loaded from disk at run time (owned). Both come from [`crate::load_dir`]; the macro only turns
//! its result into tokens, so the two can never disagree.

use crate::lex::{Dialect, Syntax};
use std::borrow::Cow;
use std::time::Duration;

/// A borrowed-or-owned string, so revisions can live in a `static`.
pub type Str = Cow<'static, str>;
/// A borrowed-or-owned list of strings, so revisions can live in a `static`.
pub type StrList = Cow<'static, [Str]>;

/// One revision: a single `<revision>_<slug>.sql` file, parsed and checked. Read it through the
/// accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub(crate) id: Str,
    pub(crate) file: Str,
    pub(crate) message: Option<Str>,
    pub(crate) created: Option<Str>,
    pub(crate) parents: StrList,
    pub(crate) depends_on: StrList,
    pub(crate) branch_labels: StrList,
    pub(crate) transactional: bool,
    pub(crate) lock_timeout: Option<Duration>,
    pub(crate) statement_timeout: Option<Duration>,
    pub(crate) up: Str,
    pub(crate) up_line: u32,
    pub(crate) down: Option<Str>,
    pub(crate) down_line: u32,
    pub(crate) checksum: Str,
    pub(crate) draft: bool,
}

impl Revision {
    /// Builds a revision from parts. Used by the loader and kiln's own tools (the lenient CLI
    /// loader, lint tests); not a stable API, which is why it is hidden.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn from_parts(
        id: Str,
        file: Str,
        message: Option<Str>,
        created: Option<Str>,
        parents: StrList,
        depends_on: StrList,
        branch_labels: StrList,
        transactional: bool,
        up: Str,
        up_line: u32,
        down: Option<Str>,
        down_line: u32,
        checksum: Str,
        draft: bool,
    ) -> Self {
        Revision {
            id,
            file,
            message,
            created,
            parents,
            depends_on,
            branch_labels,
            transactional,
            lock_timeout: None,
            statement_timeout: None,
            up,
            up_line,
            down,
            down_line,
            checksum,
            draft,
        }
    }

    /// The same revision with its `-- kiln:lock-timeout` and `-- kiln:statement-timeout`
    /// values. Hidden for the same reason as [`Revision::from_parts`].
    #[doc(hidden)]
    pub const fn with_timeouts(
        mut self,
        lock_timeout: Option<Duration>,
        statement_timeout: Option<Duration>,
    ) -> Self {
        self.lock_timeout = lock_timeout;
        self.statement_timeout = statement_timeout;
        self
    }

    /// The revision id, e.g. `8b1e0c5d2a7f`.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The file name inside the migration directory, e.g. `8b1e0c5d2a7f_add_prefs.sql`.
    pub fn file(&self) -> &str {
        &self.file
    }
    /// The `-- kiln:message` text, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
    /// The `-- kiln:created` timestamp (RFC 3339), if any.
    pub fn created(&self) -> Option<&str> {
        self.created.as_deref()
    }
    /// Parent revisions (`-- kiln:revises`). Empty for a base; two or more for a merge.
    pub fn parents(&self) -> &[Str] {
        &self.parents
    }
    /// Revisions that must be applied first without being parents (`-- kiln:depends-on`), with
    /// branch labels already resolved to the revision that declares them.
    pub fn depends_on(&self) -> &[Str] {
        &self.depends_on
    }
    /// Branch labels declared on this revision (`-- kiln:branch`).
    pub fn branch_labels(&self) -> &[Str] {
        &self.branch_labels
    }
    /// `false` when the file says `-- kiln:transaction false`.
    pub fn is_transactional(&self) -> bool {
        self.transactional
    }
    /// `-- kiln:lock-timeout`: how long each statement of this revision may wait for a lock,
    /// overriding the run's setting; `Some(Duration::ZERO)` turns the run's setting off for this
    /// revision, `None` leaves it as it is.
    pub fn lock_timeout(&self) -> Option<Duration> {
        self.lock_timeout
    }
    /// `-- kiln:statement-timeout`: how long each statement of this revision may run, overriding
    /// the run's setting; `Some(Duration::ZERO)` turns it off, `None` leaves the run's.
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }
    /// The SQL of the `-- kiln:upgrade` section.
    pub fn up_sql(&self) -> &str {
        &self.up
    }
    /// The upgrade SQL as the stored `Cow`: cloning it is free for an embedded set (the text stays
    /// in the binary's read-only data) and copies only for a set loaded at run time.
    pub fn up_sql_cow(&self) -> &Str {
        &self.up
    }
    /// The 1-based line in the file where the upgrade SQL starts (the line after the marker).
    pub fn up_line(&self) -> u32 {
        self.up_line
    }
    /// The SQL of the `-- kiln:downgrade` section: `None` when the revision is irreversible,
    /// `Some("")` (or only comments) when there is nothing to undo.
    pub fn down_sql(&self) -> Option<&str> {
        self.down.as_deref()
    }
    /// The downgrade SQL as the stored `Cow` (see [`Revision::up_sql_cow`]).
    pub fn down_sql_cow(&self) -> Option<&Str> {
        self.down.as_ref()
    }
    /// The 1-based line where the downgrade SQL starts; 0 when there is no downgrade section.
    pub fn down_line(&self) -> u32 {
        self.down_line
    }
    /// `true` when the revision has no downgrade section.
    pub fn is_irreversible(&self) -> bool {
        self.down.is_none()
    }
    /// `true` when the revision has two or more parents.
    pub fn is_merge(&self) -> bool {
        self.parents.len() > 1
    }
    /// Lower-case hex SHA-256 of the normalized file (see [`crate::checksum`]).
    pub fn checksum(&self) -> &str {
        &self.checksum
    }
    /// `true` when the revision is not yet recorded in `kiln.lock`.
    pub fn is_draft(&self) -> bool {
        self.draft
    }
    /// A one-line summary for logs: `id (message)`.
    pub fn describe(&self) -> String {
        match self.message() {
            Some(m) if !m.is_empty() => format!("{} ({m})", self.id),
            _ => self.id.to_string(),
        }
    }
}

/// A whole migration directory, validated: one connected set of revisions with no cycles and
/// either one head and one base or every extra head/base on its own labelled branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSet {
    revisions: Cow<'static, [Revision]>,
    heads: StrList,
    bases: StrList,
    digest: Str,
    syntax: Option<Syntax>,
}

impl MigrationSet {
    /// Builds a set from parts already validated by [`crate::load_dir`]. Hidden: generated code
    /// calls it, users should not.
    #[doc(hidden)]
    pub const fn from_parts(
        revisions: Cow<'static, [Revision]>,
        heads: StrList,
        bases: StrList,
        digest: Str,
    ) -> Self {
        MigrationSet {
            revisions,
            heads,
            bases,
            digest,
            syntax: None,
        }
    }

    /// The same set, declaring the dialect reading its SQL is written for (kiln.toml's
    /// `dialect`, or the `migrations!` macro's argument). Hidden: generated code calls it.
    #[doc(hidden)]
    pub const fn with_syntax(mut self, syntax: Option<Syntax>) -> Self {
        self.syntax = syntax;
        self
    }

    /// The dialect reading the set declares, if it declares one: the runtime refuses to apply
    /// the set to another kind of database, and splits statements with these settings.
    pub fn syntax(&self) -> Option<Syntax> {
        self.syntax
    }

    /// How statements are split on a `dialect` database: the declared reading, or `dialect`'s
    /// default settings when the set declares none.
    pub fn syntax_for(&self, dialect: Dialect) -> Syntax {
        self.syntax.unwrap_or(Syntax::new(dialect))
    }

    /// All revisions in a deterministic topological order: every revision comes after its parents
    /// and dependencies; ties are broken by `created` and then by id.
    pub fn revisions(&self) -> &[Revision] {
        &self.revisions
    }
    /// Revisions nobody revises, in topological order.
    pub fn heads(&self) -> &[Str] {
        &self.heads
    }
    /// Revisions without parents, in topological order.
    pub fn bases(&self) -> &[Str] {
        &self.bases
    }
    /// Revisions not yet recorded in `kiln.lock`.
    pub fn drafts(&self) -> impl Iterator<Item = &Revision> {
        self.revisions.iter().filter(|r| r.is_draft())
    }
    /// The revision with exactly this id.
    pub fn get(&self, id: &str) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.id() == id)
    }
    /// The position of a revision in [`Self::revisions`]: a search, so a caller looking up many
    /// ids builds [`Self::positions`] once instead.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.revisions.iter().position(|r| r.id() == id)
    }
    /// Every revision's position in [`Self::revisions`], by id: for lookups in a loop, where
    /// [`Self::index_of`] would make the loop quadratic (indexing the graph of 1,000 revisions
    /// that way took a million string comparisons).
    pub fn positions(&self) -> std::collections::HashMap<&str, usize> {
        let mut map = std::collections::HashMap::with_capacity(self.revisions.len());
        for (i, r) in self.revisions.iter().enumerate() {
            // The first of two equal ids wins, as `index_of` finds it (a validated set has none).
            map.entry(r.id()).or_insert(i);
        }
        map
    }
    /// The number of revisions.
    pub fn len(&self) -> usize {
        self.revisions.len()
    }
    /// `true` for an empty directory.
    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }
    /// The digest of the whole set: see [`crate::checksum::set_digest`]. A database whose applied
    /// revisions have this digest is exactly at every head.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}
