//! EPCIS events (JSON-LD, parsed by `pedigree-epcis`) through the rule book:
//! commissioning with ILMD, shipping to a PGLN, receiving, errorDeclaration by event
//! hash, and unmapped events.

mod common;

use common::*;
use pedigree_chaincode::ops::{BizTransaction, LinkAction};
use pedigree_chaincode::query::{self, QueryStatus};
use pedigree_chaincode::records::HistoryAction;
use pedigree_chaincode::*;
use pedigree_epcis::model::EpcisEvent;

fn events(json_events: &str) -> Vec<EpcisEvent> {
    let document = format!(
        r#"{{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {{"cbvmda": "urn:epcglobal:cbv:mda:"}}],
            "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
            "epcisBody": {{"eventList": [{json_events}]}}}}"#
    );
    pedigree_epcis::json::parse_document(&document)
        .unwrap()
        .events
}

fn submit(net: &mut Net, org: &str, event: &EpcisEvent) -> Receipt {
    net.submit(org, TxBody::Epcis(Box::new(event.clone())))
}

const COMMISSION: &str = r#"{"type": "ObjectEvent", "eventTime": "2026-01-02T09:30:00.000+01:00", "eventTimeZoneOffset": "+01:00",
  "epcList": ["urn:epc:id:sgtin:0614141.007346.S1", "https://id.gs1.org/01/00614141073467/21/S2"],
  "action": "ADD", "bizStep": "commissioning", "disposition": "active",
  "readPoint": {"id": "urn:epc:id:sgln:0614141.00000.0"},
  "ilmd": {"cbvmda:lotNumber": "LOT9", "cbvmda:itemExpirationDate": "2027-06-30"}}"#;

#[test]
fn commissioning_shipping_and_receiving_from_json() {
    let mut net = Net::new();
    let dist_gln = gln("0888881");
    let ship = format!(
        r#"{{"type": "ObjectEvent", "eventTime": "2026-01-03T09:30:00Z", "eventTimeZoneOffset": "+00:00",
          "epcList": ["urn:epc:id:sgtin:0614141.007346.S1", "urn:epc:id:sgtin:0614141.007346.S2"],
          "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
          "destinationList": [{{"type": "owning_party", "destination": "https://id.gs1.org/417/{dist_gln}"}}]}}"#
    );
    let receive = r#"{"type": "ObjectEvent", "eventTime": "2026-01-04T09:30:00Z", "eventTimeZoneOffset": "+00:00",
          "epcList": ["urn:epc:id:sgtin:0614141.007346.S1", "urn:epc:id:sgtin:0614141.007346.S2"],
          "action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress"}"#;
    let list = events(&format!("{COMMISSION}, {ship}, {receive}"));
    check(&submit(&mut net, "mfg", &list[0]), "Applied");
    let verification = query::verify(
        &net.state,
        &unit_gtin(),
        "S2",
        Some("LOT9"),
        Some(20270630),
        20260105,
    );
    assert!(verification.verified, "{verification:?}");
    check(&submit(&mut net, "mfg", &list[1]), "Applied");
    check(&submit(&mut net, "dist", &list[2]), "Applied");
    let verification = query::verify(&net.state, &unit_gtin(), "S1", None, None, 20260105);
    assert_eq!(verification.custodian.as_deref(), Some("dist"));
    assert_eq!(verification.status, Some(QueryStatus::Active));
}

#[test]
fn error_declaration_names_the_event_by_hash() {
    let mut net = Net::new();
    let original = events(COMMISSION).remove(0);
    let first = submit(&mut net, "mfg", &original);
    check(&first, "Applied");
    let declaring = format!(
        r#"{}, "errorDeclaration": {{"declarationTime": "2026-01-02T10:00:00Z", "reason": "incorrect_data"}}}}"#,
        COMMISSION.trim_end().strip_suffix('}').unwrap()
    );
    let declaring = events(&declaring).remove(0);
    assert!(declaring.error_declaration.is_some());
    let receipt = submit(&mut net, "mfg", &declaring);
    check(&receipt, "Applied");
    assert_eq!(
        receipt.event_hash, first.event_hash,
        "errorDeclaration is excluded from the event hash"
    );
    assert!(!query::verify(&net.state, &unit_gtin(), "S1", None, None, 20260105).verified);
}

#[test]
fn unmapped_events_are_rejected_with_a_stable_code() {
    let mut net = Net::new();
    // Class-level transformations (quantity lists) are not tracked.
    let transformation = r#"{"type": "TransformationEvent", "eventTime": "2026-01-02T09:30:00Z", "eventTimeZoneOffset": "+00:00",
        "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.007346.L1", "quantity": 10, "uom": "EA"}],
        "outputEPCList": ["urn:epc:id:sgtin:0614141.007346.S9"]}"#;
    check(
        &submit(&mut net, "mfg", &events(transformation)[0]),
        "UnsupportedEvent",
    );
    // CBV has no `exported`; only Pedigree's own URI means EU FMD "Exported".
    let exported_elsewhere = r#"{"type": "ObjectEvent", "eventTime": "2026-01-02T09:30:00Z", "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:epc:id:sgtin:0614141.007346.S1"], "action": "OBSERVE", "bizStep": "decommissioning", "disposition": "https://example.com/disp/exported"}"#;
    check(
        &submit(&mut net, "mfg", &events(exported_elsewhere)[0]),
        "UnsupportedEvent",
    );
    let decommission = r#"{"type": "ObjectEvent", "eventTime": "2026-01-02T09:30:00Z", "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:epc:id:sgtin:0614141.007346.S1"], "action": "DELETE", "bizStep": "decommissioning", "disposition": "unknown"}"#;
    check(
        &submit(&mut net, "mfg", &events(decommission)[0]),
        "UnsupportedEvent",
    );
}

