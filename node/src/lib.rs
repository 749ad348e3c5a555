//! The Pedigree node's foundation layers: configuration, keys, the peer-to-peer network, shutdown and logging.
//!
//! # Layout
//!
//! * [`api`]: the HTTP API (EPCIS 2.0 capture/query, DSCSA verification, audit) over the
//!   [`api::LedgerApi`] boundary.
//! * [`config`]: `node.toml`, parsed and validated into typed values; errors name the key and the problem.
//! * [`keys`]: the libp2p identity key and the organisation's signing key, in `0600` files.
//! * [`ledger`]: the replicated ledger: blocks, RocksDB state, the replica's event loop and
//!   [`ledger::LedgerHandle`].
//! * [`run`]: the `pedigree-node run` command (network, ledger and API under one shutdown).
//! * [`net`]: the libp2p swarm (TCP + Noise + Yamux) gated by membership, carrying raft bytes and
//!   forwarded requests over bounded channels.
//! * [`shutdown`]: mini-redis-style graceful shutdown (broadcast to stop, drop guards to confirm).
//! * [`telemetry`]: the `tracing` subscriber for the binary.
//! * [`init`]: the `pedigree-node init` command's logic (keys plus a commented sample `node.toml`).
//!
//! **Architecture Invariant:** this crate is the only one that opens sockets and files or spawns tasks;
//! consensus hands it opaque bytes and never sees libp2p types other than `PeerId`.

pub mod api;
pub mod config;
pub mod init;
pub mod keys;
pub mod ledger;
pub mod net;
pub mod run;
pub mod shutdown;
pub mod telemetry;
