//! Timestamp normalisation for the event hash: UTC, `Z`, exactly three
//! fractional digits.
//!
//! Rounding follows the reference generator's observable behaviour (see the
//! decision list in [`crate::hash`]): the fraction is first truncated to
//! microseconds (6 digits), then rounded to milliseconds **half to even**
//! (`.1415` → `.142`, `.1425` → `.142`, `.1435` → `.144`). A carry out of the
//! milliseconds (`.9996`) is propagated into the seconds (the reference drops
//! the event instead).

/// Normalises an xsd:dateTime-like string to `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
///
/// Accepted input: `YYYY-MM-DD(T| )HH:MM(:SS(.fraction)?)?` followed by `Z`,
/// `±HH:MM`, `±HHMM`, `±HH` or nothing (a missing offset is read as UTC).
/// Returns `None` if the text does not parse; callers then hash the trimmed
/// text as written, like the reference implementation.
pub fn normalize_timestamp(text: &str) -> Option<String> {
    let p = parse(text.trim())?;
    // Microseconds (truncated), then round half-even to milliseconds.
    let micros = p.micros;
    let mut millis = micros / 1000;
    let rem = micros % 1000;
    if rem > 500 || (rem == 500 && millis % 2 == 1) {
        millis += 1;
    }
    let days = days_from_civil(p.year, p.month, p.day);
    let mut secs = days
        .checked_mul(86_400)?
        .checked_add(p.hour * 3600 + p.minute * 60 + p.second)?
        .checked_sub(p.offset_minutes * 60)?;
    if millis == 1000 {
        millis = 0;
        secs = secs.checked_add(1)?;
    }
    let day = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(day);
    if !(0..=9999).contains(&y) {
        return None;
    }
    // `{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{millis:03}Z` without the
    // formatting machinery (this runs once per event); every field is in range.
    let mut out = String::with_capacity(24);
    push_padded(&mut out, y, 4);
    for (sep, v, width) in [
        ('-', m, 2),
        ('-', d, 2),
        ('T', rem / 3600, 2),
        (':', (rem / 60) % 60, 2),
        (':', rem % 60, 2),
        ('.', millis, 3),
    ] {
        out.push(sep);
        push_padded(&mut out, v, width);
    }
    out.push('Z');
    Some(out)
}

/// Appends the last `width` decimal digits of `v` (non-negative), zero-padded.
fn push_padded(out: &mut String, v: i64, width: u32) {
    for k in (0..width).rev() {
        let digit = (v / 10i64.pow(k)).rem_euclid(10);
        out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
    }
}

struct Parsed {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    micros: i64,
    offset_minutes: i64,
}

fn num(b: &[u8], start: usize, n: usize) -> Option<i64> {
    let s = b.get(start..start + n)?;
    let mut v = 0i64;
    for c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn parse(t: &str) -> Option<Parsed> {
    let b = t.as_bytes();
    let year = num(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(b, 5, 2)?;
    let day = num(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = num(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = num(b, 14, 2)?;
    let mut i = 16;
    let mut second = 0;
    let mut micros = 0;
    if b.get(i) == Some(&b':') {
        second = num(b, i + 1, 2)?;
        i += 3;
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            // Truncate to microseconds, right-pad with zeros.
            let mut us = 0i64;
            for k in 0..6 {
                let d = if start + k < i {
                    i64::from(b[start + k] - b'0')
                } else {
                    0
                };
                us = us * 10 + d;
            }
            micros = us;
        }
    }
    let offset_minutes = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (oh, om) = match rest.len() {
                2 => (num(rest, 0, 2)?, 0),
                4 => (num(rest, 0, 2)?, num(rest, 2, 2)?),
                5 if rest[2] == b':' => (num(rest, 0, 2)?, num(rest, 3, 2)?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let v = oh * 60 + om;
            if sign == b'-' { -v } else { v }
        }
        _ => return None,
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(Parsed {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micros,
        offset_minutes,
    })
}

use crate::model::{civil_from_days, days_from_civil};

#[cfg(test)]
mod tests {
    use super::normalize_timestamp as n;

    #[test]
    fn padding_matches_format() {
        for v in [0i64, 7, 42, 999, 1000, 2024, 9999] {
            for width in [2u32, 3, 4] {
                let mut out = String::new();
                super::push_padded(&mut out, v, width);
                let expected = format!("{v:0w$}", w = width as usize);
                let expected = &expected[expected.len() - width as usize..];
                assert_eq!(out, expected, "{v} {width}");
            }
        }
    }

    #[test]
    fn utc_and_precision() {
        assert_eq!(
            n("2024-03-01T09:30:00.123+01:00").as_deref(),
            Some("2024-03-01T08:30:00.123Z")
        );
        assert_eq!(
            n("2019-10-21T14:58:56+02:00").as_deref(),
            Some("2019-10-21T12:58:56.000Z")
        );
        assert_eq!(
            n("2019-10-21T14:58:56.000000+02:00").as_deref(),
            Some("2019-10-21T12:58:56.000Z")
        );
        assert_eq!(
            n("2005-04-04T20:33:31.116-06:00").as_deref(),
            Some("2005-04-05T02:33:31.116Z")
        );
        assert_eq!(
            n("2019-10-21T14:45:00Z").as_deref(),
            Some("2019-10-21T14:45:00.000Z")
        );
    }

    #[test]
    fn rounding_half_even_on_microseconds() {
        assert_eq!(
            n("2023-02-02T11:04:03.1415Z").as_deref(),
            Some("2023-02-02T11:04:03.142Z")
        );
        assert_eq!(
            n("2023-02-02T11:04:03.1414Z").as_deref(),
            Some("2023-02-02T11:04:03.141Z")
        );
        assert_eq!(
            n("2023-02-02T11:04:03.1425Z").as_deref(),
            Some("2023-02-02T11:04:03.142Z")
        );
        assert_eq!(
            n("2023-02-02T11:04:03.1435Z").as_deref(),
            Some("2023-02-02T11:04:03.144Z")
        );
        assert_eq!(
            n("2023-02-12T11:04:03.1007Z").as_deref(),
            Some("2023-02-12T11:04:03.101Z")
        );
        // Digits beyond microseconds are truncated first.
        assert_eq!(
            n("2023-02-02T11:04:03.14250009Z").as_deref(),
            Some("2023-02-02T11:04:03.142Z")
        );
        // Carry into seconds, minutes, days, years.
        assert_eq!(
            n("2023-12-31T23:59:59.9996Z").as_deref(),
            Some("2024-01-01T00:00:00.000Z")
        );
    }

    #[test]
    fn unparseable_is_none() {
        assert_eq!(n("P3Y"), None);
        assert_eq!(n("2023-02-30T00:00:00Z"), None);
        assert_eq!(n(""), None);
        assert_eq!(n("2023-02-02T11:04:03.Z"), None);
    }
}
