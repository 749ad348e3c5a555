//! A small namespace-resolved XML element tree built on quick-xml's pull reader,
//! with byte offsets for line/column reporting. Comments, processing instructions
//! and the DOCTYPE are dropped; entity references are resolved (predefined and
//! character references only).

use crate::error::{ParseError, Position};
use crate::model::NamespaceBinding;
use quick_xml::events::{BytesStart, Event};

/// Maximum element nesting accepted (protects the stack on hostile input).
const DEPTH_MAX: usize = 256;

/// The namespace bound to the `xml` prefix by definition.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// An attribute with its resolved name (unprefixed attributes have no namespace).
#[derive(Clone, Debug)]
pub(crate) struct Attr {
    pub(crate) prefix: Option<String>,
    pub(crate) local: String,
    pub(crate) namespace: String,
    pub(crate) value: String,
}

/// An element with its resolved name, attributes (without `xmlns` declarations),
/// the declarations made on it, and its children.
#[derive(Clone, Debug)]
pub(crate) struct Element {
    pub(crate) prefix: Option<String>,
    pub(crate) local: String,
    pub(crate) namespace: String,
    pub(crate) attrs: Vec<Attr>,
    pub(crate) declarations: Vec<NamespaceBinding>,
    pub(crate) children: Vec<Child>,
    pub(crate) offset: usize,
}

/// Element content.
#[derive(Clone, Debug)]
pub(crate) enum Child {
    Element(Element),
    Text(String),
}

impl Element {
    /// Child elements in order.
    pub(crate) fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Child::Element(e) => Some(e),
            Child::Text(_) => None,
        })
    }

    /// All character data directly inside this element, concatenated.
    pub(crate) fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.children {
            if let Child::Text(t) = c {
                s.push_str(t);
            }
        }
        s
    }

    /// True if the element has child elements.
    pub(crate) fn has_elements(&self) -> bool {
        self.children.iter().any(|c| matches!(c, Child::Element(_)))
    }

    /// The value of the unprefixed attribute `local`.
    pub(crate) fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.namespace.is_empty() && a.local == local)
            .map(|a| a.value.as_str())
    }
}

fn syntax(text: &str, offset: usize, message: impl Into<String>) -> ParseError {
    ParseError::XmlSyntax {
        position: Position::from_offset(text, offset),
        message: message.into(),
    }
}

struct Scope {
    bindings: Vec<(String, String)>,
}

impl Scope {
    fn lookup(&self, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NAMESPACE);
        }
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, n)| n.as_str())
    }
}

fn split_qname(raw: &str) -> (Option<String>, String) {
    match raw.split_once(':') {
        Some((p, l)) => (Some(p.to_string()), l.to_string()),
        None => (None, raw.to_string()),
    }
}

/// Parses a complete XML document and returns its root element.
pub(crate) fn parse(text: &str) -> Result<Element, ParseError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut scope = Scope {
        bindings: Vec::new(),
    };
    // Each open element and the number of bindings in scope before it.
    let mut stack: Vec<(Element, usize)> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| {
            let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
            syntax(text, at, e.to_string())
        })?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(syntax(text, offset, "content after the root element"));
            }
            Event::Start(start) => {
                if stack.len() >= DEPTH_MAX {
                    return Err(syntax(text, offset, "elements nested too deeply"));
                }
                let mark = scope.bindings.len();
                let element = open_element(text, &start, offset, &mut scope)?;
                stack.push((element, mark));
            }
            Event::Empty(start) => {
                let mark = scope.bindings.len();
                let element = open_element(text, &start, offset, &mut scope)?;
                scope.bindings.truncate(mark);
                match stack.last_mut() {
                    Some((parent, _)) => parent.children.push(Child::Element(element)),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let (element, mark) = stack
                    .pop()
                    .ok_or_else(|| syntax(text, offset, "unexpected end tag"))?;
                scope.bindings.truncate(mark);
                match stack.last_mut() {
                    Some((parent, _)) => parent.children.push(Child::Element(element)),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => {
                let s = t
                    .decode()
                    .map_err(|e| syntax(text, offset, e.to_string()))?;
                push_text(text, offset, &mut stack, &s)?;
            }
            Event::CData(t) => {
                let s = t
                    .decode()
                    .map_err(|e| syntax(text, offset, e.to_string()))?;
                push_text(text, offset, &mut stack, &s)?;
            }
            Event::GeneralRef(r) => {
                let s = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => return Err(syntax(text, offset, "invalid character reference")),
                    }
                } else {
                    let name = r
                        .decode()
                        .map_err(|e| syntax(text, offset, e.to_string()))?;
                    match name.as_ref() {
                        "amp" => "&".to_string(),
                        "lt" => "<".to_string(),
                        "gt" => ">".to_string(),
                        "quot" => "\"".to_string(),
                        "apos" => "'".to_string(),
                        other => {
                            return Err(syntax(
                                text,
                                offset,
                                format!("undefined entity &{other};"),
                            ));
                        }
                    }
                };
                push_text(text, offset, &mut stack, &s)?;
            }
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some((open, _)) = stack.last() {
        return Err(syntax(
            text,
            text.len(),
            format!("unclosed element <{}>", open.local),
        ));
    }
    root.ok_or_else(|| syntax(text, text.len(), "no root element"))
}

