//! The shared `LogStore` conformance suite (feature `testing`), run by every store
//! implementation's tests, like openraft's `Suite::test_all`.
//!
//! ```text
//! pedigree_consensus::testing::run_all(&mut MyHarness::new());
//! ```

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, Storage, StorageError};

use crate::replica::{DEFERRED_SNAPSHOT, bootstrap_snapshot};
use crate::store::{LogStore, LogWrite};

/// Creates and reopens stores for the suite.
pub trait StoreHarness {
    /// The store under test.
    type Store: LogStore;
    /// A fresh, empty store (a new directory for on-disk stores).
    fn create(&mut self) -> Self::Store;
    /// Closes `store` as a crash would and opens it again from what it persisted.
    fn reopen(&mut self, store: Self::Store) -> Self::Store;
}

/// Runs every conformance case; panics on the first violation.
pub fn run_all<H: StoreHarness>(harness: &mut H) {
    empty_store(harness);
    bootstrap(harness);
    append_and_read(harness);
    append_truncates_conflicting_suffix(harness);
    hard_state_and_conf_state(harness);
    write_is_combined(harness);
    compact_keeps_suffix(harness);
    deferred_snapshot_is_replaced_by_data(harness);
    install_snapshot_replaces_log(harness);
    reopen_recovers_everything(harness);
}

/// Everything observable through the trait, for equality checks.
#[derive(Debug, PartialEq)]
struct Dump {
    hard_state: HardState,
    conf_state: ConfState,
    conf_state_index: u64,
    first_index: u64,
    last_index: u64,
    entries: Vec<Entry>,
    snapshot: Snapshot,
}

fn dump<S: LogStore>(store: &S) -> Dump {
    let state = store.initial_state().unwrap();
    let first_index = store.first_index().unwrap();
    let last_index = store.last_index().unwrap();
    Dump {
        hard_state: state.hard_state,
        conf_state: state.conf_state,
        conf_state_index: store.conf_state_index().unwrap(),
        first_index,
        last_index,
        entries: store
            .entries(
                first_index,
                last_index + 1,
                None,
                GetEntriesContext::empty(false),
            )
            .unwrap(),
        snapshot: store.latest_snapshot().unwrap(),
    }
}

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: format!("entry {index}/{term}").into_bytes(),
        ..Entry::default()
    }
}

fn entries(indexes: std::ops::RangeInclusive<u64>, term: u64) -> Vec<Entry> {
    indexes.map(|index| entry(index, term)).collect()
}

fn bootstrapped<H: StoreHarness>(harness: &mut H) -> H::Store {
    let mut store = harness.create();
    store
        .apply_snapshot(bootstrap_snapshot(&[1, 2, 3]))
        .unwrap();
    store
}

fn context() -> GetEntriesContext {
    GetEntriesContext::empty(false)
}

fn is_store_error(result: raft::Result<impl std::fmt::Debug>, expected: StorageError) -> bool {
    matches!(result, Err(raft::Error::Store(error)) if error == expected)
}

fn empty_store<H: StoreHarness>(harness: &mut H) {
    let store = harness.create();
    let state = store.initial_state().unwrap();
    assert_eq!(state.hard_state, HardState::default());
    assert_eq!(state.conf_state, ConfState::default());
    assert_eq!(store.first_index().unwrap(), 1);
    assert_eq!(store.last_index().unwrap(), 0);
    assert_eq!(store.term(0).unwrap(), 0);
    assert_eq!(store.conf_state_index().unwrap(), 0);
    assert_eq!(store.latest_snapshot().unwrap().get_metadata().index, 0);
    assert!(is_store_error(
        store.snapshot(0, 2),
        StorageError::SnapshotTemporarilyUnavailable
    ));
    assert!(store.entries(1, 1, None, context()).unwrap().is_empty());
}

fn bootstrap<H: StoreHarness>(harness: &mut H) {
    let store = bootstrapped(harness);
    let state = store.initial_state().unwrap();
    assert_eq!(state.conf_state.voters, vec![1, 2, 3]);
    assert_eq!((state.hard_state.term, state.hard_state.commit), (1, 1));
    assert_eq!(store.first_index().unwrap(), 2);
    assert_eq!(store.last_index().unwrap(), 1);
    assert_eq!(store.term(1).unwrap(), 1);
    assert_eq!(store.conf_state_index().unwrap(), 1);
    assert_eq!(store.snapshot(0, 4).unwrap().get_metadata().index, 1);
}

