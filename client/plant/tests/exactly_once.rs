//! Scenario test of the "never lose, never duplicate" guarantee: a
//! simulated line feeds the adapter through a redelivering source (like an
//! MQTT broker: unacknowledged messages come again), the ledger fails at
//! random (seeded: before applying, or after applying with the reply lost),
//! rejects some events, and the adapter crashes (task aborted) at a random
//! point of every round but the last. At the end every line message is
//! covered by exactly one event the ledger recorded, and the spool is empty.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pedigree_gs1::{Gln, Gtin};
use pedigree_plant::adapter::inbound_channel;
use pedigree_plant::error::SubmitError;
use pedigree_plant::line::{LineEvent, LineMessage};
use pedigree_plant::mapping::{BatchLimits, LineContext};
use pedigree_plant::simulator::{Simulator, SimulatorSettings};
use pedigree_plant::{
    Adapter, AdapterSettings, Counters, EventOutcome, Inbound, Receipt, Spool, SpoolLimits,
    SpooledEvent, StopReason, Submitter,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, oneshot, watch};

/// A ledger that fails at random and remembers what it recorded.
struct FakeLedger {
    rng: ChaCha8Rng,
    /// Event ID -> outcome given the first time.
    recorded: BTreeMap<String, EventOutcome>,
    /// Message ID -> the event that covered it.
    covered: BTreeMap<String, String>,
    commissioned_epcs: BTreeSet<String>,
    calls: u64,
}

impl FakeLedger {
    fn apply(&mut self, event: &SpooledEvent) -> EventOutcome {
        if self.recorded.contains_key(&event.event_id) {
            return match &self.recorded[&event.event_id] {
                EventOutcome::Accepted => EventOutcome::Duplicate,
                other => other.clone(),
            };
        }
        for message_id in &event.message_ids {
            let previous = self
                .covered
                .insert(message_id.clone(), event.event_id.clone());
            assert!(
                previous.is_none(),
                "message {message_id} covered by two events"
            );
        }
        // Deterministic business rejections: about one event in 40.
        let outcome = if event.event_id.as_bytes()[20].is_multiple_of(40) {
            EventOutcome::Rejected {
                code: "TEST_RULE".into(),
                message: "rejected by the test ledger".into(),
            }
        } else {
            EventOutcome::Accepted
        };
        if event.event.biz_step.as_ref().map(|b| b.as_str()) == Some("commissioning") {
            for epc in event.event.epc_list.iter().flatten() {
                assert!(
                    self.commissioned_epcs.insert(epc.clone()),
                    "{epc} commissioned twice"
                );
            }
        }
        self.recorded
            .insert(event.event_id.clone(), outcome.clone());
        outcome
    }
}

#[derive(Clone)]
struct FakeSubmitter(Arc<Mutex<FakeLedger>>);

impl Submitter for FakeSubmitter {
    async fn submit(&mut self, batch: &[SpooledEvent]) -> Result<Vec<EventOutcome>, SubmitError> {
        let mut ledger = self.0.lock().unwrap();
        ledger.calls += 1;
        let roll = ledger.rng.gen_range(0..100);
        if roll < 25 {
            return Err(SubmitError::Transport("node unreachable".into()));
        }
        let outcomes: Vec<_> = batch.iter().map(|e| ledger.apply(e)).collect();
        if roll < 35 {
            return Err(SubmitError::Transport("reply lost after applying".into()));
        }
        Ok(outcomes)
    }
}

