//! `pedigree governance propose|approve|show` with real key files (`pedigree keys gen`) and
//! a genesis assembled by `pedigree genesis assemble`; no node involved.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pedigree(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pedigree"))
        // No node is reachable here: commands that would need one must say so.
        .args(["--node", "http://127.0.0.1:9"])
        .args(args)
        .env_remove("PEDIGREE_NETWORK_ID")
        .env_remove("PEDIGREE_ORG")
        .env_remove("PEDIGREE_KEY")
        .output()
        .expect("run pedigree")
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[track_caller]
fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{}", text(output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[track_caller]
fn fails(output: &Output, code: i32, needle: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
    assert!(
        text(output).contains(needle),
        "{needle:?} not in {}",
        text(output)
    );
}

struct Network {
    dir: tempfile::TempDir,
}

impl Network {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// Three orgs with keys from `pedigree keys gen` and a genesis from `genesis assemble`.
fn network() -> Network {
    let dir = tempfile::tempdir().unwrap();
    let net = Network { dir };
    let orgs = [
        ("mfg", "manufacturer", "0614141", "0614141000005"),
        ("cmo", "cmo", "0777771", "0777771000002"),
        ("dist", "distributor", "0888881", "0888881000001"),
    ];
    let mut args: Vec<String> = vec!["genesis".into(), "assemble".into()];
    for (id, role, prefix, gln) in orgs {
        let public = ok(&pedigree(&[
            "--json",
            "keys",
            "gen",
            "--out",
            &net.path(&format!("{id}.key")),
            "--org",
            id,
        ]));
        std::fs::write(net.path(&format!("{id}.pub.json")), public).unwrap();
        std::fs::write(
            net.path(&format!("{id}.toml")),
            format!(
                "id = \"{id}\"\nname = \"{id} Inc.\"\nroles = [\"{role}\"]\ncompany_prefixes = [\"{prefix}\"]\n\n[[glns]]\ngln = \"{gln}\"\nname = \"{id} HQ\"\n"
            ),
        )
        .unwrap();
        args.extend([
            "--org".into(),
            net.path(&format!("{id}.toml")),
            "--public".into(),
            net.path(&format!("{id}.pub.json")),
        ]);
    }
    args.extend(["--time-ms".into(), "1767225600000".into()]);
    args.extend(["--out".into(), net.path("genesis.toml")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&pedigree(&args));
    net
}

fn network_id(net: &Network) -> String {
    let text = std::fs::read_to_string(net.path("genesis.toml")).unwrap();
    let genesis = pedigree_chaincode::Genesis::from_toml(&text).unwrap();
    hex::encode(genesis.network_id())
}

#[test]
fn propose_approve_show_with_real_key_files() {
    let net = network();
    let genesis = net.path("genesis.toml");
    let proposal = net.path("prefix.json");
    let out = ok(&pedigree(&[
        "governance",
        "propose",
        "register-prefix",
        "--org",
        "mfg",
        "--prefix",
        "0614142",
        "--genesis",
        &genesis,
        "--effective-height",
        "12",
        "--out",
        &proposal,
    ]));
    assert!(
        out.contains("register company prefix 0614142 to org mfg"),
        "{out}"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&proposal).unwrap()).unwrap();
    assert_eq!(written["format"], "pedigree-governance-proposal/v1");
    assert_eq!(written["networkId"], network_id(&net));
    assert_eq!(written["effectiveHeight"], 12);
    assert_eq!(written["action"]["type"], "registerPrefix");
    assert!(written["proposalNonce"].as_u64().is_some());
    assert_eq!(written["approvals"], serde_json::json!([]));

    // Never overwrites a proposal (it may hold approvals) unless told to.
    fails(
        &pedigree(&[
            "governance",
            "propose",
            "remove-org",
            "--org",
            "dist",
            "--genesis",
            &genesis,
            "--out",
            &proposal,
        ]),
        2,
        "--force",
    );

    // Nothing approved yet: 3 orgs at 1/2 need 2; the submitter alone is 1.
    let shown = ok(&pedigree(&[
        "governance",
        "show",
        &proposal,
        "--genesis",
        &genesis,
        "--submitter",
        "mfg",
    ]));
    assert!(shown.contains("1 of 2 required — NOT reached"), "{shown}");
    assert!(shown.contains("not yet approved: cmo, dist"), "{shown}");
    assert!(shown.contains("matches the genesis"), "{shown}");

    // cmo approves with its real key file; the genesis gives the network id and checks the key.
    let approved = ok(&pedigree(&[
        "governance",
        "approve",
        &proposal,
        "--org",
        "cmo",
        "--key",
        &net.path("cmo.key"),
        "--genesis",
        &genesis,
    ]));
    assert!(approved.contains("approved by cmo"), "{approved}");
    let shown = ok(&pedigree(&[
        "--json",
        "governance",
        "show",
        &proposal,
        "--genesis",
        &genesis,
        "--submitter",
        "mfg",
    ]));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["quorum"]["reached"], true, "{shown}");
    assert_eq!(
        shown["quorum"]["approving"],
        serde_json::json!(["cmo", "mfg"])
    );
    assert_eq!(shown["approvals"][0]["org"], "cmo");
    assert_eq!(shown["effectiveHeight"], 12);

