//! MQTT source: subscribes to `pedigree/{site}/+/+/+` with QoS 1 on a
//! persistent session and acknowledges each PUBLISH only after the adapter
//! has spooled it (manual acks), in the order the messages arrived.
//!
//! A message that is not acknowledged (adapter stopped or crashed before
//! the spool write) stays with the broker and is redelivered on the next
//! connection; the message ID makes the redelivery harmless.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use tokio::sync::{mpsc, oneshot, watch};

use crate::adapter::{Inbound, Receipt};
use crate::counters::Counters;
use crate::line::{PAYLOAD_BYTES_MAX, Topic, parse_mqtt};

/// Acknowledgements waiting for their receipts, per connection.
const ACKS_PENDING_MAX: usize = 4096;

/// Longest wait between reconnection attempts.
const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// MQTT connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttSettings {
    /// Broker host name or address.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Client ID; must be stable across restarts so the broker keeps the
    /// persistent session (and the unacknowledged messages) for it.
    pub client_id: String,
    /// The site whose topics to subscribe to.
    pub site: String,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
    /// User name and password, if the broker wants them.
    pub credentials: Option<(String, String)>,
}

/// Runs the MQTT source until `shutdown` fires. Connection errors are
/// logged and retried with backoff; they never end the source.
pub async fn run_mqtt_source(
    settings: MqttSettings,
    inbound: mpsc::Sender<Inbound>,
    counters: Arc<Counters>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut options = MqttOptions::new(
        settings.client_id.clone(),
        settings.host.clone(),
        settings.port,
    );
    options
        .set_keep_alive(settings.keep_alive)
        .set_manual_acks(true)
        .set_clean_session(false)
        .set_max_packet_size(PAYLOAD_BYTES_MAX + 1024, 64 * 1024);
    if let Some((user, password)) = &settings.credentials {
        options.set_credentials(user.clone(), password.clone());
    }
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    let (ack_sender, ack_receiver) =
        mpsc::channel::<(Publish, oneshot::Receiver<Receipt>)>(ACKS_PENDING_MAX);
    let acker = tokio::spawn(acknowledge_in_order(client.clone(), ack_receiver));
    let filter = Topic::site_filter(&settings.site);
    let mut backoff = Duration::from_millis(100);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            polled = eventloop.poll() => match polled {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(100);
                    tracing::info!(host = %settings.host, port = settings.port, %filter, "mqtt connected");
                    // try_subscribe: the request queue is drained by this
                    // very loop, so awaiting here could deadlock.
                    if let Err(error) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                        tracing::warn!(%error, "mqtt subscribe could not be queued");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    counters.mqtt_subscribed.store(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if !handle_publish(&settings, publish, &inbound, &ack_sender, &counters).await {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    counters.mqtt_subscribed.store(0, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "mqtt connection error");
                    tokio::select! {
                        _ = shutdown.changed() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
                }
            }
        }
    }
    counters
        .mqtt_subscribed
        .store(0, std::sync::atomic::Ordering::Relaxed);
    drop(ack_sender);
    // Let the acker finish the receipts it already has, then disconnect.
    let _ = tokio::time::timeout(Duration::from_secs(2), acker).await;
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while eventloop.poll().await.is_ok() {}
    })
    .await;
}

/// Parses one PUBLISH and queues it; returns false if the core is gone.
async fn handle_publish(
    settings: &MqttSettings,
    publish: Publish,
    inbound: &mpsc::Sender<Inbound>,
    ack_sender: &mpsc::Sender<(Publish, oneshot::Receiver<Receipt>)>,
    counters: &Counters,
) -> bool {
    Counters::add(&counters.received, 1);
    let (receipt_sender, receipt_receiver) = oneshot::channel();
    let parsed = parse_mqtt(&publish.topic, &publish.payload).and_then(|(topic, message)| {
        if topic.site == settings.site {
            Ok(message)
        } else {
            Err(crate::error::InvalidMessage::new(format!(
                "topic is for site {:?}",
                topic.site
            )))
        }
    });
    match parsed {
        Ok(message) => {
            if inbound
                .send(Inbound {
                    message,
                    receipt: Some(receipt_sender),
                })
                .await
                .is_err()
            {
                return false;
            }
        }
        Err(reason) => {
            // Malformed messages are acknowledged (in order) so the broker
            // does not redeliver them forever; the log keeps the evidence.
            Counters::add(&counters.invalid, 1);
            tracing::warn!(topic = %publish.topic, %reason, "mqtt message refused");
            let _ = receipt_sender.send(Receipt::Refused(reason.to_string()));
        }
    }
    ack_sender.send((publish, receipt_receiver)).await.is_ok()
}

/// Acknowledges PUBLISHes in arrival order (MQTT 3.1.1 §4.6), each once
/// its receipt arrives. A message whose receipt sender was dropped is not
/// acknowledged: the broker will redeliver it.
async fn acknowledge_in_order(
    client: AsyncClient,
    mut pending: mpsc::Receiver<(Publish, oneshot::Receiver<Receipt>)>,
) {
    while let Some((publish, receipt)) = pending.recv().await {
        match receipt.await {
            Ok(_) => {
                if let Err(error) = client.ack(&publish).await {
                    tracing::warn!(%error, "mqtt ack could not be queued");
                    return;
                }
            }
            Err(_) => {
                tracing::debug!(topic = %publish.topic, "message not stored; left for redelivery");
            }
        }
    }
}
