//! `node.toml`: the node's configuration file, parsed with serde and then validated into typed values.
//!
//! Parsing happens in two steps.
//! First `toml` + serde read the file into private `Raw*` structs that hold strings and reject unknown keys.
//! Then [`Config::from_toml_str`] turns every string into its typed value (socket address, multiaddr, peer id),
//! so an error can always name the file, the key, the offending value and the problem,
//! for example `node.toml: api.listen = "x": invalid socket address`.
//!
//! Relative paths in the file are resolved against the directory that holds the file,
//! so a node directory can be moved as a whole.
//!
//! # Format
//!
//! ```toml
//! [node]
//! org = "acme-pharma"              # this node's organisation id
//! data_dir = "data"                # RocksDB and other state
//! genesis = "genesis.json"         # the network's genesis document
//! node_key = "keys/node.key"       # libp2p ed25519 identity (see `keys`)
//! signing_key = "keys/signing.key" # the organisation's ed25519 transaction-signing key
//! disk_free_min_mib = 1024         # below this much free disk, submissions are refused (0: off)
//! compact_entries = 10000          # applied Raft entries between log compactions (at least 1)
//!
//! [p2p]
//! listen = ["/ip4/0.0.0.0/tcp/7100"]
//! bootstrap = ["/ip4/10.0.0.2/tcp/7100/p2p/12D3KooW..."]
//!
//! [api]
//! listen = "127.0.0.1:8080"
//! webhook_private_destinations = false # true lets webhooks reach loopback/private addresses
//!
//! [[api.tokens]]
//! token = "a-long-random-secret"
//! org = "acme-pharma"
//! role = "admin"                   # read | write | admin
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use serde::Deserialize;

/// The file name every error message uses when the configuration did not come from a file.
pub const CONFIG_FILE_NAME_DEFAULT: &str = "node.toml";

/// The shortest API token accepted, in bytes; shorter tokens are guessable.
pub const API_TOKEN_BYTES_MIN: usize = 16;

/// The longest organisation id accepted, in bytes.
pub const ORG_ID_BYTES_MAX: usize = 64;

/// Errors from loading or validating `node.toml`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file that was read.
        file: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, misses a required key or has an unknown one.
    #[error("{file}: {message}")]
    Parse {
        /// The file that was parsed.
        file: String,
        /// The parser's message, which names the key and the line.
        message: String,
    },
    /// A key is present and well-typed but its value is not acceptable.
    #[error("{file}: {key} = {value:?}: {problem}")]
    Invalid {
        /// The file that was parsed.
        file: String,
        /// The dotted key, for example `api.listen` or `api.tokens[2].role`.
        key: String,
        /// The offending value as written.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// The result type of this module.
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// What an API token allows; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Query records and receipts.
    Read,
    /// Also submit transactions.
    Write,
    /// Also manage the node (membership proposals, diagnostics).
    Admin,
}

impl Role {
    /// The role's name as written in `node.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one API token grants: the organisation it acts for and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The organisation the bearer acts for.
    pub org: String,
    /// What the bearer may do.
    pub role: Role,
}

/// A bootstrap peer: its peer id and the address to dial it on (without the `/p2p/` suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapPeer {
    /// The peer id taken from the trailing `/p2p/` component.
    pub peer_id: PeerId,
    /// The transport address, with the `/p2p/` component removed.
    pub address: Multiaddr,
}

