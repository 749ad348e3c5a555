//! The deterministic simulator over `RocksLogStore`: crashes close the database and restarts
//! reopen it from disk, so every restart recovers only what RocksDB persisted.

use pedigree_consensus::{LogStore, WriteFaults, bootstrap_snapshot};
use pedigree_sim::{Cluster, SimConfig, StoreFactory};
use pedigree_storage::{RocksLogStore, RocksLogStoreOptions};

struct RocksStores {
    directory: tempfile::TempDir,
}

impl StoreFactory<RocksLogStore> for RocksStores {
    fn create(&mut self, id: u64, voters: Option<&[u64]>) -> (RocksLogStore, Option<WriteFaults>) {
        let path = self.directory.path().join(format!("node-{id}"));
        // No fsync: a simulated crash is a process crash, which the WAL in the page cache
        // survives; this keeps the test fast.
        let mut store = RocksLogStore::open(
            path,
            RocksLogStoreOptions {
                sync: false,
                ..RocksLogStoreOptions::default()
            },
        )
        .expect("open store");
        if let Some(voters) = voters {
            store
                .apply_snapshot(bootstrap_snapshot(voters))
                .expect("bootstrap");
        }
        (store, None)
    }
}

fn reopen(store: RocksLogStore) -> RocksLogStore {
    let path = store.path().to_path_buf();
    let options = store.options();
    drop(store);
    RocksLogStore::open(path, options).expect("reopen after a crash")
}

#[test]
fn simulated_cluster_on_rocksdb_survives_crashes() {
    for (seed, voters) in [(11, 3), (12, 5), (13, 3)] {
        let mut config = SimConfig::new(seed, voters);
        config.safety_ms = 1_500;
        let directory = tempfile::tempdir().expect("temporary directory");
        // The factory owns the directory: keep it alive as long as the cluster.
        let mut stores = RocksStores { directory };
        let mut cluster = Cluster::new(config, &mut stores);
        cluster.set_reopen(reopen);
        let report = cluster.run();
        assert!(report.passed(), "seed {seed}: {:?}", report.violations);
        assert!(
            report.stats.crashes > 0 || report.stats.partitions > 0,
            "seed {seed} injected faults"
        );
        assert!(report.stats.committed > 0);
    }
}
