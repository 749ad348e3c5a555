//! `LedgerDb`: the node's ledger (state, blocks, receipts, applied index, event store) in one
//! RocksDB, one column family per kind of record.
//!
//! This module knows column families and bytes, not block formats: the node's ledger layer
//! (`pedigree-node`, `ledger::store`) decides what the keys and values mean and builds one
//! [`LedgerBatch`] per applied block. Everything in a batch becomes durable together or not at
//! all (one RocksDB `WriteBatch`), so state, block, receipts and applied index never disagree
//! after a crash. Batches the node can redo from its Raft log skip RocksDB's write-ahead log
//! ([`LedgerDb::write_unlogged`]); flushes are atomic across column families, so after a crash
//! the database holds the batches up to some point, and the node re-applies the rest.
//!
//! # Column families
//!
//! | family | key | value (written by the node) |
//! |---|---|---|
//! | `state` | chaincode key (see `pedigree_chaincode::keys`) | chaincode value |
//! | `blocks` | height (8 B, BE) | canonical block |
//! | `tx_index` | tx id (32 B) | (height, index) |
//! | `receipts` | height (8 B, BE) + index (4 B, BE) | canonical receipt |
//! | `meta` | `applied` | the applied index and the head of the chain |
//! | `events` | event sequence number (8 B, BE) | stored EPCIS event |
//! | `event_by_hash` | event hash id (text) | sequence number |
//! | `event_by_epc` | EPC (text) + `0x00` + sequence number | empty |
//! | `event_by_id` | EPCIS `eventID` (text) | sequence number |
//!
//! Reads and writes fail only on I/O errors. [`StateReader`] implements the chaincode's
//! [`StateView`] and, as that trait's contract demands, panics on an I/O error instead of
//! answering partially: a replica whose storage fails must stop.

use std::path::Path;

use pedigree_chaincode::StateView;
use pedigree_chaincode::state::SCAN_ENTRIES_MAX;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType,
    Direction, Env, IteratorMode, Options, ReadOptions, Snapshot, WriteBatch, WriteOptions,
};

use crate::error::{Error, Result};

/// One snapshot chunk: a column family tag and its key-value pairs, in key order.
type SnapshotChunk = (u8, Vec<(Vec<u8>, Vec<u8>)>);

/// Most bytes of entries in one chunk of an export stream ([`LedgerDb::export`]).
pub const EXPORT_CHUNK_BYTES_MAX: usize = 1024 * 1024;

/// Largest export [`LedgerDb::import`] accepts, in bytes.
pub const EXPORT_BYTES_MAX: usize = 1024 * 1024 * 1024;

/// A column family of the ledger database (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cf {
    /// Chaincode state.
    State,
    /// Blocks by height.
    Blocks,
    /// Transaction id → block position.
    TxIndex,
    /// Receipts by block position.
    Receipts,
    /// The applied index and head of chain.
    Meta,
    /// Stored EPCIS events by sequence number.
    Events,
    /// Event hash id → sequence number.
    EventByHash,
    /// EPC + sequence number → empty.
    EventByEpc,
    /// EPCIS `eventID` → sequence number.
    EventById,
    /// Field tag + value + sequence number → empty (bizStep, disposition, bizLocation,
    /// readPoint).
    EventByValue,
}

impl Cf {
    /// Every column family, in export order.
    pub const ALL: [Cf; 10] = [
        Cf::State,
        Cf::Blocks,
        Cf::TxIndex,
        Cf::Receipts,
        Cf::Meta,
        Cf::Events,
        Cf::EventByHash,
        Cf::EventByEpc,
        Cf::EventById,
        Cf::EventByValue,
    ];

    /// The RocksDB column family name.
    pub fn name(self) -> &'static str {
        match self {
            Cf::State => "state",
            Cf::Blocks => "blocks",
            Cf::TxIndex => "tx_index",
            Cf::Receipts => "receipts",
            Cf::Meta => "meta",
            Cf::Events => "events",
            Cf::EventByHash => "event_by_hash",
            Cf::EventByEpc => "event_by_epc",
            Cf::EventById => "event_by_id",
            Cf::EventByValue => "event_by_value",
        }
    }

    fn tag(self) -> u8 {
        // The declaration order is the order of `ALL` (checked by a test).
        self as u8
    }

    fn from_tag(tag: u8) -> Option<Cf> {
        Cf::ALL.get(usize::from(tag)).copied()
    }
}

