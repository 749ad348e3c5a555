//! Governance end to end: the SDK and `pedigree governance` against the node's real HTTP
//! API (`pedigree_node::api`) over its in-memory `DirectLedger` on 127.0.0.1 — HTTP, auth,
//! capture jobs, signature checks and the chaincode's quorum rules as on a node, without
//! consensus; and the SDK against a real node started in-process (`pedigree-node init`'s
//! directory, RocksDB, libp2p, single-voter Raft). Run with
//! `cargo test -p pedigree-client --test governance_direct`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use pedigree_client::events::Commission;
use pedigree_client::genesis::{GlnEntry, OrgDescription, PublicParts, assemble};
use pedigree_client::governance::{self, Approver, GovernanceError, Proposal};
use pedigree_client::{Client, OrgSigner, TxStatus, signer};
use pedigree_node::api::{self, ApiConfig, DirectIdentity, DirectLedger, NodeRole};
use pedigree_node::config::{Role, TokenGrant};

const TOKEN: &str = "mfg-token-0123456789";

/// Each org's write token on the test server: a token may only submit its own org's
/// transactions, so every org that signs gets one.
fn token_of(org: &str) -> String {
    format!("{org}-token-0123456789")
}
const UNIT: &str = "00614141073467";

/// Orgs: id, role, prefix, GLN, key seed. Four orgs at quorum 1/2: three must approve.
const ORGS: [(&str, &str, Option<&str>, &str, u8); 4] = [
    ("mfg", "manufacturer", Some("0614141"), "0614141000005", 1),
    ("cmo", "cmo", Some("0777771"), "0777771000002", 2),
    ("dist", "distributor", Some("0888881"), "0888881000001", 3),
    ("pharm", "dispenser", None, "0555551000004", 4),
];

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

struct Node {
    url: String,
    network_id: [u8; 32],
    genesis_json: String,
    _server: tokio::task::JoinHandle<()>,
}

/// Serves the API of a DirectLedger signing as `mfg`.
async fn start() -> Node {
    let (orgs, publics): (Vec<_>, Vec<_>) = ORGS
        .iter()
        .map(|(id, role, prefix, gln, seed)| {
            let public = key(*seed).verifying_key().to_bytes();
            (
                OrgDescription {
                    id: (*id).into(),
                    name: (*id).into(),
                    roles: vec![(*role).into()],
                    company_prefixes: prefix.iter().map(|p| p.to_string()).collect(),
                    nodes: vec![],
                    keys: vec![],
                    glns: vec![GlnEntry {
                        gln: (*gln).into(),
                        name: (*id).into(),
                    }],
                },
                PublicParts {
                    org: (*id).into(),
                    peer_id: None,
                    signing_public_key: hex::encode(public),
                    signing_key_id: signer::key_id(&public),
                },
            )
        })
        .unzip();
    let document = assemble("gov-e2e", 1_767_225_600_000, orgs, &publics).unwrap();
    let identity = DirectIdentity {
        org_id: "mfg".into(),
        key_id: signer::key_id(&key(1).verifying_key().to_bytes()),
        key: key(1),
        peer_id: "direct".into(),
        role: NodeRole::Voter,
    };
    let ledger = DirectLedger::new(
        &document.genesis,
        identity,
        Arc::new(pedigree_client::clock::unix_millis),
    );
    let mut tokens = BTreeMap::new();
    for (org, ..) in ORGS {
        tokens.insert(
            token_of(org),
            TokenGrant {
                org: org.into(),
                role: Role::Admin,
            },
        );
    }
    let router = api::router(Arc::new(ledger), ApiConfig::new(tokens));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        api::serve(listener, router, std::future::pending())
            .await
            .unwrap();
    });
    Node {
        url,
        network_id: document.network_id,
        genesis_json: document.json,
        _server: server,
    }
}

fn approver(org: &str, seed: u8, network_id: [u8; 32]) -> Approver {
    Approver::new(org, key(seed), network_id).unwrap()
}

