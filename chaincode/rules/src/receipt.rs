//! Transaction outcomes: stable numbered codes (TigerBeetle style) and receipts.
//!
//! Business outcomes are data, not errors: every transaction gets a [`Receipt`], and
//! the receipt is part of the block. The numbers are a wire contract: never renumber,
//! only append. `0` and `1` are successes, everything from `100` up is a rejection.

use crate::codec::Digest32;
use serde::{Deserialize, Serialize};

/// Why a transaction was accepted or rejected. Stable numbers; append only (new
/// variants are declared at the end, whatever their number, so the serde variant
/// indices of existing ones never change).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u32)]
pub enum Outcome {
    /// Accepted and applied.
    Applied = 0,
    /// The same event (same event hash) was already accepted; nothing changed.
    /// Not an error for the client: the event is on the ledger.
    DuplicateEvent = 1,

    // Envelope and membership: 100–199.
    /// The envelope names another network.
    WrongNetwork = 100,
    /// The signer org is not a member.
    UnknownOrg = 101,
    /// The signer org was removed.
    OrgRemoved = 102,
    /// The signer key id is not registered for the org.
    UnknownKey = 103,
    /// The signer key was revoked (or is not yet valid) at this height.
    KeyNotValid = 104,
    /// The public key in the envelope differs from the registered one.
    KeyMismatch = 105,
    /// The transaction id was already accepted (replay).
    Replay = 106,
    /// The body is malformed (bad identifier, empty list, bad date…).
    MalformedBody = 107,
    /// The body exceeds a size limit.
    LimitExceeded = 108,
    /// The EPCIS event cannot be mapped to a Pedigree operation.
    UnsupportedEvent = 109,

    // Governance: 200–299.
    /// Fewer distinct approving orgs than the quorum requires.
    QuorumNotMet = 200,
    /// An approval signature does not verify, or its org/key is not valid.
    InvalidApproval = 201,
    /// The action conflicts with current membership (already exists, in use…).
    GovernanceConflict = 202,
    /// The action names something that does not exist.
    GovernanceTargetMissing = 203,
    /// The action would leave the network unusable (e.g. removing the last org).
    GovernanceUnsafe = 204,

    // Authority: 300–399.
    /// Only the GTIN's brand owner or a CMO it delegated to may commission it.
    NotBrandOwnerOrDelegate = 300,
    /// The signer lacks the role this action requires.
    RoleRequired = 301,
    /// Only the current custodian may do this.
    NotCustodian = 302,
    /// The objects are in transit to another org.
    NotReceiver = 303,
    /// Only the brand owner or a regulator may recall or release.
    NotRecallAuthority = 304,
    /// Only the event's submitter or a regulator may declare it erroneous.
    NotEventSubmitter = 305,

    // Objects: 400–499.
    /// A serial was already commissioned for this GTIN (duplicate-serial exception).
    DuplicateSerial = 400,
    /// The object was never commissioned.
    UnknownObject = 401,
    /// The object is decommissioned.
    ObjectDecommissioned = 402,
    /// The child is already packed in a container.
    AlreadyPacked = 403,
    /// The object is not a child of the container.
    NotAChild = 404,
    /// Packing would put a container inside itself.
    AggregationCycle = 405,
    /// The object is in transit.
    ObjectInTransit = 406,
    /// The object is inside a container; act on the container or unpack it first.
    ObjectInsideContainer = 407,
    /// The object is not decommissioned, so there is nothing to revert.
    NotDecommissioned = 408,
    /// Exported, stolen and destroyed packs cannot be reverted (EU FMD Art. 13).
    RevertNotAllowed = 409,
    /// The 10-day revert window has passed (EU FMD Art. 13).
    RevertWindowExpired = 410,
    /// Only the org that decommissioned may revert, at the same premises.
    RevertByOtherOrg = 411,
    /// The lot is recalled.
    LotRecalled = 412,
    /// The object is expired (judged against the block timestamp).
    Expired = 413,
    /// Commissioning an SGTIN requires a lot number.
    MissingLot = 414,
    /// The shipping destination does not resolve to a member org.
    UnknownDestination = 415,
    /// Shipping to yourself is not a custody change.
    ShipToSelf = 416,
    /// The same object appears twice in one operation.
    RepeatedObject = 417,

    // Recall: 500–599.
    /// The lot is already recalled.
    AlreadyRecalled = 500,
    /// The lot is not recalled.
    NotRecalled = 501,

    // errorDeclaration: 600–699.
    /// The declared event is not on the ledger.
    UnknownDeclaredEvent = 600,
    /// The event was already declared erroneous.
    AlreadyDeclared = 601,
    /// A later event changed the same objects; declare that one first.
    DeclarationSuperseded = 602,

