//! Transactions: the signed envelope, its bodies, and [`VerifiedTx`], which can only
//! be obtained by checking the signature (parse, don't validate).
//!
//! # Signing
//! `tx_id = sha256("pedigree/tx/v1\0" || bincode(envelope))` with the fixed
//! configuration of [`crate::codec`]; the ed25519 signature (RFC 8032, checked with
//! `verify_strict`) is over the 32 bytes of `tx_id`. The envelope carries the network
//! id, so a transaction cannot be replayed on another network, and a nonce, so two
//! otherwise identical transactions have different ids.

use std::collections::BTreeMap;

use crate::codec::{self, DOMAIN_TX, Digest32};
use crate::governance::GovernanceTx;
use crate::ident::Date;
use crate::ops::OpsEvent;
use crate::records::{OrgId, SuspectResolution, SuspectTarget};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use pedigree_epcis::model::EpcisEvent;
use serde::{Deserialize, Serialize};

/// What a transaction asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxBody {
    /// One EPCIS 2.0 event (the normal case), mapped to operations by [`crate::epcis`].
    Epcis(Box<EpcisEvent>),
    /// An event already expressed as normalised operations.
    Ops(OpsEvent),
    /// A membership change approved by a quorum of orgs.
    Governance(GovernanceTx),
    /// Recall a lot.
    Recall {
        /// GTIN-14.
        gtin: String,
        /// Lot.
        lot: String,
        /// Free-text reason.
        reason: String,
    },
    /// Release a recalled lot.
    Release {
        /// GTIN-14.
        gtin: String,
        /// Lot.
        lot: String,
    },
    /// Open a suspect-product investigation (DSCSA) on one package or a whole lot.
    SuspectMark {
        /// What is suspect.
        target: SuspectTarget,
        /// Free-text reason (at most 1024 bytes).
        reason: String,
    },
    /// Close a suspect-product investigation: cleared, or determined illegitimate.
    SuspectResolve {
        /// What was suspect.
        target: SuspectTarget,
        /// The finding.
        resolution: SuspectResolution,
        /// Free-text note (at most 1024 bytes).
        note: String,
    },
    /// Extend the expiry of a lot (brand owner or regulator), e.g. an approved
    /// shelf-life extension; verification then answers `ExpirationExtended`.
    ExtendExpiry {
        /// GTIN-14.
        gtin: String,
        /// Lot.
        lot: String,
        /// The new expiry, `yyyymmdd`.
        expiry: Date,
    },
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxEnvelope {
    /// Network id (genesis hash).
    pub network_id: Digest32,
    /// Signing org.
    pub signer_org: OrgId,
    /// Signing key id within the org.
    pub key_id: String,
    /// The signing public key (checked against the registry when applied).
    pub public_key: [u8; 32],
    /// Client-chosen nonce; makes the id unique.
    pub nonce: u64,
    /// The request.
    pub body: TxBody,
}

impl TxEnvelope {
    /// `sha256("pedigree/tx/v1\0" || bincode(self))`: the transaction id and signed message.
    pub fn signing_digest(&self) -> Digest32 {
        codec::hash_parts(DOMAIN_TX, &[&codec::encode(self)])
    }

    /// Signs the envelope. `public_key` must be `key`'s public key.
    pub fn sign(self, key: &SigningKey) -> SignedTx {
        assert_eq!(
            self.public_key,
            key.verifying_key().to_bytes(),
            "envelope key differs from signer"
        );
        let digest = self.signing_digest();
        let signature = key.sign(&digest);
        SignedTx {
            envelope: self,
            signature,
        }
    }
}

/// A transaction as transmitted: envelope plus signature. Not yet trusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTx {
    /// The signed envelope.
    pub envelope: TxEnvelope,
    /// Ed25519 signature over the signing digest.
    pub signature: Signature,
}

