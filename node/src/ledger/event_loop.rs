//! The event loop: the one task that owns the [`Replica`], applies committed blocks and answers
//! submitters.
//!
//! One `tokio::select!` over a closed set of events (rust-analyzer's `main_loop` shape):
//!
//! * the tick interval → `Input::Tick`, resending unapplied transactions, forming proposals,
//!   and on the leader one step of membership reconciliation ([`super::reconcile`]);
//! * inbound raft bytes → decoded with limits ([`wire::decode`]) → `Input::Receive`;
//! * forwarded transactions from followers (forward protocol) → the leader's pool;
//! * [`Command`]s from [`LedgerHandle`]s (bounded channel);
//! * the applier's reports;
//! * shutdown.
//!
//! Every [`Output`] is processed in this order: send `messages` (their preconditions are
//! persisted already; none depends on the state machine), then hand `apply` to the
//! [applier](super::applier) thread, then settle `fates`. The applier applies in commit order,
//! several entries per RocksDB write, and reports back (`Done`, another input of the
//! `select!`): only then are waiters resolved and the head published. Log compaction needs the
//! ledger exactly at the replica's applied index, so it happens when the applier is idle (the
//! loop waits for that once a compaction is due). A failed RocksDB write or a fatal replica
//! error stops the loop: nothing is retried blindly.
//!
//! # Proposals
//! Only the leader forms block proposals, from its pool: its own clients' transactions and
//! those followers forward. One proposal (one block) per Raft payload, bounded by
//! [`BLOCK_TXS_MAX`] and [`BLOCK_BYTES_MAX`], stamped with the leader's wall clock. A follower
//! keeps a waiter per submitted transaction and (re)sends it to the leader it knows every
//! `resend_interval` and whenever leadership changes, until it is applied; the chaincode
//! rejects replays, so a resend can never apply a transaction twice.
//!
//! # Membership
//! After every block in which governance changed state, every snapshot and at start, the loop
//! re-reads the member nodes from the applied state ([`super::peers::desired_members`]),
//! registers new peers, and recomputes the network allow-list (members, plus nodes still in
//! Raft's configuration, plus the start-up peers while this node is not a member itself). The
//! leader moves Raft's configuration toward the members one change per tick.
//!
//! # Order
//! The transactions of one `submit` call reach the leader's pool, and so the blocks, in the
//! order given: waiters carry a sequence number and are routed (and forwarded, chunk after
//! chunk) in that order, not in transaction-id order. A client that submits a commissioning
//! and the packing of the same units in one request relies on it. Across calls the order
//! holds when the client waits for one call's results before the next (as the SDK and the
//! plant adapter do); concurrent calls on a follower may interleave.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libp2p::PeerId;
use pedigree_chaincode::SignedTx;
use pedigree_chaincode::codec::{self, Digest32};
use pedigree_consensus::{
    Apply, Input, LogStore, MembershipChange, Output, ProposalFate, Replica, ReplicaConfig, Role,
    bootstrap_snapshot, wire,
};
use pedigree_storage::state::LedgerDbOptions;
use pedigree_storage::{RocksLogStore, RocksLogStoreOptions};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::applier::{Applier, Done, Job, applier_stopped};
use super::handle::{COMMANDS_QUEUED_MAX, Command, LedgerHandle, LedgerMetrics, LedgerStatus};
use super::peers::{PeerEntry, PeerMap, desired_members};
use super::reconcile::{DesiredConf, next_change};
use super::store::{AppliedBlock, BlockProposal, Head, KnownPeer, LedgerStore, TxResult};
use super::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX, LedgerConfig, LedgerError, LedgerTuning, Result};
use crate::net::{AllowList, InboundRequest, NetworkHandle, NetworkInbound};
use crate::shutdown::Shutdown;

/// Most committed entries handed to the applier and not yet applied; past it the loop waits
/// for the applier to catch up by half (so memory stays bounded when applying is slower than
/// committing, as on a node catching up).
pub const APPLY_BACKLOG_MAX: usize = 1024;
/// Most transactions waiting in the leader's pool.
pub const POOL_TXS_MAX: usize = 65_536;
/// Most submitted transactions waiting to be applied on one node.
pub const WAITERS_MAX: usize = 65_536;
/// Most block proposals of this leader awaiting their fate.
pub const PROPOSALS_IN_FLIGHT_MAX: usize = 32;
/// Proposals in flight up to which the leader proposes whatever its pool holds; beyond it only
/// full blocks. Under load, transactions arriving while blocks are in flight then gather into
/// bigger blocks instead of a block per request: every block costs every node a Raft round,
/// fsyncs and a ledger write whatever its size (about 1 ms of CPU per node on the devnet),
/// while a deep pipeline of full blocks keeps a long-distance network busy.
pub const PROPOSALS_IN_FLIGHT_PARTIAL_MAX: usize = 2;
/// Most encoded transaction bytes in one forward request.
pub const FORWARD_BYTES_MAX: usize = 1024 * 1024;
/// Most unregistered peers remembered as raft contacts.
pub const CONTACTS_MAX: usize = 64;

/// A follower's request to the leader over the forward protocol.
#[derive(Debug, Serialize, Deserialize)]
enum ForwardRequest {
    /// Put these transactions in the leader's pool.
    Txs(Vec<SignedTx>),
}

