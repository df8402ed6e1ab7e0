//! One data asset as the workbench's asset page shows it: its description, every column's
//! profile (types, null rate, distinct count, top values, quantiles and other measurements of
//! the scan that profiled it), semantic types with their confidence and evidence, personal-data
//! flags.
//!
//! Read through the caller's visibility with the queries in `app/queries/`; an asset the caller
//! cannot see reads as unknown. Top values of a personal-data column are never shown, even if a
//! store written by an older version still holds some (the scan scrubs them; this is the second
//! line).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{App, AppError};
use crate::catalog::NamedQuery;
use crate::catalog::Visibility;

/// The asset's own description (a row of `asset-detail.rq`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetInfo {
    pub name: String,
    pub location: String,
    pub source: String,
    pub source_name: Option<String>,
    pub rows: u64,
    pub format: Option<String>,
    pub bytes: Option<u64>,
    pub kind: Option<String>,
    pub kind_confidence: Option<f64>,
    pub reasons: Option<String>,
    pub scan: Option<String>,
    pub scanned_at: Option<String>,
    pub error: Option<String>,
}

/// One column with its profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnInfo {
    pub c: String,
    pub i: u64,
    pub name: String,
    pub physical: String,
    pub declared: Option<String>,
    pub semantic: String,
    pub confidence: Option<f64>,
    pub pii: Option<String>,
    pub null_rate: f64,
    pub distinct: u64,
    pub description: Option<String>,
    /// The semantic type's evidence, one item per reason.
    #[serde(default, deserialize_with = "split_evidence")]
    pub evidence: Vec<String>,
    #[serde(skip)]
    pub top: Vec<(String, u64)>,
    /// Metric local name (`P05`, `Median`, `Mean`, …) → value, from the profiling scan.
    #[serde(skip)]
    pub measures: BTreeMap<String, String>,
}

fn split_evidence<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.unwrap_or_default()
        .split('\u{1F}')
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect())
}

/// A row of `asset-profiles.rq`: a top value or a measurement.
#[derive(Deserialize)]
struct ProfileRow {
    c: String,
    value: Option<String>,
    count: Option<u64>,
    metric: Option<String>,
    measured: Option<serde_json::Value>,
}

/// Everything the asset page shows.
#[derive(Debug, Clone)]
pub struct AssetDetail {
    pub iri: String,
    pub info: AssetInfo,
    pub columns: Vec<ColumnInfo>,
}

impl App {
    /// The asset page's data for `iri`; `None` when the caller sees no such asset (its history
    /// is the public named query `asset-history`). Blocking.
    pub fn asset_detail(
        &self,
        iri: &str,
        vis: &Visibility,
    ) -> Result<Option<AssetDetail>, AppError> {
        let q = |name: &str, text: &str| NamedQuery::parse(name, text);
        let detail = q("asset-detail", include_str!("queries/asset-detail.rq"))?;
        let args = [("asset", iri)];
        let Some(info) = self
            .catalog
            .query_rows::<AssetInfo>(&detail, &args, vis)?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let cols = q("asset-columns", include_str!("queries/asset-columns.rq"))?;
        let mut columns: Vec<ColumnInfo> = self.catalog.query_rows(&cols, &args, vis)?;
        let profiles = q("asset-profiles", include_str!("queries/asset-profiles.rq"))?;
        let rows: Vec<ProfileRow> = self.catalog.query_rows(&profiles, &args, vis)?;
        let by_iri: BTreeMap<String, usize> = columns
            .iter()
            .enumerate()
            .map(|(k, c)| (c.c.clone(), k))
            .collect();
        for r in rows {
            let Some(col) = by_iri.get(&r.c).map(|k| &mut columns[*k]) else {
                continue;
            };
            if let (Some(v), Some(n)) = (r.value, r.count) {
                if col.pii.is_none() {
                    col.top.push((v, n));
                }
            } else if let (Some(m), Some(v)) = (r.metric, r.measured) {
                let local = m.rsplit(['#', '/']).next().unwrap_or(&m).to_owned();
                let text = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => match n.as_f64() {
                        Some(f) if f.fract() != 0.0 => format!("{f:.4}"),
                        _ => n.to_string(),
                    },
                    other => other.to_string(),
                };
                if col.pii.is_some() && matches!(local.as_str(), "MinValue" | "MaxValue") {
                    continue;
                }
                col.measures.insert(local, text);
            }
        }
        Ok(Some(AssetDetail {
            iri: iri.to_owned(),
            info,
            columns,
        }))
    }
}
