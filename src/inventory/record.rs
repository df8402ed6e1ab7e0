//! A scan as catalog statements: DCAT for sources and assets, CSVW for columns, DQV for the
//! measurements, PROV for the scan itself.
//!
//! IRIs are stable where identity is: a source is named by a hash of its (credential-free)
//! address, an asset by its source and location, a column by its asset and name — so a rescan
//! *replaces* their descriptions (kind, schema, semantic types, latest row count). Measurements
//! are named by the scan that took them, so every scan *adds* a snapshot and the history stays
//! queryable (`?m prov:wasGeneratedBy ?scan`). PII columns carry no raw values here: the report
//! was scrubbed by [`AssetScan::finish`](super::AssetScan::finish).

use sha2::{Digest, Sha256};

use super::classify::AssetKind;
use super::{AssetScan, ColumnScan, ScanReport};
use crate::catalog::vocab::{CSVW, DCAT, DCTERMS, DQV, PROV, RDF, RDFS, ST};
use crate::catalog::{Catalog, CatalogError, Object, SideGraph, Statement};

/// Where the semantic-type and asset-kind concepts live (see `ontology/taxonomy.ttl`).
pub const SEMANTIC_TYPE_BASE: &str = "https://w3id.org/stocktake/semantic-type/";
pub const ASSET_KIND_BASE: &str = "https://w3id.org/stocktake/asset-kind/";

/// The first 16 hex digits of the SHA-256 of `parts` (NUL-separated): the local names of
/// catalog IRIs minted from content.
pub fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

/// A column name as an IRI path segment (unique per asset thanks to the index suffix).
fn segment(i: usize, name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    format!("{i}-{s}")
}

fn kind_iri(k: AssetKind) -> String {
    let local = match k {
        AssetKind::ProductCatalog => "product-catalog",
        AssetKind::Reviews => "reviews",
        AssetKind::UserBehaviourLog => "behaviour-log",
        AssetKind::Orders => "orders",
        AssetKind::UserProfiles => "user-profiles",
        AssetKind::Inventory => "inventory",
        AssetKind::Sellers => "sellers",
        AssetKind::Other => "other",
    };
    format!("{ASSET_KIND_BASE}{local}")
}

/// IRIs of one scan's things.
pub struct Iris {
    pub source: String,
    pub scan: String,
}

/// The IRI of the source shown (credential-free) as `source`.
pub fn source_iri(base: &str, source: &str) -> String {
    format!("{base}source/{}", short_hash(&[source]))
}

/// The IRI of the asset at `location` in the source `source_iri`.
pub fn asset_iri(source_iri: &str, location: &str) -> String {
    format!("{source_iri}/asset/{}", short_hash(&[location]))
}

impl Iris {
    pub fn new(base: &str, report: &ScanReport) -> Iris {
        let source = source_iri(base, &report.source);
        let scan = format!(
            "{base}scan/{}",
            short_hash(&[&report.source, &report.started, &report.ended])
        );
        Iris { source, scan }
    }

    pub fn asset(&self, a: &AssetScan) -> String {
        asset_iri(&self.source, &a.location)
    }
}

/// What a scan writes: the catalog graph's statements, the assets they describe anew (assets a
/// rescan found unchanged keep the description of the scan that profiled them), and the detail
/// graphs of personal-data columns.
pub struct Described {
    pub statements: Vec<Statement>,
    pub described: Vec<String>,
    pub iris: Iris,
    pub details: Vec<SideGraph>,
}

/// The graph holding the detail of column `col` when its table is about people (it has a
/// personal-data column): its evidence, top values and measurements. It is restricted
/// (admins, and tokens granted the column or its asset, read it), so readers of the catalog see
/// the columns, their types, which hold personal data and how sure the detector is, but not why
/// nor the statistics of people's data.
pub fn detail_graph(col: &str) -> String {
    format!("{col}/detail")
}

/// The statements describing `report` (see [`Described`]).
pub fn statements(base: &str, report: &ScanReport) -> Described {
    let iris = Iris::new(base, report);
    let mut details = Vec::new();
    let mut out = Vec::new();
    let o = &mut out;
    let src = iris.source.as_str();
    add(o, src, rdf_type(), Object::iri(st("DataSource")));
    add(
        o,
        src,
        format!("{DCTERMS}title"),
        Object::string(&report.source),
    );
    add(
        o,
        src,
        st("sourceKind"),
        Object::string(&report.source_kind),
    );
    add(o, src, st("lastScan"), Object::iri(&iris.scan));
    scan_statements(o, &iris, report);

    // Assets, their columns and distributions live under the source's IRI: replacing the source
    // replaces them all (and drops assets that disappeared), while measurements, named by scan,
    // stay.
    let mut described = Vec::new();
    for a in &report.assets {
        let asset = iris.asset(a);
        add(o, src, format!("{DCAT}dataset"), Object::iri(&asset));
        if a.unchanged {
            continue;
        }
        asset_statements(o, &iris, &asset, a);
        // A table about people (any personal-data column) is profiled in detail graphs.
        let personal = a
            .scanned_columns
            .iter()
            .any(|c| c.semantic.kind.pii().is_some());
        for (i, c) in a.scanned_columns.iter().enumerate() {
            details.push(column_statements(o, &iris.scan, &asset, i, c, personal));
        }
        described.push(asset);
    }
    Described {
        statements: out,
        described,
        iris,
        details,
    }
}

