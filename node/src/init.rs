//! `pedigree-node init`: create a node directory with both keys and a commented sample `node.toml`.
//!
//! The resulting layout:
//!
//! ```text
//! DIR/node.toml          (0600: it holds API tokens)
//! DIR/keys/              (0700)
//! DIR/keys/node.key      (0600: libp2p identity)
//! DIR/keys/signing.key   (0600: organisation signing key)
//! ```
//!
//! Nothing is overwritten: if any of the three files exists, init fails before writing anything.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};

use crate::config::{CONFIG_FILE_NAME_DEFAULT, validate_org_id};
use crate::keys::{self, KEY_FILE_MODE, KeyError, KeyPurpose, PublicParts};

/// The key directory's name inside the node directory.
pub const KEYS_DIR_NAME: &str = "keys";

/// The node identity key's file name inside [`KEYS_DIR_NAME`].
pub const NODE_KEY_FILE_NAME: &str = "node.key";

/// The signing key's file name inside [`KEYS_DIR_NAME`].
pub const SIGNING_KEY_FILE_NAME: &str = "signing.key";

/// Mode of the key directory: owner only.
const KEYS_DIR_MODE: u32 = 0o700;

/// Random bytes in a generated API token (printed as twice as many hex digits).
const API_TOKEN_RANDOM_BYTES: usize = 24;

/// Errors from `init`.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The organisation id is not acceptable.
    #[error("organisation id {org:?}: {problem}")]
    InvalidOrg {
        /// The id given (or derived from the directory name).
        org: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The directory is already (partly) initialised.
    #[error("{path} already exists; refusing to overwrite an initialised node directory")]
    AlreadyInitialised {
        /// The first existing file found.
        path: PathBuf,
    },
    /// Writing a key failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Creating a directory or the config file failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = InitError> = std::result::Result<T, E>;

/// What `init` created.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InitReport {
    /// The public parts to put into the genesis document.
    #[serde(flatten)]
    pub public: PublicParts,
    /// The sample configuration file.
    pub config_path: PathBuf,
    /// The node identity key file.
    pub node_key_path: PathBuf,
    /// The signing key file.
    pub signing_key_path: PathBuf,
}

/// Returns the organisation id to use: `org` if given, otherwise the directory's last component.
///
/// # Errors
/// [`InitError::InvalidOrg`] if the result is not a valid organisation id.
pub fn resolve_org(dir: &Path, org: Option<&str>) -> Result<String> {
    let org = match org {
        Some(org) => org.to_owned(),
        None => dir
            .canonicalize()
            .unwrap_or_else(|_| dir.to_owned())
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    validate_org_id(&org).map_err(|problem| InitError::InvalidOrg {
        org: org.clone(),
        problem,
    })?;
    Ok(org)
}

/// Creates the node directory `dir` for organisation `org`: both keys and a sample `node.toml`.
///
/// # Errors
/// [`InitError::InvalidOrg`], [`InitError::AlreadyInitialised`] (nothing is written),
/// [`InitError::Key`] or [`InitError::Io`].
pub fn init_node_dir(dir: &Path, org: &str) -> Result<InitReport> {
    validate_org_id(org).map_err(|problem| InitError::InvalidOrg {
        org: org.to_owned(),
        problem,
    })?;
    let keys_dir = dir.join(KEYS_DIR_NAME);
    let config_path = dir.join(CONFIG_FILE_NAME_DEFAULT);
    let node_key_path = keys_dir.join(NODE_KEY_FILE_NAME);
    let signing_key_path = keys_dir.join(SIGNING_KEY_FILE_NAME);
    for path in [&config_path, &node_key_path, &signing_key_path] {
        if path.exists() {
            return Err(InitError::AlreadyInitialised { path: path.clone() });
        }
    }

    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| InitError::Io { path, source }
    };
    DirBuilder::new()
        .recursive(true)
        .create(dir)
        .map_err(io_error(dir))?;
    DirBuilder::new()
        .recursive(true)
        .mode(KEYS_DIR_MODE)
        .create(&keys_dir)
        .map_err(io_error(&keys_dir))?;

    let node_key = keys::generate_signing_key();
    let signing_key = keys::generate_signing_key();
    keys::write_key_file(&node_key_path, &node_key, KeyPurpose::NodeIdentity)?;
    keys::write_key_file(&signing_key_path, &signing_key, KeyPurpose::OrgSigning)?;
    let public = PublicParts::new(org, &node_key, &signing_key);

    let mut token = [0_u8; API_TOKEN_RANDOM_BYTES];
    OsRng.fill_bytes(&mut token);
    let text = sample_config(&public, &hex::encode(token));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(KEY_FILE_MODE)
        .open(&config_path)
        .map_err(io_error(&config_path))?;
    file.write_all(text.as_bytes())
        .map_err(io_error(&config_path))?;

    Ok(InitReport {
        public,
        config_path,
        node_key_path,
        signing_key_path,
    })
}

