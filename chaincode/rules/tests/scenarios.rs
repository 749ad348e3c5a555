//! Scenario tests, one rule each: a few transactions, then `check` on the outcome and
//! a query on the resulting state.

mod common;

use common::*;
use pedigree_chaincode::governance::KeySpec;
use pedigree_chaincode::ops::{BizTransaction, LinkAction};
use pedigree_chaincode::query::{self, AdditionalInfo, FailureReason, QueryStatus};
use pedigree_chaincode::records::{HistoryAction, ObjectStatus, SuspectResolution, SuspectTarget};
use pedigree_chaincode::rules::load_object;
use pedigree_chaincode::*;

/// Status and custody as the rules see them: packed contents follow their container.
fn governing(net: &Net, object: &ObjectKey) -> pedigree_chaincode::records::ObjectRecord {
    let record = load_object(&net.state, object).expect("object exists");
    pedigree_chaincode::rules::effective(&net.state, &record)
}

fn status(net: &Net, object: &ObjectKey) -> ObjectStatus {
    governing(net, object).status
}

fn custodian(net: &Net, object: &ObjectKey) -> String {
    governing(net, object).custodian
}

// ---- Commissioning ----

#[test]
fn brand_owner_commissions() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..3), "L1")), "Applied");
    assert_eq!(custodian(&net, &unit(0)), "mfg");
    assert_eq!(
        query::reconciliation(&net.state, &unit_gtin(), "L1")
            .counters
            .commissioned,
        3
    );
}

#[test]
fn other_org_cannot_commission_foreign_gtin() {
    let mut net = Net::new();
    check(
        &net.op("dist", commission(units(0..1), "L1")),
        "NotBrandOwnerOrDelegate",
    );
}

#[test]
fn commissioning_requires_lot_for_sgtin() {
    let mut net = Net::new();
    check(
        &net.op(
            "mfg",
            Op::Commission {
                objects: units(0..1),
                lot: None,
                expiry: None,
            },
        ),
        "MissingLot",
    );
}

#[test]
fn cmo_commissions_only_with_delegation() {
    let mut net = Net::new();
    let cmo_unit = ObjectKey::sgtin(&cmo_gtin(), "X1").unwrap();
    check(
        &net.op("cmo", commission(vec![cmo_unit.clone()], "L1")),
        "NotBrandOwnerOrDelegate",
    );
    let delegate = GovAction::DelegateGtin {
        brand_owner: "mfg".into(),
        gtin: cmo_gtin(),
        cmo: "cmo".into(),
    };
    check(&net.govern("mfg", &["cmo", "reg"], delegate, 0), "Applied");
    check(
        &net.op("cmo", commission(vec![cmo_unit.clone()], "L1")),
        "Applied",
    );
    assert_eq!(custodian(&net, &cmo_unit), "cmo");
    // The delegation covers that GTIN only.
    check(
        &net.op("cmo", commission(units(0..1), "L1")),
        "NotBrandOwnerOrDelegate",
    );
}

#[test]
fn duplicate_serial_is_rejected_and_counted() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..3), "L1")), "Applied");
    let before = net.state.clone();
    let receipt = net.op("mfg", commission(units(2..5), "L2"));
    check(&receipt, "DuplicateSerial");
    assert_eq!(
        receipt.exceptions,
        vec![Exception::DuplicateSerial {
            gtin: unit_gtin(),
            lot: "L2".into(),
            count: 1
        }]
    );
    // Nothing but meta and the exception counter changed; U3, U4 were not commissioned.
    assert!(load_object(&net.state, &unit(3)).is_none());
    let changed: Vec<String> = net
        .state
        .entries()
        .iter()
        .filter(|(k, v)| before.entries().get(*k) != Some(*v))
        .map(|(k, _)| String::from_utf8_lossy(k).to_string())
        .collect();
    assert!(
        changed
            .iter()
            .all(|k| k.starts_with("exc/") || k.starts_with("meta/")),
        "{changed:?}"
    );
    // The count persists and accumulates.
    check(
        &net.op("mfg", commission(units(0..2), "L2")),
        "DuplicateSerial",
    );
    assert_eq!(
        query::reconciliation(&net.state, &unit_gtin(), "L2").duplicate_attempts,
        3
    );
}

#[test]
fn repeated_serial_within_one_event_is_rejected() {
    let mut net = Net::new();
    check(
        &net.op("mfg", commission(vec![unit(1), unit(1)], "L1")),
        "RepeatedObject",
    );
}

// ---- Idempotence, replay, envelope ----

#[test]
fn same_event_twice_is_a_duplicate_not_an_error() {
    let mut net = Net::new();
    let body = TxBody::Ops(OpsEvent {
        event_time_ms: 5,
        ops: vec![commission(units(0..2), "L1")],
        error_declaration: None,
    });
    let first = net.submit("mfg", body.clone());
    check(&first, "Applied");
    let hash = net.hash();
    let second = net.submit("dist", body);
    check(&second, "DuplicateEvent");
    assert!(second.is_accepted());
    assert_eq!(first.event_hash, second.event_hash);
    assert_ne!(
        hash,
        net.hash(),
        "the new tx id and block meta are recorded"
    );
    assert_eq!(
        query::reconciliation(&net.state, &unit_gtin(), "L1")
            .counters
            .commissioned,
        2
    );
}

#[test]
fn replayed_transaction_is_rejected() {
    let mut net = Net::new();
    let tx = net.signed(
        "mfg",
        TxBody::Ops(OpsEvent {
            event_time_ms: 1,
            ops: vec![commission(units(0..1), "L1")],
            error_declaration: None,
        }),
    );
    check(&net.block(std::slice::from_ref(&tx)).receipts[0], "Applied");
    check(&net.block(&[tx]).receipts[0], "Replay");
}

#[test]
fn envelope_checks() {
    let mut net = Net::new();
    let body = TxBody::Ops(OpsEvent {
        event_time_ms: 1,
        ops: vec![commission(units(0..1), "L1")],
        error_declaration: None,
    });
    let mut envelope = net.envelope("mfg", body.clone());
    envelope.network_id = [9; 32];
    let tx = envelope.sign(&signing_key(1)).verify().unwrap();
    check(&net.block(&[tx]).receipts[0], "WrongNetwork");
    let mut envelope = net.envelope("mfg", body.clone());
    envelope.key_id = "k9".into();
    let tx = envelope.sign(&signing_key(1)).verify().unwrap();
    check(&net.block(&[tx]).receipts[0], "UnknownKey");
    let mut envelope = net.envelope("mfg", body.clone());
    envelope.public_key = signing_key(2).verifying_key().to_bytes();
    let tx = envelope.sign(&signing_key(2)).verify().unwrap();
    check(&net.block(&[tx]).receipts[0], "KeyMismatch");
    let mut envelope = net.envelope("mfg", body);
    envelope.signer_org = "nobody".into();
    let tx = envelope.sign(&signing_key(1)).verify().unwrap();
    check(&net.block(&[tx]).receipts[0], "UnknownOrg");
}

