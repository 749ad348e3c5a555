//! Policy checks run as ordinary tests: the chaincode stays pure.

use std::path::Path;

fn read_sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn no_clock_randomness_io_or_hash_ordering_in_the_library() {
    let mut sources = Vec::new();
    read_sources(&manifest_dir().join("src"), &mut sources);
    let banned = [
        "SystemTime",
        "Instant::",
        "HashMap",
        "HashSet",
        "thread_rng",
        "OsRng",
        "std::fs",
        "std::net",
        "f32",
        "f64",
        "#[should_panic]",
    ];
    for (path, text) in &sources {
        for word in banned {
            assert!(!text.contains(word), "{path} mentions {word}");
        }
    }
}

#[test]
fn no_runtime_dependencies() {
    let manifest = std::fs::read_to_string(manifest_dir().join("Cargo.toml")).unwrap();
    let dependencies = manifest.split("[dev-dependencies]").next().unwrap();
    for banned in ["tokio", "rocksdb", "libp2p", "axum", "rand"] {
        assert!(
            !dependencies.contains(banned),
            "chaincode must not depend on {banned}"
        );
    }
}

/// The package directory as cargo gives it at run time (right even in a shared target dir).
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
