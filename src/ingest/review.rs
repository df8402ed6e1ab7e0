//! The review queue's reads: machine labels listed least confident first, with a person's
//! decision counted at once (before the next ingest rewrites the label), one entity's labels,
//! and each label's detail — its product's title (a review's text) and the span.
//!
//! A single SPARQL query joining every label with its title and decision, sorted by confidence,
//! took ~1 s on the demo's 14,000 labels (the evaluator decodes terms at every comparison and
//! evaluates the optional parts for all labels before the sort). So the listing reads the
//! store's indexes directly: the candidates (the labels of a stored status, or of one entity)
//! with their confidence, the decisions (few, by SPARQL), the sort and the page in Rust, then
//! the page's labels in detail.

use std::collections::HashMap;

use serde::Deserialize;

use super::label::{label_iri, STATUSES};
use crate::catalog::vocab::{PROV, RDF, SCHEMA, ST};
use crate::catalog::Visibility;
use crate::catalog::{Catalog, CatalogError, NamedQuery, Object};

/// One label as the review queue shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LabelRow {
    /// The short id used by accept/reject.
    pub id: String,
    pub iri: String,
    /// The labelled product (or review).
    pub product: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    pub confidence: Option<f64>,
    pub model: String,
    /// `accepted`, `review`, or a person's `human-accepted` / `human-rejected` (at once, before
    /// the next ingest rewrites the label).
    pub status: String,
    /// The labelled product's title (a review's text), and where in it the value was found
    /// (characters).
    pub title: Option<String>,
    pub start: Option<usize>,
    pub end: Option<usize>,
    /// The ingest run that made the label.
    pub run: Option<String>,
    /// Who decided, when a person did.
    pub decided_by: Option<String>,
}

struct Candidate {
    l: String,
    confidence: f64,
    stored: String,
}

#[derive(Deserialize)]
struct Decision {
    l: String,
    v: String,
    by: Option<String>,
}

/// What the queue shows of one label besides its id and status.
struct Detail {
    product: String,
    title: Option<String>,
    kind: String,
    value: String,
    start: Option<usize>,
    end: Option<usize>,
    confidence: Option<f64>,
    model: String,
    run: Option<String>,
    stored: String,
}

fn query(name: &str, text: &str) -> Result<NamedQuery, CatalogError> {
    NamedQuery::parse(name, text)
}