    // Twice by the same org: refused, file unchanged.
    let before = std::fs::read_to_string(&proposal).unwrap();
    fails(
        &pedigree(&[
            "governance",
            "approve",
            &proposal,
            "--org",
            "cmo",
            "--key",
            &net.path("cmo.key"),
            "--genesis",
            &genesis,
        ]),
        2,
        "already approved",
    );
    // Another network: refused.
    fails(
        &pedigree(&[
            "governance",
            "approve",
            &proposal,
            "--org",
            "dist",
            "--key",
            &net.path("dist.key"),
            "--network-id",
            &"cd".repeat(32),
        ]),
        2,
        "refusing to approve",
    );
    // dist's name with cmo's key: genesis registers another key under that id.
    let dist_key_id = {
        let parts: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(net.path("dist.pub.json")).unwrap())
                .unwrap();
        parts["signing_key_id"].as_str().unwrap().to_string()
    };
    fails(
        &pedigree(&[
            "governance",
            "approve",
            &proposal,
            "--org",
            "dist",
            "--key",
            &net.path("cmo.key"),
            "--key-id",
            &dist_key_id,
            "--genesis",
            &genesis,
        ]),
        2,
        "genesis registers public key",
    );
    // A key file others can read: refused like everywhere else.
    let loose = net.path("loose.key");
    std::fs::copy(net.path("dist.key"), &loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    fails(
        &pedigree(&[
            "governance",
            "approve",
            &proposal,
            "--org",
            "dist",
            "--key",
            &loose,
            "--genesis",
            &genesis,
        ]),
        1,
        "chmod 600",
    );
    // Without --network-id or --genesis the network id comes from the node: none here.
    fails(
        &pedigree(&[
            "governance",
            "approve",
            &proposal,
            "--org",
            "dist",
            "--key",
            &net.path("dist.key"),
        ]),
        1,
        "pass --network-id or --genesis",
    );
    assert_eq!(std::fs::read_to_string(&proposal).unwrap(), before);

    // --out leaves the input as it was.
    let copy = net.path("prefix-dist.json");
    ok(&pedigree(&[
        "governance",
        "approve",
        &proposal,
        "--org",
        "dist",
        "--key",
        &net.path("dist.key"),
        "--network-id",
        &network_id(&net),
        "--out",
        &copy,
    ]));
    assert_eq!(std::fs::read_to_string(&proposal).unwrap(), before);
    let shown = ok(&pedigree(&[
        "governance",
        "show",
        &copy,
        "--genesis",
        &genesis,
    ]));
    assert!(shown.contains("approvals (2"), "{shown}");
    assert!(shown.contains("2 of 2 required — REACHED"), "{shown}");

    // Edited after approval: no longer reads.
    let edited = std::fs::read_to_string(&copy)
        .unwrap()
        .replace("0614142", "0614143");
    let edited_path = net.path("edited.json");
    std::fs::write(&edited_path, edited).unwrap();
    fails(
        &pedigree(&["governance", "show", &edited_path]),
        2,
        "approvalDigest",
    );
}

