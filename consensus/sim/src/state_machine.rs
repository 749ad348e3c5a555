//! The simulated replicated state machine: an append-only log of `u64`s with a running hash.

use pedigree_consensus::Proposal;

/// Mixes `value` into `hash` (FNV-1a over the little-endian bytes).
pub fn mix(hash: u64, value: u64) -> u64 {
    let mut hash = hash;
    for byte in value.to_le_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Initial hash value.
pub const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// Decodes a simulator payload: a little-endian `u64` in the first 8 bytes (benchmarks pad it).
///
/// # Panics
///
/// Panics on a payload the simulator did not produce.
pub fn payload_value(payload: &[u8]) -> u64 {
    assert!(
        payload.len() >= 8,
        "simulator payloads start with 8 value bytes"
    );
    u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"))
}

/// The append-only log state; volatile, rebuilt from snapshot plus replay after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachine {
    /// Every applied value, in order.
    pub values: Vec<u64>,
    /// Running hash over `values`.
    pub hash: u64,
    /// Index of the last applied entry.
    pub applied_index: u64,
}

impl Default for StateMachine {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            hash: HASH_SEED,
            applied_index: 0,
        }
    }
}

impl StateMachine {
    /// Applies a committed entry's proposals.
    pub fn apply_entry(&mut self, index: u64, proposals: &[Proposal]) {
        assert!(
            index > self.applied_index,
            "apply {index} after {}",
            self.applied_index
        );
        for proposal in proposals {
            let value = payload_value(&proposal.payload);
            self.values.push(value);
            self.hash = mix(self.hash, value);
        }
        self.applied_index = index;
    }

    /// Records a non-data entry (membership change) at `index`.
    pub fn skip_to(&mut self, index: u64) {
        assert!(index > self.applied_index);
        self.applied_index = index;
    }

    /// Encodes the state at `applied_index`.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(16 + self.values.len() * 8);
        bytes.extend_from_slice(&self.hash.to_le_bytes());
        bytes.extend_from_slice(&self.applied_index.to_le_bytes());
        for value in &self.values {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        bytes
    }

    /// Replaces the state with a snapshot taken at `index` (empty data: the bootstrap state).
    pub fn restore(&mut self, index: u64, data: &[u8]) {
        if data.is_empty() {
            *self = Self {
                applied_index: index,
                ..Self::default()
            };
            return;
        }
        assert!(
            data.len() >= 16 && data.len().is_multiple_of(8),
            "malformed simulator snapshot"
        );
        let word =
            |k: usize| u64::from_le_bytes(data[k * 8..k * 8 + 8].try_into().expect("8 bytes"));
        let values: Vec<u64> = (2..data.len() / 8).map(word).collect();
        let hash = values
            .iter()
            .fold(HASH_SEED, |hash, value| mix(hash, *value));
        assert_eq!(hash, word(0), "snapshot hash does not match its values");
        assert_eq!(word(1), index, "snapshot taken at another index");
        *self = Self {
            values,
            hash,
            applied_index: index,
        };
    }
}
