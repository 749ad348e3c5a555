//! EPCIS 2.0 JSON-LD binding: read and write `EPCISDocument`, `EPCISQueryDocument`
//! and single bare events.
//!
//! Reading resolves CURIE member names (`example:myField`) through the default
//! prefixes (`epcis`, `cbv`, `cbvmda`, `gs1`, `rdfs`, `owl`, `xsd`, `dcterms`, as in
//! the GS1 context) and the prefix objects of the document-level and event-level
//! `@context`. Absolute IRIs used as member names are split after the last `/`, `#`
//! or `:`. A CURIE with an undeclared prefix is kept with an empty namespace (and its
//! prefix) so that `validate` can report it.
//!
//! Fixed structures (quantity elements, bizTransaction, source/destination,
//! persistentDisposition) reject unknown members; structures that allow extensions
//! (events, readPoint, bizLocation, errorDeclaration, sensor parts, header) keep
//! namespaced members as [`Extension`]s and reject unknown plain names.

use crate::error::{ParseError, Path, Position, Result};
use crate::json_tree::{self, Kind, Node};
use crate::model::*;
use std::borrow::Cow;
use std::fmt::Display;

/// The default GS1 EPCIS 2.0 context URI written when a document has no `@context`.
pub const EPCIS_CONTEXT_URI: &str =
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// Prefixes predefined by the GS1 EPCIS JSON-LD context.
pub const DEFAULT_PREFIXES: &[(&str, &str)] = &[
    ("epcis", "https://ref.gs1.org/epcis/"),
    ("cbv", "https://ref.gs1.org/cbv/"),
    ("cbvmda", "urn:epcglobal:cbv:mda:"),
    ("gs1", "https://gs1.org/voc/"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("owl", "http://www.w3.org/2002/07/owl#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("dcterms", "http://purl.org/dc/terms/"),
];

/// Reads a JSON-LD EPCIS document (or a single bare event) into the model.
pub fn parse_document(text: &str) -> Result<EpcisDocument> {
    let (root, deferred) = parse_root(text)?;
    Reader { text, deferred }.document(&root)
}

/// Like [`parse_document`], also returning where each event starts (for
/// [`crate::validate::validate_with_positions`]).
pub fn parse_document_with_positions(text: &str) -> Result<(EpcisDocument, Vec<Position>)> {
    let (root, deferred) = parse_root(text)?;
    let r = Reader { text, deferred };
    let doc = r.document(&root)?;
    let offsets = event_offsets(&root, doc.kind);
    Ok((doc, Position::from_offsets(text, &offsets)))
}

/// Texts at least this long have their events built one at a time: the tree
/// of every event at once would not stay in the CPU caches. Shorter texts are
/// parsed in one pass (deferring costs a second scan of each event).
const DEFER_EVENTS_FROM: usize = 256 * 1024;

/// The JSON tree of a document, and whether its events are placeholders to be
/// built one at a time as they are read ([`json_tree::parse_deferring_events`];
/// both ways give the same result). Outside an `EPCISDocument`/
/// `EPCISQueryDocument` root an `epcisBody.eventList` is ordinary data, so the
/// text is then parsed whole.
fn parse_root(text: &str) -> Result<(Node<'_>, bool)> {
    if text.len() < DEFER_EVENTS_FROM {
        return Ok((json_tree::parse(text)?, false));
    }
    let (root, deferred) = json_tree::parse_deferring_events(text)?;
    let document_root = matches!(
        member(&root, "type").map(|n| &n.kind),
        Some(Kind::String(t)) if t == "EPCISDocument" || t == "EPCISQueryDocument"
    );
    if deferred && !document_root {
        return Ok((json_tree::parse(text)?, false));
    }
    Ok((root, deferred))
}

fn member<'n, 't>(node: &'n Node<'t>, key: &str) -> Option<&'n Node<'t>> {
    match &node.kind {
        Kind::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

fn event_offsets(root: &Node<'_>, kind: DocumentKind) -> Vec<usize> {
    let list = match kind {
        DocumentKind::BareEvent => return vec![root.offset],
        DocumentKind::Document => member(root, "epcisBody").and_then(|b| member(b, "eventList")),
        DocumentKind::QueryDocument => member(root, "epcisBody")
            .and_then(|b| member(b, "queryResults"))
            .and_then(|q| member(q, "resultsBody"))
            .and_then(|r| member(r, "eventList")),
    };
    match list.map(|l| &l.kind) {
        Some(Kind::Array(items)) => items.iter().map(|n| n.offset).collect(),
        _ => Vec::new(),
    }
}

/// Writes the model as JSON-LD (pretty-printed).
pub fn write_document(doc: &EpcisDocument) -> String {
    json_tree::write(&document_to_node(doc))
}

// ---------------------------------------------------------------------------
// Prefix resolution
// ---------------------------------------------------------------------------

/// A stack of prefix bindings; later bindings win.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prefixes(Vec<(String, String)>);

impl Prefixes {
    pub(crate) fn with_defaults() -> Prefixes {
        Prefixes(
            DEFAULT_PREFIXES
                .iter()
                .map(|(p, n)| (p.to_string(), n.to_string()))
                .collect(),
        )
    }

    fn add_context(&mut self, entries: &[ContextEntry]) {
        for e in entries {
            match e {
                ContextEntry::Prefixes(bindings) => {
                    for b in bindings {
                        self.0.push((b.prefix.clone(), b.namespace.clone()));
                    }
                }
                ContextEntry::Object(members) => {
                    for m in members {
                        if let ExtensionValue::Text(ns) = &m.value {
                            self.0.push((m.name.local.clone(), ns.clone()));
                        }
                    }
                }
                ContextEntry::Uri(_) => {}
            }
        }
    }

    pub(crate) fn lookup(&self, prefix: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, n)| n.as_str())
    }

    fn prefix_for(&self, namespace: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(p, n)| n == namespace && self.lookup(p) == Some(namespace))
            .map(|(p, _)| p.as_str())
    }
}

/// True if `s` looks like an absolute IRI rather than a CURIE.
fn is_absolute_iri(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("urn:")
}

/// Resolves a JSON member name to a [`QName`].
pub(crate) fn resolve_key(key: &str, prefixes: &Prefixes) -> QName {
    if is_absolute_iri(key) {
        let split = key.rfind(['/', '#', ':']).map(|p| p + 1).unwrap_or(0);
        return QName {
            namespace: key[..split].to_string(),
            local: key[split..].to_string(),
            prefix: None,
        };
    }
    match key.split_once(':') {
        Some((p, local)) if !p.is_empty() && !p.starts_with('@') => QName {
            namespace: prefixes.lookup(p).unwrap_or("").to_string(),
            local: local.to_string(),
            prefix: Some(p.to_string()),
        },
        _ => QName {
            namespace: String::new(),
            local: key.to_string(),
            prefix: None,
        },
    }
}

/// True if the member name is a namespaced (CURIE or absolute IRI) name.
fn is_namespaced_key(key: &str) -> bool {
    is_absolute_iri(key)
        || key
            .split_once(':')
            .is_some_and(|(p, l)| !p.is_empty() && !l.is_empty())
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

struct Reader<'a> {
    text: &'a str,
    /// Event list elements are placeholders to build from the text
    /// ([`json_tree::parse_deferred`]).
    deferred: bool,
}

type Members<'n, 't> = &'n [(Cow<'t, str>, Node<'t>)];

impl Reader<'_> {
    fn err(&self, path: &dyn Display, message: impl Into<String>, node: &Node<'_>) -> ParseError {
        ParseError::Field {
            field: path.to_string(),
            message: message.into(),
            position: Some(Position::from_offset(self.text, node.offset)),
        }
    }

    fn object<'n, 't>(&self, node: &'n Node<'t>, path: &dyn Display) -> Result<Members<'n, 't>> {
        match &node.kind {
            Kind::Object(m) => Ok(m),
            _ => Err(self.err(
                path,
                format!("expected an object, found {}", node.kind_name()),
                node,
            )),
        }
    }

    fn array<'n, 't>(&self, node: &'n Node<'t>, path: &dyn Display) -> Result<&'n [Node<'t>]> {
        match &node.kind {
            Kind::Array(a) => Ok(a),
            // JSON-LD allows a single object where an array is expected (seen in the
            // GS1 simple-context examples); it is read as a one-element list.
            Kind::Object(_) => Ok(std::slice::from_ref(node)),
            _ => Err(self.err(
                path,
                format!("expected an array, found {}", node.kind_name()),
                node,
            )),
        }
    }

    fn string(&self, node: &Node<'_>, path: &dyn Display) -> Result<String> {
        match &node.kind {
            Kind::String(s) => Ok(s.to_string()),
            _ => Err(self.err(
                path,
                format!("expected a string, found {}", node.kind_name()),
                node,
            )),
        }
    }

    fn number(&self, node: &Node<'_>, path: &dyn Display) -> Result<Decimal> {
        match &node.kind {
            Kind::Number(n) => {
                Decimal::parse(n).ok_or_else(|| self.err(path, "invalid number", node))
            }
            _ => Err(self.err(
                path,
                format!("expected a number, found {}", node.kind_name()),
                node,
            )),
        }
    }

    fn boolean(&self, node: &Node<'_>, path: &dyn Display) -> Result<bool> {
        match &node.kind {
            Kind::Bool(b) => Ok(*b),
            _ => Err(self.err(
                path,
                format!("expected a boolean, found {}", node.kind_name()),
                node,
            )),
        }
    }

    fn string_list(&self, node: &Node<'_>, path: &dyn Display) -> Result<Vec<String>> {
        let items = self.array(node, path)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, n) in items.iter().enumerate() {
            out.push(self.string(n, &Path::Index(path, i))?);
        }
        Ok(out)
    }

    fn time(&self, node: &Node<'_>, path: &dyn Display) -> Result<EpcisTime> {
        Ok(EpcisTime::new(self.string(node, path)?))
    }

    fn unknown(&self, path: &dyn Display, key: &str, node: &Node<'_>) -> ParseError {
        self.err(&Path::Field(path, key), "unknown field", node)
    }

    fn context(&self, node: &Node<'_>, path: &dyn Display) -> Result<(Vec<ContextEntry>, bool)> {
        let one = |n: &Node<'_>| -> Result<ContextEntry> {
            match &n.kind {
                Kind::String(s) => Ok(ContextEntry::Uri(s.to_string())),
                Kind::Object(members) => {
                    let all_strings = members
                        .iter()
                        .all(|(k, v)| matches!(v.kind, Kind::String(_)) && !k.starts_with('@'));
                    if all_strings {
                        Ok(ContextEntry::Prefixes(
                            members
                                .iter()
                                .map(|(k, v)| NamespaceBinding {
                                    prefix: k.to_string(),
                                    namespace: match &v.kind {
                                        Kind::String(s) => s.to_string(),
                                        _ => String::new(),
                                    },
                                })
                                .collect(),
                        ))
                    } else {
                        Ok(ContextEntry::Object(
                            members
                                .iter()
                                .map(|(k, v)| Extension {
                                    name: QName {
                                        namespace: String::new(),
                                        local: k.to_string(),
                                        prefix: None,
                                    },
                                    attributes: Vec::new(),
                                    value: raw_value(v),
                                })
                                .collect(),
                        ))
                    }
                }
                _ => Err(self.err(path, "@context entries must be strings or objects", n)),
            }
        };
        match &node.kind {
            Kind::Array(items) => Ok((items.iter().map(one).collect::<Result<Vec<_>>>()?, false)),
            _ => Ok((vec![one(node)?], true)),
        }
    }

    fn document(&self, root: &Node<'_>) -> Result<EpcisDocument> {
        let members = self.object(root, &"")?;
        let type_node = members.iter().find(|(k, _)| k == "type").map(|(_, v)| v);
        let type_name = match type_node {
            Some(n) => self.string(n, &"type")?,
            None => return Err(self.err(&"type", "missing document or event type", root)),
        };
        let kind = match type_name.as_str() {
            "EPCISDocument" => DocumentKind::Document,
            "EPCISQueryDocument" => DocumentKind::QueryDocument,
            other if EventType::from_name(other).is_some() => {
                let mut doc = EpcisDocument::new(DocumentKind::BareEvent);
                let mut prefixes = Prefixes::with_defaults();
                if let Some((_, c)) = members.iter().find(|(k, _)| k == "@context") {
                    let (entries, single) = self.context(c, &"@context")?;
                    prefixes.add_context(&entries);
                    doc.context = entries;
                    doc.context_is_single = single;
                }
                let event = self.event(root, &"event", &prefixes, true)?;
                doc.events.push(event);
                return Ok(doc);
            }
            other => {
                return Err(self.err(
                    &"type",
                    format!("unknown document type \"{other}\""),
                    type_node.unwrap_or(root),
                ));
            }
        };
        let mut doc = EpcisDocument::new(kind);
        let mut prefixes = Prefixes::with_defaults();
        match members.iter().find(|(k, _)| k == "@context") {
            Some((_, c)) => {
                let (entries, single) = self.context(c, &"@context")?;
                prefixes.add_context(&entries);
                doc.context = entries;
                doc.context_is_single = single;
            }
            None => {
                return Err(self.err(
                    &"@context",
                    "missing @context (required in JSON-LD documents)",
                    root,
                ));
            }
        }
        let mut body_seen = false;
        for (key, value) in members {
            match &**key {
                "@context" | "type" => {}
                "schemaVersion" => {
                    doc.schema_version = Some(match &value.kind {
                        // Lenient: `"schemaVersion": 2.0` (GS1 simple-context example);
                        // written back as a string.
                        Kind::Number(n) => n.to_string(),
                        _ => self.string(value, key)?,
                    })
                }
                "creationDate" => doc.creation_date = Some(self.time(value, key)?),
                "epcisHeader" => doc.header = Some(self.header(value, &prefixes)?),
                "epcisBody" => {
                    body_seen = true;
                    self.body(value, &mut doc, &prefixes)?;
                }
                _ => doc
                    .extensions
                    .push(self.extension(key, value, &prefixes, 0)),
            }
        }
        if !body_seen {
            return Err(self.err(&"epcisBody", "missing epcisBody", root));
        }
        Ok(doc)
    }

    fn body(&self, node: &Node<'_>, doc: &mut EpcisDocument, prefixes: &Prefixes) -> Result<()> {
        let members = self.object(node, &"epcisBody")?;
        for (key, value) in members {
            match (&**key, doc.kind) {
                ("eventList", _) => doc.events = self.event_list(value, prefixes)?,
                ("queryResults", DocumentKind::QueryDocument) => {
                    let qr = self.object(value, &"epcisBody.queryResults")?;
                    for (k, v) in qr {
                        match &**k {
                            "queryName" => doc.query_name = Some(self.string(v, k)?),
                            "subscriptionID" => doc.subscription_id = Some(self.string(v, k)?),
                            "resultsBody" => {
                                let rb = self.object(v, &"resultsBody")?;
                                for (k2, v2) in rb {
                                    match &**k2 {
                                        "eventList" => {
                                            doc.events = self.event_list(v2, prefixes)?
                                        }
                                        _ => {
                                            return Err(self.unknown(
                                                &"epcisBody.queryResults.resultsBody",
                                                k2,
                                                v2,
                                            ));
                                        }
                                    }
                                }
                            }
                            _ => self.extension_or_unknown(
                                &"epcisBody.queryResults",
                                k,
                                v,
                                prefixes,
                                &mut doc.query_extensions,
                            )?,
                        }
                    }
                }
                _ => return Err(self.unknown(&"epcisBody", key, value)),
            }
        }
        Ok(())
    }

    fn event_list(&self, node: &Node<'_>, prefixes: &Prefixes) -> Result<Vec<EpcisEvent>> {
        let items = self.array(node, &"eventList")?;
        let mut events = Vec::with_capacity(items.len());
        for (i, n) in items.iter().enumerate() {
            let path = Path::Index(&"eventList", i);
            let event = if self.deferred {
                // Re-parsing any node at its offset gives the same node, so this
                // is right for placeholders and built nodes alike.
                let built = json_tree::parse_deferred(self.text, n)?;
                self.event(&built, &path, prefixes, false)?
            } else {
                self.event(n, &path, prefixes, false)?
            };
            events.push(event);
        }
        Ok(events)
    }

    fn header(&self, node: &Node<'_>, prefixes: &Prefixes) -> Result<EpcisHeader> {
        let members = self.object(node, &"epcisHeader")?;
        let mut header = EpcisHeader {
            master_data: None,
            extensions: Vec::new(),
        };
        for (key, value) in members {
            if key == "epcisMasterData" {
                let md = self.object(value, &"epcisHeader.epcisMasterData")?;
                for (k, v) in md {
                    if k != "vocabularyList" {
                        return Err(self.unknown(&"epcisHeader.epcisMasterData", k, v));
                    }
                    let path = "epcisHeader.epcisMasterData.vocabularyList";
                    let mut list = Vec::new();
                    for (i, voc) in self.array(v, &path)?.iter().enumerate() {
                        list.push(self.vocabulary(voc, &Path::Index(&path, i), prefixes)?);
                    }
                    header.master_data = Some(list);
                }
            } else {
                header
                    .extensions
                    .push(self.extension(key, value, prefixes, 0));
            }
        }
        Ok(header)
    }

    fn vocabulary(
        &self,
        node: &Node<'_>,
        path: &dyn Display,
        prefixes: &Prefixes,
    ) -> Result<Vocabulary> {
        let mut voc = Vocabulary {
            vocabulary_type: String::new(),
            elements: Vec::new(),
            extensions: Vec::new(),
        };
        for (key, value) in self.object(node, path)? {
            match &**key {
                "type" => voc.vocabulary_type = self.string(value, &Path::Field(path, "type"))?,
                "vocabularyElementList" => {
                    let p = format!("{path}.vocabularyElementList");
                    for (i, el) in self.array(value, &p)?.iter().enumerate() {
                        voc.elements.push(self.vocabulary_element(
                            el,
                            &Path::Index(&p, i),
                            prefixes,
                        )?);
                    }
                }
                _ => voc.extensions.push(self.extension(key, value, prefixes, 0)),
            }
        }
        Ok(voc)
    }

    fn vocabulary_element(
        &self,
        node: &Node<'_>,
        path: &dyn Display,
        prefixes: &Prefixes,
    ) -> Result<VocabularyElement> {
        let mut el = VocabularyElement {
            id: String::new(),
            attributes: Vec::new(),
            children: None,
            extensions: Vec::new(),
        };
        for (key, value) in self.object(node, path)? {
            match &**key {
                "id" => el.id = self.string(value, &Path::Field(path, "id"))?,
                "children" => {
                    el.children = Some(self.string_list(value, &Path::Field(path, "children"))?)
                }
                "attributes" => {
                    let p = format!("{path}.attributes");
                    for (i, a) in self.array(value, &p)?.iter().enumerate() {
                        let ap = &Path::Index(&p, i);
                        let mut attr = VocabularyAttribute {
                            id: String::new(),
                            value: ExtensionValue::Null,
                            xml_attributes: Vec::new(),
                        };
                        for (k, v) in self.object(a, &ap)? {
                            match &**k {
                                "id" => attr.id = self.string(v, &Path::Field(ap, "id"))?,
                                "attribute" => attr.value = self.value(v, prefixes, 0),
                                _ => return Err(self.unknown(&ap, k, v)),
                            }
                        }
                        el.attributes.push(attr);
                    }
                }
                _ => el.extensions.push(self.extension(key, value, prefixes, 0)),
            }
        }
        Ok(el)
    }

    /// Converts any JSON value to an extension value (objects become child elements).
    fn value(&self, node: &Node<'_>, prefixes: &Prefixes, depth: usize) -> ExtensionValue {
        match &node.kind {
            Kind::Null => ExtensionValue::Null,
            Kind::Bool(b) => ExtensionValue::Bool(*b),
            Kind::Number(n) => match Decimal::parse(n) {
                Some(d) => ExtensionValue::Number(d),
                None => ExtensionValue::Text(n.to_string()),
            },
            Kind::String(s) => ExtensionValue::Text(s.to_string()),
            Kind::Array(items) => ExtensionValue::Array(
                items
                    .iter()
                    .map(|n| self.value(n, prefixes, depth + 1))
                    .collect(),
            ),
            Kind::Object(members) => ExtensionValue::Elements(
                members
                    .iter()
                    .map(|(k, v)| self.extension(k, v, prefixes, depth + 1))
                    .collect(),
            ),
        }
    }

    fn extension(
        &self,
        key: &str,
        node: &Node<'_>,
        prefixes: &Prefixes,
        depth: usize,
    ) -> Extension {
        Extension {
            name: resolve_key(key, prefixes),
            attributes: Vec::new(),
            value: self.value(node, prefixes, depth),
        }
    }

    /// Namespaced members become extensions; plain unknown names are rejected.
    fn extension_or_unknown(
        &self,
        path: &dyn Display,
        key: &str,
        node: &Node<'_>,
        prefixes: &Prefixes,
        out: &mut Vec<Extension>,
    ) -> Result<()> {
        if is_namespaced_key(key) || matches!(key, "id" | "type" | "@id" | "@type") {
            out.push(self.extension(key, node, prefixes, 0));
            Ok(())
        } else {
            Err(self.unknown(path, key, node))
        }
    }

    fn quantity_list(&self, node: &Node<'_>, path: &dyn Display) -> Result<Vec<QuantityElement>> {
        let mut out = Vec::new();
        for (i, q) in self.array(node, path)?.iter().enumerate() {
            let qp = &Path::Index(path, i);
            let mut epc_class = None;
            let mut element = QuantityElement {
                epc_class: String::new(),
                quantity: None,
                uom: None,
            };
            for (k, v) in self.object(q, &qp)? {
                let fp = &Path::Field(qp, k);
                match &**k {
                    "epcClass" => epc_class = Some(self.string(v, &fp)?),
                    "quantity" => element.quantity = Some(self.number(v, &fp)?),
                    "uom" => element.uom = Some(self.string(v, &fp)?),
                    _ => return Err(self.unknown(&qp, k, v)),
                }
            }
            element.epc_class = epc_class
                .ok_or_else(|| self.err(&Path::Field(qp, "epcClass"), "missing epcClass", q))?;
            out.push(element);
        }
        Ok(out)
    }

    fn location(
        &self,
        node: &Node<'_>,
        path: &dyn Display,
        prefixes: &Prefixes,
    ) -> Result<Location> {
        let mut loc = Location {
            id: String::new(),
            extensions: Vec::new(),
        };
        let mut has_id = false;
        for (k, v) in self.object(node, path)? {
            if k == "id" {
                loc.id = self.string(v, &Path::Field(path, "id"))?;
                has_id = true;
            } else {
                self.extension_or_unknown(path, k, v, prefixes, &mut loc.extensions)?;
            }
        }
        if !has_id {
            return Err(self.err(&Path::Field(path, "id"), "missing id", node));
        }
        Ok(loc)
    }

    fn typed_entries(
        &self,
        node: &Node<'_>,
        path: &dyn Display,
        value_key: &str,
    ) -> Result<Vec<(Option<String>, String)>> {
        let mut out = Vec::new();
        for (i, e) in self.array(node, path)?.iter().enumerate() {
            let ep = &Path::Index(path, i);
            let mut t = None;
            let mut value = None;
            for (k, v) in self.object(e, &ep)? {
                if k == "type" {
                    t = Some(self.string(v, &Path::Field(ep, "type"))?);
                } else if k == value_key {
                    value = Some(self.string(v, &Path::Field(ep, k))?);
                } else {
                    return Err(self.unknown(&ep, k, v));
                }
            }
            let value = value.ok_or_else(|| {
                self.err(
                    &Path::Field(ep, value_key),
                    format!("missing {value_key}"),
                    e,
                )
            })?;
            out.push((t, value));
        }
        Ok(out)
    }

    fn error_declaration(
        &self,
        node: &Node<'_>,
        path: &dyn Display,
        prefixes: &Prefixes,
    ) -> Result<ErrorDeclaration> {
        let mut ed = ErrorDeclaration {
            declaration_time: None,
            reason: None,
            corrective_event_ids: None,
            extensions: Vec::new(),
        };
        for (k, v) in self.object(node, path)? {
            let fp = &Path::Field(path, k);
            match &**k {
                "declarationTime" => ed.declaration_time = Some(self.time(v, &fp)?),
                "reason" => ed.reason = Some(ErrorReason::new(self.string(v, &fp)?)),
                "correctiveEventIDs" => ed.corrective_event_ids = Some(self.string_list(v, &fp)?),
                _ => self.extension_or_unknown(path, k, v, prefixes, &mut ed.extensions)?,
            }
        }
        Ok(ed)
    }

    fn persistent_disposition(
        &self,
        node: &Node<'_>,
        path: &dyn Display,
    ) -> Result<PersistentDisposition> {
        let mut pd = PersistentDisposition {
            set: None,
            unset: None,
        };
        for (k, v) in self.object(node, path)? {
            let fp = &Path::Field(path, k);
            let list = || -> Result<Vec<Disposition>> {
                Ok(self
                    .string_list(v, &fp)?
                    .into_iter()
                    .map(Disposition::new)
                    .collect())
            };
            match &**k {
                "set" => pd.set = Some(list()?),
                "unset" => pd.unset = Some(list()?),
                _ => return Err(self.unknown(path, k, v)),
            }
        }
        Ok(pd)
    }

    fn sensor_element_list(
        &self,
        node: &Node<'_>,
        path: &dyn Display,
        prefixes: &Prefixes,
    ) -> Result<Vec<SensorElement>> {
        let mut out = Vec::new();
        for (i, se) in self.array(node, path)?.iter().enumerate() {
            let sp = &Path::Index(path, i);
            let mut element = SensorElement::default();
            for (k, v) in self.object(se, &sp)? {
                let fp = &Path::Field(sp, k);
                match &**k {
                    "sensorMetadata" => {
                        element.sensor_metadata = Some(self.sensor_metadata(v, &fp, prefixes)?)
                    }
                    "sensorReport" => {
                        for (j, r) in self.array(v, &fp)?.iter().enumerate() {
                            element.sensor_reports.push(self.sensor_report(
                                r,
                                &Path::Index(&fp, j),
                                prefixes,
                            )?);
                        }
                    }
                    _ => self.extension_or_unknown(&sp, k, v, prefixes, &mut element.extensions)?,
                }
            }
            out.push(element);
        }
        Ok(out)
    }

    fn sensor_metadata(
        &self,
        node: &Node<'_>,
        path: &dyn Display,
        prefixes: &Prefixes,
    ) -> Result<SensorMetadata> {
        let mut m = SensorMetadata::default();
        for (k, v) in self.object(node, path)? {
            let fp = &Path::Field(path, k);
            match &**k {
                "time" => m.time = Some(self.time(v, &fp)?),
                "startTime" => m.start_time = Some(self.time(v, &fp)?),
                "endTime" => m.end_time = Some(self.time(v, &fp)?),
                "deviceID" => m.device_id = Some(self.string(v, &fp)?),
                "deviceMetadata" => m.device_metadata = Some(self.string(v, &fp)?),
                "rawData" => m.raw_data = Some(self.string(v, &fp)?),
                "dataProcessingMethod" => m.data_processing_method = Some(self.string(v, &fp)?),
                "bizRules" => m.biz_rules = Some(self.string(v, &fp)?),
                _ => self.extension_or_unknown(path, k, v, prefixes, &mut m.extensions)?,
            }
        }
        Ok(m)
    }

    fn sensor_report(
        &self,
        node: &Node<'_>,
        path: &dyn Display,
        prefixes: &Prefixes,
    ) -> Result<SensorReport> {
        let mut r = SensorReport::default();
        for (k, v) in self.object(node, path)? {
            let fp = &Path::Field(path, k);
            let s = || self.string(v, &fp);
            let n = || self.number(v, &fp);
            match &**k {
                "type" => r.report_type = Some(s()?),
                "exception" => r.exception = Some(s()?),
                "deviceID" => r.device_id = Some(s()?),
                "deviceMetadata" => r.device_metadata = Some(s()?),
                "rawData" => r.raw_data = Some(s()?),
                "dataProcessingMethod" => r.data_processing_method = Some(s()?),
                "time" => r.time = Some(self.time(v, &fp)?),
                "microorganism" => r.microorganism = Some(s()?),
                "chemicalSubstance" => r.chemical_substance = Some(s()?),
                "value" => r.value = Some(n()?),
                "component" => r.component = Some(s()?),
                "stringValue" => r.string_value = Some(s()?),
                "booleanValue" => r.boolean_value = Some(self.boolean(v, &fp)?),
                "hexBinaryValue" => r.hex_binary_value = Some(s()?),
                "uriValue" => r.uri_value = Some(s()?),
                "minValue" => r.min_value = Some(n()?),
                "maxValue" => r.max_value = Some(n()?),
                "meanValue" => r.mean_value = Some(n()?),
                "sDev" => r.s_dev = Some(n()?),
                "percRank" => r.perc_rank = Some(n()?),
                "percValue" => r.perc_value = Some(n()?),
                "uom" => r.uom = Some(s()?),
                "coordinateReferenceSystem" => r.coordinate_reference_system = Some(s()?),
                "bizRules" => r.biz_rules = Some(s()?),
                _ => self.extension_or_unknown(path, k, v, prefixes, &mut r.extensions)?,
            }
        }
        Ok(r)
    }

    fn event(
        &self,
        node: &Node<'_>,
        path: &dyn Display,
        outer: &Prefixes,
        bare: bool,
    ) -> Result<EpcisEvent> {
        let members = self.object(node, path)?;
        let type_node = members
            .iter()
            .find(|(k, _)| k == "type")
            .map(|(_, v)| v)
            .ok_or_else(|| self.err(&Path::Field(path, "type"), "missing event type", node))?;
        let type_name = self.string(type_node, &Path::Field(path, "type"))?;
        let event_type = EventType::from_name(&type_name).ok_or_else(|| {
            self.err(
                &Path::Field(path, "type"),
                format!("unknown event type \"{type_name}\""),
                type_node,
            )
        })?;
        let mut e = EpcisEvent::new(event_type);
        // Events rarely carry their own @context: copy the bindings only then.
        let mut prefixes = std::borrow::Cow::Borrowed(outer);
        if !bare && let Some((_, c)) = members.iter().find(|(k, _)| k == "@context") {
            let (entries, single) = self.context(c, &Path::Field(path, "@context"))?;
            prefixes.to_mut().add_context(&entries);
            e.context = entries;
            e.context_is_single = single;
        }
        for (key, v) in members {
            let fp = &Path::Field(path, key);
            match &**key {
                "type" | "@context" => {}
                "eventTime" => e.event_time = Some(self.time(v, fp)?),
                "eventTimeZoneOffset" => e.event_time_zone_offset = Some(self.string(v, fp)?),
                "recordTime" => e.record_time = Some(self.time(v, fp)?),
                "eventID" => e.event_id = Some(self.string(v, fp)?),
                "errorDeclaration" => {
                    e.error_declaration = Some(self.error_declaration(v, fp, &prefixes)?)
                }
                "certificationInfo" => {
                    e.certification_info = Some(match &v.kind {
                        Kind::Array(_) => CertificationInfo::Many(self.string_list(v, fp)?),
                        _ => CertificationInfo::Single(self.string(v, fp)?),
                    })
                }
                "parentID" => e.parent_id = Some(self.string(v, fp)?),
                "epcList" => e.epc_list = Some(self.string_list(v, fp)?),
                "childEPCs" => e.child_epcs = Some(self.string_list(v, fp)?),
                "inputEPCList" => e.input_epc_list = Some(self.string_list(v, fp)?),
                "outputEPCList" => e.output_epc_list = Some(self.string_list(v, fp)?),
                "quantityList" => e.quantity_list = Some(self.quantity_list(v, fp)?),
                "childQuantityList" => e.child_quantity_list = Some(self.quantity_list(v, fp)?),
                "inputQuantityList" => e.input_quantity_list = Some(self.quantity_list(v, fp)?),
                "outputQuantityList" => e.output_quantity_list = Some(self.quantity_list(v, fp)?),
                "transformationID" => e.transformation_id = Some(self.string(v, fp)?),
                "action" => {
                    let s = self.string(v, fp)?;
                    e.action = Some(Action::from_name(&s).ok_or_else(|| {
                        self.err(
                            fp,
                            format!("invalid action \"{s}\" (expected ADD, OBSERVE or DELETE)"),
                            v,
                        )
                    })?);
                }
                "bizStep" => e.biz_step = Some(BizStep::new(self.string(v, fp)?)),
                "disposition" => e.disposition = Some(Disposition::new(self.string(v, fp)?)),
                "persistentDisposition" => {
                    e.persistent_disposition = Some(self.persistent_disposition(v, fp)?)
                }
                "readPoint" => e.read_point = Some(self.location(v, fp, &prefixes)?),
                "bizLocation" => e.biz_location = Some(self.location(v, fp, &prefixes)?),
                "bizTransactionList" => {
                    e.biz_transaction_list = Some(
                        self.typed_entries(v, fp, "bizTransaction")?
                            .into_iter()
                            .map(|(t, value)| BizTransaction {
                                transaction_type: t.map(BizTransactionType::new),
                                value,
                            })
                            .collect(),
                    )
                }
                "sourceList" | "destinationList" => {
                    let value_key = if key == "sourceList" {
                        "source"
                    } else {
                        "destination"
                    };
                    let list = self
                        .typed_entries(v, fp, value_key)?
                        .into_iter()
                        .map(|(t, value)| SourceDest {
                            source_dest_type: t.map(SourceDestType::new),
                            value,
                        })
                        .collect();
                    if key == "sourceList" {
                        e.source_list = Some(list);
                    } else {
                        e.destination_list = Some(list);
                    }
                }
                "sensorElementList" => {
                    e.sensor_element_list = Some(self.sensor_element_list(v, fp, &prefixes)?)
                }
                "ilmd" => {
                    let members = self.object(v, fp)?;
                    e.ilmd = Some(
                        members
                            .iter()
                            .map(|(k, v)| self.extension(k, v, &prefixes, 0))
                            .collect(),
                    );
                }
                _ => self.extension_or_unknown(path, key, v, &prefixes, &mut e.extensions)?,
            }
        }
        Ok(e)
    }
}

