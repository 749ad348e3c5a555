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

pub(crate) fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body).unwrap())
}

fn gln(digits: &str) -> String {
    with_check(&format!("{digits}00000"))
}

pub(crate) fn key(seed: u8) -> SigningKey {
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

/// Three orgs (dist, mfg, reg) with keys `k1` = [`key`] of seeds 3, 1 and 5; the ledger's
/// unit tests use it too.
pub(crate) fn genesis() -> Genesis {
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
        delegations: Vec::new(),
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

/// The JSON array members for SGTINs `urn:epc:id:sgtin:0614141.007346.{serial}`.
fn sgtin_list(serials: &[&str]) -> String {
    let epcs: Vec<String> = serials
        .iter()
        .map(|s| format!("\"urn:epc:id:sgtin:0614141.007346.{s}\""))
        .collect();
    epcs.join(", ")
}

pub(crate) fn commission(serials: &[&str], lot: &str, time: &str) -> String {
    format!(
        r#"{{"type": "ObjectEvent", "eventTime": "{time}", "eventTimeZoneOffset": "+00:00",
          "epcList": [{}], "action": "ADD", "bizStep": "commissioning", "disposition": "active",
          "readPoint": {{"id": "urn:epc:id:sgln:0614141.00000.0"}},
          "ilmd": {{"cbvmda:lotNumber": "{lot}", "cbvmda:itemExpirationDate": "2027-06-30"}}}}"#,
        sgtin_list(serials)
    )
}

fn ship(serials: &[&str], time: &str) -> String {
    format!(
        r#"{{"type": "ObjectEvent", "eventTime": "{time}", "eventTimeZoneOffset": "+00:00",
          "epcList": [{}], "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
          "destinationList": [{{"type": "owning_party", "destination": "https://id.gs1.org/417/{}"}}]}}"#,
        sgtin_list(serials),
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
async fn api_capture_prefer_wait_answers_with_the_finished_job() {
    let h = harness();
    async fn capture(h: &Harness, prefer: &str, serial: &str) -> Reply {
        let body = doc(&commission(&[serial], "L1", "2026-01-02T09:30:00Z"));
        let headers = [("content-type", "application/json"), ("Prefer", prefer)];
        h.call("POST", "/capture", Some(MFG_WRITE), &headers, body)
            .await
    }
    // Finished within the wait: 200, the finished job, and where it stays readable.
    let reply = capture(&h, "respond-async, wait=20", "W1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers["preference-applied"], "wait=20");
    let job = reply.json();
    assert_eq!(job["running"], false, "{job}");
    assert_eq!(job["success"], true, "{job}");
    assert_eq!(job["results"].as_array().unwrap().len(), 1, "{job}");
    assert_eq!(job["results"][0]["outcome"], "Applied", "{job}");
    let location = reply.headers["location"].to_str().unwrap().to_string();
    assert_eq!(h.get(&location).await.json(), job);
    // A wait of 0 s does not wait: the usual 202 with the running job.
    let reply = capture(&h, "wait=0", "W2").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.headers["preference-applied"], "wait=0");
    assert_eq!(reply.json()["running"], true);
    // Waits are capped; other preferences are ignored.
    let reply = capture(&h, "return=minimal, wait=86400", "W3").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.headers["preference-applied"],
        format!("wait={}", super::capture::CAPTURE_WAIT_MAX_S).as_str()
    );
    // A wait that is not whole seconds is named, and nothing is captured.
    let height = h.ledger.latest_height();
    let reply = capture(&h, "wait=soon", "W4").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    let problem = reply.json();
    assert_eq!(problem["field"], "Prefer", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("wait=soon"),
        "{problem}"
    );
    assert_eq!(h.ledger.latest_height(), height);
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
    let hash_id =
        pedigree_epcis::hash::event_hash_id(&h.ledger.events_after(0, 1).unwrap()[0].event);
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
async fn a_failed_ledger_read_is_a_500_naming_it_never_not_found() {
    let h = harness();
    let job = h
        .capture(
            "application/json",
            &doc(&commission(&["F1"], "L1", "2026-01-02T09:30:00Z")),
        )
        .await;
    assert_eq!(job["success"], true, "{job}");
    let block = h.get("/blocks/1").await.json();
    let tx = block["txs"][0]["txId"].as_str().unwrap().to_string();
    let hash_id = util::encode_component(&h.ledger.events_after(0, 1).unwrap()[0].event_hash_id);
    let epc = util::encode_component("urn:epc:id:sgtin:0614141.007346.F1");
    let reads = [
        ("/blocks/1".to_string(), "block"),
        ("/blocks/latest".to_string(), "block"),
        (format!("/receipts/{tx}"), "receipt"),
        (format!("/proof/{tx}"), "proof"),
        (format!("/events/{hash_id}"), "event"),
        ("/events".to_string(), "events"),
        (format!("/events?MATCH_epc={epc}"), "events"),
        ("/epcs".to_string(), "epcs"),
        (format!("/epcs/{epc}"), "events"),
        ("/bizSteps".to_string(), "values"),
        ("/bizSteps/commissioning".to_string(), "events"),
    ];
    for (uri, _) in &reads {
        assert_eq!(h.get(uri).await.status, StatusCode::OK, "{uri} before");
    }

    h.ledger.fail_reads(Some("IO error: injected".into()));
    for (uri, what) in &reads {
        let reply = h.get(uri).await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{uri}: {}",
            reply.text
        );
        let body = reply.json();
        assert_eq!(body["read"], *what, "{uri}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("ledger read failed ({what})")),
            "{uri}: {detail}"
        );
        assert!(
            !detail.contains("injected"),
            "{uri}: the storage error stays in the log"
        );
    }
    // A capture must not take a failed duplicate check for "new".
    let event = commission(&["F2"], "L1", "2026-01-02T09:31:00Z");
    let reply = h.post_json("/events", "application/json", &event).await;
    assert_eq!(
        reply.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        reply.text
    );

    h.ledger.fail_reads(None);
    for (uri, _) in &reads {
        assert_eq!(h.get(uri).await.status, StatusCode::OK, "{uri} after");
    }
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

// ---------------------------------------------------------------------------
// EPCIS 2.0 REST binding: headers, OPTIONS, browse, parameters, named queries,
// subscriptions.

async fn call_with(h: &Harness, method: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
    h.call(method, uri, Some(MFG_READ), headers, Body::empty())
        .await
}

fn assert_problem(reply: &Reply, status: StatusCode, kind: &str, named: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    let problem = reply.json();
    assert_eq!(
        problem["type"],
        format!("epcisException:{kind}"),
        "{problem}"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains(named),
        "`{named}` not named: {problem}"
    );
}

