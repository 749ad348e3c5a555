//! `pedigree-devnet`: `up`, `status` and `down` of a five-organisation network on 127.0.0.1.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use pedigree_devnet::bench;
use pedigree_devnet::manifest::Manifest;
use pedigree_devnet::network::{self, UpOptions};

/// A whole Pedigree network on this machine.
#[derive(Debug, Parser)]
#[command(name = "pedigree-devnet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The devnet directory (keys, genesis, node data, logs, devnet.json); default `.devnet`,
    /// or `.devnet-bench` for `bench`.
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// Print JSON (`status`, `bench`) instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create (or reuse) the five orgs, start the nodes and the plant line, play the
    /// scenario, print URLs, tokens and commands; then run until Ctrl-C (or return at
    /// once with --detach, leaving everything running).
    Up {
        /// Return once the network is up; stop it later with `down`.
        #[arg(long)]
        detach: bool,
        /// Where pedigree-node and pedigree-plant are (default: next to this binary).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Do not start the plant adapter.
        #[arg(long)]
        no_plant: bool,
        /// Applied Raft entries between log compactions on every node (node.toml's
        /// `compact_entries`; default: the node's, 10000).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        compact_entries: Option<u64>,
    },
    /// Show every node's process and consensus state (exit 1 if any is down or leaderless).
    Status,
    /// Stop every process listed in devnet.json.
    Down,
    /// Start a fresh devnet in its own directory (wiped first), drive it over the HTTP API
    /// and print signed tx/s, units/s, commit latency at max and half rate, verifications/s
    /// on a node holding --serials units, and disk bytes per unit per node; then stop it.
    Bench {
        /// Units to have on the ledger before the verification phase.
        #[arg(long, default_value_t = 10_000_000)]
        serials: u64,
        /// Seconds per measured phase.
        #[arg(long, default_value_t = 20)]
        secs: u64,
        /// Concurrent requests in the closed-loop (max rate) phases and the load.
        #[arg(long, default_value_t = 16)]
        workers: usize,
        /// One-unit commissioning transactions per request in the tx/s phases.
        #[arg(long, default_value_t = 100)]
        txs_per_request: usize,
        /// 100-unit commissioning events per request in the units/s phases.
        #[arg(long, default_value_t = 10)]
        events_per_request: usize,
        /// Transactions per request in the tx/s half-rate phase (default: --txs-per-request).
        #[arg(long)]
        half_txs_per_request: Option<usize>,
        /// 100-unit events per request in the units/s half-rate phase (default:
        /// --events-per-request).
        #[arg(long)]
        half_events_per_request: Option<usize>,
        /// Each half-rate phase runs until it has started at least this many requests (longer
        /// than --secs if need be), so that its p99 rests on enough samples.
        #[arg(long, default_value_t = 1000)]
        half_requests_min: usize,
        /// Units per commissioning event while loading --serials (divides 10,000).
        #[arg(long, default_value_t = 100)]
        load_units_per_event: usize,
        /// Keep-alive connections of the verification phase.
        #[arg(long, default_value_t = 64)]
        verify_connections: usize,
        /// The org whose node answers verifications.
        #[arg(long, default_value = "pharm")]
        verify_node: String,
        /// Comma-separated orgs whose nodes take the submissions (round robin).
        #[arg(long, default_value = "mfg", value_delimiter = ',')]
        submit_to: Vec<String>,
        /// Capture-job polling interval, milliseconds (only for a job still running after the
        /// `Prefer: wait`).
        #[arg(long, default_value_t = 2)]
        poll_ms: u64,
        /// Leave the node data in place, with the list of committed serials (the nodes are
        /// stopped either way).
        #[arg(long)]
        keep: bool,
        /// Only measure verification, against the devnet already running in --dir: one a
        /// `bench --keep` run left, started again with `up --no-plant`.
        #[arg(long, conflicts_with = "keep")]
        verify_only: bool,
        /// Where pedigree-node is (default: next to this binary).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
    },
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let default_dir = if matches!(cli.command, Command::Bench { .. }) {
        ".devnet-bench"
    } else {
        ".devnet"
    };
    let dir = cli
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_dir));
    match cli.command {
        Command::Up {
            detach,
            bin_dir,
            no_plant,
            compact_entries,
        } => {
            let options = UpOptions {
                dir: dir.clone(),
                bin_dir,
                no_plant,
                compact_entries,
            };
            let mut manifest = network::up(&options).await?;
            println!("{}", network::summary(&manifest));
            println!(
                "devnet.json: {}",
                manifest.dir.join("devnet.json").display()
            );
            if detach {
                println!(
                    "Detached. Stop with: pedigree-devnet --dir {} down",
                    manifest.dir.display()
                );
                return Ok(());
            }
            println!("Running; Ctrl-C stops everything.");
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            let stuck = network::down_manifest(&mut manifest);
            anyhow::ensure!(stuck.is_empty(), "processes would not stop: {stuck:?}");
            println!("stopped");
            Ok(())
        }
        Command::Status => {
            let manifest = Manifest::load(&dir)?;
            let states = network::status(&manifest).await;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&states)?);
            } else {
                for s in &states {
                    println!(
                        "{:6} {} running={} has_leader={} height={} {}",
                        s.org,
                        s.api_url,
                        s.running,
                        s.has_leader.map_or("?".into(), |b| b.to_string()),
                        s.latest_height.map_or("?".into(), |h| h.to_string()),
                        s.error.as_deref().unwrap_or("")
                    );
                }
            }
            let healthy = states
                .iter()
                .all(|s| s.running && s.has_leader == Some(true));
            if !healthy {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Down => {
            let mut manifest = Manifest::load(&dir)?;
            let stuck = network::down_manifest(&mut manifest);
            anyhow::ensure!(stuck.is_empty(), "processes would not stop: {stuck:?}");
            println!("devnet in {} stopped", manifest.dir.display());
            Ok(())
        }
        Command::Bench {
            serials,
            secs,
            workers,
            txs_per_request,
            events_per_request,
            half_txs_per_request,
            half_events_per_request,
            half_requests_min,
            load_units_per_event,
            verify_connections,
            verify_node,
            submit_to,
            poll_ms,
            keep,
            verify_only,
            bin_dir,
        } => {
            let raw: std::collections::BTreeMap<String, String> = std::env::args()
                .enumerate()
                .map(|(i, a)| (format!("{i:02}"), a))
                .collect();
            let options = bench::BenchOptions {
                dir,
                bin_dir,
                serials,
                secs,
                workers,
                txs_per_request,
                events_per_request,
                half_txs_per_request: half_txs_per_request.unwrap_or(txs_per_request),
                half_events_per_request: half_events_per_request.unwrap_or(events_per_request),
                half_requests_min,
                load_units_per_event,
                verify_connections,
                verify_node,
                submit_to,
                poll: std::time::Duration::from_millis(poll_ms.max(1)),
                keep,
                verify_only,
            };
            // Ctrl-C or SIGTERM stops the devnet the benchmark started (not one it only asked).
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .context("installing the SIGTERM handler")?;
            let report = tokio::select! {
                report = bench::run(&options, raw) => report?,
                _ = tokio::signal::ctrl_c() => return stop_bench(&options),
                _ = terminate.recv() => return stop_bench(&options),
            };
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", bench::table(&report));
            }
            Ok(())
        }
    }
}

/// Stops the benchmark's devnet after an interruption.
fn stop_bench(options: &bench::BenchOptions) -> anyhow::Result<()> {
    if options.verify_only {
        anyhow::bail!("interrupted");
    }
    eprintln!("bench: interrupted; stopping the devnet");
    if let Ok(mut manifest) = Manifest::load(&options.dir) {
        let stuck = network::down_manifest(&mut manifest);
        anyhow::ensure!(stuck.is_empty(), "processes would not stop: {stuck:?}");
    }
    anyhow::bail!("interrupted")
}
