//! `GET /events` and `GET /events/{eventID}` (EPCIS 2.0 REST binding, §4.2–4.3), and the
//! query engine shared by the browse endpoints ([`super::browse`]) and named queries
//! ([`super::queries`]).
//!
//! Supported parameters (every one is listed in `/openapi.json` and `docs/api.md`):
//! - type and time: `eventType`, `GE_|LT_eventTime`, `GE_|LT_recordTime`;
//! - fields: `EQ_action`, `EQ_bizStep`, `EQ_disposition`, `EQ_persistentDisposition_set`,
//!   `EQ_persistentDisposition_unset`, `EQ_readPoint`, `WD_readPoint`, `EQ_bizLocation`,
//!   `WD_bizLocation`, `EQ_transformationID`, `EQ_eventID` (event ID or hash ID);
//! - EPCs: `MATCH_epc`, `MATCH_parentID`, `MATCH_inputEPC`, `MATCH_outputEPC`,
//!   `MATCH_anyEPC`, `MATCH_epcClass`, `MATCH_inputEPCClass`, `MATCH_outputEPCClass`,
//!   `MATCH_anyEPCClass`; quantities `EQ_|GT_|GE_|LT_|LE_quantity` (optionally `_{UOM}`);
//! - business transactions, sources, destinations: `EQ_bizTransaction_{type}`,
//!   `EQ_source_{type}`, `EQ_destination_{type}`;
//! - errors: `EXISTS_errorDeclaration`, `GE_|LT_errorDeclarationTime` (also spelled
//!   `…_errorDeclaration_Time`), `EQ_errorReason`, `EQ_correctiveEventID`;
//! - sensors: `EXISTS_sensorElementList`, `EQ_type`, `EQ_deviceID`,
//!   `EQ_dataProcessingMethod`, `EQ_microorganism`, `EQ_chemicalSubstance`, `EQ_bizRules`,
//!   `EQ_stringValue`, `EQ_booleanValue`, `EQ_hexBinaryValue`, `EQ_uriValue`,
//!   `GE_|LT_time`, `GE_|LT_startTime`, `GE_|LT_endTime`, `GT_|GE_|LT_|LE_percRank`,
//!   `EQ_|GT_|GE_|LT_|LE_value[_{UOM}]` and `GT_|GE_|LT_|LE_{minValue|maxValue|meanValue|sDev|percValue}[_{UOM}]`;
//! - extension fields: `EQ_|GT_|GE_|LT_|LE_|EXISTS_ILMD_{prefix:name}` (ILMD) and
//!   `EQ_|GT_|GE_|LT_|LE_|EXISTS_{prefix:name}` (event-level extensions), each also as
//!   `…_INNER_…` (`EQ_INNER_{prefix:name}`, `EXISTS_INNER_ILMD_{prefix:name}`, …), which
//!   matches an element nested at any depth inside a top-level extension element instead of
//!   the top-level element itself. `EQATTR_`/`HASATTR_` need master data, which the ledger
//!   does not keep: 400 naming the parameter;
//! - shaping: `orderBy` (`eventTime` | `recordTime`), `orderDirection` (`ASC` | `DESC`,
//!   default `DESC`), `eventCountLimit`, `maxEventCount`, `perPage` (default 30, at most
//!   [`super::PER_PAGE_MAX`]) and `nextPageToken`.
//!
//! Any other parameter, a repeated parameter or a malformed value is a 400
//! `QueryParameterException` naming the parameter. List values are pipe-delimited; CBV
//! values may be bare words, URNs or Web URIs; EPCs and locations may be EPC URNs or GS1
//! Digital Link URIs (both are normalised to canonical Digital Link before comparison).
//! EPC patterns (`idpat`) are not supported. There is no location master data, so
//! `WD_readPoint`/`WD_bizLocation` match the location itself and its sub-locations (the
//! same GLN with an AI 254 extension). Numeric comparisons use the decimal value.
//! A sensor parameter holds if any sensor report (or, for metadata fields, any sensor
//! element) of the event satisfies it; each parameter is judged on its own.
//!
//! A query with an EPC parameter (`MATCH_epc`, `MATCH_parentID`, `MATCH_inputEPC`,
//! `MATCH_outputEPC` or `MATCH_anyEPC`) reads its candidates from the ledger's EPC index
//! ([`Candidates`]): every match mentions one of that parameter's EPCs, so only the events
//! that do are read, whatever the ledger's size. Without one, `EQ_bizLocation` or
//! `EQ_readPoint`, then `EQ_bizStep` or `EQ_disposition`, read theirs from the field index
//! the same way. Other queries read every event.
//!
//! Without `orderBy`, events stream in ledger (record) order and the page token is the
//! last sequence number seen. With `orderBy`, `eventCountLimit` or `maxEventCount`, the
//! matching events (scanning at most [`super::QUERY_SCAN_MAX`]) are sorted and the token
//! is an offset pinned to the ledger's sequence number at the first page, so later
//! captures do not shift pages.

use super::auth::ReadAuth;
use super::binding::Presentation;
use super::epc;
use super::error::ApiError;
use super::util::{self, Format, epcis_time_ms, negotiate, parse_query};
use super::{
    EventField, PER_PAGE_DEFAULT, PER_PAGE_MAX, QUERY_SCAN_MAX, ReadError, Shared, StoredEvent,
};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pedigree_epcis::model::{
    Action, BizStep, BizTransactionType, ContextEntry, Decimal, Disposition, DocumentKind,
    EpcisDocument, EpcisEvent, EpcisTime, ErrorReason, EventType, Extension, ExtensionValue,
    SensorReport, SourceDestType,
};

const SCAN_BATCH: usize = 1_000;

/// A comparison operator of a query parameter name (`EQ_`, `GT_`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn from_prefix(prefix: &str) -> Option<Cmp> {
        Some(match prefix {
            "EQ" => Cmp::Eq,
            "GT" => Cmp::Gt,
            "GE" => Cmp::Ge,
            "LT" => Cmp::Lt,
            "LE" => Cmp::Le,
            _ => return None,
        })
    }

    fn holds(self, have: f64, want: f64) -> bool {
        match self {
            Cmp::Eq => have == want,
            Cmp::Gt => have > want,
            Cmp::Ge => have >= want,
            Cmp::Lt => have < want,
            Cmp::Le => have <= want,
        }
    }
}

/// Where an extension-field parameter looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExtArea {
    Ilmd,
    Event,
}

/// A sensor report's numeric metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Value,
    MinValue,
    MaxValue,
    MeanValue,
    SDev,
    PercValue,
    PercRank,
}

/// A sensor text field compared with `EQ_…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SensorText {
    Type,
    DeviceId,
    DataProcessingMethod,
    Microorganism,
    ChemicalSubstance,
    BizRules,
    StringValue,
    HexBinaryValue,
    UriValue,
}

