//! The entry points: [`begin_block`], [`apply`] and [`apply_block`].
//!
//! # Rejections and the exception write set
//! A transaction runs in an [`Overlay`]; only an accepted transaction's writes reach the
//! state. A rejected transaction writes nothing, with one documented exception: a
//! rejection may carry [`Exception`]s, and [`apply`] then increments the matching
//! counters under `exc/` (today only `exc/dup/{gtin}\0{lot}`, duplicate-serial
//! attempts). Those increments are computed only from the state and the transaction,
//! so every replica writes the same bytes, and they are part of the block's write set
//! and state hash. Nothing outside `exc/` is ever written by a rejected transaction.

use crate::codec::{self, DOMAIN_EVENT, Digest32};
use crate::fastcodec;
use crate::governance;
use crate::ident::ObjectKey;
use crate::keys;
use crate::membership::{self, load, store};
use crate::ops::{ErrorDeclarationBody, OPS_PER_EVENT_MAX, Op};
use crate::receipt::{Exception, Outcome, Receipt, RuleResult, reject};
use crate::records::{
    ErrorDeclarationRecord, EventRecord, HistoryAction, HistoryEntry, LotCounters, ObjectRecord,
    OrgStatus, Role, UndoRecord,
};
use crate::rules::{self, EventCtx};
use crate::state::{HashingView, Overlay, StateView, WriteSet, apply_writes};
use crate::tx::{TxBody, VerifiedTx};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// What the leader stamps into a block; the only source of time for the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCtx {
    /// Block height (genesis is 0, the first block 1).
    pub height: u64,
    /// Leader timestamp, Unix milliseconds; never decreases.
    pub timestamp_ms: u64,
}

/// The result of [`apply_block`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOutcome {
    /// Governance actions that became effective at this height: (scheduling tx, outcome).
    pub governance_activations: Vec<(Digest32, Outcome)>,
    /// One receipt per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// The running state hash after the block.
    pub state_hash: Digest32,
}

/// The running state hash after the last finalized block (or genesis).
pub fn state_hash(state: &(impl StateView + ?Sized)) -> Digest32 {
    let bytes = state
        .get(keys::META_STATE_HASH)
        .expect("state has no genesis");
    bytes.try_into().expect("corrupt state hash")
}

/// The network id (genesis hash) of the state.
pub fn network_id(state: &(impl StateView + ?Sized)) -> Digest32 {
    let bytes = state
        .get(keys::META_NETWORK_ID)
        .expect("state has no genesis");
    bytes.try_into().expect("corrupt network id")
}

/// Height of the last block begun.
pub fn height(state: &(impl StateView + ?Sized)) -> u64 {
    load(state, keys::META_HEIGHT).expect("state has no genesis")
}

/// Starts a block: checks and records height and timestamp, then applies governance
/// actions scheduled for this height.
///
/// # Panics
/// Panics unless `ctx.height` is the previous height + 1 and `ctx.timestamp_ms` is not
/// below the previous block's: a replica fed out-of-order blocks must stop.
pub fn begin_block(state: &mut impl StateView, ctx: &BlockCtx) -> Vec<(Digest32, Outcome)> {
    let previous_height: u64 = load(state, keys::META_HEIGHT).expect("state has no genesis");
    let previous_timestamp_ms: u64 =
        load(state, keys::META_TIMESTAMP_MS).expect("state has no genesis");
    assert_eq!(
        ctx.height,
        previous_height + 1,
        "blocks must be applied in order"
    );
    assert!(
        ctx.timestamp_ms >= previous_timestamp_ms,
        "block timestamps must not decrease"
    );
    store(state, keys::META_HEIGHT.to_vec(), &ctx.height);
    store(state, keys::META_TIMESTAMP_MS.to_vec(), &ctx.timestamp_ms);
    governance::activate_pending(state, ctx.height)
}

/// Applies a whole block: [`begin_block`], then [`apply`] for each transaction, with
/// every write streamed into the running state hash (see [`HashingView`]).
pub fn apply_block(state: &mut impl StateView, ctx: &BlockCtx, txs: &[VerifiedTx]) -> BlockOutcome {
    let previous = state_hash(state);
    let mut view = HashingView::new(state, &previous, ctx.height);
    let governance_activations = begin_block(&mut view, ctx);
    let receipts: Vec<Receipt> = txs.iter().map(|tx| apply(&mut view, ctx, tx)).collect();
    let state_hash = view.finish();
    state.put(keys::META_STATE_HASH.to_vec(), state_hash.to_vec());
    BlockOutcome {
        governance_activations,
        receipts,
        state_hash,
    }
}

