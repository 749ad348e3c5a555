//! GS1 Digital Link URIs: parsing on any domain and path prefix,
//! generation, percent-encoding, and the constrained canonical form used by
//! the CBV 2.0 event hash.

use serde::Serialize;

use crate::ai::{self, AiDef};
use crate::element::{AiElement, Options, validate_value};
use crate::epc;
use crate::error::Gs1Error;

/// The canonical Digital Link stem.
pub const CANONICAL_STEM: &str = "https://id.gs1.org";

/// Convenience alphas accepted in the path (deprecated by GS1 but still in
/// use, e.g. by DSCSA verification routers).
const PATH_ALPHAS: &[(&str, &str)] = &[
    ("cpid", "8010"),
    ("cpsn", "8011"),
    ("cpv", "22"),
    ("gcn", "255"),
    ("gdti", "253"),
    ("giai", "8004"),
    ("ginc", "401"),
    ("gln", "414"),
    ("glnx", "254"),
    ("gmn", "8013"),
    ("grai", "8003"),
    ("gsin", "402"),
    ("gsrn", "8018"),
    ("gsrnp", "8017"),
    ("gtin", "01"),
    ("itip", "8006"),
    ("lot", "10"),
    ("party", "417"),
    ("ser", "21"),
    ("srin", "8019"),
    ("sscc", "00"),
    ("tpx", "235"),
];

/// Convenience names accepted as query keys.
const QUERY_ALPHAS: &[(&str, &str)] = &[("exp", "17"), ("expdt", "7003")];

fn dl_err(reason: impl Into<String>) -> Gs1Error {
    Gs1Error::DigitalLink {
        reason: reason.into(),
    }
}

/// Is `b` an RFC 3986 unreserved character?
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_uri_char(b: u8) -> bool {
    is_unreserved(b) || b"%:/?#[]@!$&'()*+,;=".contains(&b)
}

/// Percent-encodes every byte except the RFC 3986 unreserved characters
/// (upper-case hex). In `query` mode a space becomes `+`.
pub fn percent_encode(data: &[u8], query: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(data.len());
    for &b in data {
        if is_unreserved(b) {
            s.push(char::from(b));
        } else if query && b == b' ' {
            s.push('+');
        } else {
            s.push('%');
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    s
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes (either hex case). A `%` not followed by two hex
/// digits is kept literally. In `query` mode `+` decodes to a space.
pub fn percent_decode(s: &[u8], query: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%'
            && let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(if query && b == b'+' { b' ' } else { b });
        i += 1;
    }
    out
}

/// A parsed Digital Link URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigitalLink {
    /// Scheme, host and any path prefix before the primary key.
    pub stem: String,
    /// The primary key, its qualifiers, then the query attributes.
    pub elements: Vec<AiElement>,
    /// How many of `elements` came from the path.
    pub path_count: usize,
    /// Non-AI query parameters (e.g. `linkType`), in order.
    pub other_params: Vec<(String, String)>,
}

fn resolve_path_ai(seg: &str, opts: &Options) -> Option<&'static AiDef> {
    if seg.bytes().all(|b| b.is_ascii_digit()) {
        return ai::lookup(seg);
    }
    if opts.permit_convenience_alphas {
        let code = PATH_ALPHAS.iter().find(|(a, _)| *a == seg)?.1;
        return ai::lookup(code);
    }
    None
}

/// Does `quals` follow one of the key's qualifier sequences in order?
/// Returns the index of the first matching sequence.
fn qualifier_alternative(pk: &AiDef, quals: &[&str]) -> Option<usize> {
    let seqs = pk.qualifier_sequences();
    if quals.is_empty() {
        return Some(0);
    }
    seqs.iter().position(|seq| {
        let mut idx = 0usize;
        quals
            .iter()
            .all(|q| match seq[idx..].iter().position(|s| s == q) {
                Some(p) => {
                    idx += p + 1;
                    true
                }
                None => false,
            })
    })
}

/// AIs that may not appear in the query because they are path qualifiers
/// of the chosen key (every sequence compatible with the path qualifiers).
fn reserved_qualifiers(pk: &AiDef, quals: &[&str]) -> Vec<&'static str> {
    pk.qualifier_sequences()
        .into_iter()
        .filter(|seq| quals.iter().all(|q| seq.contains(q)))
        .flatten()
        .collect()
}

fn pad_gtin(ai: &str, v: Vec<u8>, opts: &Options) -> Vec<u8> {
    if ai == "01"
        && opts.permit_zero_suppressed_gtin
        && matches!(v.len(), 8 | 12 | 13)
        && v.iter().all(u8::is_ascii_digit)
    {
        let mut p = vec![b'0'; 14 - v.len()];
        p.extend(v);
        p
    } else {
        v
    }
}