fn append_and_read<H: StoreHarness>(harness: &mut H) {
    let mut store = bootstrapped(harness);
    store.append(&entries(2..=6, 1)).unwrap();
    assert_eq!(
        (store.first_index().unwrap(), store.last_index().unwrap()),
        (2, 6)
    );
    assert_eq!(
        store.entries(2, 7, None, context()).unwrap(),
        entries(2..=6, 1)
    );
    assert_eq!(
        store.entries(3, 5, None, context()).unwrap(),
        entries(3..=4, 1)
    );
    // A size limit still returns at least one entry.
    assert_eq!(store.entries(2, 7, 1, context()).unwrap().len(), 1);
    let one_size = prost::Message::encoded_len(&entry(2, 1)) as u64;
    assert_eq!(
        store.entries(2, 7, one_size * 2, context()).unwrap().len(),
        2
    );
    assert_eq!(store.term(4).unwrap(), 1);
    assert!(is_store_error(
        store.entries(1, 3, None, context()),
        StorageError::Compacted
    ));
    assert!(is_store_error(store.term(0), StorageError::Compacted));
    assert!(is_store_error(store.term(7), StorageError::Unavailable));
}

fn append_truncates_conflicting_suffix<H: StoreHarness>(harness: &mut H) {
    let mut store = bootstrapped(harness);
    store.append(&entries(2..=6, 1)).unwrap();
    store.append(&entries(4..=5, 2)).unwrap();
    assert_eq!(store.last_index().unwrap(), 5);
    assert_eq!(store.term(3).unwrap(), 1);
    assert_eq!(store.term(4).unwrap(), 2);
    assert!(is_store_error(store.term(6), StorageError::Unavailable));
    let mut expected = entries(2..=3, 1);
    expected.extend(entries(4..=5, 2));
    assert_eq!(store.entries(2, 6, None, context()).unwrap(), expected);
    // Appending right after the end extends the log.
    store.append(&entries(6..=6, 2)).unwrap();
    assert_eq!(store.last_index().unwrap(), 6);
}

fn hard_state_and_conf_state<H: StoreHarness>(harness: &mut H) {
    let mut store = bootstrapped(harness);
    let hard_state = HardState {
        term: 5,
        vote: 2,
        commit: 1,
    };
    store.set_hard_state(&hard_state).unwrap();
    assert_eq!(store.initial_state().unwrap().hard_state, hard_state);
    let conf_state = ConfState {
        voters: vec![1, 2],
        learners: vec![4],
        ..ConfState::default()
    };
    store.append(&entries(2..=3, 5)).unwrap();
    store.set_conf_state(3, &conf_state).unwrap();
    assert_eq!(store.initial_state().unwrap().conf_state, conf_state);
    assert_eq!(store.conf_state_index().unwrap(), 3);
}

fn write_is_combined<H: StoreHarness>(harness: &mut H) {
    let mut store = bootstrapped(harness);
    let hard_state = HardState {
        term: 2,
        vote: 1,
        commit: 3,
    };
    let conf_state = ConfState {
        voters: vec![1, 2, 3, 4],
        ..ConfState::default()
    };
    store
        .write(LogWrite {
            snapshot: None,
            entries: entries(2..=4, 2),
            hard_state: Some(hard_state.clone()),
            conf_state: Some((3, conf_state.clone())),
        })
        .unwrap();
    let after = dump(&store);
    assert_eq!(after.hard_state, hard_state);
    assert_eq!(after.conf_state, conf_state);
    assert_eq!(after.entries, entries(2..=4, 2));
    // An empty write changes nothing.
    store.write(LogWrite::default()).unwrap();
    assert_eq!(dump(&store), after);
}

fn snapshot_at(index: u64, term: u64, voters: Vec<u64>, data: &[u8]) -> Snapshot {
    let conf_state = ConfState {
        voters,
        ..ConfState::default()
    };
    Snapshot {
        data: data.to_vec(),
        metadata: Some(SnapshotMetadata {
            conf_state: Some(conf_state),
            index,
            term,
        }),
    }
}

fn compact_keeps_suffix<H: StoreHarness>(harness: &mut H) {
    let mut store = bootstrapped(harness);
    store.append(&entries(2..=8, 3)).unwrap();
    let snapshot = snapshot_at(5, 3, vec![1, 2, 3], b"state at 5");
    store.compact(snapshot.clone()).unwrap();
    assert_eq!(
        (store.first_index().unwrap(), store.last_index().unwrap()),
        (6, 8)
    );
    assert_eq!(store.term(5).unwrap(), 3);
    assert!(is_store_error(
        store.entries(5, 7, None, context()),
        StorageError::Compacted
    ));
    assert_eq!(
        store.entries(6, 9, None, context()).unwrap(),
        entries(6..=8, 3)
    );
    assert_eq!(store.latest_snapshot().unwrap(), snapshot);
    assert_eq!(store.snapshot(5, 2).unwrap(), snapshot);
    assert!(is_store_error(
        store.snapshot(6, 2),
        StorageError::SnapshotTemporarilyUnavailable
    ));
    // An older snapshot is ignored.
    store
        .compact(snapshot_at(4, 3, vec![1, 2, 3], b"old"))
        .unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), snapshot);
    assert_eq!(store.first_index().unwrap(), 6);
    // Compacting everything leaves an empty log after the snapshot.
    store
        .compact(snapshot_at(8, 3, vec![1, 2, 3], b"state at 8"))
        .unwrap();
    assert_eq!(
        (store.first_index().unwrap(), store.last_index().unwrap()),
        (9, 8)
    );
    store.append(&entries(9..=9, 4)).unwrap();
    assert_eq!(store.term(9).unwrap(), 4);
}

