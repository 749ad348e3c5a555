//! The `plant.toml` configuration of the `pedigree-plant` binary, with the
//! cross-checks that make serial uniqueness hold (distinct namespaces per
//! line).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pedigree_gs1::{Gln, Gtin};
use serde::Deserialize;

use crate::adapter::AdapterSettings;
use crate::error::ConfigError;
use crate::line::{PartyLocation, check_name};
use crate::mapping::{BatchLimits, LineContext};
use crate::simulator::SimulatorSettings;
use crate::spool::SpoolLimits;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlantConfig {
    /// The site.
    pub site: SiteConfig,
    /// The spool.
    pub spool: SpoolConfig,
    /// Commissioning batching.
    #[serde(default)]
    pub batching: BatchingConfig,
    /// Submission.
    #[serde(default)]
    pub submit: SubmitConfig,
    /// File output (the `--dry-run` submitter).
    pub output: Option<OutputConfig>,
    /// The ledger node.
    pub node: Option<NodeConfig>,
    /// The MQTT broker (omit to run without MQTT).
    pub mqtt: Option<MqttConfig>,
    /// Metrics text file for the node_exporter textfile collector.
    pub metrics: Option<MetricsConfig>,
    /// The packaging lines.
    #[serde(rename = "line")]
    pub lines: Vec<LineConfig>,
}

/// `[site]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Site code (MQTT topic segment).
    pub id: String,
    /// Site GLN: business location, and the read points (extension = line).
    pub gln: String,
    /// GS1 Company Prefix of the site (SSCCs; length of the GLN's prefix).
    pub company_prefix: String,
    /// Hex-encoded 32-byte secret key for the serial permutations. Devnet
    /// setups may omit it; the simulator then derives its key from the seed.
    pub serial_key_hex: Option<String>,
}

/// `[spool]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory of the spool, the serial counters and `rejected.jsonl`.
    pub dir: PathBuf,
    /// Most events waiting for the ledger.
    #[serde(default = "default_live_events_max")]
    pub live_events_max: usize,
}

fn default_live_events_max() -> usize {
    SpoolLimits::default().live_events_max
}

/// `[batching]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchingConfig {
    /// Most packs per commissioning event.
    pub epcs_per_event_max: usize,
    /// Oldest a batch may get, in milliseconds.
    pub batch_age_ms_max: u64,
}

impl Default for BatchingConfig {
    fn default() -> Self {
        let d = AdapterSettings::default().batch;
        Self {
            epcs_per_event_max: d.epcs_per_event_max,
            batch_age_ms_max: d.batch_age_ms_max,
        }
    }
}

/// `[submit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubmitConfig {
    /// Most events per submission.
    pub events_max: usize,
    /// Submission timeout in milliseconds.
    pub timeout_ms: u64,
    /// First retry delay in milliseconds.
    pub retry_backoff_min_ms: u64,
    /// Longest retry delay in milliseconds.
    pub retry_backoff_max_ms: u64,
}

impl Default for SubmitConfig {
    fn default() -> Self {
        let d = AdapterSettings::default();
        Self {
            events_max: d.submit_events_max,
            timeout_ms: d.submit_timeout.as_millis() as u64,
            retry_backoff_min_ms: d.retry_backoff_min.as_millis() as u64,
            retry_backoff_max_ms: d.retry_backoff_max.as_millis() as u64,
        }
    }
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Directory for the JSON-LD documents.
    pub dir: PathBuf,
}

/// `[node]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Base URL of the node's capture API.
    pub url: String,
    /// File holding the bearer token.
    pub token_file: PathBuf,
}

/// `[mqtt]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    #[serde(default = "default_mqtt_port")]
    pub port: u16,
    /// Stable client ID (defaults to `pedigree-plant-{site}`).
    pub client_id: Option<String>,
    /// Keep-alive in seconds.
    #[serde(default = "default_keep_alive_s")]
    pub keep_alive_s: u64,
    /// User name.
    pub username: Option<String>,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
}

fn default_mqtt_port() -> u16 {
    1883
}

fn default_keep_alive_s() -> u64 {
    30
}

/// `[metrics]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where to write the Prometheus text (atomically replaced).
    pub file: PathBuf,
    /// How often, in milliseconds.
    #[serde(default = "default_metrics_interval_ms")]
    pub interval_ms: u64,
}

fn default_metrics_interval_ms() -> u64 {
    10_000
}

