//! The replicated ledger: blocks, the RocksDB store, the replica's event loop and the
//! [`LedgerHandle`] the rest of the node (the HTTP API) uses.
//!
//! # Layout
//!
//! - [`block`]: block header and hash chain, Merkle tree and inclusion proofs.
//! - [`store`]: applying committed block proposals to RocksDB atomically; reads; startup checks.
//! - [`peers`]: peer ids ↔ Raft ids, and the members the applied state lists.
//! - [`reconcile`]: the next membership change that moves Raft toward those members.
//! - [`event_loop`]: the one task that owns the `Replica` (tick, network, proposals, shutdown).
//! - [`applier`]: the thread that applies committed entries in commit order, several per
//!   RocksDB write, while the event loop goes on with Raft.
//! - [`handle`]: [`LedgerHandle`], the cloneable front door (submit and reads).
//! - `api_impl`: `api::LedgerApi` for [`LedgerHandle`].
//!
//! # Path of a transaction
//!
//! ```text
//! LedgerHandle::submit ──Command::Submit──▶ event loop ─┬─ leader: tx pool ──▶ BlockProposal ──▶ Input::Propose
//!                                                        └─ follower: NetworkHandle::request(leader, Forward)
//! Raft commit ──▶ Apply::Entry ──▶ applier thread: verify_batch (every node) ──▶ chaincode apply_block
//!             ──▶ one RocksDB batch per group of entries ──▶ event loop: waiters resolved with TxResult
//! ```
//!
//! **Architecture Invariant:** only the event loop owns the replica; only its applier writes
//! blocks and state (the loop itself writes only the peer registry, and exports snapshots only
//! while the applier is idle); the handle reads RocksDB directly and talks to the loop over
//! bounded channels.
//!
//! **Determinism:** replicas never read their clocks to apply. The leader stamps its wall
//! clock into the proposal; the block time is `max(proposal time, previous block time)`.
//! Every node verifies every signature itself.

pub mod api_impl;
pub mod applier;
pub mod block;
pub mod event_loop;
pub mod handle;
pub mod peers;
pub mod reconcile;
pub mod store;

use std::path::PathBuf;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use pedigree_chaincode::Genesis;

pub use block::{Block, BlockHeader, MerkleProof};
pub use event_loop::start;
pub use handle::{LedgerHandle, LedgerMetrics, LedgerStatus, SubmitError};
pub use store::{Head, StoredEventRecord, TxLocation, TxResult};

/// Most transactions in one block proposal.
pub const BLOCK_TXS_MAX: usize = 512;
/// Most encoded transaction bytes in one block proposal (below the consensus payload limit).
pub const BLOCK_BYTES_MAX: usize = 192 * 1024;
/// Default wall-clock length of one Raft tick.
pub const TICK_INTERVAL_DEFAULT: Duration = Duration::from_millis(100);
/// Default number of applied entries after which the log is compacted into a snapshot.
pub const COMPACT_ENTRIES_DEFAULT: u64 = 10_000;
/// How long `submit` waits for a transaction to be applied before giving up.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a submitted, not yet applied transaction waits before it is sent to the leader
/// again (the chaincode rejects replays, so resending is safe).
pub const RESEND_INTERVAL_DEFAULT: Duration = Duration::from_secs(2);
/// Default [`LedgerTuning::disk_free_min_bytes`]: 1 GiB, room for a few memtable flushes and
/// a compaction's temporary files.
pub const DISK_FREE_MIN_BYTES_DEFAULT: u64 = 1 << 30;

const _: () = assert!(BLOCK_BYTES_MAX < pedigree_consensus::wire::PAYLOAD_BYTES_MAX);

/// Infrastructure failures of the ledger. Business rejections are receipts, not errors.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// RocksDB failed (fatal for the replica).
    #[error("storage: {0}")]
    Storage(#[from] pedigree_storage::Error),
    /// Stored data breaks an invariant (fatal).
    #[error("corrupt ledger: {0}")]
    Corrupt(String),
    /// The consensus replica failed.
    #[error("consensus: {0}")]
    Consensus(#[from] pedigree_consensus::Error),
    /// The genesis node list is unusable.
    #[error("membership: {0}")]
    Membership(String),
}

/// The ledger module's result alias.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// Timing and limits of one ledger; [`LedgerTuning::default`] gives production values.
#[derive(Clone, Debug)]
pub struct LedgerTuning {
    /// Wall-clock length of one Raft tick.
    pub tick_interval: Duration,
    /// Election timeout, in ticks.
    pub election_ticks: usize,
    /// Heartbeat interval, in ticks.
    pub heartbeat_ticks: usize,
    /// Applied entries between log compactions.
    pub compact_entries: u64,
    /// How long `submit` waits.
    pub submit_timeout: Duration,
    /// How long before an unapplied transaction is sent to the leader again.
    pub resend_interval: Duration,
    /// Fsync every write of the Raft log and every logged write of the ledger (genesis,
    /// snapshot restores, the peer registry; applied blocks skip the ledger's log and reach
    /// the disk by flushes). Turn off only in tests.
    pub sync_writes: bool,
    /// How far behind a follower may be and still get its missing entries by append after the
    /// leader's periodic compaction (0: always by snapshot; tests of snapshots use that).
    pub compaction_keeps_lag_max: u64,
    /// Free bytes the data directory's file system must keep: below it this node refuses
    /// submissions ([`SubmitError::DiskLow`]) instead of filling the disk, where a failed
    /// RocksDB write would stop it. 0 turns the check off.
    pub disk_free_min_bytes: u64,
}

impl Default for LedgerTuning {
    fn default() -> Self {
        LedgerTuning {
            tick_interval: TICK_INTERVAL_DEFAULT,
            election_ticks: pedigree_consensus::replica::ELECTION_TICKS_DEFAULT,
            heartbeat_ticks: pedigree_consensus::replica::HEARTBEAT_TICKS_DEFAULT,
            compact_entries: COMPACT_ENTRIES_DEFAULT,
            submit_timeout: SUBMIT_TIMEOUT,
            resend_interval: RESEND_INTERVAL_DEFAULT,
            sync_writes: true,
            compaction_keeps_lag_max: pedigree_consensus::COMPACTION_KEEPS_LAG_MAX,
            disk_free_min_bytes: DISK_FREE_MIN_BYTES_DEFAULT,
        }
    }
}

/// The organisation key this node signs with (for `LedgerApi::sign`).
#[derive(Clone, Debug)]
pub struct Signer {
    /// The organisation id.
    pub org: String,
    /// The key id registered in genesis.
    pub key_id: String,
    /// The key.
    pub key: SigningKey,
}

/// What [`start`] needs.
#[derive(Clone, Debug)]
pub struct LedgerConfig {
    /// The network's genesis.
    pub genesis: Genesis,
    /// The directory holding `raft/` (the log) and `ledger/` (state, blocks, events).
    pub data_dir: PathBuf,
    /// This node's libp2p peer id.
    pub local_peer_id: libp2p::PeerId,
    /// The org signing key, if this node signs on behalf of its org.
    pub signer: Option<Signer>,
    /// Timing and limits.
    pub tuning: LedgerTuning,
}
