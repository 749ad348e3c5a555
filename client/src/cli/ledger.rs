//! The commands that talk to a node: capture, verify, trace, recall, reconcile, blocks, status.
//!
//! Each builds a [`Client`] from `--node`/`--token` (or `PEDIGREE_NODE`/`PEDIGREE_TOKEN`)
//! and runs on a single-threaded tokio runtime.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pedigree_client::api::readable_digests;
use pedigree_client::{Client, OrgSigner, TxResult, TxStatus, events, signer};
use pedigree_epcis::model::EpcisEvent;
use pedigree_gs1::{ParseContext, ReferenceYear, parse_any};
use serde::Serialize;
use serde_json::Value;

use super::{CliError, Globals, Outcome, block_on, client, read_input, to_json};

/// Signing with the caller's own org key instead of the node's.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// Sign transactions with this org key file (otherwise the node signs as its own org).
    #[arg(long, env = "PEDIGREE_KEY")]
    key: Option<PathBuf>,
    /// The org the key belongs to (required with --key).
    #[arg(long, env = "PEDIGREE_ORG")]
    org: Option<String>,
    /// The network id (64 hex digits); default: read from the node's status.
    #[arg(long, env = "PEDIGREE_NETWORK_ID")]
    network_id: Option<String>,
}

impl SignArgs {
    async fn signer(&self, client: &Client) -> Result<Option<OrgSigner>, CliError> {
        let Some(path) = &self.key else {
            return Ok(None);
        };
        let org = self
            .org
            .clone()
            .ok_or_else(|| CliError::Input("--key needs --org".into()))?;
        let key = signer::read_key_file(path)?;
        let network_id = match &self.network_id {
            Some(hex_id) => signer::parse_digest(hex_id)?,
            None => {
                let status = client.status().await?;
                let scopes = [Some(&status.raw), status.raw.get("node")];
                let id = scopes
                    .into_iter()
                    .flatten()
                    .find_map(|scope| scope.get("networkId").and_then(Value::as_str))
                    .ok_or_else(|| {
                        CliError::Input(
                            "the node's status has no network id; pass --network-id".into(),
                        )
                    })?;
                signer::parse_digest(id)?
            }
        };
        Ok(Some(OrgSigner::new(org, key, network_id)))
    }
}

/// Arguments of `pedigree capture`.
#[derive(Debug, Args)]
pub(crate) struct CaptureArgs {
    /// EPCIS documents (JSON-LD or XML, 2.0 or 1.2 XML); `-` reads standard input.
    #[arg(required = true)]
    files: Vec<String>,
    /// Events per request.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u16).range(1..=1000))]
    batch: u16,
    #[command(flatten)]
    sign: SignArgs,
}

/// What `capture` reports.
#[derive(Debug, Default, Serialize)]
struct CaptureSummary {
    events: usize,
    accepted: usize,
    duplicate: usize,
    rejected: usize,
    failed: usize,
    problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
struct Problem {
    file: String,
    index: usize,
    event_id: Option<String>,
    outcome: String,
    code: Option<u32>,
    message: String,
}

fn load_events(path: &str) -> Result<Vec<EpcisEvent>, CliError> {
    let text = read_input(path)?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let document = if trimmed.starts_with('<') {
        pedigree_epcis::xml::parse_document(&text)
    } else {
        pedigree_epcis::json::parse_document(&text)
    }
    .map_err(|e| CliError::Input(format!("{path}: {e}")))?;
    let problems = pedigree_epcis::validate::validate(&document);
    if let Some(first) = problems.first() {
        return Err(CliError::Input(format!(
            "{path}: {} problem(s), first: {first} (see `pedigree epcis validate`)",
            problems.len()
        )));
    }
    Ok(document.events)
}

pub(crate) fn capture(args: CaptureArgs, globals: &Globals) -> Result<Outcome, CliError> {
    let mut files = Vec::with_capacity(args.files.len());
    for path in &args.files {
        files.push((path.clone(), load_events(path)?));
    }
    let total: usize = files.iter().map(|(_, events)| events.len()).sum();
    let client = client(globals)?;
    let summary = block_on(async {
        let signer = args.sign.signer(&client).await?;
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        if globals.json {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} events  {per_sec}  {msg}")
                .map_err(|e| CliError::Internal(e.to_string()))?,
        );
        let mut summary = CaptureSummary {
            events: total,
            ..CaptureSummary::default()
        };
        for (path, events) in files {
            for (chunk_index, chunk) in events.chunks(usize::from(args.batch)).enumerate() {
                let results = client
                    .submit_events(signer.as_ref(), chunk.to_vec())
                    .await?;
                let first_index = chunk_index * usize::from(args.batch);
                tally(&mut summary, &path, first_index, &results);
                bar.inc(chunk.len() as u64);
                bar.set_message(format!("{} rejected", summary.rejected + summary.failed));
            }
        }
        bar.finish_and_clear();
        Ok::<_, CliError>(summary)
    })??;
    let text = if globals.json {
        to_json(&summary)?
    } else {
        let mut text = format!(
            "{} events: {} accepted, {} duplicate, {} rejected, {} failed",
            summary.events, summary.accepted, summary.duplicate, summary.rejected, summary.failed
        );
        for problem in summary.problems.iter().take(50) {
            text.push_str(&format!(
                "\n  {}#{}: {} {}: {}",
                problem.file,
                problem.index,
                problem.outcome,
                problem.code.map(|c| format!("({c})")).unwrap_or_default(),
                problem.message
            ));
        }
        if summary.problems.len() > 50 {
            text.push_str(&format!("\n  … and {} more", summary.problems.len() - 50));
        }
        text
    };
    if summary.rejected + summary.failed > 0 {
        Ok(Outcome::Negative(text))
    } else {
        Ok(Outcome::Print(text))
    }
}