/// Writes to apply atomically: puts (`Some`) and deletions (`None`), in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerBatch {
    operations: Vec<(Cf, Vec<u8>, Option<Vec<u8>>)>,
}

impl LedgerBatch {
    /// An empty batch.
    pub fn new() -> LedgerBatch {
        LedgerBatch::default()
    }

    /// Stores `value` under `key` in `cf`.
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.operations.push((cf, key, Some(value)));
    }

    /// Deletes `key` from `cf`.
    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.operations.push((cf, key, None));
    }

    /// Number of operations.
    pub fn len(&self) -> u64 {
        self.operations.len() as u64
    }

    /// True if the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}

/// The ledger database (see the module docs).
pub struct LedgerDb {
    db: DB,
    sync: bool,
}

impl std::fmt::Debug for LedgerDb {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LedgerDb")
            .field("path", &self.db.path())
            .field("sync", &self.sync)
            .finish()
    }
}

/// Bytes of the block cache that every column family of one [`LedgerDb`] shares.
pub const BLOCK_CACHE_BYTES: usize = 128 * 1024 * 1024;

/// How a [`LedgerDb`] is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerDbOptions {
    /// Fsync every [`LedgerDb::write`] before it returns (turn off only in tests and tools).
    pub sync: bool,
    /// Bytes of one column family's memtable before RocksDB flushes it to an SST file.
    pub memtable_bytes: usize,
}

impl LedgerDbOptions {
    /// `sync` with RocksDB's default memtable size.
    pub fn new(sync: bool) -> LedgerDbOptions {
        LedgerDbOptions {
            sync,
            memtable_bytes: crate::MEMTABLE_BYTES_DEFAULT,
        }
    }

    /// `sync` with the memtable size of [`crate::staggered_memtable_bytes`] for `replica`.
    pub fn staggered(sync: bool, replica: u64) -> LedgerDbOptions {
        LedgerDbOptions {
            sync,
            memtable_bytes: crate::staggered_memtable_bytes(replica),
        }
    }
}

/// The options of every column family. Nearly every read of the ledger is a point look-up
/// (chaincode state, verification, the uniqueness indexes), many of them for keys that do not
/// exist (a serial's first commissioning, the company-prefix lengths that do not match):
///
/// - LZ4 (the codec this build links): RocksDB's default, Snappy, is not compiled in, which
///   silently meant no compression. Compression changes nothing about durability: it applies
///   to SST files written by flushes and compactions.
/// - A Bloom filter per SST file (10 bits per key, about 1 % false positives) and one per
///   memtable (whole keys), so a look-up for an absent key skips the files and the memtable's
///   skip list instead of searching them. Filters and indexes stay in each table reader's
///   memory (RocksDB's default), not in the block cache: a full filter of a large SST file is
///   bigger than one shard of the cache, would never stay there, and was read from the file and
///   checksummed again on every look-up (that stalled loading 10 million units).
/// - Data blocks share one LRU block cache.
fn family_options(cache: &Cache, memtable_bytes: usize) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    table.set_whole_key_filtering(true);
    let mut family = Options::default();
    family.set_compression_type(DBCompressionType::Lz4);
    family.set_block_based_table_factory(&table);
    family.set_memtable_whole_key_filtering(true);
    family.set_memtable_prefix_bloom_ratio(0.05);
    family.set_write_buffer_size(memtable_bytes);
    // Every flush writes a level-0 file in every family (flushes are atomic across them, see
    // `LedgerDb::write_unlogged`), so level 0 fills faster than RocksDB's defaults (slow writes
    // at 20 files, stop at 36) assume: loading 10 million units, the compactions (at the lowest
    // CPU priority) fell behind and RocksDB slowed every write for seconds (run 13). Reads stay
    // cheap with more level-0 files: each has a Bloom filter.
    family.set_level_zero_slowdown_writes_trigger(48);
    family.set_level_zero_stop_writes_trigger(96);
    family
}

