//! The HTTP server: axum only. Routes, shared state, authentication, limits and shutdown.
//!
//! Handlers are thin: they authenticate, negotiate, and hand the work to the catalog under a
//! concurrency bound and a timeout that cancels the evaluation — queries on the thread that read
//! the request ([`AppState::evaluate`]), everything else on the blocking pool
//! ([`AppState::run_blocking`]). `app()` builds the router without a socket so tests can drive it
//! directly; `serve()` binds it and shuts down gracefully on SIGTERM/Ctrl-C.

mod changes;
mod deadline;
mod error;
mod guard;
mod ingest;
mod inventory;
mod labels;
mod metrics;
mod negotiate;
mod ontology;
mod predict;
mod privacy;
mod queries;
mod search;
mod sparql;
mod stock;
mod store;
mod ui;
mod vault;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Semaphore;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
use error::{AppJson, AppQuery};

use crate::app::{App, AppError};
use crate::catalog::{Catalog, CatalogError, NamedQuery};
use crate::config::Config;
use crate::privacy::{Principal, TokenTable};

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    /// The use cases; handlers turn requests into calls on it.
    app: Arc<App>,
    /// Replaced when the configuration file's tokens change (see `follow_tokens`).
    tokens: std::sync::RwLock<Arc<TokenTable>>,
    queries: BTreeMap<String, NamedQuery>,
    permits: Arc<Semaphore>,
    /// Ingest runs started over HTTP.
    jobs: ingest::Jobs,
    /// Browsers signed in to the workbench.
    sessions: ui::session::Sessions,
}

impl AppState {
    /// The state of a server answering for `app`: its named queries loaded, its audit log open.
    pub fn new(app: Arc<App>) -> Result<Self, AppError> {
        let config = app.config();
        let tokens = std::sync::RwLock::new(Arc::new(TokenTable::new(&config.tokens)));
        let permits = Arc::new(Semaphore::new(config.server.max_concurrent_queries));
        let queries = app.named_queries()?;
        app.audit()?;
        Ok(Self {
            inner: Arc::new(Inner {
                tokens,
                queries: queries.into_iter().map(|q| (q.name.clone(), q)).collect(),
                permits,
                app,
                jobs: ingest::Jobs::default(),
                sessions: ui::session::Sessions::default(),
            }),
        })
    }

    fn app(&self) -> &Arc<App> {
        &self.inner.app
    }

    fn catalog(&self) -> &Arc<Catalog> {
        self.inner.app.catalog()
    }

    fn config(&self) -> &Config {
        self.inner.app.config()
    }