/// The leader's answer.
#[derive(Debug, Serialize, Deserialize)]
enum ForwardResponse {
    /// Queued for a proposal.
    Accepted,
    /// Not the leader; the hint is a Raft id.
    NotLeader { leader: Option<u64> },
}

/// The leader's pending transactions.
#[derive(Default)]
struct TxPool {
    queue: VecDeque<(SignedTx, usize)>,
    /// Encoded bytes of the queued transactions.
    bytes: usize,
    /// Ids queued or in a proposal in flight.
    ids: BTreeSet<Digest32>,
}

impl TxPool {
    fn add(&mut self, tx: SignedTx) -> bool {
        let size = tx.to_bytes().len();
        if size > BLOCK_BYTES_MAX || self.queue.len() >= POOL_TXS_MAX {
            return false;
        }
        if self.ids.insert(tx.tx_id()) {
            self.queue.push_back((tx, size));
            self.bytes += size;
        }
        true
    }

    /// Whether the queue holds at least a full block (by count or by bytes).
    fn fills_a_block(&self) -> bool {
        self.queue.len() >= BLOCK_TXS_MAX || self.bytes >= BLOCK_BYTES_MAX
    }

    /// Takes the next block's worth of transactions.
    fn take_block(&mut self) -> Vec<SignedTx> {
        let mut txs = Vec::new();
        let mut bytes = 0usize;
        while let Some((_, size)) = self.queue.front() {
            if txs.len() >= BLOCK_TXS_MAX || bytes + size > BLOCK_BYTES_MAX {
                break;
            }
            bytes += size;
            let (tx, _) = self.queue.pop_front().expect("front exists");
            txs.push(tx);
        }
        assert!(txs.len() <= BLOCK_TXS_MAX && bytes <= BLOCK_BYTES_MAX);
        self.bytes -= bytes;
        debug_assert!(
            !self.queue.is_empty() || self.bytes == 0,
            "pool bytes drifted"
        );
        txs
    }

    fn clear(&mut self) {
        self.queue.clear();
        self.bytes = 0;
        self.ids.clear();
    }
}

/// A submitted transaction waiting to be applied on this node.
struct Waiter {
    /// Submission order on this node (transactions are routed in this order).
    seq: u64,
    tx: SignedTx,
    senders: Vec<oneshot::Sender<TxResult>>,
    deadline: Instant,
    next_send: Instant,
}

struct EventLoop {
    replica: Replica<RocksLogStore>,
    store: Arc<LedgerStore>,
    head: Head,
    raft_id: u64,
    local_peer_id: PeerId,
    /// True if this node's org is a regulator (or, before it knows its membership, if genesis
    /// lists it as a learner): it never takes writes or proposes.
    learner: bool,
    /// True if the applied membership state lists this node.
    member: bool,
    /// Every node ever registered (never shrinks).
    peers: PeerMap,
    /// The members of the applied state, by Raft id.
    members: Arc<Vec<PeerEntry>>,
    /// The Raft configuration `members` asks for; derived whenever `members` changes.
    desired: DesiredConf,
    /// Peers outside the registry that sent us raft messages (a joining node hears from a
    /// leader its genesis state does not know yet), so that replies can be addressed.
    contacts: BTreeMap<u64, PeerId>,
    /// What the caller put in the allow-list at start (genesis and bootstrap peers): kept
    /// allowed while this node is not a member of its own applied state, so a joining node can
    /// reach the network it is joining.
    initial_allowed: BTreeSet<PeerId>,
    network: NetworkHandle,
    allow_list: AllowList,
    tuning: LedgerTuning,
    pool: TxPool,
    waiters: BTreeMap<Digest32, Waiter>,
    /// The next waiter's sequence number.
    waiter_seq_next: u64,
    /// Proposal id → its transaction ids.
    in_flight: BTreeMap<u64, Vec<Digest32>>,
    proposal_id_next: u64,
    applied_since_compact: u64,
    /// The durable applied index the log was last compacted to (see
    /// [`EventLoop::compact_durable`]).
    compacted_to: u64,
    /// The flush of the ledger [`EventLoop::compact_durable`] asked for last. It holds the
    /// store, so the loop waits for it before it reports that it stopped (a node restarted in
    /// the same process must find the database closed).
    persisting: Option<JoinHandle<()>>,
    /// Raft asked for a fresh snapshot (a follower needs one); taken at the next point where
    /// the ledger has applied everything the replica has handed out.
    snapshot_wanted: bool,
    /// The thread that applies committed entries ([`super::applier`]).
    applier: Option<Applier>,
    leader_seen: Option<u64>,
    /// The last membership change asked for and the tick it was first asked at (to log each
    /// once, and to give a leadership transfer time to finish before asking again).
    last_reconcile: Option<(MembershipChange, u64)>,
    /// Ticks since start.
    ticks: u64,
    status: watch::Sender<LedgerStatus>,
    metrics: Arc<LedgerMetrics>,
}

