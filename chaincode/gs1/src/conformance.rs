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

// ---------------------------------------------------------------------------
// The corpora and their exclusions (shared by tests/conformance.rs and the workspace runner).

/// The last column (the upstream `source`).
pub fn last_col(row: &[&str]) -> String {
    row.last().copied().unwrap_or_default().to_string()
}

/// `column 0 | column 2`.
pub fn first_two(row: &[&str]) -> String {
    format!(
        "{} | {}",
        row.first().copied().unwrap_or_default(),
        row.get(2).copied().unwrap_or_default()
    )
}

/// gs1-syntax-engine exclusions, keyed by the `source` column.
pub const SYNTAX_ENGINE_EXCLUDED: &[(&str, &str)] = &[
    (
        "src/c-lib/ai.c:1423",
        "input built in C code (90-char buffer), not transcribed",
    ),
    (
        "src/c-lib/ai.c:1427",
        "input built in C code (91-char buffer), not transcribed",
    ),
    (
        "src/c-lib/ai.c:1822",
        "input built in C code (91-char buffer), not transcribed",
    ),
];

/// gs1-syntax-dictionary exclusions, keyed by the `source` column.
pub const SYNTAX_DICTIONARY_EXCLUDED: &[(&str, &str)] = &[
    (
        "src/lint_couponcode.c:960",
        "coupon linter (AI 8110, North American coupons) not implemented; accepted unchecked",
    ),
    (
        "src/lint_couponposoffer.c:208",
        "coupon linter (AI 8112) not implemented; accepted unchecked",
    ),
    (
        "src/lint_packagetype.c:175",
        "package type code list (AI 7041, freight) not implemented; accepted unchecked",
    ),
];

/// Reason shared by the Digital Link compression rows.
pub const COMPRESSION: &str =
    "Digital Link URI compression is not offered (not used in pharma flows)";

/// digital-link.js exclusions, keyed by the `source` column.
pub const DIGITAL_LINK_JS_EXCLUDED: &[(&str, &str)] = &[
    ("tests/index.js:522", COMPRESSION),
    ("tests/index.js:722", COMPRESSION),
    ("tests/index.js:729", COMPRESSION),
    ("tests/index.js:736", COMPRESSION),
    ("tests/index.js:742", COMPRESSION),
    ("tests/index.js:748", COMPRESSION),
    ("tests/index.js:755", COMPRESSION),
    ("tests/index.js:761", COMPRESSION),
    ("tests/index.js:767", COMPRESSION),
    ("tests/index.js:774", COMPRESSION),
    (
        "tests/index.js:696",
        "digital-link.js rejects GIAI 0801234126; GS1 defines GIAI (8004) as X..30 without a check digit and the GS1 Syntax Engine accepts it",
    ),
    (
        "tests/index.js:698",
        "digital-link.js rejects GIAI 0801234127; GS1 defines GIAI (8004) as X..30 without a check digit and the GS1 Syntax Engine accepts it",
    ),
];

/// GS1DigitalLinkToolkit.js exclusions, keyed by `function | params`.
pub const DL_TOOLKIT_EXCLUDED: &[(&str, &str)] = &[
    (
        "gs1ElementStringsToGS1DigitalLink | useShortText=true;uriStem=http://example.org",
        "short-text (convenience alpha) DL output is deliberately not offered (deprecated by GS1); also flagged SUSPECT upstream",
    ),
    (
        "buildGS1digitalLink | useShortText=true;uriStem=https://example.org",
        "short-text (convenience alpha) DL output is deliberately not offered (deprecated by GS1)",
    ),
];

/// openepcis-epc-digitallink-translator exclusions, keyed by the operation
/// for CBV vocabulary rows, `auto` for rows needing the GCP length table,
/// else `input | operation`.
pub const EPC_DL_TRANSLATOR_EXCLUDED: &[(&str, &str)] = &[
    (
        "toBareStringVocabulary",
        "CBV vocabulary conversion belongs to the EPCIS crate, not to GS1 identifiers",
    ),
    (
        "toCbvVocabulary",
        "CBV vocabulary conversion belongs to the EPCIS crate, not to GS1 identifiers",
    ),
    (
        "toUrnVocabulary",
        "CBV vocabulary conversion belongs to the EPCIS crate, not to GS1 identifiers",
    ),
    (
        "toWebURIVocabulary",
        "CBV vocabulary conversion belongs to the EPCIS crate, not to GS1 identifiers",
    ),
    (
        "auto",
        "needs the GS1 GCP length table (gcpprefixformatlist.json), which is data we do not ship; callers pass the GCP length",
    ),
    (
        "https://id.gs1.org/01/12345678901231/21/!\"%&'()*+,-./ | toURN",
        "input is not a valid URI (raw '\"' and a bare '%'); we reject such URIs by design",
    ),
    (
        "https://id.gs1.org/01/12345678901231/21//19:;<=>?AZ_az | toURN",
        "input is not a valid URI (raw '<' '>', and '/' '?' inside the serial change its structure); we reject it by design",
    ),
];

