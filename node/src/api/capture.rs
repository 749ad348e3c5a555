//! `POST /capture`, `GET /capture`, `GET /capture/{captureID}` and `POST /events`.
//!
//! # Capture bodies (by `Content-Type`)
//! - `application/json`, `application/ld+json`: an EPCIS 2.0 JSON-LD `EPCISDocument`.
//! - `application/xml`, `text/xml`: an EPCIS 1.x/2.0 XML `EPCISDocument`.
//!   Each event becomes one `TxBody::Epcis` transaction **signed by the node's org key**.
//! - `application/vnd.pedigree.signed-txs+json`: a JSON array of strings, each the lowercase
//!   hex of `SignedTx::to_bytes()` (the canonical bincode), signed by the client; submitted
//!   unchanged (the ledger verifies signatures).
//!
//! # `GS1-Capture-Error-Behaviour`
//! - `rollback` (default): the whole document is parsed and validated first; if any event
//!   is invalid, nothing is submitted and the request fails with 400 listing **every**
//!   problem. Valid documents are submitted as one batch. A ledger cannot undo committed
//!   transactions, so if the chaincode rejects an event after ordering (e.g. not
//!   custodian) the other events stay committed; the job then reports `success: false`
//!   with the rejected events in `errors`.
//! - `proceed`: invalid events are reported in the job's `errors` and the valid ones are
//!   submitted.
//!
//! The job is created before submission (202 + `Location: /capture/{captureID}`) and
//! finishes when every transaction is committed (or failed, or [`super::SUBMIT_TIMEOUT`]).
//!
//! # `Prefer: wait=N` (RFC 7240)
//! The node waits up to N seconds (at most [`CAPTURE_WAIT_MAX_S`]) for the job before it
//! answers: `200` with the finished job if it finished in time, else the usual `202`; both
//! with `Preference-Applied: wait=N`. Clients that wait for their receipts (the SDK, the
//! plant adapter) need no polling then.

use std::time::Duration;

use super::auth::{ReadAuth, SubmitAuth, WriteAuth};
use super::error::ApiError;
use super::util::{self, body_text, content_type, read_body};
use super::{Committed, Shared, SubmitError};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pedigree_chaincode::{Outcome, SignedTx, TxBody};
use pedigree_epcis::model::{EpcisDocument, EpcisEvent};
use pedigree_epcis::{ParseError, Position};
use serde::Serialize;
use serde_json::{Value, json};

/// The media type of a body of client-signed transactions.
pub const SIGNED_TXS_MEDIA_TYPE: &str = "application/vnd.pedigree.signed-txs+json";

/// A capture job as `GET /capture/{captureID}` shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureJob {
    /// Job id.
    #[serde(rename = "captureID")]
    pub capture_id: String,
    /// Creation time.
    pub created_at: String,
    /// Completion time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Still submitting.
    pub running: bool,
    /// No error so far.
    pub success: bool,
    /// `rollback` or `proceed`.
    pub capture_error_behaviour: String,
    /// Problems (RFC 7807 objects), one per failed event.
    pub errors: Vec<Value>,
    /// Number of events (or transactions) in the request.
    pub event_count: usize,
    /// Per-event results, in request order, once known.
    pub results: Vec<Value>,
}

/// A parse error as a 400 naming the field and line/column.
pub fn parse_error(error: &ParseError) -> ApiError {
    let mut problem = ApiError::validation(error.to_string());
    if let Some(field) = error.field() {
        problem = problem.with("field", field);
    }
    if let Some(position) = error.position() {
        problem = problem
            .with("line", position.line)
            .with("column", position.column);
    }
    problem
}

/// Parses an EPCIS document by content type.
pub fn parse_epcis(
    media: Option<&str>,
    text: &str,
) -> Result<(EpcisDocument, Vec<Position>), ApiError> {
    match media {
        Some("application/json" | "application/ld+json") => {
            pedigree_epcis::json::parse_document_with_positions(text).map_err(|e| parse_error(&e))
        }
        Some("application/xml" | "text/xml") => {
            pedigree_epcis::xml::parse_document_with_positions(text, Default::default())
                .map_err(|e| parse_error(&e))
        }
        other => Err(unsupported(other)),
    }
}

