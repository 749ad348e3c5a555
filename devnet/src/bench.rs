//! `pedigree-devnet bench`: drives a fresh devnet (4 voters + the regulator's learner) over the
//! real HTTP API and measures what issue #6 asks for.
//!
//! Phases, in order (each measured phase runs `--secs` seconds):
//!
//! 1. **tx/s at max rate** — closed loop: `--workers` concurrent requests, each a
//!    `POST /capture` of `--txs-per-request` client-signed one-unit commissioning events
//!    (`application/vnd.pedigree.signed-txs+json`) with `Prefer: wait=60`, so the node
//!    answers when the job has finished (every transaction committed and applied on the node
//!    asked); a job still running after that is polled every `--poll-ms`. Transactions are
//!    built and signed by the load generator while it runs.
//! 2. **tx/s at half rate** — open loop: requests are started on a fixed schedule at half the
//!    measured transaction rate, whatever is outstanding; latency counts from the scheduled
//!    start, so a stalled node cannot hide its queueing (no coordinated omission). Requests
//!    hold `--half-txs-per-request` transactions (default: as at max rate); smaller requests
//!    measure a transaction's latency without 99 siblings in its request, and also how much
//!    the network pays per block (more, smaller blocks). The phase runs until it has started
//!    `--half-requests-min` requests (1,000), longer than `--secs` if need be, so that its p99
//!    is not just the second-slowest of 150 requests.
//! 3. **units/s at max rate** and 4. **at half rate** — the same with requests of
//!    `--events-per-request` commissioning events of 100 units each (at half rate
//!    `--half-events-per-request`).
//! 5. **load** — commissioning events of `--load-units-per-event` units until the ledger holds
//!    `--serials` units.
//! 6. **verify** — after the nodes have settled (together under a quarter of a core, at most
//!    5 minutes: RocksDB compacts in the background after the load) and a 3-second warm-up
//!    (reported on its own line, not counted),
//!    `GET /verify/gtin/../lot/../ser/..?exp=..` of random committed serials on one node over
//!    `--verify-connections` keep-alive HTTP/1.1 connections (a minimal client, one request
//!    in flight per connection, like `wrk`), with the network otherwise idle.
//! 7. **disk** — the nodes are stopped, each node's `data/` is measured, every RocksDB is
//!    flushed and compacted offline (same options as the node), and measured again; bytes ÷
//!    units on the ledger.
//!
//! The load generator runs on the same machine: its CPU time and every node's CPU time are
//! read from `/proc` for each phase and reported with the load average.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use pedigree_client::events::Commission;
use pedigree_client::signer::{self, OrgSigner};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

use crate::manifest::{Manifest, NodeEntry};
use crate::network::{self, UpOptions};
use crate::plan::{self, UNIT_GTIN};
use crate::process;

/// Units per commissioning event in the units/s phase (the figure).
pub const UNITS_PER_EVENT: usize = 100;
/// Expiry of every benchmark unit (ISO and the `YYMMDD` on the pack).
const EXPIRY: (&str, &str) = ("2028-12-31", "281231");
/// Units per lot (a lot per 10,000 serials, as a line would run).
const UNITS_PER_LOT: u64 = 10_000;
/// Before verification the nodes must use less than this many cores together (idle network).
const SETTLE_CORES: f64 = 0.25;
/// Over samples of this length.
const SETTLE_SAMPLE: Duration = Duration::from_secs(2);
/// The longest wait for the nodes to settle.
const SETTLE_MAX: Duration = Duration::from_secs(300);
/// Most requests outstanding in an open-loop phase before it is declared overloaded.
const OPEN_LOOP_OUTSTANDING_MAX: usize = 2_000;

/// Verification runs this long before the measured window (the block cache starts cold after
/// the load and its compactions), as the submission phases have their warm-up.
const VERIFY_WARM_UP: Duration = Duration::from_secs(3);

/// The load phase gives up after this long without a unit committed.
const LOAD_STALL_MAX: Duration = Duration::from_secs(120);

/// Options of `bench`.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// The benchmark's own devnet directory (wiped at start).
    pub dir: PathBuf,
    /// Where the binaries are.
    pub bin_dir: Option<PathBuf>,
    /// Units the ledger must hold before the verification phase.
    pub serials: u64,
    /// Seconds per measured phase.
    pub secs: u64,
    /// Concurrent requests in closed-loop phases.
    pub workers: usize,
    /// Transactions per request in the tx/s phases.
    pub txs_per_request: usize,
    /// 100-unit events per request in the units/s phases.
    pub events_per_request: usize,
    /// Transactions per request in the tx/s half-rate phase.
    pub half_txs_per_request: usize,
    /// 100-unit events per request in the units/s half-rate phase.
    pub half_events_per_request: usize,
    /// Requests each half-rate phase starts at least (it runs longer than `secs` if need be).
    pub half_requests_min: usize,
    /// Units per commissioning event while loading.
    pub load_units_per_event: usize,
    /// Keep-alive connections of the verification phase.
    pub verify_connections: usize,
    /// Org whose node answers verifications.
    pub verify_node: String,
    /// Orgs whose nodes take submissions (round robin).
    pub submit_to: Vec<String>,
    /// Job polling interval.
    pub poll: Duration,
    /// Leave the node data in place, with the committed serials ([`SERIALS_FILE_NAME`]).
    pub keep: bool,
    /// Only the verification phase, against the devnet already running in `dir`.
    pub verify_only: bool,
}

/// The file in a kept benchmark directory naming the serials the run committed, so that
/// `bench --verify-only` can ask for them again.
pub const SERIALS_FILE_NAME: &str = "bench-serials.json";

/// What [`SERIALS_FILE_NAME`] holds.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
struct CommittedSerials {
    /// The run's serial prefix ([`Serials::tag`]).
    tag: String,
    /// (first serial index, units) of every accepted transaction.
    committed: Vec<(u64, u64)>,
}

impl BenchOptions {
    fn check(&self) -> anyhow::Result<()> {
        let positive = [
            ("--secs", self.secs as usize),
            ("--workers", self.workers),
            ("--txs-per-request", self.txs_per_request),
            ("--events-per-request", self.events_per_request),
            ("--half-txs-per-request", self.half_txs_per_request),
            ("--half-events-per-request", self.half_events_per_request),
            ("--load-units-per-event", self.load_units_per_event),
            ("--verify-connections", self.verify_connections),
        ];
        for (name, value) in positive {
            if value == 0 {
                bail!("{name} must be at least 1");
            }
        }
        if [
            self.txs_per_request,
            self.events_per_request,
            self.half_txs_per_request,
            self.half_events_per_request,
        ]
        .iter()
        .any(|&n| n > 10_000)
        {
            bail!("a request holds at most 10,000 transactions (the node's capture limit)");
        }
        if !UNITS_PER_LOT.is_multiple_of(self.load_units_per_event as u64) {
            bail!("--load-units-per-event must divide {UNITS_PER_LOT} (the units of one lot)");
        }
        if self.serials == 0 {
            bail!("--serials must be at least 1");
        }
        let known: Vec<&str> = plan::ORGS.iter().map(|o| o.id).collect();
        if !known.contains(&self.verify_node.as_str()) {
            bail!(
                "--verify-node {}: not a devnet org ({})",
                self.verify_node,
                known.join(", ")
            );
        }
        if self.submit_to.is_empty() {
            bail!("--submit-to names no org");
        }
        for org in &self.submit_to {
            if !known.contains(&org.as_str()) || org == plan::REGULATOR.id {
                bail!(
                    "--submit-to {org}: not a voting devnet org (mfg, cmo, dist, pharm; reg is a read-only learner)"
                );
            }
        }
        Ok(())
    }
}

