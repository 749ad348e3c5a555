//! Pure reads: verification (DSCSA Lightweight Messaging semantics), trace, recall
//! scope and reconciliation. Every query takes the caller's "as of" date where time
//! matters; none reads a clock.

use crate::ident::{Date, ObjectKey};
use crate::keys;
use crate::membership::load;
use crate::records::{
    EventRecord, ExpiryExtension, HistoryAction, HistoryEntry, LotCounters, ObjectRecord,
    ObjectStatus, OrgId, RecallRecord, SuspectRecord, SuspectTarget,
};
use crate::rules::{ancestors, effective, load_object};
use crate::state::StateView;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most objects a lot-wide query reads.
pub const LOT_OBJECTS_MAX: u64 = 1_000_000;
/// Most history entries returned per object.
pub const HISTORY_ENTRIES_MAX: u64 = 10_000;

/// LMS `verificationFailureReason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureReason {
    /// `No_match_GTIN_Serial`.
    NoMatchGtinSerial,
    /// `No_match_GTIN_Serial_Lot`.
    NoMatchGtinSerialLot,
    /// `No_match_GTIN_Serial_Expiry`.
    NoMatchGtinSerialExpiry,
    /// `No_match_GTIN_Serial_Lot_Expiry`.
    NoMatchGtinSerialLotExpiry,
    /// `Manufacturer_policy`.
    ManufacturerPolicy,
    /// `No_reason_provided`.
    NoReasonProvided,
    /// `Not_for_re-distribution`.
    NotForRedistribution,
}

impl FailureReason {
    /// The LMS wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::NoMatchGtinSerial => "No_match_GTIN_Serial",
            FailureReason::NoMatchGtinSerialLot => "No_match_GTIN_Serial_Lot",
            FailureReason::NoMatchGtinSerialExpiry => "No_match_GTIN_Serial_Expiry",
            FailureReason::NoMatchGtinSerialLotExpiry => "No_match_GTIN_Serial_Lot_Expiry",
            FailureReason::ManufacturerPolicy => "Manufacturer_policy",
            FailureReason::NoReasonProvided => "No_reason_provided",
            FailureReason::NotForRedistribution => "Not_for_re-distribution",
        }
    }
}

/// LMS `additionalInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdditionalInfo {
    /// `Expired`.
    Expired,
    /// `ExpirationExtended`: the lot's expiry was extended past the printed date.
    ExpirationExtended,
    /// `Recalled`.
    Recalled,
    /// `Suspect`: the package or its lot is under a suspect-product investigation.
    Suspect,
    /// `Illegitimate`: reported stolen, or determined illegitimate.
    Illegitimate,
}

impl AdditionalInfo {
    /// The LMS wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            AdditionalInfo::Expired => "Expired",
            AdditionalInfo::ExpirationExtended => "ExpirationExtended",
            AdditionalInfo::Recalled => "Recalled",
            AdditionalInfo::Suspect => "Suspect",
            AdditionalInfo::Illegitimate => "Illegitimate",
        }
    }
}

/// Pedigree's status of an object as queries report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum QueryStatus {
    /// Active and available.
    Active,
    /// In transit.
    InTransit,
    /// Active or in transit, but its lot is recalled.
    Recalled,
    /// Dispensed.
    Dispensed,
    /// Destroyed.
    Destroyed,
    /// Stolen.
    Stolen,
    /// Sample.
    Sample,
    /// Exported.
    Exported,
    /// Consumed by a transformation.
    Consumed,
}

fn query_status(record: &ObjectRecord, recalled: bool) -> QueryStatus {
    match record.status {
        ObjectStatus::Active | ObjectStatus::InTransit if recalled => QueryStatus::Recalled,
        ObjectStatus::Active => QueryStatus::Active,
        ObjectStatus::InTransit => QueryStatus::InTransit,
        ObjectStatus::Dispensed => QueryStatus::Dispensed,
        ObjectStatus::Destroyed => QueryStatus::Destroyed,
        ObjectStatus::Stolen => QueryStatus::Stolen,
        ObjectStatus::Sample => QueryStatus::Sample,
        ObjectStatus::Exported => QueryStatus::Exported,
        ObjectStatus::Consumed => QueryStatus::Consumed,
    }
}

fn is_recalled(
    state: &(impl StateView + ?Sized),
    object: &ObjectKey,
    record: &ObjectRecord,
) -> bool {
    match (object.gtin(), record.lot.as_deref()) {
        (Some(gtin), Some(lot)) => state.contains(&keys::recall(gtin, lot)),
        _ => false,
    }
}