/// `[[line]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineConfig {
    /// Line code (topic segment, SGLN extension of the read point).
    pub id: String,
    /// GS1 Company Prefix length of the GTINs on this line (defaults to
    /// the site prefix length).
    pub gtin_prefix_length: Option<usize>,
    /// Camera TCP listen address (`127.0.0.1:7401`), if any.
    pub tcp_listen: Option<String>,
    /// Serial namespace of the line (1-8 characters A-Z a-z 0-9, unique per
    /// site and line, assigned centrally).
    pub serial_namespace: String,
    /// SSCC namespace digits of the line (1-4 digits, unique per site).
    pub sscc_namespace: String,
    /// The simulator, if this line is simulated.
    pub simulator: Option<SimulatorConfig>,
}

/// `[line.simulator]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    /// Units per minute.
    pub units_per_minute: u32,
    /// Reject probability in `[0, 1]`.
    #[serde(default)]
    pub reject_rate: f64,
    /// Units per bundle (0 = no bundles).
    #[serde(default)]
    pub bundle_size: u32,
    /// Bundle GTIN.
    pub bundle_gtin: Option<String>,
    /// Units (or bundles) per case.
    pub case_size: u32,
    /// Cases per pallet.
    pub pallet_size: u32,
    /// Unit GTIN.
    pub gtin: String,
    /// Lot.
    pub lot: String,
    /// Expiry `YYYY-MM-DD`.
    pub expiry: String,
    /// Seed.
    #[serde(default)]
    pub seed: u64,
    /// Serial digits after the namespace.
    #[serde(default = "default_serial_digits")]
    pub serial_digits: u32,
    /// Ship-to party GLN.
    pub destination_party: String,
    /// Ship-to location GLN.
    pub destination_location: String,
    /// Device time of the first unit (RFC 3339); default: now.
    pub start_time: Option<String>,
    /// Stop after this many units.
    pub units_max: Option<u64>,
    /// Follow the rate in real time (default) or run as fast as possible.
    #[serde(default = "default_true")]
    pub paced: bool,
}

fn default_serial_digits() -> u32 {
    12
}

fn default_true() -> bool {
    true
}

fn error(text: impl Into<String>) -> ConfigError {
    ConfigError(text.into())
}

