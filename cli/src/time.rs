//! Time without a time crate: `-- kiln:created` stamps, and `audit --since/--until` arguments.
//!
//! The runtime stores times as fixed-width UTC text (`2026-11-23T21:00:00.123456Z`), identical on
//! every engine, so filtering is a string comparison once the user's time is in that form.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, now.
pub fn now_unix_micros() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i128)
        .unwrap_or(0)
}

/// Now, as `-- kiln:created` wants it: `2026-11-23T21:00:00Z`.
pub fn now_rfc3339_seconds() -> String {
    let (y, mo, d, h, mi, s, _) = civil(now_unix_micros());
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// The runtime's fixed-width form of an instant.
pub fn canonical(micros: i128) -> String {
    let (y, mo, d, h, mi, s, frac) = civil(micros);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}Z")
}

/// Splits an instant into UTC calendar fields (Howard Hinnant's civil-from-days).
fn civil(micros: i128) -> (i128, i128, i128, i128, i128, i128, i128) {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    (y, m, d, sod / 3600, (sod % 3600) / 60, sod % 60, frac)
}

/// Days since the epoch of a calendar date (days-from-civil).
fn days_from_civil(y: i128, m: i128, d: i128) -> i128 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a user's time into the runtime's fixed-width UTC form. Accepts RFC 3339 with any
/// offset (`2026-11-23T21:00:00+01:00`, fractions allowed, a space instead of `T`), a date
/// (`2026-11-23`, midnight UTC), and an age before `now` (`90s`, `30m`, `12h`, `7d`, `2w`).
pub fn parse_user_time(s: &str, now: i128) -> Result<String, String> {
    let s = s.trim();
    if let Some(age) = parse_age(s)? {
        return Ok(canonical(now - age));
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
        return Ok(canonical(micros));
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
    Ok(canonical(micros))
}

/// `30m` → `Some(micros)`; not an age → `None`.
fn parse_age(s: &str) -> Result<Option<i128>, String> {
    let Some(unit) = s.chars().last() else {
        return Err("it is empty".into());
    };
    let num = &s[..s.len() - unit.len_utf8()];
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let n: i128 = num
        .parse()
        .map_err(|_| "the number is too large".to_owned())?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Ok(None),
    };
    Ok(Some(n * secs * 1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(canonical(0), "1970-01-01T00:00:00.000000Z");
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