/// Converts a raw JSON node to an extension value without any prefix resolution.
fn raw_value(node: &Node<'_>) -> ExtensionValue {
    match &node.kind {
        Kind::Null => ExtensionValue::Null,
        Kind::Bool(b) => ExtensionValue::Bool(*b),
        Kind::Number(n) => match Decimal::parse(n) {
            Some(d) => ExtensionValue::Number(d),
            None => ExtensionValue::Text(n.to_string()),
        },
        Kind::String(s) => ExtensionValue::Text(s.to_string()),
        Kind::Array(items) => ExtensionValue::Array(items.iter().map(raw_value).collect()),
        Kind::Object(members) => ExtensionValue::Elements(
            members
                .iter()
                .map(|(k, v)| Extension {
                    name: QName {
                        namespace: String::new(),
                        local: k.to_string(),
                        prefix: None,
                    },
                    attributes: Vec::new(),
                    value: raw_value(v),
                })
                .collect(),
        ),
    }
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

fn s(v: &str) -> Node<'static> {
    Node::new(Kind::String(Cow::Owned(v.to_string())))
}

/// An object node's kind from owned member names.
fn object_kind(members: Vec<(String, Node<'static>)>) -> Kind<'static> {
    Kind::Object(
        members
            .into_iter()
            .map(|(k, v)| (Cow::Owned(k), v))
            .collect(),
    )
}

fn strings(v: &[String]) -> Node<'static> {
    Node::new(Kind::Array(v.iter().map(|x| s(x)).collect()))
}

/// A JSON number from a decimal, normalised if the lexical form is not valid JSON.
fn number(d: &Decimal) -> Node<'static> {
    let raw = d.as_str();
    let valid_json = json_tree::parse(raw).is_ok_and(|n| matches!(n.kind, Kind::Number(_)));
    Node::new(Kind::Number(Cow::Owned(if valid_json {
        raw.to_string()
    } else {
        d.normalized()
    })))
}

