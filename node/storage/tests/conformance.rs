//! Runs the shared `LogStore` conformance suite against `RocksLogStore`, reopening the database
//! from its directory to check recovery.

use pedigree_consensus::testing::{StoreHarness, run_all};
use pedigree_storage::{RocksLogStore, RocksLogStoreOptions};

struct RocksHarness {
    directory: tempfile::TempDir,
    stores_created: u32,
    options: RocksLogStoreOptions,
}

impl StoreHarness for RocksHarness {
    type Store = RocksLogStore;

    fn create(&mut self) -> RocksLogStore {
        self.stores_created += 1;
        let path = self
            .directory
            .path()
            .join(format!("store-{}", self.stores_created));
        RocksLogStore::open(path, self.options).expect("open a fresh store")
    }

    fn reopen(&mut self, store: RocksLogStore) -> RocksLogStore {
        let path = store.path().to_path_buf();
        drop(store);
        RocksLogStore::open(path, self.options).expect("reopen the store")
    }
}

#[test]
fn rocks_log_store_conforms_with_sync() {
    let directory = tempfile::tempdir().expect("temporary directory");
    run_all(&mut RocksHarness {
        directory,
        stores_created: 0,
        options: RocksLogStoreOptions::default(),
    });
}

#[test]
fn rocks_log_store_conforms_without_sync() {
    let directory = tempfile::tempdir().expect("temporary directory");
    run_all(&mut RocksHarness {
        directory,
        stores_created: 0,
        options: RocksLogStoreOptions {
            sync: false,
            ..RocksLogStoreOptions::default()
        },
    });
}
