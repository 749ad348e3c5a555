//! Log Matching (Raft §5.3, Figure 3; TLA+ `LogMatching`): if two logs contain an entry with
//! the same index and term, then the logs are identical in all entries up through that index.
//! Checked pairwise over the persisted logs, within the range both still hold.

use pedigree_consensus::eraftpb::Entry;

use super::{NodeView, Violation, entry_digest};

/// Reports pairs of persisted logs that agree on (index, term) somewhere but differ before it.
pub fn check(views: &[NodeView], out: &mut Vec<Violation>) {
    for (position, left) in views.iter().enumerate() {
        for right in &views[position + 1..] {
            check_pair(left, right, out);
        }
    }
}

fn at(view: &NodeView, index: u64) -> &Entry {
    &view.entries[(index - view.entries[0].index) as usize]
}

fn check_pair(left: &NodeView, right: &NodeView, out: &mut Vec<Violation>) {
    let (Some(left_first), Some(right_first)) = (left.entries.first(), right.entries.first())
    else {
        return;
    };
    let low = left_first.index.max(right_first.index);
    let high = left
        .entries
        .last()
        .map_or(0, |e| e.index)
        .min(right.entries.last().map_or(0, |e| e.index));
    if low > high {
        return;
    }
    // The highest index where the terms agree; everything from `low` up to it must match.
    let Some(matched) = (low..=high)
        .rev()
        .find(|index| at(left, *index).term == at(right, *index).term)
    else {
        return;
    };
    for index in low..=matched {
        let (left_entry, right_entry) = (at(left, index), at(right, index));
        assert_eq!(left_entry.index, index);
        if entry_digest(left_entry) != entry_digest(right_entry) {
            out.push(Violation {
                invariant: "log_matching",
                time_ms: 0,
                detail: format!(
                    "nodes {} and {} agree at index {matched} but differ at {index} (terms {} / {})",
                    left.id, right.id, left_entry.term, right_entry.term
                ),
            });
            return;
        }
    }
}