/// Collects the prefixes the writer must declare so every extension name can be
/// written as a CURIE.
struct NameWriter {
    prefixes: Prefixes,
    added: Vec<NamespaceBinding>,
}

impl NameWriter {
    fn key(&mut self, name: &QName) -> String {
        if name.namespace.is_empty() {
            return name.prefixed();
        }
        if let Some(p) = &name.prefix {
            if self.prefixes.lookup(p) == Some(name.namespace.as_str()) {
                return format!("{p}:{}", name.local);
            }
            if self.prefixes.lookup(p).is_none() {
                self.bind(p, &name.namespace);
                return format!("{p}:{}", name.local);
            }
        }
        if let Some(p) = self.prefixes.prefix_for(&name.namespace) {
            return format!("{p}:{}", name.local);
        }
        if name.prefix.is_none() && is_absolute_iri(&name.namespace) {
            let candidate = format!("{}{}", name.namespace, name.local);
            if resolve_key(&candidate, &self.prefixes) == *name {
                return candidate;
            }
        }
        let mut i = 1;
        while self.prefixes.lookup(&format!("ns{i}")).is_some() {
            i += 1;
        }
        let p = format!("ns{i}");
        self.bind(&p, &name.namespace);
        format!("{p}:{}", name.local)
    }

    fn bind(&mut self, prefix: &str, namespace: &str) {
        self.prefixes
            .0
            .push((prefix.to_string(), namespace.to_string()));
        self.added.push(NamespaceBinding {
            prefix: prefix.to_string(),
            namespace: namespace.to_string(),
        });
    }

