//! Named queries and their webhook subscriptions (EPCIS 2.0 REST binding `/queries`).
//!
//! # Named queries
//! `POST /queries` with `{"name": "...", "query": {"eventType": ["ObjectEvent"],
//! "EQ_bizStep": ["shipping"], ...}}` stores a query under a name (`[A-Za-z0-9._~-]`,
//! 1–128 characters); `query` members are the `GET /events` parameters, each a string,
//! number, boolean or an array of those (arrays are the pipe-delimited lists), and are
//! validated exactly as `GET /events` validates them (400 naming the parameter).
//! `GET /queries` lists them, `GET /queries/{name}` shows one, `DELETE /queries/{name}`
//! removes it and its subscriptions, and `GET /queries/{name}/events` runs it (taking
//! only `perPage` and `nextPageToken`).
//!
//! Named queries and subscriptions are node-local, not consensus state: they are kept in
//! `queries.json` under [`super::ApiConfig::state_dir`] (written to a temporary file,
//! synced, then renamed over the old one), so they survive a restart. Without a state
//! directory they live in memory only.
//!
//! # Subscriptions (webhooks)
//! `POST /queries/{name}/subscriptions` with `{"dest": "http(s)://…", "stream": true,
//! "signatureToken"?: "...", "initialRecordTime"?: "...", "epcFormat"?: "..."}` creates a
//! streaming subscription. Each subscription has one delivery task that sleeps until the
//! ledger reports a newly applied block ([`super::LedgerApi::next_commit`]), reads the
//! events after its cursor (the last delivered event sequence number), and POSTs those
//! matching the query as an `EPCISQueryDocument` (JSON-LD, `queryName` and
//! `subscriptionID` set, at most [`DELIVERY_EVENTS_MAX`] events per document) to
//! `dest`. A delivery counts when `dest` answers 2xx; otherwise it is retried with
//! exponential backoff (from [`super::ApiConfig::webhook_retry_base`] up to
//! [`RETRY_MAX`]) until it succeeds or the subscription is deleted, so nothing is
//! skipped and nothing queues in memory: the ledger is the queue, the cursor (persisted
//! after each delivery) the position in it. With `signatureToken`, each delivery carries
//! `GS1-Signature: sha256=<hex HMAC-SHA256 of the body keyed by the token>`.
//! Scheduled (`schedule`) subscriptions are not implemented (400
//! `SubscriptionControlsException`).
//!
//! # Subscriptions (WebSocket)
//! `GET /queries/{name}/events` with `Upgrade: websocket` (optionally `?stream=true`,
//! `initialRecordTime=…`) answers 101 and streams the query's new results over the
//! socket, one `EPCISQueryDocument` text message per applied block with matches, with
//! the same cursor discipline as webhooks ([`stream_socket`]). The stream lives as long
//! as the connection; it is not persisted.

use super::Shared;
use super::auth::{ManageAuth, ReadAuth};
use super::binding::{EpcFormat, Presentation, company_prefixes};
use super::error::ApiError;
use super::query::{self, EventQuery};
use super::util::{self, Format, body_text, content_type, read_body};
use super::webhook;
use axum::Json;
use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Most named queries per node.
pub const NAMED_QUERIES_MAX: usize = 1_000;
/// Most subscriptions per node.
pub const SUBSCRIPTIONS_MAX: usize = 1_000;
/// Most events in one webhook delivery.
pub const DELIVERY_EVENTS_MAX: usize = 1_000;
/// Longest wait between delivery attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(60);
/// Timeout of one delivery request.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// The file holding named queries and subscriptions under the state directory.
pub const STATE_FILE: &str = "queries.json";

/// A stored named query.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NamedQuery {
    /// The name.
    pub name: String,
    /// The definition as given (parameter → value or list).
    pub query: Map<String, Value>,
    /// Creation time.
    pub created_at: String,
}

