//! Liveness after healing (Raft §5.2/§9.3 assume eventual synchrony; openraft's turmoil "must
//! completely heal"): once faults stop, all crashed members restart and the network is
//! reliable, the cluster elects a leader, commits new proposals, and every member converges to
//! the same applied index and state.

use super::Violation;

/// The outcome of a liveness phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivenessOutcome {
    /// Liveness proposals committed / submitted.
    pub committed: usize,
    /// Liveness proposals required.
    pub required: usize,
    /// Applied (index, state hash) of every member at the end.
    pub members: Vec<(u64, u64, u64)>,
    /// Virtual time the phase took.
    pub elapsed_ms: u64,
}

/// Reports a phase that did not commit everything or did not converge.
pub fn check(time_ms: u64, outcome: &LivenessOutcome, out: &mut Vec<Violation>) {
    if outcome.committed < outcome.required {
        out.push(Violation {
            invariant: "liveness",
            time_ms,
            detail: format!(
                "only {}/{} proposals committed within {}ms after healing",
                outcome.committed, outcome.required, outcome.elapsed_ms
            ),
        });
    }
    let first = outcome.members.first().map(|member| (member.1, member.2));
    if outcome
        .members
        .iter()
        .any(|member| Some((member.1, member.2)) != first)
    {
        out.push(Violation {
            invariant: "liveness",
            time_ms,
            detail: format!(
                "members did not converge: (id, applied, hash) {:x?}",
                outcome.members
            ),
        });
    }
}
