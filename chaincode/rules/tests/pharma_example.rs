//! The GS1 US pharma example (DSCSA guideline §2.2.1.1, manufacturer → wholesaler),
//! read at run time from the conformance corpus and applied as signed EPCIS
//! transactions; then the wholesaler receives the pallet.
//!
//! The corpus is found through `$PEDIGREE_CONFORMANCE` or `../shared/conformance`
//! beside the repository. Without it the test is skipped with a message, except under
//! `CI=true`, where it fails.

mod common;

use common::{check, signing_key, with_check};
use pedigree_chaincode::governance::{GlnSpec, KeySpec};
use pedigree_chaincode::query::{self, AdditionalInfo, QueryStatus};
use pedigree_chaincode::records::GovernanceConfig;
use pedigree_chaincode::*;
use pedigree_epcis::model::{Action, BizStep, Disposition, EpcisEvent, EventType, Location};
use std::path::PathBuf;

const EXAMPLE: &str = "openepcis-test-resources/core/src/main/resources/1.2/EPCIS/XML/Capture/Documents/GS1_US_Pharma_Example_2_2_1_1.xml";

fn corpus_file() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("PEDIGREE_CONFORMANCE") {
        candidates.push(PathBuf::from(dir));
    }
    let manifest = manifest_dir();
    candidates.push(manifest.join("../../../shared/conformance"));
    candidates.push(manifest.join("../../shared/conformance"));
    candidates
        .into_iter()
        .map(|dir| dir.join(EXAMPLE))
        .find(|path| path.is_file())
}

fn org(id: &str, role: Role, seed: u8, prefix: &str, glns: &[&str]) -> OrgSpec {
    OrgSpec {
        id: id.into(),
        name: id.into(),
        roles: vec![role],
        keys: vec![KeySpec {
            id: "k1".into(),
            public_key: signing_key(seed).verifying_key().to_bytes(),
        }],
        company_prefixes: if prefix.is_empty() {
            vec![]
        } else {
            vec![prefix.into()]
        },
        glns: glns
            .iter()
            .map(|body| GlnSpec {
                gln: with_check(body),
                name: id.into(),
            })
            .collect(),
        nodes: vec![],
    }
}

struct Ledger {
    state: MemState,
    network_id: Digest32,
    height: u64,
    nonce: u64,
}

impl Ledger {
    fn submit(&mut self, org: &str, seed: u8, body: TxBody) -> Receipt {
        self.nonce += 1;
        self.height += 1;
        let envelope = TxEnvelope {
            network_id: self.network_id,
            signer_org: org.into(),
            key_id: "k1".into(),
            public_key: signing_key(seed).verifying_key().to_bytes(),
            nonce: self.nonce,
            body,
        };
        let tx = envelope.sign(&signing_key(seed)).verify().unwrap();
        // 2023-04-01T12:00:00Z plus one second per block.
        let ctx = BlockCtx {
            height: self.height,
            timestamp_ms: 1_680_350_400_000 + self.height * 1000,
        };
        apply_block(&mut self.state, &ctx, &[tx]).receipts.remove(0)
    }
}

