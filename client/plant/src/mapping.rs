//! Line events to EPCIS 2.0 events (the typed model of `pedigree-epcis`),
//! and the commissioning batcher.
//!
//! | line event | EPCIS event |
//! |---|---|
//! | verified print | ObjectEvent ADD, `commissioning`, `active`, ILMD `cbvmda:lotNumber` + `cbvmda:itemExpirationDate`; many packs of one GTIN/lot/expiry per event |
//! | rejected / scrapped code | ObjectEvent DELETE, `destroying`, `destroyed` (a code never commissioned is burnt by the ledger: docs/chaincode.md) |
//! | aggregation | AggregationEvent ADD, `packing`, `in_progress` |
//! | dispatch | ObjectEvent OBSERVE, `shipping`, `in_transit`, source and destination lists (owning party + location), optional `desadv` business transaction |
//!
//! Every event gets its CBV 2.0 event hash ID as `eventID`, which makes
//! resubmission idempotent. Own keys (SGTIN, SSCC, SGLN) are written as EPC
//! URNs because the adapter knows its GS1 Company Prefix lengths; trading
//! partners' GLNs are written as GS1 Digital Link URIs
//! (`https://id.gs1.org/417/…`), because their prefix length is unknown.
//! The module is pure: times come from the devices, batch ages from the
//! caller's monotonic clock.

use std::collections::BTreeMap;

use pedigree_epcis::hash::event_hash_id;
use pedigree_epcis::{
    Action, BizStep, BizTransaction, BizTransactionType, Disposition, EpcisEvent, EpcisTime,
    EventType, Extension, ExtensionValue, Location, QName, SourceDest, SourceDestType,
};
use pedigree_gs1::{AiElement, Gln, epc};

use crate::error::InvalidMessage;
use crate::line::{Identifier, LineEvent, LineMessage, Pack, PartyLocation, UnitRead};
use crate::time::DeviceTime;

/// The `cbvmda:` namespace of ILMD master data attributes.
pub const CBVMDA_NAMESPACE: &str = "urn:epcglobal:cbv:mda:";

/// Where a line is and how its keys are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineContext {
    /// Line code.
    pub line: String,
    /// `readPoint` URI (the line, usually an SGLN with the line as extension).
    pub read_point: String,
    /// `bizLocation` URI (the site).
    pub biz_location: String,
    /// GS1 Company Prefix length of the GTINs packed on this line.
    pub gtin_prefix_length: usize,
    /// GS1 Company Prefix length of the SSCCs used on this line.
    pub sscc_prefix_length: usize,
}

impl LineContext {
    /// Builds a context whose read point is SGLN(`site_gln`, extension = line
    /// code) and whose business location is SGLN(`site_gln`).
    pub fn new(
        line: &str,
        site_gln: &Gln,
        site_prefix_length: usize,
        gtin_prefix_length: usize,
    ) -> Result<Self, InvalidMessage> {
        let sgln = |extension: Option<&str>| {
            let mut elements = vec![AiElement::new("414", site_gln.as_str())];
            if let Some(e) = extension {
                elements.push(AiElement::new("254", e));
            }
            epc::to_urn(&elements, site_prefix_length)
                .map_err(|e| InvalidMessage::new(format!("site GLN as SGLN: {e}")))
        };
        Ok(Self {
            line: line.to_string(),
            read_point: sgln(Some(line))?,
            biz_location: sgln(None)?,
            gtin_prefix_length,
            sscc_prefix_length: site_prefix_length,
        })
    }

    /// The EPC URN of an identifier.
    pub fn epc_of(&self, identifier: &Identifier) -> Result<String, InvalidMessage> {
        match identifier {
            Identifier::Sgtin(pack) => self.sgtin(pack),
            Identifier::Sscc(sscc) => epc::to_urn(
                &[AiElement::new("00", sscc.as_str())],
                self.sscc_prefix_length,
            )
            .map_err(|e| InvalidMessage::new(format!("SSCC {sscc}: {e}"))),
        }
    }

    /// The SGTIN URN of a pack.
    pub fn sgtin(&self, pack: &Pack) -> Result<String, InvalidMessage> {
        let elements = [
            AiElement::new("01", pack.gtin.as_str()),
            AiElement::new("21", pack.serial.as_str()),
        ];
        epc::to_urn(&elements, self.gtin_prefix_length)
            .map_err(|e| InvalidMessage::new(format!("SGTIN {} {}: {e}", pack.gtin, pack.serial)))
    }
}

