//! [`LedgerHandle`]: the cloneable front door of the ledger. Submissions go to the event loop
//! over a bounded channel; reads go straight to RocksDB (a local read, never a round trip).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use libp2p::PeerId;
use pedigree_chaincode::codec::Digest32;
use pedigree_chaincode::{Receipt, SignedTx, StateView};
use pedigree_consensus::Role;
use tokio::sync::{mpsc, oneshot, watch};

use super::block::{Block, BlockHeader, MerkleProof};
use super::peers::PeerEntry;
use super::store::{Head, LedgerStore, StoredEventRecord, TxLocation, TxResult};
use super::{LedgerError, Signer};

/// Most submissions queued for the event loop.
pub const COMMANDS_QUEUED_MAX: usize = 1024;
/// Most transactions in one `submit` call.
pub const SUBMIT_TXS_MAX: usize = 4096;

/// Why `submit` did not produce results.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// This node is a learner: it replicates but never takes writes.
    #[error("this node is a read-only learner; submit to a voting node")]
    ReadOnly,
    /// This node is not (or not yet, or no longer) a member of the network's applied
    /// membership.
    #[error("this node is not a member of the network (joining, or removed); submit to a member")]
    NotMember,
    /// The call carried no transactions or too many.
    #[error("invalid submission: {0}")]
    Invalid(String),
    /// The event loop's queue is full or too many transactions are waiting.
    #[error("ledger overloaded; retry later")]
    Overloaded,
    /// The ledger has stopped (shutdown or a fatal storage error).
    #[error("ledger stopped")]
    Stopped,
    /// The file system holding the node's data has less free space than the node's minimum
    /// ([`super::LedgerTuning::disk_free_min_bytes`]): nothing was submitted.
    #[error(
        "the node's disk has {} MiB free, below its minimum of {} MiB \
         (node.disk_free_min_mib): writes are refused until space is freed; reads and \
         verification go on",
        free_bytes >> 20,
        min_bytes >> 20
    )]
    DiskLow {
        /// Free bytes when the submission came.
        free_bytes: u64,
        /// The minimum.
        min_bytes: u64,
    },
    /// Not every transaction was applied within the deadline; their fate is unknown (a
    /// resubmission is safe: the chaincode rejects replays).
    #[error("timed out waiting for {pending} of {total} transactions to be applied")]
    Timeout {
        /// Transactions still unapplied.
        pending: usize,
        /// Transactions submitted.
        total: usize,
    },
}

/// Commands from handles to the event loop.
#[derive(Debug)]
pub(crate) enum Command {
    /// Order these transactions; each sender resolves when its tx is applied.
    Submit {
        txs: Vec<SignedTx>,
        waiters: Vec<oneshot::Sender<TxResult>>,
    },
}

/// Live status, published by the event loop after every step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerStatus {
    /// This node's Raft id.
    pub raft_id: u64,
    /// True for a learner.
    pub learner: bool,
    /// Raft role.
    pub role: Role,
    /// Raft term.
    pub term: u64,
    /// Leader's Raft id, if known.
    pub leader_id: Option<u64>,
    /// Leader's peer id, if known.
    pub leader_peer: Option<PeerId>,
    /// Raft commit index.
    pub commit_index: u64,
    /// Applied index (ledger's).
    pub applied_index: u64,
    /// Voters in the current configuration.
    pub voters: Vec<u64>,
    /// Learners in the current configuration.
    pub learners: Vec<u64>,
    /// The member nodes of the applied membership state (the configuration the leader
    /// reconciles Raft toward), by Raft id.
    pub members: Arc<Vec<PeerEntry>>,
    /// True if this node is one of `members`.
    pub member: bool,
    /// The ledger head (latest block height and hash, state hash).
    pub head: Head,
    /// False once the event loop has stopped.
    pub running: bool,
}

/// Counters; they only grow.
#[derive(Debug, Default)]
pub struct LedgerMetrics {
    /// Transactions accepted by `submit`.
    pub txs_submitted: AtomicU64,
    /// Blocks applied.
    pub blocks_applied: AtomicU64,
    /// Transactions applied (accepted or rejected).
    pub txs_applied: AtomicU64,
    /// Transactions whose signature failed verification.
    pub signatures_failed: AtomicU64,
    /// Block proposals made by this node as leader.
    pub proposals_made: AtomicU64,
    /// Block proposals dropped by consensus.
    pub proposals_dropped: AtomicU64,
    /// Transactions forwarded to the leader (including resends).
    pub txs_forwarded: AtomicU64,
    /// Snapshots produced (compactions).
    pub snapshots_taken: AtomicU64,
    /// Snapshots restored.
    pub snapshots_restored: AtomicU64,
    /// Inbound raft messages that did not decode or came from unknown peers.
    pub messages_refused: AtomicU64,
}