#[test]
fn tampered_signature_does_not_verify() {
    let mut net = Net::new();
    let envelope = net.envelope(
        "mfg",
        TxBody::Release {
            gtin: unit_gtin(),
            lot: "L1".into(),
        },
    );
    let mut signed = envelope.sign(&signing_key(1));
    signed.envelope.nonce += 1;
    assert_eq!(
        signed.clone().verify().unwrap_err(),
        VerifyError::BadSignature
    );
    let good = net
        .envelope(
            "mfg",
            TxBody::Release {
                gtin: unit_gtin(),
                lot: "L1".into(),
            },
        )
        .sign(&signing_key(1));
    let results = verify_batch(vec![good.clone(), signed, good]);
    assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
}

// ---- Governance ----

#[test]
fn governance_needs_quorum() {
    let mut net = Net::new();
    let action = GovAction::RegisterPrefix {
        org: "dist".into(),
        prefix: "0123456".into(),
    };
    check(
        &net.govern("dist", &["pharm"], action.clone(), 0),
        "QuorumNotMet",
    );
    check(&net.govern("dist", &["pharm", "reg"], action, 0), "Applied");
}

#[test]
fn governance_rejects_bad_approval() {
    let mut net = Net::new();
    let action = GovAction::RegisterPrefix {
        org: "dist".into(),
        prefix: "0123456".into(),
    };
    let digest = approval_digest(&net.network_id, &action, 0, 7);
    use ed25519_dalek::Signer;
    let forged = Approval {
        org: "reg".into(),
        key_id: "k1".into(),
        signature: signing_key(9).sign(&digest),
    };
    let body = TxBody::Governance(GovernanceTx {
        action,
        effective_height: 0,
        proposal_nonce: 7,
        approvals: vec![forged],
    });
    check(&net.submit("dist", body), "InvalidApproval");
}

#[test]
fn governance_takes_effect_at_its_height() {
    let mut net = Net::new();
    let new_key = signing_key(42);
    let action = GovAction::AddKey {
        org: "dist".into(),
        key: KeySpec {
            id: "k2".into(),
            public_key: new_key.verifying_key().to_bytes(),
        },
    };
    check(&net.govern("dist", &["mfg", "reg"], action, 5), "Applied");
    net.keys.insert("dist".into(), ("k2".into(), new_key));
    check(
        &net.submit(
            "dist",
            TxBody::Release {
                gtin: unit_gtin(),
                lot: "L".into(),
            },
        ),
        "UnknownKey",
    ); // height 2
    net.block(&[]);
    net.block(&[]); // height 4
    let outcome = net.block(&[]); // height 5: activation
    assert_eq!(outcome.governance_activations.len(), 1);
    check(
        &net.submit(
            "dist",
            TxBody::Release {
                gtin: unit_gtin(),
                lot: "L".into(),
            },
        ),
        "NotRecallAuthority",
    );
}

#[test]
fn rotated_key_stops_signing() {
    let mut net = Net::new();
    let new_key = signing_key(43);
    let action = GovAction::RotateKey {
        org: "pharm".into(),
        old_key_id: "k1".into(),
        new_key: KeySpec {
            id: "k2".into(),
            public_key: new_key.verifying_key().to_bytes(),
        },
    };
    check(&net.govern("pharm", &["mfg", "reg"], action, 0), "Applied");
    check(
        &net.submit(
            "pharm",
            TxBody::Release {
                gtin: unit_gtin(),
                lot: "L".into(),
            },
        ),
        "KeyNotValid",
    );
    net.keys.insert("pharm".into(), ("k2".into(), new_key));
    check(
        &net.submit(
            "pharm",
            TxBody::Release {
                gtin: unit_gtin(),
                lot: "L".into(),
            },
        ),
        "NotRecallAuthority",
    );
}

#[test]
fn removed_org_cannot_sign_and_added_org_can() {
    let mut net = Net::new();
    check(
        &net.govern(
            "mfg",
            &["reg", "dist"],
            GovAction::RemoveOrg {
                org: "pharm".into(),
            },
            0,
        ),
        "Applied",
    );
    check(
        &net.submit(
            "pharm",
            TxBody::Release {
                gtin: unit_gtin(),
                lot: "L".into(),
            },
        ),
        "OrgRemoved",
    );
    let mut spec = genesis().orgs[0].clone();
    spec.id = "newco".into();
    spec.company_prefixes = vec!["0444441".into()];
    spec.glns = vec![];
    spec.nodes = vec![];
    spec.keys[0].public_key = signing_key(50).verifying_key().to_bytes();
    check(
        &net.govern("mfg", &["reg", "dist"], GovAction::AddOrg(spec), 0),
        "Applied",
    );
    net.keys
        .insert("newco".into(), ("k1".into(), signing_key(50)));
    check(
        &net.submit(
            "newco",
            TxBody::Release {
                gtin: unit_gtin(),
                lot: "L".into(),
            },
        ),
        "NotRecallAuthority",
    );
}

// ---- Aggregation ----

#[test]
fn packing_any_depth_and_shipping_the_pallet_moves_everything() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..4), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "L1")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..4),
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: pallet(1),
                children: vec![case(1)],
            },
        ),
        "Applied",
    );
    check(&net.op("mfg", ship_to(vec![pallet(1)], "dist")), "Applied");
    assert_eq!(status(&net, &unit(3)), ObjectStatus::InTransit);
    check(
        &net.op(
            "dist",
            Op::Receive {
                objects: vec![pallet(1)],
            },
        ),
        "Applied",
    );
    assert_eq!(custodian(&net, &unit(3)), "dist");
    let trace = query::trace(&net.state, &unit(0)).unwrap();
    assert_eq!(trace.parent_chain, vec![case(1), pallet(1)]);
    assert!(
        trace
            .history
            .iter()
            .any(|e| e.action == HistoryAction::PackedInto(pallet(1)) && e.via == Some(case(1)))
    );
    assert!(
        trace
            .history
            .iter()
            .any(|e| matches!(e.action, HistoryAction::Shipped { .. }) && e.via == Some(pallet(1)))
    );
}

#[test]
fn child_in_at_most_one_parent() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(
        &net.op("mfg", commission(vec![case(1), case(2)], "L1")),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..1),
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(2),
                children: units(0..2),
            },
        ),
        "AlreadyPacked",
    );
}

#[test]
fn packing_requires_custody_and_active_objects() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "L1")), "Applied");
    check(
        &net.op(
            "dist",
            Op::Pack {
                parent: case(1),
                children: units(0..1),
            },
        ),
        "NotCustodian",
    );
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: vec![unit(99)],
            },
        ),
        "UnknownObject",
    );
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: units(1..2),
                kind: DecommissionKind::Destroyed,
                location: None,
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(1..2),
            },
        ),
        "ObjectDecommissioned",
    );
}

