//! Model watch (模型性能监控): the labelling models' health, from their own output and from the
//! people who review it.
//!
//! Every labelling run records per model what it produced (`st:ModelRunStats` in the models
//! graph): how many labels, the share under the review threshold, a ten-bin confidence
//! histogram and the label shares (entity types for NER, head/value for classifiers). The
//! model's first run with at least `min_labels` labels is its reference (a package carries its
//! validation metrics, not its confidence distribution); every later run is compared with it by
//! PSI of the confidence histogram and of the label shares, and a run past `psi` raises
//! `model-drift`. People's decisions on labels are the quality signal: acceptance per model and
//! label type, and the precision of the labels the model accepted on its own, estimated from the
//! reviewed ones with a Wilson interval; when the interval lies wholly under `precision_floor`
//! the model raises `model-precision-drop`, once until it recovers. Both go through the
//! monitor's alert rules like any change event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::diff::{ChangeEvent, EventKind, Metric};
use super::stability::{psi_counts, psi_shares};
use crate::catalog::vocab::{PROV, RDF, RDFS, ST};
use crate::catalog::{Catalog, CatalogError, NamedQuery, Object, Statement, Visibility};
use crate::inventory::record::short_hash;

/// `[monitor.models]`: when a labelling model's output or reviews call for attention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelWatchConfig {
    /// PSI (of the confidence histogram or of the label shares) past which a run drifted.
    pub psi: f64,
    /// Fewest texts a run must have labelled to become the reference or be compared with it.
    pub min_records: u64,
    /// Precision of auto-accepted labels the reviews must not show to be below.
    pub precision_floor: f64,
    /// Fewest reviewed auto-accepted labels before precision is judged.
    pub min_reviewed: u64,
}

impl Default for ModelWatchConfig {
    fn default() -> Self {
        ModelWatchConfig {
            psi: 0.2,
            min_records: 200,
            precision_floor: 0.8,
            min_reviewed: 20,
        }
    }
}

/// Bins of the confidence histogram (tenths of [0, 1]).
pub const BINS: usize = 10;

/// What one model produced in one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    /// Texts the model read.
    pub records: u64,
    pub labels: u64,
    /// Labels under the review threshold.
    pub under_threshold: u64,
    pub histogram: [u64; BINS],
    /// Label kind (entity type, or `head=value`) → count; texts the model found nothing in
    /// count under [`NONE`], so a model that stops finding anything shifts the shares too.
    pub shares: BTreeMap<String, u64>,
}

/// The share of texts without any label.
pub const NONE: &str = "(none)";

impl RunStats {
    /// Counts one label.
    pub fn add(&mut self, kind: &str, confidence: f32, under: bool) {
        self.labels += 1;
        self.under_threshold += u64::from(under);
        let bin = ((confidence.clamp(0.0, 1.0) * BINS as f32) as usize).min(BINS - 1);
        self.histogram[bin] += 1;
        *self.shares.entry(kind.to_string()).or_default() += 1;
    }

    /// Counts one text read, and whether the model found nothing in it.
    pub fn read(&mut self, found_nothing: bool) {
        self.records += 1;
        if found_nothing {
            *self.shares.entry(NONE.to_string()).or_default() += 1;
        }
    }

    /// Adds another batch's counts.
    pub fn merge(&mut self, other: &RunStats) {
        self.records += other.records;
        self.labels += other.labels;
        self.under_threshold += other.under_threshold;
        for (a, b) in self.histogram.iter_mut().zip(other.histogram) {
            *a += b;
        }
        for (k, v) in &other.shares {
            *self.shares.entry(k.clone()).or_default() += v;
        }
    }
}

/// The Wilson score interval of `k` successes in `n` at 95%.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, k as f64 / n as f64, 1.959_963_984_540_054);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// People's decisions on one model's labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Feedback {
    /// Decisions per label type: (accepted, rejected).
    pub by_type: BTreeMap<String, (u64, u64)>,
    /// Reviewed labels the model had accepted on its own, and how many people kept.
    pub reviewed_auto: u64,
    pub kept_auto: u64,
    /// Precision of auto-accepted labels with its 95% Wilson interval (when any were reviewed).
    pub precision: Option<(f64, f64, f64)>,
    /// Acceptance rate of every reviewed label.
    pub acceptance: Option<f64>,
}

#[derive(Deserialize)]
struct DecisionRow {
    model: String,
    #[serde(rename = "type")]
    kind: String,
    confidence: f64,
    verdict: String,
}

