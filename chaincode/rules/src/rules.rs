//! The traceability state machine: applies normalised [`Op`]s for one event.
//!
//! Every function here writes only through the [`StateView`] it is given, which is
//! always a per-transaction overlay: a rejection anywhere discards everything.

use crate::codec::{self, Digest32};
use crate::fastcodec::{self, ActionRef};
use crate::ident::{
    Date, LOT_LENGTH_MAX, ObjectKey, date_from_unix_ms, is_cset82, is_valid_date, is_valid_key,
};
use crate::keys;
use crate::membership::{self, load, store};
use crate::ops::{
    AFFECTED_OBJECTS_MAX, AGGREGATION_DEPTH_MAX, BIZ_TRANSACTIONS_MAX, BizTransaction, LinkAction,
    OBJECTS_PER_OP_MAX, Op, Party, REFERENCE_LENGTH_MAX,
};
use crate::receipt::{Exception, Outcome, Rejection, RuleResult, reject};
use crate::records::{
    ContentCount, DecommissionKind, Decommissioning, DiscrepancyRecord, ExpiryExtension,
    HistoryAction, IllegitimateFinding, LinkRecord, LotCounters, ObjectRecord, ObjectStatus, OrgId,
    RecallRecord, Role, ShipmentRecord, ShipmentStatus, SuspectRecord, SuspectResolution,
    SuspectTarget, merge_contents,
};
use crate::state::StateView;
use std::collections::{BTreeMap, BTreeSet};

/// EU FMD Art. 13: a decommissioning may be reverted within 10 days.
pub const REVERT_WINDOW_MS: u64 = 10 * 24 * 60 * 60 * 1000;

/// Per-event context shared by the operations of one event.
pub(crate) struct EventCtx<'c> {
    pub(crate) org: &'c str,
    pub(crate) height: u64,
    pub(crate) timestamp_ms: u64,
    pub(crate) event_hash: Digest32,
    pub(crate) event_seq: u64,
    pub(crate) op_index: u64,
    counters: Vec<((String, String), LotCounters)>,
    recalls: Vec<((String, String), bool)>,
    extensions: Vec<((String, String), Option<Date>)>,
}

impl<'c> EventCtx<'c> {
    pub(crate) fn new(
        org: &'c str,
        height: u64,
        timestamp_ms: u64,
        event_hash: Digest32,
        event_seq: u64,
    ) -> EventCtx<'c> {
        EventCtx {
            org,
            height,
            timestamp_ms,
            event_hash,
            event_seq,
            op_index: 0,
            counters: Vec::new(),
            recalls: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// Counts one unit of the object's GTIN and lot. Events touch few lots, so a short
    /// vector with a linear search beats a map keyed by owned strings.
    fn count(
        &mut self,
        object: &ObjectKey,
        record: &ObjectRecord,
        field: fn(&mut LotCounters) -> &mut u64,
    ) {
        let (Some(gtin), Some(lot)) = (object.gtin(), record.lot.as_deref()) else {
            return;
        };
        self.count_units(gtin, lot, 1, field);
    }

    /// Counts the object and, from its contents summary, everything inside it.
    fn count_all(
        &mut self,
        object: &ObjectKey,
        record: &ObjectRecord,
        field: fn(&mut LotCounters) -> &mut u64,
    ) {
        self.count(object, record, field);
        for item in &record.contents {
            self.count_units(&item.gtin, &item.lot, item.count, field);
        }
    }

    fn count_units(
        &mut self,
        gtin: &str,
        lot: &str,
        units: u64,
        field: fn(&mut LotCounters) -> &mut u64,
    ) {
        let position = self
            .counters
            .iter()
            .position(|((g, l), _)| g == gtin && l == lot);
        let index = match position {
            Some(index) => index,
            None => {
                self.counters
                    .push(((gtin.to_string(), lot.to_string()), LotCounters::default()));
                self.counters.len() - 1
            }
        };
        *field(&mut self.counters[index].1) += units;
    }

    /// The counter deltas of the event, keyed by (GTIN, lot).
    pub(crate) fn take_counters(&mut self) -> BTreeMap<(String, String), LotCounters> {
        std::mem::take(&mut self.counters).into_iter().collect()
    }

    fn is_recalled(&mut self, state: &impl StateView, gtin: &str, lot: &str) -> bool {
        if let Some((_, recalled)) = self
            .recalls
            .iter()
            .find(|((g, l), _)| g == gtin && l == lot)
        {
            return *recalled;
        }
        let recalled = state.contains(&keys::recall(gtin, lot));
        self.recalls
            .push(((gtin.to_string(), lot.to_string()), recalled));
        recalled
    }

    /// The expiry of a unit of `gtin`/`lot` printed as `printed`, after any expiry
    /// extension of the lot (an extension never shortens it).
    fn expiry_after_extension(
        &mut self,
        state: &impl StateView,
        gtin: &str,
        lot: &str,
        printed: Option<Date>,
    ) -> Option<Date> {
        let printed = printed?;
        let cached = self
            .extensions
            .iter()
            .find(|((g, l), _)| g == gtin && l == lot)
            .map(|(_, extended)| *extended);
        let extended = match cached {
            Some(extended) => extended,
            None => {
                let extended = load::<ExpiryExtension>(state, &keys::expiry_extension(gtin, lot))
                    .map(|record| record.expiry);
                self.extensions
                    .push(((gtin.to_string(), lot.to_string()), extended));
                extended
            }
        };
        Some(extended.map_or(printed, |extended| extended.max(printed)))
    }

    fn today(&self) -> u32 {
        date_from_unix_ms(self.timestamp_ms)
    }
}

/// Loads an object record.
pub fn load_object(state: &(impl StateView + ?Sized), object: &ObjectKey) -> Option<ObjectRecord> {
    let bytes = state.get(&keys::object(object))?;
    Some(fastcodec::decode_object(&bytes).expect("corrupt object record"))
}

/// Loads a record the caller will write if the operation succeeds (the undo tracker
/// keeps the bytes it read as the before-image, sparing the write a second look-up).
/// Use [`load_object`] for records that are only read.
fn load_for_update(state: &mut impl StateView, object: &ObjectKey) -> Option<ObjectRecord> {
    let mut record = None;
    state.read_before_write(&keys::object(object), &mut |bytes| {
        record = Some(fastcodec::decode_object(bytes).expect("corrupt object record"));
    });
    record
}

fn require_for_update(state: &mut impl StateView, object: &ObjectKey) -> RuleResult<ObjectRecord> {
    match load_for_update(state, object) {
        Some(record) => Ok(record),
        None => reject(
            Outcome::UnknownObject,
            format!("{object} was never commissioned"),
        ),
    }
}

fn require_object(state: &impl StateView, object: &ObjectKey) -> RuleResult<ObjectRecord> {
    match load_object(state, object) {
        Some(record) => Ok(record),
        None => reject(
            Outcome::UnknownObject,
            format!("{object} was never commissioned"),
        ),
    }
}

fn save_object(
    state: &mut impl StateView,
    ev: &EventCtx<'_>,
    object: &ObjectKey,
    record: &mut ObjectRecord,
) {
    record.last_event_seq = ev.event_seq;
    state.put(keys::object(object), fastcodec::encode_object(record));
}

fn history(
    state: &mut impl StateView,
    ev: &EventCtx<'_>,
    object: &ObjectKey,
    action: HistoryAction,
    via: Option<&ObjectKey>,
) {
    let key = keys::history(object, ev.event_seq);
    // The actions written per unit go through the hand-written encoder (same bytes).
    if let Some(action) = ActionRef::of(&action) {
        history_ref(state, ev, object, action, via);
        return;
    }
    // Otherwise through a borrowing twin of `HistoryEntry` (same fields, same order, so
    // the same bytes) to spare copying the org and the container key per entry.
    let entry = HistoryEntryRef {
        event_seq: ev.event_seq,
        event_hash: &ev.event_hash,
        height: ev.height,
        timestamp_ms: ev.timestamp_ms,
        org: ev.org,
        action: &action,
        via,
    };
    store(state, key, &entry);
}

/// [`history`] for the actions written per unit, without owning their fields.
fn history_ref(
    state: &mut impl StateView,
    ev: &EventCtx<'_>,
    object: &ObjectKey,
    action: ActionRef<'_>,
    via: Option<&ObjectKey>,
) {
    let bytes = fastcodec::encode_history(
        ev.event_seq,
        &ev.event_hash,
        ev.height,
        ev.timestamp_ms,
        ev.org,
        action,
        via,
    );
    state.put(keys::history(object, ev.event_seq), bytes);
}

/// [`crate::records::HistoryEntry`] with borrowed fields; serialises to the same bytes.
#[derive(serde::Serialize)]
pub(crate) struct HistoryEntryRef<'a> {
    pub(crate) event_seq: u64,
    pub(crate) event_hash: &'a Digest32,
    pub(crate) height: u64,
    pub(crate) timestamp_ms: u64,
    pub(crate) org: &'a str,
    pub(crate) action: &'a HistoryAction,
    pub(crate) via: Option<&'a ObjectKey>,
}