// ----- statistics ---------------------------------------------------------------------------

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Samples.
    pub samples: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl Latency {
    fn from_micros(mut samples: Vec<u64>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let rank = ((samples.len() as f64) * q).ceil() as usize;
            samples[rank.clamp(1, samples.len()) - 1] as f64 / 1000.0
        };
        Latency {
            samples: samples.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: *samples.last().expect("not empty") as f64 / 1000.0,
        }
    }
}

/// CPU seconds spent during a phase and the load average at its end.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cpu {
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// CPU seconds of the five node processes together.
    pub nodes_cpu_s: f64,
    /// CPU seconds of this process (the load generator).
    pub generator_cpu_s: f64,
    /// CPU seconds of the whole machine (all processes, `/proc/stat`).
    pub machine_cpu_s: f64,
    /// 1-minute load average at the end of the phase.
    pub loadavg_1m: f64,
}

struct CpuMark {
    at: Instant,
    nodes: f64,
    me: f64,
    machine: f64,
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn process_cpu_s(pid: u32, ticks: f64) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    // Fields after the command: state(3) ... utime(14) stime(15).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (get(11) + get(12)) / ticks
}

fn machine_cpu_s(ticks: f64) -> f64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().next() else {
        return 0.0;
    };
    // cpu user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let busy: f64 = values
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
        .map(|(_, v)| v)
        .sum();
    busy / ticks
}

fn loadavg_1m() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

struct Meter {
    pids: Vec<u32>,
    ticks: f64,
}

impl Meter {
    /// Waits until the nodes together use less than [`SETTLE_CORES`] of CPU over
    /// [`SETTLE_SAMPLE`] (after a bulk load RocksDB compacts in the background for a while on
    /// every node), at most [`SETTLE_MAX`]; returns how long it waited.
    async fn settle(&self) -> Duration {
        let started = Instant::now();
        while started.elapsed() < SETTLE_MAX {
            let mark = self.mark();
            tokio::time::sleep(SETTLE_SAMPLE).await;
            let cpu = self.since(&mark);
            if cpu.nodes_cpu_s / cpu.wall_s < SETTLE_CORES {
                break;
            }
        }
        started.elapsed()
    }

    fn mark(&self) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            nodes: self
                .pids
                .iter()
                .map(|p| process_cpu_s(*p, self.ticks))
                .sum(),
            me: process_cpu_s(std::process::id(), self.ticks),
            machine: machine_cpu_s(self.ticks),
        }
    }

    fn since(&self, start: &CpuMark) -> Cpu {
        let end = self.mark();
        Cpu {
            wall_s: end.at.duration_since(start.at).as_secs_f64(),
            nodes_cpu_s: end.nodes - start.nodes,
            generator_cpu_s: end.me - start.me,
            machine_cpu_s: end.machine - start.machine,
            loadavg_1m: loadavg_1m(),
        }
    }
}

// ----- transactions -------------------------------------------------------------------------

/// Allocates serial numbers; knows the lot and serial text of each index.
struct Serials {
    tag: String,
    next: AtomicU64,
}

impl Serials {
    fn lot(&self, index: u64) -> String {
        format!("{}L{}", self.tag, index / UNITS_PER_LOT)
    }

    fn serial(&self, index: u64) -> String {
        format!("{}{index}", self.tag)
    }

    /// Reserves `count` consecutive indexes within one lot (`count` ≤ [`UNITS_PER_LOT`]);
    /// indexes skipped to reach the next lot are never used.
    fn take(&self, count: u64) -> u64 {
        assert!(count <= UNITS_PER_LOT);
        let mut current = self.next.load(Ordering::Relaxed);
        loop {
            let mut start = current;
            if start % UNITS_PER_LOT + count > UNITS_PER_LOT {
                start = start.next_multiple_of(UNITS_PER_LOT);
            }
            match self.next.compare_exchange_weak(
                current,
                start + count,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return start,
                Err(actual) => current = actual,
            }
        }
    }
}

/// What a request carries.
#[derive(Clone, Copy, Debug)]
struct Shape {
    /// Transactions per request.
    txs: usize,
    /// Units per transaction (commissioning event size).
    units: usize,
}

/// Builds the body of one request: `shape.txs` commissioning events, each signed.
/// One request's body and the first serial index of each of its transactions.
struct Body {
    text: String,
    firsts: Vec<u64>,
}

fn build_body(signer: &OrgSigner, serials: &Serials, site: &str, shape: Shape) -> Body {
    let mut firsts = Vec::with_capacity(shape.txs);
    let mut body = String::with_capacity(shape.txs * (shape.units * 110 + 700) + 2);
    body.push('[');
    for t in 0..shape.txs {
        let first = serials.take(shape.units as u64);
        firsts.push(first);
        let event = Commission::new(UNIT_GTIN, serials.lot(first), EXPIRY.0)
            .serials((first..first + shape.units as u64).map(|i| serials.serial(i)))
            .at(site)
            .build()
            .expect("benchmark events are valid");
        if t > 0 {
            body.push(',');
        }
        body.push('"');
        body.push_str(&hex::encode(signer.sign_event(event).to_bytes()));
        body.push('"');
    }
    body.push(']');
    Body { text: body, firsts }
}

/// A node taking submissions.
#[derive(Clone, Debug)]
struct Target {
    url: String,
    token: String,
}

impl Target {
    fn of(node: &NodeEntry) -> Target {
        Target {
            url: node.api_url.clone(),
            token: node.token.clone(),
        }
    }
}

/// Outcome of one request.
#[derive(Clone, Debug, Default)]
struct Done {
    txs: u64,
    accepted_txs: u64,
    accepted_units: u64,
    /// First serial index of every accepted transaction.
    accepted_firsts: Vec<u64>,
}

