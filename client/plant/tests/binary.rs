//! The `pedigree-plant` binary: a simulated line in `--dry-run` mode runs to
//! completion and leaves valid EPCIS documents, a drained spool and a
//! metrics file; without `--dry-run` it refuses clearly.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run_with_deadline(command: &mut Command, deadline: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "binary did not finish in {deadline:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let text = format!(
        r#"
[site]
id = "S1"
gln = "0614141000005"
company_prefix = "0614141"

[spool]
dir = "{spool}"

[batching]
epcs_per_event_max = 50
batch_age_ms_max = 20

[metrics]
file = "{metrics}"
interval_ms = 100

[[line]]
id = "L1"
serial_namespace = "S1L1"
sscc_namespace = "11"

[line.simulator]
units_per_minute = 60000
reject_rate = 0.02
case_size = 10
pallet_size = 4
gtin = "10614141073464"
lot = "LOT1"
expiry = "2028-11-30"
seed = 3
destination_party = "0614141000005"
destination_location = "0614141000005"
start_time = "2026-11-21T08:00:00+01:00"
units_max = 200
paced = false
"#,
        spool = dir.join("spool").display(),
        metrics = dir.join("metrics.prom").display(),
    );
    let path = dir.join("plant.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn dry_run_writes_epcis_documents() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let out = dir.path().join("out");
    let output = run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_pedigree-plant"))
            .args(["run", "--config"])
            .arg(&config)
            .arg("--dry-run")
            .arg("--out")
            .arg(&out),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let mut commissioned = 0;
    let mut events = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let document = pedigree_epcis::json::parse_document(&text).unwrap();
        for event in &document.events {
            events += 1;
            if event.biz_step.as_ref().map(|b| b.as_str()) == Some("commissioning") {
                commissioned += event.epc_list.as_ref().map_or(0, Vec::len);
            }
        }
    }
    assert!(
        commissioned > 180 && commissioned < 200,
        "commissioned {commissioned}"
    );
    assert!(events > 20, "{events} events");
    let spool = pedigree_plant::Spool::open(&dir.path().join("spool"), Default::default()).unwrap();
    assert_eq!(spool.live_len(), 0);
    assert!(stderr.contains("Drained"), "{stderr}");
    let metrics = std::fs::read_to_string(dir.path().join("metrics.prom")).unwrap();
    assert!(
        metrics.contains(&format!("pedigree_plant_accepted_total {events}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains("pedigree_plant_spool_live_events 0\n"),
        "{metrics}"
    );
}

#[test]
fn without_dry_run_the_binary_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let output = run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_pedigree-plant"))
            .args(["run", "--config"])
            .arg(&config),
        Duration::from_secs(30),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--dry-run"), "{stderr}");
}
