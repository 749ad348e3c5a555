//! Governance for operators: build a membership change, collect approvals from other
//! organisations offline, submit it.
//!
//! A governance transaction ([`pedigree_chaincode::GovernanceTx`]) carries one
//! [`GovAction`], the height it takes effect at, a proposal nonce and the approvals of
//! other orgs; the submitting org counts as approving. Each approval is an ed25519
//! signature over [`approval_digest`]`(network id, action, effective height, proposal
//! nonce)`, so approvals can be collected one org at a time, in any order, without a
//! node, and are bound to one network and one exact proposal.
//!
//! The workflow:
//! 1. build the action with one of the typed builders ([`NewOrg`], [`remove_org`],
//!    [`add_key`], …, [`set_quorum`]) and wrap it in a [`Proposal`];
//! 2. write the proposal document ([`Proposal::to_json`], [`Proposal::write_file`]) and
//!    pass it from org to org; each one reviews it and [`approve`]s it with its key;
//! 3. any member org [`submit`]s it, signed with its own key; the node answers with the
//!    receipt (accepted, or rejected with its numbered reason, e.g. `QuorumNotMet`, 200).
//!
//! # The proposal document (format `pedigree-governance-proposal/v1`)
//!
//! A JSON object, written with two-space indentation, fields in this order:
//!
//! ```json
//! {
//!   "format": "pedigree-governance-proposal/v1",
//!   "networkId": "<64 hex digits: the genesis hash>",
//!   "action": { "type": "registerPrefix", "org": "mfg", "prefix": "0614142" },
//!   "effectiveHeight": 0,
//!   "proposalNonce": 4432871193530597,
//!   "approvalDigest": "<64 hex digits>",
//!   "approvals": [
//!     { "org": "dist", "keyId": "9b1f…", "publicKey": "<64 hex>", "signature": "<128 hex>" }
//!   ]
//! }
//! ```
//!
//! - `effectiveHeight`: the block height the change takes effect at; `0` (or any height
//!   already reached) means as soon as the transaction is accepted.
//! - `proposalNonce`: distinguishes otherwise identical proposals; approvals bind to it.
//!   Generated nonces are below 2^53, so JavaScript tools read them exactly.
//! - `approvalDigest`: what every approval signs. It is derived from the fields above;
//!   it is written for reviewers (compare it out of band) and checked when read.
//! - `approvals`: one per org. `publicKey` is the approving key, so anyone can check the
//!   signature without a node; the ledger checks it against the key it has registered
//!   as `org`/`keyId`. A proposal whose action, height, nonce or network was edited after
//!   an approval no longer reads: the approval's signature does not verify.
//! - `action.type` and its fields (identifiers as in genesis; keys as 64 hex digits):
//!
//! | `type` | fields |
//! |---|---|
//! | `addOrg` | `org`: `{id, name, roles, keys: [{id, publicKey}], companyPrefixes, glns: [{gln, name}], nodes}` |
//! | `removeOrg` | `org` |
//! | `addKey` | `org`, `key`: `{id, publicKey}` |
//! | `revokeKey` | `org`, `keyId` |
//! | `rotateKey` | `org`, `oldKeyId`, `newKey`: `{id, publicKey}` |
//! | `registerPrefix` | `org`, `prefix` |
//! | `registerGln` | `org`, `gln`, `name` |
//! | `delegateGtin` | `brandOwner`, `gtin`, `cmo` |
//! | `revokeDelegation` | `gtin`, `cmo` |
//! | `addNode` | `org`, `peerId` |
//! | `removeNode` | `peerId` |
//! | `setQuorum` | `quorumNumerator`, `quorumDenominator` |
//!
//! Unknown fields are refused, so nothing a reviewer reads can be outside what is
//! signed (except `approvalDigest`, which is checked).

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer as _, SigningKey};
use pedigree_chaincode::governance::{APPROVALS_MAX, GlnSpec, KeySpec, ORG_SPEC_ITEMS_MAX};
use pedigree_chaincode::membership::{COMPANY_PREFIX_LENGTH_MAX, COMPANY_PREFIX_LENGTH_MIN};
use pedigree_chaincode::records::{GovernanceConfig, is_valid_short_id};
use pedigree_chaincode::{
    Approval, Digest32, Genesis, GovAction, GovernanceTx, OrgSpec, Role, TxBody, approval_digest,
};
use rand_core::{OsRng, RngCore as _};
use serde::{Deserialize, Serialize};

use crate::api::TxResult;
use crate::error::ClientError;
use crate::http::Client;
use crate::signer::{self, OrgSigner};

/// The `format` of a proposal document.
pub const PROPOSAL_FORMAT: &str = "pedigree-governance-proposal/v1";

/// Largest proposal document read, in bytes (256 approvals and a large org fit easily).
pub const PROPOSAL_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// Longest peer id accepted (as the chaincode).
const PEER_ID_LEN_MAX: usize = 128;

/// Longest org or GLN name accepted (as the chaincode for org names).
const NAME_LEN_MAX: usize = 256;

/// Why a governance operation failed. Nothing was sent unless the variant is
/// [`GovernanceError::Client`].
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    /// A field of an action or a proposal is invalid; `field` names it (for example
    /// `action.prefix` or `approvals[1].signature`).
    #[error("{field}: {problem}")]
    InvalidField {
        /// The field, as a path in the proposal document.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The proposal document is not valid JSON of the expected shape.
    #[error("proposal document: {0}")]
    Document(String),
    /// The proposal is for another network than the one the caller is on.
    #[error(
        "the proposal is for network {proposal}, but this key is used on network {expected}; refusing to sign it"
    )]
    WrongNetwork {
        /// The proposal's network id (hex).
        proposal: String,
        /// The caller's network id (hex).
        expected: String,
    },
    /// The org has already approved the proposal.
    #[error("org {org} has already approved this proposal (key {key_id})")]
    DuplicateApproval {
        /// The org.
        org: String,
        /// The key of the existing approval.
        key_id: String,
    },
    /// An approval's signature does not verify over the proposal's digest.
    #[error(
        "approvals[{index}] by {org}: the signature does not verify for this proposal (was the proposal edited after it was approved?)"
    )]
    BadApproval {
        /// Position in `approvals`.
        index: usize,
        /// The approving org.
        org: String,
    },
    /// A signing key is not the one registered for the org and key id.
    #[error("key {key_id} of org {org}: {problem}")]
    BadKey {
        /// The org.
        org: String,
        /// The key id.
        key_id: String,
        /// What is wrong.
        problem: String,
    },
    /// The proposal file could not be read or written.
    #[error("{}: {problem}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// Submitting failed before the ledger gave a verdict (transport, node refused).
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl GovernanceError {
    /// True when the caller's input is at fault (invalid action, document, approval,
    /// key or network), as opposed to files and the node.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            GovernanceError::File { .. } => false,
            GovernanceError::Client(error) => matches!(error, ClientError::Invalid(_)),
            _ => true,
        }
    }
}

/// The result type of this module.
pub type Result<T, E = GovernanceError> = std::result::Result<T, E>;

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> GovernanceError {
    GovernanceError::InvalidField {
        field: field.into(),
        problem: problem.into(),
    }
}

// ---------------------------------------------------------------------------------------
// Typed builders: one per GovAction. Each validates what the chaincode would refuse as
// malformed, naming the field, so a bad proposal is caught before anyone signs it.
// ---------------------------------------------------------------------------------------

/// A key spec for `public_key`, with `id` or (when `None`) the key id derived from the
/// public key as `pedigree keys gen` and `pedigree-node init` print it.
pub fn key_spec(public_key: [u8; 32], id: Option<&str>) -> KeySpec {
    KeySpec {
        id: id.map_or_else(|| signer::key_id(&public_key), str::to_string),
        public_key,
    }
}

/// Parses a public key given as 64 hex digits; `field` names it in errors.
pub fn parse_public_key(text: &str, field: &str) -> Result<[u8; 32]> {
    crate::signer::parse_digest(text).map_err(field_error(field))
}

