//! `/metrics` (Prometheus text format, read role) and the middleware that counts every request.
//!
//! Requests are labelled by their route *template* (`/queries/{name}`, not the path), so the
//! number of series stays bounded whatever clients send; unmatched paths share one label.
//! Store gauges are read at scrape time: triples per graph are counted again only when the
//! catalog was written since the last scrape (or a minute has passed), because counting walks
//! the store.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::privacy::Role;

/// Counts and times one request.
pub(super) async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16().to_string();
    if route == "/sparql" || route == "/queries/{name}" {
        metrics::histogram!("stocktake_sparql_duration_seconds", "route" => route.clone())
            .record(secs);
    }
    metrics::histogram!("stocktake_http_request_duration_seconds", "route" => route.clone(), "method" => method.clone())
        .record(secs);
    metrics::counter!("stocktake_http_requests_total", "route" => route, "method" => method, "status" => status)
        .increment(1);
    resp
}

/// Triple counts per graph from the last count, with the catalog generation they were read at.
type Counts = (u64, Instant, Vec<(String, usize)>);

fn cache() -> &'static Mutex<Option<Counts>> {
    static CACHE: std::sync::OnceLock<Mutex<Option<Counts>>> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn dir_size(p: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(p) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// `GET /metrics`.
pub(super) async fn get_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Read, "the metrics")?;
    let vis = who.visibility();
    let catalog = Arc::clone(state.catalog());
    let data = state.config().data.clone();
    let text = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        let generation = catalog.generation();
        let mut cached = cache().lock().unwrap_or_else(|p| p.into_inner());
        let fresh = cached
            .as_ref()
            .is_some_and(|(g, at, _)| *g == generation && at.elapsed() < Duration::from_secs(60));
        if !fresh {
            *cached = Some((generation, Instant::now(), catalog.list_graphs(&crate::catalog::Visibility::ADMIN)?));
        }
        let layout = catalog.layout();
        let names: Vec<(&str, String)> = layout
            .all()
            .iter()
            .map(|(n, iri)| (*n, iri.as_str().to_string()))
            .collect();
        let restricted = catalog.restricted_graphs()?;
        let hidden = catalog.hidden_graphs(&vis)?;
        // Triples per graph are written here, from the current list and for this caller, not
        // kept in the process-wide recorder: a gauge there would outlive the graph (or its
        // becoming restricted) and reach every later caller. Non-admins do not learn how much
        // a restricted graph they are not granted holds.
        let mut per_graph = String::from(
            "# HELP stocktake_store_triples Triples (quads) per named graph the caller may see, read when scraped\n\
             # TYPE stocktake_store_triples gauge\n",
        );
        for (iri, n) in cached.as_ref().map(|c| c.2.as_slice()).unwrap_or_default() {
            let is_restricted = restricted.iter().any(|g| g.as_str() == iri);
            if hidden.iter().any(|g| g.as_str() == iri) {
                continue;
            }
            // Known graphs by their short name; other restricted graphs are not named.
            let label = match names.iter().find(|(_, i)| i == iri) {
                Some((name, _)) => (*name).to_string(),
                None if is_restricted => "other-restricted".into(),
                None => iri.replace('\\', "\\\\").replace('"', "\\\""),
            };
            per_graph.push_str(&format!("stocktake_store_triples{{graph=\"{label}\"}} {n}\n"));
        }
        metrics::gauge!("stocktake_store_size_bytes").set(dir_size(&data) as f64);
        Ok(crate::telemetry::render() + &per_graph)
    })
    .await
    ??;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
