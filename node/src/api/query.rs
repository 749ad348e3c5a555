//! `GET /events` and `GET /events/{eventID}` (EPCIS 2.0 REST binding, §4.2–4.3).
//!
//! Supported parameters: `eventType`, `GE_eventTime`, `LT_eventTime`, `GE_recordTime`,
//! `LT_recordTime`, `EQ_action`, `EQ_bizStep`, `EQ_disposition`, `EQ_readPoint`,
//! `EQ_bizLocation`, `MATCH_epc`, `MATCH_parentID`, `MATCH_inputEPC`, `MATCH_outputEPC`,
//! `MATCH_anyEPC`, `MATCH_epcClass`, `EQ_eventID` (event ID or hash ID), `orderBy`
//! (`eventTime` | `recordTime`), `orderDirection` (`ASC` | `DESC`, default `DESC`),
//! `eventCountLimit`, `maxEventCount`, `perPage` (default 30, at most
//! [`super::PER_PAGE_MAX`]) and `nextPageToken`. Any other parameter is a 400
//! `QueryParameterException`. List values are pipe-delimited; CBV values may be bare
//! words, URNs or Web URIs; EPCs may be EPC URNs or GS1 Digital Link URIs (both are
//! normalised to canonical Digital Link before comparison). EPC patterns (`idpat`) are
//! not supported.
//!
//! Without `orderBy`, events stream in ledger (record) order and the page token is the
//! last sequence number seen. With `orderBy`, `eventCountLimit` or `maxEventCount`, the
//! matching events (scanning at most [`super::QUERY_SCAN_MAX`]) are sorted and the token
//! is an offset pinned to the ledger's sequence number at the first page, so later
//! captures do not shift pages.

use super::auth::ReadAuth;
use super::epc;
use super::error::ApiError;
use super::util::{self, Format, epcis_time_ms, negotiate, parse_query};
use super::{PER_PAGE_DEFAULT, PER_PAGE_MAX, QUERY_SCAN_MAX, Shared, StoredEvent};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pedigree_epcis::model::{
    Action, BizStep, ContextEntry, Disposition, DocumentKind, EpcisDocument, EpcisEvent, EpcisTime,
    EventType,
};

const SCAN_BATCH: usize = 1_000;

/// A parsed `GET /events` query.
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
    order_by: Option<OrderBy>,
    descending: bool,
    event_count_limit: Option<usize>,
    max_event_count: Option<usize>,
    per_page: usize,
    token: Option<Token>,
    /// The pairs as given (minus the token), to build `Link` headers.
    pairs: Vec<(String, String)>,
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

fn list(value: &str) -> Vec<String> {
    value
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn time_param(name: &str, value: &str) -> Result<i64, ApiError> {
    epcis_time_ms(value).ok_or_else(|| {
        ApiError::query_param(
            name,
            format!("`{value}` is not an xsd:dateTime (e.g. 2026-01-02T09:30:00Z)"),
        )
    })
}

fn count_param(name: &str, value: &str, min: usize, max: usize) -> Result<usize, ApiError> {
    match value.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::query_param(
            name,
            format!("`{value}` is not an integer between {min} and {max}"),
        )),
    }
}

fn normalized(values: Vec<String>) -> Vec<String> {
    values.iter().map(|v| epc::normalize(v)).collect()
}

