//! Validation of a parsed document against the EPCIS 2.0 / CBV 2.0 rules that the
//! bindings do not already enforce: required and forbidden fields per event type
//! and action (standards digest §3.3), CBV code lists in any of the three spellings
//! (custom absolute URIs allowed), identifier and URI syntax, time, offset and uom
//! formats, and namespaced ILMD. Every problem is reported, not only the first.
//!
//! Deliberate deviations from the digest's §3.3 table, because the normative XSD and
//! GS1's own examples disagree with it: `persistentDisposition` is accepted on every
//! event type (the 2.0 XSD allows it on all five), and `ilmd` is not restricted to
//! action ADD (GS1's "all possible fields" examples carry it with OBSERVE).

use crate::error::{Path, Position};
use crate::model::*;

/// One validation problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Index of the event in the event list, `None` for document-level problems.
    pub event_index: Option<usize>,
    /// JSON-pointer-ish path, e.g. `eventList[3].bizStep`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// Where in the source, when known (the start of the event).
    pub position: Option<Position>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)?;
        if let Some(p) = self.position {
            write!(f, " (event at {p})")?;
        }
        Ok(())
    }
}

/// Validates a document; an empty result means valid.
pub fn validate(doc: &EpcisDocument) -> Vec<Problem> {
    validate_with_positions(doc, &[])
}

/// Validates a document, attaching `event_positions[i]` (as returned by the
/// `*_with_positions` readers) to the problems of event `i`.
pub fn validate_with_positions(doc: &EpcisDocument, event_positions: &[Position]) -> Vec<Problem> {
    let mut v = Validator {
        problems: Vec::new(),
        event_index: None,
        position: None,
    };
    v.document(doc);
    for (i, e) in doc.events.iter().enumerate() {
        v.event_index = Some(i);
        v.position = event_positions.get(i).copied();
        if doc.kind == DocumentKind::BareEvent {
            v.event(e, &"event");
        } else {
            v.event(e, &Path::Index(&"eventList", i));
        }
    }
    v.problems
}

/// Validates one event on its own, with the rules [`validate`] applies to each event of a
/// document; problems name the event as `{list}[{index}]` (e.g. `[3].bizStep` for the fourth
/// transaction of a list, with `list` empty).
pub fn validate_event(event: &EpcisEvent, list: &str, index: usize) -> Vec<Problem> {
    let mut v = Validator {
        problems: Vec::new(),
        event_index: Some(index),
        position: None,
    };
    v.event(event, &Path::Index(&list, index));
    v.problems
}

/// The `eventTimeZoneOffset` rule: `^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$`.
pub fn is_valid_time_zone_offset(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 6 || !(b[0] == b'+' || b[0] == b'-') || b[3] != b':' {
        return false;
    }
    let digits = [b[1], b[2], b[4], b[5]];
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let hours = (b[1] - b'0') * 10 + (b[2] - b'0');
    let minutes = (b[4] - b'0') * 10 + (b[5] - b'0');
    (hours <= 13 && minutes <= 59) || (hours == 14 && minutes == 0)
}

/// The UN/CEFACT Rec 20 unit code syntax `^[A-Z0-9]{2,3}$`.
pub fn is_valid_uom(s: &str) -> bool {
    (2..=3).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Absolute URI syntax check (RFC 3986 scheme, no whitespace or control characters).
pub fn is_absolute_uri(s: &str) -> bool {
    let Some(colon) = s.bytes().position(|b| b == b':') else {
        return false;
    };
    let (scheme, rest) = (&s[..colon], &s[colon + 1..]);
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !(first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty())
    {
        return false;
    }
    // One pass over the bytes: ASCII input is decided by a table lookup (the
    // same test as `uri_chars_ok`, see the `ascii_fast_path…` test); any
    // non-ASCII byte falls back to the character check.
    let mut ascii = true;
    for &b in s.as_bytes() {
        match URI_BYTE[usize::from(b)] {
            0 => {}
            1 => return false,
            _ => ascii = false,
        }
    }
    if ascii {
        return true;
    }
    uri_chars_ok(s)
}

/// Per byte: 0 allowed in a URI, 1 rejected (space, control or excluded
/// character), 2 non-ASCII (decided per character).
static URI_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if i >= 0x80 {
            2
        } else if i <= 0x20 || i == 0x7f {
            1
        } else {
            match i as u8 {
                b'<' | b'>' | b'"' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'`' => 1,
                _ => 0,
            }
        };
        i += 1;
    }
    t
};