impl LedgerDb {
    /// Opens (creating if missing) the database at `path` with every column family.
    /// With `options.sync` each [`LedgerDb::write`] is fsynced before it returns.
    ///
    /// # Errors
    ///
    /// RocksDB failures.
    pub fn open(path: impl AsRef<Path>, options: LedgerDbOptions) -> Result<LedgerDb> {
        let LedgerDbOptions {
            sync,
            memtable_bytes,
        } = options;
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // Unlogged writes ([`LedgerDb::write_unlogged`]) are durable only once flushed, so every
        // flush covers every column family at one point: after a crash the files hold a prefix
        // of the writes, never the state of one block with the head of an earlier one.
        options.set_atomic_flush(true);
        // Compactions run at the lowest CPU priority (nice 19) of the process-wide default
        // environment: they are background work that may lag for a while, and at normal
        // priority every node's compaction burst stretched commit latency and verification
        // answers. Flushes keep their priority (a late flush stalls writes at once).
        let mut env = Env::new()?;
        env.lower_thread_pool_cpu_priority();
        options.set_env(&env);
        // One flush and three compaction threads (RocksDB's default is one of each): with nine
        // families flushing together, one compaction thread busy with the state family left the
        // small families' level-0 files piling up.
        options.set_max_background_jobs(4);
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let descriptors = Cf::ALL.iter().map(|cf| {
            ColumnFamilyDescriptor::new(cf.name(), family_options(&cache, memtable_bytes))
        });
        let db = DB::open_cf_descriptors(&options, path, descriptors)?;
        Ok(LedgerDb { db, sync })
    }

    fn handle(&self, cf: Cf) -> &ColumnFamily {
        self.db
            .cf_handle(cf.name())
            .expect("every column family is created at open")
    }

