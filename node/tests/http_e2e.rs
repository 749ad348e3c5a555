//! The HTTP API end to end on a real network (issue #5): three voters and the regulator's
//! learner, each a full node in this process — libp2p on 127.0.0.1, Raft, RocksDB in a
//! temporary directory, the ledger and the axum API served on its own 127.0.0.1 port — and
//! every request sent over TCP as raw HTTP/1.1 (so malformed requests are possible).
//!
//! `cluster.rs` covers the ledger's replication through `LedgerHandle`; this file covers what
//! only the HTTP path shows: capture on a follower (forwarding) visible on every node through
//! `GET /events`, capture order kept, the learner's 403s, a forged client signature rejected
//! with the same receipt everywhere, 4xx answers with a clear message for malformed bodies,
//! oversize requests, bad tokens and bad query parameters, and every node at the same block
//! hash and state hash. Every wait polls with a deadline; the nodes are shut down at the end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use libp2p::{Multiaddr, PeerId};
use pedigree_chaincode::governance::{GlnSpec, KeySpec};
use pedigree_chaincode::ident::check_digit;
use pedigree_chaincode::records::GovernanceConfig;
use pedigree_chaincode::{Genesis, OrgSpec, Role, TxBody, TxEnvelope};
use pedigree_consensus::Role as RaftRole;
use pedigree_node::api::{self, ApiConfig};
use pedigree_node::config::{Role as TokenRole, TokenGrant};
use pedigree_node::keys::{key_id, libp2p_keypair};
use pedigree_node::ledger::{self, LedgerConfig, LedgerHandle, LedgerTuning, Signer};
use pedigree_node::net::{self, AllowList, NetworkConfig, NetworkLimits};
use pedigree_node::shutdown::ShutdownController;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// The longest any single wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(30);
const GENESIS_TIME_MS: u64 = 1_767_225_600_000;
/// Orgs in genesis order (sorted by id); `reg` (regulator) runs the learner.
const ORGS: [(&str, Role, &str); 4] = [
    ("dist", Role::Distributor, "0888881"),
    ("mfg", Role::Manufacturer, "0614141"),
    ("pharm", Role::Dispenser, "0999991"),
    ("reg", Role::Regulator, "0555551"),
];
const LEARNER: usize = 3;
const MFG: usize = 1;
const UNIT_GTIN: &str = "00614141073467";
const CASE_GTIN: &str = "10614141073464";
/// The API's body limit in these nodes (the production default is 64 MiB; the code path
/// is the same).
const BODY_MAX: usize = 256 * 1024;
/// Events per capture in these nodes.
const CAPTURE_EVENTS_MAX: usize = 50;

fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body).unwrap())
}

fn gln(index: usize) -> String {
    with_check(&format!("{}00000", ORGS[index].2))
}

fn node_key(index: usize) -> SigningKey {
    SigningKey::from_bytes(&[140 + index as u8; 32])
}

fn org_key(index: usize) -> SigningKey {
    SigningKey::from_bytes(&[40 + index as u8; 32])
}

fn org_key_id(index: usize) -> String {
    key_id(&org_key(index).verifying_key())
}

fn peer_id(index: usize) -> PeerId {
    libp2p_keypair(&node_key(index)).public().to_peer_id()
}

fn token(index: usize) -> String {
    format!("token-{}-0123456789abcdef", ORGS[index].0)
}

/// The manufacturer's integrator's write token, valid on every node.
fn partner_token() -> String {
    format!("partner-{}-0123456789abcdef", ORGS[MFG].0)
}

