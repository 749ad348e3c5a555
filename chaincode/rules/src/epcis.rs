//! From EPCIS 2.0 events (`pedigree_epcis::model::EpcisEvent`) to Pedigree operations,
//! and the event hash used to index accepted events.
//!
//! # Mapping
//! | event | action | bizStep / disposition | operation |
//! |---|---|---|---|
//! | ObjectEvent | ADD | any (normally `commissioning`) | [`Op::Commission`], lot and expiry from ILMD `cbvmda:lotNumber`, `cbvmda:itemExpirationDate` |
//! | ObjectEvent | OBSERVE/DELETE | `shipping` | [`Op::Ship`] to the destination `possessing_party`, else `owning_party`, else `location` |
//! | ObjectEvent | OBSERVE | `receiving` | [`Op::Receive`] |
//! | ObjectEvent | OBSERVE/DELETE | `dispensing` | [`Op::Decommission`] Dispensed |
//! | ObjectEvent | OBSERVE/DELETE | `destroying` | [`Op::Decommission`] Destroyed |
//! | ObjectEvent | OBSERVE/DELETE | `sampling` | [`Op::Decommission`] Sample |
//! | ObjectEvent | OBSERVE/DELETE | `decommissioning` + disposition `stolen` / `dispensed` / `destroyed` / `exported`¹ | [`Op::Decommission`] of that kind |
//! | ObjectEvent | OBSERVE | `accepting` + disposition `active` or `sellable_accessible` | [`Op::Reinstate`] (EU FMD undo) |
//! | ObjectEvent | OBSERVE | anything else | [`Op::Observe`] |
//! | AggregationEvent | ADD | any | [`Op::Pack`] |
//! | AggregationEvent | DELETE | any | [`Op::Unpack`] (no children = all) |
//! | AggregationEvent | OBSERVE | any | [`Op::Observe`] of parent and children |
//!
//! ¹ CBV has no `exported` disposition; any disposition whose last path or URN
//! segment is `exported` is accepted. Transaction, Transformation and Association
//! events, and class-level quantity lists, are not mapped ([`Outcome::UnsupportedEvent`]).
//! EPCs may be EPC URIs (`urn:epc:id:sgtin:…`, `urn:epc:id:sscc:…`) or GS1 Digital
//! Link URIs; parties may be SGLN, PGLN or Digital Link (`/414/`, `/417/`) URIs.
//!
//! # Event hash
//! Accepted events are indexed by the 32 SHA-256 digest bytes of the CBV 2.0 event
//! hash (`pedigree_epcis::hash::event_hash_sha256`, the digest inside
//! `event_hash_id`'s `ni:///sha-256;{hex}?ver=CBV2.0`). It excludes `eventID`,
//! `recordTime` and `errorDeclaration`, which is what makes an errorDeclaration event
//! name the event it corrects. [`event_hash`] is the only place that knows this.

use crate::codec::Digest32;
use crate::ident::{ObjectKey, parse_iso_date};
use crate::ops::{ErrorDeclarationBody, Op, Party};
use crate::receipt::{Outcome, RuleResult, reject};
use crate::records::DecommissionKind;
use pedigree_epcis::model::{Action, EpcisEvent, ErrorDeclaration, EventType, SourceDest};

/// The event hash used to index accepted events (see the module docs).
pub fn event_hash(event: &EpcisEvent) -> Digest32 {
    pedigree_epcis::hash::event_hash_sha256(event)
}

/// The errorDeclaration as the rules need it.
pub fn error_declaration_body(declaration: &ErrorDeclaration) -> ErrorDeclarationBody {
    ErrorDeclarationBody {
        reason: declaration
            .reason
            .as_ref()
            .map(|reason| reason.bare_word().unwrap_or(reason.as_str()).to_string()),
        corrective_event_ids: declaration.corrective_event_ids.clone().unwrap_or_default(),
    }
}

fn digital_link_elements(uri: &str) -> Option<Vec<(String, String)>> {
    let options = pedigree_gs1::Options::default();
    let link = pedigree_gs1::dl::parse(uri, &options).ok()?;
    Some(
        link.elements
            .into_iter()
            .take(link.path_count)
            .map(|e| (e.ai, e.value))
            .collect(),
    )
}

fn elements(uri: &str) -> Option<Vec<(String, String)>> {
    let uri = uri.trim();
    if uri.starts_with("urn:epc:") {
        let parsed = pedigree_gs1::epc::parse_urn(uri).ok()?;
        Some(parsed.into_iter().map(|e| (e.ai, e.value)).collect())
    } else if uri.starts_with("http://") || uri.starts_with("https://") {
        digital_link_elements(uri)
    } else {
        None
    }
}

/// Parses an instance-level EPC (SGTIN or SSCC, EPC URI or Digital Link).
pub fn parse_object(uri: &str) -> RuleResult<ObjectKey> {
    let parsed = elements(uri).unwrap_or_default();
    let key = match parsed.as_slice() {
        [(ai01, gtin), (ai21, serial)] if ai01 == "01" && ai21 == "21" => {
            ObjectKey::sgtin(gtin, serial)
        }
        [(ai00, sscc)] if ai00 == "00" => ObjectKey::sscc(sscc),
        _ => None,
    };
    match key {
        Some(key) => Ok(key),
        None => reject(
            Outcome::MalformedBody,
            format!("{uri:?} is not an SGTIN or SSCC"),
        ),
    }
}

/// Parses a party or location (SGLN, PGLN, Digital Link 414/417) into a GLN-13.
pub fn parse_party(uri: &str) -> RuleResult<Party> {
    let parsed = elements(uri).unwrap_or_default();
    match parsed.first() {
        Some((ai, gln)) if ai == "414" || ai == "417" => Ok(Party::Gln(gln.clone())),
        _ => reject(
            Outcome::MalformedBody,
            format!("{uri:?} is not a GLN-based party or location"),
        ),
    }
}

