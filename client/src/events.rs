//! Typed builders for the pharmaceutical supply-chain events, producing
//! [`pedigree_epcis::model::EpcisEvent`]s the chaincode maps to its operations
//! (see `pedigree_chaincode::epcis`).
//!
//! | builder | EPCIS | chaincode operation |
//! |---|---|---|
//! | [`Commission`] | ObjectEvent ADD, `commissioning`, ILMD `cbvmda:lotNumber` / `cbvmda:itemExpirationDate` | commission |
//! | [`Pack`] | AggregationEvent ADD, `packing` | pack |
//! | [`Unpack`] | AggregationEvent DELETE, `unpacking` | unpack |
//! | [`Ship`] | ObjectEvent OBSERVE, `shipping`, destination owning party + location | ship |
//! | [`Receive`] | ObjectEvent OBSERVE, `receiving` | receive |
//! | [`Decommission`] | ObjectEvent OBSERVE, `dispensing` / `destroying` | decommission |
//! | [`recall`], [`release`] | (not EPCIS) | recall / release a lot |
//!
//! Identifiers are written as GS1 Digital Link URIs on `https://id.gs1.org` ([`sgtin`],
//! [`sscc`], [`party`], [`location`]); the chaincode accepts them like EPC URIs and
//! they need no company-prefix length. Every builder checks its GS1 keys (length, check
//! digit) and dates, sets `eventTime` (now unless given) and sets `eventID` to the CBV
//! 2.0 event hash ID, so submitting the same event twice is recognised as a duplicate.

use pedigree_chaincode::TxBody;
use pedigree_epcis::hash::event_hash_id;
use pedigree_epcis::model::{
    Action, BizStep, Disposition, EpcisEvent, EpcisTime, EventType, Extension, ExtensionValue,
    Location, QName, SourceDest, SourceDestType,
};
use pedigree_gs1::{Gln, Gtin, Sscc};

/// The event type every builder produces (re-exported for SDK users).
pub use pedigree_epcis::model::EpcisEvent as Event;

use crate::error::{ClientError, Result};

/// The CBV master-data namespace of `lotNumber` and `itemExpirationDate`.
pub const CBVMDA_NAMESPACE: &str = "urn:epcglobal:cbv:mda";

/// The Digital Link resolver used for identifiers.
pub const DIGITAL_LINK_BASE: &str = "https://id.gs1.org";

/// Most EPCs one builder accepts (one event per transaction; the node bounds bodies).
pub const EPCS_PER_EVENT_MAX: usize = 10_000;

fn invalid(message: impl Into<String>) -> ClientError {
    ClientError::Invalid(message.into())
}

/// Validates a GTIN (8, 12, 13 or 14 digits, check digit) and returns its GTIN-14.
pub fn gtin14(gtin: &str) -> Result<String> {
    Gtin::parse(gtin)
        .map(|g| g.as_str().to_string())
        .map_err(|e| invalid(format!("GTIN {gtin:?}: {e}")))
}

/// Validates a GLN (13 digits, check digit).
pub fn gln13(gln: &str) -> Result<String> {
    Gln::parse(gln)
        .map(|g| g.as_str().to_string())
        .map_err(|e| invalid(format!("GLN {gln:?}: {e}")))
}

/// Percent-encodes a serial or lot for a Digital Link path segment (RFC 3986 unreserved
/// characters stay as they are).
pub(crate) fn dl_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Checks a serial number (AI 21: 1–20 characters of GS1 character set 82).
fn check_serial(serial: &str) -> Result<()> {
    let valid_char = |c: char| {
        c.is_ascii_graphic()
            && !matches!(
                c,
                '#' | '$' | '@' | '[' | '\\' | ']' | '^' | '`' | '{' | '|' | '}' | '~'
            )
    };
    if serial.is_empty() || serial.len() > 20 || !serial.chars().all(valid_char) {
        return Err(invalid(format!(
            "serial {serial:?}: must be 1-20 characters of GS1 character set 82"
        )));
    }
    Ok(())
}

/// The Digital Link URI of a serialised unit (GTIN + serial).
pub fn sgtin(gtin: &str, serial: &str) -> Result<String> {
    check_serial(serial)?;
    Ok(format!(
        "{DIGITAL_LINK_BASE}/01/{}/21/{}",
        gtin14(gtin)?,
        dl_escape(serial)
    ))
}

/// The Digital Link URI of a logistic unit (SSCC-18).
pub fn sscc(sscc: &str) -> Result<String> {
    let sscc = Sscc::parse(sscc).map_err(|e| invalid(format!("SSCC {sscc:?}: {e}")))?;
    Ok(format!("{DIGITAL_LINK_BASE}/00/{}", sscc.as_str()))
}

