//! EPC URI / GS1 Digital Link → constrained canonical GS1 Digital Link URI,
//! as used by the CBV 2.0 event hash.
//!
//! "Constrained canonical" means: stem `https://id.gs1.org`, numeric AIs, GTIN
//! padded to 14 digits, no query string, no CPV (AI 22) and only the finest
//! identification level (a serial wins over a lot). EPC pure-identity URIs,
//! EPC class URIs (LGTIN) and EPC ID pattern URIs are converted; anything that
//! is not recognised returns `None` and is hashed as written.
//!
//! The accepted syntax, the percent-encoding of serials (`! ( ) * + , :` are
//! escaped, existing `%XX` escapes are kept) and the output syntax check follow
//! the hash-generator test vectors (`epcis-event-hash-generator/vectors.tsv`).
//! This module is written for the hash only; it is deliberately stricter and
//! narrower than a general Digital Link parser.

/// Converts an EPC URI, EPC class URI, EPC ID pattern URI or GS1 Digital Link
/// URI to the constrained canonical Digital Link URI used by the event hash.
///
/// Returns `None` for anything else (other URIs, plain text, malformed keys).
pub fn canonical_digital_link(uri: &str) -> Option<String> {
    if !uri.contains('.') {
        return None;
    }
    if let Some(rest) = uri.strip_prefix("urn:epc:") {
        return epc_uri(rest);
    }
    if uri.starts_with("http") {
        return digital_link(uri);
    }
    None
}

/// GS1 mod-10 check digit of a digit string (weights 3,1,3,… from the right).
pub fn check_digit(digits: &str) -> char {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let d = u32::from(c.wrapping_sub(b'0')) % 10;
        sum += if i % 2 == 0 { d * 3 } else { d };
    }
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

// ---------------------------------------------------------------------------
// EPC URIs
// ---------------------------------------------------------------------------

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

/// Length of one serial-style character unit at the start of `b` (a literal or
/// an allowed `%XX` escape), or `None`.
fn x_unit(b: &[u8]) -> Option<usize> {
    let c = *b.first()?;
    if c == b'%' {
        let h1 = *b.get(1)?;
        let h2 = *b.get(2)?;
        let ok = match h1 {
            b'2' => {
                matches!(h2, b'1' | b'2' | b'5'..=b'9') || (is_hex(h2) && h2.is_ascii_alphabetic())
            }
            b'3' => is_hex(h2),
            b'4' | b'6' => h2 != b'0' && is_hex(h2),
            b'5' => h2.is_ascii_digit() || matches!(h2, b'A' | b'a' | b'F' | b'f'),
            b'7' => h2.is_ascii_digit() || matches!(h2, b'A' | b'a'),
            _ => false,
        };
        return ok.then_some(3);
    }
    let ok = c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'\''
                | b')'
                | b'('
                | b'*'
                | b'+'
                | b','
                | b'.'
                | b':'
                | b';'
                | b'='
                | b'_'
                | b'-'
        );
    ok.then_some(1)
}

/// Length of one CPI character unit (`[0-9A-Z-]` or `%23 %2D %2F %3d %4x %5x`).
fn cpi_unit(b: &[u8]) -> Option<usize> {
    let c = *b.first()?;
    if c == b'%' {
        let h1 = *b.get(1)?;
        let h2 = *b.get(2)?;
        let ok = match h1 {
            b'2' => matches!(h2, b'3' | b'd' | b'f' | b'D' | b'F'),
            b'3' => h2.is_ascii_digit(),
            b'4' => h2 != b'0' && is_hex(h2),
            b'5' => h2.is_ascii_digit() || matches!(h2, b'A' | b'a'),
            _ => false,
        };
        return ok.then_some(3);
    }
    (c.is_ascii_digit() || c.is_ascii_uppercase() || c == b'-').then_some(1)
}

/// Counts the units of `s` (which must consist of units only) and checks
/// `min..=max`.
fn units_in(s: &str, unit: fn(&[u8]) -> Option<usize>, min: usize, max: usize) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        match unit(&b[i..]) {
            Some(l) => {
                i += l;
                n += 1;
            }
            None => return false,
        }
    }
    (min..=max).contains(&n)
}

