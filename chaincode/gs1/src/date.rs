//! GS1 dates: YYMMDD with the sliding-window century rule and DD = 00
//! meaning "last day of the month". The current year is always a
//! parameter; this crate never reads the clock.

use serde::Serialize;

use crate::error::Gs1Error;

/// The "current year" the sliding century window is anchored on. Chaincode
/// passes the block timestamp's year; it must never come from the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ReferenceYear(pub u16);

/// True for Gregorian leap years.
pub fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1..=12) of `year`; 0 for an invalid month.
pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Resolves a two-digit year with the GS1 sliding window: with
/// `d = YY - (current year mod 100)`, d >= 51 means the previous century,
/// d <= -50 the next one, anything else the current century.
pub fn full_year(yy: u32, reference: ReferenceYear) -> u32 {
    let current = u32::from(reference.0);
    let century = current / 100 * 100;
    // Both operands are below 100, so the difference fits in i32.
    let d = i64::from(yy) - i64::from(current % 100);
    if d >= 51 {
        century.saturating_sub(100) + yy
    } else if d <= -50 {
        century + 100 + yy
    } else {
        century + yy
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Date {
    /// Four-digit year.
    pub year: u32,
    /// Month 1..=12.
    pub month: u32,
    /// Day 1..=31.
    pub day: u32,
}

impl Date {
    /// ISO 8601 `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Parses a GS1 `YYMMDD` date. With `allow_zero_day`, DD = 00 resolves to
/// the last day of the month (leap years included).
pub fn parse_yymmdd(
    s: &str,
    reference: ReferenceYear,
    allow_zero_day: bool,
) -> Result<Date, Gs1Error> {
    let err = |pos: usize, rule: String| Gs1Error::AiValue {
        ai: "date".into(),
        value: s.to_string(),
        pos,
        rule,
    };
    let b = s.as_bytes();
    if b.len() != 6 {
        return Err(err(0, format!("date must have 6 digits, got {}", b.len())));
    }
    if let Some(i) = b.iter().position(|c| !c.is_ascii_digit()) {
        return Err(err(
            i,
            format!("non-digit character {:?}", char::from(b[i])),
        ));
    }
    let n = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    let year = full_year(n(0), reference);
    let month = n(2);
    if !(1..=12).contains(&month) {
        return Err(err(2, format!("month {month:02} out of range")));
    }
    let max = days_in_month(year, month);
    let mut day = n(4);
    if day == 0 && allow_zero_day {
        day = max;
    }
    if day == 0 || day > max {
        return Err(err(
            4,
            format!("day {:02} out of range for {year:04}-{month:02}", n(4)),
        ));
    }
    Ok(Date { year, month, day })
}

#[cfg(test)]
mod tests {
    use super::*;

    const Y: ReferenceYear = ReferenceYear(2026);

    #[test]
    fn zero_day_is_last_day() {
        assert_eq!(parse_yymmdd("130200", Y, true).unwrap().iso(), "2013-02-28");
        assert_eq!(parse_yymmdd("160200", Y, true).unwrap().iso(), "2016-02-29");
        assert_eq!(parse_yymmdd("261200", Y, true).unwrap().iso(), "2026-12-31");
        assert!(parse_yymmdd("130200", Y, false).is_err());
    }

    #[test]
    fn sliding_window() {
        assert_eq!(full_year(76, ReferenceYear(2026)), 2076);
        assert_eq!(full_year(77, ReferenceYear(2026)), 1977);
        assert_eq!(full_year(0, ReferenceYear(2026)), 2000);
        assert_eq!(full_year(1, ReferenceYear(2051)), 2101);
        assert_eq!(full_year(2, ReferenceYear(2051)), 2002);
        assert_eq!(full_year(99, ReferenceYear(2000)), 1999);
    }

    #[test]
    fn errors() {
        let e = parse_yymmdd("261332", Y, true).unwrap_err().to_string();
        assert!(e.contains("month 13 out of range"), "{e}");
        assert!(parse_yymmdd("2613a2", Y, true).is_err());
    }
}
