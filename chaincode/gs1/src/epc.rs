//! EPC pure-identity URIs (TDS): `urn:epc:id:*`, `urn:epc:class:lgtin` and
//! `urn:epc:idpat:*`, converted to and from AI lists given the GS1 Company
//! Prefix length, which cannot be derived from a key.

use crate::ai::AiDef;
use crate::check_digit::mod10;
use crate::element::{AiElement, Options, validate_value};
use crate::error::Gs1Error;
use crate::lint::is_cset82;

fn epc_err(reason: impl Into<String>) -> Gs1Error {
    Gs1Error::Epc {
        reason: reason.into(),
    }
}

/// Escapes a serial, lot or extension for an EPC URI: the characters
/// `" % & / < > ?` (and anything outside the TDS literal set) become `%XX`.
pub fn escape(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"!'()*+,-.:;=_".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Decodes EPC URI escapes. Lenient: every valid `%XX` is decoded, a `%`
/// without two hex digits is kept, and raw characters are accepted. Only
/// printable ASCII may result; the AI format is checked by the caller.
pub fn unescape(s: &str) -> Result<String, Gs1Error> {
    // Fast path (no escapes): decoding is the identity.
    if !s.contains('%') && s.bytes().all(|b| is_cset82(b) || b == b'#') {
        return Ok(s.to_string());
    }
    let d = crate::dl::percent_decode(s.as_bytes(), false);
    if let Some(i) = d.iter().position(|&b| !(is_cset82(b) || b == b'#')) {
        return Err(epc_err(format!(
            "character {:?} in '{s}' is not in GS1 character set 82",
            char::from(d[i])
        )));
    }
    Ok(String::from_utf8_lossy(&d).into_owned())
}

fn digits(s: &str, what: &str) -> Result<(), Gs1Error> {
    if let Some((i, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(epc_err(format!(
            "{what} '{s}': non-digit character {c:?} at position {i}"
        )));
    }
    Ok(())
}

fn gcp_ok(gcp: &str) -> Result<(), Gs1Error> {
    digits(gcp, "GS1 Company Prefix")?;
    if !(6..=12).contains(&gcp.len()) {
        return Err(Gs1Error::GcpLength {
            len: gcp.len(),
            reason: "must be 6 to 12 digits".into(),
        });
    }
    Ok(())
}

fn exact(s: &str, n: usize, what: &str) -> Result<(), Gs1Error> {
    digits(s, what)?;
    if s.len() != n {
        return Err(epc_err(format!(
            "{what} '{s}' must have {n} digits for this company prefix, got {}",
            s.len()
        )));
    }
    Ok(())
}

/// The concatenation of `parts` followed by its mod-10 check digit.
fn check_of(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 1);
    for p in parts {
        s.push_str(p);
    }
    let c = mod10(&s).unwrap_or(0);
    s.push(char::from(b'0' + c));
    s
}

/// GTIN-14 from a company prefix and `indicator + item reference`.
fn gtin(gcp: &str, ir: &str) -> Result<String, Gs1Error> {
    gcp_ok(gcp)?;
    exact(ir, 13 - gcp.len(), "indicator and item reference")?;
    Ok(check_of(&[&ir[..1], gcp, &ir[1..]]))
}

/// `gcp + ref` with a total of `total` digits, plus a check digit.
fn keyed(gcp: &str, r: &str, total: usize, what: &str) -> Result<String, Gs1Error> {
    gcp_ok(gcp)?;
    if gcp.len() > total {
        return Err(epc_err(format!("company prefix too long for {what}")));
    }
    exact(r, total - gcp.len(), what)?;
    Ok(check_of(&[gcp, r]))
}

fn el(ai: &str, v: impl Into<String>) -> AiElement {
    AiElement::new(ai, v)
}

/// Checks an EPC URI exactly as [`parse_urn`] does, without building the AI
/// list: `Ok` if and only if `parse_urn` succeeds, with the same error
/// otherwise. SGTINs without escapes take a non-allocating path.
pub fn check_urn(urn: &str) -> Result<(), Gs1Error> {
    if let Some(body) = urn.strip_prefix("urn:epc:id:sgtin:")
        && sgtin_ok(body)
    {
        return Ok(());
    }
    parse_urn(urn).map(|_| ())
}

/// The `parse_urn` checks of an SGTIN body (`gcp.indicator+itemref.serial`)
/// without a `%` escape in the serial (decoding is then the identity): digits
/// and lengths, serial characters, and the AI 01 and 21 value rules. `false`
/// means "let `parse_urn` decide".
fn sgtin_ok(body: &str) -> bool {
    // `splitn(3, '.')`, by byte search (the separators are ASCII).
    let dot = |s: &str| s.bytes().position(|b| b == b'.');
    let Some(d1) = dot(body) else {
        return false;
    };
    let (gcp, rest) = (&body[..d1], &body[d1 + 1..]);
    let Some(d2) = dot(rest) else {
        return false;
    };
    let (ir, serial) = (&rest[..d2], &rest[d2 + 1..]);
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(6..=12).contains(&gcp.len())
        || !all_digits(gcp)
        || ir.len() != 13 - gcp.len()
        || !all_digits(ir)
        || serial.contains('%')
        || !serial.bytes().all(|b| is_cset82(b) || b == b'#')
    {
        return false;
    }
    let mut gtin = [0u8; 14];
    gtin[0] = ir.as_bytes()[0];
    gtin[1..=gcp.len()].copy_from_slice(gcp.as_bytes());
    gtin[gcp.len() + 1..13].copy_from_slice(&ir.as_bytes()[1..]);
    gtin[13] = b'0' + crate::check_digit::mod10_bytes(&gtin[..13]).unwrap_or(0);
    // What `validate_value("01" | "21", …)` does with default options, with the
    // two table entries looked up once.
    static DEFS: std::sync::OnceLock<Option<(&'static AiDef, &'static AiDef)>> =
        std::sync::OnceLock::new();
    let Some((gtin_def, serial_def)) =
        *DEFS.get_or_init(|| Some((crate::ai::lookup("01")?, crate::ai::lookup("21")?)))
    else {
        return false;
    };
    let check_digits = Options::default().validate_check_digits;
    gtin_def.validate_with(&gtin, 0, check_digits).is_ok()
        && serial_def
            .validate_with(serial.as_bytes(), 0, check_digits)
            .is_ok()
}

/// Parses an EPC URI into AIs: the key first, then its qualifier.
/// Supported: `urn:epc:id:` sgtin, sscc, sgln, grai, giai, gsrn, gsrnp,
/// gdti, cpi, ginc, gsin, itip, upui, pgln, sgcn; `urn:epc:class:lgtin`;
/// `urn:epc:idpat:` sgtin, grai, gdti, sgcn, cpi, itip, upui (the `*`
/// component is dropped).
pub fn parse_urn(urn: &str) -> Result<Vec<AiElement>, Gs1Error> {
    let (kind, rest) = if let Some(r) = urn.strip_prefix("urn:epc:id:") {
        ("id", r)
    } else if let Some(r) = urn.strip_prefix("urn:epc:class:") {
        ("class", r)
    } else if let Some(r) = urn.strip_prefix("urn:epc:idpat:") {
        ("idpat", r)
    } else {
        return Err(epc_err(
            "must start with urn:epc:id:, urn:epc:class: or urn:epc:idpat:",
        ));
    };
    let (scheme, body) = rest
        .split_once(':')
        .ok_or_else(|| epc_err("missing scheme"))?;
    // Number of `.`-separated components; the last one may itself contain
    // dots (serials, lots and extensions allow '.').
    let count = match (kind, scheme) {
        ("id", "itip") => 5,
        ("idpat", "itip") => 5,
        ("id", "sgtin" | "upui" | "sgln" | "grai" | "gdti" | "sgcn" | "cpi")
        | ("class", "lgtin") => 3,
        ("idpat", _) => 3,
        _ => 2,
    };
    let mut parts: Vec<&str> = body.splitn(count, '.').collect();
    if kind == "idpat" {
        if parts.last() != Some(&"*") {
            return Err(epc_err("a pattern URI must end in '.*'"));
        }
        parts.pop();
    }
    let n = |k: usize| -> Result<(), Gs1Error> {
        if parts.len() == k {
            Ok(())
        } else {
            Err(epc_err(format!(
                "{scheme} needs {k} components, got {}",
                parts.len()
            )))
        }
    };
    let out = match (kind, scheme) {
        ("id", "sgtin") => {
            n(3)?;
            vec![
                el("01", gtin(parts[0], parts[1])?),
                el("21", unescape(parts[2])?),
            ]
        }
        ("idpat", "sgtin") | ("idpat", "upui") => {
            n(2)?;
            vec![el("01", gtin(parts[0], parts[1])?)]
        }
        ("class", "lgtin") => {
            n(3)?;
            vec![
                el("01", gtin(parts[0], parts[1])?),
                el("10", unescape(parts[2])?),
            ]
        }
        ("id", "upui") => {
            n(3)?;
            vec![
                el("01", gtin(parts[0], parts[1])?),
                el("235", unescape(parts[2])?),
            ]
        }
        ("id", "sscc") => {
            n(2)?;
            gcp_ok(parts[0])?;
            exact(
                parts[1],
                17 - parts[0].len(),
                "extension and serial reference",
            )?;
            vec![el(
                "00",
                check_of(&[&parts[1][..1], parts[0], &parts[1][1..]]),
            )]
        }
        ("id", "sgln") => {
            n(3)?;
            let gln = keyed(parts[0], parts[1], 12, "location reference")?;
            let mut v = vec![el("414", gln)];
            if parts[2] != "0" {
                v.push(el("254", unescape(parts[2])?));
            }
            v
        }
        ("id", "pgln") => {
            n(2)?;
            vec![el("417", keyed(parts[0], parts[1], 12, "party reference")?)]
        }
        ("id", "grai") | ("idpat", "grai") => {
            n(if kind == "id" { 3 } else { 2 })?;
            let k = keyed(parts[0], parts[1], 12, "asset type")?;
            let serial = if kind == "id" {
                unescape(parts[2])?
            } else {
                String::new()
            };
            vec![el("8003", format!("0{k}{serial}"))]
        }
        ("id", "giai") => {
            n(2)?;
            gcp_ok(parts[0])?;
            vec![el("8004", format!("{}{}", parts[0], unescape(parts[1])?))]
        }
        ("id", "gsrn") => {
            n(2)?;
            vec![el(
                "8018",
                keyed(parts[0], parts[1], 17, "service reference")?,
            )]
        }
        ("id", "gsrnp") => {
            n(2)?;
            vec![el(
                "8017",
                keyed(parts[0], parts[1], 17, "service reference")?,
            )]
        }
        ("id", "gdti") | ("idpat", "gdti") => {
            n(if kind == "id" { 3 } else { 2 })?;
            let k = keyed(parts[0], parts[1], 12, "document type")?;
            let serial = if kind == "id" {
                unescape(parts[2])?
            } else {
                String::new()
            };
            vec![el("253", format!("{k}{serial}"))]
        }
        ("id", "sgcn") | ("idpat", "sgcn") => {
            n(if kind == "id" { 3 } else { 2 })?;
            let k = keyed(parts[0], parts[1], 12, "coupon reference")?;
            let serial = if kind == "id" {
                digits(parts[2], "coupon serial")?;
                parts[2].to_string()
            } else {
                String::new()
            };
            vec![el("255", format!("{k}{serial}"))]
        }
        ("id", "cpi") | ("idpat", "cpi") => {
            n(if kind == "id" { 3 } else { 2 })?;
            gcp_ok(parts[0])?;
            let cp = unescape(parts[1])?;
            let mut v = vec![el("8010", format!("{}{cp}", parts[0]))];
            if kind == "id" {
                digits(parts[2], "component/part serial")?;
                v.push(el("8011", parts[2]));
            }
            v
        }
        ("id", "ginc") => {
            n(2)?;
            gcp_ok(parts[0])?;
            vec![el("401", format!("{}{}", parts[0], unescape(parts[1])?))]
        }
        ("id", "gsin") => {
            n(2)?;
            vec![el(
                "402",
                keyed(parts[0], parts[1], 16, "shipper reference")?,
            )]
        }
        ("id", "itip") | ("idpat", "itip") => {
            n(if kind == "id" { 5 } else { 4 })?;
            let g = gtin(parts[0], parts[1])?;
            exact(parts[2], 2, "piece")?;
            exact(parts[3], 2, "total")?;
            let mut v = vec![el("8006", format!("{g}{}{}", parts[2], parts[3]))];
            if kind == "id" {
                v.push(el("21", unescape(parts[4])?));
            }
            v
        }
        _ => return Err(epc_err(format!("unsupported EPC scheme {kind}:{scheme}"))),
    };
    // Values must satisfy their AI formats too (lengths, CSET, check digits).
    let opts = Options::default();
    for e in &out {
        validate_value(&e.ai, e.value.as_bytes(), 0, 0, &opts)?;
    }
    Ok(out)
}

fn split_gcp(
    key: &str,
    at: usize,
    gcp_len: usize,
    what: &str,
) -> Result<(String, String), Gs1Error> {
    if !(6..=12).contains(&gcp_len) {
        return Err(Gs1Error::GcpLength {
            len: gcp_len,
            reason: "must be 6 to 12 digits".into(),
        });
    }
    let gcp = key
        .get(at..at + gcp_len)
        .ok_or_else(|| epc_err(format!("{what} too short for the company prefix")))?;
    digits(gcp, "GS1 Company Prefix")?;
    Ok((gcp.to_string(), key[at + gcp_len..].to_string()))
}

/// Finds the primary key after checking every value against its AI format
/// (check digits are not verified: the EPC drops them). Formats guarantee
/// the lengths the slicing below relies on.
fn key_of(list: &[AiElement]) -> Result<&AiElement, Gs1Error> {
    let opts = Options {
        validate_check_digits: false,
        ..Options::default()
    };
    for e in list {
        validate_value(&e.ai, e.value.as_bytes(), 0, 0, &opts)?;
    }
    list.iter()
        .find(|e| e.def().is_some_and(|d| d.dlpkey.is_some()))
        .ok_or_else(|| epc_err("no GS1 key"))
}

fn find<'a>(list: &'a [AiElement], ai: &str) -> Option<&'a str> {
    list.iter().find(|e| e.ai == ai).map(|e| e.value.as_str())
}

