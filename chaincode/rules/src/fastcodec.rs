//! Hand-written encoder and decoder for the records written once per unit
//! ([`ObjectRecord`] and history entries), producing and accepting exactly the bytes of
//! the canonical bincode-serde form described in [`crate::codec`].
//!
//! They exist for speed only: serde's generic path costs several thousand instructions
//! per record (a call per field and per byte of every digest). The canonical form stays
//! the definition: the encoder's output is compared with [`codec::encode`] in the unit
//! tests and the property test, and the decoder falls back to [`codec::decode`]
//! whenever it meets anything it does not expect, so it can never accept bytes the
//! canonical decoder would refuse or read them differently.

use crate::codec::{self, Digest32};
use crate::ident::ObjectKey;
use crate::ops::{Op, Party};
use crate::records::{
    ContentCount, DecommissionKind, Decommissioning, HistoryAction, ObjectRecord, ObjectStatus,
};
use sha2::{Digest, Sha256};

/// Single-byte varint values end at 250; 251, 252, 253 announce a u16, u32, u64.
const SINGLE_BYTE_MAX: u8 = 250;
const U16_BYTE: u8 = 251;
const U32_BYTE: u8 = 252;
const U64_BYTE: u8 = 253;

/// Where encoded bytes go: a buffer, or straight into a hash.
pub(crate) trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Feeds a SHA-256 in blocks of up to 512 bytes (spares a call per field).
pub(crate) struct HashSink<'h> {
    hasher: &'h mut Sha256,
    buffer: [u8; 512],
    len: usize,
}

