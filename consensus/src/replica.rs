//! `Replica`: a synchronous wrapper around raft-rs's `RawNode` that turns inputs (ticks, peer
//! messages, proposals, membership changes) into outputs (messages to send, entries to apply,
//! proposal fates) and owns the `Ready` ordering rules.
//!
//! # Ready handling
//!
//! [`Replica::handle`] processes one input and then drains every pending raft-rs `Ready`:
//!
//! 1. snapshot, entries and hard state of the `Ready` are persisted in ONE atomic
//!    [`LogWrite`];
//! 2. an installed snapshot and the committed entries are decoded into [`Apply`] items
//!    (committed conf changes are applied to raft-rs and their conf state persisted);
//! 3. `advance` acknowledges the `Ready`; a commit index carried by the `LightReady` is persisted
//!    before its committed entries are handed out;
//! 4. `advance_apply` records that the caller applies everything in [`Output::apply`] before it
//!    calls `handle` again.
//!
//! Messages (the leader's `messages`, everyone's `persisted_messages` and the `LightReady`'s)
//! are only returned in [`Output`] when `handle` returns, i.e. after every write of this call
//! succeeded. A failed write poisons the replica and discards the whole output, so nothing that
//! depends on an unpersisted write can ever leave the replica.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use prost::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, EntryType, Message, MessageType, Snapshot, SnapshotMetadata,
};
use raft::{ProgressState, RawNode, SnapshotStatus, StateRole};

use crate::error::{Error, Result};
use crate::logging::raft_logger;
use crate::store::{LogStore, LogWrite};
use crate::wire::{
    self, BATCH_BYTES_MAX, BATCH_PAYLOADS_MAX, DropReason, Outbound, PAYLOAD_BYTES_MAX, Proposal,
    SNAPSHOT_CHUNKS_MAX, SnapshotChunk, WireMessage,
};

/// Default ticks without a leader message before a follower campaigns (lower bound).
pub const ELECTION_TICKS_DEFAULT: usize = 10;
/// Default ticks between leader heartbeats.
pub const HEARTBEAT_TICKS_DEFAULT: usize = 2;
/// Default bound on proposals pending on one replica (batched, forwarded or placed).
pub const PENDING_PROPOSALS_MAX_DEFAULT: usize = 65_536;
/// Default ticks a forwarded proposal waits for the leader's acknowledgement.
pub const FORWARD_TIMEOUT_TICKS_DEFAULT: u64 = 20;
/// Default ticks the leader waits for a follower to install a sent snapshot before resending.
pub const SNAPSHOT_TIMEOUT_TICKS_DEFAULT: u64 = 30;
/// Default snapshot chunk size, in bytes.
pub const SNAPSHOT_CHUNK_BYTES_DEFAULT: usize = 1024 * 1024;
/// Default bound on a snapshot being reassembled, in bytes.
pub const SNAPSHOT_BYTES_MAX_DEFAULT: usize = 1024 * 1024 * 1024;
/// Default bound on entry bytes in one append message.
pub const APPEND_BYTES_MAX_DEFAULT: u64 = 4 * 1024 * 1024;
/// Default bound on in-flight append messages per follower.
pub const INFLIGHT_MESSAGES_MAX_DEFAULT: usize = 256;
/// Forwarded proposals a leader remembers per term to ignore duplicated or late copies of a
/// `Forward`. A definitive drop of a forwarded proposal relies on this: it holds as long as no
/// copy of the `Forward` arrives after this many newer forwarded proposals in the same term.
pub const FORWARDED_IDS_MAX: usize = 1 << 18;
/// Most `Ready` rounds drained by one `handle` call; leftovers wait for the next input.
const READY_ROUNDS_MAX: usize = 32;
/// Index of the bootstrap snapshot every store of an initial voter starts from.
pub const BOOTSTRAP_INDEX: u64 = 1;
/// Term of the bootstrap snapshot.
pub const BOOTSTRAP_TERM: u64 = 1;

/// The snapshot an initial voter's store is bootstrapped with (index 1, term 1, the given voters,
/// empty data). Nodes added later start empty and catch up by snapshot, so every replica learns
/// the initial configuration the same way.
pub fn bootstrap_snapshot(voters: &[u64]) -> Snapshot {
    assert!(!voters.is_empty(), "bootstrap needs at least one voter");
    let conf_state = ConfState {
        voters: voters.to_vec(),
        ..ConfState::default()
    };
    let metadata = SnapshotMetadata {
        conf_state: Some(conf_state),
        index: BOOTSTRAP_INDEX,
        term: BOOTSTRAP_TERM,
    };
    Snapshot {
        data: Vec::new(),
        metadata: Some(metadata),
    }
}

/// Replica settings. Build with [`ReplicaConfig::new`] and adjust fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// This replica's id (non-zero).
    pub id: u64,
    /// Base election timeout in ticks.
    pub election_ticks: usize,
    /// Heartbeat interval in ticks (`< election_ticks`).
    pub heartbeat_ticks: usize,
    /// Smallest randomized election timeout (0: `election_ticks`). The simulator sets
    /// `election_ticks_max = election_ticks_min + 1` to close raft-rs's unseeded RNG.
    pub election_ticks_min: usize,
    /// Largest randomized election timeout, exclusive (0: `2 * election_ticks`).
    pub election_ticks_max: usize,
    /// Most payloads per log entry (`<= BATCH_PAYLOADS_MAX`).
    pub batch_payloads_max: usize,
    /// Most payload bytes per log entry (`<= BATCH_BYTES_MAX`).
    pub batch_bytes_max: usize,
    /// Most proposals pending on this replica.
    pub pending_proposals_max: usize,
    /// Ticks a forwarded proposal waits for an acknowledgement before `OutcomeUnknown`.
    pub forward_timeout_ticks: u64,
    /// Ticks before an unacknowledged snapshot send is reported failed (and resent).
    pub snapshot_timeout_ticks: u64,
    /// Snapshot data bytes per [`SnapshotChunk`].
    pub snapshot_chunk_bytes: usize,
    /// Largest snapshot accepted for reassembly, in bytes.
    pub snapshot_bytes_max: usize,
    /// Bound on entry bytes per append message (raft-rs `max_size_per_msg`).
    pub append_bytes_max: u64,
    /// Bound on in-flight append messages per follower (raft-rs `max_inflight_msgs`).
    pub inflight_messages_max: usize,
    /// How far behind a follower may be and still have its missing entries kept by the
    /// leader's deferred compaction ([`COMPACTION_KEEPS_LAG_MAX`] by default; 0 compacts to the
    /// applied index whatever the followers hold).
    pub compaction_keeps_lag_max: u64,
}

impl ReplicaConfig {
    /// Defaults for replica `id`.
    pub fn new(id: u64) -> Self {
        Self {
            id,
            election_ticks: ELECTION_TICKS_DEFAULT,
            heartbeat_ticks: HEARTBEAT_TICKS_DEFAULT,
            election_ticks_min: 0,
            election_ticks_max: 0,
            batch_payloads_max: BATCH_PAYLOADS_MAX,
            batch_bytes_max: BATCH_BYTES_MAX,
            pending_proposals_max: PENDING_PROPOSALS_MAX_DEFAULT,
            forward_timeout_ticks: FORWARD_TIMEOUT_TICKS_DEFAULT,
            snapshot_timeout_ticks: SNAPSHOT_TIMEOUT_TICKS_DEFAULT,
            snapshot_chunk_bytes: SNAPSHOT_CHUNK_BYTES_DEFAULT,
            snapshot_bytes_max: SNAPSHOT_BYTES_MAX_DEFAULT,
            append_bytes_max: APPEND_BYTES_MAX_DEFAULT,
            inflight_messages_max: INFLIGHT_MESSAGES_MAX_DEFAULT,
            compaction_keeps_lag_max: COMPACTION_KEEPS_LAG_MAX,
        }
    }

