//! Typed GS1 keys. Constructors validate length, digits and check digit,
//! and say exactly what is wrong.

use std::fmt;

use serde::Serialize;

use crate::check_digit::mod10_bytes;
use crate::error::Gs1Error;
use crate::lint::is_cset82;

fn numeric_key(
    key: &'static str,
    s: &str,
    lengths: &[usize],
    expected: &'static str,
) -> Result<(), Gs1Error> {
    if !lengths.contains(&s.len()) {
        return Err(Gs1Error::KeyLength {
            key,
            expected,
            got: s.len(),
        });
    }
    if let Some((pos, ch)) = s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(Gs1Error::KeyNonDigit { key, ch, pos });
    }
    let b = s.as_bytes();
    let (last, body) = b.split_last().ok_or(Gs1Error::KeyLength {
        key,
        expected,
        got: 0,
    })?;
    let want = mod10_bytes(body).unwrap_or(0);
    let got = last - b'0';
    if want != got {
        return Err(Gs1Error::KeyCheckDigit {
            key,
            expected: want,
            got,
        });
    }
    Ok(())
}

/// A GTIN, always stored as GTIN-14.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Gtin(String);

impl Gtin {
    /// Parses GTIN-8, -12, -13 or -14 and left-pads to 14 digits.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        numeric_key("GTIN", s, &[8, 12, 13, 14], "8, 12, 13 or 14")?;
        Ok(Self(format!("{s:0>14}")))
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Indicator digit (first digit of the GTIN-14).
    pub fn indicator(&self) -> u8 {
        self.0.as_bytes()[0] - b'0'
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Serial Shipping Container Code (18 digits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Sscc(String);

impl Sscc {
    /// Parses an 18-digit SSCC.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        numeric_key("SSCC", s, &[18], "18")?;
        Ok(Self(s.to_string()))
    }

    /// The 18 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Global Location Number (13 digits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Gln(String);

impl Gln {
    /// Parses a 13-digit GLN.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        numeric_key("GLN", s, &[13], "13")?;
        Ok(Self(s.to_string()))
    }

    /// The 13 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Gln {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn cset82_value(key: &'static str, s: &str, max: usize) -> Result<(), Gs1Error> {
    if s.is_empty() || s.len() > max {
        return Err(Gs1Error::KeyLength {
            key,
            expected: "1 to the maximum length of the component",
            got: s.len(),
        });
    }
    if let Some((pos, ch)) = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii() && is_cset82(*c as u8)))
    {
        return Err(Gs1Error::AiValue {
            ai: key.to_string(),
            value: s.to_string(),
            pos,
            rule: format!("character {ch:?} is not in GS1 character set 82"),
        });
    }
    Ok(())
}

/// A GLN with an optional AI (254) extension (the EPC SGLN).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Sgln {
    /// The location GLN, AI (414).
    pub gln: Gln,
    /// The extension, AI (254), X..20.
    pub extension: Option<String>,
}

impl Sgln {
    /// Builds an SGLN, validating the extension.
    pub fn new(gln: Gln, extension: Option<&str>) -> Result<Self, Gs1Error> {
        if let Some(e) = extension {
            cset82_value("GLN extension (254)", e, 20)?;
        }
        Ok(Self {
            gln,
            extension: extension.map(str::to_string),
        })
    }
}

/// A Global Returnable Asset Identifier, AI (8003): `0` + 13-digit key with
/// check digit + optional serial (X..16).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Grai(String);

impl Grai {
    /// Parses the AI (8003) value.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        let d = crate::ai::lookup("8003").ok_or(Gs1Error::UnknownAi {
            ai: "8003".into(),
            pos: 0,
        })?;
        d.validate(s.as_bytes(), 0)?;
        Ok(Self(s.to_string()))
    }

    /// The AI (8003) value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Global Individual Asset Identifier, AI (8004), X..30.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Giai(String);

impl Giai {
    /// Parses the AI (8004) value.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        cset82_value("GIAI", s, 30)?;
        Ok(Self(s.to_string()))
    }

    /// The AI (8004) value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_forms() {
        assert_eq!(
            Gtin::parse("10614141073464").unwrap().as_str(),
            "10614141073464"
        );
        assert_eq!(
            Gtin::parse("614141073467").unwrap().as_str(),
            "00614141073467"
        );
        assert_eq!(Gtin::parse("02345673").unwrap().as_str(), "00000002345673");
        assert_eq!(
            Gtin::parse("10614141073465").unwrap_err().to_string(),
            "GTIN: check digit expected 4 got 5"
        );
        assert_eq!(
            Gtin::parse("10614141073").unwrap_err().to_string(),
            "GTIN: invalid length 11, expected 8, 12, 13 or 14"
        );
        assert_eq!(
            Gtin::parse("1061414A073464").unwrap_err().to_string(),
            "GTIN: non-digit character 'A' at position 7"
        );
        assert!(Sscc::parse("106141412345678908").is_ok());
        assert!(Gln::parse("0614141007776").is_ok());
        assert!(Gln::parse("0614141000005").is_ok());
        assert!(Gtin::parse("00338300905276").is_ok());
    }
}
