//! RFC 7807 problem responses with EPCIS exception types.
//!
//! Every error body is `application/problem+json`:
//! `{"type": "epcisException:<Name>", "title", "status", "detail", "instance"?, ...}`
//! plus optional members (`field`, `line`, `column`, `errors`, `receipt`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An API error rendered as an RFC 7807 problem.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The EPCIS exception name (without the `epcisException:` prefix).
    pub kind: &'static str,
    /// Human-readable detail naming the field or parameter at fault.
    pub detail: String,
    /// Extra members merged into the problem object.
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// A problem with the given status, exception name and detail.
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            detail: detail.into(),
            extra: Map::new(),
        }
    }

    /// Adds a member to the problem body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// 400 `ValidationException`.
    pub fn validation(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "ValidationException", detail)
    }

    /// 400 `QueryParameterException`.
    pub fn query_param(param: &str, detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "QueryParameterException",
            format!("query parameter `{param}`: {detail}"),
        )
        .with("parameter", param)
    }

    /// 404 `NoSuchResourceException`.
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NoSuchResourceException", detail)
    }

    /// 401 `SecurityException`.
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "SecurityException", detail)
    }

    /// 403 `SecurityException`.
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "SecurityException", detail)
    }

    /// 500 `ImplementationException`.
    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ImplementationException",
            detail,
        )
    }

    /// The problem object.
    pub fn body(&self) -> Value {
        let mut object = Map::new();
        object.insert(
            "type".into(),
            json!(format!("epcisException:{}", self.kind)),
        );
        object.insert("title".into(), json!(title_of(self.kind)));
        object.insert("status".into(), json!(self.status.as_u16()));
        object.insert("detail".into(), json!(self.detail));
        for (key, value) in &self.extra {
            object.insert(key.clone(), value.clone());
        }
        Value::Object(object)
    }
}

fn title_of(kind: &str) -> &'static str {
    match kind {
        "ValidationException" => "Invalid EPCIS document or event",
        "QueryParameterException" => "Invalid query parameter",
        "QueryTooLargeException" => "Query result too large",
        "SecurityException" => "Not allowed",
        "NoSuchResourceException" => "No such resource",
        "NoSuchNameException" => "No such named query",
        "SubscriptionControlsException" => "Invalid subscription controls",
        "NotAcceptableException" => "Not acceptable",
        "ResourceAlreadyExistsException" => "Resource already exists",
        "CaptureLimitExceededException" => "Capture limit exceeded",
        "UnsupportedMediaTypeException" => "Unsupported media type",
        "ServiceUnavailableException" => "Ledger unavailable",
        _ => "Implementation error",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl From<super::service::ReadError> for ApiError {
    fn from(error: super::service::ReadError) -> ApiError {
        // The storage error (paths, record positions) is for the operator's log, not the client.
        tracing::error!(%error, "answered 500");
        ApiError::internal(format!(
            "ledger read failed ({}); the node's log has the storage error",
            error.what
        ))
        .with("read", error.what)
    }
}

impl From<super::service::SubmitError> for ApiError {
    fn from(error: super::service::SubmitError) -> ApiError {
        use super::service::SubmitError as E;
        match &error {
            E::ReadOnly => {
                ApiError::forbidden("this node is read-only (learner); writes are refused")
            }
            E::Invalid(message) => ApiError::validation(format!("transaction refused: {message}")),
            E::Timeout => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "ImplementationException",
                error.to_string(),
            ),
            E::NotLeader { .. } | E::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                error.to_string(),
            ),
        }
    }
}
