//! Election Safety (Raft §5.2, Figure 3; TLA+ `ElectionSafety`): at most one leader can be
//! elected in a given term. Checked over every leader ever observed, not just current ones.

use pedigree_consensus::Role;

use super::{History, NodeView, Violation};

/// Records the leaders in `views` and reports a second leader for any term.
pub fn check(views: &[NodeView], history: &mut History, out: &mut Vec<Violation>) {
    for view in views {
        let Some(status) = &view.status else { continue };
        if status.role != Role::Leader {
            continue;
        }
        let leader = *history.leaders.entry(status.term).or_insert(view.id);
        if leader != view.id {
            out.push(Violation {
                invariant: "election_safety",
                time_ms: 0,
                detail: format!("term {} has leaders {leader} and {}", status.term, view.id),
            });
        }
    }
}