    fn value(&mut self, v: &ExtensionValue) -> Node<'static> {
        match v {
            ExtensionValue::Text(t) => s(t),
            ExtensionValue::Number(d) => number(d),
            ExtensionValue::Bool(b) => Node::new(Kind::Bool(*b)),
            ExtensionValue::Null => Node::new(Kind::Null),
            ExtensionValue::Array(items) => {
                Node::new(Kind::Array(items.iter().map(|i| self.value(i)).collect()))
            }
            ExtensionValue::Elements(children) => Node::new(object_kind(self.members(children))),
        }
    }

    /// An extension's value; namespaced XML attributes become leading members of the
    /// object (the OpenEPCIS JSON mapping) when the element has child elements or no
    /// text. Attributes on a text-valued element have no JSON form and are dropped.
    fn value_with_attributes(&mut self, e: &Extension) -> Node<'static> {
        let attrs: Vec<&ExtensionAttribute> = e
            .attributes
            .iter()
            .filter(|a| {
                !a.name.namespace.is_empty()
                    && a.name.namespace != "http://www.w3.org/2001/XMLSchema-instance"
            })
            .collect();
        let empty_text = matches!(&e.value, ExtensionValue::Text(t) if t.trim().is_empty());
        if attrs.is_empty() || !(empty_text || matches!(e.value, ExtensionValue::Elements(_))) {
            return self.value(&e.value);
        }
        let mut members: Vec<(String, Node<'static>)> = attrs
            .iter()
            .map(|a| (self.key(&a.name), s(&a.value)))
            .collect();
        if let ExtensionValue::Elements(children) = &e.value {
            members.extend(self.members(children));
        }
        Node::new(object_kind(members))
    }

    /// Extensions as object members; repeated names (from XML) merge into an array.
    fn members(&mut self, exts: &[Extension]) -> Vec<(String, Node<'static>)> {
        let mut out: Vec<(String, Node<'static>)> = Vec::new();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for e in exts {
            let key = self.key(&e.name);
            match counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, c)) => *c += 1,
                None => counts.push((key, 1)),
            }
        }
        for e in exts {
            let key = self.key(&e.name);
            let repeated = counts.iter().any(|(k, c)| *k == key && *c > 1);
            let value = self.value_with_attributes(e);
            if repeated {
                match out.iter_mut().find(|(k, _)| *k == key) {
                    Some((
                        _,
                        Node {
                            kind: Kind::Array(items),
                            ..
                        },
                    )) => items.push(value),
                    _ => out.push((key, Node::new(Kind::Array(vec![value])))),
                }
            } else {
                out.push((key, value));
            }
        }
        out
    }
}

