//! The inventory report (盘点报告), read back from the catalog: overview, sources, assets, PII
//! exposure, quality issues and changes since the previous scan — as JSON, or as one
//! self-contained HTML page (inline CSS and SVG, no scripts, no CDN) a manager can read at a
//! glance: bars of assets by kind and PII columns by type, and a null-rate heat map.
//!
//! The report is built from the catalog, not from a scan in memory, so it covers every source
//! ever scanned and shows exactly what SPARQL users see.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::catalog::Visibility;
use crate::catalog::{Catalog, CatalogError, NamedQuery};

/// Columns above this null rate are reported as a quality issue.
pub const NULL_RATE_ISSUE: f64 = 0.5;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceSummary {
    pub iri: String,
    pub title: String,
    pub kind: String,
    pub last_scan: String,
    pub scanned_at: String,
    pub assets: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ColumnSummary {
    pub name: String,
    pub semantic_type: String,
    pub pii_type: Option<String>,
    pub null_rate: f64,
    pub distinct: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AssetSummary {
    pub iri: String,
    pub source: String,
    pub name: String,
    pub location: String,
    pub format: String,
    pub rows: u64,
    pub bytes: Option<u64>,
    pub kind: String,
    pub kind_confidence: f64,
    pub malformed_rows: u64,
    pub error: Option<String>,
    pub columns: Vec<ColumnSummary>,
    /// Rows at the previous scan of the source, when the asset existed then.
    pub previous_rows: Option<u64>,
    /// First seen by the latest scan of its source (which had scanned before).
    pub new: bool,
    /// Exact counts (rows, distinct values) withheld: a shareable report over people's records.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub withheld: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Issue {
    pub asset: String,
    pub column: Option<String>,
    pub issue: String,
}

/// Everything the report shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InventoryReport {
    pub generated: String,
    pub sources: Vec<SourceSummary>,
    pub assets: Vec<AssetSummary>,
    pub totals: Totals,
    pub assets_by_kind: BTreeMap<String, u64>,
    pub pii_columns_by_type: BTreeMap<String, u64>,
    pub issues: Vec<Issue>,
    /// Assets the previous scan of a source found and the latest did not.
    pub removed: Vec<String>,
    /// Sections the application adds from other modules (`stock`): their JSON under their
    /// name, beside the inventory's own fields…
    #[serde(flatten)]
    pub sections: BTreeMap<String, serde_json::Value>,
    /// …and their HTML, appended to the page in order.
    #[serde(skip)]
    pub section_html: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Totals {
    pub sources: u64,
    pub assets: u64,
    pub rows: u64,
    pub bytes: u64,
    pub columns: u64,
    pub pii_columns: u64,
    pub assets_with_pii: u64,
    pub failed_parts: u64,
}

/// Asset kinds whose rows are people's records (with assets holding any PII column).
pub const PERSONAL_KINDS: [&str; 4] = ["user_profiles", "user_behaviour_log", "orders", "reviews"];

impl InventoryReport {
    /// Withholds the exact counts of assets whose rows are people's records — rows, their
    /// change, size, distinct values, null rates and the issues quoting them — for a report
    /// shared outside the data team: two such reports a day apart would tell that one person
    /// joined. Returns the assets concerned.
    pub fn withhold_personal_counts(&mut self) -> Vec<String> {
        let mut withheld = Vec::new();
        for a in &mut self.assets {
            let personal = PERSONAL_KINDS.contains(&a.kind.as_str())
                || a.columns.iter().any(|c| c.pii_type.is_some());
            if !personal {
                continue;
            }
            self.totals.rows = self.totals.rows.saturating_sub(a.rows);
            // The size and the null rates encode the row count too.
            self.totals.bytes = self.totals.bytes.saturating_sub(a.bytes.unwrap_or(0));
            a.rows = 0;
            a.previous_rows = None;
            a.malformed_rows = 0;
            a.bytes = None;
            for c in &mut a.columns {
                c.distinct = 0;
                c.null_rate = 0.0;
            }
            a.withheld = true;
            withheld.push(a.location.clone());
        }
        // Issues quote counts and rates of the assets concerned.
        self.issues.retain(|i| !withheld.contains(&i.asset));
        withheld
    }
}

/// The report's own queries (`src/inventory/queries`), read through the caller's visibility.
macro_rules! report_query {
    ($name:literal) => {
        NamedQuery::parse($name, include_str!(concat!("queries/", $name, ".rq")))
    };
}

#[derive(Deserialize)]
struct SourceRow {
    s: String,
    title: String,
    kind: String,
    scan: String,
    ended: String,
    assets: u64,
    failed: u64,
}

#[derive(Deserialize)]
struct ColumnRow {
    a: String,
    i: u64,
    name: String,
    sem: String,
    pii: Option<String>,
    null: f64,
    distinct: u64,
}

#[derive(Deserialize)]
struct RowCountRow {
    a: String,
    scan: String,
    started: String,
    rows: u64,
}

#[derive(Deserialize)]
struct ScanRow {
    s: String,
    scan: String,
    started: String,
}

#[derive(Deserialize)]
struct AssetChangeRow {
    scan: String,
    a: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct AssetRow {
    a: String,
    s: String,
    name: String,
    loc: String,
    rows: u64,
    kind: Option<String>,
    conf: Option<f64>,
    format: String,
    bytes: Option<u64>,
    malformed: u64,
    error: Option<String>,
}

/// What the scans of each source measured and changed, to compare the latest scan of a source
/// with the one before.
struct History {
    /// Sources' scans, oldest first: (start time, scan).
    scans_of: HashMap<String, Vec<(String, String)>>,
    /// Row counts per asset: (scan start, scan, rows), oldest first.
    rows_of: HashMap<String, Vec<(String, String, u64)>>,
    /// `"{scan} {asset}"` for every asset a scan found new.
    added: HashSet<String>,
    /// Assets each scan found gone.
    removed_by_scan: HashMap<String, Vec<String>>,
}

impl History {
    fn read(catalog: &Catalog, vis: &Visibility) -> Result<History, CatalogError> {
        let mut h = History {
            scans_of: HashMap::new(),
            rows_of: HashMap::new(),
            added: HashSet::new(),
            removed_by_scan: HashMap::new(),
        };
        for r in
            catalog.query_rows::<RowCountRow>(&report_query!("report-row-history")?, &[], vis)?
        {
            h.rows_of
                .entry(r.a)
                .or_default()
                .push((r.started, r.scan, r.rows));
        }
        for r in catalog.query_rows::<ScanRow>(&report_query!("report-scans")?, &[], vis)? {
            h.scans_of.entry(r.s).or_default().push((r.started, r.scan));
        }
        h.scans_of.values_mut().for_each(|v| v.sort());
        h.rows_of.values_mut().for_each(|v| v.sort());
        for r in catalog.query_rows::<AssetChangeRow>(
            &report_query!("report-asset-changes")?,
            &[],
            vis,
        )? {
            if r.kind == "asset-added" {
                h.added.insert(format!("{} {}", r.scan, r.a));
            } else {
                h.removed_by_scan.entry(r.scan).or_default().push(r.a);
            }
        }
        Ok(h)
    }

    /// The scan of a source before its latest one: (start time, scan).
    fn previous_scan(&self, source: &str) -> Option<&(String, String)> {
        let v = self.scans_of.get(source)?;
        (v.len() >= 2).then(|| &v[v.len() - 2])
    }

    /// Rows of `asset` as of the previous scan of its source (the last measurement taken by
    /// then: a rescan that found the asset unchanged takes none), when it existed then.
    fn previous_rows(&self, asset: &str, source: &str, is_new: bool) -> Option<u64> {
        let (started, _) = self.previous_scan(source).filter(|_| !is_new)?;
        self.rows_of
            .get(asset)?
            .iter()
            .rev()
            .find(|(t, _, _)| t <= started)
            .map(|(_, _, n)| *n)
    }
}

/// Reads the report from the catalog.
pub fn build(catalog: &Catalog, vis: &Visibility) -> Result<InventoryReport, CatalogError> {
    // Read as the caller: a non-admin's report has nothing from restricted graphs.
    let sources: Vec<SourceSummary> = catalog
        .query_rows::<SourceRow>(&report_query!("report-sources")?, &[], vis)?
        .into_iter()
        .map(|r| SourceSummary {
            iri: r.s,
            title: r.title,
            kind: r.kind,
            last_scan: r.scan,
            scanned_at: r.ended,
            assets: r.assets,
            failed: r.failed,
        })
        .collect();
    let history = History::read(catalog, vis)?;
    let assets = assets(catalog, vis, &sources, &history)?;
    let mut removed: Vec<String> = sources
        .iter()
        .flat_map(|s| {
            history
                .removed_by_scan
                .get(&s.last_scan)
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    removed.sort();
    let mut totals = Totals {
        sources: sources.len() as u64,
        assets: assets.len() as u64,
        failed_parts: sources.iter().map(|s| s.failed).sum(),
        ..Totals::default()
    };
    let mut by_kind = BTreeMap::new();
    let mut by_pii = BTreeMap::new();
    let mut issues = Vec::new();
    for a in &assets {
        totals.rows += a.rows;
        totals.bytes += a.bytes.unwrap_or(0);
        totals.columns += a.columns.len() as u64;
        *by_kind.entry(a.kind.clone()).or_insert(0) += 1;
        let pii = a.columns.iter().filter(|c| c.pii_type.is_some()).count() as u64;
        totals.pii_columns += pii;
        totals.assets_with_pii += u64::from(pii > 0);
        for c in &a.columns {
            if let Some(t) = &c.pii_type {
                *by_pii.entry(t.clone()).or_insert(0) += 1;
            }
            if c.null_rate > NULL_RATE_ISSUE {
                issues.push(Issue {
                    asset: a.location.clone(),
                    column: Some(c.name.clone()),
                    issue: format!("{:.0}% of values are empty", c.null_rate * 100.0),
                });
            }
        }
        if a.malformed_rows > 0 {
            issues.push(Issue {
                asset: a.location.clone(),
                column: None,
                issue: format!("{} malformed rows", a.malformed_rows),
            });
        }
        if let Some(e) = &a.error {
            issues.push(Issue {
                asset: a.location.clone(),
                column: None,
                issue: format!("could not be read completely: {e}"),
            });
        }
    }
    Ok(InventoryReport {
        generated: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        sources,
        assets,
        totals,
        assets_by_kind: by_kind,
        pii_columns_by_type: by_pii,
        issues,
        removed,
        sections: BTreeMap::new(),
        section_html: Vec::new(),
    })
}

/// Every asset with its columns, and whether it is new or grew since the previous scan.
fn assets(
    catalog: &Catalog,
    vis: &Visibility,
    sources: &[SourceSummary],
    history: &History,
) -> Result<Vec<AssetSummary>, CatalogError> {
    let mut columns: HashMap<String, Vec<(u64, ColumnSummary)>> = HashMap::new();
    for r in catalog.query_rows::<ColumnRow>(&report_query!("report-columns")?, &[], vis)? {
        columns.entry(r.a).or_default().push((
            r.i,
            ColumnSummary {
                name: r.name,
                semantic_type: r.sem,
                pii_type: r.pii,
                null_rate: r.null,
                distinct: r.distinct,
            },
        ));
    }
    let last_scan_of: HashMap<&str, &str> = sources
        .iter()
        .map(|s| (s.iri.as_str(), s.last_scan.as_str()))
        .collect();
    let mut assets = Vec::new();
    for r in catalog.query_rows::<AssetRow>(&report_query!("report-assets")?, &[], vis)? {
        let mut cols = columns.remove(&r.a).unwrap_or_default();
        cols.sort_by_key(|c| c.0);
        let is_new = last_scan_of
            .get(r.s.as_str())
            .is_some_and(|last| history.added.contains(&format!("{last} {}", r.a)));
        assets.push(AssetSummary {
            new: is_new,
            previous_rows: history.previous_rows(&r.a, &r.s, is_new),
            iri: r.a,
            source: r.s,
            name: r.name,
            location: r.loc,
            format: r.format,
            rows: r.rows,
            bytes: r.bytes,
            kind: r.kind.unwrap_or_else(|| "other".into()),
            kind_confidence: r.conf.unwrap_or(0.0),
            malformed_rows: r.malformed,
            error: r.error,
            columns: cols.into_iter().map(|c| c.1).collect(),
            withheld: false,
        });
    }
    Ok(assets)
}

pub(crate) use super::report_html::bars;
pub use super::report_html::{esc, html};
