//! One batch's gradients: each chunk of positives computes its gradient into its own sparse
//! buffer on the rayon pool; the buffers are merged row by row in a fixed order and applied
//! shard by shard, which is what makes training deterministic at any thread count.

use ndarray::{Array2, Axis};
use rand::Rng;
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::embed::config::{loss_coefficients, TrainConfig};
use crate::embed::model::{normalize, translate, Norm, TransE};
use crate::embed::optim::Optimizer;
use crate::kg::Triple;

/// The sparse gradient of one chunk for one table.
#[derive(Default)]
pub(super) struct Grads {
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
pub(super) struct Work {
    pub(super) ent: Grads,
    pub(super) rel: Grads,
    pub(super) loss: f64,
    /// Translation vectors of the positive and its negatives, `(k + 1) × dim`.
    v: Vec<f32>,
    dist: Vec<f32>,
    coef: Vec<f32>,
    /// Per negative: (corrupted the head?, replacement entity).
    neg: Vec<(bool, u32)>,
}

/// Forward and backward pass for one chunk of positives.
pub(super) fn chunk_gradients(
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
pub(super) fn apply(
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
