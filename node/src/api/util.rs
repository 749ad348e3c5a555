//! Small helpers: clock, time formatting, hex ids, body reading, query strings.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use pedigree_chaincode::Digest32;

/// The system clock in Unix ms (the API's default [`super::ApiConfig::clock`]).
pub fn system_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `(year, month, day)` of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix ms as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Unix ms of an xsd:dateTime (fraction truncated to ms), `None` if unparsable.
pub fn epcis_time_ms(text: &str) -> Option<i64> {
    let parts = pedigree_epcis::model::EpcisTime(text.to_string()).parse()?;
    let mut fraction: String = parts.fraction_digits.chars().take(3).collect();
    while fraction.len() < 3 {
        fraction.push('0');
    }
    Some(parts.unix_seconds() * 1000 + fraction.parse::<i64>().unwrap_or(0))
}

/// Parses a 64-hex-digit id; the error names `what`.
pub fn parse_digest(what: &str, text: &str) -> Result<Digest32, ApiError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out).map_err(|e| {
        ApiError::query_param(what, format!("expected 64 hexadecimal digits ({e})"))
            .with("field", what)
    })?;
    Ok(out)
}

/// Reads a whole body, refusing more than `max` bytes with 413 `CaptureLimitExceededException`.
pub async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "CaptureLimitExceededException",
            format!("request body exceeds the limit of {max} bytes"),
        )
        .with("limitBytes", max)
    };
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && length > max as u64
    {
        return Err(too_large());
    }
    axum::body::to_bytes(body, max).await.map_err(|e| {
        let inner = e.into_inner();
        if inner
            .downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
            || inner.to_string().contains("length limit")
        {
            too_large()
        } else {
            ApiError::validation(format!("could not read the request body: {inner}"))
        }
    })
}

/// The body as UTF-8, or 400 naming the byte offset.
pub fn body_text(bytes: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(bytes).map_err(|e| {
        ApiError::validation(format!(
            "request body is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

/// Decodes an `application/x-www-form-urlencoded` query string into ordered pairs.
pub fn parse_query(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    let Some(raw) = raw else { return Ok(out) };
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| ApiError::query_param(key, "not valid UTF-8 after percent-decoding"))
        };
        out.push((decode(key)?, decode(value)?));
    }
    Ok(out)
}

/// Percent-encodes a path segment or query value (everything but unreserved characters).
pub fn encode_component(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}

/// The media type of the `Content-Type` header, lowercased, without parameters.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Response format chosen from `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON-LD, labelled `application/json`.
    Json,
    /// JSON-LD, labelled `application/ld+json`.
    JsonLd,
    /// EPCIS 2.0 XML.
    Xml,
}

/// Picks JSON-LD or XML from `Accept` (first acceptable type wins; absent or `*/*` →
/// JSON); 406 `NotAcceptableException` if nothing offered is acceptable.
pub fn negotiate(headers: &HeaderMap) -> Result<Format, ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Format::Json);
    };
    for item in accept.split(',') {
        let media = item
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json" | "*/*" | "application/*" | "" => return Ok(Format::Json),
            "application/ld+json" => return Ok(Format::JsonLd),
            "application/xml" | "text/xml" | "text/*" => return Ok(Format::Xml),
            _ => {}
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "NotAcceptableException",
        format!(
            "Accept `{accept}`: offered application/json, application/ld+json, application/xml"
        ),
    ))
}

/// Objects whose keys are data (org ids, statuses), not field names: kept as they are.
const DATA_MAPS: &[&str] = &["by_custodian", "byCustodian", "current"];

/// `snake_case` field names (of chaincode records serialised as they are stored) as
/// `camelCase`, recursively, so every API body uses one spelling. Keys of the objects
/// named in `DATA_MAPS` are data and stay as they are (their values are converted).
pub fn camel_keys(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = if DATA_MAPS.contains(&key.as_str()) {
                        match value {
                            Value::Object(inner) => Value::Object(
                                inner.into_iter().map(|(k, v)| (k, camel_keys(v))).collect(),
                            ),
                            other => camel_keys(other),
                        }
                    } else {
                        camel_keys(value)
                    };
                    (camel_case(&key), value)
                })
                .collect(),
        ),
        other => other,
    }
}

/// `in_transit_to` → `inTransitTo`; anything else unchanged.
pub fn camel_case(key: &str) -> String {
    if !key.contains('_')
        || !key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return key.to_string();
    }
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
