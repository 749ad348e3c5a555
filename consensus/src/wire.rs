//! The outer message envelope exchanged between replicas, and the encoding of proposal batches
//! inside log entries. Both decoders bound every size and never panic on crafted input.

use bincode::{Decode, Encode};

/// Largest encoded [`WireMessage`] accepted by [`decode`], in bytes.
pub const WIRE_MESSAGE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Most payloads in one proposal batch (one log entry) or one forward message.
pub const BATCH_PAYLOADS_MAX: usize = 4096;
/// Most payload bytes in one proposal batch (one log entry) or one forward message.
pub const BATCH_BYTES_MAX: usize = 1024 * 1024;
/// Largest single payload, in bytes.
pub const PAYLOAD_BYTES_MAX: usize = 256 * 1024;
/// Largest encoded entry accepted by [`decode_batch`]: the payloads plus per-payload framing.
pub const ENTRY_BYTES_MAX: usize = BATCH_BYTES_MAX + BATCH_PAYLOADS_MAX * 32 + 64;
/// Most chunks one streamed snapshot may have.
pub const SNAPSHOT_CHUNKS_MAX: u32 = 65_536;

const _: () = assert!(PAYLOAD_BYTES_MAX <= BATCH_BYTES_MAX);
const _: () = assert!(ENTRY_BYTES_MAX < WIRE_MESSAGE_BYTES_MAX);

/// One client payload, tagged with the replica it was submitted to (`origin`) and the id the
/// caller chose there. Payloads are opaque to consensus.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Proposal {
    /// Replica that accepted the proposal from its client and reports its fate.
    pub origin: u64,
    /// Caller-chosen id, unique per origin among pending proposals.
    pub id: u64,
    /// The opaque transaction bytes.
    pub payload: Vec<u8>,
}

/// Why a proposal was dropped. All reasons except `OutcomeUnknown` are definitive: the payload
/// is guaranteed never to be committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum DropReason {
    /// No leader was known when the proposal arrived.
    NoLeader,
    /// The replica holding the proposal in its batch stopped being leader before proposing it.
    NotLeader,
    /// raft-rs refused the proposal (e.g. a leadership transfer is in progress).
    RaftRejected,
    /// The payload is empty or exceeds [`PAYLOAD_BYTES_MAX`].
    InvalidPayload,
    /// The id is already pending on this replica.
    DuplicateId,
    /// Too many proposals are pending on this replica.
    Overloaded,
    /// The entry holding the proposal was overwritten by a different entry at its index.
    Overwritten,
    /// The outcome cannot be known: a forward was not acknowledged in time, or a snapshot
    /// replaced the log. The payload may still be committed; clients must make retries
    /// idempotent.
    OutcomeUnknown,
}

impl DropReason {
    /// Whether the payload is guaranteed never to be committed.
    pub fn is_definitive(self) -> bool {
        self != DropReason::OutcomeUnknown
    }
}

/// One piece of a snapshot streamed in chunks. Chunk `seq == 0` carries `header`, the
/// prost-encoded raft `MsgSnapshot` with the snapshot data removed; the receiver concatenates
/// the `data` of chunks `0..count` and steps the rebuilt message.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SnapshotChunk {
    /// Index of the snapshot, identifying the stream together with `snapshot_term`.
    pub snapshot_index: u64,
    /// Term of the snapshot.
    pub snapshot_term: u64,
    /// Position of this chunk, `0..count`.
    pub seq: u32,
    /// Number of chunks in the stream.
    pub count: u32,
    /// Total data bytes of the stream.
    pub data_bytes_total: u64,
    /// The raft message without data (only in chunk 0; empty otherwise).
    pub header: Vec<u8>,
    /// This chunk's slice of the snapshot data.
    pub data: Vec<u8>,
}

/// Everything replicas send each other.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum WireMessage {
    /// A raft-rs message, prost-encoded (`raft::eraftpb::Message`).
    Raft(Vec<u8>),
    /// Proposals a follower forwards to the leader it knows for `term`.
    Forward {
        /// The follower's term; the leader accepts only its own term.
        term: u64,
        /// The forwarded proposals (origin = the sender).
        proposals: Vec<Proposal>,
    },
    /// The leader placed forwarded proposals in the entry at (`term`, `index`).
    ForwardAck {
        /// Term of the entry.
        term: u64,
        /// Index of the entry.
        index: u64,
        /// Ids (of the receiver's proposals) in that entry.
        ids: Vec<u64>,
    },
    /// The leader refused forwarded proposals; they were never proposed.
    ForwardReject {
        /// Ids of the receiver's proposals.
        ids: Vec<u64>,
        /// Why (always definitive).
        reason: DropReason,
    },
    /// A piece of a large snapshot.
    SnapshotChunk(SnapshotChunk),
}

/// A message to send, produced by [`crate::Replica::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// Addressee replica id.
    pub to: u64,
    /// The message.
    pub message: WireMessage,
}

