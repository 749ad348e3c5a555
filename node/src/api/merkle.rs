//! The Merkle tree over a block's transaction ids, and inclusion proofs, in the API's shape;
//! the tree itself is the ledger's (`ledger::block`).
//!
//! RFC 6962 style with domain separation: `leaf = sha256(0x00 || tx_id)`,
//! `node = sha256(0x01 || left || right)`. Levels are built pairwise left to right;
//! an odd node at the end of a level is promoted unchanged. The root of an empty block
//! is `sha256("")`.

use super::service::{ProofStep, Side};
use crate::ledger::block::{self, MerkleProof};
use pedigree_chaincode::Digest32;

pub use crate::ledger::block::{leaf_hash, node_hash};

/// The Merkle root over `tx_ids` (the ledger's block tree).
pub fn root(tx_ids: &[Digest32]) -> Digest32 {
    block::merkle_root(tx_ids)
}

/// The sibling path of `tx_ids[index]` (`None` if out of range), in the API's shape.
pub fn proof(tx_ids: &[Digest32], index: usize) -> Option<Vec<ProofStep>> {
    let proof = MerkleProof::generate(tx_ids, u32::try_from(index).ok()?)?;
    Some(
        proof
            .siblings
            .into_iter()
            .map(|(side, hash)| ProofStep {
                side: match side {
                    block::Side::Left => Side::Left,
                    block::Side::Right => Side::Right,
                },
                hash,
            })
            .collect(),
    )
}

/// Recomputes the root from `tx_id` and `siblings`; true if it equals `root`.
pub fn verify_proof(tx_id: &Digest32, siblings: &[ProofStep], root: &Digest32) -> bool {
    let proof = MerkleProof {
        index: 0,
        siblings: siblings
            .iter()
            .map(|step| {
                let side = match step.side {
                    Side::Left => block::Side::Left,
                    Side::Right => block::Side::Right,
                };
                (side, step.hash)
            })
            .collect(),
    };
    proof.verify(tx_id, root)
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
