//! `/api/v1/predict/{tails,heads}`, `/api/v1/recommend`, `/api/v1/similar`: link prediction
//! over HTTP for recommender services.
//!
//! Read role suffices; admins additionally see entities of restricted graphs. Parameters come as
//! a query string (GET) or a JSON body (POST). The work runs on the blocking pool: an exact top-k
//! over a million rows is milliseconds of CPU that must not stall the async workers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppJson, AppQuery, AppState};
use crate::privacy::Role;
use crate::recommend::{Answer, RecommendError, Service};

fn default_k() -> usize {
    10
}

/// Parameters of every link-prediction call (each route uses its own subset).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    head: Option<String>,
    tail: Option<String>,
    relation: Option<String>,
    user: Option<String>,
    entity: Option<String>,
    #[serde(default = "default_k")]
    k: usize,
    /// Keep only candidates of the relation's range class.
    #[serde(default)]
    constrain: bool,
}

/// The link-prediction service, or why there is none.
fn service(state: &AppState) -> Result<Arc<Service>, ApiError> {
    state
        .app()
        .link_prediction()
        .cloned()
        .ok_or_else(|| ApiError::unavailable("link prediction is not configured on this server"))
}

fn need<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("missing parameter {name:?}")))
}

#[derive(Clone, Copy)]
pub(super) enum Route {
    Tails,
    Heads,
    Recommend,
    Similar,
}

async fn run(
    state: AppState,
    headers: HeaderMap,
    route: Route,
    p: Params,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Read, "link prediction")?;
    let service = service(&state)?;
    let vis = who.visibility();
    // Validate before queueing work.
    match route {
        Route::Tails => {
            need(&p.head, "head")?;
            need(&p.relation, "relation")?;
        }
        Route::Heads => {
            need(&p.tail, "tail")?;
            need(&p.relation, "relation")?;
        }
        Route::Recommend => {
            need(&p.user, "user")?;
        }
        Route::Similar => {
            need(&p.entity, "entity")?;
        }
    }
    let answer: Answer = tokio::task::spawn_blocking(move || {
        let r = |v: &Option<String>| v.clone().unwrap_or_default();
        match route {
            Route::Tails => service.tails(&r(&p.head), &r(&p.relation), p.k, p.constrain, &vis),
            Route::Heads => service.heads(&r(&p.tail), &r(&p.relation), p.k, p.constrain, &vis),
            Route::Recommend => service.recommend(&r(&p.user), p.k, &vis),
            Route::Similar => service.similar(&r(&p.entity), p.k, &vis),
        }
    })
    .await??;
    Ok(Json(answer).into_response())
}

macro_rules! handlers {
    ($get:ident, $post:ident, $route:expr) => {
        pub(super) async fn $get(
            State(state): State<AppState>,
            headers: HeaderMap,
            params: Result<AppQuery<Params>, ApiError>,
        ) -> Result<Response, ApiError> {
            let AppQuery(p) = params?;
            run(state, headers, $route, p).await
        }

        pub(super) async fn $post(
            State(state): State<AppState>,
            headers: HeaderMap,
            body: Result<AppJson<Params>, ApiError>,
        ) -> Result<Response, ApiError> {
            let AppJson(p) = body?;
            run(state, headers, $route, p).await
        }
    };
}

handlers!(get_tails, post_tails, Route::Tails);
handlers!(get_heads, post_heads, Route::Heads);
handlers!(get_recommend, post_recommend, Route::Recommend);
handlers!(get_similar, post_similar, Route::Similar);

/// `GET /api/v1/predict/model`: which model answers.
pub(super) async fn model(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.authorize(&headers, Role::Read, "link prediction")?;
    let service = service(&state)?;
    let info = service
        .model_info()
        .ok_or_else(|| RecommendError::NoModel(service.path().to_path_buf()))?;
    Ok(Json(info).into_response())
}
