//! The models section of the inventory report (模型性能监控): per labelling model, its latest
//! run against its reference (labels, share under the review threshold, PSI of confidences and
//! of label shares, the confidence histogram) and what the reviews say (acceptance per label
//! type, precision of the labels it accepted on its own with its interval), and the reads that feed
//! it and the retraining export: each model's latest run, and the reviewed labels as examples.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::models::Feedback;
use crate::catalog::{Catalog, CatalogError, NamedQuery, Visibility};
use crate::inventory::report::{bars, esc};

/// One reviewed label as a training example.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Example {
    /// The model version that made the label.
    pub model: String,
    #[serde(rename(deserialize = "l"))]
    pub label: String,
    pub text: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub confidence: f64,
    /// `accepted` or `rejected`: rejected labels are the negatives the model got wrong.
    pub verdict: String,
}

/// The labels of the models whose IRI starts with `prefix` (a package's versions) people
/// decided on, with their text: the next retraining set. Blocking.
pub fn examples(catalog: &Catalog, prefix: &str) -> Result<Vec<Example>, CatalogError> {
    let rows: Vec<Example> = catalog.query_rows(
        &NamedQuery::parse(
            "model-feedback-examples",
            include_str!("queries/model-feedback-examples.rq"),
        )?,
        &[("graph", catalog.layout().products.as_str())],
        &Visibility::ADMIN,
    )?;
    Ok(rows
        .into_iter()
        .filter(|r| r.model.starts_with(prefix))
        .collect())
}

/// One model's latest labelling run as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LatestRun {
    pub model: String,
    #[serde(rename(deserialize = "s"))]
    pub stats: String,
    pub run: String,
    pub at: String,
    pub labels: u64,
    pub under: u64,
    pub histogram: String,
    #[serde(rename = "psi_confidence", alias = "psiConfidence")]
    pub psi_confidence: Option<f64>,
    #[serde(rename = "psi_labels", alias = "psiLabels")]
    pub psi_labels: Option<f64>,
    pub reference: Option<String>,
}

/// Each model's latest labelling run. Blocking.
pub fn latest_runs(catalog: &Catalog) -> Result<Vec<LatestRun>, CatalogError> {
    let rows: Vec<LatestRun> = catalog.query_rows(
        &NamedQuery::parse("model-runs", include_str!("queries/model-runs.rq"))?,
        &[("graph", catalog.layout().models.as_str())],
        &Visibility::ADMIN,
    )?;
    let mut seen = std::collections::BTreeSet::new();
    Ok(rows
        .into_iter()
        .filter(|r| seen.insert(r.model.clone()))
        .collect())
}

/// One model in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ModelHealth {
    pub model: String,
    pub latest: Option<LatestRun>,
    pub feedback: Option<Feedback>,
}

/// The report's models section.
#[derive(Debug, Clone, Serialize)]
pub struct ModelsSection {
    pub models: Vec<ModelHealth>,
    /// The PSI past which a run counts as drift, and the precision floor.
    pub psi_threshold: f64,
    pub precision_floor: f64,
}

/// The section as HTML.
pub fn html(s: &ModelsSection) -> String {
    let mut h = String::from("<section id=\"models\"><h2>模型性能监控 · Model watch</h2>");
    let _ = write!(
        h,
        "<p class=\"muted\">drift: PSI over {} against each model's reference run; precision floor {}</p>\
         <table><tr><th>model</th><th>latest run</th><th>labels</th><th>under threshold</th><th>PSI confidences</th>\
         <th>PSI label shares</th><th>reviewed (auto-accepted)</th><th>precision (95% interval)</th><th>acceptance</th></tr>",
        s.psi_threshold, s.precision_floor
    );
    for m in &s.models {
        let name = super::models::short_name(&m.model);
        let (at, labels, under, pc, pl) = match &m.latest {
            Some(r) => (
                r.at.clone(),
                r.labels.to_string(),
                format!("{:.1}%", 100.0 * r.under as f64 / r.labels.max(1) as f64),
                r.psi_confidence
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or("reference".into()),
                r.psi_labels
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or("reference".into()),
            ),
            None => Default::default(),
        };
        let (reviewed, precision, acceptance) = match &m.feedback {
            Some(f) => (
                f.reviewed_auto.to_string(),
                f.precision
                    .map(|(p, lo, hi)| format!("{p:.2} ({lo:.2}–{hi:.2})"))
                    .unwrap_or("–".into()),
                f.acceptance
                    .map(|a| format!("{:.0}%", a * 100.0))
                    .unwrap_or("–".into()),
            ),
            None => ("0".into(), "–".into(), "–".into()),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            esc(&at),
            labels,
            under,
            pc,
            pl,
            reviewed,
            precision,
            acceptance
        );
    }
    h.push_str("</table><div class=\"charts\">");
    for m in &s.models {
        let Some(r) = &m.latest else { continue };
        let hist: Vec<u64> = serde_json::from_str(&r.histogram).unwrap_or_default();
        let data: BTreeMap<String, u64> = hist
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    format!("{:.1}–{:.1}", i as f64 / 10.0, (i + 1) as f64 / 10.0),
                    *n,
                )
            })
            .collect();
        let name = super::models::short_name(&m.model);
        h.push_str(&bars(
            &format!("{name}: confidence of the latest run's labels"),
            &data,
            "#72b7b2",
        ));
    }
    h.push_str("</div></section>");
    h
}