/// Splits `n` leading ASCII digits off `s`.
fn digits(s: &str, n: usize) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.len() < n || !b[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((&s[..n], &s[n..]))
}

fn all_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit())
}

/// GS1 Company Prefix (6–12 digits) and the text after its dot.
fn gcp(body: &str) -> Option<(&str, &str)> {
    let dot = body.find('.')?;
    let g = &body[..dot];
    if !all_digits(g, 6, 12) {
        return None;
    }
    Some((g, &body[dot + 1..]))
}

/// Appends `s` with `! ( ) * + , :` percent-encoded (existing escapes are kept).
fn encode_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '!' => out.push_str("%21"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '*' => out.push_str("%2A"),
            '+' => out.push_str("%2B"),
            ',' => out.push_str("%2C"),
            ':' => out.push_str("%3A"),
            _ => out.push(c),
        }
    }
}

/// Appends the concatenation of the digit strings `parts` and its check digit.
fn push_with_cd(out: &mut String, parts: &[&str]) {
    let mut sum = 0u32;
    let mut i = 0usize;
    for part in parts.iter().rev() {
        for c in part.bytes().rev() {
            let d = u32::from(c.wrapping_sub(b'0')) % 10;
            sum += if i.is_multiple_of(2) { d * 3 } else { d };
            i += 1;
        }
    }
    for part in parts {
        out.push_str(part);
    }
    out.push(char::from(b'0' + ((10 - sum % 10) % 10) as u8));
}

const DL: &str = "https://id.gs1.org/";

/// Appends the constrained canonical DL of an EPC URI (`rest` follows
/// `urn:epc:`); returns false (and appends nothing) if it is not one.
pub(super) fn push_epc_uri(out: &mut String, rest: &str) -> bool {
    if let Some(r) = rest.strip_prefix("id:") {
        return match r.split_once(':') {
            Some((scheme, body)) => epc_id(out, scheme, body).is_some(),
            None => false,
        };
    }
    if let Some(body) = rest.strip_prefix("class:lgtin:") {
        return lgtin(out, body).is_some();
    }
    if let Some(r) = rest.strip_prefix("idpat:") {
        return match r.split_once(':') {
            Some((scheme, body)) => epc_pattern(out, scheme, body).is_some(),
            None => false,
        };
    }
    false
}

fn epc_uri(rest: &str) -> Option<String> {
    let mut out = String::with_capacity(64);
    push_epc_uri(&mut out, rest).then_some(out)
}

fn lgtin(out: &mut String, body: &str) -> Option<()> {
    let (g, r) = gcp(body)?;
    let (item, r) = digits(r, 13 - g.len())?;
    let lot = r.strip_prefix('.')?;
    if !units_in(lot, x_unit, 1, 20) {
        return None;
    }
    out.push_str(DL);
    out.push_str("01/");
    push_with_cd(out, &[&item[..1], g, &item[1..]]);
    out.push_str("/10/");
    encode_into(out, lot);
    Some(())
}

