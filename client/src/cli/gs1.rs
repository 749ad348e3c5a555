//! `pedigree gs1 ...`: GS1 barcode data and Digital Link parsing for integrators.

use clap::{Args, Subcommand};
use pedigree_gs1::{ParseContext, ReferenceYear, parse_any};
use serde::Serialize;

use super::{CliError, Outcome};

/// GS1 commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Gs1Command {
    /// Parse a bracketed element string, an unbracketed one (GS separators, `]d2` / `]Q3` / `]C1`
    /// symbology prefixes), a GS1 Digital Link URI or an EPC URI, and print it as JSON.
    Parse(ParseArgs),
}

/// Arguments of `pedigree gs1 parse`.
#[derive(Debug, Args)]
pub(crate) struct ParseArgs {
    /// The data as scanned or typed. ASCII 29 (GS) separators may be written as `\x1D` or `<GS>`.
    input: String,
    /// GS1 Company Prefix length (6 to 12), needed to print the SGTIN EPC URI.
    #[arg(long, value_parser = clap::value_parser!(u8).range(6..=12))]
    gcp_len: Option<u8>,
    /// The year that anchors the YYMMDD century window (default: the current year).
    #[arg(long)]
    reference_year: Option<u16>,
}

/// One AI in the JSON output.
#[derive(Serialize)]
struct AiOut<'a> {
    ai: &'a str,
    title: &'a str,
    value: &'a str,
}

/// The JSON printed by `gs1 parse`.
#[derive(Serialize)]
struct ParseOut<'a> {
    form: pedigree_gs1::InputForm,
    symbology: Option<&'a str>,
    ais: Vec<AiOut<'a>>,
    gtin14: Option<&'a str>,
    serial: Option<&'a str>,
    lot: Option<&'a str>,
    expiry: Option<&'a str>,
    sgtin_urn: Option<&'a str>,
    canonical_digital_link: Option<&'a str>,
    bracketed: String,
}

pub(crate) fn run(command: Gs1Command) -> Result<Outcome, CliError> {
    match command {
        Gs1Command::Parse(args) => parse(args),
    }
}

fn parse(args: ParseArgs) -> Result<Outcome, CliError> {
    let input = unescape_separators(&args.input);
    let year = args.reference_year.unwrap_or_else(crate_clock_year);
    let mut context = ParseContext::new(ReferenceYear(year));
    context.gcp_len = args.gcp_len.map(usize::from);
    let data = parse_any(&input, &context).map_err(|e| CliError::Input(e.to_string()))?;
    let ais = data
        .elements
        .iter()
        .map(|e| AiOut {
            ai: &e.ai,
            title: pedigree_gs1::ai::lookup(&e.ai).map_or("", |d| d.title),
            value: &e.value,
        })
        .collect();
    let out = ParseOut {
        form: data.form,
        symbology: data.symbology.as_deref(),
        ais,
        gtin14: data.gtin14.as_deref(),
        serial: data.serial.as_deref(),
        lot: data.lot.as_deref(),
        expiry: data.expiry.as_deref(),
        sgtin_urn: data.sgtin_urn.as_deref(),
        canonical_digital_link: data.canonical_dl.as_deref(),
        bracketed: data.bracketed(),
    };
    let text = serde_json::to_string_pretty(&out).map_err(|e| CliError::Internal(e.to_string()))?;
    Ok(Outcome::Print(text))
}

fn crate_clock_year() -> u16 {
    pedigree_client::clock::current_year()
}

/// Lets a shell user type the GS separator: `\x1D`, `\x1d`, `<GS>` and `\u001d` become ASCII 29.
fn unescape_separators(input: &str) -> String {
    input
        .replace("\\x1D", "\u{1d}")
        .replace("\\x1d", "\u{1d}")
        .replace("\\u001d", "\u{1d}")
        .replace("\\u001D", "\u{1d}")
        .replace("<GS>", "\u{1d}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_unescaped() {
        assert_eq!(unescape_separators("10AB\\x1D21C"), "10AB\u{1d}21C");
        assert_eq!(unescape_separators("10AB<GS>21C"), "10AB\u{1d}21C");
        assert_eq!(unescape_separators("(01)1"), "(01)1");
    }
}