/// Checks list size and repeats.
fn check_list(objects: &[ObjectKey], allow_empty: bool) -> RuleResult<()> {
    if objects.is_empty() && !allow_empty {
        return reject(Outcome::MalformedBody, "empty object list");
    }
    if objects.len() as u64 > OBJECTS_PER_OP_MAX {
        return reject(
            Outcome::LimitExceeded,
            format!("more than {OBJECTS_PER_OP_MAX} objects"),
        );
    }
    // Sorting references finds repeats without building a set.
    let mut sorted: Vec<&ObjectKey> = objects.iter().collect();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
        return reject(Outcome::RepeatedObject, format!("{} listed twice", pair[0]));
    }
    Ok(())
}

/// The custodian may act on an object that is active (not in transit, not decommissioned).
fn require_held_active(object: &ObjectKey, record: &ObjectRecord, org: &str) -> RuleResult<()> {
    if record.custodian != org {
        return reject(
            Outcome::NotCustodian,
            format!("{object} is held by {}, not {org}", record.custodian),
        );
    }
    match record.status {
        ObjectStatus::Active => Ok(()),
        ObjectStatus::InTransit => {
            reject(Outcome::ObjectInTransit, format!("{object} is in transit"))
        }
        status => reject(
            Outcome::ObjectDecommissioned,
            format!("{object} is decommissioned ({status:?})"),
        ),
    }
}

/// The object and everything packed inside it, root first, breadth first.
pub fn subtree(
    state: &(impl StateView + ?Sized),
    root: &ObjectKey,
    root_record: ObjectRecord,
) -> RuleResult<Vec<(ObjectKey, ObjectRecord)>> {
    let mut out = vec![(root.clone(), root_record)];
    let mut frontier_start = 0usize;
    for _depth in 0..=AGGREGATION_DEPTH_MAX {
        let frontier_end = out.len();
        if frontier_start == frontier_end {
            return Ok(out);
        }
        for index in frontier_start..frontier_end {
            if out[index].1.children.is_empty() {
                continue;
            }
            let children = out[index].1.children.clone();
            for child in children {
                let record = load_object(state, &child).expect("child without record");
                out.push((child, record));
            }
            if out.len() as u64 > AFFECTED_OBJECTS_MAX {
                return reject(
                    Outcome::LimitExceeded,
                    format!("{root} contains too many objects"),
                );
            }
        }
        frontier_start = frontier_end;
    }
    reject(
        Outcome::LimitExceeded,
        format!("{root} is nested deeper than {AGGREGATION_DEPTH_MAX}"),
    )
}

/// The chain of containers above an object, nearest first.
pub fn ancestors(state: &(impl StateView + ?Sized), record: &ObjectRecord) -> Vec<ObjectKey> {
    let mut chain = Vec::new();
    let mut next = record.parent.clone();
    while let Some(parent) = next {
        assert!(
            (chain.len() as u64) <= AGGREGATION_DEPTH_MAX,
            "aggregation deeper than the limit"
        );
        next = load_object(state, &parent).and_then(|r| r.parent);
        chain.push(parent);
    }
    chain
}

/// The lot-bearing units an object stands for: itself (an SGTIN with a lot) first,
/// then its contents summary, as `(gtin, lot, expiry, count)`.
fn lot_units<'r>(
    object: &'r ObjectKey,
    record: &'r ObjectRecord,
) -> impl Iterator<Item = (&'r str, &'r str, Option<u32>, u64)> + 'r {
    let own = match (object.gtin(), record.lot.as_deref()) {
        (Some(gtin), Some(lot)) => Some((gtin, lot, record.expiry, 1)),
        _ => None,
    };
    own.into_iter().chain(record.contents.iter().map(|item| {
        (
            item.gtin.as_str(),
            item.lot.as_str(),
            item.expiry,
            item.count,
        )
    }))
}

/// Rejects acting on an object that, with everything inside it, exceeds
/// [`AFFECTED_OBJECTS_MAX`].
fn check_affected(object: &ObjectKey, record: &ObjectRecord) -> RuleResult<()> {
    if record.contents_total.saturating_add(1) > AFFECTED_OBJECTS_MAX {
        return reject(
            Outcome::LimitExceeded,
            format!("{object} contains too many objects"),
        );
    }
    Ok(())
}

/// What an object adds to the summary of every container it is packed into: itself
/// (if it is a lot-bearing unit) and its own contents.
fn contribution(
    object: &ObjectKey,
    record: &ObjectRecord,
    delta: &mut Vec<ContentCount>,
    total: &mut u64,
) {
    if let (Some(gtin), Some(lot)) = (object.gtin(), record.lot.as_deref()) {
        let own = ContentCount {
            gtin: gtin.to_string(),
            lot: lot.to_string(),
            expiry: record.expiry,
            count: 1,
        };
        merge_contents(delta, std::slice::from_ref(&own), false);
    }
    merge_contents(delta, &record.contents, false);
    *total += 1 + record.contents_total;
}

