//! The wall clock. Pure crates never read it; the client reads it once and passes values down.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current calendar year (UTC), used to anchor the GS1 `YYMMDD` century window.
pub fn current_year() -> u16 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    year_of_unix_day(seconds / 86_400)
}

/// Nanoseconds since the Unix epoch (0 if the clock is before 1970); seeds signer nonces.
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn unix_millis() -> u64 {
    unix_nanos() / 1_000_000
}

/// The Gregorian year containing day `days` after 1970-01-01 (Howard Hinnant's civil algorithm).
pub fn year_of_unix_day(days: u64) -> u16 {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    u16::try_from(year).unwrap_or(u16::MAX)
}

/// Unix milliseconds as an RFC 3339 UTC timestamp with milliseconds (`2026-01-01T00:00:00.000Z`).
pub fn rfc3339_utc(unix_ms: u64) -> String {
    let days = unix_ms / 86_400_000;
    let ms_of_day = unix_ms % 86_400_000;
    let (year, month, day) = civil_of_unix_day(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

/// Year, month and day of day `days` after 1970-01-01 (Howard Hinnant's civil algorithm).
pub fn civil_of_unix_day(days: u64) -> (i64, u32, u32) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today_iso() -> String {
    let (year, month, day) = civil_of_unix_day(unix_millis() / 86_400_000);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_of_known_days() {
        assert_eq!(year_of_unix_day(0), 1970);
        assert_eq!(year_of_unix_day(364), 1970);
        assert_eq!(year_of_unix_day(365), 1971);
        // 2000-02-29 is day 11_016; 2024-12-31 is day 20_088; 2025-01-01 is day 20_089.
        assert_eq!(year_of_unix_day(11_016), 2000);
        assert_eq!(year_of_unix_day(20_088), 2024);
        assert_eq!(year_of_unix_day(20_089), 2025);
        assert_eq!(civil_of_unix_day(11_016), (2000, 2, 29));
        assert_eq!(rfc3339_utc(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
    }
}
