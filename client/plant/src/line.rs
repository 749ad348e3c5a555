//! Packaging-line events as the adapter understands them, independent of the
//! transport (MQTT, camera TCP, simulator): the MQTT topic scheme, the JSON
//! payloads, and their validation into typed [`LineMessage`]s.
//!
//! The scheme is documented for integrators in `client/plant/README.md`.

use pedigree_gs1::{Gln, Gtin, Sscc, lint::is_cset82};
use serde::{Deserialize, Serialize};

use crate::error::InvalidMessage;
use crate::time::{DeviceTime, is_iso_date};

/// Root of every topic: `pedigree/{site}/{line}/{device}/{event}`.
pub const TOPIC_ROOT: &str = "pedigree";

/// Longest accepted message ID (characters).
pub const MESSAGE_ID_LENGTH_MAX: usize = 128;

/// Largest accepted MQTT payload (bytes).
pub const PAYLOAD_BYTES_MAX: usize = 1024 * 1024;

/// Most children in one aggregation message.
pub const CHILDREN_MAX: usize = 10_000;

/// The four line event kinds (last topic segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// A serial was printed and verified by the camera.
    Printed,
    /// A code was rejected or scrapped.
    Rejected,
    /// Children were packed into a parent (bundle, case, pallet).
    Aggregated,
    /// Containers left the site for a destination.
    Dispatched,
}

impl EventKind {
    /// The topic segment (`printed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Printed => "printed",
            EventKind::Rejected => "rejected",
            EventKind::Aggregated => "aggregated",
            EventKind::Dispatched => "dispatched",
        }
    }

    /// Parses a topic segment.
    pub fn from_segment(segment: &str) -> Option<Self> {
        Some(match segment {
            "printed" => EventKind::Printed,
            "rejected" => EventKind::Rejected,
            "aggregated" => EventKind::Aggregated,
            "dispatched" => EventKind::Dispatched,
            _ => return None,
        })
    }
}

/// A parsed MQTT topic `pedigree/{site}/{line}/{device}/{event}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// Site code.
    pub site: String,
    /// Line code.
    pub line: String,
    /// Device name (printer, camera, station).
    pub device: String,
    /// Event kind.
    pub kind: EventKind,
}

impl Topic {
    /// Parses a topic; segments are 1–64 characters `A-Z a-z 0-9 _ - .`.
    pub fn parse(topic: &str) -> Result<Self, InvalidMessage> {
        let segments: Vec<&str> = topic.split('/').collect();
        let [root, site, line, device, kind] = segments.as_slice() else {
            return Err(InvalidMessage::new(format!(
                "topic {topic:?} is not pedigree/{{site}}/{{line}}/{{device}}/{{event}}"
            )));
        };
        if *root != TOPIC_ROOT {
            return Err(InvalidMessage::new(format!(
                "topic {topic:?} does not start with {TOPIC_ROOT}/"
            )));
        }
        for segment in [site, line, device] {
            check_name("topic segment", segment)?;
        }
        let kind = EventKind::from_segment(kind).ok_or_else(|| {
            InvalidMessage::new(format!("unknown event {kind:?} in topic {topic:?}"))
        })?;
        Ok(Self {
            site: site.to_string(),
            line: line.to_string(),
            device: device.to_string(),
            kind,
        })
    }

    /// The topic string.
    pub fn render(&self) -> String {
        format!(
            "{TOPIC_ROOT}/{}/{}/{}/{}",
            self.site,
            self.line,
            self.device,
            self.kind.as_str()
        )
    }

    /// The subscription filter for every line and device of `site`.
    pub fn site_filter(site: &str) -> String {
        format!("{TOPIC_ROOT}/{site}/+/+/+")
    }
}

/// Checks a site, line or device name: 1–64 characters `A-Z a-z 0-9 _ - .`.
pub fn check_name(what: &str, name: &str) -> Result<(), InvalidMessage> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(InvalidMessage::new(format!(
            "{what} {name:?} must be 1-64 characters A-Z a-z 0-9 _ - ."
        )))
    }
}

/// An individual pack: GTIN + serial (an SGTIN).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pack {
    /// The GTIN-14.
    pub gtin: Gtin,
    /// The serial, AI (21): 1–20 characters of GS1 CSET 82.
    pub serial: String,
}

impl Pack {
    /// Validates the GTIN and serial.
    pub fn new(gtin: &str, serial: &str) -> Result<Self, InvalidMessage> {
        let gtin = Gtin::parse(gtin).map_err(|e| InvalidMessage::new(format!("gtin: {e}")))?;
        check_cset82("serial", serial)?;
        Ok(Self {
            gtin,
            serial: serial.to_string(),
        })
    }
}

