//! The file submitter (the binary's `--dry-run` mode): every batch becomes
//! one valid EPCIS 2.0 JSON-LD document, and a resubmission after a crash
//! (documents written, spool not yet marked done) writes nothing twice.

use pedigree_epcis::hash::document_hash_ids;
use pedigree_plant::simulator::Simulator;
use pedigree_plant::{EventOutcome, FileSubmitter, Submitter};

mod common;

#[tokio::test]
async fn documents_are_complete_and_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let out = dir.path().join("out");
    let context = common::context("L1");
    // Spool a few simulator events through the mapping.
    let mut spool = pedigree_plant::Spool::open(&spool_dir, Default::default()).unwrap();
    let settings = {
        let gln = pedigree_gs1::Gln::parse("0614141000005").unwrap();
        pedigree_plant::simulator::SimulatorSettings {
            line: "L1".into(),
            units_per_minute: 60,
            reject_rate: 0.2,
            bundle_size: 0,
            bundle_gtin: None,
            case_size: 3,
            pallet_size: 2,
            gtin: pedigree_gs1::Gtin::parse("10614141073464").unwrap(),
            lot: "LOT1".into(),
            expiry: "2028-11-30".into(),
            seed: 9,
            start_unix_millis: 1_790_000_000_000,
            serial_namespace: "S1L1".into(),
            serial_digits: 10,
            company_prefix: "0614141".into(),
            sscc_namespace: "11".into(),
            source: pedigree_plant::line::PartyLocation {
                party: gln.clone(),
                location: gln.clone(),
            },
            destination: pedigree_plant::line::PartyLocation {
                party: gln.clone(),
                location: gln,
            },
            serial_key: None,
        }
    };
    let mut simulator = Simulator::new(settings, &dir.path().join("serials")).unwrap();
    let mut new_events = Vec::new();
    for _ in 0..30 {
        let message = simulator.next_message().unwrap();
        let event = pedigree_plant::mapping::single_event(&context, &message).unwrap();
        new_events.push(pedigree_plant::spool::NewEvent {
            line: "L1".into(),
            message_ids: vec![message.message_id],
            event,
        });
    }
    spool.append(new_events).unwrap();
    let batch: Vec<_> = spool.live().iter().cloned().collect();

    let mut submitter = FileSubmitter::open(&out).unwrap();
    let first = submitter.submit(&batch[..20]).await.unwrap();
    assert!(first.iter().all(|o| *o == EventOutcome::Accepted));
    // "Crash": the spool was never marked done; a new submitter resubmits
    // overlapping batches.
    let mut submitter = FileSubmitter::open(&out).unwrap();
    assert_eq!(submitter.written_events(), 20);
    let second = submitter.submit(&batch[10..]).await.unwrap();
    assert!(second[..10].iter().all(|o| *o == EventOutcome::Duplicate));
    assert!(second[10..].iter().all(|o| *o == EventOutcome::Accepted));

    let mut ids = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2);
    for file in files {
        let document =
            pedigree_epcis::json::parse_document(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let written: Vec<String> = document
            .events
            .iter()
            .map(|e| e.event_id.clone().unwrap())
            .collect();
        // The eventIDs are the hash IDs recomputed from the written documents.
        assert_eq!(document_hash_ids(&document), written, "{}", file.display());
        ids.extend(written);
    }
    let expected: Vec<String> = batch.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(ids, expected, "every event exactly once, in spool order");
}
