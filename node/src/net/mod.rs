//! The peer-to-peer network: a libp2p swarm (TCP + Noise + Yamux) that only members may join,
//! carrying opaque consensus messages and forwarded client requests.
//!
//! # Shape
//!
//! [`spawn`] builds the swarm and moves it into one task (see `swarm_task.rs`) that owns it exclusively.
//! The rest of the node talks to that task through bounded channels:
//!
//! ```text
//!   NetworkHandle::send / request / add_peer_address ──commands──▶ ┌────────────┐
//!                                                                  │ swarm task │ ◀── libp2p events
//!   NetworkInbound::raft     ◀──────(PeerId, Vec<u8>)───────────── │ (one       │ ◀── AllowList changes
//!   NetworkInbound::requests ◀──────InboundRequest──────────────── │  select!)  │ ◀── dial timer, shutdown
//!                                                                  └────────────┘
//! ```
//!
//! **Architecture Invariant:** the swarm task never awaits a channel send.
//! Every send into or out of it is a `try_send`; when a queue is full the message is dropped and counted
//! in [`NetworkCounters`], because Raft resends and a stalled swarm would stall every peer at once.
//!
//! # Protocols
//!
//! * [`RAFT_PROTOCOL`] (`/pedigree/raft/2`): fire-and-forget consensus bytes, one long-lived stream per
//!   peer and direction carrying a frame per message (see [`raft_stream`]: a writer task per connected
//!   peer, a reader task per inbound stream).
//! * [`FORWARD_PROTOCOL`] (`/pedigree/forward/1`): a generic request/response, used to forward client
//!   transactions to the leader ([`BytesCodec`]).
//!
//! Both frame a message the same way: a 4-byte big-endian length, then at most
//! [`NetworkLimits::message_bytes_max`] bytes.
//!
//! # Membership
//!
//! See [`membership`]: a connection with a peer outside the [`AllowList`] is denied when it is established,
//! and removing a member closes its connections. Sends never dial; the dial schedule in [`dial`] keeps
//! connections to every member with a known address, reconnecting with exponential backoff.

pub mod codec;
pub mod dial;
pub mod membership;
mod raft_stream;
mod swarm_task;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub use self::codec::{BytesCodec, OversizeObserver};
pub use self::membership::{AllowList, MembershipGate, NotMember};
use crate::shutdown::Shutdown;

/// The consensus message protocol.
pub const RAFT_PROTOCOL: StreamProtocol = StreamProtocol::new("/pedigree/raft/2");

/// The client-request forwarding protocol.
pub const FORWARD_PROTOCOL: StreamProtocol = StreamProtocol::new("/pedigree/forward/1");

/// The default largest message, in bytes, in either protocol and direction: 16 MiB.
pub const MESSAGE_BYTES_MAX: u32 = 16 * 1024 * 1024;

/// Errors of the network layer.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The message is larger than the configured limit; it was not sent.
    #[error("message of {bytes} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// The message size.
        bytes: usize,
        /// The limit.
        limit: u32,
    },
    /// A bounded queue is full; the message was dropped (and counted).
    #[error("network queue full; message dropped")]
    QueueFull,
    /// There is no connection to the peer; sends never dial, the dial schedule does.
    #[error("not connected to peer {0}")]
    NotConnected(PeerId),
    /// The network task has stopped.
    #[error("network task has stopped")]
    Stopped,
    /// The peer did not answer a request: timeout, closed connection, protocol or I/O error.
    #[error("request to peer {peer} failed: {reason}")]
    RequestFailed {
        /// The peer.
        peer: PeerId,
        /// The libp2p failure, as text.
        reason: String,
    },
    /// A listen address could not be bound.
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: Multiaddr,
        /// The transport error, as text.
        reason: String,
    },
    /// The transport could not be built.
    #[error("cannot build the libp2p transport: {0}")]
    Transport(String),
}

/// The result type of this module.
pub type Result<T, E = NetError> = std::result::Result<T, E>;

