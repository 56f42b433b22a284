//! The one owner of database URLs: their structure, the engine a scheme names, host and port,
//! swapping the database name, and redaction.
//!
//! Every part of kiln that reads or prints a database URL (the runtime's connect and errors, the
//! CLI's output, probes and settings, the test harness) goes through these functions, so they
//! cannot disagree about where a password is.
//!
//! Passwords are found by the URL's structure, never by searching for their text (a one-letter
//! password must not mask that letter everywhere). Real passwords often hold characters a URL
//! reserves, unencoded (base64 secrets have `/`, `+` and `=`): a WHATWG parser (the `url` crate,
//! and so sqlx) ends the authority at the first `/`, `?` or `#`, takes the rest of the password
//! for a host, port or path, and then prints or even connects with it. Here the user-info ends at
//! the last `@` that is followed by something shaped like a host and preceded by a plausible user
//! name, so `postgres://adv_user:q8+Zk/9wXy==@db.internal:5432/app` has the password
//! `q8+Zk/9wXy==`. When in doubt, more is masked, never less. PostgreSQL and MySQL URLs whose
//! password a driver would read differently are refused by [`validate`] with the character to
//! percent-encode, instead of being sent to the wrong host.

use crate::error::Error;
use kiln_core::Dialect;
use std::ops::Range;

/// What replaces a password.
const MASK: &str = "***";

/// The pieces of a `scheme://[userinfo@]host[/path][?query]` URL, as byte ranges of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    scheme: Range<usize>,
    /// Between `://` and the `@` ending the user-info.
    userinfo: Option<Range<usize>>,
    /// The user-info has no plausible user name: mask all of it, not only the password.
    mask_user: bool,
    /// Host (and port, or a comma-separated host list); may be empty.
    host: Range<usize>,
    /// From the `/` after the host up to the query.
    path: Range<usize>,
    /// After the `?`, to the end (a `#` belongs to it: database URLs have no fragments).
    query: Option<Range<usize>>,
}

/// `true` for text that can be a host segment: no delimiter, no whitespace or control byte.
/// Deliberately loose (any host a driver might accept), so the real separator is never skipped.
fn is_host_shaped(s: &str) -> bool {
    !s.bytes().any(|b| {
        matches!(b, b'/' | b'?' | b'#' | b'@') || b.is_ascii_whitespace() || b.is_ascii_control()
    })
}

/// The scheme of `url` (before the first `:`), when it is a well-formed one.
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    .then_some(scheme)
}

/// Splits a URL with an authority (`scheme://...`) by structure; `None` for other forms.
fn split(url: &str) -> Option<Parts> {
    let scheme = scheme_of(url)?;
    let rest_start = scheme.len() + 3;
    if url.get(scheme.len()..rest_start) != Some("://") {
        return None;
    }
    let rest = &url[rest_start..];
    let host_end_from = |start: usize| {
        rest[start..]
            .find(['/', '?', '#'])
            .map_or(rest.len(), |i| start + i)
    };
    // The rightmost `@` followed by a host-shaped segment and preceded by a plausible user name
    // (which may not hold `/`, `?` or `#`; the password after the first `:` may hold anything).
    // Failing that, on a server URL, the rightmost `@` before a host-shaped segment, masking the
    // whole user-info: an odd user name must not expose the password after it.
    let host_shaped: Vec<usize> = rest
        .match_indices('@')
        .map(|(i, _)| i)
        .rev()
        .filter(|&i| is_host_shaped(&rest[i + 1..host_end_from(i + 1)]))
        .collect();
    let plausible = host_shaped.iter().copied().find(|&i| {
        let user = rest[..i].split(':').next().unwrap_or("");
        !user.contains(['/', '?', '#'])
    });
    let server = !scheme.eq_ignore_ascii_case("sqlite");
    let (at, mask_user) = match (plausible, host_shaped.first()) {
        (Some(i), _) => (Some(i), false),
        (None, Some(&i)) if server => (Some(i), true),
        _ => (None, false),
    };
    let host_start = at.map_or(0, |i| i + 1);
    let host_end = host_end_from(host_start);
    let query_at = rest[host_end..].find('?').map(|i| host_end + i);
    let path_end = query_at.unwrap_or(rest.len());
    let abs = |r: Range<usize>| rest_start + r.start..rest_start + r.end;
    Some(Parts {
        scheme: 0..scheme.len(),
        userinfo: at.map(|i| abs(0..i)),
        mask_user,
        host: abs(host_start..host_end),
        path: abs(host_end..path_end),
        query: query_at.map(|q| abs(q + 1..rest.len())),
    })
}

