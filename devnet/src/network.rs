//! `up`, `status` and `down`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use pedigree_client::Client;
use pedigree_client::genesis::{self, GlnEntry, OrgDescription, PublicParts};
use rand_core::{OsRng, RngCore as _};

use crate::manifest::{Manifest, NodeEntry, ProcessEntry};
use crate::plan::{self, ORGS, OrgPlan};
use crate::process;
use crate::scenario::{self, ScenarioReport};

/// How long `up` waits for the network to elect a leader.
pub const LEADER_TIMEOUT: Duration = Duration::from_secs(90);
/// How long `down` gives a process to exit after SIGTERM.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Options of `up`.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The devnet directory.
    pub dir: PathBuf,
    /// Where `pedigree-node` and `pedigree-plant` are (default: next to this binary).
    pub bin_dir: Option<PathBuf>,
    /// Do not start the plant adapter.
    pub no_plant: bool,
    /// Applied Raft entries between log compactions on every node (`node.compact_entries`;
    /// `None`: the node's default).
    pub compact_entries: Option<u64>,
}

fn random_token() -> String {
    let mut bytes = [0_u8; 24];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Reads a file if it exists, else creates it with `make()`.
fn read_or_create(
    path: &Path,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    if path.is_file() {
        return std::fs::read_to_string(path).with_context(|| format!("{}", path.display()));
    }
    let text = make()?;
    std::fs::write(path, &text).with_context(|| format!("{}", path.display()))?;
    Ok(text)
}

/// Creates (or reuses) one org's node directory: keys via `pedigree-node init`.
fn init_org(node_bin: &Path, dir: &Path, org: &OrgPlan) -> anyhow::Result<(PublicParts, String)> {
    let node_dir = dir.join(org.id);
    let public_text = read_or_create(&node_dir.join("public.json"), || {
        let dir_arg = node_dir.display().to_string();
        process::run_capture(
            node_bin,
            &["init", "--dir", &dir_arg, "--org", org.id, "--json"],
        )
    })?;
    let public: PublicParts = serde_json::from_str(&public_text)
        .with_context(|| format!("public parts of {}", org.id))?;
    let token = read_or_create(&node_dir.join("api.token"), || Ok(random_token()))?;
    Ok((public, token.trim().to_string()))
}

fn org_description(org: &OrgPlan) -> OrgDescription {
    OrgDescription {
        id: org.id.to_string(),
        name: org.name.to_string(),
        roles: vec![org.role.to_string()],
        company_prefixes: org.company_prefix.iter().map(|p| p.to_string()).collect(),
        nodes: Vec::new(),
        keys: Vec::new(),
        glns: vec![GlnEntry {
            gln: org.gln(),
            name: org.name.to_string(),
        }],
    }
}

/// The `node.toml` of one devnet node.
fn node_config(
    org: &OrgPlan,
    api_port: u16,
    p2p_port: u16,
    bootstrap: &[String],
    token: &str,
    compact_entries: Option<u64>,
) -> String {
    let compaction = compact_entries
        .map(|entries| format!("compact_entries = {entries}\n"))
        .unwrap_or_default();
    let bootstrap = bootstrap
        .iter()
        .map(|b| format!("\"{b}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"# Written by pedigree-devnet up; rewritten on every up (ports change).
[node]
org = "{org}"
data_dir = "data"
genesis = "../genesis.json"
node_key = "keys/node.key"
signing_key = "keys/signing.key"
{compaction}
[p2p]
listen = ["/ip4/127.0.0.1/tcp/{p2p_port}"]
bootstrap = [{bootstrap}]

[api]
listen = "127.0.0.1:{api_port}"
# Everything of a devnet is on 127.0.0.1, its webhook receivers too.
webhook_private_destinations = true

[[api.tokens]]
token = "{token}"
org = "{org}"
role = "admin"
"#,
        org = org.id
    )
}

/// The plant adapter's configuration: one simulated line at the manufacturer, shipping
/// its pallets to the distributor.
fn plant_config(dir: &Path, node: &NodeEntry) -> String {
    format!(
        r#"# Written by pedigree-devnet up.
[site]
id = "DEVNET"
gln = "{mfg_gln}"
company_prefix = "0614141"

[spool]
dir = "{spool}"

[batching]
epcs_per_event_max = 50
batch_age_ms_max = 2000

[node]
url = "{url}"
token_file = "{token_file}"

[[line]]
id = "L1"
serial_namespace = "DEVNET"
sscc_namespace = "11"

[line.simulator]
units_per_minute = 120
reject_rate = 0.02
case_size = 10
pallet_size = 4
gtin = "{gtin}"
lot = "LINE{lot}"
expiry = "2028-11-30"
seed = {lot}
destination_party = "{dist_gln}"
destination_location = "{dist_gln}"
"#,
        mfg_gln = plan::MANUFACTURER.gln(),
        spool = dir.join("plant").join("spool").display(),
        url = node.api_url,
        token_file = dir.join("plant").join("node.token").display(),
        gtin = plan::CASE_GTIN,
        lot = pedigree_client::clock::unix_millis() / 1000 % 1_000_000,
        dist_gln = plan::DISTRIBUTOR.gln(),
    )
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Starts the network and plays the scenario; returns the manifest (already saved).
/// On failure, stops what it started.
pub async fn up(options: &UpOptions) -> anyhow::Result<Manifest> {
    std::fs::create_dir_all(&options.dir).with_context(|| format!("{}", options.dir.display()))?;
    let dir = options.dir.canonicalize()?;
    if let Ok(previous) = Manifest::load(&dir) {
        let alive: Vec<u32> = previous
            .pids()
            .into_iter()
            .filter(|p| process::is_alive(*p))
            .collect();
        if !alive.is_empty() {
            bail!(
                "the devnet in {} is already up (pids {alive:?}); run `pedigree-devnet down` first",
                dir.display()
            );
        }
    }
    let node_bin = process::find_binary("pedigree-node", options.bin_dir.as_deref())?;
    let plant_bin = if options.no_plant {
        None
    } else {
        Some(process::find_binary(
            "pedigree-plant",
            options.bin_dir.as_deref(),
        )?)
    };

    let mut publics = Vec::new();
    let mut tokens = Vec::new();
    for org in &ORGS {
        let (public, token) = init_org(&node_bin, &dir, org)?;
        publics.push(public);
        tokens.push(token);
    }
    let genesis_path = dir.join("genesis.json");
    let network_id = if genesis_path.is_file() {
        let text = std::fs::read_to_string(&genesis_path)?;
        let genesis = pedigree_client::genesis::parse_json(&text)?;
        hex::encode(genesis.network_id())
    } else {
        // The CMO may commission the manufacturer's unit and case GTINs.
        let delegations = [plan::UNIT_GTIN, plan::CASE_GTIN]
            .iter()
            .map(|gtin| genesis::DelegationEntry {
                brand_owner: plan::MANUFACTURER.id.to_string(),
                gtin: gtin.to_string(),
                cmo: plan::CMO.id.to_string(),
            })
            .collect();
        let document = genesis::assemble_with_delegations(
            "pedigree-devnet",
            pedigree_client::clock::unix_millis(),
            ORGS.iter().map(org_description).collect(),
            &publics,
            delegations,
        )?;
        std::fs::write(&genesis_path, &document.json)?;
        std::fs::write(dir.join("genesis.toml"), &document.toml)?;
        hex::encode(document.network_id)
    };

    let ports = process::free_ports(ORGS.len() * 2)?;
    let p2p_addresses: Vec<String> = ORGS
        .iter()
        .enumerate()
        .map(|(i, _)| {
            format!(
                "/ip4/127.0.0.1/tcp/{}/p2p/{}",
                ports[2 * i + 1],
                publics[i].peer_id.clone().unwrap_or_default()
            )
        })
        .collect();
    let mut manifest = Manifest {
        network_id,
        dir: dir.clone(),
        nodes: Vec::new(),
        processes: Vec::new(),
        scenario: None,
    };
    for (i, org) in ORGS.iter().enumerate() {
        let node_dir = dir.join(org.id);
        let bootstrap: Vec<String> = p2p_addresses
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, a)| a.clone())
            .collect();
        let config_path = node_dir.join("node.toml");
        std::fs::write(
            &config_path,
            node_config(
                org,
                ports[2 * i],
                ports[2 * i + 1],
                &bootstrap,
                &tokens[i],
                options.compact_entries,
            ),
        )?;
        manifest.nodes.push(NodeEntry {
            org: org.id.to_string(),
            role: org.role.to_string(),
            raft_role: if org.is_learner() { "learner" } else { "voter" }.to_string(),
            gln: org.gln(),
            api_url: format!("http://127.0.0.1:{}", ports[2 * i]),
            token: tokens[i].clone(),
            pid: 0,
            peer_id: publics[i].peer_id.clone().unwrap_or_default(),
            p2p: format!("/ip4/127.0.0.1/tcp/{}", ports[2 * i + 1]),
            dir: node_dir.clone(),
            signing_key: node_dir.join("keys").join("signing.key"),
        });
    }
    let result = start_and_play(&mut manifest, &node_bin, plant_bin.as_deref()).await;
    if let Err(error) = result {
        let _ = manifest.save();
        down_manifest(&mut manifest);
        return Err(error);
    }
    Ok(manifest)
}

async fn start_and_play(
    manifest: &mut Manifest,
    node_bin: &Path,
    plant_bin: Option<&Path>,
) -> anyhow::Result<()> {
    for node in &mut manifest.nodes {
        let config = node.dir.join("node.toml").display().to_string();
        let child = process::spawn(
            node_bin,
            &["run", "--config", &config],
            &node.dir.join("node.log"),
            &node.dir,
        )?;
        node.pid = child.id();
    }
    manifest.save()?;
    for node in &manifest.nodes {
        let client = Client::new(&node.api_url, Some(&node.token))?;
        let started = std::time::Instant::now();
        loop {
            if !process::is_alive(node.pid) {
                bail!(
                    "node {} exited; last lines of {}:\n{}",
                    node.org,
                    node.dir.join("node.log").display(),
                    log_tail(&node.dir.join("node.log"))
                );
            }
            match client.status().await {
                Ok(status) if status.has_leader() => break,
                _ if started.elapsed() > LEADER_TIMEOUT => bail!(
                    "node {} has no leader after {LEADER_TIMEOUT:?}; last lines of its log:\n{}",
                    node.org,
                    log_tail(&node.dir.join("node.log"))
                ),
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
    if let Some(plant_bin) = plant_bin {
        let mfg = manifest
            .node(plan::MANUFACTURER.id)
            .context("no manufacturer node")?
            .clone();
        let plant_dir = manifest.dir.join("plant");
        std::fs::create_dir_all(&plant_dir)?;
        std::fs::write(plant_dir.join("node.token"), &mfg.token)?;
        std::fs::write(
            plant_dir.join("plant.toml"),
            plant_config(&manifest.dir, &mfg),
        )?;
        let log = plant_dir.join("plant.log");
        let config = plant_dir.join("plant.toml").display().to_string();
        let child = process::spawn(plant_bin, &["run", "--config", &config], &log, &plant_dir)?;
        manifest.processes.push(ProcessEntry {
            name: "pedigree-plant (line L1 simulator → mfg node)".into(),
            pid: child.id(),
            log,
        });
        manifest.save()?;
    }
    let report = scenario::play(manifest).await.context("scenario")?;
    manifest.scenario = Some(serde_json::to_value(&report)?);
    manifest.save()
}

/// Stops every process of the manifest (plant first) and records them as stopped.
/// Returns the pids that would not stop.
pub fn down_manifest(manifest: &mut Manifest) -> Vec<u32> {
    let mut stuck = Vec::new();
    for entry in &mut manifest.processes {
        if !process::stop(entry.pid, STOP_GRACE) {
            stuck.push(entry.pid);
        }
        entry.pid = 0;
    }
    for node in manifest.nodes.iter_mut().rev() {
        if !process::stop(node.pid, STOP_GRACE) {
            stuck.push(node.pid);
        }
        node.pid = 0;
    }
    let _ = manifest.save();
    stuck
}

/// One node's live state for `status`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NodeState {
    /// Org.
    pub org: String,
    /// API URL.
    pub api_url: String,
    /// Process running.
    pub running: bool,
    /// Leader known.
    pub has_leader: Option<bool>,
    /// Latest height.
    pub latest_height: Option<u64>,
    /// Error reading `/status`, if any.
    pub error: Option<String>,
}

/// Reads every node's `/status`.
pub async fn status(manifest: &Manifest) -> Vec<NodeState> {
    let mut states = Vec::new();
    for node in &manifest.nodes {
        let running = node.pid != 0 && process::is_alive(node.pid);
        let answer = match Client::new(&node.api_url, Some(&node.token)) {
            Ok(client) if running => client.status().await.map_err(|e| e.to_string()),
            Ok(_) => Err("not running".to_string()),
            Err(error) => Err(error.to_string()),
        };
        states.push(NodeState {
            org: node.org.clone(),
            api_url: node.api_url.clone(),
            running,
            has_leader: answer.as_ref().ok().map(|s| s.has_leader()),
            latest_height: answer.as_ref().ok().and_then(|s| s.latest_height),
            error: answer.err(),
        });
    }
    states
}

/// The human summary `up` prints: URLs, tokens and commands with real serials.
pub fn summary(manifest: &Manifest) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "Pedigree devnet up in {}", manifest.dir.display());
    let _ = writeln!(text, "network id {}\n", manifest.network_id);
    for node in &manifest.nodes {
        let _ = writeln!(
            text,
            "  {:6} {:12} {:8} {}  token {}  pid {}",
            node.org, node.role, node.raft_role, node.api_url, node.token, node.pid
        );
    }
    for entry in &manifest.processes {
        let _ = writeln!(
            text,
            "  {}  pid {}  log {}",
            entry.name,
            entry.pid,
            entry.log.display()
        );
    }
    let Some(report) = manifest
        .scenario
        .as_ref()
        .and_then(|v| serde_json::from_value::<ScenarioReport>(v.clone()).ok())
    else {
        return text;
    };
    let (Some(pharm), Some(reg)) = (
        manifest.node(plan::PHARMACY.id),
        manifest.node(plan::REGULATOR.id),
    ) else {
        return text;
    };
    let serial = &report.serials[1];
    let _ = writeln!(
        text,
        "\nScenario: lot {} ({} units in case {}) went mfg → dist → pharm; unit {} was dispensed; lot {} is recalled.\n",
        report.lot,
        report.serials.len(),
        report.case,
        report.dispensed_serial,
        report.recalled_lot
    );
    let _ = writeln!(
        text,
        "Try (any node answers; the regulator's is read-only):"
    );
    let _ = writeln!(
        text,
        "  curl -s -H 'Authorization: Bearer {}' '{}/verify/gtin/{}/lot/{}/ser/{}?exp={}'",
        pharm.token, pharm.api_url, report.gtin, report.lot, serial, report.expiry_yymmdd
    );
    let _ = writeln!(
        text,
        "  pedigree --node {} --token {} verify '(01){}(17){}(10){}(21){}'",
        pharm.api_url, pharm.token, report.gtin, report.expiry_yymmdd, report.lot, serial
    );
    let _ = writeln!(
        text,
        "  pedigree --node {} --token {} verify --gtin {} --lot {} --serial {}   # dispensed: NOT VERIFIED",
        pharm.api_url, pharm.token, report.gtin, report.lot, report.dispensed_serial
    );
    let _ = writeln!(
        text,
        "  pedigree --node {} --token {} trace https://id.gs1.org/01/{}/21/{}",
        reg.api_url, reg.token, report.gtin, serial
    );
    let _ = writeln!(
        text,
        "  pedigree --node {} --token {} recall {} {} --scope",
        reg.api_url, reg.token, report.gtin, report.recalled_lot
    );
    let _ = writeln!(
        text,
        "  pedigree --node {} --token {} reconcile {} {}",
        reg.api_url, reg.token, report.gtin, report.lot
    );
    let _ = writeln!(
        text,
        "  pedigree --node {} --token {} blocks",
        reg.api_url, reg.token
    );
    text
}
