//! `pedigree-conformance`: prints the conformance report; exits 1 if any check failed, 2 if the
//! corpus is missing.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(root) = pedigree_conformance::corpus_root() else {
        eprintln!(
            "pedigree-conformance: corpus not found; set PEDIGREE_CONFORMANCE or put the shared \
             folder beside the checkout (../shared/conformance)"
        );
        return ExitCode::from(2);
    };
    let lines = pedigree_conformance::run_all(&root);
    print!("{}", pedigree_conformance::render(&lines));
    if pedigree_conformance::total(&lines).failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