impl LedgerMetrics {
    /// Adds one to a counter.
    pub(crate) fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// `(name, value)` of every counter.
    pub fn values(&self) -> Vec<(&'static str, u64)> {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        vec![
            ("ledger_txs_submitted_total", load(&self.txs_submitted)),
            ("ledger_blocks_applied_total", load(&self.blocks_applied)),
            ("ledger_txs_applied_total", load(&self.txs_applied)),
            (
                "ledger_signatures_failed_total",
                load(&self.signatures_failed),
            ),
            ("ledger_proposals_made_total", load(&self.proposals_made)),
            (
                "ledger_proposals_dropped_total",
                load(&self.proposals_dropped),
            ),
            ("ledger_txs_forwarded_total", load(&self.txs_forwarded)),
            ("ledger_snapshots_taken_total", load(&self.snapshots_taken)),
            (
                "ledger_snapshots_restored_total",
                load(&self.snapshots_restored),
            ),
            (
                "ledger_messages_refused_total",
                load(&self.messages_refused),
            ),
        ]
    }
}

/// The ledger's front door: cheap to clone, `Send + Sync`.
#[derive(Clone, Debug)]
pub struct LedgerHandle {
    pub(crate) store: Arc<LedgerStore>,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) status: watch::Receiver<LedgerStatus>,
    pub(crate) metrics: Arc<LedgerMetrics>,
    pub(crate) local_peer_id: PeerId,
    pub(crate) signer: Option<Signer>,
    pub(crate) submit_timeout: std::time::Duration,
    pub(crate) network: crate::net::NetworkHandle,
    /// The data directory, whose file system [`LedgerHandle::submit`] checks.
    pub(crate) data_dir: std::path::PathBuf,
    pub(crate) disk_free_min_bytes: u64,
}

/// Logs a refusal for lack of disk at most once a minute (a busy node refuses many
/// submissions, and its log is on the disk that is short).
fn warn_disk_low(error: &SubmitError) {
    static LAST_WARNED_S: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let last = LAST_WARNED_S.load(std::sync::atomic::Ordering::Relaxed);
    if now_s >= last.saturating_add(60)
        && LAST_WARNED_S
            .compare_exchange(
                last,
                now_s,
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
            )
            .is_ok()
    {
        tracing::warn!(%error, "submissions refused (logged at most once a minute)");
    }
}

/// Refuses a submission when `free` is below `min` (0: never). An unknown free space does
/// not refuse: the check is a guard in front of RocksDB, which still fails safely on a full
/// disk.
fn disk_guard(free: std::io::Result<u64>, min: u64) -> Result<(), SubmitError> {
    match free {
        Ok(free) if free < min => Err(SubmitError::DiskLow {
            free_bytes: free,
            min_bytes: min,
        }),
        Ok(_) => Ok(()),
        Err(error) => {
            tracing::warn!(%error, "cannot read the data directory's free space");
            Ok(())
        }
    }
}

