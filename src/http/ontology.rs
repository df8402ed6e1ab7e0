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

#[derive(Clone, Copy)]
enum DocsFormat {
    Html,
    Rdf,
}

/// `GET /ontology`: the ontology's documentation page for browsers (read role, through the
/// caller's visibility); RDF clients (Turtle, N-Triples, RDF/XML, JSON-LD) are sent on to the
/// ontology graph in the graph store (303), which serves every RDF format.
pub(super) async fn docs(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Read, "reading the ontology")?;
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = super::negotiate::negotiate(
        accept,
        &[
            (DocsFormat::Html, "text/html", &["application/xhtml+xml"]),
            (
                DocsFormat::Rdf,
                "text/turtle",
                &[
                    "application/n-triples",
                    "application/rdf+xml",
                    "application/ld+json",
                    "application/n-quads",
                ],
            ),
        ],
    )?;
    let app = std::sync::Arc::clone(state.app());
    if let DocsFormat::Rdf = format {
        let graph = app.catalog().layout().ontology.as_str().to_owned();
        let target = format!(
            "/store?graph={}",
            percent_encoding::utf8_percent_encode(&graph, percent_encoding::NON_ALPHANUMERIC)
        );
        return Ok((
            axum::http::StatusCode::SEE_OTHER,
            [
                (axum::http::header::LOCATION, target),
                (axum::http::header::VARY, "Accept".to_owned()),
            ],
        )
            .into_response());
    }
    let vis = who.visibility();
    let html = state
        .run_blocking(None, move || app.ontology_docs(&vis))
        .await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (axum::http::header::VARY, "Accept"),
        ],
        html,
    )
        .into_response())
}
