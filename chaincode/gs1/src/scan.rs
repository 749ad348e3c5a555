//! Scan data: what a barcode reader reports, prefixed by the AIM symbology
//! identifier (`]d2` GS1 DataMatrix, `]Q3` GS1 QR, `]C1` GS1-128, `]e0`
//! GS1 DataBar, `]J1` GS1 DotCode; `]d1`/`]Q1`/`]J0` plain data such as a
//! Digital Link URI; `]E0`/`]E4` EAN-13/EAN-8).

use serde::Serialize;

use crate::check_digit::is_valid_mod10;
use crate::dl;
use crate::element::{self, AiElement, GS, Options};
use crate::error::Gs1Error;

fn scan_err(reason: impl Into<String>) -> Gs1Error {
    Gs1Error::ScanData {
        reason: reason.into(),
    }
}

/// The symbologies this crate writes scan data for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Symbology {
    /// GS1 DataMatrix / DataMatrix (`]d2` / `]d1`).
    DataMatrix,
    /// GS1 QR Code / QR Code (`]Q3` / `]Q1`).
    Qr,
    /// GS1 DotCode / DotCode (`]J1` / `]J0`).
    DotCode,
    /// GS1-128 (`]C1`).
    Gs1_128,
    /// GS1 DataBar, any variant (`]e0`).
    DataBar,
    /// EAN-13 (`]E0`).
    Ean13,
    /// UPC-A, reported as EAN-13 with a leading zero (`]E0`).
    UpcA,
    /// EAN-8 (`]E4`).
    Ean8,
}

/// Parsed scan data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ScanData {
    /// GS1 element string data.
    Gs1 {
        /// The AIM symbology identifier, e.g. `]d2`.
        symbology: String,
        /// The AIs in data order.
        elements: Vec<AiElement>,
    },
    /// Plain data (may be a Digital Link URI).
    Plain {
        /// The AIM symbology identifier.
        symbology: String,
        /// The data.
        data: String,
    },
}

const GS1_IDS: &[&str] = &["]C1", "]e0", "]d2", "]Q3", "]J1"];

/// Parses scan data with an AIM symbology identifier.
pub fn parse(s: &str, opts: &Options) -> Result<ScanData, Gs1Error> {
    let b = s.as_bytes();
    if b.len() < 3 || b[0] != b']' || !s.is_char_boundary(3) {
        return Err(scan_err("missing AIM symbology identifier"));
    }
    let (id, data) = s.split_at(3);
    if GS1_IDS.contains(&id) {
        if data.is_empty() {
            return Err(scan_err("empty GS1 data"));
        }
        let elements = element::parse_unbracketed_with(data.as_bytes(), GS, 3, opts)?;
        return Ok(ScanData::Gs1 {
            symbology: id.to_string(),
            elements,
        });
    }
    match id {
        "]E0" | "]E4" => {
            let n = if id == "]E0" { 13 } else { 8 };
            if data.len() != n || !data.bytes().all(|c| c.is_ascii_digit()) {
                return Err(scan_err(format!("{id} carries exactly {n} digits")));
            }
            if !is_valid_mod10(data) {
                return Err(scan_err("incorrect check digit"));
            }
        }
        _ => {
            if data.contains(char::from(GS)) {
                return Err(scan_err("GS separator in plain data"));
            }
        }
    }
    Ok(ScanData::Plain {
        symbology: id.to_string(),
        data: data.to_string(),
    })
}

impl ScanData {
    /// The data in the `^`-notation of the GS1 Syntax Engine: GS1 data as
    /// `^` + AIs, plain data verbatim with a leading `^` escaped as `\^`.
    pub fn caret_string(&self) -> String {
        match self {
            Self::Gs1 { elements, .. } => element::to_caret(elements),
            Self::Plain { data, .. } => {
                if data.trim_start_matches('\\').starts_with('^') {
                    format!("\\{data}")
                } else {
                    data.clone()
                }
            }
        }
    }

    /// The AIs: the element string, or the Digital Link URI's AIs.
    pub fn elements(&self, opts: &Options) -> Result<Vec<AiElement>, Gs1Error> {
        match self {
            Self::Gs1 { elements, .. } => Ok(elements.clone()),
            Self::Plain { data, .. } => Ok(dl::parse(data, opts)?.elements),
        }
    }
}

