//! Row checkers for the external conformance corpora (cargo feature
//! `conformance`). Each `check_*_row` takes the TSV columns of one data
//! row, in the corpus's column order, and returns `Ok(())` when this crate
//! agrees with the upstream expectation, or `Err` describing the mismatch.
//!
//! Corpora (see `conformance/INDEX.md` in the shared folder):
//! gs1-syntax-engine, gs1-syntax-dictionary, digital-link.js,
//! GS1DigitalLinkToolkit.js, openepcis-epc-digitallink-translator and
//! epcis-event-hash-generator.

use crate::ai::{self, Linter};
use crate::check_digit::mod10_bytes;
use crate::dl;
use crate::element::{self, AiElement, Options};
use crate::epc;
use crate::scan::{self, Symbology};

/// A parsed TSV file: the header columns and the data rows. Lines starting
/// with `#` are comments; the first other line is the header.
#[derive(Debug, Clone, Default)]
pub struct Tsv {
    /// Column names.
    pub header: Vec<String>,
    /// Data rows (1-based line number in the file, columns).
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Splits a TSV text into header and rows.
pub fn parse_tsv(text: &str) -> Tsv {
    let mut t = Tsv::default();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<String> = line.split('\t').map(str::to_string).collect();
        if t.header.is_empty() {
            t.header = cols;
        } else {
            t.rows.push((i + 1, cols));
        }
    }
    t
}

/// Decodes the C byte-string convention of the GS1 corpora: `\xHH` is a
/// byte, `\\` a backslash; everything else is literal.
pub fn c_unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if b.get(i + 1) == Some(&b'x')
                && let Some(h) = b.get(i + 2..i + 4)
                && let Ok(hs) = std::str::from_utf8(h)
                && let Ok(v) = u8::from_str_radix(hs, 16)
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Decodes the TSV escapes of the OpenEPCIS corpus (`\t`, `\n`, `\\`).
pub fn tsv_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn col<'a>(row: &[&'a str], i: usize) -> Result<&'a str, String> {
    row.get(i)
        .copied()
        .ok_or_else(|| format!("row has no column {i}"))
}

fn text(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| "input is not UTF-8".to_string())
}

fn outcome<T>(want_ok: bool, got: Result<T, String>, what: &str) -> Result<Option<T>, String> {
    match (want_ok, got) {
        (true, Ok(v)) => Ok(Some(v)),
        (true, Err(e)) => Err(format!("{what}: expected success, got error: {e}")),
        (false, Ok(_)) => Err(format!("{what}: expected failure, but it succeeded")),
        (false, Err(_)) => Ok(None),
    }
}

fn same<T: PartialEq + std::fmt::Debug>(got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("got {got:?}, expected {want:?}"))
    }
}

fn se_options(context: &str) -> Options {
    let mut o = Options::strict();
    o.validate_pairings = false;
    for kv in context.split(';') {
        match kv.trim() {
            "PermitUnknownAIs=true" => o.permit_unknown_ais = true,
            "permitConvenienceAlphas=true" => o.permit_convenience_alphas = true,
            "PermitZeroSuppressedGTINinDLuris=true" => o.permit_zero_suppressed_gtin = true,
            "validation.vUNKNOWN_AI_NOT_DL_ATTR=true" => o.unknown_ai_not_dl_attr = true,
            "validation.vUNKNOWN_AI_NOT_DL_ATTR=false" => o.unknown_ai_not_dl_attr = false,
            _ => {}
        }
    }
    o
}

fn symbology(name: &str) -> Option<Symbology> {
    Some(match name {
        "QR" => Symbology::Qr,
        "DM" => Symbology::DataMatrix,
        "DotCode" => Symbology::DotCode,
        "DataBarExpanded" | "DataBarOmni" => Symbology::DataBar,
        "GS1_128" | "GS1_128_CCA" => Symbology::Gs1_128,
        "UPCA" => Symbology::UpcA,
        "EAN13" => Symbology::Ean13,
        "EAN8" => Symbology::Ean8,
        _ => return None,
    })
}

