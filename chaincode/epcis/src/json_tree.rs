//! A small JSON tree parser and writer that keeps numbers as written and records the
//! byte offset of every value, so errors can give line and column.
//!
//! We do not use `serde_json::Value` in the model path because it turns numbers into
//! `f64`/`u64` (losing `10.0` vs `10`) and forgets positions.

use crate::error::{ParseError, Position};
use std::borrow::Cow;

/// Maximum nesting depth accepted (protects the stack on hostile input).
const DEPTH_MAX: usize = 128;

/// A parsed JSON value with the byte offset where it starts. Strings and
/// numbers borrow from the parsed text unless they contain escapes (the
/// writer's trees own theirs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node<'a> {
    pub(crate) kind: Kind<'a>,
    pub(crate) offset: usize,
}

/// The JSON value kinds; numbers keep their lexical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    Null,
    Bool(bool),
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    pub(crate) fn new(kind: Kind<'a>) -> Node<'a> {
        Node { kind, offset: 0 }
    }

    pub(crate) fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Object(_) => "an object",
        }
    }
}

/// Parses a complete JSON text.
pub(crate) fn parse(text: &str) -> Result<Node<'_>, ParseError> {
    parse_with(text, false).map(|(node, _)| node)
}

/// Where the event list of an `EPCISDocument` or `EPCISQueryDocument` sits.
const EVENT_LISTS: [&[&str]; 2] = [
    &["epcisBody", "eventList"],
    &["epcisBody", "queryResults", "resultsBody", "eventList"],
];

/// Parses a complete JSON text like [`parse`], except that the elements of
/// an event list (`epcisBody.eventList`, `epcisBody.queryResults.resultsBody.eventList`)
/// are only checked, not built: each is a `null` placeholder carrying the
/// element's offset, to be built with [`parse_deferred`] when it is read (so
/// a large document never holds the tree of every event at once). Syntax
/// errors are the same as [`parse`]'s, found in the same order. The flag says
/// whether any element was deferred.
pub(crate) fn parse_deferring_events(text: &str) -> Result<(Node<'_>, bool), ParseError> {
    parse_with(text, true)
}

/// Builds the value deferred at `placeholder` by [`parse_deferring_events`]
/// on the same `text`.
pub(crate) fn parse_deferred<'a>(
    text: &'a str,
    placeholder: &Node<'_>,
) -> Result<Node<'a>, ParseError> {
    let mut p = Parser::new(text, false);
    p.pos = placeholder.offset;
    // Event list elements sit at depth 3 or 5; the first pass checked the limit.
    p.value(0)
}

fn parse_with(text: &str, defer_events: bool) -> Result<(Node<'_>, bool), ParseError> {
    let mut p = Parser::new(text, defer_events);
    p.skip_ws();
    let node = p.value(0)?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.error("trailing characters after the JSON value"));
    }
    Ok((node, p.deferred))
}

