//! Content checks ("linters") for AI value components. Each returns the
//! offending span so that errors can point at the exact bytes.

use crate::ai::Linter;
use crate::check_digit::{check_pair, mod10_bytes};
use crate::date;
use crate::iso::{ISO3166_ALPHA2, ISO3166_NUMERIC, ISO4217_NUMERIC};

/// Why a linter rejected a component.
#[allow(missing_docs, reason = "variant names mirror the GS1_LINTER_* codes")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LintKind {
    NonDigitCharacter,
    InvalidCset82Character,
    InvalidCset39Character,
    InvalidCset64Character,
    InvalidCset64Padding,
    TooShortForCheckDigit,
    IncorrectCheckDigit,
    TooShortForCheckPair,
    TooLongForCheckPair,
    IncorrectCheckPair,
    RequiresNonDigitCharacter,
    IllegalHour,
    IllegalMinute,
    IllegalSecond,
    NotHyphen,
    ImporterIdxMustBeOneCharacter,
    InvalidImportIdxCharacter,
    NotIso3166,
    NotIso3166Or999,
    NotIso3166Alpha2,
    NotIso4217,
    InvalidBiologicalSexCode,
    LatitudeInvalidLength,
    LongitudeInvalidLength,
    InvalidMediaType,
    IllegalZeroValue,
    IllegalZeroPrefix,
    InvalidPercentSequence,
    InvalidLengthForPieceOfTotal,
    ZeroTotalPieces,
    PieceNumberExceedsTotal,
    PositionInSequenceMalformed,
    PositionExceedsEnd,
    InvalidWindingDirection,
    NotZeroOrOne,
    DateTooShort,
    DateTooLong,
    IllegalMonth,
    IllegalDay,
    NotZero,
    IbanTooShort,
    InvalidIbanCharacter,
    IllegalIbanCountryCode,
    IncorrectIbanChecksum,
}

impl LintKind {
    /// The GS1 Syntax Engine error code, e.g. `GS1_LINTER_ILLEGAL_MONTH`.
    pub fn code(self) -> &'static str {
        use LintKind::*;
        match self {
            NonDigitCharacter => "GS1_LINTER_NON_DIGIT_CHARACTER",
            InvalidCset82Character => "GS1_LINTER_INVALID_CSET82_CHARACTER",
            InvalidCset39Character => "GS1_LINTER_INVALID_CSET39_CHARACTER",
            InvalidCset64Character => "GS1_LINTER_INVALID_CSET64_CHARACTER",
            InvalidCset64Padding => "GS1_LINTER_INVALID_CSET64_PADDING",
            TooShortForCheckDigit => "GS1_LINTER_TOO_SHORT_FOR_CHECK_DIGIT",
            IncorrectCheckDigit => "GS1_LINTER_INCORRECT_CHECK_DIGIT",
            TooShortForCheckPair => "GS1_LINTER_TOO_SHORT_FOR_CHECK_PAIR",
            TooLongForCheckPair => "GS1_LINTER_TOO_LONG_FOR_CHECK_PAIR_IMPLEMENTATION",
            IncorrectCheckPair => "GS1_LINTER_INCORRECT_CHECK_PAIR",
            RequiresNonDigitCharacter => "GS1_LINTER_REQUIRES_NON_DIGIT_CHARACTER",
            IllegalHour => "GS1_LINTER_ILLEGAL_HOUR",
            IllegalMinute => "GS1_LINTER_ILLEGAL_MINUTE",
            IllegalSecond => "GS1_LINTER_ILLEGAL_SECOND",
            NotHyphen => "GS1_LINTER_NOT_HYPHEN",
            ImporterIdxMustBeOneCharacter => "GS1_LINTER_IMPORTER_IDX_MUST_BE_ONE_CHARACTER",
            InvalidImportIdxCharacter => "GS1_LINTER_INVALID_IMPORT_IDX_CHARACTER",
            NotIso3166 => "GS1_LINTER_NOT_ISO3166",
            NotIso3166Or999 => "GS1_LINTER_NOT_ISO3166_OR_999",
            NotIso3166Alpha2 => "GS1_LINTER_NOT_ISO3166_ALPHA2",
            NotIso4217 => "GS1_LINTER_NOT_ISO4217",
            InvalidBiologicalSexCode => "GS1_LINTER_INVALID_BIOLOGICAL_SEX_CODE",
            LatitudeInvalidLength => "GS1_LINTER_LATITUDE_INVALID_LENGTH",
            LongitudeInvalidLength => "GS1_LINTER_LONGITUDE_INVALID_LENGTH",
            InvalidMediaType => "GS1_LINTER_INVALID_MEDIA_TYPE",
            IllegalZeroValue => "GS1_LINTER_ILLEGAL_ZERO_VALUE",
            IllegalZeroPrefix => "GS1_LINTER_ILLEGAL_ZERO_PREFIX",
            InvalidPercentSequence => "GS1_LINTER_INVALID_PERCENT_SEQUENCE",
            InvalidLengthForPieceOfTotal => "GS1_LINTER_INVALID_LENGTH_FOR_PIECE_OF_TOTAL",
            ZeroTotalPieces => "GS1_LINTER_ZERO_TOTAL_PIECES",
            PieceNumberExceedsTotal => "GS1_LINTER_PIECE_NUMBER_EXCEEDS_TOTAL",
            PositionInSequenceMalformed => "GS1_LINTER_POSITION_IN_SEQUENCE_MALFORMED",
            PositionExceedsEnd => "GS1_LINTER_POSITION_EXCEEDS_END",
            InvalidWindingDirection => "GS1_LINTER_INVALID_WINDING_DIRECTION",
            NotZeroOrOne => "GS1_LINTER_NOT_ZERO_OR_ONE",
            DateTooShort => "GS1_LINTER_DATE_TOO_SHORT",
            DateTooLong => "GS1_LINTER_DATE_TOO_LONG",
            IllegalMonth => "GS1_LINTER_ILLEGAL_MONTH",
            IllegalDay => "GS1_LINTER_ILLEGAL_DAY",
            NotZero => "GS1_LINTER_NOT_ZERO",
            IbanTooShort => "GS1_LINTER_IBAN_TOO_SHORT",
            InvalidIbanCharacter => "GS1_LINTER_INVALID_IBAN_CHARACTER",
            IllegalIbanCountryCode => "GS1_LINTER_ILLEGAL_IBAN_COUNTRY_CODE",
            IncorrectIbanChecksum => "GS1_LINTER_INCORRECT_IBAN_CHECKSUM",
        }
    }
}

