//! The simulated cluster: replicas, a lossy network and a client on one thread, driven by a
//! virtual millisecond clock; every random choice comes from one seeded ChaCha stream.

use std::collections::{BTreeMap, BTreeSet};

use pedigree_consensus::eraftpb::ConfState;
use pedigree_consensus::wire;
use pedigree_consensus::{
    Apply, Input, LogStore, MembershipChange, Output, ProposalFate, Replica, ReplicaConfig, Role,
    WireMessage, WriteFaults,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::invariants::{self, AppliedRecord, History, NodeView, Violation};
use crate::state_machine::{StateMachine, mix, payload_value};
use crate::trace::{Trace, bytes_hash};

/// Virtual milliseconds per replica tick.
pub const TICK_MS: u64 = 10;
/// Base election timeout in ticks; node i's timeout is drawn from the seed at or above it.
pub const ELECTION_TICKS: usize = 10;
/// Most packets delivered in one virtual millisecond (a bound, not a model).
const DELIVERIES_PER_MS_MAX: usize = 100_000;

/// Fault probabilities for the safety phase; drawn from the seed (swarm testing: each seed
/// stresses a different mix).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Probability that a packet is dropped.
    pub drop_probability: f64,
    /// Probability that a packet is delivered twice.
    pub duplicate_probability: f64,
    /// Smallest network delay.
    pub delay_ms_min: u64,
    /// Largest network delay (delays differ per packet, so packets reorder).
    pub delay_ms_max: u64,
    /// Per-millisecond probability of crashing a random running node.
    pub crash_probability: f64,
    /// Per-millisecond probability of a crash in the middle of persisting (failed write).
    pub torn_write_probability: f64,
    /// Per-millisecond probability of starting a network partition.
    pub partition_probability: f64,
    /// Per-millisecond probability of a membership change request.
    pub membership_probability: f64,
}

impl FaultPlan {
    /// No faults and a fast, reliable network (liveness phase, benchmarks).
    pub fn none() -> Self {
        Self {
            drop_probability: 0.0,
            duplicate_probability: 0.0,
            delay_ms_min: 1,
            delay_ms_max: 2,
            crash_probability: 0.0,
            torn_write_probability: 0.0,
            partition_probability: 0.0,
            membership_probability: 0.0,
        }
    }

    fn from_rng(rng: &mut ChaCha8Rng) -> Self {
        let delay_ms_min = rng.gen_range(1..=5);
        Self {
            drop_probability: rng.gen_range(0.0..0.2),
            duplicate_probability: rng.gen_range(0.0..0.05),
            delay_ms_min,
            delay_ms_max: delay_ms_min + rng.gen_range(0..=40),
            crash_probability: rng.gen_range(0.0..0.003),
            torn_write_probability: rng.gen_range(0.0..0.002),
            partition_probability: rng.gen_range(0.0..0.003),
            membership_probability: rng.gen_range(0.0..0.004),
        }
    }
}

/// Settings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The seed every random choice derives from.
    pub seed: u64,
    /// Initial voters.
    pub voters: usize,
    /// Spare nodes that membership changes may add as learners.
    pub spares: usize,
    /// Length of the fault phase.
    pub safety_ms: u64,
    /// Deadline of the liveness phase.
    pub liveness_ms_max: u64,
    /// New proposals that must commit in the liveness phase.
    pub liveness_proposals: usize,
    /// Per-millisecond probability of a client proposal in the safety phase.
    pub propose_probability: f64,
    /// Interval of the periodic invariant checks.
    pub check_interval_ms: u64,
    /// Keep trace lines in memory.
    pub trace_lines: bool,
    /// Print trace lines as they happen.
    pub trace_echo: bool,
    /// Payloads per entry; `None` draws it from the seed.
    pub batch_payloads_max: Option<usize>,
}

