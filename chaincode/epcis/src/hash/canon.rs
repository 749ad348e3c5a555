//! Value canonicalisation shared by every pre-hash leaf (except timestamps).

use super::dl::{canonical_digital_link, push_epc_uri};
use super::number::normalize_number;
use super::vocab::{expand_predefined_curie, replace_cbv_urns};

/// Canonical form of one (non-time) value for the pre-hash string.
///
/// In order: trim; expand the predefined `gs1:`/`cbv:` prefixes; replace CBV
/// URNs by Web URIs; normalise numbers (Python-`float` semantics, see
/// [`normalize_number`]); convert EPC URIs and Digital Link URIs to the
/// constrained canonical Digital Link ([`canonical_digital_link`]). Values that
/// match none of these are returned trimmed, as written.
pub fn canonical_value(text: &str) -> String {
    let mut s = String::new();
    push_canonical_value(&mut s, text);
    s
}

/// Appends [`canonical_value`]`(text)` to `out`.
pub(crate) fn push_canonical_value(out: &mut String, text: &str) {
    let t = trim(text);
    if t.is_empty() {
        return;
    }
    // Fast path: EPC URIs (the bulk of pharma events).
    if let Some(rest) = t.strip_prefix("urn:epc:")
        && !t.contains("urn:epcglobal:cbv:")
        && push_epc_uri(out, rest)
    {
        return;
    }
    let t = expand_predefined_curie(t);
    let t = replace_cbv_urns(&t);
    if let Some(n) = normalize_number(&t) {
        push_dl_or(out, &n);
    } else {
        push_dl_or(out, &t);
    }
}

/// `str::trim` with a fast path for values without surrounding whitespace.
pub(crate) fn trim(text: &str) -> &str {
    let b = text.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

fn push_dl_or(out: &mut String, t: &str) {
    match canonical_digital_link(t) {
        Some(dl) => out.push_str(&dl),
        None => out.push_str(t),
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_value as c;

    #[test]
    fn values() {
        assert_eq!(c(" 10.0 "), "10");
        assert_eq!(
            c("urn:epcglobal:cbv:disp:in_transit"),
            "https://ref.gs1.org/cbv/Disp-in_transit"
        );
        assert_eq!(
            c("urn:epc:id:sgtin:0614141.107346.2017"),
            "https://id.gs1.org/01/10614141073464/21/2017"
        );
        assert_eq!(c("+01:00"), "+01:00");
        assert_eq!(c("gs1:Temperature"), "https://gs1.org/voc/Temperature");
        assert_eq!(c("LOT123"), "LOT123");
        assert_eq!(c(""), "");
    }
}