fn context_node(entries: &[ContextEntry], single: bool) -> Node<'static> {
    let items: Vec<Node<'static>> = entries
        .iter()
        .map(|e| match e {
            ContextEntry::Uri(u) => s(u),
            ContextEntry::Prefixes(b) => Node::new(object_kind(
                b.iter()
                    .map(|b| (b.prefix.clone(), s(&b.namespace)))
                    .collect(),
            )),
            ContextEntry::Object(members) => Node::new(object_kind(
                members
                    .iter()
                    .map(|m| (m.name.local.clone(), raw_value_node(&m.value)))
                    .collect(),
            )),
        })
        .collect();
    if single && items.len() == 1 {
        items
            .into_iter()
            .next()
            .unwrap_or_else(|| Node::new(Kind::Null))
    } else {
        Node::new(Kind::Array(items))
    }
}

fn raw_value_node(v: &ExtensionValue) -> Node<'static> {
    match v {
        ExtensionValue::Text(t) => s(t),
        ExtensionValue::Number(d) => number(d),
        ExtensionValue::Bool(b) => Node::new(Kind::Bool(*b)),
        ExtensionValue::Null => Node::new(Kind::Null),
        ExtensionValue::Array(items) => {
            Node::new(Kind::Array(items.iter().map(raw_value_node).collect()))
        }
        ExtensionValue::Elements(children) => Node::new(object_kind(
            children
                .iter()
                .map(|c| (c.name.local.clone(), raw_value_node(&c.value)))
                .collect(),
        )),
    }
}