/// Why a signature did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The public key bytes are not a valid curve point.
    #[error("public key is not a valid ed25519 point")]
    BadPublicKey,
    /// The public key has small order (would verify forged signatures).
    #[error("public key is weak (small order)")]
    WeakPublicKey,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// Parses and checks a public key: valid point, not of small order.
pub fn verifying_key(bytes: &[u8; 32]) -> Result<VerifyingKey, VerifyError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| VerifyError::BadPublicKey)?;
    if key.is_weak() {
        return Err(VerifyError::WeakPublicKey);
    }
    Ok(key)
}

impl SignedTx {
    /// The transaction id.
    pub fn tx_id(&self) -> Digest32 {
        self.envelope.signing_digest()
    }

    /// Checks the signature and returns the trusted form.
    pub fn verify(self) -> Result<VerifiedTx, VerifyError> {
        let tx_id = self.tx_id();
        let key = verifying_key(&self.envelope.public_key)?;
        key.verify_strict(&tx_id, &self.signature)
            .map_err(|_| VerifyError::BadSignature)?;
        Ok(VerifiedTx {
            signed: self,
            tx_id,
        })
    }

    /// Canonical bytes of the signed transaction (for transport and storage).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Parses canonical bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<SignedTx> {
        codec::decode(bytes)
    }
}

/// Verifies many transactions. Uses ed25519 batch verification as a fast path
/// (ed25519-dalek 2 derives its batch coefficients from a transcript of the inputs, so
/// it uses no randomness); if the batch fails, falls back to one-by-one
/// [`SignedTx::verify`] to find the culprits.
///
/// Caveat: batch verification uses the cofactored equation, strict verification the
/// cofactorless one; they can disagree only on adversarially crafted signatures with
/// small-order components. Keys of small order are rejected up front; replicas that need
/// bit-exact agreement should verify at admission (before consensus) and carry the
/// verdict with the block, or use [`SignedTx::verify`] only.
pub fn verify_batch(txs: Vec<SignedTx>) -> Vec<Result<VerifiedTx, VerifyError>> {
    let digests: Vec<Digest32> = txs.iter().map(SignedTx::tx_id).collect();
    // A block's transactions are signed by a handful of org keys: each distinct key is
    // decompressed (a field square root) and checked once, not once per transaction.
    let mut parsed: BTreeMap<[u8; 32], Result<VerifyingKey, VerifyError>> = BTreeMap::new();
    let keys: Result<Vec<VerifyingKey>, VerifyError> = txs
        .iter()
        .map(|tx| {
            *parsed
                .entry(tx.envelope.public_key)
                .or_insert_with(|| verifying_key(&tx.envelope.public_key))
        })
        .collect();
    if let Ok(keys) = keys {
        let messages: Vec<&[u8]> = digests.iter().map(|d| &d[..]).collect();
        let signatures: Vec<Signature> = txs.iter().map(|tx| tx.signature).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            return txs
                .into_iter()
                .zip(digests)
                .map(|(signed, tx_id)| Ok(VerifiedTx { signed, tx_id }))
                .collect();
        }
    }
    txs.into_iter().map(SignedTx::verify).collect()
}

/// A transaction whose signature has been checked. Only [`SignedTx::verify`] and
/// [`verify_batch`] construct it. Authorization (is the key registered and valid for
/// the org at this height?) is checked by [`crate::apply()`], because it depends on state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTx {
    signed: SignedTx,
    tx_id: Digest32,
}

impl VerifiedTx {
    /// The transaction id.
    pub fn tx_id(&self) -> &Digest32 {
        &self.tx_id
    }

    /// The envelope.
    pub fn envelope(&self) -> &TxEnvelope {
        &self.signed.envelope
    }

    /// The signed transaction.
    pub fn signed(&self) -> &SignedTx {
        &self.signed
    }

    /// Gives back the signed transaction.
    pub fn into_signed(self) -> SignedTx {
        self.signed
    }
}