impl<'h> HashSink<'h> {
    pub(crate) fn new(hasher: &'h mut Sha256) -> HashSink<'h> {
        HashSink {
            hasher,
            buffer: [0; 512],
            len: 0,
        }
    }

    /// Hashes what is still buffered.
    pub(crate) fn flush(&mut self) {
        self.hasher.update(&self.buffer[..self.len]);
        self.len = 0;
    }
}

impl Sink for HashSink<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buffer.len() {
            self.flush();
            if bytes.len() > self.buffer.len() {
                self.hasher.update(bytes);
                return;
            }
        }
        self.buffer[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

/// Bytes of one canonical encoding under construction.
pub(crate) struct Out<S: Sink = Vec<u8>>(pub(crate) S);

impl Out {
    pub(crate) fn with_capacity(capacity: usize) -> Out {
        Out(Vec::with_capacity(capacity))
    }
}

impl<S: Sink> Out<S> {
    #[inline]
    pub(crate) fn byte(&mut self, byte: u8) {
        self.0.put(&[byte]);
    }

    #[inline]
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.0.put(bytes);
    }

    /// bincode's varint for any unsigned integer up to 64 bits.
    #[inline]
    pub(crate) fn varint(&mut self, value: u64) {
        if value <= u64::from(SINGLE_BYTE_MAX) {
            self.0.put(&[value as u8]);
        } else if value <= u64::from(u16::MAX) {
            let [a, b] = (value as u16).to_le_bytes();
            self.0.put(&[U16_BYTE, a, b]);
        } else if value <= u64::from(u32::MAX) {
            let [a, b, c, d] = (value as u32).to_le_bytes();
            self.0.put(&[U32_BYTE, a, b, c, d]);
        } else {
            self.0.put(&[U64_BYTE]);
            self.0.put(&value.to_le_bytes());
        }
    }

    #[inline]
    pub(crate) fn str(&mut self, text: &str) {
        self.varint(text.len() as u64);
        self.0.put(text.as_bytes());
    }

    #[inline]
    fn opt_str(&mut self, text: Option<&str>) {
        match text {
            None => self.byte(0),
            Some(text) => {
                self.byte(1);
                self.str(text);
            }
        }
    }

    #[inline]
    fn opt_u32(&mut self, value: Option<u32>) {
        match value {
            None => self.byte(0),
            Some(value) => {
                self.byte(1);
                self.varint(u64::from(value));
            }
        }
    }

    pub(crate) fn object_key(&mut self, key: &ObjectKey) {
        match key {
            ObjectKey::Sgtin { gtin, serial } => {
                self.byte(0);
                self.str(gtin);
                self.str(serial);
            }
            ObjectKey::Sscc(sscc) => {
                self.byte(1);
                self.str(sscc);
            }
        }
    }

    fn opt_object_key(&mut self, key: Option<&ObjectKey>) {
        match key {
            None => self.byte(0),
            Some(key) => {
                self.byte(1);
                self.object_key(key);
            }
        }
    }
}

/// The canonical bytes of an object record (same as `codec::encode(record)`).
pub(crate) fn encode_object(record: &ObjectRecord) -> Vec<u8> {
    let capacity = 96
        + record.children.len() * 40
        + record.contents.len() * 48
        + record.custodian.len()
        + record.commissioned_by.len();
    let mut out = Out::with_capacity(capacity);
    out.opt_str(record.lot.as_deref());
    out.opt_u32(record.expiry);
    out.varint(status_index(record.status));
    out.str(&record.custodian);
    out.opt_str(record.in_transit_to.as_deref());
    match &record.shipment {
        None => out.byte(0),
        Some(id) => {
            out.byte(1);
            out.raw(id);
        }
    }
    out.opt_object_key(record.parent.as_ref());
    out.varint(record.children.len() as u64);
    for child in &record.children {
        out.object_key(child);
    }
    out.varint(record.contents.len() as u64);
    for item in &record.contents {
        out.str(&item.gtin);
        out.str(&item.lot);
        out.opt_u32(item.expiry);
        out.varint(item.count);
    }
    out.varint(record.contents_total);
    match &record.decommissioning {
        None => out.byte(0),
        Some(decommissioning) => {
            out.byte(1);
            out.varint(decommission_kind_index(decommissioning.kind));
            out.str(&decommissioning.org);
            out.varint(decommissioning.timestamp_ms);
            out.opt_str(decommissioning.location.as_deref());
        }
    }
    out.str(&record.commissioned_by);
    out.raw(&record.commissioned_event);
    out.varint(record.last_event_seq);
    out.0
}

/// A [`HistoryAction`] of the kinds written per unit, borrowing its fields (so the
/// caller need not copy a container key or an org id per entry).
#[derive(Clone, Copy, Debug)]
pub(crate) enum ActionRef<'a> {
    /// [`HistoryAction::PackedInto`].
    PackedInto(&'a ObjectKey),
    /// [`HistoryAction::PackedChildren`].
    PackedChildren(u64),
    /// [`HistoryAction::UnpackedFrom`].
    UnpackedFrom(&'a ObjectKey),
    /// [`HistoryAction::UnpackedChildren`].
    UnpackedChildren(u64),
    /// [`HistoryAction::Shipped`].
    Shipped(&'a str),
    /// [`HistoryAction::Received`].
    Received,
}

impl<'a> ActionRef<'a> {
    /// The borrowed form of `action`, if it is one of the kinds above.
    pub(crate) fn of(action: &'a HistoryAction) -> Option<ActionRef<'a>> {
        Some(match action {
            HistoryAction::PackedInto(parent) => ActionRef::PackedInto(parent),
            HistoryAction::PackedChildren(count) => ActionRef::PackedChildren(*count),
            HistoryAction::UnpackedFrom(parent) => ActionRef::UnpackedFrom(parent),
            HistoryAction::UnpackedChildren(count) => ActionRef::UnpackedChildren(*count),
            HistoryAction::Shipped { to } => ActionRef::Shipped(to),
            HistoryAction::Received => ActionRef::Received,
            _ => return None,
        })
    }
}

/// The canonical bytes of a history entry (same as `codec::encode` of the
/// [`crate::records::HistoryEntry`] with these fields and the owned action).
pub(crate) fn encode_history(
    event_seq: u64,
    event_hash: &Digest32,
    height: u64,
    timestamp_ms: u64,
    org: &str,
    action: ActionRef<'_>,
    via: Option<&ObjectKey>,
) -> Vec<u8> {
    let mut out = Out::with_capacity(96 + org.len());
    out.varint(event_seq);
    out.raw(event_hash);
    out.varint(height);
    out.varint(timestamp_ms);
    out.str(org);
    // Variant indices as declared in `HistoryAction`.
    match action {
        ActionRef::PackedInto(parent) => {
            out.byte(1);
            out.object_key(parent);
        }
        ActionRef::PackedChildren(count) => {
            out.byte(2);
            out.varint(count);
        }
        ActionRef::UnpackedFrom(parent) => {
            out.byte(3);
            out.object_key(parent);
        }
        ActionRef::UnpackedChildren(count) => {
            out.byte(4);
            out.varint(count);
        }
        ActionRef::Shipped(to) => {
            out.byte(5);
            out.str(to);
        }
        ActionRef::Received => out.byte(6),
    }
    out.opt_object_key(via);
    out.0
}

/// The canonical bytes of an [`crate::records::UndoRecord`] holding `before` (in
/// this order), written into one buffer of the exact size.
pub(crate) fn encode_undo<'a, I>(before: I) -> Vec<u8>
where
    I: Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)> + Clone + ExactSizeIterator,
{
    let varint_len = |value: usize| match value {
        0..=250 => 1,
        251..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    };
    let size = varint_len(before.len())
        + before
            .clone()
            .map(|(key, value)| {
                varint_len(key.len())
                    + key.len()
                    + 1
                    + value
                        .as_ref()
                        .map_or(0, |value| varint_len(value.len()) + value.len())
            })
            .sum::<usize>();
    let mut out = Out::with_capacity(size);
    out.varint(before.len() as u64);
    for (key, value) in before {
        out.varint(key.len() as u64);
        out.raw(key);
        match value {
            None => out.byte(0),
            Some(value) => {
                out.byte(1);
                out.varint(value.len() as u64);
                out.raw(value);
            }
        }
    }
    debug_assert_eq!(out.0.len(), size);
    out.0
}

/// True for the operations [`write_ops`] encodes by hand (the ones a packing line
/// sends in bulk).
fn is_fast_op(op: &Op) -> bool {
    matches!(
        op,
        Op::Commission { .. }
            | Op::Pack { .. }
            | Op::Unpack { .. }
            | Op::Ship { .. }
            | Op::Receive { .. }
            | Op::Observe { .. }
    )
}

/// Feeds the canonical bytes of an event's operations (same as `codec::encode(ops)`)
/// to `hasher`.
pub(crate) fn hash_ops(hasher: &mut Sha256, ops: &[Op]) {
    if !ops.iter().all(is_fast_op) {
        hasher.update(codec::encode(ops));
        return;
    }
    let mut out = Out(HashSink::new(hasher));
    write_ops(&mut out, ops);
    out.0.flush();
}

fn write_ops<S: Sink>(out: &mut Out<S>, ops: &[Op]) {
    out.varint(ops.len() as u64);
    let keys = |out: &mut Out<S>, keys: &[ObjectKey]| {
        out.varint(keys.len() as u64);
        for key in keys {
            out.object_key(key);
        }
    };
    // Variant indices as declared in `Op`.
    for op in ops {
        match op {
            Op::Commission {
                objects,
                lot,
                expiry,
            } => {
                out.byte(0);
                keys(out, objects);
                out.opt_str(lot.as_deref());
                out.opt_u32(*expiry);
            }
            Op::Pack { parent, children } | Op::Unpack { parent, children } => {
                out.byte(if matches!(op, Op::Pack { .. }) { 1 } else { 2 });
                out.object_key(parent);
                keys(out, children);
            }
            Op::Ship {
                objects,
                destination,
            } => {
                out.byte(3);
                keys(out, objects);
                match destination {
                    Party::Org(org) => {
                        out.byte(0);
                        out.str(org);
                    }
                    Party::Gln(gln) => {
                        out.byte(1);
                        out.str(gln);
                    }
                }
            }
            Op::Receive { objects } => {
                out.byte(4);
                keys(out, objects);
            }
            Op::Observe { objects } => {
                out.byte(7);
                keys(out, objects);
            }
            _ => unreachable!("not a hand-encoded operation"),
        }
    }
}

/// Reads the canonical form; `None` on anything unexpected.
struct In<'a> {
    bytes: &'a [u8],
}

impl<'a> In<'a> {
    #[inline]
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    #[inline]
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(head)
    }

    #[inline]
    fn array32(&mut self) -> Option<Digest32> {
        self.take(32)?.try_into().ok()
    }

    /// A varint of a field of `max_marker` width (U16_BYTE for u16, U32_BYTE for u32,
    /// U64_BYTE for u64), as bincode reads it (non-minimal forms included).
    #[inline]
    fn varint(&mut self, max_marker: u8) -> Option<u64> {
        let first = self.byte()?;
        if first <= SINGLE_BYTE_MAX {
            return Some(u64::from(first));
        }
        if first > max_marker {
            return None;
        }
        match first {
            U16_BYTE => Some(u64::from(u16::from_le_bytes(
                self.take(2)?.try_into().ok()?,
            ))),
            U32_BYTE => Some(u64::from(u32::from_le_bytes(
                self.take(4)?.try_into().ok()?,
            ))),
            U64_BYTE => Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            _ => None,
        }
    }

    #[inline]
    fn u64(&mut self) -> Option<u64> {
        self.varint(U64_BYTE)
    }

    #[inline]
    fn u32(&mut self) -> Option<u32> {
        self.varint(U32_BYTE).map(|value| value as u32)
    }

    /// A length (bincode reads lengths as u64 varints).
    #[inline]
    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    /// A variant index (u32 varint).
    #[inline]
    fn variant(&mut self) -> Option<u32> {
        self.u32()
    }

    #[inline]
    fn string(&mut self) -> Option<String> {
        let len = self.len()?;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).ok().map(str::to_string)
    }