/// Parses a Digital Link URI on any domain, with any path prefix before
/// the primary key.
pub fn parse(uri: &str, opts: &Options) -> Result<DigitalLink, Gs1Error> {
    let b = uri.as_bytes();
    if let Some(i) = b.iter().position(|&c| !is_uri_char(c)) {
        return Err(dl_err(format!(
            "character {:?} at position {i} is not allowed in a URI",
            uri[i..].chars().next().unwrap_or('?')
        )));
    }
    let after_scheme = ["http://", "https://", "HTTP://", "HTTPS://"]
        .iter()
        .find_map(|p| uri.strip_prefix(p).map(|r| uri.len() - r.len()))
        .ok_or_else(|| dl_err("scheme must be http:// or https://"))?;
    let rest = &uri[after_scheme..];
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_len];
    if host.is_empty() {
        return Err(dl_err("missing domain"));
    }
    if let Some(i) = host
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b':')))
    {
        return Err(dl_err(format!(
            "invalid character in domain at position {}",
            after_scheme + i
        )));
    }
    let path_start = after_scheme + host_len;
    let no_frag = uri[path_start..].split('#').next().unwrap_or("");
    let (path, query) = match no_frag.split_once('?') {
        Some((p, q)) => (p, q),
        None => (no_frag, ""),
    };
    let path = path.strip_suffix('/').unwrap_or(path);
    let Some(path) = path.strip_prefix('/') else {
        return Err(dl_err("no path information"));
    };
    let segs: Vec<&str> = path.split('/').collect();
    // Offsets of each segment, for error positions.
    let mut seg_pos = Vec::with_capacity(segs.len());
    let mut p = path_start + 1;
    for s in &segs {
        seg_pos.push(p);
        p += s.len() + 1;
    }

    // Find the rightmost primary key, walking (AI, value) pairs from the end.
    let mut pk_index = None;
    let mut i = segs.len();
    while i >= 2 {
        i -= 2;
        match resolve_path_ai(segs[i], opts) {
            Some(def) if def.dlpkey.is_some() => {
                pk_index = Some(i);
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    let pk_index = pk_index.ok_or_else(|| dl_err("no GS1 primary key found in the path"))?;
    let mut path_ais: Vec<(&'static AiDef, Vec<u8>, usize)> = Vec::new();
    let mut j = pk_index;
    while j + 1 < segs.len() {
        let def = resolve_path_ai(segs[j], opts)
            .ok_or_else(|| dl_err(format!("unknown path AI '{}'", segs[j])))?;
        let v = percent_decode(segs[j + 1].as_bytes(), false);
        path_ais.push((def, pad_gtin(def.ai, v, opts), seg_pos[j + 1]));
        j += 2;
    }
    let pk = path_ais[0].0;
    let mut quals: Vec<&str> = path_ais[1..].iter().map(|(d, _, _)| d.ai).collect();
    if opts_sort(opts) {
        let seqs = pk.qualifier_sequences();
        if let Some(seq) = seqs.iter().find(|s| quals.iter().all(|q| s.contains(q))) {
            let rank = |q: &&str| seq.iter().position(|s| s == q).unwrap_or(usize::MAX);
            let mut sorted = path_ais.split_off(1);
            sorted.sort_by_key(|(d, _, _)| rank(&d.ai));
            path_ais.extend(sorted);
            quals = path_ais[1..].iter().map(|(d, _, _)| d.ai).collect();
        }
    }
    if qualifier_alternative(pk, &quals).is_none() {
        return Err(dl_err(format!(
            "key qualifiers {} are not valid for ({}) in this order",
            quals.iter().map(|q| format!("({q})")).collect::<String>(),
            pk.ai
        )));
    }
    let reserved = reserved_qualifiers(pk, &quals);
    let mut elements = Vec::new();
    for (def, v, pos) in &path_ais {
        validate_value(def.ai, v, *pos, *pos, opts)?;
        elements.push(AiElement::new(def.ai, String::from_utf8_lossy(v)));
    }
    let path_count = elements.len();

    let mut other_params = Vec::new();
    let query_pos = path_start + no_frag.len() - query.len();
    let mut qp = query_pos;
    for param in query.split('&') {
        let here = qp;
        qp += param.len() + 1;
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        let code = if !k.is_empty() && k.bytes().all(|c| c.is_ascii_digit()) {
            k
        } else if let Some((_, c)) = QUERY_ALPHAS
            .iter()
            .find(|(a, _)| opts.permit_convenience_alphas && *a == k)
        {
            c
        } else {
            let kd = String::from_utf8_lossy(&percent_decode(k.as_bytes(), true)).into_owned();
            let vd = String::from_utf8_lossy(&percent_decode(v.as_bytes(), true)).into_owned();
            other_params.push((kd, vd));
            continue;
        };
        let def = ai::lookup(code);
        if def.is_none() && (!opts.permit_unknown_ais || opts.unknown_ai_not_dl_attr) {
            return Err(Gs1Error::UnknownAi {
                ai: code.to_string(),
                pos: here,
            });
        }
        if let Some(d) = def
            && (!d.dl_attr || reserved.contains(&d.ai))
        {
            return Err(dl_err(format!(
                "AI ({}) is not allowed as a query attribute here",
                d.ai
            )));
        }
        let value = pad_gtin(code, percent_decode(v.as_bytes(), true), opts);
        if elements.iter().any(|e: &AiElement| e.ai == code) {
            return Err(dl_err(format!("AI ({code}) appears more than once")));
        }
        let vpos = here + k.len() + 1;
        validate_value(code, &value, here, vpos, opts)?;
        elements.push(AiElement::new(code, String::from_utf8_lossy(&value)));
    }
    if opts.validate_pairings {
        let pairs: Vec<(String, String)> = elements
            .iter()
            .map(|e| (e.ai.clone(), e.value.clone()))
            .collect();
        ai::validate_pairings(&pairs)?;
    }
    let stem_end = if pk_index == 0 {
        path_start
    } else {
        seg_pos[pk_index] - 1
    };
    Ok(DigitalLink {
        stem: uri[..stem_end].to_string(),
        elements,
        path_count,
        other_params,
    })
}

fn opts_sort(opts: &Options) -> bool {
    opts.sort_key_qualifiers
}

/// Builds a Digital Link URI from AIs. The primary key is the first AI in
/// `list` that is a Digital Link key; its qualifiers go in the path in
/// dictionary order, every other AI becomes a query attribute
/// (predefined-length AIs first). `stem` defaults to `https://id.gs1.org`.
pub fn generate(
    list: &[AiElement],
    stem: Option<&str>,
    opts: &Options,
) -> Result<String, Gs1Error> {
    // Drop exact repeats; conflicting repeats are an error.
    let mut uniq: Vec<&AiElement> = Vec::new();
    for e in list {
        match uniq.iter().find(|u| u.ai == e.ai) {
            Some(u) if u.value == e.value => {}
            Some(_) => {
                return Err(Gs1Error::Pairing {
                    ai: e.ai.clone(),
                    rule: "repeated with different values".into(),
                });
            }
            None => uniq.push(e),
        }
    }
    let (pk_pos, pk) = uniq
        .iter()
        .enumerate()
        .find_map(|(i, e)| e.def().filter(|d| d.dlpkey.is_some()).map(|d| (i, d)))
        .ok_or_else(|| dl_err("no AI that can be a Digital Link primary key"))?;
    let seqs = pk.qualifier_sequences();
    let mut best: Option<&Vec<&str>> = None;
    let mut best_n = 0usize;
    for seq in &seqs {
        let n = seq
            .iter()
            .filter(|q| uniq.iter().any(|e| e.ai == **q))
            .count();
        if n > best_n {
            best = Some(seq);
            best_n = n;
        }
    }
    let stem = stem.unwrap_or(CANONICAL_STEM);
    let mut s = stem.trim_end_matches('/').to_string();
    let push_seg = |s: &mut String, ai: &str, v: &str| {
        s.push('/');
        s.push_str(ai);
        s.push('/');
        s.push_str(&percent_encode(v.as_bytes(), false));
    };
    push_seg(&mut s, pk.ai, &uniq[pk_pos].value);
    let mut used = vec![pk_pos];
    if let Some(seq) = best {
        for q in seq {
            if let Some(i) = uniq.iter().position(|e| e.ai == *q) {
                push_seg(&mut s, q, &uniq[i].value);
                used.push(i);
            }
        }
    }
    let rest: Vec<&AiElement> = uniq
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, e)| *e)
        .collect();
    let mut ordered: Vec<&AiElement> = rest.iter().copied().filter(|e| e.is_predefined()).collect();
    ordered.extend(rest.iter().copied().filter(|e| !e.is_predefined()));
    let mut sep = '?';
    for e in ordered {
        match e.def() {
            Some(d) if !d.dl_attr => {
                return Err(dl_err(format!(
                    "AI ({}) is not allowed as a Digital Link data attribute",
                    d.ai
                )));
            }
            None if opts.unknown_ai_not_dl_attr => {
                return Err(dl_err(format!(
                    "unknown AI ({}) is not allowed as a data attribute",
                    e.ai
                )));
            }
            _ => {}
        }
        s.push(sep);
        sep = '&';
        s.push_str(&e.ai);
        s.push('=');
        s.push_str(&percent_encode(e.value.as_bytes(), true));
    }
    Ok(s)
}

/// The GTIN and serial of `https://id.gs1.org/01/{14 digits}/21/{1 to 20 ASCII letters or
/// digits}`, found by shape alone: the form of nearly every unit's EPC on a ledger (the
/// capture path, the SDK and the plant adapter write canonical links). Such a link needs no
/// percent-decoding, has no query and no other AI, so callers that would parse it only to get
/// these two strings back can skip [`parse`]. It checks no check digit: callers validate the
/// GTIN as they would a parsed one.
pub fn canonical_serial_parts(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("https://id.gs1.org/01/")?;
    let bytes = rest.as_bytes();
    let shaped = bytes.len() > 18
        && bytes.len() <= 18 + 20
        && bytes[..14].iter().all(u8::is_ascii_digit)
        && &bytes[14..18] == b"/21/"
        && bytes[18..].iter().all(u8::is_ascii_alphanumeric);
    shaped.then(|| (&rest[..14], &rest[18..]))
}

/// The canonical Digital Link: `https://id.gs1.org`, numeric AIs, GTIN-14.
pub fn canonical(list: &[AiElement]) -> Result<String, Gs1Error> {
    generate(list, None, &Options::default())
}

/// The finest key qualifier kept by the event-hash normalisation, per
/// primary key (CBV 2.0 / EPCIS 2.0 hash rule: keep `01/21`, `01/10`,
/// `01/235`, `8006/21`, `8006/10`, `414/254`, `8010/8011`).
const HASH_QUALIFIERS: &[(&str, &[&str])] = &[
    ("01", &["21", "10", "235"]),
    ("8006", &["21", "10"]),
    ("414", &["254"]),
    ("8010", &["8011"]),
];

/// Constrained canonical Digital Link used by the EPCIS 2.0 event hash:
/// accepts an EPC URI or any Digital Link, strips the query, drops CPV (22)
/// and every qualifier except the finest one, and writes
/// `https://id.gs1.org/...` with every non-unreserved character
/// percent-encoded.
pub fn canonical_for_hash(input: &str) -> Result<String, Gs1Error> {
    let (elements, path_count) = if input.starts_with("urn:epc:") {
        let e = epc::parse_urn(input)?;
        let n = e.len();
        (e, n)
    } else {
        // The hash normaliser rewrites identifiers; it does not judge
        // check digits or AI associations (upstream behaviour).
        let opts = Options {
            validate_pairings: false,
            validate_check_digits: false,
            ..Options::default()
        };
        let dl = parse(input, &opts)?;
        (dl.elements, dl.path_count)
    };
    let path = elements
        .get(..path_count)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| dl_err("no primary key"))?;
    let pk = &path[0];
    let mut s = format!(
        "{CANONICAL_STEM}/{}/{}",
        pk.ai,
        percent_encode(pk.value.as_bytes(), false)
    );
    if let Some((_, quals)) = HASH_QUALIFIERS.iter().find(|(k, _)| *k == pk.ai)
        && let Some(q) = quals
            .iter()
            .find_map(|q| path[1..].iter().find(|e| e.ai == *q))
    {
        s.push('/');
        s.push_str(&q.ai);
        s.push('/');
        s.push_str(&percent_encode(q.value.as_bytes(), false));
    }
    Ok(s)
}