impl SimConfig {
    /// Defaults for `seed` with `voters` initial voters and 2 spares.
    pub fn new(seed: u64, voters: usize) -> Self {
        Self {
            seed,
            voters,
            spares: 2,
            safety_ms: 3_000,
            liveness_ms_max: 5_000,
            liveness_proposals: 5,
            propose_probability: 0.05,
            check_interval_ms: 50,
            trace_lines: false,
            trace_echo: false,
            batch_payloads_max: None,
        }
    }

    /// The command that reproduces this run.
    pub fn reproduce_command(&self) -> String {
        format!(
            "cargo run --release -p pedigree-sim -- --seed {} --replicas {} --trace",
            self.seed, self.voters
        )
    }
}

/// Counters of one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Packets delivered.
    pub delivered: u64,
    /// Packets lost (dropped, partitioned, or to a crashed node).
    pub lost: u64,
    /// Crashes (including torn writes).
    pub crashes: u64,
    /// Crashes in the middle of a write.
    pub torn_writes: u64,
    /// Partitions started.
    pub partitions: u64,
    /// Membership changes applied by some replica (counted once per index).
    pub membership_changes: u64,
    /// Snapshots installed from a leader.
    pub snapshots_installed: u64,
    /// Proposals submitted.
    pub proposed: u64,
    /// Proposals acknowledged committed.
    pub committed: u64,
    /// Proposals dropped (any reason).
    pub dropped: u64,
    /// Inputs rejected by a replica.
    pub rejections: u64,
    /// Distinct terms with a leader.
    pub terms: u64,
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The run's settings.
    pub config: SimConfig,
    /// The derived fault plan.
    pub faults: FaultPlan,
    /// Every violation found.
    pub violations: Vec<Violation>,
    /// Hash of the event trace.
    pub trace_hash: u64,
    /// Events traced.
    pub events: u64,
    /// Counters.
    pub stats: Stats,
    /// Highest applied index at the end.
    pub applied_index: u64,
    /// Trace lines, if kept.
    pub trace_lines: Option<Vec<String>>,
}