/// An EPCIS event ready to spool, with the line messages it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedEvent {
    /// The line.
    pub line: String,
    /// The message IDs folded into this event (for deduplication).
    pub message_ids: Vec<String>,
    /// The event, with `eventID` set to its CBV hash ID.
    pub event: EpcisEvent,
}

fn base_event(event_type: EventType, time: &DeviceTime, context: &LineContext) -> EpcisEvent {
    let mut event = EpcisEvent::new(event_type);
    event.event_time = Some(EpcisTime::new(time.as_str()));
    event.event_time_zone_offset = Some(time.offset_string());
    event.read_point = Some(Location {
        id: context.read_point.clone(),
        extensions: Vec::new(),
    });
    event.biz_location = Some(Location {
        id: context.biz_location.clone(),
        extensions: Vec::new(),
    });
    event
}

fn finish(mut event: EpcisEvent) -> EpcisEvent {
    event.event_id = Some(event_hash_id(&event));
    event
}

fn cbvmda(local: &str, value: &str) -> Extension {
    Extension {
        name: QName {
            namespace: CBVMDA_NAMESPACE.to_string(),
            local: local.to_string(),
            prefix: Some("cbvmda".to_string()),
        },
        attributes: Vec::new(),
        value: ExtensionValue::Text(value.to_string()),
    }
}

fn party_dl(gln: &Gln) -> String {
    format!("https://id.gs1.org/417/{gln}")
}

fn location_dl(gln: &Gln) -> String {
    format!("https://id.gs1.org/414/{gln}")
}

/// ObjectEvent ADD commissioning for units of one GTIN, lot and expiry.
/// The event time is the latest device time among the units.
pub fn commissioning(
    context: &LineContext,
    units: &[(UnitRead, DeviceTime)],
) -> Result<EpcisEvent, InvalidMessage> {
    let (first, _) = units
        .first()
        .ok_or_else(|| InvalidMessage::new("empty commissioning batch"))?;
    let latest = units
        .iter()
        .map(|(_, time)| time)
        .max_by_key(|time| time.unix_millis())
        .ok_or_else(|| InvalidMessage::new("empty commissioning batch"))?;
    let mut event = base_event(EventType::ObjectEvent, latest, context);
    let mut epcs = Vec::with_capacity(units.len());
    for (unit, _) in units {
        assert!(
            unit.pack.gtin == first.pack.gtin
                && unit.lot == first.lot
                && unit.expiry == first.expiry
        );
        epcs.push(context.sgtin(&unit.pack)?);
    }
    event.epc_list = Some(epcs);
    event.action = Some(Action::Add);
    event.biz_step = Some(BizStep::new("commissioning"));
    event.disposition = Some(Disposition::new("active"));
    event.ilmd = Some(vec![
        cbvmda("lotNumber", &first.lot),
        cbvmda("itemExpirationDate", &first.expiry),
    ]);
    Ok(finish(event))
}

/// Maps a non-batched line event (rejected, aggregated, dispatched) to its
/// EPCIS event. Verified prints go through [`Batcher`] instead.
pub fn single_event(
    context: &LineContext,
    message: &LineMessage,
) -> Result<EpcisEvent, InvalidMessage> {
    let time = &message.device_time;
    let event = match &message.event {
        LineEvent::Printed(unit) => return commissioning(context, &[(unit.clone(), time.clone())]),
        LineEvent::Rejected { pack, .. } => {
            let mut event = base_event(EventType::ObjectEvent, time, context);
            event.epc_list = Some(vec![context.sgtin(pack)?]);
            event.action = Some(Action::Delete);
            event.biz_step = Some(BizStep::new("destroying"));
            event.disposition = Some(Disposition::new("destroyed"));
            event
        }
        LineEvent::Aggregated {
            parent, children, ..
        } => {
            let mut event = base_event(EventType::AggregationEvent, time, context);
            event.parent_id = Some(context.epc_of(parent)?);
            event.child_epcs = Some(
                children
                    .iter()
                    .map(|c| context.epc_of(c))
                    .collect::<Result<_, _>>()?,
            );
            event.action = Some(Action::Add);
            event.biz_step = Some(BizStep::new("packing"));
            event.disposition = Some(Disposition::new("in_progress"));
            event
        }
        LineEvent::Dispatched {
            containers,
            source,
            destination,
            despatch_advice,
        } => {
            let mut event = base_event(EventType::ObjectEvent, time, context);
            event.epc_list = Some(
                containers
                    .iter()
                    .map(|c| context.epc_of(c))
                    .collect::<Result<_, _>>()?,
            );
            event.action = Some(Action::Observe);
            event.biz_step = Some(BizStep::new("shipping"));
            event.disposition = Some(Disposition::new("in_transit"));
            event.source_list = Some(source_dest(source));
            event.destination_list = Some(source_dest(destination));
            if let Some(advice) = despatch_advice {
                event.biz_transaction_list = Some(vec![BizTransaction {
                    transaction_type: Some(BizTransactionType::new("desadv")),
                    value: format!(
                        "urn:epcglobal:cbv:bt:{}:{}",
                        source.party,
                        epc::escape(advice)
                    ),
                }]);
            }
            event
        }
    };
    Ok(finish(event))
}

