//! Runs the shared `LogStore` conformance suite against `MemLogStore`.

#[test]
fn mem_log_store_conforms() {
    pedigree_consensus::testing::run_all(&mut pedigree_consensus::testing::MemHarness);
}
