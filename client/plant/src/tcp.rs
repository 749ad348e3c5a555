//! Camera TCP source: a newline-delimited protocol of the kind vision
//! systems speak, one line per read.
//!
//! ```text
//! camera -> adapter                     adapter -> camera
//! READ [@<time>] <element string>       ACK | ACK DUPLICATE | ERR <reason>
//! REJECT [@<time>] <element string>     ACK | ACK DUPLICATE | ERR <reason>
//! NOREAD [@<time>]                      OK
//! ```
//!
//! `<element string>` is any GS1 form `pedigree_gs1::parse_any` reads
//! (bracketed, GS-separated, `]d2` scan data, Digital Link). READ needs
//! (01), (21), (10) and (17); REJECT needs (01) and (21). `@<time>` is an
//! optional RFC 3339 device time; without it the adapter stamps the receive
//! time. Replies come in request order; `ACK` means durably spooled. The
//! message ID is `tcp:{line}:{verb}:{gtin}:{serial}`, so a repeated read of
//! one code is recognised as a duplicate.

use std::net::SocketAddr;
use std::sync::Arc;

use pedigree_gs1::{ParseContext, ReferenceYear, parse_any};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::adapter::{Inbound, Receipt};
use crate::counters::Counters;
use crate::error::InvalidMessage;
use crate::line::{LineEvent, LineMessage, Pack, UnitRead};
use crate::time::{DeviceTime, now_utc};

/// Longest accepted request line in bytes (without the newline).
pub const LINE_BYTES_MAX: usize = 4096;

/// Most simultaneous camera connections per listener.
pub const CONNECTIONS_MAX: usize = 16;

/// Replies waiting to be written, per connection.
const REPLIES_PENDING_MAX: usize = 1024;

/// One parsed request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraCommand {
    /// A verified read of a printed code.
    Read {
        /// Device time, if sent.
        time: Option<DeviceTime>,
        /// The element string.
        code: String,
    },
    /// A rejected code.
    Reject {
        /// Device time, if sent.
        time: Option<DeviceTime>,
        /// The element string.
        code: String,
    },
    /// Nothing could be read.
    NoRead,
}

/// Parses one request line (without its line terminator).
pub fn parse_command(line: &str) -> Result<CameraCommand, InvalidMessage> {
    let line = line.trim_end_matches('\r');
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let (time, code) = match rest.strip_prefix('@') {
        Some(timed) => {
            let (time, code) = timed.split_once(' ').unwrap_or((timed, ""));
            (Some(DeviceTime::parse(time)?), code)
        }
        None => (None, rest),
    };
    match verb {
        "NOREAD" => Ok(CameraCommand::NoRead),
        "READ" | "REJECT" if code.is_empty() => Err(InvalidMessage::new(format!(
            "{verb} needs an element string"
        ))),
        "READ" => Ok(CameraCommand::Read {
            time,
            code: code.to_string(),
        }),
        "REJECT" => Ok(CameraCommand::Reject {
            time,
            code: code.to_string(),
        }),
        _ => Err(InvalidMessage::new(format!("unknown command {verb:?}"))),
    }
}

/// Turns a READ or REJECT into a line message for `line`.
pub fn command_message(
    line: &str,
    device: &str,
    command: CameraCommand,
) -> Result<Option<LineMessage>, InvalidMessage> {
    let (verb, time, code) = match command {
        CameraCommand::NoRead => return Ok(None),
        CameraCommand::Read { time, code } => ("read", time, code),
        CameraCommand::Reject { time, code } => ("reject", time, code),
    };
    let time = time.unwrap_or_else(now_utc);
    let context = ParseContext::new(ReferenceYear(time.utc_year()));
    let data = parse_any(&code, &context)
        .map_err(|e| InvalidMessage::new(format!("element string: {e}")))?;
    let need = |value: Option<String>, ai: &str| {
        value.ok_or_else(|| InvalidMessage::new(format!("element string has no ({ai})")))
    };
    let gtin = need(data.gtin14.clone(), "01")?;
    let serial = need(data.serial.clone(), "21")?;
    let pack = Pack::new(&gtin, &serial)?;
    let message_id = format!("tcp:{line}:{verb}:{gtin}:{serial}");
    let event = if verb == "read" {
        LineEvent::Printed(UnitRead {
            pack,
            lot: need(data.lot, "10")?,
            expiry: need(data.expiry, "17")?,
        })
    } else {
        LineEvent::Rejected {
            pack,
            reason: "camera reject".to_string(),
        }
    };
    Ok(Some(LineMessage {
        line: line.to_string(),
        device: device.to_string(),
        message_id,
        device_time: time,
        event,
    }))
}

