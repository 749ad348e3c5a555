//! `devnet.json`: what `up` started, for `status`, `down` and scripts.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The file name inside the devnet directory.
pub const MANIFEST_FILE_NAME: &str = "devnet.json";

/// One node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeEntry {
    /// Operating org.
    pub org: String,
    /// Genesis role (`manufacturer`, `cmo`, `distributor`, `dispenser`, `regulator`).
    pub role: String,
    /// `voter` or `learner`.
    pub raft_role: String,
    /// The org's GLN.
    pub gln: String,
    /// HTTP API base URL.
    pub api_url: String,
    /// Admin bearer token of the org on this node.
    pub token: String,
    /// Process id (0 if not running).
    pub pid: u32,
    /// libp2p peer id.
    pub peer_id: String,
    /// libp2p listen address.
    pub p2p: String,
    /// Node directory (config, keys, data, log).
    pub dir: PathBuf,
    /// The org's signing key file.
    pub signing_key: PathBuf,
}

/// Another process (the plant adapter).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessEntry {
    /// What it is.
    pub name: String,
    /// Process id.
    pub pid: u32,
    /// Its log file.
    pub log: PathBuf,
}

/// The whole devnet.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// The network id (hex).
    pub network_id: String,
    /// The devnet directory.
    pub dir: PathBuf,
    /// The nodes, voters first.
    pub nodes: Vec<NodeEntry>,
    /// Other processes.
    pub processes: Vec<ProcessEntry>,
    /// What the scenario recorded (serials, lots), if it ran.
    pub scenario: Option<serde_json::Value>,
}

impl Manifest {
    /// Reads `devnet.json` from `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(MANIFEST_FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{} (is the devnet up?)", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}", path.display()))
    }

    /// Writes `devnet.json` into its directory (atomically: temporary file, then rename).
    pub fn save(&self) -> anyhow::Result<()> {
        let path = self.dir.join(MANIFEST_FILE_NAME);
        let temporary = self.dir.join(format!("{MANIFEST_FILE_NAME}.tmp"));
        std::fs::write(&temporary, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("{}", temporary.display()))?;
        std::fs::rename(&temporary, &path).with_context(|| format!("{}", path.display()))
    }

    /// Every pid in the manifest (nodes and other processes), non-zero only.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .map(|n| n.pid)
            .chain(self.processes.iter().map(|p| p.pid))
            .filter(|pid| *pid != 0)
            .collect()
    }

    /// The node of `org`.
    pub fn node(&self, org: &str) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.org == org)
    }
}