fn apply_contribution(
    record: &mut ObjectRecord,
    delta: &[ContentCount],
    total: u64,
    subtract: bool,
) {
    merge_contents(&mut record.contents, delta, subtract);
    record.contents_total = if subtract {
        record
            .contents_total
            .checked_sub(total)
            .expect("container summary holds fewer objects than removed")
    } else {
        record.contents_total + total
    };
}

/// Applies a contents change to each container in `containers` (the ones above the
/// container that changed).
fn update_containers(
    state: &mut impl StateView,
    ev: &EventCtx<'_>,
    containers: &[ObjectKey],
    delta: &[ContentCount],
    total: u64,
    subtract: bool,
) -> RuleResult<()> {
    for container in containers {
        let mut record = require_for_update(state, container)?;
        apply_contribution(&mut record, delta, total, subtract);
        save_object(state, ev, container, &mut record);
    }
    Ok(())
}

/// The record that governs an object: its own if it is not packed, otherwise its own
/// identity (lot, expiry, parent, children) with the status, custody, transit and
/// decommissioning of its outermost container.
///
/// Packed contents keep no custody of their own: shipping, receiving or
/// decommissioning a container writes only the container's record, and everything
/// inside follows by reading through to it. Unpacking (or taking a unit out to
/// decommission it) copies the governing fields back into the child.
pub fn effective(state: &(impl StateView + ?Sized), record: &ObjectRecord) -> ObjectRecord {
    let mut out = record.clone();
    if let Some(root_key) = ancestors(state, record).pop() {
        let root = load_object(state, &root_key).expect("container without record");
        out.status = root.status;
        out.custodian = root.custodian;
        out.in_transit_to = root.in_transit_to;
        out.shipment = root.shipment;
        out.decommissioning = root.decommissioning;
    }
    out
}

/// Dispatches one operation.
pub(crate) fn apply_op(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    op: &Op,
) -> RuleResult<()> {
    match op {
        Op::Commission {
            objects,
            lot,
            expiry,
        } => commission(state, ev, objects, lot.as_deref(), *expiry),
        Op::Pack { parent, children } => pack(state, ev, parent, children),
        Op::Unpack { parent, children } => unpack(state, ev, parent, children),
        Op::Ship {
            objects,
            destination,
        } => ship(state, ev, objects, destination),
        Op::Receive { objects } => receive(state, ev, objects),
        Op::Decommission {
            objects,
            kind,
            location,
        } => decommission(state, ev, objects, *kind, location.as_deref()),
        Op::Reinstate { objects, location } => reinstate(state, ev, objects, location.as_deref()),
        Op::Observe { objects } => observe(state, ev, objects),
        Op::Transform {
            inputs,
            outputs,
            lot,
            expiry,
        } => transform(state, ev, inputs, outputs, lot.as_deref(), *expiry),
        Op::LinkTransactions {
            objects,
            transactions,
            action,
        } => link_transactions(state, ev, objects, transactions, *action),
        Op::Associate {
            asset,
            objects,
            action,
        } => associate(state, ev, asset, objects, *action),
    }
}

/// May `org` commission `object`? Brand owner (owner of the company prefix) or, for an
/// SGTIN, a CMO the brand owner delegated the GTIN to.
fn may_commission(state: &impl StateView, org: &str, object: &ObjectKey) -> bool {
    let Some(owner) = membership::prefix_owner(state, object.prefix_digits()) else {
        return false;
    };
    if owner == org {
        return true;
    }
    match object.gtin() {
        Some(gtin) => {
            membership::delegation(state, gtin, org).is_some_and(|d| d.brand_owner == owner)
        }
        None => false,
    }
}

/// A new object held by `org`, active, unpacked and empty, without lot or expiry, first
/// recorded by the event `commissioned_event`.
fn new_record(org: &str, commissioned_event: Digest32) -> ObjectRecord {
    ObjectRecord {
        lot: None,
        expiry: None,
        status: ObjectStatus::Active,
        custodian: org.to_string(),
        in_transit_to: None,
        shipment: None,
        parent: None,
        children: Vec::new(),
        contents: Vec::new(),
        contents_total: 0,
        decommissioning: None,
        commissioned_by: org.to_string(),
        commissioned_event,
        last_event_seq: 0,
    }
}

fn commission(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    objects: &[ObjectKey],
    lot: Option<&str>,
    expiry: Option<u32>,
) -> RuleResult<()> {
    check_list(objects, false)?;
    if let Some(lot) = lot.filter(|lot| !is_cset82(lot, LOT_LENGTH_MAX)) {
        return reject(Outcome::MalformedBody, format!("bad lot {lot:?}"));
    }
    if let Some(expiry) = expiry.filter(|date| !is_valid_date(*date)) {
        return reject(Outcome::MalformedBody, format!("bad expiry {expiry}"));
    }
    // Authority first (cached per company-prefix digits), so unauthorised attempts never
    // count as duplicate-serial exceptions.
    let mut authorised: BTreeMap<&str, bool> = BTreeMap::new();
    for object in objects {
        let digits = object.gtin().unwrap_or_else(|| object.prefix_digits());
        let allowed = *authorised
            .entry(digits)
            .or_insert_with(|| may_commission(state, ev.org, object));
        if !allowed {
            return reject(
                Outcome::NotBrandOwnerOrDelegate,
                format!("{} may not commission {object}", ev.org),
            );
        }
        if object.gtin().is_some() && lot.is_none() {
            return reject(
                Outcome::MissingLot,
                format!("{object} needs a lot (cbvmda:lotNumber)"),
            );
        }
    }
    let mut duplicates: BTreeMap<&str, u64> = BTreeMap::new();
    let mut first_duplicate = None;
    for object in objects {
        if state.contains_before_write(&keys::object(object)) {
            *duplicates.entry(object.gtin().unwrap_or("")).or_default() += 1;
            first_duplicate.get_or_insert(object);
        }
    }
    if let Some(first) = first_duplicate {
        let lot = lot.unwrap_or("").to_string();
        let exceptions = duplicates
            .into_iter()
            .filter(|(gtin, _)| !gtin.is_empty())
            .map(|(gtin, count)| Exception::DuplicateSerial {
                gtin: gtin.to_string(),
                lot: lot.clone(),
                count,
            })
            .collect();
        return Err(Rejection {
            outcome: Outcome::DuplicateSerial,
            message: format!("{first} is already commissioned"),
            exceptions,
        });
    }
    for object in objects {
        let is_sgtin = object.gtin().is_some();
        let mut record = ObjectRecord {
            lot: if is_sgtin {
                lot.map(str::to_string)
            } else {
                None
            },
            expiry: if is_sgtin { expiry } else { None },
            ..new_record(ev.org, ev.event_hash)
        };
        save_object(state, ev, object, &mut record);
        if let (ObjectKey::Sgtin { gtin, serial }, Some(lot)) = (object, lot) {
            state.put(keys::lot_member(gtin, lot, serial), Vec::new());
        }
        ev.count(object, &record, |c| &mut c.commissioned);
    }
    Ok(())
}