/// True if `param` (`key=value`) is a non-GS1 extension parameter: the key
/// is present and not all digits (all-digit keys are reserved for AIs).
pub fn is_extension_parameter(param: &str) -> bool {
    match param.split_once('=') {
        Some((k, _)) => !k.is_empty() && !k.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_with_prefix_and_alphas() {
        let o = Options::default();
        let dl = parse(
            "https://example.com/a/b/gtin/9780345418913/lot/L1/ser/S%2F1?exp=261200&linkType=x",
            &o,
        )
        .unwrap();
        assert_eq!(dl.stem, "https://example.com/a/b");
        assert_eq!(dl.elements[0], AiElement::new("01", "09780345418913"));
        assert_eq!(dl.elements[2], AiElement::new("21", "S/1"));
        assert_eq!(dl.elements[3], AiElement::new("17", "261200"));
        assert_eq!(
            canonical(&dl.elements).unwrap(),
            "https://id.gs1.org/01/09780345418913/10/L1/21/S%2F1?17=261200"
        );
    }

    #[test]
    fn hash_form() {
        assert_eq!(
            canonical_for_hash("https://id.gs1.org/gtin/9780345418913/cpv/344/lot/1223/ser/765tz")
                .unwrap(),
            "https://id.gs1.org/01/09780345418913/21/765tz"
        );
    }
}