impl EventQuery {
    /// Parses the query string; unknown or malformed parameters are 400s naming the parameter.
    pub fn parse(raw: Option<&str>) -> Result<EventQuery, ApiError> {
        let mut q = EventQuery {
            per_page: PER_PAGE_DEFAULT,
            descending: true,
            ..EventQuery::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for (name, value) in parse_query(raw)? {
            if !seen.insert(name.clone()) {
                return Err(ApiError::query_param(&name, "given more than once"));
            }
            let n = name.as_str();
            match n {
                "eventType" => {
                    let mut types = Vec::new();
                    for v in list(&value) {
                        types.push(EventType::from_name(&v).ok_or_else(|| {
                            ApiError::query_param(n, format!("`{v}` is not an EPCIS event type"))
                        })?);
                    }
                    q.event_types = Some(types);
                }
                "GE_eventTime" => q.ge_event_time = Some(time_param(n, &value)?),
                "LT_eventTime" => q.lt_event_time = Some(time_param(n, &value)?),
                "GE_recordTime" => q.ge_record_time = Some(time_param(n, &value)?),
                "LT_recordTime" => q.lt_record_time = Some(time_param(n, &value)?),
                "EQ_action" => {
                    let mut actions = Vec::new();
                    for v in list(&value) {
                        actions.push(Action::from_name(&v).ok_or_else(|| {
                            ApiError::query_param(n, format!("`{v}` is not ADD, OBSERVE or DELETE"))
                        })?);
                    }
                    q.actions = Some(actions);
                }
                "EQ_bizStep" => {
                    q.biz_steps = Some(list(&value).into_iter().map(|v| biz_step_key(&v)).collect())
                }
                "EQ_disposition" => {
                    q.dispositions = Some(
                        list(&value)
                            .into_iter()
                            .map(|v| disposition_key(&v))
                            .collect(),
                    )
                }
                "EQ_readPoint" => q.read_points = Some(normalized(list(&value))),
                "EQ_bizLocation" => q.biz_locations = Some(normalized(list(&value))),
                "MATCH_epc" => q.match_epc = Some(normalized(list(&value))),
                "MATCH_parentID" => q.match_parent = Some(normalized(list(&value))),
                "MATCH_inputEPC" => q.match_input = Some(normalized(list(&value))),
                "MATCH_outputEPC" => q.match_output = Some(normalized(list(&value))),
                "MATCH_anyEPC" => q.match_any = Some(normalized(list(&value))),
                "MATCH_epcClass" => q.match_class = Some(normalized(list(&value))),
                "EQ_eventID" => q.event_ids = Some(list(&value)),
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
                    q.event_count_limit = Some(count_param(n, &value, 1, QUERY_SCAN_MAX)?)
                }
                "maxEventCount" => {
                    q.max_event_count = Some(count_param(n, &value, 1, QUERY_SCAN_MAX)?)
                }
                "perPage" => q.per_page = count_param(n, &value, 1, PER_PAGE_MAX)?,
                "nextPageToken" => {
                    q.token = Some(Token::decode(&value).ok_or_else(|| {
                        ApiError::query_param(n, "not a token issued by this server")
                    })?);
                    continue;
                }
                _ => {
                    return Err(ApiError::query_param(
                        n,
                        "unknown or unsupported query parameter (see /openapi.json)",
                    ));
                }
            }
            q.pairs.push((name, value));
        }
        if q.event_count_limit.is_some() && q.max_event_count.is_some() {
            return Err(ApiError::query_param(
                "eventCountLimit",
                "eventCountLimit and maxEventCount are mutually exclusive",
            ));
        }
        let sorted = q.is_sorted();
        match q.token {
            Some(Token::After(_)) if sorted => {
                return Err(ApiError::query_param(
                    "nextPageToken",
                    "token does not fit this query",
                ));
            }
            Some(Token::Offset { .. }) if !sorted => {
                return Err(ApiError::query_param(
                    "nextPageToken",
                    "token does not fit this query",
                ));
            }
            _ => {}
        }
        Ok(q)
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
        true
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
        format!("</events?{}>; rel=\"next\"", query.join("&"))
    }
}

fn biz_step_key(value: &str) -> String {
    let step = BizStep::new(value.trim());
    step.bare_word().unwrap_or(value.trim()).to_string()
}

fn disposition_key(value: &str) -> String {
    let d = Disposition::new(value.trim());
    d.bare_word().unwrap_or(value.trim()).to_string()
}

/// One page of results and the token of the next page, if any.
pub fn run_query(
    ledger: &dyn super::LedgerApi,
    q: &EventQuery,
) -> Result<(Vec<StoredEvent>, Option<Token>), ApiError> {
    if !q.is_sorted() {
        let mut after = match q.token {
            Some(Token::After(seq)) => seq,
            _ => 0,
        };
        let mut page = Vec::new();
        loop {
            let batch = ledger.events_after(after, SCAN_BATCH);
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
        let batch = ledger.events_after(after, SCAN_BATCH);
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

/// The event as returned: `recordTime` from the ledger.
fn presented(stored: &StoredEvent) -> EpcisEvent {
    let mut event = stored.event.clone();
    event.record_time = Some(EpcisTime(util::rfc3339_ms(stored.record_time_ms)));
    event
}

/// An `EPCISQueryDocument` in the negotiated format.
pub fn query_document(events: Vec<EpcisEvent>, format: Format, created_ms: u64) -> Response {
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
        query_name: Some("SimpleEventQuery".into()),
        subscription_id: None,
        events,
        extensions: Vec::new(),
        query_extensions: Vec::new(),
        xml_attributes: Vec::new(),
    };
    let (body, media) = match format {
        Format::Xml => (pedigree_epcis::xml::write_document(&doc), "application/xml"),
        Format::JsonLd => (
            pedigree_epcis::json::write_document(&doc),
            "application/ld+json",
        ),
        Format::Json => (
            pedigree_epcis::json::write_document(&doc),
            "application/json",
        ),
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    response
}

/// `GET /events`.
pub async fn get_events(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let format = negotiate(&headers)?;
    let query = EventQuery::parse(raw.as_deref())?;
    let ledger = state.ledger.clone();
    let q = query.clone();
    let (page, next) = tokio::task::spawn_blocking(move || run_query(ledger.as_ref(), &q))
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))??;
    let events = page.iter().map(presented).collect();
    let mut response = query_document(events, format, state.now_ms());
    if let Some(token) = next
        && let Ok(value) = HeaderValue::from_str(&query.link(token))
    {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

/// `GET /events/{eventID}`: by hash ID (`ni:///…`) or by `eventID`.
pub async fn get_event(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let format = negotiate(&headers)?;
    let stored = state
        .ledger
        .event_by_hash(&id)
        .or_else(|| state.ledger.event_by_id(&id))
        .ok_or_else(|| ApiError::not_found(format!("no event with eventID or hash ID `{id}`")))?;
    Ok(query_document(
        vec![presented(&stored)],
        format,
        state.now_ms(),
    ))
}
