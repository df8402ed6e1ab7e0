//! What a source looked like at one scan, in the few numbers change detection compares.
//!
//! The previous state is read back from the catalog, not kept in a side file: the catalog is the
//! truth, it survives restarts, and an asset a rescan skipped keeps the profile of the scan that
//! last read it (its `st:lastScan`), so "previous" always means "as last profiled". The new
//! state comes straight from the [`ScanReport`]; assets the rescan found unchanged take their
//! previous state, so they can never raise an event.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::catalog::{Catalog, CatalogError, NamedQuery, Visibility};
use crate::inventory::{AssetScan, Fingerprint, Known, ScanReport};

/// One column as change detection sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnState {
    pub name: String,
    /// Declared type when the source has one, else the physical type found.
    pub declared: Option<String>,
    pub physical: String,
    pub pii: Option<String>,
    pub null_rate: f64,
    pub distinct: u64,
    /// Numeric 5/25/50/75/95% quantiles.
    pub quantiles: Option<[f64; 5]>,
    /// Numeric minimum and maximum (the tails of the distribution).
    pub range: Option<(f64, f64)>,
    /// Top values and their counts (non-PII columns only).
    pub top: Vec<(String, u64)>,
    /// A key or identifier column: its values are labels, their distribution is not data (new
    /// ids are always larger), so it is never checked for drift.
    pub identifier: bool,
}

impl ColumnState {
    /// The type a consumer relies on: declared when there is one.
    pub fn type_name(&self) -> &str {
        self.declared.as_deref().unwrap_or(&self.physical)
    }
}

/// One asset as change detection sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetState {
    pub location: String,
    pub rows: u64,
    pub fingerprint: Fingerprint,
    /// The scan that last profiled it.
    pub scan: Option<String>,
    pub columns: Vec<ColumnState>,
}

/// A source at one scan: its assets by location.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceState {
    /// The scan this state is from (`None`: never scanned).
    pub scan: Option<String>,
    pub assets: BTreeMap<String, AssetState>,
}

impl SourceState {
    /// The fingerprints a rescan compares with.
    pub fn known(&self) -> Known {
        self.assets
            .iter()
            .map(|(l, a)| (l.clone(), a.fingerprint.clone()))
            .collect()
    }

    /// The state a new scan describes: profiled assets from `report`, unchanged ones as they
    /// were in `self` (with their refreshed fingerprint).
    pub fn after(&self, report: &ScanReport, scan: &str) -> SourceState {
        let assets = report
            .assets
            .iter()
            .map(|a| {
                let state = match (a.unchanged, self.assets.get(&a.location)) {
                    (true, Some(before)) => AssetState {
                        fingerprint: fingerprint(a),
                        ..before.clone()
                    },
                    _ => from_asset(a, scan),
                };
                (a.location.clone(), state)
            })
            .collect();
        SourceState {
            scan: Some(scan.to_string()),
            assets,
        }
    }
}

fn fingerprint(a: &AssetScan) -> Fingerprint {
    Fingerprint {
        size_bytes: a.size_bytes,
        modified: a.modified.clone(),
        content_hash: a.content_hash.clone(),
    }
}

fn parse_number(s: Option<&str>) -> Option<f64> {
    s.and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|x| x.is_finite())
}

/// An asset's state from a scan of it.
pub fn from_asset(a: &AssetScan, scan: &str) -> AssetState {
    AssetState {
        location: a.location.clone(),
        rows: a.rows,
        fingerprint: fingerprint(a),
        scan: Some(scan.to_string()),
        columns: a
            .scanned_columns
            .iter()
            .map(|c| {
                let p = &c.profile;
                let pii = c.semantic.kind.pii().map(|t| t.name().to_string());
                ColumnState {
                    name: p.name.clone(),
                    declared: p.declared.clone(),
                    physical: p.physical.name().to_string(),
                    null_rate: p.null_rate(),
                    distinct: p.distinct,
                    quantiles: p.quantiles,
                    range: p.quantiles.and_then(|_| {
                        Some((
                            parse_number(p.min.as_deref())?,
                            parse_number(p.max.as_deref())?,
                        ))
                    }),
                    top: if pii.is_some() {
                        Vec::new()
                    } else {
                        p.top.clone()
                    },
                    identifier: !c.keys.is_empty() || c.semantic.kind.name() == "id",
                    pii,
                }
            })
            .collect(),
    }
}