    /// Rejects inconsistent settings up front.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        let fail = |detail: &str| Err(Error::Config(detail.to_string()));
        if self.id == 0 {
            return fail("id must be non-zero");
        }
        if self.heartbeat_ticks == 0 || self.heartbeat_ticks >= self.election_ticks {
            return fail("need 0 < heartbeat_ticks < election_ticks");
        }
        if self.batch_payloads_max == 0 || self.batch_payloads_max > BATCH_PAYLOADS_MAX {
            return fail("batch_payloads_max out of 1..=BATCH_PAYLOADS_MAX");
        }
        if self.batch_bytes_max < PAYLOAD_BYTES_MAX || self.batch_bytes_max > BATCH_BYTES_MAX {
            return fail("batch_bytes_max out of PAYLOAD_BYTES_MAX..=BATCH_BYTES_MAX");
        }
        if self.snapshot_chunk_bytes == 0
            || self.snapshot_chunk_bytes > wire::WIRE_MESSAGE_BYTES_MAX / 2
        {
            return fail("snapshot_chunk_bytes out of range");
        }
        let chunks_max = self.snapshot_bytes_max.div_ceil(self.snapshot_chunk_bytes);
        if chunks_max > SNAPSHOT_CHUNKS_MAX as usize {
            return fail("snapshot_bytes_max needs more than SNAPSHOT_CHUNKS_MAX chunks");
        }
        if self.forward_timeout_ticks == 0 || self.snapshot_timeout_ticks == 0 {
            return fail("timeouts must be non-zero");
        }
        Ok(())
    }

    fn raft_config(&self, applied: u64) -> raft::Config {
        raft::Config {
            id: self.id,
            election_tick: self.election_ticks,
            heartbeat_tick: self.heartbeat_ticks,
            min_election_tick: self.election_ticks_min,
            max_election_tick: self.election_ticks_max,
            applied,
            max_size_per_msg: self.append_bytes_max,
            max_inflight_msgs: self.inflight_messages_max,
            check_quorum: true,
            pre_vote: true,
            ..raft::Config::default()
        }
    }
}

/// A membership change, proposed on the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// Add a non-voting learner (it catches up by snapshot).
    AddLearner(u64),
    /// Turn a learner into a voter.
    PromoteLearner(u64),
    /// Remove a voter or learner (not the leader itself: transfer leadership first).
    RemoveNode(u64),
    /// Remove a voter and promote a learner in one joint-consensus change (ConfChangeV2 with
    /// two changes: raft-rs enters the joint configuration and leaves it automatically).
    ReplaceVoter {
        /// The voter to remove.
        remove: u64,
        /// The learner to promote.
        promote: u64,
    },
    /// Ask raft-rs to hand leadership to this voter.
    TransferLeader(u64),
}

/// One input to [`Replica::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// One logical clock tick. Also proposes the pending batch and runs timeouts.
    Tick,
    /// A message from replica `from` (the transport's authenticated peer id).
    Receive {
        /// Sender replica id.
        from: u64,
        /// The decoded message.
        message: WireMessage,
    },
    /// A client payload with a caller-chosen id; its fate arrives in [`Output::fates`].
    Propose {
        /// Caller-chosen id, unique among this replica's pending proposals.
        id: u64,
        /// Opaque transaction bytes (`1..=PAYLOAD_BYTES_MAX`).
        payload: Vec<u8>,
    },
    /// Propose the pending batch (or forward pending proposals) now instead of at the next tick.
    Flush,
    /// Propose a membership change (leader only).
    ChangeMembership(MembershipChange),
    /// Start an election now.
    Campaign,
    /// The state machine's snapshot at the last applied index: store it and compact the log.
    /// `data` may be [`DEFERRED_SNAPSHOT`]: the log is compacted without the state machine's
    /// bytes, and when a follower needs the snapshot the output says `snapshot_wanted`, the
    /// caller compacts again with real bytes (which replace the deferred snapshot, even at the
    /// same index), and raft-rs retries. A leader's deferred compaction stops short of the
    /// entries its followers have not acknowledged yet ([`COMPACTION_KEEPS_LAG_MAX`]): without
    /// that, a follower only a few appends behind at the moment of compaction needed a snapshot
    /// of the whole ledger (gigabytes at 10 million units).
    Compact {
        /// Snapshot bytes produced by the state machine, or [`DEFERRED_SNAPSHOT`].
        data: Vec<u8>,
    },
    /// [`Input::Compact`] with [`DEFERRED_SNAPSHOT`], but to `index_max` at most: for a state
    /// machine whose applied entries reach its disk some time after they are applied (the
    /// node's ledger writes them without a log of its own), the log must keep every entry the
    /// state machine could still lose in a crash. A no-op if that leaves nothing to compact.
    CompactDeferred {
        /// The state machine's durable applied index.
        index_max: u64,
    },
}

/// How far behind the leader's applied index a follower may be, by default
/// ([`ReplicaConfig::compaction_keeps_lag_max`]), and still have its missing entries kept when
/// the leader compacts its log (see [`Input::Compact`]); a follower further behind is sent a
/// snapshot.
pub const COMPACTION_KEEPS_LAG_MAX: u64 = 4096;

/// The data of a snapshot whose state-machine bytes were not produced ([`Input::Compact`]):
/// periodic log compaction then costs nothing, and the state machine exports itself only when
/// a follower actually needs a snapshot. Never sent to a peer; after a restart the replica
/// hands it to the state machine like any stored snapshot, whose own state is at or past its
/// index (it was taken when the state machine had applied that far).
pub const DEFERRED_SNAPSHOT: &[u8] = b"\0deferred snapshot: state machine bytes not produced\0";

/// Something the caller must apply to its state machine, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Apply {
    /// Replace the state machine with this snapshot (installed from the leader, or the stored
    /// snapshot at startup).
    Restore {
        /// Last index covered by the snapshot.
        index: u64,
        /// Its term.
        term: u64,
        /// State-machine bytes.
        data: Vec<u8>,
    },
    /// A committed normal entry; `proposals` is empty for the leader's no-op entry.
    Entry {
        /// Log index.
        index: u64,
        /// Log term.
        term: u64,
        /// The batched proposals, in order.
        proposals: Vec<Proposal>,
    },
    /// A committed membership change; `conf_state` is the configuration after it. When the
    /// entry is replayed after a restart and the store already holds a newer configuration,
    /// that newer configuration is reported (raft-rs only keeps the latest one).
    Membership {
        /// Log index.
        index: u64,
        /// Log term.
        term: u64,
        /// Voters and learners after the change (lists sorted).
        conf_state: ConfState,
    },
}

impl Apply {
    /// The log index this item brings the state machine to.
    pub fn index(&self) -> u64 {
        match self {
            Apply::Restore { index, .. }
            | Apply::Entry { index, .. }
            | Apply::Membership { index, .. } => *index,
        }
    }
}

