//! `pedigree`: the command-line tool for integrators and operators.
//!
//! Exit status: 0 on success, 2 when the input (or the command line) is invalid, 3 when the
//! ledger answered "no" (a pack not verified, submitted events rejected), 1 when something
//! else failed (a file that cannot be read, a node that cannot be reached or refuses).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(cli::Outcome::Print(text)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok(cli::Outcome::Invalid(text)) => {
            eprintln!("{text}");
            ExitCode::from(2)
        }
        Ok(cli::Outcome::Negative(text)) => {
            println!("{text}");
            ExitCode::from(3)
        }
        Err(error) => {
            eprintln!("pedigree: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