    // Added later. Declared after every older variant so that the serde variant index
    // of the older ones (what bincode stores for a receipt) does not move; the numbers
    // still follow the ranges above.
    /// The transaction's signature (or its public key) does not verify. Recorded by
    /// the node, which verifies signatures before the rule book sees a transaction.
    BadSignature = 110,
    /// Only the brand owner or a regulator may extend a lot's expiry.
    NotLotAuthority = 306,
    /// Only the brand owner, a regulator or (for one package) its custodian may mark
    /// product suspect; only the marking org, the brand owner or a regulator may
    /// resolve it, and only a regulator may clear an illegitimate determination.
    NotInvestigationAuthority = 307,
    /// A transformation input still contains other objects; unpack it first.
    ContainerNotEmpty = 418,
    /// The business-transaction link or asset association to remove does not exist.
    NotLinked = 419,
    // Suspect product investigations: 700–799.
    /// The product is already under a suspect-product investigation.
    AlreadySuspect = 700,
    /// The product is not under a suspect-product investigation.
    NotSuspect = 701,
}

impl Outcome {
    /// The stable number.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// True for [`Outcome::Applied`] and [`Outcome::DuplicateEvent`].
    pub fn is_accepted(self) -> bool {
        self.code() < 100
    }

    /// Every outcome, in numeric order (for documentation and tests).
    pub const ALL: &'static [Outcome] = &[
        Outcome::Applied,
        Outcome::DuplicateEvent,
        Outcome::WrongNetwork,
        Outcome::UnknownOrg,
        Outcome::OrgRemoved,
        Outcome::UnknownKey,
        Outcome::KeyNotValid,
        Outcome::KeyMismatch,
        Outcome::Replay,
        Outcome::MalformedBody,
        Outcome::LimitExceeded,
        Outcome::UnsupportedEvent,
        Outcome::BadSignature,
        Outcome::QuorumNotMet,
        Outcome::InvalidApproval,
        Outcome::GovernanceConflict,
        Outcome::GovernanceTargetMissing,
        Outcome::GovernanceUnsafe,
        Outcome::NotBrandOwnerOrDelegate,
        Outcome::RoleRequired,
        Outcome::NotCustodian,
        Outcome::NotReceiver,
        Outcome::NotRecallAuthority,
        Outcome::NotEventSubmitter,
        Outcome::NotLotAuthority,
        Outcome::NotInvestigationAuthority,
        Outcome::DuplicateSerial,
        Outcome::UnknownObject,
        Outcome::ObjectDecommissioned,
        Outcome::AlreadyPacked,
        Outcome::NotAChild,
        Outcome::AggregationCycle,
        Outcome::ObjectInTransit,
        Outcome::ObjectInsideContainer,
        Outcome::NotDecommissioned,
        Outcome::RevertNotAllowed,
        Outcome::RevertWindowExpired,
        Outcome::RevertByOtherOrg,
        Outcome::LotRecalled,
        Outcome::Expired,
        Outcome::MissingLot,
        Outcome::UnknownDestination,
        Outcome::ShipToSelf,
        Outcome::RepeatedObject,
        Outcome::ContainerNotEmpty,
        Outcome::NotLinked,
        Outcome::AlreadyRecalled,
        Outcome::NotRecalled,
        Outcome::UnknownDeclaredEvent,
        Outcome::AlreadyDeclared,
        Outcome::DeclarationSuperseded,
        Outcome::AlreadySuspect,
        Outcome::NotSuspect,
    ];
}

/// An exception recorded by a rejected transaction (see [`crate::apply()`]): the only
/// state a rejected transaction writes, under `exc/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exception {
    /// Serials of `gtin` commissioned again; counted under `exc/dup/{gtin}\0{lot}` where
    /// `lot` is the lot of the rejected commissioning (empty if none).
    DuplicateSerial {
        /// GTIN-14.
        gtin: String,
        /// Lot of the attempt.
        lot: String,
        /// Number of duplicate serials in the attempt.
        count: u64,
    },
}

/// A rejection carried out of the rules: the outcome, a message and any exceptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub outcome: Outcome,
    /// Human-readable detail (deterministic: built only from the inputs and state).
    pub message: String,
    /// Exceptions to record despite the rejection.
    pub exceptions: Vec<Exception>,
}

impl Rejection {
    /// A rejection without exceptions.
    pub fn new(outcome: Outcome, message: impl Into<String>) -> Rejection {
        assert!(!outcome.is_accepted());
        Rejection {
            outcome,
            message: message.into(),
            exceptions: Vec::new(),
        }
    }
}

/// Result type of the rules: `Err` is a business rejection, never an infrastructure error.
pub type RuleResult<T> = Result<T, Rejection>;

/// Shorthand for `Err(Rejection::new(..))`.
pub fn reject<T>(outcome: Outcome, message: impl Into<String>) -> RuleResult<T> {
    Err(Rejection::new(outcome, message))
}

/// The verdict on one transaction, recorded in the block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Transaction id (signing digest).
    pub tx_id: Digest32,
    /// Outcome.
    pub outcome: Outcome,
    /// Detail for humans; empty when applied.
    pub message: String,
    /// Event hash for event transactions.
    pub event_hash: Option<Digest32>,
    /// Exceptions recorded (rejected transactions only).
    pub exceptions: Vec<Exception>,
}

impl Receipt {
    /// True if the transaction is on the ledger (applied or a duplicate event).
    pub fn is_accepted(&self) -> bool {
        self.outcome.is_accepted()
    }
}