/// gs1-syntax-engine/vectors.tsv: columns `test, should_succeed, input,
/// param, expected, context, comment, source`.
pub fn check_syntax_engine_row(row: &[&str]) -> Result<(), String> {
    let test = col(row, 0)?;
    let ok = col(row, 1)? == "true";
    let input_bytes = c_unescape(col(row, 2)?);
    let param = col(row, 3)?;
    let expected = c_unescape(col(row, 4)?);
    let context = col(row, 5)?;
    let mut opts = se_options(context);
    let input = text(input_bytes.clone());
    let name = test.split('(').next().unwrap_or("");
    match name {
        "parseAIdata" => {
            let got = input.and_then(|i| {
                element::parse_bracketed(&i, &opts)
                    .map(|l| element::to_caret(&l))
                    .map_err(|e| e.to_string())
            });
            if let Some(s) = outcome(ok, got, "parse bracketed")? {
                same(s.into_bytes(), expected)?;
            }
            Ok(())
        }
        "processAIdata" => {
            let got =
                input.and_then(|i| element::parse_caret(&i, &opts).map_err(|e| e.to_string()));
            outcome(ok, got, "process element string").map(|_| ())
        }
        "validateAIs" => {
            opts.validate_pairings = true;
            let got =
                input.and_then(|i| element::parse_bracketed(&i, &opts).map_err(|e| e.to_string()));
            outcome(ok, got, "validate AIs").map(|_| ())
        }
        "parseDLuri" => {
            let got = input.and_then(|i| {
                dl::parse(&i, &opts)
                    .map(|d| element::to_caret(&d.elements))
                    .map_err(|e| e.to_string())
            });
            if let Some(s) = outcome(ok, got, "parse DL URI")? {
                same(s.into_bytes(), expected)?;
            }
            Ok(())
        }
        "URIunescape" => {
            let q = c_unescape(param.strip_prefix("query:").unwrap_or(param));
            same(dl::percent_decode(&input_bytes, false), expected)?;
            same(dl::percent_decode(&input_bytes, true), q)
        }
        "URIescape" => {
            let q = param.strip_prefix("query:").unwrap_or(param);
            same(
                dl::percent_encode(&input_bytes, false).into_bytes(),
                expected,
            )?;
            same(dl::percent_encode(&input_bytes, true).as_str(), q)
        }
        "generateDLuri" => {
            let stem = (param != "NULL").then_some(param);
            let got = input.and_then(|i| {
                let l = element::parse_bracketed(&i, &opts).map_err(|e| e.to_string())?;
                dl::generate(&l, stem, &opts).map_err(|e| e.to_string())
            });
            if let Some(s) = outcome(ok, got, "generate DL URI")? {
                same(s.into_bytes(), expected)?;
            }
            Ok(())
        }
        "generateScanData" => {
            let add = context.contains("AddCheckDigit=true");
            let got = input.and_then(|i| {
                let sym = symbology(param).ok_or_else(|| format!("no symbology {param}"))?;
                scan::generate_with(&i, sym, add).map_err(|e| e.to_string())
            });
            if let Some(s) = outcome(ok, got, "generate scan data")? {
                same(s.into_bytes(), expected)?;
            }
            Ok(())
        }
        "processScanData" => {
            let got = input.and_then(|i| {
                scan::parse(&i, &opts)
                    .map(|s| s.caret_string())
                    .map_err(|e| e.to_string())
            });
            if let Some(s) = outcome(ok, got, "process scan data")? {
                same(s.into_bytes(), expected)?;
            }
            Ok(())
        }
        other => Err(format!("unknown test kind {other}")),
    }
}

/// gs1-syntax-dictionary/vectors.tsv: columns `linter, input, expected,
/// error_markup, comment, source`.
pub fn check_syntax_dictionary_row(row: &[&str]) -> Result<(), String> {
    let name = col(row, 0)?;
    let input = c_unescape(col(row, 1)?);
    let expected = col(row, 2)?;
    let markup = c_unescape(col(row, 3)?);
    let result = match name {
        "csetnumeric" => ai::check_cset(ai::Cset::N, &input),
        "cset82" => ai::check_cset(ai::Cset::X, &input),
        "cset39" => ai::check_cset(ai::Cset::Y, &input),
        "cset64" => ai::check_cset(ai::Cset::Z, &input),
        n => Linter::from_name(n)
            .ok_or_else(|| format!("unknown linter {n}"))?
            .check(&input),
    };
    match (expected, result) {
        ("PASS", Ok(())) => Ok(()),
        ("PASS", Err(e)) => Err(format!("expected PASS, got {}", e.kind.code())),
        (code, Ok(())) => Err(format!("expected {code}, got PASS")),
        (code, Err(e)) => {
            same(e.kind.code(), code)?;
            let end = (e.pos + e.len).min(input.len());
            let start = e.pos.min(end);
            let mut m = input[..start].to_vec();
            m.push(b'*');
            m.extend_from_slice(&input[start..end]);
            m.push(b'*');
            m.extend_from_slice(&input[end..]);
            same(m, markup)
        }
    }
}