/// The index of the first `"`, `\\` or control byte at or after `i` (or the
/// length): eight bytes at a time while none of them can be one.
fn plain_run_end(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // `(x - ONES * n) & !x & HIGH` is non-zero if some byte of `x` is below
    // `n` (n <= 0x80), never missing one; a false alarm only ends the fast loop.
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let special = below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1)
            | below(x, 0x20);
        if special != 0 {
            break;
        }
        i += 8;
    }
    while i < bytes.len() && !matches!(bytes[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Defer event list elements (see [`parse_deferring_events`]).
    defer_events: bool,
    /// Whether any element was deferred.
    deferred: bool,
    /// `false` while checking a deferred element: arrays and objects are
    /// checked (including duplicate member names) but come back as `null`.
    build: bool,
    /// Member names from the root while every ancestor is an object (only
    /// kept while an event list can still be ahead).
    keys: Vec<Cow<'a, str>>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, defer_events: bool) -> Parser<'a> {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            defer_events,
            deferred: false,
            build: true,
            keys: Vec::new(),
        }
    }

    /// True if the array about to be parsed at `depth` is an event list.
    fn at_event_list(&self, depth: usize) -> bool {
        self.defer_events
            && self.build
            && self.keys.len() == depth
            && EVENT_LISTS.iter().any(|path| {
                path.len() == depth && path.iter().zip(&self.keys).all(|(a, b)| *a == b.as_ref())
            })
    }

    fn error(&self, message: &str) -> ParseError {
        ParseError::JsonSyntax {
            position: Position::from_offset(self.text, self.pos),
            message: message.to_string(),
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.bytes.len()
            && matches!(self.bytes[self.pos], b' ' | b'\t' | b'\n' | b'\r')
        {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, ParseError> {
        if depth > DEPTH_MAX {
            return Err(self.error("nesting too deep"));
        }
        let offset = self.pos;
        let kind = match self.bytes.get(self.pos) {
            None => return Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b't') => self.literal("true", Kind::Bool(true))?,
            Some(b'f') => self.literal("false", Kind::Bool(false))?,
            Some(b'n') => self.literal("null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => Kind::Number(self.number()?),
            Some(_) => return Err(self.error("expected a JSON value")),
        };
        Ok(Node { kind, offset })
    }

    fn literal(&mut self, word: &str, kind: Kind<'a>) -> Result<Kind<'a>, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(kind)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn number(&mut self) -> Result<Cow<'a, str>, ParseError> {
        let start = self.pos;
        let b = self.bytes;
        if b.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match b.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while self.pos < b.len() && b[self.pos].is_ascii_digit() {
                    self.pos += 1;
                }
            }
            _ => return Err(self.error("invalid number")),
        }
        if b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            let s = self.pos;
            while self.pos < b.len() && b[self.pos].is_ascii_digit() {
                self.pos += 1;
            }
            if s == self.pos {
                return Err(self.error("invalid number: digits expected after '.'"));
            }
        }
        if matches!(b.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(b.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let s = self.pos;
            while self.pos < b.len() && b[self.pos].is_ascii_digit() {
                self.pos += 1;
            }
            if s == self.pos {
                return Err(self.error("invalid number: digits expected in exponent"));
            }
        }
        Ok(Cow::Borrowed(&self.text[start..self.pos]))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let slice = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let mut v = 0u32;
        for c in slice {
            let d = (*c as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        // Opening quote.
        self.pos += 1;
        // Fast path: no escape before the closing quote borrows the text.
        let first = self.pos;
        let i = plain_run_end(self.bytes, first);
        if self.bytes.get(i) == Some(&b'"') {
            self.pos = i + 1;
            // We only stop at ASCII bytes, so this slice is valid UTF-8.
            return Ok(Cow::Borrowed(&self.text[first..i]));
        }
        let mut out = String::new();
        loop {
            let start = self.pos;
            self.pos = plain_run_end(self.bytes, self.pos);
            // The input is &str and we only stop at ASCII bytes, so this slice is valid UTF-8.
            out.push_str(&self.text[start..self.pos]);
            match self.bytes.get(self.pos) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = *self
                        .bytes
                        .get(self.pos)
                        .ok_or_else(|| self.error("unterminated escape"))?;
                    self.pos += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(self.error("unpaired surrogate in \\u escape"));
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.error("invalid low surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            let ch = char::from_u32(code)
                                .ok_or_else(|| self.error("invalid code point in \\u escape"))?;
                            out.push(ch);
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind<'a>, ParseError> {
        self.pos += 1;
        let defer = self.at_event_list(depth);
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(self.array_kind(items));
        }
        loop {
            self.skip_ws();
            if defer {
                self.build = false;
                let checked = self.value(depth + 1);
                self.build = true;
                let offset = checked?.offset;
                self.deferred = true;
                items.push(Node {
                    kind: Kind::Null,
                    offset,
                });
            } else {
                let item = self.value(depth + 1)?;
                if self.build {
                    items.push(item);
                }
            }
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(self.array_kind(items));
                }
                _ => return Err(self.error("expected ',' or ']' in array")),
            }
        }
    }

    fn array_kind(&self, items: Vec<Node<'a>>) -> Kind<'a> {
        if self.build {
            Kind::Array(items)
        } else {
            Kind::Null
        }
    }

    fn object(&mut self, depth: usize) -> Result<Kind<'a>, ParseError> {
        self.pos += 1;
        let mut members: Vec<(Cow<'a, str>, Node<'a>)> = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Kind::Object(members));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("expected a member name string"));
            }
            let key_pos = self.pos;
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                self.pos = key_pos;
                return Err(self.error(&format!("duplicate member \"{key}\"")));
            }
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected ':' after member name"));
            }
            self.pos += 1;
            self.skip_ws();
            // Track the member path while an event list can still be below it.
            let track = self.defer_events && self.build && depth < 4 && self.keys.len() == depth;
            if track {
                self.keys.push(key.clone());
            }
            let value = self.value(depth + 1);
            if track {
                self.keys.pop();
            }
            members.push((key, value?));
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(if self.build {
                        Kind::Object(members)
                    } else {
                        Kind::Null
                    });
                }
                _ => return Err(self.error("expected ',' or '}' in object")),
            }
        }
    }
}

/// Writes `node` as pretty-printed JSON (two-space indent).
pub(crate) fn write(node: &Node<'_>) -> String {
    let mut out = String::new();
    write_into(node, 0, &mut out);
    out.push('\n');
    out
}

