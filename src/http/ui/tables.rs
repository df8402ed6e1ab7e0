//! Pages made of named queries — models, the ontology (terms, shapes, latest SHACL results),
//! the admin half of the review queue (quarantine, ingest runs) — and the change timeline with
//! its alert deliveries.
//!
//! Each table is a query from `queries/` run through the caller's visibility with
//! [`Catalog::named_table`](crate::catalog::Catalog::named_table): the page shows what the same
//! query shows a SPARQL user, titled and described by its own header, IRIs linked to the
//! explorer. The ontology maintainers own those files; a page whose query was removed says
//! which one is missing instead of failing.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::explore::{compact, entity_url};
use super::{chrome, page, Chrome};
use crate::catalog::Table;
use crate::catalog::Visibility;
use crate::http::changes::{filter_of, ChangesQuery};
use crate::http::{ApiError, AppQuery, AppState};
use crate::monitor::EventKind;

/// The most rows a page table shows.
const ROWS: usize = 200;

/// One cell as shown: text, and a link for IRIs.
pub(super) struct CellView {
    pub text: String,
    pub href: Option<String>,
}

/// A named query's answer as a page section.
pub(super) struct TableView {
    pub name: String,
    pub title: String,
    pub description: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<CellView>>,
    pub more: bool,
    /// Why there is no table (query missing or failed).
    pub error: Option<String>,
}

fn view(name: &str, title: &str, description: &str, t: Table) -> TableView {
    TableView {
        name: name.to_owned(),
        title: title.to_owned(),
        description: description.to_owned(),
        columns: t.columns,
        rows: t
            .rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|c| CellView {
                        href: c.iri.then(|| entity_url(&c.text)),
                        text: if c.iri { compact(&c.text) } else { c.text },
                    })
                    .collect()
            })
            .collect(),
        more: t.more,
        error: None,
    }
}

/// Runs the named query `name` with `args` for a caller (admin or not) and shapes it for a
/// page. A missing query or a failure becomes the section's error, not the page's.
pub(super) async fn named_table(
    state: &AppState,
    name: &str,
    args: Vec<(&'static str, String)>,
    vis: &Visibility,
) -> TableView {
    let Some(q) = state.inner.queries.get(name).cloned() else {
        return TableView {
            name: name.to_owned(),
            title: name.to_owned(),
            description: String::new(),
            columns: Vec::new(),
            rows: Vec::new(),
            more: false,
            error: Some(format!(
                "the named query {name:?} is not loaded (queries/{name}.rq)"
            )),
        };
    };
    let catalog = Arc::clone(state.catalog());
    let query = q.clone();
    let vis = vis.clone();
    let got = state
        .run_blocking(None, move || {
            let a: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            catalog.named_table(&query, &a, &vis, ROWS)
        })
        .await;
    match got {
        Ok(t) => view(&q.name, &q.title, &q.description, t),
        Err(e) => TableView {
            name: q.name.clone(),
            title: q.title.clone(),
            description: q.description.clone(),
            columns: Vec::new(),
            rows: Vec::new(),
            more: false,
            error: Some(e.to_string()),
        },
    }
}

#[derive(Template)]
#[template(path = "tables.html")]
struct TablesPage {
    chrome: Chrome,
    heading: &'static str,
    intro: &'static str,
    /// The served model, on the models page.
    model: Option<String>,
    /// A further page (href, text): the ontology's documentation from the ontology page.
    link: Option<(&'static str, &'static str)>,
    tables: Vec<TableView>,
}

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    chrome: Chrome,
    since: String,
    asset: String,
    kind: String,
    kinds: Vec<&'static str>,
    events: Vec<crate::monitor::events::EventRecord>,
    error: Option<String>,
    deliveries: Vec<TableView>,
}

impl ChangesPage {
    fn asset_url(&self, iri: &str) -> String {
        entity_url(iri)
    }
}

/// `GET /ui/changes?since=&asset=&type=`: the change timeline, newest first, filtered as
/// `/api/v1/changes` filters (the same checks), and the alert deliveries.
pub(crate) async fn changes_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    q: Result<AppQuery<ChangesQuery>, ApiError>,
) -> Response {
    let (chrome, who) = match chrome(&state, &headers, &uri, "changes") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let q = match q {
        Ok(AppQuery(q)) => q,
        Err(e) => return e.into_response(),
    };
    let vis = who.visibility();
    let (events, error, status) = match filter_of(&q) {
        Ok(filter) => {
            let app = Arc::clone(state.app());
            match state
                .run_blocking(None, {
                    let vis = vis.clone();
                    move || app.changes(&filter, &vis)
                })
                .await
            {
                Ok(list) => (list, None, StatusCode::OK),
                Err(ApiError::BadRequest(m)) => (Vec::new(), Some(m), StatusCode::BAD_REQUEST),
                Err(ApiError::Forbidden(m)) => (Vec::new(), Some(m), StatusCode::FORBIDDEN),
                Err(e) => return e.into_response(),
            }
        }
        Err(ApiError::BadRequest(m)) => (Vec::new(), Some(m), StatusCode::BAD_REQUEST),
        Err(e) => return e.into_response(),
    };
    let deliveries = vec![named_table(&state, "alert-deliveries", Vec::new(), &vis).await];
    page(
        status,
        &ChangesPage {
            since: q.since.unwrap_or_default(),
            asset: q.asset.unwrap_or_default(),
            kind: q.kind.unwrap_or_default(),
            kinds: EventKind::ALL.iter().map(|k| k.name()).collect(),
            events,
            error,
            deliveries,
            chrome,
        },
    )
}

/// `GET /ui/models`: every model card with its metrics, and the served embedding.
pub(crate) async fn models_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (chrome, who) = match chrome(&state, &headers, &uri, "models") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let model = state
        .app()
        .link_prediction()
        .and_then(|s| s.model_info())
        .map(|m| serde_json::to_string_pretty(&m).unwrap_or_default());
    let tables = vec![
        named_table(
            &state,
            "models",
            vec![("metric", String::new())],
            &who.visibility(),
        )
        .await,
    ];
    let t = chrome.t;
    page(
        StatusCode::OK,
        &TablesPage {
            heading: t.nav_models,
            intro: t.models_intro,
            model,
            link: None,
            tables,
            chrome,
        },
    )
}

/// `GET /ui/ontology`: vocabulary terms, SHACL shapes and the latest validation results.
pub(crate) async fn ontology_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (chrome, who) = match chrome(&state, &headers, &uri, "ontology") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let vis = who.visibility();
    let lang = chrome.lang.code().to_owned();
    let tables = vec![
        named_table(&state, "vocabulary", vec![("lang", lang)], &vis).await,
        named_table(&state, "shapes", Vec::new(), &vis).await,
        named_table(&state, "shacl-results", Vec::new(), &vis).await,
    ];
    let t = chrome.t;
    page(
        StatusCode::OK,
        &TablesPage {
            heading: t.nav_ontology,
            intro: t.ontology_intro,
            model: None,
            link: Some(("/ontology", t.ontology_docs_link)),
            tables,
            chrome,
        },
    )
}