fn dl_js_options(params: &str) -> Options {
    Options {
        sort_key_qualifiers: params.contains("sortKeyQualifiers=true"),
        ..Options::default()
    }
}

/// digital-link.js/vectors.tsv: columns `function, input, params,
/// expected, test_name, source`.
pub fn check_digital_link_js_row(row: &[&str]) -> Result<(), String> {
    let func = col(row, 0)?;
    let input = col(row, 1)?;
    let params = col(row, 2)?;
    let expected = col(row, 3)?;
    let want = expected == "true";
    let opts = dl_js_options(params);
    let got: bool = match func {
        "DigitalLink(url) constructor" => {
            if expected != "THROWS" {
                return Err(format!("unexpected expectation {expected}"));
            }
            return match dl::parse(input, &opts) {
                Ok(_) => Err("expected a parse error".into()),
                Err(_) => Ok(()),
            };
        }
        "DigitalLink(url).isValid()" | "DigitalLink(url).isCheckDigitValid()" => {
            dl::parse(input, &opts).is_ok()
        }
        "Utils.testRule(Rules.gtin)" => crate::keys::Gtin::parse(input).is_ok(),
        "Utils.testRule(Rules.ser)" => {
            ai::lookup("21").is_some_and(|d| d.validate(input.as_bytes(), 0).is_ok())
        }
        "Utils.testRule(Rules.cpv)" => {
            ai::lookup("22").is_some_and(|d| d.validate(input.as_bytes(), 0).is_ok())
        }
        "Utils.testRule(Rules.extensionParameter)" => dl::is_extension_parameter(input),
        "CheckDigit.validateCheckDigit" => {
            let pos: i64 = params
                .strip_prefix("pos=")
                .and_then(|p| p.parse().ok())
                .ok_or("bad pos parameter")?;
            let b = input.as_bytes();
            let idx = if pos < 0 {
                b.len()
            } else {
                usize::try_from(pos).unwrap_or(0)
            };
            match (
                idx.checked_sub(1).and_then(|i| b.get(i)),
                b.get(..idx.saturating_sub(1)),
            ) {
                (Some(c), Some(body)) => c.is_ascii_digit() && mod10_bytes(body) == Some(c - b'0'),
                _ => false,
            }
        }
        other => return Err(format!("function {other} not supported")),
    };
    same(got, want)
}

/// Minimal reader for the flat `{"k":"v",...}` objects in the toolkit
/// vectors.
fn flat_json(s: &str) -> Result<Vec<(String, String)>, String> {
    let inner = s
        .trim()
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or("not a JSON object")?;
    let quoted: Vec<&str> = inner.split('"').collect();
    // Layout: "", k, ":", v, ",", k, ":", v, ""
    let mut out = Vec::new();
    let mut i = 1;
    while i + 2 < quoted.len() {
        out.push((quoted[i].to_string(), quoted[i + 2].to_string()));
        i += 4;
    }
    Ok(out)
}

fn as_map(list: &[AiElement]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|e| (e.ai.clone(), e.value.clone()))
        .collect();
    v.sort();
    v
}

fn params_get<'a>(params: &'a str, key: &str) -> Option<&'a str> {
    params
        .split(';')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// GS1DigitalLinkToolkit.js/vectors.tsv: columns `function, input, params,
