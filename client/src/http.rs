//! [`Client`]: the HTTP client of one node's API.
//!
//! Any node will do: voters forward writes to the leader, and the regulator's learner
//! node answers every read. Writes resolve once the transactions are committed and
//! applied on the node asked, so a read on the same node right after sees them.
//! `client/SDK_WIRE_NOTES.md` lists the requests and the answers the client expects.

use std::time::Duration;

use pedigree_chaincode::SignedTx;
use pedigree_epcis::model::{DocumentKind, EpcisDocument, EpcisEvent, EpcisTime};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api::{NodeStatus, TxResult, Verification};
use crate::error::{ClientError, Result};
use crate::events::dl_escape;
use crate::signer::OrgSigner;

/// How long one HTTP request may take (a write waits up to 30 s for its commit on the node).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Most transactions per capture request; longer lists are split.
pub const TXS_PER_REQUEST_MAX: usize = 1_000;

/// The media type of a `POST /capture` body of client-signed transactions: a JSON array
/// of lowercase hex strings, each `SignedTx::to_bytes()`.
pub const SIGNED_TXS_MEDIA_TYPE: &str = "application/vnd.pedigree.signed-txs+json";

/// How long [`Client::wait_for_receipt`] and capture-job polling wait by default.
pub const WAIT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);

/// The results of a capture job that says it has finished (`running: false`); `None` while
/// it runs (or if the answer is not a job at all).
fn finished_job_results(job: &Value) -> Option<Vec<TxResult>> {
    let finished = crate::api::field(job, &["running"]).and_then(Value::as_bool) == Some(false);
    finished.then(|| crate::api::job_results(job))
}

/// Pause between polls.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The `Prefer: wait=N` (RFC 7240) sent with `POST /capture`: the node answers with the
/// finished job when it finishes within N seconds, so most captures need no polling.
const CAPTURE_PREFER: &str = "wait=30";