/// Exclusion key for the OpenEPCIS translator rows.
pub fn translator_key(row: &[&str]) -> String {
    let op = row.get(2).copied().unwrap_or_default();
    if op.ends_with("Vocabulary") {
        op.to_string()
    } else if row.get(3) == Some(&"auto") {
        "auto".to_string()
    } else {
        first_two(row)
    }
}

/// epcis-event-hash-generator exclusions, keyed by the input.
pub const EVENT_HASH_EXCLUDED: &[(&str, &str)] = &[];

/// One TSV corpus: where it is, how each row is checked, and the rows deliberately excluded.
#[derive(Debug, Clone, Copy)]
pub struct TsvCorpus {
    /// Folder under the conformance root.
    pub dir: &'static str,
    /// File in that folder.
    pub file: &'static str,
    /// Checks one row.
    pub check: fn(&[&str]) -> Result<(), String>,
    /// Excluded rows: (key, reason).
    pub excluded: &'static [(&'static str, &'static str)],
    /// The key a row is matched against the exclusions by.
    pub key: fn(&[&str]) -> String,
}

/// Every TSV corpus this crate is checked against.
pub const TSV_CORPORA: &[TsvCorpus] = &[
    TsvCorpus {
        dir: "gs1-syntax-engine",
        file: "vectors.tsv",
        check: check_syntax_engine_row,
        excluded: SYNTAX_ENGINE_EXCLUDED,
        key: last_col,
    },
    TsvCorpus {
        dir: "gs1-syntax-dictionary",
        file: "vectors.tsv",
        check: check_syntax_dictionary_row,
        excluded: SYNTAX_DICTIONARY_EXCLUDED,
        key: last_col,
    },
    TsvCorpus {
        dir: "digital-link.js",
        file: "vectors.tsv",
        check: check_digital_link_js_row,
        excluded: DIGITAL_LINK_JS_EXCLUDED,
        key: last_col,
    },
    TsvCorpus {
        dir: "GS1DigitalLinkToolkit.js",
        file: "vectors.tsv",
        check: check_dl_toolkit_row,
        excluded: DL_TOOLKIT_EXCLUDED,
        key: first_two,
    },
    TsvCorpus {
        dir: "openepcis-epc-digitallink-translator",
        file: "vectors.tsv",
        check: check_epc_dl_translator_row,
        excluded: EPC_DL_TRANSLATOR_EXCLUDED,
        key: translator_key,
    },
    TsvCorpus {
        dir: "epcis-event-hash-generator",
        file: "vectors.tsv",
        check: check_event_hash_row,
        excluded: EVENT_HASH_EXCLUDED,
        key: first_col,
    },
];

/// `column 0`.
pub fn first_col(row: &[&str]) -> String {
    row.first().copied().unwrap_or_default().to_string()
}

/// The outcome of one corpus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorpusReport {
    /// Rows that agree with the upstream expectation.
    pub passed: usize,
    /// Rows that do not (each described in `failures`).
    pub failed: usize,
    /// Rows skipped by an exclusion.
    pub excluded: usize,
    /// One line per failed row: `line N [key]: what differs`.
    pub failures: Vec<String>,
    /// Exclusions that matched no row (the list is out of date).
    pub stale_exclusions: Vec<String>,
}

/// Checks every row of one corpus file's text.
pub fn run_tsv_corpus(corpus: &TsvCorpus, text: &str) -> CorpusReport {
    let tsv = parse_tsv(text);
    let mut report = CorpusReport::default();
    let mut used = vec![false; corpus.excluded.len()];
    for (line, cols) in &tsv.rows {
        let row: Vec<&str> = cols.iter().map(String::as_str).collect();
        let key = (corpus.key)(&row);
        if let Some(i) = corpus.excluded.iter().position(|(x, _)| *x == key) {
            used[i] = true;
            report.excluded += 1;
            continue;
        }
        // A panic in a checker is a failure of that row, not of the run.
        match std::panic::catch_unwind(|| (corpus.check)(&row)) {
            Ok(Ok(())) => report.passed += 1,
            Ok(Err(e)) => {
                report.failed += 1;
                report.failures.push(format!("line {line} [{key}]: {e}"));
            }
            Err(_) => {
                report.failed += 1;
                report.failures.push(format!("line {line} [{key}]: PANIC"));
            }
        }
    }
    for (i, (key, _)) in corpus.excluded.iter().enumerate() {
        if !used[i] {
            report.stale_exclusions.push((*key).to_string());
        }
    }
    report
}
