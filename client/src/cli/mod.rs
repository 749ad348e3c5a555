//! The `pedigree` command tree: one module per command group.

mod epcis;
mod gs1;

use clap::{Parser, Subcommand};

/// Pedigree: pharmaceutical traceability on a permissioned ledger.
#[derive(Debug, Parser)]
#[command(name = "pedigree", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// GS1 identifiers, element strings and Digital Link URIs.
    #[command(subcommand)]
    Gs1(gs1::Gs1Command),
    /// EPCIS 2.0 documents: validate, hash, convert.
    #[command(subcommand)]
    Epcis(epcis::EpcisCommand),
}

/// What a successful command hands back to `main`.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Print this on standard output; exit 0.
    Print(String),
    /// The input is invalid: print this report on standard error; exit 2.
    Invalid(String),
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
}

impl CliError {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) => 2,
            CliError::Io { .. } | CliError::Internal(_) => 1,
        }
    }
}

pub(crate) fn run(cli: Cli) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Gs1(command) => gs1::run(command),
        Command::Epcis(command) => epcis::run(command),
    }
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
