//! Tracing set-up for the binary: a `fmt` subscriber on stderr filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is unset: our crates at `info`, libp2p quieter.
pub const LOG_FILTER_DEFAULT: &str = "info,libp2p=warn,libp2p_swarm=warn";

/// Errors from installing the subscriber.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `RUST_LOG` is set but is not a valid filter.
    #[error("RUST_LOG = {value:?}: invalid filter: {message}")]
    Filter {
        /// The variable's value.
        value: String,
        /// The parser's message.
        message: String,
    },
    /// A global subscriber was installed already.
    #[error("tracing subscriber already installed: {0}")]
    AlreadyInstalled(String),
}

/// The result type of this module.
pub type Result<T, E = TelemetryError> = std::result::Result<T, E>;

/// Builds the filter from `RUST_LOG` if set, otherwise from `default_filter`.
///
/// # Errors
/// [`TelemetryError::Filter`] if `RUST_LOG` does not parse; a typo must not silently log nothing.
pub fn env_filter(default_filter: &str) -> Result<EnvFilter> {
    match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(value) if !value.trim().is_empty() => {
            EnvFilter::try_new(&value).map_err(|error| TelemetryError::Filter {
                value,
                message: error.to_string(),
            })
        }
        _ => EnvFilter::try_new(default_filter).map_err(|error| TelemetryError::Filter {
            value: default_filter.to_owned(),
            message: error.to_string(),
        }),
    }
}

/// Installs the global subscriber: human-readable lines on stderr (stdout is kept for command output).
///
/// # Errors
/// See [`env_filter`]; [`TelemetryError::AlreadyInstalled`] if called twice.
pub fn init_tracing(default_filter: &str) -> Result<()> {
    let filter = env_filter(default_filter)?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|error| TelemetryError::AlreadyInstalled(error.to_string()))
}
