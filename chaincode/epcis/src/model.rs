//! Typed EPCIS 2.0 / CBV 2.0 data model shared by the JSON-LD and XML bindings.
//!
//! Design rules (they matter for the event hash and for signing):
//! - Every value keeps its original lexical form: times are [`EpcisTime`] (the
//!   string as written, with [`EpcisTime::parse`] for the parsed form), numbers are
//!   [`Decimal`] (the digits as written, never `f64`), CBV values keep their
//!   spelling (bare word, URN or Web URI) and offer canonical accessors.
//! - One flat [`EpcisEvent`] struct covers all five event types; [`EventType`]
//!   says which one it is and `validate` checks which fields are allowed.
//!   Lists are `Option<Vec<_>>` so an empty list and an absent list stay distinct.
//! - User extensions are [`Extension`] trees carrying the resolved namespace URI,
//!   the local name and the original prefix ([`QName`]); order is document order.
//! - The serde derives are the internal canonical binary encoding (bincode 2, serde
//!   mode): no flatten, no untagged, no floats, no skipped fields. The JSON-LD and
//!   XML bindings are hand-written in `json` and `xml`.

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------
// Lexically preserved scalars
// ---------------------------------------------------------------------------

/// A decimal number kept exactly as written (JSON number or xsd:decimal/double text).
///
/// Construct with [`Decimal::parse`], which checks the syntax
/// (`-?digits(.digits)?([eE][+-]?digits)?`, a leading `+` and a bare leading or
/// trailing `.` are also accepted because xsd:decimal allows them).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Decimal(String);

impl Decimal {
    /// Checks the syntax of `text` (after trimming XML whitespace) and keeps it verbatim.
    pub fn parse(text: &str) -> Option<Decimal> {
        let t = text.trim();
        if is_decimal_syntax(t) {
            Some(Decimal(t.to_string()))
        } else {
            None
        }
    }

    /// The lexical form as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A canonical plain-decimal form: no exponent, no leading `+`, no leading zeros,
    /// no trailing fractional zeros, `-0` written as `0` (`10.0` → `10`, `1.50E2` → `150`).
    ///
    /// Exponents larger than 400 in magnitude are left unexpanded (returned as written).
    pub fn normalized(&self) -> String {
        normalize_decimal(&self.0).unwrap_or_else(|| self.0.clone())
    }
}

