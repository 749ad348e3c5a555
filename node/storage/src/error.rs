//! Errors of the storage crate.

/// The crate's result alias.
pub type Result<T> = std::result::Result<T, Error>;

/// Failures opening or reading a store. Writes issued by the replica report through
/// `raft::Error::Store(StorageError::Other(..))`, which poisons the replica.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// RocksDB failed.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// The stored data breaks an invariant (a key that does not decode, a gap in the log).
    #[error("corrupt log store: {0}")]
    Corrupt(String),
}

impl From<Error> for raft::Error {
    fn from(error: Error) -> Self {
        raft::Error::Store(raft::StorageError::Other(Box::new(error)))
    }
}
