//! The durable local spool: an append-only, checksummed log of EPCIS events
//! waiting for the ledger.
//!
//! # File format (`spool.log`, version 1)
//! - Header: the 8 bytes `PEDSPOOL` followed by the version as `u32` LE.
//! - Records, back to back: payload length `u32` LE, the first 8 bytes of
//!   SHA-256(payload), then the payload: one JSON [`SpoolRecord`].
//!
//! # Guarantees
//! - **Durable before acknowledged.** [`Spool::append`] writes all records
//!   of a call and fsyncs once (group commit) before returning; the adapter
//!   acknowledges line messages only after that.
//! - **Torn tails are cut, damaged middles are refused.** On open, a last
//!   record that is incomplete, fails its checksum, or is followed only by
//!   zero bytes is the trace of a crash during append: the file is
//!   truncated before it (that append was never acknowledged). A bad record
//!   followed by further data is reported as [`SpoolError::Corrupt`] and the
//!   spool does not open: acknowledged events are never dropped silently.
//! - **Ordered, exactly-once hand-off.** Events get increasing sequence
//!   numbers; [`Spool::mark_done`] records that every event up to a sequence
//!   number reached a definite outcome (accepted, duplicate or rejected).
//!   Events not marked done are handed out again after a restart; because
//!   each carries its CBV event hash ID, resubmitting them is idempotent.
//! - **Compaction.** Once enough of the prefix is done, the live events are
//!   copied to `spool.log.compact` behind a checkpoint record (next sequence
//!   number and the recent message IDs), fsynced, and renamed over
//!   `spool.log` (then the directory is fsynced). A crash leaves either the
//!   old or the new file, both complete.
//! - **Bounded.** The number of live events is capped by
//!   [`SpoolLimits::live_events_max`]; when full, the adapter stops taking
//!   line messages (they stay unacknowledged at the device or broker).

use std::collections::{HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use pedigree_epcis::EpcisEvent;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::SpoolError;

/// File magic.
const MAGIC: &[u8; 8] = b"PEDSPOOL";
/// Format version.
const VERSION: u32 = 1;
/// Header length in bytes.
const HEADER_BYTES: u64 = 12;
/// Frame header: length (4) + checksum (8).
const FRAME_HEADER_BYTES: usize = 12;
/// Largest record payload; anything larger is damage, not data.
pub const RECORD_BYTES_MAX: usize = 64 * 1024 * 1024;

/// The spool file name inside the spool directory.
pub const SPOOL_FILE: &str = "spool.log";

/// One record of the spool file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpoolRecord {
    /// First record after compaction: where sequence numbers continue and
    /// which message IDs were seen recently (for deduplication).
    Checkpoint {
        /// Sequence number of the next event.
        next_seq: u64,
        /// Message IDs of recently spooled events, oldest first.
        recent_message_ids: Vec<String>,
    },
    /// An event waiting for the ledger (boxed: events are large, and the
    /// other records small).
    Event(Box<SpooledEvent>),
    /// Every event with a sequence number up to and including this one has a
    /// definite outcome.
    Done {
        /// Highest finished sequence number.
        through_seq: u64,
    },
}

/// An EPCIS event in the spool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpooledEvent {
    /// Spool sequence number (strictly increasing).
    pub seq: u64,
    /// The CBV event hash ID (also the event's `eventID`).
    pub event_id: String,
    /// The line it came from.
    pub line: String,
    /// The line message IDs it covers.
    pub message_ids: Vec<String>,
    /// The event.
    pub event: EpcisEvent,
}

/// An event to append (the spool assigns the sequence number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The line.
    pub line: String,
    /// The line message IDs it covers.
    pub message_ids: Vec<String>,
    /// The event; its `eventID` must be its hash ID.
    pub event: EpcisEvent,
}

/// Spool limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolLimits {
    /// Most events waiting for the ledger.
    pub live_events_max: usize,
    /// Compact once this many done events are in the file.
    pub compact_after_done_events: usize,
    /// Message IDs remembered for deduplication.
    pub message_ids_remembered_max: usize,
}

