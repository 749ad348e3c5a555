//! Assembling a genesis document from organisation descriptions and public keys.
//!
//! Each partner sends an [`OrgDescription`] (id, name, roles, company prefixes, GLNs) and
//! the public parts of its node and signing keys ([`PublicParts`], as printed by
//! `pedigree-node init --json` or `pedigree keys gen --json`). [`assemble`] merges them,
//! validates the result with the chaincode's own parser and returns the document with
//! its network id. The format is `pedigree_chaincode::genesis` (TOML or JSON).

use std::collections::BTreeMap;

use pedigree_chaincode::{Digest32, Genesis};
use serde::{Deserialize, Serialize};

use crate::error::{ClientError, Result};

/// One GLN an org registers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlnEntry {
    /// GLN-13 with check digit.
    pub gln: String,
    /// Display name of the location or party.
    pub name: String,
}

/// One signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// Key id.
    pub id: String,
    /// 64 hex digits (ed25519 public key).
    pub public_key: String,
}

/// An organisation as it appears in genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgDescription {
    /// Org id (`[a-z0-9._-]{1,64}`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Roles: `manufacturer`, `cmo`, `distributor`, `dispenser`, `regulator`.
    pub roles: Vec<String>,
    /// GS1 company prefixes (4–12 digits).
    #[serde(default)]
    pub company_prefixes: Vec<String>,
    /// libp2p peer ids of the org's nodes.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Signing keys.
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
    /// Registered GLNs.
    #[serde(default)]
    pub glns: Vec<GlnEntry>,
}

/// The public parts of one node's keys (`pedigree-node init --json`, `pedigree keys gen --json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicParts {
    /// The org id.
    pub org: String,
    /// The node's libp2p peer id, if this is a node's key set.
    #[serde(default)]
    pub peer_id: Option<String>,
    /// The org's signing public key (hex).
    pub signing_public_key: String,
    /// The signing key's id.
    pub signing_key_id: String,
}

#[derive(Serialize)]
struct GovernanceOut {
    quorum_numerator: u64,
    quorum_denominator: u64,
}

#[derive(Serialize)]
struct GenesisOut<'a> {
    network_name: &'a str,
    genesis_time_ms: u64,
    governance: GovernanceOut,
    orgs: Vec<OrgDescription>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    delegations: Vec<DelegationEntry>,
}

/// A GTIN delegation in genesis: `brand_owner` lets the CMO `cmo` commission `gtin`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationEntry {
    /// The brand owner's org id.
    pub brand_owner: String,
    /// GTIN-14 with check digit.
    pub gtin: String,
    /// The CMO's org id.
    pub cmo: String,
}

/// An assembled, validated genesis document.
#[derive(Clone, Debug)]
pub struct GenesisDocument {
    /// The document as TOML.
    pub toml: String,
    /// The same document as JSON.
    pub json: String,
    /// The parsed genesis.
    pub genesis: Genesis,
    /// Its network id.
    pub network_id: Digest32,
}

/// Merges `orgs` with `public` key sets (matched by org id; peer ids are added to
/// `nodes`, signing keys to `keys`, both de-duplicated) and validates the result.
/// Governance quorum is a simple majority (1/2).
pub fn assemble(
    network_name: &str,
    genesis_time_ms: u64,
    orgs: Vec<OrgDescription>,
    public: &[PublicParts],
) -> Result<GenesisDocument> {
    assemble_with_delegations(network_name, genesis_time_ms, orgs, public, Vec::new())
}

/// [`assemble`], plus GTIN delegations from brand owners to CMOs (validated like the
/// governance action).
pub fn assemble_with_delegations(
    network_name: &str,
    genesis_time_ms: u64,
    orgs: Vec<OrgDescription>,
    public: &[PublicParts],
    delegations: Vec<DelegationEntry>,
) -> Result<GenesisDocument> {
    let mut by_id: BTreeMap<String, OrgDescription> = BTreeMap::new();
    for org in orgs {
        let id = org.id.clone();
        if by_id.insert(id.clone(), org).is_some() {
            return Err(ClientError::Invalid(format!(
                "org {id:?} is described twice"
            )));
        }
    }
    for parts in public {
        let org = by_id.get_mut(&parts.org).ok_or_else(|| {
            ClientError::Invalid(format!(
                "public keys for org {:?}, which has no description",
                parts.org
            ))
        })?;
        if let Some(peer_id) = &parts.peer_id
            && !org.nodes.contains(peer_id)
        {
            org.nodes.push(peer_id.clone());
        }
        let key = KeyEntry {
            id: parts.signing_key_id.clone(),
            public_key: parts.signing_public_key.to_lowercase(),
        };
        if !org.keys.contains(&key) {
            org.keys.push(key);
        }
    }
    for org in by_id.values() {
        if org.keys.is_empty() {
            return Err(ClientError::Invalid(format!(
                "org {:?} has no signing key",
                org.id
            )));
        }
    }
    let out = GenesisOut {
        network_name,
        genesis_time_ms,
        governance: GovernanceOut {
            quorum_numerator: 1,
            quorum_denominator: 2,
        },
        orgs: by_id.into_values().collect(),
        delegations,
    };
    let toml = toml::to_string_pretty(&out)
        .map_err(|e| ClientError::Invalid(format!("genesis cannot be written as TOML: {e}")))?;
    let json = serde_json::to_string_pretty(&out)
        .map_err(|e| ClientError::Invalid(format!("genesis cannot be written as JSON: {e}")))?;
    let genesis = Genesis::from_toml(&toml).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let from_json = Genesis::from_json(&json).map_err(|e| ClientError::Invalid(e.to_string()))?;
    assert_eq!(genesis, from_json, "TOML and JSON genesis differ");
    let network_id = genesis.network_id();
    Ok(GenesisDocument {
        toml,
        json,
        genesis,
        network_id,
    })
}

