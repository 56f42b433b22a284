//! kiln's only calendar: UTC instants as the fixed-width RFC 3339 text kiln writes.
//!
//! Two forms exist and both are byte-for-byte part of kiln's contract: the runtime's audit and
//! version rows hold `2026-11-23T21:00:00.123456Z` (fixed width, so text order is time order and
//! every engine can filter with a plain string comparison), and `-- kiln:created` headers hold
//! `2026-11-23T21:00:00Z`. kiln never needs time zones, leap seconds or parsing beyond what the
//! CLI's `--since`/`--until` accept, so this is kept by hand rather than pulling a time crate into
//! the proc macro's and the runtime's dependency tree (see docs/architecture.md).
//!
//! It also owns the one spelling of a duration (`200ms`, `5s`, `10min`, `2h`, `7d`, `2w`) that
//! `-- kiln:lock-timeout`, kiln.toml's timeouts, the CLI's timeout flags and `audit --since 30m`
//! all accept, and the way kiln prints one back.
//!
//! ```
//! use kiln_core::time;
//! assert_eq!(time::rfc3339_micros(1_795_467_600_123_456), "2026-11-23T21:00:00.123456Z");
//! assert_eq!(time::rfc3339_seconds(1_795_467_600_123_456), "2026-11-23T21:00:00Z");
//! assert_eq!(time::days_from_civil(2026, 11, 23) * 86_400, 1_795_392_000);
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, now. A clock set before 1970 reads as the epoch itself
/// rather than failing: a stamp is bookkeeping, never a reason to abort a migration.
pub fn now_micros() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i128)
}

/// `micros` since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the form the runtime stores.
pub fn rfc3339_micros(micros: i128) -> String {
    let c = Civil::from_micros(micros);
    if !(0..=9999).contains(&c.year) {
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
        );
    }
    // Written digit by digit: a whole run writes two of these per revision, and `format!` with
    // padded 128-bit integers cost ten times as much.
    let mut out = String::with_capacity(27);
    for (value, width, then) in [
        (c.year, 4, '-'),
        (c.month, 2, '-'),
        (c.day, 2, 'T'),
        (c.hour, 2, ':'),
        (c.minute, 2, ':'),
        (c.second, 2, '.'),
        (c.micros, 6, 'Z'),
    ] {
        push_digits(&mut out, value, width);
        out.push(then);
    }
    out
}

/// Appends the last `width` decimal digits of `value` (0 or more), zero-padded.
fn push_digits(out: &mut String, value: i128, width: u32) {
    let mut v = u64::try_from(value).unwrap_or(0);
    let mut digits = [b'0'; 6];
    for slot in digits[..width as usize].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for &d in &digits[..width as usize] {
        out.push(char::from(d));
    }
}

/// `micros` since the epoch as `YYYY-MM-DDTHH:MM:SSZ`, the form of `-- kiln:created`.
pub fn rfc3339_seconds(micros: i128) -> String {
    let c = Civil::from_micros(micros);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days-from-civil).
/// `month` is 1-12; the caller checks ranges, this only does the arithmetic.
pub fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a duration: a whole number and a unit, `ms`, `s`, `m` or `min`, `h`, `d` or `w`, with
/// optional blanks between them (`200ms`, `5s`, `10min`, `10 min`, `2h`). A unit is required, so
/// a bare `5` is never read as the wrong one.
///
/// ```
/// use kiln_core::time::parse_duration;
/// use std::time::Duration;
/// assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
/// assert_eq!(parse_duration("10 min"), Ok(Duration::from_secs(600)));
/// assert!(parse_duration("5").is_err());
/// ```
///
/// # Errors
///
/// What is wrong, in words that follow "expected a duration": no number, no or an unknown
/// unit, a number too large.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "`{s}` does not start with a whole number; write a number and a unit such as `200ms`, `5s` or `10min`"
        ));
    }
    let unit = s[digits..].trim_start();
    let per: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        "" => {
            return Err(format!(
                "`{s}` has no unit; write `{s}s` for seconds or `{s}ms` for milliseconds (units: ms, s, min, h, d, w)"
            ));
        }
        other => {
            return Err(format!(
                "`{other}` is not a unit of time; use ms, s, min, h, d or w, e.g. `5s`"
            ));
        }
    };
    s[..digits]
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per))
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// The longest timeout a server setting can hold: PostgreSQL keeps `lock_timeout` and
/// `statement_timeout` in milliseconds in a 32-bit integer (about 24.8 days).
pub const MAX_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// [`parse_duration`] for a timeout: at most [`MAX_TIMEOUT`]; `0` (any unit, or none) means
/// "off" and is returned as [`Duration::ZERO`].
///
/// # Errors
///
/// The reason, as for [`parse_duration`], or that the value is over the limit.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    if s.trim().bytes().all(|b| b == b'0') && !s.trim().is_empty() {
        return Ok(Duration::ZERO);
    }
    let d = parse_duration(s)?;
    if d > MAX_TIMEOUT {
        return Err(format!(
            "`{}` is longer than the longest timeout the servers accept ({})",
            s.trim(),
            format_duration(MAX_TIMEOUT)
        ));
    }
    Ok(d)
}

