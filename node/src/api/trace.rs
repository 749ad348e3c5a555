//! Traceability queries and lot actions: `GET /trace/{epc}`, `GET /recall/{gtin}/{lot}`,
//! `GET /reconciliation/{gtin}/{lot}`, `POST /recall`, `POST /release`.
//!
//! `{epc}` may be an EPC URN (`urn:epc:id:sgtin:…`, `urn:epc:id:sscc:…`), a GS1 Digital
//! Link URI (URL-encoded or not) or a bracketed element string (`(01)…(21)…`).
//! `POST /recall` takes `{"gtin", "lot", "reason"}` and `POST /release` `{"gtin", "lot"}`;
//! both are signed by the node's org and the chaincode decides whether that org may
//! (brand owner or regulator).

use super::Shared;
use super::auth::{ReadAuth, WriteAuth};
use super::capture::{committed_json, rejection, submit_and_wait};
use super::error::ApiError;
use super::util::{self, body_text, read_body};
use super::verify::gtin14;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use pedigree_chaincode::{ObjectKey, TxBody, query};
use pedigree_gs1::element::AiElement;
use serde::Deserialize;
use serde_json::{Value, json};

/// Parses any supported identifier form into an object key.
pub fn object_key(text: &str) -> Result<ObjectKey, ApiError> {
    let text = text.trim().trim_start_matches('/');
    let fixed;
    let text = if let Some(rest) = text.strip_prefix("https:/").filter(|r| !r.starts_with('/')) {
        fixed = format!("https://{rest}");
        fixed.as_str()
    } else {
        text
    };
    let bad =
        |why: String| ApiError::validation(format!("epc `{text}`: {why}")).with("field", "epc");
    let elements: Vec<AiElement> = if text.starts_with("urn:epc:") {
        pedigree_gs1::epc::parse_urn(text).map_err(|e| bad(e.to_string()))?
    } else if text.starts_with("http://") || text.starts_with("https://") {
        pedigree_gs1::dl::parse(text, &pedigree_gs1::Options::default())
            .map_err(|e| bad(e.to_string()))?
            .elements
    } else {
        let ctx = pedigree_gs1::ParseContext::new(pedigree_gs1::ReferenceYear(2000));
        pedigree_gs1::parse_any(text, &ctx)
            .map_err(|e| bad(e.to_string()))?
            .elements
    };
    let get = |ai: &str| {
        elements
            .iter()
            .find(|e| e.ai == ai)
            .map(|e| e.value.as_str())
    };
    let key = match (get("01"), get("21"), get("00")) {
        (Some(gtin), Some(serial), _) => ObjectKey::sgtin(gtin, serial),
        (_, _, Some(sscc)) => ObjectKey::sscc(sscc),
        _ => None,
    };
    key.ok_or_else(|| bad("not a serialised item (SGTIN) or logistic unit (SSCC)".into()))
}

/// `GET /trace/{epc}`.
pub async fn get_trace(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    Path(epc): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let object = object_key(&epc)?;
    let mut trace = None;
    state
        .ledger
        .with_state(&mut |view| trace = query::trace(view, &object));
    let trace = trace.ok_or_else(|| {
        ApiError::not_found(format!(
            "`{}` is not on the ledger",
            object.element_string()
        ))
    })?;
    Ok(Json(json!({
        "epc": epc,
        "elementString": object.element_string(),
        "status": format!("{:?}", trace.status),
        "custodian": trace.record.custodian,
        "trace": util::camel_keys(serde_json::to_value(&trace).unwrap_or(Value::Null)),
    })))
}

fn lot_path(gtin: &str, lot: &str) -> Result<(String, String), ApiError> {
    let gtin = gtin14(gtin)?;
    if lot.is_empty() || lot.len() > 20 {
        return Err(
            ApiError::validation(format!("lot `{lot}`: must be 1 to 20 characters"))
                .with("field", "lot"),
        );
    }
    Ok((gtin, lot.to_string()))
}

/// `GET /recall/{gtin}/{lot}`: the recall record and every object of the lot by custodian and status.
pub async fn get_recall_scope(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    Path((gtin, lot)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (gtin, lot) = lot_path(&gtin, &lot)?;
    let mut value = Value::Null;
    state.ledger.with_state(&mut |view| {
        value = util::camel_keys(
            serde_json::to_value(query::recall_scope(view, &gtin, &lot)).unwrap_or(Value::Null),
        )
    });
    Ok(Json(json!({ "gtin": gtin, "lot": lot, "scope": value })))
}

/// `GET /reconciliation/{gtin}/{lot}`: lot counters and current statuses.
pub async fn get_reconciliation(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    Path((gtin, lot)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (gtin, lot) = lot_path(&gtin, &lot)?;
    let mut value = Value::Null;
    state.ledger.with_state(&mut |view| {
        value = util::camel_keys(
            serde_json::to_value(query::reconciliation(view, &gtin, &lot)).unwrap_or(Value::Null),
        )
    });
    Ok(Json(
        json!({ "gtin": gtin, "lot": lot, "reconciliation": value }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LotAction {
    gtin: String,
    lot: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn lot_action(
    state: Shared,
    headers: HeaderMap,
    body: Body,
    recall: bool,
) -> Result<Json<Value>, ApiError> {
    let bytes = read_body(&headers, body, 64 << 10).await?;
    let action: LotAction = serde_json::from_str(body_text(&bytes)?).map_err(|e| {
        ApiError::validation(format!("body: {e}"))
            .with("line", e.line())
            .with("column", e.column())
    })?;
    let (gtin, lot) = lot_path(&action.gtin, &action.lot)?;
    let body = if recall {
        let reason = action
            .reason
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                ApiError::validation("reason: required for a recall").with("field", "reason")
            })?;
        TxBody::Recall { gtin, lot, reason }
    } else {
        TxBody::Release { gtin, lot }
    };
    let tx = state.ledger.sign(body)?;
    let committed = submit_and_wait(&state, vec![tx]).await?.remove(0)?;
    if !committed.receipt.is_accepted() {
        return Err(rejection(&committed));
    }
    Ok(Json(json!({ "receipt": committed_json(&committed) })))
}

/// `POST /recall`.
pub async fn post_recall(
    State(state): State<Shared>,
    WriteAuth(_): WriteAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    lot_action(state, headers, body, true).await
}

/// `POST /release`.
pub async fn post_release(
    State(state): State<Shared>,
    WriteAuth(_): WriteAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    lot_action(state, headers, body, false).await
}