/// Validates an EPC pure-identity URI body and appends its DL form.
/// Nothing is appended unless the whole input is valid.
fn epc_id(out: &mut String, scheme: &str, body: &str) -> Option<()> {
    let (g, r) = gcp(body)?;
    let l = g.len();
    match scheme {
        "sgtin" | "upui" => {
            let (item, r) = digits(r, 13 - l)?;
            let serial = r.strip_prefix('.')?;
            let (max, ai) = if scheme == "sgtin" {
                (20, "/21/")
            } else {
                (28, "/235/")
            };
            if !units_in(serial, x_unit, 1, max) {
                return None;
            }
            out.push_str(DL);
            out.push_str("01/");
            push_with_cd(out, &[&item[..1], g, &item[1..]]);
            out.push_str(ai);
            encode_into(out, serial);
        }
        "sscc" => {
            if !all_digits(r, 17 - l, 17 - l) {
                return None;
            }
            out.push_str(DL);
            out.push_str("00/");
            push_with_cd(out, &[&r[..1], g, &r[1..]]);
        }
        "sgln" => {
            let (loc, r) = digits(r, 12 - l)?;
            let ext = r.strip_prefix('.')?;
            if !units_in(ext, x_unit, 1, 20) {
                return None;
            }
            out.push_str(DL);
            out.push_str("414/");
            push_with_cd(out, &[g, loc]);
            if ext != "0" {
                out.push_str("/254/");
                encode_into(out, ext);
            }
        }
        "grai" => {
            let (asset, r) = digits(r, 12 - l)?;
            let serial = r.strip_prefix('.')?;
            if !units_in(serial, x_unit, 1, 16) {
                return None;
            }
            out.push_str(DL);
            out.push_str("8003/");
            push_with_cd(out, &["0", g, asset]);
            encode_into(out, serial);
        }
        "giai" | "ginc" => {
            if !units_in(r, x_unit, 1, 30 - l) {
                return None;
            }
            out.push_str(DL);
            out.push_str(if scheme == "giai" { "8004/" } else { "401/" });
            out.push_str(g);
            encode_into(out, r);
        }
        "gsrn" | "gsrnp" => {
            if !all_digits(r, 17 - l, 17 - l) {
                return None;
            }
            out.push_str(DL);
            out.push_str(if scheme == "gsrn" { "8018/" } else { "8017/" });
            push_with_cd(out, &[g, r]);
        }
        "gdti" => {
            let (doc, r) = digits(r, 12 - l)?;
            // The serial (possibly empty) follows a dot; the dot counts towards
            // the 20-character budget unless the GCP has 12 digits.
            let serial = r.strip_prefix('.')?;
            let ok = if l == 12 {
                units_in(serial, x_unit, 1, 20)
            } else {
                units_in(r, x_unit, 1, 20)
            };
            if !ok {
                return None;
            }
            out.push_str(DL);
            out.push_str("253/");
            push_with_cd(out, &[g, doc]);
            encode_into(out, serial);
        }
        "cpi" => {
            let (cpref, serial) = r.split_once('.')?;
            if !units_in(cpref, cpi_unit, 1, 30 - l) || !all_digits(serial, 1, 12) {
                return None;
            }
            out.push_str(DL);
            out.push_str("8010/");
            encode_into(out, g);
            encode_into(out, cpref);
            out.push_str("/8011/");
            out.push_str(serial);
        }
        "sgcn" => {
            let (coupon, r) = digits(r, 12 - l)?;
            let serial = r.strip_prefix('.')?;
            if !all_digits(serial, 1, 12) {
                return None;
            }
            out.push_str(DL);
            out.push_str("255/");
            push_with_cd(out, &[g, coupon]);
            out.push_str(serial);
        }
        "gsin" => {
            if !all_digits(r, 16 - l, 16 - l) {
                return None;
            }
            out.push_str(DL);
            out.push_str("402/");
            push_with_cd(out, &[g, r]);
        }
        "itip" => {
            let (item, r) = digits(r, 13 - l)?;
            let r = r.strip_prefix('.')?;
            let (piece, r) = digits(r, 2)?;
            let r = r.strip_prefix('.')?;
            let (total, r) = digits(r, 2)?;
            let serial = r.strip_prefix('.')?;
            if !units_in(serial, x_unit, 1, 20) {
                return None;
            }
            out.push_str(DL);
            out.push_str("8006/");
            push_with_cd(out, &[&item[..1], g, &item[1..]]);
            out.push_str(piece);
            out.push_str(total);
            out.push_str("/21/");
            encode_into(out, serial);
        }
        "pgln" => {
            if !all_digits(r, 12 - l, 12 - l) {
                return None;
            }
            out.push_str(DL);
            out.push_str("417/");
            push_with_cd(out, &[g, r]);
        }
        _ => return None,
    }
    Some(())
}

