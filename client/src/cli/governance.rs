//! `pedigree governance ...`: membership changes approved by a quorum of organisations.
//!
//! `propose` writes a proposal document (see `pedigree_client::governance`), `approve`
//! adds one org's approval to it (offline), `show` summarises it for reviewers and
//! `submit` sends it to a node as a governance transaction signed by the submitting org.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use pedigree_chaincode::{Digest32, Genesis, GovAction, Role};
use pedigree_client::genesis::{OrgDescription, PublicParts};
use pedigree_client::governance::{
    self, Approver, GovernanceError, NewOrg, Proposal, QuorumReport,
};
use pedigree_client::{Client, OrgSigner, TxResult, TxStatus, signer};
use serde_json::{Value, json};

use super::{CliError, Globals, Outcome, block_on, client, read_input, to_json};

impl From<GovernanceError> for CliError {
    fn from(error: GovernanceError) -> CliError {
        match error {
            GovernanceError::Client(error) => CliError::Node(error),
            error if error.is_invalid_input() => CliError::Input(error.to_string()),
            error => CliError::Failed(error.to_string()),
        }
    }
}

/// Governance commands.
#[derive(Debug, Subcommand)]
pub(crate) enum GovernanceCommand {
    /// Write a proposal document for one membership change (no approvals yet).
    Propose(ProposeArgs),
    /// Add your organisation's approval to a proposal (offline; in place or to --out).
    Approve(ApproveArgs),
    /// Summarise a proposal: the change, who approved, and (with --genesis) the quorum.
    Show(ShowArgs),
    /// Submit a proposal to a node, signed by your organisation (which counts as
    /// approving); prints the receipt.
    Submit(SubmitArgs),
}

/// Where the network id comes from: `--network-id`, `--genesis`, or the node's status.
#[derive(Debug, Args)]
pub(crate) struct NetworkArgs {
    /// The network id (64 hex digits).
    #[arg(long, global = true, env = "PEDIGREE_NETWORK_ID")]
    network_id: Option<String>,
    /// The genesis document (TOML or JSON) to take the network id from (with --network-id
    /// too, both must agree).
    #[arg(long, global = true)]
    genesis: Option<PathBuf>,
}

/// Arguments of `pedigree governance propose`.
#[derive(Debug, Args)]
pub(crate) struct ProposeArgs {
    #[command(subcommand)]
    action: ActionCommand,
    #[command(flatten)]
    network: NetworkArgs,
    /// Block height the change takes effect at; 0 (or a height already reached) means
    /// as soon as the transaction is accepted.
    #[arg(long, global = true, default_value_t = 0)]
    effective_height: u64,
    /// The proposal nonce (default: random).
    #[arg(long, global = true)]
    nonce: Option<u64>,
    /// Write the proposal here (default: standard output). Never overwritten without --force.
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long, global = true)]
    force: bool,
}

/// A new public key: hex, or a public key set as printed by `pedigree keys gen --json`.
#[derive(Debug, Args)]
pub(crate) struct NewKeyArgs {
    /// The new public key (64 hex digits).
    #[arg(long, conflicts_with = "public", required_unless_present = "public")]
    public_key: Option<String>,
    /// The new key's public parts (`pedigree keys gen --json`, `pedigree-node init --json`).
    #[arg(long)]
    public: Option<String>,
    /// The new key's id (default: from --public, else derived from the public key).
    #[arg(long)]
    new_key_id: Option<String>,
}