/// No whitespace, control or excluded character (`< > " { } | \\ ^ \``).
fn uri_chars_ok(s: &str) -> bool {
    !s.chars().any(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
    })
}

/// EPC URN schemes of TDS 2.x (`urn:epc:id:…`, `urn:epc:class:…`, `urn:epc:idpat:…`).
const EPC_ID_SCHEMES: &[&str] = &[
    "sgtin", "sscc", "sgln", "grai", "giai", "gsrn", "gsrnp", "gdti", "cpi", "sgcn", "ginc",
    "gsin", "itip", "upui", "pgln", "gid", "usdod", "adi", "bic", "imovn",
];
const EPC_CLASS_SCHEMES: &[&str] = &["lgtin"];

/// Checks the syntax of an EPC/EPC class/pattern URN or a GS1 Digital Link URI
/// (basic structural checks; other absolute URIs are accepted as they are).
/// Returns a message describing the problem, or `None` if acceptable.
pub fn identifier_problem(s: &str) -> Option<String> {
    if !is_absolute_uri(s) {
        return Some(format!("\"{s}\" is not an absolute URI"));
    }
    let epc_part = |prefix: &str, schemes: &[&str], extra: &[&str]| -> Option<Option<String>> {
        let rest = s.strip_prefix(prefix)?;
        let (scheme, body) = match rest.split_once(':') {
            Some(x) => x,
            None => return Some(Some(format!("\"{s}\" has no EPC scheme body"))),
        };
        if !schemes.contains(&scheme) && !extra.contains(&scheme) {
            return Some(Some(format!(
                "\"{s}\" uses unknown EPC scheme \"{scheme}\""
            )));
        }
        let ok_chars = body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!'()*+,-.:;=_%/*".contains(c));
        if body.is_empty() || !ok_chars {
            return Some(Some(format!("\"{s}\" has an invalid EPC body")));
        }
        Some(None)
    };
    // Full TDS checks (component lengths, GCP + reference digit budgets, escapes)
    // come from `pedigree-gs1` for the schemes it supports.
    if let Some(scheme) = gs1_supported_scheme(s) {
        return pedigree_gs1::epc::check_urn(s)
            .err()
            .map(|e| format!("\"{s}\" is not a valid {scheme} EPC URI: {e}"));
    }
    if let Some(r) = epc_part("urn:epc:id:", EPC_ID_SCHEMES, &[]) {
        return r;
    }
    if let Some(r) = epc_part("urn:epc:class:", EPC_CLASS_SCHEMES, &[]) {
        return r;
    }
    if let Some(r) = epc_part("urn:epc:idpat:", EPC_ID_SCHEMES, &["sgtin", "sscc"]) {
        return r;
    }
    if s.starts_with("urn:epc:") && !s.starts_with("urn:epc:raw:") && !s.starts_with("urn:epc:tag:")
    {
        return Some(format!("\"{s}\" is not a valid EPC URN"));
    }
    if looks_like_digital_link(s) {
        let options = pedigree_gs1::Options {
            // EPCIS carries keys as captured; check digits are not an EPCIS rule.
            validate_check_digits: false,
            ..pedigree_gs1::Options::default()
        };
        return pedigree_gs1::dl::parse(s, &options)
            .err()
            .map(|e| format!("\"{s}\" is not a valid GS1 Digital Link URI: {e}"));
    }
    // GS1 Digital Link: a GTIN after `/01/` must be 8, 12, 13 or 14 digits.
    if s.starts_with("http://") || s.starts_with("https://") {
        let path = s.split(['?', '#']).next().unwrap_or("");
        let segments: Vec<&str> = path.split('/').collect();
        for w in segments.windows(2) {
            if w[0] == "01" {
                let gtin = w[1];
                if !(gtin.bytes().all(|c| c.is_ascii_digit())
                    && matches!(gtin.len(), 8 | 12 | 13 | 14))
                {
                    return Some(format!(
                        "\"{s}\": GS1 Digital Link GTIN \"{gtin}\" must have 8, 12, 13 or 14 digits"
                    ));
                }
                break;
            }
        }
    }
    None
}