/// A sensor time field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SensorTime {
    Time,
    StartTime,
    EndTime,
}

/// Filters beyond the fixed fields of [`EventQuery`].
#[derive(Debug, Clone)]
enum Filter {
    Quantity {
        cmp: Cmp,
        value: f64,
        uom: Option<String>,
    },
    /// `values` empty with `cmp == None` means `EXISTS_`. `inner`: the `_INNER_` forms, which
    /// look at every element nested in a top-level extension element instead of the top level.
    Extension {
        area: ExtArea,
        inner: bool,
        cmp: Option<Cmp>,
        prefix: String,
        local: String,
        values: Vec<String>,
    },
    SensorText {
        field: SensorText,
        values: Vec<String>,
    },
    SensorBool(bool),
    SensorNumber {
        metric: Metric,
        cmp: Cmp,
        value: f64,
        uom: Option<String>,
    },
    SensorTime {
        field: SensorTime,
        ge: bool,
        ms: i64,
    },
    ExistsSensor,
    ExistsError,
    ErrorTime {
        ge: bool,
        ms: i64,
    },
    ErrorReason(Vec<String>),
    CorrectiveEventId(Vec<String>),
    TransformationId(Vec<String>),
    PersistentDisposition {
        set: bool,
        values: Vec<String>,
    },
    BizTransaction {
        kind: String,
        values: Vec<String>,
    },
    SourceDest {
        destination: bool,
        kind: String,
        values: Vec<String>,
    },
    ClassMatch {
        fields: &'static [&'static str],
        values: Vec<String>,
    },
    Within {
        read_point: bool,
        values: Vec<String>,
    },
}

/// A parsed event query (`GET /events`, a browse endpoint or a named query).
#[derive(Debug, Default, Clone)]
pub struct EventQuery {
    event_types: Option<Vec<EventType>>,
    ge_event_time: Option<i64>,
    lt_event_time: Option<i64>,
    ge_record_time: Option<i64>,
    lt_record_time: Option<i64>,
    actions: Option<Vec<Action>>,
    biz_steps: Option<Vec<String>>,
    dispositions: Option<Vec<String>>,
    read_points: Option<Vec<String>>,
    biz_locations: Option<Vec<String>>,
    match_epc: Option<Vec<String>>,
    match_parent: Option<Vec<String>>,
    match_input: Option<Vec<String>>,
    match_output: Option<Vec<String>>,
    match_any: Option<Vec<String>>,
    match_class: Option<Vec<String>>,
    event_ids: Option<Vec<String>>,
    filters: Vec<Filter>,
    order_by: Option<OrderBy>,
    descending: bool,
    event_count_limit: Option<usize>,
    max_event_count: Option<usize>,
    per_page: usize,
    token: Option<Token>,
    /// The pairs as given (minus the token and fixed filters), to build `Link` headers.
    pairs: Vec<(String, String)>,
    /// The resource path the `Link` header points at (`/events` unless a browse or
    /// named-query resource).
    base: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderBy {
    EventTime,
    RecordTime,
}

/// An opaque `nextPageToken` (hex on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// Streaming: continue after this sequence number.
    After(u64),
    /// Sorted: skip `offset` matches among events with `seq <= pinned`.
    Offset {
        /// Matches already returned.
        offset: usize,
        /// The highest event sequence number when the query started.
        pinned: u64,
    },
}

impl Token {
    fn encode(self) -> String {
        let text = match self {
            Token::After(seq) => format!("a{seq}"),
            Token::Offset { offset, pinned } => format!("o{offset}.{pinned}"),
        };
        hex::encode(text)
    }

    fn decode(text: &str) -> Option<Token> {
        let raw = String::from_utf8(hex::decode(text.trim()).ok()?).ok()?;
        if let Some(seq) = raw.strip_prefix('a') {
            return Some(Token::After(seq.parse().ok()?));
        }
        let (offset, pinned) = raw.strip_prefix('o')?.split_once('.')?;
        Some(Token::Offset {
            offset: offset.parse().ok()?,
            pinned: pinned.parse().ok()?,
        })
    }
}

/// Splits a pipe-delimited list value.
pub fn list(value: &str) -> Vec<String> {
    value
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn non_empty_list(name: &str, value: &str) -> Result<Vec<String>, ApiError> {
    let values = list(value);
    if values.is_empty() {
        return Err(ApiError::query_param(name, "needs at least one value"));
    }
    Ok(values)
}

fn time_param(name: &str, value: &str) -> Result<i64, ApiError> {
    epcis_time_ms(value).ok_or_else(|| {
        ApiError::query_param(
            name,
            format!("`{value}` is not an xsd:dateTime (e.g. 2026-01-02T09:30:00Z)"),
        )
    })
}

pub(super) fn count_param(
    name: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match value.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::query_param(
            name,
            format!("`{value}` is not an integer between {min} and {max}"),
        )),
    }
}

fn number_param(name: &str, value: &str) -> Result<f64, ApiError> {
    Decimal::parse(value)
        .and_then(|d| d.normalized().parse::<f64>().ok())
        .filter(|n| n.is_finite())
        .ok_or_else(|| ApiError::query_param(name, format!("`{value}` is not a decimal number")))
}

fn bool_param(name: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ApiError::query_param(
            name,
            format!("`{other}` is not true or false"),
        )),
    }
}

fn decimal_value(d: &Decimal) -> Option<f64> {
    d.normalized().parse::<f64>().ok()
}

fn normalized(values: Vec<String>) -> Vec<String> {
    values.iter().map(|v| epc::normalize(v)).collect()
}

/// A unit of measure suffix: 2 to 4 upper-case letters or digits (UN/CEFACT rec 20).
fn uom_suffix(name: &str, suffix: &str) -> Result<Option<String>, ApiError> {
    if suffix.is_empty() {
        return Ok(None);
    }
    let uom = suffix.strip_prefix('_').unwrap_or("");
    if (2..=4).contains(&uom.len())
        && uom
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Ok(Some(uom.to_string()))
    } else {
        Err(ApiError::query_param(
            name,
            "the unit of measure suffix must be 2 to 4 upper-case letters or digits",
        ))
    }
}

/// `prefix:name` of an extension-field parameter.
fn qualified(name: &str, field: &str) -> Result<(String, String), ApiError> {
    match field.split_once(':') {
        Some((prefix, local))
            if !prefix.is_empty()
                && !local.is_empty()
                && prefix.bytes().all(|b| b.is_ascii_alphanumeric())
                && local
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Ok((prefix.to_string(), local.to_string()))
        }
        _ => Err(ApiError::query_param(
            name,
            "the field must be written `prefix:localName` (e.g. EQ_ILMD_cbvmda:lotNumber)",
        )),
    }
}

