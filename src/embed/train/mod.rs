//! The TransE trainer: negative sampling, losses, minibatch gradients in parallel, sparse
//! updates, learning-rate schedules and early stopping.
//!
//! Parallelism without races: a batch is cut into fixed chunks of [`CHUNK`] positives. Chunks run
//! on the rayon pool and each writes its gradient into its own sparse buffer (row → slot); the
//! buffers are then merged row by row, in (row, chunk) order, and applied shard by shard, each
//! shard a disjoint block of rows. Every sum therefore happens in the same order whatever the
//! number of threads, and every random draw comes from a generator seeded by
//! (seed, epoch, batch, chunk): training is bitwise deterministic for a seed at *any* thread count,
//! and a run resumed from a checkpoint continues exactly as the uninterrupted run would. (Hogwild
//! would be simpler but gives up both properties, and in safe Rust it would mean atomics in the
//! inner loop.)

mod grad;
#[cfg(test)]
mod tests;

use std::ops::ControlFlow;
use std::time::Instant;

use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use super::config::{Loss, Sampler, Schedule, TrainConfig, CHUNK, MAX_BATCH};
use super::eval::{evaluate, Evaluation};
use super::model::TransE;
use super::EmbedError;
use crate::kg::{KnownTriples, RelationStats, Triple};

use grad::{apply, chunk_gradients, Work};

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean loss per positive.
    pub loss: f64,
    pub lr: f32,
    pub seconds: f64,
    /// Filtered validation MRR, when evaluated after this epoch.
    pub valid_mrr: Option<f64>,
}

/// Validation triples plus the filter (train + valid) they are ranked with.
pub struct Validation {
    pub triples: Vec<Triple>,
    pub known: KnownTriples,
}

/// A TransE training run: model, optimizer state, progress and the best model so far.
pub struct Trainer {
    pub config: TrainConfig,
    pub model: TransE,
    ent_state: Array2<f32>,
    rel_state: Array2<f32>,
    head_prob: Vec<f32>,
    /// Epochs completed.
    pub epoch: usize,
    /// Batches completed (Adam's step counter).
    pub step: u64,
    pub history: Vec<EpochRecord>,
    /// Best validation MRR so far, its epoch, and the model at that point.
    pub best: Option<(f64, usize, TransE)>,
    bad_evals: usize,
    pub stopped_early: bool,
    work: Vec<Work>,
    keys: Vec<u64>,
}

/// Mixes the run seed with the position in the run into an independent stream seed.
fn stream_seed(seed: u64, a: u64, b: u64, c: u64) -> u64 {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    for v in [a, b, c] {
        x = (x ^ v).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 31;
        x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 29;
    }
    x
}

impl Trainer {
    /// A fresh run over `train` with tables for `num_entities` × `num_relations`.
    pub fn new(
        config: TrainConfig,
        train: &[Triple],
        num_entities: usize,
        num_relations: usize,
    ) -> Result<Trainer, EmbedError> {
        config.validate()?;
        if train.is_empty() {
            return Err(EmbedError::Config(
                "no training triples: there is nothing to learn from".into(),
            ));
        }
        if num_entities < 2 {
            return Err(EmbedError::Config(format!(
                "{num_entities} entity: negative sampling needs at least 2"
            )));
        }
        if let Some(t) = train.iter().find(|t| {
            t.h as usize >= num_entities
                || t.t as usize >= num_entities
                || t.r as usize >= num_relations
        }) {
            return Err(EmbedError::Config(format!(
                "triple {t:?} refers to an id outside {num_entities} entities × {num_relations} relations"
            )));
        }
        let mut rng = Pcg64Mcg::seed_from_u64(stream_seed(config.seed, u64::MAX, 0, 0));
        let rel_rows = num_relations * if config.reciprocal { 2 } else { 1 };
        let mut model = TransE::init(num_entities, rel_rows, config.dim, config.norm, &mut rng);
        model.reciprocal = config.reciprocal;
        let slots = config.optimizer.state_slots() * config.dim;
        let head_prob = match config.sampler {
            // Both directions are trained as tail predictions.
            _ if config.reciprocal => vec![0.0; rel_rows],
            Sampler::Uniform => vec![0.5; num_relations],
            Sampler::Bernoulli => {
                let stats = RelationStats::new(train, num_relations);
                (0..num_relations as u32)
                    .map(|r| stats.head_corruption_probability(r) as f32)
                    .collect()
            }
        };
        Ok(Trainer {
            ent_state: Array2::zeros((num_entities, slots)),
            rel_state: Array2::zeros((rel_rows, slots)),
            config,
            model,
            head_prob,
            epoch: 0,
            step: 0,
            history: Vec::new(),
            best: None,
            bad_evals: 0,
            stopped_early: false,
            work: Vec::new(),
            keys: Vec::new(),
        })
    }

