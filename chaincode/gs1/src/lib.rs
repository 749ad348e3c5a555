//! GS1 identifiers for pharmaceutical traceability: keys and check digits,
//! the Application Identifier table, element strings in every carrier form,
//! GS1 Digital Link URIs and EPC pure-identity URIs.
//!
//! The crate is pure: no I/O, no clock (the YYMMDD century window takes a
//! [`ReferenceYear`]), no hash-map iteration order, and no panics on any
//! input.
//!
//! # Layout
//! - [`check_digit`]: mod-10 check digits and the alphanumeric check pair.
//! - [`keys`]: typed keys ([`Gtin`], [`Sscc`], [`Gln`], [`Sgln`], [`Grai`],
//!   [`Giai`]).
//! - [`ai`] and [`table`]: the AI table, value validation and pairing rules;
//!   [`lint`] holds the content checks.
//! - [`date`]: YYMMDD dates, DD = 00 and the sliding century window.
//! - [`element`]: bracketed and unbracketed element strings.
//! - [`scan`]: scan data with AIM symbology identifiers.
//! - [`dl`]: GS1 Digital Link, including the constrained canonical form used
//!   by the EPCIS event hash ([`dl::canonical_for_hash`]).
//! - [`epc`]: EPC URIs to and from AIs.
//! - [`data`]: [`parse_any`], the one-call entry point.
//!
//! # Conformance checking
//! With the cargo feature `conformance`, the module `conformance` exposes
//! one row checker per external test corpus (for example
//! `conformance::check_syntax_engine_row`). Each takes the TSV columns of
//! one row and returns `Ok(())` or a description of the mismatch. The
//! crate's tests in `tests/conformance.rs` drive them; the workspace-wide
//! conformance runner can reuse them.

pub mod ai;
pub mod check_digit;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod data;
pub mod date;
pub mod dl;
pub mod element;
pub mod epc;
pub mod error;
mod iso;
pub mod keys;
pub mod lint;
pub mod scan;
pub mod table;

pub use data::{Gs1Data, InputForm, ParseContext, parse_any};
pub use date::ReferenceYear;
pub use element::{AiElement, Options};
pub use error::Gs1Error;
pub use keys::{Giai, Gln, Grai, Gtin, Sgln, Sscc};
