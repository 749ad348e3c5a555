//! Arbitrary bytes (lossy UTF-8) through the JSON-LD reader. On success:
//! hash every event, write the document, read it back: the model must be
//! equal, the hashes the same, and writing again must give the same text.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use pedigree_epcis::{hash, json};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(doc) = json::parse_document(&text) else {
        return;
    };
    let hashes = hash::document_hash_ids(&doc);
    assert_eq!(hashes.len(), doc.events.len());
    for h in &hashes {
        assert!(h.starts_with("ni:///sha-256;"), "bad hash id {h:?}");
    }
    let written = json::write_document(&doc);
    let again = json::parse_document(&written).unwrap_or_else(|e| {
        panic!("written JSON does not re-parse: {e}\n--- written\n{written}")
    });
    assert!(
        again == doc,
        "JSON round trip changes the model: {}\n--- written\n{written}",
        common::first_difference(&doc, &again)
    );
    assert_eq!(hash::document_hash_ids(&again), hashes);
    assert_eq!(json::write_document(&again), written, "JSON writer is not stable");
});
