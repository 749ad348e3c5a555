//! The MQTT source against a real Mosquitto broker that the test starts on
//! 127.0.0.1 and stops itself. Skipped (with a message) when
//! `/usr/sbin/mosquitto` is absent, unless `CI=true`, where that fails.

mod common;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{CollectingSubmitter, biz_step, context, receive_events, settings};
use pedigree_gs1::{Gln, Sscc};
use pedigree_plant::adapter::inbound_channel;
use pedigree_plant::line::{
    Identifier, LineEvent, LineMessage, Pack, PackLevel, PartyLocation, PayloadJson, UnitRead,
};
use pedigree_plant::mqtt::{MqttSettings, run_mqtt_source};
use pedigree_plant::time::DeviceTime;
use pedigree_plant::{Adapter, Counters, Spool, SpoolLimits, StopReason};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, watch};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// The broker process; killed (by its own PID) and reaped on drop.
struct Broker {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The verbose broker log is kept only when the test failed.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        } else {
            eprintln!("mosquitto log: {}", self.log.display());
        }
    }
}

fn start_broker() -> Option<Broker> {
    if !std::path::Path::new(MOSQUITTO).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{MOSQUITTO} is required in CI (apt-get install mosquitto)"
        );
        eprintln!("SKIPPED: {MOSQUITTO} not found; install mosquitto to run the MQTT test");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::env::temp_dir().join(format!("pedigree-plant-mosquitto-{port}.log"));
    let child = Command::new(MOSQUITTO)
        .args(["-p", &port.to_string(), "-v"])
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(&log)
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .spawn()
        .expect("mosquitto starts");
    let broker = Broker {
        child,
        port,
        log: log.clone(),
    };
    // Ready when it accepts TCP connections; bounded wait.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mosquitto did not listen on {port} (log: {})",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(broker)
}

/// A publishing client; returns after the broker acknowledged every message.
async fn publish_all(port: u16, client_id: &str, messages: &[(String, Vec<u8>)]) {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let expected = messages.len();
    for (topic, payload) in messages {
        client
            .publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
            .await
            .unwrap();
    }
    let acked = async {
        let mut acks = 0;
        while acks < expected {
            if let Event::Incoming(Packet::PubAck(_)) =
                eventloop.poll().await.expect("publisher connection")
            {
                acks += 1;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), acked)
        .await
        .expect("broker acknowledged the publishes");
    client.disconnect().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while eventloop.poll().await.is_ok() {}
    })
    .await;
}

async fn wait_subscribed(counters: &Counters) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while counters.mqtt_subscribed.load(Ordering::Relaxed) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "adapter did not subscribe"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn message(id: &str, event: LineEvent) -> LineMessage {
    LineMessage {
        line: "L1".into(),
        device: "station-1".into(),
        message_id: id.into(),
        device_time: DeviceTime::parse("2026-11-21T10:00:00.000+01:00").unwrap(),
        event,
    }
}

fn unit(serial: &str) -> LineEvent {
    LineEvent::Printed(UnitRead {
        pack: Pack::new("10614141073464", serial).unwrap(),
        lot: "LOT1".into(),
        expiry: "2028-11-30".into(),
    })
}

struct Running {
    shutdown: watch::Sender<bool>,
    core: tokio::task::JoinHandle<Result<StopReason, pedigree_plant::error::SpoolError>>,
    source: tokio::task::JoinHandle<()>,
}

fn start_adapter(
    port: u16,
    spool_dir: &std::path::Path,
    counters: &Arc<Counters>,
    events: mpsc::UnboundedSender<pedigree_plant::SpooledEvent>,
) -> Running {
    let spool = Spool::open(spool_dir, SpoolLimits::default()).unwrap();
    let adapter = Adapter::new(
        vec![context("L1")],
        settings(),
        spool,
        CollectingSubmitter(events),
        counters.clone(),
    );
    let (shutdown, shutdown_receiver) = watch::channel(false);
    let (inbound, inbound_receiver) = inbound_channel();
    let core = tokio::spawn(adapter.run(inbound_receiver, shutdown_receiver.clone()));
    let settings = MqttSettings {
        host: "127.0.0.1".into(),
        port,
        client_id: "pedigree-plant-test-S1".into(),
        site: "S1".into(),
        keep_alive: Duration::from_secs(5),
        credentials: None,
    };
    let source = tokio::spawn(run_mqtt_source(
        settings,
        inbound,
        counters.clone(),
        shutdown_receiver,
    ));
    Running {
        shutdown,
        core,
        source,
    }
}

