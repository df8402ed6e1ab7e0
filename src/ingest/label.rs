//! Machine labels (自动标注): entities the `product-ner` model finds in product titles become
//! facts of the product graph — brand, product type, model number — each with a label node that
//! says which model said so, how sure it was, from which record and in which run.
//!
//! A label is a node, not RDF-star: `?l st:labelOf ?product ; st:predicate ?p ; st:value ?v ;
//! st:confidence ?c ; st:model ?m ; st:status ?s` is one basic graph pattern any SPARQL user can
//! write. Its status is `accepted` (confident enough, so the fact is in the graph),
//! `review` (under the threshold: the fact waits for a person) or the person's own
//! `human-accepted` / `human-rejected`. Human decisions live on their own node
//! (`{label}/decision`), which re-ingesting never replaces, so a decision always wins over the
//! model — also the next time the same record is ingested.

use std::collections::HashMap;

use serde::Deserialize;

use super::graph::{content_key, Built, Minter};
use crate::catalog::vocab::{PROV, RDF, SCHEMA, SKOS, ST};
use crate::catalog::Visibility;
use crate::catalog::{Catalog, CatalogError, NamedQuery, Object, Statement};
use crate::infer::{InferError, Model, Prediction, Task};

/// The labeller: a token classifier over titles and where its labels go.
pub struct Labeler {
    model: Model,
    /// The model's IRI in the models graph.
    model_iri: String,
    /// Confidence at which a label becomes a fact without review.
    threshold: f32,
}

/// What labelling did in one run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LabelStats {
    pub labels: u64,
    pub accepted: u64,
    pub review: u64,
    pub human_accepted: u64,
    pub human_rejected: u64,
    /// Model-only time, for the pipeline-vs-model benchmark.
    pub model_seconds: f64,
    /// Per model (IRI): label counts, confidence histogram and label shares — what the model
    /// watch (`monitor::models`) compares with the model's reference run.
    pub by_model: std::collections::BTreeMap<String, crate::monitor::models::RunStats>,
}

/// The fact a NER entity type (about a product) or a classifier head (about a review)
/// asserts, if any.
fn predicate_of(kind: &str) -> Option<String> {
    match kind {
        "brand" => Some(format!("{SCHEMA}brand")),
        "product" => Some(format!("{ST}productType")),
        "model" => Some(format!("{SCHEMA}model")),
        "category" => Some(format!("{ST}reviewCategory")),
        "sentiment" => Some(format!("{ST}sentiment")),
        _ => None,
    }
}

/// One label before it is written: record index, id, kind (entity type or head), value,
/// character span (entities only), confidence.
struct Planned {
    i: usize,
    id: String,
    kind: String,
    value: String,
    span: Option<(usize, usize)>,
    score: f32,
}

/// A human decision on a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accept => "accepted",
            Verdict::Reject => "rejected",
        }
    }
}

/// The label IRI for a label id (the last path segment), under the catalog's base.
pub fn label_iri(base: &str, id: &str) -> String {
    format!("{base}label/{id}")
}

/// Label statuses, in the order a reviewer meets them.
pub const STATUSES: [&str; 4] = ["accepted", "review", "human-accepted", "human-rejected"];

pub use super::review::{list, LabelRow};

/// A row of `queries/label-products.rq`.
#[derive(Deserialize)]
struct LabelledProduct {
    p: String,
}

