//! [`HttpSubmitter`]: submits spooled events to a node through the SDK's
//! [`pedigree_client::Client`].
//!
//! With an [`OrgSigner`] the events are signed here with the plant org's key
//! (`POST /capture` of client-signed transactions); without one the node signs
//! them as its own org (`POST /capture` of an EPCIS document).
//!
//! # Mapping to the [`Submitter`] contract
//! - Accepted → [`EventOutcome::Accepted`]; the chaincode's `DuplicateEvent`
//!   (same event hash already recorded, e.g. after a retry) →
//!   [`EventOutcome::Duplicate`]; a chaincode rejection →
//!   [`EventOutcome::Rejected`] with the outcome name and code.
//! - A transaction that was not committed (not leader, unavailable, timeout)
//!   or any transport error makes the whole call an `Err`: nothing is
//!   final, the adapter offers the events again, and events recorded
//!   meanwhile come back as duplicates. A transaction refused as invalid
//!   (bad signature, wrong network) is final: resubmitting cannot help.

use pedigree_client::{Client, OrgSigner, TxResult, TxStatus};

use crate::error::SubmitError;
use crate::spool::SpooledEvent;
use crate::submit::{EventOutcome, Submitter};

/// Submits batches to a node over HTTP; see the module docs.
#[derive(Debug)]
pub struct HttpSubmitter {
    client: Client,
    signer: Option<OrgSigner>,
}

impl HttpSubmitter {
    /// A submitter to `client`'s node, signing with `signer` if given.
    pub fn new(client: Client, signer: Option<OrgSigner>) -> Self {
        Self { client, signer }
    }

    /// The node's base URL.
    pub fn node_url(&self) -> &str {
        self.client.base_url()
    }
}

/// Failures (RFC 7807 exception names of the node) that resubmitting cannot fix: the
/// request itself is invalid (bad signature, wrong network, malformed event).
const FINAL_FAILURES: [&str; 2] = ["ValidationException", "invalid"];

/// Maps one result; `Err` for results that are not final.
fn outcome(result: &TxResult) -> Result<EventOutcome, SubmitError> {
    match result.status {
        TxStatus::Accepted => Ok(EventOutcome::Accepted),
        TxStatus::Duplicate => Ok(EventOutcome::Duplicate),
        TxStatus::Rejected => Ok(EventOutcome::Rejected {
            code: match result.code {
                Some(code) => format!("{}({code})", result.outcome),
                None => result.outcome.clone(),
            },
            message: result.message.clone(),
        }),
        TxStatus::Failed if FINAL_FAILURES.contains(&result.outcome.as_str()) => {
            Ok(EventOutcome::Rejected {
                code: result.outcome.clone(),
                message: result.message.clone(),
            })
        }
        TxStatus::Failed => Err(SubmitError::Transport(format!(
            "not committed: {} {}",
            result.outcome, result.message
        ))),
    }
}

impl Submitter for HttpSubmitter {
    async fn submit(&mut self, batch: &[SpooledEvent]) -> Result<Vec<EventOutcome>, SubmitError> {
        let events = batch.iter().map(|spooled| spooled.event.clone()).collect();
        let results = self
            .client
            .submit_events(self.signer.as_ref(), events)
            .await
            .map_err(|e| SubmitError::Transport(e.to_string()))?;
        if results.len() != batch.len() {
            return Err(SubmitError::OutcomeCount {
                expected: batch.len(),
                got: results.len(),
            });
        }
        results.iter().map(outcome).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: TxStatus, outcome: &str, code: Option<u32>) -> TxResult {
        TxResult {
            tx_id: None,
            event_id: None,
            status,
            outcome: outcome.into(),
            code,
            message: "m".into(),
            height: None,
        }
    }

    #[test]
    fn outcomes_follow_the_submitter_contract() {
        assert_eq!(
            outcome(&result(TxStatus::Accepted, "Applied", Some(0))).unwrap(),
            EventOutcome::Accepted
        );
        assert_eq!(
            outcome(&result(TxStatus::Duplicate, "DuplicateEvent", Some(1))).unwrap(),
            EventOutcome::Duplicate
        );
        assert_eq!(
            outcome(&result(TxStatus::Rejected, "DuplicateSerial", Some(400))).unwrap(),
            EventOutcome::Rejected {
                code: "DuplicateSerial(400)".into(),
                message: "m".into()
            }
        );
        assert!(
            outcome(&result(
                TxStatus::Failed,
                "ServiceUnavailableException",
                None
            ))
            .is_err()
        );
        assert!(matches!(
            outcome(&result(TxStatus::Failed, "ValidationException", None)).unwrap(),
            EventOutcome::Rejected { .. }
        ));
    }
}
