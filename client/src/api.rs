//! Typed views of the node's HTTP answers, decoded leniently.
//!
//! The node's JSON uses camelCase (EPCIS, LMS) in places and snake_case in others; the
//! decoders here accept both spellings of every key they read and ignore keys they do
//! not know. `client/SDK_WIRE_NOTES.md` lists the shapes the SDK expects. Answers the
//! SDK only displays (trace, recall scope, reconciliation, blocks) stay
//! [`serde_json::Value`].

use serde::Serialize;
use serde_json::Value;

/// Reads the first present key among `keys`.
pub fn field<'v>(value: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter()
        .find_map(|key| value.get(*key).filter(|v| !v.is_null()))
}

fn text(value: &Value, keys: &[&str]) -> Option<String> {
    field(value, keys).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn number(value: &Value, keys: &[&str]) -> Option<u64> {
    field(value, keys).and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
}

/// Outcome names of the chaincode that mean "on the ledger".
const ACCEPTED_OUTCOMES: [&str; 2] = ["Applied", "DuplicateEvent"];

/// What happened to one submitted transaction or event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum TxStatus {
    /// Committed and applied: the chaincode accepted it.
    Accepted,
    /// Committed, and the chaincode recognised it as an event already on the ledger.
    Duplicate,
    /// Committed, but the chaincode rejected it (a business outcome; resubmitting will
    /// not help).
    Rejected,
    /// Not committed (not leader, unavailable, timeout, read-only, invalid signature).
    Failed,
}

/// The verdict on one transaction (`POST /transactions`, `GET /receipts/{txId}`, capture
/// results).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TxResult {
    /// Transaction id (hex), if the node reported it.
    pub tx_id: Option<String>,
    /// The EPCIS `eventID` or hash ID of the event, if known.
    pub event_id: Option<String>,
    /// Summary status.
    pub status: TxStatus,
    /// The chaincode outcome name (`Applied`, `DuplicateSerial`, …) or the error kind.
    pub outcome: String,
    /// The stable outcome code (see the chaincode README), if committed.
    pub code: Option<u32>,
    /// Human-readable detail.
    pub message: String,
    /// Block height, if committed.
    pub height: Option<u64>,
}

impl TxResult {
    /// True if the transaction is on the ledger (accepted or a duplicate event).
    pub fn is_on_ledger(&self) -> bool {
        matches!(self.status, TxStatus::Accepted | TxStatus::Duplicate)
    }

    /// Decodes one result object.
    pub fn from_json(value: &Value) -> TxResult {
        let code = number(value, &["code", "outcomeCode", "outcome_code"])
            .and_then(|c| u32::try_from(c).ok());
        let outcome_value = field(value, &["outcome"]);
        let (outcome, outcome_code) = match outcome_value {
            Some(Value::String(name)) => (name.clone(), None),
            Some(Value::Number(n)) => (
                n.to_string(),
                n.as_u64().and_then(|c| u32::try_from(c).ok()),
            ),
            Some(Value::Object(_)) => (
                outcome_value
                    .and_then(|o| text(o, &["name", "outcome"]))
                    .unwrap_or_default(),
                outcome_value
                    .and_then(|o| number(o, &["code"]))
                    .and_then(|c| u32::try_from(c).ok()),
            ),
            _ => (String::new(), None),
        };
        let code = code.or(outcome_code);
        let error = text(value, &["error", "errorKind", "error_kind"]);
        let status_text = text(value, &["status"]).unwrap_or_default();
        let accepted_flag = field(value, &["accepted"]).and_then(Value::as_bool);
        let status = if error.is_some() || status_text == "error" || status_text == "failed" {
            TxStatus::Failed
        } else if code == Some(1) || outcome == "DuplicateEvent" || status_text == "duplicate" {
            TxStatus::Duplicate
        } else if code == Some(0)
            || ACCEPTED_OUTCOMES.contains(&outcome.as_str())
            || accepted_flag == Some(true)
        {
            TxStatus::Accepted
        } else if code.is_some() || !outcome.is_empty() || accepted_flag == Some(false) {
            TxStatus::Rejected
        } else {
            TxStatus::Failed
        };
        let outcome = if outcome.is_empty() {
            error.clone().unwrap_or_else(|| status_text.clone())
        } else {
            outcome
        };
        TxResult {
            tx_id: text(value, &["txId", "tx_id", "transactionId"]),
            event_id: text(
                value,
                &["eventId", "eventID", "event_id", "eventHash", "event_hash"],
            ),
            status,
            outcome,
            code,
            message: text(value, &["message", "detail", "reason"]).unwrap_or_default(),
            height: number(value, &["height", "blockHeight", "block_height"]),
        }
    }

