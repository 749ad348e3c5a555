//! End to end with real processes on 127.0.0.1: `pedigree-devnet up --detach` starts four
//! voting `pedigree-node`s, the regulator's learner node and the plant line simulator from
//! the binaries of this target directory, and plays the scenario. The test then checks
//! `devnet.json`, runs the commands `up` printed with the real `pedigree` CLI (verify of an
//! active and of the dispensed unit, trace on the regulator's node, recall scope, reconcile,
//! blocks), checks that the regulator's learner refuses a write with 403, that the plant
//! line's commissioning, packing and shipping reach the ledger on every node, then runs
//! `status` and `down` and checks that every process has exited.
//!
//! # Binaries
//! A test cannot name another crate's binaries with `CARGO_BIN_EXE_*`, so the test looks
//! next to `pedigree-devnet` (its own crate's binary) for `pedigree-node`, `pedigree-plant`
//! and `pedigree`, or in `$PEDIGREE_BIN_DIR` when set. `make test` builds every workspace
//! binary first (`cargo build --workspace --all-targets`); run alone it needs
//! `cargo build -p pedigree-node -p pedigree-plant -p pedigree-client` first. A missing
//! binary fails the test with that command; it never skips.
//!
//! # Waits and clean-up
//! Every wait polls with a deadline. A guard stops the devnet (`down`, then SIGKILL for any
//! pid of `devnet.json` still alive) when the test fails anywhere.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use pedigree_client::{Client, TxStatus};
use pedigree_devnet::manifest::Manifest;
use pedigree_devnet::plan::CASE_GTIN;
use pedigree_devnet::process::{is_alive, stop};
use pedigree_devnet::scenario::ScenarioReport;
use serde_json::Value;

mod support;
use support::{
    assert_five_nodes_running, bin_dir, devnet_command, poll, require_binaries, runtime, text,
    try_run,
};

/// The binaries the devnet runs, besides `pedigree-devnet`.
const SIBLINGS: [&str; 3] = ["pedigree-node", "pedigree-plant", "pedigree"];
/// The longest `up` may take (keys, genesis, five nodes, a leader, the scenario).
const UP_DEADLINE: Duration = Duration::from_secs(180);
/// The longest one CLI command may take.
const COMMAND_DEADLINE: Duration = Duration::from_secs(60);
/// The longest a condition on the ledger may take to become true.
const WAIT: Duration = Duration::from_secs(60);
/// The plant line makes 120 units a minute and ships a pallet every 40 good units (about
/// 21 s after it starts); this bounds the wait for the first shipment.
const PLANT_WAIT: Duration = Duration::from_secs(120);

fn run(program: &Path, args: &[&str], deadline: Duration) -> Output {
    try_run(program, args, deadline).unwrap_or_else(|error| panic!("{error}"))
}

/// The devnet of one test; dropping it (on a failure) stops every process it started.
struct Devnet {
    bin: PathBuf,
    dir: PathBuf,
    armed: bool,
}

impl Devnet {
    fn try_command(&self, args: &[&str], deadline: Duration) -> Result<Output, String> {
        devnet_command(&self.bin, &self.dir, args, deadline)
    }

    fn command(&self, args: &[&str], deadline: Duration) -> Output {
        self.try_command(args, deadline)
            .unwrap_or_else(|error| panic!("{error}"))
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if std::thread::panicking() {
            for log in ["mfg/node.log", "reg/node.log", "plant/plant.log"] {
                let path = self.dir.join(log);
                let content = std::fs::read_to_string(&path).unwrap_or_default();
                let lines: Vec<&str> = content.lines().collect();
                eprintln!(
                    "--- last lines of {}:\n{}",
                    path.display(),
                    lines[lines.len().saturating_sub(20)..].join("\n")
                );
            }
        }
        match self.try_command(&["down"], Duration::from_secs(90)) {
            Ok(down) => eprintln!("guard: pedigree-devnet down: {}", text(&down).trim()),
            Err(error) => eprintln!("guard: pedigree-devnet down: {error}"),
        }
        // Whatever `down` could not stop (or did not know of) is killed.
        if let Ok(manifest) = Manifest::load(&self.dir) {
            for pid in manifest.pids() {
                stop(pid, Duration::from_secs(2));
            }
        }
    }
}