/// Namespaces of the prefixes predefined by the EPCIS 2.0 JSON-LD context.
fn known_namespace(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "cbvmda" => "urn:epcglobal:cbv:mda:",
        "gs1" => "https://gs1.org/voc/",
        "epcis" => "https://ref.gs1.org/epcis/",
        "cbv" => "https://ref.gs1.org/cbv/",
        _ => return None,
    })
}

fn same_namespace(a: &str, b: &str) -> bool {
    a.trim_end_matches([':', '/', '#']) == b.trim_end_matches([':', '/', '#'])
}

/// The field of an extension parameter after its operator, and where it looks:
/// `[INNER_][ILMD_]{prefix:name}`.
fn extension_field(rest: &str) -> (bool, ExtArea, &str) {
    let (inner, rest) = match rest.strip_prefix("INNER_") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    match rest.strip_prefix("ILMD_") {
        Some(field) => (inner, ExtArea::Ilmd, field),
        None => (inner, ExtArea::Event, rest),
    }
}

/// Every element nested in `value`, at any depth, in document order (parents first).
fn nested_elements<'a>(value: &'a ExtensionValue, out: &mut Vec<&'a Extension>) {
    match value {
        ExtensionValue::Elements(children) => {
            for child in children {
                out.push(child);
                nested_elements(&child.value, out);
            }
        }
        ExtensionValue::Array(items) => {
            for item in items {
                nested_elements(item, out);
            }
        }
        _ => {}
    }
}

fn extension_named<'a>(
    list: impl IntoIterator<Item = &'a Extension>,
    prefix: &str,
    local: &str,
) -> Vec<&'a Extension> {
    list.into_iter()
        .filter(|e| {
            e.name.local == local
                && (e.name.prefix.as_deref() == Some(prefix)
                    || known_namespace(prefix)
                        .is_some_and(|ns| same_namespace(ns, &e.name.namespace)))
        })
        .collect()
}

fn extension_matches(value: &ExtensionValue, cmp: Cmp, wanted: &[String]) -> bool {
    match value {
        ExtensionValue::Array(items) => items.iter().any(|v| extension_matches(v, cmp, wanted)),
        ExtensionValue::Text(text) => match cmp {
            Cmp::Eq => wanted.iter().any(|w| w == text.trim()),
            _ => {
                // Ordered comparisons: numbers, then xsd:dateTime/date text.
                let Some(want) = wanted.first() else {
                    return false;
                };
                if let (Ok(h), Ok(w)) = (text.trim().parse::<f64>(), want.parse::<f64>()) {
                    return cmp.holds(h, w);
                }
                let order = text.trim().cmp(want.as_str());
                match cmp {
                    Cmp::Gt => order.is_gt(),
                    Cmp::Ge => order.is_ge(),
                    Cmp::Lt => order.is_lt(),
                    Cmp::Le => order.is_le(),
                    Cmp::Eq => order.is_eq(),
                }
            }
        },
        ExtensionValue::Number(n) => {
            let Some(h) = decimal_value(n) else {
                return false;
            };
            wanted
                .iter()
                .filter_map(|w| w.parse::<f64>().ok())
                .any(|w| cmp.holds(h, w))
        }
        ExtensionValue::Bool(b) => cmp == Cmp::Eq && wanted.iter().any(|w| *w == b.to_string()),
        ExtensionValue::Null | ExtensionValue::Elements(_) => false,
    }
}

/// Bare GS1 vocabulary word of a sensor `type` (`gs1:Temperature`, the Web URI or the word).
fn measurement_key(value: &str) -> String {
    let v = value.trim();
    v.strip_prefix("gs1:")
        .or_else(|| v.strip_prefix("https://gs1.org/voc/"))
        .unwrap_or(v)
        .to_string()
}

fn metric(report: &SensorReport, metric: Metric) -> Option<f64> {
    let value = match metric {
        Metric::Value => &report.value,
        Metric::MinValue => &report.min_value,
        Metric::MaxValue => &report.max_value,
        Metric::MeanValue => &report.mean_value,
        Metric::SDev => &report.s_dev,
        Metric::PercValue => &report.perc_value,
        Metric::PercRank => &report.perc_rank,
    };
    value.as_ref().and_then(decimal_value)
}

fn sensor_text(report: &SensorReport, field: SensorText) -> Option<String> {
    match field {
        SensorText::Type => report.report_type.as_deref().map(measurement_key),
        SensorText::DeviceId => report.device_id.clone(),
        SensorText::DataProcessingMethod => report.data_processing_method.clone(),
        SensorText::Microorganism => report.microorganism.clone(),
        SensorText::ChemicalSubstance => report.chemical_substance.clone(),
        SensorText::BizRules => report.biz_rules.clone(),
        SensorText::StringValue => report.string_value.clone(),
        SensorText::HexBinaryValue => report.hex_binary_value.clone(),
        SensorText::UriValue => report.uri_value.clone(),
    }
}

pub(super) fn biz_step_key(value: &str) -> String {
    let step = BizStep::new(value.trim());
    step.bare_word().unwrap_or(value.trim()).to_string()
}

pub(super) fn disposition_key(value: &str) -> String {
    let d = Disposition::new(value.trim());
    d.bare_word().unwrap_or(value.trim()).to_string()
}

fn within(want: &[String], have: &str) -> bool {
    let have = epc::normalize(have);
    want.iter().any(|w| {
        have == *w
            || have
                .strip_prefix(w.as_str())
                .is_some_and(|r| r.starts_with('/'))
    })
}

impl EventQuery {
    /// Parses a query string; unknown or malformed parameters are 400s naming the parameter.
    pub fn parse(raw: Option<&str>) -> Result<EventQuery, ApiError> {
        EventQuery::from_pairs(parse_query(raw)?, &[], "/events")
    }