/// The membership changes.
#[derive(Debug, Subcommand)]
pub(crate) enum ActionCommand {
    /// Add an organisation: its description (as for `genesis assemble`) and public keys.
    AddOrg {
        /// Org description (TOML or JSON: id, name, roles, company_prefixes, glns, nodes, keys).
        #[arg(long)]
        org_file: String,
        /// Public key sets of the org (`pedigree-node init --json`, `pedigree keys gen --json`).
        #[arg(long)]
        public: Vec<String>,
    },
    /// Remove an organisation (its keys stop signing, its nodes stop being members).
    RemoveOrg {
        /// The org.
        #[arg(long)]
        org: String,
    },
    /// Add a signing key to an organisation.
    AddKey {
        /// The org.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        key: NewKeyArgs,
    },
    /// Revoke a signing key.
    RevokeKey {
        /// The org.
        #[arg(long)]
        org: String,
        /// The key id to revoke.
        #[arg(long)]
        key_id: String,
    },
    /// Replace a signing key: revoke the old one and add the new one at the same height.
    RotateKey {
        /// The org.
        #[arg(long)]
        org: String,
        /// The key id to revoke.
        #[arg(long)]
        old_key_id: String,
        #[command(flatten)]
        key: NewKeyArgs,
    },
    /// Register a GS1 company prefix to an organisation.
    RegisterPrefix {
        /// The org.
        #[arg(long)]
        org: String,
        /// The company prefix (4 to 12 digits).
        #[arg(long)]
        prefix: String,
    },
    /// Register a GLN to an organisation.
    RegisterGln {
        /// The org.
        #[arg(long)]
        org: String,
        /// GLN-13.
        #[arg(long)]
        gln: String,
        /// Display name of the party or location.
        #[arg(long)]
        name: String,
    },
    /// Let a CMO commission a GTIN of a brand owner.
    DelegateGtin {
        /// The brand owner (owns the GTIN's company prefix).
        #[arg(long)]
        brand_owner: String,
        /// The GTIN (8 to 14 digits).
        #[arg(long)]
        gtin: String,
        /// The CMO.
        #[arg(long)]
        cmo: String,
    },
    /// Withdraw a GTIN delegation.
    RevokeDelegation {
        /// The GTIN (8 to 14 digits).
        #[arg(long)]
        gtin: String,
        /// The CMO.
        #[arg(long)]
        cmo: String,
    },
    /// Add a node (libp2p peer id) of an organisation; it joins the Raft configuration.
    AddNode {
        /// The org.
        #[arg(long)]
        org: String,
        /// The node's peer id (`pedigree-node init` prints it).
        #[arg(long)]
        peer_id: String,
    },
    /// Remove a node; it leaves the Raft configuration.
    RemoveNode {
        /// The node's peer id.
        #[arg(long)]
        peer_id: String,
    },
    /// Change the quorum: more than numerator/denominator of the active orgs must approve.
    SetQuorum {
        /// Numerator.
        #[arg(long)]
        numerator: u64,
        /// Denominator (at least 1, at least the numerator).
        #[arg(long)]
        denominator: u64,
    },
}

/// Arguments of `pedigree governance approve`.
#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The proposal document (updated in place unless --out is given).
    proposal: PathBuf,
    /// Your organisation.
    #[arg(long, env = "PEDIGREE_ORG")]
    org: String,
    /// Your organisation's signing key file (`pedigree keys gen`, `pedigree-node init`).
    #[arg(long, env = "PEDIGREE_KEY")]
    key: PathBuf,
    /// The key's id as registered (default: derived from the public key).
    #[arg(long)]
    key_id: Option<String>,
    /// Write the approved proposal here instead of replacing the input.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    network: NetworkArgs,
}

/// Arguments of `pedigree governance show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The proposal document.
    proposal: PathBuf,
    /// The genesis document (TOML or JSON): check the network and count the quorum
    /// under its membership and governance settings.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// The org that will submit (it counts as approving).
    #[arg(long)]
    submitter: Option<String>,
    /// Also ask the node (--node) for its network id and latest height.
    #[arg(long)]
    status: bool,
}

/// Arguments of `pedigree governance submit`.
#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    /// The proposal document.
    proposal: PathBuf,
    /// The submitting organisation (counts as approving).
    #[arg(long, env = "PEDIGREE_ORG")]
    org: String,
    /// Its signing key file.
    #[arg(long, env = "PEDIGREE_KEY")]
    key: PathBuf,
    /// The key's id as registered (default: derived from the public key).
    #[arg(long)]
    key_id: Option<String>,
}