/// Records a person's decision on label `id`; errors when there is no such label.
///
/// A non-admin (`admin` false) finds only labels in graphs they may see.
pub fn decide(
    catalog: &Catalog,
    id: &str,
    verdict: Verdict,
    who: &str,
    vis: &Visibility,
) -> Result<bool, CatalogError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let base = catalog.layout().base().to_owned();
    let label = label_iri(&base, id);
    let query = NamedQuery::parse("label-products", include_str!("queries/label-products.rq"))?;
    let found: Vec<LabelledProduct> = catalog.query_rows(
        &query,
        &[
            ("graph", catalog.layout().products.as_str()),
            ("label", &label),
        ],
        vis,
    )?;
    if found.is_empty() {
        return Ok(false);
    }
    // The product must be labelled again at the next ingest even if its record is unchanged:
    // forget the hash that would let the ingest skip it (before the decision is written, so a
    // failure in between costs a re-label, never a lost decision).
    let products: Vec<String> = found.into_iter().map(|r| r.p).collect();
    catalog.replace_properties(
        &catalog.layout().products,
        &products,
        &[format!("{ST}recordHash")],
        &[],
    )?;
    let d = format!("{label}/decision");
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let statements = vec![
        Statement::new(
            &d,
            format!("{RDF}type"),
            Object::iri(format!("{ST}Decision")),
        ),
        Statement::new(&d, format!("{ST}decisionOn"), Object::iri(&label)),
        Statement::new(&d, format!("{ST}verdict"), Object::string(verdict.as_str())),
        Statement::new(&d, format!("{PROV}wasAttributedTo"), Object::string(who)),
        Statement::new(&d, format!("{PROV}generatedAtTime"), Object::datetime(now)),
    ];
    catalog.replace_subjects(&catalog.layout().products, &[d], &statements)?;
    Ok(true)
}

impl Labeler {
    pub fn new(model: Model, model_iri: String, threshold: f32) -> Labeler {
        Labeler {
            model,
            model_iri,
            threshold,
        }
    }

    /// The configured model for `entity` (`[ingest] title_model` for products, `review_model`
    /// for reviews; `label_threshold`), loaded and described in the models graph so labels can
    /// point at it. `Ok(None)` when none is configured for the entity. Blocking.
    pub fn for_entity(
        infer: &crate::infer::InferConfig,
        ingest: &super::IngestConfig,
        catalog: &Catalog,
        entity: super::mapping::Entity,
    ) -> Result<Option<Labeler>, LabelError> {
        let name = match entity {
            super::mapping::Entity::Product => &ingest.title_model,
            super::mapping::Entity::Review => &ingest.review_model,
            _ => return Ok(None),
        };
        if name.is_empty() {
            return Ok(None);
        }
        Self::load(infer, catalog, name, ingest.label_threshold).map(Some)
    }

    /// The package `name` as a labeller (see [`Labeler::for_entity`]). Blocking.
    pub fn load(
        infer: &crate::infer::InferConfig,
        catalog: &Catalog,
        name: &str,
        threshold: f32,
    ) -> Result<Labeler, LabelError> {
        let dir = crate::infer::find_package(&infer.models_dir, name)?;
        // The labeller runs beside the store writer: its threads must not spin on idle cores.
        let opts = crate::infer::Options::from_config(infer).sharing_cores();
        let model = Model::load(&dir, &opts)?;
        let iri =
            crate::registry::describe(catalog, &crate::registry::from_package(&model.package))?;
        Ok(Labeler::new(model, iri, threshold))
    }

    /// The labelling model's IRI in the models graph.
    pub fn model_iri(&self) -> &str {
        &self.model_iri
    }

    /// What decides this labeller's output besides the text: model and threshold.
    pub fn identity(&self) -> String {
        format!("{} @ {}", self.model_iri, self.threshold)
    }

