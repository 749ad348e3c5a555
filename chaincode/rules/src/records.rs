//! The records stored under the keys of [`crate::keys`], encoded with [`crate::codec`].
//!
//! These are storage types: plain data with public fields. Their encoding is part of
//! the state hash, so changing a field is a state-format change.

use crate::codec::Digest32;
use crate::ident::{Date, ObjectKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifier of a member organisation (1–64 characters `[a-z0-9._-]`).
pub type OrgId = String;

/// True for a well-formed org id, key id or similar short identifier.
pub fn is_valid_short_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Roles an organisation may hold (several are allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manufacturer / brand owner (owns GTINs through its company prefixes).
    Manufacturer,
    /// Contract manufacturing organisation (commissions GTINs delegated to it).
    Cmo,
    /// Wholesale distributor.
    Distributor,
    /// Dispenser (pharmacy, hospital).
    Dispenser,
    /// Regulator (may recall and release lots, may declare errors on any event).
    Regulator,
}

/// Lifecycle of an organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrgStatus {
    /// A member in good standing.
    Active,
    /// Removed by governance; its keys can no longer sign.
    Removed,
}

/// `org/{org}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRecord {
    /// Org id (repeated for convenience).
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Roles, sorted and de-duplicated.
    pub roles: Vec<Role>,
    /// Status.
    pub status: OrgStatus,
    /// Height at which the org joined (0 = genesis).
    pub since_height: u64,
}

impl OrgRecord {
    /// True if the org is active and has `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.status == OrgStatus::Active && self.roles.contains(&role)
    }
}

/// `key/{org}\0{key_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Ed25519 public key.
    pub public_key: [u8; 32],
    /// Height from which the key may sign.
    pub valid_from_height: u64,
    /// Height from which the key may no longer sign (`None` = not revoked).
    pub revoked_at_height: Option<u64>,
}

/// `gln/{gln13}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlnRecord {
    /// The org the location or party belongs to.
    pub org: OrgId,
    /// Display name of the location.
    pub name: String,
}

/// `deleg/{gtin}\0{org}`: the brand owner lets a CMO commission this GTIN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationRecord {
    /// The brand owner that delegated.
    pub brand_owner: OrgId,
    /// Height of the delegation.
    pub since_height: u64,
}

/// `meta/governance`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceConfig {
    /// Quorum numerator: a governance action needs strictly more than
    /// `active_orgs * numerator / denominator` approving orgs.
    pub quorum_numerator: u64,
    /// Quorum denominator (non-zero, ≥ numerator).
    pub quorum_denominator: u64,
}

impl GovernanceConfig {
    /// Approvals required with `active_orgs` members: `floor(n * num / den) + 1`, capped at `n`.
    pub fn approvals_required(&self, active_orgs: u64) -> u64 {
        assert!(self.quorum_denominator > 0);
        assert!(self.quorum_numerator <= self.quorum_denominator);
        (active_orgs * self.quorum_numerator / self.quorum_denominator + 1).min(active_orgs.max(1))
    }
}

/// `gov/pending/…`: a governance action approved but scheduled for a later height.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingGovernance {
    /// The action.
    pub action: crate::governance::GovAction,
    /// The transaction that scheduled it.
    pub tx_id: Digest32,
    /// The height it takes effect at.
    pub effective_height: u64,
}

/// Pedigree status of a tracked object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ObjectStatus {
    /// Commissioned, held by its custodian, available.
    Active,
    /// Shipped, not yet received.
    InTransit,
    /// Dispensed / supplied to a patient (decommissioned).
    Dispensed,
    /// Destroyed (decommissioned, irreversible).
    Destroyed,
    /// Reported stolen (decommissioned, irreversible).
    Stolen,
    /// Taken as a sample (decommissioned).
    Sample,
    /// Exported out of the market (decommissioned, irreversible).
    Exported,
    /// Consumed by a transformation (decommissioned, irreversible).
    Consumed,
}

impl ObjectStatus {
    /// True for the decommissioned states.
    pub fn is_decommissioned(self) -> bool {
        !matches!(self, ObjectStatus::Active | ObjectStatus::InTransit)
    }
}

/// How an object left the supply chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DecommissionKind {
    /// Dispensed to a patient.
    Dispensed,
    /// Destroyed.
    Destroyed,
    /// Stolen.
    Stolen,
    /// Sample.
    Sample,
    /// Exported.
    Exported,
    /// Consumed as the input of a transformation (only through
    /// [`crate::ops::Op::Transform`]).
    Transformed,
}