fn pack(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    parent: &ObjectKey,
    children: &[ObjectKey],
) -> RuleResult<()> {
    check_list(children, false)?;
    if children.contains(parent) {
        return reject(
            Outcome::AggregationCycle,
            format!("{parent} cannot contain itself"),
        );
    }
    let mut parent_record = match load_for_update(state, parent) {
        Some(record) => record,
        // A logistic unit (SSCC) may be created by packing it, as EPCIS flows often do.
        None if matches!(parent, ObjectKey::Sscc(_)) && may_commission(state, ev.org, parent) => {
            new_record(ev.org, ev.event_hash)
        }
        None => {
            return reject(
                Outcome::UnknownObject,
                format!("{parent} was never commissioned"),
            );
        }
    };
    require_held_active(parent, &effective(state, &parent_record), ev.org)?;
    let parent_ancestors = ancestors(state, &parent_record);
    if let Some(cycle) = children
        .iter()
        .find(|child| parent_ancestors.contains(child))
    {
        return reject(
            Outcome::AggregationCycle,
            format!("{cycle} contains {parent}"),
        );
    }
    let mut records = Vec::with_capacity(children.len());
    for child in children {
        let record = require_for_update(state, child)?;
        if let Some(existing) = &record.parent {
            return reject(
                Outcome::AlreadyPacked,
                format!("{child} is already packed in {existing}"),
            );
        }
        require_held_active(child, &record, ev.org)?;
        if !record.children.is_empty() {
            let depth = subtree_depth(state, child, &record)?;
            if parent_ancestors.len() as u64 + 1 + depth > AGGREGATION_DEPTH_MAX {
                return reject(Outcome::LimitExceeded, "aggregation too deep");
            }
        }
        records.push(record);
    }
    if parent_ancestors.len() as u64 + 1 > AGGREGATION_DEPTH_MAX {
        return reject(Outcome::LimitExceeded, "aggregation too deep");
    }
    let mut delta = Vec::new();
    let mut total = 0u64;
    for (child, mut record) in children.iter().zip(records) {
        contribution(child, &record, &mut delta, &mut total);
        record.parent = Some(parent.clone());
        save_object(state, ev, child, &mut record);
        history_ref(state, ev, child, ActionRef::PackedInto(parent), None);
        ev.count(child, &record, |c| &mut c.packed);
    }
    parent_record.children.extend(children.iter().cloned());
    parent_record.children.sort();
    apply_contribution(&mut parent_record, &delta, total, false);
    save_object(state, ev, parent, &mut parent_record);
    history(
        state,
        ev,
        parent,
        HistoryAction::PackedChildren(children.len() as u64),
        None,
    );
    update_containers(state, ev, &parent_ancestors, &delta, total, false)?;
    Ok(())
}

fn subtree_depth(
    state: &impl StateView,
    root: &ObjectKey,
    record: &ObjectRecord,
) -> RuleResult<u64> {
    // Depth below `root`: 0 for a leaf. Bounded by `subtree`'s own limits.
    let nodes = subtree(state, root, record.clone())?;
    let mut depth: BTreeMap<ObjectKey, u64> = BTreeMap::new();
    depth.insert(root.clone(), 0);
    let mut deepest = 0;
    for (node, node_record) in nodes.iter().skip(1) {
        let parent = node_record.parent.as_ref().expect("child without parent");
        let d = depth.get(parent).copied().unwrap_or(0) + 1;
        deepest = deepest.max(d);
        depth.insert(node.clone(), d);
    }
    Ok(deepest)
}

fn unpack(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    parent: &ObjectKey,
    children: &[ObjectKey],
) -> RuleResult<()> {
    check_list(children, true)?;
    let mut parent_record = require_for_update(state, parent)?;
    let governing = effective(state, &parent_record);
    require_held_active(parent, &governing, ev.org)?;
    let listed: Vec<ObjectKey> = if children.is_empty() {
        parent_record.children.clone()
    } else {
        children.to_vec()
    };
    if listed.is_empty() {
        return reject(Outcome::NotAChild, format!("{parent} has no children"));
    }
    for child in &listed {
        if parent_record.children.binary_search(child).is_err() {
            return reject(
                Outcome::NotAChild,
                format!("{child} is not packed in {parent}"),
            );
        }
    }
    let mut delta = Vec::new();
    let mut total = 0u64;
    for child in &listed {
        let mut record = require_for_update(state, child)?;
        assert_eq!(
            record.parent.as_ref(),
            Some(parent),
            "child edge and parent field disagree"
        );
        contribution(child, &record, &mut delta, &mut total);
        record.parent = None;
        // The child takes over the custody it had through its container.
        record.status = governing.status;
        record.custodian = governing.custodian.clone();
        record.in_transit_to = None;
        record.shipment = None;
        record.decommissioning = None;
        save_object(state, ev, child, &mut record);
        history_ref(state, ev, child, ActionRef::UnpackedFrom(parent), None);
    }
    let before = parent_record.children.len();
    let removed: BTreeSet<&ObjectKey> = listed.iter().collect();
    parent_record
        .children
        .retain(|child| !removed.contains(child));
    assert_eq!(parent_record.children.len() + listed.len(), before);
    apply_contribution(&mut parent_record, &delta, total, true);
    let above = ancestors(state, &parent_record);
    save_object(state, ev, parent, &mut parent_record);
    update_containers(state, ev, &above, &delta, total, true)?;
    history(
        state,
        ev,
        parent,
        HistoryAction::UnpackedChildren(listed.len() as u64),
        None,
    );
    Ok(())
}

fn resolve_party(state: &impl StateView, party: &Party) -> RuleResult<OrgId> {
    let org = match party {
        Party::Org(org) => Some(org.clone()),
        Party::Gln(gln) if is_valid_key(gln, 13) => membership::gln_owner(state, gln),
        Party::Gln(gln) => return reject(Outcome::MalformedBody, format!("bad GLN {gln:?}")),
    };
    match org.filter(|org| membership::active_org(state, org).is_some()) {
        Some(org) => Ok(org),
        None => reject(
            Outcome::UnknownDestination,
            format!("{party:?} is not a member"),
        ),
    }
}

/// The shipment id of the `op_index`-th operation of an event.
pub fn shipment_id(event_hash: &Digest32, op_index: u64) -> Digest32 {
    codec::hash_parts(
        b"pedigree/shipment/v1\0",
        &[event_hash, &op_index.to_le_bytes()],
    )
}

