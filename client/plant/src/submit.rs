//! Handing spooled events to the ledger: the [`Submitter`] contract and the
//! file submitter used for dry runs and by integrators.

use std::collections::HashSet;
use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};

use pedigree_epcis::{DocumentKind, EpcisDocument, EpcisTime};

use crate::error::SubmitError;
use crate::spool::SpooledEvent;

/// The ledger's verdict on one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// Recorded now.
    Accepted,
    /// Already recorded earlier (same event hash ID): a resubmission.
    Duplicate,
    /// Refused for a business reason; resubmitting will not help.
    Rejected {
        /// Machine-readable reason (stable, from the node).
        code: String,
        /// Human-readable explanation.
        message: String,
    },
}

/// Sends batches of spooled events to the ledger (or another sink).
///
/// # Contract
/// - `submit` gets events in spool order and returns exactly one outcome
///   per event, in the same order, or an error.
/// - An `Ok` answer is final: the adapter marks the whole batch done and
///   never offers those events again.
/// - An `Err` means *nothing is known*: some, all or none of the events may
///   have been recorded. The adapter offers the same events again later,
///   possibly in different batches, so the implementation must treat an
///   event whose `event_id` (the CBV hash ID) it already recorded as
///   [`EventOutcome::Duplicate`], never record it twice.
/// - Implementations bound their own I/O time; the adapter additionally
///   cancels a call that exceeds its submit timeout and treats that as an
///   error.
pub trait Submitter: Send {
    /// Submits one batch.
    fn submit(
        &mut self,
        batch: &[SpooledEvent],
    ) -> impl Future<Output = Result<Vec<EventOutcome>, SubmitError>> + Send;
}

/// Appends each batch as one EPCIS 2.0 JSON-LD document to a directory:
/// `epcis-{first seq:020}-{last seq:020}.jsonld`, written to a temporary
/// name, fsynced and renamed, so only complete documents ever appear.
///
/// Exactly-once output: on creation the submitter reads the `eventID`s of
/// every document already in the directory, and events it has written
/// before are answered [`EventOutcome::Duplicate`] and left out of new
/// documents. A crash between the rename and the spool's done record
/// therefore never writes an event twice.
#[derive(Debug)]
pub struct FileSubmitter {
    directory: PathBuf,
    written: HashSet<String>,
}

impl FileSubmitter {
    /// Opens (creating if needed) the output directory and indexes the
    /// event IDs of the documents in it.
    pub fn open(directory: &Path) -> Result<Self, SubmitError> {
        let transport =
            |e: std::io::Error| SubmitError::Transport(format!("{}: {e}", directory.display()));
        fs::create_dir_all(directory).map_err(transport)?;
        let mut written = HashSet::new();
        let mut entries: Vec<PathBuf> = fs::read_dir(directory)
            .map_err(transport)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "jsonld"))
            .collect();
        entries.sort();
        for path in entries {
            let text = fs::read_to_string(&path).map_err(transport)?;
            let document = pedigree_epcis::json::parse_document(&text)
                .map_err(|e| SubmitError::Transport(format!("{}: {e}", path.display())))?;
            for event in document.events {
                if let Some(id) = event.event_id {
                    written.insert(id);
                }
            }
        }
        Ok(Self {
            directory: directory.to_path_buf(),
            written,
        })
    }

    /// Number of distinct events written so far.
    pub fn written_events(&self) -> usize {
        self.written.len()
    }

    fn write_batch(&mut self, batch: &[SpooledEvent]) -> Result<Vec<EventOutcome>, SubmitError> {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut document = EpcisDocument::new(DocumentKind::Document);
        document.schema_version = Some("2.0".to_string());
        document.creation_date = Some(EpcisTime::new(crate::time::now_utc().as_str()));
        let mut in_this_batch = HashSet::new();
        for spooled in batch {
            let fresh = !self.written.contains(&spooled.event_id)
                && in_this_batch.insert(spooled.event_id.clone());
            if fresh {
                document.events.push(spooled.event.clone());
                outcomes.push(EventOutcome::Accepted);
            } else {
                outcomes.push(EventOutcome::Duplicate);
            }
        }
        if let (Some(first), Some(last)) = (batch.first(), batch.last())
            && !document.events.is_empty()
        {
            let name = format!("epcis-{:020}-{:020}.jsonld", first.seq, last.seq);
            let text = pedigree_epcis::json::write_document(&document);
            crate::serial::write_durably(&self.directory.join(name), text.as_bytes()).map_err(
                |e| SubmitError::Transport(format!("{}: {e}", self.directory.display())),
            )?;
        }
        self.written.extend(in_this_batch);
        Ok(outcomes)
    }
}

impl Submitter for FileSubmitter {
    async fn submit(&mut self, batch: &[SpooledEvent]) -> Result<Vec<EventOutcome>, SubmitError> {
        self.write_batch(batch)
    }
}