fn is_decimal_syntax(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - s;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

fn normalize_decimal(t: &str) -> Option<String> {
    if !is_decimal_syntax(t) {
        return None;
    }
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(p) => (&rest[..p], rest[p + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    if !(-400..=400).contains(&exponent) {
        return None;
    }
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(p) => (&mantissa[..p], &mantissa[p + 1..]),
        None => (mantissa, ""),
    };
    let digits: String = format!("{int_part}{frac_part}");
    // Position of the decimal point within `digits`.
    let point = int_part.len() as i64 + exponent;
    let (int_digits, frac_digits) = if point <= 0 {
        (
            String::new(),
            format!("{}{}", "0".repeat((-point) as usize), digits),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{}{}", digits, "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    let int_trimmed = int_digits.trim_start_matches('0');
    let frac_trimmed = frac_digits.trim_end_matches('0');
    let int_out = if int_trimmed.is_empty() {
        "0"
    } else {
        int_trimmed
    };
    let mut out = String::new();
    let zero = int_out == "0" && frac_trimmed.is_empty();
    if negative && !zero {
        out.push('-');
    }
    out.push_str(int_out);
    if !frac_trimmed.is_empty() {
        out.push('.');
        out.push_str(frac_trimmed);
    }
    Some(out)
}

/// An xsd:dateTime kept exactly as written; [`EpcisTime::parse`] gives the parsed form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EpcisTime(pub String);

/// The parsed form of an [`EpcisTime`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateTimeParts {
    /// Year (four or more digits as written; may be negative in theory, not here).
    pub year: i32,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31 (checked against the month and leap years).
    pub day: u8,
    /// Hour 0–23 (24:00:00 is rejected).
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–59 (leap seconds are rejected).
    pub second: u8,
    /// Fractional-second digits exactly as written, without the dot (may be empty).
    pub fraction_digits: String,
    /// Offset from UTC in minutes (`Z` = 0); `None` if the time had no offset.
    pub offset_minutes: Option<i16>,
}

impl DateTimeParts {
    /// Seconds since 1970-01-01T00:00:00Z of this instant, ignoring the fraction.
    /// A missing offset is treated as UTC.
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(self.year as i64, self.month as i64, self.day as i64);
        days * 86_400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64
            - self.offset_minutes.unwrap_or(0) as i64 * 60
    }

    /// The same instant written in UTC as `YYYY-MM-DDTHH:MM:SS[.fraction]Z`,
    /// keeping every fractional digit as written (no rounding).
    pub fn to_utc_string(&self) -> String {
        let secs = self.unix_seconds();
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            y,
            m,
            d,
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        );
        if !self.fraction_digits.is_empty() {
            s.push('.');
            s.push_str(&self.fraction_digits);
        }
        s.push('Z');
        s
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `(year, month, day)` of day `z` since 1970-01-01 (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl EpcisTime {
    /// Wraps a lexical time (not checked; see [`EpcisTime::parse`]).
    pub fn new(text: impl Into<String>) -> EpcisTime {
        EpcisTime(text.into())
    }

    /// The lexical form as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses `YYYY-MM-DDThh:mm:ss(.f+)?(Z|±hh:mm)?`; `None` if the syntax or a range is wrong.
    /// Seconds may be omitted (`hh:mm`, read as `hh:mm:00`; a fraction then is not allowed).
    pub fn parse(&self) -> Option<DateTimeParts> {
        parse_date_time(self.0.trim())
    }

    /// True if the time parses and carries an explicit offset (`Z` or `±hh:mm`).
    pub fn has_offset(&self) -> bool {
        self.parse().is_some_and(|p| p.offset_minutes.is_some())
    }
}

fn digits_at(b: &[u8], start: usize, n: usize) -> Option<u32> {
    let slice = b.get(start..start + n)?;
    let mut v = 0u32;
    for c in slice {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

fn parse_date_time(t: &str) -> Option<DateTimeParts> {
    let b = t.as_bytes();
    let mut year_len = 0;
    while year_len < b.len() && b[year_len].is_ascii_digit() {
        year_len += 1;
    }
    if !(4..=9).contains(&year_len) {
        return None;
    }
    let year = digits_at(b, 0, year_len)? as i32;
    let p = year_len;
    if b.get(p) != Some(&b'-') || b.get(p + 3) != Some(&b'-') || b.get(p + 6) != Some(&b'T') {
        return None;
    }
    let month = digits_at(b, p + 1, 2)? as u8;
    let day = digits_at(b, p + 4, 2)? as u8;
    let q = p + 7;
    if b.get(q + 2) != Some(&b':') {
        return None;
    }
    let hour = digits_at(b, q, 2)? as u8;
    let minute = digits_at(b, q + 3, 2)? as u8;
    // Lenient: `hh:mm` without seconds (seen in OpenEPCIS samples) reads as `hh:mm:00`.
    let (second, mut i, has_seconds) = if b.get(q + 5) == Some(&b':') {
        (digits_at(b, q + 6, 2)? as u8, q + 8, true)
    } else {
        (0, q + 5, false)
    };
    let mut fraction_digits = String::new();
    if b.get(i) == Some(&b'.') {
        if !has_seconds {
            return None;
        }
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return None;
        }
        fraction_digits = t[s..i].to_string();
    }
    let offset_minutes = match b.get(i) {
        None => None,
        Some(b'Z') if i + 1 == b.len() => Some(0),
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = digits_at(b, i + 1, 2)?;
            let om = digits_at(b, i + 4, 2)?;
            if oh > 14 || om > 59 || (oh == 14 && om != 0) {
                return None;
            }
            let v = (oh * 60 + om) as i16;
            Some(if sign == b'-' { -v } else { v })
        }
        _ => return None,
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day == 0
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(DateTimeParts {
        year,
        month,
        day,
        hour,
        minute,
        second,
        fraction_digits,
        offset_minutes,
    })
}

// ---------------------------------------------------------------------------
// CBV vocabulary values
// ---------------------------------------------------------------------------

/// How a CBV value was spelled in the source document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CbvSpelling {
    /// A bare word such as `commissioning` (JSON-LD form).
    BareWord,
    /// A URN such as `urn:epcglobal:cbv:bizstep:commissioning` (XML form).
    Urn,
    /// A GS1 Web URI such as `https://ref.gs1.org/cbv/BizStep-commissioning`.
    WebUri,
    /// The compact form `cbv:BizStep-commissioning` (JSON-LD CURIE, seen in XML too).
    Curie,
    /// Anything else (a custom URI, or an unknown word).
    Other,
}

macro_rules! cbv_type {
    ($(#[$doc:meta])* $name:ident, $urn:expr, $web:expr, $list:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub String);

        impl $name {
            /// The standard bare words of this code list (CBV 2.0).
            pub const STANDARD: &'static [&'static str] = $list;
            /// URN prefix of the standard values.
            pub const URN_PREFIX: &'static str = $urn;
            /// Web URI prefix of the standard values.
            pub const WEB_URI_PREFIX: &'static str = $web;

            /// Wraps a value in whatever spelling it was written.
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            /// The value exactly as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The spelling used in the source.
            pub fn spelling(&self) -> CbvSpelling {
                cbv_spelling(&self.0, Self::URN_PREFIX, Self::WEB_URI_PREFIX, Self::STANDARD)
            }

            /// The canonical bare word if this is a standard CBV value in any spelling
            /// (bare word, URN, Web URI or `cbv:` CURIE).
            pub fn bare_word(&self) -> Option<&str> {
                cbv_bare_word(&self.0, Self::URN_PREFIX, Self::WEB_URI_PREFIX, Self::STANDARD)
            }

            /// The GS1 Web URI (`https://ref.gs1.org/cbv/…`) for a standard value.
            pub fn web_uri(&self) -> Option<String> {
                self.bare_word().map(|w| format!("{}{}", Self::WEB_URI_PREFIX, w))
            }

            /// The URN (`urn:epcglobal:cbv:…`) for a standard value.
            pub fn urn(&self) -> Option<String> {
                self.bare_word().map(|w| format!("{}{}", Self::URN_PREFIX, w))
            }

            /// True if this is one of the standard values (in any of the three spellings).
            pub fn is_standard(&self) -> bool {
                self.bare_word().is_some()
            }

            /// The Web URI for a standard value, otherwise the value as written (trimmed).
            pub fn canonical_uri(&self) -> String {
                self.web_uri().unwrap_or_else(|| self.0.trim().to_string())
            }
        }
    };
}

fn cbv_bare_word<'a>(
    raw: &'a str,
    urn: &str,
    web: &str,
    list: &'static [&'static str],
) -> Option<&'a str> {
    let t = raw.trim();
    let word = t
        .strip_prefix(urn)
        .or_else(|| t.strip_prefix(web))
        .or_else(|| strip_cbv_curie(t, web))
        .unwrap_or(t);
    if list.contains(&word) {
        Some(word)
    } else {
        None
    }
}

/// Strips the CURIE form `cbv:BizStep-` (the Web URI prefix with `cbv:` for
/// `https://ref.gs1.org/cbv/`), as some XML producers write it.
fn strip_cbv_curie<'a>(t: &'a str, web: &str) -> Option<&'a str> {
    let local_prefix = web.strip_prefix("https://ref.gs1.org/cbv/")?;
    t.strip_prefix("cbv:")?.strip_prefix(local_prefix)
}

