//! A deterministic packaging-line simulator for the devnet: prints and
//! verifies units at a given rate, rejects some, packs units into bundles,
//! cases and pallets, and dispatches full pallets.
//!
//! Everything follows from the settings and the seed: the reject decisions
//! come from a ChaCha8 generator seeded with `seed`, device times advance by
//! `60 000 / units_per_minute` ms per unit from `start_unix_millis`, and
//! serials and SSCCs come from the keyed allocators of [`crate::serial`]
//! (key derived from the seed). With a fresh state directory two runs with
//! the same settings produce the same messages; after a restart the
//! allocators resume past every number already issued, so serials never
//! repeat. Partly filled bundles, cases and pallets are not resumed after a
//! restart (their units stay commissioned and unpacked).

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use pedigree_gs1::Gtin;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, oneshot, watch};

use crate::adapter::{Inbound, Receipt};
use crate::error::SerialError;
use crate::line::{Identifier, LineEvent, LineMessage, Pack, PackLevel, PartyLocation, UnitRead};
use crate::serial::{SerialAllocator, SsccAllocator, key_from_seed};
use crate::time::DeviceTime;

/// Simulator settings for one line.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorSettings {
    /// Line code.
    pub line: String,
    /// Units printed per minute (device-time rate; also the real-time pace
    /// when paced).
    pub units_per_minute: u32,
    /// Probability in `[0, 1]` that a printed unit fails verification.
    pub reject_rate: f64,
    /// Units per bundle; 0 or 1 means no bundle level.
    pub bundle_size: u32,
    /// GTIN of the bundle (required when `bundle_size > 1`).
    pub bundle_gtin: Option<Gtin>,
    /// Units (or bundles) per case.
    pub case_size: u32,
    /// Cases per pallet.
    pub pallet_size: u32,
    /// GTIN of the unit.
    pub gtin: Gtin,
    /// Lot.
    pub lot: String,
    /// Expiry `YYYY-MM-DD`.
    pub expiry: String,
    /// Seed of the reject decisions and of the serial key.
    pub seed: u64,
    /// Device time of the first unit.
    pub start_unix_millis: i64,
    /// Serial namespace of the line (unique per site and line).
    pub serial_namespace: String,
    /// Permuted digits after the namespace.
    pub serial_digits: u32,
    /// GS1 Company Prefix for the SSCCs.
    pub company_prefix: String,
    /// SSCC namespace digits of the line (unique per site and line).
    pub sscc_namespace: String,
    /// Ship-from.
    pub source: PartyLocation,
    /// Ship-to of every pallet.
    pub destination: PartyLocation,
    /// Secret key of the serial permutations; `None` derives one from the
    /// seed (devnet only: anyone who knows the seed can predict serials).
    pub serial_key: Option<[u8; 32]>,
}

/// The simulator state (see the module documentation).
#[derive(Debug)]
pub struct Simulator {
    settings: SimulatorSettings,
    rng: ChaCha8Rng,
    serials: SerialAllocator,
    ssccs: SsccAllocator,
    unit_index: u64,
    bundle: Vec<Identifier>,
    case: Vec<Identifier>,
    pallet: Vec<Identifier>,
    queue: VecDeque<LineMessage>,
}

impl Simulator {
    /// Validates the settings and opens the allocators (state in `state_dir`).
    pub fn new(settings: SimulatorSettings, state_dir: &Path) -> Result<Self, SerialError> {
        let invalid = |what: &str| Err(SerialError::Config(format!("simulator: {what}")));
        if settings.units_per_minute == 0 || settings.units_per_minute > 60_000 {
            return invalid("units_per_minute must be 1..=60000");
        }
        if !(0.0..=1.0).contains(&settings.reject_rate) {
            return invalid("reject_rate must be within [0, 1]");
        }
        if settings.case_size == 0 || settings.pallet_size == 0 {
            return invalid("case_size and pallet_size must be at least 1");
        }
        if settings.bundle_size > 1 && settings.bundle_gtin.is_none() {
            return invalid("bundle_size > 1 needs bundle_gtin");
        }
        if !crate::time::is_iso_date(&settings.expiry) {
            return invalid("expiry must be YYYY-MM-DD");
        }
        Pack::new(settings.gtin.as_str(), "1")
            .and_then(|_| crate::line::check_cset82("lot", &settings.lot))
            .map_err(|e| SerialError::Config(format!("simulator: {e}")))?;
        let key = settings
            .serial_key
            .unwrap_or_else(|| key_from_seed("simulator", settings.seed));
        let serials = SerialAllocator::open(
            &settings.serial_namespace,
            settings.serial_digits,
            key,
            state_dir,
        )?;
        let ssccs = SsccAllocator::open(
            0,
            &settings.company_prefix,
            &settings.sscc_namespace,
            key,
            state_dir,
        )?;
        Ok(Self {
            rng: ChaCha8Rng::seed_from_u64(settings.seed),
            settings,
            serials,
            ssccs,
            unit_index: 0,
            bundle: Vec::new(),
            case: Vec::new(),
            pallet: Vec::new(),
            queue: VecDeque::new(),
        })
    }

