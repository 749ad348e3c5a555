//! RocksDB storage for Pedigree nodes.
//!
//! # Layout
//!
//! - [`log_store`]: [`RocksLogStore`], the durable [`pedigree_consensus::LogStore`] behind a
//!   node's Raft replica.
//! - [`error`]: the crate's [`Error`] and [`Result`].

pub mod error;
pub mod log_store;
pub mod state;

pub use error::{Error, Result};
pub use log_store::{RocksLogStore, RocksLogStoreOptions};