fn gtin_parts(g: &str, gcp_len: usize) -> Result<(String, String), Gs1Error> {
    if g.len() != 14 {
        return Err(epc_err("GTIN must have 14 digits"));
    }
    let (gcp, rest) = split_gcp(&g[..13], 1, gcp_len, "GTIN")?;
    Ok((gcp, format!("{}{rest}", &g[..1])))
}

/// Builds the instance-level EPC URI (`urn:epc:id:...`) for the key in
/// `list`, given the GS1 Company Prefix length (6..=12).
pub fn to_urn(list: &[AiElement], gcp_len: usize) -> Result<String, Gs1Error> {
    let pk = key_of(list)?;
    let v = pk.value.as_str();
    match pk.ai.as_str() {
        "01" => {
            let (gcp, ir) = gtin_parts(v, gcp_len)?;
            if let Some(s) = find(list, "21") {
                Ok(format!("urn:epc:id:sgtin:{gcp}.{ir}.{}", escape(s)))
            } else if let Some(t) = find(list, "235") {
                Ok(format!("urn:epc:id:upui:{gcp}.{ir}.{}", escape(t)))
            } else {
                Err(epc_err(
                    "a GTIN needs a serial (21) or TPX (235) for an instance EPC",
                ))
            }
        }
        "00" => {
            let (gcp, rest) = split_gcp(&v[..v.len().saturating_sub(1)], 1, gcp_len, "SSCC")?;
            Ok(format!("urn:epc:id:sscc:{gcp}.{}{rest}", &v[..1]))
        }
        "414" => {
            let (gcp, r) = split_gcp(&v[..12], 0, gcp_len, "GLN")?;
            let ext = find(list, "254").map_or_else(|| "0".to_string(), escape);
            Ok(format!("urn:epc:id:sgln:{gcp}.{r}.{ext}"))
        }
        "417" => {
            let (gcp, r) = split_gcp(&v[..12], 0, gcp_len, "GLN")?;
            Ok(format!("urn:epc:id:pgln:{gcp}.{r}"))
        }
        "8003" => {
            let (gcp, r) = split_gcp(&v[1..13], 0, gcp_len, "GRAI")?;
            let serial = &v[14..];
            if serial.is_empty() {
                return Err(epc_err("a GRAI needs a serial for an instance EPC"));
            }
            Ok(format!("urn:epc:id:grai:{gcp}.{r}.{}", escape(serial)))
        }
        "8004" => {
            let (gcp, r) = split_gcp(v, 0, gcp_len, "GIAI")?;
            Ok(format!("urn:epc:id:giai:{gcp}.{}", escape(&r)))
        }
        "8017" | "8018" => {
            let (gcp, r) = split_gcp(&v[..17], 0, gcp_len, "GSRN")?;
            let s = if pk.ai == "8017" { "gsrnp" } else { "gsrn" };
            Ok(format!("urn:epc:id:{s}:{gcp}.{r}"))
        }
        "253" => {
            let (gcp, r) = split_gcp(&v[..12], 0, gcp_len, "GDTI")?;
            let serial = &v[13..];
            if serial.is_empty() {
                return Err(epc_err("a GDTI needs a serial for an instance EPC"));
            }
            Ok(format!("urn:epc:id:gdti:{gcp}.{r}.{}", escape(serial)))
        }
        "255" => {
            let (gcp, r) = split_gcp(&v[..12], 0, gcp_len, "GCN")?;
            let serial = &v[13..];
            if serial.is_empty() {
                return Err(epc_err("a GCN needs a serial for an instance EPC"));
            }
            Ok(format!("urn:epc:id:sgcn:{gcp}.{r}.{serial}"))
        }
        "401" => {
            let (gcp, r) = split_gcp(v, 0, gcp_len, "GINC")?;
            Ok(format!("urn:epc:id:ginc:{gcp}.{}", escape(&r)))
        }
        "402" => {
            let (gcp, r) = split_gcp(&v[..16], 0, gcp_len, "GSIN")?;
            Ok(format!("urn:epc:id:gsin:{gcp}.{r}"))
        }
        "8006" => {
            let (gcp, ir) = gtin_parts(&v[..14], gcp_len)?;
            let serial = find(list, "21")
                .ok_or_else(|| epc_err("an ITIP needs a serial (21) for an instance EPC"))?;
            Ok(format!(
                "urn:epc:id:itip:{gcp}.{ir}.{}.{}.{}",
                &v[14..16],
                &v[16..18],
                escape(serial)
            ))
        }
        "8010" => {
            let (gcp, r) = split_gcp(v, 0, gcp_len, "CPID")?;
            let serial = find(list, "8011")
                .ok_or_else(|| epc_err("a CPID needs a serial (8011) for an instance EPC"))?;
            Ok(format!("urn:epc:id:cpi:{gcp}.{}.{serial}", escape(&r)))
        }
        other => Err(epc_err(format!("no EPC scheme for AI ({other})"))),
    }
}