/// Reads the latest recorded state of the source named `source_iri` from the catalog graph:
/// its assets with their row counts and fingerprints, without columns (see [`load_columns`]).
/// Blocking.
pub fn load(catalog: &Catalog, source_iri: &str) -> Result<SourceState, CatalogError> {
    let args = [
        ("graph", catalog.layout().catalog.as_str()),
        ("source", source_iri),
    ];
    let mut state = SourceState::default();
    let scans: Vec<LastScan> = catalog.query_rows(
        &NamedQuery::parse("source-scan", include_str!("queries/source-scan.rq"))?,
        &args,
        &crate::catalog::Visibility::ADMIN,
    )?;
    let Some(last) = scans.into_iter().next() else {
        return Ok(state);
    };
    state.scan = Some(last.scan);
    let assets: Vec<AssetRow> = catalog.query_rows(
        &NamedQuery::parse("source-assets", include_str!("queries/source-assets.rq"))?,
        &args,
        &crate::catalog::Visibility::ADMIN,
    )?;
    for r in assets {
        state.assets.insert(
            r.loc.clone(),
            AssetState {
                location: r.loc,
                rows: r.rows,
                fingerprint: Fingerprint {
                    size_bytes: r.size,
                    modified: r.modified,
                    content_hash: r.hash,
                },
                scan: r.scan,
                columns: Vec::new(),
            },
        );
    }
    Ok(state)
}

/// A row of `queries/source-scan.rq`.
#[derive(Deserialize)]
struct LastScan {
    scan: String,
}

/// A row of `queries/source-assets.rq`.
#[derive(Deserialize)]
struct AssetRow {
    loc: String,
    rows: u64,
    scan: Option<String>,
    size: Option<u64>,
    modified: Option<String>,
    hash: Option<String>,
}

/// Adds the column states of the assets at `locations` (those a rescan profiled again: only
/// they can differ). Queried in batches so the cost follows what changed. Blocking.
pub fn load_columns(
    catalog: &Catalog,
    source_iri: &str,
    state: &mut SourceState,
    locations: &[String],
) -> Result<(), CatalogError> {
    let wanted: Vec<(String, String)> = locations
        .iter()
        .filter(|l| state.assets.contains_key(*l))
        .map(|l| {
            (
                crate::inventory::record::asset_iri(source_iri, l),
                l.clone(),
            )
        })
        .collect();
    for chunk in wanted.chunks(200) {
        let assets: Vec<String> = chunk.iter().map(|(a, _)| a.clone()).collect();
        let by_iri: HashMap<&str, &str> = chunk
            .iter()
            .map(|(a, l)| (a.as_str(), l.as_str()))
            .collect();
        load_chunk(catalog, &assets, &by_iri, state)?;
    }
    Ok(())
}

/// A row of `queries/asset-columns.rq`.
#[derive(Deserialize)]
struct ColumnRow {
    a: String,
    c: String,
    name: String,
    i: u64,
    phys: String,
    null: f64,
    distinct: u64,
    sem: String,
    decl: Option<String>,
    pii: Option<String>,
    key: Option<String>,
}

/// A row of `queries/column-measurements.rq`: values are numbers, or text for text columns'
/// minimum and maximum.
#[derive(Deserialize)]
struct MeasurementRow {
    c: String,
    metric: String,
    v: serde_json::Value,
}

/// A row of `queries/column-top-values.rq`.
#[derive(Deserialize)]
struct TopValueRow {
    c: String,
    v: String,
    n: u64,
}