/// The validated configuration; every path is absolute or relative to the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// This node's organisation id.
    pub org: String,
    /// Where the node keeps its state.
    pub data_dir: PathBuf,
    /// The genesis document.
    pub genesis_path: PathBuf,
    /// The libp2p identity key file.
    pub node_key_path: PathBuf,
    /// The organisation's transaction-signing key file.
    pub signing_key_path: PathBuf,
    /// Free disk (bytes) below which the node refuses submissions (`node.disk_free_min_mib`;
    /// default [`crate::ledger::DISK_FREE_MIN_BYTES_DEFAULT`], 0 turns the check off).
    pub disk_free_min_bytes: u64,
    /// Applied Raft entries between log compactions (`node.compact_entries`; default
    /// [`crate::ledger::COMPACT_ENTRIES_DEFAULT`]). Fewer keep the Raft log smaller; a follower
    /// that falls further behind than the log reaches catches up by snapshot.
    pub compact_entries: u64,
    /// libp2p listen addresses.
    pub p2p_listen: Vec<Multiaddr>,
    /// Peers dialled at start-up.
    pub bootstrap: Vec<BootstrapPeer>,
    /// The HTTP API listen address.
    pub api_listen: SocketAddr,
    /// API bearer tokens and what each grants; a `BTreeMap` so iteration order is stable.
    pub api_tokens: BTreeMap<String, TokenGrant>,
    /// Whether webhook subscriptions may deliver to loopback, private and link-local
    /// addresses (`api.webhook_private_destinations`, default false; see `api::webhook`).
    pub webhook_private_destinations: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    node: RawNode,
    p2p: RawP2p,
    api: RawApi,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    org: String,
    data_dir: String,
    genesis: String,
    node_key: String,
    signing_key: String,
    #[serde(default)]
    disk_free_min_mib: Option<u64>,
    #[serde(default)]
    compact_entries: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawP2p {
    listen: Vec<String>,
    #[serde(default)]
    bootstrap: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    listen: String,
    #[serde(default)]
    webhook_private_destinations: bool,
    #[serde(default)]
    tokens: Vec<RawToken>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    token: String,
    org: String,
    role: Role,
}

impl Config {
    /// Reads and validates a config file; relative paths in it are resolved against its directory.
    ///
    /// # Errors
    /// [`ConfigError::Read`] if the file cannot be read, otherwise as [`Config::from_toml_str`].
    pub fn load(path: &Path) -> Result<Config> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new(""));
        Config::from_toml_str(&text, &file, base_dir)
    }

    /// Parses and validates config text; `file` names the source in error messages and
    /// relative paths are joined onto `base_dir`.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] for TOML syntax errors, missing or unknown keys and wrong types;
    /// [`ConfigError::Invalid`] for values that parse but are not acceptable.
    pub fn from_toml_str(text: &str, file: &str, base_dir: &Path) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError::Parse {
            file: file.to_owned(),
            message: error.to_string().trim_end().to_owned(),
        })?;
        let check = Checker { file };

        check.org_id("node.org", &raw.node.org)?;
        let data_dir = check.path("node.data_dir", &raw.node.data_dir, base_dir)?;
        let genesis_path = check.path("node.genesis", &raw.node.genesis, base_dir)?;
        let node_key_path = check.path("node.node_key", &raw.node.node_key, base_dir)?;
        let signing_key_path = check.path("node.signing_key", &raw.node.signing_key, base_dir)?;
        if node_key_path == signing_key_path {
            return Err(check.invalid(
                "node.signing_key",
                &raw.node.signing_key,
                "must differ from node.node_key: the libp2p identity and the signing key are separate keys",
            ));
        }

        if raw.p2p.listen.is_empty() {
            return Err(check.invalid(
                "p2p.listen",
                "[]",
                "at least one listen address is required",
            ));
        }
        let p2p_listen = raw
            .p2p
            .listen
            .iter()
            .enumerate()
            .map(|(index, text)| check.listen_address(&format!("p2p.listen[{index}]"), text))
            .collect::<Result<Vec<_>>>()?;
        let bootstrap = raw
            .p2p
            .bootstrap
            .iter()
            .enumerate()
            .map(|(index, text)| check.bootstrap_peer(&format!("p2p.bootstrap[{index}]"), text))
            .collect::<Result<Vec<_>>>()?;

        let api_listen: SocketAddr =
            raw.api.listen.parse().map_err(|_| {
                check.invalid("api.listen", &raw.api.listen, "invalid socket address")
            })?;

        let disk_free_min_bytes = match raw.node.disk_free_min_mib {
            None => crate::ledger::DISK_FREE_MIN_BYTES_DEFAULT,
            Some(mib) => mib.checked_mul(1 << 20).ok_or_else(|| {
                check.invalid(
                    "node.disk_free_min_mib",
                    &mib.to_string(),
                    "too large (mebibytes; 0 turns the check off)",
                )
            })?,
        };
        let compact_entries = match raw.node.compact_entries {
            None => crate::ledger::COMPACT_ENTRIES_DEFAULT,
            Some(0) => {
                return Err(check.invalid(
                    "node.compact_entries",
                    "0",
                    "must be at least 1 (applied entries between log compactions)",
                ));
            }
            Some(entries) => entries,
        };
        let mut api_tokens = BTreeMap::new();
        for (index, token) in raw.api.tokens.into_iter().enumerate() {
            let key = format!("api.tokens[{index}]");
            check.token(&format!("{key}.token"), &token.token)?;
            check.org_id(&format!("{key}.org"), &token.org)?;
            let grant = TokenGrant {
                org: token.org,
                role: token.role,
            };
            if api_tokens.insert(token.token, grant).is_some() {
                // The token itself is a secret, so the message does not echo it.
                return Err(check.invalid(
                    &format!("{key}.token"),
                    "<redacted>",
                    "duplicate token",
                ));
            }
        }

        Ok(Config {
            org: raw.node.org,
            data_dir,
            genesis_path,
            node_key_path,
            signing_key_path,
            disk_free_min_bytes,
            compact_entries,
            p2p_listen,
            bootstrap,
            api_listen,
            api_tokens,
            webhook_private_destinations: raw.api.webhook_private_destinations,
        })
    }
}

