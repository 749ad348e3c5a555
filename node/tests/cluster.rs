//! In-process ledger clusters on 127.0.0.1: three voters and one learner (the regulator), real
//! libp2p, RocksDB in temporary directories. Every wait is on a status change with a bounded
//! timeout; every test shuts its nodes down itself.

use std::path::PathBuf;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use libp2p::{Multiaddr, PeerId};
use pedigree_chaincode::governance::{GlnSpec, KeySpec};
use pedigree_chaincode::ident::check_digit;
use pedigree_chaincode::receipt::Outcome;
use pedigree_chaincode::records::GovernanceConfig;
use pedigree_chaincode::{Approval, GovAction, GovernanceTx, approval_digest};
use pedigree_chaincode::{Genesis, OrgSpec, Role, SignedTx, TxBody, TxEnvelope};
use pedigree_consensus::Role as RaftRole;
use pedigree_node::keys::libp2p_keypair;
use pedigree_node::ledger::handle::SubmitError;
use pedigree_node::ledger::store::SIGNATURE_FAILED_MESSAGE;
use pedigree_node::ledger::{
    self, LedgerConfig, LedgerHandle, LedgerStatus, LedgerTuning, TxResult,
};
use pedigree_node::net::{self, AllowList, NetworkConfig, NetworkLimits};
use pedigree_node::shutdown::ShutdownController;
use tokio::task::JoinHandle;

/// The longest any single wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(30);
const GENESIS_TIME_MS: u64 = 1_767_225_600_000;
/// Orgs in genesis order (sorted by id); the node of org `i` has raft id `i + 1`.
const ORGS: [(&str, Role); 4] = [
    ("dist", Role::Distributor),
    ("mfg", Role::Manufacturer),
    ("pharm", Role::Dispenser),
    ("reg", Role::Regulator),
];
const LEARNER: usize = 3;

fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body).unwrap())
}

fn node_key(index: usize) -> SigningKey {
    SigningKey::from_bytes(&[100 + index as u8; 32])
}

fn org_key(index: usize) -> SigningKey {
    SigningKey::from_bytes(&[10 + index as u8; 32])
}

fn peer_id(index: usize) -> PeerId {
    libp2p_keypair(&node_key(index)).public().to_peer_id()
}

