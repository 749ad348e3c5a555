//! The SDK and the `pedigree` CLI against the node's real HTTP API (`pedigree_node::api`)
//! over its in-memory `DirectLedger`, served on 127.0.0.1: every request goes through
//! HTTP, auth, capture jobs and the chaincode exactly as on a node, without consensus.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use pedigree_client::events::{self, Commission, Decommission, Pack, Receive, Ship};
use pedigree_client::genesis::{GlnEntry, OrgDescription, PublicParts, assemble};
use pedigree_client::{Client, OrgSigner, TxStatus, signer};
use pedigree_node::api::{self, ApiConfig, DirectIdentity, DirectLedger, NodeRole};
use pedigree_node::config::{Role, TokenGrant};

const MFG_TOKEN: &str = "mfg-token-0123456789";
const DIST_TOKEN: &str = "dist-token-0123456789";
const UNIT: &str = "00614141073467";
const CASE: &str = "10614141073464";
const MFG_GLN: &str = "0614141000005";
const DIST_GLN: &str = "0888881000001";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn org(
    id: &str,
    role: &str,
    prefix: Option<&str>,
    gln: &str,
    seed: u8,
) -> (OrgDescription, PublicParts) {
    let public = key(seed).verifying_key().to_bytes();
    (
        OrgDescription {
            id: id.into(),
            name: id.into(),
            roles: vec![role.into()],
            company_prefixes: prefix.into_iter().map(str::to_string).collect(),
            nodes: vec![],
            keys: vec![],
            glns: vec![GlnEntry {
                gln: gln.into(),
                name: id.into(),
            }],
        },
        PublicParts {
            org: id.into(),
            peer_id: None,
            signing_public_key: hex::encode(public),
            signing_key_id: signer::key_id(&public),
        },
    )
}

struct Node {
    url: String,
    network_id: [u8; 32],
    _runtime_guard: tokio::task::JoinHandle<()>,
}

