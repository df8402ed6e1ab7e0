//! A stock check in the catalog: the check run (`st:StockCheck`, with its as-of day and input
//! fingerprint), the events of conditions that opened since the last check (`st:ChangeEvent`
//! in the changes graph, so `/api/v1/changes`, the alert rules and NATS treat them like any
//! other), one `st:StockWatch` per open condition (so an unchanged rerun raises nothing and a
//! condition that clears and returns is alerted again), and the proposals of new low-stock
//! and stock-out conditions. One transaction writes the run, events, states and proposals.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::read::Key;
use super::{assess_all, Assessed, StockConfig, StockError};
use crate::catalog::vocab::{PROV, RDF, RDFS, ST};
use crate::catalog::{Catalog, NamedQuery, Object, Statement, Visibility};
use crate::inventory::record::short_hash;
use crate::monitor::{self, ChangeEvent, Delivery, EventKind, MonitorConfig};

fn st(local: &str) -> String {
    format!("{ST}{local}")
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How to run a check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Assess as of this day (default: the day of the latest snapshot or movement).
    pub as_of: Option<NaiveDate>,
    /// Run even when the input is unchanged since the last check.
    pub force: bool,
}

/// One event a check raised.
#[derive(Debug, Clone, Serialize)]
pub struct RaisedEvent {
    pub iri: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: String,
    pub location: String,
    pub product: String,
    pub warehouse: String,
    pub lot: Option<String>,
    pub message: String,
}

/// A position at risk, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct RiskRow {
    pub product: String,
    pub sku: String,
    pub warehouse: String,
    pub available: f64,
    pub in_transit: f64,
    pub rate: f64,
    pub days_of_cover: Option<f64>,
    pub reorder_point: f64,
    pub stockout_risk: f64,
    pub method: String,
    pub alerts: Vec<String>,
    pub proposal: Option<f64>,
}

/// A lot expiring or expired, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct LotRow {
    pub sku: String,
    pub warehouse: String,
    pub lot: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub days_to_expiry: f64,
    pub message: String,
}

/// What the stock looks like: the report's stock section.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub as_of: String,
    pub latest_snapshot: Option<String>,
    pub positions: usize,
    /// Conditions by event type.
    pub by_type: BTreeMap<String, usize>,
    /// Stock-out and low-stock positions, highest risk first.
    pub at_risk: Vec<RiskRow>,
    pub expiring: Vec<LotRow>,
    /// On hand × unit cost of overstocked and of dead positions.
    pub overstock_value: f64,
    pub dead_stock_value: f64,
    /// Positions per forecast method.
    pub methods: BTreeMap<String, usize>,
    pub warnings: Vec<String>,
}

/// The summary of an assessment (at most `limit` rows per list).
pub fn summarise(a: &Assessed, limit: usize) -> Summary {
    let mut s = Summary {
        as_of: a.as_of.to_string(),
        latest_snapshot: a.latest_snapshot.clone(),
        positions: a.rows.len(),
        warnings: a.warnings.clone(),
        ..Default::default()
    };
    for (key, x) in &a.rows {
        *s.methods
            .entry(format!("{:?}", x.forecast.method).to_lowercase())
            .or_default() += 1;
        let kinds: Vec<EventKind> = x.alerts.iter().map(|a| a.kind).collect();
        for k in &kinds {
            *s.by_type.entry(k.name().to_string()).or_default() += 1;
        }
        if kinds.contains(&EventKind::Overstock) {
            s.overstock_value += x.value.unwrap_or(0.0);
        }
        if kinds.contains(&EventKind::DeadStock) {
            s.dead_stock_value += x.value.unwrap_or(0.0);
        }
        if kinds
            .iter()
            .any(|k| matches!(k, EventKind::StockOut | EventKind::StockLow))
        {
            s.at_risk.push(RiskRow {
                product: key.product.clone(),
                sku: key.sku.clone(),
                warehouse: key.code.clone(),
                available: x.available,
                in_transit: x.in_transit,
                rate: (x.rate * 100.0).round() / 100.0,
                days_of_cover: x.days_of_cover.map(|c| (c * 10.0).round() / 10.0),
                reorder_point: (x.reorder_point * 10.0).round() / 10.0,
                stockout_risk: (x.stockout_risk * 1000.0).round() / 1000.0,
                method: format!("{:?}", x.forecast.method),
                alerts: kinds.iter().map(|k| k.name().to_string()).collect(),
                proposal: x.proposal.as_ref().map(|p| p.quantity),
            });
        }
        for al in &x.alerts {
            if matches!(al.kind, EventKind::ExpirySoon | EventKind::Expired) {
                s.expiring.push(LotRow {
                    sku: key.sku.clone(),
                    warehouse: key.code.clone(),
                    lot: al.lot.clone(),
                    kind: al.kind.name().to_string(),
                    days_to_expiry: al.value,
                    message: al.message.clone(),
                });
            }
        }
    }
    s.at_risk.sort_by(|a, b| {
        b.stockout_risk
            .total_cmp(&a.stockout_risk)
            .then(a.sku.cmp(&b.sku))
    });
    s.at_risk.truncate(limit);
    s.expiring.sort_by(|a, b| {
        a.days_to_expiry
            .total_cmp(&b.days_to_expiry)
            .then(a.sku.cmp(&b.sku))
    });
    s.expiring.truncate(limit);
    s
}

