//! The crate's single error type.

use thiserror::Error;

/// Everything that can go wrong while parsing or converting GS1 data.
///
/// Positions are byte offsets into the string handed to the failing function
/// (for element strings: the whole element string, not just the value).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Gs1Error {
    /// A key (GTIN, SSCC, GLN, ...) has the wrong number of digits.
    #[error("{key}: invalid length {got}, expected {expected}")]
    KeyLength {
        /// Key name, e.g. `GTIN`.
        key: &'static str,
        /// Allowed lengths, e.g. `8, 12, 13 or 14`.
        expected: &'static str,
        /// Length received.
        got: usize,
    },
    /// A key contains a character that is not a digit.
    #[error("{key}: non-digit character {ch:?} at position {pos}")]
    KeyNonDigit {
        /// Key name.
        key: &'static str,
        /// Offending character.
        ch: char,
        /// Byte position in the key.
        pos: usize,
    },
    /// A key's mod-10 check digit is wrong.
    #[error("{key}: check digit expected {expected} got {got}")]
    KeyCheckDigit {
        /// Key name.
        key: &'static str,
        /// Computed check digit.
        expected: u8,
        /// Check digit found.
        got: u8,
    },
    /// An AI value breaks its format or a linter.
    #[error("AI ({ai}): invalid value '{value}' at position {pos}: {rule}")]
    AiValue {
        /// The Application Identifier.
        ai: String,
        /// The value as received (lossy for non-UTF-8 bytes).
        value: String,
        /// Byte position of the offending character in the input.
        pos: usize,
        /// Human-readable description of the rule broken.
        rule: String,
    },
    /// An AI that is not in the table.
    #[error("unknown AI ({ai}) at position {pos}")]
    UnknownAi {
        /// The digits read as an AI.
        ai: String,
        /// Byte position of the AI in the input.
        pos: usize,
    },
    /// Structural problem in an element string (brackets, separators, ...).
    #[error("element string syntax error at position {pos}: {reason}")]
    Syntax {
        /// Byte position in the input.
        pos: usize,
        /// What is wrong.
        reason: String,
    },
    /// AIs that must or must not appear together (req / ex rules), or
    /// conflicting repeats.
    #[error("AI ({ai}): {rule}")]
    Pairing {
        /// The AI whose rule is broken.
        ai: String,
        /// The rule, e.g. `requires one of (01), (03), (8006)`.
        rule: String,
    },
    /// A GS1 Digital Link URI problem.
    #[error("Digital Link: {reason}")]
    DigitalLink {
        /// What is wrong.
        reason: String,
    },
    /// An EPC URI problem.
    #[error("EPC URI: {reason}")]
    Epc {
        /// What is wrong.
        reason: String,
    },
    /// A scan data (AIM symbology identifier) problem.
    #[error("scan data: {reason}")]
    ScanData {
        /// What is wrong.
        reason: String,
    },
    /// The GS1 Company Prefix length is outside 6..=12 or does not fit.
    #[error("GS1 Company Prefix length {len} is invalid: {reason}")]
    GcpLength {
        /// Length given.
        len: usize,
        /// Why it is invalid.
        reason: String,
    },
}

/// Convenience alias.
pub type Result<T> = std::result::Result<T, Gs1Error>;
