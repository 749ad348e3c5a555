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
//! | ObjectEvent | OBSERVE/DELETE | `destroying` | [`Op::Decommission`] Destroyed (a never-commissioned code: burnt by the orgs that may commission it) |
//! | ObjectEvent | OBSERVE/DELETE | `sampling` | [`Op::Decommission`] Sample |
//! | ObjectEvent | OBSERVE/DELETE | `decommissioning` + disposition `stolen` / `dispensed` / `destroyed` / [`EXPORTED_DISPOSITION`]¹ | [`Op::Decommission`] of that kind |
//! | ObjectEvent | OBSERVE | `accepting` + disposition `active` or `sellable_accessible` | [`Op::Reinstate`] (EU FMD undo) |
//! | ObjectEvent | OBSERVE | anything else | [`Op::Observe`] |
//! | AggregationEvent | ADD | any | [`Op::Pack`] |
//! | AggregationEvent | DELETE | any | [`Op::Unpack`] (no children = all) |
//! | AggregationEvent | OBSERVE | any | [`Op::Observe`] of parent and children |
//! | TransformationEvent | (none) | any | [`Op::Transform`]: `inputEPCList` consumed, `outputEPCList` commissioned with the ILMD lot and expiry |
//! | TransactionEvent | ADD/DELETE/OBSERVE | any | [`Op::LinkTransactions`] of `parentID` and `epcList` to every `bizTransactionList` entry |
//! | AssociationEvent | ADD/DELETE/OBSERVE | any | [`Op::Associate`] of `childEPCs` with the asset `parentID` |
//!
//! ¹ CBV 2.0 has no `exported` disposition. Pedigree uses the custom disposition URI
//! [`EXPORTED_DISPOSITION`] (`urn:pedigree:disp:exported`) for EU FMD "Exported";
//! no other spelling is accepted. Class-level quantity lists, and transformations
//! identified only by `transformationID` (split over several events), are not mapped
//! ([`Outcome::UnsupportedEvent`]).
//!
//! Business transaction types are stored as the CBV bare word (`po`, `desadv`, …)
//! when standard, otherwise as written; ids as written. An association's asset
//! (`parentID`: GIAI, GRAI, SGLN, … as EPC URI or Digital Link) is stored in its GS1
//! element-string form (`(8004)…`), so both spellings name the same asset; other URIs
//! are stored as written.
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
use crate::ops::{BizTransaction, ErrorDeclarationBody, LinkAction, Op, Party};
use crate::receipt::{Outcome, RuleResult, reject};
use crate::records::DecommissionKind;
use pedigree_epcis::model::{Action, EpcisEvent, ErrorDeclaration, EventType, SourceDest};

/// The disposition Pedigree uses for EU FMD "Exported" (CBV 2.0 has none).
pub const EXPORTED_DISPOSITION: &str = "urn:pedigree:disp:exported";

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
    // Canonical serial links (nearly every EPC) skip the Digital Link parser: it would give
    // back the same GTIN and serial (a test compares both). Anything the fast path does not
    // accept takes the general path, which also words the rejection.
    if let Some((gtin, serial)) = pedigree_gs1::dl::canonical_serial_parts(uri.trim())
        && let Some(key) = ObjectKey::sgtin(gtin, serial)
    {
        return Ok(key);
    }
    parse_object_in_full(uri)
}

