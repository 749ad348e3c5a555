//! Key files: the node's libp2p ed25519 identity and the organisation's ed25519 transaction-signing key.
//!
//! # File format
//!
//! Both key files share one text format, so either can be inspected with `cat` by its owner:
//!
//! ```text
//! # pedigree ed25519 secret key: <purpose>
//! # public key: <64 hex digits>
//! <64 hex digits: the 32-byte ed25519 secret seed>
//! ```
//!
//! Lines starting with `#` and blank lines are ignored; exactly one line of 64 hex digits must remain.
//! The public key in the comment is informational; on load the public key is always derived from the seed.
//!
//! # Permissions
//!
//! Files are created with mode `0600` and never overwritten ([`KeyError::AlreadyExists`]).
//! A key file that group or others can read or write is refused on load ([`KeyError::InsecurePermissions`]),
//! the same rule OpenSSH applies to private keys.
//!
//! # Key id
//!
//! A signing key's id is the first 8 bytes of `sha256(public key bytes)`, written as 16 lowercase hex digits
//! ([`key_id`]). It is short enough to print and long enough that two organisations never collide by accident.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// Mode bits of a newly created key file: owner read and write only.
pub const KEY_FILE_MODE: u32 = 0o600;

/// Mode bits that must be clear on a key file: any access by group or others.
const KEY_FILE_MODE_FORBIDDEN: u32 = 0o077;

/// Length of an ed25519 secret seed, in bytes.
pub const SEED_BYTES: usize = 32;

/// Length of a key id, in bytes (printed as twice as many hex digits).
pub const KEY_ID_BYTES: usize = 8;

/// The longest key file accepted, in bytes; a seed plus comments fits easily.
const KEY_FILE_BYTES_MAX: u64 = 4096;

/// Errors from creating or loading key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Refused to replace an existing key file.
    #[error(
        "key file {path} already exists; refusing to overwrite it (move it away first if you really mean to replace the key)"
    )]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The key file is accessible by group or others.
    #[error(
        "key file {path} has mode {mode:04o}; it must not be accessible by group or others (fix with: chmod 600 {path})"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file's content is not a key in the expected format.
    #[error("key file {path}: {problem}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// An I/O error.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = KeyError> = std::result::Result<T, E>;

/// Which key a file holds; written into the file's header comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// The node's libp2p identity; its public key is the node's peer id.
    NodeIdentity,
    /// The organisation's transaction-signing key.
    OrgSigning,
}

impl fmt::Display for KeyPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyPurpose::NodeIdentity => "libp2p node identity",
            KeyPurpose::OrgSigning => "organisation transaction-signing key",
        })
    }
}

/// Generates a fresh ed25519 key from the operating system's random number generator.
pub fn generate_signing_key() -> SigningKey {
    let mut seed = [0_u8; SEED_BYTES];
    OsRng.fill_bytes(&mut seed);
    SigningKey::from_bytes(&seed)
}

/// Returns the key id of a public key: the first [`KEY_ID_BYTES`] bytes of its SHA-256, in lowercase hex.
pub fn key_id(public_key: &VerifyingKey) -> String {
    let digest = Sha256::digest(public_key.as_bytes());
    hex::encode(&digest[..KEY_ID_BYTES])
}

/// Converts an ed25519 key into a libp2p identity keypair (the same secret, libp2p's types).
pub fn libp2p_keypair(key: &SigningKey) -> Keypair {
    let mut seed = key.to_bytes();
    // A 32-byte array is always a valid ed25519 seed, so this cannot fail.
    Keypair::ed25519_from_bytes(&mut seed).expect("a 32-byte seed is a valid ed25519 secret key")
}

/// Returns the libp2p peer id that corresponds to an ed25519 identity key.
pub fn peer_id(key: &SigningKey) -> PeerId {
    libp2p_keypair(key).public().to_peer_id()
}

/// Writes `key` to a new file at `path` with mode `0600`.
///
/// # Errors
/// [`KeyError::AlreadyExists`] if the file exists (it is left untouched); [`KeyError::Io`] otherwise.
pub fn write_key_file(path: &Path, key: &SigningKey, purpose: KeyPurpose) -> Result<()> {
    let io_error = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    // `create_new` makes existence check and creation one atomic step, so a racing writer cannot be overwritten.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(KEY_FILE_MODE)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::AlreadyExists {
                path: path.to_owned(),
            },
            _ => io_error(source),
        })?;
    let text = format!(
        "# pedigree ed25519 secret key: {purpose}\n# public key: {}\n{}\n",
        hex::encode(key.verifying_key().as_bytes()),
        hex::encode(key.to_bytes()),
    );
    file.write_all(text.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    // The umask can only remove bits, but assert the invariant the loader relies on.
    let mode = file.metadata().map_err(io_error)?.permissions().mode();
    assert_eq!(
        mode & KEY_FILE_MODE_FORBIDDEN,
        0,
        "new key file {} has mode {mode:o}",
        path.display()
    );
    Ok(())
}