/// A webhook subscription.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Id.
    #[serde(rename = "subscriptionID")]
    pub subscription_id: String,
    /// The named query.
    pub query_name: String,
    /// Callback URL.
    pub dest: String,
    /// HMAC key for `GS1-Signature` (never shown in responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_token: Option<String>,
    /// Always true (stream subscriptions only).
    pub stream: bool,
    /// Creation time.
    pub created_at: String,
    /// Only events recorded at or after this time (Unix ms), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_record_time_ms: Option<i64>,
    /// `GS1-EPC-Format` of deliveries.
    pub epc_format: String,
    /// The last event sequence number judged (delivered or not matching).
    pub after_seq: u64,
    /// Last successful delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_notified_at: Option<String>,
    /// Last delivery failure, if the latest attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Deliveries that succeeded.
    #[serde(default)]
    pub deliveries: u64,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct Persisted {
    queries: BTreeMap<String, NamedQuery>,
    subscriptions: BTreeMap<String, Subscription>,
}

/// Named queries and subscriptions, with their persistence and delivery tasks.
pub struct Registry {
    file: Option<PathBuf>,
    data: Mutex<Persisted>,
    /// Cancels a subscription's delivery task when set to true.
    cancel: Mutex<HashMap<String, watch::Sender<bool>>>,
    /// The delivery client ([`webhook::client`]), or why there is none.
    http: Result<reqwest::Client, String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    /// Loads `state_dir/queries.json` (a missing file is an empty registry; an unreadable
    /// one is moved aside as `queries.json.corrupt` and logged).
    pub fn open(state_dir: Option<PathBuf>, allow_private_destinations: bool) -> Registry {
        let file = state_dir.map(|d| d.join(STATE_FILE));
        let mut data = Persisted::default();
        if let Some(path) = &file {
            match std::fs::read(path) {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(loaded) => data = loaded,
                    Err(error) => {
                        tracing::error!(%error, path = %path.display(), "named queries file is unreadable; moved aside");
                        let _ = std::fs::rename(path, path.with_extension("json.corrupt"));
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::error!(%error, path = %path.display(), "cannot read named queries")
                }
            }
        }
        Registry {
            file,
            data: Mutex::new(data),
            cancel: Mutex::new(HashMap::new()),
            http: webhook::client(DELIVERY_TIMEOUT, allow_private_destinations)
                .inspect_err(|error| tracing::error!(%error, "webhook deliveries will fail")),
        }
    }

    fn save(&self, data: &Persisted) -> Result<(), ApiError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("json.tmp");
            let bytes = serde_json::to_vec_pretty(data).map_err(std::io::Error::other)?;
            {
                use std::io::Write;
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(&bytes)?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, path)?;
            if let Some(dir) = path.parent()
                && let Ok(d) = std::fs::File::open(dir)
            {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            ApiError::internal(format!(
                "could not save named queries to {}: {e}",
                path.display()
            ))
        })
    }

    /// Starts the delivery task of every stored subscription (called once at start-up).
    pub fn start_all(state: &Shared) {
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::warn!("no tokio runtime: webhook subscriptions are not started");
            return;
        }
        let ids: Vec<String> = lock(&state.queries.data)
            .subscriptions
            .keys()
            .cloned()
            .collect();
        for id in ids {
            start_delivery(state.clone(), id);
        }
    }
}

fn no_such_query(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NoSuchNameException",
        format!("no named query `{name}`"),
    )
    .with("field", "queryName")
}

fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
}

/// The definition as `GET /events` pairs.
fn definition_pairs(query: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    let scalar = |name: &str, v: &Value| -> Result<String, ApiError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(ApiError::query_param(
                name,
                "expected a string, number, boolean or an array of those",
            )
            .with("field", format!("query.{name}"))),
        }
    };
    let mut pairs = Vec::new();
    for (name, value) in query {
        if name == "nextPageToken" || name == "perPage" {
            return Err(ApiError::query_param(
                name,
                "paging is chosen when the query is run, not stored with it",
            )
            .with("field", format!("query.{name}")));
        }
        let text = match value {
            Value::Array(items) => {
                let parts = items
                    .iter()
                    .map(|i| scalar(name, i))
                    .collect::<Result<Vec<_>, _>>()?;
                if parts.iter().any(|p| p.contains('|')) {
                    return Err(ApiError::query_param(
                        name,
                        "list items may not contain `|`",
                    ));
                }
                parts.join("|")
            }
            other => scalar(name, other)?,
        };
        pairs.push((name.clone(), text));
    }
    Ok(pairs)
}

fn compile(query: &Map<String, Value>, base: &str) -> Result<EventQuery, ApiError> {
    EventQuery::from_pairs(definition_pairs(query)?, &[], base)
}