/// A verified print: the pack plus the lot and expiry it was printed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRead {
    /// The pack.
    pub pack: Pack,
    /// Batch/lot, AI (10).
    pub lot: String,
    /// Expiry date, ISO `YYYY-MM-DD` (AI (17) with DD = 00 resolved).
    pub expiry: String,
}

/// A packaging level of an aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackLevel {
    /// Units into a bundle (the bundle is itself an SGTIN).
    Bundle,
    /// Units or bundles into a case (an SSCC).
    Case,
    /// Cases into a pallet (an SSCC).
    Pallet,
}

/// An identifier a line can name: an SGTIN or an SSCC.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Identifier {
    /// A serialised pack or bundle.
    Sgtin(Pack),
    /// A logistic unit (case or pallet).
    Sscc(Sscc),
}

/// A party and a location (GLNs), e.g. the ship-from or ship-to of a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyLocation {
    /// Owning party, AI (417).
    pub party: Gln,
    /// Physical location, AI (414).
    pub location: Gln,
}

/// What happened on the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// A serial was printed and verified.
    Printed(UnitRead),
    /// A code was rejected or scrapped.
    Rejected {
        /// The rejected pack.
        pack: Pack,
        /// Why (free text from the device, for the log).
        reason: String,
    },
    /// Children were packed into a parent.
    Aggregated {
        /// Packaging level.
        level: PackLevel,
        /// The parent (bundle SGTIN, case or pallet SSCC).
        parent: Identifier,
        /// The children.
        children: Vec<Identifier>,
    },
    /// Containers were shipped.
    Dispatched {
        /// The shipped containers (usually pallet SSCCs).
        containers: Vec<Identifier>,
        /// Ship-from party and location.
        source: PartyLocation,
        /// Ship-to party and location.
        destination: PartyLocation,
        /// Despatch advice number, if the WMS gave one.
        despatch_advice: Option<String>,
    },
}

impl LineEvent {
    /// The event kind.
    pub fn kind(&self) -> EventKind {
        match self {
            LineEvent::Printed(_) => EventKind::Printed,
            LineEvent::Rejected { .. } => EventKind::Rejected,
            LineEvent::Aggregated { .. } => EventKind::Aggregated,
            LineEvent::Dispatched { .. } => EventKind::Dispatched,
        }
    }
}

/// One line event with its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineMessage {
    /// Line code (selects read point, business location and batching).
    pub line: String,
    /// Device name.
    pub device: String,
    /// Idempotency key: a redelivered message with the same ID is
    /// acknowledged and not processed again.
    pub message_id: String,
    /// When the device saw it.
    pub device_time: DeviceTime,
    /// What happened.
    pub event: LineEvent,
}

// ---------------------------------------------------------------------------
// MQTT JSON payloads
// ---------------------------------------------------------------------------

/// JSON identifier: `{"sscc": "…"}` or `{"gtin": "…", "serial": "…"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IdentifierJson {
    /// An SSCC.
    Sscc {
        /// 18 digits.
        sscc: String,
    },
    /// An SGTIN.
    Sgtin {
        /// GTIN-8/12/13/14.
        gtin: String,
        /// Serial.
        serial: String,
    },
}

/// JSON party + location: `{"party": GLN, "location": GLN}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyLocationJson {
    /// Party GLN (13 digits).
    pub party: String,
    /// Location GLN (13 digits).
    pub location: String,
}

/// The JSON body of every MQTT message; which fields are required depends
/// on the event kind of the topic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadJson {
    /// Idempotency key, unique per site (1–128 printable ASCII; e.g.
    /// `{device}:{counter}` or a UUID). A repeated ID is a redelivery.
    pub message_id: String,
    /// RFC 3339 time with offset, from the device clock.
    pub device_time: String,
    /// `printed`, `rejected`: GTIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    /// `printed`, `rejected`: serial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// `printed`: lot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// `printed`: expiry `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// `rejected`: reason text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `aggregated`: `bundle`, `case` or `pallet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<PackLevel>,
    /// `aggregated`: the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<IdentifierJson>,
    /// `aggregated`: the children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<IdentifierJson>>,
    /// `dispatched`: the containers shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<IdentifierJson>>,
    /// `dispatched`: ship-from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PartyLocationJson>,
    /// `dispatched`: ship-to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<PartyLocationJson>,
    /// `dispatched`: despatch advice number (CSET 82, 1–20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub despatch_advice: Option<String>,
}

