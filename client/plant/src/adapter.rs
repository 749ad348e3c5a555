//! The adapter core: one task that owns the batcher, the spool and the
//! submitter, and selects over inbound line messages, batch deadlines,
//! submission retries and shutdown.
//!
//! Order of operations for a line message:
//! 1. deduplicate by message ID (spool index and open batches);
//! 2. map it (verified prints are batched; any other event first closes the
//!    open batches of its line so the ledger sees commissioning before
//!    packing, destruction or shipping);
//! 3. append the resulting EPCIS events to the spool (one fsync);
//! 4. only then answer the source with a [`Receipt`], which acknowledges
//!    the message to the device (MQTT PUBACK, TCP `ACK`).
//!
//! Submission runs from the same loop: the oldest live events go to the
//! [`Submitter`] in spool order; a definite answer marks them done, a
//! failure or timeout schedules a retry with exponential backoff.
//!
//! The spool's fsyncs run on this task on purpose: nothing may be
//! acknowledged before they return, and the sources keep reading (up to
//! [`INBOUND_QUEUE_MAX`] messages) on other tasks meanwhile. Run it on a
//! multi-threaded runtime so a slow disk does not stall the sources.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::counters::Counters;
use crate::error::{InvalidMessage, SpoolError, SubmitError};
use crate::line::{LineEvent, LineMessage};
use crate::mapping::{BatchLimits, Batcher, ClosedBatch, LineContext, MappedEvent, single_event};
use crate::spool::{NewEvent, Spool};
use crate::submit::{EventOutcome, Submitter};

/// Capacity of the inbound channel from the sources to the core.
pub const INBOUND_QUEUE_MAX: usize = 1024;

/// What happened to a line message; sent back to its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// Durably spooled: acknowledge it to the device.
    Stored,
    /// Seen before (already spooled): acknowledge it to the device.
    Duplicate,
    /// Refused (unknown line, bad identifiers): acknowledge it so it is not
    /// redelivered forever, and tell the device why where the protocol can.
    Refused(String),
}

/// A line message from a source, with the channel for its receipt. A
/// dropped receipt sender (adapter stopped) means *not stored*: the source
/// must not acknowledge.
#[derive(Debug)]
pub struct Inbound {
    /// The message.
    pub message: LineMessage,
    /// Where to send the receipt, if the source wants one.
    pub receipt: Option<oneshot::Sender<Receipt>>,
}

/// Tuning of the core loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdapterSettings {
    /// Commissioning batch limits.
    pub batch: BatchLimits,
    /// Most events per submission.
    pub submit_events_max: usize,
    /// Longest a submission may take before it counts as failed.
    pub submit_timeout: Duration,
    /// First retry delay after a failed submission.
    pub retry_backoff_min: Duration,
    /// Longest retry delay.
    pub retry_backoff_max: Duration,
}

impl Default for AdapterSettings {
    fn default() -> Self {
        Self {
            batch: BatchLimits {
                epcs_per_event_max: 500,
                batch_age_ms_max: 1_000,
            },
            submit_events_max: 100,
            submit_timeout: Duration::from_secs(30),
            retry_backoff_min: Duration::from_millis(500),
            retry_backoff_max: Duration::from_secs(60),
        }
    }
}

/// Why the core stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The shutdown signal fired; live events stay in the spool.
    Shutdown,
    /// Every source closed and the spool drained completely.
    Drained,
}

type ReceiptSender = Option<oneshot::Sender<Receipt>>;

/// The adapter core (see the module documentation).
pub struct Adapter<S: Submitter> {
    lines: BTreeMap<String, LineContext>,
    settings: AdapterSettings,
    spool: Spool,
    submitter: S,
    counters: Arc<Counters>,
    batcher: Batcher<ReceiptSender>,
    started: Instant,
    retry_at: Option<Instant>,
    backoff: Duration,
    rejected_log: PathBuf,
}

impl<S: Submitter> std::fmt::Debug for Adapter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter")
            .field("lines", &self.lines.keys().collect::<Vec<_>>())
            .field("spool_live", &self.spool.live_len())
            .finish_non_exhaustive()
    }
}

