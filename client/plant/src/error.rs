//! Error types of the plant adapter, split by what the caller does next.

use std::path::PathBuf;

/// Failures of the durable spool. Every variant stops the adapter: a spool
/// that cannot be written or read safely must not acknowledge line events.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// An operating-system I/O error on the spool files.
    #[error("spool I/O on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A checksum or structure error before the last record: the middle of
    /// the spool is damaged. The adapter refuses to open it rather than
    /// silently dropping acknowledged events.
    #[error("spool {path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The spool file.
        path: PathBuf,
        /// Byte offset of the damaged record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The file is not a spool of a version this build understands.
    #[error("{path} is not a version-1 pedigree spool")]
    BadHeader {
        /// The file.
        path: PathBuf,
    },
    /// A record could not be encoded (an internal bug, never input data).
    #[error("spool record encoding: {0}")]
    Encode(String),
}

/// Failures of a [`crate::submit::Submitter`]: the batch did not reach a
/// definite outcome and will be resubmitted (idempotently) later.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The node or the output medium is unreachable or failed.
    #[error("submission transport: {0}")]
    Transport(String),
    /// The submitter answered with a different number of outcomes than
    /// events; nothing is assumed about the batch.
    #[error("submitter returned {got} outcomes for {expected} events")]
    OutcomeCount {
        /// Events in the batch.
        expected: usize,
        /// Outcomes returned.
        got: usize,
    },
}

/// Failures of serial-number and SSCC allocation.
#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    /// The counter state file could not be read or written.
    #[error("serial counter {path}: {source}")]
    Io {
        /// The counter file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The counter file exists but does not hold a counter.
    #[error("serial counter {path} is unreadable: {reason}")]
    BadState {
        /// The counter file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The namespace has issued every number it may issue.
    #[error("serial namespace {namespace} is exhausted after {issued_max} numbers")]
    Exhausted {
        /// The namespace.
        namespace: String,
        /// The capacity that was reached.
        issued_max: u64,
    },
    /// The allocator parameters are invalid.
    #[error("serial allocator: {0}")]
    Config(String),
}

/// Reasons a line message is refused (malformed, unknown line, bad GS1 data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidMessage(pub String);

impl InvalidMessage {
    /// Builds a refusal reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// Configuration errors (file, values, cross-checks).
#[derive(Debug, thiserror::Error)]
#[error("config: {0}")]
pub struct ConfigError(pub String);
