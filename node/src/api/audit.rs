//! Audit routes: `GET /blocks/{height}`, `GET /blocks/latest`, `GET /proof/{txId}`,
//! `GET /receipts/{txId}`, `GET /status`, `GET /metrics`.

use super::auth::ReadAuth;
use super::capture::committed_json;
use super::error::ApiError;
use super::util::{self, parse_digest};
use super::{BlockView, Shared, merkle};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use pedigree_chaincode::TxBody;
use serde_json::{Value, json};
use std::fmt::Write as _;

fn kind(body: &TxBody) -> &'static str {
    match body {
        TxBody::Epcis(_) => "epcis",
        TxBody::Ops(_) => "ops",
        TxBody::Governance(_) => "governance",
        TxBody::Recall { .. } => "recall",
        TxBody::Release { .. } => "release",
        TxBody::SuspectMark { .. } => "suspect_mark",
        TxBody::SuspectResolve { .. } => "suspect_resolve",
        TxBody::ExtendExpiry { .. } => "extend_expiry",
    }
}

/// A block as JSON.
pub fn block_json(block: &BlockView) -> Value {
    let txs: Vec<Value> = block
        .txs
        .iter()
        .zip(&block.receipts)
        .enumerate()
        .map(|(index, (tx, receipt))| {
            json!({
                "index": index,
                "txId": hex::encode(tx.tx_id()),
                "signerOrg": tx.envelope.signer_org,
                "keyId": tx.envelope.key_id,
                "nonce": tx.envelope.nonce,
                "kind": kind(&tx.envelope.body),
                "outcome": format!("{:?}", receipt.outcome),
                "code": receipt.outcome.code(),
                "message": receipt.message,
                "eventHash": receipt.event_hash.map(hex::encode),
            })
        })
        .collect();
    json!({
        "height": block.height,
        "hash": hex::encode(block.hash),
        "parentHash": hex::encode(block.parent_hash),
        "timestampMs": block.timestamp_ms,
        "time": util::rfc3339_ms(block.timestamp_ms),
        "txRoot": hex::encode(block.tx_root),
        "stateHash": hex::encode(block.state_hash),
        "txCount": block.txs.len(),
        "txs": txs,
    })
}

/// `GET /blocks/{height}`.
pub async fn get_block(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    Path(height): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let height: u64 = height.trim().parse().map_err(|_| {
        ApiError::validation(format!(
            "height `{height}`: expected a non-negative integer"
        ))
        .with("field", "height")
    })?;
    let block = state
        .ledger
        .block(height)?
        .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    Ok(Json(block_json(&block)))
}

/// `GET /blocks/latest`.
pub async fn get_latest_block(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
) -> Result<Json<Value>, ApiError> {
    let height = state.ledger.latest_height();
    let block = state
        .ledger
        .block(height)?
        .ok_or_else(|| ApiError::not_found("no block has been committed yet"))?;
    Ok(Json(block_json(&block)))
}

/// `GET /proof/{txId}`: Merkle inclusion proof, checked server-side before it is returned.
pub async fn get_proof(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    Path(tx_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_digest("txId", &tx_id)?;
    let proof = state
        .ledger
        .inclusion_proof(&id)?
        .ok_or_else(|| ApiError::not_found(format!("no committed transaction {tx_id}")))?;
    let verified = merkle::verify_proof(&proof.tx_id, &proof.siblings, &proof.root);
    let mut value = serde_json::to_value(&proof).unwrap_or(Value::Null);
    value["verified"] = json!(verified);
    value["scheme"] = json!(
        "leaf = sha256(0x00 || txId); node = sha256(0x01 || left || right); odd node promoted; side = position of the sibling"
    );
    Ok(Json(value))
}

/// `GET /receipts/{txId}`.
pub async fn get_receipt(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    Path(tx_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_digest("txId", &tx_id)?;
    let committed = state
        .ledger
        .receipt(&id)?
        .ok_or_else(|| ApiError::not_found(format!("no committed transaction {tx_id}")))?;
    Ok(Json(committed_json(&committed)))
}

/// `GET /status`.
pub async fn get_status(State(state): State<Shared>, ReadAuth(_): ReadAuth) -> Json<Value> {
    let info = state.ledger.info();
    let status = state.ledger.status();
    Json(json!({
        "node": info,
        "readOnly": info.role.is_read_only(),
        "ledger": status,
    }))
}

/// `GET /metrics`: Prometheus text (HTTP counters, then the ledger's lines).
pub async fn get_metrics(State(state): State<Shared>, ReadAuth(_): ReadAuth) -> Response {
    let mut text = String::from(
        "# HELP pedigree_http_requests_total HTTP requests by method, route and status.\n\
         # TYPE pedigree_http_requests_total counter\n",
    );
    if let Ok(counters) = state.requests.lock() {
        for ((method, route, status), count) in counters.iter() {
            let route = route.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                text,
                "pedigree_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
    }
    if let Ok(jobs) = state.jobs.lock() {
        let running = jobs.0.values().filter(|j| j.running).count();
        let _ = write!(
            text,
            "# HELP pedigree_capture_jobs_running Capture jobs still submitting.\n\
             # TYPE pedigree_capture_jobs_running gauge\n\
             pedigree_capture_jobs_running {running}\n"
        );
    }
    text.push_str(&state.ledger.metrics_text());
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