fn cbv_spelling(raw: &str, urn: &str, web: &str, list: &'static [&'static str]) -> CbvSpelling {
    let t = raw.trim();
    if list.contains(&t) {
        CbvSpelling::BareWord
    } else if t.strip_prefix(urn).is_some_and(|w| list.contains(&w)) {
        CbvSpelling::Urn
    } else if t.strip_prefix(web).is_some_and(|w| list.contains(&w)) {
        CbvSpelling::WebUri
    } else if strip_cbv_curie(t, web).is_some_and(|w| list.contains(&w)) {
        CbvSpelling::Curie
    } else {
        CbvSpelling::Other
    }
}

cbv_type!(
    /// A business step (CBV §7.1), e.g. `commissioning`.
    BizStep,
    "urn:epcglobal:cbv:bizstep:",
    "https://ref.gs1.org/cbv/BizStep-",
    &[
        "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
        "creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying",
        "disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting",
        "installing", "killing", "loading", "other", "packing", "picking", "receiving", "removing",
        "repackaging", "repairing", "replacing", "reserving", "retail_selling", "sampling",
        "sensor_reporting", "shipping", "staging_outbound", "stock_taking", "stocking", "storing",
        "transporting", "unloading", "unpacking", "void_shipping",
    ]
);

cbv_type!(
    /// A disposition (CBV §7.2), e.g. `active`.
    Disposition,
    "urn:epcglobal:cbv:disp:",
    "https://ref.gs1.org/cbv/Disp-",
    &[
        "active", "available", "completeness_inferred", "completeness_verified", "conformant",
        "container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
        "encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_class",
        "mismatch_instance", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
        "non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
        "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
        "unavailable", "unknown",
    ]
);

cbv_type!(
    /// A business transaction type (CBV §7.3), e.g. `po`.
    BizTransactionType,
    "urn:epcglobal:cbv:btt:",
    "https://ref.gs1.org/cbv/BTT-",
    &[
        "bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma",
        "testprd", "testres", "upevt",
    ]
);

cbv_type!(
    /// A source/destination type (CBV §7.4), e.g. `owning_party`.
    SourceDestType,
    "urn:epcglobal:cbv:sdt:",
    "https://ref.gs1.org/cbv/SDT-",
    &["owning_party", "possessing_party", "location"]
);

cbv_type!(
    /// An error-declaration reason (CBV §7.5), e.g. `incorrect_data`.
    ErrorReason,
    "urn:epcglobal:cbv:er:",
    "https://ref.gs1.org/cbv/ER-",
    &["did_not_occur", "incorrect_data"]
);

// ---------------------------------------------------------------------------
// Extensions
// ---------------------------------------------------------------------------

/// A qualified name: resolved namespace URI, local name and the prefix used in the source.
///
/// The event hash uses `{namespace}local`. `namespace` is empty for names in no
/// namespace (unprefixed JSON keys, unqualified XML child elements).
/// `prefix` is only for faithful writing and is not semantically significant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QName {
    /// Resolved namespace URI exactly as declared (e.g. `https://ns.example.com/epcis/`),
    /// empty if none.
    pub namespace: String,
    /// Local name.
    pub local: String,
    /// Prefix used in the source (`Some("example")` for `example:myField`), if any.
    pub prefix: Option<String>,
}

