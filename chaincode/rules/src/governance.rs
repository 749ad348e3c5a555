//! Governance: membership changes after genesis, approved by a quorum of orgs.
//!
//! A [`GovernanceTx`] carries one [`GovAction`], the height it takes effect at and the
//! approvals (signatures) of other orgs. The submitting org counts as approving (its
//! envelope signature covers the whole body). Each approval signs
//! `sha256("pedigree/governance-approval/v1\0" || network_id || bincode((action, effective_height, proposal_nonce)))`.
//! The transaction is accepted when the distinct approving active orgs reach
//! [`GovernanceConfig::approvals_required`]. If `effective_height` is at most the
//! current height the action applies at once (and is validated now); otherwise it is
//! queued under `gov/pending/` and applied by [`crate::begin_block`] at that height,
//! where it is validated again against the membership of that moment.

use crate::codec::{self, DOMAIN_APPROVAL, Digest32};
use crate::ident::is_valid_key;
use crate::keys;
use crate::membership::{self, load, store};
use crate::receipt::{Outcome, RuleResult, reject};
use crate::records::{
    DelegationRecord, GlnRecord, GovernanceConfig, KeyRecord, OrgId, OrgRecord, OrgStatus,
    PendingGovernance, Role, is_valid_short_id,
};
use crate::state::StateView;
use crate::tx::verifying_key;
use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};

/// Most approvals one governance transaction may carry.
pub const APPROVALS_MAX: u64 = 256;
/// Most actions that may become effective at one height.
pub const PENDING_PER_HEIGHT_MAX: u64 = 1_000;
/// Most keys, prefixes, GLNs or nodes in one org spec.
pub const ORG_SPEC_ITEMS_MAX: u64 = 1_000;

/// A signing key as declared in genesis or governance.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeySpec {
    /// Key id, unique within the org.
    pub id: String,
    /// Ed25519 public key.
    pub public_key: [u8; 32],
}

/// A GLN as declared in genesis or governance.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GlnSpec {
    /// GLN-13 digits with check digit.
    pub gln: String,
    /// Display name.
    pub name: String,
}

/// A complete org, as declared in genesis or added by governance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSpec {
    /// Org id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Transaction-signing keys.
    pub keys: Vec<KeySpec>,
    /// GS1 company prefixes owned.
    pub company_prefixes: Vec<String>,
    /// GLNs (parties and locations).
    pub glns: Vec<GlnSpec>,
    /// Node identities (libp2p peer ids).
    pub nodes: Vec<String>,
}

impl OrgSpec {
    /// Sorts and de-duplicates every list, so equal specs encode equally.
    pub fn normalise(&mut self) {
        self.roles.sort();
        self.roles.dedup();
        self.keys.sort();
        self.company_prefixes.sort();
        self.company_prefixes.dedup();
        self.glns.sort();
        self.nodes.sort();
        self.nodes.dedup();
    }
}

/// A membership change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GovAction {
    /// Add an org with its keys, prefixes, GLNs and nodes.
    AddOrg(OrgSpec),
    /// Remove an org (its keys stop signing; its records stay).
    RemoveOrg {
        /// Org.
        org: OrgId,
    },
    /// Add a signing key.
    AddKey {
        /// Org.
        org: OrgId,
        /// New key.
        key: KeySpec,
    },
    /// Revoke a signing key.
    RevokeKey {
        /// Org.
        org: OrgId,
        /// Key id.
        key_id: String,
    },
    /// Replace a key: add the new one and revoke the old one at the same height.
    RotateKey {
        /// Org.
        org: OrgId,
        /// Key to revoke.
        old_key_id: String,
        /// Key to add.
        new_key: KeySpec,
    },
    /// Register a GS1 company prefix to an org.
    RegisterPrefix {
        /// Org.
        org: OrgId,
        /// Company prefix digits.
        prefix: String,
    },
    /// Register a GLN to an org.
    RegisterGln {
        /// Org.
        org: OrgId,
        /// GLN.
        gln: GlnSpec,
    },
    /// Let a CMO commission a GTIN owned by a brand owner.
    DelegateGtin {
        /// Brand owner (must own the GTIN's company prefix).
        brand_owner: OrgId,
        /// GTIN-14.
        gtin: String,
        /// CMO (must have the CMO role).
        cmo: OrgId,
    },
    /// Withdraw a delegation.
    RevokeDelegation {
        /// GTIN-14.
        gtin: String,
        /// CMO.
        cmo: OrgId,
    },
    /// Add a node identity.
    AddNode {
        /// Org.
        org: OrgId,
        /// libp2p peer id.
        peer_id: String,
    },
    /// Remove a node identity.
    RemoveNode {
        /// libp2p peer id.
        peer_id: String,
    },
    /// Change the quorum.
    SetQuorum(GovernanceConfig),
}