/// The answer to [`verify`]: the LMS `data` object plus Pedigree's status and custodian.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// LMS `verified`.
    pub verified: bool,
    /// LMS `verificationFailureReason`.
    pub failure_reason: Option<FailureReason>,
    /// LMS `additionalInfo`.
    pub additional_info: Option<AdditionalInfo>,
    /// Pedigree status (`None` if the serial is unknown).
    pub status: Option<QueryStatus>,
    /// Current custodian (`None` if unknown).
    pub custodian: Option<OrgId>,
}

/// Verifies a product identifier (GTIN, serial, optional lot and expiry) as of a
/// caller-supplied date (`yyyymmdd`).
///
/// - Unknown GTIN+serial: `No_match_GTIN_Serial`.
/// - Lot and/or expiry given and different: `No_match_GTIN_Serial_Lot` /
///   `_Expiry` / `_Lot_Expiry`.
///   The printed expiry and, if the lot's expiry was extended, the extended one both
///   match.
/// - Stolen: not verified, `Not_for_re-distribution`, additionalInfo `Illegitimate`.
/// - Other decommissioned states: not verified, `Not_for_re-distribution`.
/// - Determined illegitimate (package or lot): not verified,
///   `Not_for_re-distribution`, additionalInfo `Illegitimate`.
/// - Otherwise verified, with at most one additionalInfo, in this order: `Recalled`
///   (lot recalled), `Suspect` (package or lot under investigation), `Expired`
///   (expiry, after any extension, before `as_of`), `ExpirationExtended` (the lot's
///   expiry was extended past the printed date).
pub fn verify(
    state: &(impl StateView + ?Sized),
    gtin: &str,
    serial: &str,
    lot: Option<&str>,
    expiry: Option<Date>,
    as_of: Date,
) -> Verification {
    let not_found = Verification {
        verified: false,
        failure_reason: Some(FailureReason::NoMatchGtinSerial),
        additional_info: None,
        status: None,
        custodian: None,
    };
    let Some(object) = ObjectKey::sgtin(gtin, serial) else {
        return not_found;
    };
    let Some(record) = load_object(state, &object).map(|record| effective(state, &record)) else {
        return not_found;
    };
    let recalled = is_recalled(state, &object, &record);
    let status = Some(query_status(&record, recalled));
    let custodian = Some(record.custodian.clone());
    let extended = record
        .lot
        .as_deref()
        .and_then(|lot| load::<ExpiryExtension>(state, &keys::expiry_extension(gtin, lot)))
        .map(|extension| extension.expiry)
        .filter(|extended| record.expiry.is_some_and(|printed| *extended > printed));
    let lot_mismatch = lot.is_some_and(|lot| record.lot.as_deref() != Some(lot));
    let expiry_mismatch =
        expiry.is_some_and(|expiry| record.expiry != Some(expiry) && extended != Some(expiry));
    let mismatch = match (lot_mismatch, expiry_mismatch) {
        (true, true) => Some(FailureReason::NoMatchGtinSerialLotExpiry),
        (true, false) => Some(FailureReason::NoMatchGtinSerialLot),
        (false, true) => Some(FailureReason::NoMatchGtinSerialExpiry),
        (false, false) => None,
    };
    if let Some(reason) = mismatch {
        return Verification {
            verified: false,
            failure_reason: Some(reason),
            additional_info: None,
            status,
            custodian,
        };
    }
    if record.status.is_decommissioned() {
        let info = (record.status == ObjectStatus::Stolen).then_some(AdditionalInfo::Illegitimate);
        return Verification {
            verified: false,
            failure_reason: Some(FailureReason::NotForRedistribution),
            additional_info: info,
            status,
            custodian,
        };
    }
    let suspect = suspect_record(state, gtin, serial, record.lot.as_deref());
    if suspect
        .as_ref()
        .is_some_and(|record| record.illegitimate.is_some())
    {
        return Verification {
            verified: false,
            failure_reason: Some(FailureReason::NotForRedistribution),
            additional_info: Some(AdditionalInfo::Illegitimate),
            status,
            custodian,
        };
    }
    let expiry_now = extended.or(record.expiry);
    let additional_info = if recalled {
        Some(AdditionalInfo::Recalled)
    } else if suspect.is_some() {
        Some(AdditionalInfo::Suspect)
    } else if expiry_now.is_some_and(|expiry| expiry < as_of) {
        Some(AdditionalInfo::Expired)
    } else if extended.is_some() {
        Some(AdditionalInfo::ExpirationExtended)
    } else {
        None
    };
    Verification {
        verified: true,
        failure_reason: None,
        additional_info,
        status,
        custodian,
    }
}

