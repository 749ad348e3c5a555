//! The applier: a thread of its own that applies committed Raft entries to the ledger, in
//! commit order, while the event loop goes on persisting, sending and acknowledging Raft
//! messages.
//!
//! Applying a block is the expensive part of a transaction's path (every node verifies every
//! signature, runs the chaincode and writes the block, its receipts and indexes). Done inside
//! the event loop it held up everything behind it: a follower's acknowledgement of the next
//! entries waited until it had applied the previous ones, and the leader's next appends waited
//! for its own apply, so blocks moved through the network one at a time. Here the loop hands
//! [`Job`]s over a channel and goes back to Raft; the applier reports each step as a [`Done`]
//! that the loop turns into resolved waiters, membership refreshes and the published head.
//!
//! **Group commit.** When several committed entries are waiting, the applier takes them all
//! (up to [`GROUP_ENTRIES_MAX`] entries or [`GROUP_BYTES_MAX`] payload bytes) and applies them
//! in one RocksDB write ([`LedgerStore::apply_entries`]). The result is the same as applying
//! them one by one.
//!
//! **Order and crash safety.** Jobs are applied strictly in the order sent, restores and
//! membership entries included. Applied entries reach the disk when RocksDB flushes (they skip
//! its write-ahead log, see [`LedgerStore`]'s *Durability*): a crash loses at most entries
//! that are still in the Raft log (the log is compacted only up to the ledger's durable applied
//! index, see [`super::event_loop`]), and the node replays them at start.
//!
//! **Backpressure.** The loop counts the jobs outstanding; past
//! [`super::event_loop::APPLY_BACKLOG_MAX`] it stops taking inputs until the applier has caught
//! up by half, so a node that commits faster than it applies does not queue without bound.
//!
//! **Stopping.** When the loop drops its [`Applier`], the thread finishes every job already
//! queued (accepted data is never dropped) and exits; [`Applier::finish`] waits for it.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use pedigree_consensus::DEFERRED_SNAPSHOT;
use pedigree_consensus::eraftpb::ConfState;
use tokio::sync::mpsc;

use super::store::{AppliedBlock, Head, LedgerStore};
use super::{LedgerError, Result};

/// Most entries applied in one write.
pub const GROUP_ENTRIES_MAX: usize = 64;
/// Most payload bytes applied in one write (past it the group is closed after the entry).
pub const GROUP_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Work for the applier, in commit order.
#[derive(Debug)]
pub enum Job {
    /// A committed normal entry: its block proposals' payloads (none for a leader's no-op).
    Entry {
        /// Raft log index.
        index: u64,
        /// The proposals' payloads, in order.
        payloads: Vec<Vec<u8>>,
    },
    /// A committed membership change: only the applied index moves.
    Membership {
        /// Raft log index.
        index: u64,
        /// The configuration after it (for the log line).
        conf_state: ConfState,
    },
    /// Replace the ledger with a snapshot taken at `index`.
    Restore {
        /// The last index the snapshot covers.
        index: u64,
        /// The snapshot bytes.
        data: Vec<u8>,
    },
}

/// What the applier did, in the order of the jobs; `jobs` says how many jobs it covers.
#[derive(Debug)]
pub enum Done {
    /// Entries applied in one write; `blocks` in order.
    Blocks {
        /// The head after the last entry.
        head: Head,
        /// The blocks the entries held.
        blocks: Vec<AppliedBlock>,
        /// Jobs (entries) covered, including replays that were skipped.
        jobs: usize,
        /// Entries newly applied.
        entries: u64,
        /// Time spent, for the debug log.
        micros: u64,
    },
    /// A membership entry applied.
    Membership {
        /// The head after it.
        head: Head,
        /// The entry's index.
        index: u64,
        /// The configuration after it.
        conf_state: ConfState,
        /// False if the entry was a replay (already applied before a restart).
        new: bool,
    },
    /// A snapshot restored (or skipped because the ledger was already past it: `new` false).
    Restored {
        /// The head after it.
        head: Head,
        /// The snapshot's index.
        index: u64,
        /// False if the ledger was already at or past `index`.
        new: bool,
    },
    /// A storage failure: the applier stopped, and the node must stop too.
    Failed(LedgerError),
}

impl Done {
    /// How many jobs this covers.
    pub fn jobs(&self) -> usize {
        match self {
            Done::Blocks { jobs, .. } => *jobs,
            Done::Membership { .. } | Done::Restored { .. } | Done::Failed(_) => 1,
        }
    }
}

/// The event loop's side of the applier.
pub struct Applier {
    jobs: std_mpsc::Sender<Job>,
    thread: JoinHandle<()>,
    /// Jobs sent and not yet reported done.
    outstanding: usize,
}