/// Posts one body with `Prefer: wait` (the node answers when the job has finished) and, if
/// the job is still running after that, polls it to the end.
async fn submit(
    http: &reqwest::Client,
    target: &Target,
    body: Body,
    units_per_tx: u64,
    poll: Duration,
) -> anyhow::Result<Done> {
    let response = http
        .post(format!("{}/capture", target.url))
        .bearer_auth(&target.token)
        .header(CONTENT_TYPE, pedigree_client::http::SIGNED_TXS_MEDIA_TYPE)
        .header("Prefer", "wait=60")
        .body(body.text)
        .send()
        .await
        .context("POST /capture")?;
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.context("POST /capture answer")?;
    if !status.is_success() {
        bail!(
            "POST /capture: {status}: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    let mut job: Value = serde_json::from_str(&text).context("POST /capture answer")?;
    if job["running"].as_bool() != Some(false) {
        let location = location.context("POST /capture: no Location header")?;
        let job_url = format!("{}{location}", target.url);
        while job["running"].as_bool() != Some(false) {
            tokio::time::sleep(poll).await;
            let response = http
                .get(&job_url)
                .bearer_auth(&target.token)
                .send()
                .await
                .context("GET /capture/{id}")?;
            let status = response.status();
            job = response.json().await.context("capture job answer")?;
            if !status.is_success() {
                bail!("GET {location}: {status}: {job}");
            }
        }
    }
    let results = job["results"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let accepted_firsts: Vec<u64> = results
        .iter()
        .filter(|r| r["accepted"].as_bool() == Some(true))
        .filter_map(|r| r["eventIndex"].as_u64())
        .filter_map(|i| body.firsts.get(usize::try_from(i).ok()?).copied())
        .collect();
    let accepted = accepted_firsts.len() as u64;
    if results.is_empty()
        && let Some(error) = job["errors"].as_array().and_then(|e| e.first())
    {
        bail!("capture job failed: {error}");
    }
    Ok(Done {
        txs: results.len() as u64,
        accepted_txs: accepted,
        accepted_units: accepted * units_per_tx,
        accepted_firsts,
    })
}

/// Bodies built ahead by a producer thread (signing happens there, on the same machine).
fn producer(
    signer: Arc<OrgSigner>,
    serials: Arc<Serials>,
    site: String,
    shape: Shape,
    depth: usize,
    stop: Arc<AtomicBool>,
) -> mpsc::Receiver<Body> {
    let (sender, receiver) = mpsc::channel(depth);
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let body = build_body(&signer, &serials, &site, shape);
            if sender.blocking_send(body).is_err() {
                break;
            }
        }
    });
    receiver
}

/// A measured submission phase.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SubmitPhase {
    /// Phase name.
    pub name: String,
    /// Transactions per request.
    pub txs_per_request: usize,
    /// Units per transaction.
    pub units_per_tx: usize,
    /// Offered rate (open loop), requests/s; 0 for closed loop.
    pub offered_requests_per_s: f64,
    /// Concurrency (closed loop).
    pub workers: usize,
    /// Committed transactions (accepted or rejected) finished within the window.
    pub txs_committed: u64,
    /// Accepted transactions.
    pub txs_accepted: u64,
    /// Accepted units.
    pub units_accepted: u64,
    /// Committed transactions per second.
    pub txs_per_s: f64,
    /// Accepted units per second.
    pub units_per_s: f64,
    /// Request latency: submit → job finished (every tx committed and applied).
    pub latency: Latency,
    /// Requests that failed.
    pub errors: u64,
    /// First error text.
    pub first_error: Option<String>,
    /// CPU and load.
    pub cpu: Cpu,
    /// The slowest requests, slowest first: when each started (seconds into the phase) and
    /// how long it took (ms). Slow requests that started close together point at one event.
    pub slowest: Vec<(f64, f64)>,
    /// When the phase started (UTC, RFC 3339), to match its slow requests with the nodes' logs.
    pub started_utc: String,
}

/// How many of a phase's slowest requests [`SubmitPhase::slowest`] lists.
const SLOWEST_LISTED: usize = 10;

struct Run {
    http: reqwest::Client,
    targets: Vec<Target>,
    signer: Arc<OrgSigner>,
    serials: Arc<Serials>,
    site: String,
    poll: Duration,
    meter: Meter,
    /// Units accepted on the ledger by any request of any phase (from the receipts).
    accepted_units: Arc<AtomicU64>,
    /// (first serial index, units) of every accepted transaction, for verification.
    committed: Arc<std::sync::Mutex<Vec<(u64, u64)>>>,
}

#[derive(Default)]
struct Tally {
    done: Done,
    latencies: Vec<u64>,
    /// (start, µs into the phase; latency, µs) of every counted request.
    timeline: Vec<(u64, u64)>,
    errors: u64,
    first_error: Option<String>,
    /// When the phase started (see [`SubmitPhase::started_utc`]).
    started_utc: String,
}