impl QName {
    /// True for names without a namespace that are JSON-LD keywords or their GS1
    /// context aliases (`id`, `type`, `@id`, `@type`): JSON-LD node identifiers and
    /// types kept for faithful writing, not user data.
    pub fn is_jsonld_keyword(&self) -> bool {
        self.namespace.is_empty()
            && self.prefix.is_none()
            && matches!(self.local.as_str(), "id" | "type" | "@id" | "@type")
    }

    /// The `{namespace}local` form used by the event hash (`local` alone if no namespace).
    pub fn expanded(&self) -> String {
        if self.namespace.is_empty() {
            self.local.clone()
        } else {
            format!("{{{}}}{}", self.namespace, self.local)
        }
    }

    /// `prefix:local` or `local`.
    pub fn prefixed(&self) -> String {
        match &self.prefix {
            Some(p) if !p.is_empty() => format!("{p}:{}", self.local),
            _ => self.local.clone(),
        }
    }
}

/// An XML attribute on an extension element.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionAttribute {
    /// Attribute name (namespace empty for unprefixed attributes).
    pub name: QName,
    /// Attribute value as written (entities decoded).
    pub value: String,
}

/// The content of an extension element.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExtensionValue {
    /// Text content (XML character data, JSON string). Not trimmed.
    Text(String),
    /// A JSON number, lexically preserved.
    Number(Decimal),
    /// A JSON boolean.
    Bool(bool),
    /// A JSON `null`.
    Null,
    /// Child elements (XML element children, JSON object members) in document order.
    Elements(Vec<Extension>),
    /// A JSON array. XML has no arrays: there, repeated sibling elements are separate
    /// [`Extension`]s with the same name.
    Array(Vec<ExtensionValue>),
}

/// A user extension element (or ILMD entry, or other preserved member).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// The element or member name.
    pub name: QName,
    /// XML attributes (always empty from JSON).
    pub attributes: Vec<ExtensionAttribute>,
    /// The content.
    pub value: ExtensionValue,
}

// ---------------------------------------------------------------------------
// Event parts
// ---------------------------------------------------------------------------

/// The five EPCIS event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// `ObjectEvent`.
    ObjectEvent,
    /// `AggregationEvent`.
    AggregationEvent,
    /// `TransactionEvent`.
    TransactionEvent,
    /// `TransformationEvent`.
    TransformationEvent,
    /// `AssociationEvent`.
    AssociationEvent,
}

impl EventType {
    /// The name used in both bindings (`ObjectEvent`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ObjectEvent => "ObjectEvent",
            EventType::AggregationEvent => "AggregationEvent",
            EventType::TransactionEvent => "TransactionEvent",
            EventType::TransformationEvent => "TransformationEvent",
            EventType::AssociationEvent => "AssociationEvent",
        }
    }

    /// Parses the exact (case-sensitive) name.
    pub fn from_name(name: &str) -> Option<EventType> {
        Some(match name {
            "ObjectEvent" => EventType::ObjectEvent,
            "AggregationEvent" => EventType::AggregationEvent,
            "TransactionEvent" => EventType::TransactionEvent,
            "TransformationEvent" => EventType::TransformationEvent,
            "AssociationEvent" => EventType::AssociationEvent,
            _ => return None,
        })
    }
}

/// The `action` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Action {
    /// `ADD`.
    Add,
    /// `OBSERVE`.
    Observe,
    /// `DELETE`.
    Delete,
}

impl Action {
    /// `ADD`, `OBSERVE` or `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "ADD",
            Action::Observe => "OBSERVE",
            Action::Delete => "DELETE",
        }
    }

    /// Parses the exact (case-sensitive) value after trimming whitespace.
    pub fn from_name(name: &str) -> Option<Action> {
        Some(match name.trim() {
            "ADD" => Action::Add,
            "OBSERVE" => Action::Observe,
            "DELETE" => Action::Delete,
            _ => return None,
        })
    }
}

/// A quantity element (`epcClass`, `quantity`, `uom`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantityElement {
    /// EPC class URI (LGTIN, GTIN class, DL URI…).
    pub epc_class: String,
    /// The quantity as written (`10`, `10.0`, `200.5`).
    pub quantity: Option<Decimal>,
    /// UN/CEFACT Rec 20 unit code.
    pub uom: Option<String>,
}

/// A business transaction reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BizTransaction {
    /// Transaction type (`po`, `urn:epcglobal:cbv:btt:po`, …), optional.
    pub transaction_type: Option<BizTransactionType>,
    /// The transaction identifier URI (JSON `bizTransaction`, XML element text).
    pub value: String,
}

/// A source or destination entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDest {
    /// Source/destination type (required by the standard; `None` only if missing in input).
    pub source_dest_type: Option<SourceDestType>,
    /// The party or location URI.
    pub value: String,
}

