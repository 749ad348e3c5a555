//! Element strings: the bracketed human-readable form `(01)...(21)...` and
//! the unbracketed barcode form with FNC1/GS separators.

use serde::Serialize;

use crate::ai::{self, AiDef};
use crate::error::Gs1Error;

/// ASCII group separator, the in-data form of FNC1.
pub const GS: u8 = 0x1D;

/// One Application Identifier with its value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AiElement {
    /// AI digits, e.g. `"01"`.
    pub ai: String,
    /// The value (GS1 character sets are ASCII).
    pub value: String,
}

impl AiElement {
    /// Builds an element.
    pub fn new(ai: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            ai: ai.into(),
            value: value.into(),
        }
    }

    /// The table entry, if the AI is known.
    pub fn def(&self) -> Option<&'static AiDef> {
        ai::lookup(&self.ai)
    }

    /// True if no separator is needed after this AI (predefined length).
    pub fn is_predefined(&self) -> bool {
        match self.def() {
            Some(d) => d.predefined,
            None => ai::predefined_prefix_len(&self.ai).is_some(),
        }
    }
}

/// Parser switches. [`Options::default`] is lenient (what field data
/// needs); [`Options::strict`] matches the GS1 Syntax Engine defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Accept AIs that are not in the table (bracketed input only; their
    /// value must be CSET 82, at most 90 characters).
    pub permit_unknown_ais: bool,
    /// Accept Digital Link convenience alphas (`gtin`, `lot`, `ser`, ...).
    pub permit_convenience_alphas: bool,
    /// Accept GTIN-8/12/13 in a Digital Link and pad them to GTIN-14.
    pub permit_zero_suppressed_gtin: bool,
    /// Refuse unknown AIs as Digital Link query attributes.
    pub unknown_ai_not_dl_attr: bool,
    /// Check `req`/`ex` pairing rules and conflicting repeats.
    pub validate_pairings: bool,
    /// Sort Digital Link key qualifiers into dictionary order instead of
    /// rejecting a wrong order.
    pub sort_key_qualifiers: bool,
    /// Verify mod-10 check digits (the `csum` linter). The EPCIS hash
    /// normaliser and EPC translators pass keys through unverified.
    pub validate_check_digits: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            permit_unknown_ais: false,
            permit_convenience_alphas: true,
            permit_zero_suppressed_gtin: true,
            unknown_ai_not_dl_attr: true,
            validate_pairings: true,
            sort_key_qualifiers: false,
            validate_check_digits: true,
        }
    }
}

impl Options {
    /// The GS1 Syntax Engine's defaults: no convenience alphas, no
    /// zero-suppressed GTINs.
    pub fn strict() -> Self {
        Self {
            permit_convenience_alphas: false,
            permit_zero_suppressed_gtin: false,
            ..Self::default()
        }
    }
}

fn syntax(pos: usize, reason: impl Into<String>) -> Gs1Error {
    Gs1Error::Syntax {
        pos,
        reason: reason.into(),
    }
}

/// Validates one AI value, allowing unknown AIs when permitted.
pub(crate) fn validate_value(
    ai: &str,
    value: &[u8],
    ai_pos: usize,
    value_pos: usize,
    opts: &Options,
) -> Result<(), Gs1Error> {
    match ai::lookup(ai) {
        Some(def) => def.validate_with(value, value_pos, opts.validate_check_digits),
        None if opts.permit_unknown_ais && (2..=4).contains(&ai.len()) => {
            let bad = |pos: usize, rule: String| Gs1Error::AiValue {
                ai: ai.to_string(),
                value: String::from_utf8_lossy(value).into_owned(),
                pos: value_pos + pos,
                rule,
            };
            if value.is_empty() {
                return Err(bad(0, "value must not be empty".into()));
            }
            if value.len() > 90 {
                return Err(bad(90, "value longer than 90 characters".into()));
            }
            ai::check_cset(ai::Cset::X, value).map_err(|e| bad(e.pos, e.describe()))
        }
        None => Err(Gs1Error::UnknownAi {
            ai: ai.to_string(),
            pos: ai_pos,
        }),
    }
}

