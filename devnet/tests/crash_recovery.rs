//! Crash recovery with real processes on 127.0.0.1: `pedigree-devnet up --detach --no-plant`
//! starts four voting `pedigree-node`s and the regulator's learner; a background thread
//! keeps submitting requests of [`REQUEST_TXS`] client-signed one-unit commissioning events
//! to the manufacturer's node and records every transaction that comes back accepted. While
//! it runs, the test SIGKILLs a voter that is neither the manufacturer's node nor the leader,
//! lets the load go on, restarts the node with the command line `up` uses, then does the
//! same to the leader (the load moves to the CMO's node, signed by the CMO, which may
//! commission the manufacturer's GTIN, while the leader is down if the leader is the
//! manufacturer's node). After the load stops, every node must reach the same height,
//! block hash and state hash; each restarted node must hold the receipt of every accepted
//! transaction (accepted, at the height the submitter was told) and verify a sample of the
//! accepted serials as active. Each of the five phases (before the first kill, while the
//! first victim is down, between, while the leader is down, after) must have had at least
//! [`PHASE_TXS_MIN`] transactions accepted, from requests started in that phase, so the test
//! cannot pass without load around both crashes.
//!
//! The nodes compact their Raft logs every [`COMPACT_ENTRIES`] entries, and each victim is
//! killed only after it has compacted once: a node's ledger writes applied blocks without a
//! log of its own and compacts the Raft log only as far as the ledger has flushed, so each
//! restart must open a ledger that is neither empty nor complete (checked in its log) and
//! re-apply the rest from a Raft log that no longer starts at the beginning.
//!
//! # Binaries
//! As in `up_down.rs`: next to `pedigree-devnet`, or in `$PEDIGREE_BIN_DIR`; run
//! `cargo build -p pedigree-node -p pedigree-plant -p pedigree-client -p pedigree-devnet`
//! first (with the same `CARGO_TARGET_DIR`). A missing binary fails the test.
//!
//! # Waits and clean-up
//! Every wait polls with a deadline. A guard stops the devnet (`down`, then SIGKILL for any
//! pid of `devnet.json`, which records the restarted nodes' pids too) and the load when the
//! test fails anywhere; the restarted nodes are this process's children and are reaped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pedigree_client::events::Commission;
use pedigree_client::signer::{self, OrgSigner};
use pedigree_client::{Client, TxStatus};
use pedigree_devnet::manifest::{Manifest, NodeEntry};
use pedigree_devnet::plan::{self, UNIT_GTIN};
use pedigree_devnet::process::{self, is_alive, stop};

mod support;
use support::{
    assert_five_nodes_running, bin_dir, devnet_command, poll, require_binaries, runtime, text,
};