/// `persistentDisposition`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistentDisposition {
    /// Dispositions set.
    pub set: Option<Vec<Disposition>>,
    /// Dispositions unset.
    pub unset: Option<Vec<Disposition>>,
}

/// `readPoint` or `bizLocation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Location identifier URI (SGLN, DL URI, …). Empty if missing in input.
    pub id: String,
    /// Extension elements inside the location, in document order.
    pub extensions: Vec<Extension>,
}

/// `errorDeclaration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDeclaration {
    /// When the error was declared (required by the standard).
    pub declaration_time: Option<EpcisTime>,
    /// Reason (`incorrect_data`, `did_not_occur`, or a custom URI).
    pub reason: Option<ErrorReason>,
    /// IDs of corrective events.
    pub corrective_event_ids: Option<Vec<String>>,
    /// Extension elements inside the declaration.
    pub extensions: Vec<Extension>,
}

/// `certificationInfo`: one URI or an array of URIs (the JSON shape is preserved;
/// XML uses one element per URI and reads as `Single` when there is exactly one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificationInfo {
    /// A single URI.
    Single(String),
    /// Several URIs (written as an array in JSON).
    Many(Vec<String>),
}

impl CertificationInfo {
    /// All URIs in order.
    pub fn uris(&self) -> Vec<&str> {
        match self {
            CertificationInfo::Single(s) => vec![s.as_str()],
            CertificationInfo::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// `sensorMetadata` (XML attributes / JSON members).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorMetadata {
    /// `time`.
    pub time: Option<EpcisTime>,
    /// `startTime`.
    pub start_time: Option<EpcisTime>,
    /// `endTime`.
    pub end_time: Option<EpcisTime>,
    /// `deviceID`.
    pub device_id: Option<String>,
    /// `deviceMetadata`.
    pub device_metadata: Option<String>,
    /// `rawData`.
    pub raw_data: Option<String>,
    /// `dataProcessingMethod`.
    pub data_processing_method: Option<String>,
    /// `bizRules`.
    pub biz_rules: Option<String>,
    /// Extension attributes (XML) / namespaced members (JSON), as [`Extension`]s with
    /// [`ExtensionValue::Text`] values when they came from XML attributes.
    pub extensions: Vec<Extension>,
}

/// `sensorReport` (XML attributes / JSON members).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorReport {
    /// `type` (e.g. `gs1:Temperature`, `Temperature`, or a URI), as written.
    pub report_type: Option<String>,
    /// `exception` (`ALARM_CONDITION`, `ERROR_CONDITION`).
    pub exception: Option<String>,
    /// `deviceID`.
    pub device_id: Option<String>,
    /// `deviceMetadata`.
    pub device_metadata: Option<String>,
    /// `rawData`.
    pub raw_data: Option<String>,
    /// `dataProcessingMethod`.
    pub data_processing_method: Option<String>,
    /// `time`.
    pub time: Option<EpcisTime>,
    /// `microorganism`.
    pub microorganism: Option<String>,
    /// `chemicalSubstance`.
    pub chemical_substance: Option<String>,
    /// `value`.
    pub value: Option<Decimal>,
    /// `component` (e.g. `x`, `example:x`, CBV `Comp-…`).
    pub component: Option<String>,
    /// `stringValue`.
    pub string_value: Option<String>,
    /// `booleanValue`.
    pub boolean_value: Option<bool>,
    /// `hexBinaryValue`.
    pub hex_binary_value: Option<String>,
    /// `uriValue`.
    pub uri_value: Option<String>,
    /// `minValue`.
    pub min_value: Option<Decimal>,
    /// `maxValue`.
    pub max_value: Option<Decimal>,
    /// `meanValue`.
    pub mean_value: Option<Decimal>,
    /// `sDev`.
    pub s_dev: Option<Decimal>,
    /// `percRank`.
    pub perc_rank: Option<Decimal>,
    /// `percValue`.
    pub perc_value: Option<Decimal>,
    /// `uom`.
    pub uom: Option<String>,
    /// `coordinateReferenceSystem`.
    pub coordinate_reference_system: Option<String>,
    /// `bizRules` (in the GS1 JSON schema for sensorReport, not in the CBV hash order).
    pub biz_rules: Option<String>,
    /// Extension attributes / namespaced members.
    pub extensions: Vec<Extension>,
}

/// A `sensorElement`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorElement {
    /// `sensorMetadata`.
    pub sensor_metadata: Option<SensorMetadata>,
    /// `sensorReport` entries (at least one required by the standard).
    pub sensor_reports: Vec<SensorReport>,
    /// Extension elements of the sensor element.
    pub extensions: Vec<Extension>,
}

// ---------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------

