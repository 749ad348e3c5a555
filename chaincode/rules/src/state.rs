//! Ordered key-value state, the per-transaction overlay and the running state hash.
//!
//! The rule book reads and writes state only through [`StateView`]. The node backs it
//! with RocksDB; tests and benchmarks use [`MemState`].

use crate::codec::{DOMAIN_STATE, Digest32};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ops::Bound;

/// Most entries any single range read may return; every scan in the rule book is bounded.
pub const SCAN_ENTRIES_MAX: u64 = 1_000_000;

/// Ordered byte-keyed state, as seen by the rule book.
///
/// # Contract
/// - Keys and values are opaque bytes; keys are ordered lexicographically by bytes.
/// - `get` after `put` (in the same view) returns the value put; after `delete`, `None`.
/// - `range(start, end, limit)` returns at most `limit` entries with
///   `start <= key < end` (no upper bound when `end` is `None`), in ascending key order.
/// - Reads must reflect every earlier write made through the same view, and nothing
///   else: the rule book is deterministic only if the view is.
///
/// # Panics
/// Implementations backed by storage that can fail (RocksDB) must panic on an I/O
/// error rather than return a partial answer: a replica whose storage fails must stop,
/// because continuing would make its verdicts diverge from its peers.
pub trait StateView {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Stores `value` under `key`, replacing any previous value.
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>);
    /// Removes `key` (a no-op if absent).
    fn delete(&mut self, key: &[u8]);
    /// Up to `limit` entries with `start <= key < end`, ascending.
    fn range(&self, start: &[u8], end: Option<&[u8]>, limit: u64) -> Vec<(Vec<u8>, Vec<u8>)>;

    /// Up to `limit` entries whose key starts with `prefix`, ascending.
    fn scan_prefix(&self, prefix: &[u8], limit: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let end = prefix_end(prefix);
        self.range(prefix, end.as_deref(), limit)
    }

    /// True if `key` is present.
    fn contains(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// [`StateView::contains`] for a key the caller will probably write next. Same
    /// answer; views that track writes may remember it (the rule book's undo tracker
    /// does, to spare a look-up).
    fn contains_before_write(&mut self, key: &[u8]) -> bool {
        self.contains(key)
    }

    /// [`StateView::get`] for a key the caller will write if it succeeds. Same answer;
    /// views that track writes may remember it as the key's before-image.
    fn get_before_write(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.get(key)
    }

    /// [`StateView::get_before_write`] that lends the bytes to `read` instead of
    /// returning them (so a view that keeps the before-image need not copy it).
    /// Returns whether the key was present.
    fn read_before_write(&mut self, key: &[u8], read: &mut dyn FnMut(&[u8])) -> bool {
        match self.get_before_write(key) {
            Some(value) => {
                read(&value);
                true
            }
            None => false,
        }
    }
}

/// The smallest key greater than every key starting with `prefix` (`None` if the
/// prefix is all `0xff`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The writes of one block (or one transaction): key → `Some(value)` or `None` (deleted).
/// A `BTreeMap`, so iteration is the canonical sorted order.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// In-memory [`StateView`] for tests, simulation and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemState {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemState {
    /// An empty state.
    pub fn new() -> MemState {
        MemState::default()
    }

    /// Number of keys stored.
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries in key order (for debugging and equality checks).
    pub fn entries(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.entries
    }
}

impl StateView for MemState {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.entries.get(key).cloned()
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.entries.insert(key, value);
    }

    fn delete(&mut self, key: &[u8]) {
        self.entries.remove(key);
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>, limit: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let upper = match end {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        self.entries
            .range::<[u8], _>((Bound::Included(start), upper))
            .take(limit.min(SCAN_ENTRIES_MAX) as usize)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn contains(&self, key: &[u8]) -> bool {
        self.entries.contains_key(key)
    }
}

/// Buffers the writes of one transaction over a read-only base.
///
/// Reads see the buffered writes first. Nothing reaches the base until the caller
/// takes the [`WriteSet`] with [`Overlay::into_writes`] and applies it, which the
/// rule book does only when a transaction is accepted.
pub struct Overlay<'a, S: StateView + ?Sized> {
    base: &'a S,
    writes: WriteSet,
}

impl<'a, S: StateView + ?Sized> Overlay<'a, S> {
    /// An empty overlay over `base`.
    pub fn new(base: &'a S) -> Overlay<'a, S> {
        Overlay {
            base,
            writes: WriteSet::new(),
        }
    }

    /// The value `key` had in the base, ignoring buffered writes.
    pub fn base_get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.base.get(key)
    }

    /// The buffered writes so far.
    pub fn writes(&self) -> &WriteSet {
        &self.writes
    }

    /// Consumes the overlay, returning its writes.
    pub fn into_writes(self) -> WriteSet {
        self.writes
    }
}

