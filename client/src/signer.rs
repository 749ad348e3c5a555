//! Organisation keys and transaction signing.
//!
//! Key files use the node's format (`pedigree-node init` writes the same): comment lines
//! starting with `#`, then one line with the 32-byte ed25519 seed in hex; mode `0600`.
//! The key id is the first 8 bytes of `sha256(public key)` in hex, as the node computes it.
//!
//! An [`OrgSigner`] wraps a key with its org, key id and network id and turns a
//! [`TxBody`] into a [`SignedTx`]. Nonces only make transaction ids unique (replay
//! protection is by tx id), so the signer starts from the wall clock in nanoseconds and
//! counts up: two signers for the same org never need to coordinate, and a restarted
//! process never reuses a nonce of an earlier run.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::SigningKey;
use pedigree_chaincode::{Digest32, SignedTx, TxBody, TxEnvelope};
use rand_core::{OsRng, RngCore as _};
use sha2::{Digest as _, Sha256};

use crate::error::{ClientError, Result};

/// Bytes of the key id (the first bytes of `sha256(public key)`).
pub const KEY_ID_BYTES: usize = 8;

/// Permission bits a key file may not have (group and others).
const KEY_FILE_MODE_FORBIDDEN: u32 = 0o077;

/// Generates a fresh ed25519 signing key from the operating system's RNG.
pub fn generate_key() -> SigningKey {
    let mut seed = [0_u8; 32];
    OsRng.fill_bytes(&mut seed);
    SigningKey::from_bytes(&seed)
}

/// The key id of a public key (as `pedigree-node init` prints it).
pub fn key_id(public_key: &[u8; 32]) -> String {
    let digest = Sha256::digest(public_key);
    hex::encode(&digest[..KEY_ID_BYTES])
}

/// Writes `key` to a new file with mode `0600`; refuses to overwrite.
pub fn write_key_file(path: &Path, key: &SigningKey, purpose: &str) -> Result<()> {
    let fail = |problem: String| ClientError::KeyFile {
        path: path.to_path_buf(),
        problem,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| fail(e.to_string()))?;
    let text = format!(
        "# pedigree ed25519 secret key: {purpose}\n# public key: {}\n{}\n",
        hex::encode(key.verifying_key().as_bytes()),
        hex::encode(key.to_bytes()),
    );
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(e.to_string()))
}

/// Reads a key file, refusing files readable by group or others.
pub fn read_key_file(path: &Path) -> Result<SigningKey> {
    let fail = |problem: String| ClientError::KeyFile {
        path: path.to_path_buf(),
        problem,
    };
    let metadata = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & KEY_FILE_MODE_FORBIDDEN != 0 {
        return Err(fail(format!(
            "mode {mode:o} lets group or others read the key; chmod 600 it"
        )));
    }
    if metadata.len() > 4096 {
        return Err(fail("larger than any key file".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    parse_key_text(&text).map_err(fail)
}

/// Parses the text of a key file.
fn parse_key_text(text: &str) -> std::result::Result<SigningKey, String> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    let (Some(seed_hex), None) = (lines.next(), lines.next()) else {
        return Err("expected exactly one line with the hex-encoded 32-byte seed".into());
    };
    let mut seed = [0_u8; 32];
    hex::decode_to_slice(seed_hex, &mut seed)
        .map_err(|e| format!("seed is not 64 hex digits: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Parses a network id given as 64 hex digits.
pub fn parse_digest(text: &str) -> Result<Digest32> {
    let mut digest = [0_u8; 32];
    hex::decode_to_slice(text.trim(), &mut digest)
        .map_err(|e| ClientError::Invalid(format!("{text:?} is not 64 hex digits: {e}")))?;
    Ok(digest)
}

/// Signs transactions as one organisation on one network.
#[derive(Debug)]
pub struct OrgSigner {
    org: String,
    key_id: String,
    key: SigningKey,
    network_id: Digest32,
    nonce_next: AtomicU64,
}

impl OrgSigner {
    /// A signer for `org` with `key` (key id derived from the public key).
    pub fn new(org: impl Into<String>, key: SigningKey, network_id: Digest32) -> OrgSigner {
        let key_id = key_id(key.verifying_key().as_bytes());
        OrgSigner::with_key_id(org, key_id, key, network_id)
    }

    /// A signer with an explicit key id (as registered in genesis or by governance).
    pub fn with_key_id(
        org: impl Into<String>,
        key_id: impl Into<String>,
        key: SigningKey,
        network_id: Digest32,
    ) -> OrgSigner {
        OrgSigner {
            org: org.into(),
            key_id: key_id.into(),
            key,
            network_id,
            nonce_next: AtomicU64::new(crate::clock::unix_nanos()),
        }
    }

    /// Starts nonces at `nonce` (for reproducible tests).
    pub fn starting_nonce(self, nonce: u64) -> OrgSigner {
        self.nonce_next.store(nonce, Ordering::Relaxed);
        self
    }

    /// The signing org.
    pub fn org(&self) -> &str {
        &self.org
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The network id transactions are bound to.
    pub fn network_id(&self) -> &Digest32 {
        &self.network_id
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The envelope for `body` with the next nonce (unsigned).
    pub fn envelope(&self, body: TxBody) -> TxEnvelope {
        let nonce = self.nonce_next.fetch_add(1, Ordering::Relaxed);
        TxEnvelope {
            network_id: self.network_id,
            signer_org: self.org.clone(),
            key_id: self.key_id.clone(),
            public_key: self.public_key(),
            nonce,
            body,
        }
    }

    /// Signs `body` with the next nonce.
    pub fn sign(&self, body: TxBody) -> SignedTx {
        self.envelope(body).sign(&self.key)
    }

    /// Signs one EPCIS event.
    pub fn sign_event(&self, event: pedigree_epcis::model::EpcisEvent) -> SignedTx {
        self.sign(TxBody::Epcis(Box::new(event)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("org.key");
        let key = generate_key();
        write_key_file(&path, &key, "test").unwrap();
        assert_eq!(read_key_file(&path).unwrap().to_bytes(), key.to_bytes());
        assert!(
            write_key_file(&path, &key, "test").is_err(),
            "must not overwrite"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = read_key_file(&path).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
    }

    #[test]
    fn key_id_matches_node_definition() {
        // sha256 of 32 zero bytes starts 66687aadf862bd77.
        assert_eq!(key_id(&[0; 32]), "66687aadf862bd77");
    }

    #[test]
    fn signed_transactions_verify_and_nonces_increase() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signer = OrgSigner::new("mfg", key, [9; 32]).starting_nonce(41);
        let body = TxBody::Release {
            gtin: "00614141073467".into(),
            lot: "L1".into(),
        };
        let first = signer.sign(body.clone());
        let second = signer.sign(body);
        assert_eq!(first.envelope.nonce, 41);
        assert_eq!(second.envelope.nonce, 42);
        assert_ne!(first.tx_id(), second.tx_id());
        assert_eq!(first.envelope.signer_org, "mfg");
        assert_eq!(first.envelope.network_id, [9; 32]);
        let verified = first.clone().verify().unwrap();
        assert_eq!(verified.tx_id(), &first.tx_id());
        let mut tampered = second;
        tampered.envelope.nonce += 1;
        assert!(tampered.verify().is_err());
    }

    #[test]
    fn bad_key_text_is_named() {
        assert!(parse_key_text("# only comments\n").is_err());
        assert!(parse_key_text("zz\n").unwrap_err().contains("hex"));
    }
}
