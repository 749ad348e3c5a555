//! The boundary between the HTTP API and the replicated ledger: [`LedgerApi`].
//!
//! The ledger (`node/src/ledger/**`) implements [`LedgerApi`] for its `LedgerHandle`;
//! the API only ever sees `Arc<dyn LedgerApi>`. [`super::direct::DirectLedger`] is an
//! in-memory, single-process implementation used by tests and as a dev ledger.
//!
//! # Contract
//! - Every method except [`LedgerApi::submit`] is synchronous and must be cheap enough
//!   to call from an async handler (no network round trips; a local RocksDB read is
//!   fine). Handlers that scan call them through `spawn_blocking` where it matters.
//! - [`LedgerApi::submit`] resolves once every transaction has been committed *and
//!   applied* locally (so a following read sees it), or failed. The API wraps the
//!   future in its own timeout ([`super::SUBMIT_TIMEOUT`]) as well.
//! - Hashes and ids are raw 32-byte digests ([`Digest32`]); the API renders them as
//!   lowercase hex.
//! - Merkle proofs use the scheme of [`super::merkle`] (RFC 6962 style: leaf =
//!   `sha256(0x00 || tx_id)`, node = `sha256(0x01 || left || right)`, an odd node is
//!   promoted unchanged). A ledger using another scheme must convert, because
//!   clients verify proofs with [`super::merkle::verify_proof`].

use pedigree_chaincode::{Digest32, Receipt, SignedTx, StateView, TxBody};
use pedigree_epcis::model::EpcisEvent;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future (the trait is object-safe, so `submit` cannot be `async fn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether this node takes part in consensus or only follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// A raft voter: may accept writes (forwarding to the leader as needed).
    Voter,
    /// A raft learner (e.g. a regulator's read-only node): answers reads, refuses writes.
    Learner,
}

impl NodeRole {
    /// True if this node refuses every write.
    pub fn is_read_only(self) -> bool {
        self == NodeRole::Learner
    }
}

/// Static facts about this node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// The organisation operating the node (its `signer_org` on transactions it signs).
    pub org_id: String,
    /// libp2p peer id, as text.
    pub peer_id: String,
    /// Network id (genesis hash).
    #[serde(with = "hex_digest")]
    pub network_id: Digest32,
    /// Voter or read-only learner.
    pub role: NodeRole,
}

/// Where a committed transaction landed, and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The chaincode's receipt (accepted or rejected: both are committed).
    pub receipt: Receipt,
    /// Height of the block holding the transaction.
    pub height: u64,
    /// Index of the transaction within that block.
    pub index: u32,
    /// Hash of that block.
    pub block_hash: Digest32,
}

/// Why a transaction was not committed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// This node is not the leader and cannot forward; `leader` is a hint (peer id).
    #[error("not the leader (leader: {})", leader.as_deref().unwrap_or("unknown"))]
    NotLeader {
        /// The current leader's peer id, if known.
        leader: Option<String>,
    },
    /// The ledger cannot take writes right now (no quorum, shutting down, queue full).
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// Commit did not happen within the ledger's own deadline.
    #[error("timed out waiting for commit")]
    Timeout,
    /// This node is read-only (learner).
    #[error("this node is read-only")]
    ReadOnly,
    /// The transaction was refused before ordering (bad signature, wrong network,
    /// malformed); the message says why.
    #[error("transaction refused: {0}")]
    Invalid(String),
}

/// A block as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockView {
    /// Height (genesis state is height 0; the first block is 1).
    pub height: u64,
    /// Block hash.
    pub hash: Digest32,
    /// Hash of the previous block (zeros for the first).
    pub parent_hash: Digest32,
    /// Leader-assigned timestamp (Unix ms).
    pub timestamp_ms: u64,
    /// Merkle root over the transaction ids ([`super::merkle`]).
    pub tx_root: Digest32,
    /// State hash after applying the block.
    pub state_hash: Digest32,
    /// The transactions, in order.
    pub txs: Vec<SignedTx>,
    /// Their receipts, in the same order.
    pub receipts: Vec<Receipt>,
}

/// Which side a Merkle sibling sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The sibling is the left operand: `node = H(0x01 || sibling || acc)`.
    Left,
    /// The sibling is the right operand: `node = H(0x01 || acc || sibling)`.
    Right,
}

/// One step of an inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofStep {
    /// Side of the sibling.
    pub side: Side,
    /// The sibling hash.
    #[serde(with = "hex_digest")]
    pub hash: Digest32,
}

/// A Merkle inclusion proof of a transaction in a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// The transaction id.
    #[serde(with = "hex_digest")]
    pub tx_id: Digest32,
    /// The leaf hash (`sha256(0x00 || tx_id)`).
    #[serde(with = "hex_digest")]
    pub leaf: Digest32,
    /// Siblings from the leaf up.
    pub siblings: Vec<ProofStep>,
    /// The block's `tx_root`.
    #[serde(with = "hex_digest")]
    pub root: Digest32,
    /// Block height.
    pub height: u64,
    /// Index of the transaction in the block.
    pub index: u32,
    /// The block's hash.
    #[serde(with = "hex_digest")]
    pub block_hash: Digest32,
}

/// A peer as [`LedgerStatus`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerStatus {
    /// libp2p peer id.
    pub peer_id: String,
    /// Operating org, if known.
    pub org_id: Option<String>,
    /// Voter or learner.
    pub role: NodeRole,
    /// Currently connected.
    pub connected: bool,
    /// Raft match index (leader only), if known.
    pub match_index: Option<u64>,
}

/// Live consensus and ledger status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerStatus {
    /// Voter or learner.
    pub role: NodeRole,
    /// Raft term.
    pub term: u64,
    /// Leader's peer id, if known.
    pub leader: Option<String>,
    /// True if this node is the leader.
    pub is_leader: bool,
    /// Raft commit index.
    pub commit_index: u64,
    /// Raft applied index.
    pub applied_index: u64,
    /// Peers.
    pub peers: Vec<PeerStatus>,
    /// Latest block height (0 before the first block).
    pub latest_height: u64,
    /// Latest block hash (zeros before the first block).
    #[serde(with = "hex_digest")]
    pub latest_block_hash: Digest32,
    /// State hash after the latest block.
    #[serde(with = "hex_digest")]
    pub state_hash: Digest32,
}

/// An EPCIS event as stored on the ledger (accepted event transactions only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Ledger-wide sequence number, dense and increasing from 1 in commit order.
    pub seq: u64,
    /// The event as captured.
    pub event: EpcisEvent,
    /// `ni:///sha-256;…?ver=CBV2.0` from `pedigree_epcis::hash::event_hash_id`.
    pub event_hash_id: String,
    /// EPCIS `recordTime`: the block timestamp (Unix ms).
    pub record_time_ms: u64,
    /// Block height.
    pub block_height: u64,
    /// The transaction that carried it.
    pub tx_id: Digest32,
}

