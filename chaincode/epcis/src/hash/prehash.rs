//! Pre-hash string construction over the typed model ([`EpcisEvent`]).

use super::HashOptions;
use super::canon::{canonical_value, push_canonical_value};
use super::time::normalize_timestamp;
use super::vocab::{sensor_component, sensor_vocab};
use crate::model::{
    BizStep, BizTransactionType, Disposition, EpcisEvent, Extension, ExtensionValue, Location,
    QuantityElement, SensorElement, SensorMetadata, SensorReport, SourceDestType,
};

/// Namespace of `rdfs:comment`, which is never hashed.
const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";

/// Appends `name=value` if `value` is not empty.
fn kv(out: &mut String, name: &str, value: &str) {
    if !value.is_empty() {
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
}

/// Appends `name=canonical(value)` for a non-time leaf (nothing if the
/// canonical value is empty).
fn leaf(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        let mark = out.len();
        out.push_str(name);
        out.push('=');
        let before = out.len();
        push_canonical_value(out, v);
        if out.len() == before {
            out.truncate(mark);
        }
    }
}

/// Appends `name=timestamp` (UTC, 3 fractional digits) for a time leaf; an
/// unparseable time is hashed trimmed, as written.
fn time_leaf(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        match normalize_timestamp(v) {
            Some(t) => kv(out, name, &t),
            None => kv(out, name, v.trim()),
        }
    }
}

/// Sorts `items` and appends `name` followed by them, if any is non-empty.
fn sorted_block(out: &mut String, name: &str, mut items: Vec<String>) {
    items.retain(|s| !s.is_empty());
    if items.is_empty() {
        return;
    }
    items.sort_unstable();
    out.push_str(name);
    for s in &items {
        out.push_str(s);
    }
}

fn join_sorted(mut items: Vec<String>) -> String {
    items.sort_unstable();
    items.concat()
}

fn vocab_uri(bare: Option<&str>, prefix: &str, raw: &str) -> String {
    match bare {
        Some(w) => format!("{prefix}{w}"),
        None => canonical_value(raw),
    }
}

fn biz_step_uri(v: &BizStep) -> String {
    vocab_uri(v.bare_word(), BizStep::WEB_URI_PREFIX, v.as_str())
}

fn disposition_uri(v: &Disposition) -> String {
    vocab_uri(v.bare_word(), Disposition::WEB_URI_PREFIX, v.as_str())
}

fn btt_uri(v: &BizTransactionType) -> String {
    vocab_uri(
        v.bare_word(),
        BizTransactionType::WEB_URI_PREFIX,
        v.as_str(),
    )
}

fn sdt_uri(v: &SourceDestType) -> String {
    vocab_uri(v.bare_word(), SourceDestType::WEB_URI_PREFIX, v.as_str())
}

// ---------------------------------------------------------------------------
// Extensions (generic emission)
// ---------------------------------------------------------------------------

fn is_comment(e: &Extension) -> bool {
    e.name.local == "comment"
        && (e.name.namespace == RDFS
            || e.name.namespace.is_empty()
            || e.name.prefix.as_deref() == Some("rdfs"))
}

/// Generic pre-hash strings of one extension (several for a JSON array, one
/// per element, all carrying the member name).
fn extension_strings(e: &Extension, out: &mut Vec<String>) {
    if is_comment(e) {
        return;
    }
    let name = e.name.expanded();
    let attrs: Vec<String> = e
        .attributes
        .iter()
        .map(|a| {
            let mut s = a.name.expanded();
            let v = canonical_value(&a.value);
            if !v.is_empty() {
                s.push('=');
                s.push_str(&v);
            }
            s
        })
        .collect();
    value_strings(&name, attrs, &e.value, out);
}