fn document_to_node(doc: &EpcisDocument) -> Node<'static> {
    let mut prefixes = Prefixes::with_defaults();
    prefixes.add_context(&doc.context);
    let mut names = NameWriter {
        prefixes,
        added: Vec::new(),
    };
    if doc.kind == DocumentKind::BareEvent {
        let event = doc
            .events
            .first()
            .cloned()
            .unwrap_or_else(|| EpcisEvent::new(EventType::ObjectEvent));
        let mut members = event_members(&event, &mut names);
        let mut context = doc.context.clone();
        if !names.added.is_empty() {
            context.push(ContextEntry::Prefixes(names.added.clone()));
        }
        if !context.is_empty() {
            let single = doc.context_is_single && context.len() == 1;
            members.insert(1, ("@context".to_string(), context_node(&context, single)));
        }
        return Node::new(object_kind(members));
    }

    let mut members: Vec<(String, Node<'static>)> = Vec::new();
    let type_name = match doc.kind {
        DocumentKind::QueryDocument => "EPCISQueryDocument",
        _ => "EPCISDocument",
    };
    members.push(("type".into(), s(type_name)));
    if let Some(v) = &doc.schema_version {
        members.push(("schemaVersion".into(), s(v)));
    }
    if let Some(v) = &doc.creation_date {
        members.push(("creationDate".into(), s(v.as_str())));
    }
    let top_ext = names.members(&doc.extensions);
    members.extend(top_ext);
    if let Some(h) = &doc.header {
        let mut hm = Vec::new();
        if let Some(md) = &h.master_data {
            let list: Vec<Node<'static>> =
                md.iter().map(|v| vocabulary_node(v, &mut names)).collect();
            hm.push((
                "epcisMasterData".to_string(),
                Node::new(object_kind(vec![(
                    "vocabularyList".into(),
                    Node::new(Kind::Array(list)),
                )])),
            ));
        }
        hm.extend(names.members(&h.extensions));
        members.push(("epcisHeader".into(), Node::new(object_kind(hm))));
    }
    let events = Node::new(Kind::Array(
        doc.events
            .iter()
            .map(|e| Node::new(object_kind(event_members(e, &mut names))))
            .collect(),
    ));
    let body = match doc.kind {
        DocumentKind::QueryDocument => {
            let mut qr = Vec::new();
            if let Some(q) = &doc.query_name {
                qr.push(("queryName".to_string(), s(q)));
            }
            if let Some(q) = &doc.subscription_id {
                qr.push(("subscriptionID".to_string(), s(q)));
            }
            qr.extend(names.members(&doc.query_extensions));
            qr.push((
                "resultsBody".to_string(),
                Node::new(object_kind(vec![("eventList".into(), events)])),
            ));
            vec![("queryResults".to_string(), Node::new(object_kind(qr)))]
        }
        _ => vec![("eventList".to_string(), events)],
    };
    members.push(("epcisBody".into(), Node::new(object_kind(body))));
    let mut context = doc.context.clone();
    if context.is_empty() {
        context.push(ContextEntry::Uri(EPCIS_CONTEXT_URI.to_string()));
    }
    if !names.added.is_empty() {
        context.push(ContextEntry::Prefixes(names.added.clone()));
    }
    let single = doc.context_is_single && context.len() == 1;
    members.insert(0, ("@context".into(), context_node(&context, single)));
    Node::new(object_kind(members))
}