pub(crate) fn run(command: GovernanceCommand, globals: &Globals) -> Result<Outcome, CliError> {
    match command {
        GovernanceCommand::Propose(args) => propose(args, globals),
        GovernanceCommand::Approve(args) => approve(args, globals),
        GovernanceCommand::Show(args) => show(args, globals),
        GovernanceCommand::Submit(args) => submit(args, globals),
    }
}

/// Reads a genesis document, TOML or JSON.
fn read_genesis(path: &Path) -> Result<Genesis, CliError> {
    let name = path.display().to_string();
    let text = read_input(&name)?;
    let parsed = if text.trim_start().starts_with('{') {
        Genesis::from_json(&text)
    } else {
        Genesis::from_toml(&text)
    };
    parsed.map_err(|e| CliError::Input(format!("{name}: not a genesis document: {e}")))
}

/// The network id and latest height in a node's `GET /status`, if it reports them.
async fn node_network(client: &Client) -> Result<(Option<Digest32>, Option<u64>), CliError> {
    let status = client.status().await?;
    let scopes = [Some(&status.raw), status.raw.get("node")];
    let id = scopes.into_iter().flatten().find_map(|scope| {
        ["network_id", "networkId"]
            .iter()
            .find_map(|k| scope.get(*k).and_then(Value::as_str))
    });
    let id = match id {
        Some(id) => Some(signer::parse_digest(id).map_err(|_| {
            CliError::Failed(format!(
                "{}: the node's status has a malformed network id {id:?}",
                client.base_url()
            ))
        })?),
        None => None,
    };
    Ok((id, status.latest_height))
}

impl NetworkArgs {
    /// The network id, and where it came from (for messages).
    fn resolve(&self, globals: &Globals) -> Result<(Digest32, String), CliError> {
        let given = match &self.network_id {
            Some(text) => Some(signer::parse_digest(text).map_err(|_| {
                CliError::Input(format!("--network-id: {text:?} is not 64 hex digits"))
            })?),
            None => None,
        };
        if let Some(path) = &self.genesis {
            let id = read_genesis(path)?.network_id();
            if let Some(given) = given.filter(|given| *given != id) {
                return Err(CliError::Input(format!(
                    "--network-id {} is not the network of --genesis {} ({})",
                    hex::encode(given),
                    path.display(),
                    hex::encode(id)
                )));
            }
            return Ok((id, format!("genesis {}", path.display())));
        }
        if let Some(id) = given {
            return Ok((id, "--network-id".into()));
        }
        let client = client(globals)?;
        let (id, _) = block_on(node_network(&client))?.map_err(|error| match error {
            CliError::Node(error) => CliError::Failed(format!(
                "{error}\n(the network id is read from the node's status; pass --network-id or --genesis to work offline)"
            )),
            other => other,
        })?;
        let id = id.ok_or_else(|| {
            CliError::Input(format!(
                "{} reports no network id; pass --network-id or --genesis",
                client.base_url()
            ))
        })?;
        Ok((id, format!("node {}", client.base_url())))
    }
}

fn parse_json_value<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T, CliError> {
    serde_json::from_str(text).map_err(|e| CliError::Input(format!("{path}: {e}")))
}

/// Reads public key sets (one object or an array), as `genesis assemble` does.
fn read_public(path: &str) -> Result<Vec<PublicParts>, CliError> {
    let text = read_input(path)?;
    match parse_json_value::<Value>(path, &text)? {
        Value::Array(items) => items
            .into_iter()
            .map(|item| {
                serde_json::from_value(item).map_err(|e| CliError::Input(format!("{path}: {e}")))
            })
            .collect(),
        item => Ok(vec![
            serde_json::from_value(item).map_err(|e| CliError::Input(format!("{path}: {e}")))?,
        ]),
    }
}

