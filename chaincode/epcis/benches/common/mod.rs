//! Shared by the `pipeline` benchmarks: the generated document and the
//! pipeline itself.

use pedigree_epcis::{EpcisDocument, hash};
use std::hint::black_box;

/// A JSON-LD EPCISDocument with `n` commissioning ObjectEvents (10 SGTINs each,
/// readPoint, bizLocation, ILMD lot and expiry).
fn document(n: usize) -> String {
    let mut s = String::with_capacity(n * 1200 + 512);
    s.push_str(
        r#"{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{"cbvmda":"urn:epcglobal:cbv:mda:"}],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2024-03-01T10:00:00Z","epcisBody":{"eventList":["#,
    );
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let secs = i % 60;
        let millis = i % 1000;
        s.push_str(&format!(
            r#"{{"type":"ObjectEvent","eventTime":"2024-03-01T09:30:{secs:02}.{millis:03}+01:00","eventTimeZoneOffset":"+01:00","epcList":["#
        ));
        for k in 0..10 {
            if k > 0 {
                s.push(',');
            }
            s.push_str(&format!(
                r#""urn:epc:id:sgtin:0614141.107346.SN{:07}""#,
                i * 10 + k
            ));
        }
        s.push_str(
            r#"],"action":"ADD","bizStep":"commissioning","disposition":"active","readPoint":{"id":"urn:epc:id:sgln:0614141.00777.0"},"bizLocation":{"id":"urn:epc:id:sgln:0614141.00888.0"},"ilmd":{"cbvmda:lotNumber":"LOT123","cbvmda:itemExpirationDate":"2026-12-31"}}"#,
        );
    }
    s.push_str("]}}");
    s
}

/// Which binding a document is in.
#[derive(Clone, Copy)]
pub(crate) enum Binding {
    Json,
    Xml,
}

impl Binding {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Binding::Json => "json",
            Binding::Xml => "xml",
        }
    }

    /// The benchmark document of `n` events in this binding (the XML one is
    /// the JSON-LD one written as XML).
    pub(crate) fn document(self, n: usize) -> String {
        let json = document(n);
        match self {
            Binding::Json => json,
            Binding::Xml => pedigree_epcis::xml::write_document(
                &pedigree_epcis::json::parse_document(&json).expect("valid document"),
            ),
        }
    }

    pub(crate) fn parse(self, text: &str) -> Result<EpcisDocument, pedigree_epcis::ParseError> {
        match self {
            Binding::Json => pedigree_epcis::json::parse_document(text),
            Binding::Xml => pedigree_epcis::xml::parse_document(text),
        }
    }
}

/// Parse, validate and hash every event; returns the number of events.
pub(crate) fn pipeline(binding: Binding, text: &str) -> usize {
    let doc = binding.parse(text).expect("valid document");
    let problems = pedigree_epcis::validate::validate(&doc);
    assert!(problems.is_empty(), "{problems:?}");
    let ids = hash::document_hash_ids(&doc);
    black_box(&ids);
    ids.len()
}