impl LedgerHandle {
    /// Orders, commits and applies `txs`; resolves with one result per transaction, in order,
    /// once every one is applied on this node (a later read sees it). Works on any voter:
    /// followers forward to the leader and resend until applied or [`super::SUBMIT_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`SubmitError::ReadOnly`] on a learner; see [`SubmitError`] for the rest.
    pub async fn submit(&self, txs: Vec<SignedTx>) -> Result<Vec<TxResult>, SubmitError> {
        let (learner, member) = {
            let status = self.status.borrow();
            (status.learner, status.member)
        };
        if learner {
            return Err(SubmitError::ReadOnly);
        }
        if !member {
            return Err(SubmitError::NotMember);
        }
        if txs.is_empty() || txs.len() > SUBMIT_TXS_MAX {
            return Err(SubmitError::Invalid(format!(
                "a submission holds 1..={SUBMIT_TXS_MAX} transactions, not {}",
                txs.len()
            )));
        }
        if let Some(tx) = txs
            .iter()
            .find(|tx| tx.to_bytes().len() > super::BLOCK_BYTES_MAX)
        {
            return Err(SubmitError::Invalid(format!(
                "transaction {} exceeds {} bytes",
                hex::encode(tx.tx_id()),
                super::BLOCK_BYTES_MAX
            )));
        }
        if self.disk_free_min_bytes > 0 {
            disk_guard(
                pedigree_storage::free_bytes(&self.data_dir),
                self.disk_free_min_bytes,
            )
            .inspect_err(warn_disk_low)?;
        }
        let total = txs.len();
        let mut receivers = Vec::with_capacity(total);
        let mut waiters = Vec::with_capacity(total);
        for _ in 0..total {
            let (sender, receiver) = oneshot::channel();
            waiters.push(sender);
            receivers.push(receiver);
        }
        self.commands
            .try_send(Command::Submit { txs, waiters })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => SubmitError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => SubmitError::Stopped,
            })?;
        LedgerMetrics::bump(&self.metrics.txs_submitted, total as u64);
        let deadline = tokio::time::Instant::now() + self.submit_timeout;
        let mut results = Vec::with_capacity(total);
        for (position, receiver) in receivers.into_iter().enumerate() {
            match tokio::time::timeout_at(deadline, receiver).await {
                Ok(Ok(result)) => results.push(result),
                // The loop dropped the waiter: it stopped, or shed load.
                Ok(Err(_)) => {
                    return Err(if self.status().running {
                        SubmitError::Overloaded
                    } else {
                        SubmitError::Stopped
                    });
                }
                Err(_) => {
                    return Err(SubmitError::Timeout {
                        pending: total - position,
                        total,
                    });
                }
            }
        }
        Ok(results)
    }

    /// The latest published status.
    pub fn status(&self) -> LedgerStatus {
        self.status.borrow().clone()
    }

    /// A receiver of status changes (for waiting on a condition).
    pub fn status_watch(&self) -> watch::Receiver<LedgerStatus> {
        self.status.clone()
    }

    /// The block at `height` with its receipts.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn block(&self, height: u64) -> Result<Option<(Block, Vec<Receipt>)>, LedgerError> {
        let Some(block) = self.store.block(height)? else {
            return Ok(None);
        };
        let receipts = self.store.block_receipts(height)?;
        Ok(Some((block, receipts)))
    }

    /// The latest block with its receipts (`None` before the first block).
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn latest_block(&self) -> Result<Option<(Block, Vec<Receipt>)>, LedgerError> {
        let head = self.store.head()?;
        if head.height == 0 {
            return Ok(None);
        }
        self.block(head.height)
    }

    /// Where a transaction landed.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn tx_location(&self, tx_id: &Digest32) -> Result<Option<TxLocation>, LedgerError> {
        self.store.tx_location(tx_id)
    }

    /// Inclusion proof of a transaction and the header of its block.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn inclusion_proof(
        &self,
        tx_id: &Digest32,
    ) -> Result<Option<(MerkleProof, BlockHeader)>, LedgerError> {
        self.store.inclusion_proof(tx_id)
    }

    /// Receipt and position of a transaction.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn receipt(&self, tx_id: &Digest32) -> Result<Option<TxResult>, LedgerError> {
        self.store.tx_result(tx_id)
    }

    /// Up to `limit` events with `seq > after`.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn events_after(
        &self,
        after: u64,
        limit: u64,
    ) -> Result<Vec<StoredEventRecord>, LedgerError> {
        self.store.events_after(after, limit)
    }

    /// The event with this hash id.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn event_by_hash(&self, hash_id: &str) -> Result<Option<StoredEventRecord>, LedgerError> {
        self.store.event_by_hash(hash_id)
    }

    /// Up to `limit` events with `seq > after` mentioning `epc`
    /// ([`LedgerStore::events_by_epc`]).
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn events_by_epc(
        &self,
        epc: &str,
        after: u64,
        limit: u64,
    ) -> Result<Vec<StoredEventRecord>, LedgerError> {
        self.store.events_by_epc(epc, after, limit)
    }

    /// Up to `limit` distinct indexed EPCs after `after` ([`LedgerStore::epcs_after`]).
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn epcs_after(&self, after: Option<&str>, limit: u64) -> Result<Vec<String>, LedgerError> {
        self.store.epcs_after(after, limit)
    }

    /// The first event with this EPCIS `eventID`.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn event_by_id(&self, event_id: &str) -> Result<Option<StoredEventRecord>, LedgerError> {
        self.store.event_by_id(event_id)
    }

    /// Runs `f` on a consistent snapshot of the applied state (for chaincode queries).
    pub fn with_state<R>(&self, f: impl FnOnce(&dyn StateView) -> R) -> R {
        self.store.with_state(f)
    }

    /// The counters.
    pub fn metrics(&self) -> &LedgerMetrics {
        &self.metrics
    }

    /// The network id.
    pub fn network_id(&self) -> Digest32 {
        self.store.network_id()
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// True for a learner node.
    pub fn is_learner(&self) -> bool {
        self.status.borrow().learner
    }

    /// The member nodes of the applied membership state.
    pub fn members(&self) -> Arc<Vec<PeerEntry>> {
        Arc::clone(&self.status.borrow().members)
    }

    /// The network handle (to add peer addresses, read network status).
    pub fn network(&self) -> &crate::net::NetworkHandle {
        &self.network
    }

    /// Peers with an open connection.
    pub fn connected_peers(&self) -> std::collections::BTreeSet<PeerId> {
        self.network.status().borrow().connected.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_guard_refuses_below_the_minimum_only() {
        const MIB: u64 = 1 << 20;
        assert!(disk_guard(Ok(2048 * MIB), 1024 * MIB).is_ok());
        assert!(disk_guard(Ok(1024 * MIB), 1024 * MIB).is_ok());
        let error = disk_guard(Ok(1023 * MIB), 1024 * MIB).unwrap_err();
        assert!(matches!(
            error,
            SubmitError::DiskLow {
                free_bytes,
                min_bytes
            } if free_bytes == 1023 * MIB && min_bytes == 1024 * MIB
        ));
        let text = error.to_string();
        assert!(
            text.contains("1023 MiB free") && text.contains("minimum of 1024 MiB"),
            "{text}"
        );
        // An unreadable free space does not refuse: RocksDB still fails safely on a full disk.
        assert!(disk_guard(Err(std::io::Error::other("no statvfs")), 1024 * MIB).is_ok());
    }
}