/// What finally happened to a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalFate {
    /// The payload is in the committed entry at `index`.
    Committed {
        /// Log index of the entry.
        index: u64,
    },
    /// The payload was dropped (see [`DropReason::is_definitive`]).
    Dropped {
        /// Why.
        reason: DropReason,
    },
}

/// Everything one [`Replica::handle`] call produced. Send `messages` (any order, any
/// transport: raft tolerates loss) and apply `apply` in order, both before the next call —
/// sending first is fine, since no message depends on the state machine — then report `fates`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Output {
    /// Messages to send; all their preconditions are already persisted.
    pub messages: Vec<Outbound>,
    /// State-machine work, in log order.
    pub apply: Vec<Apply>,
    /// Fates of this replica's proposals, as `(id, fate)`.
    pub fates: Vec<(u64, ProposalFate)>,
    /// A follower needs a snapshot that the stored one cannot serve (too old, or taken before
    /// the follower joined, which raft-rs would refuse): after applying `apply`, send
    /// [`Input::Compact`] with a fresh state-machine snapshot.
    pub snapshot_wanted: bool,
}

/// raft-rs reads the log store through this adapter. It refuses to hand out a snapshot whose
/// configuration lacks the recipient (raft-rs on the recipient would drop it, and the leader
/// would resend it forever) and records that a fresh snapshot is wanted instead.
struct StoreAdapter<S> {
    store: S,
    snapshot_wanted: Cell<bool>,
}

impl<S: LogStore> raft::Storage for StoreAdapter<S> {
    fn initial_state(&self) -> raft::Result<raft::RaftState> {
        self.store.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: raft::GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.store.entries(low, high, max_size, context)
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        self.store.term(index)
    }

    fn first_index(&self) -> raft::Result<u64> {
        self.store.first_index()
    }

    fn last_index(&self) -> raft::Result<u64> {
        self.store.last_index()
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let unavailable = || raft::Error::Store(raft::StorageError::SnapshotTemporarilyUnavailable);
        match self.store.snapshot(request_index, to) {
            Ok(snapshot) => {
                let conf_state = snapshot.get_metadata().get_conf_state();
                let includes = [
                    &conf_state.voters,
                    &conf_state.learners,
                    &conf_state.voters_outgoing,
                ]
                .iter()
                .any(|ids| ids.contains(&to));
                if includes && snapshot.data != DEFERRED_SNAPSHOT {
                    Ok(snapshot)
                } else {
                    self.snapshot_wanted.set(true);
                    Err(unavailable())
                }
            }
            Err(raft::Error::Store(raft::StorageError::SnapshotTemporarilyUnavailable)) => {
                self.snapshot_wanted.set(true);
                Err(unavailable())
            }
            Err(error) => Err(error),
        }
    }
}

/// The replica's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Runs a pre-vote.
    PreCandidate,
    /// Runs an election.
    Candidate,
    /// Leads its term.
    Leader,
}

/// A read-only view of the replica's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaStatus {
    /// Replica id.
    pub id: u64,
    /// Current role.
    pub role: Role,
    /// Current term.
    pub term: u64,
    /// Known leader.
    pub leader_id: Option<u64>,
    /// Highest index known committed.
    pub commit_index: u64,
    /// Highest index handed out for applying.
    pub applied_index: u64,
    /// Last index in the log (persisted or not).
    pub last_index: u64,
    /// Configuration as of `applied_index` (lists sorted).
    pub conf_state: ConfState,
    /// Proposals whose fate is not yet reported.
    pub pending_proposals: usize,
}

/// A peer's replication progress as the leader tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerProgress {
    /// Highest log index known to be stored on the peer.
    pub matched: u64,
    /// True when the leader streams entries to it (not probing, not sending a snapshot).
    pub replicating: bool,
}

/// Where a proposal of this replica stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// In this leader's batch, not yet proposed to raft-rs.
    Batched,
    /// Sent to the leader at this tick, not yet acknowledged.
    Forwarded { tick: u64 },
    /// In the log entry at (`term`, `index`).
    Placed { term: u64, index: u64 },
}

/// A snapshot stream being reassembled from one sender.
#[derive(Debug)]
struct Assembly {
    snapshot_index: u64,
    snapshot_term: u64,
    count: u32,
    data_bytes_total: u64,
    header: Vec<u8>,
    chunks: BTreeMap<u32, Vec<u8>>,
    bytes_received: u64,
}

/// A Raft replica without I/O: see the module docs for the `Ready` ordering it enforces.
///
/// The caller feeds [`Input`]s to [`Replica::handle`] from one thread and, for every returned
/// [`Output`], sends `messages` and applies `apply` to its state machine before the next call.
pub struct Replica<S: LogStore> {
    config: ReplicaConfig,
    node: RawNode<StoreAdapter<S>>,
    poisoned: bool,
    tick_count: u64,
    /// Leader only: proposals waiting to be proposed as one entry.
    batch: Vec<Proposal>,
    batch_bytes: usize,
    /// Follower only: own proposals waiting to be forwarded to the leader.
    forward_queue: Vec<Proposal>,
    forward_bytes: usize,
    pending: BTreeMap<u64, Pending>,
    /// Ids of placed proposals by entry index.
    placed: BTreeMap<u64, Vec<u64>>,
    /// Leader only: tick at which a snapshot was last sent to each peer.
    snapshot_sends: BTreeMap<u64, u64>,
    assemblies: BTreeMap<u64, Assembly>,
    /// Leader only: forwarded (origin, id) pairs already handled in `forwarded_term`.
    forwarded_seen: BTreeSet<(u64, u64)>,
    forwarded_order: VecDeque<(u64, u64)>,
    forwarded_term: u64,
    /// Configuration as of `applied_index`.
    conf_state: ConfState,
    /// Index that produced the stored conf state; conf changes at or below it are replays.
    conf_state_index: u64,
    applied_index: u64,
    /// The stored snapshot, handed out as `Apply::Restore` by the first successful `handle`.
    restore: Option<Snapshot>,
    was_leader: bool,
}

fn sorted(mut conf_state: ConfState) -> ConfState {
    conf_state.voters.sort_unstable();
    conf_state.learners.sort_unstable();
    conf_state.voters_outgoing.sort_unstable();
    conf_state.learners_next.sort_unstable();
    conf_state
}

fn role_of(state: StateRole) -> Role {
    match state {
        StateRole::Follower => Role::Follower,
        StateRole::PreCandidate => Role::PreCandidate,
        StateRole::Candidate => Role::Candidate,
        StateRole::Leader => Role::Leader,
    }
}

