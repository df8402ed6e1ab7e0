//! `/report` (盘点报告, HTML or JSON), `/api/v1/report`, and `/api/v1/sources`: the inventory over
//! HTTP.
//!
//! Reading the report needs the read role: it holds no raw personal data (PII columns were
//! scrubbed before they reached the catalog). Scanning a source needs the write role, runs on the
//! blocking pool (it reads files or a database), records the scan in the catalog, and is audited.
//! Posting the same source again rescans it: its assets keep their IRIs and gain a new snapshot
//! of measurements.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::inventory::{report, InventoryError, ScanOptions, Source};
use crate::monitor::{self, MonitorError};
use crate::privacy::Role;

impl From<MonitorError> for ApiError {
    fn from(e: MonitorError) -> Self {
        match e {
            MonitorError::Inventory(e) => e.into(),
            MonitorError::Catalog(e) => e.into(),
            MonitorError::Config(m) => ApiError::Internal(m),
        }
    }
}

impl From<InventoryError> for ApiError {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::BadSource(_) => ApiError::BadRequest(e.to_string()),
            InventoryError::Io { .. } => ApiError::NotFound(e.to_string()),
            InventoryError::Database { .. } => ApiError::BadGateway(e.to_string()),
            InventoryError::Refused(_) => ApiError::Forbidden(e.to_string()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportParams {
    format: Option<String>,
}

fn wants_json(headers: &HeaderMap, format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        Some("json") => return Ok(true),
        Some("html") => return Ok(false),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format must be html or json, got {other:?}"
            )))
        }
        None => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(accept.contains("application/json") && !accept.contains("text/html"))
}

/// The report as `who` may see it (nothing from restricted graphs for non-admins).
async fn build(
    state: &AppState,
    who: &crate::privacy::Principal,
) -> Result<report::InventoryReport, ApiError> {
    let catalog = std::sync::Arc::clone(state.catalog());
    let admin = who.is_admin();
    tokio::task::spawn_blocking(move || report::build(&catalog, admin))
        .await
        .map_err(|e| ApiError::Internal(format!("worker failed: {e}")))?
        .map_err(ApiError::from)
}

/// `GET /report`: the inventory report, HTML unless JSON is asked for.
pub(super) async fn get_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<ReportParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let who = state.authorize(&headers, Role::Read, "the inventory report")?;
    let json = wants_json(&headers, p.format.as_deref())?;
    let r = build(&state, &who).await?;
    Ok(if json {
        Json(r).into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            report::html(&r),
        )
            .into_response()
    })
}

/// `GET /api/v1/report`: the report as JSON.
pub(super) async fn api_report(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Read, "the inventory report")?;
    Ok(Json(build(&state, &who).await?).into_response())
}

/// `GET /api/v1/sources`: sources scanned so far, with their latest scan.
pub(super) async fn list_sources(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Read, "the list of sources")?;
    Ok(Json(build(&state, &who).await?.sources).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScanRequest {
    /// A path on the server, `sqlite://…`, `postgres://…` or `mysql://…`.
    source: String,
    encoding: Option<String>,
    sample_rows: Option<u64>,
    /// Profile every asset again, even unchanged ones.
    #[serde(default)]
    full: bool,
}

/// `POST /api/v1/sources`: registers (or rescans) a source and records the scan.
pub(super) async fn post_source(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ScanRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Write, "scanning a source")?;
    let Json(req) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let source = Source::parse(&req.source)?;
    let confine = match &source {
        Source::Files(path) | Source::Sqlite(path) => Some(state.may_read(&who, path)?),
        Source::Postgres(url) | Source::Mysql(url) => {
            state.may_connect(&who, url)?;
            None
        }
    };
    let shown = source.display();
    let catalog = std::sync::Arc::clone(state.catalog());
    let mut options = ScanOptions {
        confine,
        min_top_count: Some(state.config().access.min_top_count),
        encoding: req.encoding,
        db_sample_rows: req.sample_rows.unwrap_or(100_000),
        progress: false,
        ner: None,
        known: None,
    };
    let worker_state = state.clone();
    let full = req.full;
    let auditor = who.clone();
    // Audited by the worker when the scan ends, so a scan whose client hung up is audited too.
    let result = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        options.ner = worker_state.name_tagger();
        let monitor = &worker_state.config().monitor;
        let result = monitor::scan_and_record(&catalog, &source, options, monitor, full)
            .map_err(ApiError::from);
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.audit_outcome(),
        };
        worker_state.audit(&auditor, "scan", &shown, &outcome, 0);
        result
    })
    .await
    .map_err(|e| ApiError::Internal(format!("worker failed: {e}")))?;
    let outcome = result?;
    let report = &outcome.report;
    let body = serde_json::json!({
        "scan": outcome.scan,
        "source": report.source,
        "assets": report.assets.len(),
        "unchanged": report.unchanged(),
        "changes": outcome.events,
        "alerts": outcome.deliveries,
        "rows": report.rows(),
        "pii_columns": report.pii_columns(),
        "failures": report.failures,
        "started": report.started,
        "ended": report.ended,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
