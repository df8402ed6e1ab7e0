//! `/store`: the SPARQL 1.1 Graph Store HTTP Protocol (`?default`, `?graph=IRI`).
//!
//! Without a target, GET returns the whole visible dataset (N-Quads/TriG/JSON-LD) and POST adds a
//! dataset; PUT and DELETE need a target. Restricted graphs read as absent (404) for non-admins and
//! refuse writes (403).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::negotiate::negotiate;
use super::sparql::{body_or_413, content_type, graph_candidates, respond};
use super::{ApiError, AppState};
use crate::catalog::{GraphFormat, GraphTarget, Serialized};
use crate::privacy::{Principal, Role};

fn target(raw: Option<&str>) -> Result<Option<GraphTarget>, ApiError> {
    let (mut default, mut graphs) = (false, Vec::new());
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "default" => default = true,
            "graph" => graphs.push(v.into_owned()),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown parameter '{other}'; use ?default or ?graph=IRI"
                )))
            }
        }
    }
    match (default, graphs.len()) {
        (false, 0) => Ok(None),
        (true, 0) => Ok(Some(GraphTarget::Default)),
        (false, 1) => Ok(graphs.pop().map(GraphTarget::Named)),
        _ => Err(ApiError::BadRequest(
            "give exactly one of ?default or ?graph=IRI".into(),
        )),
    }
}

fn label(t: &Option<GraphTarget>) -> String {
    match t {
        None => "dataset".into(),
        Some(GraphTarget::Default) => "default graph".into(),
        Some(GraphTarget::Named(iri)) => format!("<{iri}>"),
    }
}

async fn read(
    state: &AppState,
    headers: &HeaderMap,
    raw: Option<&str>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(headers, Role::Read, "reading graphs")?;
    let target = target(raw)?;
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let admin = principal.is_admin();
    let catalog = std::sync::Arc::clone(state.catalog());
    let s: Serialized = match target {
        Some(t) => {
            let format = negotiate(accept, &graph_candidates(&GraphFormat::GRAPH_CANDIDATES))?;
            state
                .run_blocking(None, move || catalog.read_graph(&t, format, admin))
                .await?
        }
        None => {
            let format = negotiate(accept, &graph_candidates(&GraphFormat::DATASET_CANDIDATES))?;
            state
                .run_blocking(None, move || {
                    let mut body = Vec::new();
                    let rows = catalog.dump(None, format, admin, &mut body)?;
                    Ok(Serialized {
                        body,
                        media_type: format.media_type(),
                        rows,
                        truncated: false,
                    })
                })
                .await?
        }
    };
    Ok(respond(s))
}

pub(super) async fn get_store(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    read(&state, &headers, raw.as_deref()).await
}

pub(super) async fn head_store(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let full = read(&state, &headers, raw.as_deref()).await?;
    let (parts, _) = full.into_parts();
    Ok(Response::from_parts(parts, axum::body::Body::empty()))
}

fn body_format(headers: &HeaderMap) -> Result<GraphFormat, ApiError> {
    let ct = content_type(headers)?.ok_or_else(|| {
        ApiError::UnsupportedMediaType(
            "missing Content-Type; send an RDF media type such as text/turtle".into(),
        )
    })?;
    GraphFormat::from_media_type(&ct).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "'{ct}' is not an RDF format we read; use text/turtle, application/n-triples, \
             application/n-quads, application/trig, application/rdf+xml or application/ld+json"
        ))
    })
}

async fn write(
    state: &AppState,
    headers: &HeaderMap,
    raw: Option<&str>,
    body: Result<Bytes, BytesRejection>,
    replace: bool,
) -> Result<Response, ApiError> {
    let principal = state.authorize(headers, Role::Write, "changing graphs")?;
    let body = body_or_413(body)?;
    let target = target(raw)?;
    let format = body_format(headers)?;
    let admin = principal.is_admin();
    let size = body.len();
    let catalog = std::sync::Arc::clone(state.catalog());
    let what = label(&target);
    let result = match target {
        Some(t) => {
            state
                .run_blocking(None, move || {
                    if replace {
                        catalog.replace_graph(&t, &body, format, None, admin)
                    } else {
                        catalog.add_to_graph(&t, &body, format, None, admin)
                    }
                })
                .await
        }
        None if replace => Err(ApiError::BadRequest(
            "PUT needs a target: ?default or ?graph=IRI".into(),
        )),
        None if format.supports_datasets() => {
            state
                .run_blocking(None, move || {
                    catalog
                        .add_dataset(&body, format, None, admin)
                        .map(|_| false)
                })
                .await
        }
        None => {
            // POST of a graph to the store itself: a new graph, named by us (GSP §5.5).
            let created = state
                .run_blocking(None, move || catalog.create_graph(&body, format, None))
                .await;
            audit(
                state,
                &principal,
                "gsp-post-create",
                "new graph",
                &created,
                size,
            );
            let iri = created?;
            let mut r = StatusCode::CREATED.into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&iri) {
                r.headers_mut().insert(axum::http::header::LOCATION, v);
            }
            return Ok(r);
        }
    };
    audit(
        state,
        &principal,
        if replace { "gsp-put" } else { "gsp-post" },
        &what,
        &result,
        size,
    );
    Ok(match result? {
        true => StatusCode::CREATED.into_response(),
        false => StatusCode::NO_CONTENT.into_response(),
    })
}

fn audit<T>(
    state: &AppState,
    who: &Principal,
    op: &str,
    target: &str,
    result: &Result<T, ApiError>,
    size: usize,
) {
    let outcome = match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("{} {e}", e.status().as_u16()),
    };
    state.audit(who, op, target, &outcome, size);
}

pub(super) async fn put_store(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    write(&state, &headers, raw.as_deref(), body, true).await
}

pub(super) async fn post_store(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    write(&state, &headers, raw.as_deref(), body, false).await
}

pub(super) async fn delete_store(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, Role::Write, "deleting graphs")?;
    let target = target(raw.as_deref())?
        .ok_or_else(|| ApiError::BadRequest("DELETE needs ?default or ?graph=IRI".into()))?;
    let admin = principal.is_admin();
    let catalog = std::sync::Arc::clone(state.catalog());
    let what = label(&Some(target.clone()));
    let result = state
        .run_blocking(None, move || catalog.delete_graph(&target, admin))
        .await;
    audit(&state, &principal, "gsp-delete", &what, &result, 0);
    result.map(|()| StatusCode::NO_CONTENT.into_response())
}