fn unsupported(media: Option<&str>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaTypeException",
        format!(
            "Content-Type `{}`: expected application/json, application/ld+json, application/xml, text/xml or {SIGNED_TXS_MEDIA_TYPE}",
            media.unwrap_or("(none)")
        ),
    )
}

/// A validation problem as JSON.
/// What validation `problems` mean for a capture: under `rollback`, or with a problem of the
/// document itself, nothing is captured (the error lists them all); otherwise the events with
/// problems are left out (returned) and their problems join the job's `errors`.
fn triage(
    problems: &[pedigree_epcis::validate::Problem],
    behaviour: &str,
    errors: &mut Vec<Value>,
) -> Result<std::collections::BTreeSet<usize>, ApiError> {
    let document_level = problems.iter().any(|p| p.event_index.is_none());
    if let Some(first) = problems.first()
        && (behaviour == "rollback" || document_level)
    {
        let list: Vec<Value> = problems.iter().map(problem_json).collect();
        return Err(ApiError::validation(format!(
            "{} problem(s); nothing was captured; first: {first}",
            problems.len()
        ))
        .with("errors", list));
    }
    errors.extend(problems.iter().map(problem_json));
    Ok(problems.iter().filter_map(|p| p.event_index).collect())
}

fn problem_json(problem: &pedigree_epcis::validate::Problem) -> Value {
    let mut value = json!({
        "type": "epcisException:ValidationException",
        "title": "Invalid EPCIS event",
        "status": 400,
        "detail": problem.to_string(),
        "field": problem.field,
    });
    if let Some(index) = problem.event_index {
        value["eventIndex"] = json!(index);
    }
    if let Some(p) = problem.position {
        value["line"] = json!(p.line);
        value["column"] = json!(p.column);
    }
    value
}

/// A committed transaction's receipt as JSON.
pub fn committed_json(committed: &Committed) -> Value {
    let receipt = &committed.receipt;
    json!({
        "txId": hex::encode(receipt.tx_id),
        "outcome": format!("{:?}", receipt.outcome),
        "code": receipt.outcome.code(),
        "accepted": receipt.is_accepted(),
        "message": receipt.message,
        "eventHash": receipt.event_hash.map(hex::encode),
        "exceptions": util::camel_keys(serde_json::to_value(&receipt.exceptions).unwrap_or(Value::Null)),
        "blockHeight": committed.height,
        "index": committed.index,
        "blockHash": hex::encode(committed.block_hash),
    })
}

/// The problem for a chaincode rejection: 403 for authorisation outcomes (3xx codes),
/// 409 for a duplicate event, 400 otherwise; the receipt is attached.
pub fn rejection(committed: &Committed) -> ApiError {
    let receipt = &committed.receipt;
    let code = receipt.outcome.code();
    let detail = format!(
        "chaincode rejected the transaction: {:?} ({code}){}",
        receipt.outcome,
        if receipt.message.is_empty() {
            String::new()
        } else {
            format!(": {}", receipt.message)
        }
    );
    let base = if receipt.outcome == Outcome::DuplicateEvent {
        ApiError::new(
            StatusCode::CONFLICT,
            "ResourceAlreadyExistsException",
            detail,
        )
    } else if (300..400).contains(&code) {
        ApiError::forbidden(detail)
    } else {
        ApiError::validation(detail)
    };
    base.with("receipt", committed_json(committed))
}

/// Submits and waits (bounded by the configured timeout).
pub async fn submit_and_wait(
    state: &Shared,
    txs: Vec<SignedTx>,
) -> Result<Vec<Result<Committed, SubmitError>>, ApiError> {
    let count = txs.len();
    let future = state.ledger.submit(txs);
    match tokio::time::timeout(state.config.submit_timeout, future).await {
        Ok(results) if results.len() == count => Ok(results),
        Ok(results) => Err(ApiError::internal(format!(
            "ledger returned {} results for {count} transactions",
            results.len()
        ))),
        Err(_) => Err(SubmitError::Timeout.into()),
    }
}

