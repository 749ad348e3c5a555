//! RocksDB storage for Pedigree nodes.
//!
//! # Layout
//!
//! - [`log_store`]: [`RocksLogStore`], the durable [`pedigree_consensus::LogStore`] behind a
//!   node's Raft replica.
//! - [`state`]: [`state::LedgerDb`], the ledger (state, blocks, receipts, events).
//! - [`error`]: the crate's [`Error`] and [`Result`].

pub mod error;
pub mod log_store;
pub mod state;

pub use error::{Error, Result};
pub use log_store::{RocksLogStore, RocksLogStoreOptions};

/// Bytes an unprivileged process may still write on the file system that holds `path`.
///
/// # Errors
///
/// `statvfs` failures (for example a missing `path`).
pub fn free_bytes(path: &std::path::Path) -> std::io::Result<u64> {
    let fs = rustix::fs::statvfs(path)?;
    Ok(fs.f_bavail.saturating_mul(fs.f_frsize))
}

/// Bytes of a memtable before RocksDB flushes it, by default (RocksDB's own default).
pub const MEMTABLE_BYTES_DEFAULT: usize = 64 * 1024 * 1024;

/// A memtable size that depends on `replica`: one of eight sizes from 64 to 120 MiB in steps
/// of 8 MiB, for both of a node's databases.
///
/// Every replica writes the same log entries and applies the same blocks, so with equal
/// memtables every replica of a network flushes the same memtable after the same entry. On
/// one machine (the devnet) those five flushes compete for the cores at the same moment and
/// every replica stalls together: the slowest 1–2 % of commits at half rate were exactly those
/// moments (docs/benchmarks.md, runs 11 and 12). With different sizes each replica flushes at
/// its own point, and the points drift further apart with every flush.
pub fn staggered_memtable_bytes(replica: u64) -> usize {
    const STEP: usize = 8 * 1024 * 1024;
    let slot = usize::try_from(replica % 8).expect("below 8");
    MEMTABLE_BYTES_DEFAULT + slot * STEP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_bytes_of_a_folder_and_of_nothing() {
        let directory = tempfile::tempdir().unwrap();
        assert!(free_bytes(directory.path()).unwrap() > 0);
        assert!(free_bytes(&directory.path().join("missing")).is_err());
    }

    #[test]
    fn eight_consecutive_replicas_get_eight_memtable_sizes() {
        for first in [0, 1, 5, u64::MAX - 8] {
            let sizes: std::collections::BTreeSet<usize> =
                (first..first + 8).map(staggered_memtable_bytes).collect();
            assert_eq!(sizes.len(), 8, "replicas {first}..{}", first + 8);
            assert!(sizes.iter().all(|&size| {
                (MEMTABLE_BYTES_DEFAULT..=MEMTABLE_BYTES_DEFAULT * 2).contains(&size)
            }));
        }
    }
}