fn tally(summary: &mut CaptureSummary, path: &str, first_index: usize, results: &[TxResult]) {
    for (offset, result) in results.iter().enumerate() {
        match result.status {
            TxStatus::Accepted => summary.accepted += 1,
            TxStatus::Duplicate => summary.duplicate += 1,
            TxStatus::Rejected | TxStatus::Failed => {
                if result.status == TxStatus::Rejected {
                    summary.rejected += 1;
                } else {
                    summary.failed += 1;
                }
                summary.problems.push(Problem {
                    file: path.to_string(),
                    index: first_index + offset,
                    event_id: result.event_id.clone(),
                    outcome: result.outcome.clone(),
                    code: result.code,
                    message: result.message.clone(),
                });
            }
        }
    }
}

/// A product identifier: GTIN, serial, lot, expiry (`YYMMDD`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProductId {
    gtin: String,
    serial: String,
    lot: Option<String>,
    expiry: Option<String>,
}

/// Parses scanned data (element string, Digital Link URI, EPC URI).
fn parse_code(code: &str) -> Result<ProductId, CliError> {
    let context = ParseContext::new(ReferenceYear(pedigree_client::clock::current_year()));
    let data = parse_any(code, &context).map_err(|e| CliError::Input(format!("{code:?}: {e}")))?;
    let (Some(gtin), Some(serial)) = (data.gtin14.clone(), data.serial.clone()) else {
        return Err(CliError::Input(format!(
            "{code:?}: needs a GTIN (01) and a serial (21)"
        )));
    };
    // The node wants the expiry as printed (`YYMMDD`, AI 17), not the parser's ISO date.
    let expiry = data
        .elements
        .iter()
        .find(|element| element.ai == "17")
        .map(|element| element.value.clone());
    Ok(ProductId {
        gtin,
        serial,
        lot: data.lot.clone(),
        expiry,
    })
}

/// Arguments of `pedigree verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Scanned data: `(01)…(17)…(10)…(21)…`, a Digital Link URI or an SGTIN EPC URI.
    code: Option<String>,
    /// GTIN (instead of CODE).
    #[arg(long, conflicts_with = "code", requires = "serial")]
    gtin: Option<String>,
    /// Serial number.
    #[arg(long, conflicts_with = "code")]
    serial: Option<String>,
    /// Lot (required by the LMS path; taken from CODE when present).
    #[arg(long)]
    lot: Option<String>,
    /// Expiry as printed on the pack, `YYMMDD`.
    #[arg(long)]
    exp: Option<String>,
}

pub(crate) fn verify(args: VerifyArgs, globals: &Globals) -> Result<Outcome, CliError> {
    let mut id = match (&args.code, &args.gtin, &args.serial) {
        (Some(code), _, _) => parse_code(code)?,
        (None, Some(gtin), Some(serial)) => ProductId {
            gtin: events::gtin14(gtin)?,
            serial: serial.clone(),
            lot: None,
            expiry: None,
        },
        _ => {
            return Err(CliError::Input(
                "give scanned data, or --gtin and --serial".into(),
            ));
        }
    };
    if args.lot.is_some() {
        id.lot = args.lot.clone();
    }
    if args.exp.is_some() {
        id.expiry = args.exp.clone();
    }
    let lot = id
        .lot
        .clone()
        .ok_or_else(|| CliError::Input("the lot is needed: scan (10) or pass --lot".into()))?;
    let client = client(globals)?;
    let answer = block_on(client.verify(&id.gtin, &lot, &id.serial, id.expiry.as_deref()))??;
    let text = if globals.json {
        to_json(&answer)?
    } else {
        let mut text = format!(
            "GTIN {} lot {} serial {}{}: {}",
            id.gtin,
            lot,
            id.serial,
            id.expiry
                .as_deref()
                .map(|e| format!(" exp {e}"))
                .unwrap_or_default(),
            if answer.verified {
                "VERIFIED"
            } else {
                "NOT VERIFIED"
            }
        );
        for (label, value) in [
            ("reason", &answer.failure_reason),
            ("additional info", &answer.additional_info),
            ("status", &answer.status),
            ("custodian", &answer.custodian),
        ] {
            if let Some(value) = value {
                text.push_str(&format!("\n  {label}: {value}"));
            }
        }
        text
    };
    Ok(if answer.verified {
        Outcome::Print(text)
    } else {
        Outcome::Negative(text)
    })
}

