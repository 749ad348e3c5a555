//! `pedigree genesis ...`: assembling the genesis document.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use pedigree_client::genesis::{self, DelegationEntry, OrgDescription, PublicParts};
use serde_json::Value;

use super::{CliError, Globals, Outcome, read_input};

/// Genesis commands.
#[derive(Debug, Subcommand)]
pub(crate) enum GenesisCommand {
    /// Merge org descriptions (TOML or JSON: id, name, roles, company_prefixes, glns) with
    /// public key sets (`pedigree-node init --json`, `pedigree keys gen --json`), validate
    /// and print (or write) the genesis document and its network id.
    Assemble(AssembleArgs),
}

/// Output format of the genesis document.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum GenesisFormat {
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

/// Arguments of `pedigree genesis assemble`.
#[derive(Debug, Args)]
pub(crate) struct AssembleArgs {
    /// Org description files (one org per file, or a JSON array of orgs).
    #[arg(long = "org", required = true)]
    orgs: Vec<String>,
    /// Public key files (one object or a JSON array of objects).
    #[arg(long = "public")]
    public: Vec<String>,
    /// A GTIN delegation, `BRAND_OWNER:GTIN:CMO`: the brand owner lets the CMO commission
    /// the GTIN from genesis on (repeatable; part of the network id).
    #[arg(long = "delegate", value_name = "BRAND_OWNER:GTIN:CMO", value_parser = parse_delegation)]
    delegations: Vec<DelegationEntry>,
    /// The network's name.
    #[arg(long, default_value = "pedigree")]
    name: String,
    /// Genesis time, Unix milliseconds (default: now).
    #[arg(long)]
    time_ms: Option<u64>,
    /// Document format.
    #[arg(long, value_enum, default_value = "toml")]
    format: GenesisFormat,
    /// Write the document here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn run(command: GenesisCommand, globals: &Globals) -> Result<Outcome, CliError> {
    let GenesisCommand::Assemble(args) = command;
    let mut orgs: Vec<OrgDescription> = Vec::new();
    for path in &args.orgs {
        let text = read_input(path)?;
        let trimmed = text.trim_start();
        if trimmed.starts_with('[') {
            orgs.extend(parse_json::<Vec<OrgDescription>>(path, &text)?);
        } else if trimmed.starts_with('{') {
            orgs.push(parse_json(path, &text)?);
        } else {
            orgs.push(toml::from_str(&text).map_err(|e| CliError::Input(format!("{path}: {e}")))?);
        }
    }
    let mut public: Vec<PublicParts> = Vec::new();
    for path in &args.public {
        let text = read_input(path)?;
        match parse_json::<Value>(path, &text)? {
            Value::Array(items) => {
                for item in items {
                    public.push(parse_value(path, item)?);
                }
            }
            item => public.push(parse_value(path, item)?),
        }
    }
    let time_ms = args
        .time_ms
        .unwrap_or_else(pedigree_client::clock::unix_millis);
    let document =
        genesis::assemble_with_delegations(&args.name, time_ms, orgs, &public, args.delegations)?;
    let text = match args.format {
        GenesisFormat::Toml => document.toml.clone(),
        GenesisFormat::Json => document.json.clone(),
    };
    let network_id = hex::encode(document.network_id);
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).map_err(|source| CliError::Io {
                path: path.display().to_string(),
                source,
            })?;
            if globals.json {
                let out = serde_json::json!({"path": path, "network_id": network_id, "orgs": document.genesis.orgs.len()});
                return Ok(Outcome::Print(out.to_string()));
            }
            Ok(Outcome::Print(format!(
                "wrote {} ({} orgs)\nnetwork id: {network_id}",
                path.display(),
                document.genesis.orgs.len()
            )))
        }
        None => {
            eprintln!("network id: {network_id}");
            Ok(Outcome::Print(text))
        }
    }
}

/// `--delegate BRAND_OWNER:GTIN:CMO`; the genesis validation checks the parts themselves.
fn parse_delegation(text: &str) -> Result<DelegationEntry, String> {
    match text.split(':').collect::<Vec<_>>().as_slice() {
        [brand_owner, gtin, cmo]
            if !brand_owner.is_empty() && !gtin.is_empty() && !cmo.is_empty() =>
        {
            Ok(DelegationEntry {
                brand_owner: (*brand_owner).to_owned(),
                gtin: (*gtin).to_owned(),
                cmo: (*cmo).to_owned(),
            })
        }
        _ => Err(format!(
            "{text:?}: expected BRAND_OWNER:GTIN:CMO, e.g. mfg:00614141073467:cmo"
        )),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T, CliError> {
    serde_json::from_str(text).map_err(|e| CliError::Input(format!("{path}: {e}")))
}

fn parse_value<T: serde::de::DeserializeOwned>(path: &str, value: Value) -> Result<T, CliError> {
    serde_json::from_value(value).map_err(|e| CliError::Input(format!("{path}: {e}")))
}