#[test]
fn aggregation_cycles_are_rejected() {
    let mut net = Net::new();
    check(
        &net.op("mfg", commission(vec![case(1), case(2)], "L1")),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: vec![case(2)],
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(2),
                children: vec![case(1)],
            },
        ),
        "AggregationCycle",
    );
}

#[test]
fn unpacking_removes_only_real_children() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..3), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "L1")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..2),
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Unpack {
                parent: case(1),
                children: units(2..3),
            },
        ),
        "NotAChild",
    );
    check(
        &net.op(
            "mfg",
            Op::Unpack {
                parent: case(1),
                children: units(0..1),
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Unpack {
                parent: case(1),
                children: vec![],
            },
        ),
        "Applied",
    );
    assert_eq!(load_object(&net.state, &case(1)).unwrap().children.len(), 0);
    assert!(load_object(&net.state, &unit(1)).unwrap().parent.is_none());
}

#[test]
fn packed_children_cannot_be_shipped_alone() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..1), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "L1")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..1),
            },
        ),
        "Applied",
    );
    check(
        &net.op("mfg", ship_to(units(0..1), "dist")),
        "ObjectInsideContainer",
    );
}

// ---- Custody ----

#[test]
fn only_the_receiver_can_receive() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(&net.op("mfg", ship_to(units(0..2), "dist")), "Applied");
    check(
        &net.op(
            "pharm",
            Op::Receive {
                objects: units(0..2),
            },
        ),
        "NotReceiver",
    );
    check(
        &net.op("mfg", ship_to(units(0..2), "pharm")),
        "ObjectInTransit",
    );
    check(
        &net.op(
            "dist",
            Op::Receive {
                objects: units(0..2),
            },
        ),
        "Applied",
    );
    assert_eq!(custodian(&net, &unit(1)), "dist");
    assert_eq!(status(&net, &unit(1)), ObjectStatus::Active);
}

#[test]
fn shipping_requires_custody_and_a_member_destination() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..1), "L1")), "Applied");
    check(
        &net.op("dist", ship_to(units(0..1), "pharm")),
        "NotCustodian",
    );
    check(&net.op("mfg", ship_to(units(0..1), "mfg")), "ShipToSelf");
    check(
        &net.op(
            "mfg",
            Op::Ship {
                objects: units(0..1),
                destination: Party::Gln(gln("0123451")),
            },
        ),
        "UnknownDestination",
    );
    check(
        &net.op(
            "mfg",
            Op::Ship {
                objects: units(0..1),
                destination: Party::Gln(gln("0888881")),
            },
        ),
        "Applied",
    );
    assert_eq!(
        load_object(&net.state, &unit(0))
            .unwrap()
            .in_transit_to
            .as_deref(),
        Some("dist")
    );
}

#[test]
fn receiving_differences_are_recorded_as_discrepancies() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..4), "L1")), "Applied");
    check(&net.op("mfg", ship_to(units(0..3), "dist")), "Applied");
    // Receives U0 and U1 of the shipment, plus U3 which was never shipped.
    check(
        &net.op(
            "dist",
            Op::Receive {
                objects: vec![unit(0), unit(1), unit(3)],
            },
        ),
        "Applied",
    );
    assert_eq!(status(&net, &unit(2)), ObjectStatus::InTransit);
    assert_eq!(custodian(&net, &unit(3)), "mfg");
    let reconciliation = query::reconciliation(&net.state, &unit_gtin(), "L1");
    assert_eq!(reconciliation.counters.received, 2);
    assert_eq!(reconciliation.counters.discrepancies, 2);
    // The missing unit may still arrive later.
    check(
        &net.op(
            "dist",
            Op::Receive {
                objects: vec![unit(2)],
            },
        ),
        "Applied",
    );
    assert_eq!(custodian(&net, &unit(2)), "dist");
}

#[test]
fn returns_follow_the_same_path() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..1), "L1")), "Applied");
    check(&net.op("mfg", ship_to(units(0..1), "dist")), "Applied");
    check(
        &net.op(
            "dist",
            Op::Receive {
                objects: units(0..1),
            },
        ),
        "Applied",
    );
    check(&net.op("dist", ship_to(units(0..1), "mfg")), "Applied");
    check(
        &net.op(
            "dist",
            Op::Receive {
                objects: units(0..1),
            },
        ),
        "NotReceiver",
    );
    check(
        &net.op(
            "mfg",
            Op::Receive {
                objects: units(0..1),
            },
        ),
        "Applied",
    );
    assert_eq!(custodian(&net, &unit(0)), "mfg");
}

// ---- Decommissioning ----

#[test]
fn only_the_custodian_decommissions_and_only_once() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..1), "L1")), "Applied");
    let dispense = Op::Decommission {
        objects: units(0..1),
        kind: DecommissionKind::Dispensed,
        location: None,
    };
    check(&net.op("pharm", dispense.clone()), "NotCustodian");
    check(&net.op("mfg", ship_to(units(0..1), "pharm")), "Applied");
    check(
        &net.op(
            "pharm",
            Op::Receive {
                objects: units(0..1),
            },
        ),
        "Applied",
    );
    check(&net.op("pharm", dispense.clone()), "Applied");
    check(
        &net.op(
            "pharm",
            Op::Decommission {
                objects: units(0..1),
                kind: DecommissionKind::Dispensed,
                location: Some(gln("0999991")),
            },
        ),
        "ObjectDecommissioned",
    );
    check(
        &net.op("pharm", ship_to(units(0..1), "dist")),
        "ObjectDecommissioned",
    );
}

#[test]
fn decommissioning_a_container_applies_to_its_contents() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "L1")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..2),
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: vec![case(1)],
                kind: DecommissionKind::Destroyed,
                location: None,
            },
        ),
        "Applied",
    );
    assert_eq!(status(&net, &unit(1)), ObjectStatus::Destroyed);
    assert_eq!(
        query::reconciliation(&net.state, &unit_gtin(), "L1")
            .counters
            .destroyed,
        2
    );
}

#[test]
fn dispensing_a_unit_from_a_case_takes_it_out() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "L1")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..2),
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: units(0..1),
                kind: DecommissionKind::Sample,
                location: None,
            },
        ),
        "Applied",
    );
    assert_eq!(load_object(&net.state, &case(1)).unwrap().children.len(), 1);
    assert!(load_object(&net.state, &unit(0)).unwrap().parent.is_none());
}

#[test]
fn revert_within_ten_days_by_the_same_org() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    let dispense = Op::Decommission {
        objects: units(0..2),
        kind: DecommissionKind::Dispensed,
        location: None,
    };
    check(&net.op("mfg", dispense), "Applied");
    check(
        &net.op(
            "dist",
            Op::Reinstate {
                objects: units(0..1),
                location: None,
            },
        ),
        "RevertByOtherOrg",
    );
    net.now_ms += 9 * DAY_MS;
    check(
        &net.op(
            "mfg",
            Op::Reinstate {
                objects: units(0..1),
                location: None,
            },
        ),
        "Applied",
    );
    assert_eq!(status(&net, &unit(0)), ObjectStatus::Active);
    net.now_ms += 2 * DAY_MS;
    check(
        &net.op(
            "mfg",
            Op::Reinstate {
                objects: units(1..2),
                location: None,
            },
        ),
        "RevertWindowExpired",
    );
    check(
        &net.op(
            "mfg",
            Op::Reinstate {
                objects: units(0..1),
                location: None,
            },
        ),
        "NotDecommissioned",
    );
}

