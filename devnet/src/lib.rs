//! `pedigree-devnet`: a whole Pedigree network on one machine.
//!
//! `up` creates five organisations (manufacturer, CMO, distributor, pharmacy, regulator),
//! their keys (`pedigree-node init`), a genesis document and one `node.toml` each, starts
//! four voting nodes and the regulator's learner node on 127.0.0.1, waits for a leader,
//! starts the plant adapter's simulated line against the manufacturer's node and plays a
//! scenario through the SDK. `devnet.json` in the devnet directory records every process
//! so `status` and `down` work from scripts.
//!
//! # Layout
//! - [`plan`]: the five organisations, their identifiers and the devnet directory layout.
//! - [`manifest`]: the `devnet.json` file.
//! - [`process`]: binaries, free ports, starting and stopping processes.
//! - [`network`]: `up`, `status`, `down`.
//! - [`scenario`]: the supply-chain story played through the SDK.
//! - [`bench`]: `bench`, the throughput, latency, verification and disk benchmark.

pub mod bench;
pub mod manifest;
pub mod network;
pub mod plan;
pub mod process;
pub mod scenario;