impl RunReport {
    /// Whether no invariant broke.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Creates stores for nodes: `voters` is `Some` for initial voters (bootstrap), `None` for
/// spares. Returns the fault-injection handle when the store supports it.
pub trait StoreFactory<S> {
    /// Creates the store of node `id`.
    fn create(&mut self, id: u64, voters: Option<&[u64]>) -> (S, Option<WriteFaults>);
}

/// The factory for in-memory stores.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemStores;

impl StoreFactory<pedigree_consensus::MemLogStore> for MemStores {
    fn create(
        &mut self,
        _id: u64,
        voters: Option<&[u64]>,
    ) -> (pedigree_consensus::MemLogStore, Option<WriteFaults>) {
        let store = match voters {
            Some(voters) => pedigree_consensus::MemLogStore::new_with_voters(voters),
            None => pedigree_consensus::MemLogStore::new(),
        };
        let faults = store.write_faults();
        (store, Some(faults))
    }
}

struct Node<S: LogStore> {
    id: u64,
    replica: Option<Replica<S>>,
    parked: Option<S>,
    write_faults: Option<WriteFaults>,
    machine: StateMachine,
    restart_at_ms: Option<u64>,
    tick_phase_ms: u64,
    replica_config: ReplicaConfig,
    compact_every: u64,
    last_compact_index: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Safety,
    Liveness,
}

/// A simulated cluster.
pub struct Cluster<S: LogStore> {
    config: SimConfig,
    faults: FaultPlan,
    network_faults: FaultPlan,
    rng: ChaCha8Rng,
    now_ms: u64,
    phase: Phase,
    nodes: BTreeMap<u64, Node<S>>,
    /// In-flight packets keyed by (delivery time, sequence number).
    network: BTreeMap<(u64, u64), (u64, u64, Vec<u8>)>,
    packet_seq: u64,
    /// Partition: node → side; nodes on different sides cannot talk. Empty when healed.
    partition: BTreeMap<u64, bool>,
    partition_heal_ms: u64,
    history: History,
    violations: Vec<Violation>,
    trace: Trace,
    next_value: u64,
    /// Proposals awaiting their fate: value → origin.
    outstanding: BTreeMap<u64, u64>,
    liveness_values: BTreeSet<u64>,
    liveness_committed: BTreeSet<u64>,
    stats: Stats,
    members: ConfState,
    members_index: u64,
    unused_spares: Vec<u64>,
    /// Turns a crashed node's store into the store it restarts from.
    reopen: fn(S) -> S,
}

impl<S: LogStore> Cluster<S> {
    /// Builds the cluster; initial voters are 1..=voters, spares follow.
    pub fn new(config: SimConfig, stores: &mut impl StoreFactory<S>) -> Self {
        assert!(config.voters >= 1);
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let faults = FaultPlan::from_rng(&mut rng);
        let voters: Vec<u64> = (1..=config.voters as u64).collect();
        let total = (config.voters + config.spares) as u64;
        let mut nodes = BTreeMap::new();
        let chunk_bytes = rng.gen_range(64..=1024);
        for id in 1..=total {
            let (store, write_faults) =
                stores.create(id, voters.contains(&id).then_some(voters.as_slice()));
            // Close raft-rs's unseeded election RNG: the range [e, e + 1) leaves one value.
            let election_ticks_min = rng.gen_range(ELECTION_TICKS..ELECTION_TICKS * 2 + 5);
            let mut replica_config = ReplicaConfig::new(id);
            replica_config.election_ticks = ELECTION_TICKS;
            replica_config.heartbeat_ticks = 2;
            replica_config.election_ticks_min = election_ticks_min;
            replica_config.election_ticks_max = election_ticks_min + 1;
            replica_config.snapshot_chunk_bytes = chunk_bytes;
            replica_config.snapshot_bytes_max = 4 * 1024 * 1024;
            let batch_payloads_max = rng.gen_range(1..=64);
            replica_config.batch_payloads_max =
                config.batch_payloads_max.unwrap_or(batch_payloads_max);
            let replica =
                Replica::new(replica_config.clone(), store).expect("valid simulator configuration");
            nodes.insert(
                id,
                Node {
                    id,
                    replica: Some(replica),
                    parked: None,
                    write_faults,
                    machine: StateMachine::default(),
                    restart_at_ms: None,
                    tick_phase_ms: rng.gen_range(0..TICK_MS),
                    replica_config,
                    compact_every: rng.gen_range(8..=64),
                    last_compact_index: 0,
                },
            );
        }
        let trace = Trace::new(config.trace_lines, config.trace_echo);
        let members = ConfState {
            voters: voters.clone(),
            ..ConfState::default()
        };
        Self {
            network_faults: faults.clone(),
            faults,
            rng,
            now_ms: 0,
            phase: Phase::Safety,
            nodes,
            network: BTreeMap::new(),
            packet_seq: 0,
            partition: BTreeMap::new(),
            partition_heal_ms: 0,
            history: History::default(),
            violations: Vec::new(),
            trace,
            next_value: 1,
            outstanding: BTreeMap::new(),
            liveness_values: BTreeSet::new(),
            liveness_committed: BTreeSet::new(),
            stats: Stats::default(),
            members,
            members_index: 0,
            unused_spares: ((config.voters as u64 + 1)..=total).collect(),
            reopen: |store| store,
            config,
        }
    }

    /// Sets how a crashed node's store is reopened on restart (default: kept as is, which is
    /// exact for `MemLogStore`). On-disk stores close and reopen their database here, so a
    /// restart recovers from what is on disk.
    pub fn set_reopen(&mut self, reopen: fn(S) -> S) {
        self.reopen = reopen;
    }

    /// Replaces the fault plan (e.g. [`FaultPlan::none`] for benchmarks).
    pub fn set_faults(&mut self, faults: FaultPlan) {
        self.network_faults = faults.clone();
        self.faults = faults;
    }