/// The Digital Link URI of a party (AI 417).
pub fn party(gln: &str) -> Result<String> {
    Ok(format!("{DIGITAL_LINK_BASE}/417/{}", gln13(gln)?))
}

/// The Digital Link URI of a physical location (AI 414).
pub fn location(gln: &str) -> Result<String> {
    Ok(format!("{DIGITAL_LINK_BASE}/414/{}", gln13(gln)?))
}

/// Checks an ISO date `YYYY-MM-DD` (month 1–12, day 1–31).
fn check_iso_date(date: &str) -> Result<()> {
    let bytes = date.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes[range.clone()].iter().all(u8::is_ascii_digit) && date[range].parse::<u32>().is_ok()
    };
    let shape = bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-';
    if !shape || !digits(0..4) || !digits(5..7) || !digits(8..10) {
        return Err(invalid(format!("date {date:?}: expected YYYY-MM-DD")));
    }
    let month: u32 = date[5..7].parse().unwrap_or(0);
    let day: u32 = date[8..10].parse().unwrap_or(0);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(invalid(format!("date {date:?}: month or day out of range")));
    }
    Ok(())
}

/// Fields every builder shares: when and where the event happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Where {
    /// Event time in Unix milliseconds (`None`: now).
    pub time_ms: Option<u64>,
    /// GLN of the read point and business location.
    pub site_gln: Option<String>,
}

impl Where {
    fn apply(&self, event: &mut EpcisEvent) -> Result<()> {
        let time_ms = self.time_ms.unwrap_or_else(crate::clock::unix_millis);
        event.event_time = Some(EpcisTime::new(crate::clock::rfc3339_utc(time_ms)));
        event.event_time_zone_offset = Some("+00:00".to_string());
        if let Some(gln) = &self.site_gln {
            let id = location(gln)?;
            event.read_point = Some(Location {
                id: id.clone(),
                extensions: Vec::new(),
            });
            event.biz_location = Some(Location {
                id,
                extensions: Vec::new(),
            });
        }
        Ok(())
    }
}

/// Sets `eventID` to the CBV 2.0 event hash ID (the last step of every builder).
fn finish(mut event: EpcisEvent) -> EpcisEvent {
    event.event_id = Some(event_hash_id(&event));
    event
}

fn check_epcs(epcs: &[String], what: &str) -> Result<()> {
    if epcs.is_empty() {
        return Err(invalid(format!("{what}: no identifiers")));
    }
    if epcs.len() > EPCS_PER_EVENT_MAX {
        return Err(invalid(format!(
            "{what}: {} identifiers, at most {EPCS_PER_EVENT_MAX} per event",
            epcs.len()
        )));
    }
    Ok(())
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

macro_rules! common_setters {
    () => {
        /// Sets the event time (Unix milliseconds); default now.
        pub fn time_ms(mut self, time_ms: u64) -> Self {
            self.place.time_ms = Some(time_ms);
            self
        }

        /// Sets the read point and business location (a GLN-13).
        pub fn at(mut self, site_gln: impl Into<String>) -> Self {
            self.place.site_gln = Some(site_gln.into());
            self
        }
    };
}

/// Commissioning of serialised units of one GTIN, lot and expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commission {
    gtin: String,
    lot: String,
    expiry: String,
    serials: Vec<String>,
    place: Where,
}

impl Commission {
    /// Units of `gtin` in `lot` expiring on `expiry` (`YYYY-MM-DD`).
    pub fn new(gtin: impl Into<String>, lot: impl Into<String>, expiry: impl Into<String>) -> Self {
        Commission {
            gtin: gtin.into(),
            lot: lot.into(),
            expiry: expiry.into(),
            serials: Vec::new(),
            place: Where::default(),
        }
    }

    /// Adds one serial.
    pub fn serial(mut self, serial: impl Into<String>) -> Self {
        self.serials.push(serial.into());
        self
    }

    /// Adds serials.
    pub fn serials<I, S>(mut self, serials: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.serials.extend(serials.into_iter().map(Into::into));
        self
    }

    common_setters!();

