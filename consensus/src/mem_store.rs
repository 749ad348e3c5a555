//! `MemLogStore`: an in-memory [`LogStore`] for tests and the simulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError};

use crate::store::{LogStore, LogWrite};

/// An in-memory [`LogStore`]. "Persisted" means "written into this value": a simulated crash
/// keeps the `MemLogStore` and drops everything else, so it holds exactly what a real store
/// would have made durable.
///
/// For fault injection, [`WriteFaults::fail_next`] (through [`MemLogStore::write_faults`]) makes
/// the next writes fail without changing anything, which models a crash in the middle of
/// persisting a `Ready`: the unpersisted tail is lost and nothing depending on it was sent.
/// `Clone` copies the data but shares the fault-injection handle.
#[derive(Debug, Default, Clone)]
pub struct MemLogStore {
    hard_state: HardState,
    conf_state: ConfState,
    conf_state_index: u64,
    /// The latest snapshot, with data; index 0 when there is none.
    snapshot: Snapshot,
    /// `entries[k]` has index `snapshot index + 1 + k`.
    entries: Vec<Entry>,
    write_faults: WriteFaults,
    writes_total: u64,
}

/// A shared handle that makes a [`MemLogStore`]'s next writes fail (fault injection).
#[derive(Debug, Default, Clone)]
pub struct WriteFaults(Arc<AtomicU32>);

impl WriteFaults {
    /// Makes the next `count` writes fail with `StorageError::Unavailable`, changing nothing.
    pub fn fail_next(&self, count: u32) {
        self.0.store(count, Ordering::SeqCst);
    }

    /// Consumes one pending failure, if any.
    fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |count| {
                count.checked_sub(1)
            })
            .is_ok()
    }
}

impl MemLogStore {
    /// An empty store: no entries, no snapshot, empty configuration (a node that joins later).
    pub fn new() -> Self {
        Self::default()
    }

    /// A store bootstrapped with [`crate::bootstrap_snapshot`] of `voters`; every initial voter
    /// must be bootstrapped with the same list.
    pub fn new_with_voters(voters: &[u64]) -> Self {
        let mut store = Self::new();
        store.install(crate::bootstrap_snapshot(voters));
        store
    }

    /// The fault-injection handle of this store (shared by clones of the handle).
    pub fn write_faults(&self) -> WriteFaults {
        self.write_faults.clone()
    }

    /// Number of successful writes so far (a proxy for fsyncs).
    pub fn writes_total(&self) -> u64 {
        self.writes_total
    }

    /// The stored hard state.
    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    /// The stored entries after the snapshot, in index order.
    pub fn entries_stored(&self) -> &[Entry] {
        &self.entries
    }

    fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    fn first(&self) -> u64 {
        self.snapshot_index() + 1
    }

    fn last(&self) -> u64 {
        self.snapshot_index() + self.entries.len() as u64
    }

    fn install(&mut self, mut snapshot: Snapshot) {
        let metadata = snapshot.get_metadata().clone();
        assert!(metadata.index > 0, "installing an empty snapshot");
        self.entries.clear();
        self.conf_state = metadata.get_conf_state().clone();
        self.conf_state_index = metadata.index;
        self.hard_state.term = self.hard_state.term.max(metadata.term);
        self.hard_state.commit = self.hard_state.commit.max(metadata.index);
        snapshot.set_metadata(metadata);
        self.snapshot = snapshot;
    }

    fn append_entries(&mut self, entries: Vec<Entry>) {
        let Some(head) = entries.first() else { return };
        let first_index = head.index;
        assert!(
            first_index >= self.first(),
            "append {first_index} into compacted log (first {})",
            self.first()
        );
        assert!(
            first_index <= self.last() + 1,
            "append {first_index} leaves a gap after {}",
            self.last()
        );
        for pair in entries.windows(2) {
            assert_eq!(
                pair[0].index + 1,
                pair[1].index,
                "appended entries are not contiguous"
            );
        }
        let keep = (first_index - self.first()) as usize;
        self.entries.truncate(keep);
        self.entries.extend(entries);
        assert_eq!(self.last(), self.entries.last().map_or(0, |e| e.index));
    }
}

impl raft::Storage for MemLogStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        assert!(
            high <= self.last() + 1,
            "entries high {high} beyond last {}",
            self.last()
        );
        if low >= high {
            return Ok(Vec::new());
        }
        let offset = self.first();
        let mut entries = self.entries[(low - offset) as usize..(high - offset) as usize].to_vec();
        raft::util::limit_size(&mut entries, max_size.into());
        Ok(entries)
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        if index == self.snapshot_index() {
            return Ok(self.snapshot.get_metadata().term);
        }
        if index < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if index > self.last() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(index - self.first()) as usize].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let index = self.snapshot_index();
        if index == 0 || index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(self.snapshot.clone())
    }
}

impl LogStore for MemLogStore {
    fn write(&mut self, write: LogWrite) -> raft::Result<()> {
        if self.write_faults.take() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        if let Some(snapshot) = write.snapshot {
            self.install(snapshot);
        }
        self.append_entries(write.entries);
        if let Some(hard_state) = write.hard_state {
            self.hard_state = hard_state;
        }
        if let Some((index, conf_state)) = write.conf_state {
            self.conf_state = conf_state;
            self.conf_state_index = index;
        }
        self.writes_total += 1;
        Ok(())
    }

    fn compact(&mut self, snapshot: Snapshot) -> raft::Result<()> {
        if self.write_faults.take() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let index = snapshot.get_metadata().index;
        if !crate::store::replaces_stored(
            index,
            &snapshot.data,
            self.snapshot_index(),
            &self.snapshot.data,
        ) {
            return Ok(());
        }
        assert!(
            index <= self.last(),
            "compact to {index} beyond last {}",
            self.last()
        );
        let term = raft::Storage::term(self, index)?;
        assert_eq!(
            term,
            snapshot.get_metadata().term,
            "snapshot term differs from log term"
        );
        let drop_count = (index - self.snapshot_index()) as usize;
        self.entries.drain(..drop_count);
        self.snapshot = snapshot;
        self.writes_total += 1;
        assert_eq!(self.first(), index + 1);
        Ok(())
    }

    fn latest_snapshot(&self) -> raft::Result<Snapshot> {
        Ok(self.snapshot.clone())
    }

    fn conf_state_index(&self) -> raft::Result<u64> {
        Ok(self.conf_state_index)
    }
}