fn ship(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    objects: &[ObjectKey],
    destination: &Party,
) -> RuleResult<()> {
    check_list(objects, false)?;
    let receiver = resolve_party(state, destination)?;
    if receiver == ev.org {
        return reject(
            Outcome::ShipToSelf,
            format!("{} cannot ship to itself", ev.org),
        );
    }
    let mut trees = Vec::with_capacity(objects.len());
    for object in objects {
        let record = require_for_update(state, object)?;
        require_held_active(object, &record, ev.org)?;
        if let Some(parent) = &record.parent {
            return reject(
                Outcome::ObjectInsideContainer,
                format!("{object} is packed in {parent}"),
            );
        }
        check_affected(object, &record)?;
        for (gtin, lot, _, _) in lot_units(object, &record) {
            // A recalled lot may only travel back to its brand owner.
            if ev.is_recalled(state, gtin, lot)
                && membership::brand_owner(state, gtin).as_deref() != Some(receiver.as_str())
            {
                return reject(
                    Outcome::LotRecalled,
                    format!("{object} holds units of recalled lot {lot}"),
                );
            }
        }
        trees.push((object.clone(), record));
    }
    let id = shipment_id(&ev.event_hash, ev.op_index);
    let mut top: Vec<ObjectKey> = objects.to_vec();
    top.sort();
    let shipment = ShipmentRecord {
        sender: ev.org.to_string(),
        receiver: receiver.clone(),
        objects: top,
        height: ev.height,
        status: ShipmentStatus::Open,
    };
    store(state, keys::shipment(&id), &shipment);
    for (root, mut record) in trees {
        record.status = ObjectStatus::InTransit;
        record.in_transit_to = Some(receiver.clone());
        record.shipment = Some(id);
        save_object(state, ev, &root, &mut record);
        history_ref(state, ev, &root, ActionRef::Shipped(&receiver), None);
        ev.count_all(&root, &record, |c| &mut c.shipped);
    }
    Ok(())
}

fn receive(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    objects: &[ObjectKey],
) -> RuleResult<()> {
    check_list(objects, false)?;
    let mut by_shipment: BTreeMap<Digest32, Vec<(ObjectKey, ObjectRecord)>> = BTreeMap::new();
    let mut unexpected = Vec::new();
    for object in objects {
        let Some(record) = load_object(state, object).map(|record| effective(state, &record))
        else {
            unexpected.push(object.clone());
            continue;
        };
        if record.status != ObjectStatus::InTransit {
            unexpected.push(object.clone());
            continue;
        }
        if record.in_transit_to.as_deref() != Some(ev.org) {
            return reject(
                Outcome::NotReceiver,
                format!(
                    "{object} is in transit to {}",
                    record.in_transit_to.clone().unwrap_or_default()
                ),
            );
        }
        if let Some(parent) = &record.parent {
            return reject(
                Outcome::ObjectInsideContainer,
                format!("{object} is packed in {parent}; receive the container"),
            );
        }
        let shipment = record.shipment.expect("in transit without shipment");
        by_shipment
            .entry(shipment)
            .or_default()
            .push((object.clone(), record));
    }
    let mut first_shipment = None;
    for (shipment_id, received) in by_shipment {
        first_shipment.get_or_insert(shipment_id);
        let mut shipment: ShipmentRecord =
            load(state, &keys::shipment(&shipment_id)).expect("object in unknown shipment");
        assert_eq!(shipment.receiver, ev.org);
        let received_keys: BTreeSet<&ObjectKey> = received.iter().map(|(key, _)| key).collect();
        let missing: Vec<ObjectKey> = shipment
            .objects
            .iter()
            .filter(|object| !received_keys.contains(object))
            .filter(|object| {
                load_object(state, object).is_some_and(|r| r.shipment == Some(shipment_id))
            })
            .cloned()
            .collect();
        for (root, mut record) in received {
            check_affected(&root, &record)?;
            record.status = ObjectStatus::Active;
            record.custodian = ev.org.to_string();
            record.in_transit_to = None;
            record.shipment = None;
            save_object(state, ev, &root, &mut record);
            history(state, ev, &root, HistoryAction::Received, None);
            ev.count_all(&root, &record, |c| &mut c.received);
        }
        shipment.status = ShipmentStatus::Received;
        store(state, keys::shipment(&shipment_id), &shipment);
        if !missing.is_empty() {
            record_discrepancy(state, ev, &shipment_id, missing, Vec::new());
        }
    }
    if !unexpected.is_empty() {
        // Unexpected objects are attached to the first shipment this event received
        // (or to the all-zero id when it received none). Custody does not change.
        let shipment_id = first_shipment.unwrap_or([0; 32]);
        record_discrepancy(state, ev, &shipment_id, Vec::new(), unexpected);
    }
    Ok(())
}

fn record_discrepancy(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    shipment_id: &Digest32,
    missing: Vec<ObjectKey>,
    unexpected: Vec<ObjectKey>,
) {
    for object in missing.iter().chain(unexpected.iter()) {
        if let Some(record) = load_object(state, object) {
            ev.count(object, &record, |c| &mut c.discrepancies);
        }
    }
    let key = keys::discrepancy(shipment_id, ev.event_seq);
    let mut record: DiscrepancyRecord = load(state, &key).unwrap_or(DiscrepancyRecord {
        receiver: ev.org.to_string(),
        missing: Vec::new(),
        unexpected: Vec::new(),
        height: ev.height,
    });
    record.missing.extend(missing);
    record.unexpected.extend(unexpected);
    store(state, key, &record);
}