    /// Builds the event.
    pub fn build(self) -> Result<EpcisEvent> {
        if self.lot.is_empty() || self.lot.len() > 20 {
            return Err(invalid(format!(
                "lot {:?}: must be 1-20 characters",
                self.lot
            )));
        }
        check_iso_date(&self.expiry)?;
        let epcs = self
            .serials
            .iter()
            .map(|serial| sgtin(&self.gtin, serial))
            .collect::<Result<Vec<_>>>()?;
        check_epcs(&epcs, "commission")?;
        let mut event = EpcisEvent::new(EventType::ObjectEvent);
        self.place.apply(&mut event)?;
        event.epc_list = Some(epcs);
        event.action = Some(Action::Add);
        event.biz_step = Some(BizStep::new("commissioning"));
        event.disposition = Some(Disposition::new("active"));
        event.ilmd = Some(vec![
            cbvmda("lotNumber", &self.lot),
            cbvmda("itemExpirationDate", &self.expiry),
        ]);
        Ok(finish(event))
    }
}

/// Packing children (units or cases) into a parent (case SGTIN or pallet SSCC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pack {
    parent: String,
    children: Vec<String>,
    place: Where,
    unpack: bool,
}

impl Pack {
    /// Packs `children` (identifier URIs) into `parent` (an identifier URI).
    pub fn new<I, S>(parent: impl Into<String>, children: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Pack {
            parent: parent.into(),
            children: children.into_iter().map(Into::into).collect(),
            place: Where::default(),
            unpack: false,
        }
    }

    common_setters!();

    /// Builds the event.
    pub fn build(self) -> Result<EpcisEvent> {
        if self.parent.is_empty() {
            return Err(invalid("aggregation: empty parent"));
        }
        if !self.unpack {
            check_epcs(&self.children, "pack")?;
        }
        let mut event = EpcisEvent::new(EventType::AggregationEvent);
        self.place.apply(&mut event)?;
        event.parent_id = Some(self.parent);
        event.child_epcs = Some(self.children);
        if self.unpack {
            event.action = Some(Action::Delete);
            event.biz_step = Some(BizStep::new("unpacking"));
        } else {
            event.action = Some(Action::Add);
            event.biz_step = Some(BizStep::new("packing"));
        }
        event.disposition = Some(Disposition::new("in_progress"));
        Ok(finish(event))
    }
}

/// Unpacking children from a parent (no children: everything inside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpack(Pack);

impl Unpack {
    /// Unpacks `children` from `parent`; an empty list unpacks everything.
    pub fn new<I, S>(parent: impl Into<String>, children: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut pack = Pack::new(parent, children);
        pack.unpack = true;
        Unpack(pack)
    }

    /// Sets the event time (Unix milliseconds); default now.
    pub fn time_ms(self, time_ms: u64) -> Self {
        Unpack(self.0.time_ms(time_ms))
    }

    /// Sets the read point and business location (a GLN-13).
    pub fn at(self, site_gln: impl Into<String>) -> Self {
        Unpack(self.0.at(site_gln))
    }

    /// Builds the event.
    pub fn build(self) -> Result<EpcisEvent> {
        self.0.build()
    }
}

/// Shipping objects (containers carry their contents) to another member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ship {
    epcs: Vec<String>,
    source_gln: Option<String>,
    destination_gln: String,
    destination_location_gln: Option<String>,
    place: Where,
}

impl Ship {
    /// Ships `epcs` to the org owning `destination_gln` (a GLN registered to it).
    pub fn new<I, S>(epcs: I, destination_gln: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Ship {
            epcs: epcs.into_iter().map(Into::into).collect(),
            source_gln: None,
            destination_gln: destination_gln.into(),
            destination_location_gln: None,
            place: Where::default(),
        }
    }

    /// The shipping party's GLN (source list).
    pub fn from(mut self, source_gln: impl Into<String>) -> Self {
        self.source_gln = Some(source_gln.into());
        self
    }

    /// The ship-to location GLN, if different from the destination party.
    pub fn to_location(mut self, gln: impl Into<String>) -> Self {
        self.destination_location_gln = Some(gln.into());
        self
    }

    common_setters!();

    /// Builds the event.
    pub fn build(self) -> Result<EpcisEvent> {
        check_epcs(&self.epcs, "ship")?;
        let mut event = EpcisEvent::new(EventType::ObjectEvent);
        self.place.apply(&mut event)?;
        event.epc_list = Some(self.epcs);
        event.action = Some(Action::Observe);
        event.biz_step = Some(BizStep::new("shipping"));
        event.disposition = Some(Disposition::new("in_transit"));
        if let Some(source) = &self.source_gln {
            event.source_list = Some(vec![SourceDest {
                source_dest_type: Some(SourceDestType::new("owning_party")),
                value: party(source)?,
            }]);
        }
        let mut destinations = vec![SourceDest {
            source_dest_type: Some(SourceDestType::new("owning_party")),
            value: party(&self.destination_gln)?,
        }];
        if let Some(gln) = &self.destination_location_gln {
            destinations.push(SourceDest {
                source_dest_type: Some(SourceDestType::new("location")),
                value: location(gln)?,
            });
        }
        event.destination_list = Some(destinations);
        Ok(finish(event))
    }
}

