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
    }
}