/// A code printed and rejected on the line before it was commissioned is destroyed by its brand
/// owner: the serial is burnt (Destroyed, no lot), can never be commissioned, and verifies as
/// not for redistribution. Nobody else may burn it, and other decommissionings of an unknown
/// code stay refused.
#[test]
fn destroying_a_never_commissioned_code_burns_the_serial() {
    let mut net = Net::new();
    let destroy = |objects| Op::Decommission {
        objects,
        kind: DecommissionKind::Destroyed,
        location: None,
    };
    check(&net.op("dist", destroy(vec![unit(7)])), "UnknownObject");
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: vec![unit(7)],
                kind: DecommissionKind::Dispensed,
                location: None,
            },
        ),
        "UnknownObject",
    );
    check(&net.op("mfg", destroy(vec![unit(7)])), "Applied");
    check(
        &net.op("mfg", commission(vec![unit(7)], "L1")),
        "DuplicateSerial",
    );
    check(
        &net.op("mfg", destroy(vec![unit(7)])),
        "ObjectDecommissioned",
    );
    let verification = query::verify(&net.state, &unit_gtin(), "U7", None, None, 20260101);
    assert!(!verification.verified);
    assert_eq!(
        verification.failure_reason,
        Some(FailureReason::NotForRedistribution)
    );
    assert_eq!(verification.status, Some(QueryStatus::Destroyed));
    let trace = query::trace(&net.state, &unit(7)).unwrap();
    let actions: Vec<&HistoryAction> = trace.history.iter().map(|e| &e.action).collect();
    assert_eq!(
        actions,
        [&HistoryAction::Decommissioned(DecommissionKind::Destroyed)],
        "never commissioned"
    );
    // Known and unknown codes together: the known one is destroyed, the unknown one burnt.
    check(&net.op("mfg", commission(units(0..1), "L1")), "Applied");
    check(&net.op("mfg", destroy(vec![unit(0), unit(8)])), "Applied");
    for serial in ["U0", "U8"] {
        let v = query::verify(&net.state, &unit_gtin(), serial, None, None, 20260101);
        assert_eq!(v.status, Some(QueryStatus::Destroyed), "{serial}");
    }
}

#[test]
fn exported_stolen_destroyed_cannot_be_reverted() {
    for kind in [
        DecommissionKind::Exported,
        DecommissionKind::Stolen,
        DecommissionKind::Destroyed,
    ] {
        let mut net = Net::new();
        check(&net.op("mfg", commission(units(0..1), "L1")), "Applied");
        check(
            &net.op(
                "mfg",
                Op::Decommission {
                    objects: units(0..1),
                    kind,
                    location: None,
                },
            ),
            "Applied",
        );
        check(
            &net.op(
                "mfg",
                Op::Reinstate {
                    objects: units(0..1),
                    location: None,
                },
            ),
            "RevertNotAllowed",
        );
    }
}

#[test]
fn revert_must_be_at_the_same_premises() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..1), "L1")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: units(0..1),
                kind: DecommissionKind::Sample,
                location: Some(gln("0614141")),
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Reinstate {
                objects: units(0..1),
                location: Some(gln("0888881")),
            },
        ),
        "RevertByOtherOrg",
    );
    check(
        &net.op(
            "mfg",
            Op::Reinstate {
                objects: units(0..1),
                location: Some(gln("0614141")),
            },
        ),
        "Applied",
    );
}

#[test]
fn expired_product_cannot_be_dispensed() {
    let mut net = Net::new();
    let op = Op::Commission {
        objects: units(0..1),
        lot: Some("OLD".into()),
        expiry: Some(20251231),
    };
    check(&net.op("mfg", op), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: units(0..1),
                kind: DecommissionKind::Dispensed,
                location: None,
            },
        ),
        "Expired",
    );
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: units(0..1),
                kind: DecommissionKind::Destroyed,
                location: None,
            },
        ),
        "Applied",
    );
}

// ---- Recall ----

fn recall(gtin: String, lot: &str) -> TxBody {
    TxBody::Recall {
        gtin,
        lot: lot.into(),
        reason: "contamination".into(),
    }
}

#[test]
fn recall_and_release_authority() {
    let mut net = Net::new();
    check(
        &net.submit("dist", recall(unit_gtin(), "L1")),
        "NotRecallAuthority",
    );
    check(&net.submit("mfg", recall(unit_gtin(), "L1")), "Applied");
    check(
        &net.submit("reg", recall(unit_gtin(), "L1")),
        "AlreadyRecalled",
    );
    check(
        &net.submit(
            "reg",
            TxBody::Release {
                gtin: unit_gtin(),
                lot: "L1".into(),
            },
        ),
        "Applied",
    );
    check(
        &net.submit(
            "mfg",
            TxBody::Release {
                gtin: unit_gtin(),
                lot: "L1".into(),
            },
        ),
        "NotRecalled",
    );
}

#[test]
fn recalled_lots_stop_moving_except_back_to_the_brand_owner() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(&net.op("mfg", ship_to(units(0..2), "dist")), "Applied");
    check(
        &net.op(
            "dist",
            Op::Receive {
                objects: units(0..2),
            },
        ),
        "Applied",
    );
    check(&net.submit("reg", recall(unit_gtin(), "L1")), "Applied");
    check(
        &net.op("dist", ship_to(units(0..1), "pharm")),
        "LotRecalled",
    );
    check(
        &net.op(
            "dist",
            Op::Decommission {
                objects: units(0..1),
                kind: DecommissionKind::Dispensed,
                location: None,
            },
        ),
        "LotRecalled",
    );
    check(&net.op("dist", ship_to(units(0..1), "mfg")), "Applied");
    let verification = query::verify(&net.state, &unit_gtin(), "U1", Some("L1"), None, 20260101);
    assert!(verification.verified);
    assert_eq!(verification.additional_info, Some(AdditionalInfo::Recalled));
    let scope = query::recall_scope(&net.state, &unit_gtin(), "L1");
    assert_eq!(scope.by_custodian["dist"][&QueryStatus::Recalled].len(), 2);
}

// ---- Queries ----

