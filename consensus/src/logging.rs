//! Bridges raft-rs's `slog` records into `tracing` events (target `raft`).

use std::fmt::{self, Write as _};

/// A `slog::Drain` that forwards every record to the `tracing` macro of the same level.
///
/// Key-value pairs are appended to the message as ` key=value`. Records below the level that
/// `tracing` currently enables are discarded before formatting, so the bridge costs little when
/// raft-rs debug logging is off.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingDrain;

/// Collects slog key-value pairs into a string.
struct KeyValues(String);

impl slog::Serializer for KeyValues {
    fn emit_arguments(&mut self, key: slog::Key, value: &fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}

fn enabled(level: slog::Level) -> bool {
    match level {
        slog::Level::Critical | slog::Level::Error => {
            tracing::enabled!(target: "raft", tracing::Level::ERROR)
        }
        slog::Level::Warning => tracing::enabled!(target: "raft", tracing::Level::WARN),
        slog::Level::Info => tracing::enabled!(target: "raft", tracing::Level::INFO),
        slog::Level::Debug => tracing::enabled!(target: "raft", tracing::Level::DEBUG),
        slog::Level::Trace => tracing::enabled!(target: "raft", tracing::Level::TRACE),
    }
}

impl slog::Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        values: &slog::OwnedKVList,
    ) -> Result<(), slog::Never> {
        if !enabled(record.level()) {
            return Ok(());
        }
        let mut key_values = KeyValues(String::new());
        let _ = slog::KV::serialize(&record.kv(), record, &mut key_values);
        let _ = slog::KV::serialize(values, record, &mut key_values);
        let message = record.msg();
        let key_values = key_values.0;
        match record.level() {
            slog::Level::Critical | slog::Level::Error => {
                tracing::error!(target: "raft", "{message}{key_values}")
            }
            slog::Level::Warning => tracing::warn!(target: "raft", "{message}{key_values}"),
            slog::Level::Info => tracing::info!(target: "raft", "{message}{key_values}"),
            slog::Level::Debug => tracing::debug!(target: "raft", "{message}{key_values}"),
            slog::Level::Trace => tracing::trace!(target: "raft", "{message}{key_values}"),
        }
        Ok(())
    }
}

/// A slog logger for raft-rs that writes through `tracing`, tagged with the replica id.
pub fn raft_logger(replica_id: u64) -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!("replica_id" => replica_id))
}