fn source_dest(value: &PartyLocation) -> Vec<SourceDest> {
    vec![
        SourceDest {
            source_dest_type: Some(SourceDestType::new("owning_party")),
            value: party_dl(&value.party),
        },
        SourceDest {
            source_dest_type: Some(SourceDestType::new("location")),
            value: location_dl(&value.location),
        },
    ]
}

/// Batching limits for commissioning events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most packs in one commissioning event (flush when reached).
    pub epcs_per_event_max: usize,
    /// Oldest a batch may get before it is flushed, in milliseconds.
    pub batch_age_ms_max: u64,
}

/// Key of an open commissioning batch: one line, GTIN, lot and expiry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct BatchKey {
    line: String,
    gtin: String,
    lot: String,
    expiry: String,
}

/// An open batch, generic over what the caller attaches to each message
/// (the adapter attaches acknowledgement handles).
#[derive(Debug)]
struct OpenBatch<T> {
    opened_at_ms: u64,
    units: Vec<(UnitRead, DeviceTime)>,
    message_ids: Vec<String>,
    attachments: Vec<T>,
}

/// A closed batch: the mapped event plus the attachments of its messages.
#[derive(Debug)]
pub struct ClosedBatch<T> {
    /// The commissioning event.
    pub mapped: MappedEvent,
    /// One attachment per covered message, in arrival order.
    pub attachments: Vec<T>,
}

/// Groups verified prints into commissioning events, flushing on size or
/// age. `now_ms` is any monotonic millisecond clock chosen by the caller.
#[derive(Debug)]
pub struct Batcher<T> {
    limits: BatchLimits,
    open: BTreeMap<BatchKey, OpenBatch<T>>,
}

impl<T> Batcher<T> {
    /// An empty batcher.
    pub fn new(limits: BatchLimits) -> Self {
        assert!(limits.epcs_per_event_max >= 1);
        Self {
            limits,
            open: BTreeMap::new(),
        }
    }

    /// Adds a verified print; returns the closed batch if it reached the size limit.
    pub fn add(
        &mut self,
        context: &LineContext,
        message_id: String,
        unit: UnitRead,
        time: DeviceTime,
        attachment: T,
        now_ms: u64,
    ) -> Result<Option<ClosedBatch<T>>, InvalidMessage> {
        let key = BatchKey {
            line: context.line.clone(),
            gtin: unit.pack.gtin.to_string(),
            lot: unit.lot.clone(),
            expiry: unit.expiry.clone(),
        };
        // Validate the EPC before accepting the unit so that closing the
        // batch later cannot fail on it.
        context.sgtin(&unit.pack)?;
        let batch = self.open.entry(key.clone()).or_insert_with(|| OpenBatch {
            opened_at_ms: now_ms,
            units: Vec::new(),
            message_ids: Vec::new(),
            attachments: Vec::new(),
        });
        batch.units.push((unit, time));
        batch.message_ids.push(message_id);
        batch.attachments.push(attachment);
        if batch.units.len() >= self.limits.epcs_per_event_max {
            let batch = self
                .open
                .remove(&key)
                .ok_or_else(|| InvalidMessage::new("batch vanished"))?;
            return close(context, batch).map(Some);
        }
        Ok(None)
    }