    /// Parses `pairs` (query-string order), then applies `fixed` (filters implied by the
    /// resource path, e.g. `/bizSteps/{bizStep}/events`) without echoing them in `Link`
    /// headers, which point at `base`.
    pub fn from_pairs(
        pairs: Vec<(String, String)>,
        fixed: &[(&str, String)],
        base: &str,
    ) -> Result<EventQuery, ApiError> {
        let mut q = EventQuery {
            per_page: PER_PAGE_DEFAULT,
            descending: true,
            base: base.to_string(),
            ..EventQuery::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for (name, value) in fixed {
            seen.insert(name.to_string());
            q.apply(name, value)?;
        }
        for (name, value) in pairs {
            if !seen.insert(name.clone()) {
                return Err(ApiError::query_param(
                    &name,
                    "given more than once (or fixed by the resource path)",
                ));
            }
            if name == "nextPageToken" {
                q.token = Some(Token::decode(&value).ok_or_else(|| {
                    ApiError::query_param(&name, "not a token issued by this server")
                })?);
                continue;
            }
            q.apply(&name, &value)?;
            q.pairs.push((name, value));
        }
        if q.event_count_limit.is_some() && q.max_event_count.is_some() {
            return Err(ApiError::query_param(
                "eventCountLimit",
                "eventCountLimit and maxEventCount are mutually exclusive",
            ));
        }
        q.check_token()?;
        Ok(q)
    }

    /// The same query with other paging (`perPage`, `nextPageToken`) and `Link` base —
    /// used to page through a named query's results.
    pub fn with_paging(mut self, per_page: usize, token: Option<Token>, base: &str) -> EventQuery {
        self.per_page = per_page;
        self.token = token;
        self.base = base.to_string();
        // The definition is implied by the resource: links carry only the paging.
        self.pairs.clear();
        self
    }

    /// Parses the paging parameters alone (`perPage`, `nextPageToken`) of a request that
    /// runs a stored query; anything else is a 400 naming the parameter.
    pub fn paging_only(raw: Option<&str>) -> Result<(usize, Option<Token>), ApiError> {
        let mut per_page = PER_PAGE_DEFAULT;
        let mut token = None;
        for (name, value) in parse_query(raw)? {
            match name.as_str() {
                "perPage" => per_page = count_param(&name, &value, 1, PER_PAGE_MAX)?,
                "nextPageToken" => {
                    token = Some(Token::decode(&value).ok_or_else(|| {
                        ApiError::query_param(&name, "not a token issued by this server")
                    })?)
                }
                _ => {
                    return Err(ApiError::query_param(
                        &name,
                        "a named query's filters are fixed; only perPage and nextPageToken are accepted here",
                    ));
                }
            }
        }
        Ok((per_page, token))
    }

    /// Checks that `token` fits this query's ordering.
    pub fn check_token(&self) -> Result<(), ApiError> {
        match (self.token, self.is_sorted()) {
            (Some(Token::After(_)), true) | (Some(Token::Offset { .. }), false) => Err(
                ApiError::query_param("nextPageToken", "token does not fit this query"),
            ),
            _ => Ok(()),
        }
    }

    fn apply(&mut self, n: &str, value: &str) -> Result<(), ApiError> {
        let q = self;
        match n {
            "eventType" => {
                let mut types = Vec::new();
                for v in non_empty_list(n, value)? {
                    types.push(EventType::from_name(&v).ok_or_else(|| {
                        ApiError::query_param(n, format!("`{v}` is not an EPCIS event type"))
                    })?);
                }
                q.event_types = Some(types);
            }
            "GE_eventTime" => q.ge_event_time = Some(time_param(n, value)?),
            "LT_eventTime" => q.lt_event_time = Some(time_param(n, value)?),
            "GE_recordTime" => q.ge_record_time = Some(time_param(n, value)?),
            "LT_recordTime" => q.lt_record_time = Some(time_param(n, value)?),
            "EQ_action" => {
                let mut actions = Vec::new();
                for v in non_empty_list(n, value)? {
                    actions.push(Action::from_name(&v).ok_or_else(|| {
                        ApiError::query_param(n, format!("`{v}` is not ADD, OBSERVE or DELETE"))
                    })?);
                }
                q.actions = Some(actions);
            }
            "EQ_bizStep" => {
                q.biz_steps = Some(
                    non_empty_list(n, value)?
                        .into_iter()
                        .map(|v| biz_step_key(&v))
                        .collect(),
                )
            }
            "EQ_disposition" => {
                q.dispositions = Some(
                    non_empty_list(n, value)?
                        .into_iter()
                        .map(|v| disposition_key(&v))
                        .collect(),
                )
            }
            "EQ_persistentDisposition_set" | "EQ_persistentDisposition_unset" => {
                q.filters.push(Filter::PersistentDisposition {
                    set: n.ends_with("_set"),
                    values: non_empty_list(n, value)?
                        .into_iter()
                        .map(|v| disposition_key(&v))
                        .collect(),
                })
            }
            "EQ_readPoint" => q.read_points = Some(normalized(non_empty_list(n, value)?)),
            "EQ_bizLocation" => q.biz_locations = Some(normalized(non_empty_list(n, value)?)),
            "WD_readPoint" | "WD_bizLocation" => q.filters.push(Filter::Within {
                read_point: n == "WD_readPoint",
                values: normalized(non_empty_list(n, value)?),
            }),
            "EQ_transformationID" => q
                .filters
                .push(Filter::TransformationId(non_empty_list(n, value)?)),
            "MATCH_epc" => q.match_epc = Some(normalized(non_empty_list(n, value)?)),
            "MATCH_parentID" => q.match_parent = Some(normalized(non_empty_list(n, value)?)),
            "MATCH_inputEPC" => q.match_input = Some(normalized(non_empty_list(n, value)?)),
            "MATCH_outputEPC" => q.match_output = Some(normalized(non_empty_list(n, value)?)),
            "MATCH_anyEPC" => q.match_any = Some(normalized(non_empty_list(n, value)?)),
            "MATCH_epcClass" => q.match_class = Some(normalized(non_empty_list(n, value)?)),
            "MATCH_inputEPCClass" | "MATCH_outputEPCClass" | "MATCH_anyEPCClass" => {
                q.filters.push(Filter::ClassMatch {
                    fields: match n {
                        "MATCH_inputEPCClass" => &["input"],
                        "MATCH_outputEPCClass" => &["output"],
                        _ => &["quantity", "child", "input", "output"],
                    },
                    values: normalized(non_empty_list(n, value)?),
                })
            }
            "EQ_eventID" => q.event_ids = Some(non_empty_list(n, value)?),
            "EXISTS_errorDeclaration" => {
                if bool_param(n, if value.is_empty() { "true" } else { value })? {
                    q.filters.push(Filter::ExistsError);
                }
            }
            "EXISTS_sensorElementList" => {
                if bool_param(n, if value.is_empty() { "true" } else { value })? {
                    q.filters.push(Filter::ExistsSensor);
                }
            }
            "GE_errorDeclarationTime"
            | "LT_errorDeclarationTime"
            | "GE_errorDeclaration_Time"
            | "LT_errorDeclaration_Time" => q.filters.push(Filter::ErrorTime {
                ge: n.starts_with("GE_"),
                ms: time_param(n, value)?,
            }),
            "EQ_errorReason" => q.filters.push(Filter::ErrorReason(
                non_empty_list(n, value)?
                    .into_iter()
                    .map(|v| {
                        let r = ErrorReason::new(v.as_str());
                        r.bare_word().unwrap_or(v.as_str()).to_string()
                    })
                    .collect(),
            )),
            "EQ_correctiveEventID" => q
                .filters
                .push(Filter::CorrectiveEventId(non_empty_list(n, value)?)),
            "EQ_type"
            | "EQ_deviceID"
            | "EQ_dataProcessingMethod"
            | "EQ_microorganism"
            | "EQ_chemicalSubstance"
            | "EQ_bizRules"
            | "EQ_stringValue"
            | "EQ_hexBinaryValue"
            | "EQ_uriValue" => {
                let field = match n {
                    "EQ_type" => SensorText::Type,
                    "EQ_deviceID" => SensorText::DeviceId,
                    "EQ_dataProcessingMethod" => SensorText::DataProcessingMethod,
                    "EQ_microorganism" => SensorText::Microorganism,
                    "EQ_chemicalSubstance" => SensorText::ChemicalSubstance,
                    "EQ_bizRules" => SensorText::BizRules,
                    "EQ_stringValue" => SensorText::StringValue,
                    "EQ_hexBinaryValue" => SensorText::HexBinaryValue,
                    _ => SensorText::UriValue,
                };
                let mut values = non_empty_list(n, value)?;
                if field == SensorText::Type {
                    values = values.iter().map(|v| measurement_key(v)).collect();
                }
                q.filters.push(Filter::SensorText { field, values });
            }
            "EQ_booleanValue" => q.filters.push(Filter::SensorBool(bool_param(n, value)?)),
            "GE_time" | "LT_time" | "GE_startTime" | "LT_startTime" | "GE_endTime"
            | "LT_endTime" => q.filters.push(Filter::SensorTime {
                field: if n.ends_with("_startTime") {
                    SensorTime::StartTime
                } else if n.ends_with("_endTime") {
                    SensorTime::EndTime
                } else {
                    SensorTime::Time
                },
                ge: n.starts_with("GE_"),
                ms: time_param(n, value)?,
            }),
            "orderBy" => {
                q.order_by = Some(match value.trim() {
                    "eventTime" => OrderBy::EventTime,
                    "recordTime" => OrderBy::RecordTime,
                    other => {
                        return Err(ApiError::query_param(
                            n,
                            format!("`{other}`: only eventTime and recordTime are supported"),
                        ));
                    }
                })
            }
            "orderDirection" => {
                q.descending = match value.trim() {
                    "ASC" => false,
                    "DESC" => true,
                    other => {
                        return Err(ApiError::query_param(
                            n,
                            format!("`{other}` is not ASC or DESC"),
                        ));
                    }
                }
            }
            "eventCountLimit" => {
                q.event_count_limit = Some(count_param(n, value, 1, QUERY_SCAN_MAX)?)
            }
            "maxEventCount" => q.max_event_count = Some(count_param(n, value, 1, QUERY_SCAN_MAX)?),
            "perPage" => q.per_page = count_param(n, value, 1, PER_PAGE_MAX)?,
            _ => return q.apply_pattern(n, value),
        }
        Ok(())
    }

    /// Parameters whose names carry a field, type or unit.
    fn apply_pattern(&mut self, n: &str, value: &str) -> Result<(), ApiError> {
        let unknown = || {
            ApiError::query_param(
                n,
                "unknown or unsupported query parameter (see /openapi.json)",
            )
        };
        let (op, rest) = n.split_once('_').ok_or_else(unknown)?;
        if matches!(op, "EQATTR" | "HASATTR") {
            return Err(ApiError::query_param(
                n,
                "vocabulary attributes are master data, which this ledger does not keep",
            ));
        }
        if op == "EQ" {
            for (prefix, destination) in [("source_", Some(false)), ("destination_", Some(true))] {
                if let Some(kind) = rest.strip_prefix(prefix) {
                    if kind.is_empty() {
                        return Err(unknown());
                    }
                    let kind = SourceDestType::new(kind);
                    self.filters.push(Filter::SourceDest {
                        destination: destination.unwrap_or(false),
                        kind: kind.bare_word().unwrap_or(kind.as_str()).to_string(),
                        values: normalized(non_empty_list(n, value)?),
                    });
                    return Ok(());
                }
            }
            if let Some(kind) = rest.strip_prefix("bizTransaction_") {
                if kind.is_empty() {
                    return Err(unknown());
                }
                let kind = BizTransactionType::new(kind);
                self.filters.push(Filter::BizTransaction {
                    kind: kind.bare_word().unwrap_or(kind.as_str()).to_string(),
                    values: non_empty_list(n, value)?,
                });
                return Ok(());
            }
        }
        if op == "EXISTS" {
            let (inner, area, field) = extension_field(rest);
            let (prefix, local) = qualified(n, field)?;
            if !value.is_empty() && !bool_param(n, value)? {
                return Ok(());
            }
            self.filters.push(Filter::Extension {
                area,
                inner,
                cmp: None,
                prefix,
                local,
                values: Vec::new(),
            });
            return Ok(());
        }
        let cmp = Cmp::from_prefix(op).ok_or_else(unknown)?;
        if let Some(suffix) = rest.strip_prefix("quantity") {
            let uom = uom_suffix(n, suffix)?;
            self.filters.push(Filter::Quantity {
                cmp,
                value: number_param(n, value)?,
                uom,
            });
            return Ok(());
        }
        for (word, metric) in [
            ("value", Metric::Value),
            ("minValue", Metric::MinValue),
            ("maxValue", Metric::MaxValue),
            ("meanValue", Metric::MeanValue),
            ("sDev", Metric::SDev),
            ("percValue", Metric::PercValue),
            ("percRank", Metric::PercRank),
        ] {
            if let Some(suffix) = rest.strip_prefix(word)
                && (suffix.is_empty() || suffix.starts_with('_'))
            {
                if (metric == Metric::PercRank && !suffix.is_empty())
                    || (cmp == Cmp::Eq && metric != Metric::Value)
                {
                    return Err(unknown());
                }
                let uom = uom_suffix(n, suffix)?;
                self.filters.push(Filter::SensorNumber {
                    metric,
                    cmp,
                    value: number_param(n, value)?,
                    uom,
                });
                return Ok(());
            }
        }
        let (inner, area, field) = extension_field(rest);
        if !field.contains(':') {
            return Err(unknown());
        }
        let (prefix, local) = qualified(n, field)?;
        let values = if cmp == Cmp::Eq {
            non_empty_list(n, value)?
        } else {
            vec![value.trim().to_string()]
        };
        self.filters.push(Filter::Extension {
            area,
            inner,
            cmp: Some(cmp),
            prefix,
            local,
            values,
        });
        Ok(())
    }

    fn is_sorted(&self) -> bool {
        self.order_by.is_some()
            || self.event_count_limit.is_some()
            || self.max_event_count.is_some()
    }

    /// True if `stored` satisfies every filter.
    pub fn matches(&self, stored: &StoredEvent) -> bool {
        let e = &stored.event;
        if let Some(types) = &self.event_types
            && !types.contains(&e.event_type)
        {
            return false;
        }
        let event_time = e
            .event_time
            .as_ref()
            .and_then(|t| epcis_time_ms(t.as_str()));
        if self
            .ge_event_time
            .is_some_and(|ge| event_time.is_none_or(|t| t < ge))
            || self
                .lt_event_time
                .is_some_and(|lt| event_time.is_none_or(|t| t >= lt))
        {
            return false;
        }
        let record = stored.record_time_ms as i64;
        if self.ge_record_time.is_some_and(|ge| record < ge)
            || self.lt_record_time.is_some_and(|lt| record >= lt)
        {
            return false;
        }
        if let Some(actions) = &self.actions
            && !e.action.is_some_and(|a| actions.contains(&a))
        {
            return false;
        }
        if let Some(steps) = &self.biz_steps
            && !e
                .biz_step
                .as_ref()
                .is_some_and(|s| steps.contains(&biz_step_key(s.as_str())))
        {
            return false;
        }
        if let Some(dispositions) = &self.dispositions
            && !e
                .disposition
                .as_ref()
                .is_some_and(|d| dispositions.contains(&disposition_key(d.as_str())))
        {
            return false;
        }
        let location_ok = |want: &Option<Vec<String>>, have: Option<&str>| match want {
            None => true,
            Some(want) => have.is_some_and(|h| want.contains(&epc::normalize(h))),
        };
        if !location_ok(
            &self.read_points,
            e.read_point.as_ref().map(|l| l.id.as_str()),
        ) || !location_ok(
            &self.biz_locations,
            e.biz_location.as_ref().map(|l| l.id.as_str()),
        ) {
            return false;
        }
        let ids = epc::event_ids(e);
        let any_of = |want: &Option<Vec<String>>, fields: &[&str]| match want {
            None => true,
            Some(want) => ids
                .iter()
                .any(|(f, id)| fields.contains(f) && want.contains(&epc::normalize(id))),
        };
        if !any_of(&self.match_epc, &["epc"])
            || !any_of(&self.match_parent, &["parentID"])
            || !any_of(&self.match_input, &["inputEPC"])
            || !any_of(&self.match_output, &["outputEPC"])
            || !any_of(
                &self.match_any,
                &["epc", "parentID", "inputEPC", "outputEPC"],
            )
            || !any_of(&self.match_class, &["epcClass"])
        {
            return false;
        }
        if let Some(wanted) = &self.event_ids
            && !wanted
                .iter()
                .any(|w| e.event_id.as_deref() == Some(w.as_str()) || *w == stored.event_hash_id)
        {
            return false;
        }
        self.filters.iter().all(|f| filter_holds(f, e))
    }

    fn link(&self, token: Token) -> String {
        let mut query: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != "perPage")
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    util::encode_component(k),
                    util::encode_component(v)
                )
            })
            .collect();
        query.push(format!("perPage={}", self.per_page));
        query.push(format!("nextPageToken={}", token.encode()));
        format!("<{}?{}>; rel=\"next\"", self.base, query.join("&"))
    }
}

