//! `parse_any`: one entry point that recognises every carrier form and
//! returns the AIs plus the fields pharma code needs.

use serde::Serialize;

use crate::date::{ReferenceYear, parse_yymmdd};
use crate::element::{self, AiElement, Options};
use crate::error::Gs1Error;
use crate::{dl, epc, scan};

/// Which form the input was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputForm {
    /// `(01)...(21)...`
    Bracketed,
    /// Element string with GS separators (or `^` notation).
    Unbracketed,
    /// Scan data with an AIM symbology identifier.
    ScanData,
    /// GS1 Digital Link URI.
    DigitalLink,
    /// EPC pure-identity URI.
    EpcUri,
}

/// Context for [`parse_any`]: everything that is not in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseContext {
    /// Anchors the YYMMDD century window (never the clock).
    pub reference_year: ReferenceYear,
    /// GS1 Company Prefix length, if known, for EPC URIs.
    pub gcp_len: Option<usize>,
    /// Parser switches.
    pub options: Options,
}

impl ParseContext {
    /// Default options with the given reference year and no GCP length.
    pub fn new(reference_year: ReferenceYear) -> Self {
        Self {
            reference_year,
            gcp_len: None,
            options: Options::default(),
        }
    }
}

/// The result of [`parse_any`]. Serialises to the JSON the CLI prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gs1Data {
    /// Detected input form.
    pub form: InputForm,
    /// AIM symbology identifier, for scan data.
    pub symbology: Option<String>,
    /// The AIs in input order.
    pub elements: Vec<AiElement>,
    /// GTIN-14 from AI (01), if present.
    pub gtin14: Option<String>,
    /// Serial number, AI (21).
    pub serial: Option<String>,
    /// Batch/lot, AI (10).
    pub lot: Option<String>,
    /// Expiry date, AI (17), as ISO `YYYY-MM-DD` (DD = 00 resolved).
    pub expiry: Option<String>,
    /// SGTIN EPC URI, when a GTIN, a serial and the GCP length are known.
    pub sgtin_urn: Option<String>,
    /// Canonical Digital Link (`https://id.gs1.org/...`), if the AIs
    /// contain a primary key.
    pub canonical_dl: Option<String>,
}

impl Gs1Data {
    /// The value of the first occurrence of `ai`.
    pub fn get(&self, ai: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|e| e.ai == ai)
            .map(|e| e.value.as_str())
    }

    /// Bracketed element string of the AIs.
    pub fn bracketed(&self) -> String {
        element::to_bracketed(&self.elements)
    }
}

/// Detects the input form (bracketed, unbracketed with GS or `^`, scan
/// data, Digital Link URI or EPC URI) and parses it.
pub fn parse_any(input: &str, ctx: &ParseContext) -> Result<Gs1Data, Gs1Error> {
    let opts = &ctx.options;
    let lower = input
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let (form, symbology, elements) = if input.starts_with(']') {
        let s = scan::parse(input, opts)?;
        let sym = match &s {
            scan::ScanData::Gs1 { symbology, .. } | scan::ScanData::Plain { symbology, .. } => {
                symbology.clone()
            }
        };
        (InputForm::ScanData, Some(sym), s.elements(opts)?)
    } else if input.starts_with('(') {
        (
            InputForm::Bracketed,
            None,
            element::parse_bracketed(input, opts)?,
        )
    } else if lower.starts_with("http://") || lower.starts_with("https://") {
        (
            InputForm::DigitalLink,
            None,
            dl::parse(input, opts)?.elements,
        )
    } else if input.starts_with("urn:epc:") {
        (InputForm::EpcUri, None, epc::parse_urn(input)?)
    } else if input.starts_with('^') {
        (
            InputForm::Unbracketed,
            None,
            element::parse_caret(input, opts)?,
        )
    } else {
        let body = input.strip_prefix('\u{1d}').unwrap_or(input);
        (
            InputForm::Unbracketed,
            None,
            element::parse_unbracketed(body, opts)?,
        )
    };
    let find = |ai: &str| {
        elements
            .iter()
            .find(|e| e.ai == ai)
            .map(|e| e.value.clone())
    };
    let expiry = match find("17") {
        Some(v) => Some(parse_yymmdd(&v, ctx.reference_year, true)?.iso()),
        None => None,
    };
    let sgtin_urn = match (ctx.gcp_len, find("01"), find("21")) {
        (Some(n), Some(_), Some(_)) => epc::to_urn(&elements, n).ok(),
        _ => None,
    };
    Ok(Gs1Data {
        form,
        symbology,
        gtin14: find("01"),
        serial: find("21"),
        lot: find("10"),
        expiry,
        sgtin_urn,
        canonical_dl: dl::canonical(&elements).ok(),
        elements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        ParseContext {
            gcp_len: Some(7),
            ..ParseContext::new(ReferenceYear(2026))
        }
    }

    #[test]
    fn every_form_gives_the_same_pack() {
        let forms = [
            "(01)10614141073464(17)261200(10)LOT123(21)2017",
            "01106141410734641726120010LOT123\u{1d}212017",
            "^01106141410734641726120010LOT123^212017",
            "]d201106141410734641726120010LOT123\u{1d}212017",
            "]Q1https://example.com/gtin/10614141073464/lot/LOT123/ser/2017?17=261200",
            "https://example.com/gtin/10614141073464/lot/LOT123/ser/2017?17=261200",
        ];
        for f in forms {
            let d = parse_any(f, &ctx()).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(d.gtin14.as_deref(), Some("10614141073464"), "{f}");
            assert_eq!(d.serial.as_deref(), Some("2017"), "{f}");
            assert_eq!(d.lot.as_deref(), Some("LOT123"), "{f}");
            assert_eq!(d.expiry.as_deref(), Some("2026-12-31"), "{f}");
            assert_eq!(
                d.sgtin_urn.as_deref(),
                Some("urn:epc:id:sgtin:0614141.107346.2017"),
                "{f}"
            );
            assert_eq!(
                d.canonical_dl.as_deref(),
                Some("https://id.gs1.org/01/10614141073464/10/LOT123/21/2017?17=261200"),
                "{f}"
            );
        }
    }
}