/// One EPCIS event of any of the five types (flat: `event_type` selects the type,
/// `validate` checks which fields the type allows). Lists are `None` when absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpcisEvent {
    /// Which event type this is.
    pub event_type: EventType,
    /// `eventTime` (required by the standard; `None` only if missing in input).
    pub event_time: Option<EpcisTime>,
    /// `eventTimeZoneOffset` as written, e.g. `+01:00`.
    pub event_time_zone_offset: Option<String>,
    /// `recordTime`.
    pub record_time: Option<EpcisTime>,
    /// `eventID`.
    pub event_id: Option<String>,
    /// `errorDeclaration`.
    pub error_declaration: Option<ErrorDeclaration>,
    /// `certificationInfo`.
    pub certification_info: Option<CertificationInfo>,
    /// `parentID` (Aggregation, Association, Transaction).
    pub parent_id: Option<String>,
    /// `epcList` (Object, Transaction).
    pub epc_list: Option<Vec<String>>,
    /// `childEPCs` (Aggregation, Association).
    pub child_epcs: Option<Vec<String>>,
    /// `inputEPCList` (Transformation).
    pub input_epc_list: Option<Vec<String>>,
    /// `outputEPCList` (Transformation).
    pub output_epc_list: Option<Vec<String>>,
    /// `quantityList` (Object, Transaction).
    pub quantity_list: Option<Vec<QuantityElement>>,
    /// `childQuantityList` (Aggregation, Association).
    pub child_quantity_list: Option<Vec<QuantityElement>>,
    /// `inputQuantityList` (Transformation).
    pub input_quantity_list: Option<Vec<QuantityElement>>,
    /// `outputQuantityList` (Transformation).
    pub output_quantity_list: Option<Vec<QuantityElement>>,
    /// `transformationID` (Transformation).
    pub transformation_id: Option<String>,
    /// `action` (all but Transformation).
    pub action: Option<Action>,
    /// `bizStep`.
    pub biz_step: Option<BizStep>,
    /// `disposition`.
    pub disposition: Option<Disposition>,
    /// `persistentDisposition` (Object, Transformation).
    pub persistent_disposition: Option<PersistentDisposition>,
    /// `readPoint`.
    pub read_point: Option<Location>,
    /// `bizLocation`.
    pub biz_location: Option<Location>,
    /// `bizTransactionList`.
    pub biz_transaction_list: Option<Vec<BizTransaction>>,
    /// `sourceList`.
    pub source_list: Option<Vec<SourceDest>>,
    /// `destinationList`.
    pub destination_list: Option<Vec<SourceDest>>,
    /// `sensorElementList`.
    pub sensor_element_list: Option<Vec<SensorElement>>,
    /// `ilmd` children (Object, Transformation).
    pub ilmd: Option<Vec<Extension>>,
    /// Event-level user extensions, in document order.
    pub extensions: Vec<Extension>,
    /// Event-level JSON-LD `@context` entries (empty if none; JSON only).
    pub context: Vec<ContextEntry>,
    /// True if the event-level `@context` was a single value rather than an array.
    pub context_is_single: bool,
    /// XML namespace declarations on the event element (empty for JSON).
    pub xml_namespaces: Vec<NamespaceBinding>,
}

impl EpcisEvent {
    /// An event of the given type with every optional field absent.
    pub fn new(event_type: EventType) -> EpcisEvent {
        EpcisEvent {
            event_type,
            event_time: None,
            event_time_zone_offset: None,
            record_time: None,
            event_id: None,
            error_declaration: None,
            certification_info: None,
            parent_id: None,
            epc_list: None,
            child_epcs: None,
            input_epc_list: None,
            output_epc_list: None,
            quantity_list: None,
            child_quantity_list: None,
            input_quantity_list: None,
            output_quantity_list: None,
            transformation_id: None,
            action: None,
            biz_step: None,
            disposition: None,
            persistent_disposition: None,
            read_point: None,
            biz_location: None,
            biz_transaction_list: None,
            source_list: None,
            destination_list: None,
            sensor_element_list: None,
            ilmd: None,
            extensions: Vec::new(),
            context: Vec::new(),
            context_is_single: false,
            xml_namespaces: Vec::new(),
        }
    }

    /// The trimmed text of the ILMD element `{namespace}local`, if the event has
    /// one with a text value (the first such element).
    ///
    /// Namespaces are compared with trailing `:`, `#` and `/` removed, because
    /// bindings spell the same namespace differently (XML 1.2 documents declare
    /// `urn:epcglobal:cbv:mda`, JSON-LD expands `cbvmda:` to
    /// `urn:epcglobal:cbv:mda:`). An element whose prefix is the GS1 context's
    /// predefined prefix for `namespace` (`cbvmda`, `gs1`, …) also matches,
    /// whatever namespace the document bound it to or left undeclared.
    pub fn ilmd_text(&self, namespace: &str, local: &str) -> Option<&str> {
        let wanted = namespace.trim_end_matches([':', '#', '/']);
        let predefined = crate::json::DEFAULT_PREFIXES
            .iter()
            .find(|(_, ns)| ns.trim_end_matches([':', '#', '/']) == wanted)
            .map(|(prefix, _)| *prefix);
        self.ilmd.as_ref()?.iter().find_map(|e| {
            let matches = e.name.local == local
                && (e.name.namespace.trim_end_matches([':', '#', '/']) == wanted
                    || (predefined.is_some() && e.name.prefix.as_deref() == predefined));
            match (&e.value, matches) {
                (ExtensionValue::Text(text), true) => Some(text.trim()),
                _ => None,
            }
        })
    }
}

