//! The membership as Raft sees it: libp2p peer ids ↔ Raft ids, and the Raft configuration the
//! ledger's membership state asks for.
//!
//! # Raft ids
//!
//! A Raft id is a pure function of the genesis and the peer id, so every node derives the same
//! id for the same peer without any id being configured or replicated:
//!
//! - a node listed in genesis has its position in the genesis node list, counted from 1: orgs
//!   in genesis order (sorted by id), each org's nodes in genesis order (sorted);
//! - any other node (added later by governance) has [`derived_raft_id`]: 63 bits of
//!   `sha256("pedigree/raft-id/v1\0" ‖ peer id bytes)` with the top bit set, so it can never
//!   collide with a genesis position. Should two added peers ever share an id (probability
//!   about 2⁻⁶³ per pair), the one registered first keeps it and the other is refused, on
//!   every node alike (registration follows the applied order).
//!
//! # Desired configuration
//!
//! [`desired_members`] reads the applied chaincode state: every `node/{peer_id}` record whose
//! org is active is a member; nodes of an org with the `regulator` role are **learners** (they
//! replicate and verify everything but never vote or propose), every other member is a voter.
//! The leader reconciles Raft's configuration toward this (see `event_loop`).

use std::collections::BTreeMap;

use libp2p::PeerId;
use pedigree_chaincode::records::OrgStatus;
use pedigree_chaincode::{Genesis, Role, StateView, keys, membership};
use sha2::{Digest, Sha256};

use super::{LedgerError, Result};

/// Most node records read from state (a membership is far smaller).
pub const MEMBER_NODES_MAX: u64 = 100_000;

/// Domain of [`derived_raft_id`].
const RAFT_ID_DOMAIN: &[u8] = b"pedigree/raft-id/v1\0";

/// The Raft id of a node not listed in genesis (module docs).
pub fn derived_raft_id(peer: &PeerId) -> u64 {
    let digest = Sha256::new()
        .chain_update(RAFT_ID_DOMAIN)
        .chain_update(peer.to_bytes())
        .finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes) | (1 << 63)
}

/// One node known to this ledger.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeerEntry {
    /// Raft id.
    pub raft_id: u64,
    /// libp2p peer id.
    pub peer_id: PeerId,
    /// Operating org.
    pub org: String,
    /// True for a learner (regulator) node.
    pub learner: bool,
}

/// Every node this ledger has ever known (genesis nodes and nodes registered later), by Raft
/// id. Entries are never forgotten: a removed node keeps its id, so messages to it can still be
/// addressed until Raft's configuration has dropped it too.
#[derive(Clone, Debug)]
pub struct PeerMap {
    genesis_positions: BTreeMap<PeerId, u64>,
    entries: BTreeMap<u64, PeerEntry>,
    by_peer: BTreeMap<PeerId, u64>,
}

impl PeerMap {
    /// The map of the genesis nodes (module docs).
    ///
    /// # Errors
    ///
    /// [`LedgerError::Membership`] for an unparsable peer id, a peer listed twice, or no voter.
    pub fn from_genesis(genesis: &Genesis) -> Result<PeerMap> {
        let mut map = PeerMap {
            genesis_positions: BTreeMap::new(),
            entries: BTreeMap::new(),
            by_peer: BTreeMap::new(),
        };
        for org in &genesis.orgs {
            let learner = org.roles.contains(&Role::Regulator);
            for node in &org.nodes {
                let peer_id: PeerId = node.parse().map_err(|error| {
                    LedgerError::Membership(format!("org {} node {node:?}: {error}", org.id))
                })?;
                let raft_id = map.genesis_positions.len() as u64 + 1;
                if map.genesis_positions.insert(peer_id, raft_id).is_some() {
                    return Err(LedgerError::Membership(format!("node {node} listed twice")));
                }
                map.entries.insert(
                    raft_id,
                    PeerEntry {
                        raft_id,
                        peer_id,
                        org: org.id.clone(),
                        learner,
                    },
                );
                map.by_peer.insert(peer_id, raft_id);
            }
        }
        if !map.entries.values().any(|entry| !entry.learner) {
            return Err(LedgerError::Membership(
                "genesis lists no voting node".into(),
            ));
        }
        Ok(map)
    }

    /// The Raft id `peer` has or would have (module docs).
    pub fn raft_id_for(&self, peer: &PeerId) -> u64 {
        self.genesis_positions
            .get(peer)
            .copied()
            .unwrap_or_else(|| derived_raft_id(peer))
    }

    /// True if `peer` is listed in genesis.
    pub fn in_genesis(&self, peer: &PeerId) -> bool {
        self.genesis_positions.contains_key(peer)
    }