fn quantity_lists(
    e: &EpcisEvent,
) -> [(
    &'static str,
    Option<&Vec<pedigree_epcis::model::QuantityElement>>,
); 4] {
    [
        ("quantity", e.quantity_list.as_ref()),
        ("child", e.child_quantity_list.as_ref()),
        ("input", e.input_quantity_list.as_ref()),
        ("output", e.output_quantity_list.as_ref()),
    ]
}

fn filter_holds(filter: &Filter, e: &EpcisEvent) -> bool {
    let reports = || {
        e.sensor_element_list
            .iter()
            .flatten()
            .flat_map(|s| s.sensor_reports.iter())
    };
    let metadata = || {
        e.sensor_element_list
            .iter()
            .flatten()
            .filter_map(|s| s.sensor_metadata.as_ref())
    };
    match filter {
        Filter::Quantity { cmp, value, uom } => quantity_lists(e)
            .into_iter()
            .flat_map(|(_, l)| l.into_iter().flatten())
            .any(|q| {
                uom.as_ref().is_none_or(|u| q.uom.as_deref() == Some(u))
                    && q.quantity
                        .as_ref()
                        .and_then(decimal_value)
                        .is_some_and(|have| cmp.holds(have, *value))
            }),
        Filter::ClassMatch { fields, values } => quantity_lists(e)
            .into_iter()
            .filter(|(f, _)| fields.contains(f))
            .flat_map(|(_, l)| l.into_iter().flatten())
            .any(|q| values.contains(&epc::normalize(&q.epc_class))),
        Filter::Extension {
            area,
            inner,
            cmp,
            prefix,
            local,
            values,
        } => {
            let list: &[Extension] = match area {
                ExtArea::Ilmd => e.ilmd.as_deref().unwrap_or(&[]),
                ExtArea::Event => &e.extensions,
            };
            let found = if *inner {
                let mut nested = Vec::new();
                for top in list {
                    nested_elements(&top.value, &mut nested);
                }
                extension_named(nested, prefix, local)
            } else {
                extension_named(list, prefix, local)
            };
            match cmp {
                None => !found.is_empty(),
                Some(cmp) => found
                    .iter()
                    .any(|ext| extension_matches(&ext.value, *cmp, values)),
            }
        }
        Filter::SensorText { field, values } => {
            reports().any(|r| {
                sensor_text(r, *field).is_some_and(|v| values.iter().any(|w| *w == v.trim()))
            }) || metadata().any(|m| {
                let v = match field {
                    SensorText::DeviceId => m.device_id.as_deref(),
                    SensorText::DataProcessingMethod => m.data_processing_method.as_deref(),
                    SensorText::BizRules => m.biz_rules.as_deref(),
                    _ => None,
                };
                v.is_some_and(|v| values.iter().any(|w| w == v.trim()))
            })
        }
        Filter::SensorBool(want) => reports().any(|r| r.boolean_value == Some(*want)),
        Filter::SensorNumber {
            metric: m,
            cmp,
            value,
            uom,
        } => reports().any(|r| {
            uom.as_ref().is_none_or(|u| r.uom.as_deref() == Some(u))
                && metric(r, *m).is_some_and(|have| cmp.holds(have, *value))
        }),
        Filter::SensorTime { field, ge, ms } => {
            let ok = |t: Option<&EpcisTime>| {
                t.and_then(|t| epcis_time_ms(t.as_str()))
                    .is_some_and(|t| if *ge { t >= *ms } else { t < *ms })
            };
            match field {
                SensorTime::Time => {
                    reports().any(|r| ok(r.time.as_ref()))
                        || metadata().any(|m| ok(m.time.as_ref()))
                }
                SensorTime::StartTime => metadata().any(|m| ok(m.start_time.as_ref())),
                SensorTime::EndTime => metadata().any(|m| ok(m.end_time.as_ref())),
            }
        }
        Filter::ExistsSensor => e
            .sensor_element_list
            .as_ref()
            .is_some_and(|l| !l.is_empty()),
        Filter::ExistsError => e.error_declaration.is_some(),
        Filter::ErrorTime { ge, ms } => e
            .error_declaration
            .as_ref()
            .and_then(|d| d.declaration_time.as_ref())
            .and_then(|t| epcis_time_ms(t.as_str()))
            .is_some_and(|t| if *ge { t >= *ms } else { t < *ms }),
        Filter::ErrorReason(values) => e
            .error_declaration
            .as_ref()
            .and_then(|d| d.reason.as_ref())
            .is_some_and(|r| {
                values
                    .iter()
                    .any(|v| Some(v.as_str()) == r.bare_word() || v == r.as_str())
            }),
        Filter::CorrectiveEventId(values) => e
            .error_declaration
            .as_ref()
            .and_then(|d| d.corrective_event_ids.as_ref())
            .is_some_and(|ids| ids.iter().any(|id| values.contains(id))),
        Filter::TransformationId(values) => e
            .transformation_id
            .as_ref()
            .is_some_and(|id| values.contains(id)),
        Filter::PersistentDisposition { set, values } => e
            .persistent_disposition
            .as_ref()
            .and_then(|p| {
                if *set {
                    p.set.as_ref()
                } else {
                    p.unset.as_ref()
                }
            })
            .is_some_and(|list| {
                list.iter()
                    .any(|d| values.contains(&disposition_key(d.as_str())))
            }),
        Filter::BizTransaction { kind, values } => {
            e.biz_transaction_list.iter().flatten().any(|b| {
                b.transaction_type
                    .as_ref()
                    .is_some_and(|t| t.bare_word().unwrap_or(t.as_str()) == kind)
                    && values.iter().any(|v| v == b.value.trim())
            })
        }
        Filter::SourceDest {
            destination,
            kind,
            values,
        } => {
            let list = if *destination {
                &e.destination_list
            } else {
                &e.source_list
            };
            list.iter().flatten().any(|s| {
                s.source_dest_type
                    .as_ref()
                    .is_some_and(|t| t.bare_word().unwrap_or(t.as_str()) == kind)
                    && values.contains(&epc::normalize(&s.value))
            })
        }
        Filter::Within { read_point, values } => {
            let location = if *read_point {
                &e.read_point
            } else {
                &e.biz_location
            };
            location.as_ref().is_some_and(|l| within(values, &l.id))
        }
    }
}