#[test]
fn verify_follows_lms_semantics() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..3), "L1")), "Applied");
    let gtin = unit_gtin();
    let v = |net: &Net, serial: &str, lot: Option<&str>, expiry: Option<u32>, as_of: u32| {
        query::verify(&net.state, &gtin, serial, lot, expiry, as_of)
    };
    let ok = v(&net, "U0", Some("L1"), Some(20271231), 20260101);
    assert!(ok.verified && ok.additional_info.is_none());
    assert_eq!(ok.status, Some(QueryStatus::Active));
    assert_eq!(ok.custodian.as_deref(), Some("mfg"));
    assert_eq!(
        v(&net, "NOPE", None, None, 20260101).failure_reason,
        Some(FailureReason::NoMatchGtinSerial)
    );
    assert_eq!(
        v(&net, "U0", Some("L2"), None, 20260101).failure_reason,
        Some(FailureReason::NoMatchGtinSerialLot)
    );
    assert_eq!(
        v(&net, "U0", None, Some(20270101), 20260101).failure_reason,
        Some(FailureReason::NoMatchGtinSerialExpiry)
    );
    assert_eq!(
        v(&net, "U0", Some("X"), Some(20270101), 20260101).failure_reason,
        Some(FailureReason::NoMatchGtinSerialLotExpiry)
    );
    assert_eq!(
        v(&net, "U0", None, None, 20280101).additional_info,
        Some(AdditionalInfo::Expired)
    );
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: units(1..2),
                kind: DecommissionKind::Stolen,
                location: None,
            },
        ),
        "Applied",
    );
    let stolen = v(&net, "U1", None, None, 20260101);
    assert!(!stolen.verified);
    assert_eq!(
        stolen.failure_reason.unwrap().as_str(),
        "Not_for_re-distribution"
    );
    assert_eq!(stolen.additional_info, Some(AdditionalInfo::Illegitimate));
    assert_eq!(stolen.status, Some(QueryStatus::Stolen));
}

#[test]
fn reconciliation_counts_every_stage() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..4), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "LC")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..3),
            },
        ),
        "Applied",
    );
    check(
        &net.op("mfg", ship_to(vec![case(1), unit(3)], "pharm")),
        "Applied",
    );
    check(
        &net.op(
            "pharm",
            Op::Receive {
                objects: vec![case(1), unit(3)],
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "pharm",
            Op::Decommission {
                objects: units(3..4),
                kind: DecommissionKind::Dispensed,
                location: None,
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "pharm",
            Op::Decommission {
                objects: units(0..1),
                kind: DecommissionKind::Destroyed,
                location: None,
            },
        ),
        "Applied",
    );
    let r = query::reconciliation(&net.state, &unit_gtin(), "L1");
    let c = &r.counters;
    assert_eq!(
        (
            c.commissioned,
            c.packed,
            c.shipped,
            c.received,
            c.dispensed,
            c.destroyed
        ),
        (4, 3, 4, 4, 1, 1)
    );
    assert_eq!(r.current[&QueryStatus::Active], 2);
}

// ---- errorDeclaration ----

#[test]
fn error_declaration_undoes_the_latest_event() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "L1")), "Applied");
    let pack = vec![Op::Pack {
        parent: case(1),
        children: units(0..2),
    }];
    check(
        &net.submit(
            "mfg",
            TxBody::Ops(OpsEvent {
                event_time_ms: 7,
                ops: pack.clone(),
                error_declaration: None,
            }),
        ),
        "Applied",
    );
    let declaration = ErrorDeclarationBody {
        reason: Some("incorrect_data".into()),
        corrective_event_ids: vec![],
    };
    let declare = |ops: Vec<Op>| {
        TxBody::Ops(OpsEvent {
            event_time_ms: 7,
            ops,
            error_declaration: Some(declaration.clone()),
        })
    };
    check(
        &net.submit("dist", declare(pack.clone())),
        "NotEventSubmitter",
    );
    check(&net.submit("mfg", declare(pack.clone())), "Applied");
    assert!(load_object(&net.state, &unit(0)).unwrap().parent.is_none());
    assert_eq!(load_object(&net.state, &case(1)).unwrap().children.len(), 0);
    assert_eq!(
        query::reconciliation(&net.state, &unit_gtin(), "L1")
            .counters
            .packed,
        0
    );
    check(&net.submit("mfg", declare(pack)), "AlreadyDeclared");
    let trace = query::trace(&net.state, &unit(0)).unwrap();
    assert!(matches!(
        trace.history.last().unwrap().action,
        HistoryAction::ErrorDeclared { .. }
    ));
}

#[test]
fn error_declaration_of_a_superseded_event_is_rejected() {
    let mut net = Net::new();
    let commissioning = vec![commission(units(0..1), "L1")];
    let original = TxBody::Ops(OpsEvent {
        event_time_ms: 3,
        ops: commissioning.clone(),
        error_declaration: None,
    });
    check(&net.submit("mfg", original), "Applied");
    check(&net.op("mfg", ship_to(units(0..1), "dist")), "Applied");
    let body = TxBody::Ops(OpsEvent {
        event_time_ms: 3,
        ops: commissioning,
        error_declaration: Some(ErrorDeclarationBody::default()),
    });
    check(&net.submit("reg", body), "DeclarationSuperseded");
    let unknown = TxBody::Ops(OpsEvent {
        event_time_ms: 3,
        ops: vec![commission(units(5..6), "L1")],
        error_declaration: Some(ErrorDeclarationBody::default()),
    });
    check(&net.submit("mfg", unknown), "UnknownDeclaredEvent");
}

// ---- State hash ----

#[test]
fn state_hash_changes_with_every_block_and_is_reproducible() {
    let run = || {
        let mut net = Net::new();
        let mut hashes = vec![net.hash()];
        net.op("mfg", commission(units(0..5), "L1"));
        hashes.push(net.hash());
        net.op("mfg", ship_to(units(0..5), "dist"));
        hashes.push(net.hash());
        hashes
    };
    let first = run();
    assert_eq!(first, run());
    assert_ne!(first[0], first[1]);
    assert_ne!(first[1], first[2]);
}