/// Every model's feedback from the decisions in the product graph; labels at or above
/// `threshold` were accepted by the model on its own. Blocking.
pub fn feedback(
    catalog: &Catalog,
    threshold: f64,
) -> Result<BTreeMap<String, Feedback>, CatalogError> {
    let rows: Vec<DecisionRow> = catalog.query_rows(
        &NamedQuery::parse("model-feedback", include_str!("queries/model-feedback.rq"))?,
        &[("graph", catalog.layout().products.as_str())],
        &Visibility::ADMIN,
    )?;
    let mut out: BTreeMap<String, Feedback> = BTreeMap::new();
    for r in rows {
        let f = out.entry(r.model).or_default();
        let kept = r.verdict == "accepted";
        let e = f.by_type.entry(r.kind).or_default();
        if kept {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
        if r.confidence >= threshold {
            f.reviewed_auto += 1;
            f.kept_auto += u64::from(kept);
        }
    }
    for f in out.values_mut() {
        let (a, n) = f
            .by_type
            .values()
            .fold((0, 0), |(a, n), (x, y)| (a + x, n + x + y));
        f.acceptance = (n > 0).then(|| a as f64 / n as f64);
        if f.reviewed_auto > 0 {
            let (lo, hi) = wilson(f.kept_auto, f.reviewed_auto);
            f.precision = Some((f.kept_auto as f64 / f.reviewed_auto as f64, lo, hi));
        }
    }
    Ok(out)
}

fn st(local: &str) -> String {
    format!("{ST}{local}")
}

/// A model event's statements for the changes graph (the shape of scan events: the model is
/// the event's source and asset).
pub fn event_statements(
    base: &str,
    cause: &str,
    model: &str,
    e: &ChangeEvent,
    at: &str,
) -> (String, Vec<Statement>) {
    let iri = format!(
        "{base}change/{}",
        short_hash(&[cause, e.kind.name(), model])
    );
    let mut out = Vec::new();
    let mut add = |p: String, o: Object| out.push(Statement::new(&iri, p, o));
    add(format!("{RDF}type"), Object::iri(st("ChangeEvent")));
    add(st("changeType"), Object::string(e.kind.name()));
    add(st("severity"), Object::string(e.severity.name()));
    add(format!("{PROV}atTime"), Object::datetime(at));
    add(format!("{PROV}wasGeneratedBy"), Object::iri(cause));
    add(st("eventSource"), Object::iri(model));
    add(st("asset"), Object::iri(model));
    add(st("location"), Object::string(&e.location));
    add(format!("{RDFS}comment"), Object::string(&e.message));
    if let Some(m) = &e.metric {
        add(st("metricName"), Object::string(&m.name));
        add(st("metricValue"), Object::double(m.value));
    }
    (iri, out)
}

fn event(
    kind: EventKind,
    model_name: &str,
    message: String,
    metric: &str,
    value: f64,
) -> ChangeEvent {
    ChangeEvent {
        kind,
        severity: kind.default_severity(),
        location: format!("model:{model_name}"),
        column: None,
        message,
        old: None,
        new: None,
        metric: Some(Metric {
            name: metric.into(),
            value,
        }),
    }
}

/// A run's comparison with its model's reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compared {
    pub model: String,
    pub stats: RunStats,
    /// The reference run's stats node, when there is one (`None`: this run became it, or has
    /// too few labels to be one).
    pub reference: Option<String>,
    pub psi_confidence: Option<f64>,
    pub psi_labels: Option<f64>,
    pub drift: Option<ChangeEvent>,
}

#[derive(Deserialize)]
struct ReferenceRow {
    r: String,
    histogram: String,
    shares: String,
}

