//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)] // Each test binary uses a subset.

use std::time::Duration;

use pedigree_gs1::Gln;
use pedigree_plant::error::SubmitError;
use pedigree_plant::mapping::{BatchLimits, LineContext};
use pedigree_plant::{AdapterSettings, EventOutcome, SpooledEvent, Submitter};
use tokio::sync::mpsc;

/// A submitter that accepts everything and reports each event on a channel.
pub struct CollectingSubmitter(pub mpsc::UnboundedSender<SpooledEvent>);

impl Submitter for CollectingSubmitter {
    async fn submit(&mut self, batch: &[SpooledEvent]) -> Result<Vec<EventOutcome>, SubmitError> {
        for event in batch {
            let _ = self.0.send(event.clone());
        }
        Ok(vec![EventOutcome::Accepted; batch.len()])
    }
}

pub fn context(line: &str) -> LineContext {
    LineContext::new(line, &Gln::parse("0614141000005").unwrap(), 7, 7).unwrap()
}

pub fn settings() -> AdapterSettings {
    AdapterSettings {
        batch: BatchLimits {
            epcs_per_event_max: 16,
            batch_age_ms_max: 50,
        },
        submit_events_max: 10,
        submit_timeout: Duration::from_secs(5),
        retry_backoff_min: Duration::from_millis(5),
        retry_backoff_max: Duration::from_millis(50),
    }
}

/// Receives `count` events or fails after `deadline`.
pub async fn receive_events(
    receiver: &mut mpsc::UnboundedReceiver<SpooledEvent>,
    count: usize,
    deadline: Duration,
) -> Vec<SpooledEvent> {
    let mut events = Vec::with_capacity(count);
    let collect = async {
        while events.len() < count {
            match receiver.recv().await {
                Some(event) => events.push(event),
                None => break,
            }
        }
    };
    let finished = tokio::time::timeout(deadline, collect).await;
    assert!(
        finished.is_ok(),
        "expected {count} events in {deadline:?}, got {}",
        events.len()
    );
    events
}

pub fn biz_step(event: &SpooledEvent) -> &str {
    event
        .event
        .biz_step
        .as_ref()
        .map(|b| b.as_str())
        .unwrap_or("")
}