/// Reads an ed25519 key from `path`, refusing files that group or others can access.
///
/// # Errors
/// [`KeyError::InsecurePermissions`], [`KeyError::Malformed`] or [`KeyError::Io`].
pub fn read_key_file(path: &Path) -> Result<SigningKey> {
    let io_error = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & KEY_FILE_MODE_FORBIDDEN != 0 {
        return Err(KeyError::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    if metadata.len() > KEY_FILE_BYTES_MAX {
        return Err(malformed(
            path,
            format!("file is {} bytes, larger than any key file", metadata.len()),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(io_error)?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    let (Some(seed_hex), None) = (lines.next(), lines.next()) else {
        return Err(malformed(
            path,
            "expected exactly one line with the hex-encoded 32-byte seed".into(),
        ));
    };
    let mut seed = [0_u8; SEED_BYTES];
    hex::decode_to_slice(seed_hex, &mut seed)
        .map_err(|error| malformed(path, format!("seed is not 64 hex digits: {error}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads the node identity key file and returns it as a libp2p keypair.
///
/// # Errors
/// As [`read_key_file`].
pub fn read_node_keypair(path: &Path) -> Result<Keypair> {
    Ok(libp2p_keypair(&read_key_file(path)?))
}

fn malformed(path: &Path, problem: String) -> KeyError {
    KeyError::Malformed {
        path: path.to_owned(),
        problem,
    }
}

/// The public parts of a node's keys, as the genesis document needs them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublicParts {
    /// The organisation id.
    pub org: String,
    /// The node's libp2p peer id (base58).
    pub peer_id: String,
    /// The organisation's signing public key, 64 lowercase hex digits.
    pub signing_public_key: String,
    /// The signing key's id, see [`key_id`].
    pub signing_key_id: String,
}

impl PublicParts {
    /// Collects the public parts of a node identity key and an organisation signing key.
    pub fn new(org: &str, node_key: &SigningKey, signing_key: &SigningKey) -> PublicParts {
        let verifying_key = signing_key.verifying_key();
        PublicParts {
            org: org.to_owned(),
            peer_id: peer_id(node_key).to_string(),
            signing_public_key: hex::encode(verifying_key.as_bytes()),
            signing_key_id: key_id(&verifying_key),
        }
    }
}

impl fmt::Display for PublicParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "organisation:        {}", self.org)?;
        writeln!(f, "peer id:             {}", self.peer_id)?;
        writeln!(f, "signing public key:  {}", self.signing_public_key)?;
        write!(f, "signing key id:      {}", self.signing_key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_preserves_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let key = generate_signing_key();
        write_key_file(&path, &key, KeyPurpose::NodeIdentity).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, KEY_FILE_MODE);
        let loaded = read_key_file(&path).unwrap();
        assert_eq!(loaded.to_bytes(), key.to_bytes());
        assert_eq!(peer_id(&loaded), peer_id(&key));
        let keypair = read_node_keypair(&path).unwrap();
        assert_eq!(keypair.public().to_peer_id(), peer_id(&key));
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        let first = generate_signing_key();
        write_key_file(&path, &first, KeyPurpose::OrgSigning).unwrap();
        let error =
            write_key_file(&path, &generate_signing_key(), KeyPurpose::OrgSigning).unwrap_err();
        assert!(matches!(error, KeyError::AlreadyExists { .. }), "{error}");
        assert!(error.to_string().contains("refusing to overwrite"));
        assert_eq!(read_key_file(&path).unwrap().to_bytes(), first.to_bytes());
    }

    #[test]
    fn refuses_group_or_world_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        write_key_file(&path, &generate_signing_key(), KeyPurpose::NodeIdentity).unwrap();
        for mode in [0o640, 0o604, 0o660, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let error = read_key_file(&path).unwrap_err();
            assert!(
                matches!(error, KeyError::InsecurePermissions { mode: m, .. } if m == mode),
                "{error}"
            );
            let message = error.to_string();
            assert!(
                message.contains(&format!("has mode {mode:04o}")),
                "{message}"
            );
            assert!(message.contains("chmod 600"), "{message}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        read_key_file(&path).expect("owner-read-only is fine");
    }

    #[test]
    fn rejects_malformed_content() {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in [
            ("empty", "# only a comment\n"),
            ("short", "abcd\n"),
            ("not-hex", &"zz".repeat(32)),
            (
                "two-lines",
                &format!("{}\n{}\n", "00".repeat(32), "11".repeat(32)),
            ),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let error = read_key_file(&path).unwrap_err();
            assert!(
                matches!(error, KeyError::Malformed { .. }),
                "{name}: {error}"
            );
        }
    }

    #[test]
    fn missing_file_is_an_io_error_naming_the_path() {
        let error = read_key_file(Path::new("/nonexistent/pedigree.key")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("key file /nonexistent/pedigree.key: "),
            "{error}"
        );
    }

    #[test]
    fn key_id_is_first_eight_bytes_of_sha256() {
        // RFC 8032 test vector 1: the public key of the all-zero-prefixed seed 9d61b1...
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let key = SigningKey::from_bytes(&seed);
        assert_eq!(
            hex::encode(key.verifying_key().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let expected = hex::encode(&Sha256::digest(key.verifying_key().as_bytes())[..8]);
        assert_eq!(key_id(&key.verifying_key()), expected);
        assert_eq!(key_id(&key.verifying_key()).len(), 16);
    }

    #[test]
    fn public_parts_match_keys() {
        let node_key = generate_signing_key();
        let signing_key = generate_signing_key();
        let parts = PublicParts::new("acme", &node_key, &signing_key);
        assert_eq!(parts.peer_id, peer_id(&node_key).to_string());
        assert!(
            parts.peer_id.starts_with("12D3KooW"),
            "ed25519 peer ids are identity-multihash encoded"
        );
        assert_eq!(parts.signing_public_key.len(), 64);
        assert!(parts.to_string().contains(&parts.signing_key_id));
    }
}