/// Records one labelling run's stats per model in the models graph, compares each with the
/// model's reference (making this run the reference when there is none and it is large
/// enough) and returns the comparisons with their drift events. Blocking.
pub fn record_run(
    catalog: &Catalog,
    config: &ModelWatchConfig,
    run: &str,
    stats: &BTreeMap<String, RunStats>,
) -> Result<Vec<Compared>, CatalogError> {
    let models_graph = catalog.layout().models.clone();
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = Vec::new();
    for (model, s) in stats {
        if s.records == 0 {
            continue;
        }
        let node = format!("{run}/model-stats/{}", short_hash(&[model]));
        let refs: Vec<ReferenceRow> = catalog.query_rows(
            &NamedQuery::parse(
                "model-reference",
                include_str!("queries/model-reference.rq"),
            )?,
            &[("graph", models_graph.as_str()), ("model", model)],
            &Visibility::ADMIN,
        )?;
        let mut statements = vec![
            Statement::new(
                &node,
                format!("{RDF}type"),
                Object::iri(st("ModelRunStats")),
            ),
            Statement::new(&node, st("model"), Object::iri(model)),
            Statement::new(&node, format!("{PROV}wasGeneratedBy"), Object::iri(run)),
            Statement::new(
                &node,
                format!("{PROV}generatedAtTime"),
                Object::datetime(&at),
            ),
            Statement::new(&node, st("records"), Object::integer(s.records)),
            Statement::new(&node, st("labels"), Object::integer(s.labels)),
            Statement::new(
                &node,
                st("underThreshold"),
                Object::integer(s.under_threshold),
            ),
            Statement::new(
                &node,
                st("confidenceHistogram"),
                Object::string(serde_json::to_string(&s.histogram).unwrap_or_default()),
            ),
            Statement::new(
                &node,
                st("labelShares"),
                Object::string(serde_json::to_string(&s.shares).unwrap_or_default()),
            ),
        ];
        let mut compared = Compared {
            model: model.clone(),
            stats: s.clone(),
            reference: None,
            psi_confidence: None,
            psi_labels: None,
            drift: None,
        };
        match refs.into_iter().next() {
            None if s.records >= config.min_records => {
                statements.push(Statement::new(
                    model,
                    st("referenceStats"),
                    Object::iri(&node),
                ));
            }
            None => {}
            Some(r) => {
                let hist: Vec<u64> = serde_json::from_str(&r.histogram).unwrap_or_default();
                let shares: BTreeMap<String, u64> =
                    serde_json::from_str(&r.shares).unwrap_or_default();
                let pc = psi_counts(&hist, &s.histogram);
                let pl = psi_shares(&shares, &s.shares);
                statements.push(Statement::new(&node, st("reference"), Object::iri(&r.r)));
                statements.push(Statement::new(
                    &node,
                    st("psiConfidence"),
                    Object::double(pc),
                ));
                statements.push(Statement::new(&node, st("psiLabels"), Object::double(pl)));
                let name = short_name(model);
                let name = name.as_str();
                metrics::gauge!("stocktake_model_confidence_psi", "model" => name.to_string())
                    .set(pc);
                metrics::gauge!("stocktake_model_label_psi", "model" => name.to_string()).set(pl);
                if s.records >= config.min_records && (pc > config.psi || pl > config.psi) {
                    let (metric, value) = if pc >= pl {
                        ("psi-confidence", pc)
                    } else {
                        ("psi-labels", pl)
                    };
                    compared.drift = Some(event(
                        EventKind::ModelDrift,
                        name,
                        format!(
                            "{name}: this run's {} labels on {} texts moved from the reference \
                             run: PSI {pc:.3} of confidences, {pl:.3} of label shares (threshold \
                             {}); {:.0}% under the review threshold",
                            s.labels,
                            s.records,
                            config.psi,
                            100.0 * s.under_threshold as f64 / s.labels.max(1) as f64
                        ),
                        metric,
                        value,
                    ));
                }
                compared.reference = Some(r.r);
                compared.psi_confidence = Some(pc);
                compared.psi_labels = Some(pl);
            }
        }
        let name = short_name(model);
        metrics::gauge!("stocktake_model_under_threshold_share", "model" => name)
            .set(s.under_threshold as f64 / s.labels.max(1) as f64);
        catalog.replace_subjects(&models_graph, &[node], &statements)?;
        out.push(compared);
    }
    Ok(out)
}