    /// Interval between units in real time when paced.
    pub fn unit_interval(&self) -> Duration {
        Duration::from_millis(60_000 / u64::from(self.settings.units_per_minute))
    }

    /// Number of units printed so far (including rejected ones).
    pub fn units_printed(&self) -> u64 {
        self.unit_index
    }

    /// The next line message.
    pub fn next_message(&mut self) -> Result<LineMessage, SerialError> {
        loop {
            if let Some(message) = self.queue.pop_front() {
                return Ok(message);
            }
            self.print_unit()?;
        }
    }

    fn message(&self, message_id: String, time: &DeviceTime, event: LineEvent) -> LineMessage {
        LineMessage {
            line: self.settings.line.clone(),
            device: "simulator".to_string(),
            message_id,
            device_time: time.clone(),
            event,
        }
    }

    fn print_unit(&mut self) -> Result<(), SerialError> {
        let interval_ms = 60_000 / i64::from(self.settings.units_per_minute);
        let time = DeviceTime::from_unix_millis(
            self.settings.start_unix_millis
                + interval_ms * i64::try_from(self.unit_index).unwrap_or(i64::MAX),
        );
        self.unit_index += 1;
        let serial = self.serials.next_serial()?;
        let pack = Pack {
            gtin: self.settings.gtin.clone(),
            serial,
        };
        if self.rng.gen_bool(self.settings.reject_rate) {
            let id = format!("sim:rejected:{}:{}", pack.gtin, pack.serial);
            let event = LineEvent::Rejected {
                pack,
                reason: "verification failed".to_string(),
            };
            self.queue.push_back(self.message(id, &time, event));
            return Ok(());
        }
        let id = format!("sim:printed:{}:{}", pack.gtin, pack.serial);
        let unit = UnitRead {
            pack: pack.clone(),
            lot: self.settings.lot.clone(),
            expiry: self.settings.expiry.clone(),
        };
        self.queue
            .push_back(self.message(id, &time, LineEvent::Printed(unit)));
        let item = Identifier::Sgtin(pack);
        match (&self.settings.bundle_gtin, self.settings.bundle_size) {
            (Some(bundle_gtin), size) if size > 1 => {
                self.bundle.push(item);
                if self.bundle.len() >= size as usize {
                    let bundle_pack = Pack {
                        gtin: bundle_gtin.clone(),
                        serial: self.serials.next_serial()?,
                    };
                    let unit = UnitRead {
                        pack: bundle_pack.clone(),
                        lot: self.settings.lot.clone(),
                        expiry: self.settings.expiry.clone(),
                    };
                    let print_id =
                        format!("sim:printed:{}:{}", bundle_pack.gtin, bundle_pack.serial);
                    self.queue
                        .push_back(self.message(print_id, &time, LineEvent::Printed(unit)));
                    let parent = Identifier::Sgtin(bundle_pack.clone());
                    let children = std::mem::take(&mut self.bundle);
                    let pack_id =
                        format!("sim:aggregated:{}:{}", bundle_pack.gtin, bundle_pack.serial);
                    let event = LineEvent::Aggregated {
                        level: PackLevel::Bundle,
                        parent: parent.clone(),
                        children,
                    };
                    self.queue.push_back(self.message(pack_id, &time, event));
                    self.add_to_case(parent, &time)?;
                }
            }
            _ => self.add_to_case(item, &time)?,
        }
        Ok(())
    }

    fn add_to_case(&mut self, item: Identifier, time: &DeviceTime) -> Result<(), SerialError> {
        self.case.push(item);
        if self.case.len() < self.settings.case_size as usize {
            return Ok(());
        }
        let sscc = self.ssccs.next_sscc()?;
        let children = std::mem::take(&mut self.case);
        let id = format!("sim:aggregated:{sscc}");
        let event = LineEvent::Aggregated {
            level: PackLevel::Case,
            parent: Identifier::Sscc(sscc.clone()),
            children,
        };
        self.queue.push_back(self.message(id, time, event));
        self.pallet.push(Identifier::Sscc(sscc));
        if self.pallet.len() < self.settings.pallet_size as usize {
            return Ok(());
        }
        let pallet = self.ssccs.next_sscc()?;
        let children = std::mem::take(&mut self.pallet);
        let event = LineEvent::Aggregated {
            level: PackLevel::Pallet,
            parent: Identifier::Sscc(pallet.clone()),
            children,
        };
        self.queue
            .push_back(self.message(format!("sim:aggregated:{pallet}"), time, event));
        let event = LineEvent::Dispatched {
            containers: vec![Identifier::Sscc(pallet.clone())],
            source: self.settings.source.clone(),
            destination: self.settings.destination.clone(),
            despatch_advice: None,
        };
        self.queue
            .push_back(self.message(format!("sim:dispatched:{pallet}"), time, event));
        Ok(())
    }
}

/// Messages the simulator keeps in flight (sent, receipt not yet back),
/// like the in-flight window of an MQTT session: enough to fill batches.
pub const IN_FLIGHT_MAX: usize = 512;

