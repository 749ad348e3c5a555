//! Committed entries never change (Raft §5.4, Leader Completeness and State Machine Safety;
//! TLA+ `LeaderCompleteness`): once any persisted log holds an entry at an index not above its
//! persisted commit index, every persisted log that holds that index holds the same entry.

use super::{History, NodeView, Violation, entry_digest};

/// Compares every persisted, committed entry with the first one recorded for its index.
pub fn check(views: &[NodeView], history: &mut History, out: &mut Vec<Violation>) {
    for view in views {
        let commit = view.hard_state.commit;
        for entry in view
            .entries
            .iter()
            .take_while(|entry| entry.index <= commit)
        {
            let seen = (entry.term, entry_digest(entry));
            let first = *history.committed.entry(entry.index).or_insert(seen);
            if first != seen {
                out.push(Violation {
                    invariant: "committed_stable",
                    time_ms: 0,
                    detail: format!(
                        "node {} holds term {} at committed index {}, first seen with term {}",
                        view.id, entry.term, entry.index, first.0
                    ),
                });
            }
        }
    }
}