/// True for a value the EPC and field indexes may hold: one without a zero byte, which ends
/// the value in their keys (a value `V\0…` would sort among `V`'s keys). Captured EPCIS
/// cannot hold one (identifiers and URIs have no control characters); a signed transaction
/// from a node that skipped that check could, and its event is then found by scanning.
pub fn indexable(value: &str) -> bool {
    !value.contains('\0')
}

/// An event field with a controlled vocabulary of its own, indexed by value beside the EPC
/// index: the browse lists (`/bizSteps`, `/bizLocations`, ...) read the distinct values from
/// it, and queries on these fields (`EQ_bizLocation`, `EQ_readPoint`, `EQ_bizStep`,
/// `EQ_disposition`) read their candidates from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventField {
    /// `bizStep`, as a CBV bare word when standard.
    BizStep,
    /// `disposition`, as a CBV bare word when standard.
    Disposition,
    /// `bizLocation.id`, normalised like an EPC.
    BizLocation,
    /// `readPoint.id`, normalised like an EPC.
    ReadPoint,
}

impl EventField {
    /// Every field, in tag order.
    pub const ALL: [EventField; 4] = [
        EventField::BizStep,
        EventField::Disposition,
        EventField::BizLocation,
        EventField::ReadPoint,
    ];

    /// The byte that starts this field's index keys.
    pub fn tag(self) -> u8 {
        match self {
            EventField::BizStep => b's',
            EventField::Disposition => b'd',
            EventField::BizLocation => b'l',
            EventField::ReadPoint => b'r',
        }
    }

    /// The value under which `value` (as a query or a path gives it) is indexed.
    pub fn key(self, value: &str) -> String {
        match self {
            EventField::BizStep => super::query::biz_step_key(value),
            EventField::Disposition => super::query::disposition_key(value),
            EventField::BizLocation | EventField::ReadPoint => super::epc::normalize(value),
        }
    }

    /// This field's value in `event` as captured, if it has one.
    pub fn raw(self, event: &EpcisEvent) -> Option<&str> {
        match self {
            EventField::BizStep => event.biz_step.as_ref().map(|s| s.as_str()),
            EventField::Disposition => event.disposition.as_ref().map(|d| d.as_str()),
            EventField::BizLocation => event.biz_location.as_ref().map(|l| l.id.as_str()),
            EventField::ReadPoint => event.read_point.as_ref().map(|l| l.id.as_str()),
        }
    }

    /// This field's indexed value in `event`, if it has one.
    pub fn value(self, event: &EpcisEvent) -> Option<String> {
        self.raw(event).map(|raw| self.key(raw))
    }
}

