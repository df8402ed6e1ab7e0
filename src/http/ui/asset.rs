//! The asset page: `/ui/asset?iri=…`, one scanned file or table with every column's profile.
//!
//! Columns show their types, null rate and distinct count, the semantic type with its
//! confidence and evidence, the personal-data flag, the top values as a bar chart (never for a
//! personal-data column) and the quantiles as a strip; below them the asset's scans and
//! changes. Read through the caller's visibility: an asset they cannot see is a 404.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::explore::entity_url;
use super::tables::{named_table, TableView};
use super::{chrome, page, Chrome};
use crate::app::{AssetInfo, ColumnInfo};
use crate::http::{ApiError, AppQuery, AppState};

/// One top value as a bar.
struct Bar {
    value: String,
    count: u64,
    /// Share of the column's rows, in percent (the bar's width).
    percent: f64,
}

/// One column as the page shows it.
struct ColumnView {
    col: ColumnInfo,
    bars: Vec<Bar>,
    /// (name, value) of the quantiles and other measurements, in a fixed order.
    measures: Vec<(&'static str, String)>,
}

/// Measurements shown, in order.
const MEASURES: [&str; 11] = [
    "MinValue",
    "P05",
    "P25",
    "Median",
    "P75",
    "P95",
    "MaxValue",
    "Mean",
    "StdDev",
    "MeanLength",
    "MaxLength",
];

fn column_view(col: ColumnInfo, rows: u64) -> ColumnView {
    let bars = col
        .top
        .iter()
        .map(|(v, n)| Bar {
            value: v.clone(),
            count: *n,
            percent: if rows == 0 {
                0.0
            } else {
                (*n as f64 * 100.0 / rows as f64).min(100.0)
            },
        })
        .collect();
    let measures = MEASURES
        .iter()
        .filter_map(|m| col.measures.get(*m).map(|v| (*m, v.clone())))
        .collect();
    ColumnView {
        bars,
        measures,
        col,
    }
}

#[derive(Template)]
#[template(path = "asset.html")]
struct AssetPage {
    chrome: Chrome,
    iri: String,
    info: AssetInfo,
    columns: Vec<ColumnView>,
    pii_columns: usize,
    tables: Vec<TableView>,
}

impl AssetPage {
    fn link(&self, iri: &str) -> String {
        entity_url(iri)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssetQuery {
    iri: String,
}

/// `GET /ui/asset?iri=…`.
pub(crate) async fn asset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    q: Result<AppQuery<AssetQuery>, ApiError>,
) -> Response {
    let (chrome, who) = match chrome(&state, &headers, &uri, "catalog") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let iri = match q {
        Ok(AppQuery(q)) => q.iri,
        Err(e) => return e.into_response(),
    };
    let app = std::sync::Arc::clone(state.app());
    let vis = who.visibility();
    let target = iri.clone();
    let detail = match state
        .run_blocking(None, {
            let vis = vis.clone();
            move || app.asset_detail(&target, &vis)
        })
        .await
    {
        Ok(Some(d)) => d,
        Ok(None) => {
            return ApiError::NotFound(format!("no asset <{iri}> that you can see")).into_response()
        }
        Err(e) => return e.into_response(),
    };
    let history = named_table(&state, "asset-history", vec![("asset", iri.clone())], &vis).await;
    let rows = detail.info.rows;
    let columns: Vec<ColumnView> = detail
        .columns
        .into_iter()
        .map(|c| column_view(c, rows))
        .collect();
    page(
        StatusCode::OK,
        &AssetPage {
            pii_columns: columns.iter().filter(|c| c.col.pii.is_some()).count(),
            iri,
            info: detail.info,
            columns,
            tables: vec![history],
            chrome,
        },
    )
}
