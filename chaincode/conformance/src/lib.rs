//! The workspace conformance runner: walks the public GS1/OpenEPCIS corpus
//! (`$PEDIGREE_CONFORMANCE`, else `../shared/conformance` beside the checkout) and runs every
//! corpus through Pedigree's GS1 and EPCIS layers with the same checking functions the crates'
//! own tests use (`pedigree_gs1::conformance`, `pedigree_epcis::conformance`).
//!
//! It prints one line per corpus, `corpus: N passed, M failed` (with `, K excluded` when
//! documented exclusions applied), and a final total line. It is test tooling: it reads files,
//! and nothing in the node links it.

use std::path::{Path, PathBuf};

use pedigree_epcis::conformance::CorpusFiles;

/// The result of one corpus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorpusLine {
    /// Corpus name (its folder, or folder plus the aspect checked).
    pub name: String,
    /// Checks that agree with the upstream expectation.
    pub passed: usize,
    /// Checks that do not.
    pub failed: usize,
    /// Checks answered by a documented exclusion (each still checked to fail as documented).
    pub excluded: usize,
    /// One line per failure.
    pub failures: Vec<String>,
}

impl CorpusLine {
    /// `name: N passed, M failed[, K excluded]`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{}: {} passed, {} failed",
            self.name, self.passed, self.failed
        );
        if self.excluded > 0 {
            line.push_str(&format!(", {} excluded", self.excluded));
        }
        line
    }
}

/// Where the corpus is: `$PEDIGREE_CONFORMANCE`, else `../shared/conformance` next to the
/// workspace root. `None` if that folder does not exist.
///
/// The workspace root is found at run time: the nearest folder holding `Cargo.lock` (with the
/// corpus beside it: `fuzz/` has its own lock file) above the package cargo runs
/// (`CARGO_MANIFEST_DIR` at run time) or above the current folder.
/// The path this crate was compiled in comes last: a build directory shared by checkouts at
/// different paths would otherwise send one checkout's tests to another's corpus.
pub fn corpus_root() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PEDIGREE_CONFORMANCE") {
        let root = PathBuf::from(path);
        return root.is_dir().then_some(root);
    }
    let starts = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        std::env::current_dir().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    starts.into_iter().flatten().find_map(|start| {
        start
            .ancestors()
            .filter(|folder| folder.join("Cargo.lock").is_file())
            .map(|workspace| workspace.join("../shared/conformance"))
            .find(|root| root.is_dir())
    })
}

/// The corpus on disk, for the EPCIS checks.
#[derive(Debug, Clone)]
pub struct FsCorpus {
    root: PathBuf,
}

impl FsCorpus {
    /// A corpus rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> FsCorpus {
        FsCorpus { root: root.into() }
    }
}

impl CorpusFiles for FsCorpus {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(path)).ok()
    }

    fn list(&self, dir: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root.join(dir))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn walk(&self) -> Vec<String> {
        let mut pending = vec![self.root.clone()];
        let mut relative = Vec::new();
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    relative.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        relative.sort();
        relative
    }
}

/// Runs every corpus: the GS1 vector files first, then the EPCIS documents, twins,
/// cross-binding round trips, event hash vectors and CBV vocabulary rows.
pub fn run_all(root: &Path) -> Vec<CorpusLine> {
    let mut lines = Vec::new();
    for corpus in pedigree_gs1::conformance::TSV_CORPORA {
        let path = root.join(corpus.dir).join(corpus.file);
        let line = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let report = pedigree_gs1::conformance::run_tsv_corpus(corpus, &text);
                let mut failures = report.failures;
                failures.extend(
                    report
                        .stale_exclusions
                        .iter()
                        .map(|key| format!("stale exclusion (matches no row): {key}")),
                );
                CorpusLine {
                    name: corpus.dir.to_string(),
                    passed: report.passed,
                    failed: report.failed + report.stale_exclusions.len(),
                    excluded: report.excluded,
                    failures,
                }
            }
            Err(error) => CorpusLine {
                name: corpus.dir.to_string(),
                failed: 1,
                failures: vec![format!("{}: {error}", path.display())],
                ..CorpusLine::default()
            },
        };
        lines.push(line);
    }
    let files = FsCorpus::new(root);
    for report in pedigree_epcis::conformance::check_all(&files) {
        lines.push(CorpusLine {
            name: report.name,
            passed: report.passed,
            failed: report.failed,
            excluded: report.excluded.len(),
            failures: report.failures,
        });
    }
    lines
}

/// The final line: `N passed, M failed` over all corpora (plus `, K excluded`).
pub fn total(lines: &[CorpusLine]) -> CorpusLine {
    CorpusLine {
        name: String::new(),
        passed: lines.iter().map(|l| l.passed).sum(),
        failed: lines.iter().map(|l| l.failed).sum(),
        excluded: lines.iter().map(|l| l.excluded).sum(),
        failures: Vec::new(),
    }
}

/// Renders the report: one line per corpus with its failures indented, then the total.
pub fn render(lines: &[CorpusLine]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&line.summary());
        out.push('\n');
        for failure in &line.failures {
            out.push_str("    ");
            out.push_str(failure);
            out.push('\n');
        }
    }
    let total = total(lines);
    let mut last = format!("{} passed, {} failed", total.passed, total.failed);
    if total.excluded > 0 {
        last.push_str(&format!(
            " ({} excluded by documented exceptions)",
            total.excluded
        ));
    }
    out.push_str(&last);
    out.push('\n');
    out
}