/// Arguments of `pedigree trace`.
#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// An EPC URI, a Digital Link URI or scanned data of a pack, case or pallet.
    epc: String,
}

pub(crate) fn trace(args: TraceArgs, globals: &Globals) -> Result<Outcome, CliError> {
    let epc = if args.epc.starts_with("urn:") || args.epc.starts_with("http") {
        args.epc.clone()
    } else {
        let id = parse_code(&args.epc)?;
        events::sgtin(&id.gtin, &id.serial)?
    };
    let client = client(globals)?;
    let mut answer = block_on(client.trace(&epc))??;
    readable_digests(&mut answer);
    if globals.json {
        return Ok(Outcome::Print(to_json(&answer)?));
    }
    Ok(Outcome::Print(render_trace(&epc, &answer)?))
}

/// A readable trace: status and custodian, then one line per history entry (digests
/// already rewritten by [`readable_digests`]).
fn render_trace(epc: &str, answer: &Value) -> Result<String, CliError> {
    let mut text = epc.to_string();
    let trace = answer.get("trace").unwrap_or(answer);
    for key in ["status", "custodian"] {
        if let Some(value) = trace
            .get(key)
            .or_else(|| trace.get("record").and_then(|r| r.get(key)))
        {
            text.push_str(&format!("\n  {key}: {}", plain(value)));
        }
    }
    match pedigree_client::api::field(trace, &["history", "events"]) {
        Some(Value::Array(entries)) => {
            text.push_str(&format!("\n  history ({} entries):", entries.len()));
            for entry in entries {
                text.push_str(&format!("\n    {}", compact(entry)));
            }
        }
        _ => text.push_str(&format!("\n{}", to_json(answer)?)),
    }
    Ok(text)
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One line per JSON object: `key=value` pairs of its scalar fields.
fn compact(value: &Value) -> String {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={}", plain(v)))
            .collect::<Vec<_>>()
            .join("  "),
        other => plain(other),
    }
}

/// A GTIN and lot.
#[derive(Debug, Args)]
pub(crate) struct LotArgs {
    /// GTIN (8–14 digits).
    gtin: String,
    /// Lot.
    lot: String,
}

/// Arguments of `pedigree recall`.
#[derive(Debug, Args)]
pub(crate) struct RecallArgs {
    #[command(flatten)]
    lot: LotArgs,
    /// Why the lot is recalled (recall only).
    #[arg(long, default_value = "")]
    reason: String,
    /// Release the recalled lot instead.
    #[arg(long, conflicts_with = "scope")]
    release: bool,
    /// Only show the recall scope: every unit of the lot by custodian and status.
    #[arg(long)]
    scope: bool,
    #[command(flatten)]
    sign: SignArgs,
}

pub(crate) fn recall(args: RecallArgs, globals: &Globals) -> Result<Outcome, CliError> {
    let gtin = events::gtin14(&args.lot.gtin)?;
    let lot = args.lot.lot.clone();
    let client = client(globals)?;
    if args.scope {
        let mut scope = block_on(client.recall_scope(&gtin, &lot))??;
        readable_digests(&mut scope);
        return Ok(Outcome::Print(to_json(&scope)?));
    }
    let result = block_on(async {
        let body = if args.release {
            events::release(&gtin, &lot)?
        } else {
            events::recall(&gtin, &lot, &args.reason)?
        };
        match args.sign.signer(&client).await? {
            Some(signer) => {
                let results = client.submit(&[signer.sign(body)]).await?;
                results
                    .into_iter()
                    .next()
                    .ok_or_else(|| CliError::Internal("no result".into()))
            }
            None if args.release => Ok(client.release(&gtin, &lot).await?),
            None => Ok(client.recall(&gtin, &lot, &args.reason).await?),
        }
    })??;
    let verb = if args.release { "release" } else { "recall" };
    result_outcome(
        &format!("{verb} of GTIN {gtin} lot {lot}"),
        &result,
        globals,
    )
}

