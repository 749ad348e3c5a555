//! In-process tests of the API over [`DirectLedger`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::config::{Role as TokenRole, TokenGrant};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use ed25519_dalek::SigningKey;
use pedigree_chaincode::governance::{GlnSpec, KeySpec};
use pedigree_chaincode::ident::check_digit;
use pedigree_chaincode::records::GovernanceConfig;
use pedigree_chaincode::{Genesis, OrgSpec, Role};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use tower::ServiceExt;

const GENESIS_TIME_MS: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const DAY_MS: u64 = 86_400_000;
const MFG_WRITE: &str = "mfg-write-token-0123456789";
const MFG_READ: &str = "mfg-read-token-0123456789";
const DIST_WRITE: &str = "dist-write-token-0123456789";

fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body).unwrap())
}

fn gln(digits: &str) -> String {
    with_check(&format!("{digits}00000"))
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn org(id: &str, roles: Vec<Role>, seed: u8, prefixes: &[&str], gln_digits: &str) -> OrgSpec {
    OrgSpec {
        id: id.to_string(),
        name: format!("{id} inc."),
        roles,
        keys: vec![KeySpec {
            id: "k1".into(),
            public_key: key(seed).verifying_key().to_bytes(),
        }],
        company_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        glns: vec![GlnSpec {
            gln: gln(gln_digits),
            name: format!("{id} HQ"),
        }],
        nodes: vec![format!("12D3KooW{id}")],
    }
}

fn genesis() -> Genesis {
    let genesis = Genesis {
        network_name: "api-test".into(),
        genesis_time_ms: GENESIS_TIME_MS,
        governance: GovernanceConfig {
            quorum_numerator: 1,
            quorum_denominator: 2,
        },
        orgs: vec![
            org("dist", vec![Role::Distributor], 3, &["0888881"], "0888881"),
            org("mfg", vec![Role::Manufacturer], 1, &["0614141"], "0614141"),
            org("reg", vec![Role::Regulator], 5, &[], "0555551"),
        ],
    };
    genesis.validate().unwrap();
    genesis
}

struct Harness {
    app: axum::Router,
    ledger: Arc<DirectLedger>,
    now: Arc<AtomicU64>,
}

fn tokens() -> BTreeMap<String, TokenGrant> {
    let grant = |org: &str, role| TokenGrant {
        org: org.into(),
        role,
    };
    BTreeMap::from([
        (MFG_WRITE.to_string(), grant("mfg", TokenRole::Write)),
        (MFG_READ.to_string(), grant("mfg", TokenRole::Read)),
        (DIST_WRITE.to_string(), grant("dist", TokenRole::Admin)),
    ])
}

fn harness_with(role: NodeRole, tweak: impl FnOnce(&mut ApiConfig)) -> Harness {
    let now = Arc::new(AtomicU64::new(GENESIS_TIME_MS + 2 * DAY_MS));
    let clock_now = now.clone();
    let clock: Clock = Arc::new(move || clock_now.load(Ordering::SeqCst));
    let ledger = Arc::new(DirectLedger::new(
        &genesis(),
        DirectIdentity {
            org_id: "mfg".into(),
            key_id: "k1".into(),
            key: key(1),
            peer_id: "12D3KooWmfg".into(),
            role,
        },
        clock.clone(),
    ));
    let mut config = ApiConfig::new(tokens());
    config.clock = clock;
    config.responder_gln = Some(gln("0614141"));
    tweak(&mut config);
    let app = router(ledger.clone(), config);
    Harness { app, ledger, now }
}

fn harness() -> Harness {
    harness_with(NodeRole::Voter, |_| {})
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

impl Harness {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, uri: &str) -> Reply {
        self.call("GET", uri, Some(MFG_READ), &[], Body::empty())
            .await
    }

    async fn post_json(&self, uri: &str, media: &str, body: &str) -> Reply {
        self.call(
            "POST",
            uri,
            Some(MFG_WRITE),
            &[("content-type", media)],
            body.to_string(),
        )
        .await
    }

    /// Captures and waits for the job; returns the finished job.
    async fn capture(&self, media: &str, body: &str) -> Value {
        let reply = self.post_json("/capture", media, body).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
        let location = reply.headers["location"].to_str().unwrap().to_string();
        assert!(location.starts_with("/capture/"));
        for _ in 0..500 {
            let job = self.get(&location).await.json();
            if job["running"] == false {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("capture job did not finish");
    }
}

fn doc(events: &str) -> String {
    format!(
        r#"{{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {{"cbvmda": "urn:epcglobal:cbv:mda:"}}],
            "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
            "epcisBody": {{"eventList": [{events}]}}}}"#
    )
}

fn commission(serials: &[&str], lot: &str, time: &str) -> String {
    let epcs: Vec<String> = serials
        .iter()
        .map(|s| format!("\"urn:epc:id:sgtin:0614141.007346.{s}\""))
        .collect();
    format!(
        r#"{{"type": "ObjectEvent", "eventTime": "{time}", "eventTimeZoneOffset": "+00:00",
          "epcList": [{}], "action": "ADD", "bizStep": "commissioning", "disposition": "active",
          "readPoint": {{"id": "urn:epc:id:sgln:0614141.00000.0"}},
          "ilmd": {{"cbvmda:lotNumber": "{lot}", "cbvmda:itemExpirationDate": "2027-06-30"}}}}"#,
        epcs.join(", ")
    )
}