/// Builds the class-level EPC URI: `urn:epc:class:lgtin:` for a GTIN with
/// a lot, else an `urn:epc:idpat:` pattern for the key alone.
pub fn to_class_urn(list: &[AiElement], gcp_len: usize) -> Result<String, Gs1Error> {
    let pk = key_of(list)?;
    let v = pk.value.as_str();
    match pk.ai.as_str() {
        "01" => {
            let (gcp, ir) = gtin_parts(v, gcp_len)?;
            match find(list, "10") {
                Some(lot) => Ok(format!("urn:epc:class:lgtin:{gcp}.{ir}.{}", escape(lot))),
                None => Ok(format!("urn:epc:idpat:sgtin:{gcp}.{ir}.*")),
            }
        }
        "8003" => {
            let (gcp, r) = split_gcp(&v[1..13], 0, gcp_len, "GRAI")?;
            Ok(format!("urn:epc:idpat:grai:{gcp}.{r}.*"))
        }
        "253" => {
            let (gcp, r) = split_gcp(&v[..12], 0, gcp_len, "GDTI")?;
            Ok(format!("urn:epc:idpat:gdti:{gcp}.{r}.*"))
        }
        "255" => {
            let (gcp, r) = split_gcp(&v[..12], 0, gcp_len, "GCN")?;
            Ok(format!("urn:epc:idpat:sgcn:{gcp}.{r}.*"))
        }
        "8006" => {
            let (gcp, ir) = gtin_parts(&v[..14], gcp_len)?;
            Ok(format!(
                "urn:epc:idpat:itip:{gcp}.{ir}.{}.{}.*",
                &v[14..16],
                &v[16..18]
            ))
        }
        "8010" => {
            let (gcp, r) = split_gcp(v, 0, gcp_len, "CPID")?;
            Ok(format!("urn:epc:idpat:cpi:{gcp}.{}.*", escape(&r)))
        }
        other => Err(epc_err(format!(
            "no class-level EPC scheme for AI ({other})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_urn_agrees_with_parse_urn() {
        let gcps = [
            "0614141",
            "061414",
            "061414112345",
            "06141411234567",
            "06a4141",
            "",
        ];
        let refs = ["107346", "1073460", "10", "1", "", "1x7346"];
        let serials = [
            "2017",
            "",
            "A%2FB",
            "#1",
            "a\"b",
            "12345678901234567890",
            "123456789012345678901",
            "SN!'()*+,-.:;=_",
            "x y",
            "\u{e9}",
        ];
        let mut n = 0;
        for g in gcps {
            for r in refs {
                for s in serials {
                    for urn in [
                        format!("urn:epc:id:sgtin:{g}.{r}.{s}"),
                        format!("urn:epc:id:sgtin:{g}.{r}"),
                        format!("urn:epc:id:sgln:{g}.{r}.{s}"),
                    ] {
                        assert_eq!(check_urn(&urn), parse_urn(&urn).map(|_| ()), "{urn}");
                        n += usize::from(check_urn(&urn).is_ok());
                    }
                }
            }
        }
        assert!(n > 10, "only {n} valid URNs exercised");
    }

    #[test]
    fn standards_examples() {
        let l = crate::element::parse_bracketed("(01)10614141073464(21)2017", &Options::default())
            .unwrap();
        assert_eq!(
            to_urn(&l, 7).unwrap(),
            "urn:epc:id:sgtin:0614141.107346.2017"
        );
        assert_eq!(
            parse_urn("urn:epc:id:sgtin:0614141.107346.2017").unwrap(),
            l
        );
        let s = vec![AiElement::new("00", "106141412345678908")];
        assert_eq!(to_urn(&s, 7).unwrap(), "urn:epc:id:sscc:0614141.1234567890");
        let g = vec![AiElement::new("414", "0614141007776")];
        assert_eq!(to_urn(&g, 7).unwrap(), "urn:epc:id:sgln:0614141.00777.0");
        assert_eq!(escape("a/b%\"&<>?"), "a%2Fb%25%22%26%3C%3E%3F");
    }
}