impl DecommissionKind {
    /// The object status this decommissioning produces.
    pub fn status(self) -> ObjectStatus {
        match self {
            DecommissionKind::Dispensed => ObjectStatus::Dispensed,
            DecommissionKind::Destroyed => ObjectStatus::Destroyed,
            DecommissionKind::Stolen => ObjectStatus::Stolen,
            DecommissionKind::Sample => ObjectStatus::Sample,
            DecommissionKind::Exported => ObjectStatus::Exported,
            DecommissionKind::Transformed => ObjectStatus::Consumed,
        }
    }

    /// EU FMD Art. 13: exported, stolen and destroyed packs can never return to active.
    pub fn is_revertible(self) -> bool {
        matches!(self, DecommissionKind::Dispensed | DecommissionKind::Sample)
    }
}

/// Who decommissioned an object, when and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decommissioning {
    /// Why.
    pub kind: DecommissionKind,
    /// The org that decommissioned it.
    pub org: OrgId,
    /// Block timestamp of the decommissioning.
    pub timestamp_ms: u64,
    /// Premises (GLN-13), if given.
    pub location: Option<String>,
}

/// `obj/{object}`.
///
/// While an object is packed (`parent` is set) its `status`, `custodian`,
/// `in_transit_to`, `shipment` and `decommissioning` are not maintained: the object
/// follows its outermost container, and [`crate::rules::effective`] reads through to
/// it. They are written back when the object leaves the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Lot (SGTIN only).
    pub lot: Option<String>,
    /// Expiry date (SGTIN only).
    pub expiry: Option<Date>,
    /// Status.
    pub status: ObjectStatus,
    /// The one org holding the object (the sender while it is in transit).
    pub custodian: OrgId,
    /// Receiver while in transit.
    pub in_transit_to: Option<OrgId>,
    /// Open shipment while in transit.
    pub shipment: Option<Digest32>,
    /// The container this object is packed in.
    pub parent: Option<ObjectKey>,
    /// Direct children (sorted). Kept in the container's record rather than as
    /// separate edge keys: packing 100 units is one record write, not 100.
    pub children: Vec<ObjectKey>,
    /// What is inside, at every depth: the lot-bearing units (SGTINs) counted per
    /// GTIN, lot and expiry, sorted. Shipping, receiving, decommissioning and
    /// reinstating a container check recalls and expiry and count per lot from this
    /// summary instead of reading every record inside. Maintained by packing,
    /// unpacking and taking a unit out, on the container and all containers above it.
    pub contents: Vec<ContentCount>,
    /// Number of objects inside, at every depth (SSCCs and units without a lot
    /// included).
    pub contents_total: u64,
    /// Set while decommissioned.
    pub decommissioning: Option<Decommissioning>,
    /// Org that commissioned it.
    pub commissioned_by: OrgId,
    /// Hash of the commissioning event (its history entry is derived from the event
    /// record, so commissioning writes no per-object history); all zeros for a serial burnt
    /// without commissioning (destroyed by its brand owner while unknown to the ledger).
    pub commissioned_event: Digest32,
    /// Event sequence number of the last event that changed this record.
    pub last_event_seq: u64,
}

/// Lot-bearing units of one GTIN, lot and expiry inside a container
/// ([`ObjectRecord::contents`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContentCount {
    /// GTIN-14.
    pub gtin: String,
    /// Lot.
    pub lot: String,
    /// Expiry, if the units have one.
    pub expiry: Option<Date>,
    /// Number of units.
    pub count: u64,
}

/// Adds (or, with `subtract`, removes) `delta` to a sorted contents summary.
///
/// # Panics
/// Panics if a subtraction removes units the summary does not hold: the summaries
/// are maintained by the rule book alone, so that is corruption.
pub fn merge_contents(contents: &mut Vec<ContentCount>, delta: &[ContentCount], subtract: bool) {
    for item in delta {
        let position = contents.binary_search_by(|probe| {
            (probe.gtin.as_str(), probe.lot.as_str(), probe.expiry).cmp(&(
                item.gtin.as_str(),
                item.lot.as_str(),
                item.expiry,
            ))
        });
        match (position, subtract) {
            (Ok(index), false) => contents[index].count += item.count,
            (Err(index), false) => contents.insert(index, item.clone()),
            (Ok(index), true) => {
                let held = &mut contents[index].count;
                *held = held
                    .checked_sub(item.count)
                    .expect("container summary holds fewer units than removed");
                if *held == 0 {
                    contents.remove(index);
                }
            }
            (Err(_), true) => panic!("container summary lacks units being removed"),
        }
    }
}