/// Applies one verified transaction. Pure: the outcome depends only on `state`, `ctx`
/// and `tx`. Accepted transactions write their overlay; rejected ones write only their
/// exception counters (module docs).
///
/// # Panics
/// Panics if [`begin_block`] was not called for `ctx` (height mismatch).
pub fn apply(state: &mut impl StateView, ctx: &BlockCtx, tx: &VerifiedTx) -> Receipt {
    assert_eq!(
        height(state),
        ctx.height,
        "apply called without begin_block"
    );
    let mut event_hash = None;
    let result = {
        let mut overlay = Overlay::new(&*state);
        execute(&mut overlay, ctx, tx, &mut event_hash)
            .map(|outcome| (outcome, overlay.into_writes()))
    };
    match result {
        Ok((outcome, writes)) => {
            assert!(outcome.is_accepted());
            apply_writes(state, writes);
            Receipt {
                tx_id: *tx.tx_id(),
                outcome,
                message: String::new(),
                event_hash,
                exceptions: Vec::new(),
            }
        }
        Err(rejection) => {
            let mut exception_writes = WriteSet::new();
            {
                let mut overlay = Overlay::new(&*state);
                for exception in &rejection.exceptions {
                    record_exception(&mut overlay, exception);
                }
                exception_writes.extend(overlay.into_writes());
            }
            assert!(
                exception_writes
                    .keys()
                    .all(|key| key.starts_with(keys::EXCEPTION_PREFIX))
            );
            apply_writes(state, exception_writes);
            Receipt {
                tx_id: *tx.tx_id(),
                outcome: rejection.outcome,
                message: rejection.message,
                event_hash,
                exceptions: rejection.exceptions,
            }
        }
    }
}

fn record_exception(state: &mut impl StateView, exception: &Exception) {
    match exception {
        Exception::DuplicateSerial { gtin, lot, count } => {
            let key = keys::duplicate_serial_exceptions(gtin, lot);
            let previous: u64 = load(state, &key).unwrap_or(0);
            store(state, key, &(previous + count));
        }
    }
}

/// Authenticates the signer against membership, checks replay, runs the body.
fn execute(
    state: &mut impl StateView,
    ctx: &BlockCtx,
    tx: &VerifiedTx,
    event_hash: &mut Option<Digest32>,
) -> RuleResult<Outcome> {
    let envelope = tx.envelope();
    let network = network_id(state);
    if envelope.network_id != network {
        return reject(Outcome::WrongNetwork, "transaction is for another network");
    }
    let Some(org) = membership::org(state, &envelope.signer_org) else {
        return reject(
            Outcome::UnknownOrg,
            format!("unknown org {:?}", envelope.signer_org),
        );
    };
    if org.status != OrgStatus::Active {
        return reject(Outcome::OrgRemoved, format!("org {} was removed", org.id));
    }
    let Some(key) = membership::signing_key(state, &org.id, &envelope.key_id) else {
        return reject(
            Outcome::UnknownKey,
            format!("unknown key {}/{}", org.id, envelope.key_id),
        );
    };
    if !membership::key_valid_at(&key, ctx.height) {
        return reject(
            Outcome::KeyNotValid,
            format!(
                "key {}/{} is not valid at height {}",
                org.id, envelope.key_id, ctx.height
            ),
        );
    }
    if key.public_key != envelope.public_key {
        return reject(
            Outcome::KeyMismatch,
            "public key differs from the registered key",
        );
    }
    let tx_key = keys::tx(tx.tx_id());
    if state.contains(&tx_key) {
        return reject(Outcome::Replay, "transaction already applied");
    }
    let outcome = match &envelope.body {
        TxBody::Epcis(event) => {
            let hash = crate::epcis::event_hash(event);
            *event_hash = Some(hash);
            let ops = crate::epcis::to_ops(event)?;
            let declaration = event
                .error_declaration
                .as_ref()
                .map(crate::epcis::error_declaration_body);
            apply_event(
                state,
                ctx,
                &org.id,
                tx.tx_id(),
                hash,
                &ops,
                declaration.as_ref(),
            )?
        }
        TxBody::Ops(body) => {
            let hash = ops_event_hash(body.event_time_ms, &body.ops);
            *event_hash = Some(hash);
            apply_event(
                state,
                ctx,
                &org.id,
                tx.tx_id(),
                hash,
                &body.ops,
                body.error_declaration.as_ref(),
            )?
        }
        TxBody::Governance(governance_tx) => {
            governance::execute(
                state,
                &network,
                ctx.height,
                &org.id,
                tx.tx_id(),
                governance_tx,
            )?;
            Outcome::Applied
        }
        TxBody::Recall { gtin, lot, reason } => {
            rules::recall(state, &org.id, ctx.height, gtin, lot, reason)?;
            Outcome::Applied
        }
        TxBody::Release { gtin, lot } => {
            rules::release(state, &org.id, gtin, lot)?;
            Outcome::Applied
        }
        TxBody::SuspectMark { target, reason } => {
            rules::suspect_mark(state, &org.id, ctx.height, target, reason)?;
            Outcome::Applied
        }
        TxBody::SuspectResolve {
            target,
            resolution,
            note,
        } => {
            rules::suspect_resolve(state, &org.id, ctx.height, target, *resolution, note)?;
            Outcome::Applied
        }
        TxBody::ExtendExpiry { gtin, lot, expiry } => {
            rules::extend_expiry(state, &org.id, ctx.height, gtin, lot, *expiry)?;
            Outcome::Applied
        }
    };
    store(state, tx_key, &ctx.height);
    Ok(outcome)
}