    /// Labels `batch` in place: product titles with a token-classification model (entities),
    /// review texts with a sequence-classification model (one label per head). Every label is
    /// a node; accepted ones also assert their fact. Human decisions already in `catalog` win.
    /// `categories` resolves a predicted category name to the taxonomy's concept.
    pub fn label(
        &self,
        catalog: &Catalog,
        minter: &Minter,
        batch: &mut [Built],
        run: &str,
        categories: &HashMap<String, String>,
        stats: &mut LabelStats,
    ) -> Result<(), LabelError> {
        let entities = self.model.package.config.task == Task::TokenClassification;
        let items: Vec<usize> = (0..batch.len())
            .filter(|&i| {
                if entities {
                    batch[i].title.is_some()
                } else {
                    batch[i].text.is_some()
                }
            })
            .collect();
        if items.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = items
            .iter()
            .filter_map(|&i| {
                if entities {
                    batch[i].title.as_deref()
                } else {
                    batch[i].text.as_deref()
                }
            })
            .collect();
        let t = std::time::Instant::now();
        let preds = self.model.predict(&texts)?;
        stats.model_seconds += t.elapsed().as_secs_f64();
        // Label IRIs are minted first so the decisions on them are looked up in one query.
        let mut planned = plan(batch, &items, &texts, &preds);
        {
            let watch = stats.by_model.entry(self.model_iri.clone()).or_default();
            let found: std::collections::HashSet<usize> = planned.iter().map(|l| l.i).collect();
            for i in &items {
                watch.read(!found.contains(i));
            }
        }
        let decisions = self.decisions(catalog, minter, &planned)?;
        let status_of = |id: &str, score: f32| match decisions.get(&label_iri(minter.base(), id)) {
            Some(Verdict::Accept) => "human-accepted",
            Some(Verdict::Reject) => "human-rejected",
            None if score >= self.threshold => "accepted",
            None => "review",
        };
        // A product has one brand: per record, a person's choice first, then the most
        // confident label, so the first brand asserted below is the one to keep.
        planned.sort_by(|a, b| {
            let human = |x: &Planned| status_of(&x.id, x.score) != "human-accepted";
            (a.i, human(a))
                .cmp(&(b.i, human(b)))
                .then(b.score.total_cmp(&a.score))
        });
        for l in planned {
            let iri = label_iri(minter.base(), &l.id);
            let status = status_of(&l.id, l.score);
            match status {
                "human-accepted" => stats.human_accepted += 1,
                "human-rejected" => stats.human_rejected += 1,
                "accepted" => stats.accepted += 1,
                _ => stats.review += 1,
            }
            stats.labels += 1;
            let kind = if entities {
                l.kind.clone()
            } else {
                format!("{}={}", l.kind, l.value)
            };
            stats
                .by_model
                .entry(self.model_iri.clone())
                .or_default()
                .add(&kind, l.score, l.score < self.threshold);
            let at = Place {
                minter,
                run,
                categories,
            };
            self.write(&mut batch[l.i], &l, &iri, status, &at);
        }
        Ok(())
    }

    /// One label's node, and the fact it asserts when accepted (a product keeps its first
    /// brand: a mapped one, a person's choice, else the most confident).
    fn write(&self, b: &mut Built, l: &Planned, iri: &str, status: &str, at: &Place<'_>) {
        let Place {
            minter,
            run,
            categories,
        } = at;
        let subject = b.subject.clone();
        let mut add = |s: &str, p: String, o: Object| b.statements.push(Statement::new(s, p, o));
        add(iri, format!("{RDF}type"), Object::iri(format!("{ST}Label")));
        add(iri, format!("{ST}labelOf"), Object::iri(&subject));
        add(iri, format!("{ST}entityType"), Object::string(&l.kind));
        add(iri, format!("{ST}value"), Object::string(&l.value));
        if let Some((start, end)) = l.span {
            add(iri, format!("{ST}start"), Object::integer(start as u64));
            add(iri, format!("{ST}end"), Object::integer(end as u64));
        }
        add(
            iri,
            format!("{ST}confidence"),
            Object::decimal((l.score as f64 * 1000.0).round() / 1000.0),
        );
        add(iri, format!("{ST}model"), Object::iri(&self.model_iri));
        add(iri, format!("{PROV}wasGeneratedBy"), Object::iri(*run));
        add(iri, format!("{ST}status"), Object::string(status));
        let asserted = matches!(status, "accepted" | "human-accepted");
        if let (Some(pred), true) = (predicate_of(&l.kind), asserted) {
            match l.kind.as_str() {
                "brand" if b.has_brand => {}
                "brand" => {
                    b.has_brand = true;
                    add(iri, format!("{ST}predicate"), Object::iri(&pred));
                    let brand = minter.brand(&l.value);
                    add(&subject, pred, Object::iri(&brand));
                    add(
                        &brand,
                        format!("{RDF}type"),
                        Object::iri(format!("{SCHEMA}Brand")),
                    );
                    add(&brand, format!("{SCHEMA}name"), Object::string(&l.value));
                }
                "category" => {
                    add(iri, format!("{ST}predicate"), Object::iri(&pred));
                    let concept = match categories.get(&l.value.to_lowercase()) {
                        Some(c) => c.clone(),
                        None => {
                            let c = minter.category(&l.value);
                            add(
                                &c,
                                format!("{RDF}type"),
                                Object::iri(format!("{SKOS}Concept")),
                            );
                            add(&c, format!("{SKOS}prefLabel"), Object::string(&l.value));
                            c
                        }
                    };
                    add(&subject, pred, Object::iri(concept));
                }
                _ => {
                    add(iri, format!("{ST}predicate"), Object::iri(&pred));
                    add(&subject, pred, Object::string(&l.value));
                }
            }
        }
        b.owned.push(iri.to_owned());
    }

