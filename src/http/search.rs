//! `/api/v1/search` and the workbench's search page: full-text search over names, titles and
//! descriptions (read role), through the caller's visibility.
//!
//! `GET /api/v1/search?q=手机 壳&kind=product&offset=0&limit=20` answers the matching entries
//! best first with the total count; every word must occur (as a substring, case and width
//! folded) in a name or description. Pages go as deep as `offset` asks, with no cap. The
//! answer says whether the index was behind the store (`stale`): the server's follower brings
//! it up to date within about a second of any write.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::ui::{self, Chrome};
use super::{ApiError, AppQuery, AppState};
use crate::app::SearchAnswer;
use crate::catalog::Visibility;
use crate::privacy::Role;

/// The most answers one page may ask for.
pub(super) const MAX_LIMIT: usize = 100;

/// Query of `GET /api/v1/search` and `/ui/search`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
    kind: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

impl SearchQuery {
    fn limit(&self) -> Result<usize, ApiError> {
        match self.limit.unwrap_or(20) {
            n @ 1..=MAX_LIMIT => Ok(n),
            n => Err(ApiError::BadRequest(format!(
                "limit={n}: give 1 to {MAX_LIMIT} (page on with offset)"
            ))),
        }
    }

    fn kind(&self) -> Option<String> {
        self.kind.clone().filter(|k| !k.is_empty())
    }
}

async fn run(
    state: &AppState,
    vis: &Visibility,
    q: &SearchQuery,
) -> Result<SearchAnswer, ApiError> {
    let limit = q.limit()?;
    let app = std::sync::Arc::clone(state.app());
    let (text, kind, offset) = (q.q.clone(), q.kind(), q.offset.unwrap_or(0));
    let vis = vis.clone();
    state
        .run_blocking(None, move || {
            app.search(&text, &vis, kind.as_deref(), offset, limit)
        })
        .await
}

/// `GET /api/v1/search`.
pub(super) async fn api(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<AppQuery<SearchQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let AppQuery(q) = q?;
    let who = state.authorize(&headers, Role::Read, "searching")?;
    let answer = run(&state, &who.visibility(), &q).await?;
    Ok(Json(serde_json::json!({
        "q": q.q,
        "offset": q.offset.unwrap_or(0),
        "total": answer.page.total,
        "stale": answer.stale,
        "hits": answer.page.hits,
    }))
    .into_response())
}

/// One answer as the page shows it.
pub(super) struct HitView {
    pub iri: String,
    pub label: String,
    pub other: String,
    pub kind: String,
    pub graph: String,
}

#[derive(askama::Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    kind: String,
    total: usize,
    offset: usize,
    limit: usize,
    hits: Vec<HitView>,
    error: Option<String>,
    stale: bool,
}

/// The kinds a search can be narrowed to (`catalog::TextEntry::kind`).
const KINDS: [&str; 8] = [
    "product", "brand", "category", "asset", "column", "source", "class", "property",
];

impl SearchPage {
    fn kinds(&self) -> Vec<(&'static str, bool)> {
        KINDS.iter().map(|k| (*k, self.kind == *k)).collect()
    }

    fn page_url(&self, offset: usize) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("q", &self.q);
        if !self.kind.is_empty() {
            s.append_pair("kind", &self.kind);
        }
        s.append_pair("offset", &offset.to_string());
        format!("/ui/search?{}", s.finish())
    }

    fn prev_url(&self) -> Option<String> {
        (self.offset > 0).then(|| self.page_url(self.offset.saturating_sub(self.limit)))
    }

    fn next_url(&self) -> Option<String> {
        (self.offset + self.limit < self.total).then(|| self.page_url(self.offset + self.limit))
    }
}

/// `GET /ui/search`.
pub(super) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    q: Result<AppQuery<SearchQuery>, ApiError>,
) -> Response {
    let (chrome, who) = match ui::chrome(&state, &headers, &uri, "search") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let q = match q {
        Ok(AppQuery(q)) => q,
        Err(e) => return e.into_response(),
    };
    let mut view = SearchPage {
        kind: q.kind().unwrap_or_default(),
        q: q.q.clone(),
        total: 0,
        offset: q.offset.unwrap_or(0),
        limit: q.limit.unwrap_or(20),
        hits: Vec::new(),
        error: None,
        stale: false,
        chrome,
    };
    if !q.q.trim().is_empty() {
        match run(&state, &who.visibility(), &q).await {
            Ok(answer) => {
                view.total = answer.page.total;
                view.stale = answer.stale;
                view.hits = answer
                    .page
                    .hits
                    .into_iter()
                    .map(|h| {
                        let (label, other) = ui::pick_label(&h.names, view.chrome.lang);
                        HitView {
                            label: label.unwrap_or_else(|| h.iri.clone()),
                            other: other.unwrap_or_default(),
                            iri: h.iri,
                            kind: h.kind,
                            graph: h.graph,
                        }
                    })
                    .collect();
            }
            Err(ApiError::BadRequest(m)) => view.error = Some(m),
            Err(e) => return e.into_response(),
        }
    }
    let status = if view.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    ui::page(status, &view)
}