/// The binaries the test runs.
const BINARIES: [&str; 2] = ["pedigree-devnet", "pedigree-node"];
/// The longest `up` may take (keys, genesis, five nodes, a leader, the scenario).
const UP_DEADLINE: Duration = Duration::from_secs(120);
/// The longest `down` may take.
const DOWN_DEADLINE: Duration = Duration::from_secs(60);
/// The longest a phase may take to see its accepted transactions, and any other condition
/// on the network (a leader, a caught-up node) to become true.
const WAIT: Duration = Duration::from_secs(45);
/// The longest the nodes may take to agree on one block and state after the load stops.
const CONVERGE: Duration = Duration::from_secs(60);
/// The longest one load request may take (the node waits up to 30 s for a commit).
const REQUEST_DEADLINE: Duration = Duration::from_secs(40);
/// One-unit commissioning events per load request.
const REQUEST_TXS: usize = 20;
/// Accepted transactions each phase needs (from requests started in it): two full requests.
const PHASE_TXS_MIN: usize = 2 * REQUEST_TXS;
/// Expiry of the commissioned units, as an ISO date and as `YYMMDD`.
const EXPIRY: (&str, &str) = ("2028-12-31", "281231");
/// Every this many accepted serials (and the first and last of each phase), one is verified.
const VERIFY_EVERY: usize = 10;
/// Applied entries between log compactions on every node (`up --compact-entries`). Small, so
/// that before each kill the victim has flushed part of its ledger and compacted its Raft log
/// to there: it then restarts from a ledger that is neither empty nor complete, with a log
/// that no longer starts at the beginning.
const COMPACT_ENTRIES: u64 = 4;

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn log_tail(path: &Path, lines: usize) -> String {
    let content = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<String> = content.lines().map(strip_ansi).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The devnet of one test; dropping it (on a failure) stops every process it started,
/// the restarted nodes included. Dropping it always reaps the restarted nodes.
struct Devnet {
    bin: PathBuf,
    dir: PathBuf,
    armed: bool,
    /// Nodes this test restarted (its children), with their log files.
    restarted: Vec<(Child, PathBuf)>,
}

impl Devnet {
    fn try_command(&self, args: &[&str], deadline: Duration) -> Result<Output, String> {
        devnet_command(&self.bin, &self.dir, args, deadline)
    }

    fn command(&self, args: &[&str], deadline: Duration) -> Output {
        self.try_command(args, deadline)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    fn manifest(&self) -> Manifest {
        Manifest::load(&self.dir).expect("devnet.json")
    }

    /// SIGKILLs `org`'s node (no clean shutdown) and waits until it is gone.
    fn kill(&self, org: &str) {
        let node = self
            .manifest()
            .node(org)
            .expect("org in devnet.json")
            .clone();
        assert!(
            is_alive(node.pid),
            "{org} (pid {}) is not running",
            node.pid
        );
        let status = Command::new("kill")
            .args(["-KILL", &node.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("running kill");
        assert!(
            status.success(),
            "kill -KILL {} ({org}): {status}",
            node.pid
        );
        wait_sync(&format!("{org} (pid {}) gone", node.pid), WAIT, || {
            if is_alive(node.pid) {
                Err("alive".into())
            } else {
                Ok(())
            }
        });
    }

    /// Starts `org`'s node again as `up` does (`pedigree-node run --config <dir>/<org>/node.toml`
    /// in its directory, own process group), logging to `node.restart-<n>.log` in the node's
    /// directory, and records the new pid in `devnet.json` (so `down` stops it).
    fn restart(&mut self, org: &str) -> PathBuf {
        let mut manifest = self.manifest();
        let node = manifest
            .nodes
            .iter_mut()
            .find(|n| n.org == org)
            .expect("org in devnet.json");
        assert!(
            !is_alive(node.pid),
            "{org} (pid {}) still running",
            node.pid
        );
        let config = node.dir.join("node.toml");
        let log = node
            .dir
            .join(format!("node.restart-{}.log", self.restarted.len() + 1));
        let child = process::spawn(
            &self.bin.join("pedigree-node"),
            &["run", "--config", config.to_str().expect("UTF-8 path")],
            &log,
            &node.dir,
        )
        .unwrap_or_else(|e| panic!("restarting {org}: {e:#}"));
        node.pid = child.id();
        manifest.save().expect("saving devnet.json");
        self.restarted.push((child, log.clone()));
        log
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if self.armed {
            if std::thread::panicking() {
                let mut logs: Vec<PathBuf> = ["mfg", "cmo", "dist", "pharm", "reg"]
                    .iter()
                    .map(|org| self.dir.join(org).join("node.log"))
                    .collect();
                logs.extend(self.restarted.iter().map(|(_, log)| log.clone()));
                for log in logs {
                    eprintln!(
                        "--- last lines of {}:\n{}",
                        log.display(),
                        log_tail(&log, 15)
                    );
                }
            }
            match self.try_command(&["down"], DOWN_DEADLINE) {
                Ok(down) => eprintln!("guard: pedigree-devnet down: {}", text(&down).trim()),
                Err(error) => eprintln!("guard: pedigree-devnet down: {error}"),
            }
            // Whatever `down` could not stop (or did not know of) is killed.
            if let Ok(manifest) = Manifest::load(&self.dir) {
                for pid in manifest.pids() {
                    stop(pid, Duration::from_secs(2));
                }
            }
            for (child, _) in &mut self.restarted {
                if matches!(child.try_wait(), Ok(None)) {
                    let _ = child.kill();
                }
            }
        }
        // Reap the restarted nodes (stopped by `down` or above).
        for (child, _) in &mut self.restarted {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// Polls `check` (a blocking check) until it returns `Ok`, failing after `deadline` with
/// `what` and the last value seen.
fn wait_sync<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let started = Instant::now();
    loop {
        let last = match check() {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}; last: {last}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn client(node: &NodeEntry) -> Client {
    Client::new(&node.api_url, Some(&node.token)).expect("client")
}

// ----- the load ----------------------------------------------------------------------------

/// A transaction the load saw accepted.
#[derive(Clone, Debug)]
struct Accepted {
    tx_id: String,
    lot: String,
    serial: String,
    /// The height its receipt named.
    height: u64,
    /// The phase in which its request started.
    phase: usize,
    /// The org that signed it (and whose node took it).
    org: String,
}

/// What the load thread and the test share.
#[derive(Default)]
struct Load {
    /// The current phase; each request records the phase it started in.
    phase: AtomicUsize,
    /// Submit through the CMO's node (signed by the CMO) instead of the manufacturer's.
    via_cmo: AtomicBool,
    stop: AtomicBool,
    accepted: Mutex<Vec<Accepted>>,
    /// Requests that failed as a whole, and transactions that were not accepted.
    problems: Mutex<Vec<String>>,
    /// Transactions the chaincode rejected or reported as duplicates (never expected: every
    /// serial is fresh).
    rejected: Mutex<Vec<String>>,
    requests: AtomicUsize,
}

impl Load {
    fn accepted_in(&self, phase: usize) -> usize {
        self.accepted
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.phase == phase)
            .count()
    }

    fn set_phase(&self, phase: usize) {
        self.phase.store(phase, Ordering::SeqCst);
    }

    /// Waits until requests started in `phase` have had [`PHASE_TXS_MIN`] transactions
    /// accepted.
    fn wait_phase(&self, phase: usize, what: &str, thread: &std::thread::JoinHandle<()>) {
        wait_sync(
            &format!("{PHASE_TXS_MIN} accepted transactions in phase {phase} ({what})"),
            WAIT,
            || {
                assert!(!thread.is_finished(), "the load thread stopped");
                match self.accepted_in(phase) {
                    n if n >= PHASE_TXS_MIN => Ok(n),
                    n => {
                        let problems = self.problems.lock().unwrap();
                        Err(format!(
                            "{n} accepted; {} problems, last: {:?}",
                            problems.len(),
                            problems.last()
                        ))
                    }
                }
            },
        );
    }
}

/// An org submitting on its own node.
struct Submitter {
    org: String,
    gln: String,
    client: Client,
    signer: OrgSigner,
}

impl Submitter {
    fn new(manifest: &Manifest, org: &str) -> Submitter {
        let node = manifest.node(org).expect("org in devnet.json");
        let key = signer::read_key_file(&node.signing_key).expect("signing key");
        let network_id = signer::parse_digest(&manifest.network_id).expect("network id");
        Submitter {
            org: org.to_string(),
            gln: node.gln.clone(),
            client: client(node),
            signer: OrgSigner::new(org, key, network_id),
        }
    }
}

/// The load: requests of [`REQUEST_TXS`] one-unit commissioning events, one lot per request,
/// each waited for, until `load.stop`.
async fn drive(load: Arc<Load>, mfg: Submitter, cmo: Submitter, run: u64) {
    let mut request = 0_u64;
    while !load.stop.load(Ordering::SeqCst) {
        request += 1;
        let phase = load.phase.load(Ordering::SeqCst);
        let submitter = if load.via_cmo.load(Ordering::SeqCst) {
            &cmo
        } else {
            &mfg
        };
        let lot = format!("CR{run}R{request}");
        let serials: Vec<String> = (0..REQUEST_TXS)
            .map(|i| format!("K{run}R{request}N{i:02}"))
            .collect();
        let txs: Vec<_> = serials
            .iter()
            .map(|serial| {
                let event = Commission::new(UNIT_GTIN, &lot, EXPIRY.0)
                    .serial(serial)
                    .at(&submitter.gln)
                    .build()
                    .expect("a valid commissioning event");
                submitter.signer.sign_event(event)
            })
            .collect();
        let answer = tokio::time::timeout(REQUEST_DEADLINE, submitter.client.submit(&txs)).await;
        load.requests.fetch_add(1, Ordering::SeqCst);
        let results = match answer {
            Ok(Ok(results)) => results,
            Ok(Err(error)) => {
                load.problems.lock().unwrap().push(format!(
                    "phase {phase} request {request} ({}): {error}",
                    submitter.org
                ));
                // The node is down or unreachable: pace the retries.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(_) => {
                load.problems.lock().unwrap().push(format!(
                    "phase {phase} request {request} ({}): no answer within {REQUEST_DEADLINE:?}",
                    submitter.org
                ));
                continue;
            }
        };
        assert_eq!(results.len(), txs.len(), "one result per transaction");
        for ((result, tx), serial) in results.iter().zip(&txs).zip(&serials) {
            let tx_id = hex::encode(tx.tx_id());
            assert_eq!(result.tx_id.as_deref(), Some(tx_id.as_str()), "{result:?}");
            match result.status {
                TxStatus::Accepted => {
                    let height = result.height.unwrap_or_else(|| {
                        panic!("an accepted receipt without height: {result:?}")
                    });
                    load.accepted.lock().unwrap().push(Accepted {
                        tx_id,
                        lot: lot.clone(),
                        serial: serial.clone(),
                        height,
                        phase,
                        org: submitter.org.clone(),
                    });
                }
                TxStatus::Failed => load.problems.lock().unwrap().push(format!(
                    "phase {phase} request {request} ({}): {serial}: {} {}",
                    submitter.org, result.outcome, result.message
                )),
                TxStatus::Rejected | TxStatus::Duplicate => {
                    load.rejected.lock().unwrap().push(format!(
                        "phase {phase} request {request} ({}): {serial}: {result:?}",
                        submitter.org
                    ))
                }
            }
        }
    }
}

/// Stops the load when dropped (also when the test fails).
struct StopLoad(Arc<Load>);

impl Drop for StopLoad {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::SeqCst);
    }
}

// ----- the network -------------------------------------------------------------------------

/// The org whose node every running voter names as leader (all agree, and it is running).
async fn agreed_leader(manifest: &Manifest, down: &[&str]) -> Result<String, String> {
    let mut leaders = BTreeMap::new();
    for node in manifest
        .nodes
        .iter()
        .filter(|n| n.raft_role == "voter" && !down.contains(&n.org.as_str()))
    {
        let status = client(node).status().await.map_err(|e| e.to_string())?;
        leaders.insert(node.org.clone(), status.leader.unwrap_or_default());
    }
    let first = leaders.values().next().cloned().unwrap_or_default();
    if first.is_empty() || leaders.values().any(|l| *l != first) {
        return Err(format!("leaders seen: {leaders:?}"));
    }
    let org = manifest
        .nodes
        .iter()
        .find(|n| n.peer_id == first)
        .map(|n| n.org.clone())
        .ok_or_else(|| format!("leader {first} is no devnet node"))?;
    if down.contains(&org.as_str()) {
        return Err(format!("the leader is still {org}, which is down"));
    }
    Ok(org)
}

/// One node's `/status` ledger fields: (height, block hash, state hash, applied index).
async fn fingerprint(node: &NodeEntry) -> Result<(u64, String, String, u64), String> {
    let status = client(node).status().await.map_err(|e| e.to_string())?;
    let ledger = &status.raw["ledger"];
    let field = |name: &str| ledger[name].as_str().map(str::to_string);
    match (
        ledger["latestHeight"].as_u64(),
        field("latestBlockHash"),
        field("stateHash"),
        ledger["appliedIndex"].as_u64(),
    ) {
        (Some(height), Some(block), Some(state), Some(applied)) => {
            Ok((height, block, state, applied))
        }
        _ => Err(format!("{}: incomplete status {}", node.org, status.raw)),
    }
}

/// Waits until `org`'s node answers `/status`, knows a leader and has reached `height`.
async fn wait_caught_up(node: &NodeEntry, height: u64) {
    let client = client(node);
    poll(
        &format!("{} restarted, with a leader, at height {height}", node.org),
        WAIT,
        || async {
            assert!(is_alive(node.pid), "{} (pid {}) exited", node.org, node.pid);
            let status = client.status().await.map_err(|e| e.to_string())?;
            match status.latest_height {
                Some(h) if h >= height && status.has_leader() => Ok(()),
                _ => Err(status.raw.to_string()),
            }
        },
    )
    .await;
}

/// Waits until `node` has compacted its Raft log at least once (`ledger_snapshots_taken_total`
/// in `/metrics`): a compaction goes only as far as the ledger has on disk, so the node has
/// then flushed some of its ledger.
async fn wait_compacted(node: &NodeEntry) {
    let http = reqwest::Client::new();
    let url = format!("{}/metrics", node.api_url);
    poll(
        &format!("{} to compact its Raft log", node.org),
        WAIT,
        || async {
            let text = http
                .get(&url)
                .bearer_auth(&node.token)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            let taken = text
                .lines()
                .find_map(|line| line.strip_prefix("ledger_snapshots_taken_total "))
                .and_then(|value| value.trim().parse::<u64>().ok());
            match taken {
                Some(taken) if taken >= 1 => Ok(()),
                _ => Err(format!("no compaction yet: {taken:?}")),
            }
        },
    )
    .await;
}

/// The applied index a restarted node opened its ledger at (its `ledger opened` log line).
fn opened_at(log: &Path) -> u64 {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let line = text
        .lines()
        .map(strip_ansi)
        .find(|line| line.contains("ledger opened"))
        .unwrap_or_else(|| panic!("no `ledger opened` line in {}", log.display()));
    line.split_whitespace()
        .find_map(|word| word.strip_prefix("applied_index="))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no applied_index in {line:?}"))
}

/// Lines of a node log at WARN or ERROR level, or that mention a panic.
fn notable_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(strip_ansi)
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("panicked"))
        .collect()
}

#[test]
fn killed_nodes_lose_nothing_and_converge() {
    let started = Instant::now();
    let bins = bin_dir();
    require_binaries(&bins, &BINARIES);
    let temp = tempfile::tempdir().unwrap();
    let mut devnet = Devnet {
        bin: bins.clone(),
        dir: temp.path().join("devnet"),
        armed: true,
        restarted: Vec::new(),
    };
    let bin_arg = bins.to_str().expect("UTF-8 bin dir");
    let up = devnet.command(
        &[
            "up",
            "--detach",
            "--no-plant",
            "--bin-dir",
            bin_arg,
            "--compact-entries",
            &COMPACT_ENTRIES.to_string(),
        ],
        UP_DEADLINE,
    );
    assert!(up.status.success(), "up failed:\n{}", text(&up));
    let manifest = devnet.manifest();
    assert_five_nodes_running(&manifest);
    assert!(manifest.processes.is_empty(), "{:?}", manifest.processes);
    let original_pids = manifest.pids();
    eprintln!("up: {:?}", started.elapsed());

    // The load, on its own thread and runtime.
    let load = Arc::new(Load::default());
    let _stop_load = StopLoad(load.clone());
    let mfg = Submitter::new(&manifest, plan::MANUFACTURER.id);
    let cmo = Submitter::new(&manifest, plan::CMO.id);
    let run = pedigree_client::clock::unix_millis() % 1_000_000_000;
    let load_thread = {
        let load = load.clone();
        std::thread::spawn(move || runtime().block_on(drive(load, mfg, cmo, run)))
    };
    let rt = runtime();

    // Phase 0: the load runs on a whole network.
    load.wait_phase(0, "all nodes up", &load_thread);
    eprintln!("phase 0: {:?}", started.elapsed());

    // Phase 1: a voter that is neither the manufacturer's node nor the leader is killed.
    let leader = rt.block_on(poll("an agreed leader", WAIT, || {
        agreed_leader(&manifest, &[])
    }));
    let follower = ["cmo", "dist", "pharm"]
        .into_iter()
        .find(|org| *org != leader)
        .expect("a follower")
        .to_string();
    rt.block_on(wait_compacted(manifest.node(&follower).unwrap()));
    devnet.kill(&follower);
    load.set_phase(1);
    eprintln!(
        "SIGKILLed follower {follower} (leader {leader}): {:?}",
        started.elapsed()
    );
    load.wait_phase(1, &format!("{follower} down"), &load_thread);

    // Phase 2: it is back, as `up` starts it, and catches up.
    let restart_log = devnet.restart(&follower);
    load.set_phase(2);
    let manifest = devnet.manifest();
    let height_now = rt
        .block_on(fingerprint(manifest.node("mfg").unwrap()))
        .unwrap()
        .0;
    rt.block_on(wait_caught_up(
        manifest.node(&follower).unwrap(),
        height_now,
    ));
    let opened = opened_at(&restart_log);
    assert!(
        opened > 0,
        "{follower} compacted its log before the kill, so its ledger had been flushed"
    );
    eprintln!(
        "restarted {follower} (log {}), caught up to {height_now}: {:?}",
        restart_log.display(),
        started.elapsed()
    );
    load.wait_phase(2, &format!("{follower} restarted"), &load_thread);

    // Phase 3: the leader is killed; another leader takes the load.
    let leader = rt.block_on(poll("an agreed leader", WAIT, || {
        agreed_leader(&manifest, &[])
    }));
    if leader == plan::MANUFACTURER.id {
        // The manufacturer's node takes only its own org's transactions: the CMO (which may
        // commission the manufacturer's GTIN) submits on its node while it is down.
        load.via_cmo.store(true, Ordering::SeqCst);
    }
    rt.block_on(wait_compacted(manifest.node(&leader).unwrap()));
    let killed_height = rt
        .block_on(fingerprint(manifest.node(&leader).unwrap()))
        .unwrap()
        .0;
    devnet.kill(&leader);
    load.set_phase(3);
    eprintln!(
        "SIGKILLed leader {leader} at height {killed_height}: {:?}",
        started.elapsed()
    );
    let leader_down = [leader.as_str()];
    let new_leader = rt.block_on(poll("a new leader", WAIT, || {
        agreed_leader(&manifest, &leader_down)
    }));
    load.wait_phase(3, &format!("leader {leader} down"), &load_thread);
    let phase3_heights: Vec<u64> = load
        .accepted
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.phase == 3)
        .map(|a| a.height)
        .collect();
    assert!(
        phase3_heights.iter().all(|h| *h > killed_height),
        "phase 3 receipts at or below the killed leader's height {killed_height}: {phase3_heights:?}"
    );
    eprintln!("new leader {new_leader}: {:?}", started.elapsed());

    // Phase 4: the old leader is back and catches up; the load returns to the
    // manufacturer's node.
    let restart_log = devnet.restart(&leader);
    let manifest = devnet.manifest();
    let height_now = rt
        .block_on(fingerprint(manifest.node(&new_leader).unwrap()))
        .unwrap()
        .0;
    rt.block_on(wait_caught_up(manifest.node(&leader).unwrap(), height_now));
    assert!(
        opened_at(&restart_log) > 0,
        "{leader} compacted its log before the kill, so its ledger had been flushed"
    );
    load.via_cmo.store(false, Ordering::SeqCst);
    load.set_phase(4);
    eprintln!(
        "restarted {leader} (log {}), caught up to {height_now}: {:?}",
        restart_log.display(),
        started.elapsed()
    );
    load.wait_phase(4, &format!("{leader} restarted"), &load_thread);

    // The load stops (its last request may still be waiting for its commit).
    load.stop.store(true, Ordering::SeqCst);
    wait_sync("the load thread to stop", REQUEST_DEADLINE + WAIT, || {
        if load_thread.is_finished() {
            Ok(())
        } else {
            Err("running".into())
        }
    });
    if let Err(panic) = load_thread.join() {
        std::panic::resume_unwind(panic);
    }
    let accepted = load.accepted.lock().unwrap().clone();
    let problems = load.problems.lock().unwrap().clone();
    let rejected = load.rejected.lock().unwrap().clone();
    let per_phase: Vec<usize> = (0..5).map(|p| load.accepted_in(p)).collect();
    eprintln!(
        "load stopped: {} requests, {} accepted txs {per_phase:?} per phase, {} problems: {:?}",
        load.requests.load(Ordering::SeqCst),
        accepted.len(),
        problems.len(),
        problems
    );
    assert!(rejected.is_empty(), "rejected or duplicate: {rejected:?}");
    assert!(
        per_phase.iter().all(|n| *n >= PHASE_TXS_MIN),
        "{per_phase:?}"
    );
    let mut tx_ids: Vec<&str> = accepted.iter().map(|a| a.tx_id.as_str()).collect();
    tx_ids.sort_unstable();
    tx_ids.dedup();
    assert_eq!(tx_ids.len(), accepted.len(), "a tx id accepted twice");
    let top = accepted
        .iter()
        .map(|a| a.height)
        .max()
        .expect("accepted txs");

    // Every node reaches the same block and state.
    let fingerprints = rt.block_on(poll(
        "every node at the same height, block hash and state hash",
        CONVERGE,
        || async {
            let mut all = BTreeMap::new();
            for node in &manifest.nodes {
                assert!(is_alive(node.pid), "{} (pid {}) exited", node.org, node.pid);
                all.insert(node.org.clone(), fingerprint(node).await?);
            }
            let first = all.values().next().cloned().unwrap();
            let same = all
                .values()
                .all(|f| (f.0, &f.1, &f.2) == (first.0, &first.1, &first.2));
            if same && first.0 >= top {
                Ok(all)
            } else {
                Err(format!("{all:?} (highest accepted receipt at {top})"))
            }
        },
    ));
    eprintln!(
        "converged: {:?} ({:?})",
        fingerprints.values().next().unwrap(),
        started.elapsed()
    );

    // The restarted nodes hold every accepted transaction, at the height the submitter was
    // told, and verify a sample of the serials as active.
    for org in [&follower, &leader] {
        let node = client(manifest.node(org).unwrap());
        rt.block_on(async {
            for a in &accepted {
                let receipt = node
                    .receipt(&a.tx_id)
                    .await
                    .unwrap_or_else(|e| panic!("{org}: receipt of {}: {e}", a.tx_id))
                    .unwrap_or_else(|| panic!("{org} lost accepted tx {a:?}"));
                assert_eq!(receipt.status, TxStatus::Accepted, "{org}: {receipt:?}");
                assert_eq!(receipt.height, Some(a.height), "{org}: {a:?} {receipt:?}");
            }
            let mut sample = 0;
            for (i, a) in accepted.iter().enumerate() {
                let edge = i == 0
                    || i + 1 == accepted.len()
                    || accepted[i - 1].phase != a.phase
                    || accepted[i + 1].phase != a.phase;
                if !edge && i % VERIFY_EVERY != 0 {
                    continue;
                }
                sample += 1;
                let answer = node
                    .verify(UNIT_GTIN, &a.lot, &a.serial, Some(EXPIRY.1))
                    .await
                    .unwrap_or_else(|e| panic!("{org}: verify {a:?}: {e}"));
                assert!(answer.verified, "{org}: {a:?}: {:?}", answer.raw);
                assert_eq!(
                    answer.status.as_deref(),
                    Some("Active"),
                    "{org}: {a:?}: {:?}",
                    answer.raw
                );
            }
            eprintln!(
                "{org}: {} receipts found, {sample} serials verified ({:?})",
                accepted.len(),
                started.elapsed()
            );
        });
    }
    let by_org = |org: &str| accepted.iter().filter(|a| a.org == org).count();
    eprintln!(
        "accepted by mfg {} and by cmo {}",
        by_org("mfg"),
        by_org("cmo")
    );

    // Where the restarted nodes resumed, and what they logged at WARN and above.
    for (_, log) in &devnet.restarted {
        let content = std::fs::read_to_string(log).unwrap_or_default();
        for line in content
            .lines()
            .map(strip_ansi)
            .filter(|l| l.contains("ledger opened") || l.contains("restored a snapshot"))
        {
            eprintln!("{}: {line}", log.display());
        }
        let lines = notable_lines(log);
        eprintln!(
            "--- {}: {} WARN/ERROR lines{}",
            log.display(),
            lines.len(),
            lines
                .iter()
                .take(20)
                .map(|l| format!("\n  {l}"))
                .collect::<String>()
        );
    }
    for node in &manifest.nodes {
        let log = node.dir.join("node.log");
        let panics: Vec<String> = notable_lines(&log)
            .into_iter()
            .filter(|l| l.contains("panicked"))
            .collect();
        assert!(panics.is_empty(), "{}: {panics:?}", log.display());
    }
    for (_, log) in &devnet.restarted {
        let panics: Vec<String> = notable_lines(log)
            .into_iter()
            .filter(|l| l.contains("panicked"))
            .collect();
        assert!(panics.is_empty(), "{}: {panics:?}", log.display());
    }

    // Down stops everything, the restarted nodes included.
    let down = devnet.command(&["down"], DOWN_DEADLINE);
    assert!(down.status.success(), "{}", text(&down));
    devnet.armed = false;
    assert!(devnet.manifest().pids().is_empty());
    for (child, _) in &mut devnet.restarted {
        let status = child.wait().expect("reaping a restarted node");
        eprintln!("restarted node pid {} exited: {status}", child.id());
    }
    for pid in original_pids.iter().chain(&manifest.pids()) {
        assert!(!is_alive(*pid), "pid {pid} still running after down");
    }
    eprintln!("done: {:?}", started.elapsed());
}
