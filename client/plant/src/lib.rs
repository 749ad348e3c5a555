//! `pedigree-plant`: the plant adapter. It turns packaging-line hardware
//! events (printers, vision cameras, reject stations, aggregation stations)
//! into EPCIS 2.0 events, spools them durably, and submits them in batches
//! to the ledger.
//!
//! # Layout
//! - [`line`](mod@line): the transport-neutral line event model, the MQTT topic
//!   scheme and JSON payloads.
//! - [`mqtt`], [`tcp`], [`simulator`]: the three sources (MQTT broker,
//!   camera TCP protocol, deterministic line simulator).
//! - [`mapping`]: line events to EPCIS events; the commissioning batcher.
//! - [`serial`]: randomised, never-repeating serials and SSCCs (keyed
//!   Feistel permutation over a persisted counter).
//! - [`spool`]: the append-only, checksummed spool file.
//! - [`submit`]: the [`submit::Submitter`] contract and the file submitter.
//! - [`http`]: [`http::HttpSubmitter`], submission to a node through the SDK.
//! - [`adapter`]: the core loop tying the above together.
//! - [`counters`]: counters and their Prometheus rendering.
//! - [`config`]: the `plant.toml` file of the binary.
//! - [`time`]: device timestamps.
//!
//! Data flow: source → [`adapter::Inbound`] → dedup → mapping/batching →
//! spool (fsync) → receipt (device acknowledgement) → submitter → done
//! record → compaction. Integrator documentation: `client/plant/README.md`.

pub mod adapter;
pub mod config;
pub mod counters;
pub mod error;
pub mod http;
pub mod line;
pub mod mapping;
pub mod mqtt;
pub mod serial;
pub mod simulator;
pub mod spool;
pub mod submit;
pub mod tcp;
pub mod time;

pub use adapter::{Adapter, AdapterSettings, Inbound, Receipt, StopReason};
pub use counters::{Counters, CountersSnapshot, render_prometheus};
pub use spool::{Spool, SpoolLimits, SpooledEvent};
pub use submit::{EventOutcome, FileSubmitter, Submitter};
