//! One pass of parse + validate + hash over a generated document, for
//! instruction-counting profilers (callgrind), which are immune to machine load:
//!
//! ```sh
//! cargo bench -p pedigree-epcis --bench pipeline_once --no-run
//! valgrind --tool=callgrind target/release/deps/pipeline_once-* json 1000
//! ```
//!
//! Arguments: binding (`json` or `xml`, default `json`), number of events
//! (default 1,000), rounds (default 1). The document is the one of the
//! `pipeline` benchmark; building it is outside `pipeline` in the profile.

#![allow(missing_docs)]

#[path = "common/mod.rs"]
mod common;

use common::{Binding, pipeline};
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let binding = match args.next().as_deref() {
        None | Some("json") => Binding::Json,
        Some("xml") => Binding::Xml,
        Some(other) => panic!("unknown binding {other:?} (json or xml)"),
    };
    let n: usize = args
        .next()
        .map_or(1000, |a| a.parse().expect("event count"));
    let rounds: usize = args.next().map_or(1, |a| a.parse().expect("rounds"));
    let text = binding.document(n);
    for _ in 0..rounds {
        assert_eq!(black_box(pipeline(binding, black_box(&text))), n);
    }
    println!("{} {n} events x {rounds}: ok", binding.name());
}