impl PlantConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| error(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Parses and checks config text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: PlantConfig = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        check_name("site id", &self.site.id).map_err(|e| error(e.0))?;
        self.site_gln()?;
        let prefix = &self.site.company_prefix;
        if !(6..=12).contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error("site.company_prefix must be 6-12 digits"));
        }
        if !self.site.gln.starts_with(prefix.as_str()) {
            return Err(error("site.gln must start with site.company_prefix"));
        }
        self.serial_key()?;
        if self.lines.is_empty() {
            return Err(error("at least one [[line]] is needed"));
        }
        let mut ids = BTreeSet::new();
        let mut serial_namespaces = BTreeSet::new();
        let mut sscc_namespaces = BTreeSet::new();
        for line in &self.lines {
            check_name("line id", &line.id).map_err(|e| error(e.0))?;
            if !ids.insert(&line.id) {
                return Err(error(format!("line {} is configured twice", line.id)));
            }
            if !serial_namespaces.insert(&line.serial_namespace) {
                return Err(error(format!(
                    "serial_namespace {} is used by two lines",
                    line.serial_namespace
                )));
            }
            if !sscc_namespaces.insert(&line.sscc_namespace) {
                return Err(error(format!(
                    "sscc_namespace {} is used by two lines",
                    line.sscc_namespace
                )));
            }
        }
        // Builds every derived value once so that errors surface at start.
        self.line_contexts()?;
        for line in &self.lines {
            if line.simulator.is_some() {
                self.simulator_settings(line, 0)?;
            }
        }
        if self.batching.epcs_per_event_max == 0 || self.submit.events_max == 0 {
            return Err(error(
                "batching.epcs_per_event_max and submit.events_max must be at least 1",
            ));
        }
        Ok(())
    }

    fn site_gln(&self) -> Result<Gln, ConfigError> {
        Gln::parse(&self.site.gln).map_err(|e| error(format!("site.gln: {e}")))
    }

    /// The configured serial key, if any.
    pub fn serial_key(&self) -> Result<Option<[u8; 32]>, ConfigError> {
        let Some(text) = &self.site.serial_key_hex else {
            return Ok(None);
        };
        let bytes = hex::decode(text).map_err(|e| error(format!("site.serial_key_hex: {e}")))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| error("site.serial_key_hex must be 32 bytes (64 hex digits)"))?;
        Ok(Some(key))
    }

    /// The mapping context of every line.
    pub fn line_contexts(&self) -> Result<Vec<LineContext>, ConfigError> {
        let gln = self.site_gln()?;
        let site_prefix_length = self.site.company_prefix.len();
        self.lines
            .iter()
            .map(|line| {
                let gtin_prefix_length = line.gtin_prefix_length.unwrap_or(site_prefix_length);
                if !(6..=12).contains(&gtin_prefix_length) {
                    return Err(error(format!(
                        "line {}: gtin_prefix_length must be 6-12",
                        line.id
                    )));
                }
                LineContext::new(&line.id, &gln, site_prefix_length, gtin_prefix_length)
                    .map_err(|e| error(format!("line {}: {e}", line.id)))
            })
            .collect()
    }

    /// The core settings.
    pub fn adapter_settings(&self) -> AdapterSettings {
        AdapterSettings {
            batch: BatchLimits {
                epcs_per_event_max: self.batching.epcs_per_event_max,
                batch_age_ms_max: self.batching.batch_age_ms_max,
            },
            submit_events_max: self.submit.events_max,
            submit_timeout: Duration::from_millis(self.submit.timeout_ms),
            retry_backoff_min: Duration::from_millis(self.submit.retry_backoff_min_ms.max(1)),
            retry_backoff_max: Duration::from_millis(self.submit.retry_backoff_max_ms.max(1)),
        }
    }

    /// The spool limits.
    pub fn spool_limits(&self) -> SpoolLimits {
        SpoolLimits {
            live_events_max: self.spool.live_events_max,
            ..SpoolLimits::default()
        }
    }

    /// The simulator settings of a simulated line (`now_unix_millis` is the
    /// default start time).
    pub fn simulator_settings(
        &self,
        line: &LineConfig,
        now_unix_millis: i64,
    ) -> Result<SimulatorSettings, ConfigError> {
        let simulator = line
            .simulator
            .as_ref()
            .ok_or_else(|| error(format!("line {} has no simulator", line.id)))?;
        let gtin = |text: &str, what: &str| {
            Gtin::parse(text).map_err(|e| error(format!("line {} {what}: {e}", line.id)))
        };
        let gln = |text: &str, what: &str| {
            Gln::parse(text).map_err(|e| error(format!("line {} {what}: {e}", line.id)))
        };
        let start_unix_millis = match &simulator.start_time {
            Some(text) => crate::time::DeviceTime::parse(text)
                .map_err(|e| error(format!("line {} start_time: {e}", line.id)))?
                .unix_millis(),
            None => now_unix_millis,
        };
        let site_gln = self.site_gln()?;
        Ok(SimulatorSettings {
            line: line.id.clone(),
            units_per_minute: simulator.units_per_minute,
            reject_rate: simulator.reject_rate,
            bundle_size: simulator.bundle_size,
            bundle_gtin: simulator
                .bundle_gtin
                .as_deref()
                .map(|g| gtin(g, "bundle_gtin"))
                .transpose()?,
            case_size: simulator.case_size,
            pallet_size: simulator.pallet_size,
            gtin: gtin(&simulator.gtin, "gtin")?,
            lot: simulator.lot.clone(),
            expiry: simulator.expiry.clone(),
            seed: simulator.seed,
            start_unix_millis,
            serial_namespace: line.serial_namespace.clone(),
            serial_digits: simulator.serial_digits,
            company_prefix: self.site.company_prefix.clone(),
            sscc_namespace: line.sscc_namespace.clone(),
            source: PartyLocation {
                party: site_gln.clone(),
                location: site_gln,
            },
            destination: PartyLocation {
                party: gln(&simulator.destination_party, "destination_party")?,
                location: gln(&simulator.destination_location, "destination_location")?,
            },
            serial_key: self.serial_key()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = include_str!("../plant.example.toml");

    #[test]
    fn example_config_parses() {
        let config = PlantConfig::parse(EXAMPLE).unwrap();
        assert_eq!(config.lines.len(), 2);
        assert_eq!(
            config.line_contexts().unwrap()[0].read_point,
            "urn:epc:id:sgln:0614141.00000.L1"
        );
    }

    #[test]
    fn duplicate_namespaces_are_refused() {
        let text = EXAMPLE.replace("serial_namespace = \"S1L2\"", "serial_namespace = \"S1L1\"");
        let error = PlantConfig::parse(&text).unwrap_err().to_string();
        assert!(
            error.contains("serial_namespace S1L1 is used by two lines"),
            "{error}"
        );
    }
}