fn decommission(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    objects: &[ObjectKey],
    kind: DecommissionKind,
    location: Option<&str>,
) -> RuleResult<()> {
    check_list(objects, false)?;
    if kind == DecommissionKind::Transformed {
        return reject(
            Outcome::MalformedBody,
            "objects are consumed by a transformation (Transform), not decommissioned",
        );
    }
    let today = ev.today();
    let mut trees = Vec::with_capacity(objects.len());
    // Codes that never entered the supply chain (printed, then rejected on the line before
    // commissioning) are destroyed by their brand owner or its delegate: the serial is burnt,
    // so it can never be commissioned later.
    let mut burnt = Vec::new();
    for object in objects {
        let record = match load_for_update(state, object) {
            Some(record) => record,
            None if kind == DecommissionKind::Destroyed
                && may_commission(state, ev.org, object) =>
            {
                burnt.push(object);
                continue;
            }
            None => require_for_update(state, object)?,
        };
        let governing = effective(state, &record);
        require_held_active(object, &governing, ev.org)?;
        check_affected(object, &record)?;
        let supplies = matches!(
            kind,
            DecommissionKind::Dispensed | DecommissionKind::Sample | DecommissionKind::Exported
        );
        // The object itself first, then its contents (all recalls before expiries).
        for (gtin, lot, expiry, count) in lot_units(object, &record) {
            if supplies && ev.is_recalled(state, gtin, lot) {
                return reject(
                    Outcome::LotRecalled,
                    format!("{object} holds units of recalled lot {lot}"),
                );
            }
            let expiry = if kind == DecommissionKind::Dispensed {
                ev.expiry_after_extension(state, gtin, lot, expiry)
            } else {
                None
            };
            if expiry.is_some_and(|e| e < today) {
                return reject(
                    Outcome::Expired,
                    format!(
                        "{object} holds {count} unit(s) of lot {lot} that expired on {}",
                        expiry.unwrap_or(0)
                    ),
                );
            }
        }
        trees.push((object.clone(), record, governing));
    }
    let decommissioning = Decommissioning {
        kind,
        org: ev.org.to_string(),
        timestamp_ms: ev.timestamp_ms,
        location: location.map(str::to_string),
    };
    for object in burnt {
        // No lot, expiry or commissioning event; the destroying event is its only history.
        let mut record = ObjectRecord {
            status: kind.status(),
            decommissioning: Some(decommissioning.clone()),
            ..new_record(ev.org, [0; 32])
        };
        save_object(state, ev, object, &mut record);
        history(state, ev, object, HistoryAction::Decommissioned(kind), None);
    }
    for (root, mut record, governing) in trees {
        // Taking a unit out of a case to dispense it removes it from the case; it takes
        // over the custody it had through the case.
        if let Some(parent) = record.parent.take() {
            let mut parent_record = require_for_update(state, &parent)?;
            let position = parent_record
                .children
                .binary_search(&root)
                .expect("child missing from its parent");
            parent_record.children.remove(position);
            let mut delta = Vec::new();
            let mut total = 0u64;
            contribution(&root, &record, &mut delta, &mut total);
            apply_contribution(&mut parent_record, &delta, total, true);
            let above = ancestors(state, &parent_record);
            save_object(state, ev, &parent, &mut parent_record);
            update_containers(state, ev, &above, &delta, total, true)?;
            history(state, ev, &root, HistoryAction::UnpackedFrom(parent), None);
            record.custodian = governing.custodian;
            record.in_transit_to = None;
            record.shipment = None;
        }
        record.status = kind.status();
        record.decommissioning = Some(decommissioning.clone());
        save_object(state, ev, &root, &mut record);
        history(state, ev, &root, HistoryAction::Decommissioned(kind), None);
        let counter: fn(&mut LotCounters) -> &mut u64 = match kind {
            DecommissionKind::Dispensed => |c| &mut c.dispensed,
            DecommissionKind::Destroyed => |c| &mut c.destroyed,
            _ => |c| &mut c.decommissioned_other,
        };
        ev.count_all(&root, &record, counter);
    }
    Ok(())
}

fn reinstate(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    objects: &[ObjectKey],
    location: Option<&str>,
) -> RuleResult<()> {
    check_list(objects, false)?;
    let today = ev.today();
    let mut trees = Vec::with_capacity(objects.len());
    for object in objects {
        let record = require_for_update(state, object)?;
        if let Some(parent) = &record.parent {
            return reject(
                Outcome::ObjectInsideContainer,
                format!("{object} is packed in {parent}; reinstate the container"),
            );
        }
        let Some(decommissioning) = record.decommissioning.clone() else {
            return reject(
                Outcome::NotDecommissioned,
                format!("{object} is not decommissioned"),
            );
        };
        if !decommissioning.kind.is_revertible() {
            return reject(
                Outcome::RevertNotAllowed,
                format!(
                    "{object} is {:?}; that cannot be reverted",
                    decommissioning.kind
                ),
            );
        }
        let same_premises = match (location, decommissioning.location.as_deref()) {
            (Some(here), Some(there)) => here == there,
            _ => true,
        };
        if decommissioning.org != ev.org || !same_premises {
            return reject(
                Outcome::RevertByOtherOrg,
                format!(
                    "{object} was decommissioned by {} at {:?}",
                    decommissioning.org, decommissioning.location
                ),
            );
        }
        if ev.timestamp_ms.saturating_sub(decommissioning.timestamp_ms) > REVERT_WINDOW_MS {
            return reject(
                Outcome::RevertWindowExpired,
                format!("{object} was decommissioned more than 10 days ago"),
            );
        }
        check_affected(object, &record)?;
        for (gtin, lot, expiry, _) in lot_units(object, &record) {
            if ev.is_recalled(state, gtin, lot) {
                return reject(
                    Outcome::LotRecalled,
                    format!("{object} holds units of recalled lot {lot}"),
                );
            }
            let expiry = ev.expiry_after_extension(state, gtin, lot, expiry);
            if expiry.is_some_and(|e| e < today) {
                return reject(
                    Outcome::Expired,
                    format!("{object} holds expired units of lot {lot}"),
                );
            }
        }
        trees.push((object.clone(), record));
    }
    for (root, mut record) in trees {
        record.status = ObjectStatus::Active;
        record.decommissioning = None;
        save_object(state, ev, &root, &mut record);
        history(state, ev, &root, HistoryAction::Reinstated, None);
        ev.count_all(&root, &record, |c| &mut c.reinstated);
    }
    Ok(())
}

fn observe(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    objects: &[ObjectKey],
) -> RuleResult<()> {
    check_list(objects, false)?;
    for object in objects {
        require_object(state, object)?;
        history(state, ev, object, HistoryAction::Observed, None);
    }
    Ok(())
}

/// Validates a GTIN-14 and lot pair (recall, release, queries).
pub fn check_gtin_lot(gtin: &str, lot: &str) -> RuleResult<()> {
    if !is_valid_key(gtin, 14) {
        return reject(Outcome::MalformedBody, format!("bad GTIN {gtin:?}"));
    }
    if !is_cset82(lot, LOT_LENGTH_MAX) {
        return reject(Outcome::MalformedBody, format!("bad lot {lot:?}"));
    }
    Ok(())
}

fn require_recall_authority(state: &impl StateView, org: &str, gtin: &str) -> RuleResult<()> {
    let is_brand_owner = membership::brand_owner(state, gtin).as_deref() == Some(org);
    let is_regulator = membership::active_org(state, org)
        .is_some_and(|record| record.has_role(crate::records::Role::Regulator));
    if is_brand_owner || is_regulator {
        Ok(())
    } else {
        reject(
            Outcome::NotRecallAuthority,
            format!("{org} is neither the brand owner of {gtin} nor a regulator"),
        )
    }
}

/// Recalls a lot.
pub(crate) fn recall(
    state: &mut impl StateView,
    org: &str,
    height: u64,
    gtin: &str,
    lot: &str,
    reason: &str,
) -> RuleResult<()> {
    check_gtin_lot(gtin, lot)?;
    if reason.len() > 1024 {
        return reject(
            Outcome::LimitExceeded,
            "recall reason longer than 1024 bytes",
        );
    }
    require_recall_authority(state, org, gtin)?;
    let key = keys::recall(gtin, lot);
    if state.contains(&key) {
        return reject(
            Outcome::AlreadyRecalled,
            format!("{gtin} lot {lot} is already recalled"),
        );
    }
    store(
        state,
        key,
        &RecallRecord {
            org: org.to_string(),
            height,
            reason: reason.to_string(),
        },
    );
    Ok(())
}

