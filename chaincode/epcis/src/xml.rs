//! EPCIS XML binding: reads EPCIS 2.0 (`urn:epcglobal:epcis:xsd:2`) and EPCIS 1.x
//! (`urn:epcglobal:epcis:xsd:1`) documents, query documents and bare event elements
//! into the model, and writes EPCIS 2.0 XML.
//!
//! Reading rules:
//! - Standard elements are unqualified (no namespace), as in the XSDs. The 1.x
//!   `<extension>` and `<baseExtension>` wrapper elements (also still present in the
//!   2.0 XSD) are transparent: their children are read as if they were direct
//!   children, so 1.2's `extension/quantityList` and 2.0's `quantityList` give the
//!   same model, and a TransformationEvent inside `EventList/extension` is read.
//! - Elements in any namespace become [`Extension`]s (with their attributes);
//!   unknown unqualified elements are rejected.
//! - Standard text values are trimmed (xsd:anyURI / token whitespace rules);
//!   extension text is kept verbatim.
//! - With [`ReadOptions::check_element_order`] (the default) the standard elements
//!   of an event must follow the XSD `xsd:sequence` order.
//!
//! Writing always produces EPCIS 2.0 XML (`schemaVersion` is written as stored) and
//! keeps every value's spelling; extension prefixes are declared where needed.

use crate::error::{ParseError, Path, Position, Result};
use crate::model::*;
use crate::xml_tree::{self, Element};
use std::fmt::Display;

/// EPCIS 2.0 XML namespace.
pub const EPCIS_NS_2: &str = "urn:epcglobal:epcis:xsd:2";
/// EPCIS 1.x XML namespace.
pub const EPCIS_NS_1: &str = "urn:epcglobal:epcis:xsd:1";
/// EPCIS 2.0 query namespace.
pub const EPCIS_QUERY_NS_2: &str = "urn:epcglobal:epcis-query:xsd:2";
/// EPCIS 1.x query namespace.
pub const EPCIS_QUERY_NS_1: &str = "urn:epcglobal:epcis-query:xsd:1";

/// Options for [`parse_document_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Reject events whose standard elements are not in XSD sequence order.
    pub check_element_order: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            check_element_order: true,
        }
    }
}

/// Reads an EPCIS XML document (1.x or 2.0) with the default options.
pub fn parse_document(text: &str) -> Result<EpcisDocument> {
    parse_document_with(text, ReadOptions::default())
}

/// Reads an EPCIS XML document (1.x or 2.0).
pub fn parse_document_with(text: &str, options: ReadOptions) -> Result<EpcisDocument> {
    let root = xml_tree::parse(text)?;
    Reader { text, options }.document(&root)
}

/// Like [`parse_document_with`], also returning where each event starts (for
/// [`crate::validate::validate_with_positions`]).
pub fn parse_document_with_positions(
    text: &str,
    options: ReadOptions,
) -> Result<(EpcisDocument, Vec<Position>)> {
    let root = xml_tree::parse(text)?;
    let r = Reader { text, options };
    let doc = r.document(&root)?;
    let mut offsets = Vec::new();
    if doc.kind == DocumentKind::BareEvent {
        offsets.push(root.offset);
    } else {
        collect_event_offsets(&root, &mut offsets, 0);
    }
    Ok((doc, Position::from_offsets(text, &offsets)))
}

fn collect_event_offsets(el: &Element, out: &mut Vec<usize>, depth: usize) {
    if depth > 8 {
        return;
    }
    for c in el.elements() {
        if c.local == "EventList" {
            out.extend(flattened(c).iter().map(|e| e.offset));
        } else if is_std_ns(&c.namespace) || is_query_ns(&c.namespace) {
            collect_event_offsets(c, out, depth + 1);
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    options: ReadOptions,
}

fn is_epcis_ns(ns: &str) -> bool {
    ns == EPCIS_NS_2 || ns == EPCIS_NS_1
}

/// Standard EPCIS elements are unqualified; some producers qualify them with the
/// EPCIS namespace, which is accepted too.
fn is_std_ns(ns: &str) -> bool {
    ns.is_empty() || is_epcis_ns(ns)
}

/// The namespace for matching standard element names: `""` for unqualified or
/// EPCIS-qualified names, the namespace otherwise.
fn ns_key(ns: &str) -> &str {
    if is_std_ns(ns) { "" } else { ns }
}

/// True if the element carries `xsi:nil="true"`.
fn is_nil(el: &Element) -> bool {
    el.attrs.iter().any(|a| {
        a.namespace == "http://www.w3.org/2001/XMLSchema-instance"
            && a.local == "nil"
            && a.value.trim() == "true"
    })
}

fn is_query_ns(ns: &str) -> bool {
    ns == EPCIS_QUERY_NS_2 || ns == EPCIS_QUERY_NS_1
}

/// XSD sequence order of the standard elements of each event type (2.0; 1.x with
/// its extension wrappers flattened follows the same order).
fn body_order(t: EventType) -> &'static [&'static str] {
    match t {
        EventType::ObjectEvent => &[
            "epcList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "quantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
            "ilmd",
        ],
        EventType::AggregationEvent => &[
            "parentID",
            "childEPCs",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "childQuantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
        ],
        EventType::TransactionEvent => &[
            "bizTransactionList",
            "parentID",
            "epcList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "quantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
        ],
        EventType::TransformationEvent => &[
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
            "transformationID",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
            "ilmd",
        ],
        EventType::AssociationEvent => &[
            "parentID",
            "childEPCs",
            "childQuantityList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
        ],
    }
}

/// Every standard body element name of any event type.
const ALL_BODY_FIELDS: &[&str] = &[
    "epcList",
    "childEPCs",
    "inputEPCList",
    "outputEPCList",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputQuantityList",
    "parentID",
    "transformationID",
    "action",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "ilmd",
];

const HEADER_ORDER: &[&str] = &[
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
];

/// Children of `el`, with unqualified `extension`/`baseExtension` wrappers flattened.
fn flattened(el: &Element) -> Vec<&Element> {
    let mut out = Vec::new();
    flatten_into(el, &mut out, 0);
    out
}

fn flatten_into<'e>(el: &'e Element, out: &mut Vec<&'e Element>, depth: usize) {
    for c in el.elements() {
        if is_std_ns(&c.namespace)
            && (c.local == "extension" || c.local == "baseExtension")
            && depth < 16
        {
            flatten_into(c, out, depth + 1);
        } else {
            out.push(c);
        }
    }
}

/// True if `child` came out of an `<extension>` wrapper rather than being a direct
/// child of `parent` (unqualified unknown elements are allowed only there).
fn is_wrapped(parent: &Element, child: &Element) -> bool {
    child.namespace.is_empty() && !parent.elements().any(|d| std::ptr::eq(d, child))
}

/// Converts any element to an extension tree.
pub(crate) fn element_to_extension(el: &Element) -> Extension {
    Extension {
        name: QName {
            namespace: el.namespace.clone(),
            local: el.local.clone(),
            prefix: el.prefix.clone(),
        },
        attributes: el
            .attrs
            .iter()
            .map(|a| ExtensionAttribute {
                name: QName {
                    namespace: a.namespace.clone(),
                    local: a.local.clone(),
                    prefix: a.prefix.clone(),
                },
                value: a.value.clone(),
            })
            .collect(),
        value: element_value(el),
    }
}

