//! `/report` (盘点报告, HTML or JSON), `/api/v1/report`, and `/api/v1/sources`: the inventory over
//! HTTP.
//!
//! Reading the report needs the read role: it holds no raw personal data (PII columns were
//! scrubbed before they reached the catalog). Scanning a source needs the write role, runs on the
//! blocking pool (it reads files or a database), records the scan in the catalog, and is audited.
//! Posting the same source again rescans it: its assets keep their IRIs and gain a new snapshot
//! of measurements.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppJson, AppQuery, AppState};
use crate::app::ScanJob;
use crate::inventory::{report, Source};
use crate::privacy::Role;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportParams {
    format: Option<String>,
    /// The report as it may leave the data team: exact counts over people withheld, activity
    /// figures differentially private at `epsilon` (spent from the caller's budget).
    #[serde(default)]
    shareable: bool,
    epsilon: Option<String>,
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
    let app = std::sync::Arc::clone(state.app());
    let vis = who.visibility();
    Ok(tokio::task::spawn_blocking(move || app.report(&vis)).await??)
}

/// `GET /report`: the inventory report, HTML unless JSON is asked for.
pub(super) async fn get_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<AppQuery<ReportParams>, ApiError>,
) -> Result<Response, ApiError> {
    let AppQuery(p) = params?;
    let who = state.authorize(&headers, Role::Read, "the inventory report")?;
    let json = wants_json(&headers, p.format.as_deref())?;
    if p.shareable {
        let epsilon = p.epsilon.ok_or_else(|| {
            ApiError::BadRequest(
                "a shareable report spends privacy budget: give epsilon (e.g. &epsilon=1)".into(),
            )
        })?;
        let app = std::sync::Arc::clone(state.app());
        let r = state
            .run_blocking(None, move || app.shareable_report(&who, &epsilon))
            .await?;
        let mut response = if json {
            Json(r).into_response()
        } else {
            (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                r.html(),
            )
                .into_response()
        };
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        return Ok(response);
    }
    if p.epsilon.is_some() {
        return Err(ApiError::BadRequest(
            "epsilon goes with shareable=true (the shareable report)".into(),
        ));
    }
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
    body: Result<AppJson<ScanRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Write, "scanning a source")?;
    let AppJson(req) = body?;
    let source = Source::parse(&req.source)?;
    let confine = match &source {
        Source::Files(path) | Source::Sqlite(path) => Some(state.may_read(&who, path)?),
        Source::Postgres(url) | Source::Mysql(url) => {
            state.may_connect(&who, url)?;
            None
        }
    };
    let shown = source.display();
    let job = ScanJob {
        encoding: req.encoding,
        sample_rows: req.sample_rows,
        progress: false,
        full: req.full,
        record: true,
        confine,
    };
    let worker_state = state.clone();
    let auditor = who.clone();
    // Audited by the worker when the scan ends, so a scan whose client hung up is audited too.
    let result = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let result = worker_state
            .app()
            .scan(&source, &job)
            .map_err(ApiError::from);
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.audit_outcome(),
        };
        worker_state.audit(&auditor, "scan", &shown, &outcome, 0);
        result
    })
    .await?;
    let outcome = result?;
    let report = &outcome.report;
    let body = serde_json::json!({
        "scan": outcome.scan.unwrap_or_default(),
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