/// Where a query's candidate events come from: every stored event, or, for a query with an
/// indexed parameter, the events the index lists for that parameter's values (module docs).
pub(super) struct Candidates<'a> {
    ledger: &'a dyn super::LedgerApi,
    /// The index and the values of the query's most selective indexed parameter, if it has
    /// one with at most [`INDEXED_VALUES_MAX`] values.
    index: Option<(Index, &'a [String])>,
    /// Events read per index or ledger read.
    batch: usize,
}

/// An index of the ledger: queries read their candidates from it, the browse resources their
/// lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Index {
    /// The EPC index ([`super::LedgerApi::events_by_epc`]).
    Epc,
    /// A field index ([`super::LedgerApi::events_by_field`]).
    Field(EventField),
}

impl Index {
    /// Up to `limit` events with `seq > after` that this index lists under `value`.
    pub(super) fn events(
        self,
        ledger: &dyn super::LedgerApi,
        value: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, ReadError> {
        match self {
            Index::Epc => ledger.events_by_epc(value, after, limit),
            Index::Field(field) => ledger.events_by_field(field, value, after, limit),
        }
    }

    /// Up to `limit` distinct values of this index that sort after `after`, ascending.
    pub(super) fn values(
        self,
        ledger: &dyn super::LedgerApi,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ReadError> {
        match self {
            Index::Epc => ledger.epcs_after(after, limit),
            Index::Field(field) => ledger.field_values_after(field, after, limit),
        }
    }
}

impl<'a> Candidates<'a> {
    pub(super) fn new(ledger: &'a dyn super::LedgerApi, q: &'a EventQuery, batch: usize) -> Self {
        // Each parameter must hold, so any one of them bounds the matches. EPCs name the
        // fewest events, then locations, then business steps and dispositions; within a rank
        // the parameter with the fewest values reads the least. Classes are not indexed.
        let fewest = |lists: &[(Index, &'a Option<Vec<String>>)]| {
            lists
                .iter()
                .filter_map(|(index, values)| Some((*index, values.as_deref()?)))
                .min_by_key(|(_, values)| values.len())
        };
        let index = [
            fewest(&[
                (Index::Epc, &q.match_epc),
                (Index::Epc, &q.match_parent),
                (Index::Epc, &q.match_input),
                (Index::Epc, &q.match_output),
                (Index::Epc, &q.match_any),
            ]),
            fewest(&[
                (Index::Field(EventField::BizLocation), &q.biz_locations),
                (Index::Field(EventField::ReadPoint), &q.read_points),
            ]),
            fewest(&[
                (Index::Field(EventField::BizStep), &q.biz_steps),
                (Index::Field(EventField::Disposition), &q.dispositions),
            ]),
        ]
        .into_iter()
        .flatten()
        .find(|(_, values)| values.len() <= INDEXED_VALUES_MAX)
        // The indexes hold no value with a zero byte ([`super::indexable`]): scan for those.
        .filter(|(_, values)| values.iter().all(|value| super::indexable(value)));
        Candidates {
            ledger,
            index,
            batch: batch.max(1),
        }
    }

    /// Candidates with `seq > after`, ascending and without gaps: every candidate up to the
    /// last one returned is returned. Empty once there are no more.
    pub(super) fn after(&self, after: u64) -> Result<Vec<StoredEvent>, ReadError> {
        let Some((index, values)) = self.index else {
            return self.ledger.events_after(after, self.batch);
        };
        // Blocks are applied while the values are read one after another: an event committed
        // between two reads could be seen for a later value and missed for an earlier one. So
        // only what was stored before the first read counts (the commit mark is published
        // after the block is written), and a later call reads on from there.
        let mut covered = self.ledger.commit_mark().event_seq;
        // A full answer for one value may stop before another value's events do: keep only
        // what every full answer covers, and read the rest from there next time.
        let mut merged = Vec::new();
        for value in values {
            let events = index.events(self.ledger, value, after, self.batch)?;
            if events.len() >= self.batch
                && let Some(last) = events.last()
            {
                covered = covered.min(last.seq);
            }
            merged.extend(events);
        }
        merged.retain(|stored| stored.seq <= covered);
        merged.sort_by_key(|stored| stored.seq);
        merged.dedup_by_key(|stored| stored.seq);
        Ok(merged)
    }
}

/// Most values an indexed parameter may list and still be answered from its index: each call
/// reads up to a batch of events per value, so beyond this reading every event is cheaper.
const INDEXED_VALUES_MAX: usize = 64;

/// One page of results and the token of the next page, if any.
pub fn run_query(
    ledger: &dyn super::LedgerApi,
    q: &EventQuery,
) -> Result<(Vec<StoredEvent>, Option<Token>), ApiError> {
    let candidates = Candidates::new(ledger, q, SCAN_BATCH);
    if !q.is_sorted() {
        let mut after = match q.token {
            Some(Token::After(seq)) => seq,
            _ => 0,
        };
        let mut page = Vec::new();
        loop {
            let batch = candidates.after(after)?;
            let Some(last) = batch.last() else {
                return Ok((page, None));
            };
            after = last.seq;
            for stored in batch {
                if q.matches(&stored) {
                    if page.len() == q.per_page {
                        let next = page.last().map(|e: &StoredEvent| Token::After(e.seq));
                        return Ok((page, next));
                    }
                    page.push(stored);
                }
            }
        }
    }
    let (offset, pinned) = match q.token {
        Some(Token::Offset { offset, pinned }) => (offset, Some(pinned)),
        _ => (0, None),
    };
    let mut matches = Vec::new();
    let mut after = 0;
    let mut scanned = 0usize;
    let mut last_seq = 0;
    'scan: loop {
        let batch = candidates.after(after)?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for stored in batch {
            if pinned.is_some_and(|p| stored.seq > p) {
                break 'scan;
            }
            scanned += 1;
            if scanned > QUERY_SCAN_MAX {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "QueryTooLargeException",
                    format!("the query would scan more than {QUERY_SCAN_MAX} events; add filters"),
                ));
            }
            last_seq = stored.seq;
            if q.matches(&stored) {
                matches.push(stored);
            }
        }
    }
    if let Some(max) = q.max_event_count
        && matches.len() > max
    {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "QueryTooLargeException",
            format!(
                "{} events match, more than maxEventCount={max}",
                matches.len()
            ),
        )
        .with("parameter", "maxEventCount"));
    }
    let key = |s: &StoredEvent| match q.order_by {
        Some(OrderBy::EventTime) => (
            s.event
                .event_time
                .as_ref()
                .and_then(|t| epcis_time_ms(t.as_str()))
                .unwrap_or(i64::MIN),
            s.seq,
        ),
        _ => (s.record_time_ms as i64, s.seq),
    };
    matches.sort_by_key(key);
    if q.descending && q.order_by.is_some() {
        matches.reverse();
    }
    if let Some(limit) = q.event_count_limit {
        matches.truncate(limit);
    }
    let pinned = pinned.unwrap_or(last_seq);
    let total = matches.len();
    let end = offset.saturating_add(q.per_page).min(total);
    let page: Vec<StoredEvent> = matches.drain(offset.min(end)..end).collect();
    let next = (end < total).then_some(Token::Offset {
        offset: end,
        pinned,
    });
    Ok((page, next))
}