fn element_value(el: &Element) -> ExtensionValue {
    if el.has_elements() {
        ExtensionValue::Elements(el.elements().map(element_to_extension).collect())
    } else {
        ExtensionValue::Text(el.text())
    }
}

impl Reader<'_> {
    fn pos(&self, el: &Element) -> Option<Position> {
        Some(Position::from_offset(self.text, el.offset))
    }

    fn err(&self, path: &dyn Display, message: impl Into<String>, el: &Element) -> ParseError {
        ParseError::Field {
            field: path.to_string(),
            message: message.into(),
            position: self.pos(el),
        }
    }

    fn unknown(&self, path: &dyn Display, el: &Element) -> ParseError {
        self.err(
            &Path::Field(path, &el.local),
            format!(
                "unknown element <{}>",
                el.prefix
                    .as_ref()
                    .map(|p| format!("{p}:{}", el.local))
                    .unwrap_or_else(|| el.local.clone())
            ),
            el,
        )
    }

    /// Trimmed text of a leaf element; child elements are an error.
    fn leaf(&self, el: &Element, path: &dyn Display) -> Result<String> {
        if el.has_elements() {
            return Err(self.err(path, "expected text, found child elements", el));
        }
        Ok(el.text().trim().to_string())
    }

    fn list(&self, el: &Element, path: &dyn Display, item: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for c in el.elements() {
            if is_std_ns(&c.namespace) && c.local == item {
                out.push(self.leaf(c, &Path::Field(path, item))?);
            } else {
                return Err(self.unknown(path, c));
            }
        }
        Ok(out)
    }

    fn document(&self, root: &Element) -> Result<EpcisDocument> {
        let kind = if root.local == "EPCISDocument" && is_epcis_ns(&root.namespace) {
            DocumentKind::Document
        } else if root.local == "EPCISQueryDocument"
            && (is_query_ns(&root.namespace) || is_epcis_ns(&root.namespace))
        {
            DocumentKind::QueryDocument
        } else if is_std_ns(&root.namespace) && EventType::from_name(&root.local).is_some() {
            DocumentKind::BareEvent
        } else {
            return Err(self.err(
                &"root",
                format!(
                    "expected EPCISDocument, EPCISQueryDocument or an event element, found {{{}}}{}",
                    root.namespace, root.local
                ),
                root,
            ));
        };
        let mut doc = EpcisDocument::new(kind);
        doc.xml_namespaces = root.declarations.clone();
        for a in &root.attrs {
            match (ns_key(&a.namespace), a.local.as_str()) {
                ("", "schemaVersion") => doc.schema_version = Some(a.value.trim().to_string()),
                ("", "creationDate") => doc.creation_date = Some(EpcisTime::new(a.value.trim())),
                _ => doc.xml_attributes.push(ExtensionAttribute {
                    name: QName {
                        namespace: a.namespace.clone(),
                        local: a.local.clone(),
                        prefix: a.prefix.clone(),
                    },
                    value: a.value.clone(),
                }),
            }
        }
        if kind == DocumentKind::BareEvent {
            let mut event = self.event(root, &"event")?;
            // The root's declarations belong to the document, not the event.
            event.xml_namespaces.clear();
            doc.events.push(event);
            return Ok(doc);
        }
        let mut body_seen = false;
        for c in flattened(root) {
            if is_wrapped(root, c) && !matches!(c.local.as_str(), "EPCISHeader" | "EPCISBody") {
                doc.extensions.push(element_to_extension(c));
                continue;
            }
            match (ns_key(&c.namespace), c.local.as_str()) {
                ("", "EPCISHeader") => doc.header = Some(self.header(c)?),
                ("", "EPCISBody") => {
                    body_seen = true;
                    self.body(c, &mut doc)?;
                }
                // Lenient: some query documents (e.g. the hash generator's test files)
                // put the QueryResults content directly under the root.
                ("", "queryName" | "subscriptionID" | "resultsBody")
                    if kind == DocumentKind::QueryDocument =>
                {
                    body_seen = true;
                    self.query_results_child(c, &mut doc)?;
                }
                ("", _) => return Err(self.unknown(&"", c)),
                _ => doc.extensions.push(element_to_extension(c)),
            }
        }
        if !body_seen {
            return Err(self.err(&"EPCISBody", "missing EPCISBody", root));
        }
        Ok(doc)
    }

    fn header(&self, el: &Element) -> Result<EpcisHeader> {
        let mut header = EpcisHeader {
            master_data: None,
            extensions: Vec::new(),
        };
        for c in flattened(el) {
            if c.local == "EPCISMasterData"
                && (is_std_ns(&c.namespace) || c.namespace.contains("epcis-masterdata"))
            {
                let mut list = Vec::new();
                for vl in flattened(c) {
                    if vl.local != "VocabularyList" {
                        return Err(self.unknown(&"epcisHeader.epcisMasterData", vl));
                    }
                    for (i, v) in vl.elements().enumerate() {
                        list.push(self.vocabulary(
                            v,
                            &format!("epcisHeader.epcisMasterData.vocabularyList[{i}]"),
                        )?);
                    }
                }
                header.master_data = Some(list);
            } else {
                header.extensions.push(element_to_extension(c));
            }
        }
        Ok(header)
    }

    fn vocabulary(&self, el: &Element, path: &dyn Display) -> Result<Vocabulary> {
        if el.local != "Vocabulary" {
            return Err(self.unknown(path, el));
        }
        let mut voc = Vocabulary {
            vocabulary_type: el.attr("type").unwrap_or("").to_string(),
            elements: Vec::new(),
            extensions: Vec::new(),
        };
        for c in flattened(el) {
            if is_std_ns(&c.namespace) && c.local == "VocabularyElementList" {
                for (i, ve) in c.elements().enumerate() {
                    let vp = format!("{path}.vocabularyElementList[{i}]");
                    if ve.local != "VocabularyElement" {
                        return Err(self.unknown(&vp, ve));
                    }
                    let mut element = VocabularyElement {
                        id: ve.attr("id").unwrap_or("").to_string(),
                        attributes: Vec::new(),
                        children: None,
                        extensions: Vec::new(),
                    };
                    for a in flattened(ve) {
                        match (ns_key(&a.namespace), a.local.as_str()) {
                            ("", "attribute") => element.attributes.push(VocabularyAttribute {
                                id: a.attr("id").unwrap_or("").to_string(),
                                value: element_value(a),
                                xml_attributes: a
                                    .attrs
                                    .iter()
                                    .filter(|x| !(x.namespace.is_empty() && x.local == "id"))
                                    .map(|x| ExtensionAttribute {
                                        name: QName {
                                            namespace: x.namespace.clone(),
                                            local: x.local.clone(),
                                            prefix: x.prefix.clone(),
                                        },
                                        value: x.value.clone(),
                                    })
                                    .collect(),
                            }),
                            ("", "children") => {
                                element.children =
                                    Some(self.list(a, &Path::Field(&vp, "children"), "id")?)
                            }
                            _ => element.extensions.push(element_to_extension(a)),
                        }
                    }
                    voc.elements.push(element);
                }
            } else {
                voc.extensions.push(element_to_extension(c));
            }
        }
        Ok(voc)
    }

    fn body(&self, el: &Element, doc: &mut EpcisDocument) -> Result<()> {
        for c in flattened(el) {
            match (c.local.as_str(), doc.kind) {
                ("EventList", _) if is_std_ns(&c.namespace) => doc.events = self.event_list(c)?,
                ("QueryResults", DocumentKind::QueryDocument)
                    if is_query_ns(&c.namespace) || is_std_ns(&c.namespace) =>
                {
                    for q in c.elements() {
                        self.query_results_child(q, doc)?;
                    }
                }
                _ => return Err(self.unknown(&"epcisBody", c)),
            }
        }
        Ok(())
    }

    fn query_results_child(&self, q: &Element, doc: &mut EpcisDocument) -> Result<()> {
        match (ns_key(&q.namespace), q.local.as_str()) {
            ("", "queryName") => doc.query_name = Some(self.leaf(q, &"queryName")?),
            ("", "subscriptionID") => doc.subscription_id = Some(self.leaf(q, &"subscriptionID")?),
            ("", "resultsBody") => {
                for rb in q.elements() {
                    if rb.local == "EventList" {
                        doc.events = self.event_list(rb)?;
                    } else {
                        return Err(self.unknown(&"epcisBody.queryResults.resultsBody", rb));
                    }
                }
            }
            ("", _) => return Err(self.unknown(&"epcisBody.queryResults", q)),
            _ => doc.query_extensions.push(element_to_extension(q)),
        }
        Ok(())
    }

    fn event_list(&self, el: &Element) -> Result<Vec<EpcisEvent>> {
        let mut out = Vec::new();
        for c in flattened(el) {
            let path = &Path::Index(&"eventList", out.len());
            if !is_std_ns(&c.namespace) || EventType::from_name(&c.local).is_none() {
                return Err(self.err(
                    &Path::Field(path, "type"),
                    format!("unsupported event type <{}>", c.local),
                    c,
                ));
            }
            out.push(self.event(c, path)?);
        }
        Ok(out)
    }

    fn quantity_list(&self, el: &Element, path: &dyn Display) -> Result<Vec<QuantityElement>> {
        let mut out = Vec::new();
        for (i, q) in el.elements().enumerate() {
            let qp = &Path::Index(path, i);
            if !(is_std_ns(&q.namespace) && q.local == "quantityElement") {
                return Err(self.unknown(path, q));
            }
            let mut element = QuantityElement {
                epc_class: String::new(),
                quantity: None,
                uom: None,
            };
            let mut has_class = false;
            for f in q.elements() {
                let fp = &Path::Field(qp, &f.local);
                match (ns_key(&f.namespace), f.local.as_str()) {
                    ("", "epcClass") => {
                        element.epc_class = self.leaf(f, &fp)?;
                        has_class = true;
                    }
                    ("", "quantity") if is_nil(f) => element.quantity = None,
                    ("", "quantity") => {
                        let t = self.leaf(f, &fp)?;
                        element.quantity =
                            Some(Decimal::parse(&t).ok_or_else(|| {
                                self.err(&fp, format!("invalid number \"{t}\""), f)
                            })?);
                    }
                    ("", "uom") => element.uom = Some(self.leaf(f, &fp)?),
                    _ => return Err(self.unknown(&qp, f)),
                }
            }
            if !has_class {
                return Err(self.err(&Path::Field(qp, "epcClass"), "missing epcClass", q));
            }
            out.push(element);
        }
        Ok(out)
    }

    fn location(&self, el: &Element, path: &dyn Display) -> Result<Location> {
        let mut loc = Location {
            id: String::new(),
            extensions: Vec::new(),
        };
        let mut has_id = false;
        for c in flattened(el) {
            if is_std_ns(&c.namespace) && c.local == "id" {
                loc.id = self.leaf(c, &Path::Field(path, "id"))?;
                has_id = true;
            } else if !is_std_ns(&c.namespace) || is_wrapped(el, c) {
                loc.extensions.push(element_to_extension(c));
            } else {
                return Err(self.unknown(path, c));
            }
        }
        if !has_id {
            return Err(self.err(&Path::Field(path, "id"), "missing id", el));
        }
        Ok(loc)
    }

    fn typed_list(
        &self,
        el: &Element,
        path: &dyn Display,
        item: &str,
    ) -> Result<Vec<(Option<String>, String)>> {
        let mut out = Vec::new();
        for (i, c) in el.elements().enumerate() {
            if !(is_std_ns(&c.namespace) && c.local == item) {
                return Err(self.unknown(path, c));
            }
            let value = self.leaf(c, &Path::Index(path, i))?;
            out.push((c.attr("type").map(|t| t.trim().to_string()), value));
        }
        Ok(out)
    }

    fn error_declaration(&self, el: &Element, path: &dyn Display) -> Result<ErrorDeclaration> {
        let mut ed = ErrorDeclaration {
            declaration_time: None,
            reason: None,
            corrective_event_ids: None,
            extensions: Vec::new(),
        };
        for c in flattened(el) {
            let fp = &Path::Field(path, &c.local);
            match (ns_key(&c.namespace), c.local.as_str()) {
                ("", "declarationTime") => {
                    ed.declaration_time = Some(EpcisTime::new(self.leaf(c, &fp)?))
                }
                ("", "reason") => ed.reason = Some(ErrorReason::new(self.leaf(c, &fp)?)),
                ("", "correctiveEventIDs") => {
                    ed.corrective_event_ids = Some(self.list(c, &fp, "correctiveEventID")?)
                }
                ("", _) if !is_wrapped(el, c) => return Err(self.unknown(path, c)),
                _ => ed.extensions.push(element_to_extension(c)),
            }
        }
        Ok(ed)
    }

    fn decimal_attr(&self, value: &str, path: &dyn Display, el: &Element) -> Result<Decimal> {
        Decimal::parse(value)
            .ok_or_else(|| self.err(path, format!("invalid number \"{value}\""), el))
    }

    fn attr_extension(a: &xml_tree::Attr) -> Extension {
        Extension {
            name: QName {
                namespace: a.namespace.clone(),
                local: a.local.clone(),
                prefix: a.prefix.clone(),
            },
            attributes: Vec::new(),
            value: ExtensionValue::Text(a.value.clone()),
        }
    }

    fn sensor_element_list(&self, el: &Element, path: &dyn Display) -> Result<Vec<SensorElement>> {
        let mut out = Vec::new();
        for (i, se) in el.elements().enumerate() {
            let sp = &Path::Index(path, i);
            if !(is_std_ns(&se.namespace) && se.local == "sensorElement") {
                return Err(self.unknown(path, se));
            }
            let mut element = SensorElement::default();
            for c in flattened(se) {
                match (ns_key(&c.namespace), c.local.as_str()) {
                    ("", "sensorMetadata") => {
                        element.sensor_metadata =
                            Some(self.sensor_metadata(c, &Path::Field(sp, "sensorMetadata"))?)
                    }
                    ("", "sensorReport") => {
                        let rp = format!("{sp}.sensorReport[{}]", element.sensor_reports.len());
                        element.sensor_reports.push(self.sensor_report(c, &rp)?);
                    }
                    ("", _) if !is_wrapped(se, c) => return Err(self.unknown(&sp, c)),
                    _ => element.extensions.push(element_to_extension(c)),
                }
            }
            out.push(element);
        }
        Ok(out)
    }

    fn sensor_metadata(&self, el: &Element, path: &dyn Display) -> Result<SensorMetadata> {
        let mut m = SensorMetadata::default();
        for a in &el.attrs {
            let v = || Some(a.value.trim().to_string());
            let t = || Some(EpcisTime::new(a.value.trim()));
            if !a.namespace.is_empty() {
                m.extensions.push(Self::attr_extension(a));
                continue;
            }
            match a.local.as_str() {
                "time" => m.time = t(),
                "startTime" => m.start_time = t(),
                "endTime" => m.end_time = t(),
                "deviceID" => m.device_id = v(),
                "deviceMetadata" => m.device_metadata = v(),
                "rawData" => m.raw_data = v(),
                "dataProcessingMethod" => m.data_processing_method = v(),
                "bizRules" => m.biz_rules = v(),
                other => return Err(self.err(&Path::Field(path, other), "unknown attribute", el)),
            }
        }
        for c in flattened(el) {
            if is_std_ns(&c.namespace) && !is_wrapped(el, c) {
                return Err(self.unknown(path, c));
            }
            m.extensions.push(element_to_extension(c));
        }
        Ok(m)
    }

    fn sensor_report(&self, el: &Element, path: &dyn Display) -> Result<SensorReport> {
        let mut r = SensorReport::default();
        for a in &el.attrs {
            if !a.namespace.is_empty() {
                r.extensions.push(Self::attr_extension(a));
                continue;
            }
            let fp = &Path::Field(path, &a.local);
            let raw = a.value.trim();
            let v = || Some(raw.to_string());
            match a.local.as_str() {
                "type" => r.report_type = v(),
                "exception" => r.exception = v(),
                "deviceID" => r.device_id = v(),
                "deviceMetadata" => r.device_metadata = v(),
                "rawData" => r.raw_data = v(),
                "dataProcessingMethod" => r.data_processing_method = v(),
                "time" => r.time = Some(EpcisTime::new(raw)),
                "microorganism" => r.microorganism = v(),
                "chemicalSubstance" => r.chemical_substance = v(),
                "value" => r.value = Some(self.decimal_attr(raw, &fp, el)?),
                "component" => r.component = v(),
                "stringValue" => r.string_value = Some(a.value.clone()),
                "booleanValue" => {
                    r.boolean_value = Some(match raw {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(self.err(&fp, format!("invalid boolean \"{raw}\""), el)),
                    })
                }
                "hexBinaryValue" => r.hex_binary_value = v(),
                "uriValue" => r.uri_value = v(),
                "minValue" => r.min_value = Some(self.decimal_attr(raw, &fp, el)?),
                "maxValue" => r.max_value = Some(self.decimal_attr(raw, &fp, el)?),
                "meanValue" => r.mean_value = Some(self.decimal_attr(raw, &fp, el)?),
                "sDev" => r.s_dev = Some(self.decimal_attr(raw, &fp, el)?),
                "percRank" => r.perc_rank = Some(self.decimal_attr(raw, &fp, el)?),
                "percValue" => r.perc_value = Some(self.decimal_attr(raw, &fp, el)?),
                "uom" => r.uom = v(),
                "coordinateReferenceSystem" => r.coordinate_reference_system = v(),
                "bizRules" => r.biz_rules = v(),
                other => return Err(self.err(&Path::Field(path, other), "unknown attribute", el)),
            }
        }
        for c in flattened(el) {
            if is_std_ns(&c.namespace) && !is_wrapped(el, c) {
                return Err(self.unknown(path, c));
            }
            r.extensions.push(element_to_extension(c));
        }
        Ok(r)
    }

    fn check_order(
        &self,
        event_type: EventType,
        children: &[&Element],
        path: &dyn Display,
    ) -> Result<()> {
        let body = body_order(event_type);
        let mut last: Option<(usize, &str)> = None;
        for c in children {
            if !is_std_ns(&c.namespace) {
                continue;
            }
            let name = c.local.as_str();
            // Only the EPCISEventType base sequence (eventTime, recordTime,
            // eventTimeZoneOffset, then everything else) is enforced: OpenEPCIS's
            // 1.2 samples place extension-wrapped fields in varying orders.
            let rank = HEADER_ORDER[..3]
                .iter()
                .position(|n| *n == name)
                .or_else(|| {
                    body.iter()
                        .chain(HEADER_ORDER[3..].iter())
                        .any(|n| *n == name)
                        .then_some(3)
                });
            let Some(rank) = rank else { continue };
            if let Some((prev, prev_name)) = last
                && (rank < prev || (rank == prev && rank < 3))
            {
                return Err(self.err(
                        &Path::Field(path, name),
                        format!("element <{name}> is out of XSD sequence order (it must come before <{prev_name}>)"),
                        c,
                    ));
            }
            last = Some((rank, name));
        }
        Ok(())
    }

    fn event(&self, el: &Element, path: &dyn Display) -> Result<EpcisEvent> {
        let event_type = EventType::from_name(&el.local).ok_or_else(|| {
            self.err(
                &Path::Field(path, "type"),
                format!("unknown event type <{}>", el.local),
                el,
            )
        })?;
        let mut e = EpcisEvent::new(event_type);
        e.xml_namespaces = el.declarations.clone();
        let children = flattened(el);
        if self.options.check_element_order {
            self.check_order(event_type, &children, path)?;
        }
        let mut certification = Vec::new();
        for c in children {
            if !is_std_ns(&c.namespace) {
                e.extensions.push(element_to_extension(c));
                continue;
            }
            // Unqualified elements the XSD does not define are allowed only inside an
            // `<extension>` wrapper (1.x `##local` wildcard); directly they are errors.
            let wrapped = !el.elements().any(|d| std::ptr::eq(d, c));
            let known = HEADER_ORDER.contains(&c.local.as_str())
                || ALL_BODY_FIELDS.contains(&c.local.as_str());
            if wrapped && !known && c.namespace.is_empty() {
                e.extensions.push(element_to_extension(c));
                continue;
            }
            let fp = &Path::Field(path, &c.local);
            let leaf = || self.leaf(c, fp);
            match c.local.as_str() {
                "eventTime" => e.event_time = Some(EpcisTime::new(leaf()?)),
                "recordTime" => e.record_time = Some(EpcisTime::new(leaf()?)),
                "eventTimeZoneOffset" => e.event_time_zone_offset = Some(leaf()?),
                "eventID" => e.event_id = Some(leaf()?),
                "errorDeclaration" => e.error_declaration = Some(self.error_declaration(c, fp)?),
                "certificationInfo" => certification.push(leaf()?),
                "parentID" => e.parent_id = Some(leaf()?),
                "epcList" => e.epc_list = Some(self.list(c, fp, "epc")?),
                "childEPCs" => e.child_epcs = Some(self.list(c, fp, "epc")?),
                "inputEPCList" => e.input_epc_list = Some(self.list(c, fp, "epc")?),
                "outputEPCList" => e.output_epc_list = Some(self.list(c, fp, "epc")?),
                "quantityList" => e.quantity_list = Some(self.quantity_list(c, fp)?),
                "childQuantityList" => e.child_quantity_list = Some(self.quantity_list(c, fp)?),
                "inputQuantityList" => e.input_quantity_list = Some(self.quantity_list(c, fp)?),
                "outputQuantityList" => e.output_quantity_list = Some(self.quantity_list(c, fp)?),
                "transformationID" => e.transformation_id = Some(leaf()?),
                "action" => {
                    let s = leaf()?;
                    e.action = Some(Action::from_name(&s).ok_or_else(|| {
                        self.err(
                            fp,
                            format!("invalid action \"{s}\" (expected ADD, OBSERVE or DELETE)"),
                            c,
                        )
                    })?);
                }
                "bizStep" => e.biz_step = Some(BizStep::new(leaf()?)),
                "disposition" => e.disposition = Some(Disposition::new(leaf()?)),
                "persistentDisposition" => {
                    let mut pd = PersistentDisposition {
                        set: None,
                        unset: None,
                    };
                    for p in c.elements() {
                        let v = Disposition::new(self.leaf(p, &Path::Field(fp, &p.local))?);
                        match (ns_key(&p.namespace), p.local.as_str()) {
                            ("", "set") => pd.set.get_or_insert_with(Vec::new).push(v),
                            ("", "unset") => pd.unset.get_or_insert_with(Vec::new).push(v),
                            _ => return Err(self.unknown(fp, p)),
                        }
                    }
                    e.persistent_disposition = Some(pd);
                }
                "readPoint" => e.read_point = Some(self.location(c, fp)?),
                "bizLocation" => e.biz_location = Some(self.location(c, fp)?),
                "bizTransactionList" => {
                    e.biz_transaction_list = Some(
                        self.typed_list(c, fp, "bizTransaction")?
                            .into_iter()
                            .map(|(t, value)| BizTransaction {
                                transaction_type: t.map(BizTransactionType::new),
                                value,
                            })
                            .collect(),
                    )
                }
                "sourceList" | "destinationList" => {
                    let item = if c.local == "sourceList" {
                        "source"
                    } else {
                        "destination"
                    };
                    let list = self
                        .typed_list(c, fp, item)?
                        .into_iter()
                        .map(|(t, value)| SourceDest {
                            source_dest_type: t.map(SourceDestType::new),
                            value,
                        })
                        .collect();
                    if c.local == "sourceList" {
                        e.source_list = Some(list);
                    } else {
                        e.destination_list = Some(list);
                    }
                }
                "sensorElementList" => {
                    e.sensor_element_list = Some(self.sensor_element_list(c, fp)?)
                }
                "ilmd" => {
                    e.ilmd = Some(flattened(c).into_iter().map(element_to_extension).collect())
                }
                _ => return Err(self.unknown(path, c)),
            }
        }
        e.certification_info = match certification.len() {
            0 => None,
            1 => certification.pop().map(CertificationInfo::Single),
            _ => Some(CertificationInfo::Many(certification)),
        };
        Ok(e)
    }
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