/// A ledger read that failed in storage, as opposed to one that found nothing. The API
/// answers it with a 500 naming the read, never with a "not found" or an empty page that
/// would be false.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ledger read failed ({what}): {message}")]
pub struct ReadError {
    /// Which read: `block`, `receipt`, `events`, ...
    pub what: &'static str,
    /// The storage error.
    pub message: String,
}

/// What the HTTP API needs from the ledger. Implemented by the ledger's `LedgerHandle`
/// and by [`super::direct::DirectLedger`].
///
/// The read methods return [`ReadError`] when storage fails; `Ok(None)` / `Ok(vec![])` mean
/// the ledger holds nothing of the kind.
pub trait LedgerApi: Send + Sync + 'static {
    /// Static facts about this node.
    fn info(&self) -> NodeInfo;

    /// Orders, commits and applies `txs` (signatures are verified by the ledger).
    /// Resolves to one result per transaction, in order, once each is applied locally
    /// (a later read sees it). Rejected-by-chaincode transactions are `Ok` with a
    /// rejecting receipt. A read-only node resolves every entry to
    /// [`SubmitError::ReadOnly`].
    fn submit(&self, txs: Vec<SignedTx>)
    -> BoxFuture<'static, Vec<Result<Committed, SubmitError>>>;

    /// Signs `body` as this node's org with its key (fresh nonce, this network's id).
    fn sign(&self, body: TxBody) -> Result<SignedTx, SubmitError>;

    /// Runs `f` against a consistent snapshot of the applied state.
    fn with_state(&self, f: &mut dyn FnMut(&dyn StateView));

    /// The block at `height` (`None` if not yet committed or pruned).
    fn block(&self, height: u64) -> Result<Option<BlockView>, ReadError>;

    /// Height of the latest applied block (0 if none).
    fn latest_height(&self) -> u64;

    /// Inclusion proof of a committed transaction.
    fn inclusion_proof(&self, tx_id: &Digest32) -> Result<Option<InclusionProof>, ReadError>;

    /// Receipt and position of a committed transaction.
    fn receipt(&self, tx_id: &Digest32) -> Result<Option<Committed>, ReadError>;

    /// Live consensus status.
    fn status(&self) -> LedgerStatus;

    /// Up to `limit` stored events with `seq > after`, ascending.
    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, ReadError>;

    /// The stored event with this hash id (`ni:///sha-256;…`), exact string match.
    fn event_by_hash(&self, event_hash_id: &str) -> Result<Option<StoredEvent>, ReadError>;

    /// The stored event whose EPCIS `eventID` is exactly this (first stored wins).
    fn event_by_id(&self, event_id: &str) -> Result<Option<StoredEvent>, ReadError>;

    /// Up to `limit` stored events with `seq > after` that mention `epc` (normalised with
    /// [`super::epc::normalize`]) in an EPC field: the EPC list, child EPCs, parent ID, input
    /// or output EPCs (not EPC classes). Ascending by `seq`. This is the EPC index the API's
    /// EPC queries read instead of scanning every event.
    fn events_by_epc(
        &self,
        epc: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, ReadError>;

    /// Up to `limit` distinct EPCs of that index that sort after `after` (normalised; from
    /// the first without it), ascending.
    fn epcs_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, ReadError>;

    /// Up to `limit` stored events with `seq > after` whose `field` has `value` (normalised
    /// with [`EventField::key`]), ascending by `seq`.
    fn events_by_field(
        &self,
        field: EventField,
        value: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, ReadError>;

    /// Up to `limit` distinct values of `field` in the stored events that sort after `after`
    /// (normalised; from the first without it), ascending.
    fn field_values_after(
        &self,
        field: EventField,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ReadError>;

    /// Prometheus text exposition lines from the ledger and network (may be empty).
    fn metrics_text(&self) -> String;

    /// Where the applied ledger stands now (latest block height and event sequence).
    fn commit_mark(&self) -> CommitMark;

    /// Resolves with the new mark once a block above `after.height` has been applied
    /// (immediately if one already has), or `None` once the ledger has stopped. This is
    /// the commit notification the API's subscriptions wait on; it holds no queue (only
    /// the newest mark matters: the events themselves are read with
    /// [`LedgerApi::events_after`]).
    fn next_commit(&self, after: CommitMark) -> BoxFuture<'static, Option<CommitMark>>;
}

/// The head of the applied ledger as the API's commit notifications report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitMark {
    /// Latest applied block height (0 before the first block).
    pub height: u64,
    /// Sequence number of the latest stored event (0 if none).
    pub event_seq: u64,
}

/// Serde helper: `[u8; 32]` as lowercase hex.
pub mod hex_digest {
    use pedigree_chaincode::Digest32;
    use serde::Serializer;

    /// Serialises a digest as hex.
    pub fn serialize<S: Serializer>(digest: &Digest32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(digest))
    }
}
