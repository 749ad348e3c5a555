//! The two worked vectors of standards.md §5.3, built in code.

use pedigree_epcis::hash::{self, HashAlgorithm, HashOptions};
use pedigree_epcis::model::*;

fn ext(ns: &str, local: &str, value: &str) -> Extension {
    Extension {
        name: QName {
            namespace: ns.to_string(),
            local: local.to_string(),
            prefix: Some("cbvmda".to_string()),
        },
        attributes: Vec::new(),
        value: ExtensionValue::Text(value.to_string()),
    }
}

fn location(id: &str) -> Location {
    Location {
        id: id.to_string(),
        extensions: Vec::new(),
    }
}

fn commissioning_event() -> EpcisEvent {
    let mut e = EpcisEvent::new(EventType::ObjectEvent);
    e.event_time = Some(EpcisTime::new("2024-03-01T09:30:00.123+01:00"));
    e.event_time_zone_offset = Some("+01:00".to_string());
    e.epc_list = Some(vec![
        "urn:epc:id:sgtin:0614141.107346.SN002".to_string(),
        "urn:epc:id:sgtin:0614141.107346.SN001".to_string(),
    ]);
    e.action = Some(Action::Add);
    e.biz_step = Some(BizStep::new("commissioning"));
    e.disposition = Some(Disposition::new("active"));
    e.read_point = Some(location("urn:epc:id:sgln:0614141.00777.0"));
    e.biz_location = Some(location("urn:epc:id:sgln:0614141.00888.0"));
    e.ilmd = Some(vec![
        ext("urn:epcglobal:cbv:mda:", "lotNumber", "LOT123"),
        ext("urn:epcglobal:cbv:mda:", "itemExpirationDate", "2026-12-31"),
    ]);
    e
}

#[test]
fn pharma_commissioning_event() {
    let e = commissioning_event();
    assert_eq!(
        hash::pre_hash(&e),
        "eventType=ObjectEventeventTime=2024-03-01T08:30:00.123ZeventTimeZoneOffset=+01:00\
         epcListepc=https://id.gs1.org/01/10614141073464/21/SN001\
         epc=https://id.gs1.org/01/10614141073464/21/SN002action=ADD\
         bizStep=https://ref.gs1.org/cbv/BizStep-commissioning\
         disposition=https://ref.gs1.org/cbv/Disp-active\
         readPointid=https://id.gs1.org/414/0614141007776\
         bizLocationid=https://id.gs1.org/414/0614141008889\
         ilmd{urn:epcglobal:cbv:mda:}itemExpirationDate=2026-12-31\
         {urn:epcglobal:cbv:mda:}lotNumber=LOT123"
    );
    assert_eq!(
        hash::event_hash_id(&e),
        "ni:///sha-256;b03e5e1ef5dcd81ba4ac5d45d8f53f81ce55ce9e9982c80822e9cf86ad2604fe?ver=CBV2.0"
    );
}

#[test]
fn same_event_in_other_spellings_hashes_equal() {
    let mut e = commissioning_event();
    e.event_time = Some(EpcisTime::new("2024-03-01T08:30:00.1230Z"));
    e.biz_step = Some(BizStep::new("urn:epcglobal:cbv:bizstep:commissioning"));
    e.disposition = Some(Disposition::new("https://ref.gs1.org/cbv/Disp-active"));
    e.epc_list = Some(vec![
        "https://id.gs1.org/01/10614141073464/21/SN001".to_string(),
        "https://example.com/01/10614141073464/21/SN002?17=261231".to_string(),
    ]);
    e.record_time = Some(EpcisTime::new("2024-03-01T10:00:00Z"));
    e.event_id = Some("urn:uuid:0b2b5a8e-8d3a-4b8e-9b0f-6f6b0f6f6b0f".to_string());
    assert_eq!(
        hash::event_hash_id(&e),
        hash::event_hash_id(&commissioning_event())
    );
}

#[test]
fn transaction_event_exclusions_escaping_numbers() {
    let mut e = EpcisEvent::new(EventType::TransactionEvent);
    e.event_id = Some("urn:uuid:6f1c2a52-1d0e-4c8e-8d0b-2c1c1f1e1d1c".to_string());
    e.record_time = Some(EpcisTime::new("2024-03-02T15:00:00Z"));
    e.event_time = Some(EpcisTime::new("2024-03-02T14:00:00.5Z"));
    e.event_time_zone_offset = Some("+00:00".to_string());
    e.certification_info = Some(CertificationInfo::Single(
        "https://example.org/cert/1".to_string(),
    ));
    e.parent_id = Some("urn:epc:id:sscc:0614141.1234567890".to_string());
    e.epc_list = Some(vec!["urn:epc:id:sgtin:0614141.107346.A%2FB".to_string()]);
    e.quantity_list = Some(vec![QuantityElement {
        epc_class: "urn:epc:class:lgtin:0614141.107346.LOT123".to_string(),
        quantity: Decimal::parse("10.0"),
        uom: Some("EA".to_string()),
    }]);
    e.action = Some(Action::Add);
    e.biz_step = Some(BizStep::new("shipping"));
    e.biz_transaction_list = Some(vec![
        BizTransaction {
            transaction_type: Some(BizTransactionType::new("po")),
            value: "urn:epcglobal:cbv:bt:0614141000005:PO-42".to_string(),
        },
        BizTransaction {
            transaction_type: Some(BizTransactionType::new("urn:epcglobal:cbv:btt:inv")),
            value: "urn:epcglobal:cbv:bt:0614141000005:INV-9".to_string(),
        },
    ]);
    let pre = hash::pre_hash(&e);
    assert_eq!(
        pre,
        "eventType=TransactionEventeventTime=2024-03-02T14:00:00.500ZeventTimeZoneOffset=+00:00\
         certificationInfo=https://example.org/cert/1\
         parentID=https://id.gs1.org/00/106141412345678908\
         epcListepc=https://id.gs1.org/01/10614141073464/21/A%2FB\
         quantityListquantityElementepcClass=https://id.gs1.org/01/10614141073464/10/LOT123\
         quantity=10uom=EAaction=ADDbizStep=https://ref.gs1.org/cbv/BizStep-shipping\
         bizTransactionListtype=https://ref.gs1.org/cbv/BTT-inv\
         bizTransaction=urn:epcglobal:cbv:bt:0614141000005:INV-9\
         type=https://ref.gs1.org/cbv/BTT-po\
         bizTransaction=urn:epcglobal:cbv:bt:0614141000005:PO-42"
    );
    let id = hash::event_hash_id(&e);
    assert!(
        id.starts_with(
            "ni:///sha-256;9dd6a91b989467fb2e1c57f1dddd7a44c56c6a80dc257830d9ceb7d741281032"
        ),
        "{id}"
    );
    assert!(id.ends_with("?ver=CBV2.0"));
    // Other algorithms share the pre-hash.
    let opts = HashOptions {
        algorithm: HashAlgorithm::Sha512,
        ..HashOptions::default()
    };
    let id512 = hash::event_hash_id_with(&e, &opts);
    assert!(id512.starts_with("ni:///sha-512;"));
    assert_eq!(
        id512.len(),
        "ni:///sha-512;".len() + 128 + "?ver=CBV2.0".len()
    );
}