/// Decoding failures; the input is dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input exceeds the size limit.
    #[error("{bytes} bytes exceed the limit of {bytes_max}")]
    TooLarge {
        /// Input size.
        bytes: usize,
        /// The limit.
        bytes_max: usize,
    },
    /// The bytes are not a valid encoding.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Bytes remain after the encoded value.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// The value decoded but breaks a bound or consistency rule.
    #[error("invalid: {0}")]
    Invalid(String),
}

/// The bincode configuration; the limit bounds every allocation during decoding.
fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<WIRE_MESSAGE_BYTES_MAX>()
}

/// Encodes a wire message.
///
/// # Panics
///
/// Panics if the encoding exceeds [`WIRE_MESSAGE_BYTES_MAX`]; the replica never builds such
/// messages.
pub fn encode(message: &WireMessage) -> Vec<u8> {
    let bytes = bincode::encode_to_vec(message, config()).expect("encoding into a Vec cannot fail");
    assert!(
        bytes.len() <= WIRE_MESSAGE_BYTES_MAX,
        "wire message of {} bytes",
        bytes.len()
    );
    bytes
}

/// Decodes and validates a wire message.
///
/// # Errors
///
/// [`DecodeError`] for oversized, malformed, trailing or out-of-bounds input.
pub fn decode(bytes: &[u8]) -> Result<WireMessage, DecodeError> {
    if bytes.len() > WIRE_MESSAGE_BYTES_MAX {
        return Err(DecodeError::TooLarge {
            bytes: bytes.len(),
            bytes_max: WIRE_MESSAGE_BYTES_MAX,
        });
    }
    let (message, used): (WireMessage, usize) = bincode::decode_from_slice(bytes, config())
        .map_err(|error| DecodeError::Malformed(error.to_string()))?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes(bytes.len() - used));
    }
    validate(&message)?;
    Ok(message)
}

fn validate(message: &WireMessage) -> Result<(), DecodeError> {
    match message {
        WireMessage::Raft(_) => Ok(()),
        WireMessage::Forward { proposals, .. } => validate_proposals(proposals),
        WireMessage::ForwardAck { ids, .. } | WireMessage::ForwardReject { ids, .. } => {
            if ids.len() > BATCH_PAYLOADS_MAX {
                return Err(DecodeError::Invalid(format!("{} ids", ids.len())));
            }
            Ok(())
        }
        WireMessage::SnapshotChunk(chunk) => {
            if chunk.count == 0 || chunk.count > SNAPSHOT_CHUNKS_MAX || chunk.seq >= chunk.count {
                return Err(DecodeError::Invalid(format!(
                    "chunk {}/{}",
                    chunk.seq, chunk.count
                )));
            }
            if (chunk.seq == 0) == chunk.header.is_empty() {
                return Err(DecodeError::Invalid("header only in chunk 0".into()));
            }
            if chunk.data.len() as u64 > chunk.data_bytes_total {
                return Err(DecodeError::Invalid(
                    "chunk larger than the snapshot".into(),
                ));
            }
            Ok(())
        }
    }
}

fn validate_proposals(proposals: &[Proposal]) -> Result<(), DecodeError> {
    if proposals.len() > BATCH_PAYLOADS_MAX {
        return Err(DecodeError::Invalid(format!(
            "{} proposals",
            proposals.len()
        )));
    }
    let mut bytes_total: usize = 0;
    for proposal in proposals {
        if proposal.payload.is_empty() || proposal.payload.len() > PAYLOAD_BYTES_MAX {
            return Err(DecodeError::Invalid(format!(
                "payload of {} bytes",
                proposal.payload.len()
            )));
        }
        bytes_total += proposal.payload.len();
    }
    if bytes_total > BATCH_BYTES_MAX {
        return Err(DecodeError::Invalid(format!(
            "batch of {bytes_total} bytes"
        )));
    }
    Ok(())
}

/// Decodes a prost-encoded raft message and checks what raft-rs would otherwise panic on:
/// unknown enum values (its generated getters panic), entries of an append that do not follow
/// its index contiguously, and a snapshot message without a snapshot.
///
/// raft-rs trusts its peers beyond this (Raft is not Byzantine fault tolerant); the check keeps
/// malformed input from crashing the process, not a malicious member from misbehaving.
///
/// # Errors
///
/// [`DecodeError`] for malformed or inconsistent messages.
pub fn decode_raft_message(bytes: &[u8]) -> Result<raft::eraftpb::Message, DecodeError> {
    use prost::Message as _;
    use raft::eraftpb::{EntryType, MessageType};
    if bytes.len() > WIRE_MESSAGE_BYTES_MAX {
        return Err(DecodeError::TooLarge {
            bytes: bytes.len(),
            bytes_max: WIRE_MESSAGE_BYTES_MAX,
        });
    }
    let message = raft::eraftpb::Message::decode(bytes)
        .map_err(|error| DecodeError::Malformed(error.to_string()))?;
    let Some(message_type) = MessageType::from_i32(message.msg_type) else {
        return Err(DecodeError::Invalid(format!(
            "message type {}",
            message.msg_type
        )));
    };
    for (offset, entry) in message.entries.iter().enumerate() {
        if EntryType::from_i32(entry.entry_type).is_none() {
            return Err(DecodeError::Invalid(format!(
                "entry type {}",
                entry.entry_type
            )));
        }
        let expected = message.index.checked_add(1 + offset as u64);
        if message_type == MessageType::MsgAppend && Some(entry.index) != expected {
            return Err(DecodeError::Invalid(
                "append entries are not contiguous".into(),
            ));
        }
    }
    if message_type == MessageType::MsgSnapshot
        && message
            .snapshot
            .as_ref()
            .and_then(|s| s.metadata.as_ref())
            .is_none()
    {
        return Err(DecodeError::Invalid(
            "snapshot message without snapshot".into(),
        ));
    }
    Ok(message)
}