impl PayloadJson {
    /// Renders a typed line message as its MQTT topic and payload (used by
    /// the simulator's MQTT mode and by tests; the inverse of
    /// [`parse_mqtt`]).
    pub fn from_message(site: &str, message: &LineMessage) -> (String, Vec<u8>) {
        let mut payload = PayloadJson {
            message_id: message.message_id.clone(),
            device_time: message.device_time.as_str().to_string(),
            ..PayloadJson::default()
        };
        match &message.event {
            LineEvent::Printed(unit) => {
                payload.gtin = Some(unit.pack.gtin.to_string());
                payload.serial = Some(unit.pack.serial.clone());
                payload.lot = Some(unit.lot.clone());
                payload.expiry = Some(unit.expiry.clone());
            }
            LineEvent::Rejected { pack, reason } => {
                payload.gtin = Some(pack.gtin.to_string());
                payload.serial = Some(pack.serial.clone());
                payload.reason = Some(reason.clone());
            }
            LineEvent::Aggregated {
                level,
                parent,
                children,
            } => {
                payload.level = Some(*level);
                payload.parent = Some(identifier_json(parent));
                payload.children = Some(children.iter().map(identifier_json).collect());
            }
            LineEvent::Dispatched {
                containers,
                source,
                destination,
                despatch_advice,
            } => {
                payload.containers = Some(containers.iter().map(identifier_json).collect());
                payload.source = Some(party_location_json(source));
                payload.destination = Some(party_location_json(destination));
                payload.despatch_advice = despatch_advice.clone();
            }
        }
        let topic = Topic {
            site: site.to_string(),
            line: message.line.clone(),
            device: message.device.clone(),
            kind: message.event.kind(),
        };
        // Serialising plain strings and vectors cannot fail.
        let bytes = serde_json::to_vec(&payload).unwrap_or_default();
        (topic.render(), bytes)
    }
}

fn identifier_json(identifier: &Identifier) -> IdentifierJson {
    match identifier {
        Identifier::Sgtin(pack) => IdentifierJson::Sgtin {
            gtin: pack.gtin.to_string(),
            serial: pack.serial.clone(),
        },
        Identifier::Sscc(sscc) => IdentifierJson::Sscc {
            sscc: sscc.to_string(),
        },
    }
}

fn party_location_json(value: &PartyLocation) -> PartyLocationJson {
    PartyLocationJson {
        party: value.party.to_string(),
        location: value.location.to_string(),
    }
}

/// Validates an AI (10)/(21)-style value: 1–20 characters of GS1 CSET 82.
pub fn check_cset82(what: &str, value: &str) -> Result<(), InvalidMessage> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(is_cset82) {
        return Err(InvalidMessage::new(format!(
            "{what} {value:?} must be 1-20 characters of GS1 CSET 82"
        )));
    }
    Ok(())
}

/// Validates a message ID: 1–128 printable ASCII characters, no spaces.
pub fn check_message_id(message_id: &str) -> Result<(), InvalidMessage> {
    let ok = !message_id.is_empty()
        && message_id.len() <= MESSAGE_ID_LENGTH_MAX
        && message_id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(InvalidMessage::new(format!(
            "message_id must be 1-{MESSAGE_ID_LENGTH_MAX} printable ASCII characters"
        )))
    }
}

fn required<T>(value: Option<T>, field: &str, kind: EventKind) -> Result<T, InvalidMessage> {
    value.ok_or_else(|| InvalidMessage::new(format!("{} message needs {field}", kind.as_str())))
}

fn forbid<T>(value: &Option<T>, field: &str, kind: EventKind) -> Result<(), InvalidMessage> {
    if value.is_some() {
        Err(InvalidMessage::new(format!(
            "{} message must not carry {field}",
            kind.as_str()
        )))
    } else {
        Ok(())
    }
}

fn parse_identifier(json: IdentifierJson) -> Result<Identifier, InvalidMessage> {
    match json {
        IdentifierJson::Sscc { sscc } => Sscc::parse(&sscc)
            .map(Identifier::Sscc)
            .map_err(|e| InvalidMessage::new(format!("sscc: {e}"))),
        IdentifierJson::Sgtin { gtin, serial } => Pack::new(&gtin, &serial).map(Identifier::Sgtin),
    }
}

