//! Binaries, free ports and processes.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Finds a sibling binary: `$PEDIGREE_BIN_DIR/name`, else next to the running executable
/// (the same cargo target directory), else its parent (`deps/` of a test binary).
pub fn find_binary(name: &str, bin_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = bin_dir {
        candidates.push(dir.join(name));
    }
    if let Some(dir) = std::env::var_os("PEDIGREE_BIN_DIR") {
        candidates.push(PathBuf::from(dir).join(name));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join(name));
        if let Some(parent) = dir.parent() {
            candidates.push(parent.join(name));
        }
    }
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "binary {name} not found (looked at {}); build it with `cargo build -p {}` \
                 in the same target directory or set PEDIGREE_BIN_DIR",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                if name == "pedigree-node" {
                    "pedigree-node"
                } else {
                    "pedigree-plant"
                }
            )
        })
}

/// Reserves `count` distinct free TCP ports on 127.0.0.1 (bound together, then released).
pub fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .context("reserving a port on 127.0.0.1")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// Starts `program args` in its own process group (so a terminal's Ctrl-C reaches only
/// `pedigree-devnet`, which then stops it), output appended to `log`.
pub fn spawn(program: &Path, args: &[&str], log: &Path, cwd: &Path) -> anyhow::Result<Child> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("{}", log.display()))?;
    let err = out.try_clone()?;
    Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))
}

/// True if a process with this pid exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn signal(pid: u32, name: &str) {
    // `kill` of procps: no libc binding needed for two signals.
    let _ = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops one process: SIGTERM, then SIGKILL after `grace`. Returns true if it is gone.
pub fn stop(pid: u32, grace: Duration) -> bool {
    if pid == 0 || !is_alive(pid) {
        return true;
    }
    signal(pid, "TERM");
    let started = Instant::now();
    while started.elapsed() < grace {
        if !is_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(pid, "KILL");
    std::thread::sleep(Duration::from_millis(100));
    !is_alive(pid)
}

/// Runs a command to completion and returns its standard output; fails with its stderr.
pub fn run_capture(program: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    if !output.status.success() {
        bail!(
            "{} {}: {}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_processes_are_tracked() {
        let ports = free_ports(6).unwrap();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 6);
        let dir = tempfile::tempdir().unwrap();
        let mut child = spawn(
            Path::new("/bin/sleep"),
            &["30"],
            &dir.path().join("log"),
            dir.path(),
        )
        .unwrap();
        let pid = child.id();
        assert!(is_alive(pid));
        assert!(stop(pid, Duration::from_secs(5)) || child.try_wait().unwrap().is_some());
        let _ = child.wait();
        assert!(!is_alive(pid));
    }
}