/// Serves the API of a DirectLedger signing as `mfg` (or a learner when `read_only`).
async fn start(read_only: bool) -> Node {
    let parts = [
        org("mfg", "manufacturer", Some("0614141"), MFG_GLN, 1),
        org("dist", "distributor", Some("0888881"), DIST_GLN, 2),
        org("reg", "regulator", None, "0555551000004", 3),
    ];
    let (orgs, publics): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    let document = assemble("sdk-test", 1_767_225_600_000, orgs, &publics).unwrap();
    let identity = DirectIdentity {
        org_id: "mfg".into(),
        key_id: signer::key_id(&key(1).verifying_key().to_bytes()),
        key: key(1),
        peer_id: "direct".into(),
        role: if read_only {
            NodeRole::Learner
        } else {
            NodeRole::Voter
        },
    };
    let ledger = DirectLedger::new(
        &document.genesis,
        identity,
        Arc::new(pedigree_client::clock::unix_millis),
    );
    let mut tokens = BTreeMap::new();
    tokens.insert(
        MFG_TOKEN.to_string(),
        TokenGrant {
            org: "mfg".into(),
            role: Role::Admin,
        },
    );
    tokens.insert(
        DIST_TOKEN.to_string(),
        TokenGrant {
            org: "dist".into(),
            role: Role::Write,
        },
    );
    let router = api::router(Arc::new(ledger), ApiConfig::new(tokens));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        api::serve(listener, router, std::future::pending())
            .await
            .unwrap();
    });
    Node {
        url,
        network_id: document.network_id,
        _runtime_guard: handle,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supply_chain_through_the_sdk() {
    let node = start(false).await;
    let client = Client::new(&node.url, Some(MFG_TOKEN)).unwrap();
    let mfg = OrgSigner::new("mfg", key(1), node.network_id);
    let dist = OrgSigner::new("dist", key(2), node.network_id);
    let serials = ["U1", "U2", "U3"];

    // Client-signed commissioning of three units and a case.
    let units = Commission::new(UNIT, "L1", "2028-12-31")
        .serials(serials)
        .at(MFG_GLN)
        .build()
        .unwrap();
    let case_event = Commission::new(CASE, "L1", "2028-12-31")
        .serial("C1")
        .at(MFG_GLN)
        .build()
        .unwrap();
    let results = client
        .submit(&[mfg.sign_event(units.clone()), mfg.sign_event(case_event)])
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        results.iter().all(|r| r.status == TxStatus::Accepted),
        "{results:?}"
    );
    let tx_id = results[0].tx_id.clone().unwrap();
    assert_eq!(results[0].event_id, units.event_id);

    // The same event again is a duplicate; a new event reusing a serial is rejected.
    let again = client.submit(&[mfg.sign_event(units)]).await.unwrap();
    assert_eq!(again[0].status, TxStatus::Duplicate, "{again:?}");
    let clash = Commission::new(UNIT, "L2", "2028-12-31")
        .serial("U1")
        .build()
        .unwrap();
    let clash = client.submit_events(Some(&mfg), vec![clash]).await.unwrap();
    assert_eq!(clash[0].status, TxStatus::Rejected, "{clash:?}");
    assert_eq!(clash[0].code, Some(400));

    // Node-signed capture (no signer): pack, then ship to the distributor.
    let unit_uris: Vec<String> = serials
        .iter()
        .map(|s| events::sgtin(UNIT, s).unwrap())
        .collect();
    let case = events::sgtin(CASE, "C1").unwrap();
    let pack = Pack::new(case.clone(), unit_uris.clone())
        .at(MFG_GLN)
        .build()
        .unwrap();
    let ship = Ship::new([case.clone()], DIST_GLN)
        .from(MFG_GLN)
        .build()
        .unwrap();
    let results = client.submit_events(None, vec![pack, ship]).await.unwrap();
    assert!(
        results.iter().all(|r| r.status == TxStatus::Accepted),
        "{results:?}"
    );

    // The distributor receives: signed with its own key and submitted with its own token
    // through the manufacturer's node. A token may only submit its own org's transactions: the
    // manufacturer's token cannot relay the distributor's signed transaction (403).
    let receive = Receive::new([case.clone()]).at(DIST_GLN).build().unwrap();
    let refused = client
        .submit_events(Some(&dist), vec![receive.clone()])
        .await
        .unwrap_err();
    assert_eq!(refused.http_status(), Some(403), "{refused}");
    assert!(
        refused
            .to_string()
            .contains("may only submit its own org's transactions"),
        "{refused}"
    );
    let dist_client = Client::new(&node.url, Some(DIST_TOKEN)).unwrap();
    let results = dist_client
        .submit_events(Some(&dist), vec![receive])
        .await
        .unwrap();
    assert_eq!(results[0].status, TxStatus::Accepted, "{results:?}");
    // The manufacturer no longer holds the case: dispensing is refused.
    let dispense = Decommission::dispense([unit_uris[0].clone()])
        .build()
        .unwrap();
    let results = client
        .submit_events(Some(&mfg), vec![dispense])
        .await
        .unwrap();
    assert_eq!(results[0].status, TxStatus::Rejected, "{results:?}");

    // Reads.
    let verified = client
        .verify(UNIT, "L1", "U2", Some("281231"))
        .await
        .unwrap();
    assert!(verified.verified, "{verified:?}");
    let wrong_lot = client.verify(UNIT, "L9", "U2", None).await.unwrap();
    assert!(!wrong_lot.verified);
    assert!(wrong_lot.failure_reason.is_some());
    let trace = client.trace(&unit_uris[1]).await.unwrap();
    assert!(trace.to_string().contains("dist"), "{trace}");
    let receipt = client
        .wait_for_receipt(&tx_id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(receipt.status, TxStatus::Accepted);
    assert!(client.receipt(&"00".repeat(32)).await.unwrap().is_none());
    let proof = client.proof(&tx_id).await.unwrap();
    assert_eq!(proof["txId"], tx_id.as_str(), "{proof}");
    assert_eq!(proof["verified"], true, "{proof}");
    assert!(proof["blockHash"].is_string(), "{proof}");
    let latest = client.latest_block().await.unwrap();
    assert!(latest.is_object());
    assert!(client.block(1).await.unwrap().is_object());
    let status = client.status().await.unwrap();
    assert!(status.has_leader(), "{status:?}");
    assert!(status.latest_height.unwrap_or(0) >= 5, "{status:?}");

    // Recall (node-signed as the brand owner), scope, reconciliation, release.
    let recall = client.recall(UNIT, "L1", "test").await.unwrap();
    assert_eq!(recall.status, TxStatus::Accepted, "{recall:?}");
    let again = client.recall(UNIT, "L1", "test").await.unwrap();
    assert_eq!(again.status, TxStatus::Rejected, "{again:?}");
    let recalled = client.verify(UNIT, "L1", "U2", None).await.unwrap();
    assert_eq!(
        recalled.additional_info.as_deref(),
        Some("Recalled"),
        "{recalled:?}"
    );
    assert!(
        client
            .recall_scope(UNIT, "L1")
            .await
            .unwrap()
            .to_string()
            .contains("dist")
    );
    assert!(client.reconciliation(UNIT, "L1").await.unwrap().is_object());
    let release = mfg.sign(events::release(UNIT, "L1").unwrap());
    let released = client.submit(&[release]).await.unwrap();
    assert_eq!(released[0].status, TxStatus::Accepted, "{released:?}");

    // Wrong token: an HTTP error, not a result.
    let stranger = Client::new(&node.url, Some("not-a-valid-token-000")).unwrap();
    assert_eq!(
        stranger.status().await.unwrap_err().http_status(),
        Some(401)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_refuses_writes_and_answers_reads() {
    let node = start(true).await;
    let client = Client::new(&node.url, Some(MFG_TOKEN)).unwrap();
    let event = Commission::new(UNIT, "L1", "2028-12-31")
        .serial("X1")
        .build()
        .unwrap();
    let outcome = client.submit_events(None, vec![event]).await;
    match outcome {
        Err(error) => assert_eq!(error.http_status(), Some(403), "{error}"),
        Ok(results) => assert_eq!(results[0].status, TxStatus::Failed, "{results:?}"),
    }
    let status = client.status().await.unwrap();
    assert_eq!(status.role.as_deref(), Some("learner"));
    let answer = client.verify(UNIT, "L1", "X1", None).await.unwrap();
    assert!(!answer.verified);
}

/// This crate's `pedigree` binary, or `$PEDIGREE_BIN_DIR/pedigree` when set (as the devnet
/// test does, for binaries built elsewhere).
fn pedigree_bin() -> std::path::PathBuf {
    match std::env::var_os("PEDIGREE_BIN_DIR") {
        Some(dir) => std::path::Path::new(&dir).join("pedigree"),
        None => env!("CARGO_BIN_EXE_pedigree").into(),
    }
}

fn pedigree(url: &str, token: &str, args: &[&str]) -> std::process::Output {
    Command::new(pedigree_bin())
        .args(["--node", url, "--token", token])
        .args(args)
        .output()
        .expect("run pedigree")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_capture_verify_trace_recall_status() {
    let node = start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let event = Commission::new(UNIT, "L7", "2028-12-31")
        .serials(["A1", "A2"])
        .at(MFG_GLN)
        .build()
        .unwrap();
    let event_id = event.event_id.clone().expect("builders set the hash ID");
    let mut document = pedigree_epcis::EpcisDocument::new(pedigree_epcis::DocumentKind::Document);
    document.schema_version = Some("2.0".into());
    document.creation_date = Some(pedigree_epcis::EpcisTime::new("2026-01-01T00:00:00Z"));
    document.events = vec![event];
    let json_path = dir.path().join("commission.jsonld");
    std::fs::write(&json_path, pedigree_epcis::json::write_document(&document)).unwrap();
    let url = node.url.clone();
    let path = json_path.display().to_string();

    let output = tokio::task::spawn_blocking(move || {
        let first = pedigree(&url, MFG_TOKEN, &["capture", &path]);
        let second = pedigree(&url, MFG_TOKEN, &["--json", "capture", &path]);
        let verify = pedigree(
            &url,
            MFG_TOKEN,
            &["verify", "(01)00614141073467(17)281231(10)L7(21)A1"],
        );
        let unknown = pedigree(
            &url,
            MFG_TOKEN,
            &["verify", "--gtin", UNIT, "--lot", "L7", "--serial", "ZZ"],
        );
        let trace = pedigree(&url, MFG_TOKEN, &["trace", "(01)00614141073467(21)A2"]);
        let trace_json = pedigree(
            &url,
            MFG_TOKEN,
            &["--json", "trace", "(01)00614141073467(21)A2"],
        );
        let recall = pedigree(
            &url,
            MFG_TOKEN,
            &["recall", UNIT, "L7", "--reason", "cli test"],
        );
        let scope = pedigree(
            &url,
            MFG_TOKEN,
            &["--json", "recall", UNIT, "L7", "--scope"],
        );
        let reconcile = pedigree(&url, MFG_TOKEN, &["reconcile", UNIT, "L7"]);
        let blocks = pedigree(&url, MFG_TOKEN, &["blocks"]);
        let status = pedigree(&url, MFG_TOKEN, &["status"]);
        let unreachable = pedigree("http://127.0.0.1:9", MFG_TOKEN, &["status"]);
        [
            first,
            second,
            verify,
            unknown,
            trace,
            trace_json,
            recall,
            scope,
            reconcile,
            blocks,
            status,
            unreachable,
        ]
    })
    .await
    .unwrap();
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let [
        first,
        second,
        verify,
        unknown,
        trace,
        trace_json,
        recall,
        scope,
        reconcile,
        blocks,
        status,
        unreachable,
    ] = output;
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("1 events: 1 accepted"),
        "{}",
        text(&first)
    );
    let summary: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(summary["duplicate"], 1, "{summary}");
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(text(&verify).contains("VERIFIED"));
    assert_eq!(unknown.status.code(), Some(3), "{}", text(&unknown));
    assert!(
        text(&unknown).contains("No_match_GTIN_Serial"),
        "{}",
        text(&unknown)
    );
    assert!(trace.status.success(), "{}", text(&trace));
    assert!(text(&trace).contains("history"), "{}", text(&trace));
    // Event hashes as CBV 2.0 hash IDs, not byte arrays, in text and in JSON.
    assert!(
        text(&trace).contains("eventHash=ni:///sha-256;") && !text(&trace).contains("=[1"),
        "{}",
        text(&trace)
    );
    let trace_json: serde_json::Value = serde_json::from_slice(&trace_json.stdout).unwrap();
    let entry = &trace_json["trace"]["history"][0];
    let hash_id = entry["eventHash"].as_str().unwrap_or_default();
    assert!(
        hash_id.starts_with("ni:///sha-256;") && hash_id.ends_with("?ver=CBV2.0"),
        "{trace_json}"
    );
    assert_eq!(
        trace_json["trace"]["record"]["commissionedEvent"], entry["eventHash"],
        "{trace_json}"
    );
    assert_eq!(
        hash_id, event_id,
        "the event hash is the commissioning's hash ID"
    );
    assert!(recall.status.success(), "{}", text(&recall));
    assert!(text(&scope).contains("Recalled"), "{}", text(&scope));
    assert!(reconcile.status.success(), "{}", text(&reconcile));
    assert!(blocks.status.success(), "{}", text(&blocks));
    assert!(text(&blocks).contains("height"), "{}", text(&blocks));
    assert!(status.status.success(), "{}", text(&status));
    assert_eq!(unreachable.status.code(), Some(1), "{}", text(&unreachable));
}
