//! The ledger's durable side: applying committed block proposals to RocksDB, the records kept
//! beside the state (blocks, receipts, transaction index, event store) and the startup checks.
//!
//! # Keys and values (column families of [`pedigree_storage::state`])
//!
//! | family | key | value (canonical bincode) |
//! |---|---|---|
//! | `state` | chaincode key | chaincode value |
//! | `blocks` | `u64_be(height)` | [`Block`] |
//! | `receipts` | `u64_be(height) ‖ u32_be(index)` | [`Receipt`] |
//! | `tx_index` | tx id | [`TxLocation`] |
//! | `meta` | `applied` | [`Head`] |
//! | `meta` | `peers` | every registered node, `Vec<`[`KnownPeer`]`>` |
//! | `events` | `u64_be(seq)` | [`StoredEventRecord`] |
//! | `event_by_hash` | event hash id text | `u64_be(seq)` |
//! | `event_by_epc` | normalised EPC ‖ `0x00` ‖ `u64_be(seq)` | empty |
//! | `event_by_id` | EPCIS `eventID` | `u64_be(seq)` |
//! | `event_by_value` | field tag ([`EventField::tag`]) ‖ indexed value ‖ `0x00` ‖ `u64_be(last seq)` | `u64_be(first seq)` |
//! | `meta` | `epc_index`, `value_index` | the format of `event_by_epc` / `event_by_value`, which cover every stored event |
//!
//! An `event_by_value` entry is a run: the events `first..=last` of one block all have that
//! value (a block of a hundred events from one line is one entry per field, not a hundred).
//! Runs end with their block, so the index is a function of the blocks, whatever the apply
//! groups. A ledger whose index markers are missing or hold another format gets that index
//! built from the event store when it is opened or restored ([`LedgerStore::open`]).
//!
//! # Atomicity
//! One committed Raft entry may carry several block proposals. All blocks of one entry, their
//! state writes, receipts, indexes, events and the new [`Head`] (with the entry's index as the
//! applied index) go to RocksDB in **one** `WriteBatch`, so after a crash the node resumes at an
//! entry boundary and re-applies nothing twice.
//!
//! # Durability
//! Applied entries are written without RocksDB's write-ahead log (the Raft log, fsynced on a
//! quorum before anything is applied, already holds them): they reach the disk when RocksDB
//! flushes its memtables, atomically across column families. A crash loses the entries applied
//! since the last flush, never part of one; the node re-applies them from the Raft log at
//! start, which is compacted only up to [`LedgerStore::durable_applied_index`]. Genesis,
//! snapshot restores and the peer registry keep the logged, fsynced writes.
//!
//! # Pair assertions
//! Before writing: the block's `previous_hash` is the head's block hash, its height is the
//! head's height + 1, and its `state_hash` is the state hash the chaincode stored. After writing
//! and again at open ([`LedgerStore::open`]): the stored head, the latest stored block (hash and
//! state hash) and the chaincode's `meta/state_hash`, `meta/height` and network id agree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use pedigree_chaincode::codec::{self, Digest32};
use pedigree_chaincode::receipt::Outcome;
use pedigree_chaincode::state::{Overlay, ReadCache};
use pedigree_chaincode::{
    BlockCtx, Genesis, Receipt, SignedTx, StateView, TxBody, VerifiedTx, VerifyError, apply_block,
    keys, verify_batch,
};
use pedigree_epcis::model::EpcisEvent;
use pedigree_storage::state::{Cf, LedgerBatch, LedgerDb, LedgerDbOptions};
use serde::{Deserialize, Serialize};

use super::block::{
    Block, BlockHeader, MerkleProof, ZERO_HASH, merkle_root, receipt_hash_of_bytes,
};
use super::{LedgerError, Result};
use crate::api::{EventField, indexable};

/// Key of the [`Head`] in the `meta` family.
const META_HEAD: &[u8] = b"applied";
/// An index of the event store kept beside it, and the marker in the `meta` family that says
/// which format it has. A ledger whose marker holds another format gets the index rebuilt from
/// the event store when it is opened ([`LedgerStore::ensure_index`]).
struct EventIndex {
    cf: Cf,
    marker: &'static [u8],
    /// The key layout and the normalisation of the values.
    format: &'static [u8],
    /// True if a ledger without the marker already holds this format (the index is older
    /// than the marker): the marker is then just written.
    unmarked_is_current: bool,
}

/// `event_by_epc`: normalised EPCs ([`normalize_epc`]).
const EPC_INDEX: EventIndex = EventIndex {
    cf: Cf::EventByEpc,
    marker: b"epc_index",
    format: &[1],
    unmarked_is_current: true,
};

/// `event_by_value`: runs of field values ([`EventField::key`]).
const VALUE_INDEX: EventIndex = EventIndex {
    cf: Cf::EventByValue,
    marker: b"value_index",
    format: &[1],
    unmarked_is_current: false,
};

/// Events read (and index entries deleted) per batch while an index is rebuilt.
const INDEX_BUILD_BATCH: u64 = 10_000;
/// Key of the registered nodes in the `meta` family.
const META_PEERS: &[u8] = b"peers";

/// Prefix of the message of a receipt for a transaction whose signature failed.
pub const SIGNATURE_FAILED_MESSAGE: &str = "signature does not verify";

/// Where the ledger stands: the applied Raft index and the head of the block chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Raft log index of the last applied entry (1 = bootstrap snapshot, 0 = nothing yet).
    pub applied_index: u64,
    /// Height of the latest block (0 before the first block).
    pub height: u64,
    /// Hash of the latest block (zeros before the first block).
    pub block_hash: Digest32,
    /// State hash after the latest block (the genesis state hash before the first block).
    pub state_hash: Digest32,
    /// Timestamp of the latest block (the genesis time before the first block).
    pub timestamp_ms: u64,
    /// Sequence number of the latest stored event (0 if none).
    pub event_seq: u64,
}

/// A block proposal: the payload of one Raft proposal, formed by the leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockProposal {
    /// The leader's wall clock when it formed the proposal, Unix ms.
    pub timestamp_ms: u64,
    /// The leader's Raft id.
    pub proposer: u64,
    /// The transactions, unverified (every node verifies them itself).
    pub txs: Vec<SignedTx>,
}

impl BlockProposal {
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }
}

/// Where a transaction landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxLocation {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Hash of the block.
    pub block_hash: Digest32,
}

/// A transaction's verdict and position: what `submit` resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxResult {
    /// The receipt (accepted or rejected; both are final).
    pub receipt: Receipt,
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Hash of the block.
    pub block_hash: Digest32,
}

/// An EPCIS event as kept in the event store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEventRecord {
    /// Sequence number, dense from 1 in apply order (the same on every node).
    pub seq: u64,
    /// The event as captured.
    pub event: EpcisEvent,
    /// CBV 2.0 event hash id (`ni:///sha-256;…?ver=CBV2.0`).
    pub event_hash_id: String,
    /// EPCIS record time: the block timestamp, Unix ms.
    pub record_time_ms: u64,
    /// Block height.
    pub block_height: u64,
    /// The transaction that carried it.
    pub tx_id: Digest32,
}

/// [`StoredEventRecord`] with borrowed fields (same fields, same order): the same bytes
/// without copying the event.
#[derive(Serialize)]
struct StoredEventRecordRef<'a> {
    seq: u64,
    event: &'a EpcisEvent,
    event_hash_id: &'a str,
    record_time_ms: u64,
    block_height: u64,
    tx_id: &'a Digest32,
}

/// A block with its receipts, as applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedBlock {
    /// The block.
    pub block: Block,
    /// Its hash.
    pub hash: Digest32,
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
    /// True if governance changed state in this block (membership may have changed).
    pub governance_changed: bool,
}

impl AppliedBlock {
    /// The result of the transaction at `index`.
    pub fn result(&self, index: usize) -> TxResult {
        TxResult {
            receipt: self.receipts[index].clone(),
            height: self.block.header.height,
            index: u32::try_from(index).expect("blocks hold far fewer than 2^32 txs"),
            block_hash: self.hash,
        }
    }
}

/// The comparison key under which an EPC is indexed: the canonical GS1 Digital Link when the
/// input is a recognised EPC URN or Digital Link, otherwise the trimmed input.
pub fn normalize_epc(epc: &str) -> String {
    let epc = epc.trim();
    if is_canonical_serial_dl(epc) {
        return epc.to_string();
    }
    pedigree_gs1::dl::canonical_for_hash(epc).unwrap_or_else(|_| epc.to_string())
}

/// True for a canonical serial Digital Link
/// ([`pedigree_gs1::dl::canonical_serial_parts`]), which [`normalize_epc`] gives back
/// unchanged: if `canonical_for_hash` accepts it, it writes the same GTIN and serial (its only
/// qualifier) under the same stem, every character unreserved; if it refuses it, the input is
/// kept. Spares parsing the Digital Link once per unit.
fn is_canonical_serial_dl(epc: &str) -> bool {
    pedigree_gs1::dl::canonical_serial_parts(epc).is_some()
}

