//! Read helpers over membership state: orgs, keys, company prefixes, GLNs, delegations.

use crate::codec;
use crate::keys;
use crate::records::{DelegationRecord, GlnRecord, KeyRecord, OrgId, OrgRecord, OrgStatus};
use crate::state::StateView;

/// Shortest GS1 company prefix the registry accepts.
pub const COMPANY_PREFIX_LENGTH_MIN: usize = 4;
/// Longest GS1 company prefix.
pub const COMPANY_PREFIX_LENGTH_MAX: usize = 12;
/// Most orgs a network may have (bounds governance scans).
pub const ORGS_MAX: u64 = 10_000;

/// Loads and decodes a record.
///
/// # Panics
/// Panics if stored bytes do not decode: state is written only by this crate, so that
/// is corruption, and a replica must stop rather than diverge.
pub fn load<T: serde::de::DeserializeOwned>(
    state: &(impl StateView + ?Sized),
    key: &[u8],
) -> Option<T> {
    let bytes = state.get(key)?;
    match codec::decode(&bytes) {
        Some(value) => Some(value),
        None => panic!(
            "corrupt state record under key {}",
            String::from_utf8_lossy(key)
        ),
    }
}

/// Encodes and stores a record.
pub fn store<T: serde::Serialize>(state: &mut (impl StateView + ?Sized), key: Vec<u8>, value: &T) {
    state.put(key, codec::encode(value));
}

/// The org record, if any.
pub fn org(state: &(impl StateView + ?Sized), org: &str) -> Option<OrgRecord> {
    load(state, &keys::org(org))
}

/// The org record if the org is active.
pub fn active_org(state: &(impl StateView + ?Sized), org_id: &str) -> Option<OrgRecord> {
    org(state, org_id).filter(|record| record.status == OrgStatus::Active)
}

/// A signing key record.
pub fn signing_key(
    state: &(impl StateView + ?Sized),
    org: &str,
    key_id: &str,
) -> Option<KeyRecord> {
    load(state, &keys::signing_key(org, key_id))
}

/// True if the key may sign at `height`.
pub fn key_valid_at(record: &KeyRecord, height: u64) -> bool {
    record.valid_from_height <= height
        && record
            .revoked_at_height
            .is_none_or(|revoked| height < revoked)
}

/// The org owning the longest registered company prefix of `digits` (the GTIN without
/// its indicator digit, or the SSCC without its extension digit).
pub fn prefix_owner(state: &(impl StateView + ?Sized), digits: &str) -> Option<OrgId> {
    let longest = digits.len().min(COMPANY_PREFIX_LENGTH_MAX);
    (COMPANY_PREFIX_LENGTH_MIN..=longest)
        .rev()
        .find_map(|length| load::<OrgId>(state, &keys::company_prefix(&digits[..length])))
}

/// The brand owner of a GTIN-14: the owner of its company prefix.
pub fn brand_owner(state: &(impl StateView + ?Sized), gtin: &str) -> Option<OrgId> {
    assert_eq!(gtin.len(), 14);
    prefix_owner(state, &gtin[1..13])
}

/// The org a GLN-13 is registered to.
pub fn gln_owner(state: &(impl StateView + ?Sized), gln: &str) -> Option<OrgId> {
    load::<GlnRecord>(state, &keys::gln(gln)).map(|record| record.org)
}

/// The delegation of `gtin` to `org`, if any.
pub fn delegation(
    state: &(impl StateView + ?Sized),
    gtin: &str,
    org: &str,
) -> Option<DelegationRecord> {
    load(state, &keys::delegation(gtin, org))
}

/// Number of active orgs.
pub fn active_org_count(state: &(impl StateView + ?Sized)) -> u64 {
    state
        .scan_prefix(b"org/", ORGS_MAX)
        .into_iter()
        .filter(|(_, bytes)| {
            codec::decode::<OrgRecord>(bytes)
                .is_some_and(|record| record.status == OrgStatus::Active)
        })
        .count() as u64
}
