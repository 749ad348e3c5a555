//! `pedigree keys ...`: organisation signing keys.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pedigree_client::genesis::PublicParts;
use pedigree_client::signer;

use super::{CliError, Globals, Outcome, to_json};

/// Key commands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate an ed25519 signing key into a new 0600 file (the node's key-file format)
    /// and print its public key and key id for the genesis document.
    Gen(GenArgs),
    /// Print the public key and key id of an existing key file.
    Show(GenArgs),
}

/// Arguments of `pedigree keys gen` and `show`.
#[derive(Debug, Args)]
pub(crate) struct GenArgs {
    /// The key file (never overwritten by `gen`).
    #[arg(long)]
    out: PathBuf,
    /// The organisation the key belongs to (printed with the public parts).
    #[arg(long, default_value = "")]
    org: String,
}

pub(crate) fn run(command: KeysCommand, globals: &Globals) -> Result<Outcome, CliError> {
    let (args, key) = match command {
        KeysCommand::Gen(args) => {
            let key = signer::generate_key();
            let purpose = format!("organisation signing key {}", args.org);
            signer::write_key_file(&args.out, &key, purpose.trim())?;
            (args, key)
        }
        KeysCommand::Show(args) => {
            let key = signer::read_key_file(&args.out)?;
            (args, key)
        }
    };
    let public = key.verifying_key().to_bytes();
    let parts = PublicParts {
        org: args.org.clone(),
        peer_id: None,
        signing_public_key: hex::encode(public),
        signing_key_id: signer::key_id(&public),
    };
    if globals.json {
        return Ok(Outcome::Print(to_json(&parts)?));
    }
    Ok(Outcome::Print(format!(
        "key file:            {}\norganisation:        {}\nsigning public key:  {}\nsigning key id:      {}",
        args.out.display(),
        parts.org,
        parts.signing_public_key,
        parts.signing_key_id
    )))
}