    /// A failure the SDK itself records for a transaction (for example a transport error
    /// on its batch).
    pub fn failed(tx_id: Option<String>, outcome: &str, message: impl Into<String>) -> TxResult {
        TxResult {
            tx_id,
            event_id: None,
            status: TxStatus::Failed,
            outcome: outcome.to_string(),
            code: None,
            message: message.into(),
            height: None,
        }
    }
}

/// Decodes a list of results from `{"results": [...]}`, a bare array or one object.
pub fn results_from_json(value: &Value) -> Vec<TxResult> {
    let list = field(value, &["results", "receipts", "receipt"]).unwrap_or(value);
    match list {
        Value::Array(items) => items.iter().map(TxResult::from_json).collect(),
        Value::Object(_) => vec![TxResult::from_json(list)],
        _ => Vec::new(),
    }
}

/// The per-event results of a finished capture job (`GET /capture/{id}`): `eventCount`
/// slots filled from `results` (committed: accepted, duplicate or rejected, by
/// `eventIndex`), then from `errors` (not committed, by `eventIndex`); slots still empty
/// get the job-level error, if any.
pub fn job_results(job: &Value) -> Vec<TxResult> {
    let results = match field(job, &["results"]) {
        Some(Value::Array(items)) => items.as_slice(),
        _ => &[],
    };
    let errors = match field(job, &["errors"]) {
        Some(Value::Array(items)) => items.as_slice(),
        _ => &[],
    };
    let index_of = |v: &Value| number(v, &["eventIndex", "event_index"]).map(|i| i as usize);
    let count = number(job, &["eventCount", "event_count"])
        .map(|c| c as usize)
        .unwrap_or(results.len());
    let mut slots: Vec<Option<TxResult>> = vec![None; count];
    for (position, item) in results.iter().enumerate() {
        let index = index_of(item).unwrap_or(position);
        if let Some(slot) = slots.get_mut(index) {
            *slot = Some(TxResult::from_json(item));
        }
    }
    let problem = |item: &Value| {
        let kind = text(item, &["type", "title"]).unwrap_or_else(|| "error".into());
        let kind = kind.rsplit(':').next().unwrap_or("error").to_string();
        TxResult::failed(
            None,
            &kind,
            text(item, &["detail", "message", "title"]).unwrap_or_default(),
        )
    };
    let mut job_error = None;
    for item in errors {
        match index_of(item) {
            Some(index) => {
                if let Some(slot) = slots.get_mut(index).filter(|s| s.is_none()) {
                    *slot = Some(problem(item));
                }
            }
            None => job_error = Some(problem(item)),
        }
    }
    slots
        .into_iter()
        .map(|slot| {
            slot.unwrap_or_else(|| {
                job_error.clone().unwrap_or_else(|| {
                    TxResult::failed(None, "unknown", "the node reported no result")
                })
            })
        })
        .collect()
}

/// The answer to a verification request (DSCSA Lightweight Messaging semantics).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// LMS `verified`.
    pub verified: bool,
    /// LMS `verificationFailureReason`.
    pub failure_reason: Option<String>,
    /// LMS `additionalInfo`.
    pub additional_info: Option<String>,
    /// Pedigree status, if the node reports it.
    pub status: Option<String>,
    /// Current custodian org, if the node reports it.
    pub custodian: Option<String>,
    /// The node's whole answer.
    pub raw: Value,
}

impl Verification {
    /// Decodes the LMS shape (`{"data": {...}}`) or a flat object. `None` without a
    /// `verified` boolean.
    pub fn from_json(value: &Value) -> Option<Verification> {
        let data = field(value, &["data"])
            .filter(|d| d.is_object())
            .unwrap_or(value);
        let verified = field(data, &["verified"])?.as_bool()?;
        let pick = |keys: &[&str]| text(data, keys).or_else(|| text(value, keys));
        Some(Verification {
            verified,
            failure_reason: pick(&[
                "verificationFailureReason",
                "failure_reason",
                "failureReason",
            ]),
            additional_info: pick(&["additionalInfo", "additional_info"]),
            status: pick(&["status"]),
            custodian: pick(&["custodian"]),
            raw: value.clone(),
        })
    }
}