/// Writes the model as EPCIS 2.0 XML (pretty-printed, UTF-8 declaration included).
pub fn write_document(doc: &EpcisDocument) -> String {
    let mut w = Writer {
        out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        scopes: Vec::new(),
        counter: 0,
    };
    w.document(doc);
    w.out
}

struct Writer {
    out: String,
    /// Stack of (prefix, namespace) bindings per open element.
    scopes: Vec<Vec<(String, String)>>,
    counter: usize,
}

fn escape_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\r' => o.push_str("&#13;"),
            c => o.push(c),
        }
    }
    o
}

fn escape_attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\n' => o.push_str("&#10;"),
            '\r' => o.push_str("&#13;"),
            '\t' => o.push_str("&#9;"),
            c => o.push(c),
        }
    }
    o
}

/// `(prefix or name, namespace or value)` pairs: declarations or attributes.
type Bindings = Vec<(String, String)>;

/// An element being opened: name, declarations and attributes.
struct Open {
    name: String,
    decls: Vec<(String, String)>,
    attrs: Vec<(String, String)>,
}

impl Writer {
    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(p, _)| p == prefix)
            .map(|(_, n)| n.as_str())
    }

    fn prefix_for(&self, namespace: &str) -> Option<String> {
        for scope in self.scopes.iter().rev() {
            for (p, n) in scope.iter().rev() {
                if n == namespace && !p.is_empty() && self.lookup(p) == Some(namespace) {
                    return Some(p.clone());
                }
            }
        }
        None
    }

    fn indent(&mut self) {
        for _ in 0..self.scopes.len() {
            self.out.push_str("  ");
        }
    }

    /// Resolves the written name of an element, adding declarations to `decls`.
    fn element_name(&mut self, name: &QName, decls: &mut Vec<(String, String)>) -> String {
        let bound = |w: &Writer, decls: &Vec<(String, String)>, p: &str| -> Option<String> {
            decls
                .iter()
                .rev()
                .find(|(dp, _)| dp == p)
                .map(|(_, n)| n.clone())
                .or_else(|| w.lookup(p).map(str::to_string))
        };
        if name.namespace.is_empty() {
            if bound(self, decls, "").is_some_and(|n| !n.is_empty()) {
                decls.push((String::new(), String::new()));
            }
            return name.local.clone();
        }
        if let Some(p) = &name.prefix
            && !p.is_empty()
        {
            match bound(self, decls, p) {
                Some(n) if n == name.namespace => {}
                _ => decls.push((p.clone(), name.namespace.clone())),
            }
            return format!("{p}:{}", name.local);
        }
        if let Some(p) = self.prefix_for(&name.namespace)
            && bound(self, decls, &p).as_deref() == Some(name.namespace.as_str())
        {
            return format!("{p}:{}", name.local);
        }
        if bound(self, decls, "").as_deref() != Some(name.namespace.as_str()) {
            decls.push((String::new(), name.namespace.clone()));
        }
        name.local.clone()
    }

    fn attribute_name(&mut self, name: &QName, decls: &mut Vec<(String, String)>) -> String {
        if name.namespace.is_empty() {
            return name.local.clone();
        }
        let bound = |w: &Writer, decls: &Vec<(String, String)>, p: &str| -> Option<String> {
            decls
                .iter()
                .rev()
                .find(|(dp, _)| dp == p)
                .map(|(_, n)| n.clone())
                .or_else(|| w.lookup(p).map(str::to_string))
        };
        if name.namespace == "http://www.w3.org/XML/1998/namespace" {
            return format!("xml:{}", name.local);
        }
        if let Some(p) = name.prefix.as_ref().filter(|p| !p.is_empty()) {
            match bound(self, decls, p) {
                Some(n) if n == name.namespace => return format!("{p}:{}", name.local),
                None => {
                    decls.push((p.clone(), name.namespace.clone()));
                    return format!("{p}:{}", name.local);
                }
                Some(_) => {}
            }
        }
        if let Some(p) = self.prefix_for(&name.namespace)
            && bound(self, decls, &p).as_deref() == Some(name.namespace.as_str())
        {
            return format!("{p}:{}", name.local);
        }
        self.counter += 1;
        let p = format!("ns{}", self.counter);
        decls.push((p.clone(), name.namespace.clone()));
        format!("{p}:{}", name.local)
    }

    fn start_tag(&mut self, open: &Open, empty: bool) {
        self.indent();
        self.out.push('<');
        self.out.push_str(&open.name);
        for (p, n) in &open.decls {
            if p.is_empty() {
                self.out.push_str(&format!(" xmlns=\"{}\"", escape_attr(n)));
            } else {
                self.out
                    .push_str(&format!(" xmlns:{p}=\"{}\"", escape_attr(n)));
            }
        }
        for (k, v) in &open.attrs {
            self.out.push_str(&format!(" {k}=\"{}\"", escape_attr(v)));
        }
        self.out.push_str(if empty { "/>\n" } else { ">" });
    }

    /// Writes `<name attrs>text</name>` on one line.
    fn leaf_open(&mut self, open: Open, text: &str) {
        if text.is_empty() {
            self.start_tag(&open, true);
            return;
        }
        self.start_tag(&open, false);
        self.out.push_str(&escape_text(text));
        self.out.push_str(&format!("</{}>\n", open.name));
    }

    fn leaf(&mut self, name: &str, text: &str) {
        let open = Open {
            name: name.to_string(),
            decls: self.unqualified_decls(),
            attrs: Vec::new(),
        };
        self.leaf_open(open, text);
    }

    /// Declarations needed so an unqualified name is in no namespace.
    fn unqualified_decls(&self) -> Vec<(String, String)> {
        if self.lookup("").is_some_and(|n| !n.is_empty()) {
            vec![(String::new(), String::new())]
        } else {
            Vec::new()
        }
    }

    fn open(&mut self, open: Open) {
        self.start_tag(&open, false);
        self.out.push('\n');
        self.scopes.push(open.decls);
    }

    fn open_plain(&mut self, name: &str, attrs: Vec<(String, String)>) -> String {
        let open = Open {
            name: name.to_string(),
            decls: self.unqualified_decls(),
            attrs,
        };
        let n = open.name.clone();
        self.open(open);
        n
    }

    fn close(&mut self, name: &str) {
        self.scopes.pop();
        self.indent();
        self.out.push_str(&format!("</{name}>\n"));
    }

    fn extensions(&mut self, exts: &[Extension]) {
        for e in exts {
            self.extension(e);
        }
    }

    /// Writes extensions of a standard container: names in no namespace go inside
    /// an `<extension>` wrapper (the only place the XSDs allow them).
    fn container_extensions(&mut self, exts: &[Extension]) {
        let (local, qualified): (Vec<Extension>, Vec<Extension>) = exts
            .iter()
            .cloned()
            .partition(|x| x.name.namespace.is_empty());
        if !local.is_empty() {
            let n = self.open_plain("extension", Vec::new());
            self.extensions(&local);
            self.close(&n);
        }
        self.extensions(&qualified);
    }

    fn extension(&mut self, e: &Extension) {
        if let ExtensionValue::Array(items) = &e.value {
            for item in items {
                let single = Extension {
                    name: e.name.clone(),
                    attributes: e.attributes.clone(),
                    value: item.clone(),
                };
                self.extension(&single);
            }
            return;
        }
        let mut decls = Vec::new();
        let name = self.element_name(&e.name, &mut decls);
        let mut attrs = Vec::new();
        for a in &e.attributes {
            let an = self.attribute_name(&a.name, &mut decls);
            attrs.push((an, a.value.clone()));
        }
        let open = Open { name, decls, attrs };
        match &e.value {
            ExtensionValue::Text(t) => self.leaf_open(open, t),
            ExtensionValue::Number(d) => self.leaf_open(open, d.as_str()),
            ExtensionValue::Bool(b) => self.leaf_open(open, if *b { "true" } else { "false" }),
            ExtensionValue::Null => self.leaf_open(open, ""),
            ExtensionValue::Elements(children) => {
                if children.is_empty() {
                    self.start_tag(&open, true);
                    return;
                }
                let n = open.name.clone();
                self.open(open);
                self.extensions(children);
                self.close(&n);
            }
            ExtensionValue::Array(_) => {}
        }
    }

    /// The root's declarations: the document's own, in order (1.x EPCIS namespaces
    /// replaced by their 2.0 counterparts in place), then any required ones missing.
    fn root_decls(&self, doc: &EpcisDocument, required: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut decls: Vec<(String, String)> = Vec::new();
        for b in &doc.xml_namespaces {
            let namespace = match b.namespace.as_str() {
                EPCIS_NS_1 => EPCIS_NS_2,
                EPCIS_QUERY_NS_1 => EPCIS_QUERY_NS_2,
                other => other,
            };
            let conflicts = required
                .iter()
                .any(|(p, n)| *p == b.prefix && *n != namespace);
            if !conflicts && !b.prefix.is_empty() {
                decls.push((b.prefix.clone(), namespace.to_string()));
            }
        }
        for (p, n) in required {
            if !decls.iter().any(|(dp, _)| dp == p) {
                decls.push((p.to_string(), n.to_string()));
            }
        }
        decls
    }

    fn document(&mut self, doc: &EpcisDocument) {
        if doc.kind == DocumentKind::BareEvent {
            let mut decls = self.root_decls(doc, &[]);
            decls.retain(|(p, _)| !p.is_empty());
            let mut attrs = Vec::new();
            if let Some(v) = &doc.schema_version {
                attrs.push(("schemaVersion".to_string(), v.clone()));
            }
            if let Some(v) = &doc.creation_date {
                attrs.push(("creationDate".to_string(), v.as_str().to_string()));
            }
            self.scopes.push(decls.clone());
            for a in &doc.xml_attributes {
                let n = self.attribute_name(&a.name, &mut decls);
                attrs.push((n, a.value.clone()));
            }
            self.scopes.pop();
            if let Some(e) = doc.events.first() {
                self.event(e, Some((decls, attrs)));
            }
            return;
        }
        let (root_name, required): (&str, Vec<(&str, &str)>) = match doc.kind {
            DocumentKind::QueryDocument => (
                "epcisq:EPCISQueryDocument",
                vec![("epcisq", EPCIS_QUERY_NS_2)],
            ),
            _ => ("epcis:EPCISDocument", vec![("epcis", EPCIS_NS_2)]),
        };
        let mut decls = self.root_decls(doc, &required);
        decls.retain(|(p, _)| !p.is_empty());
        let mut attrs = Vec::new();
        if let Some(v) = &doc.schema_version {
            attrs.push(("schemaVersion".to_string(), v.clone()));
        }
        if let Some(v) = &doc.creation_date {
            attrs.push(("creationDate".to_string(), v.as_str().to_string()));
        }
        self.scopes.push(decls.clone());
        for a in &doc.xml_attributes {
            let n = self.attribute_name(&a.name, &mut decls);
            attrs.push((n, a.value.clone()));
        }
        self.scopes.pop();
        self.open(Open {
            name: root_name.to_string(),
            decls,
            attrs,
        });
        if let Some(h) = &doc.header {
            let n = self.open_plain("EPCISHeader", Vec::new());
            self.extensions(&h.extensions);
            if let Some(md) = &h.master_data {
                let x = self.open_plain("extension", Vec::new());
                let m = self.open_plain("EPCISMasterData", Vec::new());
                let l = self.open_plain("VocabularyList", Vec::new());
                for v in md {
                    self.vocabulary(v);
                }
                self.close(&l);
                self.close(&m);
                self.close(&x);
            }
            self.close(&n);
        }
        let body = self.open_plain("EPCISBody", Vec::new());
        if doc.kind == DocumentKind::QueryDocument {
            let qr = "epcisq:QueryResults".to_string();
            self.open(Open {
                name: qr.clone(),
                decls: Vec::new(),
                attrs: Vec::new(),
            });
            if let Some(q) = &doc.query_name {
                self.leaf("queryName", q);
            }
            if let Some(q) = &doc.subscription_id {
                self.leaf("subscriptionID", q);
            }
            self.extensions(&doc.query_extensions);
            let rb = self.open_plain("resultsBody", Vec::new());
            self.event_list(&doc.events);
            self.close(&rb);
            self.close(&qr);
        } else {
            self.event_list(&doc.events);
        }
        self.close(&body);
        self.container_extensions(&doc.extensions);
        self.close(root_name);
    }

    fn vocabulary(&mut self, v: &Vocabulary) {
        let n = self.open_plain(
            "Vocabulary",
            vec![("type".to_string(), v.vocabulary_type.clone())],
        );
        let l = self.open_plain("VocabularyElementList", Vec::new());
        for el in &v.elements {
            let e = self.open_plain("VocabularyElement", vec![("id".to_string(), el.id.clone())]);
            for a in &el.attributes {
                let mut decls = self.unqualified_decls();
                let mut attrs = vec![("id".to_string(), a.id.clone())];
                for x in &a.xml_attributes {
                    let an = self.attribute_name(&x.name, &mut decls);
                    attrs.push((an, x.value.clone()));
                }
                let open = Open {
                    name: "attribute".to_string(),
                    decls,
                    attrs,
                };
                match &a.value {
                    ExtensionValue::Elements(children) if !children.is_empty() => {
                        self.open(open);
                        self.extensions(children);
                        self.close("attribute");
                    }
                    ExtensionValue::Text(t) => self.leaf_open(open, t),
                    ExtensionValue::Number(d) => self.leaf_open(open, d.as_str()),
                    ExtensionValue::Bool(b) => {
                        self.leaf_open(open, if *b { "true" } else { "false" })
                    }
                    ExtensionValue::Array(items) => {
                        // JSON arrays have no XML form inside one attribute; write the items as text.
                        let text: Vec<String> = items
                            .iter()
                            .map(|i| match i {
                                ExtensionValue::Text(t) => t.clone(),
                                ExtensionValue::Number(d) => d.as_str().to_string(),
                                _ => String::new(),
                            })
                            .collect();
                        self.leaf_open(open, &text.join(" "));
                    }
                    _ => self.leaf_open(open, ""),
                }
            }
            if let Some(children) = &el.children {
                let c = self.open_plain("children", Vec::new());
                for id in children {
                    self.leaf("id", id);
                }
                self.close(&c);
            }
            self.extensions(&el.extensions);
            self.close(&e);
        }
        self.close(&l);
        self.extensions(&v.extensions);
        self.close(&n);
    }

    fn event_list(&mut self, events: &[EpcisEvent]) {
        let n = self.open_plain("EventList", Vec::new());
        for e in events {
            self.event(e, None);
        }
        self.close(&n);
    }

    fn epc_list(&mut self, name: &str, list: &Option<Vec<String>>) {
        if let Some(list) = list {
            if list.is_empty() {
                self.leaf(name, "");
                return;
            }
            let n = self.open_plain(name, Vec::new());
            for epc in list {
                self.leaf("epc", epc);
            }
            self.close(&n);
        }
    }

    fn quantity_list(&mut self, name: &str, list: &Option<Vec<QuantityElement>>) {
        if let Some(list) = list {
            if list.is_empty() {
                self.leaf(name, "");
                return;
            }
            let n = self.open_plain(name, Vec::new());
            for q in list {
                let qe = self.open_plain("quantityElement", Vec::new());
                self.leaf("epcClass", &q.epc_class);
                if let Some(d) = &q.quantity {
                    self.leaf("quantity", d.as_str());
                }
                if let Some(u) = &q.uom {
                    self.leaf("uom", u);
                }
                self.close(&qe);
            }
            self.close(&n);
        }
    }

    fn location(&mut self, name: &str, loc: &Option<Location>) {
        if let Some(loc) = loc {
            let n = self.open_plain(name, Vec::new());
            self.leaf("id", &loc.id);
            self.container_extensions(&loc.extensions);
            self.close(&n);
        }
    }

    fn typed_list(&mut self, name: &str, item: &str, list: &[(Option<&str>, &str)]) {
        let n = self.open_plain(name, Vec::new());
        for (t, v) in list {
            let mut open = Open {
                name: item.to_string(),
                decls: self.unqualified_decls(),
                attrs: Vec::new(),
            };
            if let Some(t) = t {
                open.attrs.push(("type".to_string(), t.to_string()));
            }
            self.leaf_open(open, v);
        }
        self.close(&n);
    }

    fn sensor_attrs(&mut self, name: &str, attrs: Vec<(&str, Option<String>)>, exts: &[Extension]) {
        let mut decls = self.unqualified_decls();
        let mut out: Vec<(String, String)> = attrs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect();
        let mut children = Vec::new();
        for e in exts {
            match &e.value {
                ExtensionValue::Text(t)
                    if e.attributes.is_empty() && !e.name.namespace.is_empty() =>
                {
                    let an = self.attribute_name(&e.name, &mut decls);
                    out.push((an, t.clone()));
                }
                _ => children.push(e.clone()),
            }
        }
        let open = Open {
            name: name.to_string(),
            decls,
            attrs: out,
        };
        if children.is_empty() {
            self.start_tag(&open, true);
        } else {
            self.open(open);
            self.container_extensions(&children);
            self.close(name);
        }
    }

    fn sensor_element(&mut self, se: &SensorElement) {
        let n = self.open_plain("sensorElement", Vec::new());
        let t = |v: &Option<EpcisTime>| v.as_ref().map(|t| t.as_str().to_string());
        let d = |v: &Option<Decimal>| v.as_ref().map(|d| d.as_str().to_string());
        if let Some(m) = &se.sensor_metadata {
            self.sensor_attrs(
                "sensorMetadata",
                vec![
                    ("time", t(&m.time)),
                    ("startTime", t(&m.start_time)),
                    ("endTime", t(&m.end_time)),
                    ("deviceID", m.device_id.clone()),
                    ("deviceMetadata", m.device_metadata.clone()),
                    ("rawData", m.raw_data.clone()),
                    ("dataProcessingMethod", m.data_processing_method.clone()),
                    ("bizRules", m.biz_rules.clone()),
                ],
                &m.extensions,
            );
        }
        for r in &se.sensor_reports {
            self.sensor_attrs(
                "sensorReport",
                vec![
                    ("type", r.report_type.clone()),
                    ("exception", r.exception.clone()),
                    ("deviceID", r.device_id.clone()),
                    ("deviceMetadata", r.device_metadata.clone()),
                    ("rawData", r.raw_data.clone()),
                    ("dataProcessingMethod", r.data_processing_method.clone()),
                    ("time", t(&r.time)),
                    ("microorganism", r.microorganism.clone()),
                    ("chemicalSubstance", r.chemical_substance.clone()),
                    ("value", d(&r.value)),
                    ("component", r.component.clone()),
                    ("stringValue", r.string_value.clone()),
                    ("booleanValue", r.boolean_value.map(|b| b.to_string())),
                    ("hexBinaryValue", r.hex_binary_value.clone()),
                    ("uriValue", r.uri_value.clone()),
                    ("minValue", d(&r.min_value)),
                    ("maxValue", d(&r.max_value)),
                    ("meanValue", d(&r.mean_value)),
                    ("sDev", d(&r.s_dev)),
                    ("percRank", d(&r.perc_rank)),
                    ("percValue", d(&r.perc_value)),
                    ("uom", r.uom.clone()),
                    (
                        "coordinateReferenceSystem",
                        r.coordinate_reference_system.clone(),
                    ),
                    ("bizRules", r.biz_rules.clone()),
                ],
                &r.extensions,
            );
        }
        self.container_extensions(&se.extensions);
        self.close(&n);
    }

    fn body_field(&mut self, e: &EpcisEvent, field: &str) {
        match field {
            "epcList" => self.epc_list(field, &e.epc_list),
            "childEPCs" => self.epc_list(field, &e.child_epcs),
            "inputEPCList" => self.epc_list(field, &e.input_epc_list),
            "outputEPCList" => self.epc_list(field, &e.output_epc_list),
            "quantityList" => self.quantity_list(field, &e.quantity_list),
            "childQuantityList" => self.quantity_list(field, &e.child_quantity_list),
            "inputQuantityList" => self.quantity_list(field, &e.input_quantity_list),
            "outputQuantityList" => self.quantity_list(field, &e.output_quantity_list),
            "parentID" => {
                if let Some(v) = &e.parent_id {
                    self.leaf(field, v);
                }
            }
            "transformationID" => {
                if let Some(v) = &e.transformation_id {
                    self.leaf(field, v);
                }
            }
            "action" => {
                if let Some(a) = e.action {
                    self.leaf(field, a.as_str());
                }
            }
            "bizStep" => {
                if let Some(v) = &e.biz_step {
                    self.leaf(field, v.as_str());
                }
            }
            "disposition" => {
                if let Some(v) = &e.disposition {
                    self.leaf(field, v.as_str());
                }
            }
            "readPoint" => self.location(field, &e.read_point),
            "bizLocation" => self.location(field, &e.biz_location),
            "bizTransactionList" => {
                if let Some(list) = &e.biz_transaction_list {
                    let items: Vec<(Option<&str>, &str)> = list
                        .iter()
                        .map(|b| {
                            (
                                b.transaction_type.as_ref().map(|t| t.as_str()),
                                b.value.as_str(),
                            )
                        })
                        .collect();
                    self.typed_list(field, "bizTransaction", &items);
                }
            }
            "sourceList" | "destinationList" => {
                let (list, item) = if field == "sourceList" {
                    (&e.source_list, "source")
                } else {
                    (&e.destination_list, "destination")
                };
                if let Some(list) = list {
                    let items: Vec<(Option<&str>, &str)> = list
                        .iter()
                        .map(|s| {
                            (
                                s.source_dest_type.as_ref().map(|t| t.as_str()),
                                s.value.as_str(),
                            )
                        })
                        .collect();
                    self.typed_list(field, item, &items);
                }
            }
            "sensorElementList" => {
                if let Some(list) = &e.sensor_element_list {
                    let n = self.open_plain(field, Vec::new());
                    for se in list {
                        self.sensor_element(se);
                    }
                    self.close(&n);
                }
            }
            "persistentDisposition" => {
                if let Some(pd) = &e.persistent_disposition {
                    let n = self.open_plain(field, Vec::new());
                    for d in pd.set.iter().flatten() {
                        self.leaf("set", d.as_str());
                    }
                    for d in pd.unset.iter().flatten() {
                        self.leaf("unset", d.as_str());
                    }
                    self.close(&n);
                }
            }
            "ilmd" => {
                if let Some(ilmd) = &e.ilmd {
                    if ilmd.is_empty() {
                        self.leaf(field, "");
                    } else {
                        let n = self.open_plain(field, Vec::new());
                        self.extensions(ilmd);
                        self.close(&n);
                    }
                }
            }
            _ => {}
        }
    }

    fn event(&mut self, e: &EpcisEvent, root: Option<(Bindings, Bindings)>) {
        let name = e.event_type.as_str();
        let (mut decls, attrs) = root.unwrap_or_default();
        for b in &e.xml_namespaces {
            if !decls.iter().any(|(p, _)| *p == b.prefix) && !b.prefix.is_empty() {
                decls.push((b.prefix.clone(), b.namespace.clone()));
            }
        }
        if self.lookup("").is_some_and(|n| !n.is_empty()) {
            decls.push((String::new(), String::new()));
        }
        self.open(Open {
            name: name.to_string(),
            decls,
            attrs,
        });
        if let Some(t) = &e.event_time {
            self.leaf("eventTime", t.as_str());
        }
        if let Some(t) = &e.record_time {
            self.leaf("recordTime", t.as_str());
        }
        if let Some(t) = &e.event_time_zone_offset {
            self.leaf("eventTimeZoneOffset", t);
        }
        if let Some(t) = &e.event_id {
            self.leaf("eventID", t);
        }
        if let Some(ed) = &e.error_declaration {
            let n = self.open_plain("errorDeclaration", Vec::new());
            if let Some(t) = &ed.declaration_time {
                self.leaf("declarationTime", t.as_str());
            }
            if let Some(r) = &ed.reason {
                self.leaf("reason", r.as_str());
            }
            if let Some(ids) = &ed.corrective_event_ids {
                let c = self.open_plain("correctiveEventIDs", Vec::new());
                for id in ids {
                    self.leaf("correctiveEventID", id);
                }
                self.close(&c);
            }
            self.container_extensions(&ed.extensions);
            self.close(&n);
        }
        if let Some(c) = &e.certification_info {
            for uri in c.uris() {
                self.leaf("certificationInfo", uri);
            }
        }
        for field in body_order(e.event_type) {
            self.body_field(e, field);
        }
        self.container_extensions(&e.extensions);
        self.close(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:ex="http://ns.example.com/epcis/" schemaVersion="2.0" creationDate="2024-01-01T00:00:00Z">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2024-03-01T09:30:00.123+01:00</eventTime>
      <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
      <epcList><epc>urn:epc:id:sgtin:0614141.107346.SN001</epc></epcList>
      <action>ADD</action>
      <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
      <quantityList><quantityElement><epcClass>urn:epc:class:lgtin:4012345.012345.998877</epcClass><quantity>10.0</quantity><uom>KGM</uom></quantityElement></quantityList>
      <ilmd><cbvmda:lotNumber xmlns:cbvmda="urn:epcglobal:cbv:mda">LOT123</cbvmda:lotNumber></ilmd>
      <ex:user a="1" ex:b="2"><ex:inner>x &amp; y</ex:inner><plain>p</plain></ex:user>
    </ObjectEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>"#;

    #[test]
    fn read_write_read() {
        let doc = parse_document(DOC).expect("valid");
        let e = &doc.events[0];
        assert_eq!(
            e.extensions[0].name.expanded(),
            "{http://ns.example.com/epcis/}user"
        );
        assert_eq!(e.extensions[0].attributes.len(), 2);
        assert_eq!(
            e.ilmd.as_ref().map(|i| i[0].name.expanded()),
            Some("{urn:epcglobal:cbv:mda}lotNumber".to_string())
        );
        let out = write_document(&doc);
        let again = parse_document(&out).expect("re-read");
        assert_eq!(doc, again);
    }

    #[test]
    fn wrong_order_is_rejected() {
        let text = DOC.replace(
            "<eventTime>2024-03-01T09:30:00.123+01:00</eventTime>\n      <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>",
            "<eventTimeZoneOffset>+01:00</eventTimeZoneOffset>\n      <eventTime>2024-03-01T09:30:00.123+01:00</eventTime>",
        );
        let e = parse_document(&text).expect_err("out of order");
        assert_eq!(e.field(), Some("eventList[0].eventTime"));
        assert!(
            parse_document_with(
                &text,
                ReadOptions {
                    check_element_order: false
                }
            )
            .is_ok()
        );
    }
}