/// Validates an EPC ID pattern URI body and appends its DL form.
fn epc_pattern(out: &mut String, scheme: &str, body: &str) -> Option<()> {
    let (g, r) = gcp(body)?;
    let l = g.len();
    match scheme {
        "sgtin" | "upui" => {
            let (item, r) = digits(r, 13 - l)?;
            if r != ".*" {
                return None;
            }
            out.push_str(DL);
            out.push_str("01/");
            push_with_cd(out, &[&item[..1], g, &item[1..]]);
        }
        "grai" => {
            let (asset, r) = digits(r, 12 - l)?;
            if r != ".*" {
                return None;
            }
            out.push_str(DL);
            out.push_str("8003/");
            push_with_cd(out, &["0", g, asset]);
        }
        "gdti" | "sgcn" => {
            let (doc, r) = digits(r, 12 - l)?;
            if r != ".*" {
                return None;
            }
            out.push_str(DL);
            out.push_str(if scheme == "gdti" { "253/" } else { "255/" });
            push_with_cd(out, &[g, doc]);
        }
        "cpi" => {
            let cpref = r.strip_suffix(".*")?;
            if !units_in(cpref, cpi_unit, 1, 30 - l) {
                return None;
            }
            out.push_str(DL);
            out.push_str("8010/");
            encode_into(out, g);
            encode_into(out, cpref);
        }
        "itip" => {
            let (item, r) = digits(r, 13 - l)?;
            let r = r.strip_prefix('.')?;
            let (piece, r) = digits(r, 2)?;
            let r = r.strip_prefix('.')?;
            let (total, r) = digits(r, 2)?;
            if r != ".*" {
                return None;
            }
            out.push_str(DL);
            out.push_str("8006/");
            push_with_cd(out, &[&item[..1], g, &item[1..]]);
            out.push_str(piece);
            out.push_str(total);
        }
        _ => return None,
    }
    Some(())
}

// ---------------------------------------------------------------------------
// Digital Link URIs
// ---------------------------------------------------------------------------

const INITIAL_KEYS: [&str; 28] = [
    "01", "gtin", "8006", "itip", "8010", "cpid", "414", "gln", "417", "party", "8017", "gsrnp",
    "8018", "gsrn", "255", "gcn", "00", "sscc", "253", "gdti", "401", "ginc", "402", "gsin",
    "8003", "grai", "8004", "giai",
];

const SHORT_NAMES: [(&str, &str); 17] = [
    ("/gtin/", "/01/"),
    ("/itip/", "/8006/"),
    ("/cpid/", "/8010/"),
    ("/gln/", "/414/"),
    ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"),
    ("/gsrn/", "/8018/"),
    ("/gcn/", "/255/"),
    ("/sscc/", "/00/"),
    ("/gdti/", "/253/"),
    ("/ginc/", "/401/"),
    ("/gsin/", "/402/"),
    ("/grai/", "/8003/"),
    ("/giai/", "/8004/"),
    ("/cpv/", "/22/"),
    ("/lot/", "/10/"),
    ("/ser/", "/21/"),
];

const CANONICAL_KEYS: [&str; 14] = [
    "01", "8006", "8010", "414", "417", "8017", "8018", "255", "00", "253", "401", "402", "8003",
    "8004",
];

const CUT_ORDER: [&str; 14] = [
    "/00/", "/01/", "/253/", "/255/", "/401/", "/402/", "/414/", "/417/", "/8003/", "/8004/",
    "/8006/", "/8010/", "/8017/", "/8018/",
];

/// Characters allowed in DL path values by the output check
/// (`" ' - . 0-9 ; < = > ? A-Z _ a-z`).
fn is_cls(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'"' | b'\'' | b'-' | b'.' | b';' | b'<' | b'=' | b'>' | b'?' | b'_'
        )
}

fn cls(s: &str, max: usize) -> bool {
    s.len() <= max && s.bytes().all(is_cls)
}