fn value_strings(name: &str, attrs: Vec<String>, value: &ExtensionValue, out: &mut Vec<String>) {
    let mut children = attrs;
    let mut s = name.to_string();
    match value {
        ExtensionValue::Text(t) => {
            let v = canonical_value(t);
            if !v.is_empty() {
                s.push('=');
                s.push_str(&v);
            }
        }
        ExtensionValue::Number(d) => {
            let v = canonical_value(d.as_str());
            if !v.is_empty() {
                s.push('=');
                s.push_str(&v);
            }
        }
        ExtensionValue::Bool(b) => {
            s.push('=');
            s.push_str(if *b { "true" } else { "false" });
        }
        ExtensionValue::Null => {}
        ExtensionValue::Elements(els) => {
            for c in els {
                extension_strings(c, &mut children);
            }
        }
        ExtensionValue::Array(items) => {
            // A JSON array is a set of siblings with the same name.
            for item in items {
                value_strings(name, children.clone(), item, out);
            }
            return;
        }
    }
    s.push_str(&join_sorted(children));
    out.push(s);
}

fn extensions_strings(exts: &[Extension]) -> Vec<String> {
    let mut v = Vec::new();
    for e in exts {
        extension_strings(e, &mut v);
    }
    v
}

/// Splits the extensions of a container into those emitted at the end of the
/// container (`{ns}local` with `ns` ending in `/`) and leftovers, which the
/// reference emits in the event-level remainder under a copy of the container
/// path. A container with at most one member keeps all of them as leftovers.
fn split_container_extensions(
    exts: &[Extension],
    field_count: usize,
) -> (Vec<String>, Vec<String>) {
    let mut inner = Vec::new();
    let mut left = Vec::new();
    let together = field_count + exts.len() > 1;
    for e in exts {
        if together && e.name.namespace.ends_with('/') {
            extension_strings(e, &mut inner);
        } else {
            extension_strings(e, &mut left);
        }
    }
    (inner, left)
}

// ---------------------------------------------------------------------------
// Structured parts
// ---------------------------------------------------------------------------

fn quantity_element(q: &QuantityElement) -> String {
    let mut s = String::new();
    leaf(&mut s, "epcClass", Some(&q.epc_class));
    leaf(&mut s, "quantity", q.quantity.as_ref().map(|d| d.as_str()));
    leaf(&mut s, "uom", q.uom.as_deref());
    if s.is_empty() {
        return s;
    }
    format!("quantityElement{s}")
}

fn epc_block(out: &mut String, name: &str, list: Option<&Vec<String>>) {
    let Some(list) = list else {
        return;
    };
    // All `epc=…` entries go into one buffer; their ranges are sorted by
    // content (the same order as sorting the strings), without a String per EPC.
    let mut buf = String::with_capacity(list.len() * 64);
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(list.len());
    for e in list {
        let start = buf.len();
        buf.push_str("epc=");
        push_canonical_value(&mut buf, e);
        if buf.len() == start + 4 {
            buf.truncate(start);
        } else {
            ranges.push((start, buf.len()));
        }
    }
    if ranges.is_empty() {
        return;
    }
    ranges.sort_unstable_by(|a, b| buf[a.0..a.1].cmp(&buf[b.0..b.1]));
    out.push_str(name);
    for (a, b) in ranges {
        out.push_str(&buf[a..b]);
    }
}

fn quantity_block(out: &mut String, name: &str, list: Option<&Vec<QuantityElement>>) {
    if let Some(list) = list {
        sorted_block(out, name, list.iter().map(quantity_element).collect());
    }
}

/// Emits a location; returns its leftover string for the remainder, if any.
fn location(out: &mut String, name: &str, loc: Option<&Location>) -> Option<String> {
    let loc = loc?;
    if loc.extensions.is_empty() {
        // Common case, same output: `name` and the id leaf, if the leaf is not empty.
        let mark = out.len();
        out.push_str(name);
        let before = out.len();
        leaf(out, "id", Some(&loc.id));
        if out.len() == before {
            out.truncate(mark);
        }
        return None;
    }
    let id_present = !loc.id.trim().is_empty();
    let (inner, left) = split_container_extensions(&loc.extensions, usize::from(id_present));
    let mut s = String::new();
    leaf(&mut s, "id", Some(&loc.id));
    s.push_str(&join_sorted(inner));
    if !s.is_empty() {
        out.push_str(name);
        out.push_str(&s);
    }
    (!left.is_empty()).then(|| format!("{name}{}", join_sorted(left)))
}

