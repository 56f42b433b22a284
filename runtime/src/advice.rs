//! The repair advice kiln gives in more than one place, written once so the runtime's errors and
//! the CLI can never recommend different (or unsafe) fixes for the same state.

/// The command that records the database as holding exactly `current` (the applied revisions'
/// tips), re-recording every checksum from the files, in one transaction.
///
/// This is the fix for drift when the database really matches the edited files: it keeps the
/// applied set as it is, so a replica starting meanwhile never sees an empty version table
/// (which `kiln stamp --purge` followed by a second stamp would show it, making it re-run every
/// revision). `unknown` adds `--allow-unknown`, which keeps rows this binary does not know.
///
/// ```
/// assert_eq!(
///     kiln_runtime::advice::restamp(&["c3".to_owned()], false),
///     "`kiln stamp c3`"
/// );
/// ```
pub fn restamp(current: &[String], unknown: bool) -> String {
    let targets = if current.is_empty() {
        "heads".to_owned()
    } else {
        current.join(" ")
    };
    let allow = if unknown { " --allow-unknown" } else { "" };
    format!("`kiln stamp {targets}{allow}`")
}

/// What to do about an applied revision whose file was edited after it ran.
pub fn drift(current: &[String], unknown: bool) -> String {
    format!(
        "restore the applied version of the file and put the change in a new revision; if the database really matches the edited file, record its checksum with {} (one transaction: the applied revisions stay recorded, only their checksums are re-read from the files)",
        restamp(current, unknown)
    )
}
