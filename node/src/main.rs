//! `pedigree-node`: the Pedigree node binary. `init` prepares a node directory, `run` runs the node.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use pedigree_node::{init, telemetry};

/// mimalloc instead of glibc's malloc: the API, the applier and the network allocate from
/// several threads at once, and glibc's per-arena locks showed up as futex waits and a tenth
/// of the CPU time of a busy node (docs/benchmarks.md). RocksDB's C++ allocations are not
/// affected.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Pedigree node.
#[derive(Debug, Parser)]
#[command(name = "pedigree-node", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a node directory: the libp2p identity key, the organisation signing key and a sample node.toml.
    ///
    /// Prints the public parts (peer id, signing public key, key id) for the genesis document.
    /// Refuses to overwrite any existing file.
    Init {
        /// The node directory to create or fill.
        #[arg(long)]
        dir: PathBuf,
        /// The organisation id; defaults to the directory's name.
        #[arg(long)]
        org: Option<String>,
        /// Print the public parts as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the node: network, replicated ledger and HTTP API, until SIGINT or SIGTERM.
    Run {
        /// The node's configuration file.
        #[arg(long, default_value = "node.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = telemetry::init_tracing(telemetry::LOG_FILTER_DEFAULT)
        .map_err(anyhow::Error::from)
        .and_then(|()| match cli.command {
            Command::Init { dir, org, json } => run_init(&dir, org.as_deref(), json),
            Command::Run { config } => run_node(&config),
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole cause chain on one line; operator errors need no backtrace.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_node(config: &std::path::Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    runtime.block_on(pedigree_node::run::run(config))?;
    Ok(())
}

fn run_init(dir: &std::path::Path, org: Option<&str>, json: bool) -> anyhow::Result<()> {
    let org = init::resolve_org(dir, org)?;
    let report = init::init_node_dir(dir, &org)
        .with_context(|| format!("cannot initialise {}", dir.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("Initialised node directory {}", dir.display());
        println!("  config:       {}", report.config_path.display());
        println!("  node key:     {}", report.node_key_path.display());
        println!("  signing key:  {}", report.signing_key_path.display());
        println!();
        println!("Public parts for the genesis document:");
        println!("{}", report.public);
    }
    Ok(())
}