fn vocabulary_node(v: &Vocabulary, names: &mut NameWriter) -> Node<'static> {
    let mut m = vec![("type".to_string(), s(&v.vocabulary_type))];
    let elements: Vec<Node<'static>> = v
        .elements
        .iter()
        .map(|el| {
            let mut em = vec![("id".to_string(), s(&el.id))];
            if !el.attributes.is_empty() {
                let attrs = el
                    .attributes
                    .iter()
                    .map(|a| {
                        Node::new(object_kind(vec![
                            ("id".to_string(), s(&a.id)),
                            ("attribute".to_string(), names.value(&a.value)),
                        ]))
                    })
                    .collect();
                em.push(("attributes".to_string(), Node::new(Kind::Array(attrs))));
            }
            if let Some(c) = &el.children {
                em.push(("children".to_string(), strings(c)));
            }
            em.extend(names.members(&el.extensions));
            Node::new(object_kind(em))
        })
        .collect();
    m.push((
        "vocabularyElementList".to_string(),
        Node::new(Kind::Array(elements)),
    ));
    m.extend(names.members(&v.extensions));
    Node::new(object_kind(m))
}

fn quantity_list_node(list: &[QuantityElement]) -> Node<'static> {
    Node::new(Kind::Array(
        list.iter()
            .map(|q| {
                let mut m = vec![("epcClass".to_string(), s(&q.epc_class))];
                if let Some(d) = &q.quantity {
                    m.push(("quantity".to_string(), number(d)));
                }
                if let Some(u) = &q.uom {
                    m.push(("uom".to_string(), s(u)));
                }
                Node::new(object_kind(m))
            })
            .collect(),
    ))
}

fn location_node(l: &Location, names: &mut NameWriter) -> Node<'static> {
    let mut m = vec![("id".to_string(), s(&l.id))];
    m.extend(names.members(&l.extensions));
    Node::new(object_kind(m))
}

fn opt_s(m: &mut Vec<(String, Node<'static>)>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.push((key.to_string(), s(v)));
    }
}