fn json_body(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, ApiError> {
    match content_type(headers).as_deref() {
        None | Some("application/json" | "application/ld+json") => {}
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaTypeException",
                format!("Content-Type `{other}`: expected application/json"),
            ));
        }
    }
    serde_json::from_str(body_text(bytes)?).map_err(|e| {
        ApiError::validation(format!(
            "body is not JSON: {e} (at line {}, column {})",
            e.line(),
            e.column()
        ))
        .with("line", e.line())
        .with("column", e.column())
    })
}

/// `POST /queries`.
pub async fn create_query(
    State(state): State<Shared>,
    _: ManageAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body, 1 << 20).await?;
    let value = json_body(&headers, &bytes)?;
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation("`name` (a string) is required").with("field", "name"))?
        .to_string();
    if !valid_name(&name) {
        return Err(ApiError::validation(format!(
            "`name` `{name}`: 1 to 128 characters among A-Z a-z 0-9 . _ ~ -"
        ))
        .with("field", "name"));
    }
    let query = value
        .get("query")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::validation("`query` (an object of query parameters) is required")
                .with("field", "query")
        })?
        .clone();
    if let Some(extra) = value
        .as_object()
        .and_then(|map| map.keys().find(|k| *k != "name" && *k != "query"))
    {
        return Err(
            ApiError::validation(format!("unknown member `{extra}`")).with("field", extra.as_str())
        );
    }
    compile(&query, "/events")?;
    let named = NamedQuery {
        name: name.clone(),
        query,
        created_at: util::rfc3339_ms(state.now_ms()),
    };
    {
        let mut data = lock(&state.queries.data);
        if data.queries.contains_key(&name) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "ResourceAlreadyExistsException",
                format!("a named query `{name}` already exists"),
            )
            .with("field", "name"));
        }
        if data.queries.len() >= NAMED_QUERIES_MAX {
            return Err(ApiError::validation(format!(
                "this node keeps at most {NAMED_QUERIES_MAX} named queries; delete one first"
            )));
        }
        data.queries.insert(name.clone(), named.clone());
        if let Err(e) = state.queries.save(&data) {
            data.queries.remove(&name);
            return Err(e);
        }
    }
    let location = format!("/queries/{name}");
    let mut response = (StatusCode::CREATED, Json(named)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `GET /queries`.
pub async fn list_queries(State(state): State<Shared>, _: ReadAuth) -> Json<Vec<NamedQuery>> {
    Json(
        lock(&state.queries.data)
            .queries
            .values()
            .cloned()
            .collect(),
    )
}

/// `GET /queries/{queryName}`.
pub async fn get_query(
    State(state): State<Shared>,
    _: ReadAuth,
    Path(name): Path<String>,
) -> Result<Json<NamedQuery>, ApiError> {
    lock(&state.queries.data)
        .queries
        .get(&name)
        .cloned()
        .map(Json)
        .ok_or_else(|| no_such_query(&name))
}

/// `DELETE /queries/{queryName}`: the query and its subscriptions.
pub async fn delete_query(
    State(state): State<Shared>,
    _: ManageAuth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let removed: Vec<String> = {
        let mut data = lock(&state.queries.data);
        if !data.queries.contains_key(&name) {
            return Err(no_such_query(&name));
        }
        let mut next = data.clone();
        next.queries.remove(&name);
        let removed: Vec<String> = next
            .subscriptions
            .iter()
            .filter(|(_, s)| s.query_name == name)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &removed {
            next.subscriptions.remove(id);
        }
        state.queries.save(&next)?;
        *data = next;
        removed
    };
    for id in removed {
        stop_delivery(&state, &id);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /queries/{queryName}/events`: runs the query (`perPage`, `nextPageToken`), or,
/// with `Upgrade: websocket`, streams it (see [`stream_socket`]; parameters `stream`
/// (`true`) and `initialRecordTime`).
pub async fn run_named_query(
    State(state): State<Shared>,
    _: ReadAuth,
    headers: HeaderMap,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let wants_socket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let upgrade = match upgrade {
        Ok(upgrade) => Some(upgrade),
        Err(rejection) if wants_socket => {
            return Err(ApiError::validation(format!(
                "WebSocket upgrade refused: {}",
                rejection.body_text()
            ))
            .with("field", "Upgrade"));
        }
        Err(_) => None,
    };
    let definition = lock(&state.queries.data)
        .queries
        .get(&name)
        .map(|q| q.query.clone())
        .ok_or_else(|| no_such_query(&name))?;
    if let Some(upgrade) = upgrade {
        let since = stream_parameters(raw.as_deref())?;
        compile(&definition, "/events")?;
        let presentation = Presentation::from_headers(&headers, &state)?;
        // The cursor is taken before the handshake: events committed once the client
        // has its 101 are never missed.
        let cursor = if since.is_some() {
            0
        } else {
            state.ledger.commit_mark().event_seq
        };
        let response = upgrade.on_upgrade(move |socket| async move {
            stream_socket(state, name, socket, presentation, cursor, since).await
        });
        return Ok(response);
    }
    let (per_page, token) = EventQuery::paging_only(raw.as_deref())?;
    let base = format!("/queries/{name}/events");
    let query = compile(&definition, &base)?.with_paging(per_page, token, &base);
    query.check_token()?;
    query::respond(&state, &headers, query, &name).await
}

/// `stream` (must be `true`) and `initialRecordTime` of a WebSocket subscription.
fn stream_parameters(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    let mut since = None;
    for (name, value) in util::parse_query(raw)? {
        match name.as_str() {
            "stream" if value.trim() == "true" => {}
            "stream" => {
                return Err(ApiError::query_param(
                    &name,
                    "only streaming (`stream=true`) WebSocket subscriptions are supported",
                ));
            }
            "initialRecordTime" => {
                since = Some(util::epcis_time_ms(&value).ok_or_else(|| {
                    ApiError::query_param(&name, format!("`{value}` is not an xsd:dateTime"))
                })?)
            }
            _ => {
                return Err(ApiError::query_param(
                    &name,
                    "a WebSocket subscription takes stream and initialRecordTime",
                ));
            }
        }
    }
    Ok(since)
}

/// A WebSocket subscription: each time the ledger applies a block, the events after the
/// cursor that match the named query are sent as one text message holding an
/// `EPCISQueryDocument` (at most [`DELIVERY_EVENTS_MAX`] events per message; the send
/// waits for the socket, so a slow client slows only its own stream). Ends when the
/// client closes, a send fails, the ledger stops or the named query is deleted (a close
/// frame is sent).
async fn stream_socket(
    state: Shared,
    name: String,
    mut socket: WebSocket,
    presentation: Presentation,
    mut cursor: u64,
    since: Option<i64>,
) {
    let id = new_id();
    loop {
        let definition = lock(&state.queries.data)
            .queries
            .get(&name)
            .map(|q| q.query.clone());
        let Some(query) = definition.and_then(|d| compile(&d, "/events").ok()) else {
            let _ = socket.send(Message::Close(None)).await;
            return;
        };
        let ledger = state.ledger.clone();
        let Ok(pending) = tokio::task::spawn_blocking(move || {
            collect_pending(ledger.as_ref(), &query, cursor, since)
        })
        .await
        else {
            return;
        };
        let pending = match pending {
            Ok(pending) => pending,
            Err(error) => {
                // Nothing is skipped: the client reconnects from what it last received.
                tracing::error!(%error, query = %name, "WebSocket subscription closed");
                let frame = axum::extract::ws::CloseFrame {
                    code: axum::extract::ws::close_code::ERROR,
                    reason: "ledger read failed".into(),
                };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
        };
        cursor = pending.cursor;
        if !pending.events.is_empty() {
            let events = pending
                .events
                .iter()
                .map(|s| query::presented(s, &presentation))
                .collect();
            let (body, _) =
                query::query_document_body(events, Format::Json, state.now_ms(), &name, Some(&id));
            if socket.send(Message::Text(body.into())).await.is_err() {
                return;
            }
            continue;
        }
        let current = state.ledger.commit_mark();
        if current.event_seq > cursor {
            continue;
        }
        tokio::select! {
            next = state.ledger.next_commit(current) => {
                if next.is_none() {
                    return;
                }
            }
            message = socket.recv() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

fn subscription_view(s: &Subscription) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        map.remove("signatureToken");
        map.remove("initialRecordTimeMs");
        map.insert(
            "signatureToken".into(),
            json!(s.signature_token.as_ref().map(|_| "(set)")),
        );
        if let Some(ms) = s.initial_record_time_ms {
            map.insert(
                "initialRecordTime".into(),
                json!(util::rfc3339_ms(ms.max(0) as u64)),
            );
        }
    }
    v
}

/// `POST /queries/{queryName}/subscriptions`.
pub async fn create_subscription(
    State(state): State<Shared>,
    _: ManageAuth,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body, 1 << 20).await?;
    let value = json_body(&headers, &bytes)?;
    let map = value.as_object().ok_or_else(|| {
        ApiError::validation("the body must be a JSON object").with("field", "body")
    })?;
    let controls = |detail: String, field: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "SubscriptionControlsException",
            detail,
        )
        .with("field", field)
    };
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "dest"
                | "signatureToken"
                | "stream"
                | "initialRecordTime"
                | "reportIfEmpty"
                | "epcFormat"
        ) {
            return Err(if key == "schedule" {
                controls(
                    "scheduled subscriptions are not supported; use \"stream\": true".into(),
                    "schedule",
                )
            } else {
                controls(format!("unknown member `{key}`"), key)
            });
        }
    }
    let dest = map
        .get("dest")
        .and_then(Value::as_str)
        .ok_or_else(|| controls("`dest` (a URL) is required".into(), "dest"))?
        .to_string();
    match reqwest::Url::parse(&dest) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            if let Some(reason) = webhook::refused(&url, state.config.webhook_private_destinations)
            {
                return Err(controls(reason, "dest"));
            }
        }
        _ => {
            return Err(controls(
                format!("`dest` `{dest}` is not an http:// or https:// URL"),
                "dest",
            ));
        }
    }
    if map.get("stream") != Some(&Value::Bool(true)) {
        return Err(controls(
            "`stream` must be true (only streaming subscriptions are supported)".into(),
            "stream",
        ));
    }
    let signature_token = match map.get("signatureToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            return Err(controls(
                "`signatureToken` must be a non-empty string".into(),
                "signatureToken",
            ));
        }
    };
    let initial_record_time_ms = match map.get("initialRecordTime") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(util::epcis_time_ms(s).ok_or_else(|| {
            controls(
                format!("`initialRecordTime` `{s}` is not an xsd:dateTime"),
                "initialRecordTime",
            )
        })?),
        Some(_) => {
            return Err(controls(
                "`initialRecordTime` must be a date-time string".into(),
                "initialRecordTime",
            ));
        }
    };
    let epc_format = match map.get("epcFormat") {
        None | Some(Value::Null) => match headers.get("GS1-EPC-Format") {
            Some(_) => super::binding::epc_format(&headers)?,
            None => EpcFormat::AlwaysDigitalLink,
        },
        Some(v) => {
            let mut h = HeaderMap::new();
            if let Some(text) = v.as_str()
                && let Ok(value) = HeaderValue::from_str(text)
            {
                h.insert("GS1-EPC-Format", value);
            }
            if h.is_empty() {
                return Err(controls("`epcFormat` must be a string".into(), "epcFormat"));
            }
            super::binding::epc_format(&h).map_err(|e| controls(e.detail, "epcFormat"))?
        }
    };
    let id = new_id();
    let subscription = Subscription {
        subscription_id: id.clone(),
        query_name: name.clone(),
        dest,
        signature_token,
        stream: true,
        created_at: util::rfc3339_ms(state.now_ms()),
        after_seq: if initial_record_time_ms.is_some() {
            0
        } else {
            state.ledger.commit_mark().event_seq
        },
        initial_record_time_ms,
        epc_format: epc_format.as_str().to_string(),
        last_notified_at: None,
        last_error: None,
        deliveries: 0,
    };
    {
        let mut data = lock(&state.queries.data);
        if !data.queries.contains_key(&name) {
            return Err(no_such_query(&name));
        }
        if data.subscriptions.len() >= SUBSCRIPTIONS_MAX {
            return Err(controls(
                format!("this node keeps at most {SUBSCRIPTIONS_MAX} subscriptions"),
                "dest",
            ));
        }
        data.subscriptions.insert(id.clone(), subscription.clone());
        if let Err(e) = state.queries.save(&data) {
            data.subscriptions.remove(&id);
            return Err(e);
        }
    }
    start_delivery(state.clone(), id.clone());
    let location = format!("/queries/{name}/subscriptions/{id}");
    let mut response =
        (StatusCode::CREATED, Json(subscription_view(&subscription))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    hex::encode(bytes)
}

/// `GET /queries/{queryName}/subscriptions`.
pub async fn list_subscriptions(
    State(state): State<Shared>,
    _: ReadAuth,
    Path(name): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let data = lock(&state.queries.data);
    if !data.queries.contains_key(&name) {
        return Err(no_such_query(&name));
    }
    Ok(Json(
        data.subscriptions
            .values()
            .filter(|s| s.query_name == name)
            .map(subscription_view)
            .collect(),
    ))
}

fn find_subscription(state: &Shared, name: &str, id: &str) -> Result<Subscription, ApiError> {
    let data = lock(&state.queries.data);
    if !data.queries.contains_key(name) {
        return Err(no_such_query(name));
    }
    data.subscriptions
        .get(id)
        .filter(|s| s.query_name == name)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!("no subscription `{id}` on query `{name}`"))
                .with("field", "subscriptionID")
        })
}

/// `GET /queries/{queryName}/subscriptions/{subscriptionID}`.
pub async fn get_subscription(
    State(state): State<Shared>,
    _: ReadAuth,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    find_subscription(&state, &name, &id).map(|s| Json(subscription_view(&s)))
}

/// `DELETE /queries/{queryName}/subscriptions/{subscriptionID}`.
pub async fn delete_subscription(
    State(state): State<Shared>,
    _: ManageAuth,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    find_subscription(&state, &name, &id)?;
    {
        let mut data = lock(&state.queries.data);
        let Some(old) = data.subscriptions.remove(&id) else {
            return Err(ApiError::not_found(format!("no subscription `{id}`")));
        };
        if let Err(e) = state.queries.save(&data) {
            data.subscriptions.insert(id.clone(), old);
            return Err(e);
        }
    }
    stop_delivery(&state, &id);
    Ok(StatusCode::NO_CONTENT)
}

fn stop_delivery(state: &Shared, id: &str) {
    if let Some(cancel) = lock(&state.queries.cancel).remove(id) {
        let _ = cancel.send(true);
    }
}

fn start_delivery(state: Shared, id: String) {
    let (cancel, cancelled) = watch::channel(false);
    lock(&state.queries.cancel).insert(id.clone(), cancel);
    tokio::spawn(async move { deliver_loop(state, id, cancelled).await });
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// What one pass over the new events found: a document to deliver (and the cursor after
/// it), or only a new cursor.
struct Pending {
    events: Vec<super::StoredEvent>,
    cursor: u64,
}

fn collect_pending(
    ledger: &dyn super::LedgerApi,
    query: &EventQuery,
    after: u64,
    since_ms: Option<i64>,
) -> Result<Pending, super::ReadError> {
    let mut cursor = after;
    let mut events = Vec::new();
    loop {
        let batch = ledger.events_after(cursor, 1_000)?;
        if batch.is_empty() {
            return Ok(Pending { events, cursor });
        }
        for stored in batch {
            if since_ms.is_none_or(|t| stored.record_time_ms as i64 >= t) && query.matches(&stored)
            {
                events.push(stored.clone());
            }
            cursor = stored.seq;
            if events.len() == DELIVERY_EVENTS_MAX {
                return Ok(Pending { events, cursor });
            }
        }
    }
}

/// How long a subscription's delivery waits after a failed ledger read before reading again.
const READ_RETRY: Duration = Duration::from_secs(5);

async fn deliver_loop(state: Shared, id: String, mut cancelled: watch::Receiver<bool>) {
    loop {
        if *cancelled.borrow() {
            return;
        }
        let Some(sub) = lock(&state.queries.data).subscriptions.get(&id).cloned() else {
            return;
        };
        let Some(definition) = lock(&state.queries.data)
            .queries
            .get(&sub.query_name)
            .map(|q| q.query.clone())
        else {
            return;
        };
        let query = match compile(&definition, "/events") {
            Ok(q) => q,
            Err(error) => {
                tracing::error!(subscription = %id, detail = %error.detail, "stored query no longer compiles");
                return;
            }
        };
        // Read what is new (blocking reads off the async threads).
        let ledger = state.ledger.clone();
        let since = sub.initial_record_time_ms;
        let after = sub.after_seq;
        let q = query.clone();
        let Ok(pending) =
            tokio::task::spawn_blocking(move || collect_pending(ledger.as_ref(), &q, after, since))
                .await
        else {
            return;
        };
        let pending = match pending {
            Ok(pending) => pending,
            Err(error) => {
                // The cursor stays where it was: the same events are read again.
                tracing::error!(%error, subscription = %id, "delivery paused; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(READ_RETRY) => continue,
                    _ = cancelled.changed() => return,
                }
            }
        };
        if pending.events.is_empty() {
            if pending.cursor != sub.after_seq {
                // Not persisted: after a restart the non-matching events are judged again.
                advance(&state, &id, pending.cursor, None);
            }
            // Events applied after the scan? Otherwise sleep until the next block.
            let current = state.ledger.commit_mark();
            if current.event_seq > pending.cursor {
                continue;
            }
            tokio::select! {
                next = state.ledger.next_commit(current) => {
                    if next.is_none() {
                        return;
                    }
                }
                _ = cancelled.changed() => return,
            }
            continue;
        }
        let format = EpcFormat::from_header(&sub.epc_format);
        let prefixes = if format == EpcFormat::AlwaysEpcUrn {
            company_prefixes(state.ledger.as_ref())
        } else {
            Vec::new()
        };
        let presentation = Presentation::with(format, prefixes);
        let events = pending
            .events
            .iter()
            .map(|s| query::presented(s, &presentation))
            .collect();
        let (body, _) = query::query_document_body(
            events,
            Format::Json,
            state.now_ms(),
            &sub.query_name,
            Some(&id),
        );
        let mut delay = state.config.webhook_retry_base;
        loop {
            match post(&state, &sub, &body).await {
                Ok(()) => {
                    advance(
                        &state,
                        &id,
                        pending.cursor,
                        Some(util::rfc3339_ms(state.now_ms())),
                    );
                    break;
                }
                Err(error) => {
                    tracing::warn!(subscription = %id, dest = %sub.dest, %error, "webhook delivery failed; retrying");
                    record_error(&state, &id, error);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = cancelled.changed() => return,
                    }
                    delay = (delay * 2).min(RETRY_MAX);
                }
            }
        }
    }
}

async fn post(state: &Shared, sub: &Subscription, body: &str) -> Result<(), String> {
    // Checked again: the operator may have turned private destinations off since.
    let url = reqwest::Url::parse(&sub.dest).map_err(|error| format!("`dest`: {error}"))?;
    if let Some(reason) = webhook::refused(&url, state.config.webhook_private_destinations) {
        return Err(reason);
    }
    let http = state.queries.http.as_ref().map_err(Clone::clone)?;
    let mut request = http
        .post(&sub.dest)
        .header(header::CONTENT_TYPE, "application/json")
        .header("GS1-EPCIS-Version", super::binding::VERSION)
        .header("GS1-CBV-Version", super::binding::VERSION)
        .header("GS1-EPC-Format", sub.epc_format.as_str())
        .body(body.to_string());
    if let Some(token) = &sub.signature_token {
        let signature = hex::encode(hmac_sha256(token.as_bytes(), body.as_bytes()));
        request = request.header("GS1-Signature", format!("sha256={signature}"));
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("`{}` answered {}", sub.dest, response.status()))
    }
}

fn advance(state: &Shared, id: &str, cursor: u64, notified: Option<String>) {
    let mut data = lock(&state.queries.data);
    let Some(sub) = data.subscriptions.get_mut(id) else {
        return;
    };
    sub.after_seq = cursor;
    sub.last_error = None;
    let Some(at) = notified else {
        return;
    };
    sub.last_notified_at = Some(at);
    sub.deliveries += 1;
    if let Err(error) = state.queries.save(&data) {
        tracing::error!(detail = %error.detail, "could not persist a subscription cursor");
    }
}

fn record_error(state: &Shared, id: &str, error: String) {
    if let Some(sub) = lock(&state.queries.data).subscriptions.get_mut(id) {
        sub.last_error = Some(error);
    }
}

/// The registry's handle in [`super::AppState`].
pub type Queries = Arc<Registry>;