/// Writes scan data. `data` is either `^`-notation GS1 data (leading `^`),
/// optionally `linear|composite`, or plain data.
pub fn generate(data: &str, sym: Symbology) -> Result<String, Gs1Error> {
    generate_with(data, sym, false)
}

/// As [`generate`]; with `add_check_digit`, EAN/UPC data omits the check
/// digit and it is computed.
pub fn generate_with(
    data: &str,
    sym: Symbology,
    add_check_digit: bool,
) -> Result<String, Gs1Error> {
    if data.is_empty() {
        return Err(scan_err("no data"));
    }
    let (linear, composite) = match data.split_once('|') {
        Some((l, c)) => (l, Some(c)),
        None => (data, None),
    };
    let gs1 = |s: &str| s.replace('^', &char::from(GS).to_string());
    match sym {
        Symbology::Ean13 | Symbology::UpcA | Symbology::Ean8 => {
            let n = match sym {
                Symbology::Ean13 => 13,
                Symbology::UpcA => 12,
                _ => 8,
            };
            let mut d = linear.to_string();
            if add_check_digit {
                if d.len() != n - 1 {
                    return Err(scan_err(format!(
                        "needs {} digits before the check digit",
                        n - 1
                    )));
                }
                d = crate::check_digit::with_check_digit(&d)
                    .ok_or_else(|| scan_err("non-digit data"))?;
            }
            if d.len() != n || !is_valid_mod10(&d) {
                return Err(scan_err("invalid EAN/UPC data"));
            }
            let (id, d) = match sym {
                Symbology::Ean8 => ("]E4", d),
                Symbology::UpcA => ("]E0", format!("0{d}")),
                _ => ("]E0", d),
            };
            let mut out = format!("{id}{d}");
            if let Some(c) = composite {
                let c = c
                    .strip_prefix('^')
                    .ok_or_else(|| scan_err("composite must be GS1 data"))?;
                out.push_str("|]e0");
                out.push_str(&gs1(c));
            }
            Ok(out)
        }
        _ => {
            let (gs1_id, plain_id) = match sym {
                Symbology::DataMatrix => ("]d2", Some("]d1")),
                Symbology::Qr => ("]Q3", Some("]Q1")),
                Symbology::DotCode => ("]J1", Some("]J0")),
                Symbology::Gs1_128 => ("]C1", None),
                _ => ("]e0", None),
            };
            let Some(l) = linear.strip_prefix('^') else {
                return match (plain_id, composite) {
                    (Some(p), None) => Ok(format!("{p}{linear}")),
                    _ => Err(scan_err("this symbology carries GS1 data only")),
                };
            };
            let mut out = format!("{gs1_id}{}", gs1(l));
            if let Some(c) = composite {
                let c = c
                    .strip_prefix('^')
                    .ok_or_else(|| scan_err("composite must be GS1 data"))?;
                // The composite's leading FNC1 acts as a separator only if
                // the linear part ends with a variable-length AI.
                let last = element::parse_unbracketed_with(
                    l.as_bytes(),
                    b'^',
                    1,
                    &Options {
                        validate_pairings: false,
                        ..Options::default()
                    },
                )?;
                if last.last().is_some_and(|e| !e.is_predefined()) {
                    out.push(char::from(GS));
                }
                out.push_str(&gs1(c));
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datamatrix() {
        let o = Options::default();
        let p = parse("]d201106141410734641726123110LOT\u{1d}21S1", &o).unwrap();
        assert_eq!(p.elements(&o).unwrap().len(), 4);
        assert_eq!(p.caret_string(), "^01106141410734641726123110LOT^21S1");
        assert!(parse("]d2", &o).is_err());
        let q = parse("]Q1https://id.gs1.org/01/10614141073464/21/X", &o).unwrap();
        assert_eq!(q.elements(&o).unwrap()[1], AiElement::new("21", "X"));
        assert_eq!(
            generate("^0110614141073464^21X", Symbology::DataMatrix).unwrap(),
            "]d20110614141073464\u{1d}21X"
        );
        for id in ["]Q3", "]C1", "]e0", "]J1"] {
            let s = format!("{id}0110614141073464");
            assert!(parse(&s, &o).is_ok(), "{id}");
        }
    }
}
