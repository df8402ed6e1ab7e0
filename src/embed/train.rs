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

use std::ops::ControlFlow;
use std::time::Instant;

use ndarray::{Array2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::config::loss_coefficients;
pub use super::config::{Loss, Sampler, Schedule, TrainConfig, CHUNK, MAX_BATCH};
use super::eval::{evaluate, Evaluation};
use super::model::{normalize, translate, Norm, TransE};
use super::optim::Optimizer;
use super::EmbedError;
use crate::kg::{KnownTriples, RelationStats, Triple};

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

/// The sparse gradient of one chunk for one table.
#[derive(Default)]
struct Grads {
    slots: FxHashMap<u32, u32>,
    rows: Vec<u32>,
    values: Vec<f32>,
}

impl Grads {
    fn clear(&mut self) {
        self.slots.clear();
        self.rows.clear();
        self.values.clear();
    }

    #[inline]
    fn add(&mut self, row: u32, coef: f32, dir: &[f32]) {
        let dim = dir.len();
        let (rows, values) = (&mut self.rows, &mut self.values);
        let slot = *self.slots.entry(row).or_insert_with(|| {
            rows.push(row);
            values.resize(values.len() + dim, 0.0);
            (rows.len() - 1) as u32
        }) as usize;
        let g = &mut self.values[slot * dim..(slot + 1) * dim];
        for (g, d) in g.iter_mut().zip(dir) {
            *g += coef * d;
        }
    }
}

/// Scratch space and gradients of one chunk, reused across batches.
#[derive(Default)]
struct Work {
    ent: Grads,
    rel: Grads,
    loss: f64,
    /// Translation vectors of the positive and its negatives, `(k + 1) × dim`.
    v: Vec<f32>,
    dist: Vec<f32>,
    coef: Vec<f32>,
    /// Per negative: (corrupted the head?, replacement entity).
    neg: Vec<(bool, u32)>,
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

/// Forward and backward pass for one chunk of positives.
fn chunk_gradients(
    model: &TransE,
    config: &TrainConfig,
    head_prob: &[f32],
    positives: &[Triple],
    rng: &mut Pcg64Mcg,
    work: &mut Work,
    scale: f32,
) {
    let dim = model.dim();
    let k = config.negatives;
    let n = model.num_entities() as u32;
    work.ent.clear();
    work.rel.clear();
    work.loss = 0.0;
    work.v.resize((k + 1) * dim, 0.0);
    work.dist.resize(k + 1, 0.0);
    work.coef.resize(k + 1, 0.0);
    work.neg.resize(k, (false, 0));
    for p in positives {
        let (h, r, t) = (model.entity(p.h), model.relation(p.r), model.entity(p.t));
        translate(h, r, t, &mut work.v[..dim]);
        work.dist[0] = model.norm_of(&work.v[..dim]);
        let ph = head_prob[p.r as usize];
        for j in 0..k {
            let head = rng.gen::<f32>() < ph;
            let e = rng.gen_range(0..n);
            work.neg[j] = (head, e);
            let v = &mut work.v[(j + 1) * dim..(j + 2) * dim];
            if head {
                translate(model.entity(e), r, t, v);
            } else {
                translate(h, r, model.entity(e), v);
            }
            work.dist[j + 1] = model.norm_of(v);
        }
        work.loss += loss_coefficients(config, &work.dist, &mut work.coef);
        for j in 0..=k {
            let c = work.coef[j] * scale;
            if c == 0.0 {
                continue;
            }
            let v = &mut work.v[j * dim..(j + 1) * dim];
            // v becomes ∂d/∂v: sign(v) for L1, v/‖v‖ for L2.
            match config.norm {
                Norm::L1 => v.iter_mut().for_each(|x| {
                    *x = if *x > 0.0 {
                        1.0
                    } else if *x < 0.0 {
                        -1.0
                    } else {
                        0.0
                    }
                }),
                Norm::L2 => {
                    let d = work.dist[j].max(1e-12);
                    v.iter_mut().for_each(|x| *x /= d);
                }
            }
            let (hrow, trow) = match (j, work.neg.get(j.wrapping_sub(1))) {
                (0, _) | (_, None) => (p.h, p.t),
                (_, Some(&(true, e))) => (e, p.t),
                (_, Some(&(false, e))) => (p.h, e),
            };
            work.ent.add(hrow, c, v);
            work.rel.add(p.r, c, v);
            work.ent.add(trow, -c, v);
        }
    }
}

/// Merges the chunks' sparse gradients row by row and applies the optimizer, in parallel over
/// disjoint blocks of rows.
#[allow(clippy::too_many_arguments)]
fn apply(
    table: &mut Array2<f32>,
    state: &mut Array2<f32>,
    work: &[Work],
    grads: impl Fn(&Work) -> &Grads + Sync,
    keys: &mut Vec<u64>,
    opt: Optimizer,
    lr: f32,
    step: u64,
    normalize_rows: bool,
) {
    keys.clear();
    for (c, w) in work.iter().enumerate() {
        for (slot, &row) in grads(w).rows.iter().enumerate() {
            keys.push(((row as u64) << 32) | ((c as u64) << 20) | slot as u64);
        }
    }
    if keys.is_empty() {
        return;
    }
    keys.sort_unstable();
    let dim = table.ncols();
    let rows = table.nrows();
    let block = rows.div_ceil(64).max(1);
    let keys = &keys[..];
    table
        .axis_chunks_iter_mut(Axis(0), block)
        .into_par_iter()
        .zip(state.axis_chunks_iter_mut(Axis(0), block).into_par_iter())
        .enumerate()
        .for_each(|(i, (mut params, mut st))| {
            let lo = (i * block) as u64;
            let hi = lo + params.nrows() as u64;
            let start = keys.partition_point(|k| (k >> 32) < lo);
            let end = keys.partition_point(|k| (k >> 32) < hi);
            let mut sum = vec![0.0f32; dim];
            let params = params.as_slice_mut().expect("standard layout");
            let st_width = st.ncols();
            let st = st.as_slice_mut().expect("standard layout");
            let mut k = start;
            while k < end {
                let r = keys[k] >> 32;
                sum.iter_mut().for_each(|s| *s = 0.0);
                while k < end && keys[k] >> 32 == r {
                    let c = ((keys[k] >> 20) & 0xFFF) as usize;
                    let slot = (keys[k] & 0xF_FFFF) as usize;
                    let g = &grads(&work[c]).values[slot * dim..(slot + 1) * dim];
                    for (s, g) in sum.iter_mut().zip(g) {
                        *s += g;
                    }
                    k += 1;
                }
                let local = (r - lo) as usize;
                let p = &mut params[local * dim..(local + 1) * dim];
                let s = &mut st[local * st_width..(local + 1) * st_width];
                opt.update(p, s, &sum, lr, step);
                if normalize_rows {
                    normalize(p);
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::checkpoint::{resume, training_checkpoint, ModelInfo};
    use crate::embed::with_threads;
    use crate::kg::IdMaps;
    use proptest::prelude::*;

    /// A graph with a planted structure: entity i --r--> (i + r + 1) mod n.
    fn ring(n: u32, rels: u32) -> Vec<Triple> {
        (0..n)
            .flat_map(|i| (0..rels).map(move |r| Triple::new(i, r, (i + r + 1) % n)))
            .collect()
    }

    /// Planted translations without cycles (TransE cannot close a cycle): for each relation r,
    /// n head entities each linked to its own tail entity.
    fn pairs(n: u32, rels: u32) -> Vec<Triple> {
        (0..rels)
            .flat_map(|r| (0..n).map(move |i| Triple::new(r * 2 * n + i, r, r * 2 * n + n + i)))
            .collect()
    }

    fn small_config() -> TrainConfig {
        TrainConfig {
            dim: 16,
            epochs: 4,
            batch_size: 40,
            negatives: 3,
            eval_every: 0,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn bitwise_identical_at_any_thread_count() {
        let train = ring(30, 3);
        let run = |threads| {
            with_threads(threads, || {
                let mut t = Trainer::new(small_config(), &train, 30, 3).unwrap();
                t.run(&train, None, |_, _| ControlFlow::Continue(()));
                t.model
            })
            .unwrap()
        };
        let one = run(1);
        let bits = |m: &TransE| m.entities.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one), bits(&run(1)), "same seed, same result");
        assert_eq!(bits(&one), bits(&run(2)), "thread count does not matter");
        assert_eq!(one.relations, run(3).relations);
    }

    #[test]
    fn resume_equals_the_uninterrupted_run() {
        let train = ring(25, 2);
        let valid = vec![Triple::new(0, 0, 1), Triple::new(3, 1, 5)];
        let validation = Validation {
            known: KnownTriples::new([&train[..], &valid[..]]),
            triples: valid,
        };
        for (optimizer, reciprocal) in [
            (Optimizer::Sgd, false),
            (Optimizer::Adagrad, false),
            (Optimizer::Adam, false),
            (Optimizer::Adagrad, true),
        ] {
            let config = TrainConfig {
                optimizer,
                reciprocal,
                epochs: 6,
                eval_every: 2,
                patience: 10,
                ..small_config()
            };
            let mut straight = Trainer::new(config.clone(), &train, 25, 2).unwrap();
            straight.run(&train, Some(&validation), |_, _| ControlFlow::Continue(()));

            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("run.ckpt");
            let mut first = Trainer::new(config, &train, 25, 2).unwrap();
            first.run(&train, Some(&validation), |t, _| {
                if t.epoch == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            training_checkpoint(&first, &IdMaps::default(), &ModelInfo::default(), &train)
                .save(&path)
                .unwrap();
            drop(first);
            let ckpt = crate::kg::Checkpoint::load(&path).unwrap();
            let (mut resumed, _, _, saved_train) = resume(&ckpt).unwrap();
            assert_eq!(saved_train, train);
            assert_eq!(resumed.epoch, 3);
            resumed.run(&train, Some(&validation), |_, _| ControlFlow::Continue(()));
            assert_eq!(resumed.model, straight.model, "{optimizer:?}");
            let strip = |h: &[EpochRecord]| -> Vec<EpochRecord> {
                h.iter()
                    .map(|r| EpochRecord {
                        seconds: 0.0,
                        ..r.clone()
                    })
                    .collect()
            };
            assert_eq!(
                strip(&resumed.history),
                strip(&straight.history),
                "{optimizer:?}"
            );
            assert_eq!(
                resumed.best.as_ref().map(|b| (b.0, b.1)),
                straight.best.as_ref().map(|b| (b.0, b.1))
            );
        }
    }

    #[test]
    fn learns_a_planted_translation() {
        // Each tail is exactly one translation away from its head: training must rank it first.
        let train = pairs(20, 2);
        let known = KnownTriples::new([&train[..]]);
        for loss in [Loss::Margin, Loss::SelfAdversarial, Loss::Softmax] {
            let config = TrainConfig {
                dim: 32,
                epochs: 150,
                batch_size: 16,
                negatives: 8,
                lr: 0.1,
                loss,
                margin: if loss == Loss::Margin { 1.0 } else { 4.0 },
                eval_every: 0,
                ..TrainConfig::default()
            };
            let mut t = Trainer::new(config, &train, 80, 2).unwrap();
            let before = evaluate(&t.model, &train, &known).both.mrr;
            t.run(&train, None, |_, _| ControlFlow::Continue(()));
            let after = evaluate(&t.model, &train, &known).both.mrr;
            // Filtered ranking over known triples: a perfect model ranks every query first.
            assert!(after > 0.9, "{loss:?}: MRR {before:.3} -> {after:.3}");
        }
    }

    #[test]
    fn reciprocal_model_learns_both_directions() {
        let train = pairs(20, 2);
        let known = KnownTriples::new([&train[..]]);
        let config = TrainConfig {
            dim: 32,
            epochs: 150,
            batch_size: 16,
            negatives: 8,
            lr: 0.1,
            loss: Loss::Softmax,
            margin: 4.0,
            eval_every: 0,
            reciprocal: true,
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(config, &train, 80, 2).unwrap();
        assert_eq!(t.model.relations.nrows(), 4, "an inverse row per relation");
        assert_eq!(t.model.num_relations(), 2);
        t.run(&train, None, |_, _| ControlFlow::Continue(()));
        let e = evaluate(&t.model, &train, &known);
        assert!(e.head.mrr > 0.9 && e.tail.mrr > 0.9, "{e:?}");
        // Heads are answered by the inverse row, not by t − r.
        let p = train[0];
        let q = t.model.head_query(p.r, p.t);
        let inv = t.model.relation(t.model.inverse(p.r));
        let want: Vec<f32> = t
            .model
            .entity(p.t)
            .iter()
            .zip(inv)
            .map(|(a, b)| a + b)
            .collect();
        assert_eq!(q, want);
    }

    #[test]
    fn bad_setups_are_rejected_up_front() {
        let train = ring(5, 1);
        let bad = [
            TrainConfig {
                lr: f32::NAN,
                ..small_config()
            },
            TrainConfig {
                lr: -1.0,
                ..small_config()
            },
            TrainConfig {
                lr: f32::INFINITY,
                ..small_config()
            },
            TrainConfig {
                margin: f32::NAN,
                ..small_config()
            },
            TrainConfig {
                dim: 0,
                ..small_config()
            },
            TrainConfig {
                negatives: 0,
                ..small_config()
            },
            TrainConfig {
                batch_size: 0,
                ..small_config()
            },
            TrainConfig {
                epochs: 0,
                ..small_config()
            },
            TrainConfig {
                adversarial_temperature: f32::NAN,
                ..small_config()
            },
        ];
        for c in bad {
            let err = Trainer::new(c.clone(), &train, 5, 1).err();
            assert!(matches!(err, Some(EmbedError::Config(_))), "{c:?} accepted");
        }
        assert!(
            Trainer::new(small_config(), &[], 5, 1).is_err(),
            "empty graph"
        );
        assert!(Trainer::new(small_config(), &[Triple::new(0, 0, 9)], 5, 1).is_err());
        // One relation with one triple trains fine.
        let one = [Triple::new(0, 0, 1)];
        let mut t = Trainer::new(small_config(), &one, 2, 1).unwrap();
        t.run(&one, None, |_, _| ControlFlow::Continue(()));
        assert!(t.model.entities.iter().all(|x| x.is_finite()));
    }

    proptest! {
        #[test]
        fn an_exact_translation_scores_best(
            h in proptest::collection::vec(-1.0f32..1.0, 8),
            r in proptest::collection::vec(-1.0f32..1.0, 8),
            others in proptest::collection::vec(proptest::collection::vec(-2.0f32..2.0, 8), 1..20),
            l2 in any::<bool>(),
        ) {
            let t: Vec<f32> = h.iter().zip(&r).map(|(a, b)| a + b).collect();
            let mut rows = vec![h.clone(), t];
            rows.extend(others);
            let n = rows.len();
            let m = TransE {
                reciprocal: false,
                norm: if l2 { Norm::L2 } else { Norm::L1 },
                entities: Array2::from_shape_vec((n, 8), rows.concat()).unwrap(),
                relations: Array2::from_shape_vec((1, 8), r).unwrap(),
            };
            let best = m.score(0, 0, 1);
            for e in 0..n as u32 {
                prop_assert!(m.score(0, 0, e) <= best + 1e-6);
            }
        }

        #[test]
        fn loss_coefficients_are_the_gradient(
            dist in proptest::collection::vec(0.0f32..6.0, 2..6),
            which in 0usize..3,
        ) {
            let loss = [Loss::Margin, Loss::SelfAdversarial, Loss::Softmax][which];
            let config = TrainConfig { loss, margin: 2.0, ..TrainConfig::default() };
            let mut coef = vec![0.0; dist.len()];
            loss_coefficients(&config, &dist, &mut coef);
            let mut scratch = coef.clone();
            for i in 0..dist.len() {
                let eps = 1e-2f32;
                let (mut up, mut down) = (dist.clone(), dist.clone());
                up[i] += eps;
                down[i] -= eps;
                if loss == Loss::Margin {
                    // Skip points next to a hinge, where the derivative jumps.
                    let near = (1..dist.len()).any(|j| (config.margin + dist[0] - dist[j]).abs() < 2.0 * eps);
                    if near { continue; }
                }
                let numeric = if loss == Loss::SelfAdversarial {
                    // The adversarial weights are constants: differentiate with them frozen.
                    let fixed = |d: &[f32]| -> f64 {
                        let w: Vec<f32> = dist[1..].iter().map(|x| (-x).exp()).collect();
                        let z: f32 = w.iter().sum();
                        let ls = |x: f32| x.min(0.0) - (-x.abs()).exp().ln_1p();
                        let pos = -ls(config.margin - d[0]);
                        let neg: f32 = (1..d.len()).map(|j| -(w[j - 1] / z) * ls(d[j] - config.margin)).sum();
                        (0.5 * (pos + neg)) as f64
                    };
                    (fixed(&up) - fixed(&down)) / (2.0 * eps as f64)
                } else {
                    (loss_coefficients(&config, &up, &mut scratch)
                        - loss_coefficients(&config, &down, &mut scratch))
                        / (2.0 * eps as f64)
                };
                prop_assert!((numeric - coef[i] as f64).abs() < 2e-2, "{loss:?} d{i}: numeric {numeric} vs {}", coef[i]);
            }
        }
    }
}