/// The event hash of an [`crate::OpsEvent`]:
/// `sha256("pedigree/event/v1\0" || "ops\0" || u64_le(event_time_ms) || bincode(ops))`
/// (the errorDeclaration is excluded, as in the EPCIS event hash).
pub fn ops_event_hash(event_time_ms: u64, ops: &[Op]) -> Digest32 {
    // Streams the encoding into the hash: the same bytes as
    // `hash_parts(DOMAIN_EVENT, &[b"ops\0", &time, &codec::encode(ops)])`.
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN_EVENT);
    hasher.update(b"ops\0");
    hasher.update(event_time_ms.to_le_bytes());
    fastcodec::hash_ops(&mut hasher, ops);
    hasher.finalize().into()
}

/// Records before-images of undoable keys on first write, for errorDeclaration.
struct UndoTracker<'a, S: StateView> {
    inner: &'a mut S,
    before: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<S: StateView> StateView for UndoTracker<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(key)
    }
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        if keys::is_undoable(&key) && !self.before.contains_key(&key) {
            let previous = self.inner.get(&key);
            self.before.insert(key.clone(), previous);
        }
        self.inner.put(key, value);
    }
    fn delete(&mut self, key: &[u8]) {
        if keys::is_undoable(key) && !self.before.contains_key(key) {
            let previous = self.inner.get(key);
            self.before.insert(key.to_vec(), previous);
        }
        self.inner.delete(key);
    }
    fn range(&self, start: &[u8], end: Option<&[u8]>, limit: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.inner.range(start, end, limit)
    }
    fn contains(&self, key: &[u8]) -> bool {
        self.inner.contains(key)
    }
    fn get_before_write(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let value = self.inner.get(key);
        if keys::is_undoable(key) && !self.before.contains_key(key) {
            self.before.insert(key.to_vec(), value.clone());
        }
        value
    }
    fn read_before_write(&mut self, key: &[u8], read: &mut dyn FnMut(&[u8])) -> bool {
        let value = self.inner.get(key);
        if let Some(bytes) = &value {
            read(bytes);
        }
        let present = value.is_some();
        if keys::is_undoable(key) {
            // One look-up: the key is usually new to the tracker.
            if let Entry::Vacant(entry) = self.before.entry(key.to_vec()) {
                entry.insert(value);
            }
        }
        present
    }
    fn contains_before_write(&mut self, key: &[u8]) -> bool {
        // An absent undoable key about to be written has before-image "absent"; noting
        // it now saves the write a second look-up. If it is not written after all, the
        // entry only adds a harmless "delete if present" to the undo record.
        let present = self.inner.contains(key);
        if !present && keys::is_undoable(key) && !self.before.contains_key(key) {
            self.before.insert(key.to_vec(), None);
        }
        present
    }
}

fn next_event_seq(state: &mut impl StateView) -> u64 {
    let seq: u64 = load(state, keys::META_EVENT_SEQ).expect("state has no genesis");
    store(state, keys::META_EVENT_SEQ.to_vec(), &(seq + 1));
    seq + 1
}

fn add_counters(
    state: &mut impl StateView,
    deltas: &BTreeMap<(String, String), LotCounters>,
    subtract: bool,
) {
    for ((gtin, lot), delta) in deltas {
        let key = keys::lot_counters(gtin, lot);
        let mut counters: LotCounters = load(state, &key).unwrap_or_default();
        if subtract {
            counters.subtract(delta);
        } else {
            counters.add(delta);
        }
        store(state, key, &counters);
    }
}