/// A new organisation for [`GovAction::AddOrg`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrg {
    spec: OrgSpec,
}

impl NewOrg {
    /// An org with id `id` (`[a-z0-9._-]{1,64}`) and display name `name`.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> NewOrg {
        NewOrg {
            spec: OrgSpec {
                id: id.into(),
                name: name.into(),
                roles: Vec::new(),
                keys: Vec::new(),
                company_prefixes: Vec::new(),
                glns: Vec::new(),
                nodes: Vec::new(),
            },
        }
    }

    /// Adds a role.
    pub fn role(mut self, role: Role) -> NewOrg {
        self.spec.roles.push(role);
        self
    }

    /// Adds a signing key.
    pub fn key(mut self, key: KeySpec) -> NewOrg {
        self.spec.keys.push(key);
        self
    }

    /// Adds a GS1 company prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> NewOrg {
        self.spec.company_prefixes.push(prefix.into());
        self
    }

    /// Adds a GLN with its display name.
    pub fn gln(mut self, gln: impl Into<String>, name: impl Into<String>) -> NewOrg {
        self.spec.glns.push(GlnSpec {
            gln: gln.into(),
            name: name.into(),
        });
        self
    }

    /// Adds a node (libp2p peer id).
    pub fn node(mut self, peer_id: impl Into<String>) -> NewOrg {
        self.spec.nodes.push(peer_id.into());
        self
    }

    /// The validated action (lists sorted and de-duplicated).
    pub fn build(self) -> Result<GovAction> {
        let mut spec = self.spec;
        spec.normalise();
        let action = GovAction::AddOrg(spec);
        validate_action(&action)?;
        Ok(action)
    }
}

fn build(action: GovAction) -> Result<GovAction> {
    validate_action(&action)?;
    Ok(action)
}

/// [`GovAction::RemoveOrg`].
pub fn remove_org(org: &str) -> Result<GovAction> {
    build(GovAction::RemoveOrg { org: org.into() })
}

/// [`GovAction::AddKey`].
pub fn add_key(org: &str, key: KeySpec) -> Result<GovAction> {
    build(GovAction::AddKey {
        org: org.into(),
        key,
    })
}

/// [`GovAction::RevokeKey`].
pub fn revoke_key(org: &str, key_id: &str) -> Result<GovAction> {
    build(GovAction::RevokeKey {
        org: org.into(),
        key_id: key_id.into(),
    })
}

/// [`GovAction::RotateKey`]: revoke `old_key_id` and add `new_key` at the same height.
pub fn rotate_key(org: &str, old_key_id: &str, new_key: KeySpec) -> Result<GovAction> {
    build(GovAction::RotateKey {
        org: org.into(),
        old_key_id: old_key_id.into(),
        new_key,
    })
}

/// [`GovAction::RegisterPrefix`].
pub fn register_prefix(org: &str, prefix: &str) -> Result<GovAction> {
    build(GovAction::RegisterPrefix {
        org: org.into(),
        prefix: prefix.into(),
    })
}

/// [`GovAction::RegisterGln`].
pub fn register_gln(org: &str, gln: &str, name: &str) -> Result<GovAction> {
    build(GovAction::RegisterGln {
        org: org.into(),
        gln: GlnSpec {
            gln: gln.into(),
            name: name.into(),
        },
    })
}

/// An SDK input error as a [`GovernanceError`] naming `field`.
fn field_error(field: &str) -> impl FnOnce(ClientError) -> GovernanceError + '_ {
    move |error| match error {
        ClientError::Invalid(problem) => invalid(field, problem),
        other => invalid(field, other.to_string()),
    }
}

/// A GTIN of 8 to 14 digits as GTIN-14 (the form the chaincode stores).
fn gtin14(gtin: &str, field: &str) -> Result<String> {
    crate::events::gtin14(gtin).map_err(field_error(field))
}

/// [`GovAction::DelegateGtin`]: `brand_owner` lets the CMO `cmo` commission `gtin`
/// (8 to 14 digits; stored as GTIN-14).
pub fn delegate_gtin(brand_owner: &str, gtin: &str, cmo: &str) -> Result<GovAction> {
    build(GovAction::DelegateGtin {
        brand_owner: brand_owner.into(),
        gtin: gtin14(gtin, "action.gtin")?,
        cmo: cmo.into(),
    })
}

/// [`GovAction::RevokeDelegation`].
pub fn revoke_delegation(gtin: &str, cmo: &str) -> Result<GovAction> {
    build(GovAction::RevokeDelegation {
        gtin: gtin14(gtin, "action.gtin")?,
        cmo: cmo.into(),
    })
}

/// [`GovAction::AddNode`]: registers a node (a voter, or a learner for a regulator org);
/// the leader then adds it to the Raft configuration.
pub fn add_node(org: &str, peer_id: &str) -> Result<GovAction> {
    build(GovAction::AddNode {
        org: org.into(),
        peer_id: peer_id.into(),
    })
}

/// [`GovAction::RemoveNode`].
pub fn remove_node(peer_id: &str) -> Result<GovAction> {
    build(GovAction::RemoveNode {
        peer_id: peer_id.into(),
    })
}

/// [`GovAction::SetQuorum`]: a governance action then needs strictly more than
/// `active orgs × numerator / denominator` approving orgs.
pub fn set_quorum(numerator: u64, denominator: u64) -> Result<GovAction> {
    build(GovAction::SetQuorum(GovernanceConfig {
        quorum_numerator: numerator,
        quorum_denominator: denominator,
    }))
}

fn check_id(value: &str, field: &str) -> Result<()> {
    if is_valid_short_id(value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{value:?} is not an id (1 to 64 of a-z, 0-9, '.', '_', '-')"),
        ))
    }
}

fn check_key(key: &KeySpec, field: &str) -> Result<()> {
    check_id(&key.id, &format!("{field}.id"))?;
    pedigree_chaincode::tx::verifying_key(&key.public_key)
        .map_err(|e| invalid(format!("{field}.publicKey"), e.to_string()))?;
    Ok(())
}

fn check_prefix(prefix: &str, field: &str) -> Result<()> {
    let length_ok = (COMPANY_PREFIX_LENGTH_MIN..=COMPANY_PREFIX_LENGTH_MAX).contains(&prefix.len());
    if length_ok && prefix.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "{prefix:?} is not a GS1 company prefix ({COMPANY_PREFIX_LENGTH_MIN} to {COMPANY_PREFIX_LENGTH_MAX} digits)"
            ),
        ))
    }
}

fn check_gln(gln: &GlnSpec, field: &str, name_field: &str) -> Result<()> {
    // `gln13` accepts exactly 13 digits with a valid check digit.
    crate::events::gln13(&gln.gln).map_err(field_error(field))?;
    check_name(&gln.name, name_field)
}

fn check_name(name: &str, field: &str) -> Result<()> {
    if name.len() > NAME_LEN_MAX {
        return Err(invalid(field, format!("longer than {NAME_LEN_MAX} bytes")));
    }
    Ok(())
}

fn check_gtin14(gtin: &str, field: &str) -> Result<()> {
    if gtin.len() != 14 {
        return Err(invalid(field, format!("{gtin:?} is not a GTIN-14")));
    }
    gtin14(gtin, field).map(drop)
}

fn check_peer_id(peer_id: &str, field: &str) -> Result<()> {
    let well_formed = !peer_id.is_empty()
        && peer_id.len() <= PEER_ID_LEN_MAX
        && peer_id.bytes().all(|b| b.is_ascii_alphanumeric());
    if well_formed {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "{peer_id:?} is not a libp2p peer id (base58, at most {PEER_ID_LEN_MAX} characters)"
            ),
        ))
    }
}