/// The event as returned: `recordTime` from the ledger, identifiers in the requested
/// representation ([`Presentation`]).
pub fn presented(stored: &StoredEvent, presentation: &Presentation) -> EpcisEvent {
    let mut event = stored.event.clone();
    event.record_time = Some(EpcisTime(util::rfc3339_ms(stored.record_time_ms)));
    presentation.apply(&mut event);
    event
}

/// An `EPCISQueryDocument` in the negotiated format (`queryName` `SimpleEventQuery`).
pub fn query_document(events: Vec<EpcisEvent>, format: Format, created_ms: u64) -> Response {
    named_query_document(events, format, created_ms, "SimpleEventQuery", None)
}

/// The `EPCISQueryDocument` body and its media type.
pub fn query_document_body(
    events: Vec<EpcisEvent>,
    format: Format,
    created_ms: u64,
    query_name: &str,
    subscription_id: Option<&str>,
) -> (String, &'static str) {
    let doc = EpcisDocument {
        kind: DocumentKind::QueryDocument,
        context: vec![ContextEntry::Uri(
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld".into(),
        )],
        context_is_single: true,
        xml_namespaces: Vec::new(),
        schema_version: Some("2.0".into()),
        creation_date: Some(EpcisTime(util::rfc3339_ms(created_ms))),
        header: None,
        query_name: Some(query_name.to_string()),
        subscription_id: subscription_id.map(str::to_string),
        events,
        extensions: Vec::new(),
        query_extensions: Vec::new(),
        xml_attributes: Vec::new(),
    };
    match format {
        Format::Xml => (pedigree_epcis::xml::write_document(&doc), "application/xml"),
        Format::JsonLd => (
            pedigree_epcis::json::write_document(&doc),
            "application/ld+json",
        ),
        Format::Json => (
            pedigree_epcis::json::write_document(&doc),
            "application/json",
        ),
    }
}