/// Receiving a shipment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receive {
    epcs: Vec<String>,
    place: Where,
}

impl Receive {
    /// Receives `epcs` (what arrived; missing and unexpected ones are recorded).
    pub fn new<I, S>(epcs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Receive {
            epcs: epcs.into_iter().map(Into::into).collect(),
            place: Where::default(),
        }
    }

    common_setters!();

    /// Builds the event.
    pub fn build(self) -> Result<EpcisEvent> {
        check_epcs(&self.epcs, "receive")?;
        let mut event = EpcisEvent::new(EventType::ObjectEvent);
        self.place.apply(&mut event)?;
        event.epc_list = Some(self.epcs);
        event.action = Some(Action::Observe);
        event.biz_step = Some(BizStep::new("receiving"));
        event.disposition = Some(Disposition::new("in_progress"));
        Ok(finish(event))
    }
}

/// How a unit leaves the supply chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecommissionKind {
    /// Dispensed to a patient (`dispensing` / `dispensed`).
    Dispense,
    /// Destroyed (`destroying` / `destroyed`).
    Destroy,
}

/// Dispensing or destroying units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decommission {
    kind: DecommissionKind,
    epcs: Vec<String>,
    place: Where,
}

impl Decommission {
    /// Dispenses `epcs`.
    pub fn dispense<I, S>(epcs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Decommission {
            kind: DecommissionKind::Dispense,
            epcs: epcs.into_iter().map(Into::into).collect(),
            place: Where::default(),
        }
    }

    /// Destroys `epcs`.
    pub fn destroy<I, S>(epcs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Decommission {
            kind: DecommissionKind::Destroy,
            ..Decommission::dispense(epcs)
        }
    }

    common_setters!();

    /// Builds the event.
    pub fn build(self) -> Result<EpcisEvent> {
        check_epcs(&self.epcs, "decommission")?;
        let mut event = EpcisEvent::new(EventType::ObjectEvent);
        self.place.apply(&mut event)?;
        event.epc_list = Some(self.epcs);
        event.action = Some(Action::Observe);
        let (step, disposition) = match self.kind {
            DecommissionKind::Dispense => ("dispensing", "dispensed"),
            DecommissionKind::Destroy => ("destroying", "destroyed"),
        };
        event.biz_step = Some(BizStep::new(step));
        event.disposition = Some(Disposition::new(disposition));
        Ok(finish(event))
    }
}

/// The transaction body recalling a lot (brand owner or regulator).
pub fn recall(gtin: &str, lot: &str, reason: &str) -> Result<TxBody> {
    if lot.is_empty() {
        return Err(invalid("recall: empty lot"));
    }
    Ok(TxBody::Recall {
        gtin: gtin14(gtin)?,
        lot: lot.to_string(),
        reason: reason.to_string(),
    })
}