/// Splits one printed command line like a shell would (single quotes only), dropping a
/// trailing `# comment`.
fn shell_words(line: &str) -> Vec<String> {
    let line = line.split("   #").next().unwrap_or(line);
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {line:?}");
    if any {
        words.push(word);
    }
    words
}

/// The `pedigree …` commands `up` printed, as argument lists (without `pedigree`).
fn printed_commands(summary: &str) -> Vec<Vec<String>> {
    summary
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("pedigree --node"))
        .map(|line| shell_words(line)[1..].to_vec())
        .collect()
}

/// The printed command whose subcommand (after `--node URL --token T`) is `verb` and whose
/// arguments contain `needle`.
fn find_command<'c>(commands: &'c [Vec<String>], verb: &str, needle: &str) -> &'c [String] {
    commands
        .iter()
        .find(|c| c.get(4).is_some_and(|v| v == verb) && c.iter().any(|a| a.contains(needle)))
        .unwrap_or_else(|| panic!("no printed `{verb}` command with {needle:?}: {commands:?}"))
}

fn client(manifest: &Manifest, org: &str) -> Client {
    let node = manifest.node(org).expect("org in devnet.json");
    Client::new(&node.api_url, Some(&node.token)).expect("client")
}

async fn height(client: &Client) -> Result<u64, String> {
    let status = client.status().await.map_err(|e| e.to_string())?;
    status
        .latest_height
        .ok_or_else(|| format!("no height in {:?}", status.raw))
}