// ---------------------------------------------------------------------------
// Document
// ---------------------------------------------------------------------------

/// `EPCISDocument` (capture) or `EPCISQueryDocument` (query results).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DocumentKind {
    /// `EPCISDocument`.
    Document,
    /// `EPCISQueryDocument`.
    QueryDocument,
    /// A single bare event object (JSON) or a bare event element (XML), no wrapper.
    BareEvent,
}

/// A prefix → namespace mapping (JSON-LD `@context` object member, XML `xmlns:p`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceBinding {
    /// The prefix (`example`); empty for an XML default namespace.
    pub prefix: String,
    /// The namespace URI.
    pub namespace: String,
}

/// One entry of a JSON-LD `@context` (string, or object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContextEntry {
    /// A context URI such as `https://ref.gs1.org/standards/epcis/epcis-context.jsonld`.
    Uri(String),
    /// An object whose members map prefixes to namespace strings.
    Prefixes(Vec<NamespaceBinding>),
    /// Any other object (term definitions, `@vocab`, …), preserved as an extension tree
    /// (member names unresolved: `namespace` empty, `local` = the key).
    Object(Vec<Extension>),
}

/// An attribute of a vocabulary element (`{id, attribute}` in JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VocabularyAttribute {
    /// Attribute id (URI or CURIE as written).
    pub id: String,
    /// The value (text, or a nested structure).
    pub value: ExtensionValue,
    /// Extra XML attributes on the `<attribute>` element besides `id`.
    pub xml_attributes: Vec<ExtensionAttribute>,
}

/// A vocabulary element (master data for one identifier).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VocabularyElement {
    /// The identifier the master data describes.
    pub id: String,
    /// Attributes.
    pub attributes: Vec<VocabularyAttribute>,
    /// Child identifiers (`children`).
    pub children: Option<Vec<String>>,
    /// Other members / elements preserved.
    pub extensions: Vec<Extension>,
}

/// A vocabulary (`type` + elements).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Vocabulary type URI (e.g. `urn:epcglobal:epcis:vtype:BusinessLocation`).
    pub vocabulary_type: String,
    /// Elements.
    pub elements: Vec<VocabularyElement>,
    /// Other members / elements preserved.
    pub extensions: Vec<Extension>,
}

/// `epcisHeader`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpcisHeader {
    /// `epcisMasterData.vocabularyList`.
    pub master_data: Option<Vec<Vocabulary>>,
    /// Everything else in the header in document order (e.g. the XML
    /// `sbdh:StandardBusinessDocumentHeader` tree), preserved.
    pub extensions: Vec<Extension>,
}

/// An EPCIS document (or a single bare event read as a one-event document).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpcisDocument {
    /// Document or query document (or bare event).
    pub kind: DocumentKind,
    /// JSON-LD `@context` entries in order (empty for XML).
    pub context: Vec<ContextEntry>,
    /// True if `@context` was a single value rather than an array (JSON shape only).
    pub context_is_single: bool,
    /// XML namespace declarations on the root element (empty for JSON).
    pub xml_namespaces: Vec<NamespaceBinding>,
    /// `schemaVersion`.
    pub schema_version: Option<String>,
    /// `creationDate`.
    pub creation_date: Option<EpcisTime>,
    /// `epcisHeader`.
    pub header: Option<EpcisHeader>,
    /// `queryName` (query documents).
    pub query_name: Option<String>,
    /// `subscriptionID` (query documents).
    pub subscription_id: Option<String>,
    /// The events, in document order.
    pub events: Vec<EpcisEvent>,
    /// Other top-level members (`id`, `sender`, `receiver`, `instanceIdentifier`,
    /// XML root-level extension elements, …), preserved in order.
    pub extensions: Vec<Extension>,
    /// Namespaced members of `epcisBody.queryResults` (JSON) / `QueryResults` (XML),
    /// e.g. a repository's `ignoreFields`, preserved in order.
    pub query_extensions: Vec<Extension>,
    /// XML attributes on the root element other than `schemaVersion`,
    /// `creationDate` and namespace declarations (e.g. `xsi:schemaLocation`).
    pub xml_attributes: Vec<ExtensionAttribute>,
}