    /// Current virtual time.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Violations so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Runs the safety phase, then the liveness phase, then the final checks.
    pub fn run(mut self) -> RunReport {
        self.trace.event(0, &[self.config.seed], || {
            format!("seed {} faults {:?}", self.config.seed, self.faults)
        });
        while self.now_ms < self.config.safety_ms && self.violations.is_empty() {
            self.step_ms();
        }
        if self.violations.is_empty() {
            self.liveness_phase();
        }
        self.final_checks();
        let applied_index = self
            .nodes
            .values()
            .map(|node| node.machine.applied_index)
            .max()
            .unwrap_or(0);
        RunReport {
            faults: self.faults.clone(),
            violations: self.violations,
            trace_hash: self.trace.hash(),
            events: self.trace.events(),
            stats: self.stats,
            applied_index,
            trace_lines: self.trace.lines().map(<[String]>::to_vec),
            config: self.config,
        }
    }

    /// Advances virtual time by one millisecond.
    pub fn step_ms(&mut self) {
        self.now_ms += 1;
        self.deliver_due();
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in &ids {
            let node = &self.nodes[id];
            if node.replica.is_some() && (self.now_ms + node.tick_phase_ms).is_multiple_of(TICK_MS)
            {
                self.handle(*id, Input::Tick);
            }
        }
        if self.phase == Phase::Safety {
            self.inject_faults();
            if self.rng.gen_bool(self.config.propose_probability) {
                self.propose_random();
            }
        }
        self.restart_due();
        if self.config.check_interval_ms > 0
            && self.now_ms.is_multiple_of(self.config.check_interval_ms)
        {
            self.check();
        }
    }

    // ----- replicas --------------------------------------------------------------------------

    fn handle(&mut self, id: u64, input: Input) {
        let Some(replica) = self
            .nodes
            .get_mut(&id)
            .and_then(|node| node.replica.as_mut())
        else {
            return;
        };
        match replica.handle(input) {
            Ok(output) => self.process_output(id, output),
            Err(error) if error.is_fatal() => {
                self.trace.event(self.now_ms, &[1, id], || {
                    format!("node {id} fatal: {error}")
                });
                self.crash(id);
            }
            Err(error) => {
                self.stats.rejections += 1;
                self.trace.event(self.now_ms, &[2, id], || {
                    format!("node {id} rejected: {error}")
                });
            }
        }
    }

    fn process_output(&mut self, id: u64, output: Output) {
        let snapshot_wanted = output.snapshot_wanted;
        for apply in output.apply {
            self.apply(id, apply);
        }
        for outbound in output.messages {
            self.send(id, outbound.to, &outbound.message);
        }
        for (proposal_id, fate) in output.fates {
            self.on_fate(id, proposal_id, fate);
        }
        let node = self.nodes.get_mut(&id).expect("node exists");
        let compact_due =
            node.machine.applied_index >= node.last_compact_index + node.compact_every;
        if node.replica.is_some()
            && (compact_due
                || (snapshot_wanted && node.machine.applied_index > node.last_compact_index))
        {
            node.last_compact_index = node.machine.applied_index;
            let data = node.machine.snapshot();
            self.handle(id, Input::Compact { data });
        }
    }