/// A CMO commissioning of one unit of `UNIT`, signed by the CMO.
async fn cmo_commissions(client: &Client, network_id: [u8; 32], serial: &str) -> TxStatus {
    let cmo = OrgSigner::new("cmo", key(2), network_id);
    let event = Commission::new(UNIT, "LOT-CMO", "2028-12-31")
        .serial(serial)
        .at("0777771000002")
        .build()
        .unwrap();
    let client = Client::new(client.base_url(), Some(&token_of("cmo"))).unwrap();
    let results = client.submit_events(Some(&cmo), vec![event]).await.unwrap();
    results[0].status.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_delegation_with_quorum_is_accepted_and_without_it_rejected() {
    let node = start().await;
    let client = Client::new(&node.url, Some(TOKEN)).unwrap();
    let network_id = node.network_id;
    let mfg = OrgSigner::new("mfg", key(1), network_id);

    // Before the delegation, the CMO may not commission the manufacturer's GTIN.
    assert_eq!(
        cmo_commissions(&client, network_id, "C0").await,
        TxStatus::Rejected
    );

    // Too few approvals: the submitter and one other org are 2 of the 3 required.
    let action = governance::delegate_gtin("mfg", UNIT, "cmo").unwrap();
    let mut short =
        Proposal::new(network_id, action.clone(), 0, governance::random_nonce()).unwrap();
    governance::approve(&mut short, &approver("cmo", 2, network_id)).unwrap();
    let rejected = governance::submit(&client, &short, &mfg).await.unwrap();
    assert_eq!(rejected.status, TxStatus::Rejected, "{rejected:?}");
    assert_eq!(rejected.outcome, "QuorumNotMet", "{rejected:?}");
    assert_eq!(rejected.code, Some(200), "{rejected:?}");
    assert!(rejected.message.contains("2 of 3"), "{rejected:?}");
    assert_eq!(
        cmo_commissions(&client, network_id, "C1").await,
        TxStatus::Rejected
    );

    // With a third org's approval, collected through the document, it is accepted.
    let mut text = short.to_json();
    let mut proposal = Proposal::from_json(&text).unwrap();
    governance::approve(&mut proposal, &approver("dist", 3, network_id)).unwrap();
    text = proposal.to_json();
    let proposal = Proposal::from_json(&text).unwrap();
    let accepted = governance::submit(&client, &proposal, &mfg).await.unwrap();
    assert_eq!(accepted.status, TxStatus::Accepted, "{accepted:?}");
    assert_eq!(accepted.outcome, "Applied");
    let tx_id = accepted.tx_id.clone().unwrap();
    let receipt = client
        .wait_for_receipt(&tx_id, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(receipt.status, TxStatus::Accepted, "{receipt:?}");
    assert_eq!(
        cmo_commissions(&client, network_id, "C2").await,
        TxStatus::Accepted
    );

    // The same delegation again (new nonce, full quorum): the ledger says it exists.
    let mut again = Proposal::new(network_id, action, 0, governance::random_nonce()).unwrap();
    governance::approve(&mut again, &approver("cmo", 2, network_id)).unwrap();
    governance::approve(&mut again, &approver("pharm", 4, network_id)).unwrap();
    let conflict = governance::submit(&client, &again, &mfg).await.unwrap();
    assert_eq!(conflict.outcome, "GovernanceConflict", "{conflict:?}");

    // A signer on another network is refused before anything is sent.
    let stranger = OrgSigner::new("mfg", key(1), [7; 32]);
    let error = governance::submit(&client, &again, &stranger)
        .await
        .unwrap_err();
    assert!(
        matches!(error, GovernanceError::WrongNetwork { .. }),
        "{error}"
    );
}

/// Runs `pedigree` with the token of the org named by `--org` (default `mfg`).
fn pedigree(url: &str, args: &[&str]) -> Output {
    let org = args
        .iter()
        .position(|arg| *arg == "--org")
        .and_then(|at| args.get(at + 1))
        .copied()
        .unwrap_or("mfg");
    Command::new(env!("CARGO_BIN_EXE_pedigree"))
        .args(["--node", url, "--token", &token_of(org)])
        .args(args)
        .output()
        .expect("run pedigree")
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn write_keys(dir: &Path) {
    for (id, _, _, _, seed) in ORGS {
        signer::write_key_file(&dir.join(format!("{id}.key")), &key(seed), id).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_propose_approve_show_submit() {
    let node = start().await;
    let dir = tempfile::tempdir().unwrap();
    write_keys(dir.path());
    std::fs::write(dir.path().join("genesis.json"), &node.genesis_json).unwrap();
    let url = node.url.clone();
    let d = dir.path().to_path_buf();
    let p = move |name: &str| d.join(name).display().to_string();

    let outputs = tokio::task::spawn_blocking(move || {
        let genesis = p("genesis.json");
        let proposal = p("register-gln.json");
        // The network id from the node's status (no --network-id, no --genesis).
        let propose = pedigree(
            &url,
            &[
                "governance",
                "propose",
                "register-gln",
                "--org",
                "dist",
                "--gln",
                "0888881000018",
                "--name",
                "Warehouse 2",
                "--out",
                &proposal,
            ],
        );
        let approve_cmo = pedigree(
            &url,
            &[
                "governance",
                "approve",
                &proposal,
                "--org",
                "cmo",
                "--key",
                &p("cmo.key"),
                "--genesis",
                &genesis,
            ],
        );
        let show_short = pedigree(
            &url,
            &[
                "governance",
                "show",
                &proposal,
                "--genesis",
                &genesis,
                "--submitter",
                "dist",
                "--status",
            ],
        );
        // Submitted now (dist + cmo = 2 of 3): rejected, exit 3.
        let submit_short = pedigree(
            &url,
            &[
                "governance",
                "submit",
                &proposal,
                "--org",
                "dist",
                "--key",
                &p("dist.key"),
            ],
        );
        // The network id read from the node, offline approval of pharm.
        let approve_pharm = pedigree(
            &url,
            &[
                "governance",
                "approve",
                &proposal,
                "--org",
                "pharm",
                "--key",
                &p("pharm.key"),
            ],
        );
        let show_full = pedigree(
            &url,
            &[
                "--json",
                "governance",
                "show",
                &proposal,
                "--genesis",
                &genesis,
                "--submitter",
                "dist",
            ],
        );
        let submit_full = pedigree(
            &url,
            &[
                "--json",
                "governance",
                "submit",
                &proposal,
                "--org",
                "dist",
                "--key",
                &p("dist.key"),
            ],
        );
        // A proposal for another network: refused by the CLI before the node sees it.
        let foreign = p("foreign.json");
        let other_network = "cd".repeat(32);
        let propose_foreign = pedigree(
            &url,
            &[
                "governance",
                "propose",
                "remove-node",
                "--peer-id",
                "12D3KooWX",
                "--network-id",
                &other_network,
                "--out",
                &foreign,
            ],
        );
        let submit_foreign = pedigree(
            &url,
            &[
                "governance",
                "submit",
                &foreign,
                "--org",
                "mfg",
                "--key",
                &p("mfg.key"),
            ],
        );
        [
            propose,
            approve_cmo,
            show_short,
            submit_short,
            approve_pharm,
            show_full,
            submit_full,
            propose_foreign,
            submit_foreign,
        ]
    })
    .await
    .unwrap();
    let [
        propose,
        approve_cmo,
        show_short,
        submit_short,
        approve_pharm,
        show_full,
        submit_full,
        propose_foreign,
        submit_foreign,
    ] = outputs;
    assert!(propose.status.success(), "{}", text(&propose));
    assert!(
        text(&propose).contains(&hex::encode(node.network_id)),
        "{}",
        text(&propose)
    );
    assert!(approve_cmo.status.success(), "{}", text(&approve_cmo));
    let short = text(&show_short);
    assert!(show_short.status.success(), "{short}");
    assert!(short.contains("2 of 3 required — NOT reached"), "{short}");
    assert!(short.contains("matches the node"), "{short}");
    assert_eq!(
        submit_short.status.code(),
        Some(3),
        "{}",
        text(&submit_short)
    );
    assert!(
        text(&submit_short).contains("QuorumNotMet, 200"),
        "{}",
        text(&submit_short)
    );
    assert!(approve_pharm.status.success(), "{}", text(&approve_pharm));
    let shown: serde_json::Value = serde_json::from_slice(&show_full.stdout).unwrap();
    assert_eq!(shown["quorum"]["reached"], true, "{shown}");
    assert_eq!(shown["action"]["type"], "registerGln", "{shown}");
    assert!(submit_full.status.success(), "{}", text(&submit_full));
    let receipt: serde_json::Value = serde_json::from_slice(&submit_full.stdout).unwrap();
    assert_eq!(receipt["status"], "Accepted", "{receipt}");
    assert_eq!(receipt["outcome"], "Applied", "{receipt}");
    assert!(
        propose_foreign.status.success(),
        "{}",
        text(&propose_foreign)
    );
    assert_eq!(
        submit_foreign.status.code(),
        Some(2),
        "{}",
        text(&submit_foreign)
    );
    assert!(
        text(&submit_foreign).contains("is on network"),
        "{}",
        text(&submit_foreign)
    );

    // The GLN is registered: a second registration is a conflict on the ledger.
    let mut again = Proposal::new(
        node.network_id,
        governance::register_gln("dist", "0888881000018", "Warehouse 2").unwrap(),
        0,
        1,
    )
    .unwrap();
    for (org, seed) in [("cmo", 2), ("pharm", 4)] {
        governance::approve(&mut again, &approver(org, seed, node.network_id)).unwrap();
    }
    let dist = OrgSigner::new("dist", key(3), node.network_id);
    let client = Client::new(&node.url, Some(&token_of("dist"))).unwrap();
    let result = governance::submit(&client, &again, &dist).await.unwrap();
    assert_eq!(result.outcome, "GovernanceConflict", "{result:?}");
}

/// A real node in this process: `pedigree-node init`'s directory, RocksDB, libp2p and a
/// single-voter Raft (genesis: mfg with this node, cmo and dist without nodes; 2 of 3 orgs
/// must approve), serving the HTTP API on 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_node_accepts_a_quorum_and_rejects_too_few_approvals() {
    use pedigree_node::shutdown::ShutdownController;

    let temp = tempfile::tempdir().unwrap();
    let node_dir = temp.path().join("mfg");
    let report = pedigree_node::init::init_node_dir(&node_dir, "mfg").unwrap();
    let mfg_parts: PublicParts =
        serde_json::from_value(serde_json::to_value(&report.public).unwrap()).unwrap();
    let mut orgs = Vec::new();
    let mut publics = vec![mfg_parts];
    for (id, role, prefix, gln, seed) in &ORGS[..3] {
        let public = key(*seed).verifying_key().to_bytes();
        orgs.push(OrgDescription {
            id: (*id).into(),
            name: (*id).into(),
            roles: vec![(*role).into()],
            company_prefixes: prefix.iter().map(|p| p.to_string()).collect(),
            nodes: vec![],
            keys: vec![],
            glns: vec![GlnEntry {
                gln: (*gln).into(),
                name: (*id).into(),
            }],
        });
        if *id != "mfg" {
            publics.push(PublicParts {
                org: (*id).into(),
                peer_id: None,
                signing_public_key: hex::encode(public),
                signing_key_id: signer::key_id(&public),
            });
        }
    }
    let document = assemble("gov-real", 1_767_225_600_000, orgs, &publics).unwrap();
    std::fs::write(node_dir.join("genesis.json"), &document.json).unwrap();
    let config_path = node_dir.join("node.toml");
    let config_text = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace("/ip4/0.0.0.0/tcp/7100", "/ip4/127.0.0.1/tcp/0");
    std::fs::write(&config_path, config_text).unwrap();
    let config = pedigree_node::config::Config::load(&config_path).unwrap();
    let genesis = pedigree_node::run::read_genesis(&config.genesis_path).unwrap();
    let keypair = pedigree_node::keys::read_node_keypair(&config.node_key_path).unwrap();
    let signing_key = pedigree_node::keys::read_key_file(&config.signing_key_path).unwrap();
    let node_signer = pedigree_node::ledger::Signer {
        org: "mfg".into(),
        key_id: pedigree_node::keys::key_id(&signing_key.verifying_key()),
        key: signing_key.clone(),
    };
    let controller = ShutdownController::new();
    let (ledger, _ledger_join) =
        pedigree_node::run::start_node(&config, genesis, keypair, Some(node_signer), &controller)
            .await
            .unwrap();
    let token = config.api_tokens.keys().next().unwrap().clone();
    let router = api::router(Arc::new(ledger), ApiConfig::new(config.api_tokens.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut api_shutdown = controller.listener();
    let server = tokio::spawn(api::serve(listener, router, async move {
        api_shutdown.recv().await;
    }));

    let client = Client::new(&url, Some(&token)).unwrap();
    client
        .wait_for_leader(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let network_id = document.network_id;
    let mfg = OrgSigner::new("mfg", signing_key, network_id);
    let action = governance::register_prefix("mfg", "0614142").unwrap();

    // The submitter alone: 1 of 2.
    let alone = Proposal::new(network_id, action.clone(), 0, governance::random_nonce()).unwrap();
    let rejected = governance::submit(&client, &alone, &mfg).await.unwrap();
    assert_eq!(rejected.status, TxStatus::Rejected, "{rejected:?}");
    assert_eq!(
        (rejected.outcome.as_str(), rejected.code),
        ("QuorumNotMet", Some(200)),
        "{rejected:?}"
    );
    assert!(rejected.height.is_some(), "committed: {rejected:?}");

    // With dist's approval: accepted, and on the ledger as a receipt.
    let mut proposal = Proposal::new(network_id, action, 0, governance::random_nonce()).unwrap();
    governance::approve(&mut proposal, &approver("dist", 3, network_id)).unwrap();
    let accepted = governance::submit(&client, &proposal, &mfg).await.unwrap();
    assert_eq!(accepted.status, TxStatus::Accepted, "{accepted:?}");
    let receipt = client
        .wait_for_receipt(
            accepted.tx_id.as_deref().unwrap(),
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(receipt.outcome, "Applied", "{receipt:?}");

    // The prefix is now mfg's: registering it again conflicts.
    let mut again = Proposal::new(
        network_id,
        governance::register_prefix("mfg", "0614142").unwrap(),
        0,
        governance::random_nonce(),
    )
    .unwrap();
    governance::approve(&mut again, &approver("cmo", 2, network_id)).unwrap();
    let conflict = governance::submit(&client, &again, &mfg).await.unwrap();
    assert_eq!(conflict.outcome, "GovernanceConflict", "{conflict:?}");

    controller.shutdown().await;
    server.await.unwrap().unwrap();
}
