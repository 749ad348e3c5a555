//! `RocksLogStore`: the Raft log, hard state, conf state and latest snapshot in one RocksDB.
//!
//! # Layout of the keys (default column family)
//!
//! | key                   | value                                        |
//! |-----------------------|----------------------------------------------|
//! | `e` + index (8 B, BE) | prost `Entry`                                 |
//! | `m/hard_state`        | prost `HardState`                             |
//! | `m/conf_state`        | prost `ConfState`                             |
//! | `m/conf_index`        | index that produced the conf state (8 B, BE) |
//! | `m/snapshot`          | prost `Snapshot` (metadata and data)          |
//!
//! Big-endian indexes make RocksDB's byte order the log order.
//!
//! # Durability
//!
//! Every [`LogStore::write`] and [`LogStore::compact`] is ONE RocksDB `WriteBatch`, so entries,
//! hard state, conf state and snapshot change together or not at all, also across a crash
//! (RocksDB's WAL applies a batch atomically on recovery). With
//! [`RocksLogStoreOptions::sync`] `true` (the default) each batch is fsynced before the call
//! returns, so it survives power loss; Raft's safety depends on this, because the replica
//! sends votes and acknowledgements right after the call. `sync: false` only survives a
//! process crash (the WAL sits in the OS page cache) and is for tests and benchmarks.
//!
//! The store keeps the hard state, conf state, snapshot metadata, first/last index and the
//! terms of the log (as runs: the first index of each term) in memory, loaded and checked at
//! open, and updated only after a batch succeeds. `term` is asked on every append and
//! acknowledgement, and an entry can be a 192 KiB block: reading it from the runs instead of
//! decoding the entry matters (debug builds check every answer against the entry).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pedigree_consensus::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use pedigree_consensus::{LogStore, LogWrite};
use prost::Message as _;
use raft::{GetEntriesContext, RaftState, StorageError};
use rocksdb::{DB, Direction, IteratorMode, Options, ReadOptions, WriteBatch, WriteOptions};

use crate::error::{Error, Result};

const KEY_HARD_STATE: &[u8] = b"m/hard_state";
const KEY_CONF_STATE: &[u8] = b"m/conf_state";
const KEY_CONF_INDEX: &[u8] = b"m/conf_index";
const KEY_SNAPSHOT: &[u8] = b"m/snapshot";
const ENTRY_PREFIX: u8 = b'e';

fn entry_key(index: u64) -> [u8; 9] {
    let mut key = [ENTRY_PREFIX; 9];
    key[1..].copy_from_slice(&index.to_be_bytes());
    key
}

fn entry_index(key: &[u8]) -> Result<u64> {
    if key.len() != 9 || key[0] != ENTRY_PREFIX {
        return Err(Error::Corrupt(format!(
            "unexpected key {key:?} among entries"
        )));
    }
    Ok(u64::from_be_bytes(key[1..].try_into().expect("8 bytes")))
}

/// Extends the runs with the entry at `index` (appended after every index already in them).
fn record_term(runs: &mut BTreeMap<u64, u64>, index: u64, term: u64) {
    if runs.last_key_value().map(|(_, &last)| last) != Some(term) {
        runs.insert(index, term);
    }
}

fn decode<M: prost::Message + Default>(bytes: &[u8], what: &str) -> Result<M> {
    M::decode(bytes).map_err(|error| Error::Corrupt(format!("{what}: {error}")))
}

/// Options of a [`RocksLogStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RocksLogStoreOptions {
    /// Fsync every write before returning (default `true`; see the module docs).
    pub sync: bool,
    /// Bytes of the memtable before RocksDB flushes it (see
    /// [`crate::staggered_memtable_bytes`]).
    pub memtable_bytes: usize,
}

impl Default for RocksLogStoreOptions {
    fn default() -> Self {
        Self {
            sync: true,
            memtable_bytes: crate::MEMTABLE_BYTES_DEFAULT,
        }
    }
}