/// A deferred snapshot compacts like any other; a snapshot with data at the same index replaces
/// it (and survives a reopen), while a deferred one never replaces data at the same index.
fn deferred_snapshot_is_replaced_by_data<H: StoreHarness>(harness: &mut H) {
    let mut store = bootstrapped(harness);
    store.append(&entries(2..=8, 3)).unwrap();
    let deferred = snapshot_at(5, 3, vec![1, 2, 3], DEFERRED_SNAPSHOT);
    store.compact(deferred.clone()).unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), deferred);
    assert_eq!(store.first_index().unwrap(), 6);
    let real = snapshot_at(5, 3, vec![1, 2, 3], b"state at 5");
    store.compact(real.clone()).unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), real);
    assert_eq!(
        (store.first_index().unwrap(), store.last_index().unwrap()),
        (6, 8)
    );
    store.compact(deferred).unwrap();
    assert_eq!(
        store.latest_snapshot().unwrap(),
        real,
        "data is never dropped"
    );
    let store = harness.reopen(store);
    assert_eq!(store.latest_snapshot().unwrap(), real);
    assert_eq!(
        store.entries(6, 9, None, context()).unwrap(),
        entries(6..=8, 3)
    );
}

fn install_snapshot_replaces_log<H: StoreHarness>(harness: &mut H) {
    let mut store = bootstrapped(harness);
    store.append(&entries(2..=12, 2)).unwrap();
    store
        .set_hard_state(&HardState {
            term: 2,
            vote: 1,
            commit: 4,
        })
        .unwrap();
    let snapshot = snapshot_at(10, 3, vec![1, 2, 5], b"leader state");
    store.apply_snapshot(snapshot.clone()).unwrap();
    let after = dump(&store);
    assert_eq!((after.first_index, after.last_index), (11, 10));
    assert!(after.entries.is_empty());
    assert_eq!(after.conf_state.voters, vec![1, 2, 5]);
    assert_eq!(after.conf_state_index, 10);
    assert_eq!((after.hard_state.term, after.hard_state.commit), (3, 10));
    assert_eq!(after.snapshot, snapshot);
    assert_eq!(store.term(10).unwrap(), 3);
    store.append(&entries(11..=11, 3)).unwrap();
    assert_eq!(store.last_index().unwrap(), 11);
}

fn reopen_recovers_everything<H: StoreHarness>(harness: &mut H) {
    let mut store = bootstrapped(harness);
    store.append(&entries(2..=20, 2)).unwrap();
    store.append(&entries(15..=18, 3)).unwrap();
    store
        .write(LogWrite {
            snapshot: None,
            entries: entries(19..=19, 3),
            hard_state: Some(HardState {
                term: 3,
                vote: 2,
                commit: 17,
            }),
            conf_state: Some((
                16,
                ConfState {
                    voters: vec![1, 2, 3],
                    learners: vec![7],
                    ..ConfState::default()
                },
            )),
        })
        .unwrap();
    store
        .compact(snapshot_at(12, 2, vec![1, 2, 3], b"twelve"))
        .unwrap();
    let before = dump(&store);
    let store = harness.reopen(store);
    assert_eq!(dump(&store), before);
    assert_eq!(store.term(12).unwrap(), 2);
    // An installed snapshot also survives a reopen.
    let mut store = store;
    store
        .apply_snapshot(snapshot_at(30, 4, vec![1, 2], b"thirty"))
        .unwrap();
    let before = dump(&store);
    let store = harness.reopen(store);
    assert_eq!(dump(&store), before);
}

/// The harness for [`crate::MemLogStore`]; reopening keeps the value, as a crash in the
/// simulator does.
#[derive(Debug, Default)]
pub struct MemHarness;

impl StoreHarness for MemHarness {
    type Store = crate::MemLogStore;

    fn create(&mut self) -> Self::Store {
        crate::MemLogStore::new()
    }

    fn reopen(&mut self, store: Self::Store) -> Self::Store {
        store
    }
}
