//! The dial schedule: which known peers to (re)dial and when, with exponential backoff.
//!
//! This is pure bookkeeping with no I/O, so it is unit-tested with synthetic instants;
//! the swarm task feeds it connection events and asks it which dials are due.
//!
//! A peer's backoff doubles after every failed dial and after every connection that closed quickly,
//! up to the maximum. It resets to the minimum only after a connection lived at least the maximum backoff,
//! so a peer that accepts and then immediately drops us (for example because we are no longer a member there)
//! is retried ever more slowly instead of being hammered.

use std::collections::BTreeMap;
use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use tokio::time::Instant;

/// The most addresses remembered per peer; older ones are forgotten first.
pub const ADDRESSES_PER_PEER_MAX: usize = 8;

/// The most peers the schedule remembers; a membership is far smaller.
pub const PEERS_MAX: usize = 1024;

#[derive(Debug)]
struct PeerDial {
    addresses: Vec<Multiaddr>,
    backoff: Duration,
    next_dial_at: Instant,
    dialing: bool,
    connections: u32,
    connected_since: Option<Instant>,
}

/// Dial state for every peer with a known address.
#[derive(Debug)]
pub(crate) struct DialSchedule {
    peers: BTreeMap<PeerId, PeerDial>,
    backoff_min: Duration,
    backoff_max: Duration,
}

impl DialSchedule {
    pub(crate) fn new(backoff_min: Duration, backoff_max: Duration) -> DialSchedule {
        assert!(
            !backoff_min.is_zero(),
            "a zero backoff would dial in a busy loop"
        );
        assert!(backoff_min <= backoff_max);
        DialSchedule {
            peers: BTreeMap::new(),
            backoff_min,
            backoff_max,
        }
    }

    /// Remembers an address for `peer`; the peer becomes due for a dial at once if it is not connected.
    /// Returns false if the peer table is full.
    pub(crate) fn add_address(&mut self, peer: PeerId, address: Multiaddr, now: Instant) -> bool {
        if !self.peers.contains_key(&peer) && self.peers.len() >= PEERS_MAX {
            return false;
        }
        let backoff_min = self.backoff_min;
        let entry = self.peers.entry(peer).or_insert_with(|| PeerDial {
            addresses: Vec::new(),
            backoff: backoff_min,
            next_dial_at: now,
            dialing: false,
            connections: 0,
            connected_since: None,
        });
        if !entry.addresses.contains(&address) {
            if entry.addresses.len() == ADDRESSES_PER_PEER_MAX {
                entry.addresses.remove(0);
            }
            entry.addresses.push(address);
        }
        true
    }

    /// Returns the peers whose next dial is due, marking them as being dialled.
    /// `is_member` filters out peers that are not in the current membership.
    pub(crate) fn take_due(
        &mut self,
        now: Instant,
        is_member: impl Fn(&PeerId) -> bool,
    ) -> Vec<(PeerId, Vec<Multiaddr>)> {
        let mut due = Vec::new();
        for (peer, state) in &mut self.peers {
            if state.dialing
                || state.connections > 0
                || state.next_dial_at > now
                || !is_member(peer)
            {
                continue;
            }
            state.dialing = true;
            due.push((*peer, state.addresses.clone()));
        }
        due
    }

    /// Records a failed dial: the next attempt waits for the current backoff, which then doubles.
    pub(crate) fn on_dial_failed(&mut self, peer: &PeerId, now: Instant) {
        let backoff_max = self.backoff_max;
        if let Some(state) = self.peers.get_mut(peer) {
            state.dialing = false;
            if state.connections == 0 {
                state.next_dial_at = now + state.backoff;
                state.backoff = (state.backoff * 2).min(backoff_max);
            }
        }
    }

    /// Records an established connection (inbound or outbound).
    pub(crate) fn on_connected(&mut self, peer: &PeerId, now: Instant) {
        if let Some(state) = self.peers.get_mut(peer) {
            state.dialing = false;
            state.connections += 1;
            state.connected_since.get_or_insert(now);
        }
    }