/// An `EPCISQueryDocument` response with the given `queryName` and `subscriptionID`.
pub fn named_query_document(
    events: Vec<EpcisEvent>,
    format: Format,
    created_ms: u64,
    query_name: &str,
    subscription_id: Option<&str>,
) -> Response {
    let (body, media) =
        query_document_body(events, format, created_ms, query_name, subscription_id);
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    response
}

/// Runs `query` and answers with one page (and `Link` to the next), as `query_name`.
pub async fn respond(
    state: &Shared,
    headers: &HeaderMap,
    query: EventQuery,
    query_name: &str,
) -> Result<Response, ApiError> {
    let format = negotiate(headers)?;
    let presentation = Presentation::from_headers(headers, state)?;
    let ledger = state.ledger.clone();
    let q = query.clone();
    let (page, next) = tokio::task::spawn_blocking(move || run_query(ledger.as_ref(), &q))
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))??;
    let events = page.iter().map(|s| presented(s, &presentation)).collect();
    let mut response = named_query_document(events, format, state.now_ms(), query_name, None);
    if let Some(token) = next
        && let Ok(value) = HeaderValue::from_str(&query.link(token))
    {
        response.headers_mut().insert(header::LINK, value);
    }
    presentation.announce(response.headers_mut());
    Ok(response)
}

/// `GET /events`.
pub async fn get_events(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = EventQuery::parse(raw.as_deref())?;
    respond(&state, &headers, query, "SimpleEventQuery").await
}

/// `GET /events/{eventID}`: by hash ID (`ni:///…`) or by `eventID`.
pub async fn get_event(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let format = negotiate(&headers)?;
    let presentation = Presentation::from_headers(&headers, &state)?;
    let stored = state
        .ledger
        .event_by_hash(&id)
        .transpose()
        .or_else(|| state.ledger.event_by_id(&id).transpose())
        .transpose()?
        .ok_or_else(|| ApiError::not_found(format!("no event with eventID or hash ID `{id}`")))?;
    let mut response = query_document(
        vec![presented(&stored, &presentation)],
        format,
        state.now_ms(),
    );
    presentation.announce(response.headers_mut());
    Ok(response)
}