#[test]
fn outcome_codes_are_stable_and_unique() {
    let codes: Vec<u32> = Outcome::ALL.iter().map(|o| o.code()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(codes, sorted);
    assert_eq!(Outcome::Applied.code(), 0);
    assert_eq!(Outcome::DuplicateEvent.code(), 1);
    assert_eq!(Outcome::DuplicateSerial.code(), 400);
    assert_eq!(Outcome::DeclarationSuperseded.code(), 602);
}

// ---- Containers over time ----

#[test]
fn trace_covers_past_containers_only_while_inside() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "L1")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..2),
            },
        ),
        "Applied",
    );
    check(&net.op("mfg", ship_to(vec![case(1)], "dist")), "Applied");
    check(
        &net.op(
            "dist",
            Op::Receive {
                objects: vec![case(1)],
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "dist",
            Op::Unpack {
                parent: case(1),
                children: units(0..1),
            },
        ),
        "Applied",
    );
    // After U0 left the case, the case's moves are not U0's.
    check(&net.op("dist", ship_to(vec![case(1)], "pharm")), "Applied");
    check(&net.op("dist", ship_to(units(0..1), "mfg")), "Applied");
    let trace = query::trace(&net.state, &unit(0)).unwrap();
    let shipped: Vec<(String, Option<ObjectKey>)> = trace
        .history
        .iter()
        .filter_map(|e| match &e.action {
            HistoryAction::Shipped { to } => Some((to.clone(), e.via.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        shipped,
        vec![
            ("dist".to_string(), Some(case(1))),
            ("mfg".to_string(), None)
        ]
    );
    assert!(matches!(
        trace.history[0].action,
        HistoryAction::Commissioned
    ));
    // U1 is still inside and follows the case to the pharmacy.
    assert_eq!(status(&net, &unit(1)), ObjectStatus::InTransit);
    let verification = query::verify(&net.state, &unit_gtin(), "U1", None, None, 20260101);
    assert_eq!(verification.status, Some(QueryStatus::InTransit));
    assert_eq!(verification.custodian.as_deref(), Some("dist"));
}

#[test]
fn reinstating_a_container_reinstates_its_contents() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "L1")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..2),
            },
        ),
        "Applied",
    );
    let sample = Op::Decommission {
        objects: vec![case(1)],
        kind: DecommissionKind::Sample,
        location: None,
    };
    check(&net.op("mfg", sample), "Applied");
    assert_eq!(status(&net, &unit(0)), ObjectStatus::Sample);
    check(
        &net.op(
            "mfg",
            Op::Reinstate {
                objects: units(0..1),
                location: None,
            },
        ),
        "ObjectInsideContainer",
    );
    check(
        &net.op(
            "mfg",
            Op::Reinstate {
                objects: vec![case(1)],
                location: None,
            },
        ),
        "Applied",
    );
    assert_eq!(status(&net, &unit(0)), ObjectStatus::Active);
    let r = query::reconciliation(&net.state, &unit_gtin(), "L1");
    assert_eq!(
        (r.counters.decommissioned_other, r.counters.reinstated),
        (2, 2)
    );
}

#[test]
fn aggregation_depth_is_bounded() {
    let mut net = Net::new();
    let levels: Vec<ObjectKey> = (0..18).map(pallet).collect();
    let first = Op::Commission {
        objects: levels[..1].to_vec(),
        lot: None,
        expiry: None,
    };
    check(&net.op("mfg", first), "Applied");
    for pair in levels.windows(2) {
        // pallet(i + 1) contains pallet(i); SSCCs are created by packing.
        let receipt = net.op(
            "mfg",
            Op::Pack {
                parent: pair[1].clone(),
                children: vec![pair[0].clone()],
            },
        );
        if receipt.outcome != Outcome::Applied {
            check(&receipt, "LimitExceeded");
            return;
        }
    }
    panic!("18 nested levels were accepted");
}

#[test]
fn scheduled_governance_is_revalidated_when_it_takes_effect() {
    let mut net = Net::new();
    let key = pedigree_chaincode::governance::KeySpec {
        id: "k7".into(),
        public_key: signing_key(77).verifying_key().to_bytes(),
    };
    let action = GovAction::AddKey {
        org: "dist".into(),
        key,
    };
    check(
        &net.govern("dist", &["mfg", "reg"], action.clone(), 4),
        "Applied",
    ); // height 1
    check(&net.govern("dist", &["mfg", "reg"], action, 0), "Applied"); // height 2, applied now
    net.block(&[]); // height 3
    let outcome = net.block(&[]); // height 4
    assert_eq!(outcome.governance_activations.len(), 1);
    assert_eq!(
        outcome.governance_activations[0].1,
        Outcome::GovernanceConflict
    );
}

// ---- Container contents summaries ----

#[test]
fn an_expired_unit_inside_a_case_blocks_dispensing_the_case_until_taken_out() {
    let mut net = Net::new();
    let old = Op::Commission {
        objects: units(0..1),
        lot: Some("OLD".into()),
        expiry: Some(20251231),
    };
    check(&net.op("mfg", old), "Applied");
    check(&net.op("mfg", commission(units(1..3), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "LC")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..3),
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: pallet(1),
                children: vec![case(1)],
            },
        ),
        "Applied",
    );
    let pallet_record = load_object(&net.state, &pallet(1)).unwrap();
    assert_eq!(pallet_record.contents_total, 4);
    let dispense = |objects| Op::Decommission {
        objects,
        kind: DecommissionKind::Dispensed,
        location: None,
    };
    check(&net.op("mfg", dispense(vec![pallet(1)])), "Expired");
    // Taking the expired unit out updates the case and the pallet above it.
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: units(0..1),
                kind: DecommissionKind::Destroyed,
                location: None,
            },
        ),
        "Applied",
    );
    let pallet_record = load_object(&net.state, &pallet(1)).unwrap();
    assert_eq!(pallet_record.contents_total, 3);
    assert!(pallet_record.contents.iter().all(|item| item.lot != "OLD"));
    check(&net.op("mfg", dispense(vec![pallet(1)])), "Applied");
    let r = query::reconciliation(&net.state, &unit_gtin(), "L1");
    assert_eq!(r.counters.dispensed, 2);
}

#[test]
fn a_recalled_lot_deep_inside_a_pallet_stops_the_pallet() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "LC")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(0..2),
            },
        ),
        "Applied",
    );
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: pallet(1),
                children: vec![case(1)],
            },
        ),
        "Applied",
    );
    check(&net.submit("reg", recall(unit_gtin(), "L1")), "Applied");
    check(
        &net.op("mfg", ship_to(vec![pallet(1)], "dist")),
        "LotRecalled",
    );
    check(
        &net.op(
            "mfg",
            Op::Unpack {
                parent: case(1),
                children: vec![],
            },
        ),
        "Applied",
    );
    check(&net.op("mfg", ship_to(vec![pallet(1)], "dist")), "Applied");
    let r = query::reconciliation(&net.state, &case_gtin(), "LC");
    assert_eq!(r.counters.shipped, 1);
    assert_eq!(
        query::reconciliation(&net.state, &unit_gtin(), "L1")
            .counters
            .shipped,
        0
    );
}

// ---- Signatures ----

#[test]
fn bad_signature_has_its_own_stable_reason() {
    assert_eq!(Outcome::BadSignature.code(), 110);
    assert_eq!(Outcome::MalformedBody.code(), 107);
    assert!(!Outcome::BadSignature.is_accepted());
    assert!(Outcome::ALL.contains(&Outcome::BadSignature));
    // Receipts are stored with bincode, which writes the serde variant index: new
    // outcomes and history actions are declared last so older indices do not move.
    assert_eq!(codec::encode(&Outcome::DeclarationSuperseded), vec![45]);
    assert_eq!(codec::encode(&Outcome::BadSignature), vec![46]);
    let declared = HistoryAction::ErrorDeclared {
        event_hash: [0; 32],
    };
    assert_eq!(codec::encode(&declared)[0], 10);
}

// ---- Suspect product (DSCSA) ----

fn package(serial: &str) -> SuspectTarget {
    SuspectTarget::Package {
        gtin: unit_gtin(),
        serial: serial.into(),
    }
}