    /// The per-request limits of SPARQL evaluation.
    fn limits(&self) -> crate::catalog::Limits {
        self.inner.app.limits()
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.config().server.query_timeout_secs)
    }

    /// Runs blocking catalog work on the blocking pool, bounded by the concurrency limit and the
    /// query timeout; on timeout `cancel` stops the evaluation and the caller gets 503.
    async fn run_blocking<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
        &self,
        cancel: Option<crate::catalog::CancelToken>,
        work: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError> {
        let started = Instant::now();
        let timeout = self.timeout();
        let permit = self.permit(timeout).await?;
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        });
        let remaining = timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, handle).await {
            Ok(Ok(result)) => result.map_err(Into::into),
            Ok(Err(join)) => Err(join.into()),
            Err(_) => {
                if let Some(c) = cancel {
                    c.cancel();
                }
                Err(CatalogError::Timeout(timeout.as_secs()).into())
            }
        }
    }

    /// Evaluates a query under the concurrency bound and the query timeout, on the thread that
    /// read the request.
    ///
    /// Unlike [`AppState::run_blocking`], the work does not hop to the blocking pool and back:
    /// `block_in_place` hands this worker's other tasks to another thread and the evaluation runs
    /// here, so the response is written by the thread that computed it, as `oxigraph serve`
    /// does with its thread per request. The two cross-thread wake-ups saved are a measurable
    /// share of a short query's latency (BENCHMARKS.md, BSBM). The timeout cannot race the
    /// evaluation from here, so the [`deadline::Watchdog`] cancels its token at the deadline and
    /// Oxigraph stops at its next check. A panic in the evaluation becomes a 500, as it does
    /// on the blocking pool. On a current-thread runtime (tests driving the router directly)
    /// this falls back to [`AppState::run_blocking`].
    async fn evaluate<T: Send + 'static>(
        &self,
        cancel: crate::catalog::CancelToken,
        work: impl FnOnce() -> Result<T, CatalogError> + Send + 'static,
    ) -> Result<T, ApiError> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        if Handle::current().runtime_flavor() != RuntimeFlavor::MultiThread {
            return self.run_blocking(Some(cancel), work).await;
        }
        let started = Instant::now();
        let timeout = self.timeout();
        let permit = self.permit(timeout).await?;
        let deadline = deadline::Watchdog::global().cancel_at(cancel, started + timeout);
        let outcome = tokio::task::block_in_place(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        });
        drop(deadline);
        drop(permit);
        match outcome {
            Ok(result) => result.map_err(ApiError::from),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(ApiError::Internal(format!(
                    "query evaluation failed: {what}"
                )))
            }
        }
    }

    /// Like [`AppState::run_blocking`] for a write: the worker writes the audit entry when the
    /// work ends, so a write whose client hung up (the handler dropped at its `await`) is
    /// audited all the same, with its real outcome.
    async fn run_audited<T: Send + 'static>(
        &self,
        who: &Principal,
        op: &str,
        target: &str,
        size: usize,
        cancel: Option<crate::catalog::CancelToken>,
        work: impl FnOnce() -> Result<T, CatalogError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (state, who) = (self.clone(), who.clone());
        let (op, target) = (op.to_owned(), target.to_owned());
        self.run_blocking(cancel, move || {
            let result = work();
            let outcome = match &result {
                Ok(_) => "ok".to_owned(),
                Err(e) => ApiError::from_catalog(e).audit_outcome(),
            };
            state.audit(&who, &op, &target, &outcome, size);
            result
        })
        .await
    }

    /// One of the `max_concurrent_queries` evaluation slots, waiting at most `timeout`.
    async fn permit(
        &self,
        timeout: Duration,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        tokio::time::timeout(timeout, Arc::clone(&self.inner.permits).acquire_owned())
            .await
            .map_err(|_| {
                // A running query holds its slot until its own timeout at the most.
                ApiError::Unavailable {
                    message: format!(
                        "server busy: {} queries running and none finished within {} s; retry later",
                        self.config().server.max_concurrent_queries,
                        timeout.as_secs()
                    ),
                    retry_after: Some(timeout.as_secs()),
                }
            })?
            .map_err(|_| ApiError::unavailable("server is shutting down"))
    }

    fn audit(&self, who: &Principal, op: &str, target: &str, outcome: &str, size: usize) {
        match self.inner.app.audit() {
            Ok(log) => log.record(who.name(), who.role().as_str(), op, target, outcome, size),
            // Opened when the state was built: this cannot fail after.
            Err(e) => tracing::error!("audit log unavailable: {e}"),
        }
    }
}

