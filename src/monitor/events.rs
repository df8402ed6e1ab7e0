//! The change history: events and alert deliveries in the changes graph, and reading them back.
//!
//! Each event is a `st:ChangeEvent` with its type, severity, time (`prov:atTime`), the scan that
//! found it (`prov:wasGeneratedBy`) and the one it was compared with (`st:previousScan`), the
//! asset and column, old and new values and the statistic that triggered it. Events are only
//! ever added: history is not rewritten by later scans. Deliveries (`st:AlertDelivery`) link the
//! events they carried and record the outcome, so "was anyone told?" is a query too.

use serde::{Deserialize, Serialize};

use super::alert::Delivery;
use super::diff::ChangeEvent;
use crate::catalog::vocab::{PROV, RDF, RDFS, ST};
use crate::catalog::{Catalog, CatalogError, NamedQuery, Object, Statement, Visibility};
use crate::inventory::record::short_hash;

/// The scan events belong to.
pub struct ScanRef<'a> {
    pub source: &'a str,
    pub scan: &'a str,
    pub previous: Option<&'a str>,
    /// When the scan ended (RFC 3339): the events' time.
    pub at: &'a str,
}

fn st(local: &str) -> String {
    format!("{ST}{local}")
}

/// The statements describing `events` for the changes graph, and the events' IRIs (in the same
/// order). The caller writes them with the scan (see `inventory::record::record_with`).
pub fn statements(
    base: &str,
    scan: &ScanRef<'_>,
    events: &[ChangeEvent],
) -> (Vec<Statement>, Vec<String>) {
    let mut out = Vec::new();
    let mut iris = Vec::new();
    for e in events {
        let iri = format!(
            "{base}change/{}",
            short_hash(&[
                scan.scan,
                e.kind.name(),
                &e.location,
                e.column.as_deref().unwrap_or("")
            ])
        );
        let asset = crate::inventory::record::asset_iri(scan.source, &e.location);
        let mut add = |p: String, o: Object| out.push(Statement::new(&iri, p, o));
        add(format!("{RDF}type"), Object::iri(st("ChangeEvent")));
        add(st("changeType"), Object::string(e.kind.name()));
        add(st("severity"), Object::string(e.severity.name()));
        add(format!("{PROV}atTime"), Object::datetime(scan.at));
        add(format!("{PROV}wasGeneratedBy"), Object::iri(scan.scan));
        if let Some(p) = scan.previous {
            add(st("previousScan"), Object::iri(p));
        }
        add(st("eventSource"), Object::iri(scan.source));
        add(st("asset"), Object::iri(asset));
        add(st("location"), Object::string(&e.location));
        if let Some(c) = &e.column {
            add(st("columnName"), Object::string(c));
        }
        add(format!("{RDFS}comment"), Object::string(&e.message));
        if let Some(v) = &e.old {
            add(st("oldValue"), Object::string(v));
        }
        if let Some(v) = &e.new {
            add(st("newValue"), Object::string(v));
        }
        if let Some(m) = &e.metric {
            add(st("metricName"), Object::string(&m.name));
            add(st("metricValue"), Object::double(m.value));
        }
        iris.push(iri);
    }
    (out, iris)
}

/// Writes the outcome of each alert delivery into the changes graph. Blocking.
pub fn record_deliveries(
    catalog: &Catalog,
    scan: &str,
    deliveries: &[Delivery],
) -> Result<(), CatalogError> {
    let mut out = Vec::new();
    for (i, d) in deliveries.iter().enumerate() {
        let iri = format!("{scan}/alert/{i}");
        let mut add = |p: String, o: Object| out.push(Statement::new(&iri, p, o));
        add(format!("{RDF}type"), Object::iri(st("AlertDelivery")));
        add(format!("{PROV}wasGeneratedBy"), Object::iri(scan));
        add(st("rule"), Object::string(&d.rule));
        add(st("channel"), Object::string(&d.channel));
        add(st("target"), Object::string(&d.target));
        add(st("outcome"), Object::string(&d.outcome));
        add(st("attempts"), Object::integer(u64::from(d.attempts)));
        if let Some(s) = d.status {
            add(st("httpStatus"), Object::integer(u64::from(s)));
        }
        if let Some(e) = &d.error {
            add(st("error"), Object::string(e));
        }
        add(format!("{PROV}endedAtTime"), Object::datetime(&d.at));
        for e in &d.events {
            add(st("event"), Object::iri(e));
        }
    }
    if !out.is_empty() {
        let graph = catalog.layout().changes.clone();
        catalog.describe(&graph, &[], &out)?;
    }
    Ok(())
}

/// One event as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventRecord {
    pub iri: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: String,
    pub at: String,
    pub scan: String,
    pub source: String,
    pub asset: String,
    pub location: String,
    pub column: Option<String>,
    pub message: String,
    pub old: Option<String>,
    pub new: Option<String>,
    pub metric: Option<String>,
    pub metric_value: Option<f64>,
}

/// A row of `queries/changes.rq`.
#[derive(Deserialize)]
struct EventRow {
    e: String,
    #[serde(rename = "type")]
    kind: String,
    severity: String,
    at: String,
    scan: String,
    source: String,
    asset: String,
    location: String,
    column: Option<String>,
    message: String,
    old: Option<String>,
    new: Option<String>,
    metric: Option<String>,
    value: Option<f64>,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only events at or after this time (RFC 3339, checked).
    pub since: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Only events of this asset (its IRI or its location).
    pub asset: Option<String>,
    /// Only events of these types.
    pub kinds: Vec<super::EventKind>,
    /// Most events returned (newest first).
    pub limit: usize,
}

/// Events matching `filter`, newest first. Blocking.
pub fn list(catalog: &Catalog, filter: &Filter) -> Result<Vec<EventRecord>, CatalogError> {
    let query = NamedQuery::parse("changes", include_str!("queries/changes.rq"))?;
    let since = filter.since.map(|t| t.to_rfc3339());
    let mut args = vec![("graph", catalog.layout().changes.as_str())];
    if let Some(t) = &since {
        args.push(("since", t));
    }
    let rows: Vec<EventRow> = catalog.query_rows(&query, &args, &Visibility::ADMIN)?;
    let mut out = Vec::new();
    for r in rows {
        let rec = EventRecord {
            iri: r.e,
            kind: r.kind,
            severity: r.severity,
            at: r.at,
            scan: r.scan,
            source: r.source,
            asset: r.asset,
            location: r.location,
            column: r.column,
            message: r.message,
            old: r.old,
            new: r.new,
            metric: r.metric,
            metric_value: r.value,
        };
        if let Some(a) = &filter.asset {
            if &rec.asset != a && &rec.location != a {
                continue;
            }
        }
        if !filter.kinds.is_empty() && !filter.kinds.iter().any(|k| k.name() == rec.kind) {
            continue;
        }
        out.push(rec);
        if out.len() >= filter.limit.max(1) {
            break;
        }
    }
    Ok(out)
}