/// Percent-decodes `s` (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2))
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

/// `true` for query parameters that carry a secret: `password`, `pwd`, `passwd`, `pass`,
/// `sslpassword`, `ssl-key-password`, `token`, `secret`... (compared percent-decoded and without
/// regard to case).
fn is_secret_key(key: &str) -> bool {
    let k = percent_decode(key).to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|w| k.contains(w))
}

/// `true` when a `&`-separated query piece starts a new parameter (`name=` with a plain name).
/// A piece that does not is the rest of the previous value: a password with an unencoded `&`.
fn starts_parameter(piece: &str) -> bool {
    piece.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'%'))
    })
}

/// One query parameter: its key, and its value with any pieces it swallowed.
struct Param<'a> {
    key: &'a str,
    /// `None` for a bare flag without `=`.
    value: Option<String>,
    /// The value ran over an unencoded `&`.
    swallowed_ampersand: bool,
}

fn params(query: &str) -> Vec<Param<'_>> {
    let mut out: Vec<Param<'_>> = Vec::new();
    for piece in query.split('&') {
        match out.last_mut() {
            Some(last) if !starts_parameter(piece) && is_secret_key(last.key) => {
                let value = last.value.get_or_insert_with(String::new);
                value.push('&');
                value.push_str(piece);
                last.swallowed_ampersand = true;
            }
            _ => {
                let (key, value) = match piece.split_once('=') {
                    Some((k, v)) => (k, Some(v.to_owned())),
                    None => (piece, None),
                };
                out.push(Param {
                    key,
                    value,
                    swallowed_ampersand: false,
                });
            }
        }
    }
    out
}

