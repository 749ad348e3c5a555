//! The task that owns the libp2p swarm: one closed set of inputs, one `select!`, no awaiting sends.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use libp2p::Stream;
use libp2p::futures::StreamExt;
use libp2p::futures::future::BoxFuture;
use libp2p::futures::stream::FuturesUnordered;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::ConnectionDenied;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, ListenError, NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, connection_limits, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use super::dial::DialSchedule;
use super::raft_stream::{Reader, Writer};
use super::{
    AllowList, BytesCodec, Command, FORWARD_PROTOCOL, InboundRequest, MembershipGate, NetError,
    NetworkCounters, NetworkLimits, NetworkStatus, NotMember, RAFT_PROTOCOL, Responder, Result,
};
use crate::shutdown::Shutdown;

/// The swarm's behaviours. The connection limits and the membership gate come first,
/// so a denied connection never reaches the protocols.
#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    connection_limits: connection_limits::Behaviour,
    gate: MembershipGate,
    raft: libp2p_stream::Behaviour,
    forward: request_response::Behaviour<BytesCodec>,
}

/// Builds the TCP + Noise + Yamux swarm.
pub(super) fn build_swarm(
    keypair: Keypair,
    codec: BytesCodec,
    allow_list: AllowList,
    limits: &NetworkLimits,
) -> Result<Swarm<Behaviour>> {
    let request_config =
        request_response::Config::default().with_request_timeout(limits.request_timeout);
    let connection_limits = connection_limits::ConnectionLimits::default()
        .with_max_pending_incoming(Some(limits.connections_pending_incoming_max))
        .with_max_established(Some(limits.connections_established_max))
        .with_max_established_per_peer(Some(limits.connections_per_peer_max));
    let behaviour = Behaviour {
        connection_limits: connection_limits::Behaviour::new(connection_limits),
        gate: MembershipGate::new(allow_list),
        raft: libp2p_stream::Behaviour::new(),
        forward: request_response::Behaviour::with_codec(
            codec,
            [(FORWARD_PROTOCOL, ProtocolSupport::Full)],
            request_config,
        ),
    };
    let idle_connection_timeout = limits.idle_connection_timeout;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|error| NetError::Transport(error.to_string()))?
        .with_behaviour(|_| behaviour)
        .map_err(|error| NetError::Transport(error.to_string()))?
        .with_swarm_config(|config| config.with_idle_connection_timeout(idle_connection_timeout))
        .build();
    Ok(swarm)
}

/// Where the response to one of our forwarded requests goes.
type ReplySender = oneshot::Sender<Result<Vec<u8>>>;

/// A response the application has yet to give, raced against the request timeout.
type PendingResponse = BoxFuture<'static, (ResponseChannel<Vec<u8>>, Option<Vec<u8>>)>;

/// Everything [`SwarmTask::new`] takes, named so the call site reads clearly.
pub(super) struct SwarmTaskParts {
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) allow_list: AllowList,
    pub(super) peers: Vec<(PeerId, Multiaddr)>,
    pub(super) limits: NetworkLimits,
    pub(super) commands: mpsc::Receiver<Command>,
    pub(super) raft_inbound: mpsc::Sender<(PeerId, Vec<u8>)>,
    pub(super) requests_inbound: mpsc::Sender<InboundRequest>,
    pub(super) status: Arc<watch::Sender<NetworkStatus>>,
    pub(super) shutdown: Shutdown,
}

/// The swarm and everything only the swarm task may touch.
pub(super) struct SwarmTask {
    swarm: Swarm<Behaviour>,
    allow_list: AllowList,
    membership_changes: watch::Receiver<BTreeSet<PeerId>>,
    limits: NetworkLimits,
    commands: mpsc::Receiver<Command>,
    raft_inbound: mpsc::Sender<(PeerId, Vec<u8>)>,
    requests_inbound: mpsc::Sender<InboundRequest>,
    status: Arc<watch::Sender<NetworkStatus>>,
    shutdown: Shutdown,
    schedule: DialSchedule,
    /// Opens raft streams (each writer has a clone).
    raft_control: libp2p_stream::Control,
    /// Raft streams peers open to us.
    raft_incoming: libp2p_stream::IncomingStreams,
    /// The writer task of every connected peer we have sent to: its queue and its task.
    raft_writers: BTreeMap<PeerId, (mpsc::Sender<Vec<u8>>, AbortHandle)>,
    /// The reader task of every peer's raft stream (one per peer; a newer stream replaces it).
    raft_readers: BTreeMap<PeerId, AbortHandle>,
    /// Our forwarded requests awaiting a response.
    outbound_requests: BTreeMap<OutboundRequestId, ReplySender>,
    /// Peers' forwarded requests awaiting the application's response.
    pending_responses: FuturesUnordered<PendingResponse>,
}

