//! `/sparql`: the SPARQL 1.1 Protocol — queries by GET, form POST and direct POST, updates by form
//! POST and direct POST, protocol datasets, content negotiation and the service description.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::negotiate::negotiate;
use super::{ApiError, AppState};
use crate::catalog::{
    CancelToken, Catalog, CatalogError, DatasetRequest, GraphFormat, OutputFormat, PreparedQuery,
    ResultsFormat, Serialized,
};
use crate::privacy::{Principal, Role};

/// Parameters of one protocol request, from the URL and (for form POSTs) the body.
#[derive(Default)]
struct Params {
    query: Vec<String>,
    update: Vec<String>,
    default_graphs: Vec<String>,
    named_graphs: Vec<String>,
    using_graphs: Vec<String>,
    using_named_graphs: Vec<String>,
    other: usize,
}

impl Params {
    fn add(&mut self, pairs: &[u8]) {
        for (k, v) in form_urlencoded::parse(pairs) {
            let v = v.into_owned();
            match k.as_ref() {
                "query" => self.query.push(v),
                "update" => self.update.push(v),
                "default-graph-uri" => self.default_graphs.push(v),
                "named-graph-uri" => self.named_graphs.push(v),
                "using-graph-uri" => self.using_graphs.push(v),
                "using-named-graph-uri" => self.using_named_graphs.push(v),
                _ => self.other += 1,
            }
        }
    }

    fn dataset(&self) -> DatasetRequest {
        DatasetRequest {
            default_graphs: self.default_graphs.clone(),
            named_graphs: self.named_graphs.clone(),
        }
    }

    fn using(&self) -> DatasetRequest {
        DatasetRequest {
            default_graphs: self.using_graphs.clone(),
            named_graphs: self.using_named_graphs.clone(),
        }
    }

    fn is_empty(&self) -> bool {
        self.query.is_empty()
            && self.update.is_empty()
            && self.default_graphs.is_empty()
            && self.named_graphs.is_empty()
    }
}

fn single(values: Vec<String>, what: &str) -> Result<String, ApiError> {
    match values.len() {
        1 => Ok(values.into_iter().next().unwrap_or_default()),
        0 => Err(ApiError::BadRequest(format!("missing '{what}' parameter"))),
        n => Err(ApiError::BadRequest(format!(
            "{n} '{what}' parameters given; send exactly one"
        ))),
    }
}

pub(super) fn body_or_413(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(
                "request body exceeds server.max_body_bytes; split the data or use \
                 'stocktake load' for bulk loads"
                    .into(),
            )
        } else {
            ApiError::BadRequest(format!("cannot read request body: {e}"))
        }
    })
}

/// The essence (`type/subtype`) of the request's Content-Type; 415 on a non-UTF-8 charset.
pub(super) fn content_type(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("Content-Type is not ASCII".into()))?;
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    for p in parts {
        if let Some((k, v)) = p.split_once('=') {
            let v = v.trim().trim_matches('"').to_ascii_lowercase();
            if k.trim().eq_ignore_ascii_case("charset") && v != "utf-8" && v != "utf8" {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "charset '{v}' is not supported; send UTF-8"
                )));
            }
        }
    }
    Ok(Some(essence))
}