/// Opens the stores, builds the replica and spawns the event loop on the current runtime.
///
/// The loop stops when `shutdown` fires, or on a fatal error (logged; the status reports
/// `running: false` and submissions fail with `Stopped`).
///
/// # Errors
///
/// Storage failures, an unusable genesis node list, or invalid replica settings.
pub fn start(
    config: LedgerConfig,
    network: NetworkHandle,
    inbound: NetworkInbound,
    allow_list: AllowList,
    shutdown: Shutdown,
) -> Result<(LedgerHandle, JoinHandle<()>)> {
    let peers = PeerMap::from_genesis(&config.genesis)?;
    let raft_id = peers.raft_id_for(&config.local_peer_id);
    let in_genesis = peers.in_genesis(&config.local_peer_id);
    let learner = peers.entry(raft_id).is_some_and(|entry| entry.learner);
    std::fs::create_dir_all(&config.data_dir).map_err(|error| {
        LedgerError::Corrupt(format!(
            "cannot create {}: {error}",
            config.data_dir.display()
        ))
    })?;
    let tuning = config.tuning.clone();
    let store = LedgerStore::open(
        &config.data_dir.join("ledger"),
        &config.genesis,
        LedgerDbOptions::staggered(tuning.sync_writes, raft_id),
    )?;
    let head = store.check_head()?;
    // Only genesis nodes start from the genesis configuration; a node added later starts with
    // an empty log and learns everything from the leader's snapshot.
    let log_options = RocksLogStoreOptions {
        sync: tuning.sync_writes,
        memtable_bytes: pedigree_storage::staggered_memtable_bytes(raft_id),
    };
    let log = open_log(&config, in_genesis.then_some(&peers), log_options)?;
    let mut replica_config = ReplicaConfig::new(raft_id);
    replica_config.election_ticks = tuning.election_ticks;
    replica_config.heartbeat_ticks = tuning.heartbeat_ticks;
    replica_config.compaction_keeps_lag_max = tuning.compaction_keeps_lag_max;
    let replica = Replica::new(replica_config, log)?;
    tracing::info!(
        raft_id,
        learner,
        in_genesis,
        height = head.height,
        applied_index = head.applied_index,
        "ledger opened"
    );

    let metrics = Arc::new(LedgerMetrics::default());
    let initial_status = LedgerStatus {
        raft_id,
        learner,
        role: Role::Follower,
        term: 0,
        leader_id: None,
        leader_peer: None,
        commit_index: 0,
        applied_index: head.applied_index,
        voters: Vec::new(),
        learners: Vec::new(),
        members: Arc::new(Vec::new()),
        member: false,
        head: head.clone(),
        running: true,
    };
    let (status_sender, status_receiver) = watch::channel(initial_status);
    let (command_sender, command_receiver) = mpsc::channel(COMMANDS_QUEUED_MAX);
    let handle = LedgerHandle {
        store: Arc::clone(&store),
        commands: command_sender,
        status: status_receiver,
        metrics: Arc::clone(&metrics),
        local_peer_id: config.local_peer_id,
        signer: config.signer.clone(),
        submit_timeout: tuning.submit_timeout,
        network: network.clone(),
        data_dir: config.data_dir.clone(),
        disk_free_min_bytes: tuning.disk_free_min_bytes,
    };
    let initial_allowed = allow_list.members();
    let (applier, applied) = Applier::start(Arc::clone(&store), head.clone(), raft_id)?;
    let mut event_loop = EventLoop {
        replica,
        store,
        head,
        raft_id,
        local_peer_id: config.local_peer_id,
        learner,
        member: false,
        peers,
        members: Arc::new(Vec::new()),
        desired: DesiredConf::default(),
        contacts: BTreeMap::new(),
        initial_allowed,
        network,
        allow_list,
        tuning,
        pool: TxPool::default(),
        waiters: BTreeMap::new(),
        waiter_seq_next: 0,
        in_flight: BTreeMap::new(),
        proposal_id_next: 1,
        applied_since_compact: 0,
        compacted_to: 0,
        persisting: None,
        snapshot_wanted: false,
        applier: Some(applier),
        leader_seen: None,
        last_reconcile: None,
        ticks: 0,
        status: status_sender,
        metrics,
    };
    event_loop.refresh_membership()?;
    event_loop.publish_status(true);
    let join = tokio::spawn(event_loop.run(inbound, command_receiver, applied, shutdown));
    Ok((handle, join))
}

/// Opens the Raft log. With `genesis` (a node listed in genesis), a new log is bootstrapped
/// with the genesis configuration (voters and learners from [`PeerMap`]) at index 1, so every
/// genesis node starts from the same configuration; without it a new log stays empty until the
/// leader sends a snapshot.
fn open_log(
    config: &LedgerConfig,
    genesis: Option<&PeerMap>,
    options: RocksLogStoreOptions,
) -> Result<RocksLogStore> {
    let mut log = RocksLogStore::open(config.data_dir.join("raft"), options)?;
    let stored = LogStore::latest_snapshot(&log)
        .map_err(|error| LedgerError::Consensus(pedigree_consensus::Error::Store(error)))?;
    if let Some(peers) = genesis
        && stored.get_metadata().index == 0
    {
        let mut snapshot = bootstrap_snapshot(&peers.genesis_voters());
        if let Some(metadata) = snapshot.metadata.as_mut()
            && let Some(conf_state) = metadata.conf_state.as_mut()
        {
            conf_state.learners = peers.genesis_learners();
        }
        LogStore::apply_snapshot(&mut log, snapshot)
            .map_err(|error| LedgerError::Consensus(pedigree_consensus::Error::Store(error)))?;
    }
    Ok(log)
}