#[test]
fn every_action_can_be_proposed_and_bad_input_is_named() {
    let net = network();
    let network_id = network_id(&net);
    // A new org's description and keys, as for genesis.
    let newcomer_public = ok(&pedigree(&[
        "--json",
        "keys",
        "gen",
        "--out",
        &net.path("pharm.key"),
        "--org",
        "pharm",
    ]));
    std::fs::write(net.path("pharm.pub.json"), &newcomer_public).unwrap();
    std::fs::write(
        net.path("pharm.toml"),
        "id = \"pharm\"\nname = \"Pharmacy\"\nroles = [\"dispenser\"]\nnodes = [\"12D3KooWPharm\"]\n\n[[glns]]\ngln = \"0555551000004\"\nname = \"Store 1\"\n",
    )
    .unwrap();
    let new_key = serde_json::from_str::<serde_json::Value>(&newcomer_public).unwrap();
    let new_public_key = new_key["signing_public_key"].as_str().unwrap();
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            vec![
                "add-org",
                "--org-file",
                &net.path("pharm.toml"),
                "--public",
                &net.path("pharm.pub.json"),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "addOrg",
            "add org pharm",
        ),
        (
            vec!["remove-org", "--org", "dist"]
                .into_iter()
                .map(String::from)
                .collect(),
            "removeOrg",
            "remove org dist",
        ),
        (
            vec![
                "add-key",
                "--org",
                "dist",
                "--public",
                &net.path("pharm.pub.json"),
                "--new-key-id",
                "k2",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "addKey",
            "add key k2",
        ),
        (
            vec!["revoke-key", "--org", "dist", "--key-id", "k2"]
                .into_iter()
                .map(String::from)
                .collect(),
            "revokeKey",
            "revoke key k2",
        ),
        (
            vec![
                "rotate-key",
                "--org",
                "dist",
                "--old-key-id",
                "k2",
                "--public-key",
                new_public_key,
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "rotateKey",
            "rotate key of org dist",
        ),
        (
            vec!["register-prefix", "--org", "mfg", "--prefix", "0614142"]
                .into_iter()
                .map(String::from)
                .collect(),
            "registerPrefix",
            "0614142",
        ),
        (
            vec![
                "register-gln",
                "--org",
                "mfg",
                "--gln",
                "0614141000012",
                "--name",
                "Plant 2",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "registerGln",
            "register GLN 0614141000012",
        ),
        (
            vec![
                "delegate-gtin",
                "--brand-owner",
                "mfg",
                "--gtin",
                "614141073467",
                "--cmo",
                "cmo",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "delegateGtin",
            "delegate GTIN 00614141073467",
        ),
        (
            vec![
                "revoke-delegation",
                "--gtin",
                "00614141073467",
                "--cmo",
                "cmo",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "revokeDelegation",
            "revoke the delegation",
        ),
        (
            vec!["add-node", "--org", "dist", "--peer-id", "12D3KooWDist2"]
                .into_iter()
                .map(String::from)
                .collect(),
            "addNode",
            "add node 12D3KooWDist2",
        ),
        (
            vec!["remove-node", "--peer-id", "12D3KooWDist2"]
                .into_iter()
                .map(String::from)
                .collect(),
            "removeNode",
            "remove node",
        ),
        (
            vec!["set-quorum", "--numerator", "2", "--denominator", "3"]
                .into_iter()
                .map(String::from)
                .collect(),
            "setQuorum",
            "2/3",
        ),
    ];
    for (index, (action, kind, description)) in cases.iter().enumerate() {
        let out_path = net.path(&format!("p{index}.json"));
        let mut args = vec!["governance", "propose"];
        args.extend(action.iter().map(String::as_str));
        args.extend(["--network-id", &network_id, "--out", &out_path]);
        let printed = ok(&pedigree(&args));
        assert!(
            printed.contains(description),
            "{description:?} not in {printed}"
        );
        let document: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
        assert_eq!(document["action"]["type"], *kind, "{document}");
        let shown = ok(&pedigree(&["governance", "show", &out_path]));
        assert!(shown.contains(description), "{shown}");
    }
    // The new org took its key and node from the public key set and the org file.
    let add_org: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(net.path("p0.json")).unwrap()).unwrap();
    assert_eq!(
        add_org["action"]["org"]["keys"][0]["publicKey"],
        new_public_key
    );
    assert_eq!(add_org["action"]["org"]["nodes"][0], "12D3KooWPharm");
    assert_eq!(add_org["action"]["org"]["roles"][0], "dispenser");

    // Without --out, the document goes to standard output.
    let printed = ok(&pedigree(&[
        "governance",
        "propose",
        "remove-node",
        "--peer-id",
        "12D3KooWX",
        "--network-id",
        &network_id,
        "--nonce",
        "5",
    ]));
    let document: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(document["proposalNonce"], 5);

    // Bad input: exit 2, naming the field or argument.
    let bad: [(&[&str], &str); 6] = [
        (
            &["register-prefix", "--org", "mfg", "--prefix", "06a"],
            "action.prefix",
        ),
        (
            &[
                "delegate-gtin",
                "--brand-owner",
                "mfg",
                "--gtin",
                "00614141073468",
                "--cmo",
                "cmo",
            ],
            "action.gtin",
        ),
        (
            &["set-quorum", "--numerator", "3", "--denominator", "2"],
            "action.quorumNumerator",
        ),
        (
            &["add-node", "--org", "Dist", "--peer-id", "12D3"],
            "action.org",
        ),
        (
            &["add-key", "--org", "dist", "--public-key", "abc"],
            "--public-key",
        ),
        (
            &[
                "register-gln",
                "--org",
                "mfg",
                "--gln",
                "0614141000013",
                "--name",
                "x",
            ],
            "action.gln",
        ),
    ];
    for (action, needle) in bad {
        let mut args = vec!["governance", "propose"];
        args.extend(action);
        args.extend(["--network-id", &network_id]);
        fails(&pedigree(&args), 2, needle);
    }
    fails(
        &pedigree(&[
            "governance",
            "propose",
            "remove-org",
            "--org",
            "dist",
            "--network-id",
            "xyz",
        ]),
        2,
        "--network-id",
    );
    fails(
        &pedigree(&["governance", "show", &net.path("missing.json")]),
        1,
        "missing.json",
    );
    let garbage: PathBuf = Path::new(&net.path("garbage.json")).to_path_buf();
    std::fs::write(&garbage, "{\"format\": 1").unwrap();
    fails(
        &pedigree(&["governance", "show", garbage.to_str().unwrap()]),
        2,
        "proposal document",
    );
}

/// `genesis assemble --delegate` writes GTIN delegations into the genesis (and so into the
/// network id); a malformed or invalid delegation is an input error naming it.
#[test]
fn genesis_assemble_writes_delegations() {
    let net = network();
    let mut base: Vec<String> = vec!["genesis".into(), "assemble".into()];
    for id in ["mfg", "cmo", "dist"] {
        base.extend([
            "--org".into(),
            net.path(&format!("{id}.toml")),
            "--public".into(),
            net.path(&format!("{id}.pub.json")),
        ]);
    }
    base.extend(["--time-ms".into(), "1767225600000".into()]);
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        pedigree(&args)
    };

    let out = ok(&run(&[
        "--delegate",
        "mfg:00614141073467:cmo",
        "--out",
        &net.path("delegated.toml"),
    ]));
    assert!(out.contains("network id"), "{out}");
    let document = std::fs::read_to_string(net.path("delegated.toml")).unwrap();
    let genesis = pedigree_chaincode::Genesis::from_toml(&document).unwrap();
    assert_eq!(genesis.delegations.len(), 1, "{document}");
    assert_eq!(genesis.delegations[0].gtin, "00614141073467");
    assert_eq!(genesis.delegations[0].cmo, "cmo");
    assert_ne!(hex::encode(genesis.network_id()), network_id(&net));

    fails(
        &run(&["--delegate", "mfg:00614141073467"]),
        2,
        "BRAND_OWNER:GTIN:CMO",
    );
    // dist is not a CMO: the genesis validation refuses it and names the problem.
    let refused = run(&["--delegate", "mfg:00614141073467:dist"]);
    assert_ne!(refused.status.code(), Some(0), "{}", text(&refused));
    assert!(text(&refused).contains("dist"), "{}", text(&refused));
}