    /// Closes every batch older than the age limit.
    pub fn take_expired(
        &mut self,
        contexts: &BTreeMap<String, LineContext>,
        now_ms: u64,
    ) -> Vec<Result<ClosedBatch<T>, InvalidMessage>> {
        let age_max = self.limits.batch_age_ms_max;
        self.take_where(contexts, |key, batch| {
            let _ = key;
            now_ms.saturating_sub(batch.opened_at_ms) >= age_max
        })
    }

    /// Closes every batch of `line` (before a non-batched event of that
    /// line, so that the ledger sees commissioning before packing).
    pub fn take_line(
        &mut self,
        contexts: &BTreeMap<String, LineContext>,
        line: &str,
    ) -> Vec<Result<ClosedBatch<T>, InvalidMessage>> {
        self.take_where(contexts, |key, _| key.line == line)
    }

    /// Closes every batch (shutdown).
    pub fn take_all(
        &mut self,
        contexts: &BTreeMap<String, LineContext>,
    ) -> Vec<Result<ClosedBatch<T>, InvalidMessage>> {
        self.take_where(contexts, |_, _| true)
    }

    /// The earliest time (in the caller's clock) at which a batch expires.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.open
            .values()
            .map(|b| b.opened_at_ms + self.limits.batch_age_ms_max)
            .min()
    }

    /// True if `message_id` is in an open batch.
    pub fn holds_message(&self, message_id: &str) -> bool {
        self.open
            .values()
            .any(|b| b.message_ids.iter().any(|m| m == message_id))
    }

    /// Number of units in open batches.
    pub fn open_units(&self) -> usize {
        self.open.values().map(|b| b.units.len()).sum()
    }

    fn take_where(
        &mut self,
        contexts: &BTreeMap<String, LineContext>,
        mut predicate: impl FnMut(&BatchKey, &OpenBatch<T>) -> bool,
    ) -> Vec<Result<ClosedBatch<T>, InvalidMessage>> {
        let keys: Vec<BatchKey> = self
            .open
            .iter()
            .filter(|(k, b)| predicate(k, b))
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(batch) = self.open.remove(&key) {
                match contexts.get(&key.line) {
                    Some(context) => out.push(close(context, batch)),
                    None => out.push(Err(InvalidMessage::new(format!(
                        "unknown line {}",
                        key.line
                    )))),
                }
            }
        }
        out
    }
}