/// Every limit of the network layer; [`Default`] gives production values.
#[derive(Debug, Clone)]
pub struct NetworkLimits {
    /// The largest message, in bytes, in either protocol and direction.
    pub message_bytes_max: u32,
    /// Capacity of the command queue from [`NetworkHandle`]s to the swarm task.
    pub commands_queued_max: usize,
    /// Capacity of [`NetworkInbound::raft`].
    pub raft_inbound_queued_max: usize,
    /// Capacity of [`NetworkInbound::requests`].
    pub requests_inbound_queued_max: usize,
    /// The most forwarded requests awaiting a response, per direction.
    pub requests_pending_max: usize,
    /// The most raft messages queued for one peer's stream; more are dropped.
    pub raft_in_flight_per_peer_max: usize,
    /// How long a request may wait for its response, in either direction, and a raft stream
    /// write may take before the stream is given up and reopened.
    pub request_timeout: Duration,
    /// The first delay before redialling a peer.
    pub dial_backoff_min: Duration,
    /// The longest delay between redials.
    pub dial_backoff_max: Duration,
    /// How often the dial schedule is checked.
    pub dial_check_interval: Duration,
    /// How long a connection without traffic stays open.
    pub idle_connection_timeout: Duration,
    /// The most inbound connections still in their handshake; bounds what non-members can make us do.
    pub connections_pending_incoming_max: u32,
    /// The most established connections in total.
    pub connections_established_max: u32,
    /// The most established connections with one peer (simultaneous dials can create two).
    pub connections_per_peer_max: u32,
}

impl Default for NetworkLimits {
    fn default() -> Self {
        NetworkLimits {
            message_bytes_max: MESSAGE_BYTES_MAX,
            commands_queued_max: 1024,
            raft_inbound_queued_max: 1024,
            requests_inbound_queued_max: 256,
            requests_pending_max: 256,
            raft_in_flight_per_peer_max: 256,
            request_timeout: Duration::from_secs(10),
            dial_backoff_min: Duration::from_millis(500),
            dial_backoff_max: Duration::from_secs(30),
            dial_check_interval: Duration::from_millis(250),
            idle_connection_timeout: Duration::from_secs(3600),
            connections_pending_incoming_max: 64,
            connections_established_max: 256,
            connections_per_peer_max: 4,
        }
    }
}

/// What [`spawn`] needs.
#[derive(Debug)]
pub struct NetworkConfig {
    /// The node's identity; its peer id is what other members list.
    pub keypair: Keypair,
    /// Addresses to listen on, for example `/ip4/0.0.0.0/tcp/7100` (`/tcp/0` picks a free port).
    pub listen: Vec<Multiaddr>,
    /// Known peer addresses (bootstrap peers); members among them are dialled and kept connected.
    pub peers: Vec<(PeerId, Multiaddr)>,
    /// The membership; shared with whoever applies membership changes.
    pub allow_list: AllowList,
    /// Queue sizes, timeouts and backoff.
    pub limits: NetworkLimits,
}

impl NetworkConfig {
    /// The network configuration a node derives from `node.toml`: its listen addresses and bootstrap peers,
    /// with production [`NetworkLimits`].
    pub fn from_node_config(
        config: &crate::config::Config,
        keypair: Keypair,
        allow_list: AllowList,
    ) -> NetworkConfig {
        NetworkConfig {
            keypair,
            listen: config.p2p_listen.clone(),
            peers: config
                .bootstrap
                .iter()
                .map(|peer| (peer.peer_id, peer.address.clone()))
                .collect(),
            allow_list,
            limits: NetworkLimits::default(),
        }
    }
}

