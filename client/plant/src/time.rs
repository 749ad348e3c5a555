//! Device timestamps: parsing the RFC 3339 times that line devices send and
//! formatting adapter-side receive times. The wall clock is read only by
//! [`now_utc`], which the network sources call at the edge.

use pedigree_epcis::EpcisTime;

use crate::error::InvalidMessage;

/// A validated device timestamp: an xsd:dateTime with an explicit offset.
///
/// The original text is kept (EPCIS `eventTime` preserves the device's own
/// offset); [`DeviceTime::unix_millis`] orders times across offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceTime {
    text: String,
    unix_millis: i64,
    offset_minutes: i16,
}

impl DeviceTime {
    /// Parses `YYYY-MM-DDThh:mm:ss[.fff]` followed by `Z` or `±hh:mm`.
    pub fn parse(text: &str) -> Result<Self, InvalidMessage> {
        let parts = EpcisTime::new(text).parse().ok_or_else(|| {
            InvalidMessage::new(format!("device_time {text:?} is not an RFC 3339 date-time"))
        })?;
        let offset_minutes = parts.offset_minutes.ok_or_else(|| {
            InvalidMessage::new(format!("device_time {text:?} has no UTC offset"))
        })?;
        if !(1970..=9999).contains(&parts.year) {
            return Err(InvalidMessage::new(format!(
                "device_time {text:?} is out of range"
            )));
        }
        // Milliseconds from the first three fractional digits (truncated):
        // ordering needs no more precision and the text keeps the rest.
        let mut fraction_millis: i64 = 0;
        for (i, digit) in parts.fraction_digits.bytes().take(3).enumerate() {
            let weight = [100, 10, 1][i];
            fraction_millis += i64::from(digit - b'0') * weight;
        }
        Ok(Self {
            text: text.to_string(),
            unix_millis: parts.unix_seconds() * 1000 + fraction_millis,
            offset_minutes,
        })
    }

    /// Builds a UTC device time from Unix milliseconds (`…T…:…:….mmmZ`).
    pub fn from_unix_millis(unix_millis: i64) -> Self {
        Self {
            text: format_utc_millis(unix_millis),
            unix_millis,
            offset_minutes: 0,
        }
    }

    /// The text as the device sent it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn unix_millis(&self) -> i64 {
        self.unix_millis
    }

    /// The offset as EPCIS `eventTimeZoneOffset` wants it (`+01:00`, `+00:00`).
    pub fn offset_string(&self) -> String {
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let minutes = self.offset_minutes.unsigned_abs();
        format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }

    /// The calendar year in UTC (anchors the GS1 YYMMDD century window).
    pub fn utc_year(&self) -> u16 {
        let days = self.unix_millis.div_euclid(86_400_000);
        let (year, _, _) = civil_from_days(days);
        u16::try_from(year).unwrap_or(u16::MAX)
    }
}

/// Formats Unix milliseconds as `YYYY-MM-DDThh:mm:ss.mmmZ`.
pub fn format_utc_millis(unix_millis: i64) -> String {
    let days = unix_millis.div_euclid(86_400_000);
    let millis_of_day = unix_millis.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let seconds_of_day = millis_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds_of_day / 3600,
        (seconds_of_day / 60) % 60,
        seconds_of_day % 60,
        millis_of_day % 1000
    )
}

/// The wall clock as Unix milliseconds. Only the network sources call
/// this, to stamp reads from devices that send no time of their own.
pub fn now_unix_millis() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// The wall clock as a UTC [`DeviceTime`].
pub fn now_utc() -> DeviceTime {
    DeviceTime::from_unix_millis(now_unix_millis())
}

/// Validates an ISO calendar date `YYYY-MM-DD` (an expiry date).
pub fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let slice = &text[range];
        if slice.bytes().all(|b| b.is_ascii_digit()) {
            slice.parse().ok()
        } else {
            None
        }
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    (1..=12).contains(&month) && day >= 1 && day <= pedigree_gs1::date::days_in_month(year, month)
}

// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_time_keeps_text_and_orders_by_instant() {
        let a = DeviceTime::parse("2024-03-01T09:30:00.123+01:00").unwrap();
        let b = DeviceTime::parse("2024-03-01T08:30:00.124Z").unwrap();
        assert_eq!(a.as_str(), "2024-03-01T09:30:00.123+01:00");
        assert_eq!(a.offset_string(), "+01:00");
        assert_eq!(b.offset_string(), "+00:00");
        assert!(a.unix_millis() < b.unix_millis());
        assert_eq!(a.utc_year(), 2024);
        assert!(DeviceTime::parse("2024-03-01T09:30:00").is_err());
        assert!(DeviceTime::parse("yesterday").is_err());
        let neg = DeviceTime::parse("2024-03-01T09:30:00-05:30").unwrap();
        assert_eq!(neg.offset_string(), "-05:30");
    }

    #[test]
    fn utc_formatting_round_trips() {
        let t = DeviceTime::from_unix_millis(1_709_281_800_123);
        assert_eq!(t.as_str(), "2024-03-01T08:30:00.123Z");
        assert_eq!(
            DeviceTime::parse(t.as_str()).unwrap().unix_millis(),
            1_709_281_800_123
        );
        assert_eq!(format_utc_millis(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn iso_dates() {
        assert!(is_iso_date("2026-12-31"));
        assert!(is_iso_date("2028-02-29"));
        assert!(!is_iso_date("2027-02-29"));
        assert!(!is_iso_date("261231"));
        assert!(!is_iso_date("2026-13-01"));
    }
}
