//! The `pedigree` command tree: one module per command group.

mod epcis;
mod genesis;
mod governance;
mod gs1;
mod keys;
mod ledger;

use clap::{Parser, Subcommand};

/// Pedigree: pharmaceutical traceability on a permissioned ledger.
#[derive(Debug, Parser)]
#[command(name = "pedigree", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The node's API base URL (commands that talk to a node).
    #[arg(
        long,
        global = true,
        env = "PEDIGREE_NODE",
        default_value = "http://127.0.0.1:8080"
    )]
    node: String,
    /// The API bearer token.
    #[arg(long, global = true, env = "PEDIGREE_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// Where the node is and how to authenticate, plus the output format.
#[derive(Debug, Clone)]
pub(crate) struct Globals {
    pub(crate) json: bool,
    pub(crate) node: String,
    pub(crate) token: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// GS1 identifiers, element strings and Digital Link URIs.
    #[command(subcommand)]
    Gs1(gs1::Gs1Command),
    /// EPCIS 2.0 documents: validate, hash, convert.
    #[command(subcommand)]
    Epcis(epcis::EpcisCommand),
    /// Organisation signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Genesis documents.
    #[command(subcommand)]
    Genesis(genesis::GenesisCommand),
    /// Membership changes: propose, approve (offline, one org at a time), show, submit.
    #[command(subcommand)]
    Governance(governance::GovernanceCommand),
    /// Submit EPCIS documents (JSON-LD or XML) to a node; prints accepted/duplicate/rejected.
    Capture(ledger::CaptureArgs),
    /// Verify a pack (DSCSA): scanned data, a Digital Link URI, or --gtin/--lot/--serial.
    Verify(ledger::VerifyArgs),
    /// The history of one pack, case or pallet.
    Trace(ledger::TraceArgs),
    /// Recall or release a lot, or show who holds its units.
    Recall(ledger::RecallArgs),
    /// Reconciliation counters of a lot.
    Reconcile(ledger::LotArgs),
    /// Read a block (default: the latest) or a transaction's receipt and inclusion proof.
    Blocks(ledger::BlocksArgs),
    /// The node's consensus and ledger status.
    Status,
}

/// What a successful command hands back to `main`.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Print this on standard output; exit 0.
    Print(String),
    /// The input is invalid: print this report on standard error; exit 2.
    Invalid(String),
    /// The ledger said no (not verified, events rejected): print this on standard output; exit 3.
    Negative(String),
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The input is invalid (exit status 2).
    #[error("{0}")]
    Input(String),
    /// A file could not be read or written (exit status 1).
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Anything else (exit status 1).
    #[error("internal error: {0}")]
    Internal(String),
    /// The node could not be reached or refused the request (exit status 1).
    #[error("{0}")]
    Node(#[from] pedigree_client::ClientError),
    /// Something else failed; the message says what (exit status 1).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) => 2,
            CliError::Node(pedigree_client::ClientError::Invalid(_)) => 2,
            CliError::Io { .. }
            | CliError::Internal(_)
            | CliError::Node(_)
            | CliError::Failed(_) => 1,
        }
    }
}

pub(crate) fn run(cli: Cli) -> Result<Outcome, CliError> {
    let globals = Globals {
        json: cli.json,
        node: cli.node,
        token: cli.token,
    };
    match cli.command {
        Command::Gs1(command) => gs1::run(command),
        Command::Epcis(command) => epcis::run(command),
        Command::Keys(command) => keys::run(command, &globals),
        Command::Genesis(command) => genesis::run(command, &globals),
        Command::Governance(command) => governance::run(command, &globals),
        Command::Capture(args) => ledger::capture(args, &globals),
        Command::Verify(args) => ledger::verify(args, &globals),
        Command::Trace(args) => ledger::trace(args, &globals),
        Command::Recall(args) => ledger::recall(args, &globals),
        Command::Reconcile(args) => ledger::reconcile(args, &globals),
        Command::Blocks(args) => ledger::blocks(args, &globals),
        Command::Status => ledger::status(&globals),
    }
}

/// Pretty JSON of any serialisable value.
/// The SDK client for the node and token the global options name.
pub(crate) fn client(globals: &Globals) -> Result<pedigree_client::Client, CliError> {
    Ok(pedigree_client::Client::new(
        &globals.node,
        globals.token.as_deref(),
    )?)
}

/// Runs one future to completion on a current-thread runtime (the CLI does one thing at a time).
pub(crate) fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("tokio runtime: {e}")))?;
    Ok(runtime.block_on(future))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError::Internal(e.to_string()))
}

/// Reads a file, or standard input when the path is `-`.
pub(crate) fn read_input(path: &str) -> Result<String, CliError> {
    use std::io::Read;
    let io_error = |source| CliError::Io {
        path: path.to_string(),
        source,
    };
    let mut bytes = Vec::new();
    if path == "-" {
        std::io::stdin().read_to_end(&mut bytes).map_err(io_error)?;
    } else {
        bytes = std::fs::read(path).map_err(io_error)?;
    }
    String::from_utf8(bytes).map_err(|e| {
        CliError::Input(format!(
            "{path}: not UTF-8 text: invalid byte at offset {}",
            e.utf8_error().valid_up_to()
        ))
    })
}