/// The query with every secret parameter's value masked.
fn redact_query(query: &str) -> String {
    params(query)
        .iter()
        .map(|p| match &p.value {
            _ if is_secret_key(p.key) => format!("{}={MASK}", p.key),
            Some(v) => format!("{}={v}", p.key),
            None => p.key.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The URL with every password removed: the user-info's password becomes `***` (the user name
/// stays), and so does the value of every password-like query parameter. Safe to print and log.
///
/// Any text is accepted. A PostgreSQL or MySQL URL without `//` (which a driver reads as a path,
/// and might echo) is shown as `scheme:***`.
pub fn redact_url(url: &str) -> String {
    let Some(p) = split(url) else {
        return match scheme_of(url) {
            Some(s) if dialect_of(url).is_some_and(|d| d != Dialect::Sqlite) => {
                format!("{s}:{MASK}")
            }
            _ => url.to_owned(),
        };
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[p.scheme.clone()]);
    out.push_str("://");
    if let Some(ui) = &p.userinfo {
        let userinfo = &url[ui.clone()];
        match userinfo.split_once(':') {
            _ if p.mask_user => out.push_str(MASK),
            Some((user, _)) => {
                out.push_str(user);
                out.push(':');
                out.push_str(MASK);
            }
            None => out.push_str(userinfo),
        }
        out.push('@');
    }
    out.push_str(&url[p.host.clone()]);
    out.push_str(&url[p.path.clone()]);
    if let Some(q) = &p.query {
        out.push('?');
        out.push_str(&redact_query(&url[q.clone()]));
    }
    out
}

/// Redacts every URL that appears in free text (an error message, a line of output): each
/// `scheme://...` run up to whitespace or a quote is replaced by [`redact_url`] of it.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut search = 0;
    while let Some(i) = text[search..].find("://").map(|i| search + i) {
        let start = text[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |j| j + 1)
            .max(done);
        let end = text[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '`' | '"' | '\'' | '<' | '>'))
            .map_or(text.len(), |j| i + j);
        out.push_str(&text[done..start]);
        out.push_str(&redact_url(&text[start..end]));
        done = end;
        search = end.max(i + 3);
    }
    out.push_str(&text[done..]);
    out
}

/// The engine a URL's scheme names: `sqlite:`, `postgres:`/`postgresql:`, `mysql:`/`mariadb:`.
pub fn dialect_of(url: &str) -> Option<Dialect> {
    match scheme_of(url)?.to_ascii_lowercase().as_str() {
        "sqlite" => Some(Dialect::Sqlite),
        "postgres" | "postgresql" => Some(Dialect::Postgres),
        "mysql" | "mariadb" => Some(Dialect::MySql),
        _ => None,
    }
}

/// Checks that kiln can use the URL and that the driver will read it as kiln does, and returns
/// the engine it names. The error shows the URL redacted and says what to change.
///
/// A PostgreSQL or MySQL password holding an unencoded `/`, `?` or `#`, or a password parameter
/// holding `&` or `#`, would be split by the driver's parser (connecting to a host or database
/// named after part of the password, and echoing it in errors): such URLs are refused with the
/// percent-encoding to use.
pub fn validate(url: &str) -> Result<Dialect, Error> {
    let bad = |reason: String| Error::Url {
        url: redact_url(url),
        reason,
    };
    let Some(dialect) = dialect_of(url) else {
        return Err(bad(
            "expected a URL starting with sqlite:, postgres:, postgresql:, mysql: or mariadb:"
                .into(),
        ));
    };
    if dialect == Dialect::Sqlite {
        return Ok(dialect);
    }
    let Some(p) = split(url) else {
        return Err(bad(format!(
            "expected `{}://[user[:password]@]host[:port]/database`",
            scheme_of(url).unwrap_or("scheme")
        )));
    };
    let encode = |what: &str, c: char| {
        bad(format!(
            "the {what} contains an unencoded `{c}`, which the driver would read as the end of it; percent-encode it as %{:02X}",
            c as u32
        ))
    };
    if let Some(ui) = &p.userinfo
        && let Some((_, password)) = url[ui.clone()].split_once(':')
        && let Some(c) = password.chars().find(|c| matches!(c, '/' | '?' | '#'))
    {
        return Err(encode("password", c));
    }
    if let Some(q) = &p.query {
        for param in params(&url[q.clone()]) {
            if param.swallowed_ampersand {
                return Err(encode(&format!("`{}` parameter", param.key), '&'));
            }
            if param.value.as_deref().is_some_and(|v| v.contains('#')) {
                return Err(encode(&format!("`{}` parameter", param.key), '#'));
            }
        }
    }
    if url[p.host.clone()].contains('#') || url[p.path.clone()].contains('#') {
        return Err(bad(
            "the URL contains an unencoded `#`; percent-encode it as %23".into(),
        ));
    }
    Ok(dialect)
}

/// Host and port of a PostgreSQL or MySQL URL that names one TCP server (default ports 5432 and
/// 3306); `None` for SQLite, Unix sockets (`host=`/`socket=` parameters), host lists and URLs
/// that do not validate.
pub fn tcp_address(url: &str) -> Option<(String, u16)> {
    let default = match validate(url).ok()? {
        Dialect::Postgres => 5432,
        Dialect::MySql => 3306,
        _ => return None,
    };
    let p = split(url)?;
    if let Some(q) = &p.query
        && params(&url[q.clone()]).iter().any(|x| {
            let k = percent_decode(x.key).to_ascii_lowercase();
            k == "host" || k == "socket" || k == "hostaddr"
        })
    {
        return None;
    }
    let hostport = &url[p.host];
    if hostport.is_empty() || hostport.contains(',') {
        return None;
    }
    if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().ok()?,
            None => default,
        };
        return Some((host.to_owned(), port));
    }
    match hostport.rsplit_once(':') {
        Some((h, port)) => Some((h.to_owned(), port.parse().ok()?)),
        None => Some((hostport.to_owned(), default)),
    }
}

