//! Apply throughput, single thread, in memory: 100-unit commissioning events, and
//! packing 100 units per case then shipping the cases. Signatures are verified before
//! the timed section (the node verifies before apply). Target ≥ 500,000 units/s.
//!
//! `cargo bench -p pedigree-chaincode --bench apply`
//!
//! Each benchmark is reported twice: `wall` (criterion's default clock) and `cpu`, which
//! times the applying thread's on-CPU time from `/proc/thread-self/schedstat`, so the
//! figure is meaningful on a shared, oversubscribed machine. State setup (a clone of the
//! pre-state) is outside both timings.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pedigree_chaincode::*;
use std::time::Duration;

/// Nanoseconds this thread has spent on a CPU (Linux schedstat); `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Runs `apply` on a fresh clone of `base` per iteration, timing on-CPU time only.
fn cpu_time(iters: u64, base: &MemState, ctx: &BlockCtx, txs: &[VerifiedTx]) -> Duration {
    let mut total_ns = 0u64;
    for _ in 0..iters {
        let mut state = base.clone();
        let start = thread_cpu_ns().unwrap_or(0);
        let outcome = apply_block(&mut state, ctx, txs);
        let end = thread_cpu_ns().unwrap_or(0);
        assert!(
            outcome
                .receipts
                .iter()
                .all(|r| r.outcome == Outcome::Applied)
        );
        total_ns += end.saturating_sub(start);
        drop(state);
    }
    Duration::from_nanos(total_ns)
}

const EVENTS_PER_BLOCK: u64 = 100;
const UNITS_PER_EVENT: u64 = 100;

fn ops_tx(net: &mut Net, org: &str, op: Op) -> VerifiedTx {
    let event_time_ms = net.nonce;
    net.signed(
        org,
        TxBody::Ops(OpsEvent {
            event_time_ms,
            ops: vec![op],
            error_declaration: None,
        }),
    )
}

fn commissioning_txs(net: &mut Net) -> Vec<VerifiedTx> {
    (0..EVENTS_PER_BLOCK)
        .map(|event| {
            let objects = units(event * UNITS_PER_EVENT..(event + 1) * UNITS_PER_EVENT);
            ops_tx(net, "mfg", commission(objects, "BENCH"))
        })
        .collect()
}

fn bench_commission(c: &mut Criterion) {
    let mut net = Net::new();
    let txs = commissioning_txs(&mut net);
    let ctx = net.next_ctx();
    let base = net.state.clone();
    let mut group = c.benchmark_group("apply");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS_PER_BLOCK * UNITS_PER_EVENT));
    if thread_cpu_ns().is_some() {
        group.bench_function("commission_100_units_x100/cpu", |b| {
            b.iter_custom(|iters| cpu_time(iters, &base, &ctx, &txs))
        });
    }
    group.bench_function("commission_100_units_x100/wall", |b| {
        b.iter_batched(
            || base.clone(),
            |mut state| {
                let outcome = apply_block(&mut state, &ctx, &txs);
                assert!(
                    outcome
                        .receipts
                        .iter()
                        .all(|r| r.outcome == Outcome::Applied)
                );
                state
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn bench_pack_ship(c: &mut Criterion) {
    let mut net = Net::new();
    let txs = commissioning_txs(&mut net);
    net.block(&txs);
    let cases: Vec<ObjectKey> = (0..EVENTS_PER_BLOCK).map(case).collect();
    let case_tx = ops_tx(&mut net, "mfg", commission(cases.clone(), "BENCH"));
    net.block(&[case_tx]);
    let mut block = Vec::new();
    for (index, case_key) in cases.iter().enumerate() {
        let index = index as u64;
        let children = units(index * UNITS_PER_EVENT..(index + 1) * UNITS_PER_EVENT);
        block.push(ops_tx(
            &mut net,
            "mfg",
            Op::Pack {
                parent: case_key.clone(),
                children,
            },
        ));
    }
    for case_key in &cases {
        block.push(ops_tx(
            &mut net,
            "mfg",
            ship_to(vec![case_key.clone()], "dist"),
        ));
    }
    let ctx = net.next_ctx();
    let base = net.state.clone();
    let mut group = c.benchmark_group("apply");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS_PER_BLOCK * UNITS_PER_EVENT));
    if thread_cpu_ns().is_some() {
        group.bench_function("pack_then_ship_100_units_x100/cpu", |b| {
            b.iter_custom(|iters| cpu_time(iters, &base, &ctx, &block))
        });
    }
    group.bench_function("pack_then_ship_100_units_x100/wall", |b| {
        b.iter_batched(
            || base.clone(),
            |mut state| {
                let outcome = apply_block(&mut state, &ctx, &block);
                assert!(
                    outcome
                        .receipts
                        .iter()
                        .all(|r| r.outcome == Outcome::Applied)
                );
                state
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_commission, bench_pack_ship);
criterion_main!(benches);
