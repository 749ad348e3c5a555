//! What the devnet's end-to-end tests (`up_down.rs`, `crash_recovery.rs`) share: finding the
//! binaries, running a program with a deadline, polling with a deadline, a runtime.
//! Each test crate uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pedigree_devnet::manifest::Manifest;
use pedigree_devnet::process::{is_alive, stop};

/// Where the binaries are: `$PEDIGREE_BIN_DIR`, else next to `pedigree-devnet`.
pub(crate) fn bin_dir() -> PathBuf {
    match std::env::var_os("PEDIGREE_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_BIN_EXE_pedigree-devnet"))
            .parent()
            .expect("a binary has a directory")
            .to_path_buf(),
    }
}

/// Fails, naming the build command, unless every one of `names` is built in `dir`.
pub(crate) fn require_binaries(dir: &Path, names: &[&str]) {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| !dir.join(name).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{missing:?} not built in {}: run `cargo build -p pedigree-node -p pedigree-plant -p pedigree-client -p pedigree-devnet` \
         with the same CARGO_TARGET_DIR (`make test` builds them), or set PEDIGREE_BIN_DIR",
        dir.display()
    );
}

/// Runs a program to completion; kills it and fails after `deadline`.
pub(crate) fn try_run(program: &Path, args: &[&str], deadline: Duration) -> Result<Output, String> {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(deadline) {
        Ok(output) => output.map_err(|e| format!("collecting the output: {e}")),
        Err(_) => {
            stop(pid, Duration::ZERO);
            Err(format!(
                "{} {args:?} did not finish within {deadline:?}",
                program.display()
            ))
        }
    }
}

/// Runs `pedigree-devnet --dir <dir> <args>` from `bin` (see [`try_run`]).
pub(crate) fn devnet_command(
    bin: &Path,
    dir: &Path,
    args: &[&str],
    deadline: Duration,
) -> Result<Output, String> {
    let dir = dir.to_str().ok_or("the temporary directory is not UTF-8")?;
    let mut all = vec!["--dir", dir];
    all.extend_from_slice(args);
    try_run(&bin.join("pedigree-devnet"), &all, deadline)
}

/// A program's standard output and error, as text.
pub(crate) fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A single-threaded runtime for the SDK's async calls.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Polls `check` until it returns `Ok`, failing after `deadline` with `what` and the last
/// value seen.
pub(crate) async fn poll<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        let last = match check().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}; last: {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `devnet.json` lists the five organisations' nodes, four voters and the regulator's learner,
/// each with its API on 127.0.0.1 and its process running.
pub(crate) fn assert_five_nodes_running(manifest: &Manifest) {
    let orgs: Vec<(&str, &str)> = manifest
        .nodes
        .iter()
        .map(|n| (n.org.as_str(), n.raft_role.as_str()))
        .collect();
    assert_eq!(
        orgs,
        [
            ("mfg", "voter"),
            ("cmo", "voter"),
            ("dist", "voter"),
            ("pharm", "voter"),
            ("reg", "learner")
        ]
    );
    for node in &manifest.nodes {
        assert!(node.api_url.starts_with("http://127.0.0.1:"), "{node:?}");
        assert!(
            is_alive(node.pid),
            "{} (pid {}) is not running",
            node.org,
            node.pid
        );
    }
}
