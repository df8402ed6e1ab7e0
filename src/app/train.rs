//! The training use case: TransE on a TSV dataset or on a catalog graph, resumable from a
//! training checkpoint, evaluated on the test split when asked (once, at the end), written to
//! the model file the server answers from, and described in the models graph.
//!
//! It opens the store only when it reads or describes something there, and closes it while it
//! trains: `stocktake train --tsv … --no-catalog` runs beside a server that holds the store.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::{App, AppError};
use crate::config::Config;
use crate::embed::checkpoint::{resume, training_checkpoint, ModelInfo};
use crate::embed::{self, Embedding, EpochRecord, Evaluation, TrainConfig, Trainer, Validation};
use crate::kg::{Checkpoint, Dataset, KnownTriples, SplitReport, UnseenPolicy};

/// Where the triples come from.
#[derive(Debug, Clone)]
pub enum TrainData {
    /// A folder or `.tar.gz` with `train.txt` (and `valid.txt`, `test.txt`).
    Tsv(PathBuf),
    /// The entity-to-entity triples of a catalog graph (IRI or short name) without the
    /// `exclude`d predicates (default `rdf:type`), split by triple hash.
    Catalog { graph: String, exclude: Vec<String> },
}

/// One training run.
#[derive(Debug, Clone)]
pub struct TrainJob {
    pub data: TrainData,
    pub unseen: UnseenPolicy,
    pub hyper: TrainConfig,
    /// The model file (`None`: `[embed] model`, the file the server answers from).
    pub out: Option<PathBuf>,
    /// A resumable checkpoint rewritten after every validation.
    pub checkpoint: Option<PathBuf>,
    /// Continue the run saved in this checkpoint.
    pub resume: Option<PathBuf>,
    /// Evaluate on the test split at the end.
    pub test: bool,
    /// Threads (0: one per core).
    pub threads: usize,
    /// The model's name in the models graph; `None`: not described there.
    pub describe_as: Option<String>,
}

/// What the run reports to its face while it trains.
pub enum TrainEvent<'a> {
    /// Training starts at `epoch` of `epochs` (not 0 when resumed from `resumed`).
    Start {
        epoch: usize,
        epochs: usize,
        triples: usize,
        resumed: Option<&'a Path>,
    },
    /// An epoch ended.
    Epoch(&'a EpochRecord),
}

/// A finished run.
#[derive(Debug, Serialize)]
pub struct Trained {
    #[serde(skip)]
    pub embedding: Embedding,
    pub model: PathBuf,
    pub model_id: String,
    pub catalog_iri: Option<String>,
    pub stopped_early: bool,
    /// Mean training throughput over the epochs run.
    pub triples_per_second: f64,
    pub splits: Vec<SplitReport>,
    #[serde(skip)]
    pub test: Option<Evaluation>,
}