    /// Whether the run has nothing left to do.
    pub fn finished(&self) -> bool {
        self.stopped_early || self.epoch >= self.config.epochs
    }

    /// The model to keep: the best by validation MRR when validation ran, else the latest.
    pub fn best_model(&self) -> &TransE {
        self.best.as_ref().map(|b| &b.2).unwrap_or(&self.model)
    }

    /// Runs epochs until the budget is spent, early stopping triggers, or `on_epoch` breaks.
    pub fn run(
        &mut self,
        train: &[Triple],
        validation: Option<&Validation>,
        mut on_epoch: impl FnMut(&Trainer, &EpochRecord) -> ControlFlow<()>,
    ) {
        while !self.finished() {
            let record = self.run_epoch(train, validation);
            if on_epoch(self, &record).is_break() {
                break;
            }
        }
    }

    /// One epoch over `train` (in a seeded shuffle), then validation when it is due.
    pub fn run_epoch(&mut self, train: &[Triple], validation: Option<&Validation>) -> EpochRecord {
        let started = Instant::now();
        let epoch = self.epoch;
        let lr = self.config.lr_at(epoch);
        let mut order: Vec<Triple> = train.to_vec();
        if self.model.reciprocal {
            let m = &self.model;
            order.extend(train.iter().map(|t| Triple {
                h: t.t,
                r: m.inverse(t.r),
                t: t.h,
            }));
        }
        let mut rng =
            Pcg64Mcg::seed_from_u64(stream_seed(self.config.seed, epoch as u64, u64::MAX, 0));
        order.shuffle(&mut rng);
        let mut loss = 0.0;
        for (b, batch) in order.chunks(self.config.batch_size).enumerate() {
            loss += self.train_batch(batch, epoch as u64, b as u64, lr);
        }
        self.epoch += 1;
        let mut record = EpochRecord {
            epoch: self.epoch,
            loss: loss / order.len() as f64,
            lr,
            seconds: started.elapsed().as_secs_f64(),
            valid_mrr: None,
        };
        let every = self.config.eval_every;
        if let Some(v) = validation.filter(|v| every > 0 && !v.triples.is_empty()) {
            if self.epoch.is_multiple_of(every) || self.epoch >= self.config.epochs {
                let mrr = evaluate(&self.model, &v.triples, &v.known).both.mrr;
                record.valid_mrr = Some(mrr);
                self.observe_validation(mrr);
            }
        }
        self.history.push(record.clone());
        record
    }

    /// Early-stopping bookkeeping after a validation run.
    fn observe_validation(&mut self, mrr: f64) {
        let improved = self.best.as_ref().is_none_or(|(best, _, _)| mrr > *best);
        if improved {
            self.best = Some((mrr, self.epoch, self.model.clone()));
            self.bad_evals = 0;
        } else {
            self.bad_evals += 1;
            if self.bad_evals >= self.config.patience.max(1) {
                self.stopped_early = true;
            }
        }
    }

    /// Evaluates the current model (not the best) on a split.
    pub fn evaluate(&self, triples: &[Triple], known: &KnownTriples) -> Evaluation {
        evaluate(&self.model, triples, known)
    }

