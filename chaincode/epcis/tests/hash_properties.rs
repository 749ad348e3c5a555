//! Property tests of the event hash: order independence, spelling
//! independence, and no panics on arbitrary input.

use pedigree_epcis::hash::{self, dl, number, time};
use pedigree_epcis::model::*;
use proptest::prelude::*;

fn event(epcs: &[String], bts: &[(String, String)]) -> EpcisEvent {
    let mut e = EpcisEvent::new(EventType::ObjectEvent);
    e.event_time = Some(EpcisTime::new("2024-03-01T09:30:00.123+01:00"));
    e.event_time_zone_offset = Some("+01:00".to_string());
    e.epc_list = Some(epcs.to_vec());
    e.action = Some(Action::Observe);
    e.biz_step = Some(BizStep::new("shipping"));
    e.biz_transaction_list = Some(
        bts.iter()
            .map(|(t, v)| BizTransaction {
                transaction_type: Some(BizTransactionType::new(t.clone())),
                value: v.clone(),
            })
            .collect(),
    );
    e
}

proptest! {
    #[test]
    fn list_order_does_not_matter(
        serials in prop::collection::vec("[A-Za-z0-9]{1,20}", 1..12),
        bts in prop::collection::vec((prop::sample::select(vec!["po", "inv", "desadv", "urn:epcglobal:cbv:btt:bol"]), "[A-Z0-9]{1,8}"), 0..5),
        seed in any::<u64>(),
    ) {
        let epcs: Vec<String> = serials.iter().map(|s| format!("urn:epc:id:sgtin:0614141.107346.{s}")).collect();
        let bts: Vec<(String, String)> = bts.into_iter().map(|(t, v)| (t.to_string(), format!("urn:epcglobal:cbv:bt:0614141000005:{v}"))).collect();
        let mut epcs2 = epcs.clone();
        let mut bts2 = bts.clone();
        // Deterministic shuffle.
        let mut x = seed | 1;
        for i in (1..epcs2.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            epcs2.swap(i, (x % (i as u64 + 1)) as usize);
        }
        bts2.reverse();
        prop_assert_eq!(hash::event_hash_id(&event(&epcs, &bts)), hash::event_hash_id(&event(&epcs2, &bts2)));
    }

    #[test]
    fn epc_urn_and_digital_link_hash_equal(serial in "[A-Za-z0-9]{1,20}") {
        let urn = vec![format!("urn:epc:id:sgtin:0614141.107346.{serial}")];
        let dl = vec![format!("https://example.com/01/10614141073464/21/{serial}?17=261231")];
        prop_assert_eq!(hash::pre_hash(&event(&urn, &[])), hash::pre_hash(&event(&dl, &[])));
    }

    #[test]
    fn normalisers_never_panic(s in "\\PC{0,60}") {
        let _ = dl::canonical_digital_link(&s);
        let _ = number::normalize_number(&s);
        let _ = time::normalize_timestamp(&s);
        let _ = hash::canonical_value(&s);
        let _ = dl::canonical_digital_link(&format!("urn:epc:id:sgtin:{s}"));
        let _ = dl::canonical_digital_link(&format!("https://id.gs1.org/01/{s}"));
        let _ = time::normalize_timestamp(&format!("2024-03-01T{s}"));
    }

    #[test]
    fn pre_hash_never_panics(a in "\\PC{0,30}", b in "\\PC{0,30}", c in "\\PC{0,30}") {
        let mut e = event(&[a.clone(), b.clone()], &[(c.clone(), a.clone())]);
        e.event_time = Some(EpcisTime::new(b.clone()));
        e.parent_id = Some(c.clone());
        e.read_point = Some(Location { id: a.clone(), extensions: Vec::new() });
        let id = hash::event_hash_id(&e);
        prop_assert!(id.starts_with("ni:///sha-256;"));
    }
}

proptest! {
    #[test]
    fn sha256_bytes_match_the_hash_id(
        serials in prop::collection::vec("[A-Za-z0-9]{1,20}", 1..6),
        event_id in "[a-z0-9]{1,12}",
        record_time in 0u32..60,
    ) {
        let epcs: Vec<String> = serials.iter().map(|s| format!("urn:epc:id:sgtin:0614141.107346.{s}")).collect();
        let plain = event(&epcs, &[]);
        let digest = hash::event_hash_sha256(&plain);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        prop_assert_eq!(hash::event_hash_id(&plain), format!("ni:///sha-256;{hex}?ver=CBV2.0"));
        // eventID, recordTime and errorDeclaration are not hashed.
        let mut corrected = plain.clone();
        corrected.event_id = Some(format!("urn:uuid:{event_id}"));
        corrected.record_time = Some(EpcisTime::new(format!("2024-03-02T00:00:{record_time:02}Z")));
        corrected.error_declaration = Some(ErrorDeclaration {
            declaration_time: Some(EpcisTime::new("2024-03-03T00:00:00Z")),
            reason: Some(ErrorReason::new("incorrect_data")),
            corrective_event_ids: None,
            extensions: Vec::new(),
        });
        prop_assert_eq!(hash::event_hash_sha256(&corrected), digest);
        let mut other = plain.clone();
        other.action = Some(Action::Add);
        prop_assert_ne!(hash::event_hash_sha256(&other), digest);
    }
}