/// Checks an action the way the chaincode checks it for `MalformedBody` and
/// `LimitExceeded`; errors name the field as a path in the proposal document. Whether
/// the orgs, keys and nodes it names exist is for the ledger to judge.
pub fn validate_action(action: &GovAction) -> Result<()> {
    match action {
        GovAction::AddOrg(spec) => {
            check_id(&spec.id, "action.org.id")?;
            check_name(&spec.name, "action.org.name")?;
            if spec.roles.is_empty() {
                return Err(invalid("action.org.roles", "at least one role is needed"));
            }
            if spec.keys.is_empty() {
                return Err(invalid("action.org.keys", "at least one key is needed"));
            }
            for (list, len) in [
                ("keys", spec.keys.len()),
                ("companyPrefixes", spec.company_prefixes.len()),
                ("glns", spec.glns.len()),
                ("nodes", spec.nodes.len()),
            ] {
                if len as u64 > ORG_SPEC_ITEMS_MAX {
                    return Err(invalid(
                        format!("action.org.{list}"),
                        format!("more than {ORG_SPEC_ITEMS_MAX} entries"),
                    ));
                }
            }
            for (index, key) in spec.keys.iter().enumerate() {
                check_key(key, &format!("action.org.keys[{index}]"))?;
                if spec.keys[..index].iter().any(|k| k.id == key.id) {
                    return Err(invalid(
                        format!("action.org.keys[{index}].id"),
                        format!("key id {:?} appears twice", key.id),
                    ));
                }
            }
            for (index, prefix) in spec.company_prefixes.iter().enumerate() {
                check_prefix(prefix, &format!("action.org.companyPrefixes[{index}]"))?;
            }
            for (index, gln) in spec.glns.iter().enumerate() {
                check_gln(
                    gln,
                    &format!("action.org.glns[{index}].gln"),
                    &format!("action.org.glns[{index}].name"),
                )?;
                if spec.glns[..index].iter().any(|g| g.gln == gln.gln) {
                    return Err(invalid(
                        format!("action.org.glns[{index}].gln"),
                        format!("GLN {} appears twice", gln.gln),
                    ));
                }
            }
            for (index, node) in spec.nodes.iter().enumerate() {
                check_peer_id(node, &format!("action.org.nodes[{index}]"))?;
            }
            Ok(())
        }
        GovAction::RemoveOrg { org } => check_id(org, "action.org"),
        GovAction::AddKey { org, key } => {
            check_id(org, "action.org")?;
            check_key(key, "action.key")
        }
        GovAction::RevokeKey { org, key_id } => {
            check_id(org, "action.org")?;
            check_id(key_id, "action.keyId")
        }
        GovAction::RotateKey {
            org,
            old_key_id,
            new_key,
        } => {
            check_id(org, "action.org")?;
            check_id(old_key_id, "action.oldKeyId")?;
            check_key(new_key, "action.newKey")?;
            if new_key.id == *old_key_id {
                return Err(invalid(
                    "action.newKey.id",
                    "the new key needs a new key id (key ids are never reused)",
                ));
            }
            Ok(())
        }
        GovAction::RegisterPrefix { org, prefix } => {
            check_id(org, "action.org")?;
            check_prefix(prefix, "action.prefix")
        }
        GovAction::RegisterGln { org, gln } => {
            check_id(org, "action.org")?;
            check_gln(gln, "action.gln", "action.name")
        }
        GovAction::DelegateGtin {
            brand_owner,
            gtin,
            cmo,
        } => {
            check_id(brand_owner, "action.brandOwner")?;
            check_gtin14(gtin, "action.gtin")?;
            check_id(cmo, "action.cmo")
        }
        GovAction::RevokeDelegation { gtin, cmo } => {
            check_gtin14(gtin, "action.gtin")?;
            check_id(cmo, "action.cmo")
        }
        GovAction::AddNode { org, peer_id } => {
            check_id(org, "action.org")?;
            check_peer_id(peer_id, "action.peerId")
        }
        GovAction::RemoveNode { peer_id } => check_peer_id(peer_id, "action.peerId"),
        GovAction::SetQuorum(config) => {
            if config.quorum_denominator == 0 {
                return Err(invalid("action.quorumDenominator", "must be at least 1"));
            }
            if config.quorum_numerator > config.quorum_denominator {
                return Err(invalid(
                    "action.quorumNumerator",
                    format!(
                        "{} is larger than the denominator {}: the quorum must be a fraction in [0, 1]",
                        config.quorum_numerator, config.quorum_denominator
                    ),
                ));
            }
            Ok(())
        }
    }
}

/// A one-line (for `AddOrg`, several-line) description of an action for reviewers.
pub fn describe_action(action: &GovAction) -> String {
    match action {
        GovAction::AddOrg(spec) => {
            let roles: Vec<String> = spec.roles.iter().map(|r| role_name(*r)).collect();
            let mut text = format!(
                "add org {} ({:?}), roles {}",
                spec.id,
                spec.name,
                roles.join(", ")
            );
            for key in &spec.keys {
                text.push_str(&format!(
                    "\n    key {} = {}",
                    key.id,
                    hex::encode(key.public_key)
                ));
            }
            for prefix in &spec.company_prefixes {
                text.push_str(&format!("\n    company prefix {prefix}"));
            }
            for gln in &spec.glns {
                text.push_str(&format!("\n    GLN {} ({:?})", gln.gln, gln.name));
            }
            for node in &spec.nodes {
                text.push_str(&format!("\n    node {node}"));
            }
            text
        }
        GovAction::RemoveOrg { org } => format!("remove org {org}"),
        GovAction::AddKey { org, key } => format!(
            "add key {} = {} to org {org}",
            key.id,
            hex::encode(key.public_key)
        ),
        GovAction::RevokeKey { org, key_id } => format!("revoke key {key_id} of org {org}"),
        GovAction::RotateKey {
            org,
            old_key_id,
            new_key,
        } => format!(
            "rotate key of org {org}: revoke {old_key_id}, add {} = {}",
            new_key.id,
            hex::encode(new_key.public_key)
        ),
        GovAction::RegisterPrefix { org, prefix } => {
            format!("register company prefix {prefix} to org {org}")
        }
        GovAction::RegisterGln { org, gln } => {
            format!("register GLN {} ({:?}) to org {org}", gln.gln, gln.name)
        }
        GovAction::DelegateGtin {
            brand_owner,
            gtin,
            cmo,
        } => format!("delegate GTIN {gtin} of brand owner {brand_owner} to CMO {cmo}"),
        GovAction::RevokeDelegation { gtin, cmo } => {
            format!("revoke the delegation of GTIN {gtin} to CMO {cmo}")
        }
        GovAction::AddNode { org, peer_id } => format!("add node {peer_id} of org {org}"),
        GovAction::RemoveNode { peer_id } => format!("remove node {peer_id}"),
        GovAction::SetQuorum(config) => format!(
            "set the quorum to more than {}/{} of the active orgs",
            config.quorum_numerator, config.quorum_denominator
        ),
    }
}

fn role_name(role: Role) -> String {
    serde_json::to_value(role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{role:?}"))
}

// ---------------------------------------------------------------------------------------
// The proposal and its approvals.
// ---------------------------------------------------------------------------------------

/// One org's approval, with the public key it was made with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalApproval {
    /// The approving org.
    pub org: String,
    /// Its key id (as registered on the ledger).
    pub key_id: String,
    /// The approving public key (the ledger checks it is the one registered).
    pub public_key: [u8; 32],
    /// Signature over [`Proposal::digest`].
    pub signature: Signature,
}

/// A governance proposal: the action, where and when it applies, and the approvals
/// collected so far. Every approval it holds verifies over its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    network_id: Digest32,
    action: GovAction,
    effective_height: u64,
    proposal_nonce: u64,
    approvals: Vec<ProposalApproval>,
}

/// A fresh proposal nonce below 2^53 (exact in JavaScript numbers).
pub fn random_nonce() -> u64 {
    OsRng.next_u64() >> 11
}

