//! The `lint` feature: the findings of the rules kiln.toml's `[lint] deny` names, in revisions
//! not yet in kiln.lock, as compile errors.
//!
//! Only drafts are linted: a locked revision may already be applied everywhere, so a rule added
//! to `deny` later must not break the build of history nobody can change (`kiln lint --all`
//! still shows it). Only the denied rules fail the build, not every error-level rule: each rule
//! that guards the build is chosen by name.

use kiln_core::config::Config;
use kiln_core::{MigrationDir, MigrationSet, Revision};
use kiln_lint::{Level, Options, render};
use proc_macro2::Span;
use std::path::Path;

/// The compile errors for `set`, loaded from `dir` in the crate at `manifest_dir`: none when
/// kiln.toml denies no rule.
pub(crate) fn denied(
    manifest_dir: &Path,
    dir: &MigrationDir,
    set: &MigrationSet,
    span: Span,
) -> Vec<(Span, String)> {
    let Some(path) = &dir.config else {
        return Vec::new();
    };
    // Relative to the crate, like the migration paths, when kiln.toml is in it.
    let shown = path
        .strip_prefix(manifest_dir)
        .unwrap_or(path)
        .display()
        .to_string();
    let config = match Config::read_with_rules(path, &shown, &kiln_lint::rule_ids()) {
        Ok(c) => c,
        Err(diags) => return diags.iter().map(|d| (span, d.to_string())).collect(),
    };
    let Some((deny, line)) = config.lint.deny.as_ref().filter(|(d, _)| !d.is_empty()) else {
        return Vec::new();
    };
    let Some(syntax) = set.syntax() else {
        let rules: Vec<String> = deny.iter().map(|(r, _)| format!("\"{r}\"")).collect();
        return vec![(
            span,
            format!(
                "{shown}:{line}: `[lint] deny = [{}]` needs the SQL dialect at compile time (the rules differ per engine)\n  help: add `dialect = \"postgres\"` (or \"mysql\", \"sqlite\") to kiln.toml, or pass it to the macro: `kiln::migrations!(\"migrations\", dialect = \"postgres\")`",
                rules.join(", ")
            ),
        )];
    };
    let mut opts = Options::new(syntax.dialect).with_config(&config.lint);
    opts.syntax = syntax;
    kiln_lint::lint(
        set,
        &opts,
        |r| dir.display_file(r.file()),
        |r| kiln_lint::header(&dir.path, r),
        Revision::is_draft,
    )
    .iter()
    .filter(|f| opts.levels.get(f.rule) == Some(&Level::Deny))
    .map(|f| (span, render::compile_error(f)))
    .collect()
}