fn close<T>(context: &LineContext, batch: OpenBatch<T>) -> Result<ClosedBatch<T>, InvalidMessage> {
    let event = commissioning(context, &batch.units)?;
    Ok(ClosedBatch {
        mapped: MappedEvent {
            line: context.line.clone(),
            message_ids: batch.message_ids,
            event,
        },
        attachments: batch.attachments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::{PackLevel, PartyLocation};
    use pedigree_gs1::Sscc;

    fn context() -> LineContext {
        LineContext::new("L1", &Gln::parse("0614141007776").unwrap(), 7, 7).unwrap()
    }

    fn unit(serial: &str) -> UnitRead {
        UnitRead {
            pack: Pack::new("10614141073464", serial).unwrap(),
            lot: "LOT123".into(),
            expiry: "2026-12-31".into(),
        }
    }

    #[test]
    fn commissioning_matches_the_standards_vector() {
        // standards.md §5.3: the pharma commissioning vector, with the
        // read point and business location of that example.
        let mut context = context();
        context.read_point = "urn:epc:id:sgln:0614141.00777.0".into();
        context.biz_location = "urn:epc:id:sgln:0614141.00888.0".into();
        let time = DeviceTime::parse("2024-03-01T09:30:00.123+01:00").unwrap();
        let event = commissioning(
            &context,
            &[(unit("SN002"), time.clone()), (unit("SN001"), time)],
        )
        .unwrap();
        assert_eq!(
            event.event_id.as_deref(),
            Some(
                "ni:///sha-256;b03e5e1ef5dcd81ba4ac5d45d8f53f81ce55ce9e9982c80822e9cf86ad2604fe?ver=CBV2.0"
            )
        );
        assert_eq!(event.event_time_zone_offset.as_deref(), Some("+01:00"));
    }

    #[test]
    fn read_point_is_the_line() {
        let c = context();
        assert_eq!(c.read_point, "urn:epc:id:sgln:0614141.00777.L1");
        assert_eq!(c.biz_location, "urn:epc:id:sgln:0614141.00777.0");
    }

    #[test]
    fn single_events() {
        let c = context();
        let time = DeviceTime::parse("2026-11-21T10:00:00Z").unwrap();
        let sscc = Sscc::parse("106141412345678908").unwrap();
        let message = |event| LineMessage {
            line: "L1".into(),
            device: "d".into(),
            message_id: "m".into(),
            device_time: time.clone(),
            event,
        };
        let rejected = single_event(
            &c,
            &message(LineEvent::Rejected {
                pack: unit("X").pack,
                reason: String::new(),
            }),
        )
        .unwrap();
        assert_eq!(rejected.action, Some(Action::Delete));
        assert_eq!(
            rejected.biz_step.as_ref().map(BizStep::as_str),
            Some("destroying")
        );

        let packed = single_event(
            &c,
            &message(LineEvent::Aggregated {
                level: PackLevel::Case,
                parent: Identifier::Sscc(sscc.clone()),
                children: vec![
                    Identifier::Sgtin(unit("A").pack),
                    Identifier::Sgtin(unit("B").pack),
                ],
            }),
        )
        .unwrap();
        assert_eq!(
            packed.parent_id.as_deref(),
            Some("urn:epc:id:sscc:0614141.1234567890")
        );
        assert_eq!(packed.child_epcs.as_ref().map(Vec::len), Some(2));

        let gln = Gln::parse("0614141000005").unwrap();
        let shipped = single_event(
            &c,
            &message(LineEvent::Dispatched {
                containers: vec![Identifier::Sscc(sscc)],
                source: PartyLocation {
                    party: gln.clone(),
                    location: Gln::parse("0614141007776").unwrap(),
                },
                destination: PartyLocation {
                    party: gln.clone(),
                    location: gln,
                },
                despatch_advice: Some("DA/1".into()),
            }),
        )
        .unwrap();
        assert_eq!(shipped.action, Some(Action::Observe));
        assert_eq!(shipped.destination_list.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            shipped.biz_transaction_list.as_ref().unwrap()[0].value,
            "urn:epcglobal:cbv:bt:0614141000005:DA%2F1"
        );
        // Each written event validates against the EPCIS rules.
        let mut document =
            pedigree_epcis::EpcisDocument::new(pedigree_epcis::DocumentKind::Document);
        document.schema_version = Some("2.0".into());
        document.creation_date = Some(EpcisTime::new("2026-11-21T10:00:00Z"));
        document.events = vec![rejected, packed, shipped];
        let text = pedigree_epcis::json::write_document(&document);
        let back = pedigree_epcis::json::parse_document(&text).unwrap();
        assert_eq!(back.events.len(), 3);
        assert_eq!(
            pedigree_epcis::hash::document_hash_ids(&back),
            document
                .events
                .iter()
                .map(|e| e.event_id.clone().unwrap())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn batcher_flushes_on_size_and_age() {
        let c = context();
        let contexts: BTreeMap<String, LineContext> = [("L1".to_string(), c.clone())].into();
        let mut batcher = Batcher::new(BatchLimits {
            epcs_per_event_max: 3,
            batch_age_ms_max: 1000,
        });
        let time = DeviceTime::parse("2026-11-21T10:00:00Z").unwrap();
        for (i, serial) in ["1", "2"].iter().enumerate() {
            let closed = batcher
                .add(&c, format!("m{i}"), unit(serial), time.clone(), i, 10)
                .unwrap();
            assert!(closed.is_none());
        }
        let closed = batcher
            .add(&c, "m2".into(), unit("3"), time.clone(), 2, 20)
            .unwrap()
            .unwrap();
        assert_eq!(closed.attachments, vec![0, 1, 2]);
        assert_eq!(closed.mapped.event.epc_list.as_ref().map(Vec::len), Some(3));
        batcher
            .add(&c, "m3".into(), unit("4"), time, 3, 100)
            .unwrap();
        assert_eq!(batcher.next_deadline_ms(), Some(1100));
        assert!(batcher.take_expired(&contexts, 1099).is_empty());
        assert!(batcher.holds_message("m3"));
        assert_eq!(batcher.take_expired(&contexts, 1100).len(), 1);
        assert_eq!(batcher.open_units(), 0);
    }
}