fn now_ms() -> u64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

impl EventLoop {
    async fn run(
        mut self,
        mut inbound: NetworkInbound,
        mut commands: mpsc::Receiver<Command>,
        mut applied: mpsc::UnboundedReceiver<Done>,
        mut shutdown: Shutdown,
    ) {
        let mut ticker = tokio::time::interval(self.tuning.tick_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let step = tokio::select! {
                () = shutdown.recv() => break,
                _ = ticker.tick() => self.on_tick(),
                Some((peer, bytes)) = inbound.raft.recv() => self.on_raft(peer, bytes),
                Some(request) = inbound.requests.recv() => self.on_forward(request),
                Some(command) = commands.recv() => self.on_command(command),
                Some(done) = applied.recv() => self.on_applied(done),
            };
            // Fates freed proposal slots (or the pool filled while they were full): propose
            // now, not at the next tick.
            let mut step = step.and_then(|()| self.propose_from_pool());
            if step.is_ok() && self.compaction_waits() {
                step = self.drain_applier(&mut applied, 0).await;
            }
            if step.is_ok() && self.applier_outstanding() > APPLY_BACKLOG_MAX {
                // Applying falls behind committing: wait until half the backlog is applied
                // (before the applier thread, every entry was applied in the loop itself).
                step = self
                    .drain_applier(&mut applied, APPLY_BACKLOG_MAX / 2)
                    .await;
            }
            if let Err(error) = step {
                tracing::error!(raft_id = self.raft_id, %error, "ledger stopped by a fatal error");
                break;
            }
            self.publish_status(true);
        }
        // Everything committed and handed to the applier is applied before the loop reports
        // that it stopped (the node then closes the store).
        if let Some(applier) = self.applier.take() {
            let _ = tokio::task::spawn_blocking(move || applier.finish()).await;
        }
        if let Some(flush) = self.persisting.take() {
            let _ = flush.await;
        }
        while let Ok(done) = applied.try_recv() {
            if let Done::Failed(error) = done {
                tracing::error!(raft_id = self.raft_id, %error, "applying failed while stopping");
            }
        }
        self.publish_status(false);
        tracing::info!(raft_id = self.raft_id, "ledger event loop stopped");
    }

    /// True if Raft wants a snapshot of the ledger for a follower but the applier still has
    /// work: the loop then waits for it, since the export must stand exactly at the replica's
    /// applied index.
    fn compaction_waits(&self) -> bool {
        self.snapshot_wanted && self.applier_outstanding() > 0
    }

    /// Jobs handed to the applier and not yet reported done.
    fn applier_outstanding(&self) -> usize {
        self.applier.as_ref().map_or(0, Applier::outstanding)
    }

    /// Processes the applier's reports until at most `left` jobs are outstanding (with 0, until
    /// it is idle, and so exports a snapshot, see [`EventLoop::maybe_compact`]).
    async fn drain_applier(
        &mut self,
        applied: &mut mpsc::UnboundedReceiver<Done>,
        left: usize,
    ) -> Result<()> {
        while self.applier_outstanding() > left {
            match applied.recv().await {
                Some(done) => self.on_applied(done)?,
                None => return Err(applier_stopped()),
            }
        }
        Ok(())
    }

    fn is_leader(&self) -> bool {
        self.replica.status().role == Role::Leader
    }