fn mark(target: SuspectTarget) -> TxBody {
    TxBody::SuspectMark {
        target,
        reason: "label does not match".into(),
    }
}

fn resolve(target: SuspectTarget, resolution: SuspectResolution) -> TxBody {
    TxBody::SuspectResolve {
        target,
        resolution,
        note: "investigated".into(),
    }
}

#[test]
fn custodian_marks_a_package_suspect_and_the_brand_owner_clears_it() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    check(&net.op("mfg", ship_to(units(0..2), "dist")), "Applied");
    check(
        &net.op(
            "dist",
            Op::Receive {
                objects: units(0..2),
            },
        ),
        "Applied",
    );
    check(
        &net.submit("pharm", mark(package("U0"))),
        "NotInvestigationAuthority",
    );
    check(
        &net.submit("pharm", resolve(package("U0"), SuspectResolution::Cleared)),
        "NotSuspect",
    );
    check(&net.submit("dist", mark(package("U0"))), "Applied");
    check(&net.submit("mfg", mark(package("U0"))), "AlreadySuspect");
    let v = query::verify(&net.state, &unit_gtin(), "U0", Some("L1"), None, 20260101);
    assert!(v.verified);
    assert_eq!(v.additional_info, Some(AdditionalInfo::Suspect));
    assert_eq!(v.additional_info.unwrap().as_str(), "Suspect");
    let other = query::verify(&net.state, &unit_gtin(), "U1", None, None, 20260101);
    assert_eq!(other.additional_info, None);
    check(
        &net.submit("pharm", resolve(package("U0"), SuspectResolution::Cleared)),
        "NotInvestigationAuthority",
    );
    check(
        &net.submit("mfg", resolve(package("U0"), SuspectResolution::Cleared)),
        "Applied",
    );
    let v = query::verify(&net.state, &unit_gtin(), "U0", None, None, 20260101);
    assert!(v.verified && v.additional_info.is_none());
}

#[test]
fn a_lot_determined_illegitimate_fails_verification_until_a_regulator_clears_it() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    let lot = SuspectTarget::Lot {
        gtin: unit_gtin(),
        lot: "L1".into(),
    };
    // A lot-wide investigation is for the brand owner or a regulator.
    check(
        &net.submit("dist", mark(lot.clone())),
        "NotInvestigationAuthority",
    );
    check(&net.submit("reg", mark(lot.clone())), "Applied");
    assert_eq!(
        query::verify(&net.state, &unit_gtin(), "U1", None, None, 20260101).additional_info,
        Some(AdditionalInfo::Suspect)
    );
    check(
        &net.submit("mfg", resolve(lot.clone(), SuspectResolution::Illegitimate)),
        "Applied",
    );
    let v = query::verify(&net.state, &unit_gtin(), "U1", None, None, 20260101);
    assert!(!v.verified);
    assert_eq!(v.failure_reason, Some(FailureReason::NotForRedistribution));
    assert_eq!(v.additional_info, Some(AdditionalInfo::Illegitimate));
    check(
        &net.submit("mfg", resolve(lot.clone(), SuspectResolution::Cleared)),
        "NotInvestigationAuthority",
    );
    check(
        &net.submit("reg", resolve(lot, SuspectResolution::Cleared)),
        "Applied",
    );
    assert!(query::verify(&net.state, &unit_gtin(), "U1", None, None, 20260101).verified);
}

// ---- Expiry extension (LMS ExpirationExtended) ----

#[test]
fn an_expiry_extension_verifies_as_extended_and_allows_dispensing() {
    let mut net = Net::new();
    let op = Op::Commission {
        objects: units(0..1),
        lot: Some("OLD".into()),
        expiry: Some(20251231),
    };
    check(&net.op("mfg", op), "Applied");
    let v = query::verify(&net.state, &unit_gtin(), "U0", None, None, 20260101);
    assert_eq!(v.additional_info, Some(AdditionalInfo::Expired));
    let extend = |expiry| TxBody::ExtendExpiry {
        gtin: unit_gtin(),
        lot: "OLD".into(),
        expiry,
    };
    check(&net.submit("dist", extend(20261231)), "NotLotAuthority");
    check(&net.submit("mfg", extend(20261331)), "MalformedBody");
    check(&net.submit("mfg", extend(20261231)), "Applied");
    check(&net.submit("mfg", extend(20260630)), "MalformedBody");
    // The printed and the extended expiry both match; the answer says it was extended.
    for expiry in [Some(20251231), Some(20261231), None] {
        let v = query::verify(
            &net.state,
            &unit_gtin(),
            "U0",
            Some("OLD"),
            expiry,
            20260101,
        );
        assert!(v.verified, "{expiry:?}: {v:?}");
        assert_eq!(v.additional_info, Some(AdditionalInfo::ExpirationExtended));
    }
    let later = query::verify(&net.state, &unit_gtin(), "U0", None, None, 20270101);
    assert_eq!(later.additional_info, Some(AdditionalInfo::Expired));
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: units(0..1),
                kind: DecommissionKind::Dispensed,
                location: None,
            },
        ),
        "Applied",
    );
}

// ---- Transformation, business transactions, associations ----

#[test]
fn transformation_consumes_inputs_and_commissions_outputs() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..4), "L1")), "Applied");
    check(&net.op("mfg", commission(vec![case(1)], "LC")), "Applied");
    check(
        &net.op(
            "mfg",
            Op::Pack {
                parent: case(1),
                children: units(3..4),
            },
        ),
        "Applied",
    );
    let kit = ObjectKey::sgtin(&case_gtin(), "KIT1").unwrap();
    let transform = |inputs: Vec<ObjectKey>, outputs: Vec<ObjectKey>| Op::Transform {
        inputs,
        outputs,
        lot: Some("K1".into()),
        expiry: Some(20271231),
    };
    check(
        &net.op("dist", transform(units(0..2), vec![kit.clone()])),
        "NotCustodian",
    );
    check(
        &net.op("mfg", transform(units(3..4), vec![kit.clone()])),
        "ObjectInsideContainer",
    );
    check(
        &net.op("mfg", transform(vec![case(1)], vec![kit.clone()])),
        "ContainerNotEmpty",
    );
    check(
        &net.op("mfg", transform(units(0..2), units(2..3))),
        "DuplicateSerial",
    );
    check(
        &net.op("mfg", transform(units(0..2), vec![kit.clone()])),
        "Applied",
    );
    assert_eq!(status(&net, &unit(0)), ObjectStatus::Consumed);
    assert_eq!(custodian(&net, &kit), "mfg");
    let v = query::verify(&net.state, &unit_gtin(), "U0", None, None, 20260101);
    assert!(!v.verified);
    assert_eq!(v.status, Some(QueryStatus::Consumed));
    assert_eq!(
        query::reconciliation(&net.state, &unit_gtin(), "L1")
            .counters
            .transformed,
        2
    );
    assert_eq!(
        query::reconciliation(&net.state, &case_gtin(), "K1")
            .counters
            .commissioned,
        1
    );
    // The input's trace ends in the transformation, whose event hash is the output's
    // commissioning event.
    let input_trace = query::trace(&net.state, &unit(0)).unwrap();
    let last = input_trace.history.last().unwrap();
    assert_eq!(
        last.action,
        HistoryAction::Decommissioned(DecommissionKind::Transformed)
    );
    let output = load_object(&net.state, &kit).unwrap();
    assert_eq!(output.commissioned_event, last.event_hash);
    // Consumed inputs are gone for good.
    check(
        &net.op("mfg", ship_to(units(0..1), "dist")),
        "ObjectDecommissioned",
    );
    check(
        &net.op(
            "mfg",
            Op::Reinstate {
                objects: units(0..1),
                location: None,
            },
        ),
        "RevertNotAllowed",
    );
    check(
        &net.op(
            "mfg",
            Op::Decommission {
                objects: units(2..3),
                kind: DecommissionKind::Transformed,
                location: None,
            },
        ),
        "MalformedBody",
    );
    // Recalled product cannot be transformed.
    check(&net.submit("reg", recall(unit_gtin(), "L1")), "Applied");
    let kit2 = ObjectKey::sgtin(&case_gtin(), "KIT2").unwrap();
    check(
        &net.op("mfg", transform(units(2..3), vec![kit2])),
        "LotRecalled",
    );
}