#[test]
fn gs1_us_pharma_manufacturer_to_wholesaler() {
    let Some(path) = corpus_file() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "conformance corpus missing under CI: {EXAMPLE}"
        );
        eprintln!("SKIPPED: conformance corpus not found (set PEDIGREE_CONFORMANCE)");
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let document = pedigree_epcis::xml::parse_document(&text).unwrap();
    assert_eq!(document.events.len(), 8);

    let genesis = Genesis {
        network_name: "dscsa-example".into(),
        genesis_time_ms: 1_680_000_000_000,
        governance: GovernanceConfig {
            quorum_numerator: 1,
            quorum_denominator: 2,
        },
        orgs: vec![
            org(
                "gs1-pharma",
                Role::Manufacturer,
                1,
                "030001",
                &["030001111111", "030001111121"],
            ),
            org(
                "gs1-drug-distributor",
                Role::Distributor,
                2,
                "039999",
                &["039999999999", "039999345678"],
            ),
            org("fda", Role::Regulator, 3, "", &[]),
        ],
        delegations: Vec::new(),
    };
    genesis.validate().unwrap();
    let mut ledger = Ledger {
        state: MemState::new(),
        network_id: genesis.network_id(),
        height: 0,
        nonce: 0,
    };
    genesis.initialize(&mut ledger.state);

    for event in &document.events {
        let receipt = ledger.submit("gs1-pharma", 1, TxBody::Epcis(Box::new(event.clone())));
        check(&receipt, "Applied");
    }
    // Sending the same document again changes nothing.
    let again = ledger.submit(
        "gs1-pharma",
        1,
        TxBody::Epcis(Box::new(document.events[0].clone())),
    );
    check(&again, "DuplicateEvent");

    let unit_gtin = with_check("0030001012345");
    let case_gtin = with_check("1030001012345");
    let pallet = ObjectKey::sscc(&with_check("40300011234567890")).unwrap();
    let in_transit = query::verify(
        &ledger.state,
        &unit_gtin,
        "11",
        Some("A123"),
        Some(20250327),
        20230401,
    );
    assert!(in_transit.verified);
    assert_eq!(in_transit.status, Some(QueryStatus::InTransit));

    // Only the destination owning party (039999.999999.0) may receive.
    let mut receiving = EpcisEvent::new(EventType::ObjectEvent);
    receiving.event_time = Some(pedigree_epcis::model::EpcisTime::new(
        "2023-04-02T10:00:00Z",
    ));
    receiving.event_time_zone_offset = Some("-05:00".into());
    receiving.epc_list = Some(vec!["urn:epc:id:sscc:030001.41234567890".into()]);
    receiving.action = Some(Action::Observe);
    receiving.biz_step = Some(BizStep::new("receiving"));
    receiving.disposition = Some(Disposition::new("in_progress"));
    receiving.read_point = Some(Location {
        id: "urn:epc:id:sgln:039999.345678.0".into(),
        extensions: vec![],
    });
    check(
        &ledger.submit("fda", 3, TxBody::Epcis(Box::new(receiving.clone()))),
        "NotReceiver",
    );
    check(
        &ledger.submit(
            "gs1-drug-distributor",
            2,
            TxBody::Epcis(Box::new(receiving)),
        ),
        "Applied",
    );

    let received = query::verify(
        &ledger.state,
        &unit_gtin,
        "22",
        Some("A123"),
        Some(20250327),
        20230402,
    );
    assert!(received.verified);
    assert_eq!(received.status, Some(QueryStatus::Active));
    assert_eq!(received.custodian.as_deref(), Some("gs1-drug-distributor"));
    let later = query::verify(&ledger.state, &unit_gtin, "22", None, None, 20250328);
    assert_eq!(later.additional_info, Some(AdditionalInfo::Expired));

    let trace = query::trace_uri(&ledger.state, "urn:epc:id:sgtin:030001.0012345.11").unwrap();
    assert_eq!(
        trace.parent_chain,
        vec![ObjectKey::sgtin(&case_gtin, "110").unwrap(), pallet]
    );
    assert!(trace.history.len() >= 4, "{:#?}", trace.history);

    let units = query::reconciliation(&ledger.state, &unit_gtin, "A123");
    let c = &units.counters;
    assert_eq!(
        (c.commissioned, c.packed, c.shipped, c.received),
        (12, 12, 12, 12)
    );
    let cases = query::reconciliation(&ledger.state, &case_gtin, "A123");
    assert_eq!((cases.counters.commissioned, cases.counters.packed), (3, 3));
    let scope = query::recall_scope(&ledger.state, &unit_gtin, "A123");
    assert_eq!(
        scope.by_custodian["gs1-drug-distributor"][&QueryStatus::Active].len(),
        12
    );
}

/// The package directory as cargo gives it at run time (right even in a shared target dir).
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
