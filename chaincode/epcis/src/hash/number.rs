//! Number normalisation for the event hash.
//!
//! The reference generator passes *every* non-time value through
//! `float(text)`; if that succeeds the value is replaced by `str(int(f))` when
//! `f` is integral and `repr(f)` otherwise. This module reproduces that
//! exactly, including its side effects on long digit strings (an integral
//! value is written out exactly from the binary64 value, so
//! `111100001111000011110000` becomes `111100001111000003641344`, as in the
//! reference vectors), on leading zeros (`007` → `7`) and on very small values
//! (`0.00001` → `1e-05`).

/// Returns the hash-canonical form of `text` if it is a number in the
/// reference's (Python `float`) syntax, otherwise `None`.
///
/// `10.0` → `10`, `0.180000` → `0.18`, `+5` → `5`, `-0.0` → `0`, `1E3` → `1000`.
/// `nan` and `inf` are not treated as numbers (the value is kept as written).
pub fn normalize_number(text: &str) -> Option<String> {
    let t = text.trim();
    let cleaned = python_float_syntax(t)?;
    let x: f64 = cleaned.parse().ok()?;
    if !x.is_finite() {
        return None;
    }
    if x.fract() == 0.0 {
        return Some(integral_to_string(x));
    }
    Some(python_repr(x))
}

/// Checks Python `float()` literal syntax (without `inf`/`nan`) and returns the
/// literal with digit-group underscores removed.
fn python_float_syntax(t: &str) -> Option<String> {
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    // Digit run with single underscores between digits; returns digits count.
    fn digits(b: &[u8], i: &mut usize) -> Option<usize> {
        let start = *i;
        let mut n = 0;
        while *i < b.len() {
            if b[*i].is_ascii_digit() {
                n += 1;
                *i += 1;
            } else if b[*i] == b'_'
                && *i > start
                && b[*i - 1].is_ascii_digit()
                && b.get(*i + 1).is_some_and(u8::is_ascii_digit)
            {
                *i += 1;
            } else {
                break;
            }
        }
        Some(n)
    }
    let int_digits = digits(b, &mut i)?;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = digits(b, &mut i)?;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(b, &mut i)? == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    Some(if t.contains('_') {
        t.replace('_', "")
    } else {
        t.to_string()
    })
}

/// Exact decimal expansion of an integral, finite binary64 value.
fn integral_to_string(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    if x.abs() < 9.0e18 {
        return format!("{}", x as i64);
    }
    // value = mantissa * 2^exp with exp > 0 here.
    let bits = x.to_bits();
    let negative = bits >> 63 == 1;
    let exp_bits = ((bits >> 52) & 0x7ff) as i64;
    let mantissa = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let exp = exp_bits - 1075;
    // Little-endian base-1e9 limbs.
    let mut limbs: Vec<u64> = vec![mantissa % 1_000_000_000, mantissa / 1_000_000_000];
    for _ in 0..exp.max(0) {
        let mut carry = 0u64;
        for limb in limbs.iter_mut() {
            let v = *limb * 2 + carry;
            *limb = v % 1_000_000_000;
            carry = v / 1_000_000_000;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    let mut iter = limbs.iter().rev();
    if let Some(first) = iter.next() {
        s.push_str(&first.to_string());
    }
    for limb in iter {
        s.push_str(&format!("{limb:09}"));
    }
    s
}

/// Python's `repr(float)` for a finite, non-integral value.
fn python_repr(x: f64) -> String {
    // Rust's `{:e}` prints the shortest round-trip digits, like Python's repr.
    let sci = format!("{x:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let decpt = exp + 1;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..(-decpt) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let d = decpt as usize;
        if d >= digits.len() {
            out.push_str(&digits);
            for _ in digits.len()..d {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..d]);
            out.push('.');
            out.push_str(&digits[d..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_number as n;

    #[test]
    fn integral_values() {
        assert_eq!(n("10.0").as_deref(), Some("10"));
        assert_eq!(n("26").as_deref(), Some("26"));
        assert_eq!(n("007").as_deref(), Some("7"));
        assert_eq!(n("+5").as_deref(), Some("5"));
        assert_eq!(n("-0.0").as_deref(), Some("0"));
        assert_eq!(n("1E3").as_deref(), Some("1000"));
        assert_eq!(n("1_000").as_deref(), Some("1000"));
        assert_eq!(
            n("111100001111000011110000").as_deref(),
            Some("111100001111000003641344")
        );
        assert_eq!(
            n("12345678901234567890").as_deref(),
            Some("12345678901234567168")
        );
        assert_eq!(n("-9007199254740993").as_deref(), Some("-9007199254740992"));
    }

    #[test]
    fn fractional_values() {
        assert_eq!(n("12.10000").as_deref(), Some("12.1"));
        assert_eq!(n("0.180000000000").as_deref(), Some("0.18"));
        assert_eq!(n("0.050").as_deref(), Some("0.05"));
        assert_eq!(n(".5").as_deref(), Some("0.5"));
        assert_eq!(n("5.5").as_deref(), Some("5.5"));
        assert_eq!(n("0.0001").as_deref(), Some("0.0001"));
        assert_eq!(n("0.00001").as_deref(), Some("1e-05"));
        assert_eq!(n("-1.5e-7").as_deref(), Some("-1.5e-07"));
        assert_eq!(n("23.319941").as_deref(), Some("23.319941"));
        assert_eq!(n("0.1").as_deref(), Some("0.1"));
    }

    #[test]
    fn not_numbers() {
        for t in [
            "",
            "abc",
            "1a",
            "1_",
            "_1",
            "1__0",
            ".",
            "e5",
            "1e",
            "nan",
            "inf",
            "+01:00",
            "0x10",
            "1.2.3",
            "2019-10-21",
        ] {
            assert_eq!(n(t), None, "{t}");
        }
    }
}