fn count_some(opts: &[bool]) -> usize {
    opts.iter().filter(|b| **b).count()
}

fn sensor_metadata(m: &SensorMetadata) -> (String, Option<String>) {
    let fields = count_some(&[
        m.time.is_some(),
        m.start_time.is_some(),
        m.end_time.is_some(),
        m.device_id.is_some(),
        m.device_metadata.is_some(),
        m.raw_data.is_some(),
        m.data_processing_method.is_some(),
        m.biz_rules.is_some(),
    ]);
    let (inner, left) = split_container_extensions(&m.extensions, fields);
    let mut s = String::new();
    time_leaf(&mut s, "time", m.time.as_ref().map(|t| t.as_str()));
    time_leaf(
        &mut s,
        "startTime",
        m.start_time.as_ref().map(|t| t.as_str()),
    );
    time_leaf(&mut s, "endTime", m.end_time.as_ref().map(|t| t.as_str()));
    leaf(&mut s, "deviceID", m.device_id.as_deref());
    leaf(&mut s, "deviceMetadata", m.device_metadata.as_deref());
    leaf(&mut s, "rawData", m.raw_data.as_deref());
    leaf(
        &mut s,
        "dataProcessingMethod",
        m.data_processing_method.as_deref(),
    );
    leaf(&mut s, "bizRules", m.biz_rules.as_deref());
    s.push_str(&join_sorted(inner));
    let s = if s.is_empty() {
        s
    } else {
        format!("sensorMetadata{s}")
    };
    let left = (!left.is_empty()).then(|| format!("sensorMetadata{}", join_sorted(left)));
    (s, left)
}

fn sensor_report(r: &SensorReport) -> (String, Option<String>) {
    let dec = |d: &Option<crate::model::Decimal>| d.as_ref().map(|d| d.as_str().to_string());
    let fields = count_some(&[
        r.report_type.is_some(),
        r.exception.is_some(),
        r.device_id.is_some(),
        r.device_metadata.is_some(),
        r.raw_data.is_some(),
        r.data_processing_method.is_some(),
        r.time.is_some(),
        r.microorganism.is_some(),
        r.chemical_substance.is_some(),
        r.value.is_some(),
        r.component.is_some(),
        r.string_value.is_some(),
        r.boolean_value.is_some(),
        r.hex_binary_value.is_some(),
        r.uri_value.is_some(),
        r.min_value.is_some(),
        r.max_value.is_some(),
        r.mean_value.is_some(),
        r.s_dev.is_some(),
        r.perc_rank.is_some(),
        r.perc_value.is_some(),
        r.uom.is_some(),
        r.coordinate_reference_system.is_some(),
        r.biz_rules.is_some(),
    ]);
    let (inner, mut left) = split_container_extensions(&r.extensions, fields);
    // `bizRules` is not a sensorReport field in HG's property order: it is a
    // leftover, hashed in the remainder (vector SensorDataExamples #7).
    if let Some(b) = &r.biz_rules {
        let mut l = String::new();
        typed_value(&mut l, "bizRules", b);
        left.push(l);
    }
    let mut s = String::new();
    if let Some(t) = &r.report_type {
        kv(&mut s, "type", &canonical_value(&sensor_vocab(t)));
    }
    if let Some(t) = &r.exception {
        kv(&mut s, "exception", &canonical_value(&sensor_vocab(t)));
    }
    leaf(&mut s, "deviceID", r.device_id.as_deref());
    leaf(&mut s, "deviceMetadata", r.device_metadata.as_deref());
    leaf(&mut s, "rawData", r.raw_data.as_deref());
    leaf(
        &mut s,
        "dataProcessingMethod",
        r.data_processing_method.as_deref(),
    );
    time_leaf(&mut s, "time", r.time.as_ref().map(|t| t.as_str()));
    leaf(&mut s, "microorganism", r.microorganism.as_deref());
    leaf(&mut s, "chemicalSubstance", r.chemical_substance.as_deref());
    leaf(&mut s, "value", dec(&r.value).as_deref());
    if let Some(c) = &r.component {
        kv(&mut s, "component", &canonical_value(&sensor_component(c)));
    }
    leaf(&mut s, "stringValue", r.string_value.as_deref());
    if let Some(b) = r.boolean_value {
        kv(&mut s, "booleanValue", if b { "true" } else { "false" });
    }
    leaf(&mut s, "hexBinaryValue", r.hex_binary_value.as_deref());
    leaf(&mut s, "uriValue", r.uri_value.as_deref());
    leaf(&mut s, "minValue", dec(&r.min_value).as_deref());
    leaf(&mut s, "maxValue", dec(&r.max_value).as_deref());
    leaf(&mut s, "meanValue", dec(&r.mean_value).as_deref());
    leaf(&mut s, "sDev", dec(&r.s_dev).as_deref());
    leaf(&mut s, "percRank", dec(&r.perc_rank).as_deref());
    leaf(&mut s, "percValue", dec(&r.perc_value).as_deref());
    leaf(&mut s, "uom", r.uom.as_deref());
    leaf(
        &mut s,
        "coordinateReferenceSystem",
        r.coordinate_reference_system.as_deref(),
    );
    s.push_str(&join_sorted(inner));
    let s = if s.is_empty() {
        s
    } else {
        format!("sensorReport{s}")
    };
    let left = (!left.is_empty()).then(|| format!("sensorReport{}", join_sorted(left)));
    (s, left)
}

