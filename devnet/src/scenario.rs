//! The supply-chain story `up` plays through the SDK, each org acting on its own node:
//! the manufacturer commissions ten units and a case, packs them and ships the case to
//! the distributor, who receives it and ships it to the pharmacy, who receives it and
//! dispenses one unit; a second lot of five units is commissioned and recalled.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use pedigree_client::events::{self, Commission, Decommission, Pack, Receive, Ship};
use pedigree_client::signer::{self, OrgSigner};
use pedigree_client::{Client, TxResult};
use serde::{Deserialize, Serialize};

use crate::manifest::{Manifest, NodeEntry};
use crate::plan::{self, CASE_GTIN, UNIT_GTIN};

/// Units in the shipped lot.
pub const SHIPPED_UNITS: usize = 10;
/// Units in the recalled lot.
pub const RECALLED_UNITS: usize = 5;

/// What the scenario created, for the printed commands and `devnet.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// Unit GTIN.
    pub gtin: String,
    /// Lot that went manufacturer → distributor → pharmacy.
    pub lot: String,
    /// Its expiry, `YYMMDD` (as printed on the pack).
    pub expiry_yymmdd: String,
    /// Serials of that lot.
    pub serials: Vec<String>,
    /// The serial the pharmacy dispensed.
    pub dispensed_serial: String,
    /// The case (Digital Link URI).
    pub case: String,
    /// The recalled lot.
    pub recalled_lot: String,
    /// Its serials.
    pub recalled_serials: Vec<String>,
    /// Transaction ids per step.
    pub steps: BTreeMap<String, Vec<String>>,
}

/// An org acting on its own node.
struct Actor {
    org: String,
    client: Client,
    signer: OrgSigner,
}

impl Actor {
    fn new(node: &NodeEntry, network_id: &str) -> anyhow::Result<Actor> {
        let key = signer::read_key_file(&node.signing_key)?;
        let network_id = signer::parse_digest(network_id)?;
        Ok(Actor {
            org: node.org.clone(),
            client: Client::new(&node.api_url, Some(&node.token))?,
            signer: OrgSigner::new(node.org.clone(), key, network_id),
        })
    }

    async fn submit(
        &self,
        step: &str,
        steps: &mut BTreeMap<String, Vec<String>>,
        event: events::Event,
    ) -> anyhow::Result<()> {
        let results = self
            .client
            .submit_events(Some(&self.signer), vec![event])
            .await
            .with_context(|| format!("{step} ({})", self.org))?;
        record(step, &self.org, steps, &results)
    }
}

fn record(
    step: &str,
    org: &str,
    steps: &mut BTreeMap<String, Vec<String>>,
    results: &[TxResult],
) -> anyhow::Result<()> {
    for result in results {
        if !result.is_on_ledger() {
            bail!(
                "{step} ({org}): {:?} {} {:?}: {}",
                result.status,
                result.outcome,
                result.code,
                result.message
            );
        }
        steps
            .entry(step.to_string())
            .or_default()
            .push(result.tx_id.clone().unwrap_or_default());
    }
    Ok(())
}