/// A linter failure: what and where (relative to the component).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintError {
    /// The rule broken.
    pub kind: LintKind,
    /// Byte offset of the offending span within the component.
    pub pos: usize,
    /// Length of the offending span.
    pub len: usize,
    /// The offending bytes, printable.
    pub span: String,
    /// What was expected instead, when known (e.g. the check digit).
    pub expected: Option<String>,
}

impl LintError {
    fn new(kind: LintKind, data: &[u8], pos: usize, len: usize) -> Self {
        let end = (pos + len).min(data.len());
        let start = pos.min(end);
        Self {
            kind,
            pos,
            len,
            span: String::from_utf8_lossy(&data[start..end]).into_owned(),
            expected: None,
        }
    }

    /// A sentence naming the offending characters and the rule.
    pub fn describe(&self) -> String {
        use LintKind::*;
        let s = &self.span;
        match self.kind {
            NonDigitCharacter => format!("non-digit character {s:?}"),
            InvalidCset82Character => format!("character {s:?} is not in GS1 character set 82"),
            InvalidCset39Character => format!("character {s:?} is not in GS1 character set 39"),
            InvalidCset64Character => format!("character {s:?} is not in base64url"),
            InvalidCset64Padding => format!("invalid base64url padding {s:?}"),
            IncorrectCheckDigit | IncorrectCheckPair => match &self.expected {
                Some(e) => format!("check digit expected {e} got {s}"),
                None => format!("incorrect check digit {s:?}"),
            },
            IllegalMonth => format!("month {s} out of range"),
            IllegalDay => format!("day {s} out of range for the month"),
            IllegalHour => format!("hour {s} out of range"),
            IllegalMinute => format!("minute {s} out of range"),
            IllegalSecond => format!("second {s} out of range"),
            NotIso3166 | NotIso3166Or999 => format!("{s:?} is not an ISO 3166 country code"),
            NotIso3166Alpha2 => format!("{s:?} is not an ISO 3166 alpha-2 code"),
            NotIso4217 => format!("{s:?} is not an ISO 4217 currency code"),
            _ => format!("{} at {s:?}", self.kind.code()),
        }
    }
}

type R = Result<(), LintError>;

