//! Throughput over `RocksLogStore` with fsync on (`sync: true`): every replica of a simulated
//! cluster (one thread, no faults) persists each `Ready` in one synced RocksDB batch.
//! Prints committed payloads/s and bytes/s for 3 and 5 replicas, 256-byte payloads, batching on.
//!
//! Run: `cargo bench -p pedigree-storage --bench throughput`.

use std::time::Instant;

use pedigree_consensus::{LogStore, WriteFaults, bootstrap_snapshot};
use pedigree_sim::{Cluster, FaultPlan, SimConfig, StoreFactory};
use pedigree_storage::{RocksLogStore, RocksLogStoreOptions};

const PAYLOADS: usize = 20_000;
const PAYLOAD_BYTES: usize = 256;
const BATCH_PAYLOADS_MAX: usize = 256;

struct RocksStores {
    directory: tempfile::TempDir,
}

impl StoreFactory<RocksLogStore> for RocksStores {
    fn create(&mut self, id: u64, voters: Option<&[u64]>) -> (RocksLogStore, Option<WriteFaults>) {
        let path = self.directory.path().join(format!("node-{id}"));
        let mut store =
            RocksLogStore::open(path, RocksLogStoreOptions::default()).expect("open store");
        if let Some(voters) = voters {
            store
                .apply_snapshot(bootstrap_snapshot(voters))
                .expect("bootstrap");
        }
        (store, None)
    }
}

fn main() {
    for voters in [3, 5] {
        let directory = tempfile::tempdir().expect("temporary directory");
        let mut config = SimConfig::new(42, voters);
        config.spares = 0;
        config.check_interval_ms = 0;
        config.batch_payloads_max = Some(BATCH_PAYLOADS_MAX);
        // The factory owns the directory: keep it alive as long as the cluster.
        let mut stores = RocksStores { directory };
        let mut cluster = Cluster::new(config, &mut stores);
        cluster.set_faults(FaultPlan::none());
        while cluster.leader().is_none() {
            cluster.step_ms();
        }
        let started = Instant::now();
        let committed = cluster.drive_load(PAYLOADS, PAYLOAD_BYTES, 600_000);
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            cluster.violations().is_empty(),
            "{:?}",
            cluster.violations()
        );
        println!(
            "RocksLogStore sync=true, {voters} replicas on one thread: {committed} payloads of {PAYLOAD_BYTES} B \
             in {seconds:.2}s = {:.0} payloads/s, {:.2} MB/s (batch <= {BATCH_PAYLOADS_MAX})",
            committed as f64 / seconds,
            committed as f64 * PAYLOAD_BYTES as f64 / seconds / 1e6,
        );
    }
}
