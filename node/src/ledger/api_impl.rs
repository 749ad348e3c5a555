//! [`LedgerApi`] for [`LedgerHandle`]: converts the ledger's types to the API's.
//!
//! Storage read failures surface as [`ReadError`]s naming the read (the API answers them
//! with a 500, never as "not found"); a write failure stops the event loop, which `status`
//! and `submit` then report.

use pedigree_chaincode::codec::Digest32;
use pedigree_chaincode::{SignedTx, StateView, TxBody, TxEnvelope};
use rand_core::{OsRng, RngCore};

use super::block::Side as LedgerSide;
use super::handle::{LedgerHandle, SubmitError as LedgerSubmitError};
use super::store::{StoredEventRecord, TxResult};
use crate::api::service::{
    BlockView, BoxFuture, CommitMark, Committed, EventField, InclusionProof, LedgerApi,
    LedgerStatus, NodeInfo, NodeRole, PeerStatus, ProofStep, ReadError, Side, StoredEvent,
    SubmitError,
};

fn committed(result: TxResult) -> Committed {
    Committed {
        receipt: result.receipt,
        height: result.height,
        index: result.index,
        block_hash: result.block_hash,
    }
}

fn stored_event(record: StoredEventRecord) -> StoredEvent {
    StoredEvent {
        seq: record.seq,
        event: record.event,
        event_hash_id: record.event_hash_id,
        record_time_ms: record.record_time_ms,
        block_height: record.block_height,
        tx_id: record.tx_id,
    }
}

fn submit_error(error: LedgerSubmitError) -> SubmitError {
    match error {
        LedgerSubmitError::ReadOnly => SubmitError::ReadOnly,
        LedgerSubmitError::Invalid(message) => SubmitError::Invalid(message),
        LedgerSubmitError::Timeout { .. } => SubmitError::Timeout,
        other => SubmitError::Unavailable(other.to_string()),
    }
}

/// An API count as the store's.
fn limit(limit: usize) -> u64 {
    u64::try_from(limit).unwrap_or(u64::MAX)
}

/// Stored events read from the store, as the API's.
fn events(
    result: Result<Vec<StoredEventRecord>, super::LedgerError>,
) -> Result<Vec<StoredEvent>, ReadError> {
    Ok(read("events", result)?
        .into_iter()
        .map(stored_event)
        .collect())
}

fn read<T>(what: &'static str, result: Result<T, super::LedgerError>) -> Result<T, ReadError> {
    result.map_err(|error| ReadError {
        what,
        message: error.to_string(),
    })
}

impl LedgerHandle {
    fn role(&self) -> NodeRole {
        if self.is_learner() {
            NodeRole::Learner
        } else {
            NodeRole::Voter
        }
    }
}

impl LedgerApi for LedgerHandle {
    fn info(&self) -> NodeInfo {
        NodeInfo {
            org_id: self
                .members()
                .iter()
                .find(|entry| entry.peer_id == self.local_peer_id())
                .map(|entry| entry.org.clone())
                .unwrap_or_default(),
            peer_id: self.local_peer_id().to_string(),
            network_id: self.network_id(),
            role: self.role(),
        }
    }