/// Parses a genesis document in JSON (as written by [`assemble`]).
pub fn parse_json(text: &str) -> Result<Genesis> {
    Genesis::from_json(text).map_err(|e| ClientError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, role: &str, prefix: Option<&str>, gln: &str) -> OrgDescription {
        OrgDescription {
            id: id.into(),
            name: format!("{id} inc."),
            roles: vec![role.into()],
            company_prefixes: prefix.into_iter().map(str::to_string).collect(),
            nodes: vec![],
            keys: vec![],
            glns: vec![GlnEntry {
                gln: gln.into(),
                name: format!("{id} HQ"),
            }],
        }
    }

    fn parts(org: &str, seed: u8) -> PublicParts {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let public = key.verifying_key().to_bytes();
        PublicParts {
            org: org.into(),
            peer_id: Some(format!("12D3KooW{org}")),
            signing_public_key: hex::encode(public),
            signing_key_id: crate::signer::key_id(&public),
        }
    }

    #[test]
    fn assembles_a_valid_genesis_independent_of_order() {
        let orgs = vec![
            org("mfg", "manufacturer", Some("0614141"), "0614141000005"),
            org("dist", "distributor", Some("0888881"), "0888881000001"),
        ];
        let public = [parts("mfg", 1), parts("dist", 2)];
        let document = assemble("devnet", 1_767_225_600_000, orgs.clone(), &public).unwrap();
        assert_eq!(document.genesis.orgs.len(), 2);
        assert!(document.toml.contains("network_name = \"devnet\""));
        let mut reversed = orgs;
        reversed.reverse();
        let again = assemble(
            "devnet",
            1_767_225_600_000,
            reversed,
            &[parts("dist", 2), parts("mfg", 1)],
        )
        .unwrap();
        assert_eq!(document.network_id, again.network_id);
    }

    #[test]
    fn rejects_unknown_orgs_missing_keys_and_invalid_content() {
        let orgs = vec![org("mfg", "manufacturer", Some("0614141"), "0614141000005")];
        assert!(assemble("n", 1, orgs.clone(), &[parts("other", 1)]).is_err());
        assert!(
            assemble("n", 1, orgs.clone(), &[])
                .unwrap_err()
                .to_string()
                .contains("no signing key")
        );
        let bad_gln = vec![org("mfg", "manufacturer", Some("0614141"), "0614141000006")];
        assert!(assemble("n", 1, bad_gln, &[parts("mfg", 1)]).is_err());
    }

    #[test]
    fn writes_gtin_delegations_that_parse_back() {
        let orgs = vec![
            org("mfg", "manufacturer", Some("0614141"), "0614141000005"),
            org("cmo", "cmo", Some("0777771"), "0777771000002"),
        ];
        let public = [parts("mfg", 1), parts("cmo", 2)];
        let delegation = |cmo: &str| DelegationEntry {
            brand_owner: "mfg".into(),
            gtin: "00614141073467".into(),
            cmo: cmo.into(),
        };
        let plain = assemble("devnet", 1, orgs.clone(), &public).unwrap();
        assert!(!plain.toml.contains("delegations"));
        let document =
            assemble_with_delegations("devnet", 1, orgs.clone(), &public, vec![delegation("cmo")])
                .unwrap();
        assert!(
            document.toml.contains("[[delegations]]"),
            "{}",
            document.toml
        );
        assert_eq!(document.genesis.delegations.len(), 1);
        assert_eq!(parse_json(&document.json).unwrap(), document.genesis);
        assert_ne!(document.network_id, plain.network_id);
        // The manufacturer is not a CMO: the delegation is refused.
        assert!(
            assemble_with_delegations("devnet", 1, orgs, &public, vec![delegation("mfg")]).is_err()
        );
    }
}