/// A [`LogStore`] in RocksDB (see the module docs for keys and durability).
pub struct RocksLogStore {
    db: DB,
    path: PathBuf,
    options: RocksLogStoreOptions,
    hard_state: HardState,
    conf_state: ConfState,
    conf_state_index: u64,
    snapshot_metadata: SnapshotMetadata,
    /// Last index in the log (the snapshot index when the log is empty).
    last_index: u64,
    /// The log's terms as runs: first index of a run → its term. Covers `first()..=last_index`
    /// (the run holding `first()` may start before it).
    term_runs: BTreeMap<u64, u64>,
}

impl std::fmt::Debug for RocksLogStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RocksLogStore")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("hard_state", &self.hard_state)
            .field("last_index", &self.last_index)
            .finish_non_exhaustive()
    }
}

impl RocksLogStore {
    /// Opens (creating if missing) the store at `path` and checks the log is contiguous.
    ///
    /// # Errors
    ///
    /// RocksDB failures, or [`Error::Corrupt`] for undecodable or gapped data.
    pub fn open(path: impl AsRef<Path>, options: RocksLogStoreOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut db_options = Options::default();
        db_options.create_if_missing(true);
        db_options.set_write_buffer_size(options.memtable_bytes);
        let db = DB::open(&db_options, &path)?;
        let hard_state = match db.get(KEY_HARD_STATE)? {
            Some(bytes) => decode(&bytes, "hard state")?,
            None => HardState::default(),
        };
        let conf_state = match db.get(KEY_CONF_STATE)? {
            Some(bytes) => decode(&bytes, "conf state")?,
            None => ConfState::default(),
        };
        let conf_state_index = match db.get(KEY_CONF_INDEX)? {
            Some(bytes) => u64::from_be_bytes(
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::Corrupt("conf index length".into()))?,
            ),
            None => 0,
        };
        let snapshot_metadata = match db.get(KEY_SNAPSHOT)? {
            Some(bytes) => decode::<Snapshot>(&bytes, "snapshot")?
                .get_metadata()
                .clone(),
            None => SnapshotMetadata::default(),
        };
        let mut store = Self {
            db,
            path,
            options,
            hard_state,
            conf_state,
            conf_state_index,
            snapshot_metadata,
            last_index: 0,
            term_runs: BTreeMap::new(),
        };
        store.last_index = store.check_entries()?;
        assert!(store.last_index >= store.snapshot_metadata.index);
        Ok(store)
    }

    /// Flushes the memtable to SST files and compacts the whole log fully (for measuring the
    /// size of the data; the node never needs it).
    ///
    /// # Errors
    ///
    /// RocksDB failures.
    pub fn flush_and_compact(&self) -> Result<()> {
        self.db.flush()?;
        self.db.compact_range(None::<&[u8]>, None::<&[u8]>);
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options it was opened with.
    pub fn options(&self) -> RocksLogStoreOptions {
        self.options
    }

    /// Walks the entry keys: they must run contiguously from the snapshot index + 1. Returns the
    /// last index. (Pair assertion with the writes, which only ever produce such a log.)
    fn check_entries(&mut self) -> Result<u64> {
        let mut expected = self.snapshot_metadata.index + 1;
        let start = entry_key(0);
        for item in self
            .db
            .iterator(IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = item?;
            if key.first() != Some(&ENTRY_PREFIX) {
                break;
            }
            let index = entry_index(&key)?;
            if index != expected {
                return Err(Error::Corrupt(format!(
                    "entry {index} where {expected} was expected"
                )));
            }
            let entry: Entry = decode(&value, "entry")?;
            if entry.index != index {
                return Err(Error::Corrupt(format!(
                    "entry under key {index} has index {}",
                    entry.index
                )));
            }
            record_term(&mut self.term_runs, entry.index, entry.term);
            expected += 1;
        }
        Ok(expected - 1)
    }

    fn first(&self) -> u64 {
        self.snapshot_metadata.index + 1
    }

    fn write_options(&self) -> WriteOptions {
        let mut write_options = WriteOptions::default();
        write_options.set_sync(self.options.sync);
        write_options
    }

    /// The term of an entry inside the log (`first()..=last_index`), from the runs.
    fn term_in_log(&self, index: u64) -> u64 {
        let (_, &term) = self
            .term_runs
            .range(..=index)
            .next_back()
            .expect("the term runs cover the log");
        term
    }

    #[cfg(debug_assertions)]
    fn get_entry(&self, index: u64) -> raft::Result<Entry> {
        match self.db.get(entry_key(index)).map_err(Error::from)? {
            Some(bytes) => Ok(decode(&bytes, "entry")?),
            None => Err(Error::Corrupt(format!("entry {index} missing inside the log")).into()),
        }
    }
}