/// The investigation record covering a package: its own, else its lot's (an
/// illegitimate finding on either wins).
pub fn suspect_record(
    state: &(impl StateView + ?Sized),
    gtin: &str,
    serial: &str,
    lot: Option<&str>,
) -> Option<SuspectRecord> {
    let package = load::<SuspectRecord>(
        state,
        &keys::suspect(&SuspectTarget::Package {
            gtin: gtin.to_string(),
            serial: serial.to_string(),
        }),
    );
    let lot = lot.and_then(|lot| {
        load::<SuspectRecord>(
            state,
            &keys::suspect(&SuspectTarget::Lot {
                gtin: gtin.to_string(),
                lot: lot.to_string(),
            }),
        )
    });
    match (package, lot) {
        (Some(package), Some(lot))
            if package.illegitimate.is_none() && lot.illegitimate.is_some() =>
        {
            Some(lot)
        }
        (Some(package), _) => Some(package),
        (None, lot) => lot,
    }
}

/// The answer to [`trace`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The object.
    pub object: ObjectKey,
    /// Its record.
    pub record: ObjectRecord,
    /// Query status (recall applied).
    pub status: QueryStatus,
    /// Containers above it, nearest first.
    pub parent_chain: Vec<ObjectKey>,
    /// History in event order: its commissioning, what events did to it directly, and
    /// what happened to each container while it was inside (marked `via`). Entries of
    /// events later declared erroneous are left out; the `ErrorDeclared` entry remains.
    pub history: Vec<HistoryEntry>,
}

struct TraceReader<'s, S: StateView + ?Sized> {
    state: &'s S,
    declared: BTreeMap<crate::codec::Digest32, bool>,
}

impl<S: StateView + ?Sized> TraceReader<'_, S> {
    fn is_declared(&mut self, event_hash: &crate::codec::Digest32) -> bool {
        let state = self.state;
        *self.declared.entry(*event_hash).or_insert_with(|| {
            load::<EventRecord>(state, &keys::event(event_hash))
                .is_some_and(|record| record.error_declaration.is_some())
        })
    }

    /// The object's own entries, without those of erroneous events.
    fn own_history(&mut self, object: &ObjectKey) -> Vec<HistoryEntry> {
        let entries: Vec<HistoryEntry> = self
            .state
            .scan_prefix(&keys::history_of(object), HISTORY_ENTRIES_MAX)
            .into_iter()
            .map(|(_, bytes)| crate::codec::decode(&bytes).expect("corrupt history entry"))
            .collect();
        entries
            .into_iter()
            .filter(|entry| {
                matches!(entry.action, HistoryAction::ErrorDeclared { .. })
                    || !self.is_declared(&entry.event_hash)
            })
            .collect()
    }

    /// Adds `object`'s entries with `from <= seq < to`, then recurses into the
    /// containers it was in during that window.
    fn collect(
        &mut self,
        object: &ObjectKey,
        from: u64,
        to: u64,
        via: Option<&ObjectKey>,
        depth: u64,
        out: &mut BTreeMap<u64, HistoryEntry>,
    ) {
        let entries = self.own_history(object);
        let mut intervals: Vec<(ObjectKey, u64, u64)> = Vec::new();
        let mut open: Option<(ObjectKey, u64)> = None;
        for entry in &entries {
            match &entry.action {
                HistoryAction::PackedInto(container) => {
                    open = Some((container.clone(), entry.event_seq))
                }
                HistoryAction::UnpackedFrom(container) => {
                    if let Some((open_container, start)) = open.take()
                        && open_container == *container
                    {
                        intervals.push((open_container, start, entry.event_seq));
                    }
                }
                _ => {}
            }
            if (from..to).contains(&entry.event_seq) && !out.contains_key(&entry.event_seq) {
                let mut entry = entry.clone();
                if entry.via.is_none() {
                    entry.via = via.cloned();
                }
                out.insert(entry.event_seq, entry);
            }
        }
        if let Some((container, start)) = open {
            intervals.push((container, start, u64::MAX));
        }
        if depth >= crate::ops::AGGREGATION_DEPTH_MAX {
            return;
        }
        for (container, start, end) in intervals {
            let (low, high) = (from.max(start + 1), to.min(end));
            if low < high {
                self.collect(&container, low, high, Some(&container), depth + 1, out);
            }
        }
    }
}