/// The router with every route and layer.
pub fn app(state: AppState) -> Router {
    crate::telemetry::install();
    let body_limit = state.config().server.max_body_bytes;
    let graph_store = get(store::get_store)
        .head(store::head_store)
        .put(store::put_store)
        .post(store::post_store)
        .delete(store::delete_store);
    Router::new()
        .route("/sparql", get(sparql::get_sparql).post(sparql::post_sparql))
        // Indirect (`?graph=`) and direct (the URL is the graph's IRI) graph identification.
        .route("/store", graph_store.clone())
        .route("/store/{*path}", graph_store)
        .route("/queries", get(queries::list))
        .route("/queries/{name}", get(queries::run).post(queries::run_post))
        .route(
            "/api/v1/predict/tails",
            get(predict::get_tails).post(predict::post_tails),
        )
        .route(
            "/api/v1/predict/heads",
            get(predict::get_heads).post(predict::post_heads),
        )
        .route("/api/v1/predict/model", get(predict::model))
        .route(
            "/api/v1/recommend",
            get(predict::get_recommend).post(predict::post_recommend),
        )
        .route(
            "/api/v1/similar",
            get(predict::get_similar).post(predict::post_similar),
        )
        .route("/report", get(inventory::get_report))
        .route("/api/v1/report", get(inventory::api_report))
        .route(
            "/api/v1/sources",
            get(inventory::list_sources).post(inventory::post_source),
        )
        .route("/api/v1/ingest", get(ingest::list).post(ingest::start))
        .route("/api/v1/ingest/{job}", get(ingest::status))
        .route("/api/v1/changes", get(changes::list))
        .route("/ontology", get(ontology::docs))
        .route("/api/v1/ontology/plan", post(ontology::plan))
        .route("/api/v1/ontology/apply", post(ontology::apply))
        .route("/api/v1/stock/check", post(stock::check))
        .route("/api/v1/stock/proposals", get(stock::proposals))
        .route(
            "/api/v1/stock/proposals/{id}/{decision}",
            post(stock::decide),
        )
        .route("/api/v1/labels", get(labels::list))
        .route("/api/v1/labels/{id}/{decision}", post(labels::decide))
        .route("/api/v1/decrypt", post(vault::decrypt))
        .route("/api/v1/keys", get(vault::keys))
        .route("/api/v1/exports/anonymised", post(privacy::anonymised))
        .route(
            "/api/v1/dp/{dataset}",
            get(privacy::dp_get).post(privacy::dp_post),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::get_metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/vocabulary", get(ui::vocabulary))
        .route("/api/v1/search", get(search::api))
        .route("/ui/search", get(search::page))
        .route("/ui/entity", get(ui::entity_page))
        .route("/ui/asset", get(ui::asset_page))
        .route("/ui/taxonomy", get(ui::taxonomy_page))
        .route("/ui/review", get(ui::review_page))
        .route("/ui/changes", get(ui::changes_page))
        .route("/ui/models", get(ui::models_page))
        .route("/ui/ontology", get(ui::ontology_page))
        .route("/assets/{hash}/{*path}", get(ui::assets::serve))
        .route("/ui/catalog", get(ui::catalog_page))
        .route("/ui/login", get(ui::login_page).post(ui::login))
        .route("/ui/logout", post(ui::logout))
        .route("/ui/lang/{code}", get(ui::set_lang))
        .route("/", get(index))
        .fallback(|| async { ApiError::NotFound("no such endpoint; see / for the list".into()) })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ui::csrf_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::host_guard,
        ))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /healthz`: liveness and a store check. Without a valid token it says only healthy or
/// unhealthy (load balancers need no more); with one, the store's size or error too.
async fn healthz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let detailed = matches!(state.principal(&headers), Ok(p) if p != Principal::Anonymous);
    let catalog = Arc::clone(state.catalog());
    let outcome = tokio::task::spawn_blocking(move || catalog.len())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match (outcome, detailed) {
        (Ok(n), true) => {
            axum::Json(serde_json::json!({"status": "ok", "quads": n})).into_response()
        }
        (Ok(_), false) => axum::Json(serde_json::json!({"status": "ok"})).into_response(),
        (Err(e), true) => ApiError::unavailable(format!("store unavailable: {e}")).into_response(),
        (Err(e), false) => {
            tracing::error!("health check failed: {e}");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unhealthy"})),
            )
                .into_response()
        }
    }
}

/// `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 description, kept beside the router (a
/// test checks that every path and method it names is served, and that it names every endpoint
/// the index below lists — keep the index complete).
async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

/// `GET /`: the workbench for browsers, the endpoint index for everything else.
async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if ui::wants_page(&headers) {
        return ui::home(state, headers, uri).await;
    }
    axum::Json(serde_json::json!({
        "service": "stocktake",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": {
            "/sparql": "SPARQL 1.1 Protocol (query, update, service description)",
            "/store": "SPARQL 1.1 Graph Store Protocol (?default, ?graph=IRI)",
            "/store/{path}": "Graph Store Protocol, direct: the graph whose IRI is this URL",
            "/queries": "named queries from queries/*.rq",
            "/queries/{name}": "run a named query, parameters bound as RDF terms",
            "/api/v1/predict/model": "the served model: id, data snapshot, metrics",
            "/api/v1/predict/tails": "top-k tails of (head, relation) from the TransE model",
            "/api/v1/predict/heads": "top-k heads of (relation, tail)",
            "/api/v1/recommend": "items for a user along the configured relation",
            "/api/v1/similar": "entities nearest to an entity",
            "/api/v1/ingest": "start an ingest run (POST, write role) and follow it",
            "/api/v1/ingest/{job}": "an ingest job's status and run report",
            "/api/v1/labels": "machine labels waiting for review; accept or reject them",
            "/api/v1/labels/{id}/{decision}": "accept or reject a label (POST, write role)",
            "/api/v1/sources": "scan or rescan a source into the catalog (POST, write role); unchanged assets are skipped, changes recorded and alerted",
            "/api/v1/changes": "the change history: ?since=RFC3339&asset=&type=&limit=",
            "/ontology": "the ontology's documentation page (read role; RDF clients are sent to the graph store)",
            "/api/v1/ontology/plan": "what the server's ontology folder would change in the store, nothing written (POST, admin)",
            "/api/v1/ontology/apply": "the ontology change applied: data migrated, version recorded (POST, admin, audited)",
            "/api/v1/stock/check": "run a stock check now (POST, write role): forecast demand, assess stock, record and alert stock-out, stock-low, overstock, dead-stock, expiry-soon, expired",
            "/api/v1/stock/proposals": "replenishment proposals: ?status=proposed|accepted|rejected|withdrawn",
            "/api/v1/stock/proposals/{id}/{decision}": "accept or reject a replenishment proposal (POST, write role; an accepted one goes to the purchasing webhook)",
            "/report": "the inventory report (HTML or JSON)",
            "/api/v1/report": "the inventory report as JSON",
            "/healthz": "liveness and store check",
            "/metrics": "Prometheus metrics (read role)",
            "/api/v1/openapi.json": "this API as OpenAPI 3.1",
            "/api/v1/vocabulary": "prefixes, classes and properties of the ontology (query completion)",
            "/api/v1/search": "full-text search (Chinese and English) over names, titles and descriptions: ?q=&kind=&offset=&limit=",
            "/api/v1/decrypt": "open a subject's sealed values with a reason (POST, admin role; audited)",
            "/api/v1/keys": "the keyring's status (admin role)",
            "/api/v1/exports/anonymised": "a k-anonymous, l-diverse copy of a user-level file (POST, write role; recorded as PROV)",
            "/api/v1/dp/{dataset}": "differentially private counts, sums, means, histograms, top-k: ?epsilon=&group_by=&aggregate= (read role; spends the privacy budget)",
            "/": "this index (browsers get the workbench)"
        }
    }))
    .into_response()
}