/// [`parse_object`] through the general EPC URI / Digital Link parsers.
fn parse_object_in_full(uri: &str) -> RuleResult<ObjectKey> {
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
    // Standard dispositions as their bare word, anything else exactly as written.
    let disposition = event
        .disposition
        .as_ref()
        .map(|d| d.bare_word().unwrap_or(d.as_str().trim()).to_string())
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
                    let (lot, expiry) = ilmd_lot_expiry(event)?;
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
                        EXPORTED_DISPOSITION => DecommissionKind::Exported,
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
        EventType::TransformationEvent => {
            let class_level = [&event.input_quantity_list, &event.output_quantity_list]
                .iter()
                .any(|list| list.as_ref().is_some_and(|l| !l.is_empty()));
            if class_level {
                return reject(
                    Outcome::UnsupportedEvent,
                    "TransformationEvent with quantity lists (class level)",
                );
            }
            let inputs = parse_objects(event.input_epc_list.as_ref())?;
            let outputs = parse_objects(event.output_epc_list.as_ref())?;
            if inputs.is_empty() || outputs.is_empty() {
                return reject(
                    Outcome::UnsupportedEvent,
                    "TransformationEvent needs input and output EPCs in one event",
                );
            }
            let (lot, expiry) = ilmd_lot_expiry(event)?;
            Ok(vec![Op::Transform {
                inputs,
                outputs,
                lot,
                expiry,
            }])
        }
        EventType::TransactionEvent => {
            let action = link_action(action, "TransactionEvent")?;
            let transactions: Vec<BizTransaction> = event
                .biz_transaction_list
                .iter()
                .flatten()
                .map(|entry| BizTransaction {
                    biz_type: entry
                        .transaction_type
                        .as_ref()
                        .map(|t| t.bare_word().unwrap_or(t.as_str().trim()).to_string())
                        .unwrap_or_default(),
                    id: entry.value.trim().to_string(),
                })
                .collect();
            if transactions.is_empty() {
                return reject(
                    Outcome::MalformedBody,
                    "TransactionEvent without bizTransactionList",
                );
            }
            let mut objects = Vec::new();
            if let Some(parent) = event.parent_id.as_deref() {
                objects.push(parse_object(parent)?);
            }
            objects.extend(parse_objects(event.epc_list.as_ref())?);
            if objects.is_empty() && action != LinkAction::Delete {
                return reject(
                    Outcome::UnsupportedEvent,
                    "TransactionEvent without instance-level EPCs",
                );
            }
            Ok(vec![Op::LinkTransactions {
                objects,
                transactions,
                action,
            }])
        }
        EventType::AssociationEvent => {
            let action = link_action(action, "AssociationEvent")?;
            let Some(parent) = event.parent_id.as_deref() else {
                return reject(Outcome::MalformedBody, "AssociationEvent without parentID");
            };
            let objects = parse_objects(event.child_epcs.as_ref())?;
            if objects.is_empty() && action != LinkAction::Delete {
                return reject(
                    Outcome::UnsupportedEvent,
                    "AssociationEvent without instance-level child EPCs",
                );
            }
            Ok(vec![Op::Associate {
                asset: canonical_asset(parent),
                objects,
                action,
            }])
        }
    }
}

fn link_action(action: Option<Action>, event_type: &str) -> RuleResult<LinkAction> {
    match action {
        Some(Action::Add) => Ok(LinkAction::Add),
        Some(Action::Delete) => Ok(LinkAction::Delete),
        Some(Action::Observe) => Ok(LinkAction::Observe),
        None => reject(
            Outcome::MalformedBody,
            format!("{event_type} without action"),
        ),
    }
}

/// An asset identifier in GS1 element-string form when it is a GS1 key (EPC URI or
/// Digital Link), otherwise as written (trimmed).
pub fn canonical_asset(uri: &str) -> String {
    match elements(uri) {
        Some(parsed) if !parsed.is_empty() => parsed
            .iter()
            .map(|(ai, value)| format!("({ai}){value}"))
            .collect(),
        _ => uri.trim().to_string(),
    }
}

fn ilmd_lot_expiry(event: &EpcisEvent) -> RuleResult<(Option<String>, Option<u32>)> {
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
    Ok((lot, expiry))
}

fn decommission(event: &EpcisEvent, objects: Vec<ObjectKey>, kind: DecommissionKind) -> Op {
    Op::Decommission {
        objects,
        kind,
        location: location(event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident::check_digit;
    use proptest::prelude::*;

    fn gtin_with_check(body: &str, valid: bool) -> String {
        let digit = check_digit(body).expect("13 digits");
        let digit = if valid { digit } else { (digit + 1) % 10 };
        format!("{body}{digit}")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// The canonical-link fast path of `parse_object` answers exactly what the general
        /// parsers answer, for links of that shape and near misses alike.
        #[test]
        fn the_fast_path_agrees_with_the_parsers(
            body in "[0-9]{13}",
            valid in any::<bool>(),
            serial in "[A-Za-z0-9]{0,22}|[A-Za-z0-9%/._-]{1,8}",
            prefix in prop::sample::select(vec![
                "https://id.gs1.org/01/", "http://id.gs1.org/01/", "https://example.com/01/", " https://id.gs1.org/01/",
            ]),
        ) {
            let uri = format!("{prefix}{}/21/{serial}", gtin_with_check(&body, valid));
            prop_assert_eq!(
                format!("{:?}", parse_object(&uri)),
                format!("{:?}", parse_object_in_full(&uri)),
                "{}", uri
            );
        }
    }

    #[test]
    fn canonical_links_take_the_fast_path_and_bad_check_digits_do_not_pass() {
        let good = format!(
            "https://id.gs1.org/01/{}/21/A1b2",
            gtin_with_check("0061414110734", true)
        );
        let key = parse_object(&good).expect("valid SGTIN");
        assert_eq!(key, parse_object_in_full(&good).expect("valid SGTIN"));
        let bad = format!(
            "https://id.gs1.org/01/{}/21/A1b2",
            gtin_with_check("0061414110734", false)
        );
        assert!(parse_object(&bad).is_err());
    }
}