/// Encodes a batch of proposals as the data of one normal log entry.
///
/// # Panics
///
/// Panics if the batch breaks [`BATCH_PAYLOADS_MAX`] or [`BATCH_BYTES_MAX`].
pub fn encode_batch(proposals: &[Proposal]) -> Vec<u8> {
    assert!(!proposals.is_empty());
    assert!(
        validate_proposals(proposals).is_ok(),
        "batch over its bounds"
    );
    let bytes =
        bincode::encode_to_vec(proposals, config()).expect("encoding into a Vec cannot fail");
    assert!(bytes.len() <= ENTRY_BYTES_MAX);
    bytes
}

/// Decodes the data of a normal log entry; empty data (the leader's no-op) is an empty batch.
///
/// # Errors
///
/// [`DecodeError`] when the bytes are not a valid batch.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Proposal>, DecodeError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    if bytes.len() > ENTRY_BYTES_MAX {
        return Err(DecodeError::TooLarge {
            bytes: bytes.len(),
            bytes_max: ENTRY_BYTES_MAX,
        });
    }
    let (proposals, used): (Vec<Proposal>, usize) = bincode::decode_from_slice(bytes, config())
        .map_err(|error| DecodeError::Malformed(error.to_string()))?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes(bytes.len() - used));
    }
    validate_proposals(&proposals)?;
    Ok(proposals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let message = WireMessage::Forward {
            term: 3,
            proposals: vec![Proposal {
                origin: 2,
                id: 7,
                payload: vec![1, 2, 3],
            }],
        };
        assert_eq!(decode(&encode(&message)).unwrap(), message);
        let batch = vec![Proposal {
            origin: 1,
            id: 1,
            payload: vec![9; 10],
        }];
        assert_eq!(decode_batch(&encode_batch(&batch)).unwrap(), batch);
        assert_eq!(decode_batch(&[]).unwrap(), vec![]);
    }

    #[test]
    fn crafted_input_never_panics() {
        // A deterministic xorshift stream of garbage, plus truncations and bit flips of valid
        // encodings; decoding must return errors, never panic or allocate without bound.
        let valid = encode(&WireMessage::SnapshotChunk(SnapshotChunk {
            snapshot_index: 5,
            snapshot_term: 2,
            seq: 0,
            count: 2,
            data_bytes_total: 8,
            header: vec![1, 2],
            data: vec![3; 4],
        }));
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..20_000_usize {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bytes = valid.clone();
            if round % 3 == 0 {
                bytes.truncate((state as usize) % (valid.len() + 1));
            } else if round % 3 == 1 {
                let position = (state as usize) % bytes.len();
                bytes[position] ^= (state >> 32) as u8 | 1;
            } else {
                bytes = (0..(state % 64))
                    .map(|k| (state >> (k % 56)) as u8)
                    .collect();
            }
            let _ = decode(&bytes);
            let _ = decode_batch(&bytes);
        }
        // Raft messages with enum values raft-rs's getters would panic on are refused.
        use prost::Message as _;
        let crafted = raft::eraftpb::Message {
            msg_type: 99,
            ..Default::default()
        };
        assert!(decode_raft_message(&crafted.encode_to_vec()).is_err());
        let entry = raft::eraftpb::Entry {
            entry_type: 7,
            index: 1,
            ..Default::default()
        };
        let crafted = raft::eraftpb::Message {
            msg_type: raft::eraftpb::MessageType::MsgAppend as i32,
            entries: vec![entry],
            ..Default::default()
        };
        assert!(decode_raft_message(&crafted.encode_to_vec()).is_err());
        let snapshot = raft::eraftpb::Message {
            msg_type: raft::eraftpb::MessageType::MsgSnapshot as i32,
            ..Default::default()
        };
        assert!(decode_raft_message(&snapshot.encode_to_vec()).is_err());
        for round in 0..5_000_u64 {
            let bytes: Vec<u8> = (0..(round % 48))
                .map(|k| (round.wrapping_mul(31).wrapping_add(k * 17)) as u8)
                .collect();
            let _ = decode_raft_message(&bytes);
        }
        // A huge claimed length must be refused by the limit, not allocated.
        let mut huge = vec![0u8]; // variant Raft
        huge.extend_from_slice(&[253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(decode(&huge).is_err());
        assert!(matches!(
            decode(&vec![0; WIRE_MESSAGE_BYTES_MAX + 1]),
            Err(DecodeError::TooLarge { .. })
        ));
    }
}