pub(super) fn rdf_type() -> String {
    format!("{RDF}type")
}

/// The scan as a `prov:Activity`: times, counts, failed parts.
fn scan_statements(o: &mut Vec<Statement>, iris: &Iris, report: &ScanReport) {
    let src = iris.source.as_str();
    let a_type = rdf_type();
    let scan = iris.scan.as_str();
    add(o, scan, a_type.clone(), Object::iri(st("Scan")));
    add(o, scan, format!("{PROV}used"), Object::iri(src));
    add(
        o,
        scan,
        format!("{PROV}startedAtTime"),
        Object::datetime(&report.started),
    );
    add(
        o,
        scan,
        format!("{PROV}endedAtTime"),
        Object::datetime(&report.ended),
    );
    add(
        o,
        scan,
        st("toolVersion"),
        Object::string(&report.tool_version),
    );
    add(
        o,
        scan,
        st("assetCount"),
        Object::integer(report.assets.len() as u64),
    );
    add(
        o,
        scan,
        st("failedCount"),
        Object::integer(report.failures.len() as u64),
    );
    add(
        o,
        scan,
        st("unchangedCount"),
        Object::integer(report.unchanged() as u64),
    );
    add(
        o,
        scan,
        format!("{RDFS}label"),
        Object::string(format!("scan of {}", report.source)),
    );
    for (i, f) in report.failures.iter().enumerate() {
        let n = format!("{scan}/failure/{i}");
        add(o, scan, st("failedPart"), Object::iri(&n));
        add(o, &n, st("location"), Object::string(&f.location));
        add(o, &n, st("reason"), Object::string(&f.reason));
    }
}

/// An asset profiled in this scan: its description, kind, distribution and asset-level
/// measurements.
fn asset_statements(o: &mut Vec<Statement>, iris: &Iris, asset: &str, a: &AssetScan) {
    let (src, scan) = (iris.source.as_str(), iris.scan.as_str());
    let a_type = rdf_type();
    let dist = format!("{asset}/distribution");
    add(o, scan, st("found"), Object::iri(asset));
    add(o, asset, a_type.clone(), Object::iri(st("Asset")));
    add(o, asset, format!("{DCTERMS}title"), Object::string(&a.name));
    add(o, asset, st("source"), Object::iri(src));
    add(o, asset, st("location"), Object::string(&a.location));
    add(o, asset, st("rowCount"), Object::integer(a.rows));
    add(o, asset, st("fullScan"), Object::boolean(a.full_scan));
    add(o, asset, st("lastScan"), Object::iri(scan));
    if let Some(c) = &a.comment {
        add(o, asset, format!("{DCTERMS}description"), Object::string(c));
    }
    if let Some(e) = a.rows_estimate {
        add(o, asset, st("rowEstimate"), Object::integer(e));
    }
    if let Some(e) = &a.error {
        add(o, asset, st("scanError"), Object::string(e));
    }
    add(
        o,
        asset,
        st("malformedRows"),
        Object::integer(a.malformed_rows),
    );
    for (i, m) in a.malformed_samples.iter().enumerate() {
        let n = format!("{asset}/malformed/{i}");
        add(o, asset, st("malformedExample"), Object::iri(&n));
        add(o, &n, st("line"), Object::integer(m.line));
        add(o, &n, st("reason"), Object::string(&m.reason));
    }
    if let Some(c) = &a.classification {
        add(o, asset, st("assetKind"), Object::iri(kind_iri(c.kind)));
        add(o, asset, st("kindName"), Object::string(c.kind.name()));
        add(o, asset, st("confidence"), Object::decimal(c.confidence));
        for r in &c.reasons {
            add(o, asset, st("reason"), Object::string(r));
        }
    }
    add(
        o,
        asset,
        st("containsPersonalData"),
        Object::boolean(a.pii_columns() > 0),
    );
    add(o, asset, format!("{DCAT}distribution"), Object::iri(&dist));
    add(
        o,
        &dist,
        a_type.clone(),
        Object::iri(format!("{DCAT}Distribution")),
    );
    add(
        o,
        &dist,
        format!("{DCTERMS}format"),
        Object::string(&a.format),
    );
    if let Some(b) = a.size_bytes {
        add(o, &dist, format!("{DCAT}byteSize"), Object::integer(b));
    }
    if let Some(m) = &a.modified {
        add(o, &dist, format!("{DCTERMS}modified"), Object::datetime(m));
    }
    if let Some(h) = &a.content_hash {
        add(o, &dist, st("contentHash"), Object::string(h));
    }
    for (p, v) in [
        ("encoding", &a.encoding),
        ("delimiter", &a.delimiter),
        ("compression", &a.compressed),
    ] {
        if let Some(v) = v {
            add(o, &dist, st(p), Object::string(v));
        }
    }
    // Measurements of the asset, named by this scan.
    measure(o, scan, asset, "", "RowCount", Object::integer(a.rows));
    measure(
        o,
        scan,
        asset,
        "",
        "MalformedRows",
        Object::integer(a.malformed_rows),
    );
}