fn new_key(args: &NewKeyArgs) -> Result<pedigree_chaincode::governance::KeySpec, CliError> {
    let (public_key, file_id) = match (&args.public_key, &args.public) {
        (Some(hex_key), _) => (governance::parse_public_key(hex_key, "--public-key")?, None),
        (None, Some(path)) => {
            let mut parts = read_public(path)?;
            if parts.len() != 1 {
                return Err(CliError::Input(format!(
                    "{path}: expected one public key set, found {}",
                    parts.len()
                )));
            }
            let parts = parts.remove(0);
            let key = governance::parse_public_key(
                &parts.signing_public_key,
                &format!("{path}: signing_public_key"),
            )?;
            (key, Some(parts.signing_key_id))
        }
        (None, None) => {
            return Err(CliError::Input(
                "give the new key: --public-key HEX or --public FILE".into(),
            ));
        }
    };
    let id = args.new_key_id.clone().or(file_id);
    Ok(governance::key_spec(public_key, id.as_deref()))
}

fn add_org_action(org_file: &str, public: &[String]) -> Result<GovAction, CliError> {
    let text = read_input(org_file)?;
    let description: OrgDescription = if text.trim_start().starts_with('{') {
        parse_json_value(org_file, &text)?
    } else {
        toml::from_str(&text).map_err(|e| CliError::Input(format!("{org_file}: {e}")))?
    };
    let mut org = NewOrg::new(description.id.clone(), description.name.clone());
    for (index, role) in description.roles.iter().enumerate() {
        let role: Role = serde_json::from_value(Value::String(role.clone())).map_err(|_| {
            CliError::Input(format!(
                "{org_file}: roles[{index}]: {role:?} is not one of manufacturer, cmo, distributor, dispenser, regulator"
            ))
        })?;
        org = org.role(role);
    }
    for (index, key) in description.keys.iter().enumerate() {
        let public_key = governance::parse_public_key(
            &key.public_key,
            &format!("{org_file}: keys[{index}].public_key"),
        )?;
        org = org.key(governance::key_spec(public_key, Some(&key.id)));
    }
    for prefix in &description.company_prefixes {
        org = org.prefix(prefix.clone());
    }
    for gln in &description.glns {
        org = org.gln(gln.gln.clone(), gln.name.clone());
    }
    for node in &description.nodes {
        org = org.node(node.clone());
    }
    for path in public {
        for parts in read_public(path)? {
            if parts.org != description.id {
                return Err(CliError::Input(format!(
                    "{path}: public keys of org {:?}, but the org file describes {:?}",
                    parts.org, description.id
                )));
            }
            let public_key = governance::parse_public_key(
                &parts.signing_public_key,
                &format!("{path}: signing_public_key"),
            )?;
            let already = description
                .keys
                .iter()
                .any(|k| k.id == parts.signing_key_id);
            if !already {
                org = org.key(governance::key_spec(
                    public_key,
                    Some(&parts.signing_key_id),
                ));
            }
            if let Some(peer_id) = parts.peer_id
                && !description.nodes.contains(&peer_id)
            {
                org = org.node(peer_id);
            }
        }
    }
    Ok(org.build()?)
}