/// The parts of `GET /status` the SDK relies on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// `voter` or `learner`, if reported.
    pub role: Option<String>,
    /// The leader's peer id, if known.
    pub leader: Option<String>,
    /// True if this node is the leader.
    pub is_leader: bool,
    /// Raft term, if reported.
    pub term: Option<u64>,
    /// Latest block height, if reported.
    pub latest_height: Option<u64>,
    /// The node's whole answer.
    pub raw: Value,
}

impl NodeStatus {
    /// Decodes `GET /status` (top level or under `ledger`/`consensus`).
    pub fn from_json(value: &Value) -> NodeStatus {
        let scopes: Vec<&Value> = [
            Some(value),
            value.get("ledger"),
            value.get("node"),
            value.get("consensus"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let find_text = |keys: &[&str]| scopes.iter().find_map(|s| text(s, keys));
        let find_number = |keys: &[&str]| scopes.iter().find_map(|s| number(s, keys));
        let is_leader = scopes
            .iter()
            .find_map(|s| field(s, &["isLeader"]).and_then(Value::as_bool))
            .unwrap_or(false);
        NodeStatus {
            role: find_text(&["role"]),
            leader: find_text(&["leader"]),
            is_leader,
            term: find_number(&["term"]),
            latest_height: find_number(&["latestHeight"]),
            raw: value.clone(),
        }
    }

    /// True if the node knows a leader (itself or another).
    pub fn has_leader(&self) -> bool {
        self.is_leader || self.leader.as_deref().is_some_and(|l| !l.is_empty())
    }
}

/// Keys whose 32-byte values are EPCIS event hashes (the digest of the CBV 2.0 event hash
/// ID), written back as that hash ID.
const EVENT_HASH_KEYS: [&str; 4] = [
    "event_hash",
    "eventHash",
    "commissioned_event",
    "commissionedEvent",
];

/// The CBV 2.0 event hash ID (`ni:///sha-256;<hex>?ver=CBV2.0`) of an event hash digest.
pub fn event_hash_id(digest: &[u8; 32]) -> String {
    pedigree_epcis::hash::sha256_hash_id(digest)
}

/// 32 integers 0..=255: a digest the node serialised as a byte array.
fn as_digest(value: &Value) -> Option<[u8; 32]> {
    let items = value.as_array().filter(|items| items.len() == 32)?;
    let mut digest = [0_u8; 32];
    for (byte, item) in digest.iter_mut().zip(items) {
        *byte = u8::try_from(item.as_u64()?).ok()?;
    }
    Some(digest)
}

/// Rewrites every digest the node serialised as an array of 32 bytes (the chaincode's
/// records in `GET /trace`, for instance) as text: event hashes (`event_hash`,
/// `commissioned_event`) as their CBV 2.0 hash ID `ni:///sha-256;<hex>?ver=CBV2.0`, any
/// other digest (a shipment id, a tx id) as lowercase hex.
pub fn readable_digests(value: &mut Value) {
    fn walk(value: &mut Value, key: Option<&str>) {
        if let Some(digest) = as_digest(value) {
            *value = Value::String(if key.is_some_and(|k| EVENT_HASH_KEYS.contains(&k)) {
                event_hash_id(&digest)
            } else {
                hex::encode(digest)
            });
            return;
        }
        match value {
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    walk(item, Some(key));
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, None);
                }
            }
            _ => {}
        }
    }
    walk(value, None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_decode_every_status() {
        let answer = json!({"results": [
            {"txId": "aa", "status": "committed", "outcome": "Applied", "code": 0, "height": 3},
            {"tx_id": "bb", "outcome": "DuplicateEvent", "code": 1},
            {"txId": "cc", "outcome": "DuplicateSerial", "code": 400, "message": "U1 exists"},
            {"txId": "dd", "status": "error", "error": "read_only", "message": "learner"},
            {"txId": "ee", "outcome": {"name": "NotCustodian", "code": 302}}
        ]});
        let results = results_from_json(&answer);
        let statuses: Vec<_> = results.iter().map(|r| r.status.clone()).collect();
        assert_eq!(
            statuses,
            [
                TxStatus::Accepted,
                TxStatus::Duplicate,
                TxStatus::Rejected,
                TxStatus::Failed,
                TxStatus::Rejected
            ]
        );
        assert_eq!(results[0].height, Some(3));
        assert_eq!(results[1].tx_id.as_deref(), Some("bb"));
        assert_eq!(results[2].message, "U1 exists");
        assert_eq!(results[3].outcome, "read_only");
        assert_eq!(results[4].code, Some(302));
        assert!(
            results[0].is_on_ledger() && results[1].is_on_ledger() && !results[2].is_on_ledger()
        );
    }

    #[test]
    fn capture_jobs_give_one_result_per_event() {
        let job = json!({
            "captureID": "x", "running": false, "success": false, "eventCount": 4,
            "results": [
                {"txId": "a", "outcome": "Applied", "code": 0, "accepted": true, "blockHeight": 5, "eventIndex": 0},
                {"txId": "c", "outcome": "NotCustodian", "code": 302, "accepted": false, "message": "no", "eventIndex": 2}
            ],
            "errors": [
                {"type": "epcisException:ValidationException", "title": "t", "status": 400, "detail": "not custodian", "eventIndex": 2},
                {"type": "epcisException:ServiceUnavailableException", "status": 503, "detail": "no leader", "eventIndex": 1}
            ]
        });
        let results = job_results(&job);
        assert_eq!(results.len(), 4);
        assert_eq!(results[0].status, TxStatus::Accepted);
        assert_eq!(results[0].height, Some(5));
        assert_eq!(results[1].status, TxStatus::Failed);
        assert_eq!(results[1].outcome, "ServiceUnavailableException");
        assert_eq!(results[1].message, "no leader");
        assert_eq!(results[2].status, TxStatus::Rejected);
        assert_eq!(results[2].code, Some(302));
        assert_eq!(results[3].status, TxStatus::Failed);
        assert_eq!(results[3].outcome, "unknown");
    }

    #[test]
    fn verification_decodes_lms_and_flat() {
        let lms = json!({"data": {"verified": false, "verificationFailureReason": "No_match_GTIN_Serial"}, "corrUUID": "x"});
        let v = Verification::from_json(&lms).unwrap();
        assert!(!v.verified);
        assert_eq!(v.failure_reason.as_deref(), Some("No_match_GTIN_Serial"));
        let flat = json!({"verified": true, "additional_info": "Recalled", "custodian": "dist"});
        let v = Verification::from_json(&flat).unwrap();
        assert!(v.verified);
        assert_eq!(v.additional_info.as_deref(), Some("Recalled"));
        assert_eq!(v.custodian.as_deref(), Some("dist"));
        assert!(Verification::from_json(&json!({"data": {}})).is_none());
    }

    #[test]
    fn status_decodes_the_api_shape() {
        let s = NodeStatus::from_json(&json!({
            "node": {"orgId": "mfg", "peerId": "12D3", "networkId": "00", "role": "voter"},
            "readOnly": false,
            "ledger": {"role": "voter", "leader": "12D3", "isLeader": false, "latestHeight": 4}
        }));
        assert!(s.has_leader());
        assert_eq!(s.latest_height, Some(4));
        let s = NodeStatus::from_json(
            &json!({"node": {"role": "learner"}, "ledger": {"isLeader": true, "term": 2}}),
        );
        assert_eq!(s.role.as_deref(), Some("learner"));
        assert!(s.is_leader && s.has_leader());
        assert_eq!(s.term, Some(2));
        assert!(!NodeStatus::from_json(&json!({"leader": null})).has_leader());
    }

    #[test]
    fn digests_become_hash_ids_and_hex() {
        let bytes: Vec<u8> = (0..32).collect();
        let mut trace = json!({
            "trace": {
                "history": [{"event_hash": bytes, "height": 3, "action": {"ErrorDeclared": {"event_hash": bytes}}}],
                "record": {"commissioned_event": bytes, "shipment": bytes, "children": [1, 2, 3]},
                "txs": [bytes]
            }
        });
        readable_digests(&mut trace);
        let hex_text = hex::encode(&bytes);
        let id = format!("ni:///sha-256;{hex_text}?ver=CBV2.0");
        assert_eq!(trace["trace"]["history"][0]["event_hash"], json!(id));
        assert_eq!(trace["trace"]["history"][0]["height"], json!(3));
        assert_eq!(
            trace["trace"]["history"][0]["action"]["ErrorDeclared"]["event_hash"],
            json!(id)
        );
        assert_eq!(trace["trace"]["record"]["commissioned_event"], json!(id));
        assert_eq!(trace["trace"]["record"]["shipment"], json!(hex_text));
        assert_eq!(trace["trace"]["record"]["children"], json!([1, 2, 3]));
        assert_eq!(trace["trace"]["txs"][0], json!(hex_text));
        // 32 numbers that are not all bytes stay as they are.
        let mut not_bytes = json!({"event_hash": (0..32).map(|i| i * 10).collect::<Vec<u32>>()});
        let before = not_bytes.clone();
        readable_digests(&mut not_bytes);
        assert_eq!(not_bytes, before);
    }
}
