//! Property tests: round trips between the carrier forms, and "never
//! panics" on arbitrary input.

use pedigree_gs1::check_digit::with_check_digit;
use pedigree_gs1::element::{self, AiElement, Options};
use pedigree_gs1::{ReferenceYear, dl, epc, parse_any, scan};
use proptest::prelude::*;

const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn cset82(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(CSET82.as_bytes().to_vec()),
        1..=max,
    )
    .prop_map(|v| String::from_utf8(v).unwrap_or_default())
}

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, n)
        .prop_map(|v| v.iter().map(|d| char::from(b'0' + d)).collect())
}

fn gtin() -> impl Strategy<Value = String> {
    digits(13).prop_map(|b| with_check_digit(&b).unwrap_or_default())
}

fn date(zero_day: bool) -> impl Strategy<Value = String> {
    let max_day = if zero_day { 0 } else { 1 };
    (0u32..100, 1u32..13, max_day..29u32).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"))
}

/// A pharma pack: GTIN, optional lot, serial, expiry, production date,
/// variable count and internal data, in shuffled order.
fn pack() -> impl Strategy<Value = Vec<AiElement>> {
    (
        gtin(),
        proptest::option::of(cset82(20)),
        proptest::option::of(cset82(20)),
        proptest::option::of(date(true)),
        proptest::option::of(date(false)),
        proptest::option::of(cset82(90)),
    )
        .prop_map(|(g, lot, ser, exp, prod, internal)| {
            let mut v = vec![AiElement::new("01", g)];
            if let Some(x) = lot {
                v.push(AiElement::new("10", x));
            }
            if let Some(x) = exp {
                v.push(AiElement::new("17", x));
            }
            if let Some(x) = ser {
                v.push(AiElement::new("21", x));
            }
            if let Some(x) = prod {
                v.push(AiElement::new("11", x));
            }
            if let Some(x) = internal {
                v.push(AiElement::new("91", x));
            }
            v
        })
        .prop_shuffle()
}

fn sorted(mut v: Vec<AiElement>) -> Vec<AiElement> {
    v.sort();
    v
}

proptest! {
    #[test]
    fn bracketed_round_trip(list in pack()) {
        let o = Options::default();
        let s = element::to_bracketed(&list);
        let back = element::parse_bracketed(&s, &o).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(&back, &list);
        prop_assert_eq!(element::to_bracketed(&back), s);
    }

    #[test]
    fn unbracketed_round_trip(list in pack()) {
        let o = Options::default();
        let s = element::to_unbracketed(&list);
        let back = element::parse_unbracketed(&s, &o).map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        prop_assert_eq!(&back, &element::barcode_order(&list));
        let scan = scan::generate(&format!("^{}", s.replace('\u{1d}', "^")), scan::Symbology::DataMatrix);
        // '^' is not in CSET 82, so the replacement above is lossless.
        let scan = scan.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let parsed = scan::parse(&scan, &o).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.elements(&o).ok(), Some(element::barcode_order(&list)));
    }

    #[test]
    fn digital_link_round_trip(list in pack(), stem in "https://[a-z]{1,8}\\.example(/[a-z]{1,5}){0,2}") {
        let o = Options::default();
        let uri = dl::generate(&list, Some(&stem), &o).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = dl::parse(&uri, &o).map_err(|e| TestCaseError::fail(format!("{uri}: {e}")))?;
        prop_assert_eq!(&back.stem, &stem);
        prop_assert_eq!(sorted(back.elements.clone()), sorted(list.clone()));
        // Canonical form is stable.
        let c = dl::canonical(&back.elements).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again = dl::parse(&c, &o).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(dl::canonical(&again.elements).ok(), Some(c));
    }

    #[test]
    fn epc_round_trip(g in gtin(), serial in cset82(20), gcp_len in 6usize..=12) {
        let list = vec![AiElement::new("01", g), AiElement::new("21", serial)];
        let urn = epc::to_urn(&list, gcp_len).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = epc::parse_urn(&urn).map_err(|e| TestCaseError::fail(format!("{urn}: {e}")))?;
        prop_assert_eq!(&back, &list);
        // EPC URI -> DL -> EPC URI.
        let uri = dl::canonical(&back).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let parsed = dl::parse(&uri, &Options::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(epc::to_urn(&parsed.elements, gcp_len).ok(), Some(urn.clone()));
        prop_assert_eq!(dl::canonical_for_hash(&urn).ok(), dl::canonical_for_hash(&uri).ok());
    }

    #[test]
    fn never_panics(s in "\\PC{0,80}", gcp_len in 0usize..20) {
        let o = Options::default();
        let ctx = pedigree_gs1::ParseContext { gcp_len: Some(gcp_len), ..pedigree_gs1::ParseContext::new(ReferenceYear(2026)) };
        let _ = parse_any(&s, &ctx);
        let _ = element::parse_bracketed(&s, &o);
        let _ = element::parse_unbracketed(&s, &o);
        let _ = element::parse_caret(&s, &o);
        let _ = dl::parse(&s, &o);
        let _ = dl::canonical_for_hash(&s);
        let _ = epc::parse_urn(&s);
        let _ = scan::parse(&s, &o);
        let _ = scan::generate(&s, scan::Symbology::Qr);
        let _ = pedigree_gs1::Gtin::parse(&s);
        let _ = pedigree_gs1::date::parse_yymmdd(&s, ReferenceYear(2026), true);
        for ai in ["00", "01", "414", "417", "8003", "8004", "253", "255", "8006", "8010", "401", "402", "8017"] {
            let _ = epc::to_urn(&[AiElement::new(ai, s.clone())], gcp_len);
            let _ = epc::to_class_urn(&[AiElement::new(ai, s.clone())], gcp_len);
        }
    }

    #[test]
    fn never_panics_structured(
        prefix in proptest::sample::select(vec!["(", "^", "]d2", "]Q1https://a/", "https://a/01/", "urn:epc:id:sgtin:", "urn:epc:idpat:itip:", "urn:epc:id:sgln:", ""]),
        body in "[0-9().%*A-Za-z/?=&^\\x1d\\\\-]{0,60}",
    ) {
        let s = format!("{prefix}{body}");
        let ctx = pedigree_gs1::ParseContext { gcp_len: Some(7), ..pedigree_gs1::ParseContext::new(ReferenceYear(2026)) };
        let _ = parse_any(&s, &ctx);
        let _ = dl::canonical_for_hash(&s);
    }
}
