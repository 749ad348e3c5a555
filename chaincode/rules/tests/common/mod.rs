//! Test harness: a five-org network on an in-memory state, deterministic keys, one
//! transaction per block unless a test builds blocks itself.
#![allow(dead_code, unreachable_pub, missing_docs)] // Shared by several test crates; each uses a subset.

use ed25519_dalek::SigningKey;
use pedigree_chaincode::governance::{GlnSpec, KeySpec};
use pedigree_chaincode::ident::check_digit;
use pedigree_chaincode::records::GovernanceConfig;
use pedigree_chaincode::*;
use std::collections::BTreeMap;

pub const GENESIS_TIME_MS: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
pub const DAY_MS: u64 = 86_400_000;

/// Appends the mod-10 check digit.
pub fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body).unwrap())
}

pub fn unit_gtin() -> String {
    with_check("0061414107346")
}
pub fn case_gtin() -> String {
    with_check("1061414107346")
}
pub fn cmo_gtin() -> String {
    with_check("0061414199999")
}
pub fn unit(serial: u64) -> ObjectKey {
    ObjectKey::sgtin(&unit_gtin(), &format!("U{serial}")).unwrap()
}
pub fn case(serial: u64) -> ObjectKey {
    ObjectKey::sgtin(&case_gtin(), &format!("C{serial}")).unwrap()
}
pub fn pallet(serial: u64) -> ObjectKey {
    ObjectKey::sscc(&with_check(&format!("00614141{serial:09}"))).unwrap()
}
pub fn gln(org_digits: &str) -> String {
    with_check(&format!("{org_digits}00000"))
}

pub fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn org(id: &str, roles: Vec<Role>, seed: u8, prefixes: &[&str], gln_digits: &str) -> OrgSpec {
    OrgSpec {
        id: id.to_string(),
        name: format!("{id} inc."),
        roles,
        keys: vec![KeySpec {
            id: "k1".into(),
            public_key: signing_key(seed).verifying_key().to_bytes(),
        }],
        company_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        glns: vec![GlnSpec {
            gln: gln(gln_digits),
            name: format!("{id} HQ"),
        }],
        nodes: vec![format!("12D3KooW{id}")],
    }
}

pub fn genesis() -> Genesis {
    let orgs = vec![
        org("cmo", vec![Role::Cmo], 2, &["0777771"], "0777771"),
        org("dist", vec![Role::Distributor], 3, &["0888881"], "0888881"),
        org("mfg", vec![Role::Manufacturer], 1, &["0614141"], "0614141"),
        org("pharm", vec![Role::Dispenser], 4, &[], "0999991"),
        org("reg", vec![Role::Regulator], 5, &[], "0555551"),
    ];
    let genesis = Genesis {
        network_name: "test".into(),
        genesis_time_ms: GENESIS_TIME_MS,
        governance: GovernanceConfig {
            quorum_numerator: 1,
            quorum_denominator: 2,
        },
        orgs,
        delegations: Vec::new(),
    };
    genesis.validate().unwrap();
    genesis
}

pub struct Net {
    pub state: MemState,
    pub network_id: Digest32,
    pub height: u64,
    pub now_ms: u64,
    pub nonce: u64,
    pub keys: BTreeMap<String, (String, SigningKey)>,
}

impl Net {
    pub fn new() -> Net {
        let genesis = genesis();
        let mut state = MemState::new();
        genesis.initialize(&mut state);
        let mut keys = BTreeMap::new();
        for (seed, id) in ["mfg", "cmo", "dist", "pharm", "reg"].iter().enumerate() {
            keys.insert(
                id.to_string(),
                ("k1".to_string(), signing_key(seed as u8 + 1)),
            );
        }
        Net {
            state,
            network_id: genesis.network_id(),
            height: 0,
            now_ms: GENESIS_TIME_MS,
            nonce: 0,
            keys,
        }
    }

    pub fn envelope(&mut self, org: &str, body: TxBody) -> TxEnvelope {
        let (key_id, key) = &self.keys[org];
        self.nonce += 1;
        TxEnvelope {
            network_id: self.network_id,
            signer_org: org.to_string(),
            key_id: key_id.clone(),
            public_key: key.verifying_key().to_bytes(),
            nonce: self.nonce,
            body,
        }
    }

    pub fn signed(&mut self, org: &str, body: TxBody) -> VerifiedTx {
        let envelope = self.envelope(org, body);
        let key = self.keys[org].1.clone();
        envelope.sign(&key).verify().unwrap()
    }

    pub fn next_ctx(&mut self) -> BlockCtx {
        self.height += 1;
        self.now_ms += 1000;
        BlockCtx {
            height: self.height,
            timestamp_ms: self.now_ms,
        }
    }

    pub fn block(&mut self, txs: &[VerifiedTx]) -> BlockOutcome {
        let ctx = self.next_ctx();
        apply_block(&mut self.state, &ctx, txs)
    }

    pub fn submit(&mut self, org: &str, body: TxBody) -> Receipt {
        let tx = self.signed(org, body);
        self.block(&[tx]).receipts.remove(0)
    }

    pub fn ops(&mut self, org: &str, ops: Vec<Op>) -> Receipt {
        let event_time_ms = self.now_ms + 1000;
        self.submit(
            org,
            TxBody::Ops(OpsEvent {
                event_time_ms,
                ops,
                error_declaration: None,
            }),
        )
    }

    pub fn op(&mut self, org: &str, op: Op) -> Receipt {
        self.ops(org, vec![op])
    }

    pub fn hash(&self) -> Digest32 {
        state_hash(&self.state)
    }

    /// Approves a governance action by the given orgs and submits it from `submitter`.
    pub fn govern(
        &mut self,
        submitter: &str,
        approvers: &[&str],
        action: GovAction,
        effective_height: u64,
    ) -> Receipt {
        let nonce = self.nonce + 1000;
        let digest = approval_digest(&self.network_id, &action, effective_height, nonce);
        let approvals = approvers
            .iter()
            .map(|org| {
                let (key_id, key) = &self.keys[*org];
                use ed25519_dalek::Signer;
                Approval {
                    org: org.to_string(),
                    key_id: key_id.clone(),
                    signature: key.sign(&digest),
                }
            })
            .collect();
        let body = TxBody::Governance(GovernanceTx {
            action,
            effective_height,
            proposal_nonce: nonce,
            approvals,
        });
        self.submit(submitter, body)
    }
}

/// The one assertion helper of the scenario tests: the outcome name, and on mismatch
/// the receipt message.
pub fn check(receipt: &Receipt, expected: &str) {
    let actual = format!("{:?}", receipt.outcome);
    assert_eq!(
        actual, expected,
        "unexpected outcome; message: {}",
        receipt.message
    );
}

pub fn commission(objects: Vec<ObjectKey>, lot: &str) -> Op {
    Op::Commission {
        objects,
        lot: Some(lot.to_string()),
        expiry: Some(20271231),
    }
}

pub fn units(range: std::ops::Range<u64>) -> Vec<ObjectKey> {
    range.map(unit).collect()
}

pub fn ship_to(objects: Vec<ObjectKey>, org: &str) -> Op {
    Op::Ship {
        objects,
        destination: Party::Org(org.to_string()),
    }
}
