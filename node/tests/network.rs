//! In-process network tests on 127.0.0.1: every wait is on an event or status change with a bounded timeout.

use std::collections::BTreeSet;
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use pedigree_node::net::{
    self, AllowList, NetError, NetworkConfig, NetworkHandle, NetworkInbound, NetworkLimits,
    NetworkStatus,
};
use pedigree_node::shutdown::ShutdownController;
use tokio::task::JoinHandle;

/// The longest any single wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

struct TestNode {
    peer_id: PeerId,
    address: Multiaddr,
    handle: NetworkHandle,
    inbound: NetworkInbound,
    allow_list: AllowList,
    join: JoinHandle<()>,
}

fn test_limits() -> NetworkLimits {
    NetworkLimits {
        dial_backoff_min: Duration::from_millis(50),
        dial_backoff_max: Duration::from_millis(400),
        dial_check_interval: Duration::from_millis(20),
        request_timeout: Duration::from_secs(5),
        ..NetworkLimits::default()
    }
}

fn init_logging() {
    // Set RUST_LOG to see the network's logs in failing tests; repeated initialisation is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

async fn start_node(
    keypair: Keypair,
    members: &[PeerId],
    limits: NetworkLimits,
    shutdown: &ShutdownController,
) -> TestNode {
    init_logging();
    let peer_id = keypair.public().to_peer_id();
    let allow_list = AllowList::new(members.iter().copied());
    let config = NetworkConfig {
        keypair,
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        peers: Vec::new(),
        allow_list: allow_list.clone(),
        limits,
    };
    let (handle, inbound, join) = net::spawn(config, shutdown.listener()).expect("network starts");
    let status = wait_status(&handle, "listening", |status| {
        !status.listen_addresses.is_empty()
    })
    .await;
    TestNode {
        peer_id,
        address: status.listen_addresses[0].clone(),
        handle,
        inbound,
        allow_list,
        join,
    }
}

async fn wait_status(
    handle: &NetworkHandle,
    what: &str,
    condition: impl FnMut(&NetworkStatus) -> bool,
) -> NetworkStatus {
    let mut status = handle.status();
    let result = tokio::time::timeout(WAIT, status.wait_for(condition)).await;
    let Ok(status) = result else {
        panic!(
            "timed out waiting for: {what}; status: {:#?}",
            handle.status().borrow()
        );
    };
    status.expect("network task stopped").clone()
}

async fn wait_connected(node: &TestNode, peer: PeerId) {
    wait_status(&node.handle, "connection", |status| {
        status.connected.contains(&peer)
    })
    .await;
}

async fn receive_raft(node: &mut TestNode) -> (PeerId, Vec<u8>) {
    tokio::time::timeout(WAIT, node.inbound.raft.recv())
        .await
        .expect("timed out waiting for a raft message")
        .expect("network task stopped")
}

fn keypairs<const N: usize>() -> ([Keypair; N], Vec<PeerId>) {
    let keys: [Keypair; N] = std::array::from_fn(|_| Keypair::generate_ed25519());
    let peers = keys.iter().map(|key| key.public().to_peer_id()).collect();
    (keys, peers)
}

async fn stop(controller: ShutdownController, nodes: Vec<TestNode>) {
    tokio::time::timeout(WAIT, controller.shutdown())
        .await
        .expect("shutdown completes");
    for node in nodes {
        tokio::time::timeout(WAIT, node.join)
            .await
            .expect("task ends")
            .expect("task did not panic");
    }
}

/// Answers every forwarded request on `node` with "pong:" followed by the request.
fn spawn_echo_responder(node: &mut TestNode) -> JoinHandle<()> {
    let (_, replacement) = tokio::sync::mpsc::channel(1);
    let mut requests = std::mem::replace(&mut node.inbound.requests, replacement);
    tokio::spawn(async move {
        while let Some(request) = requests.recv().await {
            let mut response = b"pong:".to_vec();
            response.extend_from_slice(&request.bytes);
            request.responder.respond(response);
        }
    })
}

#[tokio::test]
async fn two_nodes_exchange_raft_bytes_both_ways_and_forward_requests() {
    let controller = ShutdownController::new();
    let ([key_a, key_b], members) = keypairs::<2>();
    let mut a = start_node(key_a, &members, test_limits(), &controller).await;
    let mut b = start_node(key_b, &members, test_limits(), &controller).await;
    a.handle
        .add_peer_address(b.peer_id, b.address.clone())
        .unwrap();
    wait_connected(&a, b.peer_id).await;
    wait_connected(&b, a.peer_id).await;

    a.handle.send(b.peer_id, b"a to b".to_vec()).unwrap();
    b.handle.send(a.peer_id, b"b to a".to_vec()).unwrap();
    assert_eq!(receive_raft(&mut b).await, (a.peer_id, b"a to b".to_vec()));
    assert_eq!(receive_raft(&mut a).await, (b.peer_id, b"b to a".to_vec()));

    // Many messages in a row all arrive complete. Each message travels on its own substream,
    // so the order is not guaranteed (Raft does not need it).
    let sent: BTreeSet<Vec<u8>> = (0..50_u32)
        .map(|index| index.to_be_bytes().to_vec())
        .collect();
    for message in &sent {
        a.handle.send(b.peer_id, message.clone()).unwrap();
    }
    let mut received = BTreeSet::new();
    for _ in 0..sent.len() {
        let (peer, message) = receive_raft(&mut b).await;
        assert_eq!(peer, a.peer_id);
        received.insert(message);
    }
    assert_eq!(received, sent);

    let responder = spawn_echo_responder(&mut b);
    let response = tokio::time::timeout(WAIT, a.handle.request(b.peer_id, b"tx".to_vec()))
        .await
        .expect("response in time")
        .expect("request succeeds");
    assert_eq!(response, b"pong:tx");

    let stranger = PeerId::random();
    let error = a
        .handle
        .request(stranger, b"tx".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(error, NetError::NotConnected(peer) if peer == stranger),
        "{error}"
    );

    let handle_a = a.handle.clone();
    stop(controller, vec![a, b]).await;
    responder.abort();
    assert!(matches!(
        handle_a.send(PeerId::random(), vec![1]),
        Err(NetError::Stopped)
    ));
}

#[tokio::test]
async fn three_nodes_exchange_raft_bytes_pairwise() {
    let controller = ShutdownController::new();
    let (keys, members) = keypairs::<3>();
    let mut nodes = Vec::new();
    for key in keys {
        nodes.push(start_node(key, &members, test_limits(), &controller).await);
    }
    // A ring of dials; each connection is used in both directions.
    for index in 0..3 {
        let next = &nodes[(index + 1) % 3];
        let (peer, address) = (next.peer_id, next.address.clone());
        nodes[index].handle.add_peer_address(peer, address).unwrap();
    }
    for node in &nodes {
        let others: BTreeSet<PeerId> = members
            .iter()
            .copied()
            .filter(|peer| *peer != node.peer_id)
            .collect();
        wait_status(&node.handle, "full mesh", |status| {
            others.is_subset(&status.connected)
        })
        .await;
    }
    for sender in &nodes {
        for target in &members {
            if *target != sender.peer_id {
                sender
                    .handle
                    .send(*target, sender.peer_id.to_bytes())
                    .unwrap();
            }
        }
    }
    for node in &mut nodes {
        let mut senders = BTreeSet::new();
        for _ in 0..2 {
            let (peer, bytes) = receive_raft(node).await;
            assert_eq!(bytes, peer.to_bytes(), "the payload names its sender");
            senders.insert(peer);
        }
        let expected: BTreeSet<PeerId> = members
            .iter()
            .copied()
            .filter(|peer| *peer != node.peer_id)
            .collect();
        assert_eq!(senders, expected);
    }
    stop(controller, nodes).await;
}

#[tokio::test]
async fn non_member_cannot_connect_and_delivers_nothing() {
    let controller = ShutdownController::new();
    let ([key_a, key_b, key_c], peers) = keypairs::<3>();
    let (peer_a, peer_b, peer_c) = (peers[0], peers[1], peers[2]);
    // A admits only B; the intruder C believes A is a fellow member.
    let mut a = start_node(key_a, &[peer_a, peer_b], test_limits(), &controller).await;
    let b = start_node(key_b, &[peer_a, peer_b], test_limits(), &controller).await;
    let c = start_node(key_c, &[peer_a, peer_c], test_limits(), &controller).await;

    c.handle
        .add_peer_address(a.peer_id, a.address.clone())
        .unwrap();
    wait_status(&a.handle, "C's connection denied", |status| {
        status.counters.connections_denied >= 1
    })
    .await;
    assert!(!a.handle.status().borrow().connected.contains(&c.peer_id));
    // Whatever C manages to queue before noticing the refusal must not reach A.
    let _ = c.handle.send(a.peer_id, b"intruder".to_vec());

    // A known non-member is never dialled by A either, and requests to it fail fast.
    a.handle
        .add_peer_address(c.peer_id, c.address.clone())
        .unwrap();
    let error = a
        .handle
        .request(c.peer_id, b"tx".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(error, NetError::NotConnected(_)), "{error}");

    // A member still gets through; its message is the only one A ever sees.
    b.handle
        .add_peer_address(a.peer_id, a.address.clone())
        .unwrap();
    wait_connected(&b, a.peer_id).await;
    b.handle.send(a.peer_id, b"member".to_vec()).unwrap();
    assert_eq!(receive_raft(&mut a).await, (b.peer_id, b"member".to_vec()));
    assert!(
        a.inbound.raft.try_recv().is_err(),
        "nothing from the non-member"
    );
    let status = a.handle.status().borrow().clone();
    assert_eq!(status.counters.raft_received, 1);
    assert!(!status.connected.contains(&c.peer_id));
    stop(controller, vec![a, b, c]).await;
}

#[tokio::test]
async fn removed_member_is_disconnected_at_runtime_and_can_be_readmitted() {
    let controller = ShutdownController::new();
    let ([key_a, key_b], members) = keypairs::<2>();
    let mut a = start_node(key_a, &members, test_limits(), &controller).await;
    let b = start_node(key_b, &members, test_limits(), &controller).await;
    // B keeps a connection to A (and keeps redialling it), like any member.
    b.handle
        .add_peer_address(a.peer_id, a.address.clone())
        .unwrap();
    wait_connected(&a, b.peer_id).await;

    assert!(a.allow_list.remove(&b.peer_id));
    wait_status(&a.handle, "B disconnected", |status| {
        !status.connected.contains(&b.peer_id) && status.counters.members_disconnected >= 1
    })
    .await;
    // B's redials are now refused.
    let denied_before = a.handle.status().borrow().counters.connections_denied;
    wait_status(&a.handle, "B's redial denied", |status| {
        status.counters.connections_denied > denied_before
    })
    .await;
    assert!(!a.handle.status().borrow().connected.contains(&b.peer_id));

    // Re-admitting B takes effect without a restart: B's next redial succeeds.
    assert!(a.allow_list.insert(b.peer_id));
    wait_connected(&a, b.peer_id).await;
    wait_connected(&b, a.peer_id).await;
    b.handle.send(a.peer_id, b"back".to_vec()).unwrap();
    assert_eq!(receive_raft(&mut a).await, (b.peer_id, b"back".to_vec()));
    stop(controller, vec![a, b]).await;
}

#[tokio::test]
async fn oversize_messages_are_refused_by_sender_and_receiver() {
    const SMALL_LIMIT_BYTES: u32 = 1024;
    let controller = ShutdownController::new();
    let ([key_a, key_b], members) = keypairs::<2>();
    let a = start_node(key_a, &members, test_limits(), &controller).await;
    let small_limits = NetworkLimits {
        message_bytes_max: SMALL_LIMIT_BYTES,
        ..test_limits()
    };
    let mut b = start_node(key_b, &members, small_limits, &controller).await;
    a.handle
        .add_peer_address(b.peer_id, b.address.clone())
        .unwrap();
    wait_connected(&a, b.peer_id).await;
    wait_connected(&b, a.peer_id).await;

    // The sender refuses anything over its own limit before queueing it.
    let error = b
        .handle
        .send(a.peer_id, vec![0; SMALL_LIMIT_BYTES as usize + 1])
        .unwrap_err();
    assert!(
        matches!(
            error,
            NetError::MessageTooLarge {
                bytes: 1025,
                limit: 1024
            }
        ),
        "{error}"
    );

    // The receiver refuses a frame over its limit, reading only the length prefix.
    a.handle
        .send(b.peer_id, vec![7; 4 * SMALL_LIMIT_BYTES as usize])
        .unwrap();
    wait_status(&b.handle, "oversize message refused", |status| {
        status.counters.messages_refused_oversize == 1
    })
    .await;

    // The connection stays usable for messages within the limit.
    a.handle
        .send(b.peer_id, vec![1; SMALL_LIMIT_BYTES as usize])
        .unwrap();
    assert_eq!(
        receive_raft(&mut b).await,
        (a.peer_id, vec![1; SMALL_LIMIT_BYTES as usize])
    );
    assert!(
        b.inbound.raft.try_recv().is_err(),
        "the oversize message was never delivered"
    );
    stop(controller, vec![a, b]).await;
}

#[tokio::test]
async fn sending_to_an_unconnected_member_is_dropped_and_counted() {
    let controller = ShutdownController::new();
    let ([key_a], _) = keypairs::<1>();
    let absent = PeerId::random();
    let a = start_node(key_a, &[absent], test_limits(), &controller).await;
    a.handle.send(absent, vec![1, 2, 3]).unwrap();
    wait_status(&a.handle, "drop counted", |status| {
        status.counters.raft_dropped_not_connected == 1
    })
    .await;
    stop(controller, vec![a]).await;
}

#[tokio::test]
async fn dropping_every_handle_stops_the_task() {
    let controller = ShutdownController::new();
    let ([key_a], peers) = keypairs::<1>();
    let a = start_node(key_a, &peers, test_limits(), &controller).await;
    let TestNode {
        handle,
        join,
        inbound,
        ..
    } = a;
    drop(handle);
    tokio::time::timeout(WAIT, join)
        .await
        .expect("task ends")
        .expect("no panic");
    drop(inbound);
    tokio::time::timeout(WAIT, controller.shutdown())
        .await
        .expect("nothing left to wait for");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let controller = ShutdownController::new();
    let ([key_a, key_b, key_c], members) = keypairs::<3>();
    let one_connection = NetworkLimits {
        connections_established_max: 1,
        ..test_limits()
    };
    let a = start_node(key_a, &members, one_connection, &controller).await;
    let b = start_node(key_b, &members, test_limits(), &controller).await;
    let c = start_node(key_c, &members, test_limits(), &controller).await;
    b.handle
        .add_peer_address(a.peer_id, a.address.clone())
        .unwrap();
    wait_connected(&a, b.peer_id).await;
    c.handle
        .add_peer_address(a.peer_id, a.address.clone())
        .unwrap();
    let status = wait_status(&a.handle, "C refused by the limit", |status| {
        status.counters.connections_limited >= 1
    })
    .await;
    assert_eq!(status.connected, BTreeSet::from([b.peer_id]));
    assert_eq!(
        status.counters.connections_denied, 0,
        "C is a member; only the limit refused it"
    );
    stop(controller, vec![a, b, c]).await;
}