/// Applies one event's operations, idempotently by event hash.
pub(crate) fn apply_event(
    state: &mut impl StateView,
    ctx: &BlockCtx,
    org: &str,
    tx_id: &Digest32,
    event_hash: Digest32,
    ops: &[Op],
    declaration: Option<&ErrorDeclarationBody>,
) -> RuleResult<Outcome> {
    if let Some(declaration) = declaration {
        declare_error(state, ctx, org, event_hash, declaration)?;
        return Ok(Outcome::Applied);
    }
    if state.contains(&keys::event(&event_hash)) {
        return Ok(Outcome::DuplicateEvent);
    }
    if ops.is_empty() {
        return reject(Outcome::MalformedBody, "event has no operations");
    }
    if ops.len() as u64 > OPS_PER_EVENT_MAX {
        return reject(Outcome::LimitExceeded, "too many operations in one event");
    }
    let event_seq = next_event_seq(state);
    let mut ev = EventCtx::new(org, ctx.height, ctx.timestamp_ms, event_hash, event_seq);
    let mut tracker = UndoTracker {
        inner: state,
        before: BTreeMap::new(),
    };
    for (index, op) in ops.iter().enumerate() {
        ev.op_index = index as u64;
        rules::apply_op(&mut tracker, &mut ev, op)?;
    }
    let before = tracker.before;
    let counter_deltas = ev.take_counters();
    add_counters(state, &counter_deltas, false);
    let record = EventRecord {
        event_seq,
        tx_id: *tx_id,
        org: org.to_string(),
        height: ctx.height,
        timestamp_ms: ctx.timestamp_ms,
        counter_deltas,
        error_declaration: None,
    };
    store(state, keys::event(&event_hash), &record);
    // Same bytes as `store(.., &UndoRecord { before })`, in one buffer of the exact size.
    state.put(
        keys::undo(&event_hash),
        fastcodec::encode_undo(before.iter()),
    );
    Ok(Outcome::Applied)
}

/// EPCIS 2.0 errorDeclaration: the declaring event repeats the erroneous one (so it has
/// the same event hash). The erroneous event is marked, and its effects are undone by
/// restoring the before-images it recorded, provided no later event changed the same
/// objects (declare later events first). History is kept and gains an
/// `ErrorDeclared` entry; lot counters are reduced by the event's deltas.
fn declare_error(
    state: &mut impl StateView,
    ctx: &BlockCtx,
    org: &str,
    event_hash: Digest32,
    declaration: &ErrorDeclarationBody,
) -> RuleResult<()> {
    let Some(mut record) = load::<EventRecord>(state, &keys::event(&event_hash)) else {
        return reject(
            Outcome::UnknownDeclaredEvent,
            format!("event {} is not on the ledger", codec::to_hex(&event_hash)),
        );
    };
    if record.error_declaration.is_some() {
        return reject(Outcome::AlreadyDeclared, "event already declared erroneous");
    }
    let is_regulator =
        membership::active_org(state, org).is_some_and(|r| r.has_role(Role::Regulator));
    if record.org != org && !is_regulator {
        return reject(
            Outcome::NotEventSubmitter,
            format!("event was submitted by {}", record.org),
        );
    }
    if declaration.corrective_event_ids.len() > 64
        || declaration.reason.as_ref().is_some_and(|r| r.len() > 256)
    {
        return reject(Outcome::LimitExceeded, "errorDeclaration too large");
    }
    let undo: UndoRecord =
        load(state, &keys::undo(&event_hash)).expect("event without undo record");
    let mut objects = Vec::new();
    for (key, _) in &undo.before {
        if let Some(object_bytes) = key.strip_prefix(keys::OBJECT_PREFIX) {
            let object = ObjectKey::read_key(object_bytes).expect("corrupt object key");
            let current: Option<ObjectRecord> = load(state, key);
            if current.is_some_and(|current| current.last_event_seq != record.event_seq) {
                return reject(
                    Outcome::DeclarationSuperseded,
                    format!("{object} changed after the declared event"),
                );
            }
            objects.push(object);
        }
    }
    for (key, before) in undo.before {
        match before {
            Some(value) => state.put(key, value),
            None => state.delete(&key),
        }
    }
    add_counters(state, &record.counter_deltas, true);
    let event_seq = next_event_seq(state);
    for object in &objects {
        let entry = HistoryEntry {
            event_seq,
            event_hash,
            height: ctx.height,
            timestamp_ms: ctx.timestamp_ms,
            org: org.to_string(),
            action: HistoryAction::ErrorDeclared { event_hash },
            via: None,
        };
        store(state, keys::history(object, event_seq), &entry);
    }
    record.error_declaration = Some(ErrorDeclarationRecord {
        org: org.to_string(),
        height: ctx.height,
        reason: declaration.reason.clone(),
        corrective_event_ids: declaration.corrective_event_ids.clone(),
    });
    store(state, keys::event(&event_hash), &record);
    state.delete(&keys::undo(&event_hash));
    Ok(())
}