impl<S: LogStore> Replica<S> {
    /// Opens a replica on `store`, which holds exactly what was persisted before (empty for a
    /// node that will join later, [`bootstrap_snapshot`] for an initial voter).
    ///
    /// The first successful [`Replica::handle`] returns the stored snapshot as
    /// [`Apply::Restore`]; committed entries after it are then applied again, so the state
    /// machine may be volatile.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for bad settings, [`Error::Store`] if the store cannot be read.
    pub fn new(config: ReplicaConfig, store: S) -> Result<Self> {
        config.validate()?;
        let snapshot = store.latest_snapshot().map_err(Error::Store)?;
        let applied_index = snapshot.get_metadata().index;
        let raft_state = store.initial_state().map_err(Error::Store)?;
        let conf_state_index = store.conf_state_index().map_err(Error::Store)?;
        let raft_config = config.raft_config(applied_index);
        raft_config
            .validate()
            .map_err(|error| Error::Config(error.to_string()))?;
        let adapter = StoreAdapter {
            store,
            snapshot_wanted: Cell::new(false),
        };
        let node =
            RawNode::new(&raft_config, adapter, &raft_logger(config.id)).map_err(Error::Raft)?;
        let restore = (applied_index > 0).then_some(snapshot);
        Ok(Self {
            config,
            node,
            poisoned: false,
            tick_count: 0,
            batch: Vec::new(),
            batch_bytes: 0,
            forward_queue: Vec::new(),
            forward_bytes: 0,
            pending: BTreeMap::new(),
            placed: BTreeMap::new(),
            snapshot_sends: BTreeMap::new(),
            assemblies: BTreeMap::new(),
            forwarded_seen: BTreeSet::new(),
            forwarded_order: VecDeque::new(),
            forwarded_term: 0,
            conf_state: sorted(raft_state.conf_state),
            conf_state_index,
            applied_index,
            restore,
            was_leader: false,
        })
    }

    /// This replica's id.
    pub fn id(&self) -> u64 {
        self.config.id
    }

    /// The log store (read-only; the replica does all writes).
    pub fn store(&self) -> &S {
        &self.node.store().store
    }

    fn store_mut(&mut self) -> &mut S {
        &mut self.node.mut_store().store
    }

    /// Gives the store back, e.g. to restart after a crash. Unpersisted state is lost.
    pub fn into_store(self) -> S {
        // `RawNode` offers no by-value accessor, so the store is moved out of its fields.
        let Replica { node, .. } = self;
        node.raft.r.raft_log.store.store
    }

    /// Whether an earlier fatal error poisoned the replica.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// A snapshot of the replica's state.
    pub fn status(&self) -> ReplicaStatus {
        let raft = &self.node.raft;
        ReplicaStatus {
            id: self.config.id,
            role: role_of(raft.state),
            term: raft.term,
            leader_id: (raft.leader_id != raft::INVALID_ID).then_some(raft.leader_id),
            commit_index: raft.raft_log.committed,
            applied_index: self.applied_index,
            last_index: raft.raft_log.last_index(),
            conf_state: self.conf_state.clone(),
            pending_proposals: self.pending.len(),
        }
    }

    /// The leader's view of a peer's replication progress (`None` on a non-leader or for a
    /// replica outside the configuration). Used to promote a learner only once it has caught up.
    pub fn peer_progress(&self, id: u64) -> Option<PeerProgress> {
        if !self.is_leader() {
            return None;
        }
        self.node.raft.prs().get(id).map(|progress| PeerProgress {
            matched: progress.matched,
            replicating: progress.state == ProgressState::Replicate,
        })
    }

