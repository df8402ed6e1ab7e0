//! `/api/v1/labels`: the review queue of machine labels and people's decisions on them.
//!
//! `GET /api/v1/labels?status=review` lists labels (read role); `POST
//! /api/v1/labels/{id}/accept|reject` records a decision (write role, audited). A decision is
//! kept on its own node and wins over the model at every later ingest (see `ingest::label`).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::catalog::vocab::ST;
use crate::ingest::label::{self, Verdict};
use crate::privacy::Role;

/// Query of `GET /api/v1/labels`.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

const STATUSES: [&str; 4] = ["accepted", "review", "human-accepted", "human-rejected"];

/// `GET /api/v1/labels`: labels with their product, value, confidence, model and status.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    state.authorize(&headers, Role::Read, "reading labels")?;
    if let Some(s) = &q.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "unknown status {s:?}: use one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let catalog = std::sync::Arc::clone(state.catalog());
    let base = catalog.layout().base().to_owned();
    let g = catalog.layout().products.as_str().to_owned();
    let filter = q
        .status
        .map(|s| format!("FILTER(?status = \"{s}\")"))
        .unwrap_or_default();
    let rows = state
        .run_blocking(None, move || {
            catalog.select(&format!(
                "SELECT ?l ?product ?type ?value ?confidence ?model ?status WHERE {{ GRAPH <{g}> {{ \
                 ?l a <{ST}Label> ; <{ST}labelOf> ?product ; <{ST}entityType> ?type ; <{ST}value> ?value ; \
                 <{ST}confidence> ?confidence ; <{ST}model> ?model ; <{ST}status> ?status {filter} }} }} \
                 ORDER BY ?confidence ?l LIMIT {limit}"
            ))
        })
        .await?;
    let prefix = format!("{base}label/");
    let labels: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            let iri = r.get("l").cloned().unwrap_or_default();
            serde_json::json!({
                "id": iri.strip_prefix(&prefix).unwrap_or(&iri),
                "iri": iri,
                "product": r.get("product"),
                "type": r.get("type"),
                "value": r.get("value"),
                "confidence": r.get("confidence").and_then(|c| c.parse::<f64>().ok()),
                "model": r.get("model"),
                "status": r.get("status"),
            })
        })
        .collect();
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
    let catalog = std::sync::Arc::clone(state.catalog());
    let name = who.name().to_string();
    let target = id.clone();
    let found = state
        .run_blocking(None, move || {
            label::decide(&catalog, &target, verdict, &name)
        })
        .await;
    let outcome = match &found {
        Ok(true) => "ok".to_string(),
        Ok(false) => "not found".to_string(),
        Err(e) => format!("error: {e}"),
    };
    state.audit(&who, &format!("label-{decision}"), &id, &outcome, 0);
    if !found? {
        return Err(ApiError::NotFound(format!("no label {id:?}")));
    }
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({"label": id, "decision": verdict.as_str(), "by": who.name()})),
    )
        .into_response())
}
