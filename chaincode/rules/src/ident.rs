//! Canonical identifiers as the rule book stores them: object keys (SGTIN, SSCC),
//! GTIN-14 and GLN-13 digit strings, and calendar dates as `yyyymmdd` integers.
//!
//! Parsing of the many external spellings (EPC URIs, Digital Link) lives in
//! `pedigree-gs1`; this module only checks the normalised forms the rules work on,
//! so the state machine never depends on how an identifier was written.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest serial number (GS1 AI 21 is X..20).
pub const SERIAL_LENGTH_MAX: usize = 20;
/// Longest lot number (GS1 AI 10 is X..20).
pub const LOT_LENGTH_MAX: usize = 20;

/// Mod-10 check digit over a string of ASCII digits (GS1 General Specifications 7.9).
pub fn check_digit(body: &str) -> Option<u8> {
    let mut sum: u32 = 0;
    for (index_from_right, byte) in body.bytes().rev().enumerate() {
        if !byte.is_ascii_digit() {
            return None;
        }
        let digit = u32::from(byte - b'0');
        sum += if index_from_right % 2 == 0 {
            digit * 3
        } else {
            digit
        };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// True if `key` is all digits, `length` long, with a valid trailing check digit.
pub fn is_valid_key(key: &str, length: usize) -> bool {
    if key.len() != length || !key.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (body, check) = key.split_at(length - 1);
    check_digit(body) == Some(check.as_bytes()[0] - b'0')
}

/// True for GS1 CSET 82 text of 1..=`max` characters (serials, lots).
pub fn is_cset82(text: &str, max: usize) -> bool {
    const EXTRA: &[u8] = b"!\"%&'()*+,-./:;<=>?_";
    !text.is_empty()
        && text.len() <= max
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || EXTRA.contains(&b))
}

/// The identity of a physical object the ledger tracks.
///
/// Only serialised GS1 keys are tracked: SGTIN (saleable units, bundles, cases) and
/// SSCC (logistic units such as pallets). The derived `Ord` is the state key order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ObjectKey {
    /// GTIN-14 (with check digit) plus serial (CSET 82, 1–20 characters).
    Sgtin {
        /// GTIN-14 digits.
        gtin: String,
        /// Serial number as printed (unescaped).
        serial: String,
    },
    /// SSCC-18 digits (with check digit).
    Sscc(String),
}

impl ObjectKey {
    /// A validated SGTIN key.
    pub fn sgtin(gtin: &str, serial: &str) -> Option<ObjectKey> {
        if !is_valid_key(gtin, 14) || !is_cset82(serial, SERIAL_LENGTH_MAX) {
            return None;
        }
        Some(ObjectKey::Sgtin {
            gtin: gtin.to_string(),
            serial: serial.to_string(),
        })
    }

    /// A validated SSCC key.
    pub fn sscc(sscc: &str) -> Option<ObjectKey> {
        if !is_valid_key(sscc, 18) {
            return None;
        }
        Some(ObjectKey::Sscc(sscc.to_string()))
    }

    /// The GTIN for an SGTIN, `None` for an SSCC.
    pub fn gtin(&self) -> Option<&str> {
        match self {
            ObjectKey::Sgtin { gtin, .. } => Some(gtin),
            ObjectKey::Sscc(_) => None,
        }
    }

    /// The digits that begin with the GS1 company prefix (GTIN without indicator
    /// digit, SSCC without extension digit); prefix look-ups match against these.
    pub fn prefix_digits(&self) -> &str {
        match self {
            ObjectKey::Sgtin { gtin, .. } => &gtin[1..13],
            ObjectKey::Sscc(sscc) => &sscc[1..17],
        }
    }

    /// Appends the state-key form: `S{gtin14}\0{serial}` or `C{sscc18}`.
    /// Components never contain NUL (CSET 82), so the encoding is prefix-free per GTIN.
    pub fn write_key(&self, out: &mut Vec<u8>) {
        match self {
            ObjectKey::Sgtin { gtin, serial } => {
                out.push(b'S');
                out.extend_from_slice(gtin.as_bytes());
                out.push(0);
                out.extend_from_slice(serial.as_bytes());
            }
            ObjectKey::Sscc(sscc) => {
                out.push(b'C');
                out.extend_from_slice(sscc.as_bytes());
            }
        }
    }

    /// Parses the state-key form written by [`ObjectKey::write_key`].
    pub fn read_key(bytes: &[u8]) -> Option<ObjectKey> {
        let (tag, rest) = bytes.split_first()?;
        let text = std::str::from_utf8(rest).ok()?;
        match tag {
            b'S' => {
                let (gtin, serial) = text.split_once('\0')?;
                ObjectKey::sgtin(gtin, serial)
            }
            b'C' => ObjectKey::sscc(text),
            _ => None,
        }
    }

    /// The EPC pure-identity URI cannot be rebuilt without the company prefix
    /// length, so display uses the GS1 element string: `(01)…(21)…` or `(00)…`.
    pub fn element_string(&self) -> String {
        match self {
            ObjectKey::Sgtin { gtin, serial } => format!("(01){gtin}(21){serial}"),
            ObjectKey::Sscc(sscc) => format!("(00){sscc}"),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.element_string())
    }
}

/// A calendar date as `yyyymmdd` (e.g. `20261231`), comparable as an integer.
pub type Date = u32;

/// Validates a `yyyymmdd` date (month 1–12, day within the month, leap years included).
pub fn is_valid_date(date: Date) -> bool {
    let (year, month, day) = (date / 10_000, (date / 100) % 100, date % 100);
    (1..=9999).contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// Parses an ISO date `YYYY-MM-DD` (the ILMD `itemExpirationDate` form).
pub fn parse_iso_date(text: &str) -> Option<Date> {
    let bytes = text.trim().as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let digits: String = text.trim().chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date: Date = digits.parse().ok()?;
    is_valid_date(date).then_some(date)
}

/// The UTC calendar date of a Unix timestamp in milliseconds (Howard Hinnant's
/// `civil_from_days`), used to judge expiry against the block timestamp.
pub fn date_from_unix_ms(timestamp_ms: u64) -> Date {
    let days = (timestamp_ms / 86_400_000) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year as u32) * 10_000 + (month as u32) * 100 + day as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_match_the_standards_digest() {
        assert_eq!(check_digit("1061414107346"), Some(4));
        assert_eq!(check_digit("10614141234567890"), Some(8));
        assert_eq!(check_digit("061414100777"), Some(6));
        assert!(is_valid_key("00338300905276", 14));
        assert!(!is_valid_key("00338300905277", 14));
    }

    #[test]
    fn dates() {
        assert_eq!(date_from_unix_ms(0), 19700101);
        assert_eq!(date_from_unix_ms(1_709_251_200_000), 20240301);
        assert_eq!(parse_iso_date("2024-02-29"), Some(20240229));
        assert_eq!(parse_iso_date("2023-02-29"), None);
    }

    #[test]
    fn object_keys_round_trip() {
        let key = ObjectKey::sgtin("10614141073464", "A/B").unwrap();
        let mut bytes = Vec::new();
        key.write_key(&mut bytes);
        assert_eq!(ObjectKey::read_key(&bytes), Some(key));
        assert!(ObjectKey::sscc("106141412345678908").is_some());
        assert!(ObjectKey::sscc("106141412345678909").is_none());
    }
}