async fn stop_adapter(running: Running) {
    running.shutdown.send(true).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(10), running.core)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(stopped, StopReason::Shutdown);
    tokio::time::timeout(Duration::from_secs(10), running.source)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_line_events_reach_the_ledger_and_survive_a_restart() {
    let Some(broker) = start_broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let counters = Arc::new(Counters::default());
    let (events_sender, mut events) = mpsc::unbounded_channel();

    let running = start_adapter(broker.port, dir.path(), &counters, events_sender.clone());
    wait_subscribed(&counters).await;

    let case = Sscc::parse("106141412345678908").unwrap();
    let gln = Gln::parse("0614141000005").unwrap();
    let mut batch: Vec<LineMessage> = (1..=5)
        .map(|i| message(&format!("p{i}"), unit(&format!("SN{i}"))))
        .collect();
    batch.push(message(
        "r1",
        LineEvent::Rejected {
            pack: Pack::new("10614141073464", "SN9").unwrap(),
            reason: "smudged".into(),
        },
    ));
    batch.push(message(
        "a1",
        LineEvent::Aggregated {
            level: PackLevel::Case,
            parent: Identifier::Sscc(case.clone()),
            children: (1..=4)
                .map(|i| Identifier::Sgtin(Pack::new("10614141073464", &format!("SN{i}")).unwrap()))
                .collect(),
        },
    ));
    batch.push(message(
        "d1",
        LineEvent::Dispatched {
            containers: vec![Identifier::Sscc(case)],
            source: PartyLocation {
                party: gln.clone(),
                location: gln.clone(),
            },
            destination: PartyLocation {
                party: gln.clone(),
                location: gln,
            },
            despatch_advice: Some("DA-1".into()),
        },
    ));
    let mut wire: Vec<(String, Vec<u8>)> = batch
        .iter()
        .map(|m| PayloadJson::from_message("S1", m))
        .collect();
    // A redelivery (same message ID) and a malformed message.
    wire.push(PayloadJson::from_message("S1", &batch[0]));
    wire.push((
        "pedigree/S1/L1/station-1/printed".into(),
        b"{not json".to_vec(),
    ));
    // Another site's topic is not subscribed to and never arrives.
    wire.push((
        "pedigree/S2/L1/station-1/printed".into(),
        PayloadJson::from_message("S2", &batch[1]).1,
    ));
    publish_all(broker.port, "test-publisher-1", &wire).await;

    let received = receive_events(&mut events, 4, Duration::from_secs(20)).await;
    let steps: Vec<&str> = received.iter().map(biz_step).collect();
    assert_eq!(
        steps,
        ["commissioning", "destroying", "packing", "shipping"]
    );
    assert_eq!(received[0].event.epc_list.as_ref().map(Vec::len), Some(5));
    assert_eq!(received[0].message_ids, ["p1", "p2", "p3", "p4", "p5"]);
    // The redelivery and the malformed message are accounted for once the
    // broker has handed them over; they come after the dispatch.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while counters.snapshot().received < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages not received: {:?}",
            counters.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let snapshot = counters.snapshot();
    assert_eq!(
        (snapshot.redelivered, snapshot.invalid),
        (1, 1),
        "{snapshot:?}"
    );
    stop_adapter(running).await;

    // While the adapter is down the broker keeps its persistent session:
    // these arrive after the restart.
    let later: Vec<(String, Vec<u8>)> = (6..=8)
        .map(|i| {
            PayloadJson::from_message("S1", &message(&format!("p{i}"), unit(&format!("SN{i}"))))
        })
        .collect();
    publish_all(broker.port, "test-publisher-2", &later).await;

    let running = start_adapter(broker.port, dir.path(), &counters, events_sender);
    let after_restart = receive_events(&mut events, 1, Duration::from_secs(20)).await;
    assert_eq!(biz_step(&after_restart[0]), "commissioning");
    assert_eq!(after_restart[0].message_ids, ["p6", "p7", "p8"]);
    stop_adapter(running).await;
    assert_eq!(counters.snapshot().accepted, 5);
    drop(broker);
}