fn genesis() -> Genesis {
    let orgs = ORGS
        .iter()
        .enumerate()
        .map(|(index, (id, role, prefix))| OrgSpec {
            id: (*id).to_string(),
            name: format!("{id} inc."),
            roles: vec![*role],
            keys: vec![KeySpec {
                id: org_key_id(index),
                public_key: org_key(index).verifying_key().to_bytes(),
            }],
            company_prefixes: vec![(*prefix).to_string()],
            glns: vec![GlnSpec {
                gln: gln(index),
                name: format!("{id} HQ"),
            }],
            nodes: vec![peer_id(index).to_string()],
        })
        .collect();
    let genesis = Genesis {
        network_name: "http-e2e".into(),
        genesis_time_ms: GENESIS_TIME_MS,
        governance: GovernanceConfig {
            quorum_numerator: 1,
            quorum_denominator: 2,
        },
        orgs,
        delegations: Vec::new(),
    };
    genesis.validate().expect("valid genesis");
    genesis
}

struct Node {
    index: usize,
    url: String,
    handle: LedgerHandle,
    controller: ShutdownController,
    address: Multiaddr,
    join: JoinHandle<()>,
    api: JoinHandle<std::io::Result<()>>,
}

struct Network {
    genesis: Genesis,
    _directory: tempfile::TempDir,
    nodes: Vec<Node>,
}

fn tuning() -> LedgerTuning {
    LedgerTuning {
        tick_interval: Duration::from_millis(50),
        election_ticks: 10,
        heartbeat_ticks: 2,
        compact_entries: 10_000,
        submit_timeout: Duration::from_secs(20),
        resend_interval: Duration::from_millis(500),
        sync_writes: false,
        compaction_keeps_lag_max: pedigree_consensus::COMPACTION_KEEPS_LAG_MAX,
        disk_free_min_bytes: pedigree_node::ledger::DISK_FREE_MIN_BYTES_DEFAULT,
    }
}

async fn start_node(genesis: &Genesis, directory: &std::path::Path, index: usize) -> Node {
    let controller = ShutdownController::new();
    let allow_list = AllowList::new((0..ORGS.len()).map(peer_id));
    let limits = NetworkLimits {
        dial_backoff_min: Duration::from_millis(50),
        dial_backoff_max: Duration::from_millis(400),
        dial_check_interval: Duration::from_millis(20),
        request_timeout: Duration::from_secs(5),
        ..NetworkLimits::default()
    };
    let network_config = NetworkConfig {
        keypair: libp2p_keypair(&node_key(index)),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        peers: Vec::new(),
        allow_list: allow_list.clone(),
        limits,
    };
    let (network, inbound, _join) =
        net::spawn(network_config, controller.listener()).expect("network starts");
    let mut status = network.status();
    let address = tokio::time::timeout(
        WAIT,
        status.wait_for(|status| !status.listen_addresses.is_empty()),
    )
    .await
    .expect("listening in time")
    .expect("network alive")
    .listen_addresses[0]
        .clone();
    let config = LedgerConfig {
        genesis: genesis.clone(),
        data_dir: directory.join(ORGS[index].0),
        local_peer_id: peer_id(index),
        signer: Some(Signer {
            org: ORGS[index].0.to_string(),
            key_id: org_key_id(index),
            key: org_key(index),
        }),
        tuning: tuning(),
    };
    let (handle, join) = ledger::start(config, network, inbound, allow_list, controller.listener())
        .expect("ledger starts");
    let mut tokens = BTreeMap::new();
    tokens.insert(
        token(index),
        TokenGrant {
            org: ORGS[index].0.to_string(),
            role: TokenRole::Admin,
        },
    );
    // The manufacturer's integrator also holds a write token on every node, so it can submit
    // the transactions it signs itself through any of them (a token submits only its own
    // org's signed transactions).
    tokens.insert(
        partner_token(),
        TokenGrant {
            org: ORGS[MFG].0.to_string(),
            role: TokenRole::Write,
        },
    );
    let mut api_config = ApiConfig::new(tokens);
    api_config.responder_gln = Some(gln(index));
    api_config.body_max = BODY_MAX;
    api_config.capture_events_max = CAPTURE_EVENTS_MAX;
    let router = api::router(Arc::new(handle.clone()), api_config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("{}", listener.local_addr().unwrap());
    let mut api_shutdown = controller.listener();
    let api = tokio::spawn(api::serve(listener, router, async move {
        api_shutdown.recv().await;
    }));
    Node {
        index,
        url,
        handle,
        controller,
        address,
        join,
        api,
    }
}

impl Network {
    async fn start() -> Network {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let genesis = genesis();
        let directory = tempfile::tempdir().unwrap();
        let mut nodes = Vec::new();
        for index in 0..ORGS.len() {
            nodes.push(start_node(&genesis, directory.path(), index).await);
        }
        for node in &nodes {
            for other in &nodes {
                if node.index != other.index {
                    node.handle
                        .network()
                        .add_peer_address(peer_id(other.index), other.address.clone())
                        .unwrap();
                }
            }
        }
        Network {
            genesis,
            _directory: directory,
            nodes,
        }
    }

    /// Waits until the nodes agree on one leader; returns its index.
    async fn leader(&self) -> usize {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let leaders: Vec<usize> = self
                .nodes
                .iter()
                .filter(|node| node.handle.status().role == RaftRole::Leader)
                .map(|node| node.index)
                .collect();
            if let [leader] = *leaders.as_slice()
                && self
                    .nodes
                    .iter()
                    .all(|node| node.handle.status().leader_id == Some(leader as u64 + 1))
            {
                return leader;
            }
            assert!(tokio::time::Instant::now() < deadline, "no leader in time");
            let mut watch = self.nodes[0].handle.status_watch();
            let _ = tokio::time::timeout(Duration::from_millis(100), watch.changed()).await;
        }
    }

    async fn shutdown(self) {
        for node in self.nodes {
            let Node {
                handle,
                controller,
                join,
                api,
                ..
            } = node;
            drop(handle);
            tokio::time::timeout(WAIT, controller.shutdown())
                .await
                .expect("node stops in time");
            tokio::time::timeout(WAIT, join)
                .await
                .expect("event loop ends")
                .unwrap();
            tokio::time::timeout(WAIT, api)
                .await
                .expect("API stops")
                .unwrap()
                .expect("API served without error");
        }
    }
}

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): HTTP {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The RFC 7807 problem of an error answer, checked for its shape.
    fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert!(
            self.header("content-type")
                .is_some_and(|t| t.starts_with("application/problem+json")),
            "{:?}",
            self.headers
        );
        let problem = self.json();
        assert_eq!(problem["status"], status, "{problem}");
        assert!(
            problem["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("epcisException:")),
            "{problem}"
        );
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{problem}"
        );
        problem
    }
}