/// Counters of notable events, for metrics and tests; they only grow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkCounters {
    /// Raft messages written to their peer's stream.
    pub raft_sent: u64,
    /// Raft messages delivered to [`NetworkInbound::raft`].
    pub raft_received: u64,
    /// Raft messages dropped because there was no connection to the target.
    pub raft_dropped_not_connected: u64,
    /// Raft messages dropped because the queue to the peer's stream was full.
    pub raft_dropped_in_flight: u64,
    /// Inbound raft messages dropped because [`NetworkInbound::raft`] was full or closed.
    pub raft_dropped_inbound_full: u64,
    /// Raft messages that could not be written (the stream did not open, failed or timed out).
    pub raft_send_failures: u64,
    /// Forwarded requests delivered to [`NetworkInbound::requests`].
    pub requests_received: u64,
    /// Inbound forwarded requests dropped because the queue or the pending set was full.
    pub requests_dropped: u64,
    /// Inbound streams that failed inside a message or after a request was read (timeouts,
    /// closed connections, I/O).
    pub inbound_failures: u64,
    /// Inbound messages refused because they exceed [`NetworkLimits::message_bytes_max`].
    pub messages_refused_oversize: u64,
    /// Connections denied because the peer is not a member (inbound or outbound).
    pub connections_denied: u64,
    /// Connections refused because a connection limit in [`NetworkLimits`] was reached.
    pub connections_limited: u64,
    /// Dials started by the dial schedule.
    pub dials_started: u64,
    /// Dials that failed.
    pub dial_failures: u64,
    /// Connections closed because their peer was removed from the membership.
    pub members_disconnected: u64,
}

/// The network's observable state, published through a `watch` channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkStatus {
    /// Addresses the swarm listens on (with real ports once bound).
    pub listen_addresses: Vec<Multiaddr>,
    /// Peers with at least one open connection.
    pub connected: BTreeSet<PeerId>,
    /// Event counters.
    pub counters: NetworkCounters,
}

/// Messages from handles to the swarm task.
#[derive(Debug)]
enum Command {
    SendRaft {
        peer: PeerId,
        bytes: Vec<u8>,
    },
    Request {
        peer: PeerId,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>>>,
    },
    AddPeerAddress {
        peer: PeerId,
        address: Multiaddr,
    },
}

/// The node's way into the network; cheap to clone.
///
/// When every handle is dropped the swarm task stops, like mini-redis's `DbDropGuard`.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    local_peer_id: PeerId,
    message_bytes_max: u32,
    commands: mpsc::Sender<Command>,
    commands_dropped: Arc<AtomicU64>,
    status: watch::Receiver<NetworkStatus>,
}

impl NetworkHandle {
    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// Sends consensus bytes to `peer`, fire-and-forget: Raft resends, so delivery is best effort
    /// and messages may be reordered.
    ///
    /// # Errors
    /// [`NetError::MessageTooLarge`], [`NetError::QueueFull`] (the message is dropped and counted),
    /// or [`NetError::Stopped`]. A missing connection is not reported here: it shows up as
    /// [`NetworkCounters::raft_dropped_not_connected`].
    pub fn send(&self, peer: PeerId, bytes: Vec<u8>) -> Result<()> {
        self.check_size(&bytes)?;
        self.try_command(Command::SendRaft { peer, bytes })
    }

    /// Sends a request over [`FORWARD_PROTOCOL`] and waits for the response.
    ///
    /// # Errors
    /// As [`NetworkHandle::send`], plus [`NetError::NotConnected`] and [`NetError::RequestFailed`].
    pub async fn request(&self, peer: PeerId, bytes: Vec<u8>) -> Result<Vec<u8>> {
        self.check_size(&bytes)?;
        let (reply, response) = oneshot::channel();
        self.try_command(Command::Request { peer, bytes, reply })?;
        response.await.map_err(|_| NetError::Stopped)?
    }

    /// Remembers an address for `peer`; if the peer is a member it is dialled and kept connected.
    ///
    /// # Errors
    /// [`NetError::QueueFull`] or [`NetError::Stopped`].
    pub fn add_peer_address(&self, peer: PeerId, address: Multiaddr) -> Result<()> {
        self.try_command(Command::AddPeerAddress { peer, address })
    }

    /// A receiver of the network's status; use `wait_for` to wait for a condition.
    pub fn status(&self) -> watch::Receiver<NetworkStatus> {
        self.status.clone()
    }

    /// How many commands were dropped because the command queue was full.
    pub fn commands_dropped(&self) -> u64 {
        self.commands_dropped.load(Ordering::Relaxed)
    }

    fn check_size(&self, bytes: &[u8]) -> Result<()> {
        if bytes.len() > self.message_bytes_max as usize {
            return Err(NetError::MessageTooLarge {
                bytes: bytes.len(),
                limit: self.message_bytes_max,
            });
        }
        Ok(())
    }

