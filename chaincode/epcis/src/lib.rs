//! `pedigree-epcis`: the EPCIS 2.0 / CBV 2.0 event model, its JSON-LD and XML
//! bindings and validation. Pure library: no I/O, no clock, never panics on input.
//!
//! # Layout
//! - [`model`]: the typed event and document model (lexically preserved values).
//! - [`json`]: the JSON-LD binding (read and write).
//! - [`xml`]: the XML binding (read 1.x and 2.0, write 2.0).
//! - [`validate`]: rule checks returning every [`validate::Problem`].
//! - `conformance` (feature `conformance`): corpus checks shared with the workspace runner.
//! - [`error`]: parse errors with field paths and line/column positions.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod hash;
pub mod json;
mod json_tree;
pub mod model;
pub mod validate;
pub mod xml;
mod xml_tree;

pub use error::{ParseError, Position};
pub use model::*;
