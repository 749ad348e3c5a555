//! Membership gating: only peers in the current [`AllowList`] may hold a connection to this node.
//!
//! A node's identity is its libp2p peer id; the membership (from genesis, later from committed
//! configuration changes) is the set of peer ids allowed to connect.
//! [`MembershipGate`] is a `NetworkBehaviour` that consults the shared list for every connection:
//! inbound connections are denied once the Noise handshake has authenticated the remote peer id,
//! outbound dials to non-members are denied before any socket is opened.
//!
//! The list is a `tokio::sync::watch` channel: the gate reads the current value synchronously,
//! and the swarm task waits on `changed()` to disconnect peers that were removed.
//! So an update applies to new connections immediately and to existing ones within one swarm-loop turn.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::watch;

/// The set of peer ids allowed to connect; cheap to clone, every clone sees every update.
#[derive(Debug, Clone)]
pub struct AllowList {
    members: Arc<watch::Sender<BTreeSet<PeerId>>>,
}

impl AllowList {
    /// Creates a list holding `members`.
    pub fn new(members: impl IntoIterator<Item = PeerId>) -> AllowList {
        let (sender, _) = watch::channel(members.into_iter().collect());
        AllowList {
            members: Arc::new(sender),
        }
    }

    /// Whether `peer` is currently a member.
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.members.borrow().contains(peer)
    }

    /// A copy of the current members.
    pub fn members(&self) -> BTreeSet<PeerId> {
        self.members.borrow().clone()
    }

    /// Adds `peer`; returns whether it was newly added.
    pub fn insert(&self, peer: PeerId) -> bool {
        self.members
            .send_if_modified(|members| members.insert(peer))
    }

    /// Removes `peer` (its connections are closed by the swarm task); returns whether it was a member.
    pub fn remove(&self, peer: &PeerId) -> bool {
        self.members
            .send_if_modified(|members| members.remove(peer))
    }

    /// Replaces the whole membership, for example after a committed configuration change.
    pub fn replace(&self, members: BTreeSet<PeerId>) {
        self.members.send_if_modified(|current| {
            let changed = *current != members;
            *current = members;
            changed
        });
    }

    /// A receiver that is notified after every change.
    pub fn subscribe(&self) -> watch::Receiver<BTreeSet<PeerId>> {
        self.members.subscribe()
    }
}

/// Why a connection was denied: the peer is not in the membership.
#[derive(Debug)]
pub struct NotMember {
    /// The refused peer.
    pub peer: PeerId,
}

impl fmt::Display for NotMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer {} is not a member of the network", self.peer)
    }
}

impl std::error::Error for NotMember {}

/// A `NetworkBehaviour` that denies every connection with a peer outside the [`AllowList`].
#[derive(Debug)]
pub struct MembershipGate {
    allow_list: AllowList,
}

impl MembershipGate {
    /// Creates a gate that consults `allow_list` for every connection.
    pub fn new(allow_list: AllowList) -> MembershipGate {
        MembershipGate { allow_list }
    }

    fn enforce(
        &self,
        peer: PeerId,
        direction: &str,
        address: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        if self.allow_list.contains(&peer) {
            return Ok(());
        }
        tracing::warn!(%peer, %address, direction, "connection refused: peer is not a member");
        Err(ConnectionDenied::new(NotMember { peer }))
    }
}

impl NetworkBehaviour for MembershipGate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        peer: PeerId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.enforce(peer, "inbound", remote_addr)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        _effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        // Dials without a peer id are checked once the handshake reveals it, in the established hook.
        if let Some(peer) = maybe_peer {
            let address = addresses.first().cloned().unwrap_or_else(Multiaddr::empty);
            self.enforce(peer, "outbound", &address)?;
        }
        Ok(Vec::new())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.enforce(peer, "outbound", addr)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, _event: FromSwarm<'_>) {}

    fn on_connection_handler_event(
        &mut self,
        _peer_id: PeerId,
        _connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(
        &mut self,
        _cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        // Removed members are disconnected by the swarm task, which owns the watch receiver.
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_shared_and_notified() {
        let first = PeerId::random();
        let second = PeerId::random();
        let list = AllowList::new([first]);
        let clone = list.clone();
        let mut receiver = list.subscribe();
        assert!(clone.contains(&first));
        assert!(!clone.contains(&second));

        assert!(list.insert(second));
        assert!(clone.contains(&second));
        assert!(receiver.has_changed().unwrap());
        receiver.mark_unchanged();

        assert!(!list.insert(second), "a second insert is a no-op");
        assert!(!receiver.has_changed().unwrap(), "no-ops do not notify");

        assert!(clone.remove(&first));
        assert_eq!(list.members(), BTreeSet::from([second]));
        list.replace(BTreeSet::new());
        assert!(list.members().is_empty());
    }
}
