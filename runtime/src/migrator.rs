//! [`Migrator`]: an embedded (or loaded) migration set plus the settings used to apply it.

use crate::options::Options;
use kiln_core::{Diagnostics, MigrationDir, MigrationSet};
use std::borrow::Cow;

/// A validated migration set and how to apply it.
///
/// Usually built at compile time by `kiln::migrations!()` into a `static`; [`Migrator::load`]
/// builds the same thing from a directory at run time (the CLI does this).
#[derive(Debug, Clone)]
pub struct Migrator {
    set: MigrationSet,
    options: Options,
}

const ZERO_DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Migrator {
    /// A migrator with no revisions. The macro also expands to this after reporting a compile
    /// error, so one mistake does not produce a cascade of type errors.
    pub const EMPTY: Migrator = Migrator::from_set(MigrationSet::from_parts(
        Cow::Borrowed(&[]),
        Cow::Borrowed(&[]),
        Cow::Borrowed(&[]),
        Cow::Borrowed(ZERO_DIGEST),
    ));

    /// Wraps a validated set with default [`Options`].
    pub const fn from_set(set: MigrationSet) -> Self {
        Migrator {
            set,
            options: Options::DEFAULT,
        }
    }

    /// Loads and validates a directory at run time, with the same checks the macro makes.
    pub fn load(dir: &MigrationDir) -> Result<Self, Diagnostics> {
        kiln_core::load_dir(dir).map(|l| Migrator::from_set(l.set))
    }

    /// The same revisions with other settings.
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The settings in use.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The revisions.
    pub fn set(&self) -> &MigrationSet {
        &self.set
    }
}
