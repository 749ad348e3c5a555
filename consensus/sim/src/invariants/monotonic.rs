//! Persisted term and commit index never decrease on a node, across crashes too (Raft §5.1
//! "currentTerm increases monotonically"; Figure 2 persistent state; commitIndex is monotonic).

use super::{History, NodeView, Violation};

/// Reports a node whose persisted term or commit went backwards.
pub fn check(views: &[NodeView], history: &mut History, out: &mut Vec<Violation>) {
    for view in views {
        let now = (view.hard_state.term, view.hard_state.commit);
        let before = history.progress.insert(view.id, now).unwrap_or((0, 0));
        if now.0 < before.0 || now.1 < before.1 {
            out.push(Violation {
                invariant: "monotonic",
                time_ms: 0,
                detail: format!(
                    "node {} went from (term, commit) {before:?} to {now:?}",
                    view.id
                ),
            });
        }
    }
}