/// The `event_by_epc` keys of the event stored as `seq`: one per distinct normalised EPC.
fn event_epc_keys(event: &EpcisEvent, seq: u64) -> Vec<Vec<u8>> {
    let lists = [
        &event.epc_list,
        &event.child_epcs,
        &event.input_epc_list,
        &event.output_epc_list,
    ];
    let mut keys: Vec<Vec<u8>> = lists
        .into_iter()
        .flatten()
        .flatten()
        .chain(&event.parent_id)
        .filter(|epc| indexable(epc))
        .map(|epc| {
            let mut key = normalize_epc(epc).into_bytes();
            key.reserve_exact(9);
            key.push(0);
            key.extend_from_slice(&seq.to_be_bytes());
            key
        })
        .collect();
    // Keys end in the same 9 bytes, so equal keys are equal EPCs.
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The start of every `event_by_value` key of `value` in `field`: tag, value, zero byte.
fn value_prefix(field: EventField, value: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(value.len() + 10);
    key.push(field.tag());
    key.extend_from_slice(value.as_bytes());
    key.push(0);
    key
}

/// The open runs of one block's `event_by_value` entries (module docs), one per field.
#[derive(Default)]
struct ValueRuns {
    open: [Option<ValueRun>; 4],
}

/// Events `first..=last` whose field has the value captured as `raw`, indexed under `prefix`.
struct ValueRun {
    raw: String,
    prefix: Vec<u8>,
    first: u64,
    last: u64,
}

impl ValueRuns {
    /// Adds the event stored as `seq` (sequence numbers ascending, without gaps between the
    /// events of a run): extends the runs it continues, writes those it ends.
    fn add(&mut self, event: &EpcisEvent, seq: u64, batch: &mut LedgerBatch) {
        for (field, open) in EventField::ALL.into_iter().zip(&mut self.open) {
            let raw = field.raw(event).filter(|raw| indexable(raw));
            if let (Some(run), Some(raw)) = (open.as_mut(), raw)
                && run.raw == raw
                && run.last + 1 == seq
            {
                run.last = seq;
                continue;
            }
            if let Some(run) = open.take() {
                run.write(batch);
            }
            *open = raw.map(|raw| ValueRun {
                raw: raw.to_string(),
                prefix: value_prefix(field, &field.key(raw)),
                first: seq,
                last: seq,
            });
        }
    }

    /// Writes the runs still open.
    fn finish(self, batch: &mut LedgerBatch) {
        for run in self.open.into_iter().flatten() {
            run.write(batch);
        }
    }
}

impl ValueRun {
    fn write(self, batch: &mut LedgerBatch) {
        let mut key = self.prefix;
        key.extend_from_slice(&self.last.to_be_bytes());
        batch.put(Cf::EventByValue, key, self.first.to_be_bytes().to_vec());
    }
}

/// Writes an event index's entries for the stored events, given in order.
trait IndexBuilder {
    /// The entries of `stored` (or holds them back until a later event or `finish`).
    fn add(&mut self, stored: &StoredEventRecord, batch: &mut LedgerBatch);
    /// Whatever is held back.
    fn finish(&mut self, batch: &mut LedgerBatch);
}

/// `event_by_epc`, as [`event_epc_keys`] gives it.
struct EpcIndexBuilder;

impl IndexBuilder for EpcIndexBuilder {
    fn add(&mut self, stored: &StoredEventRecord, batch: &mut LedgerBatch) {
        for key in event_epc_keys(&stored.event, stored.seq) {
            batch.put(Cf::EventByEpc, key, Vec::new());
        }
    }

    fn finish(&mut self, _batch: &mut LedgerBatch) {}
}

/// `event_by_value`: runs ending with their block, as applying the blocks writes them.
#[derive(Default)]
struct ValueIndexBuilder {
    runs: ValueRuns,
    height: u64,
}

impl IndexBuilder for ValueIndexBuilder {
    fn add(&mut self, stored: &StoredEventRecord, batch: &mut LedgerBatch) {
        if stored.block_height != self.height {
            std::mem::take(&mut self.runs).finish(batch);
            self.height = stored.block_height;
        }
        self.runs.add(&stored.event, stored.seq, batch);
    }

    fn finish(&mut self, batch: &mut LedgerBatch) {
        std::mem::take(&mut self.runs).finish(batch);
    }
}

fn receipt_key(height: u64, index: u32) -> Vec<u8> {
    let mut key = height.to_be_bytes().to_vec();
    key.extend_from_slice(&index.to_be_bytes());
    key
}

fn decode_or_corrupt<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    codec::decode(bytes).ok_or_else(|| LedgerError::Corrupt(format!("undecodable {what}")))
}

/// The ledger in RocksDB. Writes happen only from the event loop; reads from anywhere.
#[derive(Debug)]
pub struct LedgerStore {
    db: LedgerDb,
    genesis: Genesis,
    network_id: Digest32,
}

impl LedgerStore {
    /// Opens the ledger at `path`, writing the genesis state into a new one, and checks that
    /// the stored head, latest block and state agree (pair assertions, module docs).
    ///
    /// # Errors
    ///
    /// Storage failures; [`LedgerError::Corrupt`] if the checks fail or the stored network id
    /// is not the genesis's.
    pub fn open(
        path: &Path,
        genesis: &Genesis,
        options: LedgerDbOptions,
    ) -> Result<Arc<LedgerStore>> {
        let db = LedgerDb::open(path, options)?;
        let store = LedgerStore {
            db,
            genesis: genesis.clone(),
            network_id: genesis.network_id(),
        };
        if store.db.get(Cf::Meta, META_HEAD)?.is_none() {
            store.write_genesis()?;
        }
        store.check_head()?;
        store.ensure_indexes()?;
        Ok(Arc::new(store))
    }

    fn write_genesis(&self) -> Result<()> {
        let reader = self.db.state();
        let mut overlay = Overlay::new(&reader);
        let state_hash = self.genesis.initialize(&mut overlay);
        let mut batch = LedgerBatch::new();
        for (key, value) in overlay.into_writes() {
            match value {
                Some(value) => batch.put(Cf::State, key, value),
                None => batch.delete(Cf::State, key),
            }
        }
        let head = Head {
            applied_index: 0,
            height: 0,
            block_hash: ZERO_HASH,
            state_hash,
            timestamp_ms: self.genesis.genesis_time_ms,
            event_seq: 0,
        };
        batch.put(Cf::Meta, META_HEAD.to_vec(), codec::encode(&head));
        for index in [EPC_INDEX, VALUE_INDEX] {
            batch.put(Cf::Meta, index.marker.to_vec(), index.format.to_vec());
        }
        self.db.write(batch)?;
        Ok(())
    }

    /// Brings both event indexes to this build's format ([`LedgerStore::ensure_index`]).
    fn ensure_indexes(&self) -> Result<()> {
        self.ensure_index(&EPC_INDEX, &mut EpcIndexBuilder)?;
        self.ensure_index(&VALUE_INDEX, &mut ValueIndexBuilder::default())
    }

    /// Rebuilds `index` from the event store unless its marker holds its format: deletes what
    /// an earlier format left, passes every stored event in order to `builder`, then writes
    /// what it held back with the marker. The writes are logged; a crash before the marker
    /// only repeats the build.
    fn ensure_index(&self, index: &EventIndex, builder: &mut impl IndexBuilder) -> Result<()> {
        let marker = self.db.get(Cf::Meta, index.marker)?;
        if marker.as_deref() == Some(index.format) {
            return Ok(());
        }
        let mut batch = LedgerBatch::new();
        batch.put(Cf::Meta, index.marker.to_vec(), index.format.to_vec());
        if marker.is_none() && index.unmarked_is_current {
            return Ok(self.db.write(batch)?);
        }
        let started = std::time::Instant::now();
        loop {
            let stale = self.db.range(index.cf, &[], None, INDEX_BUILD_BATCH)?;
            if stale.is_empty() {
                break;
            }
            let mut deletes = LedgerBatch::new();
            for (key, _) in stale {
                deletes.delete(index.cf, key);
            }
            self.db.write(deletes)?;
        }
        let mut after = 0;
        loop {
            let events = self.events_after(after, INDEX_BUILD_BATCH)?;
            let Some(last) = events.last() else { break };
            after = last.seq;
            let mut entries = LedgerBatch::new();
            for stored in &events {
                builder.add(stored, &mut entries);
            }
            self.db.write(entries)?;
        }
        builder.finish(&mut batch);
        self.db.write(batch)?;
        if after > 0 {
            tracing::info!(
                index = index.cf.name(),
                events = after,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "built an index of the event store"
            );
        }
        Ok(())
    }

    /// The network id (genesis hash).
    pub fn network_id(&self) -> Digest32 {
        self.network_id
    }

    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The stored head.
    ///
    /// # Errors
    ///
    /// Storage failures or a missing/undecodable head.
    pub fn head(&self) -> Result<Head> {
        let bytes = self
            .db
            .get(Cf::Meta, META_HEAD)?
            .ok_or_else(|| LedgerError::Corrupt("no head".into()))?;
        decode_or_corrupt(&bytes, "head")
    }

