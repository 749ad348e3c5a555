//! The `pedigree-node` binary, run as a user would.

use std::path::Path;
use std::process::{Command, Output};

fn pedigree_node(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pedigree-node"))
        .args(arguments)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn dir_argument(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn init_prints_public_parts_as_json_and_refuses_to_run_twice() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("node-a");
    let output = pedigree_node(&[
        "init",
        "--dir",
        dir_argument(&dir),
        "--org",
        "acme-pharma",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(json["org"], "acme-pharma");
    assert!(json["peer_id"].as_str().unwrap().starts_with("12D3KooW"));
    assert_eq!(json["signing_public_key"].as_str().unwrap().len(), 64);
    assert_eq!(json["signing_key_id"].as_str().unwrap().len(), 16);
    assert!(dir.join("node.toml").exists());

    let again = pedigree_node(&["init", "--dir", dir_argument(&dir), "--org", "acme-pharma"]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("already exists; refusing to overwrite"),
        "{stderr}"
    );
}

#[test]
fn init_prints_human_readable_parts_and_defaults_org_to_directory_name() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("distributor-7");
    let output = pedigree_node(&["init", "--dir", dir_argument(&dir)]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("organisation:        distributor-7"),
        "{stdout}"
    );
    assert!(stdout.contains("peer id:             12D3KooW"), "{stdout}");
    assert!(stdout.contains("signing key id:"), "{stdout}");
}

#[test]
fn there_is_no_run_command_yet() {
    let output = pedigree_node(&["run"]);
    assert!(!output.status.success());
}
