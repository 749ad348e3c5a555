//! Membership reconciliation: the one membership change the leader should propose next to move
//! Raft's configuration toward the configuration the membership state asks for.
//!
//! The desired configuration is a pure function of the applied ledger state (see
//! [`super::peers::desired_members`]), so whichever node leads computes the same target from
//! the same applied index; the leader calls [`next_change`] on every tick and proposes its
//! answer, one change at a time (raft-rs refuses a second change while one is pending). An
//! interrupted sequence (leader crash, lost proposal) is simply resumed by the next leader:
//! nothing is remembered between calls.
//!
//! Order of the steps, first applicable wins:
//!
//! 1. a desired node outside the configuration is added as a **learner** (it catches up by
//!    snapshot and log without counting in any quorum);
//! 2. a learner that should vote is promoted once it has caught up: it has acknowledged entries
//!    (or a snapshot) up to within [`PROMOTE_LAG_ENTRIES_MAX`] of the commit index. A learner
//!    that never answered (match index 0) is never promoted, so a node registered but not
//!    started does not become a voter that cannot vote;
//! 3. a member that should not be in the configuration (removed, or a voter that should only
//!    learn) is removed; if that member is the leader itself it first hands leadership to the
//!    most up-to-date desired voter, and the next leader removes it.
//!
//! A desired configuration without any voter is never pursued (it would stop the network).
//! Removals do not wait for promotions: a node registered but never started must not keep a
//! removed node voting, so replacing a voter may briefly leave one voter fewer.

use std::collections::BTreeSet;

use pedigree_consensus::eraftpb::ConfState;
use pedigree_consensus::{MembershipChange, PeerProgress};

/// How far (in entries) a learner's match index may trail the commit index for promotion.
pub const PROMOTE_LAG_ENTRIES_MAX: u64 = 64;

/// The configuration the membership state asks for, in Raft ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredConf {
    /// Voting members.
    pub voters: BTreeSet<u64>,
    /// Learners (regulator nodes).
    pub learners: BTreeSet<u64>,
}

impl DesiredConf {
    fn contains(&self, id: u64) -> bool {
        self.voters.contains(&id) || self.learners.contains(&id)
    }
}

