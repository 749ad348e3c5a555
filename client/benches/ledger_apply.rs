//! What one node spends applying committed blocks, without the network: a `LedgerStore` on
//! disk (opened as a node opens it, with the memtable size of Raft id 1) takes blocks of
//! client-signed commissioning transactions exactly as the applier does
//! (`LedgerStore::apply_entries`, one Raft entry per write): every signature verified, the
//! chaincode run, the block, receipts, indexes and state written.
//!
//! Prints, per workload, the applying thread's CPU time (`/proc/thread-self/schedstat`) and the
//! wall time per transaction and per unit. This is the per-node cost behind the devnet
//! bench's maximum rates and half-rate latency (docs/benchmarks.md), measured in seconds
//! instead of a devnet run's minutes, so storage and apply changes can be compared quickly.
//!
//! Run: `cargo bench -p pedigree-client --bench ledger_apply [-- [TXS] [--memtable-mib N]]`
//! (TXS one-unit transactions, default 200,000; the units workload applies ten times as many
//! units; `--memtable-mib` overrides the memtable size; `--only tx` or `--only units` runs one
//! workload).

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use pedigree_chaincode::SignedTx;
use pedigree_client::events::Commission;
use pedigree_client::genesis::{GlnEntry, OrgDescription, PublicParts, assemble};
use pedigree_client::{OrgSigner, signer};
use pedigree_node::ledger::store::{BlockProposal, LedgerStore};
use pedigree_storage::state::LedgerDbOptions;

const GTIN: &str = "00614141073467";
const SITE: &str = "0614141000005";
const GENESIS_MS: u64 = 1_767_225_600_000;
/// Transactions per block in both workloads (the devnet bench's request sizes).
const TX_BLOCK: usize = 100;
const UNITS_BLOCK_EVENTS: usize = 10;
const UNITS_PER_EVENT: usize = 100;
const UNITS_PER_LOT: usize = 10_000;

/// Nanoseconds this thread has spent on a CPU (Linux schedstat); `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn signer_and_store(
    dir: &std::path::Path,
    options: LedgerDbOptions,
) -> (OrgSigner, std::sync::Arc<LedgerStore>) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key().to_bytes();
    let org = OrgDescription {
        id: "mfg".into(),
        name: "mfg".into(),
        roles: vec!["manufacturer".into()],
        company_prefixes: vec!["0614141".into()],
        nodes: vec![],
        keys: vec![],
        glns: vec![GlnEntry {
            gln: SITE.into(),
            name: "plant".into(),
        }],
    };
    let parts = PublicParts {
        org: "mfg".into(),
        peer_id: None,
        signing_public_key: hex::encode(public),
        signing_key_id: signer::key_id(&public),
    };
    let document =
        assemble("ledger-apply-bench", GENESIS_MS, vec![org], &[parts]).expect("a valid genesis");
    let store = LedgerStore::open(dir, &document.genesis, options).expect("open the ledger");
    (OrgSigner::new("mfg", key, document.network_id), store)
}

/// `blocks` proposals of `per_block` commissioning events of `units` units each, serials
/// numbered from `first`.
fn proposals(
    signer: &OrgSigner,
    blocks: usize,
    per_block: usize,
    units: usize,
    first: &mut usize,
) -> Vec<Vec<u8>> {
    (0..blocks)
        .map(|_| {
            let txs: Vec<SignedTx> = (0..per_block)
                .map(|_| {
                    let start = *first;
                    *first += units;
                    let event =
                        Commission::new(GTIN, format!("L{}", start / UNITS_PER_LOT), "2028-12-31")
                            .serials((start..start + units).map(|i| format!("S{i}")))
                            .at(SITE)
                            .build()
                            .expect("a valid commissioning event");
                    signer.sign_event(event)
                })
                .collect();
            BlockProposal {
                timestamp_ms: GENESIS_MS + 86_400_000,
                proposer: 1,
                txs,
            }
            .to_bytes()
        })
        .collect()
}

struct Figures {
    cpu: Duration,
    wall: Duration,
}

fn apply(store: &LedgerStore, payloads: &[Vec<u8>]) -> Figures {
    let mut head = store.head().expect("head");
    let cpu_start = thread_cpu_ns();
    let started = Instant::now();
    for payload in payloads {
        let index = head.applied_index + 1;
        let blocks = store
            .apply_entries(&mut head, &[(index, vec![payload.as_slice()])])
            .expect("apply");
        assert!(
            blocks
                .iter()
                .all(|b| b.receipts.iter().all(|r| r.is_accepted())),
            "every transaction is accepted"
        );
    }
    let wall = started.elapsed();
    let cpu = match (cpu_start, thread_cpu_ns()) {
        (Some(start), Some(end)) => Duration::from_nanos(end - start),
        _ => wall,
    };
    Figures { cpu, wall }
}

fn main() {
    let mut txs: usize = 200_000;
    let mut options = LedgerDbOptions::staggered(true, 1);
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--memtable-mib" => {
                let mib: usize = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .expect("--memtable-mib takes a number");
                options.memtable_bytes = mib * 1024 * 1024;
            }
            "--only" => only = args.next(),
            "--bench" => {}
            other => txs = other.parse().expect("TXS is a number"),
        }
    }
    println!(
        "memtable {} MiB per column family, blocks written as a node writes them",
        options.memtable_bytes / (1024 * 1024)
    );
    let blocks = txs.div_ceil(TX_BLOCK);
    let unit_blocks = (txs * 10).div_ceil(UNITS_BLOCK_EVENTS * UNITS_PER_EVENT);
    for (tag, name, blocks, per_block, units) in [
        (
            "tx",
            "one-unit commissioning, 100 per block",
            blocks,
            TX_BLOCK,
            1,
        ),
        (
            "units",
            "100-unit commissioning, 10 per block",
            unit_blocks,
            UNITS_BLOCK_EVENTS,
            UNITS_PER_EVENT,
        ),
    ] {
        if only.as_deref().is_some_and(|only| only != tag) {
            continue;
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (signer, store) = signer_and_store(dir.path(), options);
        let mut first = 0;
        let payloads = proposals(&signer, blocks, per_block, units, &mut first);
        let figures = apply(&store, &payloads);
        let tx_count = (blocks * per_block) as f64;
        let unit_count = tx_count * units as f64;
        println!(
            "{name}: {blocks} blocks, {tx_count} txs, {unit_count} units: \
             CPU {:.2} s = {:.1} µs/tx, {:.2} µs/unit; wall {:.2} s = {:.0} units/s",
            figures.cpu.as_secs_f64(),
            figures.cpu.as_secs_f64() * 1e6 / tx_count,
            figures.cpu.as_secs_f64() * 1e6 / unit_count,
            figures.wall.as_secs_f64(),
            unit_count / figures.wall.as_secs_f64(),
        );
    }
}
