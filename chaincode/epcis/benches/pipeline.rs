//! Parse + validate + hash throughput for JSON-LD and XML documents of pharma
//! ObjectEvents (1 and 10,000 events). Prints events/s per run, overall and
//! per stage, by wall clock and per CPU-second of the measuring thread (from
//! `CLOCK_THREAD_CPUTIME_ID`, so the figure means something on a shared,
//! oversubscribed machine). The criterion benchmarks ending in `/cpu` time
//! on-CPU time only.
//!
//! `cargo bench -p pedigree-epcis --bench pipeline`

// `criterion_main!` generates an undocumented `main`.
#![allow(missing_docs)]

#[path = "common/mod.rs"]
mod common;

use common::{Binding, pipeline};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pedigree_epcis::hash;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Nanoseconds this thread has spent on a CPU (`CLOCK_THREAD_CPUTIME_ID`);
/// `None` off Linux.
fn thread_cpu_ns() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Some(u64::try_from(t.tv_sec).ok()? * 1_000_000_000 + u64::try_from(t.tv_nsec).ok()?)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Seconds per call of `f`, repeated for at least `budget` (at least once):
/// `(wall clock, on-CPU time of this thread)`; the CPU figure is `None` where
/// the thread's CPU time cannot be read.
fn time_it(budget: Duration, mut f: impl FnMut()) -> (f64, Option<f64>) {
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    let mut rounds = 0u32;
    while rounds == 0 || start.elapsed() < budget {
        f();
        rounds += 1;
    }
    let wall = start.elapsed().as_secs_f64() / f64::from(rounds);
    let cpu = cpu_start
        .zip(thread_cpu_ns())
        .map(|(a, b)| b.saturating_sub(a) as f64 * 1e-9 / f64::from(rounds));
    (wall, cpu)
}

/// Plain events/s figures, wall clock and per CPU-second of this thread: the
/// whole pipeline and each stage.
fn report(binding: Binding, n: usize, text: &str) {
    let budget = Duration::from_millis(1500);
    let doc = binding.parse(text).expect("valid document");
    assert_eq!(pipeline(binding, text), n);
    let parse = time_it(budget, || {
        black_box(binding.parse(black_box(text)).ok());
    });
    let validate = time_it(budget, || {
        black_box(pedigree_epcis::validate::validate(black_box(&doc)));
    });
    let hashing = time_it(budget, || {
        black_box(hash::document_hash_ids(black_box(&doc)));
    });
    let total = time_it(budget, || {
        black_box(pipeline(binding, black_box(text)));
    });
    let rate = |secs: f64| n as f64 / secs;
    let cpu_rate = |t: (f64, Option<f64>)| match t.1 {
        Some(c) if c > 0.0 => format!("{:.0}", rate(c)),
        _ => "n/a".to_string(),
    };
    let name = binding.name();
    println!(
        "pipeline/{name}/{n} wall: {:.0} ObjectEvents/s (parse + validate + hash); stages: parse {:.0}/s, validate {:.0}/s, hash {:.0}/s",
        rate(total.0),
        rate(parse.0),
        rate(validate.0),
        rate(hashing.0)
    );
    println!(
        "pipeline/{name}/{n} cpu:  {} ObjectEvents per CPU-second (parse + validate + hash); stages: parse {}, validate {}, hash {}",
        cpu_rate(total),
        cpu_rate(parse),
        cpu_rate(validate),
        cpu_rate(hashing)
    );
}

/// Runs the pipeline `iters` times, timing this thread's on-CPU time only.
fn cpu_time(iters: u64, binding: Binding, text: &str) -> Duration {
    let start = thread_cpu_ns().unwrap_or(0);
    for _ in 0..iters {
        black_box(pipeline(binding, black_box(text)));
    }
    Duration::from_nanos(thread_cpu_ns().unwrap_or(0).saturating_sub(start))
}

fn bench(c: &mut Criterion) {
    for n in [1usize, 10_000] {
        let json = Binding::Json.document(n);
        let xml = Binding::Xml.document(n);
        let doc = pedigree_epcis::json::parse_document(&json).expect("valid document");
        let mut g = c.benchmark_group("pipeline");
        g.throughput(Throughput::Elements(n as u64));
        if n > 1 {
            g.sample_size(10);
        }
        for (binding, text) in [(Binding::Json, &json), (Binding::Xml, &xml)] {
            report(binding, n, text);
            let name = binding.name();
            g.bench_function(format!("{name}_parse_validate_hash/{n}"), |b| {
                b.iter(|| pipeline(binding, black_box(text)))
            });
            if thread_cpu_ns().is_some() {
                g.bench_function(format!("{name}_parse_validate_hash/{n}/cpu"), |b| {
                    b.iter_custom(|iters| cpu_time(iters, binding, text))
                });
            }
        }
        g.bench_function(format!("hash_only/{n}"), |b| {
            b.iter(|| hash::document_hash_ids(black_box(&doc)))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