    #[inline]
    fn option_tag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn opt_string(&mut self) -> Option<Option<String>> {
        Some(if self.option_tag()? {
            Some(self.string()?)
        } else {
            None
        })
    }

    fn opt_u32(&mut self) -> Option<Option<u32>> {
        Some(if self.option_tag()? {
            Some(self.u32()?)
        } else {
            None
        })
    }

    fn object_key(&mut self) -> Option<ObjectKey> {
        match self.variant()? {
            0 => {
                let gtin = self.string()?;
                let serial = self.string()?;
                Some(ObjectKey::Sgtin { gtin, serial })
            }
            1 => Some(ObjectKey::Sscc(self.string()?)),
            _ => None,
        }
    }

    /// Capacity for a sequence of `len` items of at least `min_bytes` each: never more
    /// than the remaining input could hold.
    fn capacity(&self, len: usize, min_bytes: usize) -> Option<usize> {
        (len <= self.bytes.len() / min_bytes).then_some(len)
    }
}

// Variant indices in declaration order (what serde writes), spelled out rather than
// taken from `as` casts so a future explicit discriminant cannot change them.
fn status_index(status: ObjectStatus) -> u64 {
    match status {
        ObjectStatus::Active => 0,
        ObjectStatus::InTransit => 1,
        ObjectStatus::Dispensed => 2,
        ObjectStatus::Destroyed => 3,
        ObjectStatus::Stolen => 4,
        ObjectStatus::Sample => 5,
        ObjectStatus::Exported => 6,
        ObjectStatus::Consumed => 7,
    }
}