/// The commented sample configuration `init` writes; `admin_token` is the first API token.
pub fn sample_config(public: &PublicParts, admin_token: &str) -> String {
    let PublicParts {
        org,
        peer_id,
        signing_key_id,
        ..
    } = public;
    format!(
        r#"# Pedigree node configuration, generated by `pedigree-node init`.
# Relative paths are resolved against the directory of this file.
# This file holds API tokens: keep it private (mode 0600).

[node]
# This node's organisation id, as registered in the genesis document.
org = "{org}"
# Where the node keeps its Raft log and ledger state.
data_dir = "data"
# The network's genesis document, identical on every member.
genesis = "genesis.json"
# The libp2p identity key. Its peer id, {peer_id}, is how other members know this node.
node_key = "{KEYS_DIR_NAME}/{NODE_KEY_FILE_NAME}"
# The organisation's transaction-signing key (key id {signing_key_id}).
signing_key = "{KEYS_DIR_NAME}/{SIGNING_KEY_FILE_NAME}"

[p2p]
# Addresses to accept peer connections on (libp2p multiaddrs, TCP only).
listen = ["/ip4/0.0.0.0/tcp/7100"]
# Members dialled at start-up, each as /ip4/<host>/tcp/<port>/p2p/<peer id>.
bootstrap = []

[api]
# The HTTP API's listen address.
listen = "127.0.0.1:8080"
# Whether webhook subscriptions may deliver to loopback, private or link-local addresses
# (off: such a `dest` is refused, and host names resolving to them fail delivery).
webhook_private_destinations = false

# HTTP API bearer tokens: each grants one organisation a role (read, write or admin).
# Add more [[api.tokens]] tables as needed; tokens must be at least 16 characters.
[[api.tokens]]
token = "{admin_token}"
org = "{org}"
role = "admin"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Role};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn init_creates_loadable_config_and_keys() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("acme");
        let report = init_node_dir(&dir, "acme-pharma").unwrap();

        let config = Config::load(&report.config_path).expect("sample config is valid");
        assert_eq!(config.org, "acme-pharma");
        assert_eq!(config.node_key_path, report.node_key_path);
        let (token, grant) = config.api_tokens.iter().next().unwrap();
        assert_eq!(token.len(), API_TOKEN_RANDOM_BYTES * 2);
        assert_eq!(grant.role, Role::Admin);

        let node_key = keys::read_key_file(&config.node_key_path).unwrap();
        let signing_key = keys::read_key_file(&config.signing_key_path).unwrap();
        assert_eq!(
            PublicParts::new("acme-pharma", &node_key, &signing_key),
            report.public
        );
        assert_ne!(node_key.to_bytes(), signing_key.to_bytes());

        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&report.config_path), 0o600);
        assert_eq!(mode(&dir.join(KEYS_DIR_NAME)), 0o700);

        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["peer_id"], report.public.peer_id);
        assert_eq!(json["signing_key_id"], report.public.signing_key_id);
    }

    #[test]
    fn init_refuses_an_initialised_directory() {
        let temp = tempfile::tempdir().unwrap();
        let first = init_node_dir(temp.path(), "acme").unwrap();
        let before = std::fs::read(&first.node_key_path).unwrap();
        let error = init_node_dir(temp.path(), "acme").unwrap_err();
        assert!(
            matches!(error, InitError::AlreadyInitialised { .. }),
            "{error}"
        );
        assert_eq!(std::fs::read(&first.node_key_path).unwrap(), before);
    }

    #[test]
    fn org_defaults_to_directory_name_and_is_validated() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("distributor-7");
        assert_eq!(resolve_org(&dir, None).unwrap(), "distributor-7");
        assert_eq!(resolve_org(&dir, Some("cmo")).unwrap(), "cmo");
        let error = resolve_org(&dir, Some("bad org")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("organisation id \"bad org\": "),
            "{error}"
        );
    }
}
