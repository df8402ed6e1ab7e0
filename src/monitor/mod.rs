//! Monitoring (动态更新和监控): rescans that keep the catalog true while the platform's data
//! moves, the change history they leave, and the alerts they raise.
//!
//! [`scan_and_record`] is the one path every scan takes (CLI, API, schedule): it reads what the
//! catalog last recorded of the source ([`snapshot`]), lets the scanner skip assets whose
//! fingerprint still matches, records the new scan, diffs the two states ([`diff`]), writes each
//! difference as an event into the changes graph ([`events`]) and hands the events to the alert
//! rules ([`alert`]). A webhook that is down never fails the scan: its delivery is retried, and
//! the outcome — delivered or failed, after how many attempts — is recorded beside the events.

pub mod alert;
pub mod bus;
pub mod diff;
pub mod events;
pub mod model_report;
pub mod models;
pub mod schedule;
pub mod snapshot;
pub mod stability;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError};
use crate::inventory::{self, InventoryError, ScanOptions, ScanReport, Source};
pub use alert::{AlertRule, Delivery, DeliveryConfig};
pub use diff::{ChangeEvent, EventKind, Severity};

/// What can go wrong recording a scan and its changes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The source could not be scanned at all.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The catalog could not be read or written.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The monitoring configuration is unusable (a bad glob, an unknown event type).
    #[error("invalid monitoring configuration: {0}")]
    Config(String),
}

/// When a difference becomes an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Relative change of an asset's row count (0.1: ±10%).
    pub row_count_change: f64,
    /// Rise of a column's null rate, absolute (0.1: ten points), that is also at least a
    /// doubling.
    pub null_rate_rise: f64,
    /// A column's distinct count falling below this fraction of what its row count allows.
    pub distinct_collapse: f64,
    /// Population stability index of a column's distribution (0.2: a significant shift).
    pub psi: f64,
    /// Kolmogorov–Smirnov distance of a numeric column's distribution.
    pub ks: f64,
    /// Fewer rows than this (before or after) and the statistics are not compared.
    pub min_rows: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            row_count_change: 0.1,
            null_rate_rise: 0.1,
            distinct_collapse: 0.5,
            psi: 0.2,
            ks: 0.2,
            min_rows: 50,
        }
    }
}

/// A source rescanned on a schedule or when its files change (`[[monitor.sources]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchedSource {
    /// As given to `stocktake scan` (database URLs may carry credentials: keep the config file
    /// private, or give them through the database's own environment, e.g. `PGPASSWORD`).
    pub source: String,
    /// Rescan every this many seconds (0: not on a schedule).
    #[serde(default)]
    pub every_secs: u64,
    /// Rescan when files under a directory source change.
    #[serde(default)]
    pub watch: bool,
}

/// `[monitor]`: thresholds, watched sources, alert rules and delivery.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    pub thresholds: Thresholds,
    pub sources: Vec<WatchedSource>,
    pub alerts: Vec<AlertRule>,
    pub delivery: DeliveryConfig,
    /// Publish every change event to NATS as well (`[monitor.nats]`).
    pub nats: bus::NatsConfig,
    /// Model watch: drift and precision thresholds of the labelling models (`[monitor.models]`).
    pub models: models::ModelWatchConfig,
}

impl MonitorConfig {
    /// Checks what serde cannot: globs compile, event names exist, URLs are http(s).
    pub fn validate(&self) -> Result<(), MonitorError> {
        for r in &self.alerts {
            r.compile()?;
        }
        if let Some(url) = &self.nats.url {
            if !url.starts_with("nats://") && !url.starts_with("tls://") {
                return Err(MonitorError::Config(format!(
                    "monitor.nats.url must be a nats:// or tls:// URL, got {url:?}"
                )));
            }
        }
        for s in &self.sources {
            Source::parse(&s.source).map_err(|e| MonitorError::Config(e.to_string()))?;
        }
        Ok(())
    }
}

/// What one scan found and did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: ScanReport,
    /// The scan's IRI in the catalog.
    pub scan: String,
    /// Differences from the previous scan (none on a first scan).
    pub events: Vec<ChangeEvent>,
    pub deliveries: Vec<Delivery>,
}

