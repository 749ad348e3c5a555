//! Runs the simulator over many seeds (safety then liveness) and checks determinism.

use pedigree_sim::{SimConfig, run_seed};

fn run_range(seeds: std::ops::Range<u64>, voters: usize) {
    let mut failures = Vec::new();
    for seed in seeds {
        let config = SimConfig::new(seed, voters);
        let reproduce = config.reproduce_command();
        let Ok(report) = std::panic::catch_unwind(|| run_seed(config)) else {
            failures.push(format!("seed {seed}: panicked\n    reproduce: {reproduce}"));
            continue;
        };
        if !report.passed() {
            let lines: Vec<String> = report.violations.iter().map(ToString::to_string).collect();
            failures.push(format!(
                "seed {seed}: {}\n    reproduce: {}",
                lines.join("; "),
                report.config.reproduce_command()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing seeds:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn seeds_three_voters_a() {
    run_range(0..50, 3);
}

#[test]
fn seeds_three_voters_b() {
    run_range(50..100, 3);
}

#[test]
fn seeds_five_voters_a() {
    run_range(1000..1050, 5);
}

#[test]
fn seeds_five_voters_b() {
    run_range(1050..1100, 5);
}

#[test]
fn same_seed_same_trace() {
    for seed in [7, 1234] {
        let first = run_seed(SimConfig::new(seed, 5));
        let second = run_seed(SimConfig::new(seed, 5));
        assert_eq!(
            first.trace_hash, second.trace_hash,
            "seed {seed} is not deterministic"
        );
        assert_eq!(first.events, second.events);
        assert!(first.events > 1000, "the run did something");
    }
    assert_ne!(
        run_seed(SimConfig::new(1, 3)).trace_hash,
        run_seed(SimConfig::new(2, 3)).trace_hash
    );
}