fn first_bad(data: &[u8], ok: impl Fn(u8) -> bool, kind: LintKind) -> R {
    match data.iter().position(|&b| !ok(b)) {
        Some(i) => Err(LintError::new(kind, data, i, 1)),
        None => Ok(()),
    }
}

/// Is `b` in GS1 AI encodable character set 82?
pub fn is_cset82(b: u8) -> bool {
    matches!(b, b'!' | b'"' | b'%'..=b'?' | b'A'..=b'Z' | b'_' | b'a'..=b'z')
}

/// Is `b` in GS1 character set 39?
pub fn is_cset39(b: u8) -> bool {
    matches!(b, b'#' | b'-' | b'/' | b'0'..=b'9' | b'A'..=b'Z')
}

fn is_cset64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

pub(crate) fn csetnumeric(d: &[u8]) -> R {
    first_bad(d, |b| b.is_ascii_digit(), LintKind::NonDigitCharacter)
}
pub(crate) fn cset82(d: &[u8]) -> R {
    first_bad(d, is_cset82, LintKind::InvalidCset82Character)
}
pub(crate) fn cset39(d: &[u8]) -> R {
    first_bad(d, is_cset39, LintKind::InvalidCset39Character)
}
pub(crate) fn cset64(d: &[u8]) -> R {
    // Up to two '=' pad characters are allowed at the end, and only if the
    // total length is then a multiple of 4.
    let body_len = d.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    first_bad(&d[..body_len], is_cset64, LintKind::InvalidCset64Character)?;
    let pad = d.len() - body_len;
    if pad > 0 && (pad > 2 || !d.len().is_multiple_of(4)) {
        return Err(LintError::new(
            LintKind::InvalidCset64Padding,
            d,
            body_len,
            pad,
        ));
    }
    Ok(())
}

fn csum(d: &[u8]) -> R {
    csetnumeric(d)?;
    let Some((last, body)) = d.split_last() else {
        return Err(LintError::new(LintKind::TooShortForCheckDigit, d, 0, 0));
    };
    let want = mod10_bytes(body);
    if want != Some(last - b'0') {
        let mut e = LintError::new(LintKind::IncorrectCheckDigit, d, d.len() - 1, 1);
        e.expected = want.map(|w| w.to_string());
        return Err(e);
    }
    Ok(())
}

fn csumalpha(d: &[u8]) -> R {
    cset82(d)?;
    if d.len() < 2 {
        return Err(LintError::new(
            LintKind::TooShortForCheckPair,
            d,
            0,
            d.len(),
        ));
    }
    let (body, pair) = d.split_at(d.len() - 2);
    match check_pair(body) {
        None => Err(LintError::new(LintKind::TooLongForCheckPair, d, 0, d.len())),
        Some(p) if p == pair => Ok(()),
        Some(p) => {
            let mut e = LintError::new(LintKind::IncorrectCheckPair, d, d.len() - 2, 2);
            e.expected = Some(String::from_utf8_lossy(&p).into_owned());
            Err(e)
        }
    }
}

fn num(d: &[u8]) -> u32 {
    d.iter().fold(0u32, |a, b| {
        a.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    })
}

fn range2(d: &[u8], max: u32, kind: LintKind) -> R {
    csetnumeric(d)?;
    if d.len() != 2 || num(d) > max {
        return Err(LintError::new(kind, d, 0, d.len()));
    }
    Ok(())
}

fn hhmi(d: &[u8]) -> R {
    csetnumeric(d)?;
    if d.len() != 4 {
        return Err(LintError::new(LintKind::IllegalHour, d, 0, d.len()));
    }
    range2(&d[..2], 23, LintKind::IllegalHour)?;
    range2(&d[2..], 59, LintKind::IllegalMinute).map_err(|e| LintError::new(e.kind, d, 2, 2))
}

fn date(d: &[u8], century: bool, allow_zero_day: bool) -> R {
    csetnumeric(d)?;
    let want = if century { 8 } else { 6 };
    if d.len() < want {
        return Err(LintError::new(LintKind::DateTooShort, d, 0, d.len()));
    }
    if d.len() > want {
        return Err(LintError::new(LintKind::DateTooLong, d, 0, d.len()));
    }
    let y = if century { 4 } else { 2 };
    let month = num(&d[y..y + 2]);
    if !(1..=12).contains(&month) {
        return Err(LintError::new(LintKind::IllegalMonth, d, y, 2));
    }
    let day = num(&d[y + 2..y + 4]);
    // Without a century, leap years are judged on the two-digit year as the
    // GS1 linters do (a year divisible by 4 is a leap year; 00 counts as 2000).
    let year = if century {
        num(&d[..4])
    } else {
        2000 + num(&d[..2])
    };
    let max = date::days_in_month(year, month);
    if (day == 0 && !allow_zero_day) || day > max {
        return Err(LintError::new(LintKind::IllegalDay, d, y + 2, 2));
    }
    Ok(())
}