    /// Feeds one input to the replica and processes its output; non-fatal rejections are
    /// logged and ignored.
    fn step(&mut self, input: Input) -> Result<()> {
        match self.replica.handle(input) {
            Ok(output) => self.process(output, true),
            Err(error) if !error.is_fatal() => {
                tracing::debug!(raft_id = self.raft_id, %error, "input refused");
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    fn process(&mut self, output: Output, may_compact: bool) -> Result<()> {
        let Output {
            messages,
            apply,
            fates,
            snapshot_wanted,
        } = output;
        // Messages first: their preconditions are persisted already and none depends on the
        // state machine, so the leader's appends and a follower's acknowledgements leave before
        // this node spends its time verifying and applying committed blocks.
        for outbound in messages {
            let peer = match self.peers.entry(outbound.to) {
                Some(entry) => entry.peer_id,
                None => match self.contacts.get(&outbound.to) {
                    Some(peer) => *peer,
                    None => continue,
                },
            };
            // Fire and forget: Raft resends whatever is lost.
            let _ = self.network.send(peer, wire::encode(&outbound.message));
        }
        for item in apply {
            self.hand_over(item)?;
        }
        for (id, fate) in fates {
            self.on_fate(id, fate);
        }
        self.observe_leader();
        self.snapshot_wanted |= snapshot_wanted;
        if may_compact {
            self.maybe_compact()?;
        }
        Ok(())
    }

    /// Takes the snapshot Raft wants for a follower: the whole ledger exported, the log
    /// compacted to it. Only when the ledger stands exactly where the replica does: nothing
    /// handed to the applier is outstanding and the applied indexes agree (while entries are
    /// replayed after a restart the replica's trails the ledger's; a snapshot then would claim
    /// the wrong index). Otherwise it waits for such a point; the applier is idle then, so the
    /// export reads a quiet store. The exported snapshot goes into the Raft log store, so a
    /// crash before the ledger has these entries on disk restores it from there.
    fn maybe_compact(&mut self) -> Result<()> {
        if !self.snapshot_wanted {
            return Ok(());
        }
        let idle = self.applier.is_some() && self.applier_outstanding() == 0;
        let in_step = self.replica.status().applied_index == self.head.applied_index;
        if idle && in_step {
            let data = self.store.export()?;
            self.snapshot_wanted = false;
            self.applied_since_compact = 0;
            LedgerMetrics::bump(&self.metrics.snapshots_taken, 1);
            tracing::debug!(
                raft_id = self.raft_id,
                bytes = data.len(),
                "compacting the log with a snapshot of the ledger"
            );
            match self.replica.handle(Input::Compact { data }) {
                Ok(output) => self.process(output, false)?,
                Err(error) if !error.is_fatal() => {
                    tracing::debug!(%error, "compaction refused");
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Periodic log compaction, every `compact_entries` applied entries, checked on each tick.
    /// The ledger writes applied entries without RocksDB's log, so the Raft log keeps every
    /// entry the ledger does not yet have on disk ([`LedgerStore::durable_applied_index`]): it
    /// is compacted with a deferred snapshot (no ledger export: exporting the whole ledger into
    /// memory every `compact_entries` entries on every node would cost gigabytes once the
    /// ledger is large) up to that index. RocksDB flushes the ledger whenever a memtable fills;
    /// if it has not for twice `compact_entries` entries (a quiet ledger), a flush is asked for
    /// off the loop.
    fn compact_durable(&mut self) -> Result<()> {
        if self.applied_since_compact < self.tuning.compact_entries {
            return Ok(());
        }
        let durable = self.store.durable_applied_index()?;
        if durable > self.compacted_to {
            self.compacted_to = durable;
            self.applied_since_compact = self.head.applied_index.saturating_sub(durable);
            LedgerMetrics::bump(&self.metrics.snapshots_taken, 1);
            tracing::debug!(
                raft_id = self.raft_id,
                durable,
                applied_index = self.head.applied_index,
                "compacting the log"
            );
            return self.step(Input::CompactDeferred { index_max: durable });
        }
        let lag = self.head.applied_index.saturating_sub(durable);
        let flushing = self
            .persisting
            .as_ref()
            .is_some_and(|task| !task.is_finished());
        if lag >= 2 * self.tuning.compact_entries && !flushing {
            tracing::debug!(raft_id = self.raft_id, durable, lag, "flushing the ledger");
            let store = Arc::clone(&self.store);
            self.persisting = Some(tokio::task::spawn_blocking(move || {
                if let Err(error) = store.persist() {
                    tracing::error!(%error, "flushing the ledger failed");
                }
            }));
        }
        Ok(())
    }

    /// Hands a committed item to the applier (in commit order).
    fn hand_over(&mut self, item: Apply) -> Result<()> {
        let job = match item {
            Apply::Restore { index, data, .. } => Job::Restore { index, data },
            Apply::Entry {
                index, proposals, ..
            } => Job::Entry {
                index,
                payloads: proposals
                    .into_iter()
                    .map(|proposal| proposal.payload)
                    .collect(),
            },
            Apply::Membership {
                index, conf_state, ..
            } => Job::Membership { index, conf_state },
        };
        match self.applier.as_mut() {
            Some(applier) => applier.send(job),
            None => Err(applier_stopped()),
        }
    }

    /// What the applier did: publish the new head, resolve waiters, refresh the membership.
    fn on_applied(&mut self, done: Done) -> Result<()> {
        if let Some(applier) = self.applier.as_mut() {
            applier.received(&done);
        }
        match done {
            Done::Blocks {
                head,
                blocks,
                entries,
                micros,
                ..
            } => {
                self.head = head;
                self.applied_since_compact += entries;
                if entries > 0 {
                    tracing::debug!(
                        raft_id = self.raft_id,
                        entries,
                        blocks = blocks.len(),
                        applied_index = self.head.applied_index,
                        micros,
                        "applied"
                    );
                }
                for block in &blocks {
                    self.on_block(block)?;
                }
            }
            Done::Restored { head, index, new } => {
                self.head = head;
                if new {
                    LedgerMetrics::bump(&self.metrics.snapshots_restored, 1);
                    tracing::info!(
                        raft_id = self.raft_id,
                        index,
                        height = self.head.height,
                        "restored a snapshot"
                    );
                    self.refresh_membership()?;
                    self.resolve_applied_waiters()?;
                }
            }
            Done::Membership {
                head,
                index,
                conf_state,
                new,
            } => {
                self.head = head;
                if new {
                    self.applied_since_compact += 1;
                    tracing::info!(
                        raft_id = self.raft_id,
                        index,
                        voters = ?conf_state.voters,
                        learners = ?conf_state.learners,
                        "raft configuration changed"
                    );
                }
                // A node that left the configuration loses its network access now.
                self.refresh_allow_list();
            }
            Done::Failed(error) => return Err(error),
        }
        self.maybe_compact()
    }

    fn on_block(&mut self, block: &AppliedBlock) -> Result<()> {
        LedgerMetrics::bump(&self.metrics.blocks_applied, 1);
        LedgerMetrics::bump(&self.metrics.txs_applied, block.receipts.len() as u64);
        for (position, receipt) in block.receipts.iter().enumerate() {
            if receipt
                .message
                .starts_with(super::store::SIGNATURE_FAILED_MESSAGE)
            {
                LedgerMetrics::bump(&self.metrics.signatures_failed, 1);
            }
            self.pool.ids.remove(&receipt.tx_id);
            if let Some(waiter) = self.waiters.remove(&receipt.tx_id) {
                let result = block.result(position);
                for sender in waiter.senders {
                    let _ = sender.send(result.clone());
                }
            }
        }
        if block.governance_changed {
            self.refresh_membership()?;
        }
        Ok(())
    }

    /// After a snapshot, waiters whose transactions the snapshot covers are resolved from the
    /// transaction index.
    fn resolve_applied_waiters(&mut self) -> Result<()> {
        let ids: Vec<Digest32> = self.waiters.keys().copied().collect();
        for tx_id in ids {
            if let Some(result) = self.store.tx_result(&tx_id)? {
                let waiter = self.waiters.remove(&tx_id).expect("listed above");
                for sender in waiter.senders {
                    let _ = sender.send(result.clone());
                }
            }
        }
        Ok(())
    }

    /// Re-reads the membership from the applied state (at start, after a snapshot and after
    /// every block in which governance changed state): registers new nodes (persisting the
    /// registry), recomputes this node's role, and updates the allow-list.
    fn refresh_membership(&mut self) -> Result<()> {
        let known = self.store.known_peers()?;
        for peer in &known {
            match peer.peer_id.parse::<PeerId>() {
                Ok(peer_id) => {
                    self.peers.register(peer_id, &peer.org, peer.learner);
                }
                Err(error) => tracing::warn!(peer = peer.peer_id, %error, "bad registered peer"),
            }
        }
        let state_members = self.store.with_state(|state| desired_members(state));
        let mut members = Vec::with_capacity(state_members.len());
        for member in state_members {
            if let Some(raft_id) = self
                .peers
                .register(member.peer_id, &member.org, member.learner)
            {
                members.push(PeerEntry {
                    raft_id,
                    peer_id: member.peer_id,
                    org: member.org,
                    learner: member.learner,
                });
            }
        }
        members.sort();
        let registry: Vec<KnownPeer> = self
            .peers
            .entries()
            .filter(|entry| !self.peers.in_genesis(&entry.peer_id))
            .map(|entry| KnownPeer {
                peer_id: entry.peer_id.to_string(),
                org: entry.org.clone(),
                learner: entry.learner,
            })
            .collect();
        // A write of its own (logged and fsynced), after the block's (unlogged). A crash can
        // keep the registry and lose the block, whose entry the Raft log still holds: the
        // registry then names nodes a committed block registered before the restart re-applies
        // it. It only ever grows, and the replayed block registers the same nodes again.
        if registry != known {
            self.store.record_known_peers(&registry)?;
        }
        let own = members
            .iter()
            .find(|entry| entry.peer_id == self.local_peer_id);
        let member = own.is_some();
        if let Some(own) = own {
            self.learner = own.learner;
        }
        if member != self.member || *self.members != members {
            tracing::info!(
                raft_id = self.raft_id,
                member,
                members = members.len(),
                "membership read from the applied state"
            );
        }
        self.member = member;
        self.desired = desired_conf(&members);
        self.members = Arc::new(members);
        self.refresh_allow_list();
        Ok(())
    }

    /// The allow-list: the members of the applied state, plus the nodes still in Raft's
    /// configuration (a removed node keeps its connections until the leader has removed it from
    /// the configuration too, so a quorum stays reachable meanwhile), plus, while this node is
    /// not a member itself (joining), the peers it was started with.
    fn refresh_allow_list(&self) {
        let conf = self.replica.status().conf_state;
        let mut allowed: BTreeSet<PeerId> =
            self.members.iter().map(|entry| entry.peer_id).collect();
        for id in conf
            .voters
            .iter()
            .chain(&conf.learners)
            .chain(&conf.voters_outgoing)
            .chain(&conf.learners_next)
        {
            if let Some(entry) = self.peers.entry(*id) {
                allowed.insert(entry.peer_id);
            }
        }
        if !self.member {
            allowed.extend(self.initial_allowed.iter().copied());
        }
        allowed.remove(&self.local_peer_id);
        self.allow_list.replace(allowed);
    }

    /// Leader only: proposes the next step toward the desired configuration (see
    /// [`super::reconcile`]), once everything committed is applied, so the target and the
    /// configuration are read at the same index.
    fn reconcile_membership(&mut self) -> Result<()> {
        let status = self.replica.status();
        if status.role != Role::Leader
            || status.applied_index != self.head.applied_index
            || status.applied_index < status.commit_index
        {
            return Ok(());
        }
        let replica = &self.replica;
        let change = next_change(
            &self.desired,
            &status.conf_state,
            self.raft_id,
            status.commit_index,
            |id| replica.peer_progress(id),
        );
        let Some(change) = change else {
            return Ok(());
        };
        match self.last_reconcile {
            Some((last, since)) if last == change => {
                // raft-rs runs a transfer for an election timeout; asking again meanwhile is
                // only noise. Other changes are refused cheaply while one is pending.
                let transfer_ticks = 2 * self.tuning.election_ticks as u64;
                if matches!(change, MembershipChange::TransferLeader(_))
                    && self.ticks - since < transfer_ticks
                {
                    return Ok(());
                }
                if matches!(change, MembershipChange::TransferLeader(_)) {
                    self.last_reconcile = Some((change, self.ticks));
                }
            }
            _ => {
                tracing::info!(
                    raft_id = self.raft_id,
                    ?change,
                    "reconciling the raft configuration"
                );
                self.last_reconcile = Some((change, self.ticks));
            }
        }
        self.step(Input::ChangeMembership(change))
    }

    fn on_fate(&mut self, id: u64, fate: ProposalFate) {
        let Some(tx_ids) = self.in_flight.remove(&id) else {
            return;
        };
        if let ProposalFate::Dropped { reason } = fate {
            LedgerMetrics::bump(&self.metrics.proposals_dropped, 1);
            tracing::debug!(raft_id = self.raft_id, ?reason, "block proposal dropped");
            let now = Instant::now();
            for tx_id in &tx_ids {
                self.pool.ids.remove(tx_id);
                if let Some(waiter) = self.waiters.get_mut(tx_id) {
                    waiter.next_send = now;
                }
            }
        }
    }

    /// On a leadership change, the old leader's pool is dropped (followers resend) and every
    /// local waiter is sent to the new leader at once.
    fn observe_leader(&mut self) {
        let status = self.replica.status();
        if status.leader_id == self.leader_seen {
            return;
        }
        self.leader_seen = status.leader_id;
        tracing::info!(
            raft_id = self.raft_id,
            leader = ?status.leader_id,
            term = status.term,
            "leader changed"
        );
        if status.role != Role::Leader {
            self.pool.clear();
        }
        let now = Instant::now();
        for waiter in self.waiters.values_mut() {
            waiter.next_send = now;
        }
    }

    fn on_tick(&mut self) -> Result<()> {
        self.ticks += 1;
        self.step(Input::Tick)?;
        self.compact_durable()?;
        self.reconcile_membership()?;
        let now = Instant::now();
        self.waiters.retain(|_, waiter| waiter.deadline > now);
        self.route_due()?;
        self.propose_from_pool()
    }

    fn on_raft(&mut self, peer: PeerId, bytes: Vec<u8>) -> Result<()> {
        // The network only delivers from allowed peers; a peer this node has not registered
        // yet (a joining node hearing from a leader added after genesis) gets its derived id.
        let from = match self.peers.raft_id(&peer) {
            Some(id) => id,
            None => {
                let id = self.peers.raft_id_for(&peer);
                if self.peers.entry(id).is_some() {
                    LedgerMetrics::bump(&self.metrics.messages_refused, 1);
                    return Ok(());
                }
                if self.contacts.len() < CONTACTS_MAX {
                    self.contacts.insert(id, peer);
                }
                id
            }
        };
        if from == self.raft_id {
            LedgerMetrics::bump(&self.metrics.messages_refused, 1);
            return Ok(());
        }
        match wire::decode(&bytes) {
            Ok(message) => self.step(Input::Receive { from, message }),
            Err(error) => {
                LedgerMetrics::bump(&self.metrics.messages_refused, 1);
                tracing::debug!(%peer, %error, "undecodable raft message");
                Ok(())
            }
        }
    }

    fn on_forward(&mut self, request: InboundRequest) -> Result<()> {
        let InboundRequest {
            peer,
            bytes,
            responder,
        } = request;
        let Some(ForwardRequest::Txs(txs)) = codec::decode::<ForwardRequest>(&bytes) else {
            tracing::debug!(%peer, "undecodable forward request");
            return Ok(());
        };
        if self.peers.raft_id(&peer).is_none() || self.learner || !self.is_leader() {
            let response = ForwardResponse::NotLeader {
                leader: self.replica.status().leader_id,
            };
            responder.respond(codec::encode(&response));
            return Ok(());
        }
        for tx in txs {
            self.pool.add(tx);
        }
        responder.respond(codec::encode(&ForwardResponse::Accepted));
        self.propose_from_pool()
    }

    fn on_command(&mut self, command: Command) -> Result<()> {
        match command {
            Command::Submit { txs, waiters } => {
                assert_eq!(txs.len(), waiters.len(), "one waiter per tx");
                let now = Instant::now();
                // The handle times out first; the loop's deadline only bounds its memory.
                let deadline = now + self.tuning.submit_timeout + Duration::from_secs(1);
                for (tx, sender) in txs.into_iter().zip(waiters) {
                    let tx_id = tx.tx_id();
                    if let Some(waiter) = self.waiters.get_mut(&tx_id) {
                        waiter.senders.push(sender);
                        continue;
                    }
                    if self.waiters.len() >= WAITERS_MAX {
                        // Dropping the sender tells the submitter we are overloaded.
                        continue;
                    }
                    let seq = self.waiter_seq_next;
                    self.waiter_seq_next += 1;
                    self.waiters.insert(
                        tx_id,
                        Waiter {
                            seq,
                            tx,
                            senders: vec![sender],
                            deadline,
                            next_send: now,
                        },
                    );
                }
                self.route_due()?;
                self.propose_from_pool()
            }
        }
    }

    /// Sends every waiter whose turn has come to the leader (its own pool if this is the
    /// leader, a forward request otherwise), in submission order.
    fn route_due(&mut self) -> Result<()> {
        if self.learner {
            return Ok(());
        }
        let status = self.replica.status();
        let Some(leader_id) = status.leader_id else {
            return Ok(());
        };
        let now = Instant::now();
        let resend = self.tuning.resend_interval;
        let mut due = Vec::new();
        for waiter in self.waiters.values_mut() {
            if waiter.next_send <= now {
                waiter.next_send = now + resend;
                due.push((waiter.seq, waiter.tx.clone()));
            }
        }
        if due.is_empty() {
            return Ok(());
        }
        // `waiters` is keyed by transaction id; the pool and the blocks must see the order
        // the clients submitted in (a packing after the commissioning of its units).
        due.sort_unstable_by_key(|(seq, _)| *seq);
        let due: Vec<SignedTx> = due.into_iter().map(|(_, tx)| tx).collect();
        if leader_id == self.raft_id {
            for tx in due {
                self.pool.add(tx);
            }
            return Ok(());
        }
        let Some(leader) = self.peers.entry(leader_id).map(|entry| entry.peer_id) else {
            return Ok(());
        };
        LedgerMetrics::bump(&self.metrics.txs_forwarded, due.len() as u64);
        let mut chunks = Vec::new();
        let mut chunk = Vec::new();
        let mut chunk_bytes = 0usize;
        for tx in due {
            let size = tx.to_bytes().len();
            if !chunk.is_empty() && chunk_bytes + size > FORWARD_BYTES_MAX {
                chunks.push(std::mem::take(&mut chunk));
                chunk_bytes = 0;
            }
            chunk_bytes += size;
            chunk.push(tx);
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        self.forward(leader, chunks);
        Ok(())
    }

    /// Sends transactions to the leader without blocking the loop: one request per chunk,
    /// each after the previous one's answer, so the leader pools them in submission order.
    /// The answers only matter for logs, because the waiters resend until applied.
    fn forward(&self, leader: PeerId, chunks: Vec<Vec<SignedTx>>) {
        let network = self.network.clone();
        let raft_id = self.raft_id;
        tokio::spawn(async move {
            for txs in chunks {
                let bytes = codec::encode(&ForwardRequest::Txs(txs));
                match network.request(leader, bytes).await {
                    Ok(response) => match codec::decode::<ForwardResponse>(&response) {
                        Some(ForwardResponse::Accepted) => {
                            tracing::debug!(raft_id, "forwarded to the leader");
                        }
                        Some(ForwardResponse::NotLeader { leader }) => {
                            tracing::debug!(raft_id, ?leader, "forward refused: not the leader");
                            return;
                        }
                        None => {
                            tracing::debug!(raft_id, "undecodable forward response");
                            return;
                        }
                    },
                    Err(error) => {
                        tracing::debug!(raft_id, %error, "forward failed");
                        return;
                    }
                }
            }
        });
    }

    /// Forms block proposals from the pool while this node leads.
    fn propose_from_pool(&mut self) -> Result<()> {
        if self.pool.queue.is_empty() || !self.is_leader() {
            return Ok(());
        }
        if self.learner {
            // A regulator node never proposes, even if a configuration ever made it lead.
            return Ok(());
        }
        let mut proposed = false;
        while !self.pool.queue.is_empty()
            && self.in_flight.len() < PROPOSALS_IN_FLIGHT_MAX
            && (self.in_flight.len() < PROPOSALS_IN_FLIGHT_PARTIAL_MAX || self.pool.fills_a_block())
        {
            let txs = self.pool.take_block();
            assert!(!txs.is_empty(), "a pooled tx always fits in a block");
            let tx_ids: Vec<Digest32> = txs.iter().map(SignedTx::tx_id).collect();
            let proposal = BlockProposal {
                timestamp_ms: now_ms(),
                proposer: self.raft_id,
                txs,
            };
            let id = self.proposal_id_next;
            self.proposal_id_next += 1;
            self.in_flight.insert(id, tx_ids);
            LedgerMetrics::bump(&self.metrics.proposals_made, 1);
            self.step(Input::Propose {
                id,
                payload: proposal.to_bytes(),
            })?;
            proposed = true;
        }
        if proposed {
            self.step(Input::Flush)?;
        }
        Ok(())
    }

    fn publish_status(&self, running: bool) {
        let replica = self.replica.status();
        let status = LedgerStatus {
            raft_id: self.raft_id,
            learner: self.learner,
            role: replica.role,
            term: replica.term,
            leader_id: replica.leader_id,
            leader_peer: replica
                .leader_id
                .and_then(|id| self.peers.entry(id))
                .map(|entry| entry.peer_id),
            commit_index: replica.commit_index,
            applied_index: self.head.applied_index,
            voters: replica.conf_state.voters.clone(),
            learners: replica.conf_state.learners.clone(),
            members: Arc::clone(&self.members),
            member: self.member,
            head: self.head.clone(),
            running,
        };
        self.status.send_if_modified(|current| {
            if *current == status {
                false
            } else {
                *current = status;
                true
            }
        });
    }
}

/// The Raft configuration that the applied membership `members` asks for.
fn desired_conf(members: &[PeerEntry]) -> DesiredConf {
    let mut desired = DesiredConf::default();
    for entry in members {
        if entry.learner {
            desired.learners.insert(entry.raft_id);
        } else {
            desired.voters.insert(entry.raft_id);
        }
    }
    desired
}
