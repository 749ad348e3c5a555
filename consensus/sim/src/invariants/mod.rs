//! One invariant per module, each citing the Raft paper (Ongaro & Ousterhout, "In Search of an
//! Understandable Consensus Algorithm", 2014) or its TLA+ name. Periodic checks take
//! [`NodeView`]s; event checks are called when the event happens.

pub mod committed_stable;
pub mod durability;
pub mod election_safety;
pub mod liveness;
pub mod log_matching;
pub mod monotonic;
pub mod state_machine_safety;

use std::collections::{BTreeMap, BTreeSet};

use pedigree_consensus::ReplicaStatus;
use pedigree_consensus::eraftpb::{Entry, HardState};

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Module name of the invariant.
    pub invariant: &'static str,
    /// Virtual time of detection.
    pub time_ms: u64,
    /// What was seen.
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "[{}ms] {}: {}",
            self.time_ms, self.invariant, self.detail
        )
    }
}

/// What a periodic check sees of one node.
#[derive(Debug, Clone)]
pub struct NodeView {
    /// Node id.
    pub id: u64,
    /// Status if the replica is running (not crashed).
    pub status: Option<ReplicaStatus>,
    /// Persisted hard state.
    pub hard_state: HardState,
    /// Persisted entries after the snapshot.
    pub entries: Vec<Entry>,
}

/// What was applied at one index, the first time any replica applied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRecord {
    /// Term of the entry.
    pub term: u64,
    /// Digest of the entry's content.
    pub digest: u64,
    /// State-machine hash right after applying it.
    pub state_hash: u64,
    /// Values the entry carried.
    pub values: Vec<u64>,
}

/// Everything the checks remember across a run.
#[derive(Debug, Default)]
pub struct History {
    /// Leader of each term seen.
    pub leaders: BTreeMap<u64, u64>,
    /// (term, data digest) of each entry seen committed in a persisted log.
    pub committed: BTreeMap<u64, (u64, u64)>,
    /// First application of each index.
    pub applied: BTreeMap<u64, AppliedRecord>,
    /// Last (term, commit) seen per node.
    pub progress: BTreeMap<u64, (u64, u64)>,
    /// Values acknowledged as committed, with the index reported.
    pub acknowledged: BTreeMap<u64, u64>,
    /// Values whose drop was reported definitive.
    pub dropped: BTreeSet<u64>,
}

/// Digest of an entry's term, type and data.
pub fn entry_digest(entry: &Entry) -> u64 {
    let mut hash = crate::state_machine::mix(crate::state_machine::HASH_SEED, entry.term);
    hash = crate::state_machine::mix(hash, entry.entry_type as u64);
    crate::state_machine::mix(hash, crate::trace::bytes_hash(&entry.data))
}

/// Runs every periodic check.
pub fn check_all(
    time_ms: u64,
    views: &[NodeView],
    history: &mut History,
    out: &mut Vec<Violation>,
) {
    let mut found = Vec::new();
    election_safety::check(views, history, &mut found);
    log_matching::check(views, &mut found);
    committed_stable::check(views, history, &mut found);
    monotonic::check(views, history, &mut found);
    for mut violation in found {
        violation.time_ms = time_ms;
        out.push(violation);
    }
}