/// Accepts camera connections for `line` until `shutdown` fires.
pub async fn run_tcp_source(
    listener: TcpListener,
    line: String,
    inbound: mpsc::Sender<Inbound>,
    counters: Arc<Counters>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let permit = tokio::select! {
            _ = shutdown.changed() => return,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let line = line.clone();
                let inbound = inbound.clone();
                let counters = counters.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    serve_connection(stream, peer, line, inbound, counters, shutdown).await;
                    drop(permit);
                });
            }
            Err(error) => {
                tracing::warn!(%error, "camera accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    line: String,
    inbound: mpsc::Sender<Inbound>,
    counters: Arc<Counters>,
    mut shutdown: watch::Receiver<bool>,
) {
    let device = format!("tcp-{peer}");
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let (reply_sender, mut reply_receiver) =
        mpsc::channel::<oneshot::Receiver<String>>(REPLIES_PENDING_MAX);
    let writer_task = tokio::spawn(async move {
        while let Some(reply) = reply_receiver.recv().await {
            let text = reply
                .await
                .unwrap_or_else(|_| "ERR adapter stopped before storing".to_string());
            if writer
                .write_all(format!("{text}\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = writer.shutdown().await;
    });
    let mut buffer = Vec::with_capacity(256);
    loop {
        buffer.clear();
        let mut limited = (&mut reader).take(LINE_BYTES_MAX as u64 + 1);
        let read = tokio::select! {
            _ = shutdown.changed() => break,
            read = limited.read_until(b'\n', &mut buffer) => read,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let complete = buffer.last() == Some(&b'\n');
        if !complete && buffer.len() > LINE_BYTES_MAX {
            let (sender, receiver) = oneshot::channel();
            let _ = sender.send(format!("ERR line longer than {LINE_BYTES_MAX} bytes"));
            let _ = reply_sender.send(receiver).await;
            break;
        }
        if complete {
            buffer.pop();
        }
        let text = String::from_utf8_lossy(&buffer).into_owned();
        if text.trim().is_empty() {
            continue;
        }
        Counters::add(&counters.received, 1);
        let (sender, receiver) = oneshot::channel::<String>();
        if reply_sender.send(receiver).await.is_err() {
            break;
        }
        let message =
            parse_command(&text).and_then(|command| command_message(&line, &device, command));
        match message {
            Ok(None) => {
                Counters::add(&counters.noread, 1);
                let _ = sender.send("OK".to_string());
            }
            Ok(Some(message)) => {
                let (receipt_sender, receipt_receiver) = oneshot::channel();
                if inbound
                    .send(Inbound {
                        message,
                        receipt: Some(receipt_sender),
                    })
                    .await
                    .is_err()
                {
                    break;
                }
                tokio::spawn(async move {
                    let reply = match receipt_receiver.await {
                        Ok(Receipt::Stored) => "ACK".to_string(),
                        Ok(Receipt::Duplicate) => "ACK DUPLICATE".to_string(),
                        Ok(Receipt::Refused(reason)) => format!("ERR {reason}"),
                        Err(_) => "ERR adapter stopped before storing".to_string(),
                    };
                    let _ = sender.send(reply);
                });
            }
            Err(reason) => {
                Counters::add(&counters.invalid, 1);
                tracing::warn!(%device, %line, %reason, "camera line refused");
                let _ = sender.send(format!("ERR {reason}"));
            }
        }
    }
    drop(reply_sender);
    let _ = writer_task.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse_command("NOREAD").unwrap(), CameraCommand::NoRead);
        assert_eq!(parse_command("NOREAD\r").unwrap(), CameraCommand::NoRead);
        let read =
            parse_command("READ @2026-11-21T10:00:00Z (01)10614141073464(17)281130(10)L1(21)S1")
                .unwrap();
        let message = command_message("L1", "cam", read).unwrap().unwrap();
        assert_eq!(message.message_id, "tcp:L1:read:10614141073464:S1");
        let LineEvent::Printed(unit) = message.event else {
            panic!("not a print")
        };
        assert_eq!(unit.expiry, "2028-11-30");
        let reject = parse_command("REJECT ]d2011061414107346421S2").unwrap();
        assert!(matches!(
            command_message("L1", "cam", reject).unwrap().unwrap().event,
            LineEvent::Rejected { .. }
        ));
        assert!(parse_command("READ").is_err());
        assert!(parse_command("PING").is_err());
        let no_lot = parse_command("READ (01)10614141073464(21)S1").unwrap();
        assert!(
            command_message("L1", "cam", no_lot)
                .unwrap_err()
                .to_string()
                .contains("(10)")
        );
    }
}