#[test]
fn exported_uses_the_pedigree_disposition_uri() {
    let mut net = Net::new();
    check(&submit(&mut net, "mfg", &events(COMMISSION)[0]), "Applied");
    let export = format!(
        r#"{{"type": "ObjectEvent", "eventTime": "2026-01-05T09:30:00Z", "eventTimeZoneOffset": "+00:00",
          "epcList": ["urn:epc:id:sgtin:0614141.007346.S1"], "action": "OBSERVE", "bizStep": "decommissioning",
          "disposition": "{}"}}"#,
        pedigree_chaincode::epcis::EXPORTED_DISPOSITION
    );
    check(&submit(&mut net, "mfg", &events(&export)[0]), "Applied");
    let v = query::verify(&net.state, &unit_gtin(), "S1", None, None, 20260105);
    assert!(!v.verified);
    assert_eq!(v.status, Some(QueryStatus::Exported));
}

#[test]
fn transformation_event_repackages_units_into_a_new_product() {
    let mut net = Net::new();
    check(&submit(&mut net, "mfg", &events(COMMISSION)[0]), "Applied");
    let transformation = r#"{"type": "TransformationEvent", "eventTime": "2026-01-03T09:30:00Z", "eventTimeZoneOffset": "+00:00",
        "inputEPCList": ["urn:epc:id:sgtin:0614141.007346.S1", "urn:epc:id:sgtin:0614141.007346.S2"],
        "outputEPCList": ["https://id.gs1.org/01/10614141073464/21/KIT1"],
        "bizStep": "repackaging", "disposition": "active",
        "ilmd": {"cbvmda:lotNumber": "KITLOT", "cbvmda:itemExpirationDate": "2027-03-31"}}"#;
    check(
        &submit(&mut net, "mfg", &events(transformation)[0]),
        "Applied",
    );
    let input = query::verify(&net.state, &unit_gtin(), "S1", None, None, 20260105);
    assert_eq!(input.status, Some(QueryStatus::Consumed));
    let output = query::verify(
        &net.state,
        &case_gtin(),
        "KIT1",
        Some("KITLOT"),
        Some(20270331),
        20260105,
    );
    assert!(output.verified, "{output:?}");
    assert_eq!(output.custodian.as_deref(), Some("mfg"));
}

#[test]
fn transaction_event_links_a_purchase_order_and_shows_in_trace() {
    let mut net = Net::new();
    check(&submit(&mut net, "mfg", &events(COMMISSION)[0]), "Applied");
    let add = r#"{"type": "TransactionEvent", "eventTime": "2026-01-03T09:30:00Z", "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:epc:id:sgtin:0614141.007346.S1", "urn:epc:id:sgtin:0614141.007346.S2"], "action": "ADD",
        "bizStep": "shipping",
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:PO-42"}]}"#;
    check(&submit(&mut net, "mfg", &events(add)[0]), "Applied");
    let trace = query::trace_uri(&net.state, "urn:epc:id:sgtin:0614141.007346.S2").unwrap();
    let linked = trace.history.iter().any(|entry| {
        entry.action
            == HistoryAction::BizTransactions {
                action: LinkAction::Add,
                transactions: vec![BizTransaction {
                    biz_type: "po".into(),
                    id: "urn:epcglobal:cbv:bt:0614141000005:PO-42".into(),
                }],
            }
    });
    assert!(linked, "{:?}", trace.history);
    let delete = add.replace("\"ADD\"", "\"DELETE\"");
    check(&submit(&mut net, "mfg", &events(&delete)[0]), "Applied");
    check(
        &submit(&mut net, "mfg", &events(&delete)[0]),
        "DuplicateEvent",
    );
    let none = r#"{"type": "TransactionEvent", "eventTime": "2026-01-03T09:30:00Z", "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:epc:id:sgtin:0614141.007346.S1"], "action": "ADD",
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:x:po:1"}]}"#;
    check(&submit(&mut net, "dist", &events(none)[0]), "NotCustodian");
}

#[test]
fn association_event_attaches_a_data_logger_in_either_spelling() {
    let mut net = Net::new();
    check(&submit(&mut net, "mfg", &events(COMMISSION)[0]), "Applied");
    let associate = |action: &str, parent: &str| {
        format!(
            r#"{{"type": "AssociationEvent", "eventTime": "2026-01-03T09:30:00Z", "eventTimeZoneOffset": "+00:00",
              "parentID": "{parent}", "childEPCs": ["urn:epc:id:sgtin:0614141.007346.S1"], "action": "{action}",
              "bizStep": "installing"}}"#
        )
    };
    let add = associate("ADD", "urn:epc:id:giai:0614141.LOGGER1");
    check(&submit(&mut net, "mfg", &events(&add)[0]), "Applied");
    let trace = query::trace_uri(&net.state, "urn:epc:id:sgtin:0614141.007346.S1").unwrap();
    assert!(trace.history.iter().any(|entry| entry.action
        == HistoryAction::Associated {
            action: LinkAction::Add,
            asset: "(8004)0614141LOGGER1".into(),
        }));
    assert_eq!(trace.record.custodian, "mfg");
    // The Digital Link spelling names the same asset.
    let remove = associate("DELETE", "https://id.gs1.org/8004/0614141LOGGER1");
    check(&submit(&mut net, "mfg", &events(&remove)[0]), "Applied");
    check(
        &submit(&mut net, "mfg", &events(&remove)[0]),
        "DuplicateEvent",
    );
}