/// The EPC scheme of `s` if `pedigree_gs1::epc::parse_urn` supports it.
fn gs1_supported_scheme(s: &str) -> Option<&'static str> {
    const ID: &[&str] = &[
        "sgtin", "sscc", "sgln", "grai", "giai", "gsrn", "gsrnp", "gdti", "cpi", "ginc", "gsin",
        "itip", "upui", "pgln", "sgcn",
    ];
    const IDPAT: &[&str] = &["sgtin", "grai", "gdti", "sgcn", "cpi", "itip", "upui"];
    let find = |prefix: &str, list: &[&'static str]| -> Option<&'static str> {
        let rest = s.strip_prefix(prefix)?;
        let scheme = &rest[..rest.bytes().position(|b| b == b':').unwrap_or(rest.len())];
        list.iter().copied().find(|x| *x == scheme)
    };
    find("urn:epc:id:", ID)
        .or_else(|| find("urn:epc:class:", &["lgtin"]))
        .or_else(|| find("urn:epc:idpat:", IDPAT))
}

/// True for `http(s)` URIs whose path has a GS1 primary-key AI segment followed by
/// a value (`…/01/{gtin}…`, `…/414/{gln}…`, …).
fn looks_like_digital_link(s: &str) -> bool {
    const PRIMARY_KEYS: &[&str] = &[
        "00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010",
        "8017", "8018",
    ];
    if !(s.starts_with("https://") || s.starts_with("http://")) {
        return false;
    }
    let path = s.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').skip(3).collect();
    segments
        .windows(2)
        .any(|w| PRIMARY_KEYS.contains(&w[0]) && !w[1].is_empty())
}

struct Validator {
    problems: Vec<Problem>,
    event_index: Option<usize>,
    position: Option<Position>,
}

fn cbv_problem(
    kind: &str,
    raw: &str,
    standard: bool,
    urn_prefix: &str,
    web_prefix: &str,
) -> Option<String> {
    if standard {
        return None;
    }
    let t = raw.trim();
    if t.starts_with(urn_prefix) || t.starts_with(web_prefix) {
        return Some(format!(
            "\"{raw}\" is not a standard CBV {kind} (unknown value in the standard namespace)"
        ));
    }
    if !is_absolute_uri(t) {
        return Some(format!(
            "\"{raw}\" is not a standard CBV {kind}; a non-standard {kind} must be an absolute URI"
        ));
    }
    None
}

impl Validator {
    fn push(&mut self, field: impl std::fmt::Display, message: impl Into<String>) {
        self.problems.push(Problem {
            event_index: self.event_index,
            field: field.to_string(),
            message: message.into(),
            position: self.position,
        });
    }

    fn time(&mut self, path: &dyn std::fmt::Display, t: &EpcisTime) {
        match t.parse() {
            None => self.push(path, format!("\"{}\" is not a valid date-time", t.as_str())),
            Some(p) if p.offset_minutes.is_none() => {
                self.push(path, format!("\"{}\" has no time zone offset", t.as_str()))
            }
            Some(_) => {}
        }
    }

    fn identifier(&mut self, path: &dyn std::fmt::Display, s: &str) {
        if let Some(m) = identifier_problem(s) {
            self.push(path, m);
        }
    }

    fn uri(&mut self, path: &dyn std::fmt::Display, s: &str) {
        if !is_absolute_uri(s) {
            self.push(path, format!("\"{s}\" is not an absolute URI"));
        }
    }

