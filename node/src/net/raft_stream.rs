//! Consensus messages over one long-lived stream per peer and direction ([`RAFT_PROTOCOL`]).
//!
//! A request-response exchange per Raft message (a new Yamux stream, protocol negotiation,
//! the frame, a close and an empty acknowledgement) cost more CPU than the message itself once
//! blocks are small: about half of a follower's network-side CPU at a few hundred blocks per
//! second. Here every connected peer has one **writer** task, fed by a bounded queue, that
//! opens a stream once and writes each message as a frame (the [`super::codec`] frame: a
//! 4-byte big-endian length, then the bytes), several queued messages per write; and every
//! inbound stream has one **reader** task that delivers its frames to
//! [`super::NetworkInbound::raft`].
//!
//! The swarm task's invariant holds: it only `try_send`s into a writer's queue (a full queue
//! drops the message and counts it) and spawns or aborts the tasks. Readers `try_send` too,
//! so a slow consumer loses messages (counted) rather than stalling a peer; Raft resends.
//!
//! Opening: libp2p-stream drops an inbound stream silently when the swarm task has not yet
//! taken the previous one, so a reader first writes one [`STREAM_ACCEPTED`] byte and a writer
//! uses a stream only after reading it; otherwise it tries again (up to [`OPEN_ATTEMPTS_MAX`]
//! times per batch, [`REOPEN_PAUSE`] apart) before counting the batch as failed.
//!
//! Writers exist only for connected peers (the swarm task aborts a peer's tasks when its last
//! connection closes). In the moment between a close and that abort, `open_stream` may ask the
//! swarm to dial the peer (libp2p-stream dials a disconnected peer); the membership gate still
//! admits only members, and the dial schedule would have redialled it anyway.
//!
//! Failures: a writer whose stream fails (reset, closed connection, a write that does not
//! finish within [`super::NetworkLimits::request_timeout`]) counts the messages of that write
//! as send failures and opens a new stream for the next message. A reader refuses a frame over
//! [`super::NetworkLimits::message_bytes_max`] by its length prefix alone, counts it, and
//! skips its bytes in bounded chunks without buffering them, so the stream (and the messages
//! behind the oversize one) stays usable. Messages on one stream arrive in order; across a
//! reconnection they may be lost, which Raft tolerates.

use std::sync::Arc;
use std::time::Duration;

use libp2p::futures::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use libp2p::{PeerId, Stream};
use tokio::sync::{mpsc, watch};

use super::{AllowList, NetworkCounters, NetworkStatus, RAFT_PROTOCOL};

/// Most bytes one writer puts in a single write (several queued messages); a message larger
/// than this is written alone.
const WRITE_BATCH_BYTES_MAX: usize = 1024 * 1024;

/// Pause after a stream could not be opened, before the writer tries again (messages queued
/// meanwhile wait; the queue bounds them).
const REOPEN_PAUSE: Duration = Duration::from_millis(50);

/// Attempts to open a stream for one batch before it is counted as failed.
const OPEN_ATTEMPTS_MAX: u32 = 5;

/// The byte a reader writes first: the stream was taken and will be read.
const STREAM_ACCEPTED: u8 = 0xA5;

/// Chunk size for skipping the body of a refused frame.
const SKIP_CHUNK_BYTES: usize = 64 * 1024;

fn bump(status: &watch::Sender<NetworkStatus>, update: impl FnOnce(&mut NetworkCounters)) {
    status.send_modify(|status| update(&mut status.counters));
}

/// What a writer task needs.
pub(super) struct Writer {
    pub(super) peer: PeerId,
    pub(super) control: libp2p_stream::Control,
    pub(super) queue: mpsc::Receiver<Vec<u8>>,
    pub(super) status: Arc<watch::Sender<NetworkStatus>>,
    pub(super) write_timeout: Duration,
}

impl Writer {
    /// Runs until the queue's sender is dropped (the peer disconnected or the network stopped).
    pub(super) async fn run(mut self) {
        let mut stream: Option<Stream> = None;
        let mut batch = Vec::new();
        while let Some(first) = self.queue.recv().await {
            let mut messages = 1_u64;
            batch.clear();
            push_frame(&mut batch, &first);
            while batch.len() < WRITE_BATCH_BYTES_MAX {
                let Ok(next) = self.queue.try_recv() else {
                    break;
                };
                push_frame(&mut batch, &next);
                messages += 1;
            }
            let mut attempts = 0;
            while stream.is_none() && attempts < OPEN_ATTEMPTS_MAX {
                attempts += 1;
                match self.open().await {
                    Ok(opened) => stream = Some(opened),
                    Err(error) => {
                        tracing::debug!(peer = %self.peer, %error, attempts, "raft stream not opened");
                        tokio::time::sleep(REOPEN_PAUSE).await;
                    }
                }
            }
            let Some(open) = stream.as_mut() else {
                bump(&self.status, |c| c.raft_send_failures += messages);
                continue;
            };
            let written = tokio::time::timeout(self.write_timeout, async {
                open.write_all(&batch).await?;
                open.flush().await
            })
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
            match written {
                Ok(()) => bump(&self.status, |c| c.raft_sent += messages),
                Err(error) => {
                    tracing::debug!(peer = %self.peer, %error, "raft stream failed; reopening");
                    bump(&self.status, |c| c.raft_send_failures += messages);
                    stream = None;
                }
            }
        }
        if let Some(mut open) = stream {
            let _ = open.close().await;
        }
    }

