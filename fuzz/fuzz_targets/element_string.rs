//! Arbitrary bytes (lossy UTF-8) through `parse_any` with strict and lenient
//! options. Whenever the input parses, the AIs are written back in every
//! form (bracketed, unbracketed with GS, caret, canonical Digital Link) and
//! re-parsed: the result must be the same AIs. Nothing may panic.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use pedigree_gs1::{AiElement, Gs1Data, Options, ParseContext, ReferenceYear, dl, element, parse_any};

fn as_set(list: &[AiElement]) -> Vec<AiElement> {
    let mut v = list.to_vec();
    v.sort();
    v.dedup();
    v
}

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    // Vary the company prefix length with the input so EPC generation runs
    // over all of 6..=12.
    let gcp_len = 6 + data.len() % 7;
    for (mode, options) in [("strict", Options::strict()), ("lenient", Options::default())] {
        let ctx = ParseContext {
            reference_year: ReferenceYear(2026),
            gcp_len: Some(gcp_len),
            options,
        };
        let Ok(parsed) = parse_any(&input, &ctx) else {
            continue;
        };
        let els = &parsed.elements;
        let what = || format!("{mode} input {:?} (hex {})", input, common::hex(data));

        // Bracketed: same AIs in the same order, and the same derived fields.
        let bracketed = element::to_bracketed(els);
        let again = parse_any(&bracketed, &ctx).unwrap_or_else(|e| {
            panic!("bracketed {bracketed:?} does not re-parse: {e}\n{}", what())
        });
        let expected = Gs1Data {
            form: again.form,
            symbology: again.symbology.clone(),
            ..parsed.clone()
        };
        assert!(
            again == expected,
            "bracketed {bracketed:?} re-parses differently: {}\n{}",
            common::first_difference(&expected, &again),
            what()
        );

        // Unbracketed (GS separators, predefined-length AIs first).
        let unbracketed = element::to_unbracketed(els);
        let back = element::parse_unbracketed(&unbracketed, &options).unwrap_or_else(|e| {
            panic!("unbracketed {unbracketed:?} does not re-parse: {e}\n{}", what())
        });
        assert_eq!(
            back,
            element::barcode_order(els),
            "unbracketed {unbracketed:?}\n{}",
            what()
        );

        // Caret notation, input order.
        let caret = element::to_caret(els);
        let back = element::parse_caret(&caret, &options)
            .unwrap_or_else(|e| panic!("caret {caret:?} does not re-parse: {e}\n{}", what()));
        assert_eq!(&back, els, "caret {caret:?}\n{}", what());

        // Canonical Digital Link (when the AIs have a key that allows one).
        if let Some(canon) = &parsed.canonical_dl {
            let link = dl::parse(canon, &options).unwrap_or_else(|e| {
                panic!("canonical DL {canon:?} does not re-parse: {e}\n{}", what())
            });
            assert_eq!(
                as_set(&link.elements),
                as_set(els),
                "canonical DL {canon:?}\n{}",
                what()
            );
            assert_eq!(
                dl::canonical(&link.elements).ok().as_deref(),
                Some(canon.as_str()),
                "canonical DL is not a fixed point: {canon:?}\n{}",
                what()
            );
        }
    }
});