impl Default for SpoolLimits {
    fn default() -> Self {
        Self {
            live_events_max: 100_000,
            compact_after_done_events: 10_000,
            message_ids_remembered_max: 200_000,
        }
    }
}

/// A bounded set of recently seen message IDs (FIFO eviction).
#[derive(Debug, Default)]
struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
    capacity: usize,
}

impl RecentIds {
    fn new(capacity: usize) -> Self {
        Self {
            order: VecDeque::new(),
            set: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    fn insert(&mut self, id: &str) {
        if self.set.contains(id) {
            return;
        }
        if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.order.push_back(id.to_string());
        self.set.insert(id.to_string());
    }
}

/// What [`Spool::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recovery {
    /// Records read.
    pub records: u64,
    /// Bytes cut off a torn tail (0 if the file ended cleanly).
    pub truncated_bytes: u64,
    /// Events still waiting for the ledger.
    pub live_events: usize,
}

/// The spool (see the module documentation).
#[derive(Debug)]
pub struct Spool {
    directory: PathBuf,
    path: PathBuf,
    file: File,
    limits: SpoolLimits,
    next_seq: u64,
    live: VecDeque<SpooledEvent>,
    done_events_in_file: usize,
    last_event_seq: u64,
    recent: RecentIds,
    recovery: Recovery,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn checksum(payload: &[u8]) -> [u8; 8] {
    let digest = Sha256::digest(payload);
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

fn encode(record: &SpoolRecord, out: &mut Vec<u8>) -> Result<(), SpoolError> {
    let payload = serde_json::to_vec(record).map_err(|e| SpoolError::Encode(e.to_string()))?;
    if payload.len() > RECORD_BYTES_MAX {
        return Err(SpoolError::Encode(format!(
            "record of {} bytes is too large",
            payload.len()
        )));
    }
    let length = u32::try_from(payload.len()).map_err(|e| SpoolError::Encode(e.to_string()))?;
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&checksum(&payload));
    out.extend_from_slice(&payload);
    Ok(())
}

fn header() -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes
}

fn sync_directory(directory: &Path) -> Result<(), SpoolError> {
    File::open(directory)
        .and_then(|d| d.sync_all())
        .map_err(io_error(directory))
}

/// Writes a complete new spool file (header + records) under a temporary
/// name, fsyncs it, renames it to `path` and fsyncs the directory.
fn write_fresh(directory: &Path, path: &Path, records: &[SpoolRecord]) -> Result<(), SpoolError> {
    let temporary = directory.join(format!("{SPOOL_FILE}.compact"));
    let mut bytes = header();
    for record in records {
        encode(record, &mut bytes)?;
    }
    {
        let mut file = File::create(&temporary).map_err(io_error(&temporary))?;
        file.write_all(&bytes).map_err(io_error(&temporary))?;
        file.sync_all().map_err(io_error(&temporary))?;
    }
    fs::rename(&temporary, path).map_err(io_error(path))?;
    sync_directory(directory)
}

impl Spool {
    /// Opens the spool in `directory` (creating it if needed), recovering
    /// from a torn tail and refusing a damaged middle.
    pub fn open(directory: &Path, limits: SpoolLimits) -> Result<Self, SpoolError> {
        fs::create_dir_all(directory).map_err(io_error(directory))?;
        let path = directory.join(SPOOL_FILE);
        if !path.exists() {
            write_fresh(directory, &path, &[])?;
        }
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io_error(&path))?;
        if bytes.len() < HEADER_BYTES as usize
            || bytes[..8] != MAGIC[..]
            || bytes[8..12] != VERSION.to_le_bytes()
        {
            return Err(SpoolError::BadHeader { path });
        }
        let mut spool = Self {
            directory: directory.to_path_buf(),
            path: path.clone(),
            // Replaced below once the valid length is known.
            file: OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(io_error(&path))?,
            limits,
            next_seq: 1,
            live: VecDeque::new(),
            done_events_in_file: 0,
            last_event_seq: 0,
            recent: RecentIds::new(limits.message_ids_remembered_max),
            recovery: Recovery::default(),
        };
        let valid_length = spool.replay(&bytes)?;
        let file_length = bytes.len() as u64;
        if valid_length < file_length {
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_error(&path))?;
            file.set_len(valid_length).map_err(io_error(&path))?;
            file.sync_all().map_err(io_error(&path))?;
            spool.recovery.truncated_bytes = file_length - valid_length;
            tracing::warn!(path = %path.display(), bytes = file_length - valid_length, "spool: truncated a torn tail");
        }
        let mut file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        file.seek(SeekFrom::End(0)).map_err(io_error(&path))?;
        spool.file = file;
        spool.recovery.live_events = spool.live.len();
        Ok(spool)
    }

    /// Replays the records; returns the length of the valid prefix.
    fn replay(&mut self, bytes: &[u8]) -> Result<u64, SpoolError> {
        let mut offset = HEADER_BYTES as usize;
        let path = self.path.clone();
        let corrupt = |offset: usize, reason: String| SpoolError::Corrupt {
            path: path.clone(),
            offset: offset as u64,
            reason,
        };
        while offset < bytes.len() {
            let rest = &bytes[offset..];
            let torn_tail = rest.len() < FRAME_HEADER_BYTES || rest.iter().all(|&b| b == 0);
            if torn_tail {
                return Ok(offset as u64);
            }
            let mut length_bytes = [0u8; 4];
            length_bytes.copy_from_slice(&rest[..4]);
            let length = u32::from_le_bytes(length_bytes) as usize;
            let end = FRAME_HEADER_BYTES.saturating_add(length);
            if end > rest.len() {
                // The record runs past the end of the file: an append that
                // did not finish.
                return Ok(offset as u64);
            }
            let payload = &rest[FRAME_HEADER_BYTES..end];
            if rest[4..12] != checksum(payload) {
                if end == rest.len() {
                    return Ok(offset as u64);
                }
                return Err(corrupt(
                    offset,
                    "checksum mismatch before the last record".into(),
                ));
            }
            if length > RECORD_BYTES_MAX {
                return Err(corrupt(offset, format!("record of {length} bytes")));
            }
            let record: SpoolRecord = serde_json::from_slice(payload)
                .map_err(|e| corrupt(offset, format!("undecodable record: {e}")))?;
            self.apply(record)
                .map_err(|reason| corrupt(offset, reason))?;
            self.recovery.records += 1;
            offset += end;
        }
        Ok(offset as u64)
    }

    fn apply(&mut self, record: SpoolRecord) -> Result<(), String> {
        match record {
            SpoolRecord::Checkpoint {
                next_seq,
                recent_message_ids,
            } => {
                if self.recovery.records > 0 {
                    return Err("a checkpoint must be the first record".to_string());
                }
                self.next_seq = next_seq;
                for id in &recent_message_ids {
                    self.recent.insert(id);
                }
            }
            SpoolRecord::Event(event) => {
                if event.seq <= self.last_event_seq {
                    return Err(format!("event sequence {} is not increasing", event.seq));
                }
                self.last_event_seq = event.seq;
                self.next_seq = self.next_seq.max(event.seq + 1);
                for id in &event.message_ids {
                    self.recent.insert(id);
                }
                self.live.push_back(*event);
            }
            SpoolRecord::Done { through_seq } => {
                while self.live.front().is_some_and(|e| e.seq <= through_seq) {
                    self.live.pop_front();
                    self.done_events_in_file += 1;
                }
            }
        }
        Ok(())
    }

    /// What recovery found when the spool was opened.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// Events waiting for the ledger, oldest first.
    pub fn live(&self) -> &VecDeque<SpooledEvent> {
        &self.live
    }

    /// Number of events waiting for the ledger.
    pub fn live_len(&self) -> usize {
        self.live.len()
    }

    /// True if no more events may be appended until some are done.
    pub fn is_full(&self) -> bool {
        self.live.len() >= self.limits.live_events_max
    }

    /// True if `message_id` is covered by an event spooled recently.
    pub fn has_message(&self, message_id: &str) -> bool {
        self.recent.set.contains(message_id)
    }

    /// Appends events and fsyncs once; returns their spooled form.
    pub fn append(&mut self, events: Vec<NewEvent>) -> Result<Vec<SpooledEvent>, SpoolError> {
        let mut bytes = Vec::new();
        let mut spooled = Vec::with_capacity(events.len());
        let mut seq = self.next_seq;
        for new in events {
            let event_id = new
                .event
                .event_id
                .clone()
                .ok_or_else(|| SpoolError::Encode("event without eventID".into()))?;
            let event = SpooledEvent {
                seq,
                event_id,
                line: new.line,
                message_ids: new.message_ids,
                event: new.event,
            };
            encode(&SpoolRecord::Event(Box::new(event.clone())), &mut bytes)?;
            spooled.push(event);
            seq += 1;
        }
        if spooled.is_empty() {
            return Ok(spooled);
        }
        self.file.write_all(&bytes).map_err(io_error(&self.path))?;
        self.file.sync_data().map_err(io_error(&self.path))?;
        // Only now, with the records on disk, does the in-memory state move.
        self.next_seq = seq;
        self.last_event_seq = seq - 1;
        for event in &spooled {
            for id in &event.message_ids {
                self.recent.insert(id);
            }
            self.live.push_back(event.clone());
        }
        Ok(spooled)
    }

    /// Records that every live event up to `through_seq` has a definite
    /// outcome, and compacts the file when enough is done.
    pub fn mark_done(&mut self, through_seq: u64) -> Result<(), SpoolError> {
        let first = self.live.front().map(|e| e.seq);
        assert!(
            first.is_some_and(|s| s <= through_seq),
            "mark_done({through_seq}) with nothing to finish"
        );
        let mut bytes = Vec::new();
        encode(&SpoolRecord::Done { through_seq }, &mut bytes)?;
        self.file.write_all(&bytes).map_err(io_error(&self.path))?;
        self.file.sync_data().map_err(io_error(&self.path))?;
        while self.live.front().is_some_and(|e| e.seq <= through_seq) {
            self.live.pop_front();
            self.done_events_in_file += 1;
        }
        if self.done_events_in_file >= self.limits.compact_after_done_events {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the file with only the live events behind a checkpoint.
    pub fn compact(&mut self) -> Result<(), SpoolError> {
        let mut records = Vec::with_capacity(self.live.len() + 1);
        records.push(SpoolRecord::Checkpoint {
            next_seq: self.next_seq,
            recent_message_ids: self.recent.order.iter().cloned().collect(),
        });
        records.extend(
            self.live
                .iter()
                .cloned()
                .map(|e| SpoolRecord::Event(Box::new(e))),
        );
        write_fresh(&self.directory, &self.path, &records)?;
        let mut file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io_error(&self.path))?;
        file.seek(SeekFrom::End(0)).map_err(io_error(&self.path))?;
        self.file = file;
        self.done_events_in_file = 0;
        tracing::debug!(live = self.live.len(), "spool: compacted");
        Ok(())
    }

    /// Size of the spool file in bytes.
    pub fn file_bytes(&self) -> Result<u64, SpoolError> {
        fs::metadata(&self.path)
            .map(|m| m.len())
            .map_err(io_error(&self.path))
    }

    /// Path of the spool file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pedigree_epcis::{EpcisTime, EventType};

    fn new_event(n: u64) -> NewEvent {
        let mut event = EpcisEvent::new(EventType::ObjectEvent);
        event.event_time = Some(EpcisTime::new(format!("2026-01-01T00:00:{:02}Z", n % 60)));
        event.event_id = Some(format!("ni:///sha-256;{n:064x}?ver=CBV2.0"));
        NewEvent {
            line: "L1".into(),
            message_ids: vec![format!("m{n}")],
            event,
        }
    }

    fn limits() -> SpoolLimits {
        SpoolLimits {
            live_events_max: 1000,
            compact_after_done_events: 5,
            message_ids_remembered_max: 100,
        }
    }

    #[test]
    fn append_reopen_done_compact() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), limits()).unwrap();
        let spooled = spool.append((0..4).map(new_event).collect()).unwrap();
        assert_eq!(
            spooled.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        spool.mark_done(2).unwrap();
        drop(spool);
        let mut spool = Spool::open(dir.path(), limits()).unwrap();
        assert_eq!(
            spool.live().iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert!(spool.has_message("m0"));
        spool.append((4..10).map(new_event).collect()).unwrap();
        let before = spool.file_bytes().unwrap();
        spool.mark_done(8).unwrap(); // 8 done events: compacts.
        assert!(spool.file_bytes().unwrap() < before);
        drop(spool);
        let spool = Spool::open(dir.path(), limits()).unwrap();
        assert_eq!(
            spool.live().iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![9, 10]
        );
        assert!(
            spool.has_message("m1"),
            "checkpoint keeps recent message IDs"
        );
        assert_eq!(spool.next_seq, 11);
    }

    #[test]
    fn torn_tails_are_truncated_at_every_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), limits()).unwrap();
        spool.append((0..3).map(new_event).collect()).unwrap();
        let path = spool.path().to_path_buf();
        drop(spool);
        let full = fs::read(&path).unwrap();
        // The boundary before the last record.
        let mut spool = Spool::open(dir.path(), limits()).unwrap();
        spool.append(vec![new_event(3)]).unwrap();
        drop(spool);
        let with_last = fs::read(&path).unwrap();
        // Every cut near both ends of the record (header, checksum, JSON
        // start and end) and a stride through the middle; each one reopens.
        let (start, end) = (full.len(), with_last.len());
        let cuts = (start..end).filter(|c| c - start < 24 || end - c < 24 || (c - start) % 29 == 0);
        for cut in cuts {
            fs::write(&path, &with_last[..cut]).unwrap();
            let spool = Spool::open(dir.path(), limits()).unwrap();
            assert_eq!(spool.live_len(), 3, "cut at {cut}");
            assert_eq!(spool.recovery().truncated_bytes, (cut - full.len()) as u64);
            assert_eq!(fs::read(&path).unwrap(), full);
        }
        // Zero-filled tail (file extended, data never written).
        let mut zeros = full.clone();
        zeros.extend(std::iter::repeat_n(0u8, 4096));
        fs::write(&path, &zeros).unwrap();
        assert_eq!(Spool::open(dir.path(), limits()).unwrap().live_len(), 3);
        // A garbled last record (complete length, bad bytes).
        let mut garbled = with_last.clone();
        let last = garbled.len() - 2;
        garbled[last] ^= 0xff;
        fs::write(&path, &garbled).unwrap();
        assert_eq!(Spool::open(dir.path(), limits()).unwrap().live_len(), 3);
    }

    #[test]
    fn a_damaged_middle_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), limits()).unwrap();
        spool.append((0..3).map(new_event).collect()).unwrap();
        let path = spool.path().to_path_buf();
        drop(spool);
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER_BYTES as usize + 20] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        match Spool::open(dir.path(), limits()) {
            Err(SpoolError::Corrupt { offset, .. }) => assert_eq!(offset, HEADER_BYTES),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        fs::write(&path, b"NOTSPOOL0000").unwrap();
        assert!(matches!(
            Spool::open(dir.path(), limits()),
            Err(SpoolError::BadHeader { .. })
        ));
    }

    #[test]
    fn full_spool_reports_full() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(
            dir.path(),
            SpoolLimits {
                live_events_max: 2,
                ..limits()
            },
        )
        .unwrap();
        spool.append((0..2).map(new_event).collect()).unwrap();
        assert!(spool.is_full());
        spool.mark_done(1).unwrap();
        assert!(!spool.is_full());
    }
}