    fn submit(
        &self,
        txs: Vec<SignedTx>,
    ) -> BoxFuture<'static, Vec<Result<Committed, SubmitError>>> {
        let handle = self.clone();
        Box::pin(async move {
            let count = txs.len();
            match LedgerHandle::submit(&handle, txs).await {
                Ok(results) => results.into_iter().map(|r| Ok(committed(r))).collect(),
                Err(error) => {
                    let error = submit_error(error);
                    (0..count).map(|_| Err(error.clone())).collect()
                }
            }
        })
    }

    fn sign(&self, body: TxBody) -> Result<SignedTx, SubmitError> {
        let Some(signer) = &self.signer else {
            return Err(SubmitError::Invalid("this node has no signing key".into()));
        };
        let envelope = TxEnvelope {
            network_id: self.network_id(),
            signer_org: signer.org.clone(),
            key_id: signer.key_id.clone(),
            public_key: signer.key.verifying_key().to_bytes(),
            nonce: OsRng.next_u64(),
            body,
        };
        Ok(envelope.sign(&signer.key))
    }

    fn with_state(&self, f: &mut dyn FnMut(&dyn StateView)) {
        LedgerHandle::with_state(self, |state| f(state));
    }

    fn block(&self, height: u64) -> Result<Option<BlockView>, ReadError> {
        let Some((block, receipts)) = read("block", LedgerHandle::block(self, height))? else {
            return Ok(None);
        };
        Ok(Some(BlockView {
            height: block.header.height,
            hash: block.hash(),
            parent_hash: block.header.previous_hash,
            timestamp_ms: block.header.timestamp_ms,
            tx_root: block.header.tx_root,
            state_hash: block.header.state_hash,
            txs: block.txs,
            receipts,
        }))
    }

    fn latest_height(&self) -> u64 {
        self.status().head.height
    }

    fn inclusion_proof(&self, tx_id: &Digest32) -> Result<Option<InclusionProof>, ReadError> {
        let Some((proof, header)) = read("proof", LedgerHandle::inclusion_proof(self, tx_id))?
        else {
            return Ok(None);
        };
        Ok(Some(InclusionProof {
            tx_id: *tx_id,
            leaf: super::block::leaf_hash(tx_id),
            siblings: proof
                .siblings
                .iter()
                .map(|(side, hash)| ProofStep {
                    side: match side {
                        LedgerSide::Left => Side::Left,
                        LedgerSide::Right => Side::Right,
                    },
                    hash: *hash,
                })
                .collect(),
            root: header.tx_root,
            height: header.height,
            index: proof.index,
            block_hash: header.hash(),
        }))
    }

    fn receipt(&self, tx_id: &Digest32) -> Result<Option<Committed>, ReadError> {
        Ok(read("receipt", LedgerHandle::receipt(self, tx_id))?.map(committed))
    }

    fn status(&self) -> LedgerStatus {
        let status = LedgerHandle::status(self);
        let connected = self.connected_peers();
        let peers = status
            .members
            .iter()
            .filter(|entry| entry.peer_id != self.local_peer_id())
            .map(|entry| PeerStatus {
                peer_id: entry.peer_id.to_string(),
                org_id: Some(entry.org.clone()),
                role: if entry.learner {
                    NodeRole::Learner
                } else {
                    NodeRole::Voter
                },
                connected: connected.contains(&entry.peer_id),
                match_index: None,
            })
            .collect();
        LedgerStatus {
            role: self.role(),
            term: status.term,
            leader: status.leader_peer.map(|peer| peer.to_string()),
            is_leader: status.leader_id == Some(status.raft_id),
            commit_index: status.commit_index,
            applied_index: status.applied_index,
            peers,
            latest_height: status.head.height,
            latest_block_hash: status.head.block_hash,
            state_hash: status.head.state_hash,
        }
    }

    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, ReadError> {
        events(LedgerHandle::events_after(self, after, self::limit(limit)))
    }

    fn event_by_hash(&self, event_hash_id: &str) -> Result<Option<StoredEvent>, ReadError> {
        Ok(read("event", LedgerHandle::event_by_hash(self, event_hash_id))?.map(stored_event))
    }

    fn event_by_id(&self, event_id: &str) -> Result<Option<StoredEvent>, ReadError> {
        Ok(read("event", LedgerHandle::event_by_id(self, event_id))?.map(stored_event))
    }

    fn events_by_epc(
        &self,
        epc: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, ReadError> {
        events(LedgerHandle::events_by_epc(
            self,
            epc,
            after,
            self::limit(limit),
        ))
    }

    fn epcs_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, ReadError> {
        read(
            "epcs",
            LedgerHandle::epcs_after(self, after, self::limit(limit)),
        )
    }

    fn events_by_field(
        &self,
        field: EventField,
        value: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, ReadError> {
        events(
            self.store
                .events_by_field(field, value, after, self::limit(limit)),
        )
    }

    fn field_values_after(
        &self,
        field: EventField,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ReadError> {
        read(
            "values",
            self.store
                .field_values_after(field, after, self::limit(limit)),
        )
    }

    fn commit_mark(&self) -> CommitMark {
        let status = self.status.borrow();
        let head = &status.head;
        CommitMark {
            height: head.height,
            event_seq: head.event_seq,
        }
    }

    fn next_commit(&self, after: CommitMark) -> BoxFuture<'static, Option<CommitMark>> {
        let mut receiver = self.status_watch();
        Box::pin(async move {
            let status = receiver
                .wait_for(|s| s.head.height > after.height || !s.running)
                .await
                .ok()?;
            status.running.then_some(CommitMark {
                height: status.head.height,
                event_seq: status.head.event_seq,
            })
        })
    }

    fn metrics_text(&self) -> String {
        let mut text = String::new();
        for (name, value) in self.metrics().values() {
            text.push_str(&format!("# TYPE {name} counter\n{name} {value}\n"));
        }
        let status = LedgerHandle::status(self);
        text.push_str(&format!(
            "# TYPE ledger_height gauge\nledger_height {}\n",
            status.head.height
        ));
        text.push_str(&format!(
            "# TYPE ledger_applied_index gauge\nledger_applied_index {}\n",
            status.applied_index
        ));
        text
    }
}