/// What a check did.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The check run's IRI (none when skipped).
    pub run: Option<String>,
    /// The input was unchanged since the last check, which stands.
    pub skipped: bool,
    pub fingerprint: String,
    /// Events of conditions that opened since the last check.
    pub events: Vec<RaisedEvent>,
    /// Conditions open after the check (alerted now or before).
    pub open: usize,
    /// Conditions the last check had that are gone.
    pub cleared: usize,
    /// Proposals made by this check, and earlier ones withdrawn because stock recovered.
    pub proposals: Vec<String>,
    pub withdrawn: usize,
    pub deliveries: Vec<Delivery>,
    pub summary: Option<Summary>,
    pub seconds: f64,
}

#[derive(Deserialize)]
struct WatchRow {
    w: String,
    key: String,
    event: String,
    #[serde(rename = "type")]
    kind: String,
    product: String,
    warehouse: String,
}

#[derive(Deserialize)]
struct LastCheck {
    fingerprint: String,
}

/// The open-condition key of an alert.
fn alert_key(kind: EventKind, key: &Key, lot: Option<&str>) -> String {
    short_hash(&[kind.name(), &key.product, &key.warehouse, lot.unwrap_or("")])
}

/// Runs a stock check: assess, record what opened and cleared, propose, alert. Blocking.
pub fn check(
    catalog: &Catalog,
    config: &StockConfig,
    monitor_config: &MonitorConfig,
    options: &CheckOptions,
) -> Result<CheckReport, StockError> {
    let started = std::time::Instant::now();
    let changes = catalog.layout().changes.clone();
    let graph = [("graph", changes.as_str())];
    if !options.force {
        let fp = super::read::fingerprint(catalog, config, options.as_of)?;
        let last: Vec<LastCheck> = catalog.query_rows(
            &NamedQuery::parse("last-check", include_str!("queries/last-check.rq"))?,
            &graph,
            &Visibility::ADMIN,
        )?;
        if last.first().is_some_and(|l| l.fingerprint == fp) {
            return Ok(CheckReport {
                run: None,
                skipped: true,
                fingerprint: fp,
                events: vec![],
                open: 0,
                cleared: 0,
                proposals: vec![],
                withdrawn: 0,
                deliveries: vec![],
                summary: None,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
    }
    let assessed = assess_all(catalog, config, options.as_of)?;
    let open: Vec<WatchRow> = catalog.query_rows(
        &NamedQuery::parse("open-watches", include_str!("queries/open-watches.rq"))?,
        &graph,
        &Visibility::ADMIN,
    )?;
    let open_keys: HashSet<&str> = open.iter().map(|w| w.key.as_str()).collect();
    let base = catalog.layout().base().to_owned();
    let at = now();
    let run = format!(
        "{base}stock/check/{}",
        short_hash(&[&at, &assessed.fingerprint])
    );
    let mut out = Vec::new();
    let mut add = |s: &str, p: String, o: Object| out.push(Statement::new(s, p, o));
    let mut current = HashSet::new();
    let mut raised = Vec::new();
    let mut events = Vec::new();
    let mut iris = Vec::new();
    let mut proposals = Vec::new();
    let open_proposals = super::proposals::open_by_position(catalog)?;
    let mut proposed_for: HashSet<(String, String)> = open_proposals.keys().cloned().collect();
    for (key, a) in &assessed.rows {
        for al in &a.alerts {
            let k = alert_key(al.kind, key, al.lot.as_deref());
            current.insert(k.clone());
            if open_keys.contains(k.as_str()) {
                continue;
            }
            let location = match &al.lot {
                Some(l) => format!("{}#{l}", key.location()),
                None => key.location(),
            };
            let iri = format!("{base}change/{}", short_hash(&[&run, &k]));
            let severity = al.kind.default_severity();
            add(&iri, format!("{RDF}type"), Object::iri(st("ChangeEvent")));
            add(&iri, st("changeType"), Object::string(al.kind.name()));
            add(&iri, st("severity"), Object::string(severity.name()));
            add(&iri, format!("{PROV}atTime"), Object::datetime(&at));
            add(&iri, format!("{PROV}wasGeneratedBy"), Object::iri(&run));
            add(&iri, st("eventSource"), Object::iri(&key.warehouse));
            add(&iri, st("asset"), Object::iri(&key.product));
            add(&iri, st("location"), Object::string(&location));
            add(&iri, format!("{RDFS}comment"), Object::string(&al.message));
            add(&iri, st("metricName"), Object::string(al.metric));
            add(&iri, st("metricValue"), Object::double(al.value));
            if let Some(l) = &al.lot {
                add(&iri, st("lot"), Object::string(l));
            }
            let watch = format!("{base}stock/watch/{k}");
            add(&watch, format!("{RDF}type"), Object::iri(st("StockWatch")));
            add(&watch, st("alertKey"), Object::string(&k));
            add(&watch, st("openEvent"), Object::iri(&iri));
            add(&watch, st("changeType"), Object::string(al.kind.name()));
            add(&watch, st("product"), Object::iri(&key.product));
            add(&watch, st("warehouse"), Object::iri(&key.warehouse));
            let position = (key.product.clone(), key.warehouse.clone());
            if let (Some(p), true) = (&a.proposal, !proposed_for.contains(&position)) {
                if matches!(al.kind, EventKind::StockLow | EventKind::StockOut) {
                    let prop = format!("{base}stock/proposal/{}", short_hash(&[&run, &k]));
                    add(
                        &prop,
                        format!("{RDF}type"),
                        Object::iri(st("ReplenishmentProposal")),
                    );
                    add(&prop, st("product"), Object::iri(&key.product));
                    add(&prop, st("sku"), Object::string(&key.sku));
                    add(&prop, st("warehouse"), Object::iri(&key.warehouse));
                    add(&prop, st("warehouseCode"), Object::string(&key.code));
                    add(&prop, st("quantity"), Object::decimal(p.quantity));
                    add(&prop, format!("{RDFS}comment"), Object::string(&p.reason));
                    add(&prop, st("confidence"), Object::decimal(p.confidence));
                    add(&prop, st("proposalStatus"), Object::string("proposed"));
                    add(
                        &prop,
                        format!("{PROV}generatedAtTime"),
                        Object::datetime(&at),
                    );
                    add(&prop, format!("{PROV}wasGeneratedBy"), Object::iri(&run));
                    add(&prop, st("forEvent"), Object::iri(&iri));
                    proposed_for.insert(position);
                    proposals.push(prop);
                }
            }
            raised.push(RaisedEvent {
                iri: iri.clone(),
                kind: al.kind.name().into(),
                severity: severity.name().into(),
                location: location.clone(),
                product: key.product.clone(),
                warehouse: key.warehouse.clone(),
                lot: al.lot.clone(),
                message: al.message.clone(),
            });
            events.push(ChangeEvent {
                kind: al.kind,
                severity,
                location,
                column: None,
                message: al.message.clone(),
                old: None,
                new: None,
                metric: Some(monitor::diff::Metric {
                    name: al.metric.into(),
                    value: al.value,
                }),
            });
            iris.push(iri);
        }
    }
    // Conditions gone since the last check: their state is removed (a return is a new
    // episode) and their event says when it cleared.
    let cleared: Vec<&WatchRow> = open.iter().filter(|w| !current.contains(&w.key)).collect();
    for w in &cleared {
        add(&w.event, st("clearedAt"), Object::datetime(&at));
        add(&w.event, st("clearedBy"), Object::iri(&run));
    }
    // A proposal still waiting whose position no longer runs low is withdrawn.
    let still_low: HashSet<(String, String)> = open
        .iter()
        .filter(|w| current.contains(&w.key))
        .filter(|w| w.kind == "stock-low" || w.kind == "stock-out")
        .map(|w| (w.product.clone(), w.warehouse.clone()))
        .chain(
            assessed
                .rows
                .iter()
                .filter(|(_, a)| {
                    a.alerts
                        .iter()
                        .any(|x| matches!(x.kind, EventKind::StockLow | EventKind::StockOut))
                })
                .map(|(k, _)| (k.product.clone(), k.warehouse.clone())),
        )
        .collect();
    let withdrawn: Vec<String> = open_proposals
        .iter()
        .filter(|(pos, _)| !still_low.contains(*pos))
        .map(|(_, iri)| iri.clone())
        .collect();
    let open_after = current.len();
    add(&run, format!("{RDF}type"), Object::iri(st("StockCheck")));
    add(&run, format!("{PROV}endedAtTime"), Object::datetime(&at));
    add(&run, st("asOf"), Object::date(assessed.as_of.to_string()));
    add(
        &run,
        st("inputFingerprint"),
        Object::string(&assessed.fingerprint),
    );
    add(
        &run,
        st("positions"),
        Object::integer(assessed.rows.len() as u64),
    );
    add(&run, st("eventCount"), Object::integer(raised.len() as u64));
    add(
        &run,
        st("openConditions"),
        Object::integer(open_after as u64),
    );
    let gone: Vec<String> = cleared.iter().map(|w| w.w.clone()).collect();
    catalog.replace_subjects(&changes, &gone, &out)?;
    if !withdrawn.is_empty() {
        let status = st("proposalStatus");
        let marks: Vec<Statement> = withdrawn
            .iter()
            .map(|p| Statement::new(p, &status, Object::string("withdrawn")))
            .collect();
        catalog.replace_properties(&changes, &withdrawn, std::slice::from_ref(&status), &marks)?;
    }
    let mut deliveries = monitor::alert::dispatch(monitor_config, "stock", &run, &events, &iris);
    deliveries.extend(monitor::bus::publish(
        &monitor_config.nats,
        &monitor_config.delivery,
        "stock",
        &run,
        &events,
        &iris,
    ));
    monitor::events::record_deliveries(catalog, &run, &deliveries)?;
    for e in &events {
        metrics::counter!("stocktake_change_events_total", "type" => e.kind.name()).increment(1);
        tracing::info!(kind = e.kind.name(), location = %e.location, "stock: {}", e.message);
    }
    let summary = summarise(&assessed, 50);
    for k in EventKind::ALL.into_iter().filter(|k| k.is_stock()) {
        let n = summary.by_type.get(k.name()).copied().unwrap_or(0);
        metrics::gauge!("stocktake_stock_conditions", "type" => k.name()).set(n as f64);
    }
    metrics::gauge!("stocktake_stock_positions").set(assessed.rows.len() as f64);
    Ok(CheckReport {
        run: Some(run),
        skipped: false,
        fingerprint: assessed.fingerprint.clone(),
        events: raised,
        open: open_after,
        cleared: cleared.len(),
        proposals,
        withdrawn: withdrawn.len(),
        deliveries,
        summary: Some(summary),
        seconds: started.elapsed().as_secs_f64(),
    })
}