fn finish(list: Vec<AiElement>, opts: &Options) -> Result<Vec<AiElement>, Gs1Error> {
    if list.is_empty() {
        return Err(syntax(0, "no AIs"));
    }
    if opts.validate_pairings {
        let pairs: Vec<(String, String)> = list
            .iter()
            .map(|e| (e.ai.clone(), e.value.clone()))
            .collect();
        ai::validate_pairings(&pairs)?;
    }
    Ok(list)
}

/// Parses a bracketed element string such as `(01)10614141073464(21)ABC`.
/// A literal `(` inside a value is written `\(`.
pub fn parse_bracketed(s: &str, opts: &Options) -> Result<Vec<AiElement>, Gs1Error> {
    let b = s.as_bytes();
    let mut list = Vec::new();
    let mut pos = 0usize;
    if b.is_empty() {
        return Err(syntax(0, "empty input"));
    }
    while pos < b.len() {
        if b[pos] != b'(' {
            return Err(syntax(pos, "expected '(' to start an AI"));
        }
        let ai_start = pos + 1;
        let Some(close) = b[ai_start..].iter().position(|&c| c == b')') else {
            return Err(syntax(pos, "AI is not terminated by ')'"));
        };
        let ai_bytes = &b[ai_start..ai_start + close];
        if let Some(i) = ai_bytes.iter().position(|c| !c.is_ascii_digit()) {
            return Err(syntax(ai_start + i, "AI must be numeric"));
        }
        if !(2..=4).contains(&ai_bytes.len()) {
            return Err(syntax(ai_start, "AI must have 2 to 4 digits"));
        }
        let ai = String::from_utf8_lossy(ai_bytes).into_owned();
        let value_pos = ai_start + close + 1;
        let mut value = Vec::new();
        let mut i = value_pos;
        while i < b.len() && b[i] != b'(' {
            if b[i] == b'\\' && b.get(i + 1) == Some(&b'(') {
                value.push(b'(');
                i += 2;
            } else {
                value.push(b[i]);
                i += 1;
            }
        }
        validate_value(&ai, &value, ai_start, value_pos, opts)?;
        list.push(AiElement {
            ai,
            value: String::from_utf8_lossy(&value).into_owned(),
        });
        pos = i;
    }
    finish(list, opts)
}

/// Parses unbracketed element string data (after the leading FNC1, which
/// must not be included) using `sep` as the FNC1 separator. A separator
/// after a predefined-length AI and a trailing separator are tolerated.
pub fn parse_unbracketed_with(
    data: &[u8],
    sep: u8,
    base: usize,
    opts: &Options,
) -> Result<Vec<AiElement>, Gs1Error> {
    let mut list = Vec::new();
    let mut pos = 0usize;
    if data.is_empty() {
        return Err(syntax(base, "no AI data"));
    }
    while pos < data.len() {
        if data[pos] == sep {
            if pos == 0 || data.get(pos + 1) == Some(&sep) {
                return Err(syntax(base + pos, "unexpected FNC1 separator"));
            }
            pos += 1;
            continue;
        }
        let Some(def) = ai::lookup_prefix(&data[pos..]) else {
            let n = data[pos..]
                .iter()
                .take(4)
                .take_while(|c| c.is_ascii_digit())
                .count();
            return Err(Gs1Error::UnknownAi {
                ai: String::from_utf8_lossy(&data[pos..pos + n.max(1).min(data.len() - pos)])
                    .into_owned(),
                pos: base + pos,
            });
        };
        let ai_pos = pos;
        let vstart = pos + def.ai.len();
        let vend = if def.predefined {
            let end = vstart + def.max_len();
            if end > data.len() {
                return Err(Gs1Error::AiValue {
                    ai: def.ai.to_string(),
                    value: String::from_utf8_lossy(&data[vstart..]).into_owned(),
                    pos: base + data.len(),
                    rule: format!(
                        "value too short: format {} needs {} characters",
                        def.format(),
                        def.max_len()
                    ),
                });
            }
            end
        } else {
            data[vstart..]
                .iter()
                .position(|&c| c == sep)
                .map_or(data.len(), |i| vstart + i)
        };
        let value = &data[vstart..vend];
        validate_value(def.ai, value, base + ai_pos, base + vstart, opts)?;
        list.push(AiElement {
            ai: def.ai.to_string(),
            value: String::from_utf8_lossy(value).into_owned(),
        });
        pos = vend;
    }
    finish(list, opts)
}

