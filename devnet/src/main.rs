//! `pedigree-devnet`: `up`, `status` and `down` of a five-organisation network on 127.0.0.1.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use pedigree_devnet::manifest::Manifest;
use pedigree_devnet::network::{self, UpOptions};

/// A whole Pedigree network on this machine.
#[derive(Debug, Parser)]
#[command(name = "pedigree-devnet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The devnet directory (keys, genesis, node data, logs, devnet.json).
    #[arg(long, global = true, default_value = ".devnet")]
    dir: PathBuf,
    /// Print JSON (`status`) instead of text.
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
    },
    /// Show every node's process and consensus state (exit 1 if any is down or leaderless).
    Status,
    /// Stop every process listed in devnet.json.
    Down,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Up {
            detach,
            bin_dir,
            no_plant,
        } => {
            let options = UpOptions {
                dir: cli.dir.clone(),
                bin_dir,
                no_plant,
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
            let manifest = Manifest::load(&cli.dir)?;
            let states = network::status(&manifest).await;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&states)?);
            } else {
                for s in &states {
                    println!(
                        "{:6} {} running={} leader={} height={} {}",
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
            let mut manifest = Manifest::load(&cli.dir)?;
            let stuck = network::down_manifest(&mut manifest);
            anyhow::ensure!(stuck.is_empty(), "processes would not stop: {stuck:?}");
            println!("devnet in {} stopped", manifest.dir.display());
            Ok(())
        }
    }
}
