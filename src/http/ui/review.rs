//! The review queue: `/ui/review`. Machine labels waiting for a person, each with its product's
//! title and the labelled span marked, decided with the keyboard (A accept, R reject, J/K move)
//! by callers with the write role through the same `POST /api/v1/labels/{id}/{decision}` the
//! API offers — the page's script sends the session's CSRF token. Admins also see the
//! quarantine with its reasons and the ingest runs with their counts; for anyone else those
//! sections are not rendered at all (and the quarantine graph is invisible to their queries
//! anyway).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::explore::{entity_url, label_view, LabelView};
use super::tables::{named_table, TableView};
use super::{chrome, page, Chrome};
use crate::http::AppState;
use crate::privacy::Role;

/// The most labels one page of the queue holds (decide them, reload for the next ones).
const QUEUE: usize = 50;

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    chrome: Chrome,
    labels: Vec<LabelView>,
    can_write: bool,
    admin: bool,
    tables: Vec<TableView>,
}

impl ReviewPage {
    fn product_url(&self, iri: &str) -> String {
        entity_url(iri)
    }
}

/// `GET /ui/review`.
pub(crate) async fn review_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (chrome, who) = match chrome(&state, &headers, &uri, "review") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let vis = who.visibility();
    let app = std::sync::Arc::clone(state.app());
    let labels = match state
        .run_blocking(None, {
            let vis = vis.clone();
            move || app.labels(Some("review"), None, QUEUE, &vis)
        })
        .await
    {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    // The quarantine and ingest runs: admins, and tokens granted restricted data (each table
    // reads through the caller's visibility).
    let tables = if vis.is_admin() || vis.grants().is_some() {
        vec![
            named_table(&state, "quarantine", Vec::new(), &vis).await,
            named_table(&state, "ingest-runs", Vec::new(), &vis).await,
        ]
    } else {
        Vec::new()
    };
    page(
        StatusCode::OK,
        &ReviewPage {
            labels: labels.into_iter().map(label_view).collect(),
            can_write: who.role() >= Role::Write,
            admin: vis.is_admin(),
            tables,
            chrome,
        },
    )
}