impl<S: StateView + ?Sized> StateView for Overlay<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.writes.get(key) {
            Some(value) => value.clone(),
            None => self.base.get(key),
        }
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    fn delete(&mut self, key: &[u8]) {
        self.writes.insert(key.to_vec(), None);
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>, limit: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let upper = match end {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        let buffered: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = self
            .writes
            .range::<[u8], _>((Bound::Included(start), upper))
            .collect();
        if buffered.is_empty() {
            return self.base.range(start, end, limit);
        }
        // Ask the base for enough entries that deletions in the overlay cannot starve us.
        let base_limit = limit.saturating_add(buffered.len() as u64);
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = self
            .base
            .range(start, end, base_limit)
            .into_iter()
            .collect();
        for (key, value) in buffered {
            match value {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        merged
            .into_iter()
            .take(limit.min(SCAN_ENTRIES_MAX) as usize)
            .collect()
    }

    fn contains(&self, key: &[u8]) -> bool {
        match self.writes.get(key) {
            Some(value) => value.is_some(),
            None => self.base.contains(key),
        }
    }
}

/// A read-only view that remembers its base's answers for registry keys
/// ([`crate::keys::is_registry`]: organisations, signing keys, company prefixes, GLNs, ...).
///
/// Every transaction reads about nine of them (its signer's organisation and key, the network
/// id, and one look-up per possible company-prefix length, most of them absent), so a block of
/// a hundred transactions asks storage the same few questions hundreds of times. Put this view
/// between the storage reader and the block's [`Overlay`]: writes, governance included, land in
/// the overlay above it, which answers for them, so the cache only ever holds the base's values.
/// Sound only while the base does not change, which is the case while a block is applied (the
/// base is read-only storage, written after the block).
pub struct ReadCache<'a, S: StateView + ?Sized> {
    base: &'a S,
    cached: std::cell::RefCell<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl<'a, S: StateView + ?Sized> ReadCache<'a, S> {
    /// An empty cache over `base`.
    pub fn new(base: &'a S) -> ReadCache<'a, S> {
        ReadCache {
            base,
            cached: std::cell::RefCell::new(BTreeMap::new()),
        }
    }
}

impl<S: StateView + ?Sized> StateView for ReadCache<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        if !crate::keys::is_registry(key) {
            return self.base.get(key);
        }
        if let Some(value) = self.cached.borrow().get(key) {
            return value.clone();
        }
        let value = self.base.get(key);
        self.cached.borrow_mut().insert(key.to_vec(), value.clone());
        value
    }

    fn put(&mut self, _key: Vec<u8>, _value: Vec<u8>) {
        panic!("ReadCache is read-only; write through an overlay above it");
    }

    fn delete(&mut self, _key: &[u8]) {
        panic!("ReadCache is read-only; write through an overlay above it");
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>, limit: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.base.range(start, end, limit)
    }

    fn contains(&self, key: &[u8]) -> bool {
        if crate::keys::is_registry(key) {
            self.get(key).is_some()
        } else {
            self.base.contains(key)
        }
    }
}

/// Applies a write set to a state.
pub fn apply_writes<S: StateView + ?Sized>(state: &mut S, writes: WriteSet) {
    for (key, value) in writes {
        match value {
            Some(value) => state.put(key, value),
            None => state.delete(&key),
        }
    }
}

/// Passes every call through to `inner` and streams each write into the running
/// state hash:
///
/// `state_hash' = sha256("pedigree/state/v1\0" || previous || u64_be(height) || w_1 || w_2 || …)`
///
/// where `w_i` is the i-th write of the block, in application order, encoded as
/// `0x00 || u64_be(key.len) || key` for a deletion and
/// `0x01 || u64_be(key.len) || key || u64_be(value.len) || value` for a put.
/// Application order is deterministic: [`crate::begin_block`]'s writes first, then each
/// transaction's write set in ascending key order (transactions buffer their writes in
/// a sorted [`Overlay`] and flush it only when accepted). The hash therefore changes
/// with every block and commits to the exact sequence of state changes.
/// `meta/state_hash` itself is written outside this view and never hashed.
pub struct HashingView<'a, S: StateView + ?Sized> {
    inner: &'a mut S,
    hasher: Sha256,
    writes_count: u64,
}

impl<'a, S: StateView + ?Sized> HashingView<'a, S> {
    /// Starts the hash of the block at `height` chained to `previous`.
    pub fn new(inner: &'a mut S, previous: &Digest32, height: u64) -> HashingView<'a, S> {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN_STATE);
        hasher.update(previous);
        hasher.update(height.to_be_bytes());
        HashingView {
            inner,
            hasher,
            writes_count: 0,
        }
    }

    /// Number of writes hashed so far.
    pub fn writes_count(&self) -> u64 {
        self.writes_count
    }

