//! [`DirectLedger`]: an in-memory, single-process [`LedgerApi`] for tests and dev.
//!
//! Real behaviour, no consensus: each `submit` call verifies signatures
//! ([`verify_batch`]), applies the valid transactions as **one block** with
//! [`apply_block`] on a [`MemState`] (timestamp from the injected clock, forced
//! monotonic), records the block with a Merkle root over its tx ids
//! ([`super::merkle`]) and indexes the applied EPCIS events.
//!
//! Block hash: `sha256("pedigree/block/v1\0" || height_le || parent_hash || tx_root ||
//! state_hash || timestamp_ms_le)`.

use super::epc;
use super::merkle;
use super::service::{
    BlockView, BoxFuture, CommitMark, Committed, EventField, InclusionProof, LedgerApi,
    LedgerStatus, NodeInfo, NodeRole, ReadError, StoredEvent, SubmitError,
};
use ed25519_dalek::SigningKey;
use pedigree_chaincode::{
    BlockCtx, Digest32, Genesis, MemState, Outcome, SignedTx, StateView, TxBody, TxEnvelope,
    apply_block, state_hash, verify_batch,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A clock returning Unix milliseconds (injected so tests control time).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The node identity a [`DirectLedger`] signs with.
#[derive(Clone, Debug)]
pub struct DirectIdentity {
    /// The node's org.
    pub org_id: String,
    /// Key id of `key` in the org's registry.
    pub key_id: String,
    /// The org's signing key.
    pub key: SigningKey,
    /// Peer id to report.
    pub peer_id: String,
    /// Voter, or learner (read-only).
    pub role: NodeRole,
}

/// See the module docs.
pub struct DirectLedger {
    identity: DirectIdentity,
    network_id: Digest32,
    clock: Clock,
    nonce: AtomicU64,
    inner: Mutex<Inner>,
    commits: tokio::sync::watch::Sender<CommitMark>,
}

#[derive(Default)]
struct Inner {
    state: MemState,
    blocks: Vec<BlockView>,
    txs: HashMap<Digest32, (u64, u32)>,
    events: Vec<StoredEvent>,
    by_hash: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
    by_epc: BTreeMap<String, Vec<usize>>,
    by_value: BTreeMap<(EventField, String), Vec<usize>>,
    last_timestamp_ms: u64,
    submitted: u64,
    rejected_signatures: u64,
    /// Set by [`DirectLedger::fail_reads`]: every read answers this storage error.
    read_failure: Option<String>,
}

fn block_hash(
    height: u64,
    parent: &Digest32,
    root: &Digest32,
    state: &Digest32,
    ts: u64,
) -> Digest32 {
    let mut h = Sha256::new();
    h.update(b"pedigree/block/v1\0");
    h.update(height.to_le_bytes());
    h.update(parent);
    h.update(root);
    h.update(state);
    h.update(ts.to_le_bytes());
    h.finalize().into()
}

impl Inner {
    /// Up to `limit` of the events at the positions `list` holds with `seq > after`.
    fn listed(&self, list: Option<&Vec<usize>>, after: u64, limit: usize) -> Vec<StoredEvent> {
        list.into_iter()
            .flatten()
            .map(|&i| &self.events[i])
            .filter(|stored| stored.seq > after)
            .take(limit)
            .cloned()
            .collect()
    }
}

impl DirectLedger {
    /// A ledger initialised from `genesis`, signing as `identity`, reading `clock`.
    pub fn new(genesis: &Genesis, identity: DirectIdentity, clock: Clock) -> DirectLedger {
        let mut state = MemState::new();
        genesis.initialize(&mut state);
        let network_id = genesis.network_id();
        let inner = Inner {
            state,
            last_timestamp_ms: genesis.genesis_time_ms,
            ..Inner::default()
        };
        DirectLedger {
            identity,
            network_id,
            nonce: AtomicU64::new(clock()),
            clock,
            inner: Mutex::new(inner),
            commits: tokio::sync::watch::Sender::new(CommitMark::default()),
        }
    }

    /// Makes every later read fail with `message` as a storage error would (`None` heals):
    /// how the API's tests check that a failed read is never answered as "not found".
    pub fn fail_reads(&self, message: Option<String>) {
        self.lock().read_failure = message;
    }

    /// `read` on the locked state, or the injected failure.
    fn read<T>(&self, what: &'static str, read: impl FnOnce(&Inner) -> T) -> Result<T, ReadError> {
        let inner = self.lock();
        match &inner.read_failure {
            Some(message) => Err(ReadError {
                what,
                message: message.clone(),
            }),
            None => Ok(read(&inner)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated in a way
        // that matters more than refusing all further requests would.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Synchronous submit: one block for all valid transactions.
    pub fn submit_now(&self, txs: Vec<SignedTx>) -> Vec<Result<Committed, SubmitError>> {
        if self.identity.role.is_read_only() {
            return txs.iter().map(|_| Err(SubmitError::ReadOnly)).collect();
        }
        let verdicts = verify_batch(txs);
        let mut inner = self.lock();
        inner.submitted += verdicts.len() as u64;
        let mut valid = Vec::new();
        let mut slots = Vec::with_capacity(verdicts.len());
        for verdict in verdicts {
            match verdict {
                Ok(tx) if tx.envelope().network_id != self.network_id => {
                    inner.rejected_signatures += 1;
                    slots.push(Err(SubmitError::Invalid("wrong network id".into())));
                }
                Ok(tx) => {
                    slots.push(Ok(valid.len()));
                    valid.push(tx);
                }
                Err(e) => {
                    inner.rejected_signatures += 1;
                    slots.push(Err(SubmitError::Invalid(e.to_string())));
                }
            }
        }
        if valid.is_empty() {
            // No `Ok` slot exists when nothing was valid.
            return slots
                .into_iter()
                .map(|slot| slot.and(Err(SubmitError::Unavailable("no valid transaction".into()))))
                .collect();
        }
        let height = inner.blocks.len() as u64 + 1;
        let timestamp_ms = (self.clock)().max(inner.last_timestamp_ms + 1);
        inner.last_timestamp_ms = timestamp_ms;
        let ctx = BlockCtx {
            height,
            timestamp_ms,
        };
        let outcome = apply_block(&mut inner.state, &ctx, &valid);
        let tx_ids: Vec<Digest32> = valid.iter().map(|tx| *tx.tx_id()).collect();
        let tx_root = merkle::root(&tx_ids);
        let parent_hash = inner.blocks.last().map(|b| b.hash).unwrap_or([0; 32]);
        let hash = block_hash(
            height,
            &parent_hash,
            &tx_root,
            &outcome.state_hash,
            timestamp_ms,
        );
        for (index, (tx, receipt)) in valid.iter().zip(&outcome.receipts).enumerate() {
            inner.txs.insert(*tx.tx_id(), (height, index as u32));
            if receipt.outcome != Outcome::Applied {
                continue;
            }
            if let TxBody::Epcis(event) = &tx.envelope().body {
                let event = (**event).clone();
                let stored = StoredEvent {
                    seq: inner.events.len() as u64 + 1,
                    event_hash_id: pedigree_epcis::hash::event_hash_id(&event),
                    event,
                    record_time_ms: timestamp_ms,
                    block_height: height,
                    tx_id: *tx.tx_id(),
                };
                let at = inner.events.len();
                inner
                    .by_hash
                    .entry(stored.event_hash_id.clone())
                    .or_insert(at);
                if let Some(id) = &stored.event.event_id {
                    inner.by_id.entry(id.clone()).or_insert(at);
                }
                // The node's index: every EPC field but the classes.
                let mut keys: Vec<String> = epc::event_ids(&stored.event)
                    .into_iter()
                    .filter(|(field, _)| *field != "epcClass")
                    .map(|(_, id)| epc::normalize(id))
                    .collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    inner.by_epc.entry(key).or_default().push(at);
                }
                for field in EventField::ALL {
                    if let Some(value) = field.value(&stored.event) {
                        inner.by_value.entry((field, value)).or_default().push(at);
                    }
                }
                inner.events.push(stored);
            }
        }
        let block = BlockView {
            height,
            hash,
            parent_hash,
            timestamp_ms,
            tx_root,
            state_hash: outcome.state_hash,
            txs: valid.into_iter().map(|tx| tx.into_signed()).collect(),
            receipts: outcome.receipts,
        };
        let results = slots
            .into_iter()
            .map(|slot| {
                slot.map(|i| Committed {
                    receipt: block.receipts[i].clone(),
                    height,
                    index: i as u32,
                    block_hash: hash,
                })
            })
            .collect();
        inner.blocks.push(block);
        let mark = CommitMark {
            height,
            event_seq: inner.events.len() as u64,
        };
        drop(inner);
        self.commits.send_replace(mark);
        results
    }
}

impl LedgerApi for DirectLedger {
    fn info(&self) -> NodeInfo {
        NodeInfo {
            org_id: self.identity.org_id.clone(),
            peer_id: self.identity.peer_id.clone(),
            network_id: self.network_id,
            role: self.identity.role,
        }
    }

    fn submit(
        &self,
        txs: Vec<SignedTx>,
    ) -> BoxFuture<'static, Vec<Result<Committed, SubmitError>>> {
        let results = self.submit_now(txs);
        Box::pin(async move { results })
    }

    fn sign(&self, body: TxBody) -> Result<SignedTx, SubmitError> {
        if self.identity.role.is_read_only() {
            return Err(SubmitError::ReadOnly);
        }
        let envelope = TxEnvelope {
            network_id: self.network_id,
            signer_org: self.identity.org_id.clone(),
            key_id: self.identity.key_id.clone(),
            public_key: self.identity.key.verifying_key().to_bytes(),
            nonce: self.nonce.fetch_add(1, Ordering::Relaxed),
            body,
        };
        Ok(envelope.sign(&self.identity.key))
    }

    fn with_state(&self, f: &mut dyn FnMut(&dyn StateView)) {
        let inner = self.lock();
        f(&inner.state);
    }

    fn block(&self, height: u64) -> Result<Option<BlockView>, ReadError> {
        self.read("block", |inner| {
            let index = usize::try_from(height.checked_sub(1)?).ok()?;
            inner.blocks.get(index).cloned()
        })
    }

    fn latest_height(&self) -> u64 {
        self.lock().blocks.len() as u64
    }

    fn inclusion_proof(&self, tx_id: &Digest32) -> Result<Option<InclusionProof>, ReadError> {
        self.read("proof", |inner| {
            let &(height, index) = inner.txs.get(tx_id)?;
            let block = inner.blocks.get(usize::try_from(height - 1).ok()?)?;
            let ids: Vec<Digest32> = block.txs.iter().map(|tx| tx.tx_id()).collect();
            Some(InclusionProof {
                tx_id: *tx_id,
                leaf: merkle::leaf_hash(tx_id),
                siblings: merkle::proof(&ids, index as usize)?,
                root: block.tx_root,
                height,
                index,
                block_hash: block.hash,
            })
        })
    }

    fn receipt(&self, tx_id: &Digest32) -> Result<Option<Committed>, ReadError> {
        self.read("receipt", |inner| {
            let &(height, index) = inner.txs.get(tx_id)?;
            let block = inner.blocks.get(usize::try_from(height - 1).ok()?)?;
            Some(Committed {
                receipt: block.receipts.get(index as usize)?.clone(),
                height,
                index,
                block_hash: block.hash,
            })
        })
    }

    fn status(&self) -> LedgerStatus {
        let inner = self.lock();
        let height = inner.blocks.len() as u64;
        LedgerStatus {
            role: self.identity.role,
            term: 1,
            leader: (!self.identity.role.is_read_only()).then(|| self.identity.peer_id.clone()),
            is_leader: !self.identity.role.is_read_only(),
            commit_index: height,
            applied_index: height,
            peers: Vec::new(),
            latest_height: height,
            latest_block_hash: inner.blocks.last().map(|b| b.hash).unwrap_or([0; 32]),
            state_hash: state_hash(&inner.state),
        }
    }

    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, ReadError> {
        self.read("events", |inner| {
            let start = usize::try_from(after)
                .unwrap_or(usize::MAX)
                .min(inner.events.len());
            inner.events[start..].iter().take(limit).cloned().collect()
        })
    }

    fn event_by_hash(&self, event_hash_id: &str) -> Result<Option<StoredEvent>, ReadError> {
        self.read("event", |inner| {
            inner
                .by_hash
                .get(event_hash_id)
                .map(|&i| inner.events[i].clone())
        })
    }

    fn event_by_id(&self, event_id: &str) -> Result<Option<StoredEvent>, ReadError> {
        self.read("event", |inner| {
            inner.by_id.get(event_id).map(|&i| inner.events[i].clone())
        })
    }

    fn events_by_epc(
        &self,
        epc_id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, ReadError> {
        self.read("events", |inner| {
            inner.listed(inner.by_epc.get(&epc::normalize(epc_id)), after, limit)
        })
    }

    fn epcs_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, ReadError> {
        self.read("epcs", |inner| {
            let lower = match after {
                Some(after) => std::ops::Bound::Excluded(epc::normalize(after)),
                None => std::ops::Bound::Unbounded,
            };
            inner
                .by_epc
                .range::<String, _>((lower, std::ops::Bound::Unbounded))
                .take(limit)
                .map(|(epc, _)| epc.clone())
                .collect()
        })
    }

    fn events_by_field(
        &self,
        field: EventField,
        value: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, ReadError> {
        self.read("events", |inner| {
            inner.listed(inner.by_value.get(&(field, field.key(value))), after, limit)
        })
    }

    fn field_values_after(
        &self,
        field: EventField,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ReadError> {
        self.read("values", |inner| {
            let lower = match after {
                Some(after) => std::ops::Bound::Excluded((field, field.key(after))),
                None => std::ops::Bound::Included((field, String::new())),
            };
            inner
                .by_value
                .range((lower, std::ops::Bound::Unbounded))
                .take_while(|((f, _), _)| *f == field)
                .take(limit)
                .map(|((_, value), _)| value.clone())
                .collect()
        })
    }

    fn commit_mark(&self) -> CommitMark {
        *self.commits.borrow()
    }

    fn next_commit(&self, after: CommitMark) -> BoxFuture<'static, Option<CommitMark>> {
        let mut receiver = self.commits.subscribe();
        Box::pin(async move {
            // The sender lives as long as the ledger; `wait_for` fails only once it is gone.
            let mark = receiver.wait_for(|m| m.height > after.height).await.ok()?;
            Some(*mark)
        })
    }

    fn metrics_text(&self) -> String {
        let inner = self.lock();
        format!(
            "# HELP pedigree_ledger_height Latest applied block height.\n\
             # TYPE pedigree_ledger_height gauge\n\
             pedigree_ledger_height {}\n\
             # HELP pedigree_ledger_events_total EPCIS events stored.\n\
             # TYPE pedigree_ledger_events_total counter\n\
             pedigree_ledger_events_total {}\n\
             # HELP pedigree_ledger_txs_submitted_total Transactions submitted.\n\
             # TYPE pedigree_ledger_txs_submitted_total counter\n\
             pedigree_ledger_txs_submitted_total {}\n\
             # HELP pedigree_ledger_txs_invalid_total Transactions refused before ordering.\n\
             # TYPE pedigree_ledger_txs_invalid_total counter\n\
             pedigree_ledger_txs_invalid_total {}\n",
            inner.blocks.len(),
            inner.events.len(),
            inner.submitted,
            inner.rejected_signatures
        )
    }
}