/// One org's approval of a governance action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Approving org.
    pub org: OrgId,
    /// Key id used.
    pub key_id: String,
    /// Signature over [`approval_digest`].
    pub signature: Signature,
}

/// A governance transaction body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceTx {
    /// The change.
    pub action: GovAction,
    /// Height at which it takes effect.
    pub effective_height: u64,
    /// Distinguishes otherwise identical proposals (approvals bind to it).
    pub proposal_nonce: u64,
    /// Approvals by other orgs.
    pub approvals: Vec<Approval>,
}

/// The digest an approving org signs.
pub fn approval_digest(
    network_id: &Digest32,
    action: &GovAction,
    effective_height: u64,
    proposal_nonce: u64,
) -> Digest32 {
    codec::hash_parts(
        DOMAIN_APPROVAL,
        &[
            network_id,
            &codec::encode(&(action, effective_height, proposal_nonce)),
        ],
    )
}

/// Checks approvals and quorum, then applies or schedules the action.
pub(crate) fn execute(
    state: &mut impl StateView,
    network_id: &Digest32,
    height: u64,
    signer_org: &str,
    tx_id: &Digest32,
    tx: &GovernanceTx,
) -> RuleResult<()> {
    if tx.approvals.len() as u64 > APPROVALS_MAX {
        return reject(Outcome::LimitExceeded, "too many approvals");
    }
    let digest = approval_digest(
        network_id,
        &tx.action,
        tx.effective_height,
        tx.proposal_nonce,
    );
    let mut approving: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    approving.insert(signer_org);
    for approval in &tx.approvals {
        if membership::active_org(state, &approval.org).is_none() {
            return reject(
                Outcome::InvalidApproval,
                format!("approval by non-member org {}", approval.org),
            );
        }
        let Some(key) = membership::signing_key(state, &approval.org, &approval.key_id) else {
            return reject(
                Outcome::InvalidApproval,
                format!("unknown approval key {}/{}", approval.org, approval.key_id),
            );
        };
        if !membership::key_valid_at(&key, height) {
            return reject(
                Outcome::InvalidApproval,
                format!(
                    "approval key {}/{} not valid",
                    approval.org, approval.key_id
                ),
            );
        }
        let verified = verifying_key(&key.public_key)
            .ok()
            .is_some_and(|public| public.verify_strict(&digest, &approval.signature).is_ok());
        if !verified {
            return reject(
                Outcome::InvalidApproval,
                format!("approval signature of {} does not verify", approval.org),
            );
        }
        approving.insert(&approval.org);
    }
    let config: GovernanceConfig =
        load(state, keys::META_GOVERNANCE).expect("governance config missing");
    let required = config.approvals_required(membership::active_org_count(state));
    if (approving.len() as u64) < required {
        return reject(
            Outcome::QuorumNotMet,
            format!("{} of {required} required approvals", approving.len()),
        );
    }
    if tx.effective_height <= height {
        return apply_action(state, height, &tx.action);
    }
    // Validate now too, so a proposal that is already invalid is rejected up front.
    let mut probe = crate::state::Overlay::new(&*state);
    apply_action(&mut probe, height, &tx.action)?;
    let pending = PendingGovernance {
        action: tx.action.clone(),
        tx_id: *tx_id,
        effective_height: tx.effective_height,
    };
    store(
        state,
        keys::pending_governance(tx.effective_height, tx_id),
        &pending,
    );
    Ok(())
}

/// Applies every pending action due at or before `height`, in key order. Returns the
/// outcome of each (an action that became invalid while pending is dropped).
pub(crate) fn activate_pending(
    state: &mut impl StateView,
    height: u64,
) -> Vec<(Digest32, Outcome)> {
    let mut end = keys::GOV_PENDING_PREFIX.to_vec();
    end.extend_from_slice(&(height.saturating_add(1)).to_be_bytes());
    let due = state.range(keys::GOV_PENDING_PREFIX, Some(&end), PENDING_PER_HEIGHT_MAX);
    let mut outcomes = Vec::with_capacity(due.len());
    for (key, bytes) in due {
        let pending: PendingGovernance = codec::decode(&bytes).expect("corrupt pending governance");
        assert!(pending.effective_height <= height);
        state.delete(&key);
        let mut overlay = crate::state::Overlay::new(&*state);
        let outcome = match apply_action(&mut overlay, height, &pending.action) {
            Ok(()) => {
                let writes = overlay.into_writes();
                crate::state::apply_writes(state, writes);
                Outcome::Applied
            }
            Err(rejection) => rejection.outcome,
        };
        outcomes.push((pending.tx_id, outcome));
    }
    outcomes
}