#[cfg(test)]
mod model_tests {
    //! Model-based property test: any sequence of appends, done marks,
    //! compactions, clean reopens and crashes in the middle of an append
    //! leaves the spool equal to a simple in-memory model.

    use super::*;
    use pedigree_epcis::{EpcisTime, EventType};
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Operation {
        Append(usize),
        Done(usize),
        Reopen,
        CrashDuringAppend { keep_per_mille: u16 },
    }

    fn operation() -> impl Strategy<Value = Operation> {
        prop_oneof![
            4 => (1usize..5).prop_map(Operation::Append),
            3 => (1usize..6).prop_map(Operation::Done),
            1 => Just(Operation::Reopen),
            2 => (0u16..1000).prop_map(|keep_per_mille| Operation::CrashDuringAppend { keep_per_mille }),
        ]
    }

    fn new_event(n: u64) -> NewEvent {
        let mut event = EpcisEvent::new(EventType::ObjectEvent);
        event.event_time = Some(EpcisTime::new("2026-01-01T00:00:00Z"));
        event.event_id = Some(format!("ni:///sha-256;{n:064x}?ver=CBV2.0"));
        NewEvent {
            line: "L1".into(),
            message_ids: vec![format!("m{n}")],
            event,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn spool_matches_model(operations in proptest::collection::vec(operation(), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            let limits = SpoolLimits { live_events_max: 1000, compact_after_done_events: 4, message_ids_remembered_max: 1000 };
            let mut spool = Spool::open(dir.path(), limits).unwrap();
            let mut model: VecDeque<(u64, String)> = VecDeque::new();
            let mut next_seq = 1u64;
            let mut counter = 0u64;
            for operation in operations {
                match operation {
                    Operation::Append(n) => {
                        let events: Vec<NewEvent> = (0..n).map(|_| { counter += 1; new_event(counter) }).collect();
                        for event in &events {
                            model.push_back((next_seq, event.event.event_id.clone().unwrap()));
                            next_seq += 1;
                        }
                        spool.append(events).unwrap();
                    }
                    Operation::Done(n) => {
                        let n = n.min(model.len());
                        if n > 0 {
                            let through = model[n - 1].0;
                            spool.mark_done(through).unwrap();
                            model.drain(..n);
                        }
                    }
                    Operation::Reopen => {
                        drop(spool);
                        spool = Spool::open(dir.path(), limits).unwrap();
                    }
                    Operation::CrashDuringAppend { keep_per_mille } => {
                        // Part of a frame reaches the disk, then the process dies.
                        let mut frame = Vec::new();
                        let record = SpoolRecord::Event(Box::new(SpooledEvent {
                            seq: next_seq,
                            event_id: "torn".into(),
                            line: "L1".into(),
                            message_ids: vec!["torn".into()],
                            event: new_event(0).event,
                        }));
                        encode(&record, &mut frame).unwrap();
                        let keep = frame.len() * usize::from(keep_per_mille) / 1000;
                        let path = spool.path().to_path_buf();
                        drop(spool);
                        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
                        file.write_all(&frame[..keep]).unwrap();
                        drop(file);
                        spool = Spool::open(dir.path(), limits).unwrap();
                        prop_assert!(!spool.has_message("torn"));
                    }
                }
                let live: Vec<(u64, String)> = spool.live().iter().map(|e| (e.seq, e.event_id.clone())).collect();
                prop_assert_eq!(&live, &model.iter().cloned().collect::<Vec<_>>());
            }
            // Sequence numbers are never reused, even across compactions.
            drop(spool);
            let mut spool = Spool::open(dir.path(), limits).unwrap();
            counter += 1;
            let appended = spool.append(vec![new_event(counter)]).unwrap();
            prop_assert_eq!(appended[0].seq, next_seq);
        }
    }
}
