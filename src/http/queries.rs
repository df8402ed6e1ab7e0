//! `/queries`: the named queries from `queries/*.rq`, listed with their parameters and runnable
//! with parameters bound as RDF terms.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::sparql::{answer, body_or_413};
use super::{ApiError, AppState};
use crate::privacy::Role;

pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.authorize(&headers, Role::Read, "listing named queries")?;
    let items: Vec<_> = state
        .inner
        .queries
        .values()
        .map(|q| {
            json!({
                "name": q.name,
                "title": q.title,
                "description": q.description,
                "params": q.params,
                "href": format!("/queries/{}", q.name),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "queries": items })).into_response())
}

pub(super) async fn run(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let args = form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    execute(&state, &headers, &name, args).await
}

pub(super) async fn run_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_413(body)?;
    let args = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    execute(&state, &headers, &name, args).await
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    args: BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(headers, Role::Read, "running named queries")?;
    let query = state
        .inner
        .queries
        .get(name)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no named query '{name}'; see /queries")))?;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let vis = principal.visibility();
    let union = state.config().catalog.union_default_graph;
    let what = format!("/queries/{name}");
    answer(state, &principal, &what, accept, move |catalog, token| {
        catalog.prepare_named(&query, &args, &vis, union, token)
    })
    .await
}