/// The transaction body releasing a recalled lot.
pub fn release(gtin: &str, lot: &str) -> Result<TxBody> {
    if lot.is_empty() {
        return Err(invalid("release: empty lot"));
    }
    Ok(TxBody::Release {
        gtin: gtin14(gtin)?,
        lot: lot.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GTIN: &str = "00614141073467";
    const GLN: &str = "0614141000005";

    #[test]
    fn identifiers_are_checked_and_rendered() {
        assert_eq!(
            sgtin(GTIN, "SN/1").unwrap(),
            "https://id.gs1.org/01/00614141073467/21/SN%2F1"
        );
        assert_eq!(
            sgtin("0614141073467", "A").unwrap(),
            "https://id.gs1.org/01/00614141073467/21/A"
        );
        assert!(sgtin("00614141073468", "A").is_err(), "bad check digit");
        assert!(sgtin(GTIN, "").is_err());
        assert!(
            sgtin(GTIN, "123456789012345678901").is_err(),
            "21 characters"
        );
        assert_eq!(party(GLN).unwrap(), "https://id.gs1.org/417/0614141000005");
        assert!(location("0614141000006").is_err());
        assert_eq!(
            sscc("106141410000000019").unwrap(),
            "https://id.gs1.org/00/106141410000000019"
        );
    }

    #[test]
    fn commission_carries_lot_expiry_and_hash_id() {
        let event = Commission::new(GTIN, "L1", "2027-12-31")
            .serials(["U1", "U2"])
            .at(GLN)
            .time_ms(1_767_225_600_000)
            .build()
            .unwrap();
        assert_eq!(event.action, Some(Action::Add));
        assert_eq!(event.biz_step.as_ref().unwrap().as_str(), "commissioning");
        assert_eq!(event.epc_list.as_ref().unwrap().len(), 2);
        assert_eq!(
            event.event_time.as_ref().unwrap().as_str(),
            "2026-01-01T00:00:00.000Z"
        );
        let ilmd = event.ilmd.as_ref().unwrap();
        assert_eq!(ilmd[0].name.local, "lotNumber");
        assert_eq!(ilmd[1].value, ExtensionValue::Text("2027-12-31".into()));
        let id = event.event_id.clone().unwrap();
        assert!(id.starts_with("ni:///sha-256;"), "{id}");
        // Deterministic: the same inputs give the same hash ID.
        let again = Commission::new(GTIN, "L1", "2027-12-31")
            .serials(["U1", "U2"])
            .at(GLN)
            .time_ms(1_767_225_600_000)
            .build()
            .unwrap();
        assert_eq!(again.event_id, Some(id));
    }

    #[test]
    fn commission_rejects_bad_input() {
        let no_serials = Commission::new(GTIN, "L1", "2027-12-31").build();
        assert!(
            no_serials
                .unwrap_err()
                .to_string()
                .contains("no identifiers")
        );
        assert!(
            Commission::new(GTIN, "", "2027-12-31")
                .serial("A")
                .build()
                .is_err()
        );
        assert!(
            Commission::new(GTIN, "L1", "2027-13-01")
                .serial("A")
                .build()
                .is_err()
        );
        assert!(
            Commission::new(GTIN, "L1", "27-12-31")
                .serial("A")
                .build()
                .is_err()
        );
    }

    #[test]
    fn aggregation_ship_receive_and_decommission_shapes() {
        let case = sgtin("10614141073464", "C1").unwrap();
        let unit = sgtin(GTIN, "U1").unwrap();
        let pack = Pack::new(case.clone(), [unit.clone()]).build().unwrap();
        assert_eq!(pack.event_type, EventType::AggregationEvent);
        assert_eq!(pack.action, Some(Action::Add));
        assert_eq!(pack.parent_id.as_deref(), Some(case.as_str()));
        let unpack = Unpack::new(case.clone(), Vec::<String>::new())
            .build()
            .unwrap();
        assert_eq!(unpack.action, Some(Action::Delete));
        assert!(
            Pack::new(case.clone(), Vec::<String>::new())
                .build()
                .is_err()
        );

        let ship = Ship::new([case.clone()], "0888881000001")
            .from(GLN)
            .to_location("0888881000001")
            .build()
            .unwrap();
        assert_eq!(ship.biz_step.as_ref().unwrap().as_str(), "shipping");
        let destinations = ship.destination_list.unwrap();
        assert_eq!(
            destinations[0].value,
            "https://id.gs1.org/417/0888881000001"
        );
        assert_eq!(
            destinations[1].value,
            "https://id.gs1.org/414/0888881000001"
        );
        assert!(Ship::new([case.clone()], "123").build().is_err());

        let receive = Receive::new([case]).build().unwrap();
        assert_eq!(receive.biz_step.as_ref().unwrap().as_str(), "receiving");
        let dispense = Decommission::dispense([unit.clone()]).build().unwrap();
        assert_eq!(dispense.disposition.as_ref().unwrap().as_str(), "dispensed");
        let destroy = Decommission::destroy([unit]).build().unwrap();
        assert_eq!(destroy.biz_step.as_ref().unwrap().as_str(), "destroying");
    }

    #[test]
    fn built_events_map_to_chaincode_operations() {
        let event = Commission::new(GTIN, "L1", "2027-12-31")
            .serial("U1")
            .build()
            .unwrap();
        let ops = pedigree_chaincode::epcis::to_ops(&event);
        assert!(ops.is_ok(), "{ops:?}");
        let case = sgtin("10614141073464", "C1").unwrap();
        let ship = Ship::new([case.clone()], "0888881000001").build().unwrap();
        assert!(pedigree_chaincode::epcis::to_ops(&ship).is_ok());
        assert!(pedigree_chaincode::epcis::parse_object(&case).is_ok());
    }

    #[test]
    fn recall_and_release_bodies() {
        match recall("0614141073467", "L1", "contamination").unwrap() {
            TxBody::Recall { gtin, lot, reason } => {
                assert_eq!(
                    (gtin.as_str(), lot.as_str(), reason.as_str()),
                    (GTIN, "L1", "contamination")
                );
            }
            other => panic!("unexpected body {other:?}"),
        }
        assert!(release(GTIN, "").is_err());
    }
}