fn decode_signed_txs(text: &str, max: usize) -> Result<Vec<SignedTx>, ApiError> {
    let items: Vec<String> = serde_json::from_str(text).map_err(|e| {
        ApiError::validation(format!(
            "expected a JSON array of hex strings: {e} (at line {}, column {})",
            e.line(),
            e.column()
        ))
        .with("line", e.line())
        .with("column", e.column())
    })?;
    if items.len() > max {
        return Err(too_many(items.len(), max));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let bytes = hex::decode(item.trim()).map_err(|e| {
                ApiError::validation(format!("[{i}]: not hexadecimal: {e}"))
                    .with("field", format!("[{i}]"))
            })?;
            SignedTx::from_bytes(&bytes).ok_or_else(|| {
                ApiError::validation(format!("[{i}]: not a bincode SignedTx"))
                    .with("field", format!("[{i}]"))
            })
        })
        .collect()
}

fn too_many(count: usize, max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "CaptureLimitExceededException",
        format!("{count} events in one capture; the limit is {max} (GS1-EPCIS-Capture-Limit)"),
    )
    .with("limit", max)
}

fn behaviour(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers
        .get("GS1-Capture-Error-Behaviour")
        .map(|v| v.to_str())
    {
        None => Ok("rollback".into()),
        Some(Ok(v)) if v.trim().eq_ignore_ascii_case("rollback") => Ok("rollback".into()),
        Some(Ok(v)) if v.trim().eq_ignore_ascii_case("proceed") => Ok("proceed".into()),
        Some(v) => Err(ApiError::validation(format!(
            "header `GS1-Capture-Error-Behaviour`: `{}` is not `rollback` or `proceed`",
            v.unwrap_or("?")
        ))
        .with("field", "GS1-Capture-Error-Behaviour")),
    }
}

/// Longest `Prefer: wait=N` that `POST /capture` honours, in seconds.
pub const CAPTURE_WAIT_MAX_S: u64 = 60;

/// The `wait` preference of RFC 7240 (`Prefer: wait=5`, also among other preferences such as
/// `respond-async, wait=5`), capped at [`CAPTURE_WAIT_MAX_S`]. Other preferences are ignored,
/// as the RFC asks; a `wait` that is not whole seconds is an error naming the header.
fn preferred_wait(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let bad = |value: &str| {
        ApiError::validation(format!(
            "header `Prefer`: `wait={value}` is not a whole number of seconds"
        ))
        .with("field", "Prefer")
    };
    let mut wait = None;
    for header in headers.get_all("Prefer") {
        let text = header.to_str().map_err(|_| {
            ApiError::validation("header `Prefer` is not ASCII").with("field", "Prefer")
        })?;
        for preference in text.split(',') {
            // `token [= value] *( ";" parameter )`: only the token and value matter here.
            let head = preference.split(';').next().unwrap_or("").trim();
            let (name, value) = head.split_once('=').unwrap_or((head, ""));
            if !name.trim().eq_ignore_ascii_case("wait") {
                continue;
            }
            let value = value.trim().trim_matches('"');
            if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(value));
            }
            let seconds: u64 = value.parse().map_err(|_| bad(value))?;
            wait = Some(seconds.min(CAPTURE_WAIT_MAX_S));
        }
    }
    Ok(wait)
}

fn new_capture_id(state: &Shared) -> String {
    let jobs = state.jobs.lock().map(|j| j.1.len()).unwrap_or(0);
    let seed = format!("{}/{}/{}", state.now_ms(), jobs, rand_u64());
    hex::encode(&sha2_digest(seed.as_bytes())[..12])
}

fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    u64::from_le_bytes(bytes)
}

