//! No acknowledged write is lost (the client-visible consequence of Raft §5.4 and §8): a value
//! reported `Committed { index }` is in the entry applied at that index everywhere, and ends up
//! in every converged state machine. Its dual: a value whose drop was reported definitive is
//! never applied anywhere.

use super::{History, Violation};

/// Called when a proposal's fate is `Committed { index }`.
pub fn on_committed(
    time_ms: u64,
    value: u64,
    index: u64,
    history: &mut History,
    out: &mut Vec<Violation>,
) {
    if let Some(previous) = history.acknowledged.insert(value, index) {
        out.push(Violation {
            invariant: "durability",
            time_ms,
            detail: format!("value {value} acknowledged twice (indexes {previous} and {index})"),
        });
    }
    if let Some(record) = history.applied.get(&index)
        && !record.values.contains(&value)
    {
        out.push(Violation {
            invariant: "durability",
            time_ms,
            detail: format!(
                "value {value} acknowledged at index {index}, which holds other values"
            ),
        });
    }
}

/// Final check over the whole history and the converged state machines' values.
pub fn check_final(
    time_ms: u64,
    history: &History,
    converged: &[(u64, &[u64])],
    out: &mut Vec<Violation>,
) {
    let mut applied_values = std::collections::BTreeSet::new();
    for record in history.applied.values() {
        applied_values.extend(record.values.iter().copied());
    }
    for (value, index) in &history.acknowledged {
        let held = history
            .applied
            .get(index)
            .is_some_and(|record| record.values.contains(value));
        if !held {
            out.push(Violation {
                invariant: "durability",
                time_ms,
                detail: format!(
                    "acknowledged value {value} is not in the entry applied at {index}"
                ),
            });
        }
    }
    for value in &history.dropped {
        if applied_values.contains(value) {
            out.push(Violation {
                invariant: "durability",
                time_ms,
                detail: format!("value {value} was reported definitively dropped but was applied"),
            });
        }
    }
    for (node, values) in converged {
        let set: std::collections::BTreeSet<u64> = values.iter().copied().collect();
        if let Some(missing) = history
            .acknowledged
            .keys()
            .find(|value| !set.contains(value))
        {
            out.push(Violation {
                invariant: "durability",
                time_ms,
                detail: format!("node {node} converged without acknowledged value {missing}"),
            });
        }
    }
}
