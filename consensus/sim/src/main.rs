//! `pedigree-sim`: runs seeds of the deterministic simulator and prints a summary.

use clap::Parser;
use pedigree_sim::{SimConfig, run_seed};

/// Deterministic Raft cluster simulator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Arguments {
    /// Number of seeds to run (starting at --seed).
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// First seed (alone, with --seeds 1 implied when --trace is given).
    #[arg(long)]
    seed: Option<u64>,
    /// Initial voters.
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    /// Spare nodes for membership changes.
    #[arg(long, default_value_t = 2)]
    spares: usize,
    /// Virtual milliseconds of the fault phase.
    #[arg(long, default_value_t = 3_000)]
    safety_ms: u64,
    /// Print the event trace (one line per event).
    #[arg(long)]
    trace: bool,
}

fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let first = arguments.seed.unwrap_or(0);
    let count = if arguments.trace && arguments.seed.is_some() {
        1
    } else {
        arguments.seeds
    };
    let started = std::time::Instant::now();
    let mut failed = Vec::new();
    let (mut committed, mut crashes, mut partitions, mut snapshots, mut memberships, mut events) =
        (0, 0, 0, 0, 0, 0);
    for seed in first..first + count {
        let mut config = SimConfig::new(seed, arguments.replicas);
        config.spares = arguments.spares;
        config.safety_ms = arguments.safety_ms;
        config.trace_echo = arguments.trace;
        let reproduce = config.reproduce_command();
        let Ok(report) = std::panic::catch_unwind(|| run_seed(config)) else {
            eprintln!("seed {seed} FAILED: panicked (message above)\n  reproduce: {reproduce}");
            failed.push(seed);
            continue;
        };
        committed += report.stats.committed;
        crashes += report.stats.crashes;
        partitions += report.stats.partitions;
        snapshots += report.stats.snapshots_installed;
        memberships += report.stats.membership_changes;
        events += report.events;
        if !report.passed() {
            eprintln!("seed {seed} FAILED (trace {:#018x}):", report.trace_hash);
            for violation in &report.violations {
                eprintln!("  {violation}");
            }
            eprintln!("  reproduce: {}", report.config.reproduce_command());
            failed.push(seed);
        }
    }
    println!(
        "pedigree-sim: {count} seeds from {first}, {} voters + {} spares: {} passed, {} failed; \
         {committed} proposals committed, {crashes} crashes, {partitions} partitions, \
         {snapshots} snapshot restores, {memberships} membership changes, {events} events, {:.1}s",
        arguments.replicas,
        arguments.spares,
        count - failed.len() as u64,
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        anyhow::bail!("failing seeds: {failed:?}");
    }
    Ok(())
}