fn action(command: &ActionCommand) -> Result<GovAction, CliError> {
    Ok(match command {
        ActionCommand::AddOrg { org_file, public } => add_org_action(org_file, public)?,
        ActionCommand::RemoveOrg { org } => governance::remove_org(org)?,
        ActionCommand::AddKey { org, key } => governance::add_key(org, new_key(key)?)?,
        ActionCommand::RevokeKey { org, key_id } => governance::revoke_key(org, key_id)?,
        ActionCommand::RotateKey {
            org,
            old_key_id,
            key,
        } => governance::rotate_key(org, old_key_id, new_key(key)?)?,
        ActionCommand::RegisterPrefix { org, prefix } => governance::register_prefix(org, prefix)?,
        ActionCommand::RegisterGln { org, gln, name } => governance::register_gln(org, gln, name)?,
        ActionCommand::DelegateGtin {
            brand_owner,
            gtin,
            cmo,
        } => governance::delegate_gtin(brand_owner, gtin, cmo)?,
        ActionCommand::RevokeDelegation { gtin, cmo } => governance::revoke_delegation(gtin, cmo)?,
        ActionCommand::AddNode { org, peer_id } => governance::add_node(org, peer_id)?,
        ActionCommand::RemoveNode { peer_id } => governance::remove_node(peer_id)?,
        ActionCommand::SetQuorum {
            numerator,
            denominator,
        } => governance::set_quorum(*numerator, *denominator)?,
    })
}

fn propose(args: ProposeArgs, globals: &Globals) -> Result<Outcome, CliError> {
    let action = action(&args.action)?;
    if let Some(out) = &args.out
        && out.exists()
        && !args.force
    {
        return Err(CliError::Input(format!(
            "--out {}: the file exists (it may hold collected approvals); pass --force to replace it",
            out.display()
        )));
    }
    let (network_id, source) = args.network.resolve(globals)?;
    let nonce = args.nonce.unwrap_or_else(governance::random_nonce);
    let proposal = Proposal::new(network_id, action, args.effective_height, nonce)?;
    let Some(out) = &args.out else {
        return Ok(Outcome::Print(proposal.to_json().trim_end().to_string()));
    };
    proposal.write_file(out)?;
    if globals.json {
        return Ok(Outcome::Print(to_json(&json!({
            "path": out,
            "networkId": hex::encode(network_id),
            "approvalDigest": hex::encode(proposal.digest()),
            "proposalNonce": nonce,
        }))?));
    }
    Ok(Outcome::Print(format!(
        "wrote {}\n  action: {}\n  network: {} (from {source})\n  effective height: {}\n  approval digest: {}\nnext: each approving org runs `pedigree governance approve {} --org ORG --key KEYFILE`",
        out.display(),
        governance::describe_action(proposal.action()),
        hex::encode(network_id),
        describe_height(proposal.effective_height()),
        hex::encode(proposal.digest()),
        out.display(),
    )))
}

fn describe_height(height: u64) -> String {
    if height == 0 {
        "0 (as soon as accepted)".into()
    } else {
        format!("{height} (at once if the ledger is already there)")
    }
}

fn approve(args: ApproveArgs, globals: &Globals) -> Result<Outcome, CliError> {
    let mut proposal = Proposal::read_file(&args.proposal)?;
    let key = signer::read_key_file(&args.key)?;
    let (network_id, source) = args.network.resolve(globals)?;
    let approver = match &args.key_id {
        Some(key_id) => Approver::with_key_id(&args.org, key_id, key, network_id),
        None => Approver::new(&args.org, key, network_id),
    }
    .map_err(|error| match error {
        GovernanceError::InvalidField { field, problem } => {
            CliError::Input(format!("--{}: {problem}", field.replace(' ', "-")))
        }
        other => other.into(),
    })?;
    let mut warnings = Vec::new();
    if let Some(path) = &args.network.genesis {
        let genesis = read_genesis(path)?;
        if let Some(warning) = approver.check_against(&genesis)? {
            warnings.push(warning);
        }
    }
    proposal.approve(&approver).map_err(|error| match error {
        GovernanceError::WrongNetwork { proposal, expected } => CliError::Input(format!(
            "{}: the proposal is for network {proposal}, but {source} says this network is {expected}; refusing to approve it",
            args.proposal.display()
        )),
        other => other.into(),
    })?;
    let out = args.out.as_ref().unwrap_or(&args.proposal);
    proposal.write_file(out)?;
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let orgs: Vec<&str> = proposal
        .approvals()
        .iter()
        .map(|a| a.org.as_str())
        .collect();
    if globals.json {
        return Ok(Outcome::Print(to_json(&json!({
            "path": out,
            "org": approver.org(),
            "keyId": approver.key_id(),
            "approvalDigest": hex::encode(proposal.digest()),
            "approvals": orgs,
            "warnings": warnings,
        }))?));
    }
    Ok(Outcome::Print(format!(
        "approved by {} (key {}): {}\n  approvals ({}): {}\nwrote {}",
        approver.org(),
        approver.key_id(),
        governance::describe_action(proposal.action()),
        orgs.len(),
        orgs.join(", "),
        out.display()
    )))
}

