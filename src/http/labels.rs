//! `/api/v1/labels`: the review queue of machine labels and people's decisions on them.
//!
//! `GET /api/v1/labels?status=review` lists labels (read role); `POST
//! /api/v1/labels/{id}/accept|reject` records a decision (write role, audited). A decision is
//! kept on its own node and wins over the model at every later ingest (see `ingest::label`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppQuery, AppState};
use crate::catalog::CatalogError;
use crate::ingest::label::Verdict;
use crate::privacy::Role;

/// Query of `GET /api/v1/labels`.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
    /// One product's labels (its IRI).
    product: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/labels`: labels with their product, value, confidence, model and status.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<AppQuery<ListQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let AppQuery(q) = q?;
    let who = state.authorize(&headers, Role::Read, "reading labels")?;
    let vis = who.visibility();
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let app = std::sync::Arc::clone(state.app());
    let labels = state
        .run_blocking(None, move || {
            app.labels(q.status.as_deref(), q.product.as_deref(), limit, &vis)
        })
        .await?;
    Ok(Json(serde_json::json!({ "labels": labels })).into_response())
}

/// `POST /api/v1/labels/{id}/{decision}` with decision `accept` or `reject`.
pub(super) async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, decision)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Write, "deciding on labels")?;
    let verdict = match decision.as_str() {
        "accept" => Verdict::Accept,
        "reject" => Verdict::Reject,
        other => {
            return Err(ApiError::NotFound(format!(
                "no action {other:?} on labels: POST /api/v1/labels/{{id}}/accept or /reject"
            )))
        }
    };
    let app = std::sync::Arc::clone(state.app());
    let name = who.name().to_string();
    let target = id.clone();
    let vis = who.visibility();
    // A missing label is an error inside the work, so the audit records the 404.
    state
        .run_audited(
            &who,
            &format!("label-{decision}"),
            &id,
            0,
            None,
            move || match app.decide_label(&target, verdict, &name, &vis)? {
                true => Ok(()),
                false => Err(CatalogError::NotFound(format!("no label {target:?}"))),
            },
        )
        .await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({"label": id, "decision": verdict.as_str(), "by": who.name()})),
    )
        .into_response())
}
