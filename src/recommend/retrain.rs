//! Embeddings that keep up with the product graph: after an ingest changes the graph beyond a
//! configured fraction, the model is retrained warm — started from the served model's rows for
//! every entity and relation it knew, new ones freshly initialised — for a short budget of
//! epochs, and written over the served file atomically. The [`Service`](super::Service) picks
//! the new file up on its next request and swaps it in; until then, and if retraining fails, the
//! old model keeps answering. Each answer names the data snapshot its model was trained on.
//!
//! The split of the graph's triples is by triple hash (as `train --from-catalog`), so a triple
//! held out for testing before stays held out after the graph grows: quality on the old test
//! triples is comparable across retrains.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::RecommendError;
use crate::catalog::Catalog;
use crate::embed::{self, Embedding, Trainer, Validation};
use crate::kg::{split_by_hash, Checkpoint, Dataset, UnseenPolicy};
use crate::kg::{KnownTriples, Triple};

/// What a retrain did.
#[derive(Debug, Clone, Serialize)]
pub struct Retrained {
    pub model: PathBuf,
    pub model_id: String,
    pub previous_model_id: String,
    pub snapshot: String,
    /// Share of the new training triples the served model had not seen.
    pub changed_fraction: f64,
    pub new_entities: usize,
    pub epochs: usize,
    pub seconds: f64,
    /// Filtered MRR on the held-out test triples, before and after.
    pub test_mrr_before: Option<f64>,
    pub test_mrr_after: Option<f64>,
}

/// Why nothing was retrained.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum Skipped {
    /// No model is served yet (train one first; retraining only keeps one up to date).
    NoModel,
    /// Another retrain is running.
    Busy,
    /// The graph changed less than the threshold.
    BelowThreshold { changed_fraction: f64 },
}

/// The entity-to-entity triples of a catalog graph (`products`, `catalog`, … or an IRI),
/// leaving out the `exclude`d predicates (default: `rdf:type`, whose class nodes would become
/// hubs), as a dataset split by triple hash (5% valid, 5% test): a triple held out once stays
/// held out as the graph grows. Used by `train --from-catalog` and by the retrain.
pub fn catalog_dataset(
    catalog: &Catalog,
    graph: &str,
    exclude: &[String],
    unseen: UnseenPolicy,
) -> Result<Dataset, RecommendError> {
    let graph = catalog.layout().resolve(graph)?;
    let exclude = if exclude.is_empty() {
        vec![format!("{}type", crate::catalog::vocab::RDF)]
    } else {
        exclude.to_vec()
    };
    let triples = catalog.entity_triples(&graph, &exclude)?;
    if triples.is_empty() {
        return Err(RecommendError::Invalid(format!(
            "graph {} has no entity-to-entity triples to train on (literals and {} are left out); ingest data first",
            graph.as_str(),
            exclude.join(", ")
        )));
    }
    let (train, valid, test) = split_by_hash(triples, 50, 50);
    Ok(Dataset::from_named(
        train,
        valid,
        test,
        unseen,
        format!("catalog graph {}", graph.as_str()),
    )?)
}

static RUNNING: AtomicBool = AtomicBool::new(false);