fn show(args: ShowArgs, globals: &Globals) -> Result<Outcome, CliError> {
    let proposal = Proposal::read_file(&args.proposal)?;
    let genesis = args.genesis.as_deref().map(read_genesis).transpose()?;
    let quorum = genesis
        .as_ref()
        .map(|g| proposal.quorum(g, args.submitter.as_deref()));
    let node = if args.status {
        let client = client(globals)?;
        let (network_id, height) = block_on(node_network(&client))??;
        Some(json!({
            "url": client.base_url(),
            "networkId": network_id.map(hex::encode),
            "networkMatches": network_id.map(|id| id == *proposal.network_id()),
            "latestHeight": height,
        }))
    } else {
        None
    };
    if globals.json {
        let document: Value = serde_json::from_str(&proposal.to_json())
            .map_err(|e| CliError::Internal(e.to_string()))?;
        return Ok(Outcome::Print(to_json(&json!({
            "path": args.proposal,
            "networkId": hex::encode(proposal.network_id()),
            "action": document["action"],
            "description": governance::describe_action(proposal.action()),
            "effectiveHeight": proposal.effective_height(),
            "proposalNonce": proposal.proposal_nonce(),
            "approvalDigest": hex::encode(proposal.digest()),
            "approvals": proposal.approvals().iter().map(|a| json!({
                "org": a.org, "keyId": a.key_id, "publicKey": hex::encode(a.public_key),
            })).collect::<Vec<_>>(),
            "quorum": quorum,
            "node": node,
        }))?));
    }
    let mut text = format!("proposal {}", args.proposal.display());
    text.push_str(&format!(
        "\n  network:          {}",
        hex::encode(proposal.network_id())
    ));
    if let Some(report) = &quorum {
        text.push_str(if report.network_matches {
            " (matches the genesis)"
        } else {
            " (DOES NOT MATCH the genesis)"
        });
    }
    if let Some(node) = &node {
        match node["networkMatches"].as_bool() {
            Some(true) => text.push_str(" (matches the node)"),
            Some(false) => text.push_str(" (DOES NOT MATCH the node)"),
            None => {}
        }
    }
    let description = governance::describe_action(proposal.action());
    text.push_str(&format!("\n  action:           {description}"));
    text.push_str(&format!(
        "\n  effective height: {}",
        describe_height(proposal.effective_height())
    ));
    if let Some(height) = node.as_ref().and_then(|n| n["latestHeight"].as_u64()) {
        text.push_str(&format!(" — the node is at height {height}"));
    }
    text.push_str(&format!(
        "\n  proposal nonce:   {}",
        proposal.proposal_nonce()
    ));
    text.push_str(&format!(
        "\n  approval digest:  {}",
        hex::encode(proposal.digest())
    ));
    text.push_str(&format!(
        "\n  approvals ({}, every signature verified):",
        proposal.approvals().len()
    ));
    for approval in proposal.approvals() {
        text.push_str(&format!(
            "\n    {}  key {}  ({})",
            approval.org,
            approval.key_id,
            hex::encode(approval.public_key)
        ));
    }
    match (&genesis, &quorum) {
        (Some(genesis), Some(report)) => {
            text.push_str(&quorum_text(genesis, report, args.submitter.as_deref()))
        }
        _ => text.push_str(
            "\n  quorum: unknown (pass --genesis to count it under the genesis membership)",
        ),
    }
    Ok(Outcome::Print(text))
}

