//! Blocks: the header, its hash chain, the Merkle tree over transaction ids and inclusion proofs.
//!
//! # Encoding
//! Headers and blocks are encoded with the chaincode's canonical bincode configuration
//! ([`pedigree_chaincode::codec`]); the block hash is
//! `sha256("pedigree/block/v1\0" || bincode(header))`. The first block's `previous_hash` is
//! all zeros (genesis is state, not a block).
//!
//! # Merkle tree
//! RFC 6962 style with domain separation: `leaf = sha256(0x00 || item)`,
//! `node = sha256(0x01 || left || right)`. Levels are built pairwise from the left; an odd
//! node at the end of a level is **promoted unchanged** to the next level (it is not
//! duplicated, so a tree over `[a, b, c]` differs from one over `[a, b, c, c]`). The root of an
//! empty list is `sha256("")`. `tx_root` is the tree over the transaction ids; `receipts_root`
//! is the tree over `sha256("pedigree/receipt/v1\0" || bincode(receipt))` of each receipt.

use pedigree_chaincode::codec::{self, Digest32};
use pedigree_chaincode::{Receipt, SignedTx};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain tag of the block hash.
pub const DOMAIN_BLOCK: &[u8] = b"pedigree/block/v1\0";
/// Domain tag of a receipt's hash (a `receipts_root` leaf item).
pub const DOMAIN_RECEIPT: &[u8] = b"pedigree/receipt/v1\0";
/// The previous hash of the first block.
pub const ZERO_HASH: Digest32 = [0; 32];

/// The header of a block; its hash is the block hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// Height (the first block is 1).
    pub height: u64,
    /// Hash of the previous block (zeros for the first block).
    pub previous_hash: Digest32,
    /// Merkle root over the transaction ids.
    pub tx_root: Digest32,
    /// Merkle root over the receipt hashes.
    pub receipts_root: Digest32,
    /// Running state hash after applying the block.
    pub state_hash: Digest32,
    /// Block time, Unix ms: `max(proposal timestamp, previous block timestamp)`.
    pub timestamp_ms: u64,
    /// Raft id of the leader that proposed it.
    pub proposer: u64,
}

impl BlockHeader {
    /// `sha256("pedigree/block/v1\0" || bincode(self))`.
    pub fn hash(&self) -> Digest32 {
        codec::hash_parts(DOMAIN_BLOCK, &[&codec::encode(self)])
    }
}

/// A block: header, the signed transactions (body) and their receipts.
///
/// Receipts are not part of the body's hash input directly; they are committed to by
/// `receipts_root` in the header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions as proposed (including ones whose signature failed).
    pub txs: Vec<SignedTx>,
}

impl Block {
    /// The block hash.
    pub fn hash(&self) -> Digest32 {
        self.header.hash()
    }

    /// The transaction ids, in order.
    pub fn tx_ids(&self) -> Vec<Digest32> {
        self.txs.iter().map(SignedTx::tx_id).collect()
    }

    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Parses canonical bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Block> {
        codec::decode(bytes)
    }
}

/// The hash of one receipt (a leaf item of `receipts_root`).
pub fn receipt_hash(receipt: &Receipt) -> Digest32 {
    receipt_hash_of_bytes(&codec::encode(receipt))
}

/// [`receipt_hash`] of a receipt already encoded (`codec::encode(receipt)`).
pub fn receipt_hash_of_bytes(encoded: &[u8]) -> Digest32 {
    codec::hash_parts(DOMAIN_RECEIPT, &[encoded])
}

/// `sha256(0x00 || item)`.
pub fn leaf_hash(item: &Digest32) -> Digest32 {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(item);
    hasher.finalize().into()
}

/// `sha256(0x01 || left || right)`.
pub fn node_hash(left: &Digest32, right: &Digest32) -> Digest32 {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
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

/// The Merkle root over `items` (module docs).
pub fn merkle_root(items: &[Digest32]) -> Digest32 {
    if items.is_empty() {
        return Sha256::digest([]).into();
    }
    let mut level: Vec<Digest32> = items.iter().map(leaf_hash).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    assert_eq!(level.len(), 1);
    level[0]
}

/// Which side of the running hash a sibling sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// `node = H(0x01 || sibling || running)`.
    Left,
    /// `node = H(0x01 || running || sibling)`.
    Right,
}

/// An inclusion proof of one item (a transaction id) under a Merkle root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    /// Position of the item.
    pub index: u32,
    /// Siblings from the leaf up; promoted odd nodes contribute no step.
    pub siblings: Vec<(Side, Digest32)>,
}

impl MerkleProof {
    /// The proof of `items[index]` (`None` if out of range).
    pub fn generate(items: &[Digest32], index: u32) -> Option<MerkleProof> {
        let position = usize::try_from(index).ok()?;
        if position >= items.len() {
            return None;
        }
        let mut siblings = Vec::new();
        let mut level: Vec<Digest32> = items.iter().map(leaf_hash).collect();
        let mut at = position;
        while level.len() > 1 {
            let sibling = at ^ 1;
            if sibling < level.len() {
                let side = if sibling < at {
                    Side::Left
                } else {
                    Side::Right
                };
                siblings.push((side, level[sibling]));
            }
            level = next_level(&level);
            at /= 2;
        }
        assert_eq!(at, 0);
        Some(MerkleProof { index, siblings })
    }

    /// True if the proof leads from `item` to `root`.
    pub fn verify(&self, item: &Digest32, root: &Digest32) -> bool {
        let mut running = leaf_hash(item);
        for (side, sibling) in &self.siblings {
            running = match side {
                Side::Left => node_hash(sibling, &running),
                Side::Right => node_hash(&running, sibling),
            };
        }
        running == *root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(count: u8) -> Vec<Digest32> {
        (0..count).map(|seed| [seed; 32]).collect()
    }

    #[test]
    fn every_proof_verifies_and_wrong_ones_do_not() {
        for count in 1..=9u8 {
            let items = items(count);
            let root = merkle_root(&items);
            for index in 0..u32::from(count) {
                let proof = MerkleProof::generate(&items, index).unwrap();
                assert!(proof.verify(&items[index as usize], &root));
                assert!(!proof.verify(&[0xee; 32], &root));
            }
            assert!(MerkleProof::generate(&items, u32::from(count)).is_none());
        }
    }

    #[test]
    fn odd_node_is_promoted_not_duplicated() {
        let three = items(3);
        let mut four = three.clone();
        four.push(three[2]);
        assert_ne!(merkle_root(&three), merkle_root(&four));
        let left = node_hash(&leaf_hash(&three[0]), &leaf_hash(&three[1]));
        assert_eq!(merkle_root(&three), node_hash(&left, &leaf_hash(&three[2])));
        assert_eq!(merkle_root(&[]), <[u8; 32]>::from(Sha256::digest([])));
    }

    #[test]
    fn header_hash_covers_every_field() {
        let header = BlockHeader {
            height: 1,
            previous_hash: ZERO_HASH,
            tx_root: [1; 32],
            receipts_root: [2; 32],
            state_hash: [3; 32],
            timestamp_ms: 4,
            proposer: 5,
        };
        let mut other = header.clone();
        other.proposer = 6;
        assert_ne!(header.hash(), other.hash());
        let block = Block {
            header,
            txs: Vec::new(),
        };
        assert_eq!(Block::from_bytes(&block.to_bytes()), Some(block));
    }
}