    fn apply(&mut self, id: u64, apply: Apply) {
        let now_ms = self.now_ms;
        let node = self.nodes.get_mut(&id).expect("node exists");
        let (index, record) = match apply {
            Apply::Restore { index, term, data } => {
                node.machine.restore(index, &data);
                node.last_compact_index = index;
                self.stats.snapshots_installed += 1;
                self.trace.event(now_ms, &[3, id, index, term], || {
                    format!("node {id} restore {index}/{term}")
                });
                return;
            }
            Apply::Entry {
                index,
                term,
                proposals,
            } => {
                node.machine.apply_entry(index, &proposals);
                let mut digest = mix(term, 0);
                let mut values = Vec::with_capacity(proposals.len());
                for proposal in &proposals {
                    digest = mix(
                        mix(mix(digest, proposal.origin), proposal.id),
                        bytes_hash(&proposal.payload),
                    );
                    values.push(payload_value(&proposal.payload));
                }
                (
                    index,
                    AppliedRecord {
                        term,
                        digest,
                        state_hash: node.machine.hash,
                        values,
                    },
                )
            }
            Apply::Membership {
                index,
                term,
                conf_state,
            } => {
                node.machine.skip_to(index);
                if index > self.members_index {
                    self.members_index = index;
                    self.stats.membership_changes += 1;
                    self.trace.event(now_ms, &[4, index], || {
                        format!("membership @{index}: {conf_state:?}")
                    });
                    self.members = conf_state;
                }
                (
                    index,
                    AppliedRecord {
                        term,
                        digest: mix(term, 1),
                        state_hash: node.machine.hash,
                        values: Vec::new(),
                    },
                )
            }
        };
        self.trace
            .event(now_ms, &[5, id, index, record.digest], || {
                format!("node {id} apply {index}")
            });
        invariants::state_machine_safety::on_apply(
            now_ms,
            id,
            index,
            record,
            &mut self.history,
            &mut self.violations,
        );
    }

    fn on_fate(&mut self, origin: u64, value: u64, fate: ProposalFate) {
        let owner = self.outstanding.remove(&value);
        assert_eq!(
            owner,
            Some(origin),
            "fate for unknown proposal {value} from {origin}"
        );
        self.trace.event(self.now_ms, &[6, value], || {
            format!("fate {value}@{origin}: {fate:?}")
        });
        match fate {
            ProposalFate::Committed { index } => {
                self.stats.committed += 1;
                if self.liveness_values.contains(&value) {
                    self.liveness_committed.insert(value);
                }
                invariants::durability::on_committed(
                    self.now_ms,
                    value,
                    index,
                    &mut self.history,
                    &mut self.violations,
                );
            }
            ProposalFate::Dropped { reason } => {
                self.stats.dropped += 1;
                if reason.is_definitive() {
                    self.history.dropped.insert(value);
                }
                self.liveness_values.remove(&value);
            }
        }
    }

    fn propose(&mut self, id: u64, payload_bytes: usize) {
        let value = self.next_value;
        self.next_value += 1;
        let mut payload = value.to_le_bytes().to_vec();
        payload.resize(payload_bytes.max(8), 0xAB);
        self.outstanding.insert(value, id);
        self.stats.proposed += 1;
        self.trace.event(self.now_ms, &[7, id, value], || {
            format!("propose {value} at node {id}")
        });
        self.handle(id, Input::Propose { id: value, payload });
    }

    fn propose_random(&mut self) {
        let running: Vec<u64> = self
            .nodes
            .values()
            .filter(|node| node.replica.is_some())
            .map(|node| node.id)
            .collect();
        if running.is_empty() {
            return;
        }
        let id = running[self.rng.gen_range(0..running.len())];
        self.propose(id, 8);
    }

    // ----- network ---------------------------------------------------------------------------

    fn partitioned(&self, from: u64, to: u64) -> bool {
        match (self.partition.get(&from), self.partition.get(&to)) {
            (Some(left), Some(right)) => left != right,
            _ => false,
        }
    }

    fn send(&mut self, from: u64, to: u64, message: &WireMessage) {
        let bytes = wire::encode(message);
        if self.partitioned(from, to) || self.rng.gen_bool(self.network_faults.drop_probability) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.gen_bool(self.network_faults.duplicate_probability) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay_ms = self
                .rng
                .gen_range(self.network_faults.delay_ms_min..=self.network_faults.delay_ms_max);
            self.packet_seq += 1;
            self.network.insert(
                (self.now_ms + delay_ms, self.packet_seq),
                (from, to, bytes.clone()),
            );
        }
    }