fn simulator_settings(seed: u64) -> SimulatorSettings {
    let gln = Gln::parse("0614141000005").unwrap();
    SimulatorSettings {
        line: "L1".into(),
        units_per_minute: 600,
        reject_rate: 0.05,
        bundle_size: 0,
        bundle_gtin: None,
        case_size: 6,
        pallet_size: 3,
        gtin: Gtin::parse("10614141073464").unwrap(),
        lot: "LOT1".into(),
        expiry: "2028-11-30".into(),
        seed,
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
}

fn settings() -> AdapterSettings {
    AdapterSettings {
        batch: BatchLimits {
            epcs_per_event_max: 16,
            batch_age_ms_max: 5,
        },
        submit_events_max: 7,
        submit_timeout: Duration::from_secs(5),
        retry_backoff_min: Duration::from_millis(1),
        retry_backoff_max: Duration::from_millis(8),
    }
}

fn context() -> LineContext {
    LineContext::new("L1", &Gln::parse("0614141000005").unwrap(), 7, 7).unwrap()
}

/// One adapter lifetime. Delivers every unacknowledged message in order and
/// collects receipts; with `crash_after`, aborts the adapter after that many
/// receipts (a crash). Returns the stop reason if the adapter stopped by itself.
async fn round(
    spool_dir: &std::path::Path,
    messages: &[LineMessage],
    acked: &mut [bool],
    ledger: &FakeSubmitter,
    counters: &Arc<Counters>,
    crash_after: Option<usize>,
) -> Option<StopReason> {
    let limits = SpoolLimits {
        live_events_max: 50,
        compact_after_done_events: 20,
        message_ids_remembered_max: 100_000,
    };
    let spool = Spool::open(spool_dir, limits).expect("spool opens after a crash");
    let adapter = Adapter::new(
        vec![context()],
        settings(),
        spool,
        ledger.clone(),
        counters.clone(),
    );
    let (inbound, inbound_receiver) = inbound_channel();
    let (_shutdown_sender, shutdown) = watch::channel(false);
    let core = tokio::spawn(adapter.run(inbound_receiver, shutdown));

    let pending: Vec<(usize, LineMessage)> = messages
        .iter()
        .enumerate()
        .filter(|(i, _)| !acked[*i])
        .map(|(i, m)| (i, m.clone()))
        .collect();
    let (receipts_sender, mut receipts) =
        mpsc::unbounded_channel::<(usize, oneshot::Receiver<Receipt>)>();
    let feeder = tokio::spawn(async move {
        for (index, message) in pending {
            let (sender, receiver) = oneshot::channel();
            if inbound
                .send(Inbound {
                    message,
                    receipt: Some(sender),
                })
                .await
                .is_err()
            {
                return;
            }
            if receipts_sender.send((index, receiver)).is_err() {
                return;
            }
        }
        // Dropping `inbound` here closes the source side.
    });

    let mut received = 0usize;
    while let Some((index, receiver)) = receipts.recv().await {
        if crash_after.is_some_and(|n| received >= n) {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(20), receiver)
            .await
            .expect("receipt in time")
        {
            Ok(Receipt::Stored | Receipt::Duplicate) => acked[index] = true,
            Ok(Receipt::Refused(reason)) => panic!("refused: {reason}"),
            Err(_) => {}
        }
        received += 1;
    }
    if crash_after.is_some() {
        core.abort();
        feeder.abort();
        let _ = core.await;
        let _ = feeder.await;
        return None;
    }
    let stopped = tokio::time::timeout(Duration::from_secs(60), core)
        .await
        .expect("adapter drains in time")
        .expect("adapter task")
        .expect("no spool error");
    Some(stopped)
}

fn scenario(seed: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut simulator =
        Simulator::new(simulator_settings(seed), &dir.path().join("serials")).unwrap();
    let messages: Vec<LineMessage> = (0..700)
        .map(|_| simulator.next_message().unwrap())
        .collect();
    let mut acked = vec![false; messages.len()];
    let ledger = FakeSubmitter(Arc::new(Mutex::new(FakeLedger {
        rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed),
        recorded: BTreeMap::new(),
        covered: BTreeMap::new(),
        commissioned_epcs: BTreeSet::new(),
        calls: 0,
    })));
    let counters = Arc::new(Counters::default());
    let mut crash_rng = ChaCha8Rng::seed_from_u64(seed);
    let spool_dir = dir.path().join("spool");
    runtime.block_on(async {
        for _ in 0..4 {
            let crash_after = crash_rng.gen_range(1..300);
            round(
                &spool_dir,
                &messages,
                &mut acked,
                &ledger,
                &counters,
                Some(crash_after),
            )
            .await;
        }
        let stopped = round(&spool_dir, &messages, &mut acked, &ledger, &counters, None).await;
        assert_eq!(stopped, Some(StopReason::Drained));
    });

    assert!(
        acked.iter().all(|a| *a),
        "seed {seed}: every message acknowledged"
    );
    let ledger = ledger.0.lock().unwrap();
    let all_ids: BTreeSet<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    let covered: BTreeSet<&str> = ledger.covered.keys().map(String::as_str).collect();
    assert_eq!(
        covered, all_ids,
        "seed {seed}: every message covered exactly once"
    );
    let printed = messages
        .iter()
        .filter(|m| matches!(m.event, LineEvent::Printed(_)))
        .count();
    assert_eq!(ledger.commissioned_epcs.len(), printed, "seed {seed}");
    let rejected = ledger
        .recorded
        .values()
        .filter(|o| matches!(o, EventOutcome::Rejected { .. }))
        .count();
    assert!(ledger.calls > 10);
    let spool = Spool::open(&spool_dir, SpoolLimits::default()).unwrap();
    assert_eq!(spool.live_len(), 0, "seed {seed}: spool drained");
    if rejected > 0 {
        let log = std::fs::read_to_string(spool_dir.join("rejected.jsonl")).unwrap();
        assert!(
            log.lines().count() >= rejected,
            "seed {seed}: rejections logged"
        );
    }
    let snapshot = counters.snapshot();
    assert!(snapshot.submit_failures > 0);
    // Every recorded event got a definite answer at least once (more than
    // once only if a crash fell between the answer and the done record).
    let answered = snapshot.accepted + snapshot.duplicate + snapshot.rejected;
    assert!(answered as usize >= ledger.recorded.len(), "seed {seed}");
    assert!(
        snapshot.redelivered > 0 || seed > 0,
        "crashes cause redeliveries"
    );
}

#[test]
fn never_lose_never_duplicate_across_crashes_and_failures() {
    for seed in 0..6 {
        scenario(seed);
    }
}