impl raft::Storage for RocksLogStore {
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
            high <= self.last_index + 1,
            "entries high {high} beyond last {}",
            self.last_index
        );
        let max_size = max_size.into().unwrap_or(u64::MAX);
        let mut entries = Vec::with_capacity(high.saturating_sub(low).min(1024) as usize);
        if low >= high {
            return Ok(entries);
        }
        let mut read_options = ReadOptions::default();
        read_options.set_iterate_upper_bound(entry_key(high).to_vec());
        let start = entry_key(low);
        let mut size: u64 = 0;
        for item in self
            .db
            .iterator_opt(IteratorMode::From(&start, Direction::Forward), read_options)
        {
            let (key, value) = item.map_err(Error::from)?;
            let index = entry_index(&key)?;
            assert_eq!(index, low + entries.len() as u64, "gap in the stored log");
            size += value.len() as u64;
            // Like raft-rs's `limit_size`: always at least one entry.
            if !entries.is_empty() && size > max_size {
                break;
            }
            entries.push(decode::<Entry>(&value, "entry")?);
        }
        if size <= max_size {
            assert_eq!(
                entries.len() as u64,
                high - low,
                "stored log shorter than its last index"
            );
        }
        Ok(entries)
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        if index == self.snapshot_metadata.index {
            return Ok(self.snapshot_metadata.term);
        }
        if index < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if index > self.last_index {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let term = self.term_in_log(index);
        // Pair assertion: the runs agree with the stored entry.
        #[cfg(debug_assertions)]
        assert_eq!(
            term,
            self.get_entry(index)?.term,
            "term run of entry {index}"
        );
        Ok(term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index)
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let index = self.snapshot_metadata.index;
        if index == 0 || index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        self.latest_snapshot()
    }
}

