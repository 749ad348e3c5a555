//! Genesis: the founding membership of a network, and the network id.
//!
//! # File format
//! TOML (or the same structure in JSON). Public keys are 64 lower- or upper-case hex
//! digits; GLNs are 13 digits with check digit; company prefixes are 4–12 digits.
//!
//! ```toml
//! network_name = "pedigree-devnet"
//! genesis_time_ms = 1700000000000
//!
//! [governance]          # a change needs floor(orgs * 1 / 2) + 1 approving orgs
//! quorum_numerator = 1
//! quorum_denominator = 2
//!
//! [[orgs]]
//! id = "gs1-pharma"                     # [a-z0-9._-]{1,64}
//! name = "GS1 Pharma LLC"
//! roles = ["manufacturer"]              # manufacturer, cmo, distributor, dispenser, regulator
//! company_prefixes = ["030001"]
//! nodes = ["12D3KooWExamplePeerId"]     # libp2p peer ids
//! keys = [{ id = "k1", public_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" }]
//! glns = [{ gln = "0300011111116", name = "GS1 Pharma HQ" }]
//!
//! [[delegations]]                       # optional: GTINs a brand owner lets a CMO commission
//! brand_owner = "gs1-pharma"            # must own the GTIN's company prefix
//! gtin = "00300011234566"               # GTIN-14 with check digit
//! cmo = "contract-co"                   # an org with the `cmo` role
//! ```
//!
//! Delegations are applied after every org exists, with the same checks as the
//! governance action `DelegateGtin`, and are recorded at height 0.
//!
//! # Network id
//! The file is parsed, validated and normalised (orgs sorted by id, every list sorted
//! and de-duplicated) into [`Genesis`]; the network id is
//! `sha256("pedigree/genesis/v1\0" || bincode(genesis))`. Formatting, comments, key
//! order and list order in the file therefore do not change the network id; any
//! semantic change does. A genesis with delegations hashes them too:
//! `sha256("pedigree/genesis/v1\0" || bincode(genesis) || "delegations\0" || bincode(delegations))`
//! (sorted, de-duplicated), so a genesis without them keeps the id it always had.

use crate::codec::{self, DOMAIN_GENESIS, Digest32};
use crate::governance::{GlnSpec, GovAction, KeySpec, OrgSpec, add_org, apply_action};
use crate::keys;
use crate::membership::store;
use crate::records::{GovernanceConfig, Role};
use crate::state::{HashingView, StateView};
use serde::{Deserialize, Serialize};

/// Errors reading a genesis file (infrastructure, not business outcomes).
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// TOML syntax or shape.
    #[error("genesis TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// JSON syntax or shape.
    #[error("genesis JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Semantically invalid content.
    #[error("genesis is invalid: {0}")]
    Invalid(String),
}

/// The genesis file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    /// Human name of the network.
    pub network_name: String,
    /// Timestamp of block 0 (Unix milliseconds).
    pub genesis_time_ms: u64,
    /// Governance quorum.
    pub governance: GovernanceConfig,
    /// Founding orgs.
    pub orgs: Vec<OrgFile>,
    /// GTIN delegations from brand owners to CMOs.
    #[serde(default)]
    pub delegations: Vec<DelegationSpec>,
}

/// A GTIN delegation in genesis: `brand_owner` lets `cmo` commission `gtin`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationSpec {
    /// The brand owner (owns the GTIN's company prefix).
    pub brand_owner: String,
    /// GTIN-14 with check digit.
    pub gtin: String,
    /// The CMO (has the `cmo` role).
    pub cmo: String,
}

/// One org in the genesis file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgFile {
    /// Org id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Company prefixes.
    #[serde(default)]
    pub company_prefixes: Vec<String>,
    /// Node peer ids.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Signing keys.
    pub keys: Vec<KeyFile>,
    /// GLNs.
    #[serde(default)]
    pub glns: Vec<GlnSpec>,
}

/// One key in the genesis file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Key id.
    pub id: String,
    /// 64 hex digits.
    pub public_key: String,
}

/// Validated, normalised genesis; its hash is the network id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// Human name of the network.
    pub network_name: String,
    /// Timestamp of block 0.
    pub genesis_time_ms: u64,
    /// Governance quorum.
    pub governance: GovernanceConfig,
    /// Founding orgs, sorted by id.
    pub orgs: Vec<OrgSpec>,
    /// GTIN delegations, sorted and de-duplicated. Not part of the serde form: the
    /// network id hashes them separately (module docs), so genesis files without
    /// delegations keep their network id.
    #[serde(skip)]
    pub delegations: Vec<DelegationSpec>,
}

impl Genesis {
    /// Parses TOML.
    pub fn from_toml(text: &str) -> Result<Genesis, GenesisError> {
        Genesis::from_file(toml::from_str(text)?)
    }