    fn train_batch(&mut self, batch: &[Triple], epoch: u64, b: u64, lr: f32) -> f64 {
        let chunks = batch.len().div_ceil(CHUNK);
        if self.work.len() < chunks {
            self.work.resize_with(chunks, Work::default);
        }
        let scale = 1.0 / batch.len() as f32;
        let (model, config, head_prob) = (&self.model, &self.config, &self.head_prob);
        self.work[..chunks]
            .par_iter_mut()
            .zip(batch.par_chunks(CHUNK))
            .enumerate()
            .for_each(|(c, (work, positives))| {
                let mut rng = Pcg64Mcg::seed_from_u64(stream_seed(config.seed, epoch, b, c as u64));
                chunk_gradients(model, config, head_prob, positives, &mut rng, work, scale);
            });
        self.step += 1;
        let loss = self.work[..chunks].iter().map(|w| w.loss).sum::<f64>();
        let (opt, step, normalize_entities) = (
            self.config.optimizer,
            self.step,
            self.config.normalize_entities,
        );
        let work = &self.work[..chunks];
        apply(
            &mut self.model.entities,
            &mut self.ent_state,
            work,
            |w| &w.ent,
            &mut self.keys,
            opt,
            lr,
            step,
            normalize_entities,
        );
        apply(
            &mut self.model.relations,
            &mut self.rel_state,
            work,
            |w| &w.rel,
            &mut self.keys,
            opt,
            lr,
            step,
            false,
        );
        loss
    }

    /// Starts from a previous model instead of from scratch: each `(new id, old id)` pair of
    /// `entities` and `relations` copies the old row (and, with reciprocal relations, the old
    /// inverse); entities and relations the old model never saw keep their fresh
    /// initialisation. Call before the first epoch. The norm, dimension and reciprocity must
    /// match.
    pub fn warm_start(
        &mut self,
        old: &TransE,
        entities: &[(u32, u32)],
        relations: &[(u32, u32)],
    ) -> Result<(), EmbedError> {
        if old.dim() != self.model.dim()
            || old.norm != self.model.norm
            || old.reciprocal != self.model.reciprocal
        {
            return Err(EmbedError::Config(format!(
                "cannot warm-start a dim {} {:?} model (reciprocal: {}) from a dim {} {:?} one (reciprocal: {})",
                self.model.dim(), self.model.norm, self.model.reciprocal,
                old.dim(), old.norm, old.reciprocal
            )));
        }
        let copy = |to: &mut Array2<f32>,
                    from: &Array2<f32>,
                    pairs: &[(u32, u32)],
                    offset: (usize, usize)| {
            for &(n, o) in pairs {
                let (n, o) = (n as usize + offset.0, o as usize + offset.1);
                if n < to.nrows() && o < from.nrows() {
                    to.row_mut(n).assign(&from.row(o));
                }
            }
        };
        copy(&mut self.model.entities, &old.entities, entities, (0, 0));
        copy(&mut self.model.relations, &old.relations, relations, (0, 0));
        if self.model.reciprocal {
            let offsets = (self.model.num_relations(), old.num_relations());
            copy(
                &mut self.model.relations,
                &old.relations,
                relations,
                offsets,
            );
        }
        Ok(())
    }

    /// Optimizer state tables, for checkpoints.
    pub fn optimizer_state(&self) -> (&Array2<f32>, &Array2<f32>) {
        (&self.ent_state, &self.rel_state)
    }

    /// Restores a run from a checkpoint's parts (see `embed::checkpoint`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn restore(
        config: TrainConfig,
        train: &[Triple],
        model: TransE,
        ent_state: Array2<f32>,
        rel_state: Array2<f32>,
        progress: Progress,
        best: Option<(f64, usize, TransE)>,
    ) -> Result<Trainer, EmbedError> {
        let mut t = Trainer::new(config, train, model.num_entities(), model.num_relations())?;
        let slots = t.config.optimizer.state_slots() * t.config.dim;
        if ent_state.dim() != (model.num_entities(), slots)
            || rel_state.dim() != (model.relations.nrows(), slots)
            || model.reciprocal != t.config.reciprocal
        {
            return Err(EmbedError::Model(
                "optimizer state does not match the model and optimizer".into(),
            ));
        }
        t.model = model;
        t.ent_state = ent_state;
        t.rel_state = rel_state;
        t.epoch = progress.epoch;
        t.step = progress.step;
        t.history = progress.history;
        t.bad_evals = progress.bad_evals;
        t.stopped_early = progress.stopped_early;
        t.best = best;
        Ok(t)
    }

    /// The counters a checkpoint must carry to resume exactly.
    pub(crate) fn progress(&self) -> Progress {
        Progress {
            epoch: self.epoch,
            step: self.step,
            history: self.history.clone(),
            bad_evals: self.bad_evals,
            stopped_early: self.stopped_early,
        }
    }
}

/// Counters of a run, as stored in a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Progress {
    pub epoch: usize,
    pub step: u64,
    pub history: Vec<EpochRecord>,
    pub bad_evals: usize,
    pub stopped_early: bool,
}