/// Builds typed values and errors that name the file and key.
struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    fn invalid(&self, key: &str, value: &str, problem: &str) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            problem: problem.to_owned(),
        }
    }

    fn org_id(&self, key: &str, value: &str) -> Result<()> {
        validate_org_id(value).map_err(|problem| self.invalid(key, value, problem))
    }

    fn path(&self, key: &str, value: &str, base_dir: &Path) -> Result<PathBuf> {
        if value.trim().is_empty() {
            return Err(self.invalid(key, value, "path must not be empty"));
        }
        Ok(base_dir.join(value))
    }

    fn listen_address(&self, key: &str, value: &str) -> Result<Multiaddr> {
        let address: Multiaddr = value
            .parse()
            .map_err(|error| self.invalid(key, value, &format!("invalid multiaddr: {error}")))?;
        if !address
            .iter()
            .any(|protocol| matches!(protocol, Protocol::Tcp(_)))
        {
            return Err(self.invalid(
                key,
                value,
                "must be a TCP address such as /ip4/0.0.0.0/tcp/7100",
            ));
        }
        if address
            .iter()
            .any(|protocol| matches!(protocol, Protocol::P2p(_)))
        {
            return Err(self.invalid(key, value, "a listen address must not contain /p2p/"));
        }
        Ok(address)
    }

    fn bootstrap_peer(&self, key: &str, value: &str) -> Result<BootstrapPeer> {
        let mut address: Multiaddr = value
            .parse()
            .map_err(|error| self.invalid(key, value, &format!("invalid multiaddr: {error}")))?;
        let Some(Protocol::P2p(peer_id)) = address.pop() else {
            return Err(self.invalid(key, value, "must end with /p2p/<peer id>"));
        };
        if !address
            .iter()
            .any(|protocol| matches!(protocol, Protocol::Tcp(_)))
        {
            return Err(self.invalid(
                key,
                value,
                "must be a TCP address such as /ip4/10.0.0.2/tcp/7100/p2p/<peer id>",
            ));
        }
        Ok(BootstrapPeer { peer_id, address })
    }

    fn token(&self, key: &str, value: &str) -> Result<()> {
        if value.len() < API_TOKEN_BYTES_MIN {
            return Err(self.invalid(
                key,
                "<redacted>",
                &format!(
                    "token is {} bytes; at least {API_TOKEN_BYTES_MIN} are required",
                    value.len()
                ),
            ));
        }
        if !value.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(self.invalid(
                key,
                "<redacted>",
                "token must be printable ASCII without spaces",
            ));
        }
        Ok(())
    }
}