fn require_active_org(state: &impl StateView, org: &str) -> RuleResult<OrgRecord> {
    match membership::org(state, org) {
        Some(record) if record.status == OrgStatus::Active => Ok(record),
        Some(_) => reject(
            Outcome::GovernanceTargetMissing,
            format!("org {org} was removed"),
        ),
        None => reject(
            Outcome::GovernanceTargetMissing,
            format!("unknown org {org}"),
        ),
    }
}

fn add_key(state: &mut impl StateView, height: u64, org: &str, key: &KeySpec) -> RuleResult<()> {
    if !is_valid_short_id(&key.id) {
        return reject(Outcome::MalformedBody, format!("bad key id {:?}", key.id));
    }
    if verifying_key(&key.public_key).is_err() {
        return reject(
            Outcome::MalformedBody,
            format!("key {} is not a usable ed25519 key", key.id),
        );
    }
    let storage_key = keys::signing_key(org, &key.id);
    if state.contains(&storage_key) {
        return reject(
            Outcome::GovernanceConflict,
            format!("key {org}/{} exists (key ids are never reused)", key.id),
        );
    }
    store(
        state,
        storage_key,
        &KeyRecord {
            public_key: key.public_key,
            valid_from_height: height,
            revoked_at_height: None,
        },
    );
    Ok(())
}

fn register_prefix(state: &mut impl StateView, org: &str, prefix: &str) -> RuleResult<()> {
    let length_ok = (membership::COMPANY_PREFIX_LENGTH_MIN..=membership::COMPANY_PREFIX_LENGTH_MAX)
        .contains(&prefix.len());
    if !length_ok || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return reject(
            Outcome::MalformedBody,
            format!("bad company prefix {prefix:?}"),
        );
    }
    // A prefix may not nest inside another org's prefix: ownership must be unambiguous.
    if let Some(owner) =
        membership::prefix_owner(state, &format!("{prefix:0<12}")).filter(|owner| owner != org)
    {
        return reject(
            Outcome::GovernanceConflict,
            format!("prefix {prefix} overlaps a prefix of {owner}"),
        );
    }
    let key = keys::company_prefix(prefix);
    if state.contains(&key) {
        return reject(
            Outcome::GovernanceConflict,
            format!("prefix {prefix} already registered"),
        );
    }
    store(state, key, &org.to_string());
    Ok(())
}

fn register_gln(state: &mut impl StateView, org: &str, gln: &GlnSpec) -> RuleResult<()> {
    if !is_valid_key(&gln.gln, 13) {
        return reject(Outcome::MalformedBody, format!("bad GLN {:?}", gln.gln));
    }
    let key = keys::gln(&gln.gln);
    if state.contains(&key) {
        return reject(
            Outcome::GovernanceConflict,
            format!("GLN {} already registered", gln.gln),
        );
    }
    store(
        state,
        key,
        &GlnRecord {
            org: org.to_string(),
            name: gln.name.clone(),
        },
    );
    Ok(())
}

fn add_node(state: &mut impl StateView, org: &str, peer_id: &str) -> RuleResult<()> {
    let well_formed = !peer_id.is_empty()
        && peer_id.len() <= 128
        && peer_id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed {
        return reject(Outcome::MalformedBody, format!("bad peer id {peer_id:?}"));
    }
    let key = keys::node(peer_id);
    if state.contains(&key) {
        return reject(
            Outcome::GovernanceConflict,
            format!("node {peer_id} already registered"),
        );
    }
    store(state, key, &org.to_string());
    Ok(())
}

/// Adds a complete org (genesis and [`GovAction::AddOrg`]).
pub(crate) fn add_org(state: &mut impl StateView, height: u64, spec: &OrgSpec) -> RuleResult<()> {
    if !is_valid_short_id(&spec.id) {
        return reject(Outcome::MalformedBody, format!("bad org id {:?}", spec.id));
    }
    let too_many = [
        spec.keys.len(),
        spec.company_prefixes.len(),
        spec.glns.len(),
        spec.nodes.len(),
    ]
    .iter()
    .any(|n| *n as u64 > ORG_SPEC_ITEMS_MAX);
    if too_many || spec.name.len() > 256 {
        return reject(Outcome::LimitExceeded, "org spec too large");
    }
    if spec.roles.is_empty() || spec.keys.is_empty() {
        return reject(
            Outcome::MalformedBody,
            format!("org {} needs at least one role and one key", spec.id),
        );
    }
    if state.contains(&keys::org(&spec.id)) {
        return reject(
            Outcome::GovernanceConflict,
            format!("org {} exists (org ids are never reused)", spec.id),
        );
    }
    let mut roles = spec.roles.clone();
    roles.sort();
    roles.dedup();
    let record = OrgRecord {
        id: spec.id.clone(),
        name: spec.name.clone(),
        roles,
        status: OrgStatus::Active,
        since_height: height,
    };
    store(state, keys::org(&spec.id), &record);
    for key in &spec.keys {
        add_key(state, height, &spec.id, key)?;
    }
    for prefix in &spec.company_prefixes {
        register_prefix(state, &spec.id, prefix)?;
    }
    for gln in &spec.glns {
        register_gln(state, &spec.id, gln)?;
    }
    for node in &spec.nodes {
        add_node(state, &spec.id, node)?;
    }
    Ok(())
}

