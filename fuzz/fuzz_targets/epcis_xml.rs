//! Arbitrary bytes (lossy UTF-8) through the XML reader (1.x and 2.0). On
//! success: hash every event, write the document (always EPCIS 2.0), read it
//! back: the model must be equal (1.x namespace URIs compared as their 2.0
//! counterparts, as the writer upgrades them), the hashes the same, and
//! writing again must give the same text.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use pedigree_epcis::{EpcisDocument, hash, xml};

fn upgrade_namespaces(doc: &mut EpcisDocument) {
    for b in doc.xml_namespaces.iter_mut() {
        if b.namespace == xml::EPCIS_NS_1 {
            b.namespace = xml::EPCIS_NS_2.to_string();
        } else if b.namespace == xml::EPCIS_QUERY_NS_1 {
            b.namespace = xml::EPCIS_QUERY_NS_2.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(mut doc) = xml::parse_document(&text) else {
        return;
    };
    let hashes = hash::document_hash_ids(&doc);
    assert_eq!(hashes.len(), doc.events.len());
    for h in &hashes {
        assert!(h.starts_with("ni:///sha-256;"), "bad hash id {h:?}");
    }
    let written = xml::write_document(&doc);
    let mut again = xml::parse_document(&written).unwrap_or_else(|e| {
        panic!("written XML does not re-parse: {e}\n--- written\n{written}")
    });
    assert_eq!(hash::document_hash_ids(&again), hashes, "hashes change after XML round trip");
    upgrade_namespaces(&mut doc);
    upgrade_namespaces(&mut again);
    assert!(
        again == doc,
        "XML round trip changes the model: {}\n--- written\n{written}",
        common::first_difference(&doc, &again)
    );
    assert_eq!(xml::write_document(&again), written, "XML writer is not stable");
});