    fn deliver_due(&mut self) {
        for _ in 0..DELIVERIES_PER_MS_MAX {
            let Some(entry) = self.network.first_entry() else {
                return;
            };
            if entry.key().0 > self.now_ms {
                return;
            }
            let (from, to, bytes) = entry.remove();
            let running = self
                .nodes
                .get(&to)
                .is_some_and(|node| node.replica.is_some());
            if !running || self.partitioned(from, to) {
                self.stats.lost += 1;
                continue;
            }
            self.stats.delivered += 1;
            self.trace
                .event(self.now_ms, &[8, from, to, bytes_hash(&bytes)], || {
                    format!("deliver {from}->{to} {} bytes", bytes.len())
                });
            match wire::decode(&bytes) {
                Ok(message) => self.handle(to, Input::Receive { from, message }),
                Err(error) => self.violations.push(Violation {
                    invariant: "wire",
                    time_ms: self.now_ms,
                    detail: format!("encoded message failed to decode: {error}"),
                }),
            }
        }
    }

    // ----- faults ----------------------------------------------------------------------------

    fn crash(&mut self, id: u64) {
        let downtime_ms = self.rng.gen_range(20..=400);
        let node = self.nodes.get_mut(&id).expect("node exists");
        let Some(replica) = node.replica.take() else {
            return;
        };
        node.parked = Some(replica.into_store());
        node.machine = StateMachine::default();
        node.restart_at_ms = Some(self.now_ms + downtime_ms);
        self.stats.crashes += 1;
        // The crashed replica's pending proposals will never get a fate.
        let lost: Vec<u64> = self
            .outstanding
            .iter()
            .filter(|(_, origin)| **origin == id)
            .map(|(value, _)| *value)
            .collect();
        for value in lost {
            self.outstanding.remove(&value);
            self.liveness_values.remove(&value);
        }
        self.trace.event(self.now_ms, &[9, id], || {
            format!("crash node {id} for {downtime_ms}ms")
        });
    }

    fn restart(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        let Some(store) = node.parked.take() else {
            return;
        };
        let store = (self.reopen)(store);
        node.restart_at_ms = None;
        node.replica =
            Some(Replica::new(node.replica_config.clone(), store).expect("restart from the store"));
        self.trace
            .event(self.now_ms, &[10, id], || format!("restart node {id}"));
    }

    fn restart_due(&mut self) {
        let due: Vec<u64> = self
            .nodes
            .values()
            .filter(|node| node.restart_at_ms.is_some_and(|at| at <= self.now_ms))
            .map(|node| node.id)
            .collect();
        for id in due {
            self.restart(id);
        }
    }

    fn random_running(&mut self) -> Option<u64> {
        let running: Vec<u64> = self
            .nodes
            .values()
            .filter(|node| node.replica.is_some())
            .map(|node| node.id)
            .collect();
        (!running.is_empty()).then(|| running[self.rng.gen_range(0..running.len())])
    }

    fn inject_faults(&mut self) {
        if self.rng.gen_bool(self.faults.crash_probability)
            && let Some(id) = self.random_running()
        {
            self.crash(id);
        }
        if self.rng.gen_bool(self.faults.torn_write_probability)
            && let Some(id) = self.random_running()
            && let Some(faults) = &self.nodes[&id].write_faults
        {
            faults.fail_next(1);
            self.stats.torn_writes += 1;
            self.trace.event(self.now_ms, &[11, id], || {
                format!("node {id}: next write fails")
            });
        }
        if !self.partition.is_empty() && self.now_ms >= self.partition_heal_ms {
            self.partition.clear();
            self.trace
                .event(self.now_ms, &[12], || "heal partition".to_string());
        } else if self.partition.is_empty() && self.rng.gen_bool(self.faults.partition_probability)
        {
            let ids: Vec<u64> = self.nodes.keys().copied().collect();
            for id in ids {
                let side = self.rng.gen_bool(0.5);
                self.partition.insert(id, side);
            }
            self.partition_heal_ms = self.now_ms + self.rng.gen_range(50..=1_000);
            self.stats.partitions += 1;
            let sides = format!("{:?}", self.partition);
            self.trace
                .event(self.now_ms, &[13], || format!("partition {sides}"));
        }
        if self.rng.gen_bool(self.faults.membership_probability) {
            self.change_membership();
        }
    }