/// The plant line's lot, from the `plant.toml` `up` wrote.
fn plant_lot(dir: &Path) -> String {
    let config = std::fs::read_to_string(dir.join("plant").join("plant.toml")).unwrap();
    config
        .lines()
        .find_map(|line| {
            let value = line.trim().strip_prefix("lot")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
        .expect("a lot in plant.toml")
}

#[test]
fn devnet_up_commands_plant_and_down() {
    let started = Instant::now();
    let bins = bin_dir();
    let names: Vec<&str> = std::iter::once("pedigree-devnet").chain(SIBLINGS).collect();
    require_binaries(&bins, &names);
    let temp = tempfile::tempdir().unwrap();
    let mut devnet = Devnet {
        bin: bins.clone(),
        dir: temp.path().join("devnet"),
        armed: true,
    };
    let bin_arg = bins.to_str().expect("UTF-8 bin dir");
    let up = devnet.command(&["up", "--detach", "--bin-dir", bin_arg], UP_DEADLINE);
    let summary = text(&up);
    assert!(up.status.success(), "up failed:\n{summary}");
    eprintln!("up: {:?}", started.elapsed());

    // devnet.json: five nodes on 127.0.0.1, four voters and the learner, all running.
    let manifest = Manifest::load(&devnet.dir).unwrap();
    assert!(
        summary.contains(&manifest.dir.join("devnet.json").display().to_string()),
        "{summary}"
    );
    assert_eq!(manifest.network_id.len(), 64, "{}", manifest.network_id);
    assert_five_nodes_running(&manifest);
    for node in &manifest.nodes {
        assert!(node.p2p.starts_with("/ip4/127.0.0.1/tcp/"), "{node:?}");
        assert!(
            !node.token.is_empty() && node.signing_key.is_file(),
            "{node:?}"
        );
    }
    assert_eq!(manifest.processes.len(), 1, "{:?}", manifest.processes);
    let plant = &manifest.processes[0];
    assert!(
        plant.name.contains("pedigree-plant") && is_alive(plant.pid),
        "{plant:?}"
    );
    let report: ScenarioReport =
        serde_json::from_value(manifest.scenario.clone().expect("the scenario ran")).unwrap();
    assert_eq!(report.serials.len(), 10);
    assert_eq!(report.recalled_serials.len(), 5);
    assert_eq!(report.steps.len(), 10, "{:?}", report.steps);

    let rt = runtime();
    let pharm = client(&manifest, "pharm");
    let reg = client(&manifest, "reg");
    let mfg = client(&manifest, "mfg");
    // Writes resolve when applied on the node asked; the others may lag a few blocks.
    let recall_tx = report.steps["10 recall"][0].clone();
    let scenario_height = rt.block_on(async {
        let receipt = mfg
            .wait_for_receipt(&recall_tx, WAIT)
            .await
            .expect("the recall's receipt");
        assert_eq!(receipt.status, TxStatus::Accepted, "{receipt:?}");
        let recall_height = receipt.height.expect("a committed height");
        for node in &manifest.nodes {
            let client = client(&manifest, &node.org);
            poll(
                &format!("{} at height {recall_height}", node.org),
                WAIT,
                || async {
                    match height(&client).await? {
                        h if h >= recall_height => Ok(h),
                        h => Err(format!("height {h}")),
                    }
                },
            )
            .await;
        }
        recall_height
    });

    // The commands `up` printed, with the real CLI.
    let commands = printed_commands(&summary);
    assert_eq!(commands.len(), 6, "{commands:?}\n{summary}");
    let pedigree = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&bins.join("pedigree"), &args, COMMAND_DEADLINE)
    };
    let active = &report.serials[1];
    let verify = pedigree(find_command(&commands, "verify", &format!("(21){active}")));
    let out = text(&verify);
    assert!(verify.status.success(), "{out}");
    assert!(
        out.contains(": VERIFIED") && out.contains("custodian: pharm"),
        "{out}"
    );
    let dispensed = pedigree(find_command(&commands, "verify", &report.dispensed_serial));
    let out = text(&dispensed);
    assert_eq!(dispensed.status.code(), Some(3), "{out}");
    assert!(out.contains("NOT VERIFIED"), "{out}");
    assert!(out.contains("reason: Not_for_re-distribution"), "{out}");
    assert!(out.contains("status: Dispensed"), "{out}");
    let trace_command = find_command(&commands, "trace", active);
    assert_eq!(trace_command[1], manifest.node("reg").unwrap().api_url);
    let trace = pedigree(trace_command);
    let out = text(&trace);
    assert!(trace.status.success(), "{out}");
    assert!(out.contains("custodian: pharm"), "{out}");
    for org in ["org=mfg", "org=dist", "org=pharm"] {
        assert!(out.contains(org), "trace lacks {org}: {out}");
    }
    assert!(out.contains("eventHash=ni:///sha-256;"), "{out}");
    assert!(!out.contains("eventHash=["), "raw bytes in: {out}");
    let scope = pedigree(find_command(&commands, "recall", &report.recalled_lot));
    let out = text(&scope);
    assert!(scope.status.success(), "{out}");
    let scope_json: Value = serde_json::from_slice(&scope.stdout).expect("recall scope JSON");
    assert_eq!(scope_json["lot"], report.recalled_lot.as_str(), "{out}");
    assert_eq!(
        scope_json["scope"]["recall"]["reason"], "devnet: suspected contamination",
        "{out}"
    );
    for serial in &report.recalled_serials {
        assert!(out.contains(serial.as_str()), "scope lacks {serial}: {out}");
    }
    let reconcile = pedigree(find_command(&commands, "reconcile", &report.lot));
    let out = text(&reconcile);
    assert!(reconcile.status.success(), "{out}");
    assert!(
        out.contains("commissioned=10") && out.contains("dispensed=1"),
        "{out}"
    );
    let blocks = pedigree(find_command(&commands, "blocks", ""));
    let out = text(&blocks);
    assert!(blocks.status.success() && out.contains("height"), "{out}");
    // The printed curl line, over plain HTTP with the SDK.
    let curl = summary
        .lines()
        .find(|line| line.trim_start().starts_with("curl"))
        .expect("a curl line");
    let url = curl.split('\'').nth(3).expect("quoted URL");
    let path = url
        .strip_prefix(&manifest.node("pharm").unwrap().api_url)
        .expect("the pharmacy's node");
    let answer = rt.block_on(pharm.get_json(path)).unwrap();
    assert_eq!(answer["data"]["verified"], true, "{answer}");
    eprintln!("printed commands checked: {:?}", started.elapsed());

    // The regulator's learner refuses writes: the CLI fails and the SDK sees a 403.
    let event = pedigree_client::events::Commission::new(&report.gtin, "RO", "2028-12-31")
        .serial("RO1")
        .build()
        .unwrap();
    let capture_file = temp.path().join("write.jsonld");
    std::fs::write(&capture_file, commissioning_document(&report.gtin, "RO2")).unwrap();
    let reg_node = manifest.node("reg").unwrap();
    let refused = pedigree(&[
        "--node".into(),
        reg_node.api_url.clone(),
        "--token".into(),
        reg_node.token.clone(),
        "capture".into(),
        capture_file.display().to_string(),
    ]);
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(out.contains("403"), "{out}");
    match rt.block_on(reg.submit_events(None, vec![event])) {
        Err(error) => assert_eq!(error.http_status(), Some(403), "{error}"),
        Ok(results) => panic!("the learner took a write: {results:?}"),
    }
    assert_eq!(
        rt.block_on(reg.status()).unwrap().role.as_deref(),
        Some("learner")
    );

    // The plant line's events reach the ledger: its lot is commissioned, packed and shipped
    // on the regulator's node, and the height grows past the scenario's.
    let lot = plant_lot(&devnet.dir);
    let counters = rt.block_on(poll(
        &format!("plant lot {lot} shipped on the regulator's node"),
        PLANT_WAIT,
        || async {
            let answer = reg
                .reconciliation(CASE_GTIN, &lot)
                .await
                .map_err(|e| e.to_string())?;
            let counters = answer["reconciliation"]["counters"].clone();
            let count = |name: &str| counters[name].as_u64().unwrap_or(0);
            if count("commissioned") > 0 && count("packed") > 0 && count("shipped") > 0 {
                Ok(counters)
            } else {
                Err(answer.to_string())
            }
        },
    ));
    eprintln!(
        "plant lot {lot} on the ledger: {counters} ({:?})",
        started.elapsed()
    );
    let plant_height = rt.block_on(height(&reg)).unwrap();
    assert!(
        plant_height > scenario_height,
        "{plant_height} <= {scenario_height}"
    );
    // Every node holds the same block (hash and state hash) at that height.
    let fingerprints: Vec<(String, Value, Value)> = rt.block_on(async {
        let mut all = Vec::new();
        for node in &manifest.nodes {
            let client = client(&manifest, &node.org);
            let block = poll(
                &format!("block {plant_height} on {}", node.org),
                WAIT,
                || async { client.block(plant_height).await.map_err(|e| e.to_string()) },
            )
            .await;
            all.push((
                node.org.clone(),
                block["hash"].clone(),
                block["stateHash"].clone(),
            ));
        }
        all
    });
    assert!(fingerprints[0].1.is_string(), "{fingerprints:?}");
    assert!(
        fingerprints
            .iter()
            .all(|f| f.1 == fingerprints[0].1 && f.2 == fingerprints[0].2),
        "{fingerprints:?}"
    );
    // The ledger refused nothing of the line: its rejected codes, never commissioned, are
    // destroyed by their brand owner (the serial is burnt), and a packing or a shipment here
    // would mean events reached the ledger out of order.
    let rejected =
        std::fs::read_to_string(devnet.dir.join("plant/spool/rejected.jsonl")).unwrap_or_default();
    assert!(
        rejected.is_empty(),
        "the ledger refused line events: {rejected}"
    );

    let status = devnet.command(&["status"], COMMAND_DEADLINE);
    assert!(status.status.success(), "{}", text(&status));
    assert_eq!(
        text(&status)
            .matches("running=true has_leader=true")
            .count(),
        5,
        "{}",
        text(&status)
    );

    let down = devnet.command(&["down"], Duration::from_secs(90));
    assert!(down.status.success(), "{}", text(&down));
    devnet.armed = false;
    let after = Manifest::load(&devnet.dir).unwrap();
    assert!(after.pids().is_empty(), "{after:?}");
    for pid in manifest.pids() {
        assert!(!is_alive(pid), "pid {pid} still running after down");
    }
    eprintln!("done: {:?}", started.elapsed());
}

/// A one-event EPCIS 2.0 JSON-LD document: the commissioning of one unit.
fn commissioning_document(gtin: &str, serial: &str) -> String {
    serde_json::json!({
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": [{
            "type": "ObjectEvent",
            "eventTime": "2026-01-01T00:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "epcList": [format!("https://id.gs1.org/01/{gtin}/21/{serial}")],
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active"
        }]}
    })
    .to_string()
}

#[test]
fn printed_command_lines_split_like_a_shell() {
    assert_eq!(
        shell_words("  pedigree --node http://x --token t verify '(01)1(21)A B'   # note"),
        [
            "pedigree",
            "--node",
            "http://x",
            "--token",
            "t",
            "verify",
            "(01)1(21)A B"
        ]
    );
    assert_eq!(shell_words("a ''  b"), ["a", "", "b"]);
}
