//! Parse + validate + hash throughput for JSON-LD documents of pharma
//! ObjectEvents (1 and 10,000 events). Prints events/s per run, overall and
//! per stage.

// `criterion_main!` generates an undocumented `main`.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pedigree_epcis::hash;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A JSON-LD EPCISDocument with `n` commissioning ObjectEvents (10 SGTINs each,
/// readPoint, bizLocation, ILMD lot and expiry).
fn document(n: usize) -> String {
    let mut s = String::with_capacity(n * 1200 + 512);
    s.push_str(
        r#"{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{"cbvmda":"urn:epcglobal:cbv:mda:"}],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2024-03-01T10:00:00Z","epcisBody":{"eventList":["#,
    );
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let secs = i % 60;
        let millis = i % 1000;
        s.push_str(&format!(
            r#"{{"type":"ObjectEvent","eventTime":"2024-03-01T09:30:{secs:02}.{millis:03}+01:00","eventTimeZoneOffset":"+01:00","epcList":["#
        ));
        for k in 0..10 {
            if k > 0 {
                s.push(',');
            }
            s.push_str(&format!(
                r#""urn:epc:id:sgtin:0614141.107346.SN{:07}""#,
                i * 10 + k
            ));
        }
        s.push_str(
            r#"],"action":"ADD","bizStep":"commissioning","disposition":"active","readPoint":{"id":"urn:epc:id:sgln:0614141.00777.0"},"bizLocation":{"id":"urn:epc:id:sgln:0614141.00888.0"},"ilmd":{"cbvmda:lotNumber":"LOT123","cbvmda:itemExpirationDate":"2026-12-31"}}"#,
        );
    }
    s.push_str("]}}");
    s
}

/// Parse, validate and hash every event; returns the number of events.
fn pipeline(text: &str) -> usize {
    let doc = pedigree_epcis::json::parse_document(text).expect("valid document");
    let problems = pedigree_epcis::validate::validate(&doc);
    assert!(problems.is_empty(), "{problems:?}");
    let ids = hash::document_hash_ids(&doc);
    black_box(&ids);
    ids.len()
}

/// Seconds per call of `f`, repeated for at least `budget` (at least once).
fn time_it(budget: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut rounds = 0u32;
    while rounds == 0 || start.elapsed() < budget {
        f();
        rounds += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(rounds)
}

/// Plain events/s figures: the whole pipeline and each stage.
fn report(n: usize, text: &str) {
    let budget = Duration::from_millis(1500);
    let doc = pedigree_epcis::json::parse_document(text).expect("valid document");
    let parse = time_it(budget, || {
        black_box(pedigree_epcis::json::parse_document(black_box(text)).ok());
    });
    let validate = time_it(budget, || {
        black_box(pedigree_epcis::validate::validate(black_box(&doc)));
    });
    let hashing = time_it(budget, || {
        black_box(hash::document_hash_ids(black_box(&doc)));
    });
    let total = time_it(budget, || {
        black_box(pipeline(black_box(text)));
    });
    let rate = |secs: f64| n as f64 / secs;
    println!(
        "pipeline/{n}: {:.0} ObjectEvents/s (parse + validate + hash); stages: parse {:.0}/s, validate {:.0}/s, hash {:.0}/s",
        rate(total),
        rate(parse),
        rate(validate),
        rate(hashing)
    );
}

fn bench(c: &mut Criterion) {
    for n in [1usize, 10_000] {
        let text = document(n);
        report(n, &text);
        let doc = pedigree_epcis::json::parse_document(&text).expect("valid document");
        let mut g = c.benchmark_group("pipeline");
        g.throughput(Throughput::Elements(n as u64));
        if n > 1 {
            g.sample_size(10);
        }
        g.bench_function(format!("json_parse_validate_hash/{n}"), |b| {
            b.iter(|| pipeline(black_box(&text)))
        });
        g.bench_function(format!("hash_only/{n}"), |b| {
            b.iter(|| hash::document_hash_ids(black_box(&doc)))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