/// Runs `job` under `config` (blocking: it trains), telling `progress` as it goes.
pub fn train(
    config: &Config,
    job: &TrainJob,
    progress: &mut (dyn FnMut(TrainEvent) + Send),
) -> Result<Trained, AppError> {
    let started = Instant::now();
    let data = match &job.data {
        TrainData::Tsv(path) => Dataset::load(path, job.unseen)?,
        TrainData::Catalog { graph, exclude } => {
            let app = App::open(config.clone())?;
            crate::recommend::retrain::catalog_dataset(&app.catalog, graph, exclude, job.unseen)?
        }
    };
    for r in &data.reports {
        tracing::info!(split = %r.split, read = r.read, kept = r.kept, unseen = r.unseen, dropped = r.dropped, "triples");
    }
    let out = job
        .out
        .clone()
        .unwrap_or_else(|| config.embed.model_path(&config.data));
    let mut info = ModelInfo {
        source: data.source.clone(),
        snapshot: data.fingerprint.clone(),
        unseen_policy: job.unseen.to_string(),
        ..Default::default()
    };
    let mut trainer = match &job.resume {
        Some(path) => {
            let (trainer, seconds) = resumed(path, &data)?;
            info.seconds = seconds;
            trainer
        }
        None => Trainer::new(
            job.hyper.clone(),
            &data.train,
            data.num_entities(),
            data.num_relations(),
        )?,
    };
    progress(TrainEvent::Start {
        epoch: trainer.epoch,
        epochs: trainer.config.epochs,
        triples: data.train.len(),
        resumed: job.resume.as_deref(),
    });
    let validation = (!data.valid.is_empty()).then(|| Validation {
        triples: data.valid.clone(),
        known: KnownTriples::new([&data.train[..], &data.valid[..]]),
    });
    let base_seconds = info.seconds;
    let mut save_error = None;
    embed::with_threads(job.threads, || {
        trainer.run(&data.train, validation.as_ref(), |t, rec| {
            progress(TrainEvent::Epoch(rec));
            if let (Some(path), true) = (&job.checkpoint, rec.valid_mrr.is_some() || t.finished()) {
                let mut info = info.clone();
                info.seconds = base_seconds + started.elapsed().as_secs_f64();
                if let Err(e) = training_checkpoint(t, &data.ids, &info, &data.train).save(path) {
                    save_error = Some((path.clone(), e));
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
    })?;
    if let Some((path, e)) = save_error {
        return Err(AppError::Invalid(format!(
            "cannot write the training checkpoint {}: {e}",
            path.display()
        )));
    }
    info.seconds = base_seconds + started.elapsed().as_secs_f64();
    let mut test_eval = None;
    if job.test && !data.test.is_empty() {
        let known = KnownTriples::new([&data.train[..], &data.valid[..], &data.test[..]]);
        let ev = embed::with_threads(job.threads, || {
            embed::evaluate(trainer.best_model(), &data.test, &known)
        })?;
        for (k, v) in metric_pairs(&ev) {
            info.metrics.insert(format!("test.{k}"), v);
        }
        test_eval = Some(ev);
    }
    let embedding = Embedding::from_trainer(&trainer, data.ids.clone(), info, data.train.clone())?;
    embedding.to_checkpoint().save(&out)?;
    let catalog_iri = match &job.describe_as {
        Some(name) => {
            let app = App::open(config.clone())?;
            let card =
                crate::registry::from_embedding(name, &embedding, &out).map_err(|source| {
                    AppError::Io {
                        what: format!("cannot read {}", out.display()),
                        source,
                    }
                })?;
            Some(crate::registry::describe(&app.catalog, &card)?)
        }
        None => None,
    };
    let epochs = trainer.history.len().max(1) as f64;
    Ok(Trained {
        model: out,
        model_id: embedding.model_id(),
        catalog_iri,
        stopped_early: trainer.stopped_early,
        triples_per_second: trainer
            .history
            .iter()
            .map(|h| data.train.len() as f64 / h.seconds.max(1e-9))
            .sum::<f64>()
            / epochs,
        splits: data.reports.clone(),
        test: test_eval,
        embedding,
    })
}

/// The trainer saved in the checkpoint at `path`, and the seconds it had trained, refused when
/// it was trained on other data than `data`.
fn resumed(path: &Path, data: &Dataset) -> Result<(Trainer, f64), AppError> {
    let ckpt = Checkpoint::load(path)?;
    let (trainer, ids, saved, train) = resume(&ckpt)?;
    if saved.snapshot != data.fingerprint || ids != data.ids || train != data.train {
        return Err(AppError::Invalid(format!(
            "{} was trained on other data (snapshot {}), not on {} (snapshot {})",
            path.display(),
            &saved.snapshot[..16.min(saved.snapshot.len())],
            data.source,
            &data.fingerprint[..16.min(data.fingerprint.len())]
        )));
    }
    Ok((trainer, saved.seconds))
}

/// The headline metrics of an evaluation, as named in model cards.
pub fn metric_pairs(ev: &Evaluation) -> Vec<(&'static str, f64)> {
    let m = &ev.both;
    vec![
        ("mrr", m.mrr),
        ("mr", m.mr),
        ("hits@1", m.hits_at_1),
        ("hits@3", m.hits_at_3),
        ("hits@10", m.hits_at_10),
    ]
}