fn decommission_kind_index(kind: DecommissionKind) -> u64 {
    match kind {
        DecommissionKind::Dispensed => 0,
        DecommissionKind::Destroyed => 1,
        DecommissionKind::Stolen => 2,
        DecommissionKind::Sample => 3,
        DecommissionKind::Exported => 4,
        DecommissionKind::Transformed => 5,
    }
}

fn status(index: u32) -> Option<ObjectStatus> {
    Some(match index {
        0 => ObjectStatus::Active,
        1 => ObjectStatus::InTransit,
        2 => ObjectStatus::Dispensed,
        3 => ObjectStatus::Destroyed,
        4 => ObjectStatus::Stolen,
        5 => ObjectStatus::Sample,
        6 => ObjectStatus::Exported,
        7 => ObjectStatus::Consumed,
        _ => return None,
    })
}

fn decommission_kind(index: u32) -> Option<DecommissionKind> {
    Some(match index {
        0 => DecommissionKind::Dispensed,
        1 => DecommissionKind::Destroyed,
        2 => DecommissionKind::Stolen,
        3 => DecommissionKind::Sample,
        4 => DecommissionKind::Exported,
        5 => DecommissionKind::Transformed,
        _ => return None,
    })
}

fn read_object(bytes: &[u8]) -> Option<ObjectRecord> {
    let mut input = In { bytes };
    let lot = input.opt_string()?;
    let expiry = input.opt_u32()?;
    let status = status(input.variant()?)?;
    let custodian = input.string()?;
    let in_transit_to = input.opt_string()?;
    let shipment = if input.option_tag()? {
        Some(input.array32()?)
    } else {
        None
    };
    let parent = if input.option_tag()? {
        Some(input.object_key()?)
    } else {
        None
    };
    let children_len = input.len()?;
    // An object key takes at least 2 bytes (variant, empty string).
    let mut children = Vec::with_capacity(input.capacity(children_len, 2)?);
    for _ in 0..children_len {
        children.push(input.object_key()?);
    }
    let contents_len = input.len()?;
    let mut contents = Vec::with_capacity(input.capacity(contents_len, 4)?);
    for _ in 0..contents_len {
        contents.push(ContentCount {
            gtin: input.string()?,
            lot: input.string()?,
            expiry: input.opt_u32()?,
            count: input.u64()?,
        });
    }
    let contents_total = input.u64()?;
    let decommissioning = if input.option_tag()? {
        Some(Decommissioning {
            kind: decommission_kind(input.variant()?)?,
            org: input.string()?,
            timestamp_ms: input.u64()?,
            location: input.opt_string()?,
        })
    } else {
        None
    };
    let commissioned_by = input.string()?;
    let commissioned_event = input.array32()?;
    let last_event_seq = input.u64()?;
    if !input.bytes.is_empty() {
        return None;
    }
    Some(ObjectRecord {
        lot,
        expiry,
        status,
        custodian,
        in_transit_to,
        shipment,
        parent,
        children,
        contents,
        contents_total,
        decommissioning,
        commissioned_by,
        commissioned_event,
        last_event_seq,
    })
}