fn quorum_text(genesis: &Genesis, report: &QuorumReport, submitter: Option<&str>) -> String {
    let mut text = format!(
        "\n  quorum (genesis membership: {} orgs, more than {}/{} must approve): {} of {} required{}",
        report.active_orgs,
        genesis.governance.quorum_numerator,
        genesis.governance.quorum_denominator,
        report.approving.len(),
        report.required,
        if report.reached {
            " — REACHED"
        } else {
            " — NOT reached"
        }
    );
    text.push_str(&format!(
        "\n    counted: {}{}",
        if report.approving.is_empty() {
            "none".to_string()
        } else {
            report.approving.join(", ")
        },
        match submitter {
            Some(org) => format!(" (the submitter {org} included)"),
            None => " (pass --submitter ORG to count the submitting org)".into(),
        }
    ));
    for item in &report.not_counted {
        text.push_str(&format!(
            "\n    not counted: {} ({})",
            item.org, item.reason
        ));
    }
    if !report.missing.is_empty() {
        text.push_str(&format!(
            "\n    not yet approved: {}",
            report.missing.join(", ")
        ));
    }
    text.push_str("\n    (governance accepted since genesis is not included; the ledger decides)");
    text
}

fn submit(args: SubmitArgs, globals: &Globals) -> Result<Outcome, CliError> {
    let proposal = Proposal::read_file(&args.proposal)?;
    let key = signer::read_key_file(&args.key)?;
    let network_id = *proposal.network_id();
    if !pedigree_chaincode::records::is_valid_short_id(&args.org) {
        return Err(CliError::Input(format!(
            "--org: {:?} is not an org id (1 to 64 of a-z, 0-9, '.', '_', '-')",
            args.org
        )));
    }
    let signer = match &args.key_id {
        Some(key_id) => OrgSigner::with_key_id(args.org.clone(), key_id.clone(), key, network_id),
        None => OrgSigner::new(args.org.clone(), key, network_id),
    };
    let client = client(globals)?;
    let result = block_on(async {
        let (node_network_id, _) = node_network(&client).await?;
        if let Some(id) = node_network_id
            && id != network_id
        {
            return Err(CliError::Input(format!(
                "{}: the proposal is for network {}, but {} is on network {}",
                args.proposal.display(),
                hex::encode(network_id),
                client.base_url(),
                hex::encode(id)
            )));
        }
        Ok(governance::submit(&client, &proposal, &signer).await?)
    })??;
    receipt_outcome(&proposal, &result, globals)
}

fn receipt_outcome(
    proposal: &Proposal,
    result: &TxResult,
    globals: &Globals,
) -> Result<Outcome, CliError> {
    let text = if globals.json {
        to_json(result)?
    } else {
        let mut text = format!(
            "governance: {}\n  {:?} ({}{})",
            governance::describe_action(proposal.action()),
            result.status,
            result.outcome,
            result.code.map(|c| format!(", {c}")).unwrap_or_default()
        );
        if let Some(height) = result.height {
            text.push_str(&format!(" at height {height}"));
            if result.status == TxStatus::Accepted && proposal.effective_height() > height {
                text.push_str(&format!(
                    "; scheduled: takes effect at height {}",
                    proposal.effective_height()
                ));
            }
        }
        if let Some(tx_id) = &result.tx_id {
            text.push_str(&format!("\n  tx {tx_id}"));
        }
        if !result.message.is_empty() {
            text.push_str(&format!("\n  {}", result.message));
        }
        text
    };
    match result.status {
        TxStatus::Accepted | TxStatus::Duplicate => Ok(Outcome::Print(text)),
        TxStatus::Rejected => Ok(Outcome::Negative(text)),
        TxStatus::Failed => Err(CliError::Failed(format!("not committed: {text}"))),
    }
}