impl LogStore for RocksLogStore {
    fn write(&mut self, write: LogWrite) -> raft::Result<()> {
        let mut batch = WriteBatch::default();
        let mut hard_state = self.hard_state.clone();
        let mut conf_state = None;
        let mut snapshot_metadata = None;
        let mut first = self.first();
        let mut last_index = self.last_index;
        if let Some(snapshot) = &write.snapshot {
            let metadata = snapshot.get_metadata().clone();
            assert!(metadata.index > 0, "installing an empty snapshot");
            batch.delete_range(entry_key(0), entry_key(u64::MAX));
            batch.put(KEY_SNAPSHOT, snapshot.encode_to_vec());
            hard_state.term = hard_state.term.max(metadata.term);
            hard_state.commit = hard_state.commit.max(metadata.index);
            conf_state = Some((metadata.index, metadata.get_conf_state().clone()));
            first = metadata.index + 1;
            last_index = metadata.index;
            snapshot_metadata = Some(metadata);
        }
        if let Some(head) = write.entries.first() {
            let start = head.index;
            assert!(
                start >= first,
                "append {start} into compacted log (first {first})"
            );
            assert!(
                start <= last_index + 1,
                "append {start} leaves a gap after {last_index}"
            );
            // Truncate the conflicting suffix, then write the new entries. A plain append
            // (nothing stored at or after `start`) deletes nothing: no range tombstone, which
            // every later read of the memtable would otherwise have to fragment and check.
            if start <= last_index {
                batch.delete_range(entry_key(start), entry_key(u64::MAX));
            }
            for (offset, entry) in write.entries.iter().enumerate() {
                assert_eq!(
                    entry.index,
                    start + offset as u64,
                    "appended entries are not contiguous"
                );
                batch.put(entry_key(entry.index), entry.encode_to_vec());
            }
            last_index = start + write.entries.len() as u64 - 1;
        }
        if let Some(new_hard_state) = &write.hard_state {
            hard_state = new_hard_state.clone();
        }
        if let Some(pair) = write.conf_state {
            conf_state = Some(pair);
        }
        if hard_state != self.hard_state {
            batch.put(KEY_HARD_STATE, hard_state.encode_to_vec());
        }
        if let Some((index, state)) = &conf_state {
            batch.put(KEY_CONF_STATE, state.encode_to_vec());
            batch.put(KEY_CONF_INDEX, index.to_be_bytes());
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.db
            .write_opt(batch, &self.write_options())
            .map_err(Error::from)?;
        // The batch is durable: only now does the in-memory view follow it.
        self.hard_state = hard_state;
        if let Some((index, state)) = conf_state {
            self.conf_state = state;
            self.conf_state_index = index;
        }
        if let Some(metadata) = snapshot_metadata {
            self.snapshot_metadata = metadata;
            self.term_runs.clear();
        }
        if let Some(head) = write.entries.first() {
            self.term_runs.split_off(&head.index);
            for entry in &write.entries {
                record_term(&mut self.term_runs, entry.index, entry.term);
            }
        }
        self.last_index = last_index;
        Ok(())
    }

    fn compact(&mut self, snapshot: Snapshot) -> raft::Result<()> {
        let metadata = snapshot.get_metadata().clone();
        if metadata.index < self.snapshot_metadata.index {
            return Ok(());
        }
        if metadata.index == self.snapshot_metadata.index {
            // Only the data of a deferred snapshot is ever replaced at the same index.
            let stored = self.latest_snapshot()?;
            if !pedigree_consensus::replaces_stored(
                metadata.index,
                &snapshot.data,
                metadata.index,
                &stored.data,
            ) {
                return Ok(());
            }
        }
        assert!(
            metadata.index <= self.last_index,
            "compact to {} beyond last {}",
            metadata.index,
            self.last_index
        );
        let term = raft::Storage::term(self, metadata.index)?;
        assert_eq!(term, metadata.term, "snapshot term differs from the log's");
        let mut batch = WriteBatch::default();
        batch.put(KEY_SNAPSHOT, snapshot.encode_to_vec());
        batch.delete_range(entry_key(0), entry_key(metadata.index + 1));
        self.db
            .write_opt(batch, &self.write_options())
            .map_err(Error::from)?;
        self.snapshot_metadata = metadata;
        // Runs wholly before the log go; the one holding `first()` stays.
        let first = self.first();
        if let Some((&start, _)) = self.term_runs.range(..=first).next_back() {
            self.term_runs = self.term_runs.split_off(&start);
        }
        assert!(self.first() <= self.last_index + 1);
        Ok(())
    }

    fn latest_snapshot(&self) -> raft::Result<Snapshot> {
        match self.db.get(KEY_SNAPSHOT).map_err(Error::from)? {
            Some(bytes) => {
                let snapshot: Snapshot = decode(&bytes, "snapshot")?;
                assert_eq!(
                    snapshot.get_metadata(),
                    &self.snapshot_metadata,
                    "snapshot differs from its cache"
                );
                Ok(snapshot)
            }
            None => Ok(Snapshot::default()),
        }
    }

    fn conf_state_index(&self) -> raft::Result<u64> {
        Ok(self.conf_state_index)
    }
}
