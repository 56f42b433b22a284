//! Everything `kiln` writes: result lines on stdout, errors and progress on stderr.
//!
//! Every line goes through [`scrub`], which redacts database URLs by their structure (the
//! runtime's `url` module finds the password), so no output path can leak one. Writing to a closed pipe (`kiln history | head`) never
//! panics: the first failed write to stdout silences the rest, and a migration in progress carries
//! on undisturbed. On a terminal, runs draw a one-line progress bar on stderr that is erased before
//! each result line; when stderr is piped, no bar is drawn and the output is plain lines.

use crate::exit::Code;
use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Database URLs seen on the command line or in the environment, each with its redacted form.
static URLS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDOUT_ERROR: Mutex<Option<String>> = Mutex::new(None);
/// Whether a progress bar is currently drawn on stderr.
static BAR_SHOWN: AtomicBool = AtomicBool::new(false);

/// Registers a database URL (or an argument holding one, such as `--database-url=URL`), so that
/// wherever its exact text shows up in output (clap echoing an argument, a driver quoting the
/// URL) the redacted form is printed instead. Only whole URLs are registered, never a password
/// on its own: searching for a short password's text would mask it in every word.
pub fn protect_url(text: &str) {
    let start = match text.find("://") {
        Some(i) => text[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |j| j + 1),
        None => match text.split_once('=') {
            Some((_, v)) if kiln_runtime::url::dialect_of(v).is_some() => text.len() - v.len(),
            _ if kiln_runtime::url::dialect_of(text).is_some() => 0,
            _ => return,
        },
    };
    let raw = &text[start..];
    let shown = kiln_runtime::redact_url(raw);
    if shown == raw {
        return;
    }
    if let Ok(mut urls) = URLS.lock()
        && !urls.iter().any(|(r, _)| r == raw)
    {
        urls.push((raw.to_owned(), shown));
        // Longest first, so a URL that contains another is replaced whole.
        urls.sort_by_key(|(r, _)| std::cmp::Reverse(r.len()));
    }
}

/// Removes passwords from text about to be printed: every registered URL is replaced by its
/// redacted form, then every other `scheme://...` in the text is redacted by its structure.
pub fn scrub(text: &str) -> String {
    let mut s = text.to_owned();
    if let Ok(urls) = URLS.lock() {
        for (raw, shown) in urls.iter() {
            if s.contains(raw.as_str()) {
                s = s.replace(raw.as_str(), shown);
            }
        }
    }
    kiln_runtime::url::redact_text(&s)
}

/// `true` when stdout is a terminal.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// `true` when stderr is a terminal (progress bars are drawn there).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Writes one line to stdout.
pub fn line(text: impl Display) {
    clear_bar();
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let text = scrub(&text.to_string());
    let mut o = std::io::stdout().lock();
    if let Err(e) = writeln!(o, "{text}").and_then(|()| o.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe
            && let Ok(mut slot) = STDOUT_ERROR.lock()
        {
            *slot = Some(e.to_string());
        }
    }
}

/// Writes a JSON value to stdout, pretty-printed.
pub fn json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => line(s),
        Err(e) => note(format!("cannot render JSON: {e}")),
    }
}

/// Writes a `kiln: ...` note to stderr (warnings, progress remarks).
pub fn note(text: impl Display) {
    error_text(&format!("kiln: {text}"));
}

/// Writes text to stderr as is (after scrubbing).
pub fn error_text(text: &str) {
    clear_bar();
    let text = scrub(text);
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{text}");
}

/// Draws (or redraws) the one-line progress bar on stderr. Only call when stderr is a terminal.
pub fn bar(done: usize, total: usize, label: &str) {
    const WIDTH: usize = 24;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(0).min(WIDTH);
    let mut label = scrub(label);
    if label.chars().count() > 60 {
        label = label.chars().take(59).collect::<String>() + "…";
    }
    let mut e = std::io::stderr().lock();
    let _ = write!(
        e,
        "\r\x1b[2K[{}{}] {done}/{total} {label}",
        "=".repeat(filled),
        " ".repeat(WIDTH - filled)
    );
    let _ = e.flush();
    BAR_SHOWN.store(true, Ordering::Relaxed);
}

/// Erases the progress bar, if one is drawn.
pub fn clear_bar() {
    if BAR_SHOWN.swap(false, Ordering::Relaxed) {
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[2K");
        let _ = e.flush();
    }
}

/// Called once at exit: turns a failed write to stdout (other than a closed pipe) into an error.
pub fn finish(code: Code) -> Code {
    clear_bar();
    let failed = STDOUT_ERROR.lock().ok().and_then(|mut s| s.take());
    match failed {
        Some(e) if code == Code::Ok => {
            error_text(&format!("kiln: cannot write to stdout: {e}"));
            Code::Failure
        }
        _ => code,
    }
}

/// A duration as people read it: `0.8 ms`, `12.3 ms`, `1.24 s`, `2m03s`.
pub fn duration(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// `1 revision`, `3 revisions`.
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("{n} {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// How many ids a text line names before it says "and N more": a long list is for `--json`.
pub const LISTED: usize = 10;

/// `a, b, c` for a short list; the first [`LISTED`] and `and N more` for a long one, so a
/// directory of thousands of drafts stays one readable line.
pub fn some<S: AsRef<str>>(ids: &[S]) -> String {
    let shown: Vec<&str> = ids.iter().take(LISTED).map(AsRef::as_ref).collect();
    match ids.len().saturating_sub(LISTED) {
        0 => shown.join(", "),
        rest => format!("{} and {rest} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn some_names_a_handful_then_counts() {
        assert_eq!(some(&["a", "b"]), "a, b");
        let ids: Vec<String> = (1..=12).map(|i| format!("r{i}")).collect();
        assert_eq!(
            some(&ids),
            "r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 and 2 more"
        );
        assert_eq!(some(&ids[..10]), "r1, r2, r3, r4, r5, r6, r7, r8, r9, r10");
    }
}
