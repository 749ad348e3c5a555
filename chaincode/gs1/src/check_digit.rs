//! GS1 check digits: the mod-10 digit of numeric keys and the two-character
//! check pair of alphanumeric keys (GMN, MUDI).

/// Computes the GS1 mod-10 check digit of `body` (all digits except the
/// check digit). Weights 3, 1, 3, ... apply from the rightmost digit.
///
/// Returns `None` if `body` contains a non-digit.
pub fn mod10(body: &str) -> Option<u8> {
    mod10_bytes(body.as_bytes())
}

/// Byte-slice form of [`mod10`].
pub fn mod10_bytes(body: &[u8]) -> Option<u8> {
    let mut sum: u32 = 0;
    for (i, b) in body.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = u32::from(b - b'0');
        sum += if i % 2 == 0 { d * 3 } else { d };
    }
    // The result is always 0..=9, so the narrowing is lossless.
    Some(((10 - sum % 10) % 10) as u8)
}

/// True if `key` (digits including the final check digit) has a correct
/// mod-10 check digit. Empty or non-numeric input is invalid.
pub fn is_valid_mod10(key: &str) -> bool {
    let b = key.as_bytes();
    match b.split_last() {
        Some((last, body)) if last.is_ascii_digit() => mod10_bytes(body) == Some(last - b'0'),
        _ => false,
    }
}

/// Appends the mod-10 check digit to a numeric body.
pub fn with_check_digit(body: &str) -> Option<String> {
    let c = mod10(body)?;
    let mut s = String::with_capacity(body.len() + 1);
    s.push_str(body);
    s.push(char::from(b'0' + c));
    Some(s)
}

const CSET82: &[u8] =
    b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const CSET32: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const PRIMES: [u32; 24] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
];

/// Computes the GS1 alphanumeric check-character pair over `body` (CSET 82).
/// Returns `None` if the body is longer than 24 or has a non-CSET 82 byte.
pub fn check_pair(body: &[u8]) -> Option<[u8; 2]> {
    if body.len() > PRIMES.len() {
        return None;
    }
    let n = body.len();
    let mut sum: u32 = 0;
    for (i, b) in body.iter().enumerate() {
        let v = CSET82.iter().position(|c| c == b)?;
        // Weights are the primes taken from the right-hand end.
        let w = PRIMES[n - 1 - i];
        // `v` is below 82, so it always fits.
        sum += u32::try_from(v).ok()? * w;
    }
    let m = sum % 1021;
    Some([CSET32[(m >> 5) as usize], CSET32[(m & 31) as usize]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standards_table() {
        // standards.md section 1.2.
        assert_eq!(mod10("1061414107346"), Some(4));
        assert_eq!(mod10("10614141234567890"), Some(8));
        assert_eq!(mod10("061414100777"), Some(6));
        assert_eq!(mod10("061414100000"), Some(5));
        assert_eq!(mod10("0033830090527"), Some(6));
        assert!(is_valid_mod10("10614141073464"));
        assert!(!is_valid_mod10("10614141073465"));
        assert!(!is_valid_mod10(""));
        assert_eq!(mod10("12a"), None);
    }

    #[test]
    fn pair() {
        assert_eq!(&check_pair(b"1987654Ad4X4bL5ttr2310c").unwrap(), b"2K");
    }
}
