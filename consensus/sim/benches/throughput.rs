//! Throughput of the replica in the simulator with in-memory stores: committed payloads/s and
//! bytes/s (wall clock) for 3 and 5 replicas, 256-byte payloads, batching on.
//!
//! Run: `cargo bench -p pedigree-sim --bench throughput`.

use std::time::Instant;

use pedigree_sim::{Cluster, FaultPlan, MemStores, SimConfig};

const PAYLOADS: usize = 50_000;
const PAYLOAD_BYTES: usize = 256;
const BATCH_PAYLOADS_MAX: usize = 256;

fn main() {
    for voters in [3, 5] {
        let mut config = SimConfig::new(42, voters);
        config.spares = 0;
        config.check_interval_ms = 0;
        config.batch_payloads_max = Some(BATCH_PAYLOADS_MAX);
        let mut cluster = Cluster::new(config, &mut MemStores);
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
            "sim MemLogStore, {voters} replicas: {committed} payloads of {PAYLOAD_BYTES} B in {seconds:.2}s \
             = {:.0} payloads/s, {:.1} MB/s (batch <= {BATCH_PAYLOADS_MAX})",
            committed as f64 / seconds,
            committed as f64 * PAYLOAD_BYTES as f64 / seconds / 1e6,
        );
    }
}