fn po(id: &str) -> BizTransaction {
    BizTransaction {
        biz_type: "po".into(),
        id: format!("urn:epcglobal:cbv:bt:0614141000005:{id}"),
    }
}

#[test]
fn business_transactions_are_linked_by_holder_or_receiver_and_traced() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(units(0..2), "L1")), "Applied");
    let link = |objects, action| Op::LinkTransactions {
        objects,
        transactions: vec![po("PO-42")],
        action,
    };
    check(
        &net.op("dist", link(units(0..2), LinkAction::Add)),
        "NotCustodian",
    );
    check(
        &net.op("mfg", link(units(0..2), LinkAction::Add)),
        "Applied",
    );
    check(&net.op("mfg", ship_to(units(0..2), "dist")), "Applied");
    // The receiver may link goods in transit to it (e.g. its despatch advice).
    let desadv = BizTransaction {
        biz_type: "desadv".into(),
        id: "urn:epcglobal:cbv:bt:0888881000001:ASN-7".into(),
    };
    check(
        &net.op(
            "dist",
            Op::LinkTransactions {
                objects: units(0..1),
                transactions: vec![desadv.clone()],
                action: LinkAction::Add,
            },
        ),
        "Applied",
    );
    assert_eq!(custodian(&net, &unit(0)), "mfg", "custody unchanged");
    check(
        &net.op("pharm", link(units(0..1), LinkAction::Observe)),
        "NotCustodian",
    );
    let trace = query::trace(&net.state, &unit(0)).unwrap();
    let linked: Vec<&HistoryAction> = trace
        .history
        .iter()
        .map(|e| &e.action)
        .filter(|a| matches!(a, HistoryAction::BizTransactions { .. }))
        .collect();
    assert_eq!(
        linked,
        vec![
            &HistoryAction::BizTransactions {
                action: LinkAction::Add,
                transactions: vec![po("PO-42")],
            },
            &HistoryAction::BizTransactions {
                action: LinkAction::Add,
                transactions: vec![desadv],
            },
        ]
    );
    check(
        &net.op(
            "mfg",
            Op::LinkTransactions {
                objects: units(0..1),
                transactions: vec![po("PO-99")],
                action: LinkAction::Delete,
            },
        ),
        "NotLinked",
    );
    check(
        &net.op("mfg", link(units(0..1), LinkAction::Delete)),
        "Applied",
    );
    let links = net.state.scan_prefix(b"btx/po\0", 10);
    assert_eq!(links.len(), 1, "only U1 is still linked to PO-42");
    // DELETE without objects removes the signer's remaining links.
    check(&net.op("mfg", link(vec![], LinkAction::Delete)), "Applied");
    assert!(net.state.scan_prefix(b"btx/po\0", 10).is_empty());
    check(
        &net.op("mfg", link(vec![], LinkAction::Add)),
        "MalformedBody",
    );
}

#[test]
fn an_asset_is_associated_without_custody_change() {
    let mut net = Net::new();
    check(&net.op("mfg", commission(vec![case(1)], "LC")), "Applied");
    let logger = "(8004)0614141LOGGER1".to_string();
    let associate = |objects, action| Op::Associate {
        asset: logger.clone(),
        objects,
        action,
    };
    check(
        &net.op("dist", associate(vec![case(1)], LinkAction::Add)),
        "NotCustodian",
    );
    check(
        &net.op("mfg", associate(vec![case(1)], LinkAction::Add)),
        "Applied",
    );
    assert_eq!(custodian(&net, &case(1)), "mfg");
    assert_eq!(net.state.scan_prefix(b"assoc/", 10).len(), 1);
    let trace = query::trace(&net.state, &case(1)).unwrap();
    assert!(trace.history.iter().any(|e| e.action
        == HistoryAction::Associated {
            action: LinkAction::Add,
            asset: logger.clone(),
        }));
    check(
        &net.op("mfg", associate(vec![case(2)], LinkAction::Delete)),
        "UnknownObject",
    );
    check(
        &net.op("mfg", associate(vec![], LinkAction::Delete)),
        "Applied",
    );
    assert!(net.state.scan_prefix(b"assoc/", 10).is_empty());
    check(
        &net.op("mfg", associate(vec![case(1)], LinkAction::Delete)),
        "NotLinked",
    );
}

// ---- Genesis delegations ----

#[test]
fn genesis_can_delegate_a_gtin_to_a_cmo() {
    let mut genesis = genesis();
    let without = genesis.network_id();
    genesis.delegations = vec![DelegationSpec {
        brand_owner: "mfg".into(),
        gtin: cmo_gtin(),
        cmo: "cmo".into(),
    }];
    genesis.validate().unwrap();
    assert_ne!(genesis.network_id(), without);
    let mut state = MemState::new();
    genesis.initialize(&mut state);
    let mut net = Net::new();
    net.state = state;
    net.network_id = genesis.network_id();
    let cmo_unit = ObjectKey::sgtin(&cmo_gtin(), "X1").unwrap();
    check(
        &net.op("cmo", commission(vec![cmo_unit.clone()], "L1")),
        "Applied",
    );
    check(
        &net.op("cmo", commission(units(0..1), "L1")),
        "NotBrandOwnerOrDelegate",
    );
    // Only a real CMO, and only the brand owner's GTIN.
    let mut bad = genesis.clone();
    bad.delegations[0].cmo = "dist".into();
    assert!(bad.validate().is_err());
    let mut bad = genesis;
    bad.delegations[0].brand_owner = "dist".into();
    assert!(bad.validate().is_err());
}