fn sha2_digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn store_job(state: &Shared, job: CaptureJob) {
    if let Ok(mut jobs) = state.jobs.lock() {
        let (map, order) = &mut *jobs;
        order.push_back(job.capture_id.clone());
        map.insert(job.capture_id.clone(), job);
        while order.len() > super::CAPTURE_JOBS_MAX {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }
}

/// `POST /capture`: documents need a token of the node's org (the node signs them);
/// client-signed transactions need a token of the org that signed every one of them.
///
/// The answer is `202 Accepted` with the running job and `Location: /capture/{id}`. With
/// `Prefer: wait=N` (RFC 7240) the node first waits up to N seconds (at most
/// [`CAPTURE_WAIT_MAX_S`]) for the job to finish: if it does, the answer is `200 OK` with the
/// finished job (the same body `GET /capture/{id}` gives) and `Preference-Applied: wait=N`, so
/// a client needs no polling; otherwise `202` as without the header.
pub async fn post_capture(
    State(state): State<Shared>,
    auth: SubmitAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let behaviour = behaviour(&headers)?;
    let wait = preferred_wait(&headers)?;
    let media = content_type(&headers);
    if media.as_deref() != Some(SIGNED_TXS_MEDIA_TYPE) {
        auth.require_node_org(&state)?;
    }
    let bytes = read_body(&headers, body, state.config.body_max).await?;
    let text = body_text(&bytes)?;
    let max = state.config.capture_events_max;
    // (original index, tx) to submit, and errors already known.
    let mut errors: Vec<Value> = Vec::new();
    let mut to_submit: Vec<(usize, SignedTx)> = Vec::new();
    let event_count;
    if media.as_deref() == Some(SIGNED_TXS_MEDIA_TYPE) {
        let txs = decode_signed_txs(text, max)?;
        if let Some((i, tx)) = txs
            .iter()
            .enumerate()
            .find(|(_, tx)| tx.envelope.signer_org != auth.0.org)
        {
            return Err(ApiError::forbidden(format!(
                "[{i}]: signed by org `{}`; a token of org `{}` may only submit its own org's transactions",
                tx.envelope.signer_org, auth.0.org
            ))
            .with("field", format!("[{i}]")));
        }
        event_count = txs.len();
        // The chaincode checks what it needs; the EPCIS rules (syntax of identifiers and
        // URIs, required fields) are checked here, as for a document, so that a signed
        // event is held to the same rules as a captured one.
        let problems: Vec<_> = txs
            .iter()
            .enumerate()
            .filter_map(|(i, tx)| match &tx.envelope.body {
                TxBody::Epcis(event) => {
                    Some(pedigree_epcis::validate::validate_event(event, "", i))
                }
                _ => None,
            })
            .flatten()
            .collect();
        let bad = triage(&problems, &behaviour, &mut errors)?;
        to_submit.extend(
            txs.into_iter()
                .enumerate()
                .filter(|(i, _)| !bad.contains(i)),
        );
    } else {
        let (doc, positions) = parse_epcis(media.as_deref(), text)?;
        event_count = doc.events.len();
        if doc.events.len() > max {
            return Err(too_many(doc.events.len(), max));
        }
        let problems = pedigree_epcis::validate::validate_with_positions(&doc, &positions);
        let bad = triage(&problems, &behaviour, &mut errors)?;
        for (i, event) in doc.events.into_iter().enumerate() {
            if bad.contains(&i) {
                continue;
            }
            let tx = state.ledger.sign(TxBody::Epcis(Box::new(event)))?;
            to_submit.push((i, tx));
        }
    }
    let capture_id = new_capture_id(&state);
    let job = CaptureJob {
        capture_id: capture_id.clone(),
        created_at: util::rfc3339_ms(state.now_ms()),
        finished_at: None,
        running: true,
        success: errors.is_empty(),
        capture_error_behaviour: behaviour,
        errors,
        event_count,
        results: Vec::new(),
    };
    store_job(&state, job.clone());
    let task_state = state.clone();
    let id = capture_id.clone();
    // The job runs on its own task: a client that stops waiting (or disconnects) does not
    // stop it.
    let running = tokio::spawn(async move { run_job(task_state, id, to_submit).await });
    let mut response = match wait {
        Some(seconds) => {
            // `wait=0` does not wait (not even for a job that happens to be done already).
            let done = match seconds {
                0 => None,
                _ => tokio::time::timeout(Duration::from_secs(seconds), running)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten(),
            };
            let mut response = match done {
                Some(done) => (StatusCode::OK, Json(done)).into_response(),
                None => (StatusCode::ACCEPTED, Json(job)).into_response(),
            };
            if let Ok(value) = HeaderValue::from_str(&format!("wait={seconds}")) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static("preference-applied"), value);
            }
            response
        }
        None => (StatusCode::ACCEPTED, Json(job)).into_response(),
    };
    let location = format!("/capture/{capture_id}");
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Runs a capture job to its end and records the outcome; returns the finished job (`None` if
/// it was already forgotten).
async fn run_job(state: Shared, id: String, items: Vec<(usize, SignedTx)>) -> Option<CaptureJob> {
    let (indexes, txs): (Vec<usize>, Vec<SignedTx>) = items.into_iter().unzip();
    let outcome = if txs.is_empty() {
        Ok(Vec::new())
    } else {
        submit_and_wait(&state, txs).await
    };
    let mut results = Vec::new();
    let mut errors = Vec::new();
    match outcome {
        Ok(list) => {
            for (index, result) in indexes.iter().zip(list) {
                match result {
                    Ok(committed) => {
                        let mut value = committed_json(&committed);
                        value["eventIndex"] = json!(index);
                        if !committed.receipt.is_accepted() {
                            let mut problem = rejection(&committed).body();
                            problem["eventIndex"] = json!(index);
                            errors.push(problem);
                        }
                        results.push(value);
                    }
                    Err(e) => {
                        let mut problem = ApiError::from(e).body();
                        problem["eventIndex"] = json!(index);
                        errors.push(problem);
                    }
                }
            }
        }
        Err(e) => errors.push(e.body()),
    }
    let finished = util::rfc3339_ms(state.now_ms());
    let mut jobs = state.jobs.lock().ok()?;
    let job = jobs.0.get_mut(&id)?;
    job.errors.extend(errors);
    job.results = results;
    job.success = job.errors.is_empty();
    job.running = false;
    job.finished_at = Some(finished);
    Some(job.clone())
}

/// `GET /capture/{captureID}`.
pub async fn get_capture(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    Path(id): Path<String>,
) -> Result<Json<CaptureJob>, ApiError> {
    let jobs = state
        .jobs
        .lock()
        .map_err(|_| ApiError::internal("capture job table unavailable"))?;
    jobs.0.get(&id).cloned().map(Json).ok_or_else(|| {
        ApiError::not_found(format!("no capture job `{id}`")).with("field", "captureID")
    })
}

/// `GET /capture`: the remembered capture jobs, newest first (at most 100).
pub async fn list_captures(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
) -> Result<Json<Value>, ApiError> {
    let jobs = state
        .jobs
        .lock()
        .map_err(|_| ApiError::internal("capture job table unavailable"))?;
    let list: Vec<&CaptureJob> = jobs
        .1
        .iter()
        .rev()
        .take(100)
        .filter_map(|id| jobs.0.get(id))
        .collect();
    Ok(Json(json!({ "captureJobs": list })))
}

fn single_event(media: Option<&str>, text: &str) -> Result<EpcisEvent, ApiError> {
    let (doc, positions) = parse_epcis(media, text)?;
    let problems = pedigree_epcis::validate::validate_with_positions(&doc, &positions);
    if !problems.is_empty() {
        let list: Vec<Value> = problems.iter().map(problem_json).collect();
        return Err(ApiError::validation(format!(
            "{} problem(s); first: {}",
            problems.len(),
            problems[0]
        ))
        .with("errors", list));
    }
    let mut events = doc.events;
    if events.len() != 1 {
        return Err(ApiError::validation(format!(
            "POST /events takes exactly one event; the body has {}",
            events.len()
        )));
    }
    Ok(events.remove(0))
}

/// `POST /events`: capture one event synchronously (201 + `Location`, or 409).
pub async fn post_event(
    State(state): State<Shared>,
    WriteAuth(_): WriteAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let media = content_type(&headers);
    let bytes = read_body(&headers, body, state.config.body_max).await?;
    let event = single_event(media.as_deref(), body_text(&bytes)?)?;
    let hash_id = pedigree_epcis::hash::event_hash_id(&event);
    let exists = |detail: String| {
        ApiError::new(
            StatusCode::CONFLICT,
            "ResourceAlreadyExistsException",
            detail,
        )
        .with("eventHashID", hash_id.clone())
    };
    if state.ledger.event_by_hash(&hash_id)?.is_some() {
        return Err(exists(format!(
            "an event with hash ID {hash_id} already exists"
        )));
    }
    if let Some(id) = &event.event_id
        && state.ledger.event_by_id(id)?.is_some()
    {
        return Err(exists(format!("an event with eventID {id} already exists")));
    }
    let event_id = event.event_id.clone();
    let tx = state.ledger.sign(TxBody::Epcis(Box::new(event)))?;
    let mut results = submit_and_wait(&state, vec![tx]).await?;
    let committed = results.remove(0)?;
    if committed.receipt.outcome != Outcome::Applied {
        return Err(rejection(&committed));
    }
    let location = format!("/events/{}", util::encode_component(&hash_id));
    let body = json!({
        "eventID": event_id,
        "eventHashID": hash_id,
        "location": location,
        "receipt": committed_json(&committed),
    });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}
