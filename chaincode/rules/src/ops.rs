//! Pedigree's normalised traceability operations.
//!
//! The rules never look at EPCIS syntax: an EPCIS event is first mapped to a list of
//! [`Op`]s (see [`crate::epcis`]), and the state machine in [`crate::rules`] applies
//! those. Objects are already canonical [`ObjectKey`]s and parties are GLN-13 digits or
//! org ids.

use crate::ident::{Date, ObjectKey};
use crate::records::{DecommissionKind, OrgId};

/// Most business transactions one event may reference.
pub const BIZ_TRANSACTIONS_MAX: u64 = 64;
/// Longest business transaction id, type or asset identifier, in bytes.
pub const REFERENCE_LENGTH_MAX: usize = 256;
use serde::{Deserialize, Serialize};

/// Most objects one operation may list.
pub const OBJECTS_PER_OP_MAX: u64 = 10_000;
/// Most operations one event may map to.
pub const OPS_PER_EVENT_MAX: u64 = 64;
/// Deepest aggregation (unit → bundle → case → pallet … ) the rules accept.
pub const AGGREGATION_DEPTH_MAX: u64 = 16;
/// Most objects one operation may affect, containers' contents included.
pub const AFFECTED_OBJECTS_MAX: u64 = 1_000_000;

/// A trading party as named by a shipping event.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Party {
    /// An org id directly.
    Org(OrgId),
    /// A GLN-13 (party or location) registered to an org.
    Gln(String),
}

/// One normalised operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Commission new serialised objects (SGTIN units or cases, SSCC logistic units).
    Commission {
        /// Objects to create.
        objects: Vec<ObjectKey>,
        /// Lot (ILMD `cbvmda:lotNumber`); required for SGTINs.
        lot: Option<String>,
        /// Expiry (ILMD `cbvmda:itemExpirationDate`).
        expiry: Option<Date>,
    },
    /// Pack children into a parent container.
    Pack {
        /// Container.
        parent: ObjectKey,
        /// Children to add.
        children: Vec<ObjectKey>,
    },
    /// Remove children from a parent container (all children when empty).
    Unpack {
        /// Container.
        parent: ObjectKey,
        /// Children to remove; empty means all.
        children: Vec<ObjectKey>,
    },
    /// Ship objects (and their contents) to another party.
    Ship {
        /// Top-level objects.
        objects: Vec<ObjectKey>,
        /// Receiver (destination possessing or owning party).
        destination: Party,
    },
    /// Receive objects (and their contents) that were shipped to the signer.
    Receive {
        /// Top-level objects presented.
        objects: Vec<ObjectKey>,
    },
    /// Decommission objects (and their contents).
    Decommission {
        /// Objects.
        objects: Vec<ObjectKey>,
        /// Why.
        kind: DecommissionKind,
        /// Premises (GLN-13), if known.
        location: Option<String>,
    },
    /// Revert a decommissioning (EU FMD Art. 13 "undo").
    Reinstate {
        /// Objects.
        objects: Vec<ObjectKey>,
        /// Premises (GLN-13), if known; must match the decommissioning's.
        location: Option<String>,
    },
    /// Objects were seen; nothing changes but their history.
    Observe {
        /// Objects.
        objects: Vec<ObjectKey>,
    },
    /// Consume inputs and commission outputs (EPCIS TransformationEvent: repackaging,
    /// kitting, relabelling). Inputs must be held active by the signer, unpacked and
    /// empty; they end decommissioned as [`DecommissionKind::Transformed`]. Outputs
    /// follow every commissioning rule.
    Transform {
        /// Objects consumed.
        inputs: Vec<ObjectKey>,
        /// Objects created.
        outputs: Vec<ObjectKey>,
        /// Lot of the outputs (ILMD `cbvmda:lotNumber`); required for SGTINs.
        lot: Option<String>,
        /// Expiry of the outputs (ILMD `cbvmda:itemExpirationDate`).
        expiry: Option<Date>,
    },
    /// Link objects to business transactions (EPCIS TransactionEvent), by their
    /// custodian or the org they are in transit to. Custody does not change.
    LinkTransactions {
        /// Objects (a TransactionEvent's parentID and epcList); may be empty only for
        /// [`LinkAction::Delete`], which then removes every link the signer made to
        /// the listed transactions.
        objects: Vec<ObjectKey>,
        /// Business transactions.
        transactions: Vec<BizTransaction>,
        /// Add, remove or observe the links.
        action: LinkAction,
    },
    /// Associate objects with an asset, such as a temperature logger or a returnable
    /// container (EPCIS AssociationEvent), by their custodian or the org they are in
    /// transit to. Custody does not change.
    Associate {
        /// The asset (canonical identifier, see [`crate::epcis`]).
        asset: String,
        /// Objects; may be empty only for [`LinkAction::Delete`] (every association
        /// the signer made to the asset).
        objects: Vec<ObjectKey>,
        /// Add, remove or observe the association.
        action: LinkAction,
    },
}

/// What a TransactionEvent or AssociationEvent does to its links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkAction {
    /// Create the links (EPCIS ADD).
    Add,
    /// Remove the links (EPCIS DELETE).
    Delete,
    /// Confirm them; only history changes (EPCIS OBSERVE).
    Observe,
}

/// A business transaction reference (EPCIS `bizTransaction`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BizTransaction {
    /// Type: the CBV bare word (`po`, `desadv`, `inv`, …), a custom URI, or empty.
    pub biz_type: String,
    /// The transaction identifier URI (e.g. `urn:epcglobal:cbv:bt:0614141000005:PO-42`).
    pub id: String,
}

/// An errorDeclaration (EPCIS 2.0 §7.4.1.2) attached to an event body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDeclarationBody {
    /// CBV error reason, as given.
    pub reason: Option<String>,
    /// Corrective event ids, as given.
    pub corrective_event_ids: Vec<String>,
}

/// An event expressed directly as operations (used by tests, benchmarks and tools;
/// the node's API submits [`crate::TxBody::Epcis`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpsEvent {
    /// When the event happened (Unix ms, client-supplied, like EPCIS `eventTime`);
    /// part of the event hash, so the same operations at another time are another event.
    pub event_time_ms: u64,
    /// Operations, applied in order, all or nothing.
    pub ops: Vec<Op>,
    /// When set, this body declares the event with the same hash erroneous.
    pub error_declaration: Option<ErrorDeclarationBody>,
}