fn sensor_element(e: &SensorElement) -> (String, Option<String>) {
    let fields = usize::from(e.sensor_metadata.is_some()) + e.sensor_reports.len();
    let (inner, mut left) = split_container_extensions(&e.extensions, fields);
    let mut s = String::new();
    if let Some(m) = &e.sensor_metadata {
        let (ms, ml) = sensor_metadata(m);
        s.push_str(&ms);
        left.extend(ml);
    }
    let mut reports = Vec::with_capacity(e.sensor_reports.len());
    for r in &e.sensor_reports {
        let (rs, rl) = sensor_report(r);
        reports.push(rs);
        left.extend(rl);
    }
    s.push_str(&join_sorted(reports));
    s.push_str(&join_sorted(inner));
    let s = if s.is_empty() {
        s
    } else {
        format!("sensorElement{s}")
    };
    let left = (!left.is_empty()).then(|| format!("sensorElement{}", join_sorted(left)));
    (s, left)
}

// ---------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------

/// Builds the pre-hash string of one event.
pub(super) fn pre_hash_string(event: &EpcisEvent, opts: &HashOptions) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("eventType=");
    out.push_str(event.event_type.as_str());
    time_leaf(
        &mut out,
        "eventTime",
        event.event_time.as_ref().map(|t| t.as_str()),
    );
    leaf(
        &mut out,
        "eventTimeZoneOffset",
        event.event_time_zone_offset.as_deref(),
    );
    if let Some(ci) = &event.certification_info {
        let items = ci
            .uris()
            .into_iter()
            .map(|u| {
                let v = canonical_value(u);
                if v.is_empty() {
                    v
                } else {
                    format!("certificationInfo={v}")
                }
            })
            .collect();
        sorted_block(&mut out, "", items);
    }
    leaf(&mut out, "parentID", event.parent_id.as_deref());
    epc_block(&mut out, "epcList", event.epc_list.as_ref());
    epc_block(&mut out, "inputEPCList", event.input_epc_list.as_ref());
    epc_block(&mut out, "childEPCs", event.child_epcs.as_ref());
    quantity_block(&mut out, "quantityList", event.quantity_list.as_ref());
    quantity_block(
        &mut out,
        "childQuantityList",
        event.child_quantity_list.as_ref(),
    );
    quantity_block(
        &mut out,
        "inputQuantityList",
        event.input_quantity_list.as_ref(),
    );
    epc_block(&mut out, "outputEPCList", event.output_epc_list.as_ref());
    quantity_block(
        &mut out,
        "outputQuantityList",
        event.output_quantity_list.as_ref(),
    );
    if let Some(a) = event.action {
        kv(&mut out, "action", a.as_str());
    }
    leaf(
        &mut out,
        "transformationID",
        event.transformation_id.as_deref(),
    );
    if let Some(b) = &event.biz_step {
        kv(&mut out, "bizStep", &biz_step_uri(b));
    }
    if let Some(d) = &event.disposition {
        kv(&mut out, "disposition", &disposition_uri(d));
    }
    if let Some(pd) = &event.persistent_disposition {
        let mut s = String::new();
        let list = |name: &str, v: &Option<Vec<Disposition>>| -> Vec<String> {
            v.iter()
                .flatten()
                .map(|d| {
                    let u = disposition_uri(d);
                    if u.is_empty() {
                        u
                    } else {
                        format!("{name}={u}")
                    }
                })
                .collect()
        };
        sorted_block(&mut s, "", list("set", &pd.set));
        sorted_block(&mut s, "", list("unset", &pd.unset));
        if !s.is_empty() {
            out.push_str("persistentDisposition");
            out.push_str(&s);
        }
    }

    let mut remainder: Vec<String> = Vec::new();
    remainder.extend(location(&mut out, "readPoint", event.read_point.as_ref()));
    remainder.extend(location(
        &mut out,
        "bizLocation",
        event.biz_location.as_ref(),
    ));

    if let Some(list) = &event.sensor_element_list {
        let mut elements = Vec::with_capacity(list.len());
        let mut lefts = Vec::new();
        for e in list {
            let (s, l) = sensor_element(e);
            elements.push(s);
            lefts.extend(l);
        }
        sorted_block(&mut out, "sensorElementList", elements);
        if !lefts.is_empty() {
            remainder.push(format!("sensorElementList{}", join_sorted(lefts)));
        }
    }

    // Remainder: emitted after the ordered fields, sorted as whole strings
    // (so bizTransactionList, destinationList, ilmd, sourceList, then `{ns}`
    // user extensions).
    if let Some(list) = &event.biz_transaction_list {
        let items: Vec<String> = list
            .iter()
            .map(|bt| {
                let mut s = String::new();
                if let Some(t) = &bt.transaction_type {
                    kv(&mut s, "type", &btt_uri(t));
                }
                typed_value(&mut s, "bizTransaction", &bt.value);
                s
            })
            .collect();
        let mut s = String::new();
        sorted_block(&mut s, "bizTransactionList", items);
        if !s.is_empty() {
            remainder.push(s);
        }
    }
    for (name, entry, list) in [
        ("sourceList", "source", &event.source_list),
        ("destinationList", "destination", &event.destination_list),
    ] {
        if let Some(list) = list {
            let items: Vec<String> = list
                .iter()
                .map(|sd| {
                    let mut s = String::new();
                    if let Some(t) = &sd.source_dest_type {
                        kv(&mut s, "type", &sdt_uri(t));
                    }
                    typed_value(&mut s, entry, &sd.value);
                    s
                })
                .collect();
            let mut s = String::new();
            sorted_block(&mut s, name, items);
            if !s.is_empty() {
                remainder.push(s);
            }
        }
    }
    if let Some(ilmd) = &event.ilmd {
        remainder.push(format!("ilmd{}", join_sorted(extensions_strings(ilmd))));
    }
    for e in &event.extensions {
        if opts.ignores(&e.name.namespace, &e.name.local) {
            continue;
        }
        extension_strings(e, &mut remainder);
    }
    remainder.sort_unstable();
    for s in &remainder {
        out.push_str(s);
    }
    out
}

/// `name=value` for the ID of a bizTransaction/source/destination (the bare
/// name if the ID is empty, as the reference does for empty elements).
fn typed_value(s: &mut String, name: &str, value: &str) {
    s.push_str(name);
    let mark = s.len();
    s.push('=');
    push_canonical_value(s, value);
    if s.len() == mark + 1 {
        s.truncate(mark);
    }
}