/// expected_output, note`.
pub fn check_dl_toolkit_row(row: &[&str]) -> Result<(), String> {
    let func = col(row, 0)?;
    let input = text(c_unescape(col(row, 1)?))?;
    let params = col(row, 2)?;
    let expected = c_unescape(col(row, 3)?);
    let opts = Options::default();
    let e = |x: crate::Gs1Error| x.to_string();
    let parse_es = |s: &str| {
        if s.starts_with('(') {
            element::parse_bracketed(s, &opts)
        } else {
            element::parse_unbracketed(s, &opts)
        }
    };
    match func {
        "gs1ElementStringsToGS1DigitalLink" => {
            if params_get(params, "useShortText") == Some("true") {
                return Err("short-text (convenience alpha) output is not offered".into());
            }
            let stem = params_get(params, "uriStem").filter(|s| *s != "null");
            let l = parse_es(&input).map_err(e)?;
            let got = dl::generate(&l, stem, &opts).map_err(e)?;
            same(got.into_bytes(), expected)
        }
        "gs1digitalLinkToGS1elementStrings" => {
            let d = dl::parse(&input, &opts).map_err(e)?;
            let got = if params_get(params, "brackets") == Some("true") {
                element::to_bracketed(&d.elements)
            } else {
                element::to_unbracketed(&d.elements)
            };
            same(got.into_bytes(), expected)
        }
        "extractFromGS1elementStrings" => {
            let l = parse_es(&input).map_err(e)?;
            let mut want = flat_json(&text(expected)?)?;
            want.sort();
            same(as_map(&l), want)
        }
        "extractFromGS1digitalLink" => {
            let d = dl::parse(&input, &opts).map_err(e)?;
            let mut want = flat_json(&text(expected)?)?;
            want.sort();
            same(as_map(&d.elements), want)
        }
        "buildGS1elementStrings" => {
            let mut l: Vec<AiElement> = flat_json(&input)?
                .into_iter()
                .map(|(k, v)| AiElement::new(k, v))
                .collect();
            // The toolkit writes the primary key first, then AIs in order.
            l.sort_by_key(|x| (x.def().is_none_or(|d| d.dlpkey.is_none()), x.ai.clone()));
            let got = if params_get(params, "brackets") == Some("true") {
                element::to_bracketed(&l)
            } else {
                element::to_unbracketed(&l)
            };
            same(got.into_bytes(), expected)
        }
        "buildGS1digitalLink" => {
            if params_get(params, "useShortText") == Some("true") {
                return Err("short-text (convenience alpha) output is not offered".into());
            }
            let l: Vec<AiElement> = flat_json(&input)?
                .into_iter()
                .map(|(k, v)| AiElement::new(k, v))
                .collect();
            let got = dl::generate(&l, params_get(params, "uriStem"), &opts).map_err(e)?;
            same(got.into_bytes(), expected)
        }
        other => Err(format!("function {other} not supported")),
    }
}

/// Compares two URIs after percent-decoding: upstream emits both minimal
/// and non-minimal escapes (and some raw characters).
fn same_decoded(got: &str, want: &str) -> Result<(), String> {
    let g = dl::percent_decode(got.as_bytes(), false);
    let w = dl::percent_decode(want.as_bytes(), false);
    if g == w {
        Ok(())
    } else {
        Err(format!("got {got:?}, expected {want:?}"))
    }
}

/// openepcis-epc-digitallink-translator/vectors.tsv: columns `input,
/// expected, operation, param, source`. Outputs are compared after
/// percent-decoding.
pub fn check_epc_dl_translator_row(row: &[&str]) -> Result<(), String> {
    let input = tsv_unescape(col(row, 0)?);
    let expected = tsv_unescape(col(row, 1)?);
    let op = col(row, 2)?;
    let param = col(row, 3)?;
    let want_ok = !expected.starts_with("ERROR(");
    let e = |x: crate::Gs1Error| x.to_string();
    let got: Result<String, String> = match op {
        "toURI" | "toURIForClassLevelIdentifier" => {
            epc::parse_urn(&input).map_err(e).and_then(|l| {
                let class = op != "toURI";
                let is_class =
                    input.starts_with("urn:epc:class:") || input.starts_with("urn:epc:idpat:");
                if class != is_class {
                    return Err("wrong identifier level".into());
                }
                dl::canonical(&l).map_err(e)
            })
        }
        "toURN" | "toURNForClassLevelIdentifier" => {
            let n: usize = param
                .parse()
                .map_err(|_| format!("GCP length '{param}' must be given"))?;
            // The translator drops check digits without verifying them.
            let opts = Options {
                validate_check_digits: false,
                ..Options::strict()
            };
            dl::parse(&input, &opts).map_err(e).and_then(|d| {
                if op == "toURN" {
                    epc::to_urn(&d.elements, n).map_err(e)
                } else {
                    epc::to_class_urn(&d.elements, n).map_err(e)
                }
            })
        }
        other => return Err(format!("operation {other} not supported")),
    };
    match outcome(want_ok, got, op)? {
        Some(s) => same_decoded(&s, &expected),
        None => Ok(()),
    }
}

/// epcis-event-hash-generator/vectors.tsv: columns `input,
/// expected_output, source`; `NONE(reject)` means the input must be
/// rejected.
pub fn check_event_hash_row(row: &[&str]) -> Result<(), String> {
    let input = col(row, 0)?;
    let expected = col(row, 1)?;
    let got = dl::canonical_for_hash(input).map_err(|x| x.to_string());
    match outcome(expected != "NONE(reject)", got, "constrained canonical DL")? {
        Some(s) => same(s.as_str(), expected),
        None => Ok(()),
    }
}