fn in_sorted(list: &[&str], d: &[u8]) -> bool {
    std::str::from_utf8(d).is_ok_and(|s| list.binary_search(&s).is_ok())
}

fn geo(d: &[u8], kind: LintKind, max: u32) -> R {
    csetnumeric(d)?;
    if d.len() != 10 || num(d) > max {
        return Err(LintError::new(kind, d, 0, d.len()));
    }
    Ok(())
}

fn pcenc(d: &[u8]) -> R {
    let mut i = 0;
    while i < d.len() {
        if d[i] == b'%' {
            let ok = d.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && d.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                let len = (d.len() - i).min(3);
                return Err(LintError::new(LintKind::InvalidPercentSequence, d, i, len));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

fn pieceoftotal(d: &[u8]) -> R {
    if d.is_empty() || !d.len().is_multiple_of(2) {
        return Err(LintError::new(
            LintKind::InvalidLengthForPieceOfTotal,
            d,
            0,
            d.len(),
        ));
    }
    csetnumeric(d)?;
    let h = d.len() / 2;
    let (piece, total) = (num(&d[..h]), num(&d[h..]));
    if total == 0 {
        return Err(LintError::new(LintKind::ZeroTotalPieces, d, h, h));
    }
    if piece == 0 {
        return Err(LintError::new(LintKind::IllegalZeroValue, d, 0, h));
    }
    if piece > total {
        return Err(LintError::new(LintKind::PieceNumberExceedsTotal, d, 0, h));
    }
    Ok(())
}

fn posinseqslash(d: &[u8]) -> R {
    let malformed = || {
        Err(LintError::new(
            LintKind::PositionInSequenceMalformed,
            d,
            0,
            d.len(),
        ))
    };
    let Some(slash) = d.iter().position(|&b| b == b'/') else {
        return malformed();
    };
    let (a, b) = (&d[..slash], &d[slash + 1..]);
    if a.is_empty() || b.is_empty() || b.contains(&b'/') {
        return malformed();
    }
    if !a.iter().chain(b).all(u8::is_ascii_digit) {
        return malformed();
    }
    if a[0] == b'0' {
        return Err(LintError::new(LintKind::IllegalZeroPrefix, d, 0, a.len()));
    }
    if b[0] == b'0' {
        return Err(LintError::new(
            LintKind::IllegalZeroPrefix,
            d,
            slash + 1,
            b.len(),
        ));
    }
    if num(a) > num(b) {
        return Err(LintError::new(LintKind::PositionExceedsEnd, d, 0, d.len()));
    }
    Ok(())
}

/// IBAN (ISO 13616): country code, two check digits, then the account;
/// the whole, rotated and with letters as 10..35, is 1 modulo 97.
fn iban(d: &[u8]) -> R {
    if d.len() < 5 {
        return Err(LintError::new(LintKind::IbanTooShort, d, 0, d.len()));
    }
    first_bad(
        d,
        |b| b.is_ascii_digit() || b.is_ascii_uppercase(),
        LintKind::InvalidIbanCharacter,
    )?;
    if !in_sorted(ISO3166_ALPHA2, &d[..2]) {
        return Err(LintError::new(LintKind::IllegalIbanCountryCode, d, 0, 2));
    }
    first_bad(
        &d[2..4],
        |b| b.is_ascii_digit(),
        LintKind::InvalidIbanCharacter,
    )
    .map_err(|e| LintError::new(e.kind, d, 2 + e.pos, 1))?;
    let mut rem: u32 = 0;
    for &b in d[4..].iter().chain(&d[..4]) {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    if rem != 1 {
        return Err(LintError::new(LintKind::IncorrectIbanChecksum, d, 2, 2));
    }
    Ok(())
}

fn one_of(d: &[u8], ok: &[&[u8]], kind: LintKind) -> R {
    if ok.contains(&d) {
        Ok(())
    } else {
        Err(LintError::new(kind, d, 0, d.len()))
    }
}

/// Runs one linter.
pub(crate) fn run(l: Linter, d: &[u8]) -> R {
    use LintKind as K;
    match l {
        Linter::Couponcode
        | Linter::Couponposoffer
        | Linter::Packagetype
        | Linter::Gcppos1
        | Linter::Gcppos2 => Ok(()),
        Linter::Iban => iban(d),
        Linter::Csum => csum(d),
        Linter::Csumalpha => csumalpha(d),
        Linter::Hasnondigit => {
            if d.iter().any(|b| !b.is_ascii_digit()) {
                Ok(())
            } else {
                Err(LintError::new(K::RequiresNonDigitCharacter, d, 0, d.len()))
            }
        }
        Linter::Hh => range2(d, 23, K::IllegalHour),
        Linter::Mi => range2(d, 59, K::IllegalMinute),
        Linter::Ss => range2(d, 59, K::IllegalSecond),
        Linter::Hhmi => hhmi(d),
        Linter::Hyphen => one_of(d, &[b"-"], K::NotHyphen),
        Linter::Importeridx => {
            if d.len() != 1 {
                return Err(LintError::new(
                    K::ImporterIdxMustBeOneCharacter,
                    d,
                    0,
                    d.len(),
                ));
            }
            first_bad(d, is_cset64, K::InvalidImportIdxCharacter)
        }
        Linter::Iso3166 => {
            if in_sorted(ISO3166_NUMERIC, d) {
                Ok(())
            } else {
                Err(LintError::new(K::NotIso3166, d, 0, d.len()))
            }
        }
        Linter::Iso3166999 => {
            if d == b"999" || in_sorted(ISO3166_NUMERIC, d) {
                Ok(())
            } else {
                Err(LintError::new(K::NotIso3166Or999, d, 0, d.len()))
            }
        }
        Linter::Iso3166alpha2 => {
            if in_sorted(ISO3166_ALPHA2, d) {
                Ok(())
            } else {
                Err(LintError::new(K::NotIso3166Alpha2, d, 0, d.len()))
            }
        }
        Linter::Iso4217 => {
            if in_sorted(ISO4217_NUMERIC, d) {
                Ok(())
            } else {
                Err(LintError::new(K::NotIso4217, d, 0, d.len()))
            }
        }
        Linter::Iso5218 => one_of(d, &[b"0", b"1", b"2", b"9"], K::InvalidBiologicalSexCode),
        Linter::Latitude => geo(d, K::LatitudeInvalidLength, 1_800_000_000),
        Linter::Longitude => geo(d, K::LongitudeInvalidLength, 3_600_000_000),
        Linter::Mediatype => {
            csetnumeric(d)?;
            let n = num(d);
            if d.len() == 2 && ((1..=10).contains(&n) || (80..=99).contains(&n)) {
                Ok(())
            } else {
                Err(LintError::new(K::InvalidMediaType, d, 0, d.len()))
            }
        }
        Linter::Nonzero => {
            csetnumeric(d)?;
            if d.iter().all(|&b| b == b'0') {
                Err(LintError::new(K::IllegalZeroValue, d, 0, d.len()))
            } else {
                Ok(())
            }
        }
        Linter::Nozeroprefix => {
            csetnumeric(d)?;
            if d.len() > 1 && d[0] == b'0' || d == b"0" {
                Err(LintError::new(K::IllegalZeroPrefix, d, 0, 1))
            } else {
                Ok(())
            }
        }
        Linter::Pcenc => pcenc(d),
        Linter::Pieceoftotal => pieceoftotal(d),
        Linter::Posinseqslash => posinseqslash(d),
        Linter::Winding => one_of(d, &[b"0", b"1", b"9"], K::InvalidWindingDirection),
        Linter::Yesno => one_of(d, &[b"0", b"1"], K::NotZeroOrOne),
        Linter::Zero => one_of(d, &[b"0"], K::NotZero),
        Linter::Yymmd0 => date(d, false, true),
        Linter::Yymmdd => date(d, false, false),
        Linter::Yyyymmd0 => date(d, true, true),
        Linter::Yyyymmdd => date(d, true, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(run(Linter::Yymmd0, b"130200").is_ok());
        assert!(run(Linter::Yymmdd, b"130200").is_err());
        assert!(run(Linter::Yymmd0, b"160229").is_ok());
        assert!(run(Linter::Yymmd0, b"150229").is_err());
        let e = run(Linter::Yymmd0, b"261332").unwrap_err();
        assert_eq!((e.kind, e.pos, e.len), (LintKind::IllegalMonth, 2, 2));
    }
}