/// The next change for leader `leader` with configuration `current` (as of the applied index)
/// toward `desired`; `progress` is the leader's view of a peer, `commit_index` its commit
/// index. `None` when nothing is to be done now.
pub fn next_change(
    desired: &DesiredConf,
    current: &ConfState,
    leader: u64,
    commit_index: u64,
    progress: impl Fn(u64) -> Option<PeerProgress>,
) -> Option<MembershipChange> {
    if desired.voters.is_empty() {
        return None;
    }
    if !current.voters_outgoing.is_empty() || !current.learners_next.is_empty() {
        // A joint configuration is being left; raft-rs finishes that on its own.
        return None;
    }
    let voters: BTreeSet<u64> = current.voters.iter().copied().collect();
    let learners: BTreeSet<u64> = current.learners.iter().copied().collect();
    // raft-rs leaves a caught-up peer in probe state while nothing new is appended, so the
    // match index (only raised by the peer's acknowledgements) is the criterion.
    let caught_up = |id: u64| {
        progress(id).is_some_and(|progress| {
            progress.matched > 0 && progress.matched + PROMOTE_LAG_ENTRIES_MAX >= commit_index
        })
    };
    // 1. Add missing nodes as learners.
    if let Some(id) = desired
        .voters
        .iter()
        .chain(&desired.learners)
        .find(|id| !voters.contains(id) && !learners.contains(id))
    {
        return Some(MembershipChange::AddLearner(*id));
    }
    // 2. Promote caught-up learners that should vote.
    if let Some(id) = desired
        .voters
        .iter()
        .find(|id| learners.contains(id) && caught_up(**id))
    {
        return Some(MembershipChange::PromoteLearner(*id));
    }
    // 3. Remove members that should not be there (or should not vote).
    let unwanted = voters
        .iter()
        .filter(|id| !desired.voters.contains(id))
        .chain(learners.iter().filter(|id| !desired.contains(**id)));
    for id in unwanted {
        if *id != leader {
            return Some(MembershipChange::RemoveNode(*id));
        }
        // The leader cannot remove itself: hand over to the best desired voter first.
        let target = voters
            .iter()
            .filter(|voter| **voter != leader && desired.voters.contains(voter))
            .filter_map(|voter| {
                progress(*voter)
                    .filter(|progress| progress.matched > 0)
                    .map(|progress| (progress.matched, *voter))
            })
            .max();
        if let Some((_, voter)) = target {
            return Some(MembershipChange::TransferLeader(voter));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(voters: &[u64], learners: &[u64]) -> ConfState {
        ConfState {
            voters: voters.to_vec(),
            learners: learners.to_vec(),
            ..ConfState::default()
        }
    }

    fn desired(voters: &[u64], learners: &[u64]) -> DesiredConf {
        DesiredConf {
            voters: voters.iter().copied().collect(),
            learners: learners.iter().copied().collect(),
        }
    }

    fn at(matched: u64) -> Option<PeerProgress> {
        Some(PeerProgress {
            matched,
            replicating: true,
        })
    }

    #[test]
    fn in_sync_does_nothing() {
        let change = next_change(
            &desired(&[1, 2, 3], &[4]),
            &conf(&[1, 2, 3], &[4]),
            1,
            9,
            at,
        );
        assert_eq!(change, None);
    }

    #[test]
    fn a_new_voter_is_added_as_learner_then_promoted_when_caught_up() {
        let target = desired(&[1, 2, 3, 9], &[4]);
        assert_eq!(
            next_change(&target, &conf(&[1, 2, 3], &[4]), 1, 100, at),
            Some(MembershipChange::AddLearner(9))
        );
        let joined = conf(&[1, 2, 3], &[4, 9]);
        let behind = |id| if id == 9 { at(10) } else { at(100) };
        assert_eq!(next_change(&target, &joined, 1, 100, behind), None);
        // Never heard from (not started): not promoted even when the log is short.
        assert_eq!(next_change(&target, &joined, 1, 3, |_| at(0)), None);
        // Caught up, even if raft-rs still probes it (idle cluster).
        let probing = |_| {
            Some(PeerProgress {
                matched: 90,
                replicating: false,
            })
        };
        assert_eq!(
            next_change(&target, &joined, 1, 100, probing),
            Some(MembershipChange::PromoteLearner(9))
        );
    }

    #[test]
    fn a_regulator_node_stays_a_learner() {
        let target = desired(&[1, 2, 3], &[4, 9]);
        assert_eq!(
            next_change(&target, &conf(&[1, 2, 3], &[4]), 1, 5, at),
            Some(MembershipChange::AddLearner(9))
        );
        assert_eq!(
            next_change(&target, &conf(&[1, 2, 3], &[4, 9]), 1, 5, at),
            None
        );
    }

    #[test]
    fn removed_members_are_removed_and_the_leader_hands_over_first() {
        let target = desired(&[1, 3], &[]);
        assert_eq!(
            next_change(&target, &conf(&[1, 2, 3], &[4]), 1, 5, at),
            Some(MembershipChange::RemoveNode(2))
        );
        assert_eq!(
            next_change(&target, &conf(&[1, 3], &[4]), 1, 5, at),
            Some(MembershipChange::RemoveNode(4))
        );
        // Leader 2 is the one to go: transfer to the most up-to-date desired voter.
        let progress = |id| match id {
            1 => at(4),
            3 => at(5),
            _ => None,
        };
        assert_eq!(
            next_change(&target, &conf(&[1, 2, 3], &[]), 2, 5, progress),
            Some(MembershipChange::TransferLeader(3))
        );
    }

    #[test]
    fn never_toward_no_voters_nor_during_a_joint_configuration() {
        assert_eq!(
            next_change(&desired(&[], &[4]), &conf(&[1, 2], &[4]), 1, 5, at),
            None
        );
        let joint = ConfState {
            voters: vec![1, 2],
            voters_outgoing: vec![1, 2, 3],
            ..ConfState::default()
        };
        assert_eq!(next_change(&desired(&[1, 2], &[]), &joint, 1, 5, at), None);
    }
}