fn result_outcome(what: &str, result: &TxResult, globals: &Globals) -> Result<Outcome, CliError> {
    let text = if globals.json {
        to_json(result)?
    } else {
        let mut text = format!("{what}: {:?} ({})", result.status, result.outcome);
        if let Some(height) = result.height {
            text.push_str(&format!(" at height {height}"));
        }
        if let Some(tx_id) = &result.tx_id {
            text.push_str(&format!("\n  tx {tx_id}"));
        }
        if !result.message.is_empty() {
            text.push_str(&format!("\n  {}", result.message));
        }
        text
    };
    Ok(if result.is_on_ledger() {
        Outcome::Print(text)
    } else {
        Outcome::Negative(text)
    })
}

pub(crate) fn reconcile(args: LotArgs, globals: &Globals) -> Result<Outcome, CliError> {
    let gtin = events::gtin14(&args.gtin)?;
    let client = client(globals)?;
    let mut answer = block_on(client.reconciliation(&gtin, &args.lot))??;
    readable_digests(&mut answer);
    if globals.json {
        return Ok(Outcome::Print(to_json(&answer)?));
    }
    let mut text = format!("GTIN {gtin} lot {}", args.lot);
    // `{gtin, lot, reconciliation: {counters: {…}, current: {…}, duplicate_attempts}}`: one
    // line per part of the reconciliation, `name=value` pairs.
    let body = answer.get("reconciliation").unwrap_or(&answer);
    if let Value::Object(map) = body {
        for (key, value) in map {
            text.push_str(&format!("\n  {key}: {}", compact(value)));
        }
    } else {
        text.push_str(&format!("\n{}", to_json(&answer)?));
    }
    Ok(Outcome::Print(text))
}

/// Arguments of `pedigree blocks`.
#[derive(Debug, Args)]
pub(crate) struct BlocksArgs {
    /// Block height (default: the latest block).
    height: Option<u64>,
    /// Show this transaction's receipt and Merkle inclusion proof instead.
    #[arg(long, conflicts_with = "height")]
    tx: Option<String>,
}

pub(crate) fn blocks(args: BlocksArgs, globals: &Globals) -> Result<Outcome, CliError> {
    let client = client(globals)?;
    let mut answer = block_on(async {
        if let Some(tx_id) = &args.tx {
            let receipt = client.receipt(tx_id).await?;
            let proof = client.proof(tx_id).await?;
            return Ok::<_, CliError>(serde_json::json!({"receipt": receipt, "proof": proof}));
        }
        Ok(match args.height {
            Some(height) => client.block(height).await?,
            None => client.latest_block().await?,
        })
    })??;
    readable_digests(&mut answer);
    if globals.json {
        return Ok(Outcome::Print(to_json(&answer)?));
    }
    let mut text = String::new();
    if let Value::Object(map) = &answer {
        for (key, value) in map {
            match value {
                Value::Array(items) => text.push_str(&format!("{key}: {} item(s)\n", items.len())),
                Value::Object(_) => text.push_str(&format!("{key}: {}\n", compact(value))),
                other => text.push_str(&format!("{key}: {}\n", plain(other))),
            }
        }
    } else {
        text = to_json(&answer)?;
    }
    Ok(Outcome::Print(text.trim_end().to_string()))
}

pub(crate) fn status(globals: &Globals) -> Result<Outcome, CliError> {
    let client = client(globals)?;
    let status = block_on(client.status())??;
    if globals.json {
        return Ok(Outcome::Print(to_json(&status.raw)?));
    }
    let mut text = format!("node {}", client.base_url());
    text.push_str(&format!(
        "\n  role: {}",
        status.role.as_deref().unwrap_or("?")
    ));
    text.push_str(&format!(
        "\n  leader: {}{}",
        status.leader.as_deref().unwrap_or("none"),
        if status.is_leader { " (this node)" } else { "" }
    ));
    if let Some(term) = status.term {
        text.push_str(&format!("\n  term: {term}"));
    }
    if let Some(height) = status.latest_height {
        text.push_str(&format!("\n  latest height: {height}"));
    }
    Ok(Outcome::Print(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanned_codes_give_product_ids() {
        let id = parse_code("(01)00614141073467(17)271231(10)L1(21)SN1").unwrap();
        assert_eq!(id.gtin, "00614141073467");
        assert_eq!(id.serial, "SN1");
        assert_eq!(id.lot.as_deref(), Some("L1"));
        assert_eq!(id.expiry.as_deref(), Some("271231"));
        let id = parse_code("https://id.gs1.org/01/00614141073467/10/L1/21/SN1?17=280229").unwrap();
        assert_eq!(id.expiry.as_deref(), Some("280229"));
        assert!(parse_code("(01)00614141073467").is_err());
    }
}