impl Tally {
    /// Records one request that started `start` into the phase and took `latency`.
    fn add(
        &mut self,
        result: anyhow::Result<Done>,
        start: Duration,
        latency: Duration,
        counted: bool,
    ) {
        match result {
            Ok(done) if counted => {
                self.done.txs += done.txs;
                self.done.accepted_txs += done.accepted_txs;
                self.done.accepted_units += done.accepted_units;
                self.done.accepted_firsts.clear();
                self.latencies.push(latency.as_micros() as u64);
                self.timeline
                    .push((start.as_micros() as u64, latency.as_micros() as u64));
            }
            Ok(_) => {}
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }
}

impl Run {
    /// Closed loop: `workers` requests in flight for `window`; with `until_units`, runs until
    /// that many units are accepted instead (progress on stderr).
    async fn closed_loop(
        &self,
        name: &str,
        shape: Shape,
        workers: usize,
        window: Option<Duration>,
        until_units: Option<u64>,
    ) -> SubmitPhase {
        let stop = Arc::new(AtomicBool::new(false));
        let bodies = producer(
            Arc::clone(&self.signer),
            Arc::clone(&self.serials),
            self.site.clone(),
            shape,
            workers * 2,
            Arc::clone(&stop),
        );
        let bodies = Arc::new(tokio::sync::Mutex::new(bodies));
        let tally = Arc::new(std::sync::Mutex::new(Tally::default()));
        let units_done = Arc::new(AtomicU64::new(0));
        let mark = self.meter.mark();
        let started_utc = utc_now();
        let started = Instant::now();
        let deadline = window.map(|w| started + w);
        let mut tasks = Vec::new();
        for worker in 0..workers {
            let target = self.targets[worker % self.targets.len()].clone();
            let http = self.http.clone();
            let bodies = Arc::clone(&bodies);
            let tally = Arc::clone(&tally);
            let units_done = Arc::clone(&units_done);
            let accepted = Arc::clone(&self.accepted_units);
            let committed = Arc::clone(&self.committed);
            let poll = self.poll;
            tasks.push(tokio::spawn(async move {
                loop {
                    if deadline.is_some_and(|d| Instant::now() >= d)
                        || until_units.is_some_and(|u| units_done.load(Ordering::Relaxed) >= u)
                    {
                        break;
                    }
                    let Some(body) = bodies.lock().await.recv().await else {
                        break;
                    };
                    let sent = Instant::now();
                    let result = submit(&http, &target, body, shape.units as u64, poll).await;
                    let finished = Instant::now();
                    if let Ok(done) = &result {
                        units_done.fetch_add(done.accepted_units, Ordering::Relaxed);
                        accepted.fetch_add(done.accepted_units, Ordering::Relaxed);
                        committed.lock().expect("committed lock").extend(
                            done.accepted_firsts
                                .iter()
                                .map(|f| (*f, shape.units as u64)),
                        );
                    }
                    let counted = deadline.is_none_or(|d| finished <= d);
                    let failed = result.is_err();
                    tally.lock().expect("tally lock").add(
                        result,
                        sent - started,
                        finished - sent,
                        counted,
                    );
                    if failed {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }));
        }
        if let Some(target_units) = until_units {
            let mut last = Instant::now();
            let mut progress = (0, Instant::now());
            while tasks.iter().any(|t| !t.is_finished()) {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if last.elapsed() >= Duration::from_secs(10) {
                    last = Instant::now();
                    let done = units_done.load(Ordering::Relaxed);
                    let (errors, first_error) = {
                        let tally = tally.lock().expect("tally lock");
                        (tally.errors, tally.first_error.clone())
                    };
                    eprintln!(
                        "  load: {done} / {target_units} units ({:.0} units/s, {errors} failed requests{})",
                        done as f64 / started.elapsed().as_secs_f64(),
                        first_error
                            .map(|e| format!("; first: {e}"))
                            .unwrap_or_default()
                    );
                    if done > progress.0 {
                        progress = (done, Instant::now());
                    } else if progress.1.elapsed() > LOAD_STALL_MAX {
                        eprintln!("  load: no progress for {LOAD_STALL_MAX:?}; stopping");
                        break;
                    }
                }
            }
            // Workers stop at their next request.
            units_done.fetch_add(u64::MAX / 2, Ordering::Relaxed);
        }
        let elapsed_window = window.unwrap_or_default();
        for task in tasks {
            let _ = task.await;
        }
        stop.store(true, Ordering::Relaxed);
        let cpu = self.meter.since(&mark);
        let seconds = if window.is_some() {
            elapsed_window.as_secs_f64()
        } else {
            started.elapsed().as_secs_f64()
        };
        let mut tally = std::mem::take(&mut *tally.lock().expect("tally lock"));
        tally.started_utc = started_utc;
        phase_from(name, shape, workers, 0.0, seconds, tally, cpu)
    }

    /// Open loop: one request every `interval` for `window`, latency from the scheduled time.
    async fn open_loop(
        &self,
        name: &str,
        shape: Shape,
        requests_per_s: f64,
        window: Duration,
    ) -> SubmitPhase {
        let stop = Arc::new(AtomicBool::new(false));
        let mut bodies = producer(
            Arc::clone(&self.signer),
            Arc::clone(&self.serials),
            self.site.clone(),
            shape,
            256,
            Arc::clone(&stop),
        );
        // Fill the queue before the clock starts so building never delays a send.
        while bodies.len() < 64.min(bodies.max_capacity()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let tally = Arc::new(std::sync::Mutex::new(Tally::default()));
        let interval = Duration::from_secs_f64(1.0 / requests_per_s);
        let mark = self.meter.mark();
        let started_utc = utc_now();
        let started = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let mut sent = 0u64;
        let mut overloaded = false;
        loop {
            let scheduled = started + interval.mul_f64(sent as f64);
            if scheduled.duration_since(started) >= window {
                break;
            }
            tokio::time::sleep_until(scheduled).await;
            while tasks.try_join_next().is_some() {}
            if tasks.len() >= OPEN_LOOP_OUTSTANDING_MAX {
                overloaded = true;
                break;
            }
            let Some(body) = bodies.recv().await else {
                break;
            };
            let target = self.targets[sent as usize % self.targets.len()].clone();
            let http = self.http.clone();
            let tally = Arc::clone(&tally);
            let poll = self.poll;
            let units = shape.units as u64;
            let accepted = Arc::clone(&self.accepted_units);
            let committed = Arc::clone(&self.committed);
            tasks.spawn(async move {
                let result = submit(&http, &target, body, units, poll).await;
                if let Ok(done) = &result {
                    accepted.fetch_add(done.accepted_units, Ordering::Relaxed);
                    committed
                        .lock()
                        .expect("committed lock")
                        .extend(done.accepted_firsts.iter().map(|f| (*f, units)));
                }
                let latency = tokio::time::Instant::now().duration_since(scheduled);
                let start = scheduled.duration_since(started);
                tally
                    .lock()
                    .expect("tally lock")
                    .add(result, start, latency, true);
            });
            sent += 1;
        }
        let window_s = started.elapsed().as_secs_f64();
        while tasks.join_next().await.is_some() {}
        stop.store(true, Ordering::Relaxed);
        let cpu = self.meter.since(&mark);
        let mut tally = std::mem::take(&mut *tally.lock().expect("tally lock"));
        tally.started_utc = started_utc;
        if overloaded {
            tally.first_error.get_or_insert_with(|| {
                format!(
                    "overloaded: {OPEN_LOOP_OUTSTANDING_MAX} requests outstanding; phase cut short"
                )
            });
        }
        phase_from(name, shape, 0, requests_per_s, window_s, tally, cpu)
    }
}

fn phase_from(
    name: &str,
    shape: Shape,
    workers: usize,
    offered: f64,
    seconds: f64,
    tally: Tally,
    cpu: Cpu,
) -> SubmitPhase {
    let seconds = seconds.max(1e-9);
    SubmitPhase {
        name: name.to_string(),
        txs_per_request: shape.txs,
        units_per_tx: shape.units,
        offered_requests_per_s: offered,
        workers,
        txs_committed: tally.done.txs,
        txs_accepted: tally.done.accepted_txs,
        units_accepted: tally.done.accepted_units,
        txs_per_s: tally.done.txs as f64 / seconds,
        units_per_s: tally.done.accepted_units as f64 / seconds,
        latency: Latency::from_micros(tally.latencies),
        errors: tally.errors,
        first_error: tally.first_error,
        cpu,
        slowest: slowest(tally.timeline),
        started_utc: tally.started_utc,
    }
}

fn utc_now() -> String {
    pedigree_client::clock::rfc3339_utc(pedigree_client::clock::unix_millis())
}

/// The [`SLOWEST_LISTED`] slowest of (start µs, latency µs), slowest first, as (s, ms).
fn slowest(mut timeline: Vec<(u64, u64)>) -> Vec<(f64, f64)> {
    timeline.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    timeline
        .into_iter()
        .take(SLOWEST_LISTED)
        .map(|(start, latency)| (start as f64 / 1e6, latency as f64 / 1e3))
        .collect()
}

// ----- verification -------------------------------------------------------------------------

/// The verification phase.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyPhase {
    /// Org of the node asked.
    pub node: String,
    /// Keep-alive connections.
    pub connections: usize,
    /// Units on the ledger when it ran.
    pub serials_on_ledger: u64,
    /// Completed requests in the window.
    pub requests: u64,
    /// Requests per second.
    pub requests_per_s: f64,
    /// Answers with `verified: true`.
    pub verified_true: u64,
    /// Non-200 answers or broken connections.
    pub errors: u64,
    /// Latency of one request.
    pub latency: Latency,
    /// CPU and load.
    pub cpu: Cpu,
}

/// A minimal HTTP/1.1 keep-alive client: one GET at a time, `Content-Length` bodies.
struct RawConnection {
    stream: tokio::net::TcpStream,
    buffer: Vec<u8>,
}

impl RawConnection {
    async fn connect(address: &str) -> anyhow::Result<RawConnection> {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(RawConnection {
            stream,
            buffer: Vec::with_capacity(4096),
        })
    }

    /// Sends `request` and returns (status, body).
    async fn exchange(&mut self, request: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        self.stream.write_all(request).await?;
        self.buffer.clear();
        let mut chunk = [0u8; 4096];
        let header_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 4;
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed");
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buffer[..header_end]).context("header text")?;
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .context("no Content-Length")?;
        while self.buffer.len() < header_end + length {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed in body");
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
        Ok((
            status,
            self.buffer[header_end..header_end + length].to_vec(),
        ))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn verify_phase(
    node: &NodeEntry,
    tag: &str,
    committed: Arc<Vec<(u64, u64)>>,
    connections: usize,
    window: Duration,
    meter: &Meter,
) -> anyhow::Result<VerifyPhase> {
    let address = node
        .api_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let tag = tag.to_string();
    let token = node.token.clone();
    let mark = meter.mark();
    let started = Instant::now();
    let deadline = started + window;
    let mut tasks = Vec::new();
    for c in 0..connections {
        let address = address.clone();
        let tag = tag.clone();
        let token = token.clone();
        let committed = Arc::clone(&committed);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut verified, mut errors) = (0u64, 0u64);
            let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (c as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let mut connection = RawConnection::connect(&address).await?;
            while Instant::now() < deadline {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let (first, units) = committed[(rng % committed.len() as u64) as usize];
                let index = first + (rng >> 32) % units;
                let request = format!(
                    "GET /verify/gtin/{UNIT_GTIN}/lot/{tag}L{}/ser/{tag}{index}?exp={} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n",
                    index / UNITS_PER_LOT,
                    EXPIRY.1
                );
                let sent = Instant::now();
                match connection.exchange(request.as_bytes()).await {
                    Ok((200, body)) => {
                        latencies.push(sent.elapsed().as_micros() as u64);
                        if find(&body, b"\"verified\":true").is_some() {
                            verified += 1;
                        }
                    }
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        connection = RawConnection::connect(&address).await?;
                    }
                }
            }
            anyhow::Ok((latencies, verified, errors))
        }));
    }
    let mut latencies = Vec::new();
    let (mut verified, mut errors) = (0u64, 0u64);
    for task in tasks {
        let (l, v, e) = task.await.context("verify task")??;
        latencies.extend(l);
        verified += v;
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = meter.since(&mark);
    let requests = latencies.len() as u64;
    Ok(VerifyPhase {
        node: node.org.clone(),
        connections,
        serials_on_ledger: committed.iter().map(|(_, units)| units).sum(),
        requests,
        requests_per_s: requests as f64 / seconds,
        verified_true: verified,
        errors,
        latency: Latency::from_micros(latencies),
        cpu,
    })
}

// ----- disk ---------------------------------------------------------------------------------

/// One node's data directory size.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeDisk {
    /// Org.
    pub org: String,
    /// Bytes of `data/` after the node stopped.
    pub bytes_stopped: u64,
    /// Bytes of `data/` after an offline flush and full compaction.
    pub bytes_compacted: u64,
    /// Of which the Raft log (`data/raft`).
    pub raft_bytes_compacted: u64,
    /// Of which the ledger (`data/ledger`).
    pub ledger_bytes_compacted: u64,
    /// `bytes_compacted` ÷ units on the ledger.
    pub bytes_per_unit: f64,
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn disk_phase(manifest: &Manifest, units: u64) -> anyhow::Result<Vec<NodeDisk>> {
    let mut disks = Vec::new();
    for node in &manifest.nodes {
        let data = node.dir.join("data");
        let bytes_stopped = dir_bytes(&data);
        // Opened with the node's options but the default memtable size (a flush and a full
        // compaction do not depend on it), so compaction writes what the node would.
        let ledger = data.join("ledger");
        pedigree_storage::state::LedgerDb::open(
            &ledger,
            pedigree_storage::state::LedgerDbOptions::new(false),
        )
        .and_then(|db| db.flush_and_compact())
        .with_context(|| format!("compacting {}", ledger.display()))?;
        let raft = data.join("raft");
        pedigree_storage::RocksLogStore::open(
            &raft,
            pedigree_storage::RocksLogStoreOptions {
                sync: false,
                ..Default::default()
            },
        )
        .and_then(|log| log.flush_and_compact())
        .with_context(|| format!("compacting {}", raft.display()))?;
        let bytes_compacted = dir_bytes(&data);
        disks.push(NodeDisk {
            org: node.org.clone(),
            bytes_stopped,
            bytes_compacted,
            raft_bytes_compacted: dir_bytes(&data.join("raft")),
            ledger_bytes_compacted: dir_bytes(&data.join("ledger")),
            bytes_per_unit: bytes_compacted as f64 / units.max(1) as f64,
        });
    }
    Ok(disks)
}

// ----- the whole run ------------------------------------------------------------------------

/// Everything `bench` measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BenchReport {
    /// Start time, RFC 3339.
    pub started: String,
    /// Options as given.
    pub options: BTreeMap<String, String>,
    /// Load average before the devnet started.
    pub loadavg_before: String,
    /// Nodes asked to take submissions.
    pub submit_to: Vec<String>,
    /// The Raft leader at the start.
    pub leader: Option<String>,
    /// Submission phases.
    pub phases: Vec<SubmitPhase>,
    /// The load phase.
    pub load: Option<SubmitPhase>,
    /// Benchmark units accepted on the ledger in total (from the receipts; a request that
    /// failed on the client side is not counted even if its transactions committed).
    pub units_on_ledger: u64,
    /// Seconds waited before verification for the nodes to go idle (background compaction).
    pub settle_s: f64,
    /// The verification phase.
    pub verify: Option<VerifyPhase>,
    /// The verification warm-up just before it ([`VERIFY_WARM_UP`], reported, not counted).
    pub verify_warm_up: Option<VerifyPhase>,
    /// Disk use per node.
    pub disk: Vec<NodeDisk>,
    /// Total wall-clock seconds.
    pub total_s: f64,
}

/// Disk a stopped node uses per unit before compaction (WAL and level-0 files; measured at
/// ~440 bytes in runs 9–11), with a margin.
const BYTES_PER_UNIT_BEFORE_COMPACTION: u64 = 500;

/// Refuses a run whose five nodes would fill the disk before the load is done (run 10 did:
/// nodes stop on `No space left on device` and the load never finishes).
fn check_disk(serials: u64, available: u64, dir: &Path) -> anyhow::Result<()> {
    let nodes = plan::ORGS.len() as u64;
    let needed = serials
        .saturating_mul(BYTES_PER_UNIT_BEFORE_COMPACTION)
        .saturating_mul(nodes);
    if available < needed {
        bail!(
            "--serials {serials} needs about {:.1} GB free for {nodes} nodes ({BYTES_PER_UNIT_BEFORE_COMPACTION} bytes per unit each before compaction); {} has {:.1} GB: free space or lower --serials",
            needed as f64 / 1e9,
            dir.display(),
            available as f64 / 1e9
        );
    }
    Ok(())
}

fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let is_devnet = dir.join(crate::manifest::MANIFEST_FILE_NAME).is_file();
        let is_empty = std::fs::read_dir(dir)?.next().is_none();
        if !is_devnet && !is_empty {
            bail!(
                "{} exists and is not a devnet directory; bench wipes its directory, so give it a new or devnet one",
                dir.display()
            );
        }
        if let Ok(previous) = Manifest::load(dir) {
            let alive: Vec<u32> = previous
                .pids()
                .into_iter()
                .filter(|p| process::is_alive(*p))
                .collect();
            if !alive.is_empty() {
                bail!(
                    "the devnet in {} is running (pids {alive:?}); run `pedigree-devnet --dir {} down` first",
                    dir.display(),
                    dir.display()
                );
            }
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))
}

