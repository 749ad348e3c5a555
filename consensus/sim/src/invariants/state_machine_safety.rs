//! State Machine Safety (Raft §5.4.3, Figure 3; TLA+ `StateMachineSafety`): if a server has
//! applied a log entry at a given index, no other server ever applies a different entry for
//! that index. Also checked: the state-machine hash after applying it is the same everywhere.

use super::{AppliedRecord, History, Violation};

/// Called for every entry any replica applies (including re-applies after a restart).
pub fn on_apply(
    time_ms: u64,
    node: u64,
    index: u64,
    record: AppliedRecord,
    history: &mut History,
    out: &mut Vec<Violation>,
) {
    let first = history
        .applied
        .entry(index)
        .or_insert_with(|| record.clone());
    if *first != record {
        out.push(Violation {
            invariant: "state_machine_safety",
            time_ms,
            detail: format!(
                "node {node} applied term {} (state {:#x}) at index {index}, first applied with term {} (state {:#x})",
                record.term, record.state_hash, first.term, first.state_hash
            ),
        });
    }
}