/// Sends one raw HTTP/1.1 request (`Connection: close`) and reads the whole answer.
async fn http(
    address: &str,
    method: &str,
    target: &str,
    token: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> Answer {
    let mut request = head(address, method, target, token);
    if let Some((content_type, bytes)) = body {
        request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    }
    request.push_str("\r\n");
    let mut request = request.into_bytes();
    if let Some((_, bytes)) = body {
        request.extend_from_slice(bytes);
    }
    exchange(address, &format!("{method} {target}"), &request).await
}

fn head(address: &str, method: &str, target: &str, token: Option<&str>) -> String {
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head
}

/// Writes `request`, reads until the server closes, parses the answer.
async fn exchange(address: &str, what: &str, request: &[u8]) -> Answer {
    let io = async {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream.write_all(request).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(WAIT, io)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in {WAIT:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    parse_answer(&raw).unwrap_or_else(|| {
        panic!(
            "{what}: unparsable answer {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut decoded = Vec::new();
        let mut rest = body.as_slice();
        loop {
            let end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&rest[..end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[end + 2..];
            if size == 0 {
                break;
            }
            decoded.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
        body = decoded;
    }
    Some(Answer {
        status,
        headers,
        body,
    })
}

impl Network {
    fn url(&self, index: usize) -> &str {
        &self.nodes[index].url
    }

    async fn get(&self, index: usize, target: &str) -> Answer {
        http(self.url(index), "GET", target, Some(&token(index)), None).await
    }

    async fn post(&self, index: usize, target: &str, content_type: &str, body: &[u8]) -> Answer {
        http(
            self.url(index),
            "POST",
            target,
            Some(&token(index)),
            Some((content_type, body)),
        )
        .await
    }

    /// Posts a capture on node `index` with that node's own org's token and follows the job.
    async fn capture(&self, index: usize, content_type: &str, body: &[u8]) -> Value {
        self.capture_with(index, &token(index), content_type, body)
            .await
    }

    /// Posts the manufacturer's own signed transactions on node `index` with its partner
    /// token and follows the job.
    async fn capture_signed(&self, index: usize, body: &[u8]) -> Value {
        let content_type = "application/vnd.pedigree.signed-txs+json";
        self.capture_with(index, &partner_token(), content_type, body)
            .await
    }

    /// Posts a capture on node `index` with `token` and follows the job to its end.
    async fn capture_with(
        &self,
        index: usize,
        token: &str,
        content_type: &str,
        body: &[u8],
    ) -> Value {
        let accepted = http(
            self.url(index),
            "POST",
            "/capture",
            Some(token),
            Some((content_type, body)),
        )
        .await;
        assert_eq!(
            accepted.status,
            202,
            "{}",
            String::from_utf8_lossy(&accepted.body)
        );
        let location = accepted
            .header("location")
            .expect("Location of the capture job")
            .to_string();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let job = http(self.url(index), "GET", &location, Some(token), None).await;
            assert_eq!(job.status, 200, "{}", String::from_utf8_lossy(&job.body));
            let job = job.json();
            if job["running"] == false {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "capture job still running: {job}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls `GET target` on node `index` until `check` accepts the JSON answer.
    async fn wait_get(&self, index: usize, target: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let answer = self.get(index, target).await;
            let value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            if answer.status == 200 && check(&value) {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {index} GET {target}: HTTP {} {value}",
                answer.status
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn dl_unit(serial: &str) -> String {
    format!("https://id.gs1.org/01/{UNIT_GTIN}/21/{serial}")
}

fn dl_case(serial: &str) -> String {
    format!("https://id.gs1.org/01/{CASE_GTIN}/21/{serial}")
}

fn event_base(kind: &str, second: u32, biz_step: &str, location_gln: &str) -> Value {
    json!({
        "type": kind,
        "eventTime": format!("2026-03-01T10:00:{second:02}Z"),
        "eventTimeZoneOffset": "+00:00",
        "bizStep": biz_step,
        "readPoint": {"id": format!("https://id.gs1.org/414/{location_gln}")},
        "bizLocation": {"id": format!("https://id.gs1.org/414/{location_gln}")},
    })
}

fn commissioning(gtin_uri: Vec<String>, lot: &str, second: u32) -> Value {
    let mut event = event_base("ObjectEvent", second, "commissioning", &gln(MFG));
    event["epcList"] = json!(gtin_uri);
    event["action"] = json!("ADD");
    event["disposition"] = json!("active");
    event["ilmd"] = json!({"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": "2028-12-31"});
    event
}

fn document(events: Vec<Value>) -> Vec<u8> {
    json!({
        "@context": [
            "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
            {"cbvmda": "urn:epcglobal:cbv:mda:"}
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T10:00:00Z",
        "epcisBody": {"eventList": events}
    })
    .to_string()
    .into_bytes()
}

/// Commissioning of units and a case, packing, shipping to `dist`: each event depends on
/// the previous ones, so any reordering on the way to the block gets a rejection.
fn supply_chain_document(prefix: &str) -> (Vec<u8>, Vec<String>, String) {
    let units: Vec<String> = (1..=4).map(|i| dl_unit(&format!("{prefix}U{i}"))).collect();
    let case = dl_case(&format!("{prefix}C1"));
    let lot = format!("{prefix}LOT");
    let mut pack = event_base("AggregationEvent", 3, "packing", &gln(MFG));
    pack["parentID"] = json!(case);
    pack["childEPCs"] = json!(units);
    pack["action"] = json!("ADD");
    let mut ship = event_base("ObjectEvent", 4, "shipping", &gln(MFG));
    ship["epcList"] = json!([case]);
    ship["action"] = json!("OBSERVE");
    ship["disposition"] = json!("in_transit");
    ship["sourceList"] = json!([
        {"type": "owning_party", "source": format!("https://id.gs1.org/417/{}", gln(MFG))}
    ]);
    ship["destinationList"] = json!([
        {"type": "owning_party", "destination": format!("https://id.gs1.org/417/{}", gln(0))},
        {"type": "location", "destination": format!("https://id.gs1.org/414/{}", gln(0))}
    ]);
    let events = vec![
        commissioning(units[..2].to_vec(), &lot, 1),
        commissioning(units[2..].to_vec(), &lot, 1),
        commissioning(vec![case.clone()], &lot, 2),
        pack,
        ship,
    ];
    (document(events), units, case)
}

fn assert_all_accepted(job: &Value, count: usize) {
    assert_eq!(job["success"], true, "{job}");
    assert_eq!(job["eventCount"], count, "{job}");
    let results = job["results"].as_array().expect("results");
    assert_eq!(results.len(), count, "{job}");
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["eventIndex"], i, "{job}");
        assert_eq!(result["outcome"], "Applied", "{job}");
    }
}

/// The events `GET /events?MATCH_anyEPC=…` returns.
fn event_list(answer: &Value) -> Vec<Value> {
    answer["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_on_three_voters_and_a_learner() {
    let network = Network::start().await;
    let leader = network.leader().await;
    assert_ne!(leader, LEARNER);
    let follower = (0..LEARNER).find(|i| *i != leader).unwrap();

    // Capture of five dependent events in one request, twice: as an EPCIS document the
    // manufacturer's node signs, and as transactions the manufacturer signed itself,
    // submitted to a follower that is not necessarily its node (forwarded to the leader).
    // Every event is applied, in order, and visible on every node (the learner included)
    // through GET /events.
    let (body, units, case) = supply_chain_document("F");
    let job = network.capture(MFG, "application/ld+json", &body).await;
    assert_all_accepted(&job, 5);
    let (signed_body, _, signed_case) = supply_chain_document("S");
    let signed_events =
        pedigree_epcis::json::parse_document(std::str::from_utf8(&signed_body).unwrap())
            .expect("the document parses")
            .events;
    let key = org_key(MFG);
    let signed: Vec<String> = signed_events
        .into_iter()
        .enumerate()
        .map(|(nonce, event)| {
            let tx = TxEnvelope {
                network_id: network.genesis.network_id(),
                signer_org: "mfg".into(),
                key_id: org_key_id(MFG),
                public_key: key.verifying_key().to_bytes(),
                nonce: 100 + nonce as u64,
                body: TxBody::Epcis(Box::new(event)),
            }
            .sign(&key);
            hex::encode(tx.to_bytes())
        })
        .collect();
    let job = network
        .capture_signed(follower, json!(signed).to_string().as_bytes())
        .await;
    assert_all_accepted(&job, 5);
    // The case is named by its commissioning, its packing (parentID) and its shipping.
    for case in [&case, &signed_case] {
        let query = format!("/events?MATCH_anyEPC={case}&orderBy=eventTime&orderDirection=ASC");
        for index in 0..ORGS.len() {
            let answer = network
                .wait_get(index, &query, |v| event_list(v).len() == 3)
                .await;
            let steps: Vec<String> = event_list(&answer)
                .iter()
                .map(|e| e["bizStep"].as_str().unwrap_or("").to_string())
                .collect();
            assert_eq!(
                steps,
                ["commissioning", "packing", "shipping"],
                "node {index}: {answer}"
            );
        }
    }

    // The learner refuses every write with 403 and says why.
    for (target, content_type, body) in [
        ("/capture", "application/ld+json", body.clone()),
        (
            "/events",
            "application/ld+json",
            document(vec![commissioning(vec![dl_unit("L1")], "LL", 1)]),
        ),
        (
            "/recall",
            "application/json",
            json!({"gtin": UNIT_GTIN, "lot": "FLOT", "reason": "no"})
                .to_string()
                .into_bytes(),
        ),
    ] {
        let answer = network.post(LEARNER, target, content_type, &body).await;
        let problem = answer.problem(403);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("read-only"),
            "{target}: {problem}"
        );
    }

    // A client-signed transaction with a forged signature: committed as rejected, with the
    // same receipt on every node.
    let key = org_key(MFG);
    let mut forged = TxEnvelope {
        network_id: network.genesis.network_id(),
        signer_org: "mfg".into(),
        key_id: org_key_id(MFG),
        public_key: key.verifying_key().to_bytes(),
        nonce: 7,
        body: TxBody::Recall {
            gtin: UNIT_GTIN.into(),
            lot: "FORGED".into(),
            reason: "forged".into(),
        },
    }
    .sign(&key);
    let mut signature = forged.signature.to_bytes();
    signature[0] ^= 1;
    forged.signature = ed25519_dalek::Signature::from_bytes(&signature);
    let forged_tx = hex::encode(forged.tx_id());
    let body = json!([hex::encode(forged.to_bytes())]).to_string();
    let job = network.capture_signed(follower, body.as_bytes()).await;
    assert_eq!(job["success"], false, "{job}");
    assert_eq!(job["results"][0]["txId"], forged_tx.as_str(), "{job}");
    assert_eq!(job["results"][0]["accepted"], false, "{job}");
    assert_eq!(job["results"][0]["outcome"], "BadSignature", "{job}");
    let mut receipts = Vec::new();
    for index in 0..ORGS.len() {
        let receipt = network
            .wait_get(index, &format!("/receipts/{forged_tx}"), |v| {
                v["txId"] == forged_tx.as_str()
            })
            .await;
        assert!(
            receipt["message"]
                .as_str()
                .is_some_and(|m| m.to_lowercase().contains("signature")),
            "{receipt}"
        );
        receipts.push(receipt);
    }
    assert!(receipts.iter().all(|r| *r == receipts[0]), "{receipts:?}");
    // The lot the forged recall named is not recalled anywhere.
    let scope = network
        .get(LEARNER, &format!("/recall/{UNIT_GTIN}/FORGED"))
        .await;
    assert_eq!(scope.status, 200);
    assert!(
        scope.json()["scope"]["recall"].is_null(),
        "{:?}",
        scope.json()
    );

    // Malformed requests: 4xx problem documents that say what is wrong.
    let bad_json = network
        .post(
            MFG,
            "/capture",
            "application/ld+json",
            b"{\"type\": \"EPCISDocument\",\n  oops",
        )
        .await
        .problem(400);
    assert!(bad_json["line"].as_u64() == Some(2), "{bad_json}");
    let no_type = network
        .post(MFG, "/capture", "text/plain", b"hello")
        .await
        .problem(415);
    assert!(
        no_type["detail"].as_str().unwrap().contains("text/plain"),
        "{no_type}"
    );
    let not_hex = network
        .post(
            MFG,
            "/capture",
            "application/vnd.pedigree.signed-txs+json",
            b"[\"zz\"]",
        )
        .await
        .problem(400);
    assert!(
        not_hex["detail"].as_str().unwrap().contains("[0]"),
        "{not_hex}"
    );
    let invalid_event = network
        .post(
            MFG,
            "/capture",
            "application/ld+json",
            &document(vec![json!({"type": "ObjectEvent", "action": "ADD"})]),
        )
        .await
        .problem(400);
    assert!(
        invalid_event["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was captured"),
        "{invalid_event}"
    );
    // An oversize body is refused from its Content-Length, before it is sent (so the
    // server never has unread bytes when it closes).
    let mut request = head(network.url(MFG), "POST", "/capture", Some(&token(MFG)));
    request.push_str(&format!(
        "Content-Type: application/ld+json\r\nContent-Length: {}\r\n\r\n",
        BODY_MAX + 1
    ));
    let too_big = exchange(network.url(MFG), "oversize capture", request.as_bytes())
        .await
        .problem(413);
    assert!(
        too_big["detail"]
            .as_str()
            .unwrap()
            .contains(&BODY_MAX.to_string()),
        "{too_big}"
    );
    let many: Vec<Value> = (0..=CAPTURE_EVENTS_MAX)
        .map(|i| commissioning(vec![dl_unit(&format!("M{i}"))], "MANY", 1))
        .collect();
    let too_many = network
        .post(MFG, "/capture", "application/ld+json", &document(many))
        .await
        .problem(413);
    assert_eq!(
        too_many["type"],
        "epcisException:CaptureLimitExceededException"
    );
    let bad_recall = network
        .post(MFG, "/recall", "application/json", b"{\"gtin\": 5}")
        .await;
    assert!(
        (400..500).contains(&bad_recall.status),
        "{}",
        String::from_utf8_lossy(&bad_recall.body)
    );

    // Tokens.
    let no_token = http(network.url(MFG), "GET", "/status", None, None).await;
    no_token.problem(401);
    let wrong_token = http(
        network.url(MFG),
        "GET",
        "/status",
        Some("not-a-token"),
        None,
    )
    .await;
    wrong_token.problem(401);
    let other_node = http(network.url(MFG), "GET", "/status", Some(&token(0)), None).await;
    other_node.problem(401);

    // Bad query parameters and path segments: 400 naming the parameter.
    for (target, named) in [
        ("/events?colour=blue", "colour"),
        ("/events?perPage=zero", "perPage"),
        ("/events?GE_eventTime=yesterday", "GE_eventTime"),
        ("/events?orderBy=size", "orderBy"),
        ("/events?nextPageToken=zz", "nextPageToken"),
    ] {
        let problem = network.get(LEARNER, target).await.problem(400);
        assert!(problem.to_string().contains(named), "{target}: {problem}");
    }
    let bad_gtin = network
        .get(LEARNER, "/verify/gtin/123/lot/L1/ser/S1")
        .await
        .problem(400);
    assert!(bad_gtin.to_string().contains("123"), "{bad_gtin}");
    let bad_epc = network.get(LEARNER, "/trace/not-an-epc").await.problem(400);
    assert!(
        bad_epc["detail"].as_str().unwrap().contains("not-an-epc"),
        "{bad_epc}"
    );
    let bad_height = network.get(LEARNER, "/blocks/tall").await;
    assert!(
        (400..500).contains(&bad_height.status),
        "{}",
        String::from_utf8_lossy(&bad_height.body)
    );
    network.get(LEARNER, "/nowhere").await.problem(404);

    // The verification answers on every node, the learner included.
    for index in 0..ORGS.len() {
        let serial = units[1].rsplit('/').next().unwrap();
        let answer = network
            .wait_get(
                index,
                &format!("/verify/gtin/{UNIT_GTIN}/lot/FLOT/ser/{serial}"),
                |v| v["data"]["verified"].is_boolean(),
            )
            .await;
        assert_eq!(answer["data"]["verified"], true, "node {index}: {answer}");
    }
    let trace = network
        .wait_get(LEARNER, &format!("/trace/{case}"), |v| {
            v["status"] == "InTransit"
        })
        .await;
    assert_eq!(trace["custodian"], "mfg", "{trace}");

    // Every node at the same height holds the same block hash and state hash.
    let latest = network.get(leader, "/blocks/latest").await.json();
    let height = latest["height"].as_u64().expect("a height");
    let mut fingerprints = Vec::new();
    for index in 0..ORGS.len() {
        network
            .wait_get(index, "/status", |v| {
                v["ledger"]["latestHeight"].as_u64() >= Some(height)
            })
            .await;
        let block = network
            .get(index, &format!("/blocks/{height}"))
            .await
            .json();
        fingerprints.push((block["hash"].clone(), block["stateHash"].clone()));
    }
    assert!(fingerprints[0].0.is_string(), "{fingerprints:?}");
    assert!(
        fingerprints.iter().all(|f| *f == fingerprints[0]),
        "{fingerprints:?}"
    );
    assert_eq!(fingerprints[0].0, latest["hash"], "{latest}");

    network.shutdown().await;
}