    /// The value under `key` in `cf`.
    ///
    /// # Errors
    ///
    /// RocksDB failures.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.handle(cf), key)?)
    }

    /// True if `cf` holds `key` (without copying its value).
    ///
    /// # Errors
    ///
    /// RocksDB failures.
    pub fn contains(&self, cf: Cf, key: &[u8]) -> Result<bool> {
        Ok(self.db.get_pinned_cf(self.handle(cf), key)?.is_some())
    }

    /// Up to `limit` entries of `cf` with `start <= key < end`, ascending.
    ///
    /// # Errors
    ///
    /// RocksDB failures.
    pub fn range(
        &self,
        cf: Cf,
        start: &[u8],
        end: Option<&[u8]>,
        limit: u64,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        range_with(
            &self.db,
            self.handle(cf),
            ReadOptions::default(),
            start,
            end,
            limit,
        )
    }

    /// Flushes every memtable to SST files and compacts every column family fully (for
    /// measuring the size of the data; the node never needs it).
    ///
    /// # Errors
    ///
    /// RocksDB failures.
    pub fn flush_and_compact(&self) -> Result<()> {
        self.persist()?;
        for cf in Cf::ALL {
            self.db
                .compact_range_cf(self.handle(cf), None::<&[u8]>, None::<&[u8]>);
        }
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// The entry of `cf` with the greatest key.
    ///
    /// # Errors
    ///
    /// RocksDB failures.
    pub fn last(&self, cf: Cf) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut iterator = self.db.iterator_cf(self.handle(cf), IteratorMode::End);
        match iterator.next() {
            Some(item) => {
                let (key, value) = item?;
                Ok(Some((key.to_vec(), value.to_vec())))
            }
            None => Ok(None),
        }
    }

    /// Applies `batch` atomically (fsynced if the database was opened with `sync`).
    ///
    /// # Errors
    ///
    /// RocksDB failures; nothing was written. The caller must treat this as fatal.
    pub fn write(&self, batch: LedgerBatch) -> Result<()> {
        let mut options = WriteOptions::default();
        options.set_sync(self.sync);
        self.write_with(batch, &options)
    }

    /// Applies `batch` atomically, without RocksDB's write-ahead log: for writes the caller can
    /// redo from a log of its own (the node's Raft log holds every entry it applies). Readers
    /// see the batch at once; it survives a crash only once its memtables are flushed, and the
    /// database then holds a prefix of the batches (flushes are atomic across column families).
    /// [`LedgerDb::get_persisted`] reads what would survive, [`LedgerDb::persist`] flushes.
    /// The ledger's applied blocks were half of its CPU in RocksDB's write path, a tenth of it
    /// in the log (ledger_apply bench, docs/benchmarks.md).
    ///
    /// # Errors
    ///
    /// RocksDB failures; nothing was written. The caller must treat this as fatal.
    pub fn write_unlogged(&self, batch: LedgerBatch) -> Result<()> {
        let mut options = WriteOptions::default();
        options.disable_wal(true);
        self.write_with(batch, &options)
    }

    /// The value under `key` in `cf` as the files on disk hold it: what a crash now would
    /// leave. Skips the memtables while they hold unlogged writes, so it may be older than
    /// what is durable (never newer).
    ///
    /// # Errors
    ///
    /// RocksDB failures.
    pub fn get_persisted(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut options = ReadOptions::default();
        options.set_read_tier(rocksdb::ReadTier::Persisted);
        Ok(self.db.get_cf_opt(self.handle(cf), key, &options)?)
    }

    /// Flushes every column family's memtables at one point and waits: everything written
    /// before the call, logged or not, is then on disk.
    ///
    /// # Errors
    ///
    /// RocksDB failures.
    pub fn persist(&self) -> Result<()> {
        let handles = Cf::ALL.map(|cf| self.handle(cf));
        let mut options = rocksdb::FlushOptions::default();
        options.set_wait(true);
        self.db.flush_cfs_opt(&handles, &options)?;
        Ok(())
    }

    fn write_with(&self, batch: LedgerBatch, options: &WriteOptions) -> Result<()> {
        // The handles are looked up by name once per write, not once per operation.
        // (`WriteBatch::with_capacity_bytes` would spare the batch's regrowths, but Debian's
        // librocksdb 7.8 lacks `rocksdb_writebatch_create_with_params`.)
        let handles = Cf::ALL.map(|cf| self.handle(cf));
        // In key order within each family: the memtable's skip list remembers where the last
        // insert went, so ascending inserts skip most of the search (a quarter of the applier's
        // time went to skip-list searches for transaction ids, event hashes and EPCs in random
        // order). The sort is stable, so when a batch writes one key twice the later write
        // still gets the later sequence number and wins, exactly as before.
        let mut operations = batch.operations;
        operations.sort_by(|(cf_a, key_a, _), (cf_b, key_b, _)| {
            cf_a.tag().cmp(&cf_b.tag()).then_with(|| key_a.cmp(key_b))
        });
        let mut write_batch = WriteBatch::default();
        for (cf, key, value) in &operations {
            let handle = handles[usize::from(cf.tag())];
            match value {
                Some(value) => write_batch.put_cf(handle, key, value),
                None => write_batch.delete_cf(handle, key),
            }
        }
        drop(operations);
        self.db.write_opt(write_batch, options)?;
        Ok(())
    }

    /// A read-only [`StateView`] of the `state` family as it is now (later writes are visible).
    pub fn state(&self) -> StateReader<'_> {
        StateReader {
            db: self,
            snapshot: None,
        }
    }

    /// A read-only [`StateView`] of the `state` family frozen at this moment.
    pub fn state_snapshot(&self) -> StateReader<'_> {
        StateReader {
            db: self,
            snapshot: Some(self.db.snapshot()),
        }
    }

    /// Every entry of every column family, as a stream of length-prefixed chunks:
    /// `u32_be(len) || bincode((cf_tag: u8, entries: Vec<(key, value)>))`, each chunk at most
    /// about [`EXPORT_CHUNK_BYTES_MAX`] bytes of entries. Read from one RocksDB snapshot, so
    /// the export is consistent.
    ///
    /// # Errors
    ///
    /// RocksDB failures.
    pub fn export(&self) -> Result<Vec<u8>> {
        let snapshot = self.db.snapshot();
        let mut out = Vec::new();
        for cf in Cf::ALL {
            let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut bytes = 0usize;
            for item in snapshot.iterator_cf(self.handle(cf), IteratorMode::Start) {
                let (key, value) = item?;
                bytes += key.len() + value.len();
                entries.push((key.to_vec(), value.to_vec()));
                if bytes >= EXPORT_CHUNK_BYTES_MAX {
                    push_chunk(&mut out, cf, &std::mem::take(&mut entries));
                    bytes = 0;
                }
            }
            if !entries.is_empty() {
                push_chunk(&mut out, cf, &entries);
            }
        }
        Ok(out)
    }

    /// Replaces the whole database with an [`LedgerDb::export`] stream, in one atomic batch.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the stream does not parse (nothing was written); RocksDB failures.
    pub fn import(&self, stream: &[u8]) -> Result<()> {
        if stream.len() > EXPORT_BYTES_MAX {
            return Err(Error::Corrupt(format!(
                "snapshot of {} bytes exceeds {EXPORT_BYTES_MAX}",
                stream.len()
            )));
        }
        // The import is a logged write, and it deletes the keys it sees. A key whose deletion
        // is still only in a memtable (an unlogged write, not yet flushed) is not seen, so a
        // crash would bring it back from the files under the imported state: flush first.
        self.persist()?;
        let mut batch = LedgerBatch::new();
        for cf in Cf::ALL {
            for item in self.db.iterator_cf(self.handle(cf), IteratorMode::Start) {
                let (key, _) = item?;
                batch.delete(cf, key.to_vec());
            }
        }
        let mut rest = stream;
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(Error::Corrupt("truncated snapshot chunk header".into()));
            }
            let length = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            rest = &rest[4..];
            if rest.len() < length {
                return Err(Error::Corrupt("truncated snapshot chunk".into()));
            }
            let (tag, entries): SnapshotChunk = pedigree_chaincode::codec::decode(&rest[..length])
                .ok_or_else(|| Error::Corrupt("undecodable snapshot chunk".into()))?;
            let cf = Cf::from_tag(tag)
                .ok_or_else(|| Error::Corrupt(format!("unknown column family tag {tag}")))?;
            for (key, value) in entries {
                batch.put(cf, key, value);
            }
            rest = &rest[length..];
        }
        self.write(batch)
    }
}