/// The URL with its database name replaced by `name` (user, password, host and parameters kept).
/// A URL without `//` is returned unchanged.
pub fn with_database(url: &str, name: &str) -> String {
    let Some(p) = split(url) else {
        return url.to_owned();
    };
    format!("{}/{name}{}", &url[..p.path.start], &url[p.path.end..])
}

/// A PostgreSQL URL whose sessions start with `search_path` set to `schema`: the parameter
/// `options=-csearch_path%3D<schema>` (libpq's and sqlx's `options`, sent in the startup packet)
/// is added to the query. This is how kiln points a run at one schema of a database (a schema
/// per tenant): unqualified names in the revisions resolve to that schema. `schema` must be a
/// plain name (`A-Z a-z 0-9 _`), as [`crate::Options::schema`] requires. A URL without `//` is
/// returned unchanged.
pub fn with_search_path(url: &str, schema: &str) -> String {
    let Some(p) = split(url) else {
        return url.to_owned();
    };
    let sep = match &p.query {
        Some(q) if !q.is_empty() => "&",
        Some(_) => "",
        None => "?",
    };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

/// The URL with its `host[:port]` replaced by `address` (user, password, database and parameters
/// kept), such as a test proxy's `127.0.0.1:40123`. A URL without `//` is returned unchanged.
pub fn with_address(url: &str, address: &str) -> String {
    let Some(p) = split(url) else {
        return url.to_owned();
    };
    format!("{}{address}{}", &url[..p.host.start], &url[p.host.end..])
}

/// The URL as sqlx's drivers expect it: `mariadb:` becomes `mysql:`.
pub(crate) fn for_driver(url: &str) -> std::borrow::Cow<'_, str> {
    match scheme_of(url) {
        Some(s) if s.eq_ignore_ascii_case("mariadb") => format!("mysql{}", &url[s.len()..]).into(),
        _ => url.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_passwords_are_masked_by_structure() {
        for (url, shown) in [
            (
                "postgres://u:secret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("mysql://root@h/db", "mysql://root@h/db"),
            ("sqlite://a.db", "sqlite://a.db"),
            ("postgres://u:p%40ss@h/db?x=1", "postgres://u:***@h/db?x=1"),
            // The base64 password with an unencoded `/`.
            (
                "postgres://adv_user:q8+Zk/9wXy==@db.internal:5432/app",
                "postgres://adv_user:***@db.internal:5432/app",
            ),
            ("postgres://u:a?b@h/db", "postgres://u:***@h/db"),
            ("postgres://u:a#b@h/db", "postgres://u:***@h/db"),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:p:w@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u:a/b?c#d@e@h:1/db?sslmode=off",
                "postgres://u:***@h:1/db?sslmode=off",
            ),
            ("postgres://:secret@h/db", "postgres://:***@h/db"),
            ("postgres://u:@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u:x@/db?host=/run/pg",
                "postgres://u:***@/db?host=/run/pg",
            ),
            ("postgres://u:x@[::1]:5/db", "postgres://u:***@[::1]:5/db"),
            ("oracle://kiln:pw/x@db/x", "oracle://kiln:***@db/x"),
            // A host a narrow host grammar would not accept still ends the user-info.
            (
                "postgres://u:a@b/c@my~host/db",
                "postgres://u:***@my~host/db",
            ),
            // A user name with an unencoded `/`: the whole user-info goes.
            ("postgres://u/x:p@a/b@h/db", "postgres://***@h/db"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn a_one_letter_password_masks_only_the_password() {
        assert_eq!(
            redact_url("postgres://database:e@error/e"),
            "postgres://database:***@error/e"
        );
        assert_eq!(
            redact_text("database error: postgres://u:e@h/e failed"),
            "database error: postgres://u:***@h/e failed"
        );
    }

    #[test]
    fn password_parameters_are_masked() {
        for (url, shown) in [
            (
                "mysql://h/db?user=u&password=secret&ssl-mode=off",
                "mysql://h/db?user=u&password=***&ssl-mode=off",
            ),
            ("mysql://h/db?pwd=s", "mysql://h/db?pwd=***"),
            ("mysql://h/db?PASSWD=s", "mysql://h/db?PASSWD=***"),
            (
                "postgres://h/db?sslpassword=s&x=1",
                "postgres://h/db?sslpassword=***&x=1",
            ),
            (
                "postgres://h/db?pass%77ord=s",
                "postgres://h/db?pass%77ord=***",
            ),
            // A password with unencoded `&`, `?`, `/`, `#` and `=` stays masked whole.
            (
                "mysql://h/db?password=a&b?c/d#e=f&ssl-mode=off",
                "mysql://h/db?password=***&ssl-mode=off",
            ),
            ("mysql://h/db?flag&x=1", "mysql://h/db?flag&x=1"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn an_at_sign_in_a_parameter_is_not_taken_for_the_user_info() {
        assert_eq!(
            redact_url("mysql://root@h/db?user=a@example.com&password=s"),
            "mysql://root@h/db?user=a@example.com&password=***"
        );
        assert_eq!(
            redact_url("sqlite:///tmp/a@b/x.db"),
            "sqlite:///tmp/a@b/x.db"
        );
    }

    #[test]
    fn urls_without_an_authority() {
        assert_eq!(redact_url("sqlite:data.db"), "sqlite:data.db");
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(redact_url("postgres:u:secret@h"), "postgres:***");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn redaction_is_idempotent_and_finds_urls_in_text() {
        for url in [
            "postgres://adv_user:q8+Zk/9wXy==@db.internal:5432/app",
            "mysql://h/db?password=a&b&x=1",
        ] {
            let once = redact_url(url);
            assert_eq!(redact_url(&once), once);
        }
        assert_eq!(
            redact_text("cannot use `postgres://u:s/x@h/db` or 'mysql://r:t@h' now"),
            "cannot use `postgres://u:***@h/db` or 'mysql://r:***@h' now"
        );
        assert_eq!(redact_text("no urls here: a:b"), "no urls here: a:b");
    }

    #[test]
    fn ambiguous_passwords_are_refused_with_the_encoding() {
        let err = validate("postgres://adv_user:q8+Zk/9wXy==@db.internal:5432/app")
            .unwrap_err()
            .to_string();
        assert!(err.contains("%2F"), "{err}");
        assert!(!err.contains("9wXy"), "{err}");
        assert!(
            err.contains("postgres://adv_user:***@db.internal:5432/app"),
            "{err}"
        );
        assert!(
            validate("mysql://u:a?b@h/db")
                .unwrap_err()
                .to_string()
                .contains("%3F")
        );
        assert!(
            validate("mysql://u:a#b@h/db")
                .unwrap_err()
                .to_string()
                .contains("%23")
        );
        assert!(
            validate("mysql://h/db?password=a&b")
                .unwrap_err()
                .to_string()
                .contains("%26")
        );
        assert!(validate("postgres:u:p@h").is_err());
        assert!(validate("oracle://u:p@h/x").is_err());
        assert_eq!(
            validate("postgres://u:p%2F@h/db").ok(),
            Some(Dialect::Postgres)
        );
        assert_eq!(validate("mariadb://u:p@ss@h/db").ok(), Some(Dialect::MySql));
        assert_eq!(
            validate("sqlite://a.db?mode=rwc").ok(),
            Some(Dialect::Sqlite)
        );
    }

    #[test]
    fn finds_tcp_servers() {
        assert_eq!(
            tcp_address("postgres://u:p@db.example:6543/x"),
            Some(("db.example".into(), 6543))
        );
        assert_eq!(
            tcp_address("mysql://root@127.0.0.1/x"),
            Some(("127.0.0.1".into(), 3306))
        );
        assert_eq!(tcp_address("postgres://[::1]:1/x"), Some(("::1".into(), 1)));
        assert_eq!(tcp_address("postgres:///x?host=/run/postgresql"), None);
        assert_eq!(tcp_address("postgres://a,b/x"), None);
        assert_eq!(tcp_address("sqlite://a.db"), None);
        assert_eq!(
            tcp_address("postgres://u:1234/abc@host/db"),
            None,
            "an ambiguous URL is not probed at a host made of its password"
        );
    }

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            with_database("postgres://u@h:1/test", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(
            with_database("mysql://root@h:3306/test?ssl-mode=disabled", "x"),
            "mysql://root@h:3306/x?ssl-mode=disabled"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgres://u:p/w@h/old?password=a/b", "new"),
            "postgres://u:p/w@h/new?password=a/b"
        );
    }

    #[test]
    fn every_credential_form_is_masked_on_every_printing_path() {
        // (URL, the secret it carries): user-info, `password=`, `pwd=`, and percent-encoded
        // forms of each (in the password, in the parameter name, in the parameter value).
        for (url, secret) in [
            ("postgres://u:hunter2@h:5432/db", "hunter2"),
            ("mysql://u:hunter2@h/db", "hunter2"),
            ("postgres://u:hun%40ter2@h/db", "hun%40ter2"),
            ("mysql://h/db?user=u&password=hunter2", "hunter2"),
            ("mysql://h/db?PASSWORD=hunter2&x=1", "hunter2"),
            ("mysql://h/db?pwd=hunter2", "hunter2"),
            ("mysql://h/db?PWD=hunter2&ssl-mode=off", "hunter2"),
            ("mysql://h/db?p%77d=hunter2", "hunter2"),
            ("postgres://h/db?pass%77ord=hunter2", "hunter2"),
            ("mysql://h/db?password=hun%26ter2", "hun%26ter2"),
            ("mysql://h/db?pwd=hun%2Fter2&x=1", "hun%2Fter2"),
        ] {
            let shown = redact_url(url);
            assert!(!shown.contains(secret), "redact_url({url}) = {shown}");
            assert!(shown.contains(MASK), "redact_url({url}) = {shown}");
            let text = redact_text(&format!("error: cannot reach {url} (refused)"));
            assert!(!text.contains(secret), "redact_text: {text}");
            assert!(text.contains(MASK), "redact_text: {text}");
            // What a failed validation prints (the CLI and `Db::connect` show this error).
            let bad = format!("{url}#frag");
            let e = validate(&bad).expect_err(&bad).to_string();
            assert!(!e.contains(secret), "validate({bad}): {e}");
        }
    }

    #[test]
    fn replaces_the_address() {
        assert_eq!(
            with_address("postgres://u:p%40ss@h:5432/db?sslmode=off", "127.0.0.1:9"),
            "postgres://u:p%40ss@127.0.0.1:9/db?sslmode=off"
        );
        assert_eq!(
            with_address("mysql://root@h/test", "127.0.0.1:9"),
            "mysql://root@127.0.0.1:9/test"
        );
        assert_eq!(
            with_address("postgres://u@[::1]:5/db", "127.0.0.1:9"),
            "postgres://u@127.0.0.1:9/db"
        );
        assert_eq!(with_address("sqlite:x.db", "127.0.0.1:9"), "sqlite:x.db");
    }

    #[test]
    fn schemes_name_engines() {
        assert_eq!(dialect_of("postgresql://h/x"), Some(Dialect::Postgres));
        assert_eq!(dialect_of("MariaDB://h/x"), Some(Dialect::MySql));
        assert_eq!(dialect_of("sqlite:x.db"), Some(Dialect::Sqlite));
        assert_eq!(dialect_of("oracle://h"), None);
        assert_eq!(for_driver("mariadb://h/x"), "mysql://h/x");
    }

    #[test]
    fn a_search_path_is_added_as_the_options_parameter() {
        assert_eq!(
            with_search_path("postgres://u:p@h/db", "tenant_1"),
            "postgres://u:p@h/db?options=-csearch_path%3Dtenant_1"
        );
        assert_eq!(
            with_search_path("postgres://h/db?sslmode=disable", "t"),
            "postgres://h/db?sslmode=disable&options=-csearch_path%3Dt"
        );
        assert_eq!(with_search_path("postgres:nope", "t"), "postgres:nope");
        let shown = redact_url(&with_search_path("postgres://u:secret@h/db", "t"));
        assert_eq!(shown, "postgres://u:***@h/db?options=-csearch_path%3Dt");
    }
}