/// The text after `https://id.gs1.org/` (the dots of the host match any ASCII
/// character, as in the reference pattern), if `u` starts with that stem.
fn after_stem(u: &str) -> Option<&str> {
    let b = u.as_bytes();
    if b.len() < 19
        || &b[..10] != b"https://id"
        || !b[10].is_ascii()
        || b[10] == b'\n'
        || &b[11..14] != b"gs1"
        || !b[14].is_ascii()
        || b[14] == b'\n'
        || &b[15..19] != b"org/"
    {
        return None;
    }
    Some(&u[19..])
}

/// `key/` at the start of `s` followed by four digits and one more non-`/` char.
fn key_then_digits(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] != b'/'
}

fn has_key_segment(after_scheme: &str) -> bool {
    let end = after_scheme.find(['?', '#']).unwrap_or(after_scheme.len());
    let path = &after_scheme[..end];
    let mut i = 0;
    while let Some(off) = path[i..].find('/') {
        let start = i + off + 1;
        let Some(len) = path[start..].find('/') else {
            break;
        };
        let j = start + len;
        if INITIAL_KEYS.contains(&&path[start..j]) && key_then_digits(&after_scheme[j + 1..]) {
            return true;
        }
        i = j;
    }
    false
}

fn is_canonical_start(u: &str) -> bool {
    let Some(rest) = after_stem(u) else {
        return false;
    };
    let Some((key, tail)) = rest.split_once('/') else {
        return false;
    };
    CANONICAL_KEYS.contains(&key) && key_then_digits(tail)
}

fn digital_link(uri: &str) -> Option<String> {
    let after_scheme = uri
        .strip_prefix("https:")
        .or_else(|| uri.strip_prefix("http:"))?;
    if !has_key_segment(after_scheme) {
        return None;
    }
    let mut u = match uri.find('?') {
        Some(i) => uri[..i].to_string(),
        None => uri.to_string(),
    };
    for (from, to) in SHORT_NAMES {
        if u.contains(from) {
            u = u.replace(from, to);
        }
    }
    if !is_canonical_start(&u) {
        for key in CUT_ORDER {
            if let Some(i) = u.find(key) {
                u = format!("https://id.gs1.org{}", &u[i..]);
                break;
            }
        }
    }
    // Pad GTIN-8/12/13 to 14 digits.
    if let Some(tail) = after_stem(&u).and_then(|r| r.strip_prefix("01/")) {
        let n = tail.bytes().take_while(u8::is_ascii_digit).count();
        let pad = match n {
            13 => Some("/01/0"),
            12 => Some("/01/00"),
            8..=11 => Some("/01/000000"),
            _ => None,
        };
        if let Some(p) = pad {
            u = u.replace("/01/", p);
        }
    }
    // Drop the CPV (AI 22).
    let cpv_tail = key_with_digits(&u).and_then(|t| t.strip_prefix("/22/").map(str::to_string));
    if let Some(after22) = cpv_tail
        && let Some(i) = u.find("/22/")
    {
        if cls(&after22, 20) {
            u.truncate(i);
        } else if after22.len() <= 20
            && after22.bytes().all(|c| c == b'/' || is_cls(c))
            && let Some(j) = after22.find('/')
        {
            u.truncate(i);
            u.push_str(&after22[j..]);
        }
    }
    // Keep the finest level: drop the lot when a serial follows.
    let lot_serial = key_with_digits(&u)
        .and_then(|t| t.strip_prefix("/10/"))
        .and_then(|t| t.split_once("/21/"))
        .filter(|(lot, serial)| cls(lot, 20) && cls(serial, 20))
        .map(|(_, serial)| serial.to_string());
    if let Some(serial) = lot_serial
        && let Some(i) = u.find("/10/")
    {
        u.truncate(i);
        u.push_str("/21/");
        u.push_str(&serial);
    }
    valid_output(&u).then_some(u)
}

/// For `…/01/{14 digits}…` or `…/8006/{18 digits}…`: the text after the digits.
fn key_with_digits(u: &str) -> Option<&str> {
    let rest = after_stem(u)?;
    if let Some(t) = rest.strip_prefix("01/") {
        return digits(t, 14).map(|(_, tail)| tail);
    }
    if let Some(t) = rest.strip_prefix("8006/") {
        return digits(t, 18).map(|(_, tail)| tail);
    }
    None
}

