//! Everything `kiln` writes: result lines on stdout, errors and progress on stderr.
//!
//! Every line goes through [`scrub`], which removes the database password wherever it might
//! appear, so no output path can leak it. Writing to a closed pipe (`kiln history | head`) never
//! panics: the first failed write to stdout silences the rest, and a migration in progress carries
//! on undisturbed. On a terminal, runs draw a one-line progress bar on stderr that is erased before
//! each result line; when stderr is piped, no bar is drawn and the output is plain lines.

use crate::error::Code;
use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDOUT_ERROR: Mutex<Option<String>> = Mutex::new(None);
/// Whether a progress bar is currently drawn on stderr.
static BAR_SHOWN: AtomicBool = AtomicBool::new(false);

/// Registers the passwords found in `url` (in the user-info part or a `password=` parameter,
/// raw and percent-decoded) so they are never printed.
pub fn protect_url(url: &str) {
    let found = passwords_in(url);
    if found.is_empty() {
        return;
    }
    if let Ok(mut secrets) = SECRETS.lock() {
        for s in found {
            if !secrets.contains(&s) {
                secrets.push(s);
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Replaces every registered secret in `text` with `***`.
pub fn scrub(text: &str) -> String {
    let mut s = text.to_owned();
    if let Ok(secrets) = SECRETS.lock() {
        for secret in secrets.iter() {
            if s.contains(secret.as_str()) {
                s = s.replace(secret.as_str(), "***");
            }
        }
    }
    s
}

/// The passwords in a URL: `scheme://user:PASSWORD@host/...` and `?password=PASSWORD`.
fn passwords_in(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |raw: &str| {
        if raw.is_empty() {
            return;
        }
        let decoded = percent_decode(raw);
        if decoded != raw && !decoded.is_empty() {
            out.push(decoded);
        }
        out.push(raw.to_owned());
    };
    if let Some(start) = url.find("://") {
        let rest = &url[start + 3..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@')
            && let Some((_, pass)) = authority[..at].split_once(':')
        {
            push(pass);
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && (k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("pass"))
            {
                push(v);
            }
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (
                (b[i + 1] as char).to_digit(16),
                (b[i + 2] as char).to_digit(16),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
