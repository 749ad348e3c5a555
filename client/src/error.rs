//! The SDK's error type: one enum for every infrastructure failure.
//!
//! Business outcomes are not errors: a transaction the chaincode rejects comes back as a
//! [`crate::api::TxResult`] with its numbered outcome. [`ClientError`] means the request
//! itself failed (bad input, transport, the node refusing or timing out).

use std::path::PathBuf;

/// The SDK's result type.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Why an SDK call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The caller's input is invalid (identifier, date, builder field); nothing was sent.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A key file could not be read, written or parsed.
    #[error("{}: {problem}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The node URL is not a valid `http://host:port` base URL.
    #[error("invalid node URL {url:?}: {problem}")]
    NodeUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// The request did not reach the node or the connection failed (retrying may help).
    #[error("cannot reach {url}: {message}")]
    Transport {
        /// The request URL.
        url: String,
        /// The transport error.
        message: String,
    },
    /// The node answered with an HTTP error status.
    #[error("{method} {url}: HTTP {status}: {message}")]
    Http {
        /// Request method.
        method: String,
        /// The request URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The error message from the body (or the body itself).
        message: String,
    },
    /// The node's answer could not be understood.
    #[error("{url}: unexpected response: {message}")]
    Decode {
        /// The request URL.
        url: String,
        /// What did not parse.
        message: String,
    },
    /// A wait (for a receipt, a leader, a capture job) ran out of time.
    #[error("timed out after {waited_ms} ms waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long the SDK waited.
        waited_ms: u64,
    },
}

impl ClientError {
    /// The HTTP status, if the node answered with an error status.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for failures where the same request may succeed later (transport, timeouts,
    /// 429 and 5xx answers).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport { .. } | ClientError::Timeout { .. } => true,
            ClientError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