impl SwarmTask {
    pub(super) fn new(parts: SwarmTaskParts) -> SwarmTask {
        let now = Instant::now();
        let mut schedule =
            DialSchedule::new(parts.limits.dial_backoff_min, parts.limits.dial_backoff_max);
        for (peer, address) in parts.peers {
            if !schedule.add_address(peer, address, now) {
                tracing::warn!(%peer, "dial schedule full; peer address ignored");
            }
        }
        // `subscribe` marks the current membership as seen; no connection exists yet to check against it.
        let membership_changes = parts.allow_list.subscribe();
        let mut raft_control = parts.swarm.behaviour().raft.new_control();
        let raft_incoming = raft_control
            .accept(RAFT_PROTOCOL)
            .expect("the raft protocol is registered once, here");
        SwarmTask {
            swarm: parts.swarm,
            allow_list: parts.allow_list,
            membership_changes,
            limits: parts.limits,
            commands: parts.commands,
            raft_inbound: parts.raft_inbound,
            requests_inbound: parts.requests_inbound,
            status: parts.status,
            shutdown: parts.shutdown,
            schedule,
            raft_control,
            raft_incoming,
            raft_writers: BTreeMap::new(),
            raft_readers: BTreeMap::new(),
            outbound_requests: BTreeMap::new(),
            pending_responses: FuturesUnordered::new(),
        }
    }

    /// Runs until shutdown or until every handle is dropped.
    pub(super) async fn run(self) {
        let span = tracing::info_span!("network", peer_id = %self.swarm.local_peer_id());
        self.run_loop().instrument(span).await;
    }

    async fn run_loop(mut self) {
        let mut dial_timer = tokio::time::interval(self.limits.dial_check_interval);
        dial_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tracing::info!("network started");
        loop {
            tokio::select! {
                () = self.shutdown.recv() => {
                    tracing::info!("network stopping: shutdown requested");
                    break;
                }
                command = self.commands.recv() => {
                    let Some(command) = command else {
                        tracing::info!("network stopping: every handle was dropped");
                        break;
                    };
                    self.on_command(command);
                }
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Some((peer, stream)) = self.raft_incoming.next() => self.on_raft_stream(peer, stream),
                changed = self.membership_changes.changed() => {
                    // The task holds an `AllowList`, so the sender outlives the receiver.
                    assert!(changed.is_ok(), "membership sender dropped while the task holds it");
                    self.on_membership_changed();
                }
                Some((channel, response)) = self.pending_responses.next(), if !self.pending_responses.is_empty() => {
                    self.on_application_response(channel, response);
                }
                _ = dial_timer.tick() => self.dial_due(),
            }
        }
        for (_, (_, writer)) in std::mem::take(&mut self.raft_writers) {
            writer.abort();
        }
        for (_, reader) in std::mem::take(&mut self.raft_readers) {
            reader.abort();
        }
        // Dropping the task fails every outstanding request (their reply senders drop) and releases
        // `shutdown`, which tells the controller this task is done.
    }

    fn bump(&self, update: impl FnOnce(&mut NetworkCounters)) {
        self.status
            .send_modify(|status| update(&mut status.counters));
    }

