//! `POST /api/v1/decrypt`: an admin opens a subject's sealed values (quarantined cells, kept
//! personal fields), giving a reason. The use case records the decryption in the audit log
//! before returning anything and refuses when it cannot; the answer is never cached.
//! `GET /api/v1/keys`: the keyring's ids and how many values each seals (admin; never keys).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppJson, AppState};
use crate::privacy::Role;

/// Body of `POST /api/v1/decrypt`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecryptRequest {
    /// The IRI whose sealed values to open.
    subject: String,
    /// Why (kept in the audit log).
    reason: String,
}

pub(super) async fn decrypt(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<AppJson<DecryptRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Admin, "decrypting sealed values")?;
    let AppJson(req) = body?;
    let app = std::sync::Arc::clone(state.app());
    let by = who.clone();
    let subject = req.subject.clone();
    let values = state
        .run_blocking(None, move || app.decrypt(&by, &subject, &req.reason))
        .await?;
    let mut response = Json(serde_json::json!({
        "subject": req.subject,
        "values": values,
        "decrypted_by": who.name(),
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("valid"));
    Ok(response)
}

pub(super) async fn keys(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.authorize(&headers, Role::Admin, "the keyring's status")?;
    let app = std::sync::Arc::clone(state.app());
    let status = state.run_blocking(None, move || app.key_status()).await?;
    Ok(Json(status).into_response())
}
