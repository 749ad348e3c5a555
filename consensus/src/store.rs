//! The `LogStore` contract: raft-rs's read-only `Storage` plus the writes a replica performs.

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};

/// One atomic write: everything a single raft-rs `Ready` asks to persist.
///
/// Fields are applied in this order: `snapshot` (install), `entries` (append), `hard_state`,
/// `conf_state`. Either all of them become durable or none does.
#[derive(Debug, Default, Clone)]
pub struct LogWrite {
    /// A snapshot received from the leader. Installing it discards the whole log, stores the
    /// snapshot (metadata and data), sets the conf state from its metadata (at the snapshot
    /// index), raises the hard state's term to at least the snapshot's term and its commit to at
    /// least the snapshot index.
    pub snapshot: Option<Snapshot>,
    /// Entries to append. The first entry's index must lie in `first_index()..=last_index() + 1`;
    /// every stored entry at or after it is replaced (a conflicting suffix is truncated).
    pub entries: Vec<Entry>,
    /// The new hard state (term, vote, commit).
    pub hard_state: Option<HardState>,
    /// The conf state together with the log index of the entry that produced it.
    pub conf_state: Option<(u64, ConfState)>,
}

impl LogWrite {
    /// Whether the write changes nothing.
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none()
            && self.entries.is_empty()
            && self.hard_state.is_none()
            && self.conf_state.is_none()
    }
}

/// Durable Raft log storage used by [`crate::Replica`].
///
/// The read side is raft-rs's [`raft::Storage`]; the replica performs every write through
/// [`LogStore::write`] and [`LogStore::compact`] while it handles a `Ready`, so an implementation
/// never sees writes from anyone else.
///
/// # Contract
///
/// - **Atomicity:** a [`LogWrite`] becomes durable entirely or not at all, also across a crash.
/// - **Durability:** when `write` or `compact` returns `Ok`, the data survives a process crash
///   (and, if the implementation says so, a machine crash). The replica sends messages that
///   depend on the write only after `Ok`.
/// - **Recovery:** a store reopened after a crash returns exactly the state of the last
///   successful write through every method.
/// - **Errors:** after an `Err`, the write did not happen; the replica that issued it is
///   poisoned and must be rebuilt from the store (raft-rs: "the raft instance will become
///   inoperable").
///
/// The shared conformance suite in [`crate::testing`] (feature `testing`) checks this contract.
///
/// # Panics
///
/// Implementations panic on contract violations by the caller, e.g. appending entries that
/// leave a gap after `last_index()` or that start inside the compacted prefix.
pub trait LogStore: raft::Storage {
    /// Persists `write` atomically (see [`LogWrite`] for the field semantics).
    ///
    /// # Errors
    ///
    /// Returns the I/O error as `raft::Error::Store(StorageError::Other(..))`; nothing was written.
    fn write(&mut self, write: LogWrite) -> raft::Result<()>;

    /// Stores a snapshot created locally by the state machine and discards every entry up to and
    /// including its index, keeping the entries after it. The snapshot's metadata must name an
    /// index in `first_index() - 1..=last_index()` with the term stored for it; a snapshot not
    /// newer than the stored one is ignored, except that a snapshot with data replaces a
    /// [deferred](crate::replica::DEFERRED_SNAPSHOT) one at the same index
    /// ([`replaces_stored`]).
    ///
    /// # Errors
    ///
    /// As for [`LogStore::write`].
    fn compact(&mut self, snapshot: Snapshot) -> raft::Result<()>;

    /// The latest stored snapshot with its data, or an empty snapshot (index 0) if none exists.
    ///
    /// # Errors
    ///
    /// Read failures.
    fn latest_snapshot(&self) -> raft::Result<Snapshot>;

    /// The log index of the entry (or snapshot) that produced the stored conf state; 0 for the
    /// bootstrap configuration.
    ///
    /// # Errors
    ///
    /// Read failures.
    fn conf_state_index(&self) -> raft::Result<u64>;

    /// Appends entries (a [`LogWrite`] with only `entries`).
    ///
    /// # Errors
    ///
    /// As for [`LogStore::write`].
    fn append(&mut self, entries: &[Entry]) -> raft::Result<()> {
        self.write(LogWrite {
            entries: entries.to_vec(),
            ..LogWrite::default()
        })
    }

    /// Sets the hard state (a [`LogWrite`] with only `hard_state`).
    ///
    /// # Errors
    ///
    /// As for [`LogStore::write`].
    fn set_hard_state(&mut self, hard_state: &HardState) -> raft::Result<()> {
        self.write(LogWrite {
            hard_state: Some(hard_state.clone()),
            ..LogWrite::default()
        })
    }

    /// Sets the conf state produced by the entry at `index` (a [`LogWrite`] with only
    /// `conf_state`).
    ///
    /// # Errors
    ///
    /// As for [`LogStore::write`].
    fn set_conf_state(&mut self, index: u64, conf_state: &ConfState) -> raft::Result<()> {
        self.write(LogWrite {
            conf_state: Some((index, conf_state.clone())),
            ..LogWrite::default()
        })
    }

    /// Installs a snapshot received from the leader (a [`LogWrite`] with only `snapshot`).
    ///
    /// # Errors
    ///
    /// As for [`LogStore::write`].
    fn apply_snapshot(&mut self, snapshot: Snapshot) -> raft::Result<()> {
        self.write(LogWrite {
            snapshot: Some(snapshot),
            ..LogWrite::default()
        })
    }
}

/// True if `snapshot` (at `index` with `data`) should replace the stored snapshot at
/// `stored_index` holding `stored_data`: it is newer, or it brings the data of a deferred
/// snapshot at the same index. Both log stores decide with this.
pub fn replaces_stored(index: u64, data: &[u8], stored_index: u64, stored_data: &[u8]) -> bool {
    let deferred = crate::replica::DEFERRED_SNAPSHOT;
    index > stored_index || (index == stored_index && stored_data == deferred && data != deferred)
}