fn indent(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_into(node: &Node<'_>, level: usize, out: &mut String) {
    match &node.kind {
        Kind::Null => out.push_str("null"),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Number(n) => out.push_str(n),
        Kind::String(s) => write_string(s, out),
        Kind::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, level + 1);
                write_into(item, level + 1, out);
            }
            indent(out, level);
            out.push(']');
        }
        Kind::Object(members) => {
            if members.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, level + 1);
                write_string(k, out);
                out.push_str(": ");
                write_into(v, level + 1, out);
            }
            indent(out, level);
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_write() {
        let n =
            parse(r#"{"a": [1, 2.50, -0e1, "x\u00e9\ud83d\ude00"], "b": {"c": null, "d": true}}"#)
                .expect("valid");
        let written = write(&n);
        let again = parse(&written).expect("valid");
        assert_eq!(strip(n), strip(again));
    }

    fn strip(mut n: Node<'_>) -> Node<'_> {
        n.offset = 0;
        n.kind = match n.kind {
            Kind::Array(v) => Kind::Array(v.into_iter().map(strip).collect()),
            Kind::Object(v) => Kind::Object(v.into_iter().map(|(k, v)| (k, strip(v))).collect()),
            k => k,
        };
        n
    }

    /// Replaces every event list placeholder by its deferred parse.
    fn undefer<'a>(text: &'a str, mut n: Node<'a>, keys: &[&str]) -> Node<'a> {
        let list = EVENT_LISTS.iter().any(|p| p == &keys);
        n.kind = match n.kind {
            Kind::Array(v) if list => Kind::Array(
                v.iter()
                    .map(|p| parse_deferred(text, p).expect("deferred value parses"))
                    .collect(),
            ),
            Kind::Object(v) => Kind::Object(
                v.into_iter()
                    .map(|(k, v)| {
                        let mut path = keys.to_vec();
                        path.push(&k);
                        let v = undefer(text, v, &path);
                        (k, v)
                    })
                    .collect(),
            ),
            k => k,
        };
        n
    }

    #[test]
    fn deferred_events_parse_like_the_whole_tree() {
        let docs = [
            r#"{"type":"EPCISDocument","epcisBody":{"eventList":[{"a":[1,{"b":"\u00e9"}]}, null, 3, {"x":{}}]}}"#,
            r#"{"epcisBody":{"queryResults":{"resultsBody":{"eventList":[{"type":"ObjectEvent"},[]]}}}}"#,
            r#"{"epcisBody":{"eventList":{"single":"object"}},"eventList":[1,2]}"#,
            r#"[{"epcisBody":{"eventList":[1]}}]"#,
            r#"{"epcisBody":{"eventList":[]}}"#,
        ];
        for text in docs {
            let whole = parse(text).expect("valid");
            let (root, _) = parse_deferring_events(text).expect("valid");
            assert_eq!(undefer(text, root, &[]), whole, "{text}");
        }
        let (_, deferred) = parse_deferring_events(docs[0]).expect("valid");
        assert!(deferred);
        let (_, deferred) = parse_deferring_events(docs[3]).expect("valid");
        assert!(!deferred);
        // Errors inside deferred elements are found in the first pass, at the same place.
        for bad in [
            r#"{"epcisBody":{"eventList":[{"a":1,"a":2}]}}"#,
            r#"{"epcisBody":{"eventList":[{"a":tru}]}}"#,
            r#"{"epcisBody":{"eventList":[{"a":1},]}}"#,
            r#"{"epcisBody":{"eventList":[{"a":1}}}"#,
        ] {
            let whole = parse(bad).expect_err("invalid");
            let deferred = parse_deferring_events(bad).expect_err("invalid");
            assert_eq!(whole, deferred, "{bad}");
        }
        let deep = format!(
            r#"{{"epcisBody":{{"eventList":[{}1{}]}}}}"#,
            "[".repeat(DEPTH_MAX),
            "]".repeat(DEPTH_MAX)
        );
        assert_eq!(
            parse(&deep).expect_err("too deep"),
            parse_deferring_events(&deep).expect_err("too deep")
        );
    }

    #[test]
    fn plain_runs_end_at_the_first_special_byte() {
        let specials = [b'"', b'\\', 0u8, 0x1f, b'\n'];
        let plain = [
            b'a', b' ', 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff, b'!', b'#',
        ];
        for len in 0..20 {
            for at in 0..=len {
                for &p in &plain {
                    for &sp in &specials {
                        let mut v = vec![p; len];
                        if at < len {
                            v[at] = sp;
                        }
                        let expected = v
                            .iter()
                            .position(|b| matches!(b, b'"' | b'\\' | 0..=0x1f))
                            .unwrap_or(len);
                        assert_eq!(plain_run_end(&v, 0), expected, "{v:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("{\n  \"a\": tru }").expect_err("invalid");
        assert_eq!(e.position(), Some(Position { line: 2, column: 8 }));
        assert!(parse("{\"a\":1,\"a\":2}").is_err());
        assert!(parse("[01]").is_err());
        assert!(parse(&"[".repeat(1000)).is_err());
    }
}
