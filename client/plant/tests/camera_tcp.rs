//! The camera TCP protocol end to end on 127.0.0.1: requests, in-order
//! replies (`ACK` only once spooled), NOREAD accounting, refusals and
//! duplicate reads.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CollectingSubmitter, biz_step, context, receive_events, settings};
use pedigree_plant::adapter::inbound_channel;
use pedigree_plant::tcp::run_tcp_source;
use pedigree_plant::{Adapter, Counters, Spool, SpoolLimits, StopReason};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

#[tokio::test]
async fn camera_reads_become_epcis_events() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Arc::new(Counters::default());
    let (events_sender, mut events) = mpsc::unbounded_channel();
    let spool = Spool::open(dir.path(), SpoolLimits::default()).unwrap();
    let adapter = Adapter::new(
        vec![context("L1")],
        settings(),
        spool,
        CollectingSubmitter(events_sender),
        counters.clone(),
    );
    let (shutdown, shutdown_receiver) = watch::channel(false);
    let (inbound, inbound_receiver) = inbound_channel();
    let core = tokio::spawn(adapter.run(inbound_receiver, shutdown_receiver.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let source = tokio::spawn(run_tcp_source(
        listener,
        "L1".into(),
        inbound,
        counters.clone(),
        shutdown_receiver,
    ));

    let stream = TcpStream::connect(address).await.unwrap();
    let (reader, mut writer) = stream.into_split();
    let requests = [
        "READ @2026-11-21T10:00:00.100+01:00 (01)10614141073464(17)281130(10)LOT1(21)C1",
        "READ @2026-11-21T10:00:00.200+01:00 ]d2011061414107346417281130\u{1d}10LOT1\u{1d}21C2",
        "READ @2026-11-21T10:00:00.300+01:00 https://id.gs1.org/01/10614141073464/10/LOT1/21/C3?17=281130",
        "NOREAD",
        "REJECT @2026-11-21T10:00:01+01:00 (01)10614141073464(21)C4",
        "READ (01)10614141073464(21)C5",
        "HELLO",
        "READ @2026-11-21T10:00:00.100+01:00 (01)10614141073464(17)281130(10)LOT1(21)C1",
    ];
    for request in requests {
        writer
            .write_all(format!("{request}\r\n").as_bytes())
            .await
            .unwrap();
    }
    let mut replies = BufReader::new(reader).lines();
    let mut got = Vec::new();
    for _ in 0..requests.len() {
        let line = tokio::time::timeout(Duration::from_secs(10), replies.next_line())
            .await
            .expect("reply in time")
            .unwrap()
            .expect("connection open");
        got.push(line);
    }
    assert_eq!(&got[..5], ["ACK", "ACK", "ACK", "OK", "ACK"]);
    assert!(
        got[5].starts_with("ERR element string has no (10)"),
        "{}",
        got[5]
    );
    assert!(got[6].starts_with("ERR unknown command"), "{}", got[6]);
    assert_eq!(got[7], "ACK DUPLICATE");

    let received = receive_events(&mut events, 2, Duration::from_secs(10)).await;
    assert_eq!(biz_step(&received[0]), "commissioning");
    assert_eq!(received[0].event.epc_list.as_ref().map(Vec::len), Some(3));
    assert_eq!(
        received[0].event.event_time.as_ref().map(|t| t.as_str()),
        Some("2026-11-21T10:00:00.300+01:00")
    );
    assert_eq!(biz_step(&received[1]), "destroying");
    let snapshot = counters.snapshot();
    assert_eq!(
        (
            snapshot.received,
            snapshot.noread,
            snapshot.invalid,
            snapshot.redelivered
        ),
        (8, 1, 2, 1)
    );

    drop(writer);
    shutdown.send(true).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(10), core)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(stopped, StopReason::Shutdown);
    tokio::time::timeout(Duration::from_secs(10), source)
        .await
        .unwrap()
        .unwrap();
}