/// Binds and serves until SIGTERM or Ctrl-C; in-flight requests finish, then the store is
/// flushed.
pub async fn serve(state: AppState, bind: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot bind {bind}: {e}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "serving");
    println!("stocktake listening on http://{addr}  (SPARQL at http://{addr}/sparql)");
    serve_listener(listener, state, shutdown_signal()).await
}

/// Serves on an already bound listener until `shutdown` completes, then flushes the store.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let catalog = Arc::clone(state.catalog());
    // The workbench's files are compressed once, before the first browser asks.
    tokio::task::spawn_blocking(ui::assets::warm);
    if let Some(service) = state.app().link_prediction().cloned() {
        tokio::spawn(follow_model(service));
    }
    tokio::spawn(follow_store(Arc::clone(state.app())));
    if let Some(path) = state.config().loaded_from.clone() {
        tokio::spawn(guard::follow_tokens(state.clone(), path));
    }
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("shutting down: flushing store");
    tokio::task::spawn_blocking(move || catalog.flush()).await??;
    Ok(())
}

/// Loads the link-prediction model and reloads it whenever the file changes (training replaces
/// it atomically), so a retrained model is swapped in while the server runs.
async fn follow_model(service: Arc<crate::recommend::Service>) {
    loop {
        let s = Arc::clone(&service);
        match tokio::task::spawn_blocking(move || s.refresh()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("link-prediction model not (re)loaded: {e}"),
            Err(e) => tracing::error!("model reload task failed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Keeps the search index in step with the store: once writes (ingest, scan, SPARQL update,
/// graph store) pause for a tick, the text is re-read and what changed rewritten; during a
/// long stream of writes, at least every few seconds. The first tick builds the index, so the
/// first search does not wait for it. The DP snapshot follows the store the same way.
async fn follow_store(app: Arc<App>) {
    const TICK: Duration = Duration::from_millis(250);
    const MAX_WAIT: Duration = Duration::from_secs(5);
    let mut seen = 0;
    let mut waiting_since: Option<Instant> = None;
    // The first DP snapshot is read now, in the background, not by the first DP query.
    app.dp_prime();
    loop {
        let now = app.catalog().generation();
        let behind = app
            .search_index()
            .map(|ix| ix.generation() != now)
            .unwrap_or(false);
        let quiet = now == seen;
        seen = now;
        let started = *waiting_since.get_or_insert_with(Instant::now);
        if behind && (quiet || started.elapsed() >= MAX_WAIT) {
            waiting_since = None;
            let a = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || a.sync_search()).await {
                Ok(Ok(Some(stats))) if stats.added + stats.updated + stats.removed > 0 => {
                    tracing::info!(
                        added = stats.added,
                        updated = stats.updated,
                        removed = stats.removed,
                        documents = stats.documents,
                        "search index updated"
                    );
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!("search index not updated: {e}"),
                Err(e) => tracing::error!("search index task failed: {e}"),
            }
        } else if !behind {
            waiting_since = None;
        }
        // Once writes settle, re-read the product graph for DP in the background (only where
        // DP was used), so the next DP query finds it current.
        if quiet && app.dp_refresh() {
            tracing::debug!("DP snapshot rebuild started");
        }
        tokio::time::sleep(TICK).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