/// Checks an organisation id: 1 to [`ORG_ID_BYTES_MAX`] bytes of ASCII letters, digits, `-`, `_` or `.`.
///
/// # Errors
/// A static description of the problem.
pub fn validate_org_id(value: &str) -> std::result::Result<(), &'static str> {
    if value.is_empty() {
        return Err("organisation id must not be empty");
    }
    if value.len() > ORG_ID_BYTES_MAX {
        return Err("organisation id is longer than 64 bytes");
    }
    if !value
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
    {
        return Err("organisation id may contain only ASCII letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

    fn good() -> String {
        format!(
            r#"
[node]
org = "acme-pharma"
data_dir = "data"
genesis = "genesis.json"
node_key = "keys/node.key"
signing_key = "keys/signing.key"

[p2p]
listen = ["/ip4/127.0.0.1/tcp/7100"]
bootstrap = ["/ip4/10.0.0.2/tcp/7100/p2p/{PEER}"]

[api]
listen = "127.0.0.1:8080"

[[api.tokens]]
token = "0123456789abcdef0123"
org = "acme-pharma"
role = "admin"

[[api.tokens]]
token = "fedcba9876543210fedc"
org = "regulator"
role = "read"
"#
        )
    }

    fn parse(text: &str) -> Result<Config> {
        Config::from_toml_str(text, "node.toml", Path::new("/etc/pedigree"))
    }

    fn error_of(text: &str) -> String {
        parse(text)
            .expect_err("config must be rejected")
            .to_string()
    }

    #[test]
    fn good_config_parses() {
        let config = parse(&good()).expect("good config");
        assert_eq!(config.org, "acme-pharma");
        assert_eq!(config.data_dir, PathBuf::from("/etc/pedigree/data"));
        assert_eq!(
            config.node_key_path,
            PathBuf::from("/etc/pedigree/keys/node.key")
        );
        assert_eq!(
            config.api_listen,
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            config.p2p_listen,
            vec!["/ip4/127.0.0.1/tcp/7100".parse::<Multiaddr>().unwrap()]
        );
        assert_eq!(config.bootstrap.len(), 1);
        assert_eq!(config.bootstrap[0].peer_id, PEER.parse::<PeerId>().unwrap());
        assert_eq!(
            config.bootstrap[0].address,
            "/ip4/10.0.0.2/tcp/7100".parse::<Multiaddr>().unwrap()
        );
        let grant = &config.api_tokens["fedcba9876543210fedc"];
        assert_eq!(
            grant,
            &TokenGrant {
                org: "regulator".into(),
                role: Role::Read
            }
        );
        assert!(Role::Read < Role::Write && Role::Write < Role::Admin);
        assert!(!config.webhook_private_destinations);
        assert_eq!(
            config.disk_free_min_bytes,
            crate::ledger::DISK_FREE_MIN_BYTES_DEFAULT
        );
        let text = good().replace(
            "signing_key = \"keys/signing.key\"",
            "signing_key = \"keys/signing.key\"\ndisk_free_min_mib = 0",
        );
        assert_eq!(parse(&text).unwrap().disk_free_min_bytes, 0);
        let text = good().replace(
            "signing_key = \"keys/signing.key\"",
            "signing_key = \"keys/signing.key\"\ndisk_free_min_mib = 18446744073709551615",
        );
        assert!(error_of(&text).contains("node.disk_free_min_mib"));
        assert_eq!(
            config.compact_entries,
            crate::ledger::COMPACT_ENTRIES_DEFAULT
        );
        let with_compaction = |value: &str| {
            good().replace(
                "signing_key = \"keys/signing.key\"",
                &format!("signing_key = \"keys/signing.key\"\ncompact_entries = {value}"),
            )
        };
        assert_eq!(parse(&with_compaction("16")).unwrap().compact_entries, 16);
        let error = error_of(&with_compaction("0"));
        assert!(
            error.contains("node.compact_entries") && error.contains("at least 1"),
            "{error}"
        );
        assert!(error_of(&with_compaction("-1")).contains("compact_entries"));
        let text = good().replace(
            "listen = \"127.0.0.1:8080\"",
            "listen = \"127.0.0.1:8080\"\nwebhook_private_destinations = true",
        );
        assert!(parse(&text).unwrap().webhook_private_destinations);
        let text = good().replace(
            "listen = \"127.0.0.1:8080\"",
            "listen = \"127.0.0.1:8080\"\nwebhook_private_destinations = \"yes\"",
        );
        assert!(error_of(&text).contains("webhook_private_destinations"));
    }

    #[test]
    fn absolute_paths_stay_absolute() {
        let text = good().replace("data_dir = \"data\"", "data_dir = \"/var/lib/pedigree\"");
        assert_eq!(
            parse(&text).unwrap().data_dir,
            PathBuf::from("/var/lib/pedigree")
        );
    }

    #[test]
    fn bad_api_listen_names_key_and_value() {
        let text = good().replace("listen = \"127.0.0.1:8080\"", "listen = \"x\"");
        assert_eq!(
            error_of(&text),
            "node.toml: api.listen = \"x\": invalid socket address"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = good().replace("[api]\n", "[api]\nlisen = \"1\"\n");
        let message = error_of(&text);
        assert!(message.starts_with("node.toml: "), "{message}");
        assert!(message.contains("unknown field `lisen`"), "{message}");

        let text = format!("{}\n[extra]\nx = 1\n", good());
        assert!(error_of(&text).contains("unknown field `extra`"));
    }

    #[test]
    fn missing_key_is_named() {
        let text = good().replace("genesis = \"genesis.json\"\n", "");
        assert!(error_of(&text).contains("missing field `genesis`"));
    }

    #[test]
    fn bad_role_is_rejected() {
        let text = good().replace("role = \"read\"", "role = \"root\"");
        let message = error_of(&text);
        assert!(message.contains("unknown variant `root`"), "{message}");
    }

    #[test]
    fn bad_multiaddrs_are_rejected() {
        let text = good().replace("/ip4/127.0.0.1/tcp/7100\"]", "not-a-multiaddr\"]");
        let message = error_of(&text);
        assert!(
            message
                .starts_with("node.toml: p2p.listen[0] = \"not-a-multiaddr\": invalid multiaddr"),
            "{message}"
        );

        let text = good().replace(&format!("/p2p/{PEER}"), "");
        assert_eq!(
            error_of(&text),
            "node.toml: p2p.bootstrap[0] = \"/ip4/10.0.0.2/tcp/7100\": must end with /p2p/<peer id>"
        );

        let text = good().replace("/ip4/127.0.0.1/tcp/7100\"]", "/ip4/127.0.0.1/udp/7100\"]");
        assert!(error_of(&text).contains("must be a TCP address"));

        let text = good().replace("listen = [\"/ip4/127.0.0.1/tcp/7100\"]", "listen = []");
        assert_eq!(
            error_of(&text),
            "node.toml: p2p.listen = \"[]\": at least one listen address is required"
        );
    }

    #[test]
    fn bad_tokens_are_rejected_without_echoing_them() {
        let text = good().replace("0123456789abcdef0123", "short");
        assert_eq!(
            error_of(&text),
            "node.toml: api.tokens[0].token = \"<redacted>\": token is 5 bytes; at least 16 are required"
        );

        let text = good().replace("fedcba9876543210fedc", "0123456789abcdef0123");
        assert_eq!(
            error_of(&text),
            "node.toml: api.tokens[1].token = \"<redacted>\": duplicate token"
        );
    }

    #[test]
    fn bad_org_ids_are_rejected() {
        let text = good().replace("org = \"regulator\"", "org = \"has space\"");
        assert!(error_of(&text).starts_with(
            "node.toml: api.tokens[1].org = \"has space\": organisation id may contain only"
        ));
        let text = good().replace("org = \"acme-pharma\"\ndata_dir", "org = \"\"\ndata_dir");
        assert_eq!(
            error_of(&text),
            "node.toml: node.org = \"\": organisation id must not be empty"
        );
    }

    #[test]
    fn same_key_file_for_both_keys_is_rejected() {
        let text = good().replace("keys/signing.key", "keys/node.key");
        assert!(
            error_of(&text)
                .starts_with("node.toml: node.signing_key = \"keys/node.key\": must differ")
        );
    }

    #[test]
    fn syntax_error_names_file() {
        assert!(error_of("[node\n").starts_with("node.toml: "));
    }

    #[test]
    fn load_reports_unreadable_file() {
        let error = Config::load(Path::new("/nonexistent/pedigree/node.toml")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("/nonexistent/pedigree/node.toml: cannot read: "),
            "{error}"
        );
    }
}
