//! `pedigree epcis ...`: EPCIS 2.0 (and 1.2 XML) documents for integrators.

use clap::{Args, Subcommand, ValueEnum};
use pedigree_epcis::{EpcisDocument, Position, hash, json, validate, xml};

use super::{CliError, Outcome, read_input};

/// EPCIS commands.
#[derive(Debug, Subcommand)]
pub(crate) enum EpcisCommand {
    /// Check a document (JSON-LD or XML) and list every problem with its event index and field.
    Validate(FileArg),
    /// Print the CBV 2.0 event hash ID of every event, one per line, in document order.
    Hash(HashArgs),
    /// Convert a document between JSON-LD and XML (EPCIS 1.2 XML is read, 2.0 is written).
    Convert(ConvertArgs),
}

/// A document file; `-` reads standard input.
#[derive(Debug, Args)]
pub(crate) struct FileArg {
    /// The document: JSON-LD or XML, recognised by its content; `-` for standard input.
    file: String,
}

/// Arguments of `pedigree epcis hash`.
#[derive(Debug, Args)]
pub(crate) struct HashArgs {
    #[command(flatten)]
    input: FileArg,
    /// Print the pre-hash string after each hash ID (for debugging interoperability).
    #[arg(long)]
    prehash: bool,
}

/// Target format of `pedigree epcis convert`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// EPCIS 2.0 JSON-LD.
    Jsonld,
    /// EPCIS 2.0 XML.
    Xml,
}

/// Arguments of `pedigree epcis convert`.
#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    /// The format to write.
    #[arg(long)]
    to: Format,
    #[command(flatten)]
    input: FileArg,
}

pub(crate) fn run(command: EpcisCommand) -> Result<Outcome, CliError> {
    match command {
        EpcisCommand::Validate(args) => validate_file(&args.file),
        EpcisCommand::Hash(args) => hash_file(&args.input.file, args.prehash),
        EpcisCommand::Convert(args) => convert_file(&args.input.file, args.to),
    }
}

/// How strictly a document is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// XML elements must follow the XSD sequence (validation).
    Strict,
    /// Element order is not checked (hashing and conversion, which do not depend on it).
    Lenient,
}

/// Parses a document, choosing the binding by its first non-blank character. Also returns where
/// each event starts, for problem reports.
fn load(path: &str, strictness: Strictness) -> Result<(EpcisDocument, Vec<Position>), CliError> {
    let text = read_input(path)?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let parsed = if trimmed.starts_with('<') {
        let options = xml::ReadOptions {
            check_element_order: strictness == Strictness::Strict,
        };
        xml::parse_document_with_positions(&text, options)
    } else {
        json::parse_document_with_positions(&text)
    };
    parsed.map_err(|e| CliError::Input(format!("{path}: {e}")))
}

fn validate_file(path: &str) -> Result<Outcome, CliError> {
    let (document, positions) = load(path, Strictness::Strict)?;
    let problems = validate::validate_with_positions(&document, &positions);
    if problems.is_empty() {
        let events = document.events.len();
        return Ok(Outcome::Print(format!("{path}: valid ({events} events)")));
    }
    let mut report = format!("{path}: {} problem(s)\n", problems.len());
    for problem in &problems {
        report.push_str(&format!("  {problem}\n"));
    }
    Ok(Outcome::Invalid(report.trim_end().to_string()))
}

fn hash_file(path: &str, with_prehash: bool) -> Result<Outcome, CliError> {
    let (document, _) = load(path, Strictness::Lenient)?;
    let ids = hash::document_hash_ids(&document);
    let lines: Vec<String> = if with_prehash {
        let pre = hash::document_pre_hashes(&document);
        ids.iter()
            .zip(pre.iter())
            .map(|(id, pre)| format!("{id}\t{pre}"))
            .collect()
    } else {
        ids
    };
    Ok(Outcome::Print(lines.join("\n")))
}

fn convert_file(path: &str, to: Format) -> Result<Outcome, CliError> {
    let (document, _) = load(path, Strictness::Lenient)?;
    let text = match to {
        Format::Jsonld => json::write_document(&document),
        Format::Xml => xml::write_document(&document),
    };
    Ok(Outcome::Print(text))
}
