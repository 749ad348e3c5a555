//! Arbitrary strings through `dl::parse` (strict and lenient),
//! `dl::canonical_for_hash` and `epc::parse_urn`. Properties:
//! - a parsed DL's canonical form re-parses to the same AIs and is a fixed
//!   point of `dl::canonical`;
//! - `canonical_for_hash` is idempotent;
//! - an EPC URI that parses is regenerated (`to_urn` / `to_class_urn` with
//!   the company prefix length it was written with) and re-parses to the
//!   same AIs.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use pedigree_gs1::{AiElement, Options, dl, epc};

fn as_set(list: &[AiElement]) -> Vec<AiElement> {
    let mut v = list.to_vec();
    v.sort();
    v.dedup();
    v
}

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let s: &str = &input;
    let what = || format!("input {:?} (hex {})", s, common::hex(data));

    for (mode, options) in [("strict", Options::strict()), ("lenient", Options::default())] {
        let Ok(link) = dl::parse(s, &options) else {
            continue;
        };
        assert!(link.path_count >= 1 && link.path_count <= link.elements.len());
        if let Ok(canon) = dl::canonical(&link.elements) {
            let again = dl::parse(&canon, &options).unwrap_or_else(|e| {
                panic!("{mode}: canonical DL {canon:?} does not re-parse: {e}\n{}", what())
            });
            assert_eq!(
                as_set(&again.elements),
                as_set(&link.elements),
                "{mode}: canonical DL {canon:?}\n{}",
                what()
            );
            assert_eq!(
                dl::canonical(&again.elements).ok().as_deref(),
                Some(canon.as_str()),
                "{mode}: canonical DL is not a fixed point: {canon:?}\n{}",
                what()
            );
        }
    }

    if let Ok(h) = dl::canonical_for_hash(s) {
        assert!(h.starts_with("https://id.gs1.org/"), "{h:?}\n{}", what());
        let again = dl::canonical_for_hash(&h)
            .unwrap_or_else(|e| panic!("hash form {h:?} does not re-parse: {e}\n{}", what()));
        assert_eq!(again, h, "canonical_for_hash is not idempotent\n{}", what());
    }

    if let Ok(els) = epc::parse_urn(s) {
        // urn:epc:<kind>:<scheme>:<gcp>.<...>
        let mut it = s.splitn(5, ':');
        let kind = it.nth(2).unwrap_or("");
        let body = it.nth(1).unwrap_or("");
        let gcp_len = body.split('.').next().unwrap_or("").len();
        let regenerated = if kind == "id" {
            epc::to_urn(&els, gcp_len)
        } else {
            epc::to_class_urn(&els, gcp_len)
        };
        if let Ok(urn) = regenerated {
            let back = epc::parse_urn(&urn).unwrap_or_else(|e| {
                panic!("regenerated EPC URI {urn:?} does not re-parse: {e}\n{}", what())
            });
            assert_eq!(back, els, "regenerated EPC URI {urn:?}\n{}", what());
        }
    }
});
