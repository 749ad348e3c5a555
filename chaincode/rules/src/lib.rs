//! `pedigree-chaincode`: Pedigree's rule book.
//!
//! Given the same ordered transactions, every partner's node must reach the same state
//! and the same accept/reject verdicts, byte for byte. This crate is therefore a pure,
//! deterministic library: no I/O, no clock (time comes from [`BlockCtx`]), no
//! randomness, `BTreeMap` only, integers only, `u64` in state.
//! `clippy.toml` bans the wall-clock methods and hash-ordered collections, and
//! `tests/tidy.rs` checks the sources and dependencies.
//!
//! # Layout
//! - [`codec`]: the canonical bincode configuration and domain-separated hashes.
//! - [`genesis`]: the genesis file, network id and founding state.
//! - [`tx`]: signed envelopes, [`VerifiedTx`] (parse, don't validate), batch verification.
//! - [`governance`]: quorum-approved membership changes.
//! - [`ops`]: normalised traceability operations; [`epcis`] maps EPCIS events to them.
//! - [`rules`]: the traceability state machine; [`apply`](mod@apply) the entry points.
//! - [`receipt`]: stable numbered outcomes and receipts.
//! - [`state`]: the [`StateView`] trait, [`MemState`], overlays and the state hash;
//!   [`keys`] the key layout; [`records`] the stored records.
//! - [`query`]: pure reads: verify (DSCSA LMS), trace, recall scope, reconciliation.
//!
//! # Flow of a block
//! The node verifies signatures ([`SignedTx::verify`] or [`verify_batch`]), then calls
//! [`apply_block`] with the leader's [`BlockCtx`]: [`begin_block`] activates scheduled
//! governance, [`apply()`] runs each transaction in an overlay and returns a
//! [`Receipt`], and the block's sorted write set is chained into the state hash.
//!
//! **Architecture Invariant:** nothing here reads a clock, a file, a socket or a random
//! number generator, and state iteration is always in key order.

pub mod apply;
pub mod codec;
pub mod epcis;
mod fastcodec;
pub mod genesis;
pub mod governance;
pub mod ident;
pub mod keys;
pub mod membership;
pub mod ops;
pub mod query;
pub mod receipt;
pub mod records;
pub mod rules;
pub mod state;
pub mod tx;

pub use apply::{
    BlockCtx, BlockOutcome, apply, apply_block, begin_block, network_id, ops_event_hash, state_hash,
};
pub use codec::Digest32;
pub use genesis::{DelegationSpec, Genesis, GenesisError};
pub use governance::{Approval, GovAction, GovernanceTx, OrgSpec, approval_digest};
pub use ident::ObjectKey;
pub use ops::{ErrorDeclarationBody, Op, OpsEvent, Party};
pub use receipt::{Exception, Outcome, Receipt};
pub use records::{DecommissionKind, ObjectStatus, Role};
pub use state::{MemState, StateView};
pub use tx::{SignedTx, TxBody, TxEnvelope, VerifiedTx, VerifyError, verify_batch};