fn push_text(
    text: &str,
    offset: usize,
    stack: &mut [(Element, usize)],
    s: &str,
) -> Result<(), ParseError> {
    match stack.last_mut() {
        Some((parent, _)) => {
            if let Some(Child::Text(prev)) = parent.children.last_mut() {
                prev.push_str(s);
            } else {
                parent.children.push(Child::Text(s.to_string()));
            }
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(syntax(text, offset, "text outside the root element")),
    }
}

fn open_element(
    text: &str,
    start: &BytesStart<'_>,
    offset: usize,
    scope: &mut Scope,
) -> Result<Element, ParseError> {
    let qname = start.name();
    let raw_name = std::str::from_utf8(qname.as_ref())
        .map_err(|_| syntax(text, offset, "element name is not UTF-8"))?;
    let mut raw_attrs: Vec<(String, String)> = Vec::new();
    let mut declarations = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| syntax(text, offset, e.to_string()))?;
        let key = std::str::from_utf8(attr.key.as_ref())
            .map_err(|_| syntax(text, offset, "attribute name is not UTF-8"))?
            .to_string();
        let value = attr
            .unescape_value()
            .map_err(|e| syntax(text, offset, e.to_string()))?
            .into_owned();
        if key == "xmlns" {
            declarations.push(NamespaceBinding {
                prefix: String::new(),
                namespace: value.clone(),
            });
            scope.bindings.push((String::new(), value));
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            declarations.push(NamespaceBinding {
                prefix: p.to_string(),
                namespace: value.clone(),
            });
            scope.bindings.push((p.to_string(), value));
        } else {
            raw_attrs.push((key, value));
        }
    }
    let (prefix, local) = split_qname(raw_name);
    let namespace = match &prefix {
        Some(p) => scope
            .lookup(p)
            .ok_or_else(|| syntax(text, offset, format!("undeclared namespace prefix \"{p}\"")))?
            .to_string(),
        None => scope.lookup("").unwrap_or("").to_string(),
    };
    let mut attrs = Vec::new();
    for (key, value) in raw_attrs {
        let (ap, al) = split_qname(&key);
        let ans = match &ap {
            Some(p) => scope
                .lookup(p)
                .ok_or_else(|| {
                    syntax(text, offset, format!("undeclared namespace prefix \"{p}\""))
                })?
                .to_string(),
            None => String::new(),
        };
        attrs.push(Attr {
            prefix: ap,
            local: al,
            namespace: ans,
            value,
        });
    }
    Ok(Element {
        prefix,
        local,
        namespace,
        attrs,
        declarations,
        children: Vec::new(),
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces_and_entities() {
        let root = parse(r#"<a:r xmlns:a="urn:a" xmlns="urn:d"><b x="1" a:y="&lt;">t&amp;u<![CDATA[<v>]]>&#65;</b><!-- c --></a:r>"#)
            .expect("valid");
        assert_eq!(root.namespace, "urn:a");
        let b = root.elements().next().expect("child");
        assert_eq!(b.namespace, "urn:d");
        assert_eq!(b.text(), "t&u<v>A");
        assert_eq!(b.attrs[1].namespace, "urn:a");
        assert_eq!(b.attrs[1].value, "<");
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("<a>\n  <b></c>\n</a>").expect_err("mismatched");
        assert_eq!(e.position().map(|p| p.line), Some(2));
        assert!(parse("<p:a/>").is_err());
        assert!(parse(&"<a>".repeat(300)).is_err());
    }
}