    /// Parses JSON.
    pub fn from_json(text: &str) -> Result<Genesis, GenesisError> {
        Genesis::from_file(serde_json::from_str(text)?)
    }

    /// Validates and normalises a parsed file.
    pub fn from_file(file: GenesisFile) -> Result<Genesis, GenesisError> {
        let mut orgs = Vec::with_capacity(file.orgs.len());
        for org in file.orgs {
            let mut keys = Vec::with_capacity(org.keys.len());
            for key in org.keys {
                let mut public_key = [0u8; 32];
                hex::decode_to_slice(key.public_key.trim(), &mut public_key).map_err(|e| {
                    GenesisError::Invalid(format!("org {} key {}: {e}", org.id, key.id))
                })?;
                keys.push(KeySpec {
                    id: key.id,
                    public_key,
                });
            }
            let mut spec = OrgSpec {
                id: org.id,
                name: org.name,
                roles: org.roles,
                keys,
                company_prefixes: org.company_prefixes,
                glns: org.glns,
                nodes: org.nodes,
            };
            spec.normalise();
            orgs.push(spec);
        }
        orgs.sort_by(|a, b| a.id.cmp(&b.id));
        let mut delegations = file.delegations;
        delegations.sort();
        delegations.dedup();
        let genesis = Genesis {
            network_name: file.network_name,
            genesis_time_ms: file.genesis_time_ms,
            governance: file.governance,
            orgs,
            delegations,
        };
        genesis.validate()?;
        Ok(genesis)
    }

    /// Checks the content by initialising a scratch state with it.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.orgs.is_empty() {
            return Err(GenesisError::Invalid("no orgs".into()));
        }
        let config = &self.governance;
        if config.quorum_denominator == 0 || config.quorum_numerator > config.quorum_denominator {
            return Err(GenesisError::Invalid(
                "quorum must be a fraction in [0, 1]".into(),
            ));
        }
        let mut scratch = crate::state::MemState::new();
        for org in &self.orgs {
            add_org(&mut scratch, 0, org).map_err(|r| GenesisError::Invalid(r.message))?;
        }
        for delegation in &self.delegations {
            apply_action(&mut scratch, 0, &delegation_action(delegation)).map_err(|r| {
                GenesisError::Invalid(format!(
                    "delegation of {} from {} to {}: {}",
                    delegation.gtin, delegation.brand_owner, delegation.cmo, r.message
                ))
            })?;
        }
        Ok(())
    }

    /// The network id: `sha256("pedigree/genesis/v1\0" || bincode(self))`.
    pub fn network_id(&self) -> Digest32 {
        if self.delegations.is_empty() {
            return codec::hash_parts(DOMAIN_GENESIS, &[&codec::encode(self)]);
        }
        codec::hash_parts(
            DOMAIN_GENESIS,
            &[
                &codec::encode(self),
                b"delegations\0",
                &codec::encode(&self.delegations),
            ],
        )
    }

    /// Writes the founding state into an empty state and returns the initial state hash
    /// (the [`HashingView`] hash of the genesis writes chained to the network id, height 0).
    ///
    /// # Panics
    /// Panics if `state` is not empty or the genesis is invalid (call
    /// [`Genesis::validate`] first; the constructors do).
    pub fn initialize(&self, state: &mut impl StateView) -> Digest32 {
        assert!(
            state.range(&[], None, 1).is_empty(),
            "genesis needs an empty state"
        );
        let network_id = self.network_id();
        let mut recorder = HashingView::new(state, &network_id, 0);
        recorder.put(keys::META_NETWORK_ID.to_vec(), network_id.to_vec());
        store(
            &mut recorder,
            keys::META_GOVERNANCE.to_vec(),
            &self.governance,
        );
        store(&mut recorder, keys::META_HEIGHT.to_vec(), &0u64);
        store(
            &mut recorder,
            keys::META_TIMESTAMP_MS.to_vec(),
            &self.genesis_time_ms,
        );
        store(&mut recorder, keys::META_EVENT_SEQ.to_vec(), &0u64);
        for org in &self.orgs {
            if let Err(rejection) = add_org(&mut recorder, 0, org) {
                panic!("invalid genesis: {}", rejection.message);
            }
        }
        for delegation in &self.delegations {
            if let Err(rejection) = apply_action(&mut recorder, 0, &delegation_action(delegation)) {
                panic!("invalid genesis delegation: {}", rejection.message);
            }
        }
        let state_hash = recorder.finish();
        state.put(keys::META_STATE_HASH.to_vec(), state_hash.to_vec());
        state_hash
    }
}

fn delegation_action(delegation: &DelegationSpec) -> GovAction {
    GovAction::DelegateGtin {
        brand_owner: delegation.brand_owner.clone(),
        gtin: delegation.gtin.clone(),
        cmo: delegation.cmo.clone(),
    }
}