    fn is_connected(&self, peer: &PeerId) -> bool {
        self.swarm.is_connected(peer)
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::SendRaft { peer, bytes } => self.send_raft(peer, bytes),
            Command::Request { peer, bytes, reply } => self.send_request(peer, bytes, reply),
            Command::AddPeerAddress { peer, address } => {
                if !self.schedule.add_address(peer, address, Instant::now()) {
                    tracing::warn!(%peer, "dial schedule full; peer address ignored");
                }
            }
        }
    }

    /// Queues a raft message for the peer's writer (started on the first message after the
    /// peer connected); counted as sent once the writer has written it.
    fn send_raft(&mut self, peer: PeerId, bytes: Vec<u8>) {
        if !self.is_connected(&peer) {
            self.bump(|counters| counters.raft_dropped_not_connected += 1);
            return;
        }
        let queue = match self.raft_writers.get(&peer) {
            Some((queue, writer)) if !writer.is_finished() => queue,
            _ => {
                let (queue, receiver) = mpsc::channel(self.limits.raft_in_flight_per_peer_max);
                let writer = Writer {
                    peer,
                    control: self.raft_control.clone(),
                    queue: receiver,
                    status: Arc::clone(&self.status),
                    write_timeout: self.limits.request_timeout,
                };
                let task = tokio::spawn(writer.run().in_current_span());
                self.raft_writers.insert(peer, (queue, task.abort_handle()));
                &self.raft_writers[&peer].0
            }
        };
        if queue.try_send(bytes).is_err() {
            self.bump(|counters| counters.raft_dropped_in_flight += 1);
        }
    }

    /// A peer opened its raft stream to us: a reader delivers its messages (replacing the
    /// reader of an earlier stream from the same peer).
    fn on_raft_stream(&mut self, peer: PeerId, stream: Stream) {
        if !self.allow_list.contains(&peer) {
            tracing::debug!(%peer, "raft stream from a non-member refused");
            return;
        }
        let reader = Reader {
            peer,
            stream,
            deliver: self.raft_inbound.clone(),
            allow_list: self.allow_list.clone(),
            status: Arc::clone(&self.status),
            message_bytes_max: self.limits.message_bytes_max,
        };
        let task = tokio::spawn(reader.run().in_current_span());
        if let Some(previous) = self.raft_readers.insert(peer, task.abort_handle()) {
            previous.abort();
        }
    }

    /// Stops the raft tasks of a peer that is no longer connected.
    fn stop_raft_tasks(&mut self, peer: &PeerId) {
        if let Some((_, writer)) = self.raft_writers.remove(peer) {
            writer.abort();
        }
        if let Some(reader) = self.raft_readers.remove(peer) {
            reader.abort();
        }
    }

    fn send_request(&mut self, peer: PeerId, bytes: Vec<u8>, reply: ReplySender) {
        if !self.is_connected(&peer) {
            let _ = reply.send(Err(NetError::NotConnected(peer)));
            return;
        }
        if self.outbound_requests.len() >= self.limits.requests_pending_max {
            let _ = reply.send(Err(NetError::QueueFull));
            return;
        }
        let request_id = self
            .swarm
            .behaviour_mut()
            .forward
            .send_request(&peer, bytes);
        self.outbound_requests.insert(request_id, reply);
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        let now = Instant::now();
        match event {
            SwarmEvent::Behaviour(
                BehaviourEvent::ConnectionLimits(never) | BehaviourEvent::Gate(never),
            ) => match never {},
            SwarmEvent::Behaviour(BehaviourEvent::Raft(())) => {}
            SwarmEvent::Behaviour(BehaviourEvent::Forward(event)) => self.on_forward_event(event),
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                self.status
                    .send_modify(|status| status.listen_addresses.push(address));
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.status.send_modify(|status| {
                    status.listen_addresses.retain(|known| *known != address)
                });
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                tracing::info!(peer = %peer_id, address = %endpoint.get_remote_address(), "connected");
                self.schedule.on_connected(&peer_id, now);
                self.status.send_modify(|status| {
                    status.connected.insert(peer_id);
                });
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                self.schedule
                    .on_disconnected(&peer_id, num_established, now);
                if num_established == 0 {
                    tracing::info!(peer = %peer_id, cause = ?cause, "disconnected");
                    self.stop_raft_tasks(&peer_id);
                    self.status.send_modify(|status| {
                        status.connected.remove(&peer_id);
                    });
                }
            }
            SwarmEvent::IncomingConnectionError {
                error,
                send_back_addr,
                ..
            } => {
                if let ListenError::Denied { cause } = &error {
                    self.count_denial(cause);
                } else {
                    tracing::debug!(address = %send_back_addr, %error, "inbound connection failed");
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                self.on_dial_error(peer_id, &error, now)
            }
            _ => {}
        }
    }

    fn on_dial_error(&mut self, peer: Option<PeerId>, error: &DialError, now: Instant) {
        if let Some(peer) = peer {
            self.schedule.on_dial_failed(&peer, now);
        }
        self.bump(|counters| counters.dial_failures += 1);
        if let DialError::Denied { cause } = error {
            self.count_denial(cause);
        }
        tracing::debug!(peer = ?peer, %error, "dial failed");
    }

    fn count_denial(&self, cause: &ConnectionDenied) {
        if cause.downcast_ref::<NotMember>().is_some() {
            self.bump(|counters| counters.connections_denied += 1);
        } else {
            tracing::warn!(%cause, "connection refused: limit reached");
            self.bump(|counters| counters.connections_limited += 1);
        }
    }

    fn on_forward_event(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    self.deliver_request(peer, request, channel);
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.outbound_requests.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.outbound_requests.remove(&request_id) {
                    let _ = reply.send(Err(NetError::RequestFailed {
                        peer,
                        reason: error.to_string(),
                    }));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                self.bump(|counters| counters.inbound_failures += 1);
                tracing::warn!(%peer, %error, "inbound forwarded request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn deliver_request(&mut self, peer: PeerId, bytes: Vec<u8>, channel: ResponseChannel<Vec<u8>>) {
        if !self.allow_list.contains(&peer)
            || self.pending_responses.len() >= self.limits.requests_pending_max
        {
            // Dropping `channel` makes the requester see a failure.
            self.bump(|counters| counters.requests_dropped += 1);
            return;
        }
        let (sender, receiver) = oneshot::channel();
        let request = InboundRequest {
            peer,
            bytes,
            responder: Responder { sender },
        };
        if self.requests_inbound.try_send(request).is_err() {
            self.bump(|counters| counters.requests_dropped += 1);
            return;
        }
        self.bump(|counters| counters.requests_received += 1);
        let timeout = self.limits.request_timeout;
        self.pending_responses.push(Box::pin(async move {
            let response = tokio::time::timeout(timeout, receiver)
                .await
                .ok()
                .and_then(Result::ok);
            (channel, response)
        }));
    }

    fn on_application_response(
        &mut self,
        channel: ResponseChannel<Vec<u8>>,
        response: Option<Vec<u8>>,
    ) {
        match response {
            Some(bytes) => {
                if bytes.len() > self.limits.message_bytes_max as usize {
                    tracing::warn!(
                        bytes = bytes.len(),
                        "response exceeds the message limit; not sent"
                    );
                    return;
                }
                // An error means the requester has gone away; nothing is left to do.
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .forward
                    .send_response(channel, bytes);
            }
            None => tracing::debug!("forwarded request dropped or timed out without a response"),
        }
    }

    fn on_membership_changed(&mut self) {
        let members = self.membership_changes.borrow_and_update().clone();
        let removed: Vec<PeerId> = self
            .swarm
            .connected_peers()
            .filter(|peer| !members.contains(peer))
            .copied()
            .collect();
        tracing::info!(
            members = members.len(),
            disconnecting = removed.len(),
            "membership changed"
        );
        for peer in removed {
            tracing::warn!(%peer, "disconnecting peer removed from the membership");
            if self.swarm.disconnect_peer_id(peer).is_ok() {
                self.bump(|counters| counters.members_disconnected += 1);
            }
        }
    }

    fn dial_due(&mut self) {
        let now = Instant::now();
        let allow_list = &self.allow_list;
        let due = self
            .schedule
            .take_due(now, |peer| allow_list.contains(peer));
        for (peer, addresses) in due {
            let options = DialOpts::peer_id(peer)
                .addresses(addresses)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            self.bump(|counters| counters.dials_started += 1);
            tracing::debug!(%peer, "dialling");
            if let Err(error) = self.swarm.dial(options) {
                self.on_dial_error(Some(peer), &error, now);
            }
        }
    }
}