impl EpcisDocument {
    /// An empty document of the given kind.
    pub fn new(kind: DocumentKind) -> EpcisDocument {
        EpcisDocument {
            kind,
            context: Vec::new(),
            context_is_single: false,
            xml_namespaces: Vec::new(),
            schema_version: None,
            creation_date: None,
            header: None,
            query_name: None,
            subscription_id: None,
            events: Vec::new(),
            extensions: Vec::new(),
            query_extensions: Vec::new(),
            xml_attributes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ilmd(namespace: &str, prefix: Option<&str>, local: &str, text: &str) -> Extension {
        Extension {
            name: QName {
                namespace: namespace.to_string(),
                local: local.to_string(),
                prefix: prefix.map(str::to_string),
            },
            attributes: Vec::new(),
            value: ExtensionValue::Text(text.to_string()),
        }
    }

    #[test]
    fn ilmd_text_normalises_namespaces() {
        let mut e = EpcisEvent::new(EventType::ObjectEvent);
        assert_eq!(e.ilmd_text("urn:epcglobal:cbv:mda", "lotNumber"), None);
        e.ilmd = Some(vec![
            ilmd("urn:example:", Some("ex"), "lotNumber", "other"),
            ilmd(
                "urn:epcglobal:cbv:mda:",
                Some("cbvmda"),
                "lotNumber",
                " LOT1 ",
            ),
            ilmd(
                "urn:epcglobal:cbv:mda",
                None,
                "itemExpirationDate",
                "2026-12-31",
            ),
            ilmd("", Some("cbvmda"), "bestBeforeDate", "2026-01-31"),
            ilmd("urn:example", None, "bestBeforeDate", "2027-01-31"),
        ]);
        for ns in ["urn:epcglobal:cbv:mda", "urn:epcglobal:cbv:mda:"] {
            assert_eq!(e.ilmd_text(ns, "lotNumber"), Some("LOT1"));
            assert_eq!(e.ilmd_text(ns, "itemExpirationDate"), Some("2026-12-31"));
            // Undeclared prefix: the predefined prefix still identifies it.
            assert_eq!(e.ilmd_text(ns, "bestBeforeDate"), Some("2026-01-31"));
        }
        assert_eq!(e.ilmd_text("urn:example/", "lotNumber"), Some("other"));
        assert_eq!(
            e.ilmd_text("urn:example", "bestBeforeDate"),
            Some("2027-01-31")
        );
        assert_eq!(e.ilmd_text("urn:epcglobal:cbv:mda", "sellByDate"), None);
    }

    #[test]
    fn decimal_normalization() {
        let n = |s: &str| Decimal::parse(s).map(|d| d.normalized());
        assert_eq!(n("10.0").as_deref(), Some("10"));
        assert_eq!(n("1.50E2").as_deref(), Some("150"));
        assert_eq!(n("-0.0").as_deref(), Some("0"));
        assert_eq!(n("0.0100").as_deref(), Some("0.01"));
        assert_eq!(n("1e-3").as_deref(), Some("0.001"));
        assert_eq!(n("abc"), None);
        assert_eq!(n("."), None);
    }

    #[test]
    fn time_parsing() {
        let t = EpcisTime::new("2024-03-01T09:30:00.123+01:00");
        let p = t.parse().expect("valid");
        assert_eq!(p.offset_minutes, Some(60));
        assert_eq!(p.to_utc_string(), "2024-03-01T08:30:00.123Z");
        assert!(EpcisTime::new("2024-02-30T00:00:00Z").parse().is_none());
        assert!(EpcisTime::new("2024-02-29T00:00:00").parse().is_some());
        assert!(!EpcisTime::new("2024-02-29T00:00:00").has_offset());
    }

    #[test]
    fn cbv_spellings() {
        for raw in [
            "commissioning",
            "urn:epcglobal:cbv:bizstep:commissioning",
            "https://ref.gs1.org/cbv/BizStep-commissioning",
        ] {
            let b = BizStep::new(raw);
            assert_eq!(b.bare_word(), Some("commissioning"));
            assert_eq!(
                b.web_uri().as_deref(),
                Some("https://ref.gs1.org/cbv/BizStep-commissioning")
            );
        }
        assert_eq!(BizStep::new("https://example.com/x").bare_word(), None);
        assert_eq!(
            BizStep::new("urn:epcglobal:cbv:bizstep:x").spelling(),
            CbvSpelling::Other
        );
    }

    #[test]
    fn bincode_roundtrip() {
        let mut e = EpcisEvent::new(EventType::ObjectEvent);
        e.quantity_list = Some(vec![QuantityElement {
            epc_class: "urn:epc:class:lgtin:4012345.012345.998877".into(),
            quantity: Decimal::parse("200.0"),
            uom: Some("KGM".into()),
        }]);
        e.extensions.push(Extension {
            name: QName {
                namespace: "https://ns.example.com/".into(),
                local: "a".into(),
                prefix: Some("ex".into()),
            },
            attributes: vec![],
            value: ExtensionValue::Array(vec![ExtensionValue::Bool(true), ExtensionValue::Null]),
        });
        let mut d = EpcisDocument::new(DocumentKind::Document);
        d.events.push(e);
        let cfg = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&d, cfg).expect("encode");
        let (back, _): (EpcisDocument, usize) =
            bincode::serde::decode_from_slice(&bytes, cfg).expect("decode");
        assert_eq!(back, d);
    }
}
