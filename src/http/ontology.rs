//! `POST /api/v1/ontology/plan` and `POST /api/v1/ontology/apply` (admin): the ontology
//! maintainers' plan and apply over HTTP, on the server's configured ontology folder (the
//! deployment puts the reviewed files there; a remote caller never names a server path). A
//! plan writes nothing; an apply is refused (400) when the files have check errors, and is
//! audited. Both answer the plan as JSON.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{ApiError, AppState};
use crate::privacy::Role;

async fn change(state: AppState, headers: HeaderMap, apply: bool) -> Result<Response, ApiError> {
    let what = if apply {
        "applying an ontology change"
    } else {
        "planning an ontology change"
    };
    let who = state.authorize(&headers, Role::Admin, what)?;
    let app = std::sync::Arc::clone(state.app());
    let plan = state
        .run_blocking(None, move || app.ontology_change(&who, None, None, apply))
        .await?;
    Ok(Json(plan).into_response())
}

/// `POST /api/v1/ontology/plan`.
pub(super) async fn plan(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    change(state, headers, false).await
}

/// `POST /api/v1/ontology/apply`.
pub(super) async fn apply(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    change(state, headers, true).await
}
