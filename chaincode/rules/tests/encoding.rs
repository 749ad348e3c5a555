//! Golden vectors for the canonical encoding and signing, and the genesis format.
//! A change to any constant here is a network-breaking change.

mod common;

use common::signing_key;
use pedigree_chaincode::codec;
use pedigree_chaincode::*;

fn golden_envelope() -> TxEnvelope {
    TxEnvelope {
        network_id: [1; 32],
        signer_org: "mfg".into(),
        key_id: "k1".into(),
        public_key: signing_key(1).verifying_key().to_bytes(),
        nonce: 7,
        body: TxBody::Release {
            gtin: "10614141073464".into(),
            lot: "L1".into(),
        },
    }
}

const GOLDEN_ENVELOPE_HEX: &str = "0101010101010101010101010101010101010101010101010101010101010101036d6667026b318a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c07040e3130363134313431303733343634024c31";
const GOLDEN_TX_ID_HEX: &str = "3d5a177f23a331da64fe996bb988dfe51c6d4e2c999b1718b6f0c5dbb4f062aa";
const GOLDEN_SIGNATURE_HEX: &str = "7b624580b98b9e8b97681aef8fe1cb861c64b49a07e0b176d8dfa24ec849df9915c6ca197b3abca56647d32afc06e408f5c094352af09a8255990499c3fe810f";

#[test]
fn envelope_encoding_is_pinned() {
    let envelope = golden_envelope();
    let bytes = codec::encode(&envelope);
    let signed = envelope.sign(&signing_key(1));
    assert_eq!(hex::encode(&bytes), GOLDEN_ENVELOPE_HEX);
    assert_eq!(hex::encode(signed.tx_id()), GOLDEN_TX_ID_HEX);
    assert_eq!(
        hex::encode(signed.signature.to_bytes()),
        GOLDEN_SIGNATURE_HEX
    );
    // Layout spot checks: raw arrays, varint length prefixes.
    assert_eq!(&bytes[..32], &[1u8; 32]);
    assert_eq!(bytes[32], 3);
    assert_eq!(&bytes[33..36], b"mfg");
}

#[test]
fn signed_transaction_round_trips() {
    let signed = golden_envelope().sign(&signing_key(1));
    let bytes = signed.to_bytes();
    let decoded = SignedTx::from_bytes(&bytes).unwrap();
    assert_eq!(decoded, signed);
    assert!(decoded.verify().is_ok());
    let mut truncated = bytes.clone();
    truncated.pop();
    assert!(SignedTx::from_bytes(&truncated).is_none());
}

const GENESIS_TOML: &str = r#"
network_name = "pedigree-devnet"
genesis_time_ms = 1700000000000

[governance]
quorum_numerator = 1
quorum_denominator = 2

[[orgs]]
id = "gs1-pharma"
name = "GS1 Pharma LLC"
roles = ["manufacturer"]
company_prefixes = ["030001"]
nodes = ["12D3KooWExamplePeerId"]
keys = [{ id = "k1", public_key = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c" }]
glns = [{ gln = "0300011111116", name = "GS1 Pharma HQ" }]

[[orgs]]
id = "wholesaler"
name = "GS1 Drug Distributor"
roles = ["distributor", "dispenser"]
keys = [{ id = "k1", public_key = "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394" }]
glns = [{ gln = "0399999999991", name = "DC" }]
"#;

#[test]
fn genesis_toml_and_json_give_the_same_network_id() {
    let from_toml = Genesis::from_toml(GENESIS_TOML).unwrap();
    let value: toml::Value = toml::from_str(GENESIS_TOML).unwrap();
    let json = serde_json::to_string(&value).unwrap();
    let from_json = Genesis::from_json(&json).unwrap();
    assert_eq!(from_toml, from_json);
    assert_eq!(from_toml.network_id(), from_json.network_id());
    // List order in the file does not matter.
    let reordered = GENESIS_TOML.replace(
        r#"["distributor", "dispenser"]"#,
        r#"["dispenser", "distributor"]"#,
    );
    assert_eq!(
        Genesis::from_toml(&reordered).unwrap().network_id(),
        from_toml.network_id()
    );
    // Content does.
    let renamed = GENESIS_TOML.replace("pedigree-devnet", "pedigree-other");
    assert_ne!(
        Genesis::from_toml(&renamed).unwrap().network_id(),
        from_toml.network_id()
    );
    let mut state = MemState::new();
    let hash = from_toml.initialize(&mut state);
    assert_eq!(state_hash(&state), hash);
    assert_eq!(network_id(&state), from_toml.network_id());
}

#[test]
fn genesis_rejects_bad_content() {
    let bad_gln = GENESIS_TOML.replace("0300011111116", "0300011111117");
    assert!(Genesis::from_toml(&bad_gln).is_err());
    let duplicate_prefix = GENESIS_TOML.replace(
        r#"roles = ["distributor", "dispenser"]"#,
        r#"roles = ["distributor", "dispenser"]
company_prefixes = ["0300011"]"#,
    );
    assert!(
        Genesis::from_toml(&duplicate_prefix).is_err(),
        "overlapping prefixes must be rejected"
    );
    let unknown_field = GENESIS_TOML.replace("network_name", "network_nam");
    assert!(Genesis::from_toml(&unknown_field).is_err());
}
