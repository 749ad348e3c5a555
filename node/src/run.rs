//! `pedigree-node run`: load config, genesis and keys, open RocksDB, start the network, the
//! ledger's event loop and the HTTP API, and stop cleanly on SIGINT/SIGTERM.
//!
//! Start-up order matters: the network comes first (the ledger needs its handle), the ledger
//! second, the API last (it serves the ledger). Shutdown is the reverse through one
//! [`ShutdownController`]: every task holds a [`crate::shutdown::Shutdown`] and the controller
//! waits until all have stopped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use libp2p::PeerId;
use pedigree_chaincode::{Genesis, GenesisError};

use crate::config::{Config, ConfigError};
use crate::keys::{self, KeyError};
use crate::ledger::{self, LedgerConfig, LedgerError, LedgerHandle, LedgerTuning, Signer};
use crate::net::{self, AllowList, NetError, NetworkConfig};
use crate::shutdown::ShutdownController;

/// Why the node could not start (or stopped abnormally).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `node.toml` is unreadable or invalid (the message names the key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The genesis file could not be read.
    #[error("{path}: cannot read genesis: {source}")]
    GenesisRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The genesis file is invalid.
    #[error("{path}: {source}")]
    Genesis {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: GenesisError,
    },
    /// A key file is unreadable or invalid.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The network could not start.
    #[error("network: {0}")]
    Net(#[from] NetError),
    /// The ledger could not start.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The HTTP API could not start.
    #[error("api: cannot listen on {address}: {source}")]
    Api {
        /// The address.
        address: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Reads a genesis file: JSON if the name ends in `.json`, TOML otherwise.
///
/// # Errors
///
/// [`RunError::GenesisRead`] or [`RunError::Genesis`].
pub fn read_genesis(path: &Path) -> Result<Genesis, RunError> {
    let text = std::fs::read_to_string(path).map_err(|source| RunError::GenesisRead {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed = if path
        .extension()
        .is_some_and(|extension| extension == "json")
    {
        Genesis::from_json(&text)
    } else {
        Genesis::from_toml(&text)
    };
    parsed.map_err(|source| RunError::Genesis {
        path: path.to_path_buf(),
        source,
    })
}

/// Every node peer id in the genesis (the initial network allow-list); unparsable ids are
/// reported by the ledger when it builds its peer map.
pub fn genesis_peers(genesis: &Genesis) -> BTreeSet<PeerId> {
    genesis
        .orgs
        .iter()
        .flat_map(|org| org.nodes.iter())
        .filter_map(|node| node.parse().ok())
        .collect()
}

/// Runs the node described by `config_path` until SIGINT or SIGTERM.
///
/// # Errors
///
/// Any start-up failure (see [`RunError`]); each names the file or key at fault.
pub async fn run(config_path: &Path) -> Result<(), RunError> {
    let config = Config::load(config_path)?;
    let genesis = read_genesis(&config.genesis_path)?;
    let keypair = keys::read_node_keypair(&config.node_key_path)?;
    let signing_key = keys::read_key_file(&config.signing_key_path)?;
    let signer = Signer {
        org: config.org.clone(),
        key_id: keys::key_id(&signing_key.verifying_key()),
        key: signing_key,
    };
    let controller = ShutdownController::new();
    let started = start_node(&config, genesis, keypair, Some(signer), &controller).await;
    let (ledger, _ledger_join) = match started {
        Ok(started) => started,
        Err(error) => {
            controller.shutdown().await;
            return Err(error);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.api_listen).await {
        Ok(listener) => listener,
        Err(source) => {
            controller.shutdown().await;
            return Err(RunError::Api {
                address: config.api_listen,
                source,
            });
        }
    };
    let mut api_config = crate::api::ApiConfig::new(config.api_tokens.clone());
    api_config.state_dir = Some(config.data_dir.join("api"));
    api_config.webhook_private_destinations = config.webhook_private_destinations;
    let router = crate::api::router(std::sync::Arc::new(ledger.clone()), api_config);
    let mut api_shutdown = controller.listener();
    let api = tokio::spawn(crate::api::serve(listener, router, async move {
        api_shutdown.recv().await;
    }));
    let status = ledger.status();
    tracing::info!(
        peer_id = %ledger.local_peer_id(),
        raft_id = status.raft_id,
        learner = status.learner,
        height = status.head.height,
        api = %config.api_listen,
        "node running; stop with SIGINT or SIGTERM"
    );
    wait_for_signal().await;
    tracing::info!("shutting down");
    controller.shutdown().await;
    match api.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "the HTTP API stopped with an error"),
        Err(error) => tracing::warn!(%error, "the HTTP API task failed"),
    }
    Ok(())
}

/// Starts network and ledger for `config` under `controller` (also used by tests).
///
/// # Errors
///
/// See [`RunError`].
pub async fn start_node(
    config: &Config,
    genesis: Genesis,
    keypair: libp2p::identity::Keypair,
    signer: Option<Signer>,
    controller: &ShutdownController,
) -> Result<(LedgerHandle, tokio::task::JoinHandle<()>), RunError> {
    let local_peer_id = keypair.public().to_peer_id();
    // The ledger replaces this with the applied membership as soon as it opens; until this
    // node is a member itself (it is joining) it keeps the bootstrap peers allowed too.
    let allow_list = AllowList::new(
        genesis_peers(&genesis)
            .into_iter()
            .chain(config.bootstrap.iter().map(|peer| peer.peer_id)),
    );
    let network_config = NetworkConfig::from_node_config(config, keypair, allow_list.clone());
    let (network, inbound, _network_join) = net::spawn(network_config, controller.listener())?;
    let ledger_config = LedgerConfig {
        genesis,
        data_dir: config.data_dir.clone(),
        local_peer_id,
        signer,
        tuning: LedgerTuning {
            disk_free_min_bytes: config.disk_free_min_bytes,
            compact_entries: config.compact_entries,
            ..LedgerTuning::default()
        },
    };
    let (handle, join) = ledger::start(
        ledger_config,
        network,
        inbound,
        allow_list,
        controller.listener(),
    )?;
    Ok((handle, join))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; waiting for SIGINT only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
