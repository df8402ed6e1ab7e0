//! Change events on a message bus: each event of a scan published to NATS as one JSON message on
//! `<subject>.<event type>` (e.g. `stocktake.changes.pii-appeared`), so platforms that already
//! route on a bus can subscribe with wildcards (`stocktake.changes.>`) instead of exposing a
//! webhook. Publishing is retried like a webhook and its outcome recorded the same way; a bus
//! that is down never fails a scan.
//!
//! The NATS client is asynchronous; scans are blocking work on their own threads, so each
//! publication runs on a small current-thread runtime of its own and never touches the server's.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::alert::{redact_webhook, Delivery, DeliveryConfig};
use super::diff::ChangeEvent;

/// `[monitor.nats]`: where to publish change events (off unless `url` is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// `nats://host:port` (credentials in the URL are used, never recorded).
    pub url: Option<String>,
    /// Subject prefix; the event type is appended.
    pub subject: String,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: None,
            subject: "stocktake.changes".into(),
        }
    }
}

/// Publishes every event; `None` when no bus is configured or there is nothing to say.
/// Blocking.
pub fn publish(
    config: &NatsConfig,
    delivery: &DeliveryConfig,
    source: &str,
    scan: &str,
    events: &[ChangeEvent],
    iris: &[String],
) -> Option<Delivery> {
    let url = config.url.as_deref()?;
    if events.is_empty() {
        return None;
    }
    let messages: Vec<(String, Vec<u8>)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let body = serde_json::json!({
                "iri": iris.get(i),
                "source": source,
                "scan": scan,
                "event": e,
            });
            (
                format!("{}.{}", config.subject, e.kind.name()),
                body.to_string().into_bytes(),
            )
        })
        .collect();
    let timeout = Duration::from_millis(delivery.timeout_ms.max(1));
    let mut attempts = 0;
    let error = loop {
        attempts += 1;
        let e = match send(url, &messages, timeout) {
            Ok(()) => break None,
            Err(e) => e,
        };
        if attempts > delivery.retries {
            break Some(e);
        }
        let wait = delivery
            .backoff_ms
            .saturating_mul(1 << (attempts - 1).min(16));
        std::thread::sleep(Duration::from_millis(wait));
    };
    if let Some(e) = &error {
        tracing::warn!(target = %redact_webhook(url), attempts, "publishing change events to NATS failed: {e}");
    }
    Some(Delivery {
        rule: "nats".into(),
        channel: "nats".into(),
        target: redact_webhook(url),
        outcome: if error.is_none() {
            "delivered"
        } else {
            "failed"
        }
        .into(),
        attempts,
        status: None,
        error,
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        events: iris.to_vec(),
    })
}

/// Connects, publishes, flushes (so the server has every message), within `timeout`.
fn send(url: &str, messages: &[(String, Vec<u8>)], timeout: Duration) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the NATS client: {e}"))?;
    runtime.block_on(async {
        let work = async {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(timeout)
                .connect(url)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            for (subject, body) in messages {
                client
                    .publish(subject.clone(), body.clone().into())
                    .await
                    .map_err(|e| format!("cannot publish on {subject}: {e}"))?;
            }
            client
                .flush()
                .await
                .map_err(|e| format!("cannot flush: {e}"))
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
    })
}