fn utf8(body: &[u8], what: &str) -> Result<String, ApiError> {
    String::from_utf8(body.to_vec())
        .map_err(|e| ApiError::BadRequest(format!("{what} is not valid UTF-8: {e}")))
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

pub(super) fn results_candidates() -> Vec<(ResultsFormat, &'static str, &'static [&'static str])> {
    ResultsFormat::CANDIDATES
        .iter()
        .map(|f| (*f, f.media_type(), f.aliases()))
        .collect()
}

pub(super) fn graph_candidates(
    list: &[GraphFormat],
) -> Vec<(GraphFormat, &'static str, &'static [&'static str])> {
    list.iter()
        .map(|f| (*f, f.media_type(), f.aliases()))
        .collect()
}

/// Wraps serialized bytes in a response with content type and truncation headers.
pub(super) fn respond(s: Serialized) -> Response {
    let mut r = (
        [
            (header::CONTENT_TYPE, s.media_type),
            (header::VARY, "Accept"),
        ],
        s.body,
    )
        .into_response();
    if s.truncated {
        let h = r.headers_mut();
        h.insert("x-stocktake-truncated", HeaderValue::from_static("true"));
        if let Ok(v) = HeaderValue::from_str(&s.rows.to_string()) {
            h.insert("x-stocktake-rows", v);
        }
        tracing::warn!(rows = s.rows, "result cut at server.max_result_rows");
    }
    r
}

pub(super) async fn get_sparql(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::default();
    params.add(raw.as_deref().unwrap_or("").as_bytes());
    if !params.update.is_empty() {
        return Err(ApiError::BadRequest(
            "updates must be sent by POST (form or application/sparql-update)".into(),
        ));
    }
    if params.is_empty() && super::ui::wants_page(&headers) {
        return Ok(super::ui::query_page(state, headers, uri).await);
    }
    let principal = state.authorize(&headers, Role::Read, "querying")?;
    if params.is_empty() {
        return service_description(&state, &headers, &uri, &principal).await;
    }
    let query = single(params.query.clone(), "query")?;
    run_query(
        &state,
        &principal,
        query,
        params.dataset(),
        accept(&headers),
    )
    .await
}

pub(super) async fn post_sparql(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_413(body)?;
    let mut params = Params::default();
    params.add(raw.as_deref().unwrap_or("").as_bytes());
    let ct = content_type(&headers)?;
    match ct.as_deref() {
        Some("application/x-www-form-urlencoded") => {
            utf8(&body, "form body")?;
            params.add(&body);
            match (params.query.is_empty(), params.update.is_empty()) {
                (false, true) => {
                    let principal = state.authorize(&headers, Role::Read, "querying")?;
                    let query = single(params.query.clone(), "query")?;
                    run_query(
                        &state,
                        &principal,
                        query,
                        params.dataset(),
                        accept(&headers),
                    )
                    .await
                }
                (true, false) => {
                    let update = single(params.update.clone(), "update")?;
                    run_update(&state, &headers, update, params.using()).await
                }
                (false, false) => Err(ApiError::BadRequest(
                    "send either 'query' or 'update', not both".into(),
                )),
                (true, true) => Err(ApiError::BadRequest(
                    "form body has neither 'query' nor 'update'".into(),
                )),
            }
        }
        Some("application/sparql-query") => {
            if !params.query.is_empty() || !params.update.is_empty() {
                return Err(ApiError::BadRequest(
                    "a direct POST carries the query in the body; remove 'query'/'update' from \
                     the URL"
                        .into(),
                ));
            }
            let principal = state.authorize(&headers, Role::Read, "querying")?;
            let query = utf8(&body, "query")?;
            run_query(
                &state,
                &principal,
                query,
                params.dataset(),
                accept(&headers),
            )
            .await
        }
        Some("application/sparql-update") => {
            if !params.query.is_empty() || !params.update.is_empty() {
                return Err(ApiError::BadRequest(
                    "a direct POST carries the update in the body; remove 'query'/'update' from \
                     the URL"
                        .into(),
                ));
            }
            let update = utf8(&body, "update")?;
            run_update(&state, &headers, update, params.using()).await
        }
        Some(other) => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type '{other}' is not accepted at /sparql; use \
             application/x-www-form-urlencoded, application/sparql-query or \
             application/sparql-update"
        ))),
        None => Err(ApiError::UnsupportedMediaType(
            "missing Content-Type; use application/x-www-form-urlencoded, \
             application/sparql-query or application/sparql-update"
                .into(),
        )),
    }
}