/// Releases a recalled lot.
pub(crate) fn release(
    state: &mut impl StateView,
    org: &str,
    gtin: &str,
    lot: &str,
) -> RuleResult<()> {
    check_gtin_lot(gtin, lot)?;
    require_recall_authority(state, org, gtin)?;
    let key = keys::recall(gtin, lot);
    if !state.contains(&key) {
        return reject(
            Outcome::NotRecalled,
            format!("{gtin} lot {lot} is not recalled"),
        );
    }
    state.delete(&key);
    Ok(())
}

// ---- Transformation, business transactions, associations ----

fn transform(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    inputs: &[ObjectKey],
    outputs: &[ObjectKey],
    lot: Option<&str>,
    expiry: Option<Date>,
) -> RuleResult<()> {
    check_list(inputs, false)?;
    check_list(outputs, false)?;
    if let Some(both) = inputs.iter().find(|input| outputs.contains(input)) {
        return reject(
            Outcome::RepeatedObject,
            format!("{both} is both an input and an output"),
        );
    }
    let mut consumed = Vec::with_capacity(inputs.len());
    for input in inputs {
        let record = require_for_update(state, input)?;
        if let Some(parent) = &record.parent {
            return reject(
                Outcome::ObjectInsideContainer,
                format!("{input} is packed in {parent}; unpack it first"),
            );
        }
        require_held_active(input, &record, ev.org)?;
        if !record.children.is_empty() {
            return reject(
                Outcome::ContainerNotEmpty,
                format!("{input} still contains objects; unpack it first"),
            );
        }
        if let (Some(gtin), Some(lot)) = (input.gtin(), record.lot.as_deref()) {
            // Recalled product may not be turned into new product.
            if ev.is_recalled(state, gtin, lot) {
                return reject(
                    Outcome::LotRecalled,
                    format!("{input} belongs to recalled lot {lot}"),
                );
            }
        }
        consumed.push(record);
    }
    // Outputs are commissioned under the commissioning rules (authority, lot,
    // duplicate serials with their exception counter).
    commission(state, ev, outputs, lot, expiry)?;
    let decommissioning = Decommissioning {
        kind: DecommissionKind::Transformed,
        org: ev.org.to_string(),
        timestamp_ms: ev.timestamp_ms,
        location: None,
    };
    for (input, mut record) in inputs.iter().zip(consumed) {
        record.status = ObjectStatus::Consumed;
        record.decommissioning = Some(decommissioning.clone());
        save_object(state, ev, input, &mut record);
        history(
            state,
            ev,
            input,
            HistoryAction::Decommissioned(DecommissionKind::Transformed),
            None,
        );
        ev.count(input, &record, |c| &mut c.transformed);
    }
    Ok(())
}

/// Checks a reference (business transaction id or type, asset id): at most
/// [`REFERENCE_LENGTH_MAX`] bytes, no control characters.
fn check_reference(what: &str, text: &str, allow_empty: bool) -> RuleResult<()> {
    if (text.is_empty() && !allow_empty)
        || text.len() > REFERENCE_LENGTH_MAX
        || text.chars().any(char::is_control)
    {
        return reject(Outcome::MalformedBody, format!("bad {what} {text:?}"));
    }
    Ok(())
}

/// The signer may link an object it holds, or one in transit to it.
fn require_holder_or_receiver(
    state: &impl StateView,
    ev: &EventCtx<'_>,
    object: &ObjectKey,
) -> RuleResult<()> {
    let record = effective(state, &require_object(state, object)?);
    if record.custodian == ev.org || record.in_transit_to.as_deref() == Some(ev.org) {
        return Ok(());
    }
    reject(
        Outcome::NotCustodian,
        format!("{object} is held by {}, not {}", record.custodian, ev.org),
    )
}

/// Adds, removes or observes links under `prefix_of(reference)` for each object.
/// With no objects, `Delete` removes every link the signer made under the prefix.
fn apply_links(
    state: &mut impl StateView,
    ev: &EventCtx<'_>,
    objects: &[ObjectKey],
    action: LinkAction,
    prefix: &[u8],
    what: &str,
) -> RuleResult<Vec<ObjectKey>> {
    let link_key = |object: &ObjectKey| {
        let mut key = prefix.to_vec();
        object.write_key(&mut key);
        key
    };
    if objects.is_empty() {
        // DELETE with no objects (checked by the caller): every link the signer made.
        let mut removed = Vec::new();
        for (key, bytes) in state.scan_prefix(prefix, OBJECTS_PER_OP_MAX) {
            let link: LinkRecord = codec::decode(&bytes).expect("corrupt link record");
            if link.org != ev.org {
                continue;
            }
            let object = ObjectKey::read_key(&key[prefix.len()..]).expect("corrupt link key");
            state.delete(&key);
            removed.push(object);
        }
        return Ok(removed);
    }
    for object in objects {
        let key = link_key(object);
        match action {
            LinkAction::Add => store(
                state,
                key,
                &LinkRecord {
                    org: ev.org.to_string(),
                    event_seq: ev.event_seq,
                    height: ev.height,
                },
            ),
            LinkAction::Delete => {
                if !state.contains_before_write(&key) {
                    return reject(
                        Outcome::NotLinked,
                        format!("{object} is not linked to {what}"),
                    );
                }
                state.delete(&key);
            }
            LinkAction::Observe => {}
        }
    }
    Ok(objects.to_vec())
}

fn link_transactions(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    objects: &[ObjectKey],
    transactions: &[BizTransaction],
    action: LinkAction,
) -> RuleResult<()> {
    check_list(objects, action == LinkAction::Delete)?;
    if transactions.is_empty() {
        return reject(Outcome::MalformedBody, "no business transaction");
    }
    if transactions.len() as u64 > BIZ_TRANSACTIONS_MAX {
        return reject(
            Outcome::LimitExceeded,
            format!("more than {BIZ_TRANSACTIONS_MAX} business transactions"),
        );
    }
    let mut sorted: Vec<&BizTransaction> = transactions.iter().collect();
    sorted.sort();
    if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
        return reject(
            Outcome::RepeatedObject,
            "a business transaction is listed twice",
        );
    }
    for transaction in transactions {
        check_reference("business transaction type", &transaction.biz_type, true)?;
        check_reference("business transaction id", &transaction.id, false)?;
    }
    for object in objects {
        require_holder_or_receiver(state, ev, object)?;
    }
    let mut touched: BTreeSet<ObjectKey> = BTreeSet::new();
    for transaction in transactions {
        let prefix = keys::biz_transaction_links(&transaction.biz_type, &transaction.id);
        let what = format!("{} {}", transaction.biz_type, transaction.id);
        touched.extend(apply_links(state, ev, objects, action, &prefix, &what)?);
    }
    let mut transactions = transactions.to_vec();
    transactions.sort();
    for object in &touched {
        let entry = HistoryAction::BizTransactions {
            action,
            transactions: transactions.clone(),
        };
        history(state, ev, object, entry, None);
    }
    Ok(())
}