fn genesis() -> Genesis {
    let orgs = ORGS
        .iter()
        .enumerate()
        .map(|(index, (id, role))| OrgSpec {
            id: (*id).to_string(),
            name: format!("{id} inc."),
            roles: vec![*role],
            keys: vec![KeySpec {
                id: "k1".into(),
                public_key: org_key(index).verifying_key().to_bytes(),
            }],
            company_prefixes: vec![format!("06141{index}1")],
            glns: vec![GlnSpec {
                gln: with_check(&format!("06141{index}100000")),
                name: format!("{id} HQ"),
            }],
            nodes: vec![peer_id(index).to_string()],
        })
        .collect();
    let genesis = Genesis {
        network_name: "cluster-test".into(),
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

/// A recall signed by the regulator: always applicable once per lot.
fn recall_tx(genesis: &Genesis, lot: u64) -> SignedTx {
    let key = org_key(LEARNER);
    TxEnvelope {
        network_id: genesis.network_id(),
        signer_org: "reg".into(),
        key_id: "k1".into(),
        public_key: key.verifying_key().to_bytes(),
        nonce: lot,
        body: TxBody::Recall {
            gtin: with_check("0061414107346"),
            lot: format!("L{lot}"),
            reason: "test".into(),
        },
    }
    .sign(&key)
}

struct TestNode {
    index: usize,
    handle: LedgerHandle,
    controller: ShutdownController,
    address: Multiaddr,
    join: JoinHandle<()>,
}

struct Cluster {
    genesis: Genesis,
    directory: tempfile::TempDir,
    tuning: LedgerTuning,
    nodes: Vec<Option<TestNode>>,
}

fn test_tuning(compact_entries: u64) -> LedgerTuning {
    LedgerTuning {
        tick_interval: Duration::from_millis(50),
        election_ticks: 10,
        heartbeat_ticks: 2,
        compact_entries,
        submit_timeout: Duration::from_secs(20),
        resend_interval: Duration::from_millis(500),
        sync_writes: false,
        // These tests compact every few entries to make stopped and joining nodes catch up by
        // snapshot; with the default, the leader would keep their entries and they would catch
        // up by append (consensus/tests/testdata/deferred_compaction_keeps_lagging_entries.txt).
        compaction_keeps_lag_max: 0,
        disk_free_min_bytes: 0,
    }
}

impl Cluster {
    async fn start(compact_entries: u64) -> Cluster {
        init_logging();
        let mut cluster = Cluster {
            genesis: genesis(),
            directory: tempfile::tempdir().unwrap(),
            tuning: test_tuning(compact_entries),
            nodes: Vec::new(),
        };
        for index in 0..ORGS.len() {
            let node = cluster.start_node(index).await;
            cluster.nodes.push(Some(node));
        }
        cluster.connect_all();
        cluster
    }

    fn data_dir(&self, index: usize) -> PathBuf {
        self.directory.path().join(format!("node{index}"))
    }

    async fn start_node(&self, index: usize) -> TestNode {
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
        let status = tokio::time::timeout(
            WAIT,
            status.wait_for(|status| !status.listen_addresses.is_empty()),
        )
        .await
        .expect("listening in time")
        .expect("network alive")
        .clone();
        let config = LedgerConfig {
            genesis: self.genesis.clone(),
            data_dir: self.data_dir(index),
            local_peer_id: peer_id(index),
            signer: None,
            tuning: self.tuning.clone(),
        };
        let (handle, join) =
            ledger::start(config, network, inbound, allow_list, controller.listener())
                .expect("ledger starts");
        TestNode {
            index,
            handle,
            controller,
            address: status.listen_addresses[0].clone(),
            join,
        }
    }

    /// Tells every running node every other running node's address.
    fn connect_all(&self) {
        for node in self.nodes.iter().flatten() {
            for other in self.nodes.iter().flatten() {
                if node.index != other.index {
                    node.handle
                        .network()
                        .add_peer_address(peer_id(other.index), other.address.clone())
                        .unwrap();
                }
            }
        }
    }

    fn node(&self, index: usize) -> &LedgerHandle {
        &self.nodes[index].as_ref().expect("node running").handle
    }

    fn running(&self) -> impl Iterator<Item = &TestNode> {
        self.nodes.iter().flatten()
    }

    /// Waits until the running voters agree on a leader and returns its index.
    async fn leader(&self) -> usize {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let leaders: Vec<usize> = self
                .running()
                .filter(|node| node.handle.status().role == RaftRole::Leader)
                .map(|node| node.index)
                .collect();
            if let [leader] = *leaders.as_slice() {
                let raft_id = self.node(leader).status().raft_id;
                let agreed = self
                    .running()
                    .all(|node| node.handle.status().leader_id == Some(raft_id));
                if agreed {
                    return leader;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "no leader in time");
            // Wake on any status change of the first running node (or after a tick's worth).
            let mut watch = self.running().next().unwrap().handle.status_watch();
            let _ = tokio::time::timeout(Duration::from_millis(100), watch.changed()).await;
        }
    }

    async fn stop(&mut self, index: usize) {
        let node = self.nodes[index].take().expect("node running");
        let TestNode {
            handle,
            controller,
            join,
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
    }

    async fn restart(&mut self, index: usize) {
        assert!(self.nodes[index].is_none());
        let node = self.start_node(index).await;
        self.nodes[index] = Some(node);
        self.connect_all();
    }

    async fn shutdown(mut self) {
        for index in 0..self.nodes.len() {
            if self.nodes[index].is_some() {
                self.stop(index).await;
            }
        }
    }
}

async fn wait_status(
    handle: &LedgerHandle,
    what: &str,
    mut condition: impl FnMut(&LedgerStatus) -> bool,
) -> LedgerStatus {
    let mut watch = handle.status_watch();
    tokio::time::timeout(WAIT, watch.wait_for(|status| condition(status)))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}: {:?}", handle.status()))
        .expect("ledger alive")
        .clone()
}

/// Waits until every running node has applied `height` and checks that they agree on the
/// block hash and state hash there and on each listed transaction's result.
async fn assert_converged(cluster: &Cluster, height: u64, txs: &[&TxResult]) {
    let mut reference: Option<(u64, [u8; 32], [u8; 32])> = None;
    for node in cluster.running() {
        wait_status(&node.handle, "the height", |status| {
            status.head.height >= height
        })
        .await;
        let (block, _) = node.handle.block(height).unwrap().expect("block stored");
        let fingerprint = (height, block.hash(), block.header.state_hash);
        match &reference {
            Some(expected) => assert_eq!(&fingerprint, expected, "node {} diverged", node.index),
            None => reference = Some(fingerprint),
        }
        for expected in txs {
            let result = node
                .handle
                .receipt(&expected.receipt.tx_id)
                .unwrap()
                .expect("receipt stored");
            assert_eq!(
                &&result, expected,
                "node {} has another receipt",
                node.index
            );
        }
    }
}

async fn submit_one(handle: &LedgerHandle, tx: SignedTx) -> TxResult {
    let mut results = handle.submit(vec![tx]).await.expect("submitted");
    assert_eq!(results.len(), 1);
    results.pop().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txs_from_any_voter_apply_everywhere_and_the_learner_only_follows() {
    let cluster = Cluster::start(10_000).await;
    let leader = cluster.leader().await;
    assert_ne!(leader, LEARNER, "the learner never leads");
    let follower = (0..LEARNER).find(|index| *index != leader).unwrap();

    // Submitted on a follower: forwarded, ordered, applied on all four nodes alike.
    let on_follower = submit_one(cluster.node(follower), recall_tx(&cluster.genesis, 1)).await;
    assert_eq!(on_follower.receipt.outcome, Outcome::Applied);
    let on_leader = submit_one(cluster.node(leader), recall_tx(&cluster.genesis, 2)).await;
    assert_eq!(on_leader.receipt.outcome, Outcome::Applied);
    assert!(on_leader.height > on_follower.height);

    // A forged signature: every node rejects it with the same receipt.
    let mut forged = recall_tx(&cluster.genesis, 3);
    let mut signature = forged.signature.to_bytes();
    signature[0] ^= 1;
    forged.signature = ed25519_dalek::Signature::from_bytes(&signature);
    let rejected = submit_one(cluster.node(follower), forged).await;
    assert_eq!(rejected.receipt.outcome, Outcome::BadSignature);
    assert!(
        rejected
            .receipt
            .message
            .starts_with(SIGNATURE_FAILED_MESSAGE)
    );

    // A replay of an applied tx is rejected by the chaincode.
    let replay = submit_one(cluster.node(leader), recall_tx(&cluster.genesis, 1)).await;
    assert_eq!(replay.receipt.outcome, Outcome::Replay);

    assert_converged(
        &cluster,
        replay.height,
        &[&on_follower, &on_leader, &rejected],
    )
    .await;

    // The learner refuses writes and never proposed a block.
    let learner = cluster.node(LEARNER);
    assert_eq!(
        learner.submit(vec![recall_tx(&cluster.genesis, 4)]).await,
        Err(SubmitError::ReadOnly)
    );
    assert!(learner.is_learner());
    for height in 1..=replay.height {
        let (block, receipts) = learner.block(height).unwrap().expect("block");
        assert_ne!(block.header.proposer, LEARNER as u64 + 1);
        assert_eq!(block.txs.len(), receipts.len());
        if height > 1 {
            let (previous, _) = learner.block(height - 1).unwrap().unwrap();
            assert_eq!(block.header.previous_hash, previous.hash());
            assert!(block.header.timestamp_ms >= previous.header.timestamp_ms);
        }
    }
    let (proof, header) = learner
        .inclusion_proof(&on_follower.receipt.tx_id)
        .unwrap()
        .expect("proof");
    assert!(proof.verify(&on_follower.receipt.tx_id, &header.tx_root));
    assert_eq!(header.hash(), on_follower.block_hash);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_keeps_every_acknowledged_tx() {
    let mut cluster = Cluster::start(10_000).await;
    let leader = cluster.leader().await;
    let before = submit_one(cluster.node(leader), recall_tx(&cluster.genesis, 1)).await;
    assert_eq!(before.receipt.outcome, Outcome::Applied);
    cluster.stop(leader).await;

    let new_leader = cluster.leader().await;
    assert_ne!(new_leader, leader);
    assert_ne!(new_leader, LEARNER);
    let survivor = (0..LEARNER)
        .find(|index| *index != leader && *index != new_leader)
        .unwrap();
    let after = submit_one(cluster.node(survivor), recall_tx(&cluster.genesis, 2)).await;
    assert_eq!(after.receipt.outcome, Outcome::Applied);
    assert_converged(&cluster, after.height, &[&before, &after]).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_resumes_exactly_and_catches_up_by_snapshot() {
    // Compact after every 2 applied entries, so a node that misses a few blocks can only catch
    // up by snapshot.
    let mut cluster = Cluster::start(2).await;
    let leader = cluster.leader().await;
    let first = submit_one(cluster.node(leader), recall_tx(&cluster.genesis, 1)).await;
    let lagging = (0..LEARNER).find(|index| *index != leader).unwrap();
    assert_converged(&cluster, first.height, &[&first]).await;

    // Restart without missing anything: the head is exactly what it was.
    let head_before = cluster.node(lagging).status().head;
    cluster.stop(lagging).await;
    cluster.restart(lagging).await;
    assert_eq!(cluster.node(lagging).status().head, head_before);

    // Miss several blocks while stopped; the others compact their logs meanwhile.
    cluster.stop(lagging).await;
    let mut last = first;
    for lot in 2..=6 {
        last = submit_one(cluster.node(leader), recall_tx(&cluster.genesis, lot)).await;
        assert_eq!(last.receipt.outcome, Outcome::Applied);
    }
    cluster.restart(lagging).await;
    assert_converged(&cluster, last.height, &[&last]).await;
    let restored = cluster
        .node(lagging)
        .metrics()
        .snapshots_restored
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(restored >= 1, "the lagging node caught up by snapshot");

    // A node whose disk is below its minimum refuses submissions, and still replicates.
    cluster.stop(lagging).await;
    cluster.tuning.disk_free_min_bytes = u64::MAX;
    cluster.restart(lagging).await;
    match cluster
        .node(lagging)
        .submit(vec![recall_tx(&cluster.genesis, 7)])
        .await
    {
        Err(error @ SubmitError::DiskLow { .. }) => {
            assert!(
                error.to_string().contains("node.disk_free_min_mib"),
                "{error}"
            );
        }
        other => panic!("expected DiskLow, got {other:?}"),
    }
    let next = submit_one(cluster.node(leader), recall_tx(&cluster.genesis, 8)).await;
    assert_eq!(next.receipt.outcome, Outcome::Applied);
    assert_converged(&cluster, next.height, &[&next]).await;
    cluster.shutdown().await;
}

/// A governance transaction by org `submitter`, approved by `approvers`, effective at once.
fn governance_tx(
    genesis: &Genesis,
    submitter: usize,
    approvers: &[usize],
    action: GovAction,
    nonce: u64,
) -> SignedTx {
    use ed25519_dalek::Signer as _;
    let network_id = genesis.network_id();
    let digest = approval_digest(&network_id, &action, 0, nonce);
    let approvals = approvers
        .iter()
        .map(|index| Approval {
            org: ORGS[*index].0.to_string(),
            key_id: "k1".into(),
            signature: org_key(*index).sign(&digest),
        })
        .collect();
    let key = org_key(submitter);
    TxEnvelope {
        network_id,
        signer_org: ORGS[submitter].0.into(),
        key_id: "k1".into(),
        public_key: key.verifying_key().to_bytes(),
        nonce,
        body: TxBody::Governance(GovernanceTx {
            action,
            effective_height: 0,
            proposal_nonce: nonce,
            approvals,
        }),
    }
    .sign(&key)
}

/// Waits until `node`'s network has counted more than `baseline` refused connections.
async fn wait_denials(node: &LedgerHandle, baseline: u64, what: &str) -> u64 {
    let mut status = node.network().status();
    let status = tokio::time::timeout(
        WAIT,
        status.wait_for(|status| status.counters.connections_denied > baseline),
    )
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    .expect("network alive")
    .clone();
    status.counters.connections_denied
}

fn denials(node: &LedgerHandle) -> u64 {
    node.network().status().borrow().counters.connections_denied
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_adds_a_voter_that_joins_by_snapshot_and_removes_the_leaders_node() {
    // Compact after every 2 applied entries: the joining node can only catch up by snapshot.
    let mut cluster = Cluster::start(2).await;
    let leader = cluster.leader().await;
    let mut last = None;
    for lot in 1..=3 {
        let result = submit_one(cluster.node(leader), recall_tx(&cluster.genesis, lot)).await;
        assert_eq!(result.receipt.outcome, Outcome::Applied);
        last = Some(result);
    }
    assert_converged(&cluster, last.unwrap().height, &[]).await;

    // Governance (3 of 4 orgs: the submitter and two approvals) registers a second node for
    // the pharmacy, a voting org.
    let joiner = ORGS.len();
    let joiner_id = pedigree_node::ledger::peers::derived_raft_id(&peer_id(joiner));
    let voters = |status: &LedgerStatus| status.voters.clone();
    let add = governance_tx(
        &cluster.genesis,
        2,
        &[0, 1],
        GovAction::AddNode {
            org: "pharm".into(),
            peer_id: peer_id(joiner).to_string(),
        },
        1_000,
    );
    let added = submit_one(cluster.node(leader), add).await;
    assert_eq!(
        added.receipt.outcome,
        Outcome::Applied,
        "{:?}",
        added.receipt
    );
    // The leader adds it as a learner at once; it cannot be promoted before it catches up.
    wait_status(cluster.node(leader), "the joiner as learner", |status| {
        status.learners.contains(&joiner_id)
    })
    .await;
    assert!(!voters(&cluster.node(leader).status()).contains(&joiner_id));

    // Start it with the genesis and empty data; it knows the others' addresses.
    let node = cluster.start_node(joiner).await;
    assert_eq!(node.handle.status().raft_id, joiner_id);
    assert!(
        !node.handle.status().member,
        "not a member before it catches up"
    );
    cluster.nodes.push(Some(node));
    cluster.connect_all();
    for node in cluster.running() {
        let status = wait_status(&node.handle, "the joiner as voter", |status| {
            status.voters.contains(&joiner_id)
        })
        .await;
        assert_eq!(status.voters.len(), 4, "node {}: {status:?}", node.index);
        assert_eq!(status.learners, vec![LEARNER as u64 + 1]);
        assert!(
            status
                .members
                .iter()
                .any(|entry| entry.raft_id == joiner_id)
        );
    }
    let joined = cluster.node(joiner);
    assert!(joined.status().member);
    assert!(!joined.is_learner());
    let restored = joined
        .metrics()
        .snapshots_restored
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(restored >= 1, "the joiner caught up by snapshot");

    // It replicates and takes writes like any voter.
    let on_joiner = submit_one(joined, recall_tx(&cluster.genesis, 10)).await;
    assert_eq!(on_joiner.receipt.outcome, Outcome::Applied);
    assert_converged(&cluster, on_joiner.height, &[&added, &on_joiner]).await;

    // Restarted, it resumes from its own log (no genesis bootstrap) as the same voter.
    let head_before = cluster.node(joiner).status().head;
    cluster.stop(joiner).await;
    cluster.restart(joiner).await;
    let status = cluster.node(joiner).status();
    assert_eq!(status.head, head_before);
    assert!(status.member);
    assert!(status.voters.contains(&joiner_id), "{status:?}");

    // A peer whose key is not in the membership cannot connect to any node.
    let leader = cluster.leader().await;
    let baseline = denials(cluster.node(leader));
    let stranger_controller = ShutdownController::new();
    let stranger_key = libp2p_keypair(&node_key(9));
    let stranger_peer = stranger_key.public().to_peer_id();
    let (stranger, _inbound, _join) = net::spawn(
        NetworkConfig {
            keypair: stranger_key,
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            peers: cluster
                .running()
                .map(|node| (peer_id(node.index), node.address.clone()))
                .collect(),
            allow_list: AllowList::new(cluster.running().map(|node| peer_id(node.index))),
            limits: NetworkLimits {
                dial_backoff_min: Duration::from_millis(50),
                dial_backoff_max: Duration::from_millis(400),
                dial_check_interval: Duration::from_millis(20),
                ..NetworkLimits::default()
            },
        },
        stranger_controller.listener(),
    )
    .expect("stranger's network starts");
    wait_denials(cluster.node(leader), baseline, "the stranger's refusal").await;
    for node in cluster.running() {
        assert!(!node.handle.connected_peers().contains(&stranger_peer));
    }
    drop(stranger);
    tokio::time::timeout(WAIT, stranger_controller.shutdown())
        .await
        .expect("stranger stops");

    // Governance removes the leader's own node: it hands leadership over, the new leader
    // removes it from the configuration, and every member disconnects it.
    let removed = leader;
    let removed_id = cluster.node(removed).status().raft_id;
    let survivors: Vec<usize> = (0..LEARNER)
        .chain([joiner])
        .filter(|index| *index != removed)
        .collect();
    let submitter = survivors[0];
    let remove = governance_tx(
        &cluster.genesis,
        2,
        &[0, 1],
        GovAction::RemoveNode {
            peer_id: peer_id(removed).to_string(),
        },
        1_001,
    );
    let removal = submit_one(cluster.node(submitter), remove).await;
    assert_eq!(
        removal.receipt.outcome,
        Outcome::Applied,
        "{:?}",
        removal.receipt
    );
    let removed_node = cluster.nodes[removed].take().expect("running");
    for node in cluster.running() {
        let status = wait_status(&node.handle, "the removal", |status| {
            !status.voters.contains(&removed_id) && !status.learners.contains(&removed_id)
        })
        .await;
        assert_eq!(status.voters.len(), 3, "node {}: {status:?}", node.index);
        assert!(status.voters.contains(&joiner_id));
    }
    let new_leader = cluster.leader().await;
    assert_ne!(new_leader, removed);
    tokio::time::timeout(
        WAIT,
        removed_node
            .handle
            .network()
            .status()
            .wait_for(|status| status.connected.is_empty()),
    )
    .await
    .expect("the removed node is disconnected from everyone")
    .expect("network alive");

    // The cluster keeps committing without it.
    let after = submit_one(cluster.node(survivors[1]), recall_tx(&cluster.genesis, 11)).await;
    assert_eq!(after.receipt.outcome, Outcome::Applied);
    assert_converged(&cluster, after.height, &[&removal, &after]).await;

    // The removed node keeps dialling (it is not told); every attempt is refused.
    let baseline = denials(cluster.node(new_leader));
    wait_denials(
        cluster.node(new_leader),
        baseline,
        "the removed node's refusal",
    )
    .await;
    for node in cluster.running() {
        assert!(!node.handle.connected_peers().contains(&peer_id(removed)));
    }
    assert!(
        removed_node.handle.status().head.height < after.height,
        "the removed node no longer receives blocks"
    );
    cluster.nodes[removed] = Some(removed_node);
    cluster.shutdown().await;
}
