//! End to end: `pedigree-devnet up --detach` starts five real `pedigree-node` processes
//! (four voters and the regulator's learner) and the plant line on 127.0.0.1 and plays
//! the scenario; verify and trace answer on the pharmacy's node and on the regulator's;
//! the regulator refuses writes; `status` is healthy; `down` stops every pid.
//!
//! Needs `pedigree-node` and `pedigree-plant` built in the same target directory
//! (`cargo build -p pedigree-node -p pedigree-plant`), hence `#[ignore]`: run it with
//! `cargo test -p pedigree-devnet -- --ignored`; without the binaries it fails and says so.
//! Every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use pedigree_client::{Client, TxStatus};
use pedigree_devnet::manifest::Manifest;
use pedigree_devnet::process::is_alive;
use pedigree_devnet::scenario::{ScenarioReport, wait_verified};

fn devnet(dir: &Path, args: &[&str], deadline: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pedigree-devnet"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run pedigree-devnet");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            // Whatever was started is listed in devnet.json: stop it before failing.
            let _ = Command::new(env!("CARGO_BIN_EXE_pedigree-devnet"))
                .arg("--dir")
                .arg(dir)
                .arg("down")
                .output();
            panic!(
                "pedigree-devnet {args:?} did not finish in {deadline:?}:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pedigree-devnet"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
#[ignore = "needs pedigree-node and pedigree-plant built in this target dir; run with --ignored"]
fn up_verify_trace_on_two_nodes_and_down() {
    for binary in ["pedigree-node", "pedigree-plant"] {
        assert!(
            bin_dir().join(binary).is_file(),
            "{binary} is not built in {}: run `cargo build -p pedigree-node -p pedigree-plant` with the same CARGO_TARGET_DIR",
            bin_dir().display()
        );
    }
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("devnet");
    let up = devnet(&dir, &["up", "--detach"], Duration::from_secs(240));
    if !up.status.success() {
        let _ = devnet(&dir, &["down"], Duration::from_secs(60));
        panic!("up failed:\n{}", text(&up));
    }
    let manifest = Manifest::load(&dir).unwrap();
    let result = std::panic::catch_unwind(|| checks(&manifest, &up));
    let down = devnet(&dir, &["down"], Duration::from_secs(90));
    assert!(down.status.success(), "{}", text(&down));
    let after = Manifest::load(&dir).unwrap();
    for pid in manifest.pids() {
        assert!(!is_alive(pid), "pid {pid} still running after down");
    }
    assert!(after.pids().is_empty());
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn checks(manifest: &Manifest, up: &Output) {
    let summary = text(up);
    assert_eq!(manifest.nodes.len(), 5);
    assert!(
        manifest
            .nodes
            .iter()
            .all(|n| n.api_url.starts_with("http://127.0.0.1:"))
    );
    assert!(
        manifest.pids().iter().all(|pid| is_alive(*pid)),
        "{manifest:?}"
    );
    let report: ScenarioReport =
        serde_json::from_value(manifest.scenario.clone().expect("scenario ran")).unwrap();
    assert!(
        summary.contains("curl") && summary.contains(&report.serials[1]),
        "{summary}"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for org in ["pharm", "reg"] {
            let node = manifest.node(org).unwrap();
            let client = Client::new(&node.api_url, Some(&node.token)).unwrap();
            let timeout = Duration::from_secs(30);
            let ok = wait_verified(
                &client,
                &report,
                &report.lot,
                &report.serials[1],
                true,
                timeout,
            )
            .await
            .unwrap();
            assert_eq!(ok.custodian.as_deref(), Some("pharm"), "{org}: {ok:?}");
            let dispensed = wait_verified(
                &client,
                &report,
                &report.lot,
                &report.dispensed_serial,
                false,
                timeout,
            )
            .await
            .unwrap();
            assert!(dispensed.failure_reason.is_some(), "{org}: {dispensed:?}");
            let recalled = wait_verified(
                &client,
                &report,
                &report.recalled_lot,
                &report.recalled_serials[0],
                true,
                timeout,
            )
            .await
            .unwrap();
            assert_eq!(
                recalled.additional_info.as_deref(),
                Some("Recalled"),
                "{org}: {recalled:?}"
            );
            let unit = pedigree_client::events::sgtin(&report.gtin, &report.serials[1]).unwrap();
            let trace = client.trace(&unit).await.unwrap().to_string();
            for custodian in ["mfg", "dist", "pharm"] {
                assert!(
                    trace.contains(custodian),
                    "{org}: trace lacks {custodian}: {trace}"
                );
            }
        }
        // The regulator's node is a read-only learner.
        let reg = manifest.node("reg").unwrap();
        let client = Client::new(&reg.api_url, Some(&reg.token)).unwrap();
        assert_eq!(
            client.status().await.unwrap().role.as_deref(),
            Some("learner")
        );
        let event = pedigree_client::events::Commission::new(&report.gtin, "X", "2028-12-31")
            .serial("RO1")
            .build()
            .unwrap();
        match client.submit_events(None, vec![event]).await {
            Err(error) => assert_eq!(error.http_status(), Some(403), "{error}"),
            Ok(results) => assert_eq!(results[0].status, TxStatus::Failed, "{results:?}"),
        }
    });
    let status = devnet(&manifest.dir, &["status"], Duration::from_secs(60));
    assert!(status.status.success(), "{}", text(&status));
}