/// One column: physical and semantic type, PII, profile, and its measurements in this scan.
/// In a table about people (`personal`: it has a personal-data column) a column's profile —
/// evidence, top values, measurements — goes to its detail graph (returned; for other columns
/// the side graph only clears what an earlier scan put there).
fn column_statements(
    main: &mut Vec<Statement>,
    scan: &str,
    asset: &str,
    i: usize,
    c: &ColumnScan,
    personal: bool,
) -> SideGraph {
    let a_type = rdf_type();
    let col = format!("{asset}/column/{}", segment(i, &c.profile.name));
    let p = &c.profile;
    let mut side = SideGraph {
        graph: detail_graph(&col),
        subjects: vec![col.clone()],
        statements: Vec::new(),
    };
    if personal {
        let g = side.graph.as_str();
        add(main, g, a_type.clone(), Object::iri(st("DetailGraph")));
        add(main, g, st("restricted"), Object::boolean(true));
        add(main, g, st("detailOf"), Object::iri(&col));
        add(main, g, st("detailOf"), Object::iri(asset));
    }
    let o = main;
    add(o, asset, format!("{CSVW}column"), Object::iri(&col));
    add(o, &col, a_type.clone(), Object::iri(st("Column")));
    add(o, &col, format!("{CSVW}name"), Object::string(&p.name));
    add(o, &col, st("columnIndex"), Object::integer(i as u64));
    add(
        o,
        &col,
        st("physicalType"),
        Object::string(p.physical.name()),
    );
    if let Some(d) = &p.declared {
        add(o, &col, st("declaredType"), Object::string(d));
    }
    for k in &c.keys {
        add(o, &col, st("keyRole"), Object::string(k));
    }
    if let Some(cm) = &c.comment {
        add(o, &col, format!("{DCTERMS}description"), Object::string(cm));
    }
    let sem = c.semantic.kind;
    add(
        o,
        &col,
        st("semanticType"),
        Object::iri(format!("{SEMANTIC_TYPE_BASE}{}", sem.name())),
    );
    add(o, &col, st("semanticTypeName"), Object::string(sem.name()));
    add(
        o,
        &col,
        st("confidence"),
        Object::decimal(c.semantic.confidence),
    );
    // The evidence and the measurements of a personal-data column are its detail.
    let mut detail = Vec::new();
    for e in &c.semantic.evidence {
        add(&mut detail, &col, st("evidence"), Object::string(e));
    }
    add(
        o,
        &col,
        st("containsPersonalData"),
        Object::boolean(sem.pii().is_some()),
    );
    if let Some(t) = sem.pii() {
        add(o, &col, st("piiType"), Object::string(t.name()));
    }
    add(o, &col, st("nullRate"), Object::decimal(p.null_rate()));
    add(o, &col, st("distinctCount"), Object::integer(p.distinct));
    for (j, (v, n)) in p.top.iter().enumerate() {
        let t = format!("{col}/top/{j}");
        add(&mut detail, &col, st("topValue"), Object::iri(&t));
        add(&mut detail, &t, st("value"), Object::string(v));
        add(&mut detail, &t, st("count"), Object::integer(*n));
    }
    let key = p.name.as_str();
    measure(
        &mut detail,
        scan,
        &col,
        key,
        "NullRate",
        Object::decimal(p.null_rate()),
    );
    measure(
        &mut detail,
        scan,
        &col,
        key,
        "DistinctCount",
        Object::integer(p.distinct),
    );
    measure(
        &mut detail,
        scan,
        &col,
        key,
        "RowCount",
        Object::integer(p.rows),
    );
    if let Some(v) = &p.min {
        measure(&mut detail, scan, &col, key, "MinValue", Object::string(v));
    }
    if let Some(v) = &p.max {
        measure(&mut detail, scan, &col, key, "MaxValue", Object::string(v));
    }
    if let Some(v) = p.mean {
        measure(&mut detail, scan, &col, key, "Mean", Object::double(v));
    }
    if let Some(v) = p.stddev {
        measure(&mut detail, scan, &col, key, "StdDev", Object::double(v));
    }
    if let Some(q) = p.quantiles {
        for (name, v) in ["P05", "P25", "Median", "P75", "P95"].iter().zip(q) {
            measure(&mut detail, scan, &col, key, name, Object::double(v));
        }
    }
    if let Some(v) = &p.time_mean {
        measure(&mut detail, scan, &col, key, "Mean", Object::string(v));
    }
    if let Some(q) = &p.time_quantiles {
        for (name, v) in ["P05", "P25", "Median", "P75", "P95"].iter().zip(q) {
            measure(&mut detail, scan, &col, key, name, Object::string(v));
        }
    }
    if let Some(v) = p.mean_length {
        measure(
            &mut detail,
            scan,
            &col,
            key,
            "MeanLength",
            Object::double(v),
        );
    }
    if let Some(v) = p.max_length {
        measure(
            &mut detail,
            scan,
            &col,
            key,
            "MaxLength",
            Object::integer(v),
        );
    }
    if personal {
        side.statements = detail;
    } else {
        o.extend(detail);
    }
    side
}