/// The ordered history of an object, its parent chain and custodian.
pub fn trace(state: &(impl StateView + ?Sized), object: &ObjectKey) -> Option<Trace> {
    let record = effective(state, &load_object(state, object)?);
    let parent_chain = ancestors(state, &record);
    let mut reader = TraceReader {
        state,
        declared: BTreeMap::new(),
    };
    let mut merged: BTreeMap<u64, HistoryEntry> = BTreeMap::new();
    if let Some(event) = load::<EventRecord>(state, &keys::event(&record.commissioned_event)) {
        merged.insert(
            event.event_seq,
            HistoryEntry {
                event_seq: event.event_seq,
                event_hash: record.commissioned_event,
                height: event.height,
                timestamp_ms: event.timestamp_ms,
                org: event.org,
                action: HistoryAction::Commissioned,
                via: None,
            },
        );
    }
    reader.collect(object, 0, u64::MAX, None, 0, &mut merged);
    let status = query_status(&record, is_recalled(state, object, &record));
    Some(Trace {
        object: object.clone(),
        record,
        status,
        parent_chain,
        history: merged.into_values().collect(),
    })
}

/// One object in a recall scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeItem {
    /// The unit.
    pub object: ObjectKey,
    /// Its outermost container, if packed.
    pub top_container: Option<ObjectKey>,
}

/// The answer to [`recall_scope`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecallScope {
    /// The recall, if the lot is recalled.
    pub recall: Option<RecallRecord>,
    /// Units of the lot, by current custodian, then by status.
    pub by_custodian: BTreeMap<OrgId, BTreeMap<QueryStatus, Vec<ScopeItem>>>,
}

fn lot_objects(
    state: &(impl StateView + ?Sized),
    gtin: &str,
    lot: &str,
) -> Vec<(ObjectKey, ObjectRecord)> {
    let prefix = keys::lot_members(gtin, lot);
    state
        .scan_prefix(&prefix, LOT_OBJECTS_MAX)
        .into_iter()
        .filter_map(|(key, _)| {
            let serial = std::str::from_utf8(&key[prefix.len()..]).ok()?;
            let object = ObjectKey::sgtin(gtin, serial)?;
            let record = effective(state, &load_object(state, &object)?);
            // The lot index is append-only; an undone commissioning may leave an entry.
            (record.lot.as_deref() == Some(lot)).then_some((object, record))
        })
        .collect()
}

/// Every unit of a lot, grouped by current custodian and status.
pub fn recall_scope(state: &(impl StateView + ?Sized), gtin: &str, lot: &str) -> RecallScope {
    let recall: Option<RecallRecord> = load(state, &keys::recall(gtin, lot));
    let mut by_custodian: BTreeMap<OrgId, BTreeMap<QueryStatus, Vec<ScopeItem>>> = BTreeMap::new();
    for (object, record) in lot_objects(state, gtin, lot) {
        let status = query_status(&record, recall.is_some());
        let top_container = ancestors(state, &record).pop();
        by_custodian
            .entry(record.custodian.clone())
            .or_default()
            .entry(status)
            .or_default()
            .push(ScopeItem {
                object,
                top_container,
            });
    }
    RecallScope {
        recall,
        by_custodian,
    }
}

/// The answer to [`reconciliation`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Activity counters (commissioned, packed, shipped, received, dispensed, destroyed, …).
    pub counters: LotCounters,
    /// Rejected duplicate-serial commissioning attempts (exception counter).
    pub duplicate_attempts: u64,
    /// Units of the lot by current status.
    pub current: BTreeMap<QueryStatus, u64>,
}

/// Counts for one GTIN + lot.
pub fn reconciliation(state: &(impl StateView + ?Sized), gtin: &str, lot: &str) -> Reconciliation {
    let counters: LotCounters = load(state, &keys::lot_counters(gtin, lot)).unwrap_or_default();
    let duplicate_attempts: u64 =
        load(state, &keys::duplicate_serial_exceptions(gtin, lot)).unwrap_or(0);
    let recalled = state.contains(&keys::recall(gtin, lot));
    let mut current = BTreeMap::new();
    for (_, record) in lot_objects(state, gtin, lot) {
        *current.entry(query_status(&record, recalled)).or_insert(0) += 1;
    }
    Reconciliation {
        counters,
        duplicate_attempts,
        current,
    }
}

/// [`trace`] by EPC URI (`urn:epc:id:sgtin:…`, `urn:epc:id:sscc:…`) or GS1 Digital Link.
pub fn trace_uri(state: &(impl StateView + ?Sized), uri: &str) -> Option<Trace> {
    let object = crate::epcis::parse_object(uri).ok()?;
    trace(state, &object)
}