    /// The running leader with the highest term, if any.
    pub fn leader(&self) -> Option<u64> {
        self.nodes
            .values()
            .filter_map(|node| node.replica.as_ref().map(|replica| replica.status()))
            .filter(|status| status.role == Role::Leader)
            .max_by_key(|status| status.term)
            .map(|status| status.id)
    }

    fn change_membership(&mut self) {
        let Some(leader) = self.leader() else { return };
        let conf = self.nodes[&leader]
            .replica
            .as_ref()
            .expect("running")
            .status()
            .conf_state;
        let voters: Vec<u64> = conf
            .voters
            .iter()
            .copied()
            .filter(|id| *id != leader)
            .collect();
        let learners = conf.learners.clone();
        let pick = |rng: &mut ChaCha8Rng, ids: &[u64]| {
            (!ids.is_empty()).then(|| ids[rng.gen_range(0..ids.len())])
        };
        let change = match self.rng.gen_range(0..5) {
            0 => self
                .unused_spares
                .first()
                .copied()
                .map(MembershipChange::AddLearner),
            1 => pick(&mut self.rng, &learners).map(MembershipChange::PromoteLearner),
            2 if conf.voters.len() > 3 => {
                pick(&mut self.rng, &voters).map(MembershipChange::RemoveNode)
            }
            2 => pick(&mut self.rng, &learners).map(MembershipChange::RemoveNode),
            3 => match (pick(&mut self.rng, &voters), pick(&mut self.rng, &learners)) {
                (Some(remove), Some(promote)) => {
                    Some(MembershipChange::ReplaceVoter { remove, promote })
                }
                _ => None,
            },
            _ => pick(&mut self.rng, &voters).map(MembershipChange::TransferLeader),
        };
        let Some(change) = change else { return };
        if let MembershipChange::AddLearner(id) = change {
            // A spare is used at most once, whether or not the change commits.
            self.unused_spares.retain(|spare| *spare != id);
        }
        self.trace.event(self.now_ms, &[14, leader], || {
            format!("membership request at {leader}: {change:?}")
        });
        self.handle(leader, Input::ChangeMembership(change));
    }

    // ----- checks ----------------------------------------------------------------------------

    fn views(&self) -> Vec<NodeView> {
        self.nodes
            .values()
            .map(|node| {
                let (store, status) = match (&node.replica, &node.parked) {
                    (Some(replica), _) => (replica.store(), Some(replica.status())),
                    (None, Some(store)) => (store, None),
                    (None, None) => unreachable!("a node is running or parked"),
                };
                let first = raft::Storage::first_index(store).expect("readable store");
                let last = raft::Storage::last_index(store).expect("readable store");
                let entries = raft::Storage::entries(
                    store,
                    first,
                    last + 1,
                    None,
                    raft::GetEntriesContext::empty(false),
                )
                .expect("readable store");
                let hard_state = raft::Storage::initial_state(store)
                    .expect("readable store")
                    .hard_state;
                NodeView {
                    id: node.id,
                    status,
                    hard_state,
                    entries,
                }
            })
            .collect()
    }

    fn check(&mut self) {
        let views = self.views();
        invariants::check_all(self.now_ms, &views, &mut self.history, &mut self.violations);
        self.stats.terms = self.history.leaders.len() as u64;
    }

    fn member_ids(&self) -> Vec<u64> {
        self.members
            .voters
            .iter()
            .chain(self.members.learners.iter())
            .copied()
            .collect()
    }