    fn document(&mut self, doc: &EpcisDocument) {
        if doc.kind == DocumentKind::BareEvent {
            return;
        }
        match &doc.schema_version {
            None if doc.kind == DocumentKind::Document => {
                self.push("schemaVersion", "missing schemaVersion")
            }
            Some(v)
                if !(v
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))) =>
            {
                self.push(
                    "schemaVersion",
                    format!("\"{v}\" does not match ^\\d+(\\.\\d+)*$"),
                )
            }
            _ => {}
        }
        match &doc.creation_date {
            None if doc.kind == DocumentKind::Document => {
                self.push("creationDate", "missing creationDate")
            }
            Some(t) => self.time(&"creationDate", t),
            None => {}
        }
        for (i, c) in doc.context.iter().enumerate() {
            if let ContextEntry::Prefixes(bindings) = c {
                for b in bindings {
                    if !is_absolute_uri(&b.namespace) {
                        self.push(
                            format!("@context[{i}].{}", b.prefix),
                            format!("namespace \"{}\" is not an absolute URI", b.namespace),
                        );
                    }
                }
            }
        }
    }

    fn extensions(
        &mut self,
        path: &dyn std::fmt::Display,
        exts: &[Extension],
        require_namespace: bool,
    ) {
        for x in exts {
            if x.name.namespace.is_empty() {
                let key = format!("{path}.{}", x.name.prefixed());
                if let Some(p) = &x.name.prefix {
                    self.push(key, format!("undeclared namespace prefix \"{p}\""));
                } else if require_namespace && !x.name.is_jsonld_keyword() {
                    self.push(key, "extension names must be namespaced (CURIE or URI)");
                }
            }
        }
    }

    fn quantity_list(&mut self, path: &dyn std::fmt::Display, list: &[QuantityElement]) {
        for (i, q) in list.iter().enumerate() {
            let qp = format!("{path}[{i}]");
            self.identifier(&format!("{qp}.epcClass"), &q.epc_class);
            if let Some(u) = &q.uom {
                if !is_valid_uom(u) {
                    self.push(
                        format!("{qp}.uom"),
                        format!("\"{u}\" does not match ^[A-Z0-9]{{2,3}}$"),
                    );
                }
                if q.quantity.is_none() {
                    self.push(format!("{qp}.uom"), "uom given without quantity");
                }
            }
        }
    }

    fn epc_list(&mut self, path: &dyn std::fmt::Display, list: &[String]) {
        for (i, epc) in list.iter().enumerate() {
            self.identifier(&Path::Index(path, i), epc);
        }
    }

    fn forbid(&mut self, path: &dyn std::fmt::Display, e: &EpcisEvent, fields: &[&str]) {
        for f in fields {
            let present = match *f {
                "epcList" => e.epc_list.is_some(),
                "quantityList" => e.quantity_list.is_some(),
                "parentID" => e.parent_id.is_some(),
                "childEPCs" => e.child_epcs.is_some(),
                "childQuantityList" => e.child_quantity_list.is_some(),
                "inputEPCList" => e.input_epc_list.is_some(),
                "inputQuantityList" => e.input_quantity_list.is_some(),
                "outputEPCList" => e.output_epc_list.is_some(),
                "outputQuantityList" => e.output_quantity_list.is_some(),
                "transformationID" => e.transformation_id.is_some(),
                "ilmd" => e.ilmd.is_some(),
                "persistentDisposition" => e.persistent_disposition.is_some(),
                "action" => e.action.is_some(),
                _ => false,
            };
            if present {
                self.push(
                    format!("{path}.{f}"),
                    format!("{f} is not allowed in {}", e.event_type.as_str()),
                );
            }
        }
    }

    fn event(&mut self, e: &EpcisEvent, path: &dyn std::fmt::Display) {
        let p = |f: &'static str| Path::Field(path, f);
        match &e.event_time {
            None => self.push(p("eventTime"), "missing eventTime"),
            Some(t) => self.time(&p("eventTime"), t),
        }
        match &e.event_time_zone_offset {
            None => self.push(p("eventTimeZoneOffset"), "missing eventTimeZoneOffset"),
            Some(o) if !is_valid_time_zone_offset(o) => self.push(
                p("eventTimeZoneOffset"),
                format!("\"{o}\" does not match ^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$"),
            ),
            Some(_) => {}
        }
        if let Some(t) = &e.record_time {
            self.time(&p("recordTime"), t);
        }
        if let Some(id) = &e.event_id {
            self.uri(&p("eventID"), id);
        }
        if let Some(ed) = &e.error_declaration {
            let ep = p("errorDeclaration");
            match &ed.declaration_time {
                None => self.push(format!("{ep}.declarationTime"), "missing declarationTime"),
                Some(t) => self.time(&format!("{ep}.declarationTime"), t),
            }
            if let Some(r) = &ed.reason
                && let Some(m) = cbv_problem(
                    "error reason",
                    r.as_str(),
                    r.is_standard(),
                    ErrorReason::URN_PREFIX,
                    ErrorReason::WEB_URI_PREFIX,
                )
            {
                self.push(format!("{ep}.reason"), m);
            }
            for (i, id) in ed.corrective_event_ids.iter().flatten().enumerate() {
                self.uri(&format!("{ep}.correctiveEventIDs[{i}]"), id);
            }
            self.extensions(&ep, &ed.extensions, false);
        }
        if let Some(c) = &e.certification_info {
            for (i, uri) in c.uris().into_iter().enumerate() {
                let cp = match c {
                    CertificationInfo::Single(_) => p("certificationInfo").to_string(),
                    CertificationInfo::Many(_) => format!("{}[{i}]", p("certificationInfo")),
                };
                // xsd:anyURI is lax (OpenEPCIS samples use free text), so only
                // emptiness is rejected here.
                if uri.trim().is_empty() {
                    self.push(cp, "certificationInfo must not be empty");
                }
            }
        }
        self.per_type(e, path);
        if let Some(id) = &e.parent_id {
            self.identifier(&p("parentID"), id);
        }
        for (name, list) in [
            ("epcList", &e.epc_list),
            ("childEPCs", &e.child_epcs),
            ("inputEPCList", &e.input_epc_list),
            ("outputEPCList", &e.output_epc_list),
        ] {
            if let Some(l) = list {
                self.epc_list(&p(name), l);
            }
        }
        for (name, list) in [
            ("quantityList", &e.quantity_list),
            ("childQuantityList", &e.child_quantity_list),
            ("inputQuantityList", &e.input_quantity_list),
            ("outputQuantityList", &e.output_quantity_list),
        ] {
            if let Some(l) = list {
                self.quantity_list(&p(name), l);
            }
        }
        if let Some(t) = &e.transformation_id {
            self.uri(&p("transformationID"), t);
        }
        if let Some(b) = &e.biz_step
            && let Some(m) = cbv_problem(
                "bizStep",
                b.as_str(),
                b.is_standard(),
                BizStep::URN_PREFIX,
                BizStep::WEB_URI_PREFIX,
            )
        {
            self.push(p("bizStep"), m);
        }
        if let Some(d) = &e.disposition {
            self.disposition(&p("disposition"), d);
        }
        if let Some(pd) = &e.persistent_disposition {
            let pp = p("persistentDisposition");
            if pd.set.is_none() && pd.unset.is_none() {
                self.push(pp, "persistentDisposition needs set or unset");
            }
            for (name, list) in [("set", &pd.set), ("unset", &pd.unset)] {
                for (i, d) in list.iter().flatten().enumerate() {
                    self.disposition(&format!("{pp}.{name}[{i}]"), d);
                }
            }
        }
        for (name, loc) in [
            ("readPoint", &e.read_point),
            ("bizLocation", &e.biz_location),
        ] {
            if let Some(l) = loc {
                if l.id.is_empty() {
                    self.push(format!("{}.id", p(name)), "missing id");
                } else {
                    self.identifier(&Path::Field(&p(name), "id"), &l.id);
                }
                self.extensions(&p(name), &l.extensions, true);
            }
        }
        for (i, bt) in e.biz_transaction_list.iter().flatten().enumerate() {
            let bp = format!("{}[{i}]", p("bizTransactionList"));
            self.uri(&format!("{bp}.bizTransaction"), &bt.value);
            if let Some(t) = &bt.transaction_type
                && let Some(m) = cbv_problem(
                    "business transaction type",
                    t.as_str(),
                    t.is_standard(),
                    BizTransactionType::URN_PREFIX,
                    BizTransactionType::WEB_URI_PREFIX,
                )
            {
                self.push(format!("{bp}.type"), m);
            }
        }
        for (name, value_key, list) in [
            ("sourceList", "source", &e.source_list),
            ("destinationList", "destination", &e.destination_list),
        ] {
            for (i, sd) in list.iter().flatten().enumerate() {
                let sp = format!("{}[{i}]", p(name));
                self.uri(&format!("{sp}.{value_key}"), &sd.value);
                match &sd.source_dest_type {
                    None => self.push(format!("{sp}.type"), "missing type"),
                    Some(t) => {
                        if let Some(m) = cbv_problem(
                            "source/destination type",
                            t.as_str(),
                            t.is_standard(),
                            SourceDestType::URN_PREFIX,
                            SourceDestType::WEB_URI_PREFIX,
                        ) {
                            self.push(format!("{sp}.type"), m);
                        }
                    }
                }
            }
        }
        for (i, se) in e.sensor_element_list.iter().flatten().enumerate() {
            self.sensor_element(&format!("{}[{i}]", p("sensorElementList")), se);
        }
        if let Some(ilmd) = &e.ilmd {
            self.extensions(&p("ilmd"), ilmd, true);
        }
        self.extensions(path, &e.extensions, false);
    }

    fn disposition(&mut self, path: &dyn std::fmt::Display, d: &Disposition) {
        if let Some(m) = cbv_problem(
            "disposition",
            d.as_str(),
            d.is_standard(),
            Disposition::URN_PREFIX,
            Disposition::WEB_URI_PREFIX,
        ) {
            self.push(path, m);
        }
    }

    fn sensor_element(&mut self, path: &dyn std::fmt::Display, se: &SensorElement) {
        if se.sensor_reports.is_empty() {
            self.push(
                format!("{path}.sensorReport"),
                "at least one sensorReport is required",
            );
        }
        if let Some(m) = &se.sensor_metadata {
            let mp = format!("{path}.sensorMetadata");
            for (name, t) in [
                ("time", &m.time),
                ("startTime", &m.start_time),
                ("endTime", &m.end_time),
            ] {
                if let Some(t) = t {
                    self.time(&format!("{mp}.{name}"), t);
                }
            }
            self.extensions(&mp, &m.extensions, false);
        }
        for (i, r) in se.sensor_reports.iter().enumerate() {
            let rp = format!("{path}.sensorReport[{i}]");
            if r.report_type.is_none() && r.exception.is_none() {
                self.push(format!("{rp}.type"), "missing type");
            }
            if let Some(t) = &r.time {
                self.time(&format!("{rp}.time"), t);
            }
            if let Some(h) = &r.hex_binary_value
                && (h.len() % 2 != 0 || !h.bytes().all(|c| c.is_ascii_hexdigit()))
            {
                self.push(
                    format!("{rp}.hexBinaryValue"),
                    format!("\"{h}\" is not hexBinary"),
                );
            }
            self.extensions(&rp, &r.extensions, false);
        }
        self.extensions(path, &se.extensions, false);
    }

    fn per_type(&mut self, e: &EpcisEvent, path: &dyn std::fmt::Display) {
        let p = |f: &'static str| Path::Field(path, f);
        let non_empty =
            |l: &Option<Vec<QuantityElement>>| l.as_ref().is_some_and(|v| !v.is_empty());
        let non_empty_epcs = |l: &Option<Vec<String>>| l.as_ref().is_some_and(|v| !v.is_empty());
        let action = e.action;
        if e.event_type != EventType::TransformationEvent && action.is_none() {
            self.push(p("action"), "missing action");
        }
        match e.event_type {
            EventType::ObjectEvent => {
                let sensor_and_read_point = e
                    .sensor_element_list
                    .as_ref()
                    .is_some_and(|s| !s.is_empty())
                    && e.read_point.is_some();
                if e.epc_list.is_none() && !non_empty(&e.quantity_list) && !sensor_and_read_point {
                    self.push(
                        p("epcList"),
                        "ObjectEvent needs epcList, a non-empty quantityList, or sensorElementList with readPoint",
                    );
                }
                self.forbid(
                    path,
                    e,
                    &[
                        "parentID",
                        "childEPCs",
                        "childQuantityList",
                        "inputEPCList",
                        "inputQuantityList",
                        "outputEPCList",
                        "outputQuantityList",
                        "transformationID",
                    ],
                );
            }
            EventType::AggregationEvent | EventType::AssociationEvent => {
                let parent_required =
                    e.event_type == EventType::AssociationEvent || action != Some(Action::Observe);
                if parent_required && e.parent_id.is_none() {
                    self.push(
                        p("parentID"),
                        format!("missing parentID (required in {})", e.event_type.as_str()),
                    );
                }
                if action != Some(Action::Delete)
                    && !non_empty_epcs(&e.child_epcs)
                    && !non_empty(&e.child_quantity_list)
                {
                    self.push(
                        p("childEPCs"),
                        "childEPCs or childQuantityList must be non-empty unless action is DELETE",
                    );
                }
                self.forbid(
                    path,
                    e,
                    &[
                        "epcList",
                        "quantityList",
                        "ilmd",
                        "inputEPCList",
                        "inputQuantityList",
                        "outputEPCList",
                        "outputQuantityList",
                        "transformationID",
                    ],
                );
            }
            EventType::TransactionEvent => {
                if e.biz_transaction_list.as_ref().is_none_or(Vec::is_empty) {
                    self.push(
                        p("bizTransactionList"),
                        "TransactionEvent needs at least one bizTransaction",
                    );
                }
                if action != Some(Action::Delete)
                    && e.epc_list.is_none()
                    && !non_empty(&e.quantity_list)
                {
                    self.push(p("epcList"), "TransactionEvent needs epcList or a non-empty quantityList unless action is DELETE");
                }
                self.forbid(
                    path,
                    e,
                    &[
                        "childEPCs",
                        "childQuantityList",
                        "ilmd",
                        "inputEPCList",
                        "inputQuantityList",
                        "outputEPCList",
                        "outputQuantityList",
                        "transformationID",
                    ],
                );
            }
            EventType::TransformationEvent => {
                let input = non_empty_epcs(&e.input_epc_list) || non_empty(&e.input_quantity_list);
                let output =
                    non_empty_epcs(&e.output_epc_list) || non_empty(&e.output_quantity_list);
                let ok = (input && output) || (e.transformation_id.is_some() && (input || output));
                if !ok {
                    self.push(
                        p("inputEPCList"),
                        "TransformationEvent needs inputs and outputs, or a transformationID with inputs or outputs",
                    );
                }
                self.forbid(
                    path,
                    e,
                    &[
                        "action",
                        "parentID",
                        "epcList",
                        "quantityList",
                        "childEPCs",
                        "childQuantityList",
                    ],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_valid_time_zone_offset("+14:00"));
        assert!(is_valid_time_zone_offset("-06:30"));
        assert!(!is_valid_time_zone_offset("+14:30"));
        assert!(!is_valid_time_zone_offset("06:00"));
        assert!(is_valid_uom("KGM"));
        assert!(!is_valid_uom("kg"));
        assert!(identifier_problem("urn:epc:id:sgtin:0614141.107346.2017").is_none());
        assert!(identifier_problem("urn:epc:id:foo:1").is_some());
        assert!(identifier_problem("https://id.gs1.org/01/10614141073464/21/2017").is_none());
        assert!(identifier_problem("https://id.gs1.org/01/1061/21/2017").is_some());
        assert!(identifier_problem("not a uri").is_some());
    }

    #[test]
    fn ascii_fast_path_matches_char_check() {
        for b in 0u8..=127 {
            let s = format!("urn:x:a{}b", char::from(b));
            assert_eq!(
                is_absolute_uri(&s),
                uri_chars_ok(&s),
                "byte {b:#04x} in {s:?}"
            );
        }
        assert!(!is_absolute_uri("urn:x:a\u{85}b"));
        assert!(is_absolute_uri("urn:x:caf\u{e9}"));
    }

    #[test]
    fn reports_every_problem() {
        let mut e = EpcisEvent::new(EventType::ObjectEvent);
        e.biz_step = Some(BizStep::new("transforming"));
        e.disposition = Some(Disposition::new("urn:epcglobal:cbv:disp:in_transport"));
        let mut doc = EpcisDocument::new(DocumentKind::Document);
        doc.events.push(e);
        let problems = validate(&doc);
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        for f in [
            "schemaVersion",
            "creationDate",
            "eventList[0].eventTime",
            "eventList[0].eventTimeZoneOffset",
            "eventList[0].action",
            "eventList[0].epcList",
            "eventList[0].bizStep",
            "eventList[0].disposition",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        assert!(
            problems
                .iter()
                .all(|p| p.event_index.is_some() || !p.field.starts_with("eventList"))
        );
    }
}
