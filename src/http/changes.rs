//! `/api/v1/changes`: the change history that rescans recorded (read role).
//!
//! `GET /api/v1/changes?since=2026-11-01T00:00:00Z&asset=public.orders&type=pii-appeared,column-dropped&limit=100`
//! answers the events newest first. Every parameter is checked before it reaches the store:
//! `since` must be an RFC 3339 time, `type` known event types; `asset` (an asset IRI or its
//! location) is compared, never spliced into a query.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppQuery, AppState};
use crate::monitor::events::Filter;
use crate::monitor::EventKind;
use crate::privacy::Role;

/// Query of `GET /api/v1/changes`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangesQuery {
    pub since: Option<String>,
    pub asset: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub limit: Option<usize>,
}

/// `GET /api/v1/changes`.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<AppQuery<ChangesQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let AppQuery(q) = q?;
    let who = state.authorize(&headers, Role::Read, "reading the change history")?;
    let filter = filter_of(&q)?;
    let app = std::sync::Arc::clone(state.app());
    let vis = who.visibility();
    let list = state
        .run_blocking(None, move || app.changes(&filter, &vis))
        .await?;
    Ok(Json(serde_json::json!({ "changes": list })).into_response())
}

/// The filter a query asks for, every parameter checked (the API and the workbench's page).
pub(super) fn filter_of(q: &ChangesQuery) -> Result<Filter, ApiError> {
    let since = q
        .since
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s).map_err(|e| {
                ApiError::BadRequest(format!(
                    "since={s:?} is not an RFC 3339 time such as 2026-11-01T00:00:00Z: {e}"
                ))
            })
        })
        .transpose()?;
    let kinds = q
        .kind
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            EventKind::from_name(s).ok_or_else(|| {
                let all: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
                ApiError::BadRequest(format!(
                    "unknown event type {s:?} (known: {})",
                    all.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Filter {
        since,
        asset: q.asset.clone().filter(|a| !a.is_empty()),
        kinds,
        limit: q.limit.unwrap_or(100).clamp(1, 10_000),
    })
}