    /// Checks that head, latest block and state agree (module docs) and returns the head.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Corrupt`] naming the first disagreement.
    pub fn check_head(&self) -> Result<Head> {
        let head = self.head()?;
        let corrupt = |what: String| Err(LedgerError::Corrupt(what));
        let state = self.db.state();
        let network_id = state.get(keys::META_NETWORK_ID);
        if network_id.as_deref() != Some(&self.network_id[..]) {
            return corrupt("stored network id differs from the genesis".into());
        }
        let state_hash = state.get(keys::META_STATE_HASH);
        if state_hash.as_deref() != Some(&head.state_hash[..]) {
            return corrupt("state hash in state differs from the head".into());
        }
        let height: Option<u64> = state
            .get(keys::META_HEIGHT)
            .and_then(|bytes| codec::decode(&bytes));
        if height != Some(head.height) {
            return corrupt(format!(
                "state height {height:?} differs from head {}",
                head.height
            ));
        }
        let last = self.db.last(Cf::Blocks)?;
        match (head.height, last) {
            (0, None) => {
                if head.block_hash != ZERO_HASH {
                    return corrupt("head has a block hash but no blocks".into());
                }
            }
            (height, Some((key, bytes))) => {
                let block: Block = decode_or_corrupt(&bytes, "block")?;
                if key != height.to_be_bytes() || block.header.height != height {
                    return corrupt(format!("latest block is not at head height {height}"));
                }
                if block.hash() != head.block_hash {
                    return corrupt(format!("block {height} hash differs from the head"));
                }
                if block.header.state_hash != head.state_hash {
                    return corrupt(format!("block {height} state hash differs from the head"));
                }
                if block.header.timestamp_ms != head.timestamp_ms {
                    return corrupt(format!("block {height} timestamp differs from the head"));
                }
            }
            (height, None) => return corrupt(format!("head at height {height} but no blocks")),
        }
        Ok(head)
    }

    /// Applies one committed Raft entry: every block proposal in it becomes a block, all in one
    /// atomic write together with the new head (module docs). Undecodable proposals are skipped
    /// on every node alike.
    ///
    /// # Errors
    ///
    /// Storage failures (fatal for the replica).
    ///
    /// # Panics
    ///
    /// If `index` is not above the head's applied index (the caller skips replays).
    pub fn apply_entry(
        &self,
        head: &mut Head,
        index: u64,
        payloads: &[&[u8]],
    ) -> Result<Vec<AppliedBlock>> {
        self.apply_entries(head, &[(index, payloads.to_vec())])
    }

    /// Applies consecutive committed Raft entries (index, payloads), in order, in **one** atomic
    /// write with the head of the last one: a crash leaves the ledger before the first entry or
    /// after the last, and the entries are replayed from the Raft log. The blocks and the state
    /// are exactly those of applying the entries one at a time (the chaincode reads its own
    /// earlier writes through the overlay, the indexes through [`EntryIndexes`]); only the
    /// number of writes differs. Written without RocksDB's log (module docs, *Durability*).
    ///
    /// # Errors
    ///
    /// Storage failures (fatal for the replica).
    ///
    /// # Panics
    ///
    /// If the indexes are not increasing and above the head's applied index.
    pub fn apply_entries(
        &self,
        head: &mut Head,
        entries: &[(u64, Vec<&[u8]>)],
    ) -> Result<Vec<AppliedBlock>> {
        let reader = self.db.state();
        // The registry records every transaction reads, from storage once per group.
        let cached = ReadCache::new(&reader);
        let mut overlay = Overlay::new(&cached);
        let mut batch = LedgerBatch::new();
        let mut next = head.clone();
        let mut written = EntryIndexes::default();
        let mut applied = Vec::new();
        for (index, payloads) in entries {
            let index = *index;
            assert!(
                index > next.applied_index,
                "entries are applied once, in order"
            );
            for payload in payloads {
                let Some(proposal) = codec::decode::<BlockProposal>(payload) else {
                    tracing::warn!(index, "skipping an undecodable block proposal");
                    continue;
                };
                let (block, encoded_receipts) =
                    apply_proposal(&mut overlay, &next, proposal, payload);
                self.record_block(
                    &block,
                    encoded_receipts,
                    &mut next,
                    &mut written,
                    &mut batch,
                )?;
                applied.push(block);
            }
            next.applied_index = index;
        }
        for (key, value) in overlay.into_writes() {
            match value {
                Some(value) => batch.put(Cf::State, key, value),
                None => batch.delete(Cf::State, key),
            }
        }
        batch.put(Cf::Meta, META_HEAD.to_vec(), codec::encode(&next));
        // Without RocksDB's log: the Raft log holds these entries until the ledger has them on
        // disk (see `durable_applied_index`).
        self.db.write_unlogged(batch)?;
        // Pair assertion: what we read back is what we meant to write.
        let stored = self.db.state().get(keys::META_STATE_HASH);
        assert_eq!(
            stored.as_deref(),
            Some(&next.state_hash[..]),
            "state hash written"
        );
        *head = next;
        Ok(applied)
    }

