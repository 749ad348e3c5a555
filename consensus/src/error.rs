//! Errors of the consensus crate, split by what the caller should do next.

use crate::wire::DecodeError;

/// The crate's result alias.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while a [`crate::Replica`] handles an input.
///
/// Variants fall in two groups. *Rejections* (`NotLeader`, `MembershipChangePending`,
/// `InvalidMembershipChange`, `Decode`, `UnexpectedMessage`) leave the replica healthy: the caller
/// may retry or drop the input. *Fatal* errors (`Store`, `Raft`, `CorruptEntry`, `Poisoned`)
/// poison the replica: every later call returns [`Error::Poisoned`], and the caller must drop the
/// replica and restart it from its [`crate::LogStore`], which holds exactly what was persisted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input needs the leader, and this replica is not the leader.
    #[error("not the leader (leader hint: {leader_id:?})")]
    NotLeader {
        /// The leader this replica knows of, if any.
        leader_id: Option<u64>,
    },
    /// A membership change is already in flight; raft-rs allows one at a time.
    #[error("a membership change is already pending")]
    MembershipChangePending,
    /// The membership change does not make sense for the current configuration.
    #[error("invalid membership change: {0}")]
    InvalidMembershipChange(String),
    /// The configuration was rejected by [`crate::ReplicaConfig::validate`] or by raft-rs.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A message from the network could not be decoded; it was dropped.
    #[error("undecodable message: {0}")]
    Decode(#[from] DecodeError),
    /// A well-formed message that this replica refuses (wrong addressee, forged sender, local type).
    #[error("unexpected message: {0}")]
    UnexpectedMessage(String),
    /// The log store failed; the write did not happen and the replica is poisoned.
    #[error("log store failed: {0}")]
    Store(raft::Error),
    /// raft-rs reported an error that leaves its state unknown; the replica is poisoned.
    #[error("raft: {0}")]
    Raft(raft::Error),
    /// A committed entry could not be decoded: the log is corrupt.
    #[error("corrupt committed entry at index {index}: {detail}")]
    CorruptEntry {
        /// Log index of the entry.
        index: u64,
        /// What failed.
        detail: String,
    },
    /// An earlier fatal error poisoned the replica.
    #[error("replica poisoned by an earlier fatal error")]
    Poisoned,
}

impl Error {
    /// Whether the error poisons the replica (see the type docs).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Store(_) | Error::Raft(_) | Error::CorruptEntry { .. } | Error::Poisoned
        )
    }
}