/// Decodes an object record: the same answer as `codec::decode::<ObjectRecord>`.
pub(crate) fn decode_object(bytes: &[u8]) -> Option<ObjectRecord> {
    read_object(bytes).or_else(|| codec::decode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::HistoryEntry;

    fn sgtin(serial: &str) -> ObjectKey {
        ObjectKey::Sgtin {
            gtin: "00614141073467".into(),
            serial: serial.into(),
        }
    }

    fn records() -> Vec<ObjectRecord> {
        let plain = ObjectRecord {
            lot: Some("LOT1".into()),
            expiry: Some(20_271_231),
            status: ObjectStatus::Active,
            custodian: "mfg".into(),
            in_transit_to: None,
            shipment: None,
            parent: None,
            children: Vec::new(),
            contents: Vec::new(),
            contents_total: 0,
            decommissioning: None,
            commissioned_by: "mfg".into(),
            commissioned_event: [7; 32],
            last_event_seq: 3,
        };
        let mut full = plain.clone();
        full.lot = None;
        full.expiry = None;
        full.status = ObjectStatus::Consumed;
        full.in_transit_to = Some("dist".into());
        full.shipment = Some([0xfe; 32]);
        full.parent = Some(ObjectKey::Sscc("106141412345678908".into()));
        full.children = (0..300).map(|i| sgtin(&format!("S{i}"))).collect();
        full.children
            .push(ObjectKey::Sscc("006141410000000017".into()));
        full.contents = vec![
            ContentCount {
                gtin: "00614141073467".into(),
                lot: "L".into(),
                expiry: None,
                count: 250,
            },
            ContentCount {
                gtin: "00614141073467".into(),
                lot: "M".into(),
                expiry: Some(u32::MAX),
                count: u64::MAX,
            },
        ];
        full.contents_total = 70_000;
        full.decommissioning = Some(Decommissioning {
            kind: DecommissionKind::Transformed,
            org: "é".into(),
            timestamp_ms: 1_767_225_600_000,
            location: Some("0614141000005".into()),
        });
        full.last_event_seq = 5_000_000_000;
        let mut boundaries = plain.clone();
        boundaries.expiry = Some(251);
        boundaries.contents_total = 65_536;
        boundaries.last_event_seq = 250;
        boundaries.custodian = "x".repeat(251);
        vec![plain, full, boundaries]
    }

    #[test]
    fn object_records_encode_and_decode_like_serde() {
        for record in records() {
            let canonical = codec::encode(&record);
            assert_eq!(encode_object(&record), canonical);
            assert_eq!(read_object(&canonical), Some(record.clone()));
            assert_eq!(decode_object(&canonical), Some(record));
        }
    }

    #[test]
    fn malformed_object_bytes_get_the_canonical_answer() {
        let canonical = codec::encode(&records()[1]);
        for cut in 0..canonical.len() {
            assert_eq!(
                decode_object(&canonical[..cut]),
                codec::decode::<ObjectRecord>(&canonical[..cut])
            );
        }
        let mut trailing = canonical.clone();
        trailing.push(0);
        assert_eq!(decode_object(&trailing), None);
        let mut bad_status = codec::encode(&records()[0]);
        // lot: tag, length, 4 bytes; expiry: tag, u32 marker, 4 bytes; then the status.
        assert_eq!(bad_status[12], 0);
        bad_status[12] = 9;
        assert_eq!(
            decode_object(&bad_status),
            codec::decode::<ObjectRecord>(&bad_status)
        );
    }

    #[test]
    fn history_entries_encode_like_serde() {
        let actions = vec![
            HistoryAction::PackedInto(sgtin("C1")),
            HistoryAction::PackedChildren(100),
            HistoryAction::UnpackedFrom(ObjectKey::Sscc("106141412345678908".into())),
            HistoryAction::UnpackedChildren(70_000),
            HistoryAction::Shipped { to: "dist".into() },
            HistoryAction::Received,
        ];
        for (index, action) in actions.into_iter().enumerate() {
            let via = (index % 2 == 0).then(|| sgtin("V"));
            let entry = HistoryEntry {
                event_seq: 1 << (index * 8),
                event_hash: [index as u8; 32],
                height: 300,
                timestamp_ms: 1_767_225_600_000,
                org: "mfg".into(),
                action: action.clone(),
                via: via.clone(),
            };
            let fast = encode_history(
                entry.event_seq,
                &entry.event_hash,
                entry.height,
                entry.timestamp_ms,
                &entry.org,
                ActionRef::of(&action).unwrap(),
                via.as_ref(),
            );
            assert_eq!(fast, codec::encode(&entry));
        }
        let other = HistoryAction::Decommissioned(DecommissionKind::Dispensed);
        assert!(ActionRef::of(&other).is_none());
    }

    #[test]
    fn undo_records_encode_like_serde() {
        let before: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> = [
            (b"obj/Sx".to_vec(), Some(vec![3u8; 300])),
            (b"ship/y".to_vec(), None),
            (Vec::new(), Some(Vec::new())),
            (vec![b'k'; 70_000], Some(vec![1; 251])),
        ]
        .into_iter()
        .collect();
        let record = crate::records::UndoRecord {
            before: before.clone().into_iter().collect(),
        };
        assert_eq!(encode_undo(before.iter()), codec::encode(&record));
        let empty = std::collections::BTreeMap::new();
        assert_eq!(
            encode_undo(empty.iter()),
            codec::encode(&crate::records::UndoRecord::default())
        );
    }

    #[test]
    fn ops_encode_like_serde() {
        let units: Vec<ObjectKey> = (0..300).map(|i| sgtin(&format!("U{i}"))).collect();
        let sscc = ObjectKey::Sscc("106141412345678908".into());
        let all = vec![
            Op::Commission {
                objects: units.clone(),
                lot: Some("L1".into()),
                expiry: Some(20_271_231),
            },
            Op::Commission {
                objects: vec![sscc.clone()],
                lot: None,
                expiry: None,
            },
            Op::Pack {
                parent: sscc.clone(),
                children: units.clone(),
            },
            Op::Unpack {
                parent: sgtin("C"),
                children: Vec::new(),
            },
            Op::Ship {
                objects: vec![sscc.clone()],
                destination: Party::Org("dist".into()),
            },
            Op::Ship {
                objects: units.clone(),
                destination: Party::Gln("0614141000005".into()),
            },
            Op::Receive {
                objects: units.clone(),
            },
            Op::Observe {
                objects: vec![sscc.clone()],
            },
        ];
        let encode = |ops: &[Op]| {
            let mut out = Out::with_capacity(0);
            write_ops(&mut out, ops);
            out.0
        };
        let hash = |ops: &[Op]| {
            let mut hasher = Sha256::new();
            hasher.update(b"x");
            hash_ops(&mut hasher, ops);
            <[u8; 32]>::from(hasher.finalize())
        };
        let slow_hash = |ops: &[Op]| codec::hash_parts(b"x", &[&codec::encode(ops)]);
        for op in &all {
            let one = std::slice::from_ref(op);
            assert_eq!(encode(one), codec::encode(one));
            assert_eq!(hash(one), slow_hash(one));
        }
        assert_eq!(encode(&all), codec::encode(&all));
        assert_eq!(hash(&all), slow_hash(&all));
        assert_eq!(hash(&[]), slow_hash(&[]));
        assert_eq!(
            crate::apply::ops_event_hash(1_767_225_600_123, &all),
            codec::hash_parts(
                codec::DOMAIN_EVENT,
                &[
                    b"ops\0",
                    &1_767_225_600_123u64.to_le_bytes(),
                    &codec::encode(&all)
                ]
            )
        );
        let other = Op::Reinstate {
            objects: vec![sscc],
            location: None,
        };
        let mixed = vec![all[0].clone(), other];
        assert!(!is_fast_op(&mixed[1]));
        assert_eq!(hash(&mixed), slow_hash(&mixed));
    }
}