    /// Opens a stream and waits for the reader's [`STREAM_ACCEPTED`].
    async fn open(&mut self) -> Result<Stream, String> {
        let mut stream = self
            .control
            .open_stream(self.peer, RAFT_PROTOCOL)
            .await
            .map_err(|error| error.to_string())?;
        let mut accepted = [0_u8; 1];
        match tokio::time::timeout(self.write_timeout, stream.read_exact(&mut accepted)).await {
            Ok(Ok(())) if accepted[0] == STREAM_ACCEPTED => Ok(stream),
            Ok(Ok(())) => Err(format!("unexpected first byte {:#04x}", accepted[0])),
            Ok(Err(error)) => Err(format!("not accepted: {error}")),
            Err(_) => Err("not accepted in time".to_string()),
        }
    }
}

fn push_frame(batch: &mut Vec<u8>, message: &[u8]) {
    let length = u32::try_from(message.len()).expect("checked against the message limit");
    batch.extend_from_slice(&length.to_be_bytes());
    batch.extend_from_slice(message);
}

/// What a reader task needs.
pub(super) struct Reader {
    pub(super) peer: PeerId,
    pub(super) stream: Stream,
    pub(super) deliver: mpsc::Sender<(PeerId, Vec<u8>)>,
    pub(super) allow_list: AllowList,
    pub(super) status: Arc<watch::Sender<NetworkStatus>>,
    pub(super) message_bytes_max: u32,
}

impl Reader {
    /// Runs until the stream ends or fails.
    pub(super) async fn run(mut self) {
        let accepted = async {
            self.stream.write_all(&[STREAM_ACCEPTED]).await?;
            self.stream.flush().await
        };
        if let Err(error) = accepted.await {
            tracing::debug!(peer = %self.peer, %error, "raft stream gone before it was accepted");
            return;
        }
        loop {
            let mut header = [0_u8; 4];
            if let Err(error) = self.stream.read_exact(&mut header).await {
                if error.kind() != std::io::ErrorKind::UnexpectedEof {
                    tracing::debug!(peer = %self.peer, %error, "raft stream ended");
                }
                return;
            }
            let length = u32::from_be_bytes(header);
            if length > self.message_bytes_max {
                tracing::warn!(
                    peer = %self.peer,
                    length,
                    limit = self.message_bytes_max,
                    "inbound raft message refused: too large"
                );
                bump(&self.status, |c| c.messages_refused_oversize += 1);
                if skip(&mut self.stream, u64::from(length)).await.is_err() {
                    return;
                }
                continue;
            }
            let mut bytes = vec![0_u8; length as usize];
            if let Err(error) = self.stream.read_exact(&mut bytes).await {
                tracing::debug!(peer = %self.peer, %error, "raft stream ended inside a message");
                bump(&self.status, |c| c.inbound_failures += 1);
                return;
            }
            // A message can race a membership removal; the gate let the connection in, so
            // check again.
            if !self.allow_list.contains(&self.peer) {
                tracing::debug!(peer = %self.peer, "raft message from a removed member ignored");
                continue;
            }
            match self.deliver.try_send((self.peer, bytes)) {
                Ok(()) => bump(&self.status, |c| c.raft_received += 1),
                Err(_) => bump(&self.status, |c| c.raft_dropped_inbound_full += 1),
            }
        }
    }
}

/// Reads and discards `length` bytes in bounded chunks.
async fn skip<T: AsyncRead + Unpin>(io: &mut T, mut length: u64) -> std::io::Result<()> {
    let mut scratch = vec![0_u8; SKIP_CHUNK_BYTES];
    while length > 0 {
        let want = usize::try_from(length).map_or(SKIP_CHUNK_BYTES, |l| l.min(SKIP_CHUNK_BYTES));
        io.read_exact(&mut scratch[..want]).await?;
        length -= want as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_frame_is_skipped_exactly() {
        let mut wire = Vec::new();
        push_frame(&mut wire, &[9; 150_000]);
        push_frame(&mut wire, b"next");
        let mut io = libp2p::futures::io::Cursor::new(wire);
        let mut header = [0_u8; 4];
        io.read_exact(&mut header).await.unwrap();
        skip(&mut io, u64::from(u32::from_be_bytes(header)))
            .await
            .unwrap();
        io.read_exact(&mut header).await.unwrap();
        assert_eq!(u32::from_be_bytes(header), 4);
        let mut next = [0_u8; 4];
        io.read_exact(&mut next).await.unwrap();
        assert_eq!(&next, b"next");
        // A frame announcing more than the stream holds ends in an error, not a hang.
        let mut short = libp2p::futures::io::Cursor::new(vec![0_u8; 10]);
        assert!(skip(&mut short, 11).await.is_err());
    }
}
