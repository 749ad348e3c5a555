//! The genesis node list as Raft sees it: ids, voters and learners.
//!
//! Raft ids are positions in the genesis node list, counted from 1: orgs in genesis order
//! (sorted by id), each org's nodes in genesis order (sorted). Every node derives the same
//! mapping from the same genesis, so no id is ever configured by hand. Nodes of an org with
//! the `regulator` role are **learners**: they replicate and verify everything but never vote
//! or propose.

use std::collections::BTreeMap;

use libp2p::PeerId;
use pedigree_chaincode::{Genesis, Role};

use super::{LedgerError, Result};

/// One node of the genesis list.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// The mapping between libp2p peer ids and Raft ids.
#[derive(Clone, Debug)]
pub struct PeerMap {
    entries: Vec<PeerEntry>,
    by_peer: BTreeMap<PeerId, u64>,
}

impl PeerMap {
    /// Derives the map from the genesis (module docs).
    ///
    /// # Errors
    ///
    /// [`LedgerError::Membership`] for an unparsable peer id, a peer listed twice, or no voter.
    pub fn from_genesis(genesis: &Genesis) -> Result<PeerMap> {
        let mut entries = Vec::new();
        let mut by_peer = BTreeMap::new();
        for org in &genesis.orgs {
            let learner = org.roles.contains(&Role::Regulator);
            for node in &org.nodes {
                let peer_id: PeerId = node.parse().map_err(|error| {
                    LedgerError::Membership(format!("org {} node {node:?}: {error}", org.id))
                })?;
                let raft_id = entries.len() as u64 + 1;
                if by_peer.insert(peer_id, raft_id).is_some() {
                    return Err(LedgerError::Membership(format!("node {node} listed twice")));
                }
                entries.push(PeerEntry {
                    raft_id,
                    peer_id,
                    org: org.id.clone(),
                    learner,
                });
            }
        }
        if !entries.iter().any(|entry| !entry.learner) {
            return Err(LedgerError::Membership(
                "genesis lists no voting node".into(),
            ));
        }
        Ok(PeerMap { entries, by_peer })
    }

    /// Every node, by Raft id.
    pub fn entries(&self) -> &[PeerEntry] {
        &self.entries
    }

    /// The Raft id of a peer.
    pub fn raft_id(&self, peer: &PeerId) -> Option<u64> {
        self.by_peer.get(peer).copied()
    }

    /// The entry of a Raft id.
    pub fn entry(&self, raft_id: u64) -> Option<&PeerEntry> {
        let position = usize::try_from(raft_id.checked_sub(1)?).ok()?;
        self.entries.get(position)
    }

    /// Raft ids of the voters.
    pub fn voters(&self) -> Vec<u64> {
        self.entries
            .iter()
            .filter(|entry| !entry.learner)
            .map(|entry| entry.raft_id)
            .collect()
    }

    /// Raft ids of the learners.
    pub fn learners(&self) -> Vec<u64> {
        self.entries
            .iter()
            .filter(|entry| entry.learner)
            .map(|entry| entry.raft_id)
            .collect()
    }
}