fn push_chunk(out: &mut Vec<u8>, cf: Cf, entries: &[(Vec<u8>, Vec<u8>)]) {
    let chunk = pedigree_chaincode::codec::encode(&(cf.tag(), entries));
    let length = u32::try_from(chunk.len()).expect("a chunk is far below 4 GiB");
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&chunk);
}

fn range_with(
    db: &DB,
    cf: &ColumnFamily,
    options: ReadOptions,
    start: &[u8],
    end: Option<&[u8]>,
    limit: u64,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let limit = limit.min(SCAN_ENTRIES_MAX);
    let mut entries = Vec::new();
    let iterator = db.iterator_cf_opt(cf, options, IteratorMode::From(start, Direction::Forward));
    for item in iterator {
        if entries.len() as u64 >= limit {
            break;
        }
        let (key, value) = item?;
        if end.is_some_and(|end| key.as_ref() >= end) {
            break;
        }
        entries.push((key.to_vec(), value.to_vec()));
    }
    Ok(entries)
}

/// A read-only [`StateView`] over the `state` column family, live or frozen at a snapshot.
///
/// # Panics
///
/// `put` and `delete` panic (the node applies blocks through an overlay and writes the
/// overlay with [`LedgerDb::write`]); reads panic on RocksDB errors (see the module docs).
pub struct StateReader<'a> {
    db: &'a LedgerDb,
    snapshot: Option<Snapshot<'a>>,
}

impl StateReader<'_> {
    fn read_options(&self) -> ReadOptions {
        let mut options = ReadOptions::default();
        if let Some(snapshot) = &self.snapshot {
            options.set_snapshot(snapshot);
        }
        options
    }
}