    /// Human decisions on the planned labels, by label IRI.
    fn decisions(
        &self,
        catalog: &Catalog,
        minter: &Minter,
        planned: &[Planned],
    ) -> Result<HashMap<String, Verdict>, CatalogError> {
        if planned.is_empty() {
            return Ok(HashMap::new());
        }
        #[derive(Deserialize)]
        struct Decided {
            l: String,
            v: String,
        }
        let labels: Vec<String> = planned
            .iter()
            .map(|p| label_iri(minter.base(), &p.id))
            .collect();
        let rows: Vec<Decided> = catalog.query_rows_for(
            &NamedQuery::parse(
                "label-decisions",
                include_str!("queries/label-decisions.rq"),
            )?,
            &[("graph", catalog.layout().products.as_str())],
            &crate::catalog::Visibility::ADMIN,
            "l",
            &labels,
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let v = match r.v.as_str() {
                    "accepted" => Verdict::Accept,
                    "rejected" => Verdict::Reject,
                    _ => return None,
                };
                Some((r.l, v))
            })
            .collect())
    }
}

/// Where a batch's labels are written: the IRIs' minter, the run that made them, the taxonomy.
struct Place<'a> {
    minter: &'a Minter,
    run: &'a str,
    categories: &'a HashMap<String, String>,
}

/// The labels a batch's predictions make, each with its content-keyed id.
fn plan(batch: &[Built], items: &[usize], texts: &[&str], preds: &[Prediction]) -> Vec<Planned> {
    let mut planned = Vec::new();
    for (k, (&i, p)) in items.iter().zip(preds).enumerate() {
        let subject = &batch[i].subject;
        let chars: Vec<char> = texts[k].chars().collect();
        for e in &p.entities {
            let value: String = chars[e.start.min(chars.len())..e.end.min(chars.len())]
                .iter()
                .collect();
            let value = value.trim().to_string();
            if value.is_empty() {
                continue;
            }
            let id = content_key(&[subject, &e.label, &e.start.to_string(), &value]);
            planned.push(Planned {
                i,
                id,
                kind: e.label.clone(),
                value,
                span: Some((e.start, e.end)),
                score: e.score,
            });
        }
        for (head, scored) in &p.heads {
            let Some(best) = scored.first() else { continue };
            // One label per head and record: its id does not depend on the answer, so a
            // person's decision on it survives a retrained model that answers differently.
            planned.push(Planned {
                i,
                id: content_key(&[subject, head]),
                kind: head.clone(),
                value: best.label.clone(),
                span: None,
                score: best.score,
            });
        }
    }
    planned
}

/// Labelling failures (the run stops: a half-labelled batch is not written).
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("labelling model failed: {0}")]
    Model(#[from] InferError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}