    /// Records a closed connection; `remaining` is how many connections with the peer are still open.
    pub(crate) fn on_disconnected(&mut self, peer: &PeerId, remaining: u32, now: Instant) {
        let (backoff_min, backoff_max) = (self.backoff_min, self.backoff_max);
        let Some(state) = self.peers.get_mut(peer) else {
            return;
        };
        state.connections = remaining;
        if remaining > 0 {
            return;
        }
        let lived = state
            .connected_since
            .take()
            .map_or(Duration::ZERO, |since| now - since);
        if lived >= backoff_max {
            state.backoff = backoff_min;
        }
        state.next_dial_at = now + state.backoff;
        state.backoff = (state.backoff * 2).min(backoff_max);
    }

    /// When the earliest pending dial falls due, if any peer is waiting.
    #[cfg(test)]
    fn next_due(&self) -> Option<Instant> {
        self.peers
            .values()
            .filter(|state| !state.dialing && state.connections == 0)
            .map(|state| state.next_dial_at)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_millis(800);

    fn address() -> Multiaddr {
        "/ip4/127.0.0.1/tcp/1".parse().unwrap()
    }

    #[test]
    fn failed_dials_back_off_exponentially_up_to_the_maximum() {
        let start = Instant::now();
        let peer = PeerId::random();
        let mut schedule = DialSchedule::new(MIN, MAX);
        assert!(schedule.add_address(peer, address(), start));
        assert_eq!(
            schedule.take_due(start, |_| true),
            vec![(peer, vec![address()])]
        );
        assert!(
            schedule.take_due(start, |_| true).is_empty(),
            "a dial in flight is not repeated"
        );

        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..6 {
            schedule.on_dial_failed(&peer, now);
            let due = schedule.next_due().unwrap();
            waits.push(due - now);
            assert!(
                schedule
                    .take_due(due - Duration::from_millis(1), |_| true)
                    .is_empty()
            );
            assert_eq!(schedule.take_due(due, |_| true).len(), 1);
            now = due;
        }
        let millis: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, vec![100, 200, 400, 800, 800, 800]);
    }

    #[test]
    fn long_lived_connection_resets_backoff_and_short_one_does_not() {
        let start = Instant::now();
        let peer = PeerId::random();
        let mut schedule = DialSchedule::new(MIN, MAX);
        schedule.add_address(peer, address(), start);
        schedule.take_due(start, |_| true);
        schedule.on_dial_failed(&peer, start);
        schedule.on_dial_failed(&peer, start); // backoff is now 400 ms

        schedule.on_connected(&peer, start);
        assert!(
            schedule.take_due(start + MAX * 10, |_| true).is_empty(),
            "connected peers are not dialled"
        );
        schedule.on_disconnected(&peer, 0, start + Duration::from_millis(10));
        assert_eq!(
            schedule.next_due().unwrap(),
            start + Duration::from_millis(10 + 400)
        );

        let later = start + Duration::from_secs(10);
        schedule.take_due(later, |_| true);
        schedule.on_connected(&peer, later);
        schedule.on_disconnected(&peer, 0, later + MAX);
        assert_eq!(schedule.next_due().unwrap(), later + MAX + MIN);
    }

    #[test]
    fn non_members_and_multi_connection_peers_are_skipped() {
        let now = Instant::now();
        let peer = PeerId::random();
        let mut schedule = DialSchedule::new(MIN, MAX);
        schedule.add_address(peer, address(), now);
        assert!(schedule.take_due(now, |_| false).is_empty());
        schedule.on_connected(&peer, now);
        schedule.on_connected(&peer, now);
        schedule.on_disconnected(&peer, 1, now);
        assert!(
            schedule.take_due(now + MAX, |_| true).is_empty(),
            "one connection is still open"
        );
    }

    #[test]
    fn addresses_are_bounded_and_deduplicated() {
        let now = Instant::now();
        let peer = PeerId::random();
        let mut schedule = DialSchedule::new(MIN, MAX);
        for port in 0..20_u16 {
            let address: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
            schedule.add_address(peer, address.clone(), now);
            schedule.add_address(peer, address, now);
        }
        let due = schedule.take_due(now, |_| true);
        assert_eq!(due[0].1.len(), ADDRESSES_PER_PEER_MAX);
        assert_eq!(
            due[0].1[0],
            "/ip4/127.0.0.1/tcp/12".parse::<Multiaddr>().unwrap()
        );
    }
}
