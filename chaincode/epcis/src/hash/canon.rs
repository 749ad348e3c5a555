//! Value canonicalisation shared by every pre-hash leaf (except timestamps).

use super::dl::canonical_digital_link;
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
    let t = text.trim();
    if t.is_empty() {
        return String::new();
    }
    let t = expand_predefined_curie(t);
    let t = replace_cbv_urns(&t).into_owned();
    let t = normalize_number(&t).unwrap_or(t);
    canonical_digital_link(&t).unwrap_or(t)
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