/// Feeds simulator messages to the adapter with up to [`IN_FLIGHT_MAX`]
/// receipts outstanding (backpressure). With `paced`, units follow the
/// configured rate in real time; otherwise as fast as the adapter takes
/// them. Stops after `units_max` units (if given) once every receipt is
/// back, on shutdown, or when the adapter is gone.
pub async fn run_simulator(
    mut simulator: Simulator,
    inbound: mpsc::Sender<Inbound>,
    paced: bool,
    units_max: Option<u64>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<u64, SerialError> {
    let mut ticker = tokio::time::interval(simulator.unit_interval());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight: VecDeque<oneshot::Receiver<Receipt>> = VecDeque::new();
    loop {
        let finished = units_max.is_some_and(|max| simulator.units_printed() >= max)
            && simulator.queue.is_empty();
        if finished || in_flight.len() >= IN_FLIGHT_MAX {
            let Some(oldest) = in_flight.pop_front() else {
                return Ok(simulator.units_printed());
            };
            tokio::select! {
                _ = shutdown.changed() => return Ok(simulator.units_printed()),
                receipt = oldest => match receipt {
                    Ok(Receipt::Refused(reason)) => tracing::warn!(%reason, "simulator message refused"),
                    Ok(_) => {}
                    Err(_) => return Ok(simulator.units_printed()),
                },
            }
            continue;
        }
        if paced && simulator.queue.is_empty() {
            tokio::select! {
                _ = shutdown.changed() => return Ok(simulator.units_printed()),
                _ = ticker.tick() => {}
            }
        }
        let message = simulator.next_message()?;
        let (sender, receiver) = oneshot::channel();
        let inbound_message = Inbound {
            message,
            receipt: Some(sender),
        };
        tokio::select! {
            _ = shutdown.changed() => return Ok(simulator.units_printed()),
            sent = inbound.send(inbound_message) => if sent.is_err() {
                return Ok(simulator.units_printed());
            },
        }
        in_flight.push_back(receiver);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pedigree_gs1::Gln;

    pub(crate) fn settings(seed: u64) -> SimulatorSettings {
        let gln = Gln::parse("0614141000005").unwrap();
        SimulatorSettings {
            line: "L1".into(),
            units_per_minute: 600,
            reject_rate: 0.05,
            bundle_size: 0,
            bundle_gtin: None,
            case_size: 4,
            pallet_size: 2,
            gtin: Gtin::parse("10614141073464").unwrap(),
            lot: "LOT1".into(),
            expiry: "2028-11-30".into(),
            seed,
            start_unix_millis: 1_790_000_000_000,
            serial_namespace: "S1L1".into(),
            serial_digits: 10,
            company_prefix: "0614141".into(),
            sscc_namespace: "11".into(),
            source: PartyLocation {
                party: gln.clone(),
                location: gln.clone(),
            },
            destination: PartyLocation {
                party: gln.clone(),
                location: gln,
            },
            serial_key: None,
        }
    }

    fn run(seed: u64, count: usize) -> Vec<LineMessage> {
        let dir = tempfile::tempdir().unwrap();
        let mut simulator = Simulator::new(settings(seed), dir.path()).unwrap();
        (0..count)
            .map(|_| simulator.next_message().unwrap())
            .collect()
    }

    #[test]
    fn deterministic_from_the_seed() {
        assert_eq!(run(42, 200), run(42, 200));
        assert_ne!(run(42, 200), run(43, 200));
    }

    #[test]
    fn structure_of_a_pallet() {
        let messages = run(1, 400);
        let count =
            |f: &dyn Fn(&LineEvent) -> bool| messages.iter().filter(|m| f(&m.event)).count();
        let printed = count(&|e| matches!(e, LineEvent::Printed(_)));
        let cases = count(&|e| {
            matches!(
                e,
                LineEvent::Aggregated {
                    level: PackLevel::Case,
                    ..
                }
            )
        });
        let pallets = count(&|e| {
            matches!(
                e,
                LineEvent::Aggregated {
                    level: PackLevel::Pallet,
                    ..
                }
            )
        });
        let dispatched = count(&|e| matches!(e, LineEvent::Dispatched { .. }));
        assert!(count(&|e| matches!(e, LineEvent::Rejected { .. })) > 0);
        assert!(cases >= printed / 4 - 1 && cases <= printed / 4);
        assert_eq!(pallets, dispatched);
        assert!(pallets >= cases / 2 - 1);
        let mut ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), messages.len(), "message IDs are unique");
    }

    #[test]
    fn bundles() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(5);
        s.reject_rate = 0.0;
        s.bundle_size = 3;
        s.bundle_gtin = Some(Gtin::parse("20614141073461").unwrap());
        let mut simulator = Simulator::new(s, dir.path()).unwrap();
        let messages: Vec<_> = (0..50).map(|_| simulator.next_message().unwrap()).collect();
        assert!(messages.iter().any(|m| matches!(&m.event, LineEvent::Aggregated { level: PackLevel::Bundle, children, .. } if children.len() == 3)));
    }
}
