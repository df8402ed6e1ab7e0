//! `/store`: the SPARQL 1.1 Graph Store HTTP Protocol, with both ways of naming a graph:
//! indirect (`/store?default`, `/store?graph=IRI`) and direct (`/store/some/path`: the graph whose
//! IRI is the request URL, `http://{Host}/store/some/path`, so graphs a client creates under
//! the store are dereferenceable where it put them).
//!
//! Without a target, GET returns the whole visible dataset (N-Quads/TriG/JSON-LD) and POST adds a
//! dataset; PUT and DELETE need a target. Restricted graphs read as absent (404) for non-admins and
//! refuse writes (403), whichever way they are named.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::negotiate::negotiate;
use super::sparql::{body_or_413, content_type, graph_candidates, respond};
use super::{ApiError, AppState};
use crate::catalog::{GraphFormat, GraphTarget, Serialized};
use crate::privacy::Role;

/// The request's graph: from the path under `/store/` (direct) or from the query (indirect).
fn target(headers: &HeaderMap, uri: &Uri) -> Result<Option<GraphTarget>, ApiError> {
    let path = uri.path();
    if path == "/store" || path == "/store/" {
        return indirect(uri.query());
    }
    if uri.query().is_some_and(|q| !q.is_empty()) {
        return Err(ApiError::BadRequest(format!(
            "{path} names its graph directly and takes no query parameters; use /store?graph=IRI \
             to name a graph by parameter"
        )));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest(
                "a direct graph URL needs a Host header (the graph IRI is the request URL)".into(),
            )
        })?;
    Ok(Some(GraphTarget::Named(format!("http://{host}{path}"))))
}

fn indirect(raw: Option<&str>) -> Result<Option<GraphTarget>, ApiError> {
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

async fn read(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<Response, ApiError> {
    let principal = state.authorize(headers, Role::Read, "reading graphs")?;
    let target = target(headers, uri)?;
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let vis = principal.visibility();
    let catalog = std::sync::Arc::clone(state.catalog());
    let s: Serialized = match target {
        Some(t) => {
            let format = negotiate(accept, &graph_candidates(&GraphFormat::GRAPH_CANDIDATES))?;
            let mut limits = state.limits();
            if vis.is_admin() {
                // Admins read whole graphs (backups); the timeout still applies.
                limits.max_rows = usize::MAX;
            }
            let cancel = crate::catalog::CancelToken::new();
            let token = cancel.clone();
            let what = label(&Some(t.clone()));
            // Admins and grantees read restricted graphs: audited.
            let op = if vis.is_admin() {
                Some("admin-read")
            } else {
                vis.grants().map(|_| "granted-read")
            };
            let work = move || catalog.read_graph(&t, format, &vis, limits, &token);
            if let Some(op) = op {
                state
                    .run_audited(&principal, op, &what, 0, Some(cancel), work)
                    .await?
            } else {
                state.run_blocking(Some(cancel), work).await?
            }
        }
        None => {
            // The whole dataset is built in memory: a backup, not a read. Others read one graph
            // (capped at max_result_rows) or query.
            if !vis.is_admin() {
                return Err(ApiError::Forbidden(
                    "a dump of the whole dataset needs the admin role; read one graph with \
                     ?graph=IRI or query /sparql"
                        .into(),
                ));
            }
            let format = negotiate(accept, &graph_candidates(&GraphFormat::DATASET_CANDIDATES))?;
            state
                .run_audited(&principal, "admin-dump", "dataset", 0, None, move || {
                    let mut body = Vec::new();
                    let rows = catalog.dump(None, format, &vis, &mut body)?;
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
    uri: Uri,
) -> Result<Response, ApiError> {
    read(&state, &headers, &uri).await
}

pub(super) async fn head_store(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let full = read(&state, &headers, &uri).await?;
    let (parts, _) = full.into_parts();
    Ok(Response::from_parts(parts, axum::body::Body::empty()))
}

/// The RDF documents of a write: the body itself, or each part of a `multipart/form-data` body
/// (GSP §5.5: the parts are merged into the graph), each with the format of its Content-Type.
async fn documents(
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Vec<(Bytes, GraphFormat)>, ApiError> {
    if content_type(headers)?.as_deref() != Some("multipart/form-data") {
        return Ok(vec![(body, body_format(headers)?)]);
    }
    let bad = |e: multer::Error| ApiError::BadRequest(format!("multipart body: {e}"));
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(raw).map_err(bad)?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut out = Vec::new();
    while let Some(part) = parts.next_field().await.map_err(bad)? {
        let name = part
            .file_name()
            .or(part.name())
            .unwrap_or("(unnamed)")
            .to_owned();
        let media = part.content_type().ok_or_else(|| {
            ApiError::UnsupportedMediaType(format!(
                "multipart part '{name}' has no Content-Type; give each part an RDF media type"
            ))
        })?;
        if let Some(charset) = media.get_param(mime::CHARSET) {
            if charset != mime::UTF_8 {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "multipart part '{name}': charset '{charset}' is not supported; send UTF-8"
                )));
            }
        }
        let format = rdf_format(media.essence_str(), &format!("multipart part '{name}': "))?;
        out.push((part.bytes().await.map_err(bad)?, format));
    }
    if out.is_empty() {
        return Err(ApiError::BadRequest(
            "multipart body has no parts; send at least one RDF document".into(),
        ));
    }
    Ok(out)
}

fn body_format(headers: &HeaderMap) -> Result<GraphFormat, ApiError> {
    let ct = content_type(headers)?.ok_or_else(|| {
        ApiError::UnsupportedMediaType(
            "missing Content-Type; send an RDF media type such as text/turtle".into(),
        )
    })?;
    rdf_format(&ct, "")
}

/// The RDF format of a media type (`type/subtype`), or a 415 that starts with `context`.
fn rdf_format(media: &str, context: &str) -> Result<GraphFormat, ApiError> {
    GraphFormat::from_media_type(media).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "{context}'{media}' is not an RDF format we read; use text/turtle, \
             application/n-triples, application/n-quads, application/trig, application/rdf+xml \
             or application/ld+json"
        ))
    })
}