/// What an event did to one object (one entry of its history).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HistoryAction {
    /// Commissioned.
    Commissioned,
    /// Packed into `parent`.
    PackedInto(ObjectKey),
    /// Received `count` children.
    PackedChildren(u64),
    /// Unpacked from `parent`.
    UnpackedFrom(ObjectKey),
    /// Lost `count` children.
    UnpackedChildren(u64),
    /// Shipped to an org.
    Shipped {
        /// Receiver.
        to: OrgId,
    },
    /// Received by an org.
    Received,
    /// Decommissioned.
    Decommissioned(DecommissionKind),
    /// Decommissioning reverted.
    Reinstated,
    /// Seen, nothing changed.
    Observed,
    /// The event that produced an earlier entry was declared erroneous and undone.
    ErrorDeclared {
        /// Hash of the erroneous event.
        event_hash: Digest32,
    },
    /// Linked to, unlinked from or confirmed with business transactions
    /// (TransactionEvent).
    BizTransactions {
        /// What happened to the links.
        action: crate::ops::LinkAction,
        /// The transactions.
        transactions: Vec<crate::ops::BizTransaction>,
    },
    /// Associated with, disassociated from or seen with an asset (AssociationEvent).
    Associated {
        /// What happened to the association.
        action: crate::ops::LinkAction,
        /// The asset.
        asset: String,
    },
}

/// `hist/{object}\0{event_seq}`: what an event did to this object directly.
///
/// Written for objects an event names (and for containers it creates or changes), not
/// for the contents of a container that moves: the trace query derives those from the
/// container's history over the interval the object was inside it. Commissioning is
/// derived from [`ObjectRecord::commissioned_event`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Global event sequence number.
    pub event_seq: u64,
    /// Event hash.
    pub event_hash: Digest32,
    /// Block height.
    pub height: u64,
    /// Block timestamp.
    pub timestamp_ms: u64,
    /// Submitting org.
    pub org: OrgId,
    /// What happened.
    pub action: HistoryAction,
    /// Set when the action happened to a container of this object, not the object itself.
    pub via: Option<ObjectKey>,
}

/// Per-lot activity counters (`count/{gtin}\0{lot}`), counted in units of this GTIN+lot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotCounters {
    /// Commissioned.
    pub commissioned: u64,
    /// Packed into a container (directly or as part of a packed container).
    pub packed: u64,
    /// Shipped (directly or inside a container).
    pub shipped: u64,
    /// Received.
    pub received: u64,
    /// Dispensed.
    pub dispensed: u64,
    /// Destroyed.
    pub destroyed: u64,
    /// Other decommissioning (stolen, sample, exported).
    pub decommissioned_other: u64,
    /// Reinstated after a decommissioning.
    pub reinstated: u64,
    /// Units involved in receiving discrepancies.
    pub discrepancies: u64,
    /// Consumed as inputs of transformations.
    pub transformed: u64,
}

impl LotCounters {
    /// Field-wise addition.
    pub fn add(&mut self, other: &LotCounters) {
        self.commissioned += other.commissioned;
        self.packed += other.packed;
        self.shipped += other.shipped;
        self.received += other.received;
        self.dispensed += other.dispensed;
        self.destroyed += other.destroyed;
        self.decommissioned_other += other.decommissioned_other;
        self.reinstated += other.reinstated;
        self.discrepancies += other.discrepancies;
        self.transformed += other.transformed;
    }

    /// Field-wise subtraction (saturating; used when an event is declared erroneous).
    pub fn subtract(&mut self, other: &LotCounters) {
        self.commissioned = self.commissioned.saturating_sub(other.commissioned);
        self.packed = self.packed.saturating_sub(other.packed);
        self.shipped = self.shipped.saturating_sub(other.shipped);
        self.received = self.received.saturating_sub(other.received);
        self.dispensed = self.dispensed.saturating_sub(other.dispensed);
        self.destroyed = self.destroyed.saturating_sub(other.destroyed);
        self.decommissioned_other = self
            .decommissioned_other
            .saturating_sub(other.decommissioned_other);
        self.reinstated = self.reinstated.saturating_sub(other.reinstated);
        self.discrepancies = self.discrepancies.saturating_sub(other.discrepancies);
        self.transformed = self.transformed.saturating_sub(other.transformed);
    }
}

/// An errorDeclaration recorded against an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDeclarationRecord {
    /// Org that declared it.
    pub org: OrgId,
    /// Height of the declaration.
    pub height: u64,
    /// CBV error reason (`did_not_occur`, `incorrect_data`, …), as given.
    pub reason: Option<String>,
    /// Corrective event ids, as given.
    pub corrective_event_ids: Vec<String>,
}

/// `evt/{event_hash}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Global sequence number.
    pub event_seq: u64,
    /// Transaction that carried it.
    pub tx_id: Digest32,
    /// Submitting org.
    pub org: OrgId,
    /// Block height.
    pub height: u64,
    /// Block timestamp.
    pub timestamp_ms: u64,
    /// Counter deltas this event applied, per (GTIN, lot).
    pub counter_deltas: BTreeMap<(String, String), LotCounters>,
    /// Set once the event is declared erroneous.
    pub error_declaration: Option<ErrorDeclarationRecord>,
}