fn opt_t(m: &mut Vec<(String, Node<'static>)>, key: &str, v: &Option<EpcisTime>) {
    if let Some(v) = v {
        m.push((key.to_string(), s(v.as_str())));
    }
}

fn opt_n(m: &mut Vec<(String, Node<'static>)>, key: &str, v: &Option<Decimal>) {
    if let Some(v) = v {
        m.push((key.to_string(), number(v)));
    }
}

fn sensor_node(se: &SensorElement, names: &mut NameWriter) -> Node<'static> {
    let mut m = Vec::new();
    if let Some(md) = &se.sensor_metadata {
        let mut mm = Vec::new();
        opt_t(&mut mm, "time", &md.time);
        opt_t(&mut mm, "startTime", &md.start_time);
        opt_t(&mut mm, "endTime", &md.end_time);
        opt_s(&mut mm, "deviceID", &md.device_id);
        opt_s(&mut mm, "deviceMetadata", &md.device_metadata);
        opt_s(&mut mm, "rawData", &md.raw_data);
        opt_s(&mut mm, "dataProcessingMethod", &md.data_processing_method);
        opt_s(&mut mm, "bizRules", &md.biz_rules);
        mm.extend(names.members(&md.extensions));
        m.push(("sensorMetadata".to_string(), Node::new(object_kind(mm))));
    }
    let reports = se
        .sensor_reports
        .iter()
        .map(|r| {
            let mut rm = Vec::new();
            opt_s(&mut rm, "type", &r.report_type);
            opt_s(&mut rm, "exception", &r.exception);
            opt_s(&mut rm, "deviceID", &r.device_id);
            opt_s(&mut rm, "deviceMetadata", &r.device_metadata);
            opt_s(&mut rm, "rawData", &r.raw_data);
            opt_s(&mut rm, "dataProcessingMethod", &r.data_processing_method);
            opt_t(&mut rm, "time", &r.time);
            opt_s(&mut rm, "microorganism", &r.microorganism);
            opt_s(&mut rm, "chemicalSubstance", &r.chemical_substance);
            opt_n(&mut rm, "value", &r.value);
            opt_s(&mut rm, "component", &r.component);
            opt_s(&mut rm, "stringValue", &r.string_value);
            if let Some(b) = r.boolean_value {
                rm.push(("booleanValue".to_string(), Node::new(Kind::Bool(b))));
            }
            opt_s(&mut rm, "hexBinaryValue", &r.hex_binary_value);
            opt_s(&mut rm, "uriValue", &r.uri_value);
            opt_n(&mut rm, "minValue", &r.min_value);
            opt_n(&mut rm, "maxValue", &r.max_value);
            opt_n(&mut rm, "meanValue", &r.mean_value);
            opt_n(&mut rm, "sDev", &r.s_dev);
            opt_n(&mut rm, "percRank", &r.perc_rank);
            opt_n(&mut rm, "percValue", &r.perc_value);
            opt_s(&mut rm, "uom", &r.uom);
            opt_s(
                &mut rm,
                "coordinateReferenceSystem",
                &r.coordinate_reference_system,
            );
            opt_s(&mut rm, "bizRules", &r.biz_rules);
            rm.extend(names.members(&r.extensions));
            Node::new(object_kind(rm))
        })
        .collect();
    m.push(("sensorReport".to_string(), Node::new(Kind::Array(reports))));
    m.extend(names.members(&se.extensions));
    Node::new(object_kind(m))
}

fn event_members(e: &EpcisEvent, outer: &mut NameWriter) -> Vec<(String, Node<'static>)> {
    // Event-level @context adds prefixes for this event only.
    let mut names = NameWriter {
        prefixes: outer.prefixes.clone(),
        added: Vec::new(),
    };
    names.prefixes.add_context(&e.context);
    let names = &mut names;
    let mut m: Vec<(String, Node<'static>)> = vec![("type".to_string(), s(e.event_type.as_str()))];
    opt_t(&mut m, "eventTime", &e.event_time);
    opt_s(&mut m, "eventTimeZoneOffset", &e.event_time_zone_offset);
    opt_t(&mut m, "recordTime", &e.record_time);
    opt_s(&mut m, "eventID", &e.event_id);
    if let Some(ed) = &e.error_declaration {
        let mut em = Vec::new();
        opt_t(&mut em, "declarationTime", &ed.declaration_time);
        if let Some(r) = &ed.reason {
            em.push(("reason".to_string(), s(r.as_str())));
        }
        if let Some(c) = &ed.corrective_event_ids {
            em.push(("correctiveEventIDs".to_string(), strings(c)));
        }
        em.extend(names.members(&ed.extensions));
        m.push(("errorDeclaration".to_string(), Node::new(object_kind(em))));
    }
    match &e.certification_info {
        Some(CertificationInfo::Single(c)) => m.push(("certificationInfo".to_string(), s(c))),
        Some(CertificationInfo::Many(c)) => m.push(("certificationInfo".to_string(), strings(c))),
        None => {}
    }
    opt_s(&mut m, "parentID", &e.parent_id);
    for (key, list) in [
        ("epcList", &e.epc_list),
        ("childEPCs", &e.child_epcs),
        ("inputEPCList", &e.input_epc_list),
        ("outputEPCList", &e.output_epc_list),
    ] {
        if let Some(l) = list {
            m.push((key.to_string(), strings(l)));
        }
    }
    for (key, list) in [
        ("quantityList", &e.quantity_list),
        ("childQuantityList", &e.child_quantity_list),
        ("inputQuantityList", &e.input_quantity_list),
        ("outputQuantityList", &e.output_quantity_list),
    ] {
        if let Some(l) = list {
            m.push((key.to_string(), quantity_list_node(l)));
        }
    }
    opt_s(&mut m, "transformationID", &e.transformation_id);
    if let Some(a) = e.action {
        m.push(("action".to_string(), s(a.as_str())));
    }
    if let Some(b) = &e.biz_step {
        m.push(("bizStep".to_string(), s(b.as_str())));
    }
    if let Some(d) = &e.disposition {
        m.push(("disposition".to_string(), s(d.as_str())));
    }
    if let Some(pd) = &e.persistent_disposition {
        let mut pm = Vec::new();
        for (key, list) in [("set", &pd.set), ("unset", &pd.unset)] {
            if let Some(l) = list {
                pm.push((
                    key.to_string(),
                    Node::new(Kind::Array(l.iter().map(|d| s(d.as_str())).collect())),
                ));
            }
        }
        m.push((
            "persistentDisposition".to_string(),
            Node::new(object_kind(pm)),
        ));
    }
    if let Some(l) = &e.read_point {
        m.push(("readPoint".to_string(), location_node(l, names)));
    }
    if let Some(l) = &e.biz_location {
        m.push(("bizLocation".to_string(), location_node(l, names)));
    }
    if let Some(list) = &e.biz_transaction_list {
        let items = list
            .iter()
            .map(|bt| {
                let mut bm = Vec::new();
                if let Some(t) = &bt.transaction_type {
                    bm.push(("type".to_string(), s(t.as_str())));
                }
                bm.push(("bizTransaction".to_string(), s(&bt.value)));
                Node::new(object_kind(bm))
            })
            .collect();
        m.push((
            "bizTransactionList".to_string(),
            Node::new(Kind::Array(items)),
        ));
    }
    for (key, value_key, list) in [
        ("sourceList", "source", &e.source_list),
        ("destinationList", "destination", &e.destination_list),
    ] {
        if let Some(list) = list {
            let items = list
                .iter()
                .map(|sd| {
                    let mut sm = Vec::new();
                    if let Some(t) = &sd.source_dest_type {
                        sm.push(("type".to_string(), s(t.as_str())));
                    }
                    sm.push((value_key.to_string(), s(&sd.value)));
                    Node::new(object_kind(sm))
                })
                .collect();
            m.push((key.to_string(), Node::new(Kind::Array(items))));
        }
    }
    if let Some(list) = &e.sensor_element_list {
        let items = list.iter().map(|se| sensor_node(se, names)).collect();
        m.push((
            "sensorElementList".to_string(),
            Node::new(Kind::Array(items)),
        ));
    }
    if let Some(ilmd) = &e.ilmd {
        let members = names.members(ilmd);
        m.push(("ilmd".to_string(), Node::new(object_kind(members))));
    }
    let ext = names.members(&e.extensions);
    m.extend(ext);
    // Prefixes invented for this event's names go to the document level.
    for b in std::mem::take(&mut names.added) {
        outer.bind(&b.prefix, &b.namespace);
    }
    if !e.context.is_empty() {
        m.insert(
            1,
            (
                "@context".to_string(),
                context_node(&e.context, e.context_is_single),
            ),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `text` in one pass, never deferring events.
    fn parse_whole(text: &str) -> Result<(EpcisDocument, Vec<Position>)> {
        let root = json_tree::parse(text)?;
        let r = Reader {
            text,
            deferred: false,
        };
        let doc = r.document(&root)?;
        let offsets = event_offsets(&root, doc.kind);
        Ok((doc, Position::from_offsets(text, &offsets)))
    }

    /// A document of `n` events, each with its own prefix, an extension and an
    /// escaped string; `event(i)` may replace event `i`'s text.
    fn big(kind: &str, n: usize, event: impl Fn(usize) -> Option<String>) -> String {
        let mut s = format!(
            r#"{{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{{"ex":"https://ex.example.com/"}}],"type":"{kind}","schemaVersion":"2.0","creationDate":"2024-03-01T10:00:00Z","epcisBody":"#
        );
        let (open, close) = if kind == "EPCISQueryDocument" {
            (
                r#"{"queryResults":{"queryName":"SimpleEventQuery","resultsBody":{"eventList":["#,
                "]}}}}",
            )
        } else {
            (r#"{"eventList":["#, "]}}")
        };
        s.push_str(open);
        for i in 0..n {
            if i > 0 {
                s.push_str(",\n ");
            }
            s.push_str(&event(i).unwrap_or_else(|| format!(
                r#"{{"type":"ObjectEvent","@context":{{"e{i}":"urn:e{i}:"}},"eventTime":"2024-03-01T09:30:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:0614141.107346.{i}"],"action":"OBSERVE","ex:note":"caf\u00e9 {i}","e{i}:x":{{"ex:y":[1,2.50,null]}}}}"#
            )));
        }
        s.push_str(close);
        s
    }

    #[test]
    fn large_documents_read_the_same_with_deferred_events() {
        for kind in ["EPCISDocument", "EPCISQueryDocument"] {
            let text = big(kind, 1500, |_| None);
            assert!(text.len() >= DEFER_EVENTS_FROM, "{}", text.len());
            let deferred = parse_document_with_positions(&text).expect("valid");
            assert_eq!(deferred, parse_whole(&text).expect("valid"));
            assert_eq!(deferred.0.events.len(), 1500);
        }
        // Errors: a field error in one event, a syntax error in a later one (the
        // syntax error wins, as the whole text is checked first), each alone.
        let field_error =
            |i: usize| (i == 700).then(|| r#"{"type":"ObjectEvent","action":"MAYBE"}"#.to_string());
        let syntax_error = |i: usize| (i == 1200).then(|| r#"{"type":"ObjectEvent",}"#.to_string());
        let both = |i: usize| field_error(i).or_else(|| syntax_error(i));
        let texts = [
            big("EPCISDocument", 1500, field_error),
            big("EPCISDocument", 1500, syntax_error),
            big("EPCISDocument", 1500, both),
        ];
        for text in &texts {
            let deferred = parse_document_with_positions(text).expect_err("invalid");
            assert_eq!(deferred, parse_whole(text).expect_err("invalid"));
        }
        assert!(matches!(
            parse_document(&texts[2]),
            Err(ParseError::JsonSyntax { .. })
        ));
        // A bare event with a member called epcisBody holding an eventList: not
        // an event list, so it is read as written (here: rejected alike).
        let bare = big("EPCISDocument", 1500, |_| None).replacen(
            r#""type":"EPCISDocument""#,
            r#""type":"ObjectEvent""#,
            1,
        );
        assert_eq!(parse_document(&bare), parse_whole(&bare).map(|(d, _)| d));
    }

    #[test]
    fn bare_event_roundtrip() {
        let text = r#"{"type":"ObjectEvent","@context":{"ex":"https://ns.example.com/"},
            "eventTime":"2024-03-01T09:30:00.123+01:00","eventTimeZoneOffset":"+01:00",
            "epcList":["urn:epc:id:sgtin:0614141.107346.SN001"],"action":"ADD",
            "quantityList":[{"epcClass":"urn:epc:class:lgtin:4012345.012345.998877","quantity":10.0,"uom":"KGM"}],
            "ilmd":{"cbvmda:lotNumber":"LOT123"},"ex:n":{"ex:a":[1,true,null]}}"#;
        let doc = parse_document(text).expect("valid");
        assert_eq!(doc.kind, DocumentKind::BareEvent);
        let e = &doc.events[0];
        assert_eq!(
            e.quantity_list.as_ref().map(|q| q[0].quantity.clone()),
            Some(Decimal::parse("10.0"))
        );
        let ilmd = e.ilmd.as_ref().expect("ilmd");
        assert_eq!(ilmd[0].name.expanded(), "{urn:epcglobal:cbv:mda:}lotNumber");
        assert_eq!(
            e.extensions[0].name.expanded(),
            "{https://ns.example.com/}n"
        );
        let out = write_document(&doc);
        let a: serde_json::Value = serde_json::from_str(text).expect("json");
        let b: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(a, b);
    }

    #[test]
    fn invalid_action_names_field() {
        let text = r#"{"type":"ObjectEvent","action":"ADDED"}"#;
        let e = parse_document(text).expect_err("invalid");
        assert_eq!(e.field(), Some("event.action"));
    }
}