async fn run_query(
    state: &AppState,
    principal: &Principal,
    query: String,
    dataset: DatasetRequest,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    let max = state.config().server.max_query_bytes;
    if query.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "the query is {} bytes; this server accepts queries of at most {max} bytes \
             ([server] max_query_bytes)",
            query.len()
        )));
    }
    let vis = principal.visibility();
    let union = state.config().catalog.union_default_graph;
    // Relative IRIs in queries resolve against the configured base.
    let base = state.config().catalog.base_iri.clone();
    answer(
        state,
        principal,
        "/sparql",
        accept,
        move |catalog, token| {
            catalog.prepare_query(&query, Some(&base), &dataset, &vis, union, token)
        },
    )
    .await
}

/// Prepares a query on the blocking pool, picks the response format for its form, evaluates it
/// under the limits and wraps the bytes in a response. Shared by `/sparql` and `/queries`.
///
/// Admins read restricted graphs and PII evidence, and grantees the part of them their token
/// names, so each of their queries is audited (op `admin-read` or `granted-read`, by the
/// evaluating thread, with its outcome).
pub(super) async fn answer(
    state: &AppState,
    principal: &Principal,
    what: &str,
    accept: Option<&str>,
    prepare: impl FnOnce(&Catalog, &CancelToken) -> Result<PreparedQuery, CatalogError> + Send + 'static,
) -> Result<Response, ApiError> {
    let results = negotiate(accept, &results_candidates());
    let graph = negotiate(accept, &graph_candidates(&GraphFormat::GRAPH_CANDIDATES));
    let limits = state.limits();
    let catalog = std::sync::Arc::clone(state.catalog());
    let cancel = CancelToken::new();
    let token = cancel.clone();
    let op = if principal.is_admin() {
        Some("admin-read")
    } else if principal.visibility().grants().is_some() {
        Some("granted-read")
    } else {
        None
    };
    let audit = op.map(|op| (state.clone(), principal.clone(), what.to_owned(), op));
    let outcome = state
        .evaluate(cancel, move || {
            let result = (|| {
                let prepared = prepare(&catalog, &token)?;
                let format = if prepared.form().returns_graph() {
                    graph.map(OutputFormat::Graph)
                } else {
                    results.map(OutputFormat::Results)
                };
                match format {
                    Ok(f) => catalog.execute_query(prepared, f, limits).map(Ok),
                    Err(e) => Ok(Err(e)),
                }
            })();
            if let Some((state, who, what, op)) = audit {
                let outcome = match &result {
                    Ok(Ok(s)) => format!("ok {} rows", s.rows),
                    Ok(Err(e)) => e.audit_outcome(),
                    Err(e) => ApiError::from_catalog(e).audit_outcome(),
                };
                state.audit(&who, op, &what, &outcome, 0);
            }
            result
        })
        .await?;
    Ok(respond(outcome?))
}

async fn run_update(
    state: &AppState,
    headers: &HeaderMap,
    update: String,
    using: DatasetRequest,
) -> Result<Response, ApiError> {
    let principal = state.authorize(headers, Role::Write, "SPARQL update")?;
    let vis = principal.visibility();
    let catalog = std::sync::Arc::clone(state.catalog());
    let limits = state.limits();
    let cancel = CancelToken::new();
    let token = cancel.clone();
    let size = update.len();
    let base = state.config().catalog.base_iri.clone();
    state
        .run_audited(
            &principal,
            "sparql-update",
            "/sparql",
            size,
            Some(cancel),
            move || {
                let prepared =
                    catalog.prepare_update(&update, Some(&base), &using, &vis, &token)?;
                catalog.execute_update(prepared, limits)
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn service_description(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    principal: &Principal,
) -> Result<Response, ApiError> {
    let format = negotiate(
        accept(headers),
        &graph_candidates(&GraphFormat::GRAPH_CANDIDATES),
    )?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let endpoint = format!("http://{host}{}", uri.path());
    let vis = principal.visibility();
    let catalog = std::sync::Arc::clone(state.catalog());
    let s = state
        .run_blocking(None, move || {
            catalog.service_description(&endpoint, format, &vis)
        })
        .await?;
    Ok(respond(s))
}