fn source_lock(source_iri: &str) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    Arc::clone(locks.entry(source_iri.to_string()).or_default())
}

/// Scans `source`, records the scan and its changes, and alerts. With `full`, every asset is
/// profiled again even when its fingerprint matches. Blocking.
pub fn scan_and_record(
    catalog: &Catalog,
    source: &Source,
    mut options: ScanOptions,
    config: &MonitorConfig,
    full: bool,
) -> Result<Outcome, MonitorError> {
    let source_iri = inventory::record::source_iri(catalog.layout().base(), &source.display());
    // Two scans of one source at once (a schedule and an API call) would both diff against
    // the same previous state and record every change twice: they take turns.
    let lock = source_lock(&source_iri);
    let _turn = lock.lock().unwrap_or_else(|p| p.into_inner());
    let started = std::time::Instant::now();
    let kind = source.kind();
    let result = scan_locked(catalog, source, &source_iri, &mut options, config, full);
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("stocktake_scans_total", "kind" => kind, "outcome" => outcome).increment(1);
    metrics::histogram!("stocktake_scan_duration_seconds", "kind" => kind)
        .record(started.elapsed().as_secs_f64());
    if let Ok(o) = &result {
        let unchanged = o.report.unchanged() as u64;
        let profiled = o.report.assets.len() as u64 - unchanged;
        metrics::counter!("stocktake_scan_assets_total", "kind" => kind, "read" => "profiled")
            .increment(profiled);
        metrics::counter!("stocktake_scan_assets_total", "kind" => kind, "read" => "unchanged")
            .increment(unchanged);
        metrics::counter!("stocktake_scan_rows_total", "kind" => kind).increment(o.report.rows());
        metrics::gauge!("stocktake_last_successful_scan_timestamp_seconds", "source" => o.report.source.clone())
            .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
        for e in &o.events {
            metrics::counter!("stocktake_change_events_total", "type" => e.kind.name())
                .increment(1);
        }
        for d in &o.deliveries {
            metrics::counter!("stocktake_alerts_total", "channel" => d.channel.clone(), "outcome" => d.outcome.clone())
                .increment(1);
        }
    }
    result
}

fn scan_locked(
    catalog: &Catalog,
    source: &Source,
    source_iri: &str,
    options: &mut ScanOptions,
    config: &MonitorConfig,
    full: bool,
) -> Result<Outcome, MonitorError> {
    let mut before = snapshot::load(catalog, source_iri)?;
    if !full && before.scan.is_some() {
        options.known = Some(Arc::new(before.known()));
    }
    let report = inventory::scan(source, options)?;
    // Only assets profiled again can differ from before: only theirs are read back.
    let reprofiled: Vec<String> = report
        .assets
        .iter()
        .filter(|a| !a.unchanged)
        .map(|a| a.location.clone())
        .collect();
    snapshot::load_columns(catalog, source_iri, &mut before, &reprofiled)?;
    let scan = inventory::record::scan_iri(catalog.layout().base(), &report);
    let after = before.after(&report, &scan);
    let events = diff::diff(&before, &after, &config.thresholds);
    let (changes, recorded) = events::statements(
        catalog.layout().base(),
        &events::ScanRef {
            source: source_iri,
            scan: &scan,
            previous: before.scan.as_deref(),
            at: &report.ended,
        },
        &events,
    );
    // One transaction: the scan is never recorded without the changes it found.
    let written = inventory::record::record_with(catalog, &report, &changes)?;
    debug_assert_eq!(written, scan);
    for e in &events {
        tracing::info!(
            kind = e.kind.name(),
            severity = e.severity.name(),
            asset = %e.location,
            column = e.column.as_deref().unwrap_or(""),
            "change: {}",
            e.message
        );
    }
    let mut deliveries = alert::dispatch(config, &report.source, &scan, &events, &recorded);
    deliveries.extend(bus::publish(
        &config.nats,
        &config.delivery,
        &report.source,
        &scan,
        &events,
        &recorded,
    ));
    events::record_deliveries(catalog, &scan, &deliveries)?;
    Ok(Outcome {
        report,
        scan,
        events,
        deliveries,
    })
}