fn exact_digits(s: &str, n: usize) -> bool {
    all_digits(s, n, n)
}

fn valid_output(u: &str) -> bool {
    let Some(rest) = after_stem(u) else {
        return false;
    };
    let Some((key, tail)) = rest.split_once('/') else {
        return false;
    };
    let fixed_then =
        |n: usize, f: &dyn Fn(&str) -> bool| -> bool { digits(tail, n).is_some_and(|(_, t)| f(t)) };
    match key {
        "00" | "8017" | "8018" => exact_digits(tail, 18),
        "01" => fixed_then(14, &|t: &str| {
            t.is_empty()
                || t.strip_prefix("/21/").is_some_and(|s| cls(s, 20))
                || t.strip_prefix("/10/").is_some_and(|s| cls(s, 20))
                || t.strip_prefix("/235/").is_some_and(|s| cls(s, 28))
        }),
        "253" => fixed_then(13, &|t: &str| cls(t, 17)),
        "255" => fixed_then(13, &|t: &str| all_digits(t, 0, 12)),
        "401" | "8004" => cls(tail, 30),
        "402" => exact_digits(tail, 17),
        "414" => fixed_then(13, &|t: &str| {
            t.is_empty() || t.strip_prefix("/254/").is_some_and(|s| cls(s, 20))
        }),
        "417" => exact_digits(tail, 13),
        "8003" => fixed_then(14, &|t: &str| cls(t, 16)),
        "8006" => fixed_then(18, &|t: &str| {
            t.is_empty()
                || t.strip_prefix("/21/").is_some_and(|s| cls(s, 20))
                || t.strip_prefix("/10/").is_some_and(|s| cls(s, 20))
        }),
        "8010" => {
            let c8010 = |s: &str| {
                s.len() <= 30
                    && s.bytes().all(|c| {
                        c == b'#'
                            || c == b'-'
                            || c == b'/'
                            || c.is_ascii_digit()
                            || c.is_ascii_uppercase()
                    })
            };
            if c8010(tail) {
                return true;
            }
            tail.match_indices("/8011/")
                .any(|(i, m)| c8010(&tail[..i]) && all_digits(&tail[i + m.len()..], 0, 12))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits() {
        assert_eq!(check_digit("1061414107346"), '4');
        assert_eq!(check_digit("10614141234567890"), '8');
        assert_eq!(check_digit("061414100777"), '6');
        assert_eq!(check_digit("061414100000"), '5');
        assert_eq!(check_digit("0033830090527"), '6');
    }

    #[test]
    fn pharma_examples() {
        let n = canonical_digital_link;
        assert_eq!(
            n("urn:epc:id:sgtin:0614141.107346.2017").as_deref(),
            Some("https://id.gs1.org/01/10614141073464/21/2017")
        );
        assert_eq!(
            n("urn:epc:id:sgtin:0614141.107346.A%2FB").as_deref(),
            Some("https://id.gs1.org/01/10614141073464/21/A%2FB")
        );
        assert_eq!(
            n("urn:epc:id:sscc:0614141.1234567890").as_deref(),
            Some("https://id.gs1.org/00/106141412345678908")
        );
        assert_eq!(
            n("urn:epc:id:sgln:0614141.00777.0").as_deref(),
            Some("https://id.gs1.org/414/0614141007776")
        );
        assert_eq!(
            n("urn:epc:class:lgtin:0614141.107346.LOT123").as_deref(),
            Some("https://id.gs1.org/01/10614141073464/10/LOT123")
        );
        assert_eq!(
            n("https://id.gs1.de/01/04012345999990/21/XYZ-1234").as_deref(),
            Some("https://id.gs1.org/01/04012345999990/21/XYZ-1234")
        );
        assert_eq!(n("urn:epcglobal:cbv:bt:0614141000005:PO-42"), None);
        assert_eq!(n("geo:47.506694,11.104301"), None);
        assert_eq!(n("http://transaction.acme.com/po/12345678"), None);
    }
}
