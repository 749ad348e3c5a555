//! The state key layout. Every key the rule book writes is built here, so the layout
//! can be read (and reviewed) in one place.
//!
//! | key | value | written by |
//! |---|---|---|
//! | `meta/network_id` | 32-byte genesis hash | genesis |
//! | `meta/height`, `meta/timestamp_ms` | `u64` of the block being applied | [`crate::begin_block`] |
//! | `meta/state_hash` | 32-byte running state hash (not itself hashed) | [`crate::apply_block`] |
//! | `meta/governance` | [`crate::records::GovernanceConfig`] | genesis, governance |
//! | `meta/event_seq` | `u64` count of accepted events (orders history) | events |
//! | `org/{org}` | [`crate::records::OrgRecord`] | genesis, governance |
//! | `key/{org}\0{key_id}` | [`crate::records::KeyRecord`] | genesis, governance |
//! | `prefix/{gcp}` | owning org id | genesis, governance |
//! | `gln/{gln13}` | [`crate::records::GlnRecord`] | genesis, governance |
//! | `deleg/{gtin14}\0{org}` | [`crate::records::DelegationRecord`] (brand owner → CMO) | governance |
//! | `node/{peer_id}` | org id | genesis, governance |
//! | `gov/pending/{height_be}{tx_id}` | [`crate::records::PendingGovernance`] | governance |
//! | `tx/{tx_id}` | `u64` height (replay protection) | every accepted tx |
//! | `evt/{event_hash}` | [`crate::records::EventRecord`] | events |
//! | `undo/{event_hash}` | [`crate::records::UndoRecord`] (before-images for errorDeclaration) | events |
//! | `obj/{object}` | [`crate::records::ObjectRecord`] | events |
//! | `hist/{object}\0{event_seq_be}` | [`crate::records::HistoryEntry`] | events |
//! | `lot/{gtin}\0{lot}\0{serial}` | empty (lot index for recall scope) | commissioning |
//! | `recall/{gtin}\0{lot}` | [`crate::records::RecallRecord`] | recall/release |
//! | `count/{gtin}\0{lot}` | [`crate::records::LotCounters`] | events |
//! | `ship/{shipment_id}` | [`crate::records::ShipmentRecord`] | shipping/receiving |
//! | `disc/{shipment_id}{event_seq_be}` | [`crate::records::DiscrepancyRecord`] | receiving |
//! | `exc/dup/{gtin}\0{lot}` | `u64` duplicate-serial attempts | **rejected** commissioning only |
//! | `suspect/{gtin}\0P{serial}`, `suspect/{gtin}\0L{lot}` | [`crate::records::SuspectRecord`] | suspect mark/resolve |
//! | `expext/{gtin}\0{lot}` | [`crate::records::ExpiryExtension`] | expiry extension |
//! | `btx/{type}\0{id}\0{object}` | [`crate::records::LinkRecord`] | TransactionEvent ADD/DELETE |
//! | `assoc/{asset}\0{object}` | [`crate::records::LinkRecord`] | AssociationEvent ADD/DELETE |
//!
//! `{object}` is [`ObjectKey::write_key`]: `S{gtin14}\0{serial}` or `C{sscc18}`.
//! Object keys never contain NUL except that one separator, and are followed by NUL in
//! composite keys, so prefix scans never mix objects. Integers are big-endian in keys
//! so that byte order is numeric order.

use crate::codec::Digest32;
use crate::ident::ObjectKey;

/// Network id (genesis hash).
pub const META_NETWORK_ID: &[u8] = b"meta/network_id";
/// Height of the block being applied.
pub const META_HEIGHT: &[u8] = b"meta/height";
/// Leader timestamp of the block being applied.
pub const META_TIMESTAMP_MS: &[u8] = b"meta/timestamp_ms";
/// Running state hash after the last finalized block.
pub const META_STATE_HASH: &[u8] = b"meta/state_hash";
/// Governance configuration (quorum).
pub const META_GOVERNANCE: &[u8] = b"meta/governance";
/// Count of accepted events.
pub const META_EVENT_SEQ: &[u8] = b"meta/event_seq";
/// Prefix of the pending governance queue.
pub const GOV_PENDING_PREFIX: &[u8] = b"gov/pending/";
/// Prefix of every exception key (the only keys a rejected transaction may write).
pub const EXCEPTION_PREFIX: &[u8] = b"exc/";