impl<S: Submitter> Adapter<S> {
    /// Builds the core. Rejected events are also appended to
    /// `rejected.jsonl` next to the spool file, for the operators.
    pub fn new(
        lines: Vec<LineContext>,
        settings: AdapterSettings,
        spool: Spool,
        submitter: S,
        counters: Arc<Counters>,
    ) -> Self {
        let rejected_log = spool
            .path()
            .parent()
            .map(|d| d.join("rejected.jsonl"))
            .unwrap_or_else(|| PathBuf::from("rejected.jsonl"));
        counters
            .spool_live_events
            .store(spool.live_len() as u64, Ordering::Relaxed);
        Self {
            lines: lines.into_iter().map(|c| (c.line.clone(), c)).collect(),
            settings,
            spool,
            submitter,
            counters,
            batcher: Batcher::new(settings.batch),
            started: Instant::now(),
            retry_at: None,
            backoff: settings.retry_backoff_min,
            rejected_log,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs until shutdown (live events stay spooled) or until every
    /// source has closed and the spool has drained. A spool failure stops
    /// the core with an error: nothing more is acknowledged.
    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<StopReason, SpoolError> {
        let mut sources_open = true;
        loop {
            if *shutdown.borrow() {
                return self.stop().await;
            }
            if !sources_open && self.spool.live_len() == 0 && self.batcher.open_units() == 0 {
                return Ok(StopReason::Drained);
            }
            let batch_deadline = self
                .batcher
                .next_deadline_ms()
                .map(|ms| self.started + Duration::from_millis(ms));
            let submit_at = if self.spool.live_len() > 0 {
                Some(self.retry_at.unwrap_or_else(Instant::now))
            } else {
                None
            };
            let accepting = sources_open && !self.spool.is_full();
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        // The sender is gone: treat as shutdown.
                        return self.stop().await;
                    }
                }
                received = inbound.recv(), if accepting => match received {
                    Some(inbound) => self.handle(inbound)?,
                    None => {
                        sources_open = false;
                        let closed = self.batcher.take_all(&self.lines);
                        self.spool_batches(closed)?;
                    }
                },
                () = sleep_until_option(batch_deadline), if batch_deadline.is_some() => {
                    let now_ms = self.now_ms();
                    let closed = self.batcher.take_expired(&self.lines, now_ms);
                    self.spool_batches(closed)?;
                }
                () = sleep_until_option(submit_at), if submit_at.is_some() => {
                    self.submit_once().await?;
                }
            }
        }
    }

    async fn stop(mut self) -> Result<StopReason, SpoolError> {
        let closed = self.batcher.take_all(&self.lines);
        self.spool_batches(closed)?;
        if self.spool.live_len() > 0 && self.retry_at.is_none() {
            // One last attempt; whatever remains waits in the spool.
            self.submit_once().await?;
        }
        Ok(StopReason::Shutdown)
    }

    fn refuse(&self, receipt: ReceiptSender, message: &LineMessage, reason: &InvalidMessage) {
        Counters::add(&self.counters.invalid, 1);
        tracing::warn!(line = %message.line, device = %message.device, message_id = %message.message_id, %reason, "line message refused");
        if let Some(sender) = receipt {
            let _ = sender.send(Receipt::Refused(reason.to_string()));
        }
    }

    fn handle(&mut self, inbound: Inbound) -> Result<(), SpoolError> {
        let Inbound { message, receipt } = inbound;
        let Some(context) = self.lines.get(&message.line).cloned() else {
            let reason = InvalidMessage::new(format!("line {:?} is not configured", message.line));
            self.refuse(receipt, &message, &reason);
            return Ok(());
        };
        if self.spool.has_message(&message.message_id) {
            Counters::add(&self.counters.redelivered, 1);
            if let Some(sender) = receipt {
                let _ = sender.send(Receipt::Duplicate);
            }
            return Ok(());
        }
        if self.batcher.holds_message(&message.message_id) {
            // Redelivered while its batch is still open: close the batch so
            // the answer can be given after the spool write.
            Counters::add(&self.counters.redelivered, 1);
            let closed = self.batcher.take_line(&self.lines, &message.line);
            self.spool_batches(closed)?;
            if let Some(sender) = receipt {
                let _ = sender.send(Receipt::Duplicate);
            }
            return Ok(());
        }
        match &message.event {
            LineEvent::Printed(unit) => {
                if let Err(reason) = context.sgtin(&unit.pack) {
                    self.refuse(receipt, &message, &reason);
                    return Ok(());
                }
                let now_ms = self.now_ms();
                match self.batcher.add(
                    &context,
                    message.message_id.clone(),
                    unit.clone(),
                    message.device_time.clone(),
                    receipt,
                    now_ms,
                ) {
                    Ok(Some(closed)) => self.spool_batches(vec![Ok(closed)]),
                    Ok(None) => Ok(()),
                    Err(reason) => {
                        // Unreachable after the check above; if it ever
                        // happens the receipt is dropped and the source does
                        // not acknowledge, so nothing is lost.
                        Counters::add(&self.counters.invalid, 1);
                        tracing::warn!(line = %message.line, message_id = %message.message_id, %reason, "verified print refused");
                        Ok(())
                    }
                }
            }
            other => match single_event(&context, &message) {
                Ok(event) => {
                    if let LineEvent::Rejected { pack, reason } = other {
                        // The reason is not part of the EPCIS event; the log keeps it.
                        tracing::info!(line = %message.line, device = %message.device, gtin = %pack.gtin, serial = %pack.serial, %reason, "code rejected on the line");
                    }
                    let mut closed = self.batcher.take_line(&self.lines, &message.line);
                    closed.push(Ok(ClosedBatch {
                        mapped: MappedEvent {
                            line: message.line.clone(),
                            message_ids: vec![message.message_id.clone()],
                            event,
                        },
                        attachments: vec![receipt],
                    }));
                    self.spool_batches(closed)
                }
                Err(reason) => {
                    self.refuse(receipt, &message, &reason);
                    Ok(())
                }
            },
        }
    }

    fn spool_batches(
        &mut self,
        closed: Vec<Result<ClosedBatch<ReceiptSender>, InvalidMessage>>,
    ) -> Result<(), SpoolError> {
        let mut events = Vec::with_capacity(closed.len());
        let mut receipts = Vec::new();
        for batch in closed {
            match batch {
                Ok(batch) => {
                    events.push(NewEvent {
                        line: batch.mapped.line,
                        message_ids: batch.mapped.message_ids,
                        event: batch.mapped.event,
                    });
                    receipts.extend(batch.attachments.into_iter().flatten());
                }
                Err(reason) => {
                    // Units are validated on entry, so this is a bug; the
                    // receipts are gone and the devices will redeliver.
                    tracing::error!(%reason, "closing a commissioning batch failed");
                }
            }
        }
        if events.is_empty() {
            return Ok(());
        }
        let spooled = self.spool.append(events)?;
        Counters::add(&self.counters.spooled, spooled.len() as u64);
        self.counters
            .spool_live_events
            .store(self.spool.live_len() as u64, Ordering::Relaxed);
        for sender in receipts {
            let _ = sender.send(Receipt::Stored);
        }
        Ok(())
    }

    async fn submit_once(&mut self) -> Result<(), SpoolError> {
        let batch: Vec<_> = self
            .spool
            .live()
            .iter()
            .take(self.settings.submit_events_max)
            .cloned()
            .collect();
        let Some(last) = batch.last() else {
            return Ok(());
        };
        let last_seq = last.seq;
        Counters::add(&self.counters.submitted, batch.len() as u64);
        let answer =
            match tokio::time::timeout(self.settings.submit_timeout, self.submitter.submit(&batch))
                .await
            {
                Ok(Ok(outcomes)) if outcomes.len() == batch.len() => Ok(outcomes),
                Ok(Ok(outcomes)) => Err(SubmitError::OutcomeCount {
                    expected: batch.len(),
                    got: outcomes.len(),
                }),
                Ok(Err(error)) => Err(error),
                Err(_) => Err(SubmitError::Transport(format!(
                    "no answer within {} ms",
                    self.settings.submit_timeout.as_millis()
                ))),
            };
        match answer {
            Ok(outcomes) => {
                for (event, outcome) in batch.iter().zip(&outcomes) {
                    match outcome {
                        EventOutcome::Accepted => Counters::add(&self.counters.accepted, 1),
                        EventOutcome::Duplicate => Counters::add(&self.counters.duplicate, 1),
                        EventOutcome::Rejected { code, message } => {
                            Counters::add(&self.counters.rejected, 1);
                            tracing::warn!(event_id = %event.event_id, line = %event.line, %code, %message, "ledger rejected event");
                            self.log_rejection(event, code, message)?;
                        }
                    }
                }
                self.spool.mark_done(last_seq)?;
                self.counters
                    .spool_live_events
                    .store(self.spool.live_len() as u64, Ordering::Relaxed);
                self.retry_at = None;
                self.backoff = self.settings.retry_backoff_min;
            }
            Err(error) => {
                Counters::add(&self.counters.submit_failures, 1);
                tracing::warn!(%error, events = batch.len(), retry_in_ms = self.backoff.as_millis() as u64, "submission failed");
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(self.settings.retry_backoff_max);
            }
        }
        Ok(())
    }

    fn log_rejection(
        &self,
        event: &crate::spool::SpooledEvent,
        code: &str,
        message: &str,
    ) -> Result<(), SpoolError> {
        let line = serde_json::json!({
            "event_id": event.event_id,
            "line": event.line,
            "message_ids": event.message_ids,
            "code": code,
            "message": message,
        });
        let io = |source| SpoolError::Io {
            path: self.rejected_log.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.rejected_log)
            .map_err(io)?;
        file.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)
    }
}

async fn sleep_until_option(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Creates the inbound channel sources and core share.
pub fn inbound_channel() -> (mpsc::Sender<Inbound>, mpsc::Receiver<Inbound>) {
    mpsc::channel(INBOUND_QUEUE_MAX)
}