fn ship(serials: &[&str], time: &str) -> String {
    let epcs: Vec<String> = serials
        .iter()
        .map(|s| format!("\"urn:epc:id:sgtin:0614141.007346.{s}\""))
        .collect();
    format!(
        r#"{{"type": "ObjectEvent", "eventTime": "{time}", "eventTimeZoneOffset": "+00:00",
          "epcList": [{}], "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
          "destinationList": [{{"type": "owning_party", "destination": "https://id.gs1.org/417/{}"}}]}}"#,
        epcs.join(", "),
        gln("0888881")
    )
}

const GTIN: &str = "00614141073467";

/// Commissions S1..S3 (LOT9) and ships S3.
async fn seeded() -> Harness {
    let h = harness();
    let body = doc(&format!(
        "{}, {}",
        commission(&["S1", "S2", "S3"], "LOT9", "2026-01-02T09:30:00Z"),
        ship(&["S3"], "2026-01-02T12:00:00Z")
    ));
    let job = h.capture("application/ld+json", &body).await;
    assert_eq!(job["success"], true, "{job}");
    assert_eq!(job["results"].as_array().unwrap().len(), 2);
    h
}

#[tokio::test]
async fn api_capture_json_ld_commits_events_and_reports_receipts() {
    let h = seeded().await;
    let status = h.get("/status").await.json();
    assert_eq!(
        status["ledger"]["latestHeight"].as_u64(),
        Some(1),
        "{status}"
    );
    assert_eq!(status["node"]["orgId"], "mfg", "{status}");
    assert!(status["ledger"].get("latest_height").is_none(), "{status}");
    let events = h.get("/events?orderBy=eventTime&orderDirection=ASC").await;
    assert_eq!(events.status, StatusCode::OK);
    let value = events.json();
    let list = value["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["bizStep"], "commissioning");
    assert!(list[0]["recordTime"].is_string());
}

#[tokio::test]
async fn api_capture_xml_document() {
    let h = harness();
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:cbvmda="urn:epcglobal:cbv:mda" schemaVersion="2.0" creationDate="2026-01-01T00:00:00Z">
  <EPCISBody><EventList><ObjectEvent>
    <eventTime>2026-01-02T09:30:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
    <epcList><epc>urn:epc:id:sgtin:0614141.007346.X1</epc></epcList>
    <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
    <disposition>urn:epcglobal:cbv:disp:active</disposition>
    <readPoint><id>urn:epc:id:sgln:0614141.00000.0</id></readPoint>
    <ilmd><cbvmda:lotNumber>LOTX</cbvmda:lotNumber><cbvmda:itemExpirationDate>2027-06-30</cbvmda:itemExpirationDate></ilmd>
  </ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>"#;
    let job = h.capture("application/xml", xml).await;
    assert_eq!(job["success"], true, "{job}");
    let v = h
        .get(&format!("/verify/gtin/{GTIN}/lot/LOTX/ser/X1"))
        .await
        .json();
    assert_eq!(v["data"]["verified"], true, "{v}");
    // XML out.
    let reply = h
        .call(
            "GET",
            "/events?EQ_bizStep=commissioning",
            Some(MFG_READ),
            &[("accept", "application/xml")],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .contains("xml")
    );
    assert!(
        reply.text.contains("EPCISQueryDocument") && reply.text.contains("X1"),
        "{}",
        reply.text
    );
    let reply = h
        .call(
            "GET",
            "/events",
            Some(MFG_READ),
            &[("accept", "image/png")],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE);
}

fn event_list(reply: &Reply) -> Vec<Value> {
    reply.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn api_query_filters_and_pagination() {
    let h = seeded().await;
    let one = |q: &'static str| {
        let h = &h;
        async move { event_list(&h.get(q).await).len() }
    };
    assert_eq!(one("/events?EQ_bizStep=commissioning").await, 1);
    assert_eq!(
        one("/events?EQ_bizStep=urn:epcglobal:cbv:bizstep:shipping").await,
        1
    );
    assert_eq!(one("/events?EQ_bizStep=shipping|commissioning").await, 2);
    assert_eq!(one("/events?EQ_action=ADD").await, 1);
    assert_eq!(one("/events?EQ_disposition=in_transit").await, 1);
    assert_eq!(one("/events?eventType=AggregationEvent").await, 0);
    assert_eq!(one("/events?GE_eventTime=2026-01-02T10:00:00Z").await, 1);
    assert_eq!(one("/events?LT_eventTime=2026-01-02T10:00:00Z").await, 1);
    assert_eq!(
        one("/events?EQ_readPoint=urn:epc:id:sgln:0614141.00000.0").await,
        1
    );
    // A Digital Link URI matches the EPC URN that was captured.
    let dl = util::encode_component("https://id.gs1.org/01/00614141073467/21/S3");
    assert_eq!(
        event_list(&h.get(&format!("/events?MATCH_epc={dl}")).await).len(),
        2
    );
    assert_eq!(
        one("/events?MATCH_anyEPC=urn:epc:id:sgtin:0614141.007346.S1").await,
        1
    );
    assert_eq!(
        one("/events?MATCH_epc=urn:epc:id:sgtin:0614141.007346.S9").await,
        0
    );

    // Pagination in record order.
    let first = h.get("/events?perPage=1").await;
    assert_eq!(event_list(&first).len(), 1);
    let link = first.headers["link"].to_str().unwrap().to_string();
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let second = h.get(&next).await;
    let second_list = event_list(&second);
    assert_eq!(second_list.len(), 1);
    assert_eq!(second_list[0]["bizStep"], "shipping");
    assert!(second.headers.get("link").is_none());

    // Sorted pagination (DESC by default).
    let first = h.get("/events?orderBy=eventTime&perPage=1").await;
    assert_eq!(event_list(&first)[0]["bizStep"], "shipping");
    let link = first.headers["link"].to_str().unwrap().to_string();
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        event_list(&h.get(&next).await)[0]["bizStep"],
        "commissioning"
    );

    // By event ID / hash ID.
    let all = event_list(&h.get("/events").await);
    assert_eq!(all.len(), 2);
    let hash_id = pedigree_epcis::hash::event_hash_id(&h.ledger.events_after(0, 1)[0].event);
    let reply = h
        .get(&format!("/events/{}", util::encode_component(&hash_id)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(event_list(&reply).len(), 1);
    assert_eq!(one_hash(&h, &hash_id).await, 1);
    assert_eq!(h.get("/events/nope").await.status, StatusCode::NOT_FOUND);

    // maxEventCount / eventCountLimit.
    assert_eq!(
        h.get("/events?maxEventCount=1").await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(one("/events?eventCountLimit=1").await, 1);
}

async fn one_hash(h: &Harness, hash_id: &str) -> usize {
    event_list(
        &h.get(&format!(
            "/events?EQ_eventID={}",
            util::encode_component(hash_id)
        ))
        .await,
    )
    .len()
}

#[tokio::test]
async fn api_query_bad_parameters_are_named() {
    let h = harness();
    for (query, param) in [
        ("/events?foo=1", "foo"),
        ("/events?GE_eventTime=yesterday", "GE_eventTime"),
        ("/events?perPage=0", "perPage"),
        ("/events?perPage=abc", "perPage"),
        ("/events?EQ_action=JUMP", "EQ_action"),
        ("/events?eventType=Thing", "eventType"),
        ("/events?orderBy=bizStep", "orderBy"),
        ("/events?orderDirection=UP", "orderDirection"),
        ("/events?nextPageToken=zz", "nextPageToken"),
        (
            "/events?eventCountLimit=1&maxEventCount=1",
            "eventCountLimit",
        ),
    ] {
        let reply = h.get(query).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        let problem = reply.json();
        assert_eq!(
            problem["type"], "epcisException:QueryParameterException",
            "{query}"
        );
        assert!(
            problem["detail"].as_str().unwrap().contains(param),
            "{query}: {problem}"
        );
        assert_eq!(problem["status"], 400);
    }
}

async fn verify(h: &Harness, uri: &str) -> Value {
    let reply = h.get(uri).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
    reply.json()
}

#[tokio::test]
async fn api_verify_both_url_forms() {
    let h = seeded().await;
    // Active, LMS form.
    let v = verify(
        &h,
        &format!(
            "/verify/gtin/{GTIN}/lot/LOT9/ser/S1?exp=270630&corrUUID=abc-1&reqGLN={}",
            gln("0888881")
        ),
    )
    .await;
    assert_eq!(v["data"]["verified"], true, "{v}");
    assert_eq!(v["corrUUID"], "abc-1");
    assert_eq!(v["responderGLN"], gln("0614141"));
    assert_eq!(v["status"], "Active");
    assert_eq!(v["custodian"], "mfg");
    assert!(v["verificationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert!(v["data"].get("verificationFailureReason").is_none());
    // Digital Link forms.
    let v = verify(&h, &format!("/01/{GTIN}/21/S1?10=LOT9&17=270630")).await;
    assert_eq!(v["data"]["verified"], true, "{v}");
    let v = verify(&h, &format!("/01/{GTIN}/10/LOT9/21/S1?17=270600")).await;
    assert_eq!(
        v["data"]["verified"], true,
        "DD=00 is the month's last day: {v}"
    );
    // In transit.
    let v = verify(&h, &format!("/01/{GTIN}/10/LOT9/21/S3")).await;
    assert_eq!(v["status"], "InTransit");
    // Wrong lot / expiry.
    let v = verify(&h, &format!("/verify/gtin/{GTIN}/lot/LOT8/ser/S1")).await;
    assert_eq!(v["data"]["verified"], false);
    assert_eq!(
        v["data"]["verificationFailureReason"],
        "No_match_GTIN_Serial_Lot"
    );
    let v = verify(&h, &format!("/01/{GTIN}/21/S1?17=270101")).await;
    assert_eq!(
        v["data"]["verificationFailureReason"],
        "No_match_GTIN_Serial_Expiry"
    );
    // Unknown serial.
    let v = verify(&h, &format!("/01/{GTIN}/21/NOPE")).await;
    assert_eq!(v["data"]["verified"], false);
    assert_eq!(
        v["data"]["verificationFailureReason"],
        "No_match_GTIN_Serial"
    );
    // Expired: move the clock past 2027-06-30.
    h.now
        .store(GENESIS_TIME_MS + 600 * DAY_MS, Ordering::SeqCst);
    let v = verify(&h, &format!("/01/{GTIN}/21/S1")).await;
    assert_eq!(v["data"]["verified"], true);
    assert_eq!(v["data"]["additionalInfo"], "Expired", "{v}");
    h.now.store(GENESIS_TIME_MS + 3 * DAY_MS, Ordering::SeqCst);
    // Recalled.
    let reply = h
        .post_json(
            "/recall",
            "application/json",
            &format!(r#"{{"gtin": "{GTIN}", "lot": "LOT9", "reason": "contamination"}}"#),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let v = verify(&h, &format!("/verify/gtin/{GTIN}/lot/LOT9/ser/S1")).await;
    assert_eq!(v["data"]["additionalInfo"], "Recalled", "{v}");
    assert_eq!(v["status"], "Recalled");
    // Bad input.
    assert_eq!(
        h.get("/01/00614141073468/21/S1").await.status,
        StatusCode::BAD_REQUEST
    );
    let reply = h.get(&format!("/01/{GTIN}/21/S1?17=271340")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["detail"].as_str().unwrap().contains("17"));
    assert_eq!(
        h.get(&format!("/01/{GTIN}/21/S1?reqGLN=123")).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn api_trace_recall_scope_reconciliation_and_release() {
    let h = seeded().await;
    for epc in [
        "urn:epc:id:sgtin:0614141.007346.S3".to_string(),
        util::encode_component("https://id.gs1.org/01/00614141073467/21/S3"),
        "https://id.gs1.org/01/00614141073467/21/S3".to_string(),
    ] {
        let reply = h.get(&format!("/trace/{epc}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{epc}: {}", reply.text);
        let trace = reply.json();
        assert_eq!(trace["status"], "InTransit", "{trace}");
        assert!(
            trace["trace"]["history"].as_array().unwrap().len() >= 2,
            "{trace}"
        );
    }
    assert_eq!(
        h.get("/trace/urn:epc:id:sgtin:0614141.007346.ZZ")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get("/trace/garbage").await.status,
        StatusCode::BAD_REQUEST
    );

    let reply = h
        .post_json(
            "/recall",
            "application/json",
            &format!(r#"{{"gtin": "{GTIN}", "lot": "LOT9", "reason": "r"}}"#),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let scope = h.get(&format!("/recall/{GTIN}/LOT9")).await.json();
    assert!(scope["scope"]["recall"].is_object(), "{scope}");
    let text = scope.to_string();
    assert!(text.contains("S1") && text.contains("S3"), "{text}");
    let rec = h.get(&format!("/reconciliation/{GTIN}/LOT9")).await;
    assert_eq!(rec.status, StatusCode::OK);
    assert!(rec.json()["reconciliation"].is_object());
    let reply = h
        .post_json(
            "/release",
            "application/json",
            &format!(r#"{{"gtin": "{GTIN}", "lot": "LOT9"}}"#),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let v = verify(&h, &format!("/01/{GTIN}/21/S1")).await;
    assert!(v["data"].get("additionalInfo").is_none(), "{v}");
    // Malformed recall bodies.
    let reply = h
        .post_json("/recall", "application/json", r#"{"gtin": "x"#)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["line"].is_number());
    let reply = h
        .post_json(
            "/recall",
            "application/json",
            &format!(r#"{{"gtin": "{GTIN}", "lot": "LOT9"}}"#),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["detail"].as_str().unwrap().contains("reason"));
}

#[tokio::test]
async fn api_blocks_receipts_and_proofs_verify() {
    let h = harness();
    let job = h
        .capture(
            "application/json",
            &doc(&format!(
                "{}, {}, {}",
                commission(&["A1"], "L1", "2026-01-02T09:30:00Z"),
                commission(&["A2"], "L1", "2026-01-02T09:31:00Z"),
                commission(&["A3"], "L1", "2026-01-02T09:32:00Z")
            )),
        )
        .await;
    assert_eq!(job["success"], true, "{job}");
    let latest = h.get("/blocks/latest").await.json();
    assert_eq!(latest["height"], 1);
    assert_eq!(latest["txCount"], 3);
    assert_eq!(h.get("/blocks/1").await.json(), latest);
    assert_eq!(h.get("/blocks/2").await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.get("/blocks/x").await.status, StatusCode::BAD_REQUEST);
    let root = latest["txRoot"].as_str().unwrap().to_string();
    for tx in latest["txs"].as_array().unwrap() {
        let id = tx["txId"].as_str().unwrap();
        let proof = h.get(&format!("/proof/{id}")).await.json();
        assert_eq!(proof["verified"], true);
        assert_eq!(proof["root"], root);
        // Verify client-side from the JSON.
        let digest = |s: &Value| -> [u8; 32] {
            hex::decode(s.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        };
        let steps: Vec<ProofStep> = proof["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| ProofStep {
                side: if s["side"] == "left" {
                    Side::Left
                } else {
                    Side::Right
                },
                hash: digest(&s["hash"]),
            })
            .collect();
        assert!(merkle::verify_proof(
            &digest(&proof["txId"]),
            &steps,
            &digest(&proof["root"])
        ));
        let receipt = h.get(&format!("/receipts/{id}")).await.json();
        assert_eq!(receipt["outcome"], "Applied");
        assert_eq!(receipt["blockHash"], latest["hash"]);
    }
    assert_eq!(
        h.get(&format!("/proof/{}", "00".repeat(32))).await.status,
        StatusCode::NOT_FOUND
    );
    let reply = h.get("/receipts/xyz").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["detail"].as_str().unwrap().contains("txId"));
}

#[tokio::test]
async fn api_auth_rules() {
    let h = harness();
    let body = doc(&commission(&["Q1"], "L1", "2026-01-02T09:30:00Z"));
    let no_token = h.call("GET", "/events", None, &[], Body::empty()).await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
    assert_eq!(no_token.json()["type"], "epcisException:SecurityException");
    let bad = h
        .call(
            "GET",
            "/status",
            Some("not-a-token-at-all-xx"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let basic = h
        .call(
            "GET",
            "/status",
            None,
            &[("authorization", "Basic abc")],
            Body::empty(),
        )
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.call("GET", "/01/00614141073467/21/S1", None, &[], Body::empty())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Read token cannot write; another org's write token cannot write through this node.
    for token in [MFG_READ, DIST_WRITE] {
        let reply = h
            .call(
                "POST",
                "/capture",
                Some(token),
                &[("content-type", "application/json")],
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    }
    // Another org's token can read.
    assert_eq!(
        h.call("GET", "/events", Some(DIST_WRITE), &[], Body::empty())
            .await
            .status,
        StatusCode::OK
    );
    // OpenAPI is public.
    assert_eq!(
        h.call("GET", "/openapi.json", None, &[], Body::empty())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn api_read_only_node_refuses_writes_and_answers_reads() {
    let h = harness_with(NodeRole::Learner, |_| {});
    let body = doc(&commission(&["Q1"], "L1", "2026-01-02T09:30:00Z"));
    for (uri, body) in [
        ("/capture", body.clone()),
        ("/events", commission(&["Q1"], "L1", "2026-01-02T09:30:00Z")),
        (
            "/recall",
            format!(r#"{{"gtin": "{GTIN}", "lot": "L1", "reason": "r"}}"#),
        ),
        ("/release", format!(r#"{{"gtin": "{GTIN}", "lot": "L1"}}"#)),
    ] {
        let reply = h.post_json(uri, "application/json", &body).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(
            reply.json()["detail"]
                .as_str()
                .unwrap()
                .contains("read-only")
        );
    }
    for uri in [
        "/events",
        "/status",
        "/metrics",
        "/01/00614141073467/21/S1",
        "/recall/00614141073467/L1",
    ] {
        assert_eq!(h.get(uri).await.status, StatusCode::OK, "{uri}");
    }
    assert_eq!(h.get("/status").await.json()["readOnly"], true);
}

#[tokio::test]
async fn api_malformed_and_oversize_bodies() {
    let h = harness_with(NodeRole::Voter, |c| {
        c.body_max = 4096;
        c.capture_events_max = 2;
    });
    // JSON syntax error: line and column.
    let reply = h
        .post_json(
            "/capture",
            "application/json",
            "{\n  \"type\": \"EPCISDocument\",\n  oops\n}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let problem = reply.json();
    assert_eq!(problem["type"], "epcisException:ValidationException");
    assert_eq!(problem["line"], 3, "{problem}");
    // Invalid event under rollback: every problem, nothing captured.
    let bad = commission(&["B1"], "L1", "2026-01-02T09:30:00Z").replace("\"ADD\"", "\"JUMP\"");
    let reply = h
        .post_json("/capture", "application/json", &doc(&bad))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    let problem = reply.json();
    assert!(
        problem["detail"].as_str().unwrap().contains("action"),
        "{problem}"
    );
    assert_eq!(h.ledger.latest_height(), 0);
    // Bad event time: validation problems are listed with their field.
    let bad_time = commission(&["B2"], "L1", "2026-13-02T09:30:00Z");
    let good = commission(&["G1"], "L1", "2026-01-02T09:30:00Z");
    let reply = h
        .post_json(
            "/capture",
            "application/json",
            &doc(&format!("{good}, {bad_time}")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    // Proceed: the valid event is captured, the invalid one reported.
    let reply = h
        .call(
            "POST",
            "/capture",
            Some(MFG_WRITE),
            &[
                ("content-type", "application/json"),
                ("GS1-Capture-Error-Behaviour", "proceed"),
            ],
            doc(&format!(
                "{good}, {}",
                commission(&["B3"], "L1", "2026-01-02T09:30:00Z").replace(
                    "\"eventTimeZoneOffset\": \"+00:00\"",
                    "\"eventTimeZoneOffset\": \"+99:00\""
                )
            )),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let location = reply.headers["location"].to_str().unwrap().to_string();
    let mut job = Value::Null;
    for _ in 0..500 {
        job = h.get(&location).await.json();
        if job["running"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(job["success"], false, "{job}");
    assert_eq!(job["captureErrorBehaviour"], "proceed");
    assert_eq!(job["errors"].as_array().unwrap().len(), 1, "{job}");
    assert_eq!(job["errors"][0]["eventIndex"], 1);
    assert_eq!(job["results"].as_array().unwrap().len(), 1);
    // Bad behaviour header.
    let reply = h
        .call(
            "POST",
            "/capture",
            Some(MFG_WRITE),
            &[
                ("content-type", "application/json"),
                ("GS1-Capture-Error-Behaviour", "maybe"),
            ],
            doc(&good),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // Too many events.
    let reply = h
        .post_json(
            "/capture",
            "application/json",
            &doc(&[good.as_str(); 3].join(",")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        reply.json()["type"],
        "epcisException:CaptureLimitExceededException"
    );
    assert_eq!(
        reply.headers["GS1-EPCIS-Capture-Limit"],
        CAPTURE_EVENTS_MAX.to_string().as_str()
    );
    // Oversize body.
    let reply = h
        .post_json("/capture", "application/json", &"x".repeat(5000))
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        reply.json()["type"],
        "epcisException:CaptureLimitExceededException"
    );
    // Oversize announced by Content-Length.
    let reply = h
        .call(
            "POST",
            "/capture",
            Some(MFG_WRITE),
            &[
                ("content-type", "application/json"),
                ("content-length", "999999"),
            ],
            "{}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Unsupported media type, XML syntax error, non-UTF-8.
    assert_eq!(
        h.post_json("/capture", "text/plain", "hi").await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let reply = h
        .post_json(
            "/capture",
            "application/xml",
            "<epcis:EPCISDocument><x></epcis:EPCISDocument>",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["line"].is_number(), "{}", reply.text);
    let reply = h
        .call(
            "POST",
            "/capture",
            Some(MFG_WRITE),
            &[("content-type", "application/json")],
            vec![0xffu8, 0xfe],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // Signed-tx body garbage.
    let reply = h
        .post_json("/capture", capture::SIGNED_TXS_MEDIA_TYPE, r#"["zz"]"#)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["detail"].as_str().unwrap().contains("[0]"));
    // Unknown route and method.
    let reply = h.get("/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.json()["type"],
        "epcisException:NoSuchResourceException"
    );
    let reply = h
        .call("DELETE", "/events", Some(MFG_WRITE), &[], Body::empty())
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn api_openapi_lists_every_route() {
    let h = harness();
    let doc = h
        .call("GET", "/openapi.json", None, &[], Body::empty())
        .await
        .json();
    let paths = doc["paths"].as_object().unwrap();
    let table = route_table();
    for (method, path) in &table {
        let spec_path = path.replace("{*", "{");
        let entry = &paths
            .get(&spec_path)
            .unwrap_or_else(|| panic!("{spec_path} missing"));
        assert!(
            entry.get(method.to_lowercase()).is_some(),
            "{method} {spec_path}"
        );
    }
    let routed: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        routed,
        table.len(),
        "OpenAPI lists operations that are not routed"
    );
}
