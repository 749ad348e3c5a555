//! Pedigree's consensus: a synchronous Raft replica over raft-rs, with no I/O.
//!
//! # Layout
//!
//! - [`replica`]: [`Replica`], the `RawNode` wrapper; inputs in, outputs out, `Ready` ordering
//!   enforced inside.
//! - [`store`]: the [`LogStore`] contract (raft-rs `Storage` plus writes).
//! - [`mem_store`]: [`MemLogStore`], the in-memory store used by tests and the simulator.
//! - [`wire`]: [`WireMessage`], the envelope replicas exchange, and the entry batch encoding.
//! - [`logging`]: the slog → tracing bridge for raft-rs's logs.
//! - `testing` (feature `testing`): the conformance suite every `LogStore` must pass.
//!
//! **Architecture Invariant:** this crate performs no I/O, spawns nothing, reads no clock and
//! draws no randomness of its own; time is [`Input::Tick`], the network is [`Output::messages`]
//! and the disk is a [`LogStore`] the caller supplies.
//!
//! # Proposals
//!
//! Payloads are batched into one log entry per flush (bounded by
//! [`ReplicaConfig::batch_payloads_max`] and [`ReplicaConfig::batch_bytes_max`]). A follower
//! forwards its client's proposals to the leader in its own envelope,
//! [`WireMessage::Forward`], not raft's `MsgPropose`: the leader answers with
//! [`WireMessage::ForwardAck`] (the entry's term and index) or [`WireMessage::ForwardReject`],
//! which lets the follower report a fate for every proposal. The fate is
//! [`ProposalFate::Committed`] once the entry is applied, or [`ProposalFate::Dropped`] when the
//! batch could not be proposed, the leader refused it, leadership changed before proposing, or a
//! different entry committed at the proposal's index (see [`DropReason`]).

pub mod error;
pub mod logging;
pub mod mem_store;
pub mod replica;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

pub use error::{Error, Result};
pub use mem_store::{MemLogStore, WriteFaults};
pub use raft::eraftpb;
pub use replica::{
    Apply, COMPACTION_KEEPS_LAG_MAX, DEFERRED_SNAPSHOT, Input, MembershipChange, Output,
    PeerProgress, ProposalFate, Replica, ReplicaConfig, ReplicaStatus, Role, bootstrap_snapshot,
};
pub use store::{LogStore, LogWrite, replaces_stored};
pub use wire::{DropReason, Outbound, Proposal, SnapshotChunk, WireMessage};
