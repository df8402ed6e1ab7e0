//! `/api/v1/stock`: the stock watch (库存预警) over HTTP.
//!
//! `POST /api/v1/stock/check` runs a check now (write role; body `{"as_of": "2024-10-28",
//! "force": true}`, both optional) and answers what it raised; `GET
//! /api/v1/stock/proposals?status=proposed` lists replenishment proposals (read role); `POST
//! /api/v1/stock/proposals/{id}/accept|reject` decides one (write role, audited; body
//! `{"note": "…"}` optional). Events of a check are in `/api/v1/changes` like any other.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppQuery, AppState};
use crate::privacy::Role;
use crate::stock::CheckOptions;

/// Body of `POST /api/v1/stock/check`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    as_of: Option<String>,
    #[serde(default)]
    force: bool,
}

/// Body of a decision.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    note: Option<String>,
}

/// Query of `GET /api/v1/stock/proposals`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProposalsQuery {
    status: Option<String>,
}

/// An optional JSON body: empty is the default, anything else must parse.
fn body<T: Default + serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// `POST /api/v1/stock/check`.
pub(super) async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Write, "running a stock check")?;
    let b: CheckBody = body(&bytes)?;
    let as_of = b
        .as_of
        .as_deref()
        .map(|d| {
            d.parse::<chrono::NaiveDate>().map_err(|e| {
                ApiError::BadRequest(format!("as_of {d:?} is not a date such as 2024-10-28: {e}"))
            })
        })
        .transpose()?;
    let app = std::sync::Arc::clone(state.app());
    let report = state
        .run_blocking(None, move || {
            app.stock_check(
                &who,
                &CheckOptions {
                    as_of,
                    force: b.force,
                },
            )
        })
        .await?;
    Ok(Json(report).into_response())
}

/// `GET /api/v1/stock/proposals`.
pub(super) async fn proposals(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<AppQuery<ProposalsQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let AppQuery(q) = q?;
    let who = state.authorize(&headers, Role::Read, "reading replenishment proposals")?;
    let vis = who.visibility();
    let app = std::sync::Arc::clone(state.app());
    let rows = state
        .run_blocking(None, move || app.stock_proposals(q.status.as_deref(), &vis))
        .await?;
    Ok(Json(serde_json::json!({ "proposals": rows })).into_response())
}

/// `POST /api/v1/stock/proposals/{id}/{decision}` with decision `accept` or `reject`.
pub(super) async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, decision)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Write, "deciding on replenishment proposals")?;
    let accept = match decision.as_str() {
        "accept" => true,
        "reject" => false,
        other => {
            return Err(ApiError::NotFound(format!(
                "no action {other:?} on proposals: POST /api/v1/stock/proposals/{{id}}/accept or /reject"
            )))
        }
    };
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound(format!("no proposal {id:?}")));
    }
    let b: DecisionBody = body(&bytes)?;
    let app = std::sync::Arc::clone(state.app());
    let iri = format!("{}stock/proposal/{id}", app.catalog().layout().base());
    let (p, delivery) = state
        .run_blocking(None, move || {
            app.decide_proposal(&who, &iri, accept, b.note.as_deref())
        })
        .await?;
    Ok(Json(serde_json::json!({ "proposal": p, "delivery": delivery })).into_response())
}