/// Retrains the model at `path` from the product graph when at least `fraction` of the graph's
/// training triples are new to it; at most one retrain runs at a time. Blocking (it trains).
pub fn maybe_retrain(
    catalog: &Catalog,
    path: &Path,
    fraction: f64,
    epochs: usize,
) -> Result<Result<Retrained, Skipped>, RecommendError> {
    if !path.is_file() {
        return Ok(Err(Skipped::NoModel));
    }
    if RUNNING.swap(true, Ordering::SeqCst) {
        return Ok(Err(Skipped::Busy));
    }
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            RUNNING.store(false, Ordering::SeqCst);
        }
    }
    let _done = Done;
    let started = std::time::Instant::now();
    let old = Embedding::from_checkpoint(&Checkpoint::load(path)?)?;
    let data = catalog_dataset(catalog, "products", &[], UnseenPolicy::Keep)?;
    let changed = changed_fraction(&old, &data);
    if changed < fraction {
        return Ok(Err(Skipped::BelowThreshold {
            changed_fraction: changed,
        }));
    }
    let mut config = old.config.clone();
    config.epochs = epochs;
    let mut trainer = Trainer::new(
        config,
        &data.train,
        data.num_entities(),
        data.num_relations(),
    )?;
    let pairs = |new: &crate::kg::IdMap, old: &crate::kg::IdMap| -> Vec<(u32, u32)> {
        new.names()
            .iter()
            .enumerate()
            .filter_map(|(i, n)| old.get(n).map(|o| (i as u32, o)))
            .collect()
    };
    let entity_pairs = pairs(&data.ids.entities, &old.ids.entities);
    let new_entities = data.num_entities() - entity_pairs.len();
    trainer.warm_start(
        &old.model,
        &entity_pairs,
        &pairs(&data.ids.relations, &old.ids.relations),
    )?;
    let validation = (!data.valid.is_empty()).then(|| Validation {
        triples: data.valid.clone(),
        known: KnownTriples::new([&data.train[..], &data.valid[..]]),
    });
    let held_out = HeldOut::new(&old, &data);
    let before = held_out.mrr_old(&old.model);
    trainer.run(&data.train, validation.as_ref(), |_, _| {
        std::ops::ControlFlow::Continue(())
    });
    let after = held_out.mrr_new(trainer.best_model());
    let mut info = old.info.clone();
    info.source = data.source.clone();
    info.snapshot = data.fingerprint.clone();
    info.seconds = started.elapsed().as_secs_f64();
    info.metrics.clear();
    info.metrics
        .insert("warm_start.changed_fraction".into(), changed);
    let embedding = Embedding::from_trainer(&trainer, data.ids.clone(), info, data.train.clone())?;
    embedding.to_checkpoint().save(path)?;
    Ok(Ok(Retrained {
        model: path.to_path_buf(),
        model_id: embedding.model_id(),
        previous_model_id: old.model_id(),
        snapshot: embedding.info.snapshot.clone(),
        changed_fraction: changed,
        new_entities,
        epochs: trainer.epoch,
        seconds: started.elapsed().as_secs_f64(),
        test_mrr_before: before,
        test_mrr_after: after,
    }))
}

/// Share of `data`'s training triples the model `old` was not trained on.
fn changed_fraction(old: &Embedding, data: &Dataset) -> f64 {
    let name = |ids: &crate::kg::IdMap, i: u32| ids.name(i).unwrap_or_default().to_string();
    let seen: HashSet<(String, String, String)> = old
        .train
        .iter()
        .map(|t| {
            (
                name(&old.ids.entities, t.h),
                name(&old.ids.relations, t.r),
                name(&old.ids.entities, t.t),
            )
        })
        .collect();
    let new_triples = data
        .train
        .iter()
        .filter(|t| {
            !seen.contains(&(
                name(&data.ids.entities, t.h),
                name(&data.ids.relations, t.r),
                name(&data.ids.entities, t.t),
            ))
        })
        .count();
    new_triples as f64 / data.train.len().max(1) as f64
}

/// The held-out test triples both the served and the retrained model can name, in each
/// model's ids, and every triple of the current graph each can name to filter by: the same
/// question asked of each.
struct HeldOut {
    shared: Vec<(Triple, Triple)>,
    known_new: KnownTriples,
    known_old: KnownTriples,
}

impl HeldOut {
    fn new(old: &Embedding, data: &Dataset) -> HeldOut {
        let name = |ids: &crate::kg::IdMap, i: u32| ids.name(i).unwrap_or_default().to_string();
        let to_old = |t: &crate::kg::Triple| -> Option<crate::kg::Triple> {
            Some(crate::kg::Triple::new(
                old.ids.entities.get(&name(&data.ids.entities, t.h))?,
                old.ids.relations.get(&name(&data.ids.relations, t.r))?,
                old.ids.entities.get(&name(&data.ids.entities, t.t))?,
            ))
        };
        let all: Vec<crate::kg::Triple> =
            [&data.train[..], &data.valid[..], &data.test[..]].concat();
        let known_new = KnownTriples::new([&all[..]]);
        let known_old = KnownTriples::new([&all.iter().filter_map(to_old).collect::<Vec<_>>()[..]]);
        let shared: Vec<(crate::kg::Triple, crate::kg::Triple)> = data
            .test
            .iter()
            .filter_map(|t| to_old(t).map(|o| (*t, o)))
            .collect();
        HeldOut {
            shared,
            known_new,
            known_old,
        }
    }

    /// Filtered test MRR of the served model (`None` without shared test triples).
    fn mrr_old(&self, model: &crate::embed::TransE) -> Option<f64> {
        (!self.shared.is_empty()).then(|| {
            let test: Vec<_> = self.shared.iter().map(|p| p.1).collect();
            embed::evaluate(model, &test, &self.known_old).both.mrr
        })
    }

    /// Filtered test MRR of the retrained model.
    fn mrr_new(&self, model: &crate::embed::TransE) -> Option<f64> {
        (!self.shared.is_empty()).then(|| {
            let test: Vec<_> = self.shared.iter().map(|p| p.0).collect();
            embed::evaluate(model, &test, &self.known_new).both.mrr
        })
    }
}