async fn leader_org(manifest: &Manifest) -> Option<String> {
    for node in &manifest.nodes {
        let client = pedigree_client::Client::new(&node.api_url, Some(&node.token)).ok()?;
        if let Ok(status) = client.status().await
            && status.is_leader
        {
            return Some(node.org.clone());
        }
    }
    None
}

/// Waits until every node reports the same latest height (replication has caught up).
async fn wait_caught_up(manifest: &Manifest, timeout: Duration) -> anyhow::Result<u64> {
    let started = Instant::now();
    loop {
        let states = network::status(manifest).await;
        let heights: Vec<Option<u64>> = states.iter().map(|s| s.latest_height).collect();
        if let Some(Some(first)) = heights.first()
            && heights.iter().all(|h| *h == Some(*first))
        {
            return Ok(*first);
        }
        if started.elapsed() > timeout {
            bail!("nodes did not converge on one height within {timeout:?}: {heights:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs the benchmark; `on_progress` gets one line per finished phase.
pub async fn run(
    options: &BenchOptions,
    raw_options: BTreeMap<String, String>,
) -> anyhow::Result<BenchReport> {
    options.check()?;
    let mut report = BenchReport {
        started: utc_now(),
        options: raw_options,
        loadavg_before: std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_string(),
        submit_to: options.submit_to.clone(),
        ..BenchReport::default()
    };
    let begun = Instant::now();
    if options.verify_only {
        verify_again(options, &mut report).await?;
        report.total_s = begun.elapsed().as_secs_f64();
        return Ok(report);
    }
    prepare_dir(&options.dir)?;
    let available = pedigree_storage::free_bytes(&options.dir)
        .with_context(|| format!("free space of {}", options.dir.display()))?;
    check_disk(options.serials, available, &options.dir)?;
    eprintln!("bench: starting a devnet in {}", options.dir.display());
    let up = UpOptions {
        dir: options.dir.clone(),
        bin_dir: options.bin_dir.clone(),
        no_plant: true,
        compact_entries: None,
    };
    let mut manifest = network::up(&up).await.context("starting the devnet")?;
    let outcome = measure(options, &mut manifest, &mut report).await;
    // Stop everything whatever happened (disk is measured on stopped nodes).
    let stuck = network::down_manifest(&mut manifest);
    if !stuck.is_empty() {
        eprintln!("bench: processes would not stop: {stuck:?}");
    }
    outcome?;
    if !stuck.is_empty() {
        bail!("processes would not stop: {stuck:?}");
    }
    eprintln!("bench: measuring disk use (offline flush and compaction)");
    report.disk = disk_phase(&manifest, report.units_on_ledger)?;
    if options.keep {
        eprintln!(
            "bench: data kept in {} (start it again with `pedigree-devnet --dir {} up`)",
            options.dir.display(),
            options.dir.display()
        );
    } else {
        for node in &manifest.nodes {
            let _ = std::fs::remove_dir_all(node.dir.join("data"));
        }
    }
    report.total_s = begun.elapsed().as_secs_f64();
    Ok(report)
}

async fn measure(
    options: &BenchOptions,
    manifest: &mut Manifest,
    report: &mut BenchReport,
) -> anyhow::Result<()> {
    let mfg = manifest
        .node(plan::MANUFACTURER.id)
        .context("no manufacturer node")?
        .clone();
    let key = signer::read_key_file(&mfg.signing_key)?;
    let network_id = signer::parse_digest(&manifest.network_id)?;
    let signer = Arc::new(OrgSigner::new(mfg.org.clone(), key, network_id));
    let targets: Vec<Target> = options
        .submit_to
        .iter()
        .map(|org| manifest.node(org).map(Target::of).context("no such node"))
        .collect::<anyhow::Result<_>>()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(options.workers * 2 + 16)
        .tcp_nodelay(true)
        .build()?;
    let tag = format!(
        "B{:x}",
        pedigree_client::clock::unix_millis() / 1000 % 0xF_FFFF
    );
    let serials = Arc::new(Serials {
        tag,
        next: AtomicU64::new(0),
    });
    let meter = Meter {
        pids: manifest.nodes.iter().map(|n| n.pid).collect(),
        ticks: clock_ticks(),
    };
    let run = Run {
        http,
        targets,
        signer,
        serials: Arc::clone(&serials),
        site: plan::MANUFACTURER.gln(),
        poll: options.poll,
        meter,
        accepted_units: Arc::new(AtomicU64::new(0)),
        committed: Arc::new(std::sync::Mutex::new(Vec::new())),
    };
    report.leader = leader_org(manifest).await;
    let window = Duration::from_secs(options.secs);

    // Warm-up: a few seconds so connections, caches and the first blocks are out of the way.
    let small = Shape {
        txs: options.txs_per_request,
        units: 1,
    };
    let _ = run
        .closed_loop(
            "warm-up",
            small,
            options.workers,
            Some(Duration::from_secs(3)),
            None,
        )
        .await;

    let max_tx = run
        .closed_loop("tx/s max", small, options.workers, Some(window), None)
        .await;
    eprintln!("{}", phase_line(&max_tx));
    let half_shape = Shape {
        txs: options.half_txs_per_request,
        ..small
    };
    let half_rate = max_tx.txs_per_s / 2.0 / half_shape.txs as f64;
    report.phases.push(max_tx);
    if half_rate > 0.0 {
        let half_window = half_window(window, options.half_requests_min, half_rate);
        let half = run
            .open_loop("tx/s half", half_shape, half_rate, half_window)
            .await;
        eprintln!("{}", phase_line(&half));
        report.phases.push(half);
    }

    let big = Shape {
        txs: options.events_per_request,
        units: UNITS_PER_EVENT,
    };
    let max_units = run
        .closed_loop("units/s max", big, options.workers, Some(window), None)
        .await;
    eprintln!("{}", phase_line(&max_units));
    let half_shape = Shape {
        txs: options.half_events_per_request,
        ..big
    };
    let half_rate = max_units.txs_per_s / 2.0 / half_shape.txs as f64;
    report.phases.push(max_units);
    if half_rate > 0.0 {
        let half_window = half_window(window, options.half_requests_min, half_rate);
        let half = run
            .open_loop("units/s half", half_shape, half_rate, half_window)
            .await;
        eprintln!("{}", phase_line(&half));
        report.phases.push(half);
    }

    // Everything accepted so far counts towards the serials on the ledger; the warm-up too.
    let on_ledger = run.accepted_units.load(Ordering::Relaxed);
    if on_ledger < options.serials {
        // About 1,000 units per request (at least one event), like the units/s phase.
        let shape = Shape {
            txs: (1_000 / options.load_units_per_event).clamp(1, 100),
            units: options.load_units_per_event,
        };
        eprintln!(
            "bench: loading {} more units in events of {} units",
            options.serials - on_ledger,
            shape.units
        );
        let load = run
            .closed_loop(
                "load",
                shape,
                options.workers,
                None,
                Some(options.serials - on_ledger),
            )
            .await;
        eprintln!("{}", phase_line(&load));
        report.load = Some(load);
    }
    let height = wait_caught_up(manifest, Duration::from_secs(300)).await?;
    report.units_on_ledger = run.accepted_units.load(Ordering::Relaxed);
    eprintln!(
        "bench: {} benchmark units on the ledger at height {height}",
        report.units_on_ledger
    );
    if report.units_on_ledger < options.serials {
        eprintln!(
            "bench: warning: only {} of the requested {} serials are on the ledger",
            report.units_on_ledger, options.serials
        );
    }
    // Verification samples the units whose commissioning receipts said accepted;
    // `verified_true` shows how many answers confirmed them.
    let committed = Arc::new(std::mem::take(
        &mut *run.committed.lock().expect("committed lock"),
    ));
    if committed.is_empty() {
        bail!("no unit was committed; nothing to verify");
    }
    if options.keep {
        let kept = CommittedSerials {
            tag: serials.tag.clone(),
            committed: committed.to_vec(),
        };
        std::fs::write(
            options.dir.join(SERIALS_FILE_NAME),
            serde_json::to_vec(&kept)?,
        )?;
    }
    settle_and_verify(
        options,
        manifest,
        &serials.tag,
        committed,
        &run.meter,
        report,
    )
    .await
}

/// `--verify-only`: the verification phase against the devnet running in `--dir`, on the serials
/// a `bench --keep` run committed there ([`SERIALS_FILE_NAME`]); the nodes keep running.
async fn verify_again(options: &BenchOptions, report: &mut BenchReport) -> anyhow::Result<()> {
    let manifest = Manifest::load(&options.dir)?;
    let path = options.dir.join(SERIALS_FILE_NAME);
    let text = std::fs::read(&path).with_context(|| {
        format!(
            "{}: --verify-only needs the serials of a `bench --keep` run in this directory",
            path.display()
        )
    })?;
    let kept: CommittedSerials =
        serde_json::from_slice(&text).with_context(|| format!("{}", path.display()))?;
    if kept.committed.is_empty() {
        bail!("{}: no committed serials", path.display());
    }
    let down: Vec<&str> = manifest
        .nodes
        .iter()
        .filter(|node| !process::is_alive(node.pid))
        .map(|node| node.org.as_str())
        .collect();
    if !down.is_empty() {
        bail!(
            "nodes {down:?} of the devnet in {} are not running (start it with `pedigree-devnet --dir {} up --no-plant`)",
            options.dir.display(),
            options.dir.display()
        );
    }
    let height = wait_caught_up(&manifest, Duration::from_secs(300)).await?;
    report.leader = leader_org(&manifest).await;
    report.units_on_ledger = kept.committed.iter().map(|(_, units)| units).sum();
    eprintln!(
        "bench: {} benchmark units of run {} on the ledger at height {height}",
        report.units_on_ledger, kept.tag
    );
    let meter = Meter {
        pids: manifest.nodes.iter().map(|n| n.pid).collect(),
        ticks: clock_ticks(),
    };
    settle_and_verify(
        options,
        &manifest,
        &kept.tag,
        Arc::new(kept.committed),
        &meter,
        report,
    )
    .await
}

/// Waits for the nodes to settle, then runs the verification phase.
async fn settle_and_verify(
    options: &BenchOptions,
    manifest: &Manifest,
    tag: &str,
    committed: Arc<Vec<(u64, u64)>>,
    meter: &Meter,
    report: &mut BenchReport,
) -> anyhow::Result<()> {
    let verify_node = manifest.node(&options.verify_node).context("verify node")?;
    let window = Duration::from_secs(options.secs);
    let settle = meter.settle().await;
    eprintln!(
        "bench: the nodes settled after {:.0} s (background compaction after the load){}",
        settle.as_secs_f64(),
        if settle >= SETTLE_MAX {
            "; still busy, measuring anyway"
        } else {
            ""
        }
    );
    report.settle_s = settle.as_secs_f64();
    let warm_up = verify_phase(
        verify_node,
        tag,
        Arc::clone(&committed),
        options.verify_connections,
        VERIFY_WARM_UP,
        meter,
    )
    .await?;
    eprintln!(
        "verify warm-up ({:.0} s, not counted): {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        VERIFY_WARM_UP.as_secs_f64(),
        warm_up.requests_per_s,
        warm_up.latency.p50_ms,
        warm_up.latency.p99_ms
    );
    report.verify_warm_up = Some(warm_up);
    let verify = verify_phase(
        verify_node,
        tag,
        committed,
        options.verify_connections,
        window,
        meter,
    )
    .await?;
    eprintln!(
        "verify on {}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} of {} verified, {} errors",
        verify.node,
        verify.requests_per_s,
        verify.latency.p50_ms,
        verify.latency.p99_ms,
        verify.verified_true,
        verify.requests,
        verify.errors
    );
    report.verify = Some(verify);
    Ok(())
}

/// How long a half-rate phase runs: `window`, or longer if starting `requests_min` requests at
/// `requests_per_s` takes longer (at most ten minutes).
fn half_window(window: Duration, requests_min: usize, requests_per_s: f64) -> Duration {
    let needed = requests_min as f64 / requests_per_s;
    window.max(Duration::from_secs_f64(needed.min(600.0)))
}

fn phase_line(phase: &SubmitPhase) -> String {
    format!(
        "{:13} {:>9.0} tx/s {:>10.0} units/s  p50 {:>7.1} ms  p99 {:>7.1} ms  ({} requests, {} errors{})",
        phase.name,
        phase.txs_per_s,
        phase.units_per_s,
        phase.latency.p50_ms,
        phase.latency.p99_ms,
        phase.latency.samples,
        phase.errors,
        phase
            .first_error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    )
}

/// The human table.
pub fn table(report: &BenchReport) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "pedigree-devnet bench, started {}", report.started);
    let _ = writeln!(
        text,
        "4 voters + 1 learner on 127.0.0.1; submissions to {}; leader {}; load average before: {}",
        report.submit_to.join(","),
        report.leader.as_deref().unwrap_or("?"),
        report.loadavg_before
    );
    let submitted: Vec<&SubmitPhase> = report.phases.iter().chain(report.load.as_ref()).collect();
    if !submitted.is_empty() {
        let _ = writeln!(text);
        let _ = writeln!(
            text,
            "| phase | tx/request | units/tx | tx/s committed | units/s committed | p50 ms | p99 ms | requests | errors | node CPU s | generator CPU s | wall s | load 1m |"
        );
        let _ = writeln!(
            text,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for phase in &submitted {
            let _ = writeln!(
                text,
                "| {} | {} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {} | {} | {:.1} | {:.1} | {:.1} | {:.2} |",
                phase.name,
                phase.txs_per_request,
                phase.units_per_tx,
                phase.txs_per_s,
                phase.units_per_s,
                phase.latency.p50_ms,
                phase.latency.p99_ms,
                phase.latency.samples,
                phase.errors,
                phase.cpu.nodes_cpu_s,
                phase.cpu.generator_cpu_s,
                phase.cpu.wall_s,
                phase.cpu.loadavg_1m
            );
        }
        for phase in &submitted {
            if let Some(error) = &phase.first_error {
                let _ = writeln!(text, "  {}: first error: {error}", phase.name);
            }
        }
        let _ = writeln!(text);
        let _ = writeln!(
            text,
            "slowest requests (seconds into the phase when each started: ms it took; the phase's start in UTC):"
        );
        for phase in &submitted {
            let list: Vec<String> = phase
                .slowest
                .iter()
                .map(|(at, ms)| format!("{at:.1}: {ms:.0}"))
                .collect();
            let _ = writeln!(
                text,
                "  {} (from {}): {}",
                phase.name,
                phase.started_utc,
                list.join(", ")
            );
        }
    }
    if let Some(v) = &report.verify {
        let _ = writeln!(text);
        let _ = writeln!(
            text,
            "verify on {} ({} serials on the ledger, {} keep-alive connections): {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; {} of {} verified; {} errors; node CPU {:.1} s, generator CPU {:.1} s in {:.1} s; load {:.2}; measured after the nodes settled for {:.0} s",
            v.node,
            v.serials_on_ledger,
            v.connections,
            v.requests_per_s,
            v.latency.p50_ms,
            v.latency.p99_ms,
            v.latency.max_ms,
            v.verified_true,
            v.requests,
            v.errors,
            v.cpu.nodes_cpu_s,
            v.cpu.generator_cpu_s,
            v.cpu.wall_s,
            v.cpu.loadavg_1m,
            report.settle_s
        );
        if let Some(w) = &report.verify_warm_up {
            let _ = writeln!(
                text,
                "  (after a {:.0} s warm-up, not counted: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms)",
                w.cpu.wall_s,
                w.requests_per_s,
                w.latency.p50_ms,
                w.latency.p99_ms,
                w.latency.max_ms
            );
        }
    }
    if !report.disk.is_empty() {
        let _ = writeln!(text);
        let _ = writeln!(
            text,
            "disk ({} units): | node | bytes stopped | bytes compacted | raft | ledger | bytes/unit |",
            report.units_on_ledger
        );
        for d in &report.disk {
            let _ = writeln!(
                text,
                "  | {} | {} | {} | {} | {} | {:.1} |",
                d.org,
                d.bytes_stopped,
                d.bytes_compacted,
                d.raft_bytes_compacted,
                d.ledger_bytes_compacted,
                d.bytes_per_unit
            );
        }
    }
    let _ = writeln!(text, "\ntotal {:.0} s", report.total_s);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let l = Latency::from_micros((1..=100).map(|i| i * 1000).collect());
        assert_eq!(l.samples, 100);
        assert_eq!(l.p50_ms, 50.0);
        assert_eq!(l.p99_ms, 99.0);
        assert_eq!(l.max_ms, 100.0);
        assert_eq!(Latency::from_micros(Vec::new()).samples, 0);
    }

    #[test]
    fn bodies_hold_signed_commissioning_events_within_one_lot() {
        let key = signer::generate_key();
        let org = OrgSigner::new("mfg", key, [1; 32]);
        let serials = Serials {
            tag: "Bt".into(),
            next: AtomicU64::new(UNITS_PER_LOT - 50),
        };
        let body = build_body(
            &org,
            &serials,
            &plan::MANUFACTURER.gln(),
            Shape { txs: 2, units: 100 },
        );
        let items: Vec<String> = serde_json::from_str(&body.text).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(body.firsts, vec![UNITS_PER_LOT, UNITS_PER_LOT + 100]);
        for item in &items {
            let tx = pedigree_chaincode::SignedTx::from_bytes(&hex::decode(item).unwrap()).unwrap();
            let pedigree_chaincode::TxBody::Epcis(event) = &tx.envelope.body else {
                panic!("not an EPCIS body");
            };
            assert_eq!(event.epc_list.as_ref().unwrap().len(), 100);
            tx.verify().unwrap();
        }
        // The 50 serials left in lot 0 are skipped: an event never spans two lots.
        assert_eq!(serials.next.load(Ordering::Relaxed), UNITS_PER_LOT + 200);
        assert_eq!(serials.lot(UNITS_PER_LOT), "BtL1");
        assert_eq!(serials.serial(7), "Bt7");
        assert_eq!(serials.take(1), UNITS_PER_LOT + 200);
    }

    #[test]
    fn a_run_that_would_fill_the_disk_is_refused_up_front() {
        let dir = Path::new("/tmp/pb");
        check_disk(10_000_000, 30_000_000_000, dir).unwrap();
        let error = check_disk(10_000_000, 20_000_000_000, dir)
            .unwrap_err()
            .to_string();
        assert!(error.contains("needs about 25.0 GB"), "{error}");
        assert!(error.contains("has 20.0 GB"), "{error}");
        check_disk(100_000, 1_000_000_000, dir).unwrap();
    }

    #[test]
    fn the_slowest_requests_are_listed_slowest_first() {
        let timeline: Vec<(u64, u64)> = (0..30).map(|i| (i * 100_000, 1_000 + i % 7)).collect();
        let listed = slowest(timeline);
        assert_eq!(listed.len(), SLOWEST_LISTED);
        assert_eq!(listed[0], (0.6, 1.006));
        assert!(listed.windows(2).all(|w| w[0].1 >= w[1].1));
        assert!(slowest(Vec::new()).is_empty());
    }

    #[test]
    fn a_half_rate_phase_runs_until_it_has_enough_requests() {
        let window = Duration::from_secs(8);
        assert_eq!(half_window(window, 1000, 1000.0), window);
        assert_eq!(half_window(window, 1000, 20.0), Duration::from_secs(50));
        assert_eq!(half_window(window, 1000, 0.01), Duration::from_secs(600));
    }

    #[test]
    fn options_are_checked() {
        let options = BenchOptions {
            dir: "x".into(),
            bin_dir: None,
            serials: 10,
            secs: 1,
            workers: 1,
            txs_per_request: 1,
            events_per_request: 1,
            half_txs_per_request: 1,
            half_events_per_request: 1,
            half_requests_min: 1,
            load_units_per_event: 100,
            verify_connections: 1,
            verify_node: "pharm".into(),
            submit_to: vec!["mfg".into()],
            poll: Duration::from_millis(5),
            keep: false,
            verify_only: false,
        };
        options.check().unwrap();
        let bad = BenchOptions {
            submit_to: vec!["reg".into()],
            ..options.clone()
        };
        assert!(bad.check().unwrap_err().to_string().contains("learner"));
        let bad = BenchOptions {
            workers: 0,
            ..options.clone()
        };
        assert!(bad.check().is_err());
        let bad = BenchOptions {
            verify_node: "nobody".into(),
            ..options
        };
        assert!(bad.check().is_err());
    }

    #[test]
    fn raw_http_search() {
        assert_eq!(find(b"ab\r\n\r\nc", b"\r\n\r\n"), Some(2));
        assert_eq!(find(b"abc", b"zz"), None);
    }
}
