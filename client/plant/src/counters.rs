//! Adapter counters and their Prometheus text rendering.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters, shared between the sources and the adapter core.
#[derive(Debug, Default)]
pub struct Counters {
    /// Line messages received from any source (valid or not).
    pub received: AtomicU64,
    /// Line messages refused as malformed or for an unknown line.
    pub invalid: AtomicU64,
    /// Line messages recognised as redeliveries (same message ID).
    pub redelivered: AtomicU64,
    /// Camera NOREAD lines (no identifier, no EPCIS event).
    pub noread: AtomicU64,
    /// EPCIS events written to the spool.
    pub spooled: AtomicU64,
    /// EPCIS events handed to the submitter (each attempt counts).
    pub submitted: AtomicU64,
    /// Events the ledger accepted.
    pub accepted: AtomicU64,
    /// Events the ledger already had.
    pub duplicate: AtomicU64,
    /// Events the ledger rejected.
    pub rejected: AtomicU64,
    /// Submission attempts that failed without an answer.
    pub submit_failures: AtomicU64,
    /// Gauge: events currently waiting in the spool.
    pub spool_live_events: AtomicU64,
    /// Gauge: 1 while the MQTT source is connected and subscribed.
    pub mqtt_subscribed: AtomicU64,
}

/// A point-in-time copy of [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CountersSnapshot {
    /// See [`Counters::received`].
    pub received: u64,
    /// See [`Counters::invalid`].
    pub invalid: u64,
    /// See [`Counters::redelivered`].
    pub redelivered: u64,
    /// See [`Counters::noread`].
    pub noread: u64,
    /// See [`Counters::spooled`].
    pub spooled: u64,
    /// See [`Counters::submitted`].
    pub submitted: u64,
    /// See [`Counters::accepted`].
    pub accepted: u64,
    /// See [`Counters::duplicate`].
    pub duplicate: u64,
    /// See [`Counters::rejected`].
    pub rejected: u64,
    /// See [`Counters::submit_failures`].
    pub submit_failures: u64,
    /// See [`Counters::spool_live_events`].
    pub spool_live_events: u64,
    /// See [`Counters::mqtt_subscribed`].
    pub mqtt_subscribed: u64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Copies every counter.
    pub fn snapshot(&self) -> CountersSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CountersSnapshot {
            received: get(&self.received),
            invalid: get(&self.invalid),
            redelivered: get(&self.redelivered),
            noread: get(&self.noread),
            spooled: get(&self.spooled),
            submitted: get(&self.submitted),
            accepted: get(&self.accepted),
            duplicate: get(&self.duplicate),
            rejected: get(&self.rejected),
            submit_failures: get(&self.submit_failures),
            spool_live_events: get(&self.spool_live_events),
            mqtt_subscribed: get(&self.mqtt_subscribed),
        }
    }
}

/// Renders a snapshot in the Prometheus text exposition format (0.0.4).
pub fn render_prometheus(snapshot: &CountersSnapshot) -> String {
    let counters: [(&str, &str, u64); 10] = [
        (
            "received",
            "Line messages received from any source.",
            snapshot.received,
        ),
        (
            "invalid",
            "Line messages refused as malformed or for an unknown line.",
            snapshot.invalid,
        ),
        (
            "redelivered",
            "Line messages recognised as redeliveries.",
            snapshot.redelivered,
        ),
        ("noread", "Camera NOREAD lines.", snapshot.noread),
        (
            "spooled",
            "EPCIS events written to the spool.",
            snapshot.spooled,
        ),
        (
            "submitted",
            "EPCIS events handed to the submitter, retries included.",
            snapshot.submitted,
        ),
        (
            "accepted",
            "EPCIS events accepted by the ledger.",
            snapshot.accepted,
        ),
        (
            "duplicate",
            "EPCIS events the ledger already had.",
            snapshot.duplicate,
        ),
        (
            "rejected",
            "EPCIS events rejected by the ledger.",
            snapshot.rejected,
        ),
        (
            "submit_failures",
            "Submission attempts that failed without an answer.",
            snapshot.submit_failures,
        ),
    ];
    let mut out = String::new();
    for (name, help, value) in counters {
        out.push_str(&format!(
            "# HELP pedigree_plant_{name}_total {help}\n# TYPE pedigree_plant_{name}_total counter\npedigree_plant_{name}_total {value}\n"
        ));
    }
    out.push_str(&format!(
        "# HELP pedigree_plant_spool_live_events EPCIS events waiting in the spool.\n# TYPE pedigree_plant_spool_live_events gauge\npedigree_plant_spool_live_events {}\n",
        snapshot.spool_live_events
    ));
    out.push_str(&format!(
        "# HELP pedigree_plant_mqtt_subscribed 1 while the MQTT source is connected and subscribed.\n# TYPE pedigree_plant_mqtt_subscribed gauge\npedigree_plant_mqtt_subscribed {}\n",
        snapshot.mqtt_subscribed
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text() {
        let counters = Counters::default();
        Counters::add(&counters.accepted, 3);
        counters.spool_live_events.store(2, Ordering::Relaxed);
        let text = render_prometheus(&counters.snapshot());
        assert!(text.contains(
            "# TYPE pedigree_plant_accepted_total counter\npedigree_plant_accepted_total 3\n"
        ));
        assert!(text.contains("pedigree_plant_spool_live_events 2\n"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 12);
    }
}