impl StateView for StateReader<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let result = self
            .db
            .db
            .get_cf_opt(self.db.handle(Cf::State), key, &self.read_options());
        match result {
            Ok(value) => value,
            Err(error) => panic!("state read failed, the replica must stop: {error}"),
        }
    }

    fn put(&mut self, _key: Vec<u8>, _value: Vec<u8>) {
        panic!("StateReader is read-only; write through an overlay and LedgerDb::write");
    }

    fn delete(&mut self, _key: &[u8]) {
        panic!("StateReader is read-only; write through an overlay and LedgerDb::write");
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>, limit: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let result = range_with(
            &self.db.db,
            self.db.handle(Cf::State),
            self.read_options(),
            start,
            end,
            limit,
        );
        match result {
            Ok(entries) => entries,
            Err(error) => panic!("state scan failed, the replica must stop: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_positions_in_all() {
        for (position, cf) in Cf::ALL.iter().enumerate() {
            assert_eq!(usize::from(cf.tag()), position);
            assert_eq!(Cf::from_tag(cf.tag()), Some(*cf));
        }
    }

    #[test]
    fn batch_is_atomic_and_export_round_trips() {
        let directory = tempfile::tempdir().unwrap();
        let db = LedgerDb::open(directory.path().join("a"), LedgerDbOptions::new(false)).unwrap();
        let mut batch = LedgerBatch::new();
        batch.put(Cf::State, b"k1".to_vec(), b"v1".to_vec());
        batch.put(Cf::State, b"k2".to_vec(), b"v2".to_vec());
        batch.put(Cf::Blocks, 1u64.to_be_bytes().to_vec(), b"block".to_vec());
        batch.delete(Cf::State, b"k2".to_vec());
        db.write(batch).unwrap();
        assert_eq!(db.state().get(b"k1"), Some(b"v1".to_vec()));
        assert_eq!(db.state().get(b"k2"), None);
        let frozen = db.state_snapshot();
        let mut later = LedgerBatch::new();
        later.put(Cf::State, b"k3".to_vec(), b"v3".to_vec());
        db.write(later).unwrap();
        assert_eq!(frozen.scan_prefix(b"k", 10).len(), 1);
        assert_eq!(db.state().scan_prefix(b"k", 10).len(), 2);
        assert_eq!(db.state().range(b"k", Some(b"k3"), 10).len(), 1);

        let export = db.export().unwrap();
        let other =
            LedgerDb::open(directory.path().join("b"), LedgerDbOptions::new(false)).unwrap();
        let mut stale = LedgerBatch::new();
        stale.put(Cf::Meta, b"stale".to_vec(), b"x".to_vec());
        other.write(stale).unwrap();
        other.import(&export).unwrap();
        assert_eq!(other.get(Cf::Meta, b"stale").unwrap(), None);
        assert_eq!(other.export().unwrap(), export);
        assert_eq!(
            other.last(Cf::Blocks).unwrap(),
            Some((1u64.to_be_bytes().to_vec(), b"block".to_vec()))
        );
        assert!(other.import(&[0, 0, 0, 9, 1]).is_err());
    }

    /// An import after an unlogged deletion that was not flushed yet: a crash right after it
    /// (the files copied, the memtables lost) leaves exactly the imported snapshot, not the
    /// snapshot plus the key the lost deletion had removed.
    #[test]
    fn an_import_survives_a_crash_as_the_snapshot_after_unlogged_deletes() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("live");
        let db = LedgerDb::open(&path, LedgerDbOptions::new(true)).unwrap();
        let mut batch = LedgerBatch::new();
        batch.put(Cf::State, b"gone".to_vec(), b"on disk".to_vec());
        db.write_unlogged(batch).unwrap();
        db.persist().unwrap();
        let mut batch = LedgerBatch::new();
        batch.delete(Cf::State, b"gone".to_vec());
        db.write_unlogged(batch).unwrap();

        let source =
            LedgerDb::open(directory.path().join("source"), LedgerDbOptions::new(true)).unwrap();
        let mut batch = LedgerBatch::new();
        batch.put(Cf::Blocks, 1u64.to_be_bytes().to_vec(), b"block".to_vec());
        source.write(batch).unwrap();
        let snapshot = source.export().unwrap();
        db.import(&snapshot).unwrap();

        let image = directory.path().join("crashed");
        std::fs::create_dir_all(&image).unwrap();
        for entry in std::fs::read_dir(&path).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), image.join(entry.file_name())).unwrap();
        }
        let crashed = LedgerDb::open(&image, LedgerDbOptions::new(true)).unwrap();
        assert_eq!(crashed.get(Cf::State, b"gone").unwrap(), None);
        assert_eq!(crashed.export().unwrap(), snapshot);
    }

    /// `write` reorders a batch by key; a key written more than once still ends with the
    /// batch's last write to it, whatever the keys in between.
    #[test]
    fn the_last_write_to_a_key_wins_after_reordering() {
        let directory = tempfile::tempdir().unwrap();
        let db = LedgerDb::open(directory.path(), LedgerDbOptions::new(false)).unwrap();
        let mut batch = LedgerBatch::new();
        batch.put(Cf::State, b"b".to_vec(), b"first".to_vec());
        batch.put(Cf::Receipts, b"b".to_vec(), b"receipt".to_vec());
        batch.put(Cf::State, b"a".to_vec(), b"kept".to_vec());
        batch.delete(Cf::State, b"b".to_vec());
        batch.put(Cf::State, b"c".to_vec(), b"old".to_vec());
        batch.put(Cf::State, b"b".to_vec(), b"last".to_vec());
        batch.delete(Cf::State, b"a".to_vec());
        batch.put(Cf::State, b"a".to_vec(), b"again".to_vec());
        batch.put(Cf::State, b"c".to_vec(), b"new".to_vec());
        batch.put(Cf::State, b"d".to_vec(), b"gone".to_vec());
        batch.delete(Cf::State, b"d".to_vec());
        db.write(batch).unwrap();
        let state = db.state();
        assert_eq!(state.get(b"a"), Some(b"again".to_vec()));
        assert_eq!(state.get(b"b"), Some(b"last".to_vec()));
        assert_eq!(state.get(b"c"), Some(b"new".to_vec()));
        assert_eq!(state.get(b"d"), None);
        assert_eq!(
            db.get(Cf::Receipts, b"b").unwrap(),
            Some(b"receipt".to_vec())
        );
    }
}
