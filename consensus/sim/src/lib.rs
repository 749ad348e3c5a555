//! Deterministic simulator for Pedigree's Raft replica (TigerBeetle's VOPR and openraft's
//! turmoil fuzzer, in miniature).
//!
//! # Layout
//!
//! - [`cluster`]: N [`pedigree_consensus::Replica`]s, a lossy network and a client on one thread
//!   with a virtual millisecond clock; a safety phase with faults, then a liveness phase.
//! - [`invariants`]: one module per invariant.
//! - [`state_machine`]: the replicated append-only log of `u64`s with a running hash.
//! - [`trace`]: the hashed one-line-per-event trace.
//!
//! # Determinism
//!
//! Every random choice comes from one `ChaCha8Rng` seeded with the run's seed. Closed sources:
//! raft-rs's election timeout (`thread_rng`) gets a one-value range `[e_i, e_i + 1)` per node;
//! every map is a `BTreeMap` (raft-rs's internal maps use the unseeded-but-fixed `FxHasher`);
//! there are no threads, no wall clock and no I/O. The same seed gives the same trace hash.
//!
//! # Fault model (safety phase)
//!
//! Per packet: drop, duplicate, random delay in `[delay_ms_min, delay_ms_max]` (so reordering).
//! Per millisecond: crash a node (it loses everything but its `MemLogStore`, restarts after
//! 20–400 ms and replays from its snapshot), crash in the middle of a write (the write fails,
//! nothing of that `Ready` is persisted or sent), split the nodes into two random sides for
//! 50–1000 ms, request a membership change (add learner, promote, remove, joint replace,
//! leadership transfer). The probabilities themselves are drawn from the seed.

pub mod cluster;
pub mod invariants;
pub mod state_machine;
pub mod trace;

pub use cluster::{
    Cluster, FaultPlan, MemStores, RunReport, SimConfig, Stats, StoreFactory, run_seed,
};