/// Plays the scenario on `manifest`'s nodes.
pub async fn play(manifest: &Manifest) -> anyhow::Result<ScenarioReport> {
    let actor = |org: &str| -> anyhow::Result<Actor> {
        let node = manifest
            .node(org)
            .with_context(|| format!("no node for {org}"))?;
        Actor::new(node, &manifest.network_id)
    };
    let mfg = actor(plan::MANUFACTURER.id)?;
    let dist = actor(plan::DISTRIBUTOR.id)?;
    let pharm = actor(plan::PHARMACY.id)?;
    // Serials unique per run, so replaying on an existing ledger never collides.
    let run = pedigree_client::clock::unix_millis() / 1000 % 100_000_000;
    let lot = format!("DN{run}");
    let recalled_lot = format!("RC{run}");
    let serials: Vec<String> = (1..=SHIPPED_UNITS)
        .map(|i| format!("S{run}{i:02}"))
        .collect();
    let recalled_serials: Vec<String> = (1..=RECALLED_UNITS)
        .map(|i| format!("R{run}{i:02}"))
        .collect();
    let case_serial = format!("C{run}");
    let (expiry, expiry_yymmdd) = ("2028-12-31", "281231");
    let mfg_gln = plan::MANUFACTURER.gln();
    let dist_gln = plan::DISTRIBUTOR.gln();
    let pharm_gln = plan::PHARMACY.gln();
    let units: Vec<String> = serials
        .iter()
        .map(|s| events::sgtin(UNIT_GTIN, s))
        .collect::<Result<_, _>>()?;
    let case = events::sgtin(CASE_GTIN, &case_serial)?;
    let mut steps = BTreeMap::new();

    let commission = Commission::new(UNIT_GTIN, &lot, expiry)
        .serials(serials.clone())
        .at(&mfg_gln)
        .build()?;
    mfg.submit("1 commission units", &mut steps, commission)
        .await?;
    let commission_case = Commission::new(CASE_GTIN, &lot, expiry)
        .serial(&case_serial)
        .at(&mfg_gln)
        .build()?;
    mfg.submit("2 commission case", &mut steps, commission_case)
        .await?;
    let pack = Pack::new(case.clone(), units.clone())
        .at(&mfg_gln)
        .build()?;
    mfg.submit("3 pack", &mut steps, pack).await?;
    let ship = Ship::new([case.clone()], &dist_gln)
        .from(&mfg_gln)
        .to_location(&dist_gln)
        .at(&mfg_gln)
        .build()?;
    mfg.submit("4 ship to distributor", &mut steps, ship)
        .await?;
    let receive = Receive::new([case.clone()]).at(&dist_gln).build()?;
    dist.submit("5 distributor receives", &mut steps, receive)
        .await?;
    let ship = Ship::new([case.clone()], &pharm_gln)
        .from(&dist_gln)
        .to_location(&pharm_gln)
        .at(&dist_gln)
        .build()?;
    dist.submit("6 ship to pharmacy", &mut steps, ship).await?;
    let receive = Receive::new([case.clone()]).at(&pharm_gln).build()?;
    pharm
        .submit("7 pharmacy receives", &mut steps, receive)
        .await?;
    let dispense = Decommission::dispense([units[0].clone()])
        .at(&pharm_gln)
        .build()?;
    pharm
        .submit("8 pharmacy dispenses", &mut steps, dispense)
        .await?;

    let commission = Commission::new(UNIT_GTIN, &recalled_lot, expiry)
        .serials(recalled_serials.clone())
        .at(&mfg_gln)
        .build()?;
    mfg.submit("9 commission recalled lot", &mut steps, commission)
        .await?;
    let recall = events::recall(UNIT_GTIN, &recalled_lot, "devnet: suspected contamination")?;
    let results = match mfg.client.submit(&[mfg.signer.sign(recall)]).await {
        Err(error) if matches!(error.http_status(), Some(404 | 405)) => {
            vec![
                mfg.client
                    .recall(UNIT_GTIN, &recalled_lot, "devnet: suspected contamination")
                    .await?,
            ]
        }
        other => other?,
    };
    record("10 recall", &mfg.org, &mut steps, &results)?;

    Ok(ScenarioReport {
        gtin: UNIT_GTIN.to_string(),
        lot,
        expiry_yymmdd: expiry_yymmdd.to_string(),
        dispensed_serial: serials[0].clone(),
        serials,
        case,
        recalled_lot,
        recalled_serials,
        steps,
    })
}

/// Waits until `client` answers a verification of `serial` with `verified == expected`
/// (a follower or the learner may lag the node the events went to by a few blocks).
pub async fn wait_verified(
    client: &Client,
    report: &ScenarioReport,
    lot: &str,
    serial: &str,
    expected: bool,
    timeout: Duration,
) -> anyhow::Result<pedigree_client::Verification> {
    let started = std::time::Instant::now();
    loop {
        let answer = client
            .verify(&report.gtin, lot, serial, Some(&report.expiry_yymmdd))
            .await;
        match answer {
            Ok(answer) if answer.verified == expected => return Ok(answer),
            Ok(_) | Err(_) if started.elapsed() < timeout => {}
            Ok(answer) => bail!("{} verify {serial}: {:?}", client.base_url(), answer),
            Err(error) => return Err(error.into()),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