#[tokio::test]
async fn api_binding_version_headers_and_options() {
    let h = seeded().await;
    let reply = h.get("/events").await;
    assert_eq!(reply.status, StatusCode::OK);
    for name in [
        "GS1-EPCIS-Version",
        "GS1-CBV-Version",
        "GS1-EPCIS-Min",
        "GS1-EPCIS-Max",
        "GS1-CBV-Min",
        "GS1-CBV-Max",
    ] {
        assert_eq!(reply.headers[name], "2.0.0", "{name}");
    }
    assert_eq!(reply.headers["GS1-EPC-Format"], "Always_GS1_Digital_Link");
    assert!(reply.headers.contains_key("GS1-Vendor-Version"));

    // OPTIONS: 204, Allow, discovery headers; authenticated like every other route.
    let reply = call_with(&h, "OPTIONS", "/events", &[]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    let allow = reply.headers["allow"].to_str().unwrap();
    for m in ["GET", "POST", "OPTIONS"] {
        assert!(allow.contains(m), "{allow}");
    }
    assert_eq!(reply.headers["GS1-EPCIS-Version"], "2.0.0");
    assert!(
        reply.headers["GS1-EPC-Format"]
            .to_str()
            .unwrap()
            .contains("Always_EPC_URN")
    );
    for uri in [
        "/eventTypes",
        "/epcs/urn:epc:id:sgtin:0614141.007346.S1/events",
        "/queries/q1",
        "/queries/q1/subscriptions/abc",
        "/capture",
    ] {
        assert_eq!(
            call_with(&h, "OPTIONS", uri, &[]).await.status,
            StatusCode::NO_CONTENT,
            "{uri}"
        );
    }
    let allow = call_with(&h, "OPTIONS", "/queries/q1", &[]).await.headers["allow"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        allow.contains("DELETE") && !allow.contains("POST"),
        "{allow}"
    );
    assert_eq!(
        h.call("OPTIONS", "/events", None, &[], Body::empty())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Versions: 2.0 is accepted, anything else is a 406 naming the header.
    for (name, value) in [
        ("GS1-EPCIS-Version", "2.0"),
        ("GS1-EPCIS-Version", "2.0.0"),
        ("GS1-CBV-Version", "2.0.0"),
        ("GS1-EPCIS-Min", "1.2"),
        ("GS1-EPCIS-Max", "2.0.0"),
        ("GS1-CBV-Max", "3.0"),
    ] {
        let reply = call_with(&h, "GET", "/events", &[(name, value)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {value}");
    }
    for (name, value) in [
        ("GS1-EPCIS-Version", "1.2"),
        ("GS1-EPCIS-Version", "2.1.0"),
        ("GS1-CBV-Version", "1.2.2"),
        ("GS1-EPCIS-Min", "2.1"),
        ("GS1-EPCIS-Max", "1.2"),
        ("GS1-CBV-Min", "3"),
        ("GS1-CBV-Max", "1.0"),
        ("GS1-EPCIS-Version", "two"),
        ("GS1-EPC-Format", "Always_Barcode"),
        ("GS1-CBV-XML-Format", "Sometimes"),
    ] {
        let reply = call_with(&h, "GET", "/events", &[(name, value)]).await;
        assert_problem(
            &reply,
            StatusCode::NOT_ACCEPTABLE,
            "NotAcceptableException",
            name,
        );
        // The refusal still advertises what is supported.
        assert_eq!(reply.headers["GS1-EPCIS-Version"], "2.0.0");
    }
    // The check applies to every route, writes included.
    let reply = h
        .call(
            "POST",
            "/capture",
            Some(MFG_WRITE),
            &[
                ("content-type", "application/json"),
                ("GS1-EPCIS-Version", "1.2"),
            ],
            doc(&commission(&["V1"], "L1", "2026-01-02T09:30:00Z")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE);

    // Extensions: validated and echoed.
    let ext = "ex=https://example.org/ns/, acme=urn:acme:epcis:";
    let reply = call_with(&h, "GET", "/events", &[("GS1-Extensions", ext)]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["GS1-Extensions"], ext);
    let reply = call_with(&h, "GET", "/events", &[("GS1-Extensions", "nonsense")]).await;
    assert_problem(
        &reply,
        StatusCode::BAD_REQUEST,
        "ValidationException",
        "GS1-Extensions",
    );
}

fn first_event(reply: &Reply) -> Value {
    let list = event_list(reply);
    assert_eq!(list.len(), 1, "{}", reply.text);
    list[0].clone()
}

#[tokio::test]
async fn api_epc_format_and_cbv_xml_format_are_honoured() {
    let h = seeded().await;
    // An event captured with Digital Link EPCs.
    let dl_event = commission(&["D1"], "LOTD", "2026-01-03T09:00:00Z").replace(
        "\"urn:epc:id:sgtin:0614141.007346.D1\"",
        "\"https://id.gs1.org/01/00614141073467/21/D1\"",
    );
    let reply = h
        .post_json("/events", "application/json", &doc(&dl_event))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    let s1 = "/events?MATCH_epc=urn:epc:id:sgtin:0614141.007346.S1";
    let d1 = "/events?MATCH_epc=urn:epc:id:sgtin:0614141.007346.D1";
    // Default: Always_GS1_Digital_Link.
    let e = first_event(&h.get(s1).await);
    assert_eq!(
        e["epcList"][0],
        "https://id.gs1.org/01/00614141073467/21/S1"
    );
    assert_eq!(e["readPoint"]["id"], "https://id.gs1.org/414/0614141000005");
    // Never_Translates / No_Preference: as captured.
    for format in ["Never_Translates", "No_Preference"] {
        let reply = call_with(&h, "GET", s1, &[("GS1-EPC-Format", format)]).await;
        assert_eq!(reply.headers["GS1-EPC-Format"], format);
        let e = first_event(&reply);
        assert_eq!(e["epcList"][0], "urn:epc:id:sgtin:0614141.007346.S1");
        let e = first_event(&call_with(&h, "GET", d1, &[("GS1-EPC-Format", format)]).await);
        assert_eq!(
            e["epcList"][0],
            "https://id.gs1.org/01/00614141073467/21/D1"
        );
    }
    // Always_EPC_URN: Digital Link to URN with the registered company prefix.
    let reply = call_with(&h, "GET", d1, &[("GS1-EPC-Format", "Always_EPC_URN")]).await;
    assert_eq!(reply.headers["GS1-EPC-Format"], "Always_EPC_URN");
    let e = first_event(&reply);
    assert_eq!(e["epcList"][0], "urn:epc:id:sgtin:0614141.007346.D1");
    assert_eq!(e["readPoint"]["id"], "urn:epc:id:sgln:0614141.00000.0");
    // The shipment's destination (captured as Digital Link /417/) becomes a PGLN URN.
    let reply = call_with(
        &h,
        "GET",
        "/events?EQ_bizStep=shipping",
        &[("GS1-EPC-Format", "Always_EPC_URN")],
    )
    .await;
    let e = first_event(&reply);
    assert_eq!(
        e["destinationList"][0]["destination"],
        "urn:epc:id:pgln:0888881.00000"
    );
    // The single-event resource honours it too.
    let id = util::encode_component(&h.ledger.events_after(0, 1).unwrap()[0].event_hash_id);
    let e = first_event(
        &call_with(
            &h,
            "GET",
            &format!("/events/{id}"),
            &[("GS1-EPC-Format", "Never_Translates")],
        )
        .await,
    );
    assert_eq!(e["epcList"][0], "urn:epc:id:sgtin:0614141.007346.S1");

    // XML: CBV values as URNs or Web URIs.
    let xml = |format: &'static str| {
        let h = &h;
        async move {
            call_with(
                h,
                "GET",
                "/events?EQ_bizStep=commissioning&MATCH_epc=urn:epc:id:sgtin:0614141.007346.S1",
                &[
                    ("accept", "application/xml"),
                    ("GS1-CBV-XML-Format", format),
                ],
            )
            .await
        }
    };
    let reply = xml("Always_URN").await;
    assert_eq!(reply.headers["GS1-CBV-XML-Format"], "Always_URN");
    assert!(
        reply
            .text
            .contains("<bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>")
            && reply
                .text
                .contains("<disposition>urn:epcglobal:cbv:disp:active</disposition>"),
        "{}",
        reply.text
    );
    let reply = xml("Always_Web_URI").await;
    assert!(
        reply
            .text
            .contains("<bizStep>https://ref.gs1.org/cbv/BizStep-commissioning</bizStep>"),
        "{}",
        reply.text
    );
    let reply = xml("Never_Translates").await;
    assert!(
        reply.text.contains("<bizStep>commissioning</bizStep>"),
        "{}",
        reply.text
    );
}

fn members(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let value = reply.json();
    assert_eq!(value["type"], "Collection", "{value}");
    value["member"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

fn next_link(reply: &Reply) -> Option<String> {
    reply.headers.get("link").map(|l| {
        l.to_str()
            .unwrap()
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_string()
    })
}

#[tokio::test]
async fn api_browse_resources() {
    let h = seeded().await;
    assert_eq!(
        members(&h.get("/eventTypes").await),
        [
            "AggregationEvent",
            "AssociationEvent",
            "ObjectEvent",
            "TransactionEvent",
            "TransformationEvent"
        ]
    );
    assert_eq!(members(&h.get("/eventTypes/ObjectEvent").await), ["events"]);
    assert_problem(
        &h.get("/eventTypes/Thing").await,
        StatusCode::NOT_FOUND,
        "NoSuchResourceException",
        "Thing",
    );
    assert_eq!(
        event_list(&h.get("/eventTypes/ObjectEvent/events").await).len(),
        2
    );
    assert_eq!(
        event_list(&h.get("/eventTypes/AggregationEvent/events").await).len(),
        0
    );
    assert_eq!(
        h.get("/eventTypes/Thing/events").await.status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        members(&h.get("/bizSteps").await),
        ["commissioning", "shipping"]
    );
    assert_eq!(members(&h.get("/bizSteps/shipping").await), ["events"]);
    assert_eq!(
        members(&h.get("/bizSteps/urn:epcglobal:cbv:bizstep:shipping").await),
        ["events"]
    );
    assert_eq!(
        h.get("/bizSteps/receiving").await.status,
        StatusCode::NOT_FOUND
    );
    let shipped = event_list(&h.get("/bizSteps/shipping/events").await);
    assert_eq!(shipped.len(), 1);
    assert_eq!(shipped[0]["bizStep"], "shipping");
    // The other /events parameters combine with the path's filter.
    assert_eq!(
        event_list(&h.get("/bizSteps/shipping/events?EQ_action=ADD").await).len(),
        0
    );
    assert_problem(
        &h.get("/bizSteps/shipping/events?EQ_bizStep=commissioning")
            .await,
        StatusCode::BAD_REQUEST,
        "QueryParameterException",
        "EQ_bizStep",
    );
    assert_problem(
        &h.get("/bizSteps/shipping/events?bogus=1").await,
        StatusCode::BAD_REQUEST,
        "QueryParameterException",
        "bogus",
    );

    assert_eq!(
        members(&h.get("/dispositions").await),
        ["active", "in_transit"]
    );
    assert_eq!(
        event_list(&h.get("/dispositions/in_transit/events").await).len(),
        1
    );
    assert_eq!(
        members(&h.get("/readPoints").await),
        ["https://id.gs1.org/414/0614141000005"]
    );
    let rp = util::encode_component("https://id.gs1.org/414/0614141000005");
    assert_eq!(
        members(&h.get(&format!("/readPoints/{rp}")).await),
        ["events"]
    );
    assert_eq!(
        event_list(
            &h.get("/readPoints/urn:epc:id:sgln:0614141.00000.0/events")
                .await
        )
        .len(),
        1
    );
    assert!(members(&h.get("/bizLocations").await).is_empty());

    // EPCs: distinct, normalised, paged.
    let all = members(&h.get("/epcs").await);
    assert_eq!(
        all,
        ["S1", "S2", "S3"].map(|s| format!("https://id.gs1.org/01/00614141073467/21/{s}"))
    );
    let urns =
        members(&call_with(&h, "GET", "/epcs", &[("GS1-EPC-Format", "Always_EPC_URN")]).await);
    assert_eq!(urns[0], "urn:epc:id:sgtin:0614141.007346.S1");
    let first = h.get("/epcs?perPage=2").await;
    assert_eq!(members(&first).len(), 2);
    let next = next_link(&first).expect("Link rel=next");
    assert!(next.starts_with("/epcs?"), "{next}");
    let second = h.get(&next).await;
    assert_eq!(members(&second), [all[2].clone()]);
    assert!(second.headers.get("link").is_none());
    assert_problem(
        &h.get("/epcs?perPage=0").await,
        StatusCode::BAD_REQUEST,
        "QueryParameterException",
        "perPage",
    );
    assert_problem(
        &h.get("/epcs?EQ_action=ADD").await,
        StatusCode::BAD_REQUEST,
        "QueryParameterException",
        "EQ_action",
    );
    assert_problem(
        &h.get("/epcs?nextPageToken=zz").await,
        StatusCode::BAD_REQUEST,
        "QueryParameterException",
        "nextPageToken",
    );
    let s3 = util::encode_component("https://id.gs1.org/01/00614141073467/21/S3");
    assert_eq!(members(&h.get(&format!("/epcs/{s3}")).await), ["events"]);
    assert_eq!(
        event_list(
            &h.get("/epcs/urn:epc:id:sgtin:0614141.007346.S3/events")
                .await
        )
        .len(),
        2
    );
    assert_eq!(
        h.get("/epcs/urn:epc:id:sgtin:0614141.007346.S9")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Paging of an item's events links back to the same resource.
    let first = h.get("/eventTypes/ObjectEvent/events?perPage=1").await;
    assert_eq!(event_list(&first)[0]["bizStep"], "commissioning");
    let next = next_link(&first).expect("Link rel=next");
    assert!(
        next.starts_with("/eventTypes/ObjectEvent/events?"),
        "{next}"
    );
    assert!(!next.contains("eventType="), "{next}");
    let second = h.get(&next).await;
    assert_eq!(event_list(&second)[0]["bizStep"], "shipping");
    assert!(second.headers.get("link").is_none());
}

/// An observation of S2 carrying every optional field the new parameters look at.
fn inspection(time: &str) -> String {
    format!(
        r#"{{"type": "ObjectEvent", "eventTime": "{time}", "eventTimeZoneOffset": "+00:00",
          "epcList": ["urn:epc:id:sgtin:0614141.007346.S2"], "action": "OBSERVE",
          "bizStep": "inspecting", "disposition": "active",
          "persistentDisposition": {{"set": ["completeness_verified"]}},
          "readPoint": {{"id": "urn:epc:id:sgln:0614141.00000.DOCK1"}},
          "bizLocation": {{"id": "urn:epc:id:sgln:0614141.00000.0"}},
          "bizTransactionList": [{{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:PO-77"}}],
          "sourceList": [{{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00000"}}],
          "quantityList": [{{"epcClass": "urn:epc:class:lgtin:0614141.007346.LOT9", "quantity": 5, "uom": "KGM"}}],
          "sensorElementList": [{{
            "sensorMetadata": {{"time": "{time}", "startTime": "2026-01-02T08:00:00Z", "endTime": "2026-01-02T09:00:00Z", "deviceID": "urn:epc:id:giai:0614141.T1"}},
            "sensorReport": [
              {{"type": "gs1:Temperature", "value": 6.5, "minValue": 2.0, "maxValue": 8.0, "uom": "CEL"}},
              {{"type": "gs1:Humidity", "value": 40, "uom": "A93", "booleanValue": true, "stringValue": "dry"}}
            ]
          }}],
          "example:handler": "Alice", "example:crates": 12,
          "example:shipment": {{"example:carrier": "ACME",
            "example:legs": [{{"example:temp": 5}}, {{"example:temp": 9, "example:carrier": "Relay"}}]}}}}"#
    )
}

#[tokio::test]
async fn api_query_standard_parameters() {
    let h = seeded().await;
    let body = format!(
        r#"{{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {{"example": "https://ns.example.com/epcis/"}}],
            "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
            "epcisBody": {{"eventList": [{}]}}}}"#,
        inspection("2026-01-02T10:00:00Z")
    );
    let job = h.capture("application/ld+json", &body).await;
    assert_eq!(job["success"], true, "{job}");
    let count = |q: &str| {
        let h = &h;
        let q = q.to_string();
        async move {
            let reply = h.get(&format!("/events?{q}")).await;
            assert_eq!(reply.status, StatusCode::OK, "{q}: {}", reply.text);
            event_list(&reply).len()
        }
    };
    for (query, expected) in [
        // Quantities (with and without a unit).
        ("EQ_quantity=5", 1),
        ("GT_quantity=4.5", 1),
        ("GE_quantity=5.0", 1),
        ("LT_quantity=5", 0),
        ("LE_quantity=5", 1),
        ("GE_quantity_KGM=5", 1),
        ("GE_quantity_LBR=1", 0),
        (
            "MATCH_anyEPCClass=urn:epc:class:lgtin:0614141.007346.LOT9",
            1,
        ),
        (
            "MATCH_inputEPCClass=urn:epc:class:lgtin:0614141.007346.LOT9",
            0,
        ),
        // Locations: WD_ includes sub-locations, EQ_ does not.
        ("EQ_readPoint=urn:epc:id:sgln:0614141.00000.0", 1),
        ("WD_readPoint=urn:epc:id:sgln:0614141.00000.0", 2),
        ("WD_readPoint=urn:epc:id:sgln:0614141.00000.DOCK1", 1),
        ("WD_bizLocation=https://id.gs1.org/414/0614141000005", 1),
        ("WD_readPoint=urn:epc:id:sgln:0888881.00000.0", 0),
        // Persistent disposition, transactions, sources, destinations.
        ("EQ_persistentDisposition_set=completeness_verified", 1),
        ("EQ_persistentDisposition_unset=completeness_verified", 0),
        (
            "EQ_bizTransaction_po=urn:epcglobal:cbv:bt:0614141000005:PO-77",
            1,
        ),
        (
            "EQ_bizTransaction_inv=urn:epcglobal:cbv:bt:0614141000005:PO-77",
            0,
        ),
        (
            "EQ_source_owning_party=https://id.gs1.org/417/0614141000005",
            1,
        ),
        (
            "EQ_destination_owning_party=urn:epc:id:pgln:0888881.00000",
            1,
        ),
        (
            "EQ_destination_possessing_party=urn:epc:id:pgln:0888881.00000",
            0,
        ),
        // ILMD and event-level extension fields.
        ("EQ_ILMD_cbvmda:lotNumber=LOT9", 1),
        ("EQ_ILMD_cbvmda:lotNumber=LOT8|LOT9", 1),
        ("EXISTS_ILMD_cbvmda:itemExpirationDate", 1),
        ("GE_ILMD_cbvmda:itemExpirationDate=2027-01-01", 1),
        ("LT_ILMD_cbvmda:itemExpirationDate=2027-01-01", 0),
        ("EQ_example:handler=Alice", 1),
        ("GT_example:crates=11", 1),
        ("LE_example:crates=11", 0),
        ("EXISTS_example:handler", 1),
        ("EXISTS_example:nobody", 0),
        // Inner extension elements: nested at any depth, never the top level.
        ("EQ_INNER_example:carrier=ACME", 1),
        ("EQ_INNER_example:carrier=Relay", 1),
        ("EQ_INNER_example:carrier=Nobody", 0),
        ("EQ_example:carrier=ACME", 0),
        ("EQ_INNER_example:handler=Alice", 0),
        ("GT_INNER_example:temp=8", 1),
        ("GT_INNER_example:temp=9", 0),
        ("LE_INNER_example:temp=5", 1),
        ("EXISTS_INNER_example:legs", 1),
        ("EXISTS_INNER_example:shipment", 0),
        ("EXISTS_INNER_ILMD_cbvmda:lotNumber", 0),
        // Sensors.
        ("EXISTS_sensorElementList=true", 1),
        ("EQ_type=gs1:Temperature", 1),
        ("EQ_type=Temperature", 1),
        ("EQ_type=Pressure", 0),
        ("GE_value_CEL=6", 1),
        ("GT_value_CEL=6.5", 0),
        ("GE_minValue=2", 1),
        ("LT_maxValue=8", 0),
        ("LE_maxValue_CEL=8", 1),
        ("EQ_booleanValue=true", 1),
        ("EQ_stringValue=dry", 1),
        ("EQ_deviceID=urn:epc:id:giai:0614141.T1", 1),
        ("GE_startTime=2026-01-02T08:00:00Z", 1),
        ("LT_endTime=2026-01-02T09:00:00Z", 0),
        ("GE_time=2026-01-02T10:00:00Z", 1),
        // Errors: none declared.
        ("EXISTS_errorDeclaration", 0),
        ("EQ_errorReason=incorrect_data", 0),
        // Record time, event ID, counting and ordering.
        ("GE_recordTime=2026-01-01T00:00:00Z", 3),
        ("LT_recordTime=2026-01-01T00:00:00Z", 0),
        ("orderBy=recordTime&orderDirection=ASC&eventCountLimit=2", 2),
        (
            "EQ_bizStep=inspecting&EQ_action=OBSERVE&eventType=ObjectEvent",
            1,
        ),
    ] {
        assert_eq!(count(query).await, expected, "{query}");
    }
    // Malformed or unknown parameters: 400 naming the parameter.
    for (query, param) in [
        ("EQ_quantity=five", "EQ_quantity"),
        ("GE_quantity_kg=1", "GE_quantity_kg"),
        ("EQ_ILMD_lotNumber=LOT9", "EQ_ILMD_lotNumber"),
        ("EQ_INNER_carrier=ACME", "EQ_INNER_carrier"),
        (
            "EQATTR_bizLocation_gs1:site=x",
            "EQATTR_bizLocation_gs1:site",
        ),
        ("HASATTR_bizLocation=gs1:site", "HASATTR_bizLocation"),
        ("EXISTS_errorDeclaration=maybe", "EXISTS_errorDeclaration"),
        ("EQ_booleanValue=yes", "EQ_booleanValue"),
        ("GE_minValue=low", "GE_minValue"),
        ("EQ_minValue=1", "EQ_minValue"),
        ("GE_percRank_CEL=1", "GE_percRank_CEL"),
        ("WD_readPoint=", "WD_readPoint"),
        ("EQ_bizTransaction_=x", "EQ_bizTransaction_"),
        ("GE_errorDeclarationTime=now", "GE_errorDeclarationTime"),
        ("LT_startTime=2026-99-01T00:00:00Z", "LT_startTime"),
        ("XX_quantity=1", "XX_quantity"),
        (
            "EQ_persistentDisposition=active",
            "EQ_persistentDisposition",
        ),
        ("EQ_quantity=1&EQ_quantity=2", "EQ_quantity"),
    ] {
        assert_problem(
            &h.get(&format!("/events?{query}")).await,
            StatusCode::BAD_REQUEST,
            "QueryParameterException",
            param,
        );
    }
}

fn config_with_state(dir: &std::path::Path) -> impl FnOnce(&mut ApiConfig) + use<> {
    let dir = dir.to_path_buf();
    move |c: &mut ApiConfig| {
        c.state_dir = Some(dir);
        c.webhook_retry_base = Duration::from_millis(10);
        c.webhook_private_destinations = true;
    }
}

/// Stores the named query `shipments` (`EQ_bizStep=shipping`) as the manufacturer.
async fn create_shipments_query(h: &Harness) {
    let reply = post_as(
        h,
        MFG_WRITE,
        "/queries",
        r#"{"name": "shipments", "query": {"EQ_bizStep": "shipping"}}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

async fn post_as(h: &Harness, token: &str, uri: &str, body: &str) -> Reply {
    h.call(
        "POST",
        uri,
        Some(token),
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn api_named_queries_are_validated_run_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness_with(NodeRole::Voter, config_with_state(dir.path()));
    let body = doc(&format!(
        "{}, {}",
        commission(&["S1", "S2", "S3"], "LOT9", "2026-01-02T09:30:00Z"),
        ship(&["S3"], "2026-01-02T12:00:00Z")
    ));
    assert_eq!(h.capture("application/json", &body).await["success"], true);

    let shipped = r#"{"name": "shipped", "query": {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping", "receiving"]}}"#;
    let reply = post_as(&h, MFG_WRITE, "/queries", shipped).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.headers["location"], "/queries/shipped");
    assert_eq!(reply.json()["name"], "shipped");
    // Duplicates, bad names, bad definitions, read tokens.
    assert_problem(
        &post_as(&h, MFG_WRITE, "/queries", shipped).await,
        StatusCode::CONFLICT,
        "ResourceAlreadyExistsException",
        "shipped",
    );
    assert_problem(
        &post_as(&h, MFG_WRITE, "/queries", r#"{"name": "a/b", "query": {}}"#).await,
        StatusCode::BAD_REQUEST,
        "ValidationException",
        "name",
    );
    assert_problem(
        &post_as(&h, MFG_WRITE, "/queries", r#"{"name": "q"}"#).await,
        StatusCode::BAD_REQUEST,
        "ValidationException",
        "query",
    );
    assert_problem(
        &post_as(
            &h,
            MFG_WRITE,
            "/queries",
            r#"{"name": "q", "query": {"EQ_action": ["JUMP"]}}"#,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "QueryParameterException",
        "EQ_action",
    );
    assert_problem(
        &post_as(
            &h,
            MFG_WRITE,
            "/queries",
            r#"{"name": "q", "query": {"EQ_wat": "x"}}"#,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "QueryParameterException",
        "EQ_wat",
    );
    assert_problem(
        &post_as(
            &h,
            MFG_WRITE,
            "/queries",
            r#"{"name": "q", "query": {"EQ_bizStep": {"x": 1}}}"#,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "QueryParameterException",
        "EQ_bizStep",
    );
    assert_problem(
        &post_as(&h, MFG_WRITE, "/queries", "{oops").await,
        StatusCode::BAD_REQUEST,
        "ValidationException",
        "JSON",
    );
    assert_eq!(
        post_as(&h, MFG_READ, "/queries", r#"{"name": "r", "query": {}}"#)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // List, get, run (with paging), bad paging parameters.
    let list = h.get("/queries").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["query"]["EQ_bizStep"][0], "shipping");
    assert_eq!(h.get("/queries/shipped").await.json()["name"], "shipped");
    assert_problem(
        &h.get("/queries/nope").await,
        StatusCode::NOT_FOUND,
        "NoSuchNameException",
        "nope",
    );
    let reply = h.get("/queries/shipped/events").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json()["epcisBody"]["queryResults"]["queryName"],
        "shipped"
    );
    let e = first_event(&reply);
    assert_eq!(e["bizStep"], "shipping");
    assert_problem(
        &h.get("/queries/shipped/events?EQ_bizStep=commissioning")
            .await,
        StatusCode::BAD_REQUEST,
        "QueryParameterException",
        "EQ_bizStep",
    );
    let all = r#"{"name": "all", "query": {"orderBy": "eventTime", "orderDirection": "ASC"}}"#;
    assert_eq!(
        post_as(&h, MFG_WRITE, "/queries", all).await.status,
        StatusCode::CREATED
    );
    let first = h.get("/queries/all/events?perPage=1").await;
    assert_eq!(first_event(&first)["bizStep"], "commissioning");
    let next = next_link(&first).expect("Link rel=next");
    assert!(next.starts_with("/queries/all/events?"), "{next}");
    assert_eq!(first_event(&h.get(&next).await)["bizStep"], "shipping");
    // An incomplete WebSocket handshake is refused, naming the header.
    let reply = call_with(
        &h,
        "GET",
        "/queries/all/events",
        &[("upgrade", "websocket"), ("connection", "upgrade")],
    )
    .await;
    assert_problem(
        &reply,
        StatusCode::BAD_REQUEST,
        "ValidationException",
        "WebSocket",
    );

    // A restarted API (same state directory) still has both queries.
    let app = router(h.ledger.clone(), {
        let mut c = ApiConfig::new(tokens());
        c.state_dir = Some(dir.path().to_path_buf());
        c
    });
    let restarted = Harness {
        app,
        ledger: h.ledger.clone(),
        now: h.now.clone(),
    };
    let list = restarted.get("/queries").await.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["all", "shipped"]);
    assert_eq!(
        first_event(&restarted.get("/queries/shipped/events").await)["bizStep"],
        "shipping"
    );

    // Delete; gone for both, and after another restart.
    let reply = restarted
        .call(
            "DELETE",
            "/queries/shipped",
            Some(MFG_WRITE),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert_eq!(
        restarted
            .call(
                "DELETE",
                "/queries/shipped",
                Some(MFG_WRITE),
                &[],
                Body::empty()
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let again = router(h.ledger.clone(), {
        let mut c = ApiConfig::new(tokens());
        c.state_dir = Some(dir.path().to_path_buf());
        c
    });
    let again = Harness {
        app: again,
        ledger: h.ledger.clone(),
        now: h.now.clone(),
    };
    assert_eq!(
        again.get("/queries/shipped").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(again.get("/queries/all").await.status, StatusCode::OK);
}

#[test]
fn api_hmac_sha256_matches_rfc_4231() {
    // RFC 4231 test cases 2 and 6 (key longer than the block).
    assert_eq!(
        hex::encode(queries::hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing?"
        )),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        hex::encode(queries::hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

/// A webhook receiver on 127.0.0.1 that answers 500 to the first `fail_first` requests.
async fn webhook_receiver(
    fail_first: usize,
) -> (
    String,
    tokio::sync::mpsc::Receiver<(HeaderMap, String, StatusCode)>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let seen = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let tx = tx.clone();
            let seen = seen.clone();
            async move {
                let n = seen.fetch_add(1, Ordering::SeqCst) as usize;
                let status = if n < fail_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                };
                let _ = tx.send((headers, body, status)).await;
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

async fn next_delivery(
    rx: &mut tokio::sync::mpsc::Receiver<(HeaderMap, String, StatusCode)>,
) -> (HeaderMap, Value, StatusCode) {
    let (headers, body, status) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("no webhook delivery within 20 s")
        .expect("receiver closed");
    let value: Value = serde_json::from_str(&body).unwrap();
    let signature = queries::hmac_sha256(b"s3cret", body.as_bytes());
    assert_eq!(
        headers["GS1-Signature"],
        format!("sha256={}", hex::encode(signature)).as_str()
    );
    (headers, value, status)
}

fn delivered_events(document: &Value) -> Vec<Value> {
    document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn api_webhook_subscription_delivers_newly_committed_events() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness_with(NodeRole::Voter, config_with_state(dir.path()));
    let seed = doc(&format!(
        "{}, {}",
        commission(&["S1", "S2", "S3", "S4"], "LOT9", "2026-01-02T09:30:00Z"),
        ship(&["S3"], "2026-01-02T12:00:00Z")
    ));
    assert_eq!(h.capture("application/json", &seed).await["success"], true);
    create_shipments_query(&h).await;

    // Subscription controls are validated.
    for (body, field) in [
        (r#"{"dest": "ftp://example.org/x", "stream": true}"#, "dest"),
        (r#"{"dest": "not a url", "stream": true}"#, "dest"),
        (r#"{"dest": "http://127.0.0.1:9/x"}"#, "stream"),
        (
            r#"{"dest": "http://127.0.0.1:9/x", "schedule": {"minute": "5"}}"#,
            "schedule",
        ),
        (
            r#"{"dest": "http://127.0.0.1:9/x", "stream": true, "initialRecordTime": "soon"}"#,
            "initialRecordTime",
        ),
        (
            r#"{"dest": "http://127.0.0.1:9/x", "stream": true, "epcFormat": "Sometimes"}"#,
            "epcFormat",
        ),
    ] {
        let reply = post_as(&h, MFG_WRITE, "/queries/shipments/subscriptions", body).await;
        assert_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            "SubscriptionControlsException",
            "",
        );
        assert_eq!(reply.json()["field"], field, "{body}");
    }
    assert_eq!(
        post_as(
            &h,
            MFG_WRITE,
            "/queries/nope/subscriptions",
            r#"{"dest": "http://127.0.0.1:9/x", "stream": true}"#
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // The receiver fails the first attempt: the delivery is retried.
    let (url, mut rx) = webhook_receiver(1).await;
    let body = format!(
        r#"{{"dest": "{url}", "stream": true, "signatureToken": "s3cret", "epcFormat": "Always_EPC_URN"}}"#
    );
    let reply = post_as(&h, MFG_WRITE, "/queries/shipments/subscriptions", &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let created = reply.json();
    let id = created["subscriptionID"].as_str().unwrap().to_string();
    let location = reply.headers["location"].to_str().unwrap().to_string();
    assert_eq!(location, format!("/queries/shipments/subscriptions/{id}"));
    assert_eq!(
        created["signatureToken"], "(set)",
        "the secret is not shown"
    );

    // A new shipment (and a non-matching commissioning) after subscribing.
    let job = h
        .capture(
            "application/json",
            &doc(&format!(
                "{}, {}",
                commission(&["S7"], "LOT9", "2026-01-03T08:00:00Z"),
                ship(&["S1"], "2026-01-03T09:00:00Z")
            )),
        )
        .await;
    assert_eq!(job["success"], true, "{job}");
    let (_, failed, status) = next_delivery(&mut rx).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (headers, document, status) = next_delivery(&mut rx).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(failed, document, "the retry carries the same document");
    assert_eq!(headers["GS1-EPC-Format"], "Always_EPC_URN");
    assert_eq!(document["type"], "EPCISQueryDocument");
    let results = &document["epcisBody"]["queryResults"];
    assert_eq!(results["queryName"], "shipments");
    assert_eq!(results["subscriptionID"], id.as_str());
    // Only the new shipment: not the one before the subscription, not the commissioning.
    let events = delivered_events(&document);
    assert_eq!(events.len(), 1, "{document}");
    assert_eq!(
        events[0]["epcList"][0],
        "urn:epc:id:sgtin:0614141.007346.S1"
    );
    assert!(events[0]["recordTime"].is_string());

    // The subscription reports its delivery (after the receiver has answered).
    let mut view = Value::Null;
    for _ in 0..200 {
        view = h.get(&location).await.json();
        if view["deliveries"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(view["deliveries"], 1, "{view}");
    assert!(view["lastNotifiedAt"].is_string(), "{view}");
    assert!(view.get("lastError").is_none(), "{view}");
    let list = h.get("/queries/shipments/subscriptions").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Survives an API restart: a new router over the same state resumes after the cursor.
    let restarted = Harness {
        app: router(h.ledger.clone(), {
            let mut c = ApiConfig::new(tokens());
            c.state_dir = Some(dir.path().to_path_buf());
            c.webhook_retry_base = Duration::from_millis(10);
            c.webhook_private_destinations = true;
            c
        }),
        ledger: h.ledger.clone(),
        now: h.now.clone(),
    };
    // Unsubscribe through the first API (stops its task); the restarted one keeps its
    // own copy until told, so delete there too and check the file agrees.
    let reply = h
        .call("DELETE", &location, Some(MFG_WRITE), &[], Body::empty())
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(h.get(&location).await.status, StatusCode::NOT_FOUND);
    assert_eq!(restarted.get(&location).await.status, StatusCode::OK);
    let job = h
        .capture(
            "application/json",
            &doc(&ship(&["S2"], "2026-01-03T10:00:00Z")),
        )
        .await;
    assert_eq!(job["success"], true, "{job}");
    let (_, document, _) = next_delivery(&mut rx).await;
    let events = delivered_events(&document);
    assert_eq!(events.len(), 1, "{document}");
    assert_eq!(
        events[0]["epcList"][0], "urn:epc:id:sgtin:0614141.007346.S2",
        "the restarted API resumed after S1"
    );
    assert_eq!(
        restarted
            .call("DELETE", &location, Some(MFG_WRITE), &[], Body::empty())
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // Nothing is delivered once unsubscribed.
    let job = h
        .capture(
            "application/json",
            &doc(&ship(&["S4"], "2026-01-03T11:00:00Z")),
        )
        .await;
    assert_eq!(job["success"], true, "{job}");
    // Every delivery task has stopped: a fresh router over the file has no subscription.
    let fresh = Harness {
        app: router(h.ledger.clone(), {
            let mut c = ApiConfig::new(tokens());
            c.state_dir = Some(dir.path().to_path_buf());
            c
        }),
        ledger: h.ledger.clone(),
        now: h.now.clone(),
    };
    let list = fresh.get("/queries/shipments/subscriptions").await.json();
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    assert!(
        rx.try_recv().is_err(),
        "no delivery after unsubscribing (checked after the last commit was applied)"
    );
}

/// Every object key is camelCase, except the keys of maps keyed by data (org ids).
fn assert_camel_case(value: &Value, path: &str) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let data_keys = path.ends_with("byCustodian");
                assert!(
                    data_keys || !key.contains('_'),
                    "snake_case key `{key}` at {path}"
                );
                assert_camel_case(inner, &format!("{path}.{key}"));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_camel_case(item, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

#[test]
fn api_camel_case_conversion() {
    assert_eq!(util::camel_case("in_transit_to"), "inTransitTo");
    assert_eq!(util::camel_case("parentChain"), "parentChain");
    assert_eq!(util::camel_case("InTransit"), "InTransit");
    let value = util::camel_keys(serde_json::json!({
        "by_custodian": {"acme_pharma": {"InTransit": [{"top_container": null}]}},
        "last_event_seq": 1
    }));
    assert_eq!(
        value,
        serde_json::json!({
            "byCustodian": {"acme_pharma": {"InTransit": [{"topContainer": null}]}},
            "lastEventSeq": 1
        })
    );
}

#[tokio::test]
async fn api_json_bodies_are_camel_case() {
    let h = seeded().await;
    let reply = h
        .post_json(
            "/recall",
            "application/json",
            &format!(r#"{{"gtin": "{GTIN}", "lot": "LOT9", "reason": "r"}}"#),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let recall = reply.json();
    let tx = recall["receipt"]["txId"].as_str().unwrap().to_string();
    let mut bodies = vec![("/recall (POST)".to_string(), recall)];
    let jobs = h.get("/capture").await.json();
    let job = jobs["captureJobs"][0]["captureID"]
        .as_str()
        .unwrap()
        .to_string();
    for uri in [
        "/status".to_string(),
        format!("/proof/{tx}"),
        format!("/receipts/{tx}"),
        "/blocks/latest".to_string(),
        "/capture".to_string(),
        format!("/capture/{job}"),
        "/trace/urn:epc:id:sgtin:0614141.007346.S3".to_string(),
        format!("/recall/{GTIN}/LOT9"),
        format!("/reconciliation/{GTIN}/LOT9"),
        format!("/verify/gtin/{GTIN}/lot/LOT9/ser/S1"),
        "/epcs".to_string(),
    ] {
        let reply = h.get(&uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
        bodies.push((uri, reply.json()));
    }
    let text = bodies
        .iter()
        .map(|(_, b)| b.to_string())
        .collect::<String>();
    assert!(
        text.contains("parentChain") && text.contains("byCustodian"),
        "{text}"
    );
    for (uri, body) in &bodies {
        assert_camel_case(body, uri);
    }
    let problem = h.get("/events?foo=1").await.json();
    assert_camel_case(&problem, "problem");
}

/// A client-signed event is held to the EPCIS rules a captured document is: a read point with
/// a control character (which would also break the node's indexes) is refused, naming the
/// transaction and the field; with `captureErrorBehaviour: proceed` the valid ones go on.
#[tokio::test]
async fn api_signed_events_are_validated_like_captured_ones() {
    let h = harness();
    let signed = |serial: &str, read_point: &str, nonce: u64| {
        let mut event = pedigree_epcis::json::parse_document(&doc(&commission(
            &[serial],
            "L1",
            "2026-01-02T09:30:00Z",
        )))
        .unwrap()
        .events
        .remove(0);
        event.read_point = Some(pedigree_epcis::model::Location {
            id: read_point.to_string(),
            extensions: Vec::new(),
        });
        let body = pedigree_chaincode::TxBody::Epcis(Box::new(event));
        let mut envelope = h.ledger.sign(body).unwrap().envelope;
        envelope.nonce = nonce;
        let tx = envelope.sign(&key(1));
        hex::encode(tx.to_bytes())
    };
    let good = signed("N1", "urn:epc:id:sgln:0614141.00000.0", 1);
    let bad = signed("N2", "urn:epc:id:sgln:0614141.00000.0\0x", 2);
    let list = format!(r#"["{good}", "{bad}"]"#);
    let post = |behaviour: &'static str| {
        let h = &h;
        let list = list.clone();
        async move {
            h.call(
                "POST",
                "/capture",
                Some(MFG_WRITE),
                &[
                    ("content-type", capture::SIGNED_TXS_MEDIA_TYPE),
                    ("gs1-capture-error-behaviour", behaviour),
                    ("prefer", "wait=5"),
                ],
                list,
            )
            .await
        }
    };
    let reply = post("rollback").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    let problem = reply.json();
    assert_eq!(
        problem["errors"][0]["field"], "[1].readPoint.id",
        "{problem}"
    );
    assert_eq!(problem["errors"][0]["eventIndex"], 1, "{problem}");
    assert!(
        h.ledger.events_after(0, 10).unwrap().is_empty(),
        "nothing captured"
    );

    let reply = post("proceed").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let job = reply.json();
    assert_eq!(job["success"], false, "{job}");
    assert_eq!(job["errors"][0]["eventIndex"], 1, "{job}");
    assert_eq!(h.ledger.events_after(0, 10).unwrap().len(), 1, "{job}");
}

#[tokio::test]
async fn api_partners_submit_their_own_signed_transactions_through_any_node() {
    let h = seeded().await;
    let event = pedigree_epcis::json::parse_document(&doc(&commission(
        &["P1"],
        "L1",
        "2026-01-02T09:30:00Z",
    )))
    .unwrap()
    .events
    .remove(0);
    let body = pedigree_chaincode::TxBody::Epcis(Box::new(event));
    let dist_signed = pedigree_chaincode::TxEnvelope {
        network_id: h.ledger.info().network_id,
        signer_org: "dist".into(),
        key_id: "k1".into(),
        public_key: key(3).verifying_key().to_bytes(),
        nonce: 7,
        body: body.clone(),
    }
    .sign(&key(3));
    let mfg_signed = h.ledger.sign(body).unwrap();
    let hex_list =
        |tx: &pedigree_chaincode::SignedTx| format!(r#"["{}"]"#, hex::encode(tx.to_bytes()));
    let submit = |token: &'static str, body: String| {
        let h = &h;
        async move {
            h.call(
                "POST",
                "/capture",
                Some(token),
                &[("content-type", capture::SIGNED_TXS_MEDIA_TYPE)],
                body,
            )
            .await
        }
    };
    // dist's token, dist's signature, mfg's node: accepted for ordering.
    let reply = submit(DIST_WRITE, hex_list(&dist_signed)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    // dist's token cannot push mfg's transactions, nor a document the node would sign.
    assert_problem(
        &submit(DIST_WRITE, hex_list(&mfg_signed)).await,
        StatusCode::FORBIDDEN,
        "SecurityException",
        "[0]",
    );
    assert_problem(
        &h.call(
            "POST",
            "/capture",
            Some(DIST_WRITE),
            &[("content-type", "application/json")],
            doc(&commission(&["P2"], "L1", "2026-01-02T09:30:00Z")),
        )
        .await,
        StatusCode::FORBIDDEN,
        "SecurityException",
        "dist",
    );
    // A read token cannot submit at all.
    assert_eq!(
        submit(MFG_READ, hex_list(&dist_signed)).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn next_text<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures_util::StreamExt;
    match tokio::time::timeout(Duration::from_secs(20), socket.next())
        .await
        .expect("no message within 20 s")
        .expect("stream ended")
        .unwrap()
    {
        tokio_tungstenite::tungstenite::Message::Text(text) => {
            serde_json::from_str::<Value>(text.as_str()).unwrap()
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn api_websocket_subscription_streams_newly_committed_events() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let h = seeded().await;
    create_shipments_query(&h).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = h.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let connect = |uri: String, token: Option<&'static str>| async move {
        let mut request = uri.into_client_request().unwrap();
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        request
            .headers_mut()
            .insert("GS1-EPC-Format", "Never_Translates".parse().unwrap());
        tokio_tungstenite::connect_async(request).await
    };
    // Refusals happen before the upgrade, as HTTP answers.
    let refused = |result: Result<_, tokio_tungstenite::tungstenite::Error>| match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("upgraded"),
    };
    let base = format!("ws://{address}/queries");
    assert_eq!(
        refused(connect(format!("{base}/shipments/events"), None).await),
        401
    );
    assert_eq!(
        refused(connect(format!("{base}/nope/events"), Some(MFG_READ)).await),
        404
    );
    assert_eq!(
        refused(
            connect(
                format!("{base}/shipments/events?stream=false"),
                Some(MFG_READ)
            )
            .await
        ),
        400
    );
    let (mut socket, response) = connect(
        format!("{base}/shipments/events?stream=true"),
        Some(MFG_READ),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 101);

    // The shipment seeded before subscribing is not sent; a new one is, alone.
    let job = h
        .capture(
            "application/json",
            &doc(&format!(
                "{}, {}",
                commission(&["S8"], "LOT9", "2026-01-03T08:00:00Z"),
                ship(&["S1"], "2026-01-03T09:00:00Z")
            )),
        )
        .await;
    assert_eq!(job["success"], true, "{job}");
    let document = next_text(&mut socket).await;
    assert_eq!(
        document["epcisBody"]["queryResults"]["queryName"],
        "shipments"
    );
    assert!(document["epcisBody"]["queryResults"]["subscriptionID"].is_string());
    let events = delivered_events(&document);
    assert_eq!(events.len(), 1, "{document}");
    assert_eq!(
        events[0]["epcList"][0],
        "urn:epc:id:sgtin:0614141.007346.S1"
    );
    let job = h
        .capture(
            "application/json",
            &doc(&ship(&["S2"], "2026-01-03T10:00:00Z")),
        )
        .await;
    assert_eq!(job["success"], true, "{job}");
    let events = delivered_events(&next_text(&mut socket).await);
    assert_eq!(
        events[0]["epcList"][0],
        "urn:epc:id:sgtin:0614141.007346.S2"
    );

    // Deleting the named query ends the stream with a close frame.
    let reply = h
        .call(
            "DELETE",
            "/queries/shipments",
            Some(MFG_WRITE),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let job = h
        .capture(
            "application/json",
            &doc(&ship(&["S8"], "2026-01-03T11:00:00Z")),
        )
        .await;
    assert_eq!(job["success"], true, "{job}");
    let end = tokio::time::timeout(Duration::from_secs(20), socket.next())
        .await
        .expect("stream not closed within 20 s");
    assert!(matches!(end, None | Some(Ok(Message::Close(_)))), "{end:?}");
}

fn observe(serials: &[&str], time: &str) -> String {
    format!(
        r#"{{"type": "ObjectEvent", "eventTime": "{time}", "eventTimeZoneOffset": "+00:00",
          "epcList": [{}], "action": "OBSERVE", "bizStep": "inspecting", "disposition": "active",
          "readPoint": {{"id": "urn:epc:id:sgln:0614141.00000.0"}}}}"#,
        sgtin_list(serials)
    )
}

/// A query with an EPC parameter reads the EPC index, and finds exactly what reading every
/// event finds, in order and without gaps: also when one EPC's answers fill a batch before
/// another's do, and whatever the batch size.
#[tokio::test]
async fn api_epc_queries_read_the_index_and_find_what_a_scan_finds() {
    let h = harness();
    let patterns: [&[&str]; 12] = [
        &["A"],
        &["B"],
        &["A", "B"],
        &["C"],
        &["A"],
        &["D"],
        &["B"],
        &["A", "C"],
        &["E"],
        &["A"],
        &["B", "D"],
        &["A"],
    ];
    let mut events = vec![commission(
        &["A", "B", "C", "D", "E"],
        "LOT1",
        "2026-01-02T09:00:00Z",
    )];
    events.extend(
        patterns
            .iter()
            .enumerate()
            .map(|(i, serials)| observe(serials, &format!("2026-01-02T10:{i:02}:00Z"))),
    );
    let job = h
        .capture("application/ld+json", &doc(&events.join(", ")))
        .await;
    assert_eq!(job["success"], true, "{job}");
    let all = h.ledger.events_after(0, 1_000).unwrap();
    assert_eq!(all.len(), 13);
    let epc = |s: &str| format!("urn:epc:id:sgtin:0614141.007346.{s}");
    for wanted in [
        vec!["A"],
        vec!["B"],
        vec!["A", "B"],
        vec!["A", "C", "E"],
        vec!["B", "D", "A", "B"],
        vec!["Z"],
    ] {
        let wanted: Vec<String> = wanted.iter().map(|s| epc(s)).collect();
        let normalised: Vec<String> = wanted.iter().map(|w| epc::normalize(w)).collect();
        let scanned: Vec<u64> = all
            .iter()
            .filter(|stored| {
                epc::event_ids(&stored.event)
                    .iter()
                    .any(|(_, id)| normalised.contains(&epc::normalize(id)))
            })
            .map(|stored| stored.seq)
            .collect();
        for parameter in ["MATCH_anyEPC", "MATCH_epc"] {
            let q = events_query(vec![(parameter.to_string(), wanted.join("|"))]);
            assert_index_finds(
                &h,
                &q,
                wanted.len(),
                (&scanned, &scanned),
                &format!("{parameter} {wanted:?}"),
            );
        }
    }
    // An EPC that only appears as an EPC class is not in the index.
    let q = events_query(vec![(
        "MATCH_anyEPC".into(),
        "urn:epc:class:lgtin:0614141.007346.LOT1".into(),
    )]);
    assert!(
        query::run_query(h.ledger.as_ref(), &q)
            .unwrap()
            .0
            .is_empty()
    );
}

/// The `GET /events` query with these parameters.
fn events_query(parameters: Vec<(String, String)>) -> query::EventQuery {
    query::EventQuery::from_pairs(parameters, &[], "/events").expect("valid query")
}

/// Reads `q`'s candidates with every batch size from 1 up, checking each answer's size
/// against an index read of `values` values per call, and checks that the candidates are
/// `candidates` and the query's first page is `matches`.
fn assert_index_finds(
    h: &Harness,
    q: &query::EventQuery,
    values: usize,
    (candidates, matches): (&[u64], &[u64]),
    what: &str,
) {
    for batch in [1, 2, 3, 1_000] {
        let reader = query::Candidates::new(h.ledger.as_ref(), q, batch);
        let mut read = Vec::new();
        let mut after = 0;
        loop {
            let next = reader.after(after).unwrap();
            let Some(last) = next.last() else { break };
            assert!(next.len() <= batch * values, "{what}: read past the index");
            after = last.seq;
            read.extend(next.iter().map(|stored| stored.seq));
        }
        assert_eq!(read, candidates, "{what}, batch {batch}");
    }
    let (page, _) = query::run_query(h.ledger.as_ref(), q).expect("query runs");
    let seqs: Vec<u64> = page.iter().map(|stored| stored.seq).collect();
    assert_eq!(seqs, matches, "{what}");
}

/// Queries on a location, business step or disposition read the field index, and find exactly
/// what reading every event finds; the browse lists read the same index.
#[tokio::test]
async fn api_field_queries_read_the_index_and_find_what_a_scan_finds() {
    let h = harness();
    let sgln = |location: &str| format!("urn:epc:id:sgln:0614141.00000.{location}");
    // (bizStep, disposition, readPoint, bizLocation) per event; `-` leaves the field out.
    let shapes = [
        ("receiving", "in_progress", "D1", "W"),
        ("storing", "active", "D2", "W"),
        ("urn:epcglobal:cbv:bizstep:receiving", "active", "D1", "-"),
        ("picking", "-", "D3", "W"),
        (
            "https://ref.gs1.org/cbv/BizStep-storing",
            "in_progress",
            "-",
            "X",
        ),
        ("urn:acme:bizstep:relabel", "urn:acme:disp:held", "D1", "X"),
        ("receiving", "active", "D2", "W"),
    ];
    let serials: Vec<String> = (0..shapes.len()).map(|i| format!("V{i}")).collect();
    let serials: Vec<&str> = serials.iter().map(String::as_str).collect();
    let commissioned = commission(&serials, "L1", "2026-01-02T09:00:00Z");
    let events: Vec<String> = shapes
        .iter()
        .enumerate()
        .map(|(i, (step, disposition, read_point, location))| {
            let mut fields = format!(r#""bizStep": "{step}""#);
            if *disposition != "-" {
                fields += &format!(r#", "disposition": "{disposition}""#);
            }
            if *read_point != "-" {
                fields += &format!(r#", "readPoint": {{"id": "{}"}}"#, sgln(read_point));
            }
            if *location != "-" {
                fields += &format!(r#", "bizLocation": {{"id": "{}"}}"#, sgln(location));
            }
            format!(
                r#"{{"type": "ObjectEvent", "eventTime": "2026-01-02T10:{i:02}:00Z", "eventTimeZoneOffset": "+00:00",
                  "epcList": [{}], "action": "OBSERVE", {fields}}}"#,
                sgtin_list(&[&format!("V{i}")])
            )
        })
        .collect();
    let body = doc(&format!("{commissioned}, {}", events.join(", ")));
    let job = h.capture("application/ld+json", &body).await;
    assert_eq!(job["success"], true, "{job}");
    let all = h.ledger.events_after(0, 1_000).unwrap();
    assert_eq!(all.len(), 1 + shapes.len());

    let cases: [(&str, Vec<String>, EventField); 8] = [
        ("EQ_bizLocation", vec![sgln("W")], EventField::BizLocation),
        (
            "EQ_bizLocation",
            vec![sgln("X"), sgln("W")],
            EventField::BizLocation,
        ),
        ("EQ_readPoint", vec![sgln("D1")], EventField::ReadPoint),
        (
            "EQ_readPoint",
            vec![sgln("D3"), sgln("D9")],
            EventField::ReadPoint,
        ),
        ("EQ_bizStep", vec!["receiving".into()], EventField::BizStep),
        (
            "EQ_bizStep",
            vec![
                "https://ref.gs1.org/cbv/BizStep-storing".into(),
                "urn:acme:bizstep:relabel".into(),
            ],
            EventField::BizStep,
        ),
        (
            "EQ_disposition",
            vec!["urn:epcglobal:cbv:disp:in_progress".into()],
            EventField::Disposition,
        ),
        (
            "EQ_disposition",
            vec!["urn:acme:disp:held".into(), "active".into()],
            EventField::Disposition,
        ),
    ];
    for (parameter, wanted, field) in cases {
        let keys: Vec<String> = wanted.iter().map(|w| field.key(w)).collect();
        let scanned: Vec<u64> = all
            .iter()
            .filter(|stored| {
                field
                    .value(&stored.event)
                    .is_some_and(|v| keys.contains(&v))
            })
            .map(|stored| stored.seq)
            .collect();
        assert!(
            !scanned.is_empty(),
            "{parameter} {wanted:?} matches something"
        );
        let q = events_query(vec![(parameter.to_string(), wanted.join("|"))]);
        assert_index_finds(
            &h,
            &q,
            wanted.len(),
            (&scanned, &scanned),
            &format!("{parameter} {wanted:?}"),
        );
    }
    // With two indexed parameters, the location is read and the step filters.
    let q = events_query(vec![
        ("EQ_bizStep".into(), "receiving".into()),
        ("EQ_bizLocation".into(), sgln("W")),
    ]);
    assert_index_finds(&h, &q, 1, (&[2, 3, 5, 8], &[2, 8]), "receiving at W");

    // The browse lists: every distinct value once, sorted, paged.
    let members = |reply: &Reply| -> Vec<String> {
        reply.json()["member"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        members(&h.get("/bizSteps").await),
        [
            "commissioning",
            "picking",
            "receiving",
            "storing",
            "urn:acme:bizstep:relabel"
        ]
    );
    assert_eq!(
        members(&h.get("/dispositions").await),
        ["active", "in_progress", "urn:acme:disp:held"]
    );
    // D1, D2, D3 and the commissioning line's read point.
    let first = h.get("/readPoints?perPage=3").await;
    assert_eq!(members(&first).len(), 3);
    let link = first.headers["link"].to_str().unwrap().to_string();
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let second = h.get(&next).await;
    assert_eq!(members(&second).len(), 1);
    assert!(second.headers.get("link").is_none());
    assert_eq!(members(&h.get("/bizLocations").await).len(), 2);
    assert_eq!(h.get("/bizSteps/storing").await.status, StatusCode::OK);
    assert_eq!(
        h.get("/bizSteps/shipping").await.status,
        StatusCode::NOT_FOUND
    );
    let d9 = util::encode_component(&sgln("D9"));
    assert_eq!(
        h.get(&format!("/readPoints/{d9}")).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Unless the operator allows it, a subscription may not send the node's requests to
/// loopback, private or link-local addresses (server-side request forgery).
#[tokio::test]
async fn api_webhooks_to_internal_addresses_are_refused_by_default() {
    let h = harness();
    create_shipments_query(&h).await;
    for dest in [
        "http://127.0.0.1:9/x",
        "http://[::1]:9/x",
        "http://localhost:9/x",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.7/x",
        "http://[::ffff:192.168.0.1]/x",
    ] {
        let body = format!(r#"{{"dest": "{dest}", "stream": true}}"#);
        let reply = post_as(&h, MFG_WRITE, "/queries/shipments/subscriptions", &body).await;
        assert_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            "SubscriptionControlsException",
            "",
        );
        let problem = reply.json();
        assert_eq!(problem["field"], "dest", "{dest}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("webhook_private_destinations"),
            "{problem}"
        );
    }
    let reply = post_as(
        &h,
        MFG_WRITE,
        "/queries/shipments/subscriptions",
        r#"{"dest": "http://192.0.2.10:9/x", "stream": true}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let location = reply.headers["location"].to_str().unwrap().to_string();
    let deleted = h
        .call("DELETE", &location, Some(MFG_WRITE), &[], Body::empty())
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.text);
}