    /// Processes one input and drains raft-rs's `Ready` (see the module docs).
    ///
    /// # Errors
    ///
    /// Rejections ([`Error::is_fatal`] false) change nothing. Fatal errors poison the replica;
    /// their output is discarded, which is safe because nothing in it was released.
    pub fn handle(&mut self, input: Input) -> Result<Output> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let mut out = Output::default();
        self.validate_input(&input)?;
        if let Some(snapshot) = self.restore.take() {
            let metadata = snapshot.get_metadata();
            out.apply.push(Apply::Restore {
                index: metadata.index,
                term: metadata.term,
                data: snapshot.data.clone(),
            });
        }
        let result = self
            .handle_input(input, &mut out)
            .and_then(|()| self.process_ready(&mut out));
        match result {
            Ok(()) => {
                self.after_ready(&mut out)?;
                out.snapshot_wanted = self.node.store().snapshot_wanted.replace(false);
                Ok(out)
            }
            Err(error) => {
                if error.is_fatal() {
                    self.poisoned = true;
                }
                Err(error)
            }
        }
    }

    /// Checks rejections before anything changes.
    fn validate_input(&self, input: &Input) -> Result<()> {
        match input {
            Input::ChangeMembership(change) => self.validate_membership(*change),
            Input::Receive { from, message } => {
                if *from == self.config.id || *from == raft::INVALID_ID {
                    return Err(Error::UnexpectedMessage(format!("sender {from}")));
                }
                if let WireMessage::Forward { proposals, .. } = message
                    && proposals.iter().any(|proposal| proposal.origin != *from)
                {
                    return Err(Error::UnexpectedMessage(
                        "forwarded proposal with a foreign origin".into(),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn handle_input(&mut self, input: Input, out: &mut Output) -> Result<()> {
        match input {
            Input::Tick => {
                self.tick_count += 1;
                self.node.tick();
                self.expire_forwards(out);
                self.expire_snapshot_sends();
                self.hand_off_if_removed();
                self.flush(out)
            }
            Input::Receive { from, message } => self.receive(from, message, out),
            Input::Propose { id, payload } => self.propose(id, payload, out),
            Input::Flush => self.flush(out),
            Input::ChangeMembership(change) => self.change_membership(change),
            Input::Campaign => self.node.campaign().map_err(Error::Raft),
            Input::Compact { data } => self.compact(data, u64::MAX),
            Input::CompactDeferred { index_max } => {
                self.compact(DEFERRED_SNAPSHOT.to_vec(), index_max)
            }
        }
    }

    fn is_leader(&self) -> bool {
        self.node.raft.state == StateRole::Leader
    }

    fn leader_hint(&self) -> Option<u64> {
        let leader_id = self.node.raft.leader_id;
        (leader_id != raft::INVALID_ID).then_some(leader_id)
    }

    // ----- proposals -------------------------------------------------------------------------

    fn propose(&mut self, id: u64, payload: Vec<u8>, out: &mut Output) -> Result<()> {
        let reason = if payload.is_empty() || payload.len() > PAYLOAD_BYTES_MAX {
            Some(DropReason::InvalidPayload)
        } else if self.pending.contains_key(&id) {
            Some(DropReason::DuplicateId)
        } else if self.pending.len() >= self.config.pending_proposals_max {
            Some(DropReason::Overloaded)
        } else if !self.is_leader() && self.leader_hint().is_none() {
            Some(DropReason::NoLeader)
        } else {
            None
        };
        if let Some(reason) = reason {
            // A duplicate id must not disturb the pending proposal that owns it.
            out.fates.push((id, ProposalFate::Dropped { reason }));
            return Ok(());
        }
        let proposal = Proposal {
            origin: self.config.id,
            id,
            payload,
        };
        if self.is_leader() {
            self.pending.insert(id, Pending::Batched);
            self.push_batch(proposal, out)
        } else {
            self.pending.insert(
                id,
                Pending::Forwarded {
                    tick: self.tick_count,
                },
            );
            if self.forward_queue.len() >= self.config.batch_payloads_max
                || self.forward_bytes + proposal.payload.len() > self.config.batch_bytes_max
            {
                self.flush_forwards(out);
            }
            self.forward_bytes += proposal.payload.len();
            self.forward_queue.push(proposal);
            Ok(())
        }
    }

    /// Adds a proposal to the leader's batch, proposing the batch first if it would overflow.
    fn push_batch(&mut self, proposal: Proposal, out: &mut Output) -> Result<()> {
        assert!(proposal.payload.len() <= PAYLOAD_BYTES_MAX);
        if self.batch_bytes + proposal.payload.len() > self.config.batch_bytes_max {
            self.flush_batch(out)?;
        }
        self.batch_bytes += proposal.payload.len();
        self.batch.push(proposal);
        if self.batch.len() >= self.config.batch_payloads_max {
            self.flush_batch(out)?;
        }
        assert!(self.batch.len() < self.config.batch_payloads_max);
        Ok(())
    }

    fn flush(&mut self, out: &mut Output) -> Result<()> {
        self.flush_forwards(out);
        self.flush_batch(out)
    }

    /// Proposes the batch as one entry; on failure every proposal in it is dropped definitively.
    fn flush_batch(&mut self, out: &mut Output) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let proposals = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        if !self.is_leader() {
            self.drop_proposals(proposals, DropReason::NotLeader, out);
            return Ok(());
        }
        let data = wire::encode_batch(&proposals);
        let index_before = self.node.raft.raft_log.last_index();
        match self.node.propose(Vec::new(), data) {
            Ok(()) => {
                let index = self.node.raft.raft_log.last_index();
                let term = self.node.raft.term;
                assert_eq!(
                    index,
                    index_before + 1,
                    "a proposal appends exactly one entry"
                );
                self.place_proposals(proposals, term, index, out);
                Ok(())
            }
            Err(raft::Error::ProposalDropped) => {
                self.drop_proposals(proposals, DropReason::RaftRejected, out);
                Ok(())
            }
            Err(error) => Err(Error::Raft(error)),
        }
    }

    /// Records where proposals landed; remote origins get a `ForwardAck`.
    fn place_proposals(
        &mut self,
        proposals: Vec<Proposal>,
        term: u64,
        index: u64,
        out: &mut Output,
    ) {
        let mut acks: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for proposal in proposals {
            if proposal.origin == self.config.id {
                let previous = self
                    .pending
                    .insert(proposal.id, Pending::Placed { term, index });
                assert_eq!(previous, Some(Pending::Batched));
                self.placed.entry(index).or_default().push(proposal.id);
            } else {
                acks.entry(proposal.origin).or_default().push(proposal.id);
            }
        }
        for (origin, ids) in acks {
            out.messages.push(Outbound {
                to: origin,
                message: WireMessage::ForwardAck { term, index, ids },
            });
        }
    }

    fn drop_proposals(&mut self, proposals: Vec<Proposal>, reason: DropReason, out: &mut Output) {
        assert!(reason.is_definitive());
        let mut rejects: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for proposal in proposals {
            if proposal.origin == self.config.id {
                if self.pending.remove(&proposal.id).is_some() {
                    out.fates
                        .push((proposal.id, ProposalFate::Dropped { reason }));
                }
            } else {
                rejects
                    .entry(proposal.origin)
                    .or_default()
                    .push(proposal.id);
            }
        }
        for (origin, ids) in rejects {
            out.messages.push(Outbound {
                to: origin,
                message: WireMessage::ForwardReject { ids, reason },
            });
        }
    }

    /// Sends queued own proposals to the leader (or into the batch if this replica leads now).
    fn flush_forwards(&mut self, out: &mut Output) {
        if self.forward_queue.is_empty() {
            return;
        }
        let proposals = std::mem::take(&mut self.forward_queue);
        self.forward_bytes = 0;
        match self.leader_hint() {
            Some(leader) if leader != self.config.id => {
                let term = self.node.raft.term;
                out.messages.push(Outbound {
                    to: leader,
                    message: WireMessage::Forward { term, proposals },
                });
            }
            _ => {
                // No leader, or this replica became leader: the proposals never left, so the
                // drop is definitive. (A new leader re-proposing them would also be correct, but
                // clients get a faster, simpler answer this way.)
                let reason = if self.is_leader() {
                    DropReason::NotLeader
                } else {
                    DropReason::NoLeader
                };
                self.drop_proposals(proposals, reason, out);
            }
        }
    }

    fn expire_forwards(&mut self, out: &mut Output) {
        let deadline = self.config.forward_timeout_ticks;
        let expired: Vec<u64> = self
            .pending
            .iter()
            .filter_map(|(id, pending)| match pending {
                Pending::Forwarded { tick } if self.tick_count - tick >= deadline => Some(*id),
                _ => None,
            })
            .filter(|id| !self.forward_queue.iter().any(|proposal| proposal.id == *id))
            .collect();
        for id in expired {
            self.pending.remove(&id);
            out.fates.push((
                id,
                ProposalFate::Dropped {
                    reason: DropReason::OutcomeUnknown,
                },
            ));
        }
    }

    // ----- receiving -------------------------------------------------------------------------

    fn receive(&mut self, from: u64, message: WireMessage, out: &mut Output) -> Result<()> {
        match message {
            WireMessage::Raft(bytes) => {
                let message = wire::decode_raft_message(&bytes)?;
                self.step(from, message)
            }
            WireMessage::Forward { term, proposals } => {
                if self.is_leader() && term == self.node.raft.term {
                    if self.forwarded_term != term {
                        self.forwarded_seen.clear();
                        self.forwarded_order.clear();
                        self.forwarded_term = term;
                    }
                    for proposal in proposals {
                        // A duplicate (or a late copy of an already answered forward) is ignored:
                        // the first copy's answer stands, so a reported drop stays true.
                        if !self.forwarded_seen.insert((proposal.origin, proposal.id)) {
                            continue;
                        }
                        self.forwarded_order
                            .push_back((proposal.origin, proposal.id));
                        if self.forwarded_order.len() > FORWARDED_IDS_MAX {
                            let oldest = self.forwarded_order.pop_front().expect("non-empty");
                            self.forwarded_seen.remove(&oldest);
                        }
                        self.push_batch(proposal, out)?;
                    }
                } else {
                    let ids = proposals.into_iter().map(|proposal| proposal.id).collect();
                    out.messages.push(Outbound {
                        to: from,
                        message: WireMessage::ForwardReject {
                            ids,
                            reason: DropReason::NotLeader,
                        },
                    });
                }
                Ok(())
            }
            WireMessage::ForwardAck { term, index, ids } => {
                for id in ids {
                    if !matches!(self.pending.get(&id), Some(Pending::Forwarded { .. })) {
                        continue;
                    }
                    if index <= self.applied_index {
                        // The entry was applied before the ack arrived and did not resolve the
                        // proposal here; whether it was a different entry or a snapshot, the
                        // outcome cannot be reconstructed.
                        self.pending.remove(&id);
                        out.fates.push((
                            id,
                            ProposalFate::Dropped {
                                reason: DropReason::OutcomeUnknown,
                            },
                        ));
                    } else {
                        self.pending.insert(id, Pending::Placed { term, index });
                        self.placed.entry(index).or_default().push(id);
                    }
                }
                Ok(())
            }
            WireMessage::ForwardReject { ids, reason } => {
                for id in ids {
                    if matches!(self.pending.get(&id), Some(Pending::Forwarded { .. })) {
                        self.pending.remove(&id);
                        out.fates.push((id, ProposalFate::Dropped { reason }));
                    }
                }
                Ok(())
            }
            WireMessage::SnapshotChunk(chunk) => self.receive_chunk(from, chunk),
        }
    }

    fn step(&mut self, from: u64, message: Message) -> Result<()> {
        let message_type = message.get_msg_type();
        if message.from != from || message.to != self.config.id {
            return Err(Error::UnexpectedMessage(format!(
                "{message_type:?} from {} to {} arrived from {from}",
                message.from, message.to
            )));
        }
        if raft::raw_node::is_local_msg(message_type) || message_type == MessageType::MsgPropose {
            // Proposals travel as `WireMessage::Forward` so that their fates can be tracked.
            return Err(Error::UnexpectedMessage(format!(
                "{message_type:?} over the network"
            )));
        }
        match self.node.step(message) {
            Ok(()) => Ok(()),
            Err(raft::Error::Store(error)) => Err(Error::Store(raft::Error::Store(error))),
            Err(error) => {
                tracing::debug!(replica_id = self.config.id, %error, "raft ignored a message");
                Ok(())
            }
        }
    }

    fn receive_chunk(&mut self, from: u64, chunk: SnapshotChunk) -> Result<()> {
        if chunk.data_bytes_total > self.config.snapshot_bytes_max as u64 {
            return Err(Error::UnexpectedMessage(format!(
                "snapshot of {} bytes",
                chunk.data_bytes_total
            )));
        }
        let same_stream = self.assemblies.get(&from).is_some_and(|assembly| {
            assembly.snapshot_index == chunk.snapshot_index
                && assembly.snapshot_term == chunk.snapshot_term
                && assembly.count == chunk.count
                && assembly.data_bytes_total == chunk.data_bytes_total
        });
        if !same_stream {
            self.assemblies.insert(
                from,
                Assembly {
                    snapshot_index: chunk.snapshot_index,
                    snapshot_term: chunk.snapshot_term,
                    count: chunk.count,
                    data_bytes_total: chunk.data_bytes_total,
                    header: Vec::new(),
                    chunks: BTreeMap::new(),
                    bytes_received: 0,
                },
            );
        }
        let assembly = self.assemblies.get_mut(&from).expect("inserted above");
        if chunk.seq == 0 {
            assembly.header = chunk.header;
        }
        if assembly.chunks.contains_key(&chunk.seq) {
            return Ok(());
        }
        assembly.bytes_received += chunk.data.len() as u64;
        assembly.chunks.insert(chunk.seq, chunk.data);
        if assembly.bytes_received > assembly.data_bytes_total {
            self.assemblies.remove(&from);
            return Err(Error::UnexpectedMessage(
                "snapshot chunks exceed the announced size".into(),
            ));
        }
        if assembly.chunks.len() < assembly.count as usize || assembly.header.is_empty() {
            return Ok(());
        }
        let assembly = self.assemblies.remove(&from).expect("present");
        if assembly.bytes_received != assembly.data_bytes_total {
            return Err(Error::UnexpectedMessage(
                "snapshot chunks do not add up".into(),
            ));
        }
        let mut data = Vec::with_capacity(assembly.data_bytes_total as usize);
        for (_, piece) in assembly.chunks {
            data.extend_from_slice(&piece);
        }
        let mut message = wire::decode_raft_message(&assembly.header)?;
        let consistent = message.get_msg_type() == MessageType::MsgSnapshot
            && message.get_snapshot().get_metadata().index == assembly.snapshot_index
            && message.get_snapshot().get_metadata().term == assembly.snapshot_term
            && message.get_snapshot().data.is_empty();
        if !consistent {
            return Err(Error::UnexpectedMessage(
                "snapshot header does not match its chunks".into(),
            ));
        }
        message.mut_snapshot().data = data;
        self.step(from, message)
    }

    // ----- membership ------------------------------------------------------------------------

    fn validate_membership(&self, change: MembershipChange) -> Result<()> {
        if !self.is_leader() {
            return Err(Error::NotLeader {
                leader_id: self.leader_hint(),
            });
        }
        let conf = &self.conf_state;
        let is_voter = |id: u64| conf.voters.contains(&id);
        let is_learner = |id: u64| conf.learners.contains(&id);
        let invalid = |detail: String| Err(Error::InvalidMembershipChange(detail));
        let id_ok = |id: u64| id != raft::INVALID_ID;
        match change {
            MembershipChange::TransferLeader(id) => {
                if !is_voter(id) || id == self.config.id {
                    return invalid(format!("cannot transfer leadership to {id}"));
                }
                return Ok(());
            }
            MembershipChange::AddLearner(id) if !id_ok(id) || is_voter(id) || is_learner(id) => {
                return invalid(format!("{id} is already a member"));
            }
            MembershipChange::PromoteLearner(id) if !is_learner(id) => {
                return invalid(format!("{id} is not a learner"));
            }
            MembershipChange::RemoveNode(id) if id == self.config.id => {
                return invalid(
                    "the leader cannot remove itself; transfer leadership first".into(),
                );
            }
            MembershipChange::RemoveNode(id) if !is_voter(id) && !is_learner(id) => {
                return invalid(format!("{id} is not a member"));
            }
            MembershipChange::RemoveNode(id) if is_voter(id) && conf.voters.len() == 1 => {
                return invalid("cannot remove the last voter".into());
            }
            MembershipChange::ReplaceVoter { remove, promote }
                if !is_voter(remove) || !is_learner(promote) || remove == self.config.id =>
            {
                return invalid(format!(
                    "cannot replace voter {remove} by learner {promote}"
                ));
            }
            _ => {}
        }
        if self.node.raft.has_pending_conf() || !conf.voters_outgoing.is_empty() {
            return Err(Error::MembershipChangePending);
        }
        Ok(())
    }

    fn change_membership(&mut self, change: MembershipChange) -> Result<()> {
        let single = |change_type: ConfChangeType, node_id: u64| {
            let mut change = ConfChangeSingle::default();
            change.set_change_type(change_type);
            change.node_id = node_id;
            change
        };
        let changes = match change {
            MembershipChange::TransferLeader(id) => {
                self.node.transfer_leader(id);
                return Ok(());
            }
            MembershipChange::AddLearner(id) => vec![single(ConfChangeType::AddLearnerNode, id)],
            MembershipChange::PromoteLearner(id) => vec![single(ConfChangeType::AddNode, id)],
            MembershipChange::RemoveNode(id) => vec![single(ConfChangeType::RemoveNode, id)],
            MembershipChange::ReplaceVoter { remove, promote } => vec![
                single(ConfChangeType::AddNode, promote),
                single(ConfChangeType::RemoveNode, remove),
            ],
        };
        let mut conf_change = ConfChangeV2::default();
        conf_change.set_transition(ConfChangeTransition::Auto);
        conf_change.changes = changes;
        match self.node.propose_conf_change(Vec::new(), conf_change) {
            Ok(()) => Ok(()),
            Err(raft::Error::ProposalDropped) => Err(Error::MembershipChangePending),
            Err(error) => Err(Error::Raft(error)),
        }
    }

    // ----- snapshots -------------------------------------------------------------------------

    /// Where to compact the log to: the applied index, except that a leader compacting without
    /// the state machine's bytes keeps the entries a follower within
    /// [`ReplicaConfig::compaction_keeps_lag_max`] entries has not acknowledged yet. A follower a
    /// few appends behind (appends in flight, a slow disk) is then sent those entries, not a
    /// snapshot of the whole state; one further behind gets the snapshot as before, so a dead
    /// follower never keeps the log from being compacted for long.
    fn compaction_index(&self, deferred: bool) -> u64 {
        let applied = self.applied_index;
        let keeps = self.config.compaction_keeps_lag_max;
        if !deferred || keeps == 0 || !self.is_leader() {
            return applied;
        }
        let floor = applied.saturating_sub(keeps);
        self.node
            .raft
            .prs()
            .iter()
            .filter(|(id, _)| **id != self.config.id)
            .map(|(_, progress)| progress.matched)
            .filter(|matched| *matched >= floor)
            .fold(applied, u64::min)
    }

    fn compact(&mut self, data: Vec<u8>, index_max: u64) -> Result<()> {
        let index = self
            .compaction_index(data == DEFERRED_SNAPSHOT)
            .min(index_max);
        let stored = self.store().latest_snapshot().map_err(Error::Store)?;
        let replaces =
            crate::store::replaces_stored(index, &data, stored.get_metadata().index, &stored.data);
        // While committed conf changes are being replayed after a restart, `conf_state` is
        // ahead of `applied_index` and would make a wrong snapshot; wait until replay ends.
        if !replaces || index < self.conf_state_index {
            return Ok(());
        }
        assert_eq!(
            self.applied_index, self.node.raft.raft_log.applied,
            "applied index diverged from raft-rs"
        );
        let term = raft::Storage::term(self.store(), index).map_err(Error::Store)?;
        let metadata = SnapshotMetadata {
            conf_state: Some(self.conf_state.clone()),
            index,
            term,
        };
        self.store_mut()
            .compact(Snapshot {
                data,
                metadata: Some(metadata),
            })
            .map_err(Error::Store)?;
        assert_eq!(
            raft::Storage::first_index(self.store()).map_err(Error::Store)?,
            index + 1
        );
        Ok(())
    }

    /// A leader that committed its own removal keeps leading (raft-rs, like etcd, leaves this to
    /// the application; Raft §6 says it should step down). Followers still hear its heartbeats
    /// and never elect anyone else, while it refuses proposals. Hand leadership to the most
    /// up-to-date voter instead; repeated every tick until it takes effect.
    fn hand_off_if_removed(&mut self) {
        let id = self.config.id;
        let conf = &self.conf_state;
        if !self.is_leader() || conf.voters.contains(&id) || conf.voters_outgoing.contains(&id) {
            return;
        }
        if self.node.raft.lead_transferee.is_some() {
            return;
        }
        let best = conf
            .voters
            .iter()
            .filter_map(|voter| {
                self.node
                    .raft
                    .prs()
                    .get(*voter)
                    .map(|progress| (progress.matched, *voter))
            })
            .max();
        if let Some((_, voter)) = best {
            tracing::info!(
                replica_id = id,
                to = voter,
                "removed leader hands off leadership"
            );
            self.node.transfer_leader(voter);
        }
    }

    /// A leader must not apply its own removal as leader: raft-rs 0.7's `post_conf_change`
    /// then runs `maybe_commit`, which unwraps the leader's own (removed) progress and panics.
    /// Step down first; followers elect a new leader after their election timeout.
    fn step_down_if_removed(&mut self, change: &ConfChangeV2) {
        let id = self.config.id;
        if !self.is_leader() {
            return;
        }
        let conf = &self.conf_state;
        let removes_self = change.changes.iter().any(|single| {
            single.change_type == ConfChangeType::RemoveNode as i32 && single.node_id == id
        });
        let leaves_joint_without_self = change.changes.is_empty()
            && !conf.voters_outgoing.is_empty()
            && !conf.voters.contains(&id)
            && !conf.learners.contains(&id)
            && !conf.learners_next.contains(&id);
        if removes_self || leaves_joint_without_self {
            tracing::info!(
                replica_id = id,
                "leader steps down before applying its own removal"
            );
            let term = self.node.raft.term;
            self.node.raft.become_follower(term, raft::INVALID_ID);
        }
    }

    /// A replica removed from the configuration stops receiving entries, so its placed and
    /// forwarded proposals would never resolve: report them `OutcomeUnknown` now. (Batched ones
    /// are dropped definitively when leadership ends.)
    fn abandon_pending_if_removed(&mut self, out: &mut Output) {
        let id = self.config.id;
        let conf = &self.conf_state;
        let member = [
            &conf.voters,
            &conf.learners,
            &conf.voters_outgoing,
            &conf.learners_next,
        ]
        .iter()
        .any(|ids| ids.contains(&id));
        if member {
            return;
        }
        let abandoned: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, pending)| !matches!(pending, Pending::Batched))
            .map(|(proposal, _)| *proposal)
            .collect();
        for proposal in abandoned {
            self.pending.remove(&proposal);
            out.fates.push((
                proposal,
                ProposalFate::Dropped {
                    reason: DropReason::OutcomeUnknown,
                },
            ));
        }
        self.placed.clear();
        self.forward_queue
            .retain(|proposal| self.pending.contains_key(&proposal.id));
    }

    fn expire_snapshot_sends(&mut self) {
        if !self.is_leader() {
            self.snapshot_sends.clear();
            return;
        }
        let deadline = self.config.snapshot_timeout_ticks;
        let peers: Vec<(u64, u64)> = self
            .snapshot_sends
            .iter()
            .map(|(peer, tick)| (*peer, *tick))
            .collect();
        for (peer, tick) in peers {
            let in_snapshot = self
                .node
                .raft
                .prs()
                .get(peer)
                .is_some_and(|progress| progress.state == ProgressState::Snapshot);
            if !in_snapshot {
                self.snapshot_sends.remove(&peer);
            } else if self.tick_count - tick >= deadline {
                // The snapshot (or a chunk of it) was probably lost: let raft-rs probe again,
                // which sends a fresh snapshot.
                self.snapshot_sends.remove(&peer);
                self.node.report_snapshot(peer, SnapshotStatus::Failure);
            }
        }
    }

    /// Turns raft messages into outbound wire messages, chunking large snapshots.
    fn send_raft_messages(&mut self, messages: Vec<Message>, out: &mut Output) {
        for mut message in messages {
            let to = message.to;
            assert_eq!(message.from, self.config.id);
            if message.get_msg_type() != MessageType::MsgSnapshot {
                out.messages.push(Outbound {
                    to,
                    message: WireMessage::Raft(message.encode_to_vec()),
                });
                continue;
            }
            self.snapshot_sends.insert(to, self.tick_count);
            let data = std::mem::take(&mut message.mut_snapshot().data);
            if data.len() <= self.config.snapshot_chunk_bytes {
                message.mut_snapshot().data = data;
                out.messages.push(Outbound {
                    to,
                    message: WireMessage::Raft(message.encode_to_vec()),
                });
                continue;
            }
            let metadata = message.get_snapshot().get_metadata().clone();
            let header = message.encode_to_vec();
            let pieces: Vec<&[u8]> = data.chunks(self.config.snapshot_chunk_bytes).collect();
            let count = u32::try_from(pieces.len()).expect("chunk count fits u32");
            assert!(
                count <= SNAPSHOT_CHUNKS_MAX,
                "snapshot needs {count} chunks"
            );
            for (seq, piece) in pieces.into_iter().enumerate() {
                let seq = seq as u32;
                let chunk = SnapshotChunk {
                    snapshot_index: metadata.index,
                    snapshot_term: metadata.term,
                    seq,
                    count,
                    data_bytes_total: data.len() as u64,
                    header: if seq == 0 { header.clone() } else { Vec::new() },
                    data: piece.to_vec(),
                };
                out.messages.push(Outbound {
                    to,
                    message: WireMessage::SnapshotChunk(chunk),
                });
            }
        }
    }

    // ----- ready -----------------------------------------------------------------------------

    /// Drains `Ready`s in the order described in the module docs.
    fn process_ready(&mut self, out: &mut Output) -> Result<()> {
        for _ in 0..READY_ROUNDS_MAX {
            if !self.node.has_ready() {
                break;
            }
            let mut ready = self.node.ready();
            let mut messages = ready.take_messages();
            let snapshot = (!ready.snapshot().is_empty()).then(|| ready.snapshot().clone());
            let write = LogWrite {
                snapshot: snapshot.clone(),
                entries: ready.take_entries(),
                hard_state: ready.hs().cloned(),
                conf_state: None,
            };
            if !write.is_empty() {
                self.store_mut().write(write).map_err(Error::Store)?;
            }
            if let Some(snapshot) = snapshot {
                self.on_snapshot_installed(snapshot, out);
            }
            self.apply_committed(ready.take_committed_entries(), out)?;
            messages.extend(ready.take_persisted_messages());
            let mut light = self.node.advance(ready);
            if light.commit_index().is_some() {
                let hard_state = self.node.raft.hard_state();
                self.store_mut()
                    .set_hard_state(&hard_state)
                    .map_err(Error::Store)?;
            }
            messages.extend(light.take_messages());
            self.apply_committed(light.take_committed_entries(), out)?;
            self.node.advance_apply();
            assert_eq!(self.node.raft.raft_log.applied, self.applied_index);
            self.send_raft_messages(messages, out);
        }
        Ok(())
    }

    /// Role-change bookkeeping after the `Ready`s: a leader that lost leadership drops its
    /// unproposed batch; a replica that became leader stops forwarding.
    fn after_ready(&mut self, out: &mut Output) -> Result<()> {
        let is_leader = self.is_leader();
        if self.was_leader && !is_leader {
            let proposals = std::mem::take(&mut self.batch);
            self.batch_bytes = 0;
            self.drop_proposals(proposals, DropReason::NotLeader, out);
            self.snapshot_sends.clear();
        }
        if !is_leader {
            assert!(self.batch.is_empty(), "only the leader batches");
        } else {
            assert!(
                self.forward_queue.is_empty()
                    || !self.was_leader
                    || self.leader_hint() == Some(self.config.id)
            );
        }
        self.was_leader = is_leader;
        Ok(())
    }

    fn on_snapshot_installed(&mut self, snapshot: Snapshot, out: &mut Output) {
        let metadata = snapshot.get_metadata().clone();
        assert!(
            metadata.index > self.applied_index,
            "snapshot does not advance the state"
        );
        self.conf_state = sorted(metadata.get_conf_state().clone());
        self.conf_state_index = metadata.index;
        self.applied_index = metadata.index;
        // Placed proposals covered by the snapshot: the entries are gone from this log, so
        // whether they made it cannot be told here.
        let covered: Vec<u64> = self
            .placed
            .range(..=metadata.index)
            .map(|(index, _)| *index)
            .collect();
        for index in covered {
            for id in self.placed.remove(&index).unwrap_or_default() {
                if self.pending.remove(&id).is_some() {
                    out.fates.push((
                        id,
                        ProposalFate::Dropped {
                            reason: DropReason::OutcomeUnknown,
                        },
                    ));
                }
            }
        }
        out.apply.push(Apply::Restore {
            index: metadata.index,
            term: metadata.term,
            data: snapshot.data,
        });
    }

    fn apply_committed(&mut self, entries: Vec<Entry>, out: &mut Output) -> Result<()> {
        for entry in entries {
            assert_eq!(
                entry.index,
                self.applied_index + 1,
                "committed entries arrive in order"
            );
            match entry.get_entry_type() {
                EntryType::EntryNormal => self.apply_normal(entry, out)?,
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    self.apply_conf_change(entry, out)?
                }
            }
        }
        Ok(())
    }

    fn apply_normal(&mut self, entry: Entry, out: &mut Output) -> Result<()> {
        let (index, term) = (entry.index, entry.term);
        let proposals = wire::decode_batch(&entry.data).map_err(|error| Error::CorruptEntry {
            index,
            detail: error.to_string(),
        })?;
        for proposal in &proposals {
            if proposal.origin == self.config.id && self.pending.remove(&proposal.id).is_some() {
                out.fates
                    .push((proposal.id, ProposalFate::Committed { index }));
            }
        }
        for id in self.placed.remove(&index).unwrap_or_default() {
            // Proposals not `Placed` any more were already resolved (committed above, or timed
            // out earlier).
            if let Some(Pending::Placed {
                term: placed_term,
                index: placed_index,
            }) = self.pending.get(&id)
            {
                assert_eq!(*placed_index, index);
                // Same (term, index) means the same entry, which would have contained it.
                assert_ne!(
                    *placed_term, term,
                    "proposal {id} missing from its own entry"
                );
                self.pending.remove(&id);
                out.fates.push((
                    id,
                    ProposalFate::Dropped {
                        reason: DropReason::Overwritten,
                    },
                ));
            }
        }
        self.applied_index = index;
        out.apply.push(Apply::Entry {
            index,
            term,
            proposals,
        });
        Ok(())
    }

    fn apply_conf_change(&mut self, entry: Entry, out: &mut Output) -> Result<()> {
        let (index, term) = (entry.index, entry.term);
        let corrupt = |error: prost::DecodeError| Error::CorruptEntry {
            index,
            detail: error.to_string(),
        };
        if index > self.conf_state_index {
            // raft-rs's generated getters panic on unknown enum values: check them first.
            let unknown = |detail: String| Error::CorruptEntry { index, detail };
            let result = if entry.get_entry_type() == EntryType::EntryConfChangeV2 {
                let change = ConfChangeV2::decode(entry.data.as_slice()).map_err(corrupt)?;
                self.step_down_if_removed(&change);
                if ConfChangeTransition::from_i32(change.transition).is_none()
                    || change
                        .changes
                        .iter()
                        .any(|single| ConfChangeType::from_i32(single.change_type).is_none())
                {
                    return Err(unknown("unknown conf change enum value".into()));
                }
                self.node.apply_conf_change(&change)
            } else {
                let change = ConfChange::decode(entry.data.as_slice()).map_err(corrupt)?;
                if ConfChangeType::from_i32(change.change_type).is_none() {
                    return Err(unknown("unknown conf change type".into()));
                }
                let single = ConfChangeSingle {
                    change_type: change.change_type,
                    node_id: change.node_id,
                };
                self.step_down_if_removed(&ConfChangeV2 {
                    changes: vec![single],
                    ..ConfChangeV2::default()
                });
                self.node.apply_conf_change(&change)
            };
            match result {
                Ok(conf_state) => {
                    let conf_state = sorted(conf_state);
                    self.store_mut()
                        .set_conf_state(index, &conf_state)
                        .map_err(Error::Store)?;
                    self.conf_state = conf_state;
                    self.conf_state_index = index;
                    self.abandon_pending_if_removed(out);
                }
                // Rejection depends only on the configuration, which is the same on every
                // replica at this index, so every replica rejects it alike (a no-op entry).
                Err(error) => {
                    tracing::warn!(replica_id = self.config.id, index, %error, "conf change rejected")
                }
            }
        }
        self.applied_index = index;
        out.apply.push(Apply::Membership {
            index,
            term,
            conf_state: self.conf_state.clone(),
        });
        Ok(())
    }
}

impl<S: LogStore> std::fmt::Debug for Replica<S> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Replica")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}
