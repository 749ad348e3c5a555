//! Pedigree's client side: the SDK that MES/ERP/WMS integrations call, the `pedigree`
//! command-line tool and (in `client/plant`) the plant adapter.
//!
//! # Layout
//! - [`events`]: typed builders for the pharmaceutical events (commission, pack, unpack,
//!   ship, receive, dispense, destroy) producing EPCIS 2.0 events, and recall/release bodies.
//! - [`signer`]: organisation keys (the node's key-file format) and [`OrgSigner`], which
//!   turns a transaction body into a signed transaction with a fresh nonce.
//! - [`http`]: [`Client`], one node's HTTP API: submit and wait for receipts, capture,
//!   verify, trace, recall, reconcile, blocks, proofs and status.
//! - [`api`]: the typed, leniently decoded answers ([`TxResult`], [`Verification`],
//!   [`NodeStatus`]).
//! - [`genesis`]: assembling a genesis document from org descriptions and public keys.
//! - [`governance`]: membership changes: typed action builders, the proposal document
//!   that collects approvals offline, approving and submitting.
//! - [`error`]: [`ClientError`], the one error type.
//! - [`clock`]: the wall clock, read here (at the edge) and handed to the pure GS1/EPCIS code.
//!
//! ```no_run
//! # async fn example() -> pedigree_client::Result<()> {
//! use pedigree_client::{Client, OrgSigner, events::Commission, signer};
//! let key = signer::read_key_file("keys/signing.key".as_ref())?;
//! let network_id = signer::parse_digest(&"00".repeat(32))?;
//! let org = OrgSigner::new("acme-pharma", key, network_id);
//! let event = Commission::new("00614141073467", "LOT1", "2027-12-31").serial("SN1").build()?;
//! let client = Client::new("http://127.0.0.1:8080", Some("token"))?;
//! let results = client.submit(&[org.sign_event(event)]).await?;
//! assert!(results[0].is_on_ledger());
//! # Ok(()) }
//! ```
//!
//! The `pedigree` binary lives in `src/main.rs` with one module per command group under `src/cli/`.

pub mod api;
pub mod clock;
pub mod error;
pub mod events;
pub mod genesis;
pub mod governance;
pub mod http;
pub mod signer;

pub use api::{NodeStatus, TxResult, TxStatus, Verification};
pub use error::{ClientError, Result};
pub use http::Client;
pub use signer::OrgSigner;