    fn try_command(&self, command: Command) -> Result<()> {
        self.commands
            .try_send(command)
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => {
                    self.commands_dropped.fetch_add(1, Ordering::Relaxed);
                    NetError::QueueFull
                }
                mpsc::error::TrySendError::Closed(_) => NetError::Stopped,
            })
    }
}

/// Answers one [`InboundRequest`]; dropping it without answering makes the requester's call fail.
#[derive(Debug)]
pub struct Responder {
    sender: oneshot::Sender<Vec<u8>>,
}

impl Responder {
    /// Sends the response; returns false if the request has already timed out or the network stopped.
    pub fn respond(self, bytes: Vec<u8>) -> bool {
        self.sender.send(bytes).is_ok()
    }
}

/// A request from a peer over [`FORWARD_PROTOCOL`].
#[derive(Debug)]
pub struct InboundRequest {
    /// The requesting peer (authenticated by Noise, a member when the request arrived).
    pub peer: PeerId,
    /// The request bytes.
    pub bytes: Vec<u8>,
    /// Where the response goes.
    pub responder: Responder,
}

/// The receiving ends of the network; the consumer must keep draining them or messages are dropped.
#[derive(Debug)]
pub struct NetworkInbound {
    /// Consensus messages from members, in order per peer stream; a reconnection can lose messages
    /// (Raft tolerates loss, reordering and duplication).
    pub raft: mpsc::Receiver<(PeerId, Vec<u8>)>,
    /// Forwarded requests from members.
    pub requests: mpsc::Receiver<InboundRequest>,
}

/// Builds the swarm, starts listening and spawns the swarm task on the current tokio runtime.
///
/// The task stops when `shutdown` fires or when every [`NetworkHandle`] is dropped; it holds `shutdown`
/// until it has stopped, so [`crate::shutdown::ShutdownController::shutdown`] waits for it.
///
/// # Errors
/// [`NetError::Transport`] or [`NetError::Listen`].
///
/// # Panics
/// If called outside a tokio runtime.
pub fn spawn(
    config: NetworkConfig,
    shutdown: Shutdown,
) -> Result<(NetworkHandle, NetworkInbound, JoinHandle<()>)> {
    let NetworkConfig {
        keypair,
        listen,
        peers,
        allow_list,
        limits,
    } = config;
    let local_peer_id = keypair.public().to_peer_id();
    let (status_sender, status_receiver) = watch::channel(NetworkStatus::default());
    // Connection handlers run the codec outside the swarm task, so they publish refusals directly.
    let status_sender = Arc::new(status_sender);
    let refusal_status = Arc::clone(&status_sender);
    let codec = BytesCodec::new(limits.message_bytes_max).with_oversize_observer(Arc::new(
        move |_length| {
            refusal_status.send_modify(|status| status.counters.messages_refused_oversize += 1);
        },
    ));
    let mut swarm = swarm_task::build_swarm(keypair, codec, allow_list.clone(), &limits)?;
    for address in listen {
        swarm
            .listen_on(address.clone())
            .map_err(|error| NetError::Listen {
                address,
                reason: error.to_string(),
            })?;
    }

    let (command_sender, command_receiver) = mpsc::channel(limits.commands_queued_max);
    let (raft_sender, raft_receiver) = mpsc::channel(limits.raft_inbound_queued_max);
    let (request_sender, request_receiver) = mpsc::channel(limits.requests_inbound_queued_max);

    let handle = NetworkHandle {
        local_peer_id,
        message_bytes_max: limits.message_bytes_max,
        commands: command_sender,
        commands_dropped: Arc::new(AtomicU64::new(0)),
        status: status_receiver,
    };
    let inbound = NetworkInbound {
        raft: raft_receiver,
        requests: request_receiver,
    };
    let task = swarm_task::SwarmTask::new(swarm_task::SwarmTaskParts {
        swarm,
        allow_list,
        peers,
        limits,
        commands: command_receiver,
        raft_inbound: raft_sender,
        requests_inbound: request_sender,
        status: status_sender,
        shutdown,
    });
    let join = tokio::spawn(task.run());
    Ok((handle, inbound, join))
}
