//! Pedigree's client side: the SDK that MES/ERP/WMS integrations call, the `pedigree` command-line
//! tool and the plant adapter.
//!
//! # Layout
//! - [`clock`]: the wall clock, read here (at the edge) and handed to the pure GS1/EPCIS code.
//!
//! The `pedigree` binary lives in `src/main.rs` with one module per command group under `src/cli/`.

pub mod clock;
