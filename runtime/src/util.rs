//! Small helpers: the audit clock and its millisecond durations, host name, run ids.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A duration as the whole milliseconds the version and audit rows hold, rounded up: truncating
/// recorded the sub-millisecond revisions SQLite runs (and empty merges) as `0 ms`, as if nothing
/// ran. Rounding up keeps "took at most this long" true.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(i64::MAX)
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the form every audit and version row
/// holds (the calendar itself lives in kiln-core, shared with the CLI).
pub(crate) fn now_rfc3339() -> String {
    kiln_core::time::rfc3339_micros(kiln_core::time::now_micros())
}

/// This machine's name, for the audit trail.
pub(crate) fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
}

/// A run id unique enough to group one run's audit rows.
pub(crate) fn run_id() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!(
        "{nanos}:{}:{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    kiln_core::checksum::hex(&Sha256::digest(seed.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::millis;
    use std::time::Duration;

    #[test]
    fn millis_round_up_so_work_is_never_zero() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_micros(200)), 1);
        assert_eq!(millis(Duration::from_micros(12_000)), 12);
        assert_eq!(millis(Duration::from_micros(12_001)), 13);
    }
}