impl Applier {
    /// Starts the thread, applying on top of `head` (the ledger's head as opened); reports go
    /// to the returned receiver.
    ///
    /// # Errors
    ///
    /// The thread could not be spawned.
    pub fn start(
        store: Arc<LedgerStore>,
        head: Head,
        raft_id: u64,
    ) -> Result<(Applier, mpsc::UnboundedReceiver<Done>)> {
        let (jobs, job_receiver) = std_mpsc::channel();
        let (done_sender, done) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name(format!("applier-{raft_id}"))
            .spawn(move || run(&store, head, &job_receiver, &done_sender))
            .map_err(|error| LedgerError::Corrupt(format!("cannot start the applier: {error}")))?;
        Ok((
            Applier {
                jobs,
                thread,
                outstanding: 0,
            },
            done,
        ))
    }

    /// Queues a job.
    ///
    /// # Errors
    ///
    /// The applier has stopped (after reporting [`Done::Failed`]).
    pub fn send(&mut self, job: Job) -> Result<()> {
        self.jobs.send(job).map_err(|_| applier_stopped())?;
        self.outstanding += 1;
        Ok(())
    }

    /// Records a report received from the applier.
    pub fn received(&mut self, done: &Done) {
        self.outstanding = self.outstanding.saturating_sub(done.jobs());
    }

    /// Jobs sent and not yet reported done.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Lets the thread finish the queued jobs and waits for it (blocking: call from a
    /// blocking context).
    pub fn finish(self) {
        drop(self.jobs);
        if self.thread.join().is_err() {
            tracing::error!("the applier thread panicked");
        }
    }
}

/// The error of a call that needs the applier after it stopped (it reported
/// [`Done::Failed`] first, or the loop is shutting down).
pub fn applier_stopped() -> LedgerError {
    LedgerError::Corrupt("the applier has stopped".into())
}

fn run(
    store: &LedgerStore,
    mut head: Head,
    jobs: &std_mpsc::Receiver<Job>,
    done: &mpsc::UnboundedSender<Done>,
) {
    // A job taken from the channel that did not fit the previous group.
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let report = match first {
            Job::Entry { index, payloads } => {
                let mut group = vec![(index, payloads)];
                let mut bytes: usize = group[0].1.iter().map(Vec::len).sum();
                while group.len() < GROUP_ENTRIES_MAX && bytes < GROUP_BYTES_MAX {
                    match jobs.try_recv() {
                        Ok(Job::Entry { index, payloads }) => {
                            bytes += payloads.iter().map(Vec::len).sum::<usize>();
                            group.push((index, payloads));
                        }
                        Ok(other) => {
                            carried = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                apply_group(store, &mut head, group)
            }
            Job::Membership { index, conf_state } => {
                let new = index > head.applied_index;
                let result = if new {
                    store.advance_applied(&mut head, index)
                } else {
                    Ok(())
                };
                result.map(|()| Done::Membership {
                    head: head.clone(),
                    index,
                    conf_state,
                    new,
                })
            }
            Job::Restore { index, data } => {
                let new = index > head.applied_index;
                let result = if !new {
                    Ok(())
                } else if data == DEFERRED_SNAPSHOT {
                    // Only this node's own log holds deferred snapshots, taken when the ledger
                    // had applied that far; a ledger behind one has lost writes.
                    Err(LedgerError::Corrupt(format!(
                        "the log was compacted to index {index} but the ledger is at {}",
                        head.applied_index
                    )))
                } else {
                    store.restore(&mut head, index, &data)
                };
                result.map(|()| Done::Restored {
                    head: head.clone(),
                    index,
                    new,
                })
            }
        };
        match report {
            Ok(report) => {
                if done.send(report).is_err() {
                    // The loop is gone; finish the queue anyway so nothing accepted is lost.
                    continue;
                }
            }
            Err(error) => {
                let _ = done.send(Done::Failed(error));
                return;
            }
        }
    }
}

/// Applies a group of consecutive entries in one write, skipping those already applied
/// (replayed after a restart).
fn apply_group(
    store: &LedgerStore,
    head: &mut Head,
    group: Vec<(u64, Vec<Vec<u8>>)>,
) -> Result<Done> {
    let started = Instant::now();
    let jobs = group.len();
    let fresh: Vec<(u64, Vec<&[u8]>)> = group
        .iter()
        .filter(|(index, _)| *index > head.applied_index)
        .map(|(index, payloads)| (*index, payloads.iter().map(Vec::as_slice).collect()))
        .collect();
    let entries = fresh.len() as u64;
    let blocks = if fresh.is_empty() {
        Vec::new()
    } else {
        store.apply_entries(head, &fresh)?
    };
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    Ok(Done::Blocks {
        head: head.clone(),
        blocks,
        jobs,
        entries,
        micros,
    })
}