pub(super) fn st(local: &str) -> String {
    format!("{ST}{local}")
}

pub(super) fn add(out: &mut Vec<Statement>, s: &str, p: String, o: Object) {
    out.push(Statement::new(s, p, o));
}

/// One DQV measurement of `on`, named by the scan that took it.
fn measure(out: &mut Vec<Statement>, scan: &str, on: &str, key: &str, metric: &str, value: Object) {
    let m = format!("{scan}/m/{}/{metric}", short_hash(&[on, key]));
    add(
        out,
        &m,
        format!("{RDF}type"),
        Object::iri(format!("{DQV}QualityMeasurement")),
    );
    add(out, &m, format!("{DQV}computedOn"), Object::iri(on));
    add(
        out,
        &m,
        format!("{DQV}isMeasurementOf"),
        Object::iri(st(metric)),
    );
    add(out, &m, format!("{DQV}value"), value);
    add(out, &m, format!("{PROV}wasGeneratedBy"), Object::iri(scan));
}

/// Records `report` in the catalog graph; returns the scan's IRI.
///
/// Only what changed is rewritten: the source's own triples, the trees of the assets profiled
/// anew and of those that disappeared. Assets found unchanged keep their description untouched
/// (a file touched without a change gets its new modification time in a second, small write:
/// were it lost, the next rescan would only hash that file once more). The cost of recording a
/// rescan is therefore that of what changed, not of the catalog.
pub fn record(catalog: &Catalog, report: &ScanReport) -> Result<String, CatalogError> {
    record_with(catalog, report, &[])
}

/// The IRI [`record`] gives the scan of `report` (known before it is written).
pub fn scan_iri(base: &str, report: &ScanReport) -> String {
    Iris::new(base, report).scan
}

/// Like [`record`], and writes `changes` (the change events the scan found, for the changes
/// graph) in the same transaction: the scan is recorded with its changes or not at all, so a
/// crash can never leave a scan whose differences were lost.
pub fn record_with(
    catalog: &Catalog,
    report: &ScanReport,
    changes: &[Statement],
) -> Result<String, CatalogError> {
    let Described {
        statements: stmts,
        described,
        iris,
        details,
    } = statements(catalog.layout().base(), report);
    let graph = catalog.layout().catalog.clone();
    let current: std::collections::HashSet<String> =
        report.assets.iter().map(|a| iris.asset(a)).collect();
    let mut trees = described;
    trees.extend(
        catalog
            .objects(&graph, &iris.source, &format!("{DCAT}dataset"))?
            .into_iter()
            .filter(|a| !current.contains(a)),
    );
    catalog.replace_trees_beside(
        &graph,
        std::slice::from_ref(&iris.source),
        &trees,
        &stmts,
        changes,
        &details,
    )?;
    let mut dists = Vec::new();
    let mut touched = Vec::new();
    for a in report.assets.iter().filter(|a| a.unchanged) {
        let dist = format!("{}/distribution", iris.asset(a));
        if let Some(m) = &a.modified {
            touched.push(Statement::new(
                &dist,
                format!("{DCTERMS}modified"),
                Object::datetime(m),
            ));
        }
        dists.push(dist);
    }
    if !dists.is_empty() {
        catalog.replace_properties(&graph, &dists, &[format!("{DCTERMS}modified")], &touched)?;
    }
    Ok(iris.scan)
}
