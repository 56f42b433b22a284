//! The CLI's side of time: `-- kiln:created` stamps and `audit --since/--until` arguments, on top
//! of kiln-core's one calendar ([`kiln_core::time`]).
//!
//! The runtime stores times as fixed-width UTC text (`2026-11-23T21:00:00.123456Z`), identical on
//! every engine, so filtering is a string comparison once the user's time is in that form.

use kiln_core::time::{days_from_civil, now_micros, rfc3339_micros, rfc3339_seconds};

pub use kiln_core::time::now_micros as now_unix_micros;

/// Now, as `-- kiln:created` wants it: `2026-11-23T21:00:00Z`.
pub fn now_rfc3339_seconds() -> String {
    rfc3339_seconds(now_micros())
}

/// Parses a user's time into the runtime's fixed-width UTC form. Accepts RFC 3339 with any
/// offset (`2026-11-23T21:00:00+01:00`, fractions allowed, a space instead of `T`), a date
/// (`2026-11-23`, midnight UTC), and an age before `now` (`90s`, `30m`, `12h`, `7d`, `2w`, the
/// units of [`kiln_core::time::parse_duration`]).
pub fn parse_user_time(s: &str, now: i128) -> Result<String, String> {
    let s = s.trim();
    if let Some(age) = parse_age(s)? {
        return Ok(rfc3339_micros(now - age));
    }
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Result<i128, String> {
        b.get(r.clone())
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .and_then(|_| s[r].parse::<i128>().ok())
            .ok_or_else(|| "expected digits".to_owned())
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err("expected YYYY-MM-DD at the start".into());
    }
    let (y, mo, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return Err("the month or day is out of range".into());
    }
    let mut micros = days_from_civil(y, mo, d) * 86_400 * 1_000_000;
    if b.len() == 10 {
        return Ok(rfc3339_micros(micros));
    }
    if !kiln_core::format::is_rfc3339(s) {
        return Err("expected YYYY-MM-DDTHH:MM:SS followed by Z or an offset like +01:00".into());
    }
    let (h, mi, sec) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    micros += ((h * 60 + mi) * 60 + sec.min(59)) * 1_000_000;
    let mut i = 19;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        let padded: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
        micros += padded.parse::<i128>().unwrap_or(0);
    }
    if matches!(b[i], b'+' | b'-') {
        let sign = if b[i] == b'+' { 1 } else { -1 };
        let offset = digits(i + 1..i + 3)? * 60 + digits(i + 4..i + 6)?;
        micros -= sign * offset * 60 * 1_000_000;
    }
    Ok(rfc3339_micros(micros))
}

/// `30m` → `Some(micros)`; not an age (no unit letters after the number) → `None`. The
/// spelling is kiln-core's one duration ([`kiln_core::time::parse_duration`]).
fn parse_age(s: &str) -> Result<Option<i128>, String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let unit = s[digits..].trim_start();
    if digits == 0 || unit.is_empty() || !unit.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Ok(None);
    }
    let age = kiln_core::time::parse_duration(s)?;
    Ok(Some(i128::try_from(age.as_micros()).unwrap_or(i128::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            parse_user_time("2026-11-23", 0).unwrap(),
            "2026-11-23T00:00:00.000000Z"
        );
        assert_eq!(
            parse_user_time("2026-11-23T21:00:00.5+01:00", 0).unwrap(),
            "2026-11-23T20:00:00.500000Z"
        );
        assert_eq!(
            parse_user_time("2000-02-29T23:59:59Z", 0).unwrap(),
            "2000-02-29T23:59:59.000000Z"
        );
        assert_eq!(
            parse_user_time("2h", 3 * 3600 * 1_000_000).unwrap(),
            "1970-01-01T01:00:00.000000Z"
        );
        assert!(parse_user_time("yesterday", 0).is_err());
        assert!(parse_user_time("2026-13-01", 0).is_err());
        assert!(kiln_core::format::is_rfc3339(&now_rfc3339_seconds()));
    }
}
