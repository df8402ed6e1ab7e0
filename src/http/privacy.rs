//! The privacy endpoints. `POST /api/v1/exports/anonymised`: a shareable, k-anonymous copy of a user-level file the
//! caller may have the server read (writers under `[server] file_roots`, admins anywhere but
//! the store directory, as for ingest). The answer is the report with the released CSV, or the
//! CSV alone (`Accept: text/csv`, the report's figures in headers). Never cached: the release
//! is for whoever asked, and it is recorded (PROV in the catalog, the audit log).
//! `/api/v1/dp/{dataset}`: differentially private aggregates, spending the caller's budget.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppJson, AppQuery, AppState};
use crate::app::{DpRequest, ExportJob};
use crate::privacy::anon::Policy;
use crate::privacy::Role;

/// Body of `POST /api/v1/exports/anonymised`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnonymisedRequest {
    /// Path of the file on the server.
    source: std::path::PathBuf,
    /// The policy (TOML text); default: operators from the semantic types, k = 5.
    #[serde(default)]
    policy: String,
}

pub(super) async fn anonymised(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<AppJson<AnonymisedRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Write, "anonymised exports")?;
    let AppJson(req) = body?;
    let policy = Policy::parse(&req.policy).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let confine = state.may_read(&who, &req.source)?;
    let app = std::sync::Arc::clone(state.app());
    let csv_wanted = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    let done = state
        .run_blocking(None, move || {
            let job = ExportJob {
                source: &req.source,
                policy: &policy,
                policy_text: &req.policy,
                confine: Some(&confine),
                who: who.name(),
                role: who.role().as_str(),
                vis: &who.visibility(),
            };
            app.export_anonymised(&job)
        })
        .await?;
    let mut response = if csv_wanted {
        let mut r = done.csv.clone().into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        for (name, value) in [
            ("stocktake-export", done.activity.clone()),
            ("stocktake-k", done.report.k.to_string()),
            ("stocktake-l", done.report.l.to_string()),
            (
                "stocktake-rows-suppressed",
                done.report.rows_suppressed.to_string(),
            ),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        r
    } else {
        let mut body =
            serde_json::to_value(&done).map_err(|e| ApiError::Internal(e.to_string()))?;
        body["csv"] = String::from_utf8_lossy(&done.csv).into_owned().into();
        Json(body).into_response()
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /api/v1/dp/{dataset}?epsilon=…&group_by=…` (or POST with the same fields as JSON): a
/// differentially private aggregate, spending ε from the dataset's and the caller's budgets
/// (403 when either would be exceeded). Read role. Every call spends: never cached.
pub(super) async fn dp_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(dataset): Path<String>,
    q: Result<AppQuery<DpRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Read, "differentially private aggregates")?;
    let AppQuery(mut req) = q?;
    req.dataset = dataset;
    dp(state, who, req).await
}

pub(super) async fn dp_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(dataset): Path<String>,
    body: Result<AppJson<DpRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Read, "differentially private aggregates")?;
    let AppJson(mut req) = body?;
    req.dataset = dataset;
    dp(state, who, req).await
}

async fn dp(
    state: AppState,
    who: crate::privacy::Principal,
    req: DpRequest,
) -> Result<Response, ApiError> {
    let app = std::sync::Arc::clone(state.app());
    let answer = state
        .run_blocking(None, move || app.dp_query(&who, &req))
        .await?;
    let mut response = Json(answer).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
