//! Product verification: the DSCSA Lightweight Messaging request/response shape, also
//! answered at GS1 Digital Link paths so a scanned code resolves.
//!
//! - `GET /verify/gtin/{gtin}/lot/{lot}/ser/{serial}?exp=YYMMDD&reqGLN=…&corrUUID=…`
//! - `GET /01/{gtin}/21/{serial}?10={lot}&17={YYMMDD}`
//! - `GET /01/{gtin}/10/{lot}/21/{serial}?17={YYMMDD}`
//!
//! Response (200 whenever the request is well-formed, as LMS requires):
//! `{verificationTimestamp, responderGLN, corrUUID, data: {verified,
//! verificationFailureReason?, additionalInfo?}, status, custodian}` — `status` and
//! `custodian` are Pedigree additions. Expiry is judged against today's date (UTC) from
//! the API clock. `exp`/`17` use the GS1 YYMMDD century window relative to the current
//! year, and `DD = 00` means the last day of the month.

use super::Shared;
use super::auth::ReadAuth;
use super::error::ApiError;
use super::util::{self, parse_query};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use pedigree_chaincode::ident::{Date, date_from_unix_ms};
use pedigree_chaincode::query;
use serde_json::{Value, json};

/// A verification request after parsing.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    gtin: String,
    serial: String,
    lot: Option<String>,
    expiry: Option<Date>,
    req_gln: Option<String>,
    corr_uuid: Option<String>,
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYMMDD` → `yyyymmdd` with the GS1 century window around `today` (`yyyymmdd`).
pub fn parse_yymmdd(name: &str, text: &str, today: Date) -> Result<Date, ApiError> {
    let bad = || ApiError::query_param(name, format!("`{text}` is not a YYMMDD date"));
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u32 = text.parse().map_err(|_| bad())?;
    let (yy, mm, dd) = (n / 10_000, n / 100 % 100, n % 100);
    if !(1..=12).contains(&mm) {
        return Err(bad());
    }
    let current = today / 10_000;
    let century = current / 100 * 100;
    let diff = yy as i64 - (current % 100) as i64;
    let year = if diff >= 51 {
        century - 100 + yy
    } else if diff <= -50 {
        century + 100 + yy
    } else {
        century + yy
    };
    let last = days_in_month(year, mm);
    let day = if dd == 0 { last } else { dd };
    if day > last {
        return Err(bad());
    }
    Ok(year * 10_000 + mm * 100 + day)
}

/// Normalises a GTIN (8, 12, 13 or 14 digits) to GTIN-14, checking the check digit.
pub fn gtin14(text: &str) -> Result<String, ApiError> {
    let t = text.trim();
    let bad = |why: &str| ApiError::validation(format!("gtin `{t}`: {why}")).with("field", "gtin");
    if !matches!(t.len(), 8 | 12 | 13 | 14) || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("expected 8, 12, 13 or 14 digits"));
    }
    let padded = format!("{t:0>14}");
    pedigree_gs1::Gtin::parse(&padded).map_err(|e| bad(&e.to_string()))?;
    Ok(padded)
}

fn check_text(field: &str, value: &str) -> Result<String, ApiError> {
    if value.is_empty() || value.len() > 20 {
        return Err(
            ApiError::validation(format!("{field} `{value}`: must be 1 to 20 characters"))
                .with("field", field),
        );
    }
    Ok(value.to_string())
}

fn today(state: &Shared) -> Date {
    date_from_unix_ms(state.now_ms())
}

fn build(
    state: &Shared,
    gtin: &str,
    serial: &str,
    lot: Option<&str>,
    raw: Option<&str>,
    expiry_param: &str,
    lot_param: Option<&str>,
) -> Result<VerifyRequest, ApiError> {
    let mut request = VerifyRequest {
        gtin: gtin14(gtin)?,
        serial: check_text("serial", serial)?,
        lot: lot.map(|l| check_text("lot", l)).transpose()?,
        expiry: None,
        req_gln: None,
        corr_uuid: None,
    };
    let today = today(state);
    for (name, value) in parse_query(raw)? {
        if name == expiry_param {
            request.expiry = Some(parse_yymmdd(&name, &value, today)?);
        } else if Some(name.as_str()) == lot_param {
            request.lot = Some(check_text("lot", &value)?);
        } else if name == "reqGLN" {
            if value.len() != 13 || pedigree_gs1::Gln::parse(&value).is_err() {
                return Err(ApiError::query_param(
                    "reqGLN",
                    format!("`{value}` is not a valid GLN-13"),
                ));
            }
            request.req_gln = Some(value);
        } else if name == "corrUUID" {
            request.corr_uuid = Some(value);
        }
        // Other LMS / Digital Link parameters (linkType, context, ctrlPossessAtt, …)
        // do not change the answer and are ignored.
    }
    Ok(request)
}

fn answer(state: &Shared, request: VerifyRequest) -> Json<Value> {
    let as_of = today(state);
    let mut verification = None;
    state.ledger.with_state(&mut |view| {
        verification = Some(query::verify(
            view,
            &request.gtin,
            &request.serial,
            request.lot.as_deref(),
            request.expiry,
            as_of,
        ));
    });
    let v = verification.unwrap_or(query::Verification {
        verified: false,
        failure_reason: Some(query::FailureReason::NoReasonProvided),
        additional_info: None,
        status: None,
        custodian: None,
    });
    let mut data = json!({ "verified": v.verified });
    if let Some(reason) = v.failure_reason {
        data["verificationFailureReason"] = json!(reason.as_str());
    }
    if let Some(info) = v.additional_info {
        data["additionalInfo"] = json!(info.as_str());
    }
    Json(json!({
        "verificationTimestamp": util::rfc3339_ms(state.now_ms()),
        "responderGLN": state.config.responder_gln,
        "corrUUID": request.corr_uuid,
        "data": data,
        "status": v.status.map(|s| format!("{s:?}")),
        "custodian": v.custodian,
        "gtin": request.gtin,
        "serialNumber": request.serial,
    }))
}

/// `GET /verify/gtin/{gtin}/lot/{lot}/ser/{serial}`.
pub async fn verify_lms(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    Path((gtin, lot, serial)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = build(
        &state,
        &gtin,
        &serial,
        Some(&lot),
        raw.as_deref(),
        "exp",
        None,
    )?;
    Ok(answer(&state, request))
}

/// `GET /01/{gtin}/21/{serial}?10={lot}&17={exp}`.
pub async fn verify_dl_serial(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    Path((gtin, serial)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = build(
        &state,
        &gtin,
        &serial,
        None,
        raw.as_deref(),
        "17",
        Some("10"),
    )?;
    Ok(answer(&state, request))
}

/// `GET /01/{gtin}/10/{lot}/21/{serial}?17={exp}`.
pub async fn verify_dl_lot_serial(
    State(state): State<Shared>,
    ReadAuth(_): ReadAuth,
    Path((gtin, lot, serial)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = build(
        &state,
        &gtin,
        &serial,
        Some(&lot),
        raw.as_deref(),
        "17",
        None,
    )?;
    Ok(answer(&state, request))
}