/// Judges each model's precision from the reviews: a `model-precision-drop` for a model whose
/// interval lies under the floor and was not already alerted, and the open marks of models
/// that recovered cleared. Returns the events with the model they are about. Blocking.
pub fn judge_precision(
    catalog: &Catalog,
    config: &ModelWatchConfig,
    threshold: f64,
) -> Result<Vec<(String, ChangeEvent)>, CatalogError> {
    let graph = catalog.layout().models.clone();
    let open_mark = st("precisionAlertOpen");
    let mut events = Vec::new();
    for (model, f) in feedback(catalog, threshold)? {
        let Some((p, lo, hi)) = f.precision else {
            continue;
        };
        let name = short_name(&model);
        metrics::gauge!("stocktake_model_precision", "model" => name.clone()).set(p);
        let low = f.reviewed_auto >= config.min_reviewed && hi < config.precision_floor;
        let open = catalog
            .objects(&graph, &model, &open_mark)?
            .first()
            .is_some_and(|v| v == "true");
        if low && !open {
            events.push((
                model.clone(),
                event(
                    EventKind::ModelPrecisionDrop,
                    &name,
                    format!(
                        "{name}: people kept {} of the {} reviewed labels it accepted on its own: \
                         precision {p:.2} (95% interval {lo:.2}–{hi:.2}) is under the floor {}",
                        f.kept_auto, f.reviewed_auto, config.precision_floor
                    ),
                    "precision",
                    p,
                ),
            ));
        }
        if low != open {
            let marks = if low {
                vec![Statement::new(&model, &open_mark, Object::boolean(true))]
            } else {
                vec![]
            };
            catalog.replace_properties(
                &graph,
                std::slice::from_ref(&model),
                std::slice::from_ref(&open_mark),
                &marks,
            )?;
        }
    }
    Ok(events)
}

/// `name@version` of a model IRI (`{base}model/{name}/{sha256 prefix}`), for people.
pub fn short_name(iri: &str) -> String {
    let mut parts = iri.rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(v), Some(n)) => format!("{n}@{}", &v[..v.len().min(8)]),
        _ => iri.to_string(),
    }
}

/// Writes model events into the changes graph (caused by `cause`: an ingest run or a label
/// decision) and hands them to the alert rules; returns the deliveries. Blocking.
pub fn publish(
    catalog: &Catalog,
    monitor: &super::MonitorConfig,
    cause: &str,
    events: &[(String, ChangeEvent)],
) -> Result<Vec<super::Delivery>, CatalogError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let base = catalog.layout().base().to_owned();
    let (mut iris, mut statements) = (Vec::new(), Vec::new());
    for (model, e) in events {
        let (iri, s) = event_statements(&base, &format!("{cause}#{at}"), model, e, &at);
        iris.push(iri);
        statements.extend(s);
        metrics::counter!("stocktake_change_events_total", "type" => e.kind.name()).increment(1);
        tracing::warn!(kind = e.kind.name(), "model watch: {}", e.message);
    }
    catalog.describe(&catalog.layout().changes, &[], &statements)?;
    let list: Vec<ChangeEvent> = events.iter().map(|(_, e)| e.clone()).collect();
    let mut deliveries = super::alert::dispatch(monitor, "models", cause, &list, &iris);
    deliveries.extend(super::bus::publish(
        &monitor.nats,
        &monitor.delivery,
        "models",
        cause,
        &list,
        &iris,
    ));
    super::events::record_deliveries(catalog, &format!("{cause}/model-watch"), &deliveries)?;
    Ok(deliveries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_and_wilson_by_hand() {
        assert_eq!(psi_counts(&[10, 10], &[10, 10]), 0.0);
        // Shares 0.5/0.5 → 0.9/0.1: (0.9−0.5)·ln(1.8) + (0.1−0.5)·ln(0.2).
        let want = 0.4 * 1.8f64.ln() + (-0.4) * 0.2f64.ln();
        assert!((psi_counts(&[5, 5], &[9, 1]) - want).abs() < 1e-12);
        let a = BTreeMap::from([("brand".to_string(), 5u64), ("model".to_string(), 5)]);
        let b = BTreeMap::from([("brand".to_string(), 9u64), ("misc".to_string(), 1)]);
        assert!(psi_shares(&a, &b) > 1.0);
        // Wilson for 0/20: (0, z²/(n + z²)) = (0, 0.1611).
        let (lo, hi) = wilson(0, 20);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.161_12).abs() < 1e-4, "{hi}");
        let (lo, hi) = wilson(45, 50);
        assert!(lo < 0.9 && hi > 0.9 && lo > 0.78 && hi < 0.96, "{lo} {hi}");
    }

    #[test]
    fn stats_count_and_merge() {
        let mut s = RunStats::default();
        s.add("brand", 0.95, false);
        s.add("brand", 1.0, false);
        s.add("model", 0.42, true);
        let mut t = RunStats::default();
        t.add("misc", 0.05, true);
        t.read(true);
        s.merge(&t);
        assert_eq!((s.labels, s.under_threshold, s.records), (4, 2, 1));
        assert_eq!(s.shares[NONE], 1);
        assert_eq!(s.histogram[9], 2);
        assert_eq!((s.histogram[4], s.histogram[0]), (1, 1));
        assert_eq!(s.shares["brand"], 2);
    }
}