/// `undo/{event_hash}`: before-images of the undoable keys the event wrote.
///
/// `Serialize` is written by hand so that keys and values go to the encoder as byte
/// slices (one write each) rather than element by element; under bincode the bytes are
/// exactly those of the derived form (length, then the raw bytes), which a unit test
/// checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct UndoRecord {
    /// Key → value before the event (`None` = absent).
    pub before: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Serialize for UndoRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut record = serializer.serialize_struct("UndoRecord", 1)?;
        record.serialize_field("before", &BeforeImages(&self.before))?;
        record.end()
    }
}

struct BeforeImages<'a>(&'a [(Vec<u8>, Option<Vec<u8>>)]);

impl Serialize for BeforeImages<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (key, value) in self.0 {
            seq.serialize_element(&(ByteSlice(key), value.as_deref().map(ByteSlice)))?;
        }
        seq.end()
    }
}

struct ByteSlice<'a>(&'a [u8]);

impl Serialize for ByteSlice<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// `recall/{gtin}\0{lot}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecallRecord {
    /// Org that recalled.
    pub org: OrgId,
    /// Height.
    pub height: u64,
    /// Free-text reason.
    pub reason: String,
}

/// Shipment lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShipmentStatus {
    /// Nothing received yet.
    Open,
    /// A receiving event referenced it.
    Received,
}

/// `ship/{shipment_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRecord {
    /// Sender.
    pub sender: OrgId,
    /// Receiver.
    pub receiver: OrgId,
    /// Top-level objects shipped (sorted).
    pub objects: Vec<ObjectKey>,
    /// Height shipped.
    pub height: u64,
    /// Status.
    pub status: ShipmentStatus,
}

/// `disc/{shipment_id}{seq}`: received contents differ from the shipment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscrepancyRecord {
    /// The receiving org.
    pub receiver: OrgId,
    /// Shipped top-level objects not received by this event (still in transit).
    pub missing: Vec<ObjectKey>,
    /// Objects presented that were not in transit to the receiver (custody unchanged).
    pub unexpected: Vec<ObjectKey>,
    /// Height.
    pub height: u64,
}

/// What a suspect-product investigation covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SuspectTarget {
    /// One package (SGTIN).
    Package {
        /// GTIN-14.
        gtin: String,
        /// Serial.
        serial: String,
    },
    /// Every package of a lot.
    Lot {
        /// GTIN-14.
        gtin: String,
        /// Lot.
        lot: String,
    },
}

/// How a suspect-product investigation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SuspectResolution {
    /// Not illegitimate: the mark is removed.
    Cleared,
    /// Determined illegitimate: the record stays, and verification answers
    /// `Illegitimate`. Only a regulator may clear it afterwards.
    Illegitimate,
}

/// `suspect/{gtin}\0P{serial}` or `suspect/{gtin}\0L{lot}`: an open investigation
/// or an illegitimate determination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspectRecord {
    /// Org that opened the investigation.
    pub org: OrgId,
    /// Height it was opened.
    pub height: u64,
    /// Reason given.
    pub reason: String,
    /// Set once the product is determined illegitimate.
    pub illegitimate: Option<IllegitimateFinding>,
}

/// An illegitimate determination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IllegitimateFinding {
    /// Org that determined it.
    pub org: OrgId,
    /// Height.
    pub height: u64,
    /// Note given.
    pub note: String,
}

/// `expext/{gtin}\0{lot}`: an expiry extension of a lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryExtension {
    /// The extended expiry, `yyyymmdd`.
    pub expiry: Date,
    /// Org that extended it.
    pub org: OrgId,
    /// Height.
    pub height: u64,
}

/// `btx/{type}\0{id}\0{object}` and `assoc/{asset}\0{object}`: who made a link, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// Org that made the link.
    pub org: OrgId,
    /// Event sequence number of the event that made it.
    pub event_seq: u64,
    /// Height.
    pub height: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_record_encodes_like_the_derived_form() {
        #[derive(Serialize)]
        struct Derived {
            before: Vec<(Vec<u8>, Option<Vec<u8>>)>,
        }
        let before = vec![
            (b"obj/Sx".to_vec(), Some(vec![0u8; 300])),
            (b"ship/y".to_vec(), None),
            (Vec::new(), Some(Vec::new())),
        ];
        let derived = crate::codec::encode(&Derived {
            before: before.clone(),
        });
        let record = UndoRecord { before };
        let encoded = crate::codec::encode(&record);
        assert_eq!(encoded, derived);
        assert_eq!(crate::codec::decode::<UndoRecord>(&encoded), Some(record));
    }
}
