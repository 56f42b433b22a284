//! kiln's only calendar: UTC instants as the fixed-width RFC 3339 text kiln writes.
//!
//! Two forms exist and both are byte-for-byte part of kiln's contract: the runtime's audit and
//! version rows hold `2026-11-23T21:00:00.123456Z` (fixed width, so text order is time order and
//! every engine can filter with a plain string comparison), and `-- kiln:created` headers hold
//! `2026-11-23T21:00:00Z`. kiln never needs time zones, leap seconds or parsing beyond what the
//! CLI's `--since`/`--until` accept, so this is kept by hand rather than pulling a time crate into
//! the proc macro's and the runtime's dependency tree (see docs/architecture.md).
//!
//! ```
//! use kiln_core::time;
//! assert_eq!(time::rfc3339_micros(1_795_467_600_123_456), "2026-11-23T21:00:00.123456Z");
//! assert_eq!(time::rfc3339_seconds(1_795_467_600_123_456), "2026-11-23T21:00:00Z");
//! assert_eq!(time::days_from_civil(2026, 11, 23) * 86_400, 1_795_392_000);
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

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
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
    )
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