fn associate(
    state: &mut impl StateView,
    ev: &mut EventCtx<'_>,
    asset: &str,
    objects: &[ObjectKey],
    action: LinkAction,
) -> RuleResult<()> {
    check_list(objects, action == LinkAction::Delete)?;
    check_reference("asset", asset, false)?;
    for object in objects {
        require_holder_or_receiver(state, ev, object)?;
    }
    let prefix = keys::associations_of(asset);
    let touched = apply_links(state, ev, objects, action, &prefix, asset)?;
    for object in &touched {
        let entry = HistoryAction::Associated {
            action,
            asset: asset.to_string(),
        };
        history(state, ev, object, entry, None);
    }
    Ok(())
}

// ---- Suspect product and expiry extensions (non-event transactions) ----

fn check_target(target: &SuspectTarget) -> RuleResult<&str> {
    match target {
        SuspectTarget::Package { gtin, serial } => {
            if ObjectKey::sgtin(gtin, serial).is_none() {
                return reject(
                    Outcome::MalformedBody,
                    format!("bad package GTIN {gtin:?} serial {serial:?}"),
                );
            }
            Ok(gtin)
        }
        SuspectTarget::Lot { gtin, lot } => {
            check_gtin_lot(gtin, lot)?;
            Ok(gtin)
        }
    }
}

fn is_regulator(state: &impl StateView, org: &str) -> bool {
    membership::active_org(state, org).is_some_and(|record| record.has_role(Role::Regulator))
}

/// Opens a suspect-product investigation. Allowed to the GTIN's brand owner, a
/// regulator, and, for one package, the org holding it (or receiving it).
pub(crate) fn suspect_mark(
    state: &mut impl StateView,
    org: &str,
    height: u64,
    target: &SuspectTarget,
    reason: &str,
) -> RuleResult<()> {
    let gtin = check_target(target)?;
    if reason.len() > 1024 {
        return reject(Outcome::LimitExceeded, "reason longer than 1024 bytes");
    }
    let mut allowed =
        membership::brand_owner(state, gtin).as_deref() == Some(org) || is_regulator(state, org);
    if let SuspectTarget::Package { gtin, serial } = target {
        let object = ObjectKey::sgtin(gtin, serial).expect("checked above");
        let record = effective(state, &require_object(state, &object)?);
        allowed |= record.custodian == org || record.in_transit_to.as_deref() == Some(org);
    }
    if !allowed {
        return reject(
            Outcome::NotInvestigationAuthority,
            format!("{org} may not open an investigation on {target:?}"),
        );
    }
    let key = keys::suspect(target);
    if state.contains(&key) {
        return reject(
            Outcome::AlreadySuspect,
            format!("{target:?} is already under investigation"),
        );
    }
    store(
        state,
        key,
        &SuspectRecord {
            org: org.to_string(),
            height,
            reason: reason.to_string(),
            illegitimate: None,
        },
    );
    Ok(())
}

/// Closes an investigation: the org that opened it, the brand owner or a regulator.
/// `Cleared` removes the record; `Illegitimate` keeps it with the finding. Clearing
/// an illegitimate finding (terminating the notification) is for a regulator only.
pub(crate) fn suspect_resolve(
    state: &mut impl StateView,
    org: &str,
    height: u64,
    target: &SuspectTarget,
    resolution: SuspectResolution,
    note: &str,
) -> RuleResult<()> {
    let gtin = check_target(target)?;
    if note.len() > 1024 {
        return reject(Outcome::LimitExceeded, "note longer than 1024 bytes");
    }
    let key = keys::suspect(target);
    let Some(mut record) = load::<SuspectRecord>(state, &key) else {
        return reject(
            Outcome::NotSuspect,
            format!("{target:?} is not under investigation"),
        );
    };
    let regulator = is_regulator(state, org);
    let allowed = if record.illegitimate.is_some() {
        regulator
    } else {
        regulator
            || record.org == org
            || membership::brand_owner(state, gtin).as_deref() == Some(org)
    };
    if !allowed {
        return reject(
            Outcome::NotInvestigationAuthority,
            format!("{org} may not resolve the investigation on {target:?}"),
        );
    }
    match resolution {
        SuspectResolution::Cleared => state.delete(&key),
        SuspectResolution::Illegitimate => {
            if record.illegitimate.is_some() {
                return reject(
                    Outcome::AlreadySuspect,
                    format!("{target:?} is already determined illegitimate"),
                );
            }
            record.illegitimate = Some(IllegitimateFinding {
                org: org.to_string(),
                height,
                note: note.to_string(),
            });
            store(state, key, &record);
        }
    }
    Ok(())
}

/// Extends a lot's expiry (brand owner or regulator). The new date must be valid and
/// later than any earlier extension.
pub(crate) fn extend_expiry(
    state: &mut impl StateView,
    org: &str,
    height: u64,
    gtin: &str,
    lot: &str,
    expiry: Date,
) -> RuleResult<()> {
    check_gtin_lot(gtin, lot)?;
    if !is_valid_date(expiry) {
        return reject(Outcome::MalformedBody, format!("bad expiry {expiry}"));
    }
    let is_brand_owner = membership::brand_owner(state, gtin).as_deref() == Some(org);
    if !is_brand_owner && !is_regulator(state, org) {
        return reject(
            Outcome::NotLotAuthority,
            format!("{org} is neither the brand owner of {gtin} nor a regulator"),
        );
    }
    let key = keys::expiry_extension(gtin, lot);
    if let Some(previous) = load::<ExpiryExtension>(state, &key)
        && expiry <= previous.expiry
    {
        return reject(
            Outcome::MalformedBody,
            format!(
                "{gtin} lot {lot} is already extended to {}",
                previous.expiry
            ),
        );
    }
    store(
        state,
        key,
        &ExpiryExtension {
            expiry,
            org: org.to_string(),
            height,
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::HistoryEntry;

    #[test]
    fn borrowed_history_entry_encodes_like_the_owned_one() {
        let container = ObjectKey::sscc("106141412345678908").expect("valid SSCC");
        for via in [None, Some(container.clone())] {
            let owned = HistoryEntry {
                event_seq: 300,
                event_hash: [7; 32],
                height: 1 << 40,
                timestamp_ms: 1_767_225_600_000,
                org: "dist".into(),
                action: HistoryAction::PackedInto(container.clone()),
                via: via.clone(),
            };
            let borrowed = HistoryEntryRef {
                event_seq: owned.event_seq,
                event_hash: &owned.event_hash,
                height: owned.height,
                timestamp_ms: owned.timestamp_ms,
                org: &owned.org,
                action: &owned.action,
                via: owned.via.as_ref(),
            };
            assert_eq!(codec::encode(&owned), codec::encode(&borrowed));
        }
    }
}