fn load_chunk(
    catalog: &Catalog,
    assets: &[String],
    by_iri: &HashMap<&str, &str>,
    state: &mut SourceState,
) -> Result<(), CatalogError> {
    let graph = [("graph", catalog.layout().catalog.as_str())];
    // The three reads take the same graph and the same assets as `?a`.
    fn of_assets<T: serde::de::DeserializeOwned>(
        catalog: &Catalog,
        graph: &[(&str, &str)],
        assets: &[String],
        name: &str,
        text: &str,
    ) -> Result<Vec<T>, CatalogError> {
        catalog.query_rows_for(
            &NamedQuery::parse(name, text)?,
            graph,
            &Visibility::ADMIN,
            "a",
            assets,
        )
    }
    let mut columns: HashMap<String, (String, u64, ColumnState)> = HashMap::new();
    let found: Vec<ColumnRow> = of_assets(
        catalog,
        &graph,
        assets,
        "asset-columns",
        include_str!("queries/asset-columns.rq"),
    )?;
    for r in found {
        columns.insert(
            r.c,
            (
                r.a,
                r.i,
                ColumnState {
                    identifier: r.key.is_some() || r.sem == "id",
                    name: r.name,
                    declared: r.decl,
                    physical: r.phys,
                    pii: r.pii,
                    null_rate: r.null,
                    distinct: r.distinct,
                    ..ColumnState::default()
                },
            ),
        );
    }
    // Numeric measurements taken by the scan that last profiled each asset.
    let metrics = ["P05", "P25", "Median", "P75", "P95"];
    let mut quantiles: HashMap<String, [Option<f64>; 5]> = HashMap::new();
    let mut range: HashMap<String, (Option<f64>, Option<f64>)> = HashMap::new();
    let measured: Vec<MeasurementRow> = of_assets(
        catalog,
        &graph,
        assets,
        "column-measurements",
        include_str!("queries/column-measurements.rq"),
    )?;
    for r in measured {
        let metric = r.metric.rsplit('#').next().unwrap_or("").to_string();
        let v = match &r.v {
            serde_json::Value::Number(n) => n.as_f64().filter(|x| x.is_finite()),
            serde_json::Value::String(s) => parse_number(Some(s)),
            _ => None,
        };
        let Some(v) = v else {
            continue;
        };
        match metric.as_str() {
            "MinValue" => range.entry(r.c).or_default().0 = Some(v),
            "MaxValue" => range.entry(r.c).or_default().1 = Some(v),
            m => {
                if let Some(i) = metrics.iter().position(|x| *x == m) {
                    quantiles.entry(r.c).or_default()[i] = Some(v);
                }
            }
        }
    }
    let mut top: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    let tops: Vec<TopValueRow> = of_assets(
        catalog,
        &graph,
        assets,
        "column-top-values",
        include_str!("queries/column-top-values.rq"),
    )?;
    for r in tops {
        top.entry(r.c).or_default().push((r.v, r.n));
    }
    let mut ordered: Vec<(String, (String, u64, ColumnState))> = columns.into_iter().collect();
    ordered.sort_by(|a, b| (&a.1 .0, a.1 .1).cmp(&(&b.1 .0, b.1 .1)));
    for (iri, (asset, _, mut col)) in ordered {
        if let Some(q) = quantiles.get(&iri) {
            if q.iter().all(Option::is_some) {
                col.quantiles = Some(q.map(|x| x.unwrap_or_default()));
                col.range = match range.get(&iri) {
                    Some((Some(lo), Some(hi))) => Some((*lo, *hi)),
                    _ => None,
                };
            }
        }
        if let Some(mut t) = top.remove(&iri) {
            t.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            col.top = t;
        }
        if let Some(a) = by_iri
            .get(asset.as_str())
            .and_then(|l| state.assets.get_mut(*l))
        {
            a.columns.push(col);
        }
    }
    Ok(())
}