/// Applies one action now. Writes only through `state`; callers run it in an overlay.
pub(crate) fn apply_action(
    state: &mut impl StateView,
    height: u64,
    action: &GovAction,
) -> RuleResult<()> {
    match action {
        GovAction::AddOrg(spec) => add_org(state, height, spec),
        GovAction::RemoveOrg { org } => {
            let mut record = require_active_org(state, org)?;
            if membership::active_org_count(state) <= 1 {
                return reject(Outcome::GovernanceUnsafe, "cannot remove the last org");
            }
            record.status = OrgStatus::Removed;
            store(state, keys::org(org), &record);
            Ok(())
        }
        GovAction::AddKey { org, key } => {
            require_active_org(state, org)?;
            add_key(state, height, org, key)
        }
        GovAction::RevokeKey { org, key_id } => revoke_key(state, height, org, key_id),
        GovAction::RotateKey {
            org,
            old_key_id,
            new_key,
        } => {
            revoke_key(state, height, org, old_key_id)?;
            add_key(state, height, org, new_key)
        }
        GovAction::RegisterPrefix { org, prefix } => {
            require_active_org(state, org)?;
            register_prefix(state, org, prefix)
        }
        GovAction::RegisterGln { org, gln } => {
            require_active_org(state, org)?;
            register_gln(state, org, gln)
        }
        GovAction::DelegateGtin {
            brand_owner,
            gtin,
            cmo,
        } => {
            require_active_org(state, brand_owner)?;
            let cmo_record = require_active_org(state, cmo)?;
            if !is_valid_key(gtin, 14) {
                return reject(Outcome::MalformedBody, format!("bad GTIN {gtin:?}"));
            }
            if membership::brand_owner(state, gtin).as_deref() != Some(brand_owner.as_str()) {
                return reject(
                    Outcome::NotBrandOwnerOrDelegate,
                    format!("{brand_owner} does not own GTIN {gtin}"),
                );
            }
            if !cmo_record.roles.contains(&Role::Cmo) {
                return reject(Outcome::RoleRequired, format!("{cmo} is not a CMO"));
            }
            let key = keys::delegation(gtin, cmo);
            if state.contains(&key) {
                return reject(
                    Outcome::GovernanceConflict,
                    format!("GTIN {gtin} already delegated to {cmo}"),
                );
            }
            store(
                state,
                key,
                &DelegationRecord {
                    brand_owner: brand_owner.clone(),
                    since_height: height,
                },
            );
            Ok(())
        }
        GovAction::RevokeDelegation { gtin, cmo } => {
            let key = keys::delegation(gtin, cmo);
            if !state.contains(&key) {
                return reject(
                    Outcome::GovernanceTargetMissing,
                    format!("GTIN {gtin} is not delegated to {cmo}"),
                );
            }
            state.delete(&key);
            Ok(())
        }
        GovAction::AddNode { org, peer_id } => {
            require_active_org(state, org)?;
            add_node(state, org, peer_id)
        }
        GovAction::RemoveNode { peer_id } => {
            let key = keys::node(peer_id);
            if !state.contains(&key) {
                return reject(
                    Outcome::GovernanceTargetMissing,
                    format!("unknown node {peer_id}"),
                );
            }
            state.delete(&key);
            Ok(())
        }
        GovAction::SetQuorum(config) => {
            if config.quorum_denominator == 0 || config.quorum_numerator > config.quorum_denominator
            {
                return reject(
                    Outcome::MalformedBody,
                    "quorum must be a fraction in [0, 1]",
                );
            }
            store(state, keys::META_GOVERNANCE.to_vec(), config);
            Ok(())
        }
    }
}

fn revoke_key(state: &mut impl StateView, height: u64, org: &str, key_id: &str) -> RuleResult<()> {
    require_active_org(state, org)?;
    let Some(mut record) = membership::signing_key(state, org, key_id) else {
        return reject(
            Outcome::GovernanceTargetMissing,
            format!("unknown key {org}/{key_id}"),
        );
    };
    if record.revoked_at_height.is_some() {
        return reject(
            Outcome::GovernanceConflict,
            format!("key {org}/{key_id} already revoked"),
        );
    }
    // An org may revoke its last key (e.g. after a compromise); it rotates to keep signing.
    record.revoked_at_height = Some(height);
    store(state, keys::signing_key(org, key_id), &record);
    Ok(())
}
