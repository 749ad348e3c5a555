//! The one canonical binary encoding and the domain-separated hashes built on it.
//!
//! Everything Pedigree signs or hashes is encoded with **bincode =2.0.1 through its
//! serde layer** and the configuration returned by [`config`]:
//! `bincode::config::standard().with_little_endian().with_variable_int_encoding()`.
//! That means integers (and the lengths of strings, byte vectors and sequences, and
//! enum variant indices) use bincode's varint: values below 251 are one byte, larger
//! ones a marker byte (251/252/253 for u16/u32/u64) followed by the little-endian
//! value; `Option` is one tag byte (0 = None, 1 = Some); fixed arrays (`[u8; 32]`,
//! signatures) are written raw. Varint keeps records small, which matters because
//! every stored byte is also hashed into the state hash.
//! The golden vector in `tests/encoding.rs` pins the exact bytes; a change there is a
//! network-breaking change.
//!
//! The records written per unit (object records, history entries, undo records) and
//! the bulk operations hashed into event hashes are encoded by a hand-written
//! encoder in `fastcodec` for speed; it writes exactly these bytes (its unit tests
//! and the property test compare it with this module), and its object-record decoder
//! falls back to [`decode`] on anything it does not expect.
//!
//! JSON is never signed or hashed: JSON text has no canonical form.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Upper bound on any decoded value, so a corrupt record cannot allocate without limit.
pub const DECODE_BYTES_MAX: usize = 16 << 20;

/// Domain tag for transaction signing digests.
pub const DOMAIN_TX: &[u8] = b"pedigree/tx/v1\0";
/// Domain tag for governance approval digests.
pub const DOMAIN_APPROVAL: &[u8] = b"pedigree/governance-approval/v1\0";
/// Domain tag for the genesis hash (network id).
pub const DOMAIN_GENESIS: &[u8] = b"pedigree/genesis/v1\0";
/// Domain tag for the running state hash.
pub const DOMAIN_STATE: &[u8] = b"pedigree/state/v1\0";
/// Domain tag for the fallback event hash (see [`crate::epcis::event_hash`]).
pub const DOMAIN_EVENT: &[u8] = b"pedigree/event/v1\0";

/// A SHA-256 digest.
pub type Digest32 = [u8; 32];

/// The fixed bincode configuration (see the module docs).
pub fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::NoLimit,
> {
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
}

/// Encodes a value canonically.
///
/// # Panics
/// Panics if the value cannot be encoded. Every type this crate encodes is plain
/// data (no maps with non-serialisable keys, no `deserialize_any`), so a failure is
/// a programming error, not an input error.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Records are mostly 50–300 bytes: one allocation of this size replaces the
    // four or five regrowths of an empty vector (the bytes are the same).
    let mut out = VecOut(Vec::with_capacity(ENCODE_CAPACITY));
    match bincode::serde::encode_into_writer(value, &mut out, config()) {
        Ok(()) => out.0,
        Err(error) => panic!("canonical encoding failed: {error}"),
    }
}

/// Initial capacity of an encoding buffer.
const ENCODE_CAPACITY: usize = 256;

/// A growable bincode writer (bincode's own `VecWriter` is not public).
struct VecOut(Vec<u8>);

impl bincode::enc::write::Writer for VecOut {
    #[inline(always)]
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Decodes a canonically encoded value; `None` if the bytes are malformed or have
/// trailing garbage.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let limited = config().with_limit::<DECODE_BYTES_MAX>();
    match bincode::serde::decode_from_slice::<T, _>(bytes, limited) {
        Ok((value, read)) if read == bytes.len() => Some(value),
        _ => None,
    }
}

/// SHA-256 over `domain || parts…`.
pub fn hash_parts(domain: &[u8], parts: &[&[u8]]) -> Digest32 {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Lower-case hex of a digest (for messages and display only).
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}