fn parse_objects(list: Option<&Vec<String>>) -> RuleResult<Vec<ObjectKey>> {
    list.map(|uris| uris.iter().map(|uri| parse_object(uri)).collect())
        .unwrap_or(Ok(Vec::new()))
}

fn ilmd_text(event: &EpcisEvent, local: &str) -> Option<String> {
    // `cbvmda:` in any binding's spelling (see `EpcisEvent::ilmd_text`).
    event
        .ilmd_text("urn:epcglobal:cbv:mda", local)
        .map(str::to_string)
}

fn destination(list: Option<&Vec<SourceDest>>) -> RuleResult<Party> {
    let entries = list.map(Vec::as_slice).unwrap_or(&[]);
    for wanted in ["possessing_party", "owning_party", "location"] {
        let found = entries.iter().find(|entry| {
            entry.source_dest_type.as_ref().and_then(|t| t.bare_word()) == Some(wanted)
        });
        if let Some(entry) = found {
            return parse_party(&entry.value);
        }
    }
    reject(
        Outcome::MalformedBody,
        "shipping event has no destination party",
    )
}

fn last_segment(value: &str) -> &str {
    value.rsplit([':', '/', '-']).next().unwrap_or(value)
}

fn location(event: &EpcisEvent) -> Option<String> {
    let id = &event.biz_location.as_ref()?.id;
    match parse_party(id) {
        Ok(Party::Gln(gln)) => Some(gln),
        _ => None,
    }
}

/// Maps one EPCIS event to operations (see the module docs).
pub fn to_ops(event: &EpcisEvent) -> RuleResult<Vec<Op>> {
    let action = event.action;
    let biz_step = event
        .biz_step
        .as_ref()
        .map(|b| b.bare_word().unwrap_or(b.as_str()).to_string())
        .unwrap_or_default();
    let disposition = event
        .disposition
        .as_ref()
        .map(|d| {
            d.bare_word()
                .unwrap_or(last_segment(d.as_str()))
                .to_string()
        })
        .unwrap_or_default();
    match event.event_type {
        EventType::ObjectEvent => {
            let objects = parse_objects(event.epc_list.as_ref())?;
            if objects.is_empty() {
                return reject(
                    Outcome::UnsupportedEvent,
                    "ObjectEvent without instance-level EPCs",
                );
            }
            let op = match (action, biz_step.as_str(), disposition.as_str()) {
                (Some(Action::Add), _, _) => {
                    let lot = ilmd_text(event, "lotNumber");
                    let expiry = match ilmd_text(event, "itemExpirationDate") {
                        Some(text) => match parse_iso_date(&text) {
                            Some(date) => Some(date),
                            None => {
                                return reject(
                                    Outcome::MalformedBody,
                                    format!("bad itemExpirationDate {text:?}"),
                                );
                            }
                        },
                        None => None,
                    };
                    Op::Commission {
                        objects,
                        lot,
                        expiry,
                    }
                }
                (_, "shipping", _) => Op::Ship {
                    objects,
                    destination: destination(event.destination_list.as_ref())?,
                },
                (Some(Action::Observe), "receiving", _) => Op::Receive { objects },
                (_, "dispensing", _) => decommission(event, objects, DecommissionKind::Dispensed),
                (_, "destroying", _) => decommission(event, objects, DecommissionKind::Destroyed),
                (_, "sampling", _) => decommission(event, objects, DecommissionKind::Sample),
                (_, "decommissioning", disposition) => {
                    let kind = match disposition {
                        "stolen" => DecommissionKind::Stolen,
                        "dispensed" | "partially_dispensed" => DecommissionKind::Dispensed,
                        "destroyed" | "disposed" => DecommissionKind::Destroyed,
                        "exported" => DecommissionKind::Exported,
                        other => {
                            return reject(
                                Outcome::UnsupportedEvent,
                                format!("decommissioning with disposition {other:?}"),
                            );
                        }
                    };
                    decommission(event, objects, kind)
                }
                (Some(Action::Observe), "accepting", "active" | "sellable_accessible") => {
                    Op::Reinstate {
                        objects,
                        location: location(event),
                    }
                }
                (Some(Action::Observe), _, _) => Op::Observe { objects },
                (action, step, _) => {
                    return reject(
                        Outcome::UnsupportedEvent,
                        format!("ObjectEvent {action:?} {step:?}"),
                    );
                }
            };
            Ok(vec![op])
        }
        EventType::AggregationEvent => {
            let children = parse_objects(event.child_epcs.as_ref())?;
            let Some(parent) = event.parent_id.as_deref() else {
                return reject(
                    Outcome::UnsupportedEvent,
                    "AggregationEvent without parentID",
                );
            };
            let parent = parse_object(parent)?;
            match action {
                Some(Action::Add) => Ok(vec![Op::Pack { parent, children }]),
                Some(Action::Delete) => Ok(vec![Op::Unpack { parent, children }]),
                Some(Action::Observe) => {
                    let mut objects = vec![parent];
                    objects.extend(children);
                    Ok(vec![Op::Observe { objects }])
                }
                None => reject(Outcome::MalformedBody, "AggregationEvent without action"),
            }
        }
        other => reject(
            Outcome::UnsupportedEvent,
            format!("{} is not mapped", other.as_str()),
        ),
    }
}

fn decommission(event: &EpcisEvent, objects: Vec<ObjectKey>, kind: DecommissionKind) -> Op {
    Op::Decommission {
        objects,
        kind,
        location: location(event),
    }
}