/// Parses an unbracketed element string whose separators are GS (0x1D),
/// without the leading FNC1.
pub fn parse_unbracketed(s: &str, opts: &Options) -> Result<Vec<AiElement>, Gs1Error> {
    parse_unbracketed_with(s.as_bytes(), GS, 0, opts)
}

/// Parses the `^`-notation used by the GS1 Syntax Engine test vectors: a
/// leading `^` is the initial FNC1 and each further `^` a separator.
pub fn parse_caret(s: &str, opts: &Options) -> Result<Vec<AiElement>, Gs1Error> {
    match s.strip_prefix('^') {
        Some(rest) => parse_unbracketed_with(rest.as_bytes(), b'^', 1, opts),
        None => Err(syntax(0, "must start with FNC1 ('^')")),
    }
}

/// Writes the bracketed form, escaping `(` in values as `\(`.
pub fn to_bracketed(list: &[AiElement]) -> String {
    let mut s = String::new();
    for e in list {
        s.push('(');
        s.push_str(&e.ai);
        s.push(')');
        s.push_str(&e.value.replace('(', "\\("));
    }
    s
}

/// Writes unbracketed data (without the leading FNC1) in the given order,
/// with `sep` after every AI that is not predefined-length, except the last.
pub fn to_unbracketed_in_order(list: &[AiElement], sep: char) -> String {
    let mut s = String::new();
    for (i, e) in list.iter().enumerate() {
        s.push_str(&e.ai);
        s.push_str(&e.value);
        if !e.is_predefined() && i + 1 < list.len() {
            s.push(sep);
        }
    }
    s
}

/// Orders AIs for a barcode: predefined-length AIs first (stable), then the
/// rest, which minimises separators.
pub fn barcode_order(list: &[AiElement]) -> Vec<AiElement> {
    let mut out: Vec<AiElement> = list.iter().filter(|e| e.is_predefined()).cloned().collect();
    out.extend(list.iter().filter(|e| !e.is_predefined()).cloned());
    out
}

/// Writes unbracketed barcode data with GS separators, predefined-length
/// AIs first (without the leading FNC1, which the symbology carries).
pub fn to_unbracketed(list: &[AiElement]) -> String {
    to_unbracketed_in_order(&barcode_order(list), char::from(GS))
}

/// Writes the `^`-notation in the given order (leading `^` included).
pub fn to_caret(list: &[AiElement]) -> String {
    format!("^{}", to_unbracketed_in_order(list, '^'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_round_trip() {
        let o = Options::default();
        let l = parse_bracketed("(01)10614141073464(17)261231(10)LOT\\(1(21)SN001", &o).unwrap();
        assert_eq!(l.len(), 4);
        assert_eq!(l[2].value, "LOT(1");
        assert_eq!(
            to_bracketed(&l),
            "(01)10614141073464(17)261231(10)LOT\\(1(21)SN001"
        );
    }

    #[test]
    fn unbracketed_order_and_separators() {
        let o = Options::default();
        let l = parse_bracketed("(21)SN001(01)10614141073464(10)LOT123(17)261231", &o).unwrap();
        assert_eq!(
            to_unbracketed(&l),
            "0110614141073464172612312\u{1d}SN001\u{1d}10LOT123".replace("2\u{1d}SN", "21SN")
        );
        let back = parse_unbracketed(&to_unbracketed(&l), &o).unwrap();
        assert_eq!(back.len(), 4);
        // Trailing GS is tolerated.
        assert!(parse_unbracketed("0110614141073464\u{1d}", &o).is_ok());
    }

    #[test]
    fn errors_name_ai_and_position() {
        let o = Options::default();
        let e = parse_bracketed("(01)10614141073464(17)261332", &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AI (17): invalid value '261332' at position 24: month 13 out of range"
        );
        let e = parse_bracketed("(01)10614141073465", &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AI (01): invalid value '10614141073465' at position 17: check digit expected 4 got 5"
        );
        let e = parse_bracketed("(01)10614141073464(21)A B", &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AI (21): invalid value 'A B' at position 23: character \" \" is not in GS1 character set 82"
        );
        let e = parse_bracketed("(01)1061414107346A", &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AI (01): invalid value '1061414107346A' at position 17: non-digit character \"A\""
        );
    }
}