    /// The new state hash.
    pub fn finish(self) -> Digest32 {
        self.hasher.finalize().into()
    }
}

impl<S: StateView + ?Sized> StateView for HashingView<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(key)
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.hasher.update([1u8]);
        self.hasher.update((key.len() as u64).to_be_bytes());
        self.hasher.update(&key);
        self.hasher.update((value.len() as u64).to_be_bytes());
        self.hasher.update(&value);
        self.writes_count += 1;
        self.inner.put(key, value);
    }

    fn delete(&mut self, key: &[u8]) {
        self.hasher.update([0u8]);
        self.hasher.update((key.len() as u64).to_be_bytes());
        self.hasher.update(key);
        self.writes_count += 1;
        self.inner.delete(key);
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>, limit: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.inner.range(start, end, limit)
    }

    fn contains(&self, key: &[u8]) -> bool {
        self.inner.contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    #[test]
    fn overlay_range_merges_buffered_writes_and_deletions() {
        let mut base = MemState::new();
        for key in [b"a1", b"a2", b"a3", b"b1"] {
            base.put(key.to_vec(), b"base".to_vec());
        }
        let mut overlay = Overlay::new(&base);
        overlay.delete(b"a2");
        overlay.put(b"a4".to_vec(), b"new".to_vec());
        let keys: Vec<Vec<u8>> = overlay
            .scan_prefix(b"a", 10)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, vec![b"a1".to_vec(), b"a3".to_vec(), b"a4".to_vec()]);
        assert_eq!(overlay.scan_prefix(b"a", 2).len(), 2);
        assert!(!overlay.contains(b"a2"));
        assert!(base.contains(b"a2"));
    }

    /// A base that counts the reads that reach it.
    struct Counting {
        state: MemState,
        reads: std::cell::Cell<u64>,
    }

    impl StateView for Counting {
        fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
            self.reads.set(self.reads.get() + 1);
            self.state.get(key)
        }
        fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
            self.state.put(key, value);
        }
        fn delete(&mut self, key: &[u8]) {
            self.state.delete(key);
        }
        fn range(&self, start: &[u8], end: Option<&[u8]>, limit: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
            self.state.range(start, end, limit)
        }
    }

    #[test]
    fn read_cache_asks_the_base_once_per_registry_key_and_never_hides_writes_above_it() {
        let mut base = Counting {
            state: MemState::new(),
            reads: std::cell::Cell::new(0),
        };
        base.put(b"org/mfg".to_vec(), b"v1".to_vec());
        base.put(b"obj/S1".to_vec(), b"unit".to_vec());
        let cache = ReadCache::new(&base);
        // Registry keys, present and absent: one base read each, however often asked.
        for _ in 0..3 {
            assert_eq!(cache.get(b"org/mfg"), Some(b"v1".to_vec()));
            assert!(!cache.contains(b"prefix/061414"));
            assert_eq!(cache.get(keys::META_NETWORK_ID), None);
        }
        assert_eq!(base.reads.get(), 3);
        // Other keys go to the base every time.
        for _ in 0..3 {
            assert_eq!(cache.get(b"obj/S1"), Some(b"unit".to_vec()));
        }
        assert_eq!(base.reads.get(), 6);
        // A governance write in the overlay above wins over the cached value.
        let mut overlay = Overlay::new(&cache);
        overlay.put(b"org/mfg".to_vec(), b"v2".to_vec());
        overlay.put(b"prefix/061414".to_vec(), b"mfg".to_vec());
        assert_eq!(overlay.get(b"org/mfg"), Some(b"v2".to_vec()));
        assert!(overlay.contains(b"prefix/061414"));
        assert_eq!(cache.get(b"org/mfg"), Some(b"v1".to_vec()));
        assert_eq!(
            cache.scan_prefix(b"org/", 10),
            vec![(b"org/mfg".to_vec(), b"v1".to_vec())]
        );
    }

    #[test]
    fn state_hash_depends_on_every_write() {
        let hash = |writes: &[(&[u8], Option<&[u8]>)]| {
            let mut state = MemState::new();
            let mut view = HashingView::new(&mut state, &[0; 32], 1);
            for (key, value) in writes {
                match value {
                    Some(value) => view.put(key.to_vec(), value.to_vec()),
                    None => view.delete(key),
                }
            }
            view.finish()
        };
        let empty = hash(&[]);
        let one = hash(&[(b"k", Some(b"v"))]);
        let deleted = hash(&[(b"k", None)]);
        let other_value = hash(&[(b"k", Some(b"w"))]);
        assert_ne!(empty, one);
        assert_ne!(one, deleted);
        assert_ne!(one, other_value);
        assert_ne!(empty, deleted);
    }

    #[test]
    fn prefix_end_handles_ff() {
        assert_eq!(prefix_end(b"a"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_end(&[0xff]), None);
    }
}