fn join(tag: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(tag.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    key.extend_from_slice(tag);
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            key.push(0);
        }
        key.extend_from_slice(part);
    }
    key
}

/// `org/{org}`.
pub fn org(org: &str) -> Vec<u8> {
    join(b"org/", &[org.as_bytes()])
}
/// `key/{org}\0{key_id}`.
pub fn signing_key(org: &str, key_id: &str) -> Vec<u8> {
    join(b"key/", &[org.as_bytes(), key_id.as_bytes()])
}
/// `key/{org}\0` (all keys of an org).
pub fn signing_keys_of(org: &str) -> Vec<u8> {
    let mut key = join(b"key/", &[org.as_bytes()]);
    key.push(0);
    key
}
/// `prefix/{gcp}`.
pub fn company_prefix(prefix: &str) -> Vec<u8> {
    join(b"prefix/", &[prefix.as_bytes()])
}
/// `gln/{gln13}`.
pub fn gln(gln: &str) -> Vec<u8> {
    join(b"gln/", &[gln.as_bytes()])
}
/// `deleg/{gtin}\0{org}`.
pub fn delegation(gtin: &str, org: &str) -> Vec<u8> {
    join(b"deleg/", &[gtin.as_bytes(), org.as_bytes()])
}
/// `node/{peer_id}`.
pub fn node(peer_id: &str) -> Vec<u8> {
    join(b"node/", &[peer_id.as_bytes()])
}
/// `gov/pending/{height_be}{tx_id}`.
pub fn pending_governance(height: u64, tx_id: &Digest32) -> Vec<u8> {
    let mut key = GOV_PENDING_PREFIX.to_vec();
    key.extend_from_slice(&height.to_be_bytes());
    key.extend_from_slice(tx_id);
    key
}
/// `tx/{tx_id}`.
pub fn tx(tx_id: &Digest32) -> Vec<u8> {
    join(b"tx/", &[tx_id])
}
/// `evt/{event_hash}`.
pub fn event(event_hash: &Digest32) -> Vec<u8> {
    join(b"evt/", &[event_hash])
}
/// `undo/{event_hash}`.
pub fn undo(event_hash: &Digest32) -> Vec<u8> {
    join(b"undo/", &[event_hash])
}
/// Prefix of object records.
pub const OBJECT_PREFIX: &[u8] = b"obj/";
/// `obj/{object}`.
pub fn object(object: &ObjectKey) -> Vec<u8> {
    let mut key = Vec::with_capacity(48);
    key.extend_from_slice(OBJECT_PREFIX);
    object.write_key(&mut key);
    key
}
/// `hist/{object}\0` (the history of one object).
pub fn history_of(object: &ObjectKey) -> Vec<u8> {
    let mut key = Vec::with_capacity(64);
    key.extend_from_slice(b"hist/");
    object.write_key(&mut key);
    key.push(0);
    key
}
/// `hist/{object}\0{event_seq_be}`.
pub fn history(object: &ObjectKey, event_seq: u64) -> Vec<u8> {
    let mut key = history_of(object);
    key.extend_from_slice(&event_seq.to_be_bytes());
    key
}
/// `lot/{gtin}\0{lot}\0` (every serial of one lot).
pub fn lot_members(gtin: &str, lot: &str) -> Vec<u8> {
    let mut key = join(b"lot/", &[gtin.as_bytes(), lot.as_bytes()]);
    key.push(0);
    key
}
/// `lot/{gtin}\0{lot}\0{serial}`.
pub fn lot_member(gtin: &str, lot: &str, serial: &str) -> Vec<u8> {
    join(
        b"lot/",
        &[gtin.as_bytes(), lot.as_bytes(), serial.as_bytes()],
    )
}
/// `recall/{gtin}\0{lot}`.
pub fn recall(gtin: &str, lot: &str) -> Vec<u8> {
    join(b"recall/", &[gtin.as_bytes(), lot.as_bytes()])
}
/// `count/{gtin}\0{lot}`.
pub fn lot_counters(gtin: &str, lot: &str) -> Vec<u8> {
    join(b"count/", &[gtin.as_bytes(), lot.as_bytes()])
}
/// `ship/{shipment_id}`.
pub fn shipment(shipment_id: &Digest32) -> Vec<u8> {
    join(b"ship/", &[shipment_id])
}
/// `disc/{shipment_id}` (all discrepancies of one shipment).
pub fn discrepancies_of(shipment_id: &Digest32) -> Vec<u8> {
    join(b"disc/", &[shipment_id])
}
/// `disc/{shipment_id}{event_seq_be}`.
pub fn discrepancy(shipment_id: &Digest32, event_seq: u64) -> Vec<u8> {
    let mut key = discrepancies_of(shipment_id);
    key.extend_from_slice(&event_seq.to_be_bytes());
    key
}
/// `exc/dup/{gtin}\0{lot}`: duplicate-serial attempts (exception keyspace).
pub fn duplicate_serial_exceptions(gtin: &str, lot: &str) -> Vec<u8> {
    join(b"exc/dup/", &[gtin.as_bytes(), lot.as_bytes()])
}