/// Labels with `status` (any when `None`), least confident first, at most `limit`; of one
/// product (or review) when `product` is given. Through the caller's visibility. Blocking.
pub fn list(
    catalog: &Catalog,
    status: Option<&str>,
    product: Option<&str>,
    limit: usize,
    vis: &Visibility,
) -> Result<Vec<LabelRow>, CatalogError> {
    if let Some(s) = status {
        if !STATUSES.contains(&s) {
            return Err(CatalogError::Invalid(format!(
                "unknown status {s:?}: use one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    let g = catalog.layout().products.as_str();
    let decisions: HashMap<String, Decision> = catalog
        .query_rows::<Decision>(
            &query(
                "all-label-decisions",
                include_str!("queries/all-label-decisions.rq"),
            )?,
            &[("graph", g)],
            vis,
        )?
        .into_iter()
        .map(|d| (d.l.clone(), d))
        .collect();
    let shown = |c: &Candidate| match decisions.get(&c.l) {
        Some(d) => format!("human-{}", d.v),
        None => c.stored.clone(),
    };
    // A non-admin reads nothing of a restricted product graph (as their SPARQL would).
    let graph = catalog.layout().products.clone();
    if !catalog.sees(vis, &graph)? {
        return Ok(Vec::new());
    }
    let st = |local: &str| format!("{ST}{local}");
    let ids = match (product, status) {
        (Some(p), _) => catalog.subjects(&graph, &st("labelOf"), &Object::iri(p))?,
        // A stored status, narrowed by its index; labels a person has decided on since may
        // read otherwise and are filtered below.
        (None, Some(s)) => catalog.subjects(&graph, &st("status"), &Object::string(s))?,
        (None, None) => {
            catalog.subjects(&graph, &format!("{RDF}type"), &Object::iri(st("Label")))?
        }
    };
    // Confidence and stored status: for all labels, two scans of their predicates; for a few
    // thousand (one status) or a handful (one entity), a lookup each, which decodes far fewer
    // terms (0.17 s for the scans against 30 ms for the demo's 2,500 labels in review).
    let mut candidates = Vec::with_capacity(ids.len());
    if product.is_none() && status.is_none() {
        let confidence: HashMap<String, String> = catalog
            .predicate_values(&graph, &st("confidence"))?
            .into_iter()
            .collect();
        let mut stored: HashMap<String, String> = catalog
            .predicate_values(&graph, &st("status"))?
            .into_iter()
            .collect();
        for l in ids {
            if let (Some(c), Some(s)) = (confidence.get(&l), stored.remove(&l)) {
                candidates.push(Candidate {
                    confidence: c.parse().unwrap_or(0.0),
                    stored: s,
                    l,
                });
            }
        }
    } else {
        for l in ids {
            let one = |p: &str| -> Result<Option<String>, CatalogError> {
                Ok(catalog.objects(&graph, &l, &st(p))?.into_iter().next())
            };
            let stored = match (product, status) {
                (None, Some(s)) => Some(s.to_owned()),
                _ => one("status")?,
            };
            if let (Some(c), Some(s)) = (one("confidence")?, stored) {
                candidates.push(Candidate {
                    confidence: c.parse().unwrap_or(0.0),
                    stored: s,
                    l,
                });
            }
        }
    }
    // Details straight from the store's index (about ten lookups per label). A SPARQL join of
    // the page's labels with their optional parts cost ~4 ms per label.
    let read = |labels: &[String]| -> Result<HashMap<String, Detail>, CatalogError> {
        let mut out = HashMap::new();
        for l in labels {
            let one = |subject: &str, p: &str| -> Result<Option<String>, CatalogError> {
                Ok(catalog.objects(&graph, subject, p)?.into_iter().next())
            };
            let (Some(product), Some(kind), Some(value), Some(model), Some(stored)) = (
                one(l, &st("labelOf"))?,
                one(l, &st("entityType"))?,
                one(l, &st("value"))?,
                one(l, &st("model"))?,
                one(l, &st("status"))?,
            ) else {
                continue; // not a whole label (rewritten meanwhile)
            };
            let title = match one(&product, &format!("{SCHEMA}name"))? {
                Some(t) => Some(t),
                None => one(&product, &format!("{SCHEMA}reviewBody"))?,
            };
            let number = |p: &str| -> Result<Option<String>, CatalogError> { one(l, &st(p)) };
            out.insert(
                l.clone(),
                Detail {
                    title,
                    kind,
                    value,
                    start: number("start")?.and_then(|v| v.parse().ok()),
                    end: number("end")?.and_then(|v| v.parse().ok()),
                    confidence: number("confidence")?.and_then(|v| v.parse().ok()),
                    model,
                    run: one(l, &format!("{PROV}wasGeneratedBy"))?,
                    stored,
                    product,
                },
            );
        }
        Ok(out)
    };
    // Decided since the last ingest: stored as `review` or `accepted`, shown as the decision.
    if let (None, Some(s)) = (product, status) {
        if let Some(verdict) = s.strip_prefix("human-") {
            let known: std::collections::HashSet<String> =
                candidates.iter().map(|c| c.l.clone()).collect();
            let decided: Vec<String> = decisions
                .values()
                .filter(|d| d.v == verdict && !known.contains(&d.l))
                .map(|d| d.l.clone())
                .collect();
            for (l, found) in read(&decided)? {
                candidates.push(Candidate {
                    l,
                    confidence: found.confidence.unwrap_or(0.0),
                    stored: found.stored,
                });
            }
        }
    }
    if let Some(s) = status {
        candidates.retain(|c| shown(c) == s);
    }
    candidates.sort_by(|a, b| {
        a.confidence
            .total_cmp(&b.confidence)
            .then_with(|| a.l.cmp(&b.l))
    });
    candidates.truncate(limit);
    let prefix = label_iri(catalog.layout().base(), "");
    let page: Vec<String> = candidates.iter().map(|c| c.l.clone()).collect();
    let mut details = read(&page)?;
    let mut out = Vec::with_capacity(candidates.len());
    for c in candidates {
        let Some(d) = details.remove(&c.l) else {
            continue; // rewritten by an ingest between the two reads
        };
        let decision = decisions.get(&c.l);
        out.push(LabelRow {
            id: c.l.strip_prefix(&prefix).unwrap_or(&c.l).to_owned(),
            status: shown(&c),
            decided_by: decision.and_then(|d| d.by.clone()),
            product: d.product,
            kind: d.kind,
            value: d.value,
            confidence: d.confidence,
            model: d.model,
            title: d.title,
            start: d.start,
            end: d.end,
            run: d.run,
            iri: c.l,
        });
    }
    Ok(out)
}