impl Proposal {
    /// A proposal without approvals. The action is validated ([`validate_action`]).
    pub fn new(
        network_id: Digest32,
        action: GovAction,
        effective_height: u64,
        proposal_nonce: u64,
    ) -> Result<Proposal> {
        validate_action(&action)?;
        Ok(Proposal {
            network_id,
            action,
            effective_height,
            proposal_nonce,
            approvals: Vec::new(),
        })
    }

    /// [`GovernanceError::DuplicateApproval`] if `org` approved already.
    fn refuse_duplicate(&self, org: &str) -> Result<()> {
        match self.approvals.iter().find(|a| a.org == org) {
            Some(existing) => Err(GovernanceError::DuplicateApproval {
                org: existing.org.clone(),
                key_id: existing.key_id.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The network id the proposal is for.
    pub fn network_id(&self) -> &Digest32 {
        &self.network_id
    }

    /// The action.
    pub fn action(&self) -> &GovAction {
        &self.action
    }

    /// The height it takes effect at (at once if already reached).
    pub fn effective_height(&self) -> u64 {
        self.effective_height
    }

    /// The proposal nonce.
    pub fn proposal_nonce(&self) -> u64 {
        self.proposal_nonce
    }

    /// The approvals so far, in the order they were made.
    pub fn approvals(&self) -> &[ProposalApproval] {
        &self.approvals
    }

    /// What every approval signs: [`approval_digest`] of the network id, action,
    /// effective height and nonce.
    pub fn digest(&self) -> Digest32 {
        approval_digest(
            &self.network_id,
            &self.action,
            self.effective_height,
            self.proposal_nonce,
        )
    }

    /// Appends `approver`'s approval. Refuses a proposal for another network
    /// ([`GovernanceError::WrongNetwork`]), a second approval by the same org
    /// ([`GovernanceError::DuplicateApproval`]) and more than the chaincode's maximum.
    pub fn approve(&mut self, approver: &Approver) -> Result<&ProposalApproval> {
        if approver.network_id != self.network_id {
            return Err(GovernanceError::WrongNetwork {
                proposal: hex::encode(self.network_id),
                expected: hex::encode(approver.network_id),
            });
        }
        self.refuse_duplicate(&approver.org)?;
        if self.approvals.len() as u64 >= APPROVALS_MAX {
            return Err(invalid(
                "approvals",
                format!("a proposal carries at most {APPROVALS_MAX} approvals"),
            ));
        }
        let digest = self.digest();
        self.approvals.push(ProposalApproval {
            org: approver.org.clone(),
            key_id: approver.key_id.clone(),
            public_key: approver.key.verifying_key().to_bytes(),
            signature: approver.key.sign(&digest),
        });
        Ok(self.approvals.last().expect("just pushed"))
    }

    /// The governance transaction body (approvals without their public keys).
    pub fn governance_tx(&self) -> GovernanceTx {
        GovernanceTx {
            action: self.action.clone(),
            effective_height: self.effective_height,
            proposal_nonce: self.proposal_nonce,
            approvals: self
                .approvals
                .iter()
                .map(|a| Approval {
                    org: a.org.clone(),
                    key_id: a.key_id.clone(),
                    signature: a.signature,
                })
                .collect(),
        }
    }

    /// The proposal document (see the module documentation).
    pub fn to_json(&self) -> String {
        let document = ProposalDoc {
            format: PROPOSAL_FORMAT.to_string(),
            network_id: hex::encode(self.network_id),
            action: ActionDoc::from_action(&self.action),
            effective_height: self.effective_height,
            proposal_nonce: self.proposal_nonce,
            approval_digest: Some(hex::encode(self.digest())),
            approvals: self
                .approvals
                .iter()
                .map(|a| ApprovalDoc {
                    org: a.org.clone(),
                    key_id: a.key_id.clone(),
                    public_key: hex::encode(a.public_key),
                    signature: hex::encode(a.signature.to_bytes()),
                })
                .collect(),
        };
        let mut text =
            serde_json::to_string_pretty(&document).expect("proposal documents serialise");
        text.push('\n');
        text
    }

    /// Reads a proposal document: checks its format, fields, action, digest and every
    /// approval's signature, and refuses two approvals by one org.
    pub fn from_json(text: &str) -> Result<Proposal> {
        let document: ProposalDoc =
            serde_json::from_str(text).map_err(|e| GovernanceError::Document(e.to_string()))?;
        if document.format != PROPOSAL_FORMAT {
            return Err(invalid(
                "format",
                format!(
                    "{:?} is not a format this version reads ({PROPOSAL_FORMAT:?})",
                    document.format
                ),
            ));
        }
        let network_id = signer::parse_digest(&document.network_id).map_err(|_| {
            invalid(
                "networkId",
                format!("{:?} is not 64 hex digits", document.network_id),
            )
        })?;
        let action = document.action.into_action()?;
        let mut proposal = Proposal::new(
            network_id,
            action,
            document.effective_height,
            document.proposal_nonce,
        )?;
        let digest = proposal.digest();
        if let Some(written) = &document.approval_digest
            && !written.trim().eq_ignore_ascii_case(&hex::encode(digest))
        {
            return Err(invalid(
                "approvalDigest",
                format!(
                    "{written} is not the digest of this proposal ({}): the document was edited or written by an incompatible version",
                    hex::encode(digest)
                ),
            ));
        }
        if document.approvals.len() as u64 > APPROVALS_MAX {
            return Err(invalid(
                "approvals",
                format!("more than {APPROVALS_MAX} approvals"),
            ));
        }
        for (index, approval) in document.approvals.into_iter().enumerate() {
            let field = |name: &str| format!("approvals[{index}].{name}");
            check_id(&approval.org, &field("org"))?;
            check_id(&approval.key_id, &field("keyId"))?;
            let public_key = parse_public_key(&approval.public_key, &field("publicKey"))?;
            let mut signature = [0_u8; 64];
            hex::decode_to_slice(approval.signature.trim(), &mut signature)
                .map_err(|e| invalid(field("signature"), format!("not 128 hex digits: {e}")))?;
            let signature = Signature::from_bytes(&signature);
            let verified = pedigree_chaincode::tx::verifying_key(&public_key)
                .map_err(|e| invalid(field("publicKey"), e.to_string()))?
                .verify_strict(&digest, &signature)
                .is_ok();
            if !verified {
                return Err(GovernanceError::BadApproval {
                    index,
                    org: approval.org,
                });
            }
            proposal.refuse_duplicate(&approval.org)?;
            proposal.approvals.push(ProposalApproval {
                org: approval.org,
                key_id: approval.key_id,
                public_key,
                signature,
            });
        }
        Ok(proposal)
    }

    /// Reads a proposal file ([`Proposal::from_json`]).
    pub fn read_file(path: &Path) -> Result<Proposal> {
        let fail = |problem: String| GovernanceError::File {
            path: path.to_path_buf(),
            problem,
        };
        let metadata = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
        if metadata.len() > PROPOSAL_BYTES_MAX {
            return Err(fail(format!(
                "larger than {PROPOSAL_BYTES_MAX} bytes; not a proposal"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        Proposal::from_json(&text).map_err(|error| match error {
            GovernanceError::Document(problem) => {
                GovernanceError::Document(format!("{}: {problem}", path.display()))
            }
            other => other,
        })
    }

    /// Writes the proposal document to `path`, replacing it atomically (a temporary file
    /// in the same directory, then a rename), so an interrupted approval never leaves a
    /// half-written proposal.
    pub fn write_file(&self, path: &Path) -> Result<()> {
        let fail = |problem: String| GovernanceError::File {
            path: path.to_path_buf(),
            problem,
        };
        let name = path
            .file_name()
            .ok_or_else(|| fail("not a file name".into()))?;
        let mut temporary_name = std::ffi::OsString::from(".");
        temporary_name.push(name);
        temporary_name.push(format!(".{}.tmp", std::process::id()));
        let temporary = path.with_file_name(temporary_name);
        let written = std::fs::write(&temporary, self.to_json())
            .and_then(|()| std::fs::File::open(&temporary)?.sync_all())
            .and_then(|()| std::fs::rename(&temporary, path));
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(fail(error.to_string()));
        }
        Ok(())
    }

    /// How far the proposal is from its quorum under `genesis`'s membership and
    /// governance settings, with `submitter` (if known) counted as approving. Governance
    /// accepted since genesis (orgs or keys added or removed, a new quorum) is not
    /// known here; the ledger decides.
    pub fn quorum(&self, genesis: &Genesis, submitter: Option<&str>) -> QuorumReport {
        let active_orgs = genesis.orgs.len() as u64;
        let config = &genesis.governance;
        let required = if config.quorum_denominator == 0
            || config.quorum_numerator > config.quorum_denominator
        {
            active_orgs.max(1)
        } else {
            config.approvals_required(active_orgs)
        };
        let mut approving: Vec<String> = Vec::new();
        let mut not_counted: Vec<NotCounted> = Vec::new();
        for approval in &self.approvals {
            match registered_key(genesis, &approval.org, &approval.key_id) {
                KeyRegistration::Registered(key) if key == approval.public_key => {
                    approving.push(approval.org.clone());
                }
                KeyRegistration::Registered(_) => not_counted.push(NotCounted {
                    org: approval.org.clone(),
                    reason: format!(
                        "key {} is registered in genesis with another public key",
                        approval.key_id
                    ),
                }),
                KeyRegistration::UnknownKey => not_counted.push(NotCounted {
                    org: approval.org.clone(),
                    reason: format!("key {} is not in genesis", approval.key_id),
                }),
                KeyRegistration::UnknownOrg => not_counted.push(NotCounted {
                    org: approval.org.clone(),
                    reason: "not a genesis org".into(),
                }),
            }
        }
        let submitter_counted = submitter.is_some_and(|org| {
            genesis.orgs.iter().any(|o| o.id == org) && !approving.iter().any(|a| a == org)
        });
        if let Some(org) = submitter.filter(|_| submitter_counted) {
            approving.push(org.to_string());
        }
        approving.sort();
        approving.dedup();
        QuorumReport {
            network_matches: genesis.network_id() == self.network_id,
            active_orgs,
            required,
            reached: approving.len() as u64 >= required,
            approving,
            not_counted,
            missing: genesis
                .orgs
                .iter()
                .map(|o| o.id.clone())
                .filter(|id| {
                    !self.approvals.iter().any(|a| &a.org == id) && Some(id.as_str()) != submitter
                })
                .collect(),
        }
    }
}

/// Where a key stands in a genesis document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRegistration {
    /// The org has this key id, with this public key.
    Registered([u8; 32]),
    /// The org is in genesis but has no key with this id.
    UnknownKey,
    /// The org is not in genesis.
    UnknownOrg,
}

/// Looks up `org`/`key_id` in genesis.
pub fn registered_key(genesis: &Genesis, org: &str, key_id: &str) -> KeyRegistration {
    match genesis.orgs.iter().find(|o| o.id == org) {
        None => KeyRegistration::UnknownOrg,
        Some(spec) => spec
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .map_or(KeyRegistration::UnknownKey, |k| {
                KeyRegistration::Registered(k.public_key)
            }),
    }
}

/// A proposal's standing against a genesis membership ([`Proposal::quorum`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuorumReport {
    /// True if the genesis is the proposal's network.
    pub network_matches: bool,
    /// Orgs in genesis.
    pub active_orgs: u64,
    /// Approving orgs required (the submitter included).
    pub required: u64,
    /// True if `approving` reaches `required`.
    pub reached: bool,
    /// Distinct orgs that count (approvals with their genesis key, and the submitter).
    pub approving: Vec<String>,
    /// Approvals that do not count under genesis, with the reason.
    pub not_counted: Vec<NotCounted>,
    /// Genesis orgs that have not approved.
    pub missing: Vec<String>,
}

/// An approval that does not count under genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotCounted {
    /// The approving org.
    pub org: String,
    /// Why it does not count.
    pub reason: String,
}

/// One org's key, ready to approve proposals for one network.
#[derive(Debug)]
pub struct Approver {
    org: String,
    key_id: String,
    key: SigningKey,
    network_id: Digest32,
}

impl Approver {
    /// An approver for `org` on `network_id`; the key id is derived from the public key
    /// (as `pedigree keys gen` and `pedigree-node init` print it).
    pub fn new(org: &str, key: SigningKey, network_id: Digest32) -> Result<Approver> {
        let key_id = signer::key_id(key.verifying_key().as_bytes());
        Approver::with_key_id(org, &key_id, key, network_id)
    }

    /// An approver with an explicit key id (as registered in genesis or by governance).
    pub fn with_key_id(
        org: &str,
        key_id: &str,
        key: SigningKey,
        network_id: Digest32,
    ) -> Result<Approver> {
        check_id(org, "org")?;
        check_id(key_id, "key id")?;
        Ok(Approver {
            org: org.to_string(),
            key_id: key_id.to_string(),
            key,
            network_id,
        })
    }

    /// The approving org.
    pub fn org(&self) -> &str {
        &self.org
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Checks the key against `genesis`: an error if genesis registers this key id for
    /// the org with another public key ([`GovernanceError::BadKey`]); a warning (the
    /// key or org may have been added by governance since) if genesis does not know it.
    pub fn check_against(&self, genesis: &Genesis) -> Result<Option<String>> {
        let public_key = self.key.verifying_key().to_bytes();
        match registered_key(genesis, &self.org, &self.key_id) {
            KeyRegistration::Registered(key) if key == public_key => Ok(None),
            KeyRegistration::Registered(key) => Err(GovernanceError::BadKey {
                org: self.org.clone(),
                key_id: self.key_id.clone(),
                problem: format!(
                    "genesis registers public key {}, but this key file holds {}",
                    hex::encode(key),
                    hex::encode(public_key)
                ),
            }),
            KeyRegistration::UnknownKey => Ok(Some(format!(
                "genesis has no key {} for org {}; the approval only counts if governance added it since",
                self.key_id, self.org
            ))),
            KeyRegistration::UnknownOrg => Ok(Some(format!(
                "org {} is not in genesis; the approval only counts if governance added it since",
                self.org
            ))),
        }
    }
}

/// Appends `approver`'s approval to `proposal` ([`Proposal::approve`]).
pub fn approve(proposal: &mut Proposal, approver: &Approver) -> Result<()> {
    proposal.approve(approver).map(drop)
}

/// Signs the proposal as a governance transaction of `signer`'s org (which counts as
/// approving), submits it through [`Client::submit`] and returns the ledger's verdict
/// once it is committed and applied: accepted, or rejected with its numbered reason
/// (for example `QuorumNotMet`, 200, or `InvalidApproval`, 201). Refuses a signer on
/// another network.
pub async fn submit(client: &Client, proposal: &Proposal, signer: &OrgSigner) -> Result<TxResult> {
    if signer.network_id() != proposal.network_id() {
        return Err(GovernanceError::WrongNetwork {
            proposal: hex::encode(proposal.network_id()),
            expected: hex::encode(signer.network_id()),
        });
    }
    let tx = signer.sign(TxBody::Governance(proposal.governance_tx()));
    let tx_id = hex::encode(tx.tx_id());
    let mut results = client.submit(&[tx]).await?;
    let mut result = results.pop().ok_or_else(|| ClientError::Decode {
        url: format!("{}/capture", client.base_url()),
        message: "no result for the governance transaction".into(),
    })?;
    result.tx_id.get_or_insert(tx_id);
    Ok(result)
}

// ---------------------------------------------------------------------------------------
// The document's serde shapes (kept apart from the chaincode types, whose serde form is
// the binary canonical encoding).
// ---------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProposalDoc {
    format: String,
    network_id: String,
    action: ActionDoc,
    effective_height: u64,
    proposal_nonce: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    approval_digest: Option<String>,
    #[serde(default)]
    approvals: Vec<ApprovalDoc>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ApprovalDoc {
    org: String,
    key_id: String,
    public_key: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyDoc {
    id: String,
    public_key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GlnDoc {
    gln: String,
    name: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrgDoc {
    id: String,
    name: String,
    roles: Vec<Role>,
    keys: Vec<KeyDoc>,
    #[serde(default)]
    company_prefixes: Vec<String>,
    #[serde(default)]
    glns: Vec<GlnDoc>,
    #[serde(default)]
    nodes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
enum ActionDoc {
    AddOrg {
        org: OrgDoc,
    },
    RemoveOrg {
        org: String,
    },
    AddKey {
        org: String,
        key: KeyDoc,
    },
    RevokeKey {
        org: String,
        key_id: String,
    },
    RotateKey {
        org: String,
        old_key_id: String,
        new_key: KeyDoc,
    },
    RegisterPrefix {
        org: String,
        prefix: String,
    },
    RegisterGln {
        org: String,
        gln: String,
        name: String,
    },
    DelegateGtin {
        brand_owner: String,
        gtin: String,
        cmo: String,
    },
    RevokeDelegation {
        gtin: String,
        cmo: String,
    },
    AddNode {
        org: String,
        peer_id: String,
    },
    RemoveNode {
        peer_id: String,
    },
    SetQuorum {
        quorum_numerator: u64,
        quorum_denominator: u64,
    },
}

impl KeyDoc {
    fn from_spec(key: &KeySpec) -> KeyDoc {
        KeyDoc {
            id: key.id.clone(),
            public_key: hex::encode(key.public_key),
        }
    }

    fn into_spec(self, field: &str) -> Result<KeySpec> {
        Ok(KeySpec {
            public_key: parse_public_key(&self.public_key, &format!("{field}.publicKey"))?,
            id: self.id,
        })
    }
}

impl ActionDoc {
    fn from_action(action: &GovAction) -> ActionDoc {
        match action.clone() {
            GovAction::AddOrg(spec) => ActionDoc::AddOrg {
                org: OrgDoc {
                    keys: spec.keys.iter().map(KeyDoc::from_spec).collect(),
                    glns: spec
                        .glns
                        .into_iter()
                        .map(|g| GlnDoc {
                            gln: g.gln,
                            name: g.name,
                        })
                        .collect(),
                    id: spec.id,
                    name: spec.name,
                    roles: spec.roles,
                    company_prefixes: spec.company_prefixes,
                    nodes: spec.nodes,
                },
            },
            GovAction::RemoveOrg { org } => ActionDoc::RemoveOrg { org },
            GovAction::AddKey { org, key } => ActionDoc::AddKey {
                org,
                key: KeyDoc::from_spec(&key),
            },
            GovAction::RevokeKey { org, key_id } => ActionDoc::RevokeKey { org, key_id },
            GovAction::RotateKey {
                org,
                old_key_id,
                new_key,
            } => ActionDoc::RotateKey {
                org,
                old_key_id,
                new_key: KeyDoc::from_spec(&new_key),
            },
            GovAction::RegisterPrefix { org, prefix } => ActionDoc::RegisterPrefix { org, prefix },
            GovAction::RegisterGln { org, gln } => ActionDoc::RegisterGln {
                org,
                gln: gln.gln,
                name: gln.name,
            },
            GovAction::DelegateGtin {
                brand_owner,
                gtin,
                cmo,
            } => ActionDoc::DelegateGtin {
                brand_owner,
                gtin,
                cmo,
            },
            GovAction::RevokeDelegation { gtin, cmo } => ActionDoc::RevokeDelegation { gtin, cmo },
            GovAction::AddNode { org, peer_id } => ActionDoc::AddNode { org, peer_id },
            GovAction::RemoveNode { peer_id } => ActionDoc::RemoveNode { peer_id },
            GovAction::SetQuorum(config) => ActionDoc::SetQuorum {
                quorum_numerator: config.quorum_numerator,
                quorum_denominator: config.quorum_denominator,
            },
        }
    }

    /// The action exactly as written (no sorting: the digest covers this order).
    fn into_action(self) -> Result<GovAction> {
        Ok(match self {
            ActionDoc::AddOrg { org } => {
                let mut keys = Vec::with_capacity(org.keys.len());
                for (index, key) in org.keys.into_iter().enumerate() {
                    keys.push(key.into_spec(&format!("action.org.keys[{index}]"))?);
                }
                GovAction::AddOrg(OrgSpec {
                    id: org.id,
                    name: org.name,
                    roles: org.roles,
                    keys,
                    company_prefixes: org.company_prefixes,
                    glns: org
                        .glns
                        .into_iter()
                        .map(|g| GlnSpec {
                            gln: g.gln,
                            name: g.name,
                        })
                        .collect(),
                    nodes: org.nodes,
                })
            }
            ActionDoc::RemoveOrg { org } => GovAction::RemoveOrg { org },
            ActionDoc::AddKey { org, key } => GovAction::AddKey {
                org,
                key: key.into_spec("action.key")?,
            },
            ActionDoc::RevokeKey { org, key_id } => GovAction::RevokeKey { org, key_id },
            ActionDoc::RotateKey {
                org,
                old_key_id,
                new_key,
            } => GovAction::RotateKey {
                org,
                old_key_id,
                new_key: new_key.into_spec("action.newKey")?,
            },
            ActionDoc::RegisterPrefix { org, prefix } => GovAction::RegisterPrefix { org, prefix },
            ActionDoc::RegisterGln { org, gln, name } => GovAction::RegisterGln {
                org,
                gln: GlnSpec { gln, name },
            },
            ActionDoc::DelegateGtin {
                brand_owner,
                gtin,
                cmo,
            } => GovAction::DelegateGtin {
                brand_owner,
                gtin,
                cmo,
            },
            ActionDoc::RevokeDelegation { gtin, cmo } => GovAction::RevokeDelegation { gtin, cmo },
            ActionDoc::AddNode { org, peer_id } => GovAction::AddNode { org, peer_id },
            ActionDoc::RemoveNode { peer_id } => GovAction::RemoveNode { peer_id },
            ActionDoc::SetQuorum {
                quorum_numerator,
                quorum_denominator,
            } => GovAction::SetQuorum(GovernanceConfig {
                quorum_numerator,
                quorum_denominator,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesis::{GlnEntry, OrgDescription, PublicParts, assemble};
    use pedigree_chaincode::{BlockCtx, MemState, Outcome, apply_block};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn public(seed: u8) -> [u8; 32] {
        key(seed).verifying_key().to_bytes()
    }

    /// mfg (manufacturer, prefix 0614141), cmo, dist, pharm: quorum 1/2 of 4 = 3 orgs.
    fn genesis() -> Genesis {
        let orgs = [
            ("mfg", "manufacturer", Some("0614141"), "0614141000005", 1),
            ("cmo", "cmo", Some("0777771"), "0777771000002", 2),
            ("dist", "distributor", Some("0888881"), "0888881000001", 3),
            ("pharm", "dispenser", None, "0555551000004", 4),
        ];
        let (descriptions, parts): (Vec<_>, Vec<_>) = orgs
            .into_iter()
            .map(|(id, role, prefix, gln, seed)| {
                (
                    OrgDescription {
                        id: id.into(),
                        name: id.into(),
                        roles: vec![role.into()],
                        company_prefixes: prefix.into_iter().map(str::to_string).collect(),
                        nodes: vec![],
                        keys: vec![],
                        glns: vec![GlnEntry {
                            gln: gln.into(),
                            name: id.into(),
                        }],
                    },
                    PublicParts {
                        org: id.into(),
                        peer_id: None,
                        signing_public_key: hex::encode(public(seed)),
                        signing_key_id: signer::key_id(&public(seed)),
                    },
                )
            })
            .unzip();
        assemble("gov-test", 1_767_225_600_000, descriptions, &parts)
            .unwrap()
            .genesis
    }

    fn approver(org: &str, seed: u8, network_id: Digest32) -> Approver {
        Approver::new(org, key(seed), network_id).unwrap()
    }

    /// One action of every kind.
    fn every_action() -> Vec<GovAction> {
        vec![
            NewOrg::new("wholesale", "Wholesale Inc.")
                .role(Role::Distributor)
                .key(key_spec(public(9), None))
                .key(key_spec(public(10), Some("backup")))
                .prefix("0999991")
                .gln("0999991000000", "Wholesale DC")
                .node("12D3KooWWholesale")
                .build()
                .unwrap(),
            remove_org("pharm").unwrap(),
            add_key("dist", key_spec(public(11), Some("k2"))).unwrap(),
            revoke_key("dist", "k2").unwrap(),
            rotate_key(
                "dist",
                &signer::key_id(&public(3)),
                key_spec(public(12), None),
            )
            .unwrap(),
            register_prefix("mfg", "0614142").unwrap(),
            register_gln("mfg", "0614141000012", "Plant 2").unwrap(),
            delegate_gtin("mfg", "614141073467", "cmo").unwrap(),
            revoke_delegation("00614141073467", "cmo").unwrap(),
            add_node("pharm", "12D3KooWPharm2").unwrap(),
            remove_node("12D3KooWPharm2").unwrap(),
            set_quorum(2, 3).unwrap(),
        ]
    }

    #[test]
    fn every_action_round_trips_through_the_document_with_approvals() {
        let network_id = genesis().network_id();
        for (index, action) in every_action().into_iter().enumerate() {
            let mut proposal = Proposal::new(network_id, action, 7, 1_000 + index as u64).unwrap();
            approve(&mut proposal, &approver("dist", 3, network_id)).unwrap();
            approve(&mut proposal, &approver("cmo", 2, network_id)).unwrap();
            let text = proposal.to_json();
            let back = Proposal::from_json(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(back, proposal, "{text}");
            assert_eq!(back.to_json(), text, "stable output");
            assert_eq!(back.digest(), proposal.digest());
        }
    }

    #[test]
    fn the_document_has_the_documented_shape() {
        let network_id = [0xab; 32];
        let action = register_prefix("mfg", "0614142").unwrap();
        let proposal = Proposal::new(network_id, action.clone(), 0, 42).unwrap();
        let digest = hex::encode(approval_digest(&network_id, &action, 0, 42));
        let expected = format!(
            r#"{{
  "format": "pedigree-governance-proposal/v1",
  "networkId": "{}",
  "action": {{
    "type": "registerPrefix",
    "org": "mfg",
    "prefix": "0614142"
  }},
  "effectiveHeight": 0,
  "proposalNonce": 42,
  "approvalDigest": "{digest}",
  "approvals": []
}}
"#,
            "ab".repeat(32)
        );
        assert_eq!(proposal.to_json(), expected);
        // Without the optional digest and approvals, it reads too.
        let minimal = format!(
            r#"{{"format": "pedigree-governance-proposal/v1", "networkId": "{}",
               "action": {{"type": "delegateGtin", "brandOwner": "mfg", "gtin": "00614141073467", "cmo": "cmo"}},
               "effectiveHeight": 3, "proposalNonce": 1}}"#,
            "ab".repeat(32)
        );
        let read = Proposal::from_json(&minimal).unwrap();
        assert_eq!(
            read.action(),
            &GovAction::DelegateGtin {
                brand_owner: "mfg".into(),
                gtin: "00614141073467".into(),
                cmo: "cmo".into()
            }
        );
        assert_eq!(read.effective_height(), 3);
        let value: serde_json::Value = serde_json::from_str(
            &Proposal::new(network_id, every_action().remove(0), 0, 1)
                .unwrap()
                .to_json(),
        )
        .unwrap();
        let org = &value["action"]["org"];
        assert_eq!(value["action"]["type"], "addOrg");
        assert_eq!(org["roles"][0], "distributor");
        // Lists are sorted by the builder (keys by id): find the key by its id.
        let derived = org["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == signer::key_id(&public(9)))
            .unwrap();
        assert_eq!(derived["publicKey"], hex::encode(public(9)));
        assert_eq!(org["companyPrefixes"][0], "0999991");
        assert_eq!(org["glns"][0]["gln"], "0999991000000");
    }

    #[test]
    fn a_second_approval_by_the_same_org_is_refused() {
        let network_id = [1; 32];
        let mut proposal =
            Proposal::new(network_id, remove_node("12D3KooWX").unwrap(), 0, 5).unwrap();
        approve(&mut proposal, &approver("dist", 3, network_id)).unwrap();
        // Same org with another key: still the same org.
        let error = approve(&mut proposal, &approver("dist", 4, network_id)).unwrap_err();
        assert!(
            matches!(&error, GovernanceError::DuplicateApproval { org, .. } if org == "dist"),
            "{error}"
        );
        assert_eq!(proposal.approvals().len(), 1);
        // A document listing one org twice does not read either.
        let mut value: serde_json::Value = serde_json::from_str(&proposal.to_json()).unwrap();
        let first = value["approvals"][0].clone();
        value["approvals"].as_array_mut().unwrap().push(first);
        let error = Proposal::from_json(&value.to_string()).unwrap_err();
        assert!(
            matches!(error, GovernanceError::DuplicateApproval { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_proposal_for_another_network_is_not_signed() {
        let mut proposal =
            Proposal::new([1; 32], register_prefix("mfg", "0614142").unwrap(), 0, 5).unwrap();
        let error = approve(&mut proposal, &approver("dist", 3, [2; 32])).unwrap_err();
        assert!(
            matches!(error, GovernanceError::WrongNetwork { .. }),
            "{error}"
        );
        assert!(error.to_string().contains(&"01".repeat(32)), "{error}");
        assert!(proposal.approvals().is_empty());
    }

    #[test]
    fn bad_keys_and_edited_documents_are_refused() {
        let genesis = genesis();
        let network_id = genesis.network_id();
        // A key file that is not the org's genesis key under the derived id of another key.
        let wrong =
            Approver::with_key_id("dist", &signer::key_id(&public(3)), key(5), network_id).unwrap();
        let error = wrong.check_against(&genesis).unwrap_err();
        assert!(matches!(error, GovernanceError::BadKey { .. }), "{error}");
        assert!(error.to_string().contains("genesis registers"), "{error}");
        assert_eq!(
            approver("dist", 3, network_id)
                .check_against(&genesis)
                .unwrap(),
            None
        );
        assert!(
            approver("newcomer", 6, network_id)
                .check_against(&genesis)
                .unwrap()
                .unwrap()
                .contains("not in genesis")
        );
        assert!(Approver::new("Not An Id", key(3), network_id).is_err());

        let mut proposal =
            Proposal::new(network_id, register_prefix("mfg", "0614142").unwrap(), 0, 9).unwrap();
        approve(&mut proposal, &approver("dist", 3, network_id)).unwrap();
        let text = proposal.to_json();
        // The action edited after the approval (digest updated to match): the approval fails.
        let edited = text.replace("0614142", "0614143");
        let mut value: serde_json::Value = serde_json::from_str(&edited).unwrap();
        value["approvalDigest"] = serde_json::Value::Null;
        let error = Proposal::from_json(&value.to_string()).unwrap_err();
        assert!(
            matches!(&error, GovernanceError::BadApproval { index: 0, org } if org == "dist"),
            "{error}"
        );
        // The digest left as it was: named.
        let error = Proposal::from_json(&edited).unwrap_err().to_string();
        assert!(error.starts_with("approvalDigest:"), "{error}");
        // A signature that is not hex, a public key that is too short.
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["approvals"][0]["signature"] = "zz".into();
        let error = Proposal::from_json(&value.to_string())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("approvals[0].signature:"), "{error}");
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["approvals"][0]["publicKey"] = "abcd".into();
        let error = Proposal::from_json(&value.to_string())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("approvals[0].publicKey:"), "{error}");
        // Another org's key under this org's name does not verify either.
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["approvals"][0]["publicKey"] = hex::encode(public(4)).into();
        assert!(matches!(
            Proposal::from_json(&value.to_string()).unwrap_err(),
            GovernanceError::BadApproval { .. }
        ));
    }

    #[test]
    fn bad_documents_name_the_problem() {
        let network_id = "ab".repeat(32);
        let doc = |action: &str, extra: &str| {
            format!(
                r#"{{"format": "pedigree-governance-proposal/v1", "networkId": "{network_id}", "action": {action}, "effectiveHeight": 0, "proposalNonce": 1{extra}}}"#
            )
        };
        let cases = [
            (
                doc(
                    r#"{"type": "registerPrefix", "org": "mfg", "prefix": "06"}"#,
                    "",
                ),
                "action.prefix",
            ),
            (
                doc(
                    r#"{"type": "registerGln", "org": "mfg", "gln": "0614141000006", "name": "x"}"#,
                    "",
                ),
                "action.gln",
            ),
            (
                doc(
                    r#"{"type": "delegateGtin", "brandOwner": "mfg", "gtin": "00614141073468", "cmo": "cmo"}"#,
                    "",
                ),
                "action.gtin",
            ),
            (
                doc(
                    r#"{"type": "setQuorum", "quorumNumerator": 3, "quorumDenominator": 2}"#,
                    "",
                ),
                "action.quorumNumerator",
            ),
            (
                doc(
                    r#"{"type": "addNode", "org": "mfg", "peerId": "not/a/peer"}"#,
                    "",
                ),
                "action.peerId",
            ),
            (
                doc(r#"{"type": "removeOrg", "org": "MFG"}"#, ""),
                "action.org",
            ),
            (
                doc(
                    r#"{"type": "addKey", "org": "mfg", "key": {"id": "k2", "publicKey": "00"}}"#,
                    "",
                ),
                "action.key.publicKey",
            ),
            (
                doc(
                    r#"{"type": "addOrg", "org": {"id": "x", "name": "x", "roles": ["cmo"], "keys": []}}"#,
                    "",
                ),
                "action.org.keys",
            ),
            (
                doc(
                    r#"{"type": "removeNode", "peerId": "12D3"}"#,
                    r#", "networkId2": 1"#,
                ),
                "unknown field",
            ),
            (
                doc(
                    r#"{"type": "removeNode", "peerId": "12D3", "note": "x"}"#,
                    "",
                ),
                "unknown field",
            ),
            (
                doc(r#"{"type": "dropTable", "peerId": "12D3"}"#, ""),
                "unknown variant",
            ),
            (
                doc(r#"{"type": "removeNode", "peerId": "12D3"}"#, "").replace("/v1", "/v9"),
                "format",
            ),
            (
                doc(r#"{"type": "removeNode", "peerId": "12D3"}"#, "").replace(&network_id, "abc"),
                "networkId",
            ),
        ];
        for (text, expected) in cases {
            let error = Proposal::from_json(&text).unwrap_err().to_string();
            assert!(
                error.contains(expected),
                "{expected:?} not in {error:?}\n{text}"
            );
        }
        assert!(
            Proposal::from_json("{")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
    }

    #[test]
    fn builders_refuse_malformed_actions() {
        assert!(register_prefix("mfg", "12345678901234").is_err());
        assert!(delegate_gtin("mfg", "123", "cmo").is_err());
        assert!(set_quorum(1, 0).is_err());
        assert!(rotate_key("mfg", "k1", key_spec(public(1), Some("k1"))).is_err());
        let weak = KeySpec {
            id: "weak".into(),
            public_key: [0; 32],
        };
        let error = add_key("mfg", weak).unwrap_err().to_string();
        assert!(error.starts_with("action.key.publicKey"), "{error}");
        assert!(
            NewOrg::new("x", "X")
                .key(key_spec(public(1), None))
                .build()
                .is_err()
        );
        assert!(
            NewOrg::new("x", "X")
                .role(Role::Cmo)
                .key(key_spec(public(1), None))
                .gln("0614141000006", "bad check digit")
                .build()
                .unwrap_err()
                .to_string()
                .starts_with("action.org.glns[0].gln")
        );
        // A short GTIN is stored as GTIN-14.
        assert_eq!(
            delegate_gtin("mfg", "614141073467", "cmo").unwrap(),
            GovAction::DelegateGtin {
                brand_owner: "mfg".into(),
                gtin: "00614141073467".into(),
                cmo: "cmo".into()
            }
        );
    }

    /// Applies `proposal` submitted by `submitter` on a fresh genesis state.
    fn apply_on_genesis(genesis: &Genesis, proposal: &Proposal, submitter: (&str, u8)) -> Outcome {
        let mut state = MemState::new();
        genesis.initialize(&mut state);
        let signer = OrgSigner::new(submitter.0, key(submitter.1), genesis.network_id());
        let tx = signer.sign(TxBody::Governance(proposal.governance_tx()));
        let verified = tx.verify().unwrap();
        let ctx = BlockCtx {
            height: 1,
            timestamp_ms: genesis.genesis_time_ms + 1,
        };
        apply_block(&mut state, &ctx, &[verified]).receipts[0].outcome
    }

    #[test]
    fn the_rule_book_accepts_the_approvals_and_counts_the_quorum() {
        let genesis = genesis();
        let network_id = genesis.network_id();
        let action = delegate_gtin("mfg", "00614141073467", "cmo").unwrap();
        let mut proposal = Proposal::new(network_id, action, 0, random_nonce()).unwrap();
        assert!(proposal.proposal_nonce() < 1 << 53);
        // 4 orgs, quorum 1/2: 3 approving orgs needed.
        approve(&mut proposal, &approver("cmo", 2, network_id)).unwrap();
        let report = proposal.quorum(&genesis, Some("mfg"));
        assert!(report.network_matches);
        assert_eq!((report.required, report.reached), (3, false));
        assert_eq!(report.approving, ["cmo", "mfg"]);
        assert_eq!(report.missing, ["dist", "pharm"]);
        assert_eq!(
            apply_on_genesis(&genesis, &proposal, ("mfg", 1)),
            Outcome::QuorumNotMet
        );

        approve(&mut proposal, &approver("dist", 3, network_id)).unwrap();
        let report = proposal.quorum(&genesis, Some("mfg"));
        assert!(report.reached, "{report:?}");
        // Read back from the document, the approvals still count.
        let read = Proposal::from_json(&proposal.to_json()).unwrap();
        assert_eq!(
            apply_on_genesis(&genesis, &read, ("mfg", 1)),
            Outcome::Applied
        );

        // An approval under a key id the org does not have is refused by the ledger.
        let mut stray = Proposal::new(network_id, proposal.action().clone(), 0, 77).unwrap();
        approve(&mut stray, &approver("cmo", 2, network_id)).unwrap();
        approve(
            &mut stray,
            &Approver::with_key_id("dist", "k9", key(3), network_id).unwrap(),
        )
        .unwrap();
        let report = stray.quorum(&genesis, Some("mfg"));
        assert!(!report.reached);
        assert_eq!(report.not_counted[0].org, "dist");
        assert_eq!(
            apply_on_genesis(&genesis, &stray, ("mfg", 1)),
            Outcome::InvalidApproval
        );
    }

    #[test]
    fn files_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("proposal.json");
        let network_id = [3; 32];
        let mut proposal = Proposal::new(network_id, set_quorum(2, 3).unwrap(), 10, 1).unwrap();
        proposal.write_file(&path).unwrap();
        approve(&mut proposal, &approver("dist", 3, network_id)).unwrap();
        proposal.write_file(&path).unwrap();
        assert_eq!(Proposal::read_file(&path).unwrap(), proposal);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
        let missing = Proposal::read_file(&dir.path().join("nope.json")).unwrap_err();
        assert!(!missing.is_invalid_input());
        assert!(missing.to_string().contains("nope.json"));
    }
}