async fn write(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    body: Result<Bytes, BytesRejection>,
    replace: bool,
) -> Result<Response, ApiError> {
    let principal = state.authorize(headers, Role::Write, "changing graphs")?;
    let body = body_or_413(body)?;
    let target = target(headers, uri)?;
    let size = body.len();
    let documents = documents(headers, body).await?;
    let vis = principal.visibility();
    let catalog = std::sync::Arc::clone(state.catalog());
    let what = label(&target);
    let op = if replace { "gsp-put" } else { "gsp-post" };
    let created = match target {
        Some(t) => {
            state
                .run_audited(&principal, op, &what, size, None, move || {
                    catalog.write_graph(&t, &documents, None, &vis, replace)
                })
                .await?
        }
        None if replace => {
            return Err(ApiError::BadRequest(
                "PUT needs a target: ?default, ?graph=IRI or a graph URL under /store/".into(),
            ))
        }
        None if documents.len() == 1 && documents[0].1.supports_datasets() => {
            state
                .run_audited(&principal, op, &what, size, None, move || {
                    let (body, format) = &documents[0];
                    catalog
                        .add_dataset(body, *format, None, &vis)
                        .map(|_| false)
                })
                .await?
        }
        None => {
            // POST of a graph to the store itself: a new graph, named by us (GSP §5.5).
            let iri = state
                .run_audited(
                    &principal,
                    "gsp-post-create",
                    "new graph",
                    size,
                    None,
                    move || catalog.create_graph(&documents, None),
                )
                .await?;
            let mut r = StatusCode::CREATED.into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&iri) {
                r.headers_mut().insert(axum::http::header::LOCATION, v);
            }
            return Ok(r);
        }
    };
    Ok(match created {
        true => StatusCode::CREATED.into_response(),
        false => StatusCode::NO_CONTENT.into_response(),
    })
}

pub(super) async fn put_store(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    write(&state, &headers, &uri, body, true).await
}

pub(super) async fn post_store(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    write(&state, &headers, &uri, body, false).await
}

pub(super) async fn delete_store(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, Role::Write, "deleting graphs")?;
    let target = target(&headers, &uri)?
        .ok_or_else(|| ApiError::BadRequest("DELETE needs ?default or ?graph=IRI".into()))?;
    let vis = principal.visibility();
    let catalog = std::sync::Arc::clone(state.catalog());
    let what = label(&Some(target.clone()));
    state
        .run_audited(&principal, "gsp-delete", &what, 0, None, move || {
            catalog.delete_graph(&target, &vis)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