/// A duration as [`parse_duration`] reads it, in the largest unit that shows it exactly:
/// `200ms`, `5s`, `10min`, `2h`; `0s` for zero.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    for (unit, per) in [("h", 3_600_000), ("min", 60_000), ("s", 1_000)] {
        if ms.is_multiple_of(per) {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

/// An instant split into UTC calendar fields.
struct Civil {
    year: i128,
    month: i128,
    day: i128,
    hour: i128,
    minute: i128,
    second: i128,
    micros: i128,
}

impl Civil {
    /// The inverse of [`days_from_civil`] (Hinnant's civil-from-days), plus the time of day.
    fn from_micros(micros: i128) -> Civil {
        let secs = micros.div_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Civil {
            year: yoe + era * 400 + i128::from(month <= 2),
            month,
            day: doy - (153 * mp + 2) / 5 + 1,
            hour: sod / 3600,
            minute: sod % 3600 / 60,
            second: sod % 60,
            micros: micros.rem_euclid(1_000_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::is_rfc3339;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(1_795_467_600_123_456),
            "2026-11-23T21:00:00.123456Z"
        );
        assert_eq!(
            rfc3339_micros(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(rfc3339_micros(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            rfc3339_seconds(1_795_467_600_999_999),
            "2026-11-23T21:00:00Z"
        );
        assert!(is_rfc3339(&rfc3339_micros(now_micros())));
        assert!(is_rfc3339(&rfc3339_seconds(now_micros())));
    }

    /// The digit-by-digit writer gives what `format!` gives, across centuries, leap days and
    /// the edges of the four-digit years it takes (outside them `format!` still writes).
    #[test]
    fn digits_match_format_everywhere() {
        let reference = |m: i128| {
            let c = Civil::from_micros(m);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
            )
        };
        let mut m: i128 = -62_167_219_200_000_000; // 0000-01-01T00:00:00Z
        let end: i128 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z
        while m <= end {
            assert_eq!(rfc3339_micros(m), reference(m), "{m}");
            m += 7_777_777_777_777; // about 90 days and an odd number of microseconds
        }
        for m in [end, end + 1, -62_167_219_200_000_001, i128::from(i64::MIN)] {
            assert_eq!(rfc3339_micros(m), reference(m), "{m}");
        }
    }

    #[test]
    fn durations_parse_and_print_in_one_spelling() {
        let ok = [
            ("200ms", 200),
            ("5s", 5_000),
            ("10min", 600_000),
            ("10 m", 600_000),
            (" 2h ", 7_200_000),
            ("1d", 86_400_000),
            ("2w", 14 * 86_400_000),
        ];
        for (text, ms) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in [
            "",
            "5",
            "s",
            "-5s",
            "1.5s",
            "5 secs",
            "5S",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("5").unwrap_err().contains("`5s`"));
        assert_eq!(parse_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_timeout("0ms"), Ok(Duration::ZERO));
        assert!(
            parse_timeout("25d")
                .unwrap_err()
                .contains("longest timeout")
        );
        for (d, text) in [
            (0, "0s"),
            (200, "200ms"),
            (1_500, "1500ms"),
            (5_000, "5s"),
            (90_000, "90s"),
            (600_000, "10min"),
            (7_200_000, "2h"),
        ] {
            assert_eq!(format_duration(Duration::from_millis(d)), text);
            assert_eq!(
                parse_timeout(text),
                Ok(Duration::from_millis(d)),
                "{text} reads back"
            );
        }
    }

    #[test]
    fn days_round_trip_through_the_calendar() {
        // Every day from 1600 to 2400 crosses each leap rule (4, 100, 400) several times.
        let start = days_from_civil(1600, 1, 1);
        let end = days_from_civil(2400, 12, 31);
        for days in start..=end {
            let c = Civil::from_micros(days * 86_400 * 1_000_000);
            assert_eq!(days_from_civil(c.year, c.month, c.day), days);
            assert_eq!((c.hour, c.minute, c.second, c.micros), (0, 0, 0, 0));
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
        assert_eq!(
            days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28),
            1
        );
    }
}