/// `suspect/{gtin}\0P{serial}` (one package) or `suspect/{gtin}\0L{lot}` (a lot).
pub fn suspect(target: &crate::records::SuspectTarget) -> Vec<u8> {
    use crate::records::SuspectTarget;
    let (gtin, tag, value) = match target {
        SuspectTarget::Package { gtin, serial } => (gtin, b'P', serial),
        SuspectTarget::Lot { gtin, lot } => (gtin, b'L', lot),
    };
    let mut key = join(b"suspect/", &[gtin.as_bytes()]);
    key.push(0);
    key.push(tag);
    key.extend_from_slice(value.as_bytes());
    key
}
/// `expext/{gtin}\0{lot}`: expiry extension of a lot.
pub fn expiry_extension(gtin: &str, lot: &str) -> Vec<u8> {
    join(b"expext/", &[gtin.as_bytes(), lot.as_bytes()])
}
/// `btx/{type}\0{id}\0` (every object linked to one business transaction).
pub fn biz_transaction_links(biz_type: &str, id: &str) -> Vec<u8> {
    let mut key = join(b"btx/", &[biz_type.as_bytes(), id.as_bytes()]);
    key.push(0);
    key
}
/// `btx/{type}\0{id}\0{object}`: an object linked to a business transaction.
pub fn biz_transaction_link(biz_type: &str, id: &str, object: &ObjectKey) -> Vec<u8> {
    let mut key = biz_transaction_links(biz_type, id);
    object.write_key(&mut key);
    key
}
/// `assoc/{asset}\0` (every object associated with one asset).
pub fn associations_of(asset: &str) -> Vec<u8> {
    let mut key = join(b"assoc/", &[asset.as_bytes()]);
    key.push(0);
    key
}
/// `assoc/{asset}\0{object}`: an object associated with an asset (sensor, device).
pub fn association(asset: &str, object: &ObjectKey) -> Vec<u8> {
    let mut key = associations_of(asset);
    object.write_key(&mut key);
    key
}

/// True for the keys nearly every transaction reads and only governance writes: the network
/// id, the governance settings and the registry of organisations, signing keys, company
/// prefixes, GLNs, delegations and nodes. [`crate::state::ReadCache`] keeps their values for
/// the duration of a block.
pub fn is_registry(key: &[u8]) -> bool {
    key == META_NETWORK_ID
        || key == META_GOVERNANCE
        || [
            &b"org/"[..],
            b"key/",
            b"prefix/",
            b"gln/",
            b"deleg/",
            b"node/",
        ]
        .iter()
        .any(|p| key.starts_with(p))
}

/// True for keys whose before-images an errorDeclaration restores. The lot index
/// (`lot/`) is append-only and not restored: readers check the object's lot.
pub fn is_undoable(key: &[u8]) -> bool {
    [&b"obj/"[..], b"ship/", b"disc/", b"btx/", b"assoc/"]
        .iter()
        .any(|p| key.starts_with(p))
}