    fn liveness_phase(&mut self) {
        self.phase = Phase::Liveness;
        self.network_faults = FaultPlan::none();
        self.partition.clear();
        for node in self.nodes.values() {
            if let Some(faults) = &node.write_faults {
                faults.fail_next(0);
            }
        }
        let parked: Vec<u64> = self
            .nodes
            .values()
            .filter(|node| node.replica.is_none())
            .map(|node| node.id)
            .collect();
        for id in parked {
            self.restart(id);
        }
        self.trace.event(self.now_ms, &[15], || {
            "liveness phase: faults off, all nodes up".to_string()
        });
        let start_ms = self.now_ms;
        let mut submitted = 0usize;
        while self.now_ms - start_ms < self.config.liveness_ms_max && self.violations.is_empty() {
            self.step_ms();
            let waiting = self.liveness_values.len() - self.liveness_committed.len();
            if self.now_ms.is_multiple_of(20)
                && waiting == 0
                && self.liveness_committed.len() < self.config.liveness_proposals
                && let Some(leader) = self.leader()
            {
                self.liveness_values.insert(self.next_value);
                self.propose(leader, 8);
                submitted += 1;
            }
            if self.liveness_committed.len() >= self.config.liveness_proposals && self.converged() {
                break;
            }
        }
        let members = self.member_states();
        let outcome = invariants::liveness::LivenessOutcome {
            committed: self.liveness_committed.len(),
            required: self.config.liveness_proposals,
            members,
            elapsed_ms: self.now_ms - start_ms,
        };
        self.trace.event(self.now_ms, &[16, submitted as u64], || {
            format!("liveness outcome {outcome:?}")
        });
        invariants::liveness::check(self.now_ms, &outcome, &mut self.violations);
    }

    fn member_states(&self) -> Vec<(u64, u64, u64)> {
        self.member_ids()
            .into_iter()
            .map(|id| {
                let node = &self.nodes[&id];
                (id, node.machine.applied_index, node.machine.hash)
            })
            .collect()
    }

    fn converged(&self) -> bool {
        let states = self.member_states();
        let commit_max = self
            .member_ids()
            .iter()
            .filter_map(|id| {
                self.nodes[id]
                    .replica
                    .as_ref()
                    .map(|replica| replica.status().commit_index)
            })
            .max()
            .unwrap_or(0);
        states
            .iter()
            .all(|state| state.1 == commit_max && state.2 == states[0].2)
    }

    fn final_checks(&mut self) {
        self.check();
        let members = self.member_ids();
        let converged: Vec<(u64, &[u64])> = if self.violations.is_empty() {
            members
                .iter()
                .map(|id| (*id, self.nodes[id].machine.values.as_slice()))
                .collect()
        } else {
            Vec::new()
        };
        let mut found = Vec::new();
        invariants::durability::check_final(self.now_ms, &self.history, &converged, &mut found);
        self.violations.extend(found);
    }

    /// Runs a fault-free benchmark load: `payloads` proposals of `payload_bytes` submitted to the
    /// leader in flushes of `batch_payloads`, until all commit or `deadline_ms` of virtual time.
    /// Returns the number committed.
    pub fn drive_load(&mut self, payloads: usize, payload_bytes: usize, deadline_ms: u64) -> u64 {
        self.phase = Phase::Liveness;
        self.set_faults(FaultPlan::none());
        let committed_before = self.stats.committed;
        let mut submitted = 0usize;
        let start_ms = self.now_ms;
        while self.now_ms - start_ms < deadline_ms {
            self.step_ms();
            let committed = (self.stats.committed - committed_before) as usize;
            if committed >= payloads {
                break;
            }
            let Some(leader) = self.leader() else {
                continue;
            };
            // Keep a bounded window in flight, proposing a batch per millisecond.
            let in_flight = self.outstanding.len();
            let window = 4096usize;
            let room = window
                .saturating_sub(in_flight)
                .min(payloads - submitted)
                .min(512);
            for _ in 0..room {
                self.propose(leader, payload_bytes);
                submitted += 1;
            }
            if room > 0 {
                self.handle(leader, Input::Flush);
            }
        }
        self.stats.committed - committed_before
    }
}

/// Runs one seed with in-memory stores.
pub fn run_seed(config: SimConfig) -> RunReport {
    Cluster::new(config, &mut MemStores).run()
}
