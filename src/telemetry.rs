//! Prometheus metrics: one process-wide recorder that every layer writes to through the
//! `metrics` facade (a counter is one macro call, no registry to pass around), rendered in the
//! Prometheus text format at `/metrics`.
//!
//! Families (all prefixed `stocktake_`): HTTP requests by route, method and status with a latency
//! histogram; SPARQL evaluation durations; triples per graph and store size (read when scraped);
//! scan durations, assets, rows and unchanged assets; the last successful scan per source; change
//! events by type; alerts by channel and outcome; ingest durations and records by outcome
//! (quarantined ones included); model inference latency and texts per model.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: 1 ms to 10 minutes.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 600.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (once per process; later calls return the same handle). `None` when
/// another recorder was installed first — metrics are then simply not rendered here.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    Some(handle)
                }
                Err(_) => None,
            }
        })
        .as_ref()
}

/// The current values in the Prometheus text format.
pub fn render() -> String {
    install().map(PrometheusHandle::render).unwrap_or_default()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "stocktake_http_requests_total",
        "HTTP requests by route, method and status"
    );
    describe_histogram!(
        "stocktake_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by route and method"
    );
    describe_histogram!(
        "stocktake_sparql_duration_seconds",
        Unit::Seconds,
        "SPARQL query and update evaluation time (with serialisation)"
    );
    describe_gauge!(
        "stocktake_store_size_bytes",
        Unit::Bytes,
        "Bytes on disk of the store directory, read when scraped"
    );
    describe_histogram!(
        "stocktake_scan_duration_seconds",
        Unit::Seconds,
        "Scan duration by source kind (profile, record, diff, alert)"
    );
    describe_counter!(
        "stocktake_scan_assets_total",
        "Assets found by scans, by source kind and whether profiled or unchanged"
    );
    describe_counter!(
        "stocktake_scan_rows_total",
        "Rows profiled by scans, by source kind"
    );
    describe_counter!("stocktake_scans_total", "Scans by source kind and outcome");
    describe_gauge!(
        "stocktake_last_successful_scan_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the last successful scan, per source"
    );
    describe_counter!(
        "stocktake_change_events_total",
        "Change events recorded, by type"
    );
    describe_counter!(
        "stocktake_alerts_total",
        "Alert deliveries by channel and outcome"
    );
    describe_histogram!(
        "stocktake_ingest_duration_seconds",
        Unit::Seconds,
        "Ingest run duration"
    );
    describe_counter!(
        "stocktake_ingest_records_total",
        "Ingested records by outcome (read, written, quarantined)"
    );
    describe_histogram!(
        "stocktake_inference_duration_seconds",
        Unit::Seconds,
        "Model inference time per batch, by model"
    );
    describe_counter!(
        "stocktake_inference_texts_total",
        "Texts run through a model, by model"
    );
}