/// A client of one node's HTTP API.
#[derive(Clone, Debug)]
pub struct Client {
    base_url: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of the node at `base_url` (`http://host:port`), authenticating with the
    /// bearer `token` if given.
    pub fn new(base_url: &str, token: Option<&str>) -> Result<Client> {
        let trimmed = base_url.trim().trim_end_matches('/');
        let bad = |problem: &str| ClientError::NodeUrl {
            url: base_url.to_string(),
            problem: problem.to_string(),
        };
        let rest = trimmed
            .strip_prefix("http://")
            .or_else(|| trimmed.strip_prefix("https://"))
            .ok_or_else(|| bad("must start with http:// or https://"))?;
        if rest.is_empty() || rest.contains(char::is_whitespace) {
            return Err(bad("missing host"));
        }
        if trimmed.starts_with("https://") {
            return Err(bad(
                "this build speaks plain HTTP only; terminate TLS in front of the client or use http://",
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Client {
            base_url: trimmed.to_string(),
            token: token.filter(|t| !t.is_empty()).map(str::to_string),
            http,
        })
    }

    /// The node's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends a request with `headers` besides the token and the content type; returns the
    /// status, the `Location` header and the body text.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, String)>,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, Option<String>, String)> {
        let url = self.url(path);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some((content_type, body)) = body {
            request = request.header(CONTENT_TYPE, content_type).body(body);
        }
        let transport = |e: reqwest::Error| ClientError::Transport {
            url: url.clone(),
            message: error_chain(&e),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.map_err(transport)?;
        Ok((status, location, text))
    }

    /// Sends a request and decodes a JSON answer; non-2xx statuses become
    /// [`ClientError::Http`].
    async fn request_json(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, String)>,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, Option<String>, Value)> {
        let method_name = method.to_string();
        let (status, location, text) = self.send(method, path, body, headers).await?;
        if !status.is_success() {
            return Err(ClientError::Http {
                method: method_name,
                url: self.url(path),
                status: status.as_u16(),
                message: error_message(&text),
            });
        }
        if text.trim().is_empty() {
            return Ok((status, location, Value::Null));
        }
        let value = serde_json::from_str(&text).map_err(|e| ClientError::Decode {
            url: self.url(path),
            message: format!("not JSON: {e}"),
        })?;
        Ok((status, location, value))
    }

    /// `GET path` as JSON (for any read route, e.g. `/openapi.json`).
    pub async fn get_json(&self, path: &str) -> Result<Value> {
        Ok(self.request_json(Method::GET, path, None, &[]).await?.2)
    }

    /// `GET path`, `None` on 404.
    async fn get_optional(&self, path: &str) -> Result<Option<Value>> {
        match self.get_json(path).await {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.http_status() == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Submits client-signed transactions (`POST /capture` with
    /// [`SIGNED_TXS_MEDIA_TYPE`]) and returns one result per transaction, in order, once
    /// each is committed and applied (or failed).
    pub async fn submit(&self, txs: &[SignedTx]) -> Result<Vec<TxResult>> {
        let mut results = Vec::with_capacity(txs.len());
        for chunk in txs.chunks(TXS_PER_REQUEST_MAX) {
            let encoded: Vec<String> = chunk.iter().map(|tx| hex::encode(tx.to_bytes())).collect();
            let body =
                serde_json::to_string(&encoded).map_err(|e| ClientError::Invalid(e.to_string()))?;
            let mut chunk_results = self.capture_text(body, SIGNED_TXS_MEDIA_TYPE).await?;
            if chunk_results.len() != chunk.len() {
                return Err(ClientError::Decode {
                    url: self.url("/capture"),
                    message: format!(
                        "{} results for {} transactions",
                        chunk_results.len(),
                        chunk.len()
                    ),
                });
            }
            for (result, tx) in chunk_results.iter_mut().zip(chunk) {
                result.tx_id.get_or_insert_with(|| hex::encode(tx.tx_id()));
                if let pedigree_chaincode::TxBody::Epcis(event) = &tx.envelope.body
                    && let Some(id) = &event.event_id
                {
                    result.event_id = Some(id.clone());
                }
            }
            results.extend(chunk_results);
        }
        Ok(results)
    }

    /// Submits EPCIS events: signed by `signer` through [`Client::submit`] when given,
    /// otherwise captured as a document and signed by the node as its own org.
    pub async fn submit_events(
        &self,
        signer: Option<&OrgSigner>,
        events: Vec<EpcisEvent>,
    ) -> Result<Vec<TxResult>> {
        if let Some(signer) = signer {
            let txs: Vec<SignedTx> = events.into_iter().map(|e| signer.sign_event(e)).collect();
            return self.submit(&txs).await;
        }
        let ids: Vec<Option<String>> = events.iter().map(|e| e.event_id.clone()).collect();
        let mut document = EpcisDocument::new(DocumentKind::Document);
        document.schema_version = Some("2.0".to_string());
        document.creation_date = Some(EpcisTime::new(crate::clock::rfc3339_utc(
            crate::clock::unix_millis(),
        )));
        document.events = events;
        let mut results = self.capture(&document).await?;
        for (result, id) in results.iter_mut().zip(ids) {
            if id.is_some() {
                result.event_id = id;
            }
        }
        Ok(results)
    }

    /// Captures an EPCIS document (`POST /capture`); the node signs each event as its own
    /// org. Follows the capture job to its end; one result per event.
    pub async fn capture(&self, document: &EpcisDocument) -> Result<Vec<TxResult>> {
        let body = pedigree_epcis::json::write_document(document);
        self.capture_text(body, "application/ld+json").await
    }

    /// Captures a body already serialised: `application/ld+json`, `application/xml` or
    /// [`SIGNED_TXS_MEDIA_TYPE`]. One result per event or transaction, in order.
    pub async fn capture_text(&self, body: String, content_type: &str) -> Result<Vec<TxResult>> {
        let (_, location, value) = self
            .request_json(
                Method::POST,
                "/capture",
                Some((content_type, body)),
                &[("Prefer", CAPTURE_PREFER)],
            )
            .await?;
        // Finished within the `Prefer: wait`: the answer is the finished job.
        if let Some(results) = finished_job_results(&value) {
            return Ok(results);
        }
        let job = location
            .map(|l| l.trim_start_matches(&self.base_url).to_string())
            .or_else(|| {
                crate::api::field(&value, &["captureID", "captureId", "capture_id"])
                    .and_then(Value::as_str)
                    .map(|id| format!("/capture/{}", dl_escape(id)))
            })
            .ok_or_else(|| ClientError::Decode {
                url: self.url("/capture"),
                message: "no capture job in the answer".into(),
            })?;
        self.wait_capture_job(&job, WAIT_TIMEOUT_DEFAULT).await
    }

    /// Polls `GET /capture/{id}` until the job has finished.
    async fn wait_capture_job(&self, path: &str, timeout: Duration) -> Result<Vec<TxResult>> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            let value = self.get_json(path).await?;
            if let Some(results) = finished_job_results(&value) {
                return Ok(results);
            }
            if started.elapsed() > timeout {
                return Err(timeout_error(format!("capture job {path}"), started));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL_INTERVAL);
        }
    }

    /// The receipt of a transaction (`GET /receipts/{txId}`), `None` while unknown.
    pub async fn receipt(&self, tx_id: &str) -> Result<Option<TxResult>> {
        let value = self
            .get_optional(&format!("/receipts/{}", dl_escape(tx_id)))
            .await?;
        Ok(value.map(|v| {
            let mut result = TxResult::from_json(&v);
            result.tx_id.get_or_insert_with(|| tx_id.to_string());
            result
        }))
    }

    /// Polls for a receipt until it exists or `timeout` passes.
    pub async fn wait_for_receipt(&self, tx_id: &str, timeout: Duration) -> Result<TxResult> {
        let started = std::time::Instant::now();
        loop {
            if let Some(result) = self.receipt(tx_id).await? {
                return Ok(result);
            }
            if started.elapsed() > timeout {
                return Err(timeout_error(format!("receipt of {tx_id}"), started));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// DSCSA verification of a product identifier. `expiry` is `YYMMDD` (as on the pack).
    pub async fn verify(
        &self,
        gtin: &str,
        lot: &str,
        serial: &str,
        expiry: Option<&str>,
    ) -> Result<Verification> {
        let mut path = format!(
            "/verify/gtin/{}/lot/{}/ser/{}",
            dl_escape(gtin),
            dl_escape(lot),
            dl_escape(serial)
        );
        if let Some(expiry) = expiry {
            path.push_str(&format!("?exp={}", dl_escape(expiry)));
        }
        let value = self.get_json(&path).await?;
        Verification::from_json(&value).ok_or_else(|| ClientError::Decode {
            url: self.url(&path),
            message: "no `verified` boolean in the answer".into(),
        })
    }

    /// The history of one object (`GET /trace/{epc}`); `epc` is an EPC or Digital Link URI.
    pub async fn trace(&self, epc: &str) -> Result<Value> {
        self.get_json(&format!("/trace/{}", dl_escape(epc))).await
    }

    /// Recall scope of a lot: every unit by custodian and status.
    pub async fn recall_scope(&self, gtin: &str, lot: &str) -> Result<Value> {
        self.get_json(&format!("/recall/{}/{}", dl_escape(gtin), dl_escape(lot)))
            .await
    }

    /// Reconciliation counters of a lot.
    pub async fn reconciliation(&self, gtin: &str, lot: &str) -> Result<Value> {
        self.get_json(&format!(
            "/reconciliation/{}/{}",
            dl_escape(gtin),
            dl_escape(lot)
        ))
        .await
    }

    /// Recalls a lot, signed by the node as the token's org (`POST /recall`).
    pub async fn recall(&self, gtin: &str, lot: &str, reason: &str) -> Result<TxResult> {
        let body = json!({ "gtin": gtin, "lot": lot, "reason": reason }).to_string();
        self.post_one("/recall", body).await
    }

    /// Releases a recalled lot, signed by the node as the token's org (`POST /release`).
    pub async fn release(&self, gtin: &str, lot: &str) -> Result<TxResult> {
        let body = json!({ "gtin": gtin, "lot": lot }).to_string();
        self.post_one("/release", body).await
    }

    /// Posts a node-signed lot action; a chaincode rejection (a 4xx answer carrying the
    /// receipt) is a [`TxResult`], not an error.
    async fn post_one(&self, path: &str, body: String) -> Result<TxResult> {
        let (status, _, text) = self
            .send(Method::POST, path, Some(("application/json", body)), &[])
            .await?;
        let value: Option<Value> = serde_json::from_str(&text).ok();
        if let Some(receipt) = value.as_ref().and_then(|v| v.get("receipt")) {
            return Ok(TxResult::from_json(receipt));
        }
        if !status.is_success() {
            return Err(ClientError::Http {
                method: "POST".into(),
                url: self.url(path),
                status: status.as_u16(),
                message: error_message(&text),
            });
        }
        Err(ClientError::Decode {
            url: self.url(path),
            message: "no receipt in the answer".into(),
        })
    }

    /// The block at `height`.
    pub async fn block(&self, height: u64) -> Result<Value> {
        self.get_json(&format!("/blocks/{height}")).await
    }

    /// The latest block.
    pub async fn latest_block(&self) -> Result<Value> {
        self.get_json("/blocks/latest").await
    }

    /// The Merkle inclusion proof of a transaction.
    pub async fn proof(&self, tx_id: &str) -> Result<Value> {
        self.get_json(&format!("/proof/{}", dl_escape(tx_id))).await
    }

    /// Consensus and ledger status.
    pub async fn status(&self) -> Result<NodeStatus> {
        Ok(NodeStatus::from_json(&self.get_json("/status").await?))
    }

    /// Polls `GET /status` until the node knows a leader.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<NodeStatus> {
        let started = std::time::Instant::now();
        loop {
            match self.status().await {
                Ok(status) if status.has_leader() => return Ok(status),
                Ok(_) => {}
                Err(error) if error.is_retryable() => {}
                Err(error) => return Err(error),
            }
            if started.elapsed() > timeout {
                return Err(timeout_error(
                    format!("a leader at {}", self.base_url),
                    started,
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

fn timeout_error(what: String, started: std::time::Instant) -> ClientError {
    ClientError::Timeout {
        what,
        waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// The message of an error body: `message`/`error`/`detail` from JSON, else the text.
fn error_message(text: &str) -> String {
    let from_json = serde_json::from_str::<Value>(text).ok().and_then(|v| {
        ["message", "detail", "error", "title"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
    });
    let message = from_json.unwrap_or_else(|| text.trim().to_string());
    let mut message: String = message.chars().take(500).collect();
    if message.is_empty() {
        message.push_str("(empty body)");
    }
    message
}

/// The error and its sources on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            Client::new("http://127.0.0.1:8080/", None)
                .unwrap()
                .base_url(),
            "http://127.0.0.1:8080"
        );
        assert!(Client::new("127.0.0.1:8080", None).is_err());
        assert!(Client::new("http://", None).is_err());
        assert!(
            Client::new("https://node.example", None)
                .unwrap_err()
                .to_string()
                .contains("plain HTTP")
        );
    }

    #[test]
    fn error_messages_prefer_json_fields() {
        assert_eq!(
            error_message(r#"{"error":"forbidden","message":"read-only node"}"#),
            "read-only node"
        );
        assert_eq!(error_message("plain text\n"), "plain text");
        assert_eq!(error_message(""), "(empty body)");
    }
}