    /// Records that entries up to `index` (membership changes, leader no-ops) are applied.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn advance_applied(&self, head: &mut Head, index: u64) -> Result<()> {
        assert!(
            index > head.applied_index,
            "entries are applied once, in order"
        );
        let mut next = head.clone();
        next.applied_index = index;
        let mut batch = LedgerBatch::new();
        batch.put(Cf::Meta, META_HEAD.to_vec(), codec::encode(&next));
        self.db.write_unlogged(batch)?;
        *head = next;
        Ok(())
    }

    /// The applied index a crash now would leave the ledger at: applied entries are written
    /// without RocksDB's log ([`LedgerDb::write_unlogged`]) and are on disk only once flushed.
    /// The Raft log must keep every entry after it (the node re-applies them at start), so the
    /// log is compacted no further. May lag what is really on disk, never lead it.
    ///
    /// # Errors
    ///
    /// Storage failures, or a stored head that does not decode.
    pub fn durable_applied_index(&self) -> Result<u64> {
        match self.db.get_persisted(Cf::Meta, META_HEAD)? {
            Some(bytes) => Ok(decode_or_corrupt::<Head>(&bytes, "persisted head")?.applied_index),
            None => Ok(0),
        }
    }

    /// Flushes everything applied so far to disk and waits (see
    /// [`LedgerStore::durable_applied_index`]).
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn persist(&self) -> Result<()> {
        Ok(self.db.persist()?)
    }

    fn record_block(
        &self,
        applied: &AppliedBlock,
        encoded_receipts: Vec<Vec<u8>>,
        head: &mut Head,
        written: &mut EntryIndexes,
        batch: &mut LedgerBatch,
    ) -> Result<()> {
        let header = &applied.block.header;
        let mut runs = ValueRuns::default();
        assert_eq!(header.height, head.height + 1, "heights are dense");
        assert_eq!(
            header.previous_hash, head.block_hash,
            "blocks are hash-chained"
        );
        assert!(
            header.timestamp_ms >= head.timestamp_ms,
            "time never decreases"
        );
        batch.put(
            Cf::Blocks,
            header.height.to_be_bytes().to_vec(),
            applied.block.to_bytes(),
        );
        assert_eq!(encoded_receipts.len(), applied.receipts.len());
        for (position, ((tx, receipt), encoded)) in applied
            .block
            .txs
            .iter()
            .zip(&applied.receipts)
            .zip(encoded_receipts)
            .enumerate()
        {
            let index = u32::try_from(position).expect("blocks hold far fewer than 2^32 txs");
            batch.put(Cf::Receipts, receipt_key(header.height, index), encoded);
            let tx_id = receipt.tx_id;
            // The index points at the accepted occurrence of a tx id if there is one (at most
            // one: the chaincode rejects replays), otherwise at the first occurrence. So an
            // accepted transaction is always indexed, without asking whether an earlier,
            // rejected occurrence was.
            let index_it = if receipt.is_accepted() {
                debug_assert_ne!(
                    written.tx_locations.get(&tx_id),
                    Some(&true),
                    "the chaincode accepts a transaction id once"
                );
                true
            } else {
                match written.tx_locations.get(&tx_id) {
                    Some(_) => false,
                    None => !self.db.contains(Cf::TxIndex, &tx_id)?,
                }
            };
            if index_it {
                let location = TxLocation {
                    height: header.height,
                    index,
                    block_hash: applied.hash,
                };
                batch.put(Cf::TxIndex, tx_id.to_vec(), codec::encode(&location));
                written.tx_locations.insert(tx_id, receipt.is_accepted());
            }
            if let TxBody::Epcis(event) = &tx.envelope.body
                && receipt.outcome == Outcome::Applied
            {
                head.event_seq += 1;
                self.record_event(
                    event,
                    receipt.event_hash.as_ref(),
                    head.event_seq,
                    header,
                    &tx_id,
                    written,
                    batch,
                )?;
                runs.add(event, head.event_seq, batch);
            }
        }
        runs.finish(batch);
        head.height = header.height;
        head.block_hash = applied.hash;
        head.state_hash = header.state_hash;
        head.timestamp_ms = header.timestamp_ms;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn record_event(
        &self,
        event: &EpcisEvent,
        event_hash: Option<&Digest32>,
        seq: u64,
        header: &BlockHeader,
        tx_id: &Digest32,
        written: &mut EntryIndexes,
        batch: &mut LedgerBatch,
    ) -> Result<()> {
        // The chaincode's event hash of an EPCIS event is the digest inside its CBV 2.0 hash
        // id (`pedigree_chaincode::epcis::event_hash`); recomputing the pre-hash would only
        // give the same string again.
        let event_hash_id = match event_hash {
            Some(digest) => pedigree_epcis::hash::sha256_hash_id(digest),
            None => pedigree_epcis::hash::event_hash_id(event),
        };
        let seq_bytes = seq.to_be_bytes();
        // First stored wins for the unique indexes. An applied event that declares no error is
        // new to the chaincode (it answers a known event hash with `DuplicateEvent`), so its
        // hash is not indexed yet; an error declaration shares the hash of the event it
        // corrects (CBV 2.0 leaves `errorDeclaration` out of the hash), which stays indexed.
        let hash_is_new = if event.error_declaration.is_none() {
            debug_assert!(!written.event_hashes.contains(event_hash_id.as_bytes()));
            true
        } else {
            !written.event_hashes.contains(event_hash_id.as_bytes())
                && !self
                    .db
                    .contains(Cf::EventByHash, event_hash_id.as_bytes())?
        };
        if hash_is_new {
            batch.put(
                Cf::EventByHash,
                event_hash_id.as_bytes().to_vec(),
                seq_bytes.to_vec(),
            );
            written
                .event_hashes
                .insert(event_hash_id.as_bytes().to_vec());
        }
        if let Some(event_id) = &event.event_id
            && !written.event_ids.contains(event_id.as_bytes())
            && !self.db.contains(Cf::EventById, event_id.as_bytes())?
        {
            batch.put(
                Cf::EventById,
                event_id.as_bytes().to_vec(),
                seq_bytes.to_vec(),
            );
            written.event_ids.insert(event_id.as_bytes().to_vec());
        }
        for key in event_epc_keys(event, seq) {
            batch.put(Cf::EventByEpc, key, Vec::new());
        }
        let record = StoredEventRecordRef {
            seq,
            event,
            event_hash_id: &event_hash_id,
            record_time_ms: header.timestamp_ms,
            block_height: header.height,
            tx_id,
        };
        batch.put(Cf::Events, seq_bytes.to_vec(), codec::encode(&record));
        Ok(())
    }

    /// The whole ledger as a snapshot stream (see [`LedgerDb::export`]).
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn export(&self) -> Result<Vec<u8>> {
        Ok(self.db.export()?)
    }

    /// Replaces the ledger with a snapshot taken at Raft index `index` and checks it. An empty
    /// snapshot is the bootstrap snapshot: the genesis state, nothing to import.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Corrupt`] if the snapshot does not parse, is for another network, or
    /// its head is not at `index`; storage failures.
    pub fn restore(&self, head: &mut Head, index: u64, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            if head.height != 0 {
                return Err(LedgerError::Corrupt(
                    "empty (bootstrap) snapshot over a non-empty ledger".into(),
                ));
            }
            return self.advance_applied(head, index);
        }
        self.db.import(data)?;
        let restored = self.check_head()?;
        self.ensure_indexes()?;
        if restored.applied_index != index {
            return Err(LedgerError::Corrupt(format!(
                "snapshot for index {index} holds applied index {}",
                restored.applied_index
            )));
        }
        *head = restored;
        Ok(())
    }

    // ----- reads --------------------------------------------------------------------------

    /// The block at `height`.
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn block(&self, height: u64) -> Result<Option<Block>> {
        match self.db.get(Cf::Blocks, &height.to_be_bytes())? {
            Some(bytes) => Ok(Some(decode_or_corrupt(&bytes, "block")?)),
            None => Ok(None),
        }
    }

    /// The receipts of the block at `height` (empty if there is no such block).
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn block_receipts(&self, height: u64) -> Result<Vec<Receipt>> {
        let start = receipt_key(height, 0);
        let end = (height + 1).to_be_bytes();
        self.db
            .range(Cf::Receipts, &start, Some(&end), u64::from(u32::MAX))?
            .iter()
            .map(|(_, bytes)| decode_or_corrupt(bytes, "receipt"))
            .collect()
    }

    /// Where a transaction landed.
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn tx_location(&self, tx_id: &Digest32) -> Result<Option<TxLocation>> {
        match self.db.get(Cf::TxIndex, tx_id)? {
            Some(bytes) => Ok(Some(decode_or_corrupt(&bytes, "tx location")?)),
            None => Ok(None),
        }
    }

    /// A transaction's receipt and position.
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn tx_result(&self, tx_id: &Digest32) -> Result<Option<TxResult>> {
        let Some(location) = self.tx_location(tx_id)? else {
            return Ok(None);
        };
        let bytes = self
            .db
            .get(Cf::Receipts, &receipt_key(location.height, location.index))?
            .ok_or_else(|| LedgerError::Corrupt("indexed tx without receipt".into()))?;
        Ok(Some(TxResult {
            receipt: decode_or_corrupt(&bytes, "receipt")?,
            height: location.height,
            index: location.index,
            block_hash: location.block_hash,
        }))
    }

    /// An inclusion proof of a transaction in its block, with the block header.
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn inclusion_proof(&self, tx_id: &Digest32) -> Result<Option<(MerkleProof, BlockHeader)>> {
        let Some(location) = self.tx_location(tx_id)? else {
            return Ok(None);
        };
        let block = self
            .block(location.height)?
            .ok_or_else(|| LedgerError::Corrupt("indexed tx without block".into()))?;
        let tx_ids = block.tx_ids();
        let proof = MerkleProof::generate(&tx_ids, location.index)
            .ok_or_else(|| LedgerError::Corrupt("tx index beyond its block".into()))?;
        assert!(
            proof.verify(tx_id, &block.header.tx_root),
            "stored proof verifies"
        );
        Ok(Some((proof, block.header)))
    }

    /// Up to `limit` events with `seq > after`, ascending.
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn events_after(&self, after: u64, limit: u64) -> Result<Vec<StoredEventRecord>> {
        let Some(start) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        self.db
            .range(Cf::Events, &start.to_be_bytes(), None, limit)?
            .iter()
            .map(|(_, bytes)| decode_or_corrupt(bytes, "event"))
            .collect()
    }

    fn event_by_seq_key(&self, seq_bytes: Option<Vec<u8>>) -> Result<Option<StoredEventRecord>> {
        let Some(seq_bytes) = seq_bytes else {
            return Ok(None);
        };
        match self.db.get(Cf::Events, &seq_bytes)? {
            Some(bytes) => Ok(Some(decode_or_corrupt(&bytes, "event")?)),
            None => Err(LedgerError::Corrupt("event index without event".into())),
        }
    }

    /// The event with this hash id (exact match).
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn event_by_hash(&self, event_hash_id: &str) -> Result<Option<StoredEventRecord>> {
        let seq = self.db.get(Cf::EventByHash, event_hash_id.as_bytes())?;
        self.event_by_seq_key(seq)
    }

    /// The first stored event with this EPCIS `eventID`.
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn event_by_id(&self, event_id: &str) -> Result<Option<StoredEventRecord>> {
        let seq = self.db.get(Cf::EventById, event_id.as_bytes())?;
        self.event_by_seq_key(seq)
    }

    /// Up to `limit` events with `seq > after` that mention `epc` in an EPC field (EPC list,
    /// child EPCs, parent, input or output EPCs; not classes), ascending by `seq`. `epc` is
    /// normalised with [`normalize_epc`], as the index is.
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn events_by_epc(
        &self,
        epc: &str,
        after: u64,
        limit: u64,
    ) -> Result<Vec<StoredEventRecord>> {
        let mut prefix = normalize_epc(epc).into_bytes();
        prefix.push(0);
        self.indexed_events(Cf::EventByEpc, &prefix, after, limit)
    }

    /// Up to `limit` events with `seq > after` whose `field` has `value` (normalised with
    /// [`EventField::key`], as the index is), ascending by `seq`.
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn events_by_field(
        &self,
        field: EventField,
        value: &str,
        after: u64,
        limit: u64,
    ) -> Result<Vec<StoredEventRecord>> {
        let prefix = value_prefix(field, &field.key(value));
        self.run_events(&prefix, after, limit)
    }

    /// The events of an index whose keys are `prefix ‖ u64_be(seq)`: up to `limit` with
    /// `seq > after`, ascending.
    fn indexed_events(
        &self,
        cf: Cf,
        prefix: &[u8],
        after: u64,
        limit: u64,
    ) -> Result<Vec<StoredEventRecord>> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let end = pedigree_chaincode::state::prefix_end(prefix);
        let mut start = prefix.to_vec();
        start.extend_from_slice(&first.to_be_bytes());
        let mut events = Vec::new();
        for (key, _) in self.db.range(cf, &start, end.as_deref(), limit)? {
            let seq = key[prefix.len()..].to_vec();
            if seq.len() != 8 {
                return Err(LedgerError::Corrupt(format!(
                    "{} key of {} bytes after its value",
                    cf.name(),
                    seq.len()
                )));
            }
            if let Some(event) = self.event_by_seq_key(Some(seq))? {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// The events of the `event_by_value` runs under `prefix` (module docs): up to `limit`
    /// with `seq > after`, ascending. A run is keyed by its last event, so the first key at
    /// or past `after + 1` is the first run that still has events to give.
    fn run_events(&self, prefix: &[u8], after: u64, limit: u64) -> Result<Vec<StoredEventRecord>> {
        let Some(mut from) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let end = pedigree_chaincode::state::prefix_end(prefix);
        let mut events: Vec<StoredEventRecord> = Vec::new();
        while (events.len() as u64) < limit {
            let mut start = prefix.to_vec();
            start.extend_from_slice(&from.to_be_bytes());
            let wanted = limit - events.len() as u64;
            let runs = self
                .db
                .range(Cf::EventByValue, &start, end.as_deref(), wanted)?;
            if runs.is_empty() {
                break;
            }
            for (key, value) in runs {
                let corrupt = || {
                    LedgerError::Corrupt(format!(
                        "event_by_value entry of {} and {} bytes",
                        key.len(),
                        value.len()
                    ))
                };
                let last = key
                    .get(prefix.len()..)
                    .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(corrupt)?;
                let first = <[u8; 8]>::try_from(value.as_slice())
                    .map(u64::from_be_bytes)
                    .map_err(|_| corrupt())?;
                let first = first.max(from);
                if first > last {
                    return Err(corrupt());
                }
                let wanted = (limit - events.len() as u64).min(last - first + 1);
                let run = self.events_after(first - 1, wanted)?;
                if run.len() as u64 != wanted || run.last().is_some_and(|e| e.seq > last) {
                    return Err(LedgerError::Corrupt(format!(
                        "event_by_value run {first}..={last} without its events"
                    )));
                }
                events.extend(run);
                if events.len() as u64 == limit {
                    break;
                }
                from = last + 1;
            }
        }
        Ok(events)
    }

    /// Up to `limit` distinct EPCs of the EPC index that sort after `after` (normalised with
    /// [`normalize_epc`]; all of them without it), ascending.
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn epcs_after(&self, after: Option<&str>, limit: u64) -> Result<Vec<String>> {
        let after = after.map(normalize_epc);
        self.distinct_values(Cf::EventByEpc, &[], after.as_deref(), limit)
    }

    /// Up to `limit` distinct values of `field` among the stored events that sort after
    /// `after` (normalised with [`EventField::key`]; all of them without it), ascending.
    ///
    /// # Errors
    ///
    /// Storage failures or corrupt records.
    pub fn field_values_after(
        &self,
        field: EventField,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<String>> {
        let after = after.map(|after| field.key(after));
        self.distinct_values(Cf::EventByValue, &[field.tag()], after.as_deref(), limit)
    }

    /// The distinct values of an index whose keys are `tag ‖ value ‖ 0x00 ‖ u64_be(seq)`:
    /// up to `limit` that sort after `after`, ascending. One seek per value returned: the next
    /// value starts at the first key after the value followed by byte 1.
    fn distinct_values(
        &self,
        cf: Cf,
        tag: &[u8],
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<String>> {
        // The first key past every key of `value`.
        let past = |value: &[u8]| [tag, value, &[1]].concat();
        let mut start = after.map_or_else(|| tag.to_vec(), |after| past(after.as_bytes()));
        let end = pedigree_chaincode::state::prefix_end(tag);
        let mut values = Vec::new();
        while (values.len() as u64) < limit {
            let Some((key, _)) = self
                .db
                .range(cf, &start, end.as_deref(), 1)?
                .into_iter()
                .next()
            else {
                break;
            };
            let corrupt =
                || LedgerError::Corrupt(format!("{} key of {} bytes", cf.name(), key.len()));
            let value_end = key
                .len()
                .checked_sub(9)
                .filter(|&len| len >= tag.len() && key[len] == 0)
                .ok_or_else(corrupt)?;
            let value = &key[tag.len()..value_end];
            values.push(
                String::from_utf8(value.to_vec())
                    .map_err(|_| LedgerError::Corrupt(format!("{} key not UTF-8", cf.name())))?,
            );
            start = past(value);
        }
        Ok(values)
    }

    /// Runs `f` on a consistent snapshot of the applied state.
    pub fn with_state<R>(&self, f: impl FnOnce(&dyn StateView) -> R) -> R {
        let snapshot = self.db.state_snapshot();
        f(&snapshot)
    }

    /// Every node this ledger has registered (see [`super::peers::PeerMap`]): peer id, org
    /// and learner flag. Kept in the `meta` family beside the state, so snapshots carry it.
    ///
    /// # Errors
    ///
    /// Storage failures or an undecodable record.
    pub fn known_peers(&self) -> Result<Vec<KnownPeer>> {
        match self.db.get(Cf::Meta, META_PEERS)? {
            Some(bytes) => decode_or_corrupt(&bytes, "known peers"),
            None => Ok(Vec::new()),
        }
    }

    /// Replaces the record read by [`LedgerStore::known_peers`].
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn record_known_peers(&self, peers: &[KnownPeer]) -> Result<()> {
        let mut batch = LedgerBatch::new();
        batch.put(Cf::Meta, META_PEERS.to_vec(), codec::encode(&peers));
        self.db.write(batch)?;
        Ok(())
    }
}

/// A registered node, as [`LedgerStore::known_peers`] keeps it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KnownPeer {
    /// libp2p peer id (text).
    pub peer_id: String,
    /// Operating org.
    pub org: String,
    /// True for a learner (regulator) node.
    pub learner: bool,
}

/// Index keys written earlier in the same write (the batch is not readable until written).
#[derive(Default)]
struct EntryIndexes {
    /// tx id → whether the indexed occurrence was accepted.
    tx_locations: BTreeMap<Digest32, bool>,
    /// `event_by_hash` keys.
    event_hashes: BTreeSet<Vec<u8>>,
    /// `event_by_id` keys.
    event_ids: BTreeSet<Vec<u8>>,
}

/// Verifies and applies one proposal on top of `state`: the pure part of applying a block.
/// Signature failures get a rejecting receipt without touching state; the chaincode applies
/// the rest with block time `max(proposal time, previous block time)`. `payload` is the
/// proposal's encoding. Returns the block and its receipts encoded (as stored).
fn apply_proposal(
    state: &mut impl StateView,
    head: &Head,
    proposal: BlockProposal,
    payload: &[u8],
) -> (AppliedBlock, Vec<Vec<u8>>) {
    let height = head.height + 1;
    let timestamp_ms = proposal.timestamp_ms.max(head.timestamp_ms);
    let ctx = BlockCtx {
        height,
        timestamp_ms,
    };
    let count = proposal.txs.len();
    let mut verified: Vec<VerifiedTx> = Vec::with_capacity(count);
    let mut failures: BTreeMap<usize, VerifyError> = BTreeMap::new();
    for (position, verdict) in verify_batch(proposal.txs).into_iter().enumerate() {
        match verdict {
            Ok(tx) => verified.push(tx),
            Err(error) => {
                failures.insert(position, error);
            }
        }
    }
    let outcome = apply_block(state, &ctx, &verified);
    assert_eq!(outcome.receipts.len(), verified.len(), "one receipt per tx");
    let stored_hash = state.get(keys::META_STATE_HASH);
    assert_eq!(stored_hash.as_deref(), Some(&outcome.state_hash[..]));
    // The block's transactions: the verified ones given back, and those whose signature
    // failed (rare) from decoding the payload again, instead of cloning every transaction
    // before verifying.
    let mut again = if failures.is_empty() {
        None
    } else {
        let decoded: BlockProposal =
            codec::decode(payload).expect("the payload decoded a moment ago");
        Some(decoded.txs.into_iter())
    };
    let mut applied_receipts = outcome.receipts.into_iter();
    let mut verified = verified.into_iter();
    let mut txs: Vec<SignedTx> = Vec::with_capacity(count);
    let mut tx_ids: Vec<Digest32> = Vec::with_capacity(count);
    let mut receipts: Vec<Receipt> = Vec::with_capacity(count);
    for position in 0..count {
        let decoded = again
            .as_mut()
            .map(|txs| txs.next().expect("the same transactions"));
        match failures.remove(&position) {
            Some(error) => {
                let tx = decoded.expect("decoded again on a failure");
                let tx_id = tx.tx_id();
                receipts.push(Receipt {
                    tx_id,
                    outcome: Outcome::BadSignature,
                    message: format!("{SIGNATURE_FAILED_MESSAGE}: {error}"),
                    event_hash: None,
                    exceptions: Vec::new(),
                });
                tx_ids.push(tx_id);
                txs.push(tx);
            }
            None => {
                let tx = verified.next().expect("one verified tx per success");
                receipts.push(
                    applied_receipts
                        .next()
                        .expect("one receipt per verified tx"),
                );
                tx_ids.push(*tx.tx_id());
                txs.push(tx.into_signed());
            }
        }
    }
    assert!(applied_receipts.next().is_none());
    assert!(verified.next().is_none());
    let governance_changed = !outcome.governance_activations.is_empty()
        || txs.iter().zip(&receipts).any(|(tx, receipt)| {
            matches!(tx.envelope.body, TxBody::Governance(_)) && receipt.is_accepted()
        });
    let encoded_receipts: Vec<Vec<u8>> = receipts.iter().map(codec::encode).collect();
    let receipt_hashes: Vec<Digest32> = encoded_receipts
        .iter()
        .map(|bytes| receipt_hash_of_bytes(bytes))
        .collect();
    let header = BlockHeader {
        height,
        previous_hash: head.block_hash,
        tx_root: merkle_root(&tx_ids),
        receipts_root: merkle_root(&receipt_hashes),
        state_hash: outcome.state_hash,
        timestamp_ms,
        proposer: proposal.proposer,
    };
    let block = Block { header, txs };
    let applied = AppliedBlock {
        hash: block.hash(),
        block,
        receipts,
        governance_changed,
    };
    (applied, encoded_receipts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tests::{commission, genesis, key, with_check};
    use pedigree_chaincode::TxEnvelope;

    /// A recall of lot `L{lot}` signed by the regulator (`nonce` makes replays distinct).
    fn recall(genesis: &Genesis, lot: u64, nonce: u64) -> SignedTx {
        let key = key(5);
        TxEnvelope {
            network_id: genesis.network_id(),
            signer_org: "reg".into(),
            key_id: "k1".into(),
            public_key: key.verifying_key().to_bytes(),
            nonce,
            body: TxBody::Recall {
                gtin: with_check("0061414107346"),
                lot: format!("L{lot}"),
                reason: "test".into(),
            },
        }
        .sign(&key)
    }

    fn proposal(timestamp_ms: u64, txs: Vec<SignedTx>) -> Vec<u8> {
        BlockProposal {
            timestamp_ms,
            proposer: 1,
            txs,
        }
        .to_bytes()
    }

    fn epcis_events() -> Vec<EpcisEvent> {
        let text = r#"{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
            "epcisBody": {"eventList": [
              {"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00Z", "eventTimeZoneOffset": "+00:00",
               "eventID": "urn:uuid:8f1f5f5e-0000-4000-8000-000000000001",
               "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/00614141107346/21/2018",
                           "urn:epc:id:sgtin:0614141.107346.2017", "not an epc"],
               "action": "ADD", "bizStep": "commissioning", "disposition": "active",
               "readPoint": {"id": "urn:epc:id:sgln:0614141.00000.0"}},
              {"type": "AggregationEvent", "eventTime": "2026-01-01T00:00:01Z", "eventTimeZoneOffset": "+01:00",
               "parentID": "urn:epc:id:sscc:0614141.1234567890",
               "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017"],
               "action": "ADD", "bizStep": "packing"}
            ]}}"#;
        pedigree_epcis::json::parse_document(text)
            .expect("valid document")
            .events
    }

    /// The event store's record encodes through its borrowing twin to the owned record's
    /// bytes, and its hash id, built from the chaincode's event hash, is the CBV 2.0 one.
    #[test]
    fn stored_event_records_encode_as_before() {
        for event in epcis_events() {
            let event_hash = pedigree_chaincode::epcis::event_hash(&event);
            let event_hash_id = pedigree_epcis::hash::sha256_hash_id(&event_hash);
            assert_eq!(event_hash_id, pedigree_epcis::hash::event_hash_id(&event));
            let owned = StoredEventRecord {
                seq: 1 << 33,
                event: event.clone(),
                event_hash_id: event_hash_id.clone(),
                record_time_ms: 1_767_225_600_000,
                block_height: 300,
                tx_id: [9; 32],
            };
            let borrowed = StoredEventRecordRef {
                seq: owned.seq,
                event: &event,
                event_hash_id: &event_hash_id,
                record_time_ms: owned.record_time_ms,
                block_height: owned.block_height,
                tx_id: &owned.tx_id,
            };
            assert_eq!(codec::encode(&owned), codec::encode(&borrowed));
        }
    }

    /// The fast path of `normalize_epc` gives what `canonical_for_hash` gives.
    #[test]
    fn canonical_serial_digital_links_normalise_to_themselves() {
        let inputs = [
            "https://id.gs1.org/01/00614141107346/21/2018",
            "https://id.gs1.org/01/00614141107345/21/2018",
            "https://id.gs1.org/01/00614141107346/21/ABCdef0123456789xyzW",
            "https://id.gs1.org/01/00614141107346/21/ABCdef0123456789xyzWV",
            "https://id.gs1.org/01/00614141107346/21/",
            "https://id.gs1.org/01/0061414110734/21/1",
            "https://id.gs1.org/01/006141411073467/21/1",
            "https://id.gs1.org/01/00614141107346/21/a-b",
            "https://id.gs1.org/01/00614141107346/21/1/10/L1",
            "https://id.gs1.org/01/00614141107346/10/L1/21/1",
            "https://id.gs1.org/01/00614141107346/21/1?17=261231",
            "https://example.com/01/00614141107346/21/1",
            "  https://id.gs1.org/01/00614141107346/21/77  ",
            "urn:epc:id:sgtin:0614141.107346.2017",
            "https://id.gs1.org/01/09506000134352/21/0",
            "https://id.gs1.org/01/9506000134352/21/0",
        ];
        for input in inputs {
            let trimmed = input.trim();
            let slow = pedigree_gs1::dl::canonical_for_hash(trimmed)
                .unwrap_or_else(|_| trimmed.to_string());
            assert_eq!(normalize_epc(input), slow, "{input}");
        }
        assert!(is_canonical_serial_dl(
            "https://id.gs1.org/01/00614141107346/21/ABCdef0123456789xyzW"
        ));
        assert!(!is_canonical_serial_dl(
            "https://id.gs1.org/01/00614141107346/21/ABCdef0123456789xyzWV"
        ));
    }

    /// The EPC index keys: one per distinct normalised EPC (parent included), `epc ‖ 0 ‖ seq`.
    #[test]
    fn epc_index_keys_are_the_distinct_normalised_epcs() {
        let events = epcis_events();
        let key = |epc: &str| {
            let mut key = normalize_epc(epc).into_bytes();
            key.push(0);
            key.extend_from_slice(&7u64.to_be_bytes());
            key
        };
        let mut expected = vec![
            key("urn:epc:id:sgtin:0614141.107346.2017"),
            key("https://id.gs1.org/01/00614141107346/21/2018"),
            key("not an epc"),
        ];
        expected.sort();
        assert_eq!(event_epc_keys(&events[0], 7), expected);
        let mut expected = vec![
            key("urn:epc:id:sscc:0614141.1234567890"),
            key("urn:epc:id:sgtin:0614141.107346.2017"),
        ];
        expected.sort();
        assert_eq!(event_epc_keys(&events[1], 7), expected);
    }

    /// The EPC index answers events after a sequence number, and lists the distinct EPCs in
    /// order, page by page: an EPC that begins another is neither confused with it nor skipped.
    #[test]
    fn the_epc_index_answers_events_after_a_sequence_number_and_distinct_epcs() {
        let genesis = genesis();
        let directory = tempfile::tempdir().expect("temp dir");
        let store = LedgerStore::open(directory.path(), &genesis, LedgerDbOptions::new(false))
            .expect("open");
        let events = epcis_events();
        let mut longer = events[0].clone();
        longer.epc_list = Some(vec!["not an epc2".into(), "not an epc".into()]);
        let stored = [
            events[0].clone(),
            events[1].clone(),
            events[0].clone(),
            longer,
        ];
        let mut batch = LedgerBatch::new();
        for (event, seq) in stored.iter().zip(1u64..) {
            let record = StoredEventRecord {
                seq,
                event: event.clone(),
                event_hash_id: format!("h{seq}"),
                record_time_ms: 0,
                block_height: 1,
                tx_id: [0; 32],
            };
            batch.put(
                Cf::Events,
                seq.to_be_bytes().to_vec(),
                codec::encode(&record),
            );
            for key in event_epc_keys(event, seq) {
                batch.put(Cf::EventByEpc, key, Vec::new());
            }
        }
        store.db.write(batch).expect("write");
        let seqs = |epc: &str, after: u64, limit: u64| -> Vec<u64> {
            let events = store.events_by_epc(epc, after, limit).expect("read");
            events.iter().map(|event| event.seq).collect()
        };
        let sgtin = "urn:epc:id:sgtin:0614141.107346.2017";
        assert_eq!(seqs(sgtin, 0, 10), [1, 2, 3]);
        assert_eq!(seqs(&normalize_epc(sgtin), 0, 10), [1, 2, 3]);
        assert_eq!(seqs(sgtin, 1, 10), [2, 3]);
        assert_eq!(seqs(sgtin, 1, 1), [2]);
        assert_eq!(seqs(sgtin, 3, 10), Vec::<u64>::new());
        assert_eq!(seqs(sgtin, u64::MAX, 10), Vec::<u64>::new());
        assert_eq!(seqs("urn:epc:id:sscc:0614141.1234567890", 0, 10), [2]);
        assert_eq!(seqs("not an epc", 0, 10), [1, 3, 4]);
        assert_eq!(seqs("not an epc2", 0, 10), [4]);
        assert_eq!(seqs("not an", 0, 10), Vec::<u64>::new());

        let expected: Vec<String> = [
            sgtin,
            "https://id.gs1.org/01/00614141107346/21/2018",
            "not an epc",
            "not an epc2",
            "urn:epc:id:sscc:0614141.1234567890",
        ]
        .into_iter()
        .map(normalize_epc)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
        assert_eq!(store.epcs_after(None, 100).expect("list"), expected);
        for page_size in [1, 2, 3] {
            let mut listed = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = store.epcs_after(after.as_deref(), page_size).expect("list");
                assert!(page.len() as u64 <= page_size);
                let Some(last) = page.last() else { break };
                after = Some(last.clone());
                listed.extend(page);
            }
            assert_eq!(listed, expected, "pages of {page_size}");
        }
        assert!(store.epcs_after(Some("zzz"), 10).expect("list").is_empty());
    }

    /// Entries applied in one group write the same ledger, byte for byte, as the same entries
    /// applied one at a time: blocks, receipts (a replay across entries is rejected in both),
    /// indexes, state and head.
    /// A ledger in `directory/name`, unsynced (tests only).
    fn temp_store(directory: &Path, name: &str, genesis: &Genesis) -> Arc<LedgerStore> {
        LedgerStore::open(&directory.join(name), genesis, LedgerDbOptions::new(false))
            .expect("open")
    }

    /// An EPCIS event signed by `mfg` (key seed 1), from one event's JSON.
    fn mfg_event(genesis: &Genesis, event_json: &str, nonce: u64) -> SignedTx {
        let text = format!(
            r#"{{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
                "epcisBody": {{"eventList": [{event_json}]}}}}"#
        );
        let event = pedigree_epcis::json::parse_document(&text)
            .expect("valid document")
            .events
            .remove(0);
        let key = key(1);
        TxEnvelope {
            network_id: genesis.network_id(),
            signer_org: "mfg".into(),
            key_id: "k1".into(),
            public_key: key.verifying_key().to_bytes(),
            nonce,
            body: TxBody::Epcis(Box::new(event)),
        }
        .sign(&key)
    }

    /// The transaction index points at the accepted occurrence of a transaction id, whether a
    /// rejected occurrence came before it (same id, forged signature) or after it (a replay).
    /// The event hash index keeps the first event under a hash when an error declaration of
    /// that event (same CBV hash) is applied later.
    #[test]
    fn the_indexes_keep_the_accepted_transaction_and_the_first_event_of_a_hash() {
        let genesis = genesis();
        let base = 1_767_225_700_000;
        let good = recall(&genesis, 9, 9);
        let mut forged = good.clone();
        let mut signature = forged.signature.to_bytes();
        signature[0] ^= 1;
        forged.signature = ed25519_dalek::Signature::from_bytes(&signature);
        let event = commission(&["D1", "D2"], "LOTD", "2026-01-01T08:00:00Z");
        let declared = event.replacen(
            "\"action\": \"ADD\"",
            r#""action": "ADD", "errorDeclaration": {"declarationTime": "2026-01-02T00:00:00Z", "reason": "urn:epcglobal:cbv:er:incorrect_data"}"#,
            1,
        );
        assert_ne!(event, declared);
        let commissioning = mfg_event(&genesis, &event, 1);
        let declaration = mfg_event(&genesis, &declared, 2);
        let blocks: Vec<Vec<SignedTx>> = vec![
            vec![forged],
            vec![good.clone(), commissioning],
            vec![good.clone(), declaration],
        ];
        let directory = tempfile::tempdir().expect("temp dir");
        let store = temp_store(directory.path(), "ledger", &genesis);
        let mut head = store.check_head().expect("head");
        let mut applied = Vec::new();
        for (n, txs) in blocks.into_iter().enumerate() {
            let index = head.applied_index + 1;
            let payload = proposal(base + n as u64, txs);
            applied.extend(
                store
                    .apply_entry(&mut head, index, &[payload.as_slice()])
                    .expect("apply"),
            );
        }
        let outcomes: Vec<Vec<Outcome>> = applied
            .iter()
            .map(|block| block.receipts.iter().map(|r| r.outcome).collect())
            .collect();
        assert_eq!(outcomes[0], [Outcome::BadSignature]);
        assert_eq!(outcomes[1], [Outcome::Applied, Outcome::Applied]);
        assert_eq!(outcomes[2][1], Outcome::Applied, "{outcomes:?}");
        assert!(!outcomes[2][0].is_accepted(), "a replay: {outcomes:?}");
        let location = store
            .tx_location(&good.tx_id())
            .expect("read")
            .expect("indexed");
        assert_eq!((location.height, location.index), (2, 0));
        assert!(
            store
                .tx_result(&good.tx_id())
                .expect("read")
                .expect("found")
                .receipt
                .is_accepted()
        );
        let hash_id = applied[1].receipts[1].event_hash.expect("an event hash");
        assert_eq!(
            applied[2].receipts[1].event_hash,
            Some(hash_id),
            "same CBV hash"
        );
        let stored = store
            .event_by_hash(&pedigree_epcis::hash::sha256_hash_id(&hash_id))
            .expect("read")
            .expect("indexed");
        assert_eq!(stored.seq, 1, "the first event under the hash");
        assert!(stored.event.error_declaration.is_none());
        assert_eq!(store.events_after(0, 10).expect("read").len(), 2);
    }

    /// The field index answers by field and value and lists each field's distinct values; a
    /// ledger from before the index (no `event_by_value` keys, no marker) gets the same index
    /// built when it is opened.
    #[test]
    fn the_field_index_answers_and_is_built_for_an_older_ledger() {
        let genesis = genesis();
        let observe = |serial: &str, step: &str, read_point: &str| {
            format!(
                r#"{{"type": "ObjectEvent", "eventTime": "2026-01-01T09:00:00Z", "eventTimeZoneOffset": "+00:00",
                  "epcList": ["urn:epc:id:sgtin:0614141.007346.{serial}"], "action": "OBSERVE",
                  "bizStep": "{step}", "readPoint": {{"id": "urn:epc:id:sgln:0614141.00000.{read_point}"}}}}"#
            )
        };
        let txs = vec![
            mfg_event(
                &genesis,
                &commission(&["F1", "F2"], "LOTF", "2026-01-01T08:00:00Z"),
                1,
            ),
            mfg_event(&genesis, &observe("F1", "inspecting", "Q1"), 2),
            mfg_event(
                &genesis,
                &observe("F2", "urn:epcglobal:cbv:bizstep:inspecting", "Q2"),
                3,
            ),
            mfg_event(&genesis, &observe("F1", "urn:acme:step:weigh", "Q1"), 4),
        ];
        let directory = tempfile::tempdir().expect("temp dir");
        let path = directory.path().join("ledger");
        let store = temp_store(directory.path(), "ledger", &genesis);
        let mut head = store.check_head().expect("head");
        // Two blocks: a run of equal values ends with its block.
        let later = vec![
            mfg_event(&genesis, &observe("F2", "inspecting", "Q1"), 5),
            mfg_event(
                &genesis,
                &observe("F1", "inspecting", "Q1").replace(":00Z", ":30Z"),
                6,
            ),
        ];
        for (n, txs) in [txs, later].into_iter().enumerate() {
            let payload = proposal(1_767_225_700_000 + n as u64, txs);
            let index = head.applied_index + 1;
            let applied = store
                .apply_entry(&mut head, index, &[payload.as_slice()])
                .expect("apply");
            assert!(
                applied[0]
                    .receipts
                    .iter()
                    .all(|r| r.outcome == Outcome::Applied)
            );
        }
        let dump = |store: &LedgerStore| {
            store
                .db
                .range(Cf::EventByValue, &[], None, u64::MAX)
                .expect("read")
        };
        // Runs: one per block for Q1's last two, and `inspecting` in two spellings apart.
        assert_eq!(dump(&store).len(), 11);

        let answers = |store: &LedgerStore| {
            let seqs_limit = |field, value: &str, after, limit| -> Vec<u64> {
                let events = store
                    .events_by_field(field, value, after, limit)
                    .expect("read");
                events.iter().map(|event| event.seq).collect()
            };
            let seqs = |field, value: &str, after| seqs_limit(field, value, after, 10);
            let q1 = "urn:epc:id:sgln:0614141.00000.Q1";
            let values = |field, after: Option<&str>| {
                store.field_values_after(field, after, 10).expect("read")
            };
            (
                [
                    seqs(EventField::BizStep, "inspecting", 0),
                    seqs(
                        EventField::BizStep,
                        "https://ref.gs1.org/cbv/BizStep-inspecting",
                        2,
                    ),
                    seqs(EventField::BizStep, "urn:acme:step:weigh", 0),
                    seqs(EventField::ReadPoint, q1, 0),
                    seqs_limit(EventField::ReadPoint, q1, 3, 2),
                    seqs_limit(EventField::ReadPoint, q1, 4, 1),
                    seqs(EventField::ReadPoint, q1, 6),
                    seqs(EventField::Disposition, "active", 0),
                    seqs(
                        EventField::BizLocation,
                        "urn:epc:id:sgln:0614141.00000.Q1",
                        0,
                    ),
                ],
                [
                    values(EventField::BizStep, None),
                    values(EventField::BizStep, Some("inspecting")),
                    values(EventField::ReadPoint, None),
                    values(EventField::Disposition, None),
                    values(EventField::BizLocation, None),
                ],
            )
        };
        let before = answers(&store);
        let sgln = |location: &str| {
            EventField::ReadPoint.key(&format!("urn:epc:id:sgln:0614141.00000.{location}"))
        };
        assert_eq!(
            before.0,
            [
                vec![2, 3, 5, 6],
                vec![3, 5, 6],
                vec![4],
                vec![2, 4, 5, 6],
                vec![4, 5],
                vec![5],
                vec![],
                vec![1],
                vec![]
            ]
        );
        assert_eq!(
            before.1,
            [
                vec![
                    "commissioning".to_string(),
                    "inspecting".into(),
                    "urn:acme:step:weigh".into()
                ],
                vec!["urn:acme:step:weigh".to_string()],
                vec![sgln("0"), sgln("Q1"), sgln("Q2")],
                vec!["active".to_string()],
                vec![],
            ]
        );

        // Make it a ledger from before the index, then open it again.
        let index = dump(&store);
        let mut batch = LedgerBatch::new();
        for (key, _) in dump(&store) {
            batch.delete(Cf::EventByValue, key);
        }
        batch.delete(Cf::Meta, VALUE_INDEX.marker.to_vec());
        store.db.write(batch).expect("write");
        assert!(
            store
                .field_values_after(EventField::BizStep, None, 10)
                .expect("read")
                .is_empty()
        );
        drop(store);
        let store = LedgerStore::open(&path, &genesis, LedgerDbOptions::new(false)).expect("open");
        assert_eq!(answers(&store), before);
        assert_eq!(dump(&store), index, "built as the blocks wrote it");

        // An index of another format is replaced, whatever it held.
        let mut batch = LedgerBatch::new();
        batch.put(Cf::EventByValue, b"stale".to_vec(), Vec::new());
        batch.put(Cf::Meta, VALUE_INDEX.marker.to_vec(), vec![0]);
        store.db.write(batch).expect("write");
        drop(store);
        let store = LedgerStore::open(&path, &genesis, LedgerDbOptions::new(false)).expect("open");
        assert_eq!(dump(&store), index, "rebuilt");
        assert_eq!(
            store
                .db
                .get(Cf::Meta, VALUE_INDEX.marker)
                .expect("read")
                .as_deref(),
            Some(VALUE_INDEX.format)
        );

        // The EPC index: without a marker it is taken as current (it is older than markers);
        // with another format it is rebuilt.
        let epcs = |store: &LedgerStore| {
            store
                .db
                .range(Cf::EventByEpc, &[], None, u64::MAX)
                .expect("read")
        };
        let epc_index = epcs(&store);
        assert!(!epc_index.is_empty());
        let mut batch = LedgerBatch::new();
        batch.put(Cf::EventByEpc, b"stale".to_vec(), Vec::new());
        batch.delete(Cf::Meta, EPC_INDEX.marker.to_vec());
        store.db.write(batch).expect("write");
        drop(store);
        let store = LedgerStore::open(&path, &genesis, LedgerDbOptions::new(false)).expect("open");
        assert_eq!(epcs(&store).len(), epc_index.len() + 1, "kept as it was");
        let mut batch = LedgerBatch::new();
        batch.put(Cf::Meta, EPC_INDEX.marker.to_vec(), vec![0]);
        store.db.write(batch).expect("write");
        drop(store);
        let store = LedgerStore::open(&path, &genesis, LedgerDbOptions::new(false)).expect("open");
        assert_eq!(epcs(&store), epc_index, "rebuilt");
    }

    /// A value with a zero byte (which would sort among the keys of the value before it) is
    /// left out of the indexes, so the value before it still answers.
    #[test]
    fn values_with_a_zero_byte_stay_out_of_the_indexes() {
        let genesis = genesis();
        let observe = |read_point: &str, minute: u32| {
            format!(
                r#"{{"type": "ObjectEvent", "eventTime": "2026-01-01T09:{minute:02}:00Z", "eventTimeZoneOffset": "+00:00",
                  "epcList": ["urn:epc:id:sgtin:0614141.007346.Z1"], "action": "OBSERVE",
                  "bizStep": "inspecting", "readPoint": {{"id": "{read_point}"}}}}"#
            )
        };
        let q1 = "urn:epc:id:sgln:0614141.00000.Q1";
        let txs = vec![
            mfg_event(
                &genesis,
                &commission(&["Z1"], "LOTZ", "2026-01-01T08:00:00Z"),
                1,
            ),
            mfg_event(&genesis, &observe(q1, 1), 2),
            // Q1's indexed value, then a zero byte.
            mfg_event(
                &genesis,
                &observe(&format!("{}\\u0000x", EventField::ReadPoint.key(q1)), 2),
                3,
            ),
            mfg_event(&genesis, &observe(q1, 3), 4),
        ];
        let directory = tempfile::tempdir().expect("temp dir");
        let store = temp_store(directory.path(), "ledger", &genesis);
        let mut head = store.check_head().expect("head");
        let payload = proposal(1_767_225_700_000, txs);
        let index = head.applied_index + 1;
        let applied = store
            .apply_entry(&mut head, index, &[payload.as_slice()])
            .expect("apply");
        let outcomes: Vec<Outcome> = applied[0].receipts.iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, [Outcome::Applied; 4]);
        let stored = store.events_after(2, 1).expect("read");
        assert!(
            stored[0]
                .event
                .read_point
                .as_ref()
                .unwrap()
                .id
                .contains('\0')
        );
        let seqs: Vec<u64> = store
            .events_by_field(EventField::ReadPoint, q1, 0, 10)
            .expect("no corrupt run")
            .iter()
            .map(|event| event.seq)
            .collect();
        assert_eq!(seqs, [2, 4]);
        let values = store
            .field_values_after(EventField::ReadPoint, None, 10)
            .expect("read");
        assert_eq!(values.len(), 2, "{values:?}");
    }

    /// Copies a database folder as a crash would leave it (files only; the memtables lost).
    fn crash_image(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("image folder");
        for entry in std::fs::read_dir(from).expect("ledger folder") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }

    /// Applied entries skip RocksDB's log: a crash keeps exactly the entries up to the durable
    /// applied index (a consistent prefix: head, blocks and state agree), and re-applying the
    /// later entries from the Raft log gives the same ledger as never crashing.
    #[test]
    fn a_crash_keeps_the_durable_prefix_and_replaying_the_rest_gives_the_same_ledger() {
        let genesis = genesis();
        let base = 1_767_225_700_000;
        let entries: Vec<(u64, Vec<u8>)> = (0..6)
            .map(|n| {
                let txs = vec![
                    recall(&genesis, n, 2 * n),
                    recall(&genesis, n + 1, 2 * n + 1),
                ];
                (n + 2, proposal(base + n, txs))
            })
            .collect();
        let directory = tempfile::tempdir().expect("temp dir");
        let path = directory.path().join("ledger");
        let store = LedgerStore::open(&path, &genesis, LedgerDbOptions::new(true)).expect("open");
        let mut head = store.check_head().expect("head");
        let genesis_durable = store.durable_applied_index().expect("durable");
        for (index, payload) in &entries[..3] {
            store
                .apply_entry(&mut head, *index, &[payload.as_slice()])
                .expect("apply");
        }
        assert_eq!(
            store.durable_applied_index().expect("durable"),
            genesis_durable,
            "applied entries are not on disk before a flush"
        );
        store.persist().expect("persist");
        assert_eq!(store.durable_applied_index().expect("durable"), 4);
        for (index, payload) in &entries[3..] {
            store
                .apply_entry(&mut head, *index, &[payload.as_slice()])
                .expect("apply");
        }
        assert_eq!(store.durable_applied_index().expect("durable"), 4);
        let image = directory.path().join("crashed");
        crash_image(&path, &image);
        let expected_export = store.export().expect("export");
        drop(store);

        let crashed = LedgerStore::open(&image, &genesis, LedgerDbOptions::new(true))
            .expect("a crash image opens");
        let mut replayed = crashed.check_head().expect("a consistent prefix");
        assert_eq!(replayed.applied_index, 4);
        assert_eq!(replayed.height, 3);
        for (index, payload) in &entries[3..] {
            crashed
                .apply_entry(&mut replayed, *index, &[payload.as_slice()])
                .expect("replay");
        }
        assert_eq!(replayed, head);
        assert_eq!(crashed.export().expect("export"), expected_export);
    }

    #[test]
    fn a_group_of_entries_writes_what_the_entries_one_by_one_write() {
        let genesis = genesis();
        let base = 1_767_225_700_000;
        let mut bad = recall(&genesis, 9, 9);
        let mut signature = bad.signature.to_bytes();
        signature[0] ^= 1;
        bad.signature = ed25519_dalek::Signature::from_bytes(&signature);
        let entries: Vec<(u64, Vec<Vec<u8>>)> = vec![
            (
                2,
                vec![proposal(
                    base,
                    vec![recall(&genesis, 1, 1), recall(&genesis, 2, 2)],
                )],
            ),
            (3, Vec::new()),
            (
                4,
                vec![proposal(
                    base + 5,
                    vec![recall(&genesis, 3, 3), recall(&genesis, 1, 1), bad],
                )],
            ),
            (
                5,
                vec![
                    proposal(base + 4, vec![recall(&genesis, 4, 4)]),
                    b"not a proposal".to_vec(),
                    proposal(
                        base + 9,
                        vec![recall(&genesis, 2, 2), recall(&genesis, 5, 5)],
                    ),
                ],
            ),
        ];
        let directory = tempfile::tempdir().expect("temp dir");
        let one = temp_store(directory.path(), "one", &genesis);
        let group = temp_store(directory.path(), "group", &genesis);
        let mut one_head = one.check_head().expect("head");
        let mut group_head = group.check_head().expect("head");
        let mut one_blocks = Vec::new();
        for (index, payloads) in &entries {
            let payloads: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            one_blocks.extend(
                one.apply_entry(&mut one_head, *index, &payloads)
                    .expect("apply"),
            );
        }
        let grouped: Vec<(u64, Vec<&[u8]>)> = entries
            .iter()
            .map(|(index, payloads)| (*index, payloads.iter().map(Vec::as_slice).collect()))
            .collect();
        let group_blocks = group
            .apply_entries(&mut group_head, &grouped)
            .expect("apply");

        assert_eq!(one_blocks, group_blocks);
        assert_eq!(one_head, group_head);
        assert_eq!(group_head.applied_index, 5);
        assert_eq!(group_head.height, 4, "three entries held four blocks");
        let outcomes: Vec<Outcome> = group_blocks
            .iter()
            .flat_map(|block| block.receipts.iter().map(|receipt| receipt.outcome))
            .collect();
        assert_eq!(
            outcomes.iter().filter(|o| **o == Outcome::Applied).count(),
            5
        );
        assert!(outcomes.contains(&Outcome::BadSignature));
        assert_eq!(
            outcomes.len() - 6,
            2,
            "the two replays across entries are rejected"
        );
        assert_eq!(
            one.export().expect("export"),
            group.export().expect("export")
        );
        assert_eq!(group.check_head().expect("head"), group_head);
    }
}
