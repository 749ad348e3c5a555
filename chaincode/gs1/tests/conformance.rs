//! Conformance against the public corpora in `shared/conformance`.
//!
//! The corpus folder is `$PEDIGREE_CONFORMANCE`, else
//! `<workspace root>/../shared/conformance`. If it is missing the tests print
//! a skip message and pass, unless `CI=true`, where they fail.
//!
//! Each test prints `<corpus>: N passed, M failed, K excluded` and lists the
//! failures. The corpora and their exclusions (each with its reason) live in
//! `pedigree_gs1::conformance::TSV_CORPORA`, shared with the workspace runner.

use std::path::PathBuf;

use pedigree_gs1::conformance::{TSV_CORPORA, run_tsv_corpus};

fn corpus_root() -> Option<PathBuf> {
    let p = match std::env::var_os("PEDIGREE_CONFORMANCE") {
        Some(v) => PathBuf::from(v),
        None => manifest_dir().join("../../../shared/conformance"),
    };
    p.is_dir().then_some(p)
}

fn run(dir: &str) {
    let Some(root) = corpus_root() else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "{dir}: conformance corpus not found and CI=true");
        println!("{dir}: SKIPPED (corpus folder not found; set PEDIGREE_CONFORMANCE)");
        return;
    };
    let corpus = TSV_CORPORA
        .iter()
        .find(|c| c.dir == dir)
        .unwrap_or_else(|| panic!("no corpus {dir}"));
    let path = root.join(corpus.dir).join(corpus.file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let report = run_tsv_corpus(corpus, &text);
    println!(
        "{dir}: {} passed, {} failed, {} excluded",
        report.passed, report.failed, report.excluded
    );
    for failure in &report.failures {
        println!("  {failure}");
    }
    assert!(
        report.stale_exclusions.is_empty(),
        "{dir}: stale exclusions {:?}",
        report.stale_exclusions
    );
    assert!(
        report.failures.is_empty(),
        "{dir}: {} rows failed",
        report.failed
    );
    assert!(report.passed > 0, "{dir}: no row was checked");
}

#[test]
fn gs1_syntax_engine() {
    run("gs1-syntax-engine");
}

#[test]
fn gs1_syntax_dictionary() {
    run("gs1-syntax-dictionary");
}

#[test]
fn digital_link_js() {
    run("digital-link.js");
}

#[test]
fn gs1_digital_link_toolkit_js() {
    run("GS1DigitalLinkToolkit.js");
}

#[test]
fn openepcis_epc_digitallink_translator() {
    run("openepcis-epc-digitallink-translator");
}

#[test]
fn epcis_event_hash_generator() {
    run("epcis-event-hash-generator");
}

/// The package directory as cargo gives it at run time (right even in a shared target dir).
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