    /// Registers (or updates the org and role of) a node; returns its Raft id, or `None` if
    /// another peer already holds the id (see the module docs).
    pub fn register(&mut self, peer_id: PeerId, org: &str, learner: bool) -> Option<u64> {
        let raft_id = self.raft_id_for(&peer_id);
        if let Some(existing) = self.entries.get(&raft_id)
            && existing.peer_id != peer_id
        {
            tracing::error!(
                %peer_id,
                holder = %existing.peer_id,
                raft_id,
                "raft id collision: node refused"
            );
            return None;
        }
        self.entries.insert(
            raft_id,
            PeerEntry {
                raft_id,
                peer_id,
                org: org.to_string(),
                learner,
            },
        );
        self.by_peer.insert(peer_id, raft_id);
        Some(raft_id)
    }

    /// Every known node, by Raft id.
    pub fn entries(&self) -> impl Iterator<Item = &PeerEntry> {
        self.entries.values()
    }

    /// The Raft id of a known peer.
    pub fn raft_id(&self, peer: &PeerId) -> Option<u64> {
        self.by_peer.get(peer).copied()
    }

    /// The entry of a Raft id.
    pub fn entry(&self, raft_id: u64) -> Option<&PeerEntry> {
        self.entries.get(&raft_id)
    }

    /// Raft ids of the genesis voters.
    pub fn genesis_voters(&self) -> Vec<u64> {
        self.genesis_ids(false)
    }

    /// Raft ids of the genesis learners.
    pub fn genesis_learners(&self) -> Vec<u64> {
        self.genesis_ids(true)
    }

    fn genesis_ids(&self, learner: bool) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .genesis_positions
            .values()
            .filter(|id| self.entries.get(id).is_some_and(|e| e.learner == learner))
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// A member node as recorded in chaincode state (before Raft ids are assigned).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StateMember {
    /// libp2p peer id.
    pub peer_id: PeerId,
    /// Operating org.
    pub org: String,
    /// True if the org is a regulator (a learner node).
    pub learner: bool,
}

/// The member nodes of the applied state: `node/{peer_id}` records of active orgs (module
/// docs). Unparsable peer ids are skipped (governance only checks their alphabet).
pub fn desired_members(state: &(impl StateView + ?Sized)) -> Vec<StateMember> {
    let prefix = keys::node("");
    let mut members = Vec::new();
    for (key, value) in state.scan_prefix(&prefix, MEMBER_NODES_MAX) {
        let Ok(text) = std::str::from_utf8(&key[prefix.len()..]) else {
            continue;
        };
        let Ok(peer_id) = text.parse::<PeerId>() else {
            tracing::warn!(
                peer = text,
                "member node with an unparsable peer id ignored"
            );
            continue;
        };
        let Some(org_id) = pedigree_chaincode::codec::decode::<String>(&value) else {
            continue;
        };
        let Some(org) = membership::org(state, &org_id) else {
            continue;
        };
        if org.status != OrgStatus::Active {
            continue;
        }
        members.push(StateMember {
            peer_id,
            org: org_id,
            learner: org.roles.contains(&Role::Regulator),
        });
    }
    members
}

#[cfg(test)]
mod tests {
    use super::*;
    use pedigree_chaincode::MemState;
    use pedigree_chaincode::records::OrgRecord;

    fn put_org(state: &mut MemState, id: &str, role: Role, status: OrgStatus) {
        let record = OrgRecord {
            id: id.into(),
            name: id.into(),
            roles: vec![role],
            status,
            since_height: 0,
        };
        membership::store(state, keys::org(id), &record);
    }

    fn put_node(state: &mut MemState, peer: &PeerId, org: &str) {
        membership::store(state, keys::node(&peer.to_string()), &org.to_string());
    }

    #[test]
    fn members_are_nodes_of_active_orgs_and_regulator_nodes_learn() {
        let mut state = MemState::new();
        put_org(&mut state, "mfg", Role::Manufacturer, OrgStatus::Active);
        put_org(&mut state, "reg", Role::Regulator, OrgStatus::Active);
        put_org(&mut state, "gone", Role::Distributor, OrgStatus::Removed);
        let (mfg, reg, gone) = (PeerId::random(), PeerId::random(), PeerId::random());
        put_node(&mut state, &mfg, "mfg");
        put_node(&mut state, &reg, "reg");
        put_node(&mut state, &gone, "gone");
        state.put(keys::node("not-a-peer-id"), codec_org("mfg"));
        let mut members = desired_members(&state);
        members.sort();
        let mut expected = vec![
            StateMember {
                peer_id: mfg,
                org: "mfg".into(),
                learner: false,
            },
            StateMember {
                peer_id: reg,
                org: "reg".into(),
                learner: true,
            },
        ];
        expected.sort();
        assert_eq!(members, expected);
    }

    fn codec_org(org: &str) -> Vec<u8> {
        pedigree_chaincode::codec::encode(&org.to_string())
    }

    #[test]
    fn derived_ids_are_stable_and_never_genesis_positions() {
        let peer = PeerId::random();
        let id = derived_raft_id(&peer);
        assert_eq!(id, derived_raft_id(&peer));
        assert!(id >= 1 << 63);
        assert_ne!(id, derived_raft_id(&PeerId::random()));
    }
}
