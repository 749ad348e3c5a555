//! The Merkle tree over a block's transaction ids, and inclusion proofs.
//!
//! RFC 6962 style with domain separation: `leaf = sha256(0x00 || tx_id)`,
//! `node = sha256(0x01 || left || right)`. Levels are built pairwise left to right;
//! an odd node at the end of a level is promoted unchanged. The root of an empty block
//! is `sha256("")`.

use super::service::{ProofStep, Side};
use pedigree_chaincode::Digest32;
use sha2::{Digest, Sha256};

/// `sha256(0x00 || tx_id)`.
pub fn leaf_hash(tx_id: &Digest32) -> Digest32 {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(tx_id);
    h.finalize().into()
}

/// `sha256(0x01 || left || right)`.
pub fn node_hash(left: &Digest32, right: &Digest32) -> Digest32 {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

fn next_level(level: &[Digest32]) -> Vec<Digest32> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => node_hash(left, right),
            [single] => *single,
            _ => unreachable!("chunks(2) yields one or two items"),
        })
        .collect()
}

/// The Merkle root over `tx_ids`.
pub fn root(tx_ids: &[Digest32]) -> Digest32 {
    if tx_ids.is_empty() {
        return Sha256::digest([]).into();
    }
    let mut level: Vec<Digest32> = tx_ids.iter().map(leaf_hash).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// The sibling path of `tx_ids[index]` (`None` if out of range).
pub fn proof(tx_ids: &[Digest32], index: usize) -> Option<Vec<ProofStep>> {
    if index >= tx_ids.len() {
        return None;
    }
    let mut steps = Vec::new();
    let mut level: Vec<Digest32> = tx_ids.iter().map(leaf_hash).collect();
    let mut at = index;
    while level.len() > 1 {
        let sibling = at ^ 1;
        if sibling < level.len() {
            let side = if sibling < at {
                Side::Left
            } else {
                Side::Right
            };
            steps.push(ProofStep {
                side,
                hash: level[sibling],
            });
        }
        level = next_level(&level);
        at /= 2;
    }
    Some(steps)
}

/// Recomputes the root from `tx_id` and `siblings`; true if it equals `root`.
pub fn verify_proof(tx_id: &Digest32, siblings: &[ProofStep], root: &Digest32) -> bool {
    let mut acc = leaf_hash(tx_id);
    for step in siblings {
        acc = match step.side {
            Side::Left => node_hash(&step.hash, &acc),
            Side::Right => node_hash(&acc, &step.hash),
        };
    }
    &acc == root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_merkle_every_leaf_proves_for_many_sizes() {
        for n in 1..=17u8 {
            let ids: Vec<Digest32> = (0..n).map(|i| [i; 32]).collect();
            let r = root(&ids);
            for (i, id) in ids.iter().enumerate() {
                let p = proof(&ids, i).expect("in range");
                assert!(verify_proof(id, &p, &r), "n={n} i={i}");
                assert!(!verify_proof(&[0xee; 32], &p, &r));
            }
            assert!(proof(&ids, n as usize).is_none());
        }
    }
}