fn parse_identifiers(
    list: Vec<IdentifierJson>,
    field: &str,
) -> Result<Vec<Identifier>, InvalidMessage> {
    if list.is_empty() || list.len() > CHILDREN_MAX {
        return Err(InvalidMessage::new(format!(
            "{field} must hold 1-{CHILDREN_MAX} identifiers"
        )));
    }
    let parsed = list
        .into_iter()
        .map(parse_identifier)
        .collect::<Result<Vec<_>, _>>()?;
    let mut sorted = parsed.clone();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(InvalidMessage::new(format!(
            "{field} lists an identifier twice"
        )));
    }
    Ok(parsed)
}

fn parse_party_location(
    json: PartyLocationJson,
    field: &str,
) -> Result<PartyLocation, InvalidMessage> {
    let party =
        Gln::parse(&json.party).map_err(|e| InvalidMessage::new(format!("{field}.party: {e}")))?;
    let location = Gln::parse(&json.location)
        .map_err(|e| InvalidMessage::new(format!("{field}.location: {e}")))?;
    Ok(PartyLocation { party, location })
}

/// Parses one MQTT message (topic + JSON payload) into a [`LineMessage`].
pub fn parse_mqtt(topic: &str, payload: &[u8]) -> Result<(Topic, LineMessage), InvalidMessage> {
    let topic = Topic::parse(topic)?;
    if payload.len() > PAYLOAD_BYTES_MAX {
        return Err(InvalidMessage::new(format!(
            "payload larger than {PAYLOAD_BYTES_MAX} bytes"
        )));
    }
    let json: PayloadJson = serde_json::from_slice(payload)
        .map_err(|e| InvalidMessage::new(format!("payload is not a valid message: {e}")))?;
    check_message_id(&json.message_id)?;
    let device_time = DeviceTime::parse(&json.device_time)?;
    let kind = topic.kind;
    let event = match kind {
        EventKind::Printed => {
            forbid(&json.level, "level", kind)?;
            forbid(&json.reason, "reason", kind)?;
            forbid(&json.parent, "parent", kind)?;
            forbid(&json.children, "children", kind)?;
            forbid(&json.containers, "containers", kind)?;
            let pack = Pack::new(
                &required(json.gtin, "gtin", kind)?,
                &required(json.serial, "serial", kind)?,
            )?;
            let lot = required(json.lot, "lot", kind)?;
            check_cset82("lot", &lot)?;
            let expiry = required(json.expiry, "expiry", kind)?;
            if !is_iso_date(&expiry) {
                return Err(InvalidMessage::new(format!(
                    "expiry {expiry:?} is not YYYY-MM-DD"
                )));
            }
            LineEvent::Printed(UnitRead { pack, lot, expiry })
        }
        EventKind::Rejected => {
            forbid(&json.parent, "parent", kind)?;
            forbid(&json.children, "children", kind)?;
            forbid(&json.containers, "containers", kind)?;
            let pack = Pack::new(
                &required(json.gtin, "gtin", kind)?,
                &required(json.serial, "serial", kind)?,
            )?;
            let reason = json.reason.unwrap_or_default();
            if reason.len() > 200 {
                return Err(InvalidMessage::new("reason longer than 200 characters"));
            }
            LineEvent::Rejected { pack, reason }
        }
        EventKind::Aggregated => {
            forbid(&json.gtin, "gtin", kind)?;
            forbid(&json.serial, "serial", kind)?;
            forbid(&json.containers, "containers", kind)?;
            let level = required(json.level, "level", kind)?;
            let parent = parse_identifier(required(json.parent, "parent", kind)?)?;
            let children =
                parse_identifiers(required(json.children, "children", kind)?, "children")?;
            let parent_ok = matches!(
                (&parent, level),
                (Identifier::Sgtin(_), PackLevel::Bundle)
                    | (Identifier::Sscc(_), PackLevel::Case | PackLevel::Pallet)
            );
            if !parent_ok {
                return Err(InvalidMessage::new(
                    "a bundle parent must be an SGTIN, a case or pallet parent an SSCC",
                ));
            }
            if children.contains(&parent) {
                return Err(InvalidMessage::new(
                    "the parent is listed among its children",
                ));
            }
            LineEvent::Aggregated {
                level,
                parent,
                children,
            }
        }
        EventKind::Dispatched => {
            forbid(&json.gtin, "gtin", kind)?;
            forbid(&json.serial, "serial", kind)?;
            forbid(&json.children, "children", kind)?;
            let containers =
                parse_identifiers(required(json.containers, "containers", kind)?, "containers")?;
            let source = parse_party_location(required(json.source, "source", kind)?, "source")?;
            let destination = parse_party_location(
                required(json.destination, "destination", kind)?,
                "destination",
            )?;
            if let Some(advice) = &json.despatch_advice {
                check_cset82("despatch_advice", advice)?;
            }
            LineEvent::Dispatched {
                containers,
                source,
                destination,
                despatch_advice: json.despatch_advice,
            }
        }
    };
    let message = LineMessage {
        line: topic.line.clone(),
        device: topic.device.clone(),
        message_id: json.message_id,
        device_time,
        event,
    };
    Ok((topic, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        let t = Topic::parse("pedigree/S1/L1/cam-1/printed").unwrap();
        assert_eq!(
            (t.site.as_str(), t.line.as_str(), t.device.as_str()),
            ("S1", "L1", "cam-1")
        );
        assert_eq!(t.render(), "pedigree/S1/L1/cam-1/printed");
        assert!(Topic::parse("pedigree/S1/L1/printed").is_err());
        assert!(Topic::parse("pedigree/S1/L1/cam/boxed").is_err());
        assert!(Topic::parse("other/S1/L1/cam/printed").is_err());
        assert!(Topic::parse("pedigree/S 1/L1/cam/printed").is_err());
        assert_eq!(Topic::site_filter("S1"), "pedigree/S1/+/+/+");
    }

    #[test]
    fn printed_payload() {
        let payload = br#"{"message_id":"cam-1:42","device_time":"2026-11-21T10:00:00.250+01:00",
            "gtin":"10614141073464","serial":"A1B2","lot":"LOT1","expiry":"2028-11-30"}"#;
        let (_, m) = parse_mqtt("pedigree/S1/L1/cam-1/printed", payload).unwrap();
        let LineEvent::Printed(unit) = &m.event else {
            panic!("not printed")
        };
        assert_eq!(unit.pack.serial, "A1B2");
        assert_eq!(unit.expiry, "2028-11-30");
        assert_eq!(m.message_id, "cam-1:42");
        // The inverse rendering parses back to the same message.
        let (topic, bytes) = PayloadJson::from_message("S1", &m);
        assert_eq!(parse_mqtt(&topic, &bytes).unwrap().1, m);
    }

    #[test]
    fn bad_payloads_say_why() {
        let cases: [(&str, &[u8], &str); 6] = [
            ("pedigree/S1/L1/c/printed", b"{}", "missing field"),
            ("pedigree/S1/L1/c/printed", br#"{"message_id":"m","device_time":"2026-11-21T10:00:00Z","gtin":"10614141073465","serial":"1","lot":"L","expiry":"2028-11-30"}"#, "check digit"),
            ("pedigree/S1/L1/c/printed", br#"{"message_id":"m","device_time":"2026-11-21T10:00:00","gtin":"10614141073464","serial":"1","lot":"L","expiry":"2028-11-30"}"#, "offset"),
            ("pedigree/S1/L1/c/printed", br#"{"message_id":"m","device_time":"2026-11-21T10:00:00Z","gtin":"10614141073464","serial":"a b","lot":"L","expiry":"2028-11-30"}"#, "CSET 82"),
            ("pedigree/S1/L1/c/aggregated", br#"{"message_id":"m","device_time":"2026-11-21T10:00:00Z","level":"case","parent":{"gtin":"10614141073464","serial":"1"},"children":[{"gtin":"10614141073464","serial":"2"}]}"#, "parent"),
            ("pedigree/S1/L1/c/printed", br#"{"message_id":"m","device_time":"2026-11-21T10:00:00Z","gtin":"10614141073464","serial":"1","lot":"L","expiry":"2028-11-30","extra":1}"#, "unknown field"),
        ];
        for (topic, payload, needle) in cases {
            let error = parse_mqtt(topic, payload).unwrap_err().to_string();
            assert!(
                error.contains(needle),
                "{error:?} should mention {needle:?}"
            );
        }
    }
}

#[cfg(test)]
mod readme_examples {
    use super::*;

    /// The MQTT examples in README.md parse: topic line, then one JSON
    /// object spread over the following lines.
    #[test]
    fn readme_mqtt_examples_parse() {
        let readme = include_str!("../README.md");
        let block = readme
            .split("Examples:\n\n```json\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("README has the MQTT examples block");
        let mut parsed = 0;
        for example in block.split("\n\n") {
            let (topic, json) = example.split_once('\n').expect("topic line, then JSON");
            let json: String = json.lines().collect::<Vec<_>>().join("");
            parse_mqtt(topic.trim(), json.as_bytes()).unwrap_or_else(|e| panic!("{topic}: {e}"));
            parsed += 1;
        }
        assert_eq!(parsed, 4);
    }
}
