//! The TransE model (Bordes et al. 2013): an entity and a relation table, and the distance
//! kernels everything else is built on.
//!
//! A triple `(h, r, t)` is plausible when `h + r ≈ t`; its score is the negated distance
//! `-‖h + r − t‖₁` or `-‖h + r − t‖₂`. Training, evaluation and serving spend nearly all their
//! time in the kernels below, so they are written for the auto-vectoriser: fixed 8-lane
//! accumulators over `chunks_exact(8)` (float addition is not associative, so the compiler will
//! not reorder a plain `sum()` into SIMD lanes on its own). Summation order is fixed, which keeps
//! results bit-identical across runs and thread counts.

use ndarray::Array2;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::EmbedError;
use crate::kg::{Checkpoint, Data, Tensor};

/// The distance of the translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    L1,
    L2,
}

impl std::str::FromStr for Norm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "l1" | "1" => Ok(Norm::L1),
            "l2" | "2" => Ok(Norm::L2),
            other => Err(format!("unknown norm {other:?}: use l1 or l2")),
        }
    }
}

/// Entity and relation embeddings with the distance that scores them.
#[derive(Debug, Clone, PartialEq)]
pub struct TransE {
    pub norm: Norm,
    /// One row per entity.
    pub entities: Array2<f32>,
    /// One row per relation; with `reciprocal`, a second block of rows follows: row `R + r` is the
    /// inverse of relation `r`.
    pub relations: Array2<f32>,
    /// Heads are predicted as tails of a separately learnt inverse relation (`t + r⁻¹ ≈ h`)
    /// rather than as `t − r` (Lacroix et al. 2018; LibKGE's `reciprocal_relations_model`). The
    /// extra freedom is what lets TransE model relations whose two directions behave differently
    /// (1-to-N one way, N-to-1 the other).
    pub reciprocal: bool,
}

impl TransE {
    /// Xavier-uniform initialisation as in the TransE paper (±6/√dim), every row then scaled to unit
    /// L2 norm.
    pub fn init(
        num_entities: usize,
        num_relations: usize,
        dim: usize,
        norm: Norm,
        rng: &mut impl Rng,
    ) -> TransE {
        let bound = 6.0 / (dim as f32).sqrt();
        let mut table = |rows: usize| {
            let mut a = Array2::from_shape_fn((rows, dim), |_| rng.gen_range(-bound..bound));
            for mut row in a.rows_mut() {
                normalize(row.as_slice_mut().expect("standard layout"));
            }
            a
        };
        let entities = table(num_entities);
        let relations = table(num_relations);
        TransE {
            norm,
            entities,
            relations,
            reciprocal: false,
        }
    }

    pub fn dim(&self) -> usize {
        self.entities.ncols()
    }

    pub fn num_entities(&self) -> usize {
        self.entities.nrows()
    }

    /// The number of relations (not of relation rows: a reciprocal model holds two per relation).
    pub fn num_relations(&self) -> usize {
        self.relations.nrows() / if self.reciprocal { 2 } else { 1 }
    }

    /// The row of relation `r`'s inverse in a reciprocal model.
    pub fn inverse(&self, r: u32) -> u32 {
        debug_assert!(self.reciprocal);
        r + self.num_relations() as u32
    }

    /// Row `i` of the entity table as a slice.
    pub fn entity(&self, i: u32) -> &[f32] {
        row(&self.entities, i as usize)
    }

    /// Row `i` of the relation table as a slice.
    pub fn relation(&self, i: u32) -> &[f32] {
        row(&self.relations, i as usize)
    }

    /// `‖h + r − t‖`: lower is more plausible.
    pub fn distance(&self, h: u32, r: u32, t: u32) -> f32 {
        let (h, r, t) = (self.entity(h), self.relation(r), self.entity(t));
        let mut v = vec![0.0; h.len()];
        translate(h, r, t, &mut v);
        self.norm_of(&v)
    }

    /// The score `-‖h + r − t‖` (higher is more plausible).
    pub fn score(&self, h: u32, r: u32, t: u32) -> f32 {
        -self.distance(h, r, t)
    }

    /// The point tails are compared with: `h + r`.
    pub fn tail_query(&self, h: u32, r: u32) -> Vec<f32> {
        let (h, r) = (self.entity(h), self.relation(r));
        h.iter().zip(r).map(|(a, b)| a + b).collect()
    }

    /// The point heads are compared with: `t − r` (since `‖h + r − t‖ = ‖h − (t − r)‖`), or
    /// `t + r⁻¹` in a reciprocal model.
    pub fn head_query(&self, r: u32, t: u32) -> Vec<f32> {
        if self.reciprocal {
            return self.tail_query(t, self.inverse(r));
        }
        let (r, t) = (self.relation(r), self.entity(t));
        t.iter().zip(r).map(|(a, b)| a - b).collect()
    }

    /// The norm of a vector under this model's distance.
    #[inline]
    pub fn norm_of(&self, v: &[f32]) -> f32 {
        match self.norm {
            Norm::L1 => l1_norm(v),
            Norm::L2 => l2_sq(v).sqrt(),
        }
    }

    /// Distance between a query point and an entity row.
    #[inline]
    pub fn point_distance(&self, q: &[f32], e: &[f32]) -> f32 {
        match self.norm {
            Norm::L1 => l1_dist(q, e),
            Norm::L2 => l2_dist_sq(q, e).sqrt(),
        }
    }

    /// The tensors of a checkpoint (`entities`, `relations`).
    pub fn to_tensors(&self) -> Vec<Tensor> {
        vec![
            array_tensor("entities", &self.entities),
            array_tensor("relations", &self.relations),
        ]
    }

    /// Rebuilds the model from a checkpoint's tensors.
    pub fn from_checkpoint(
        ckpt: &Checkpoint,
        norm: Norm,
        reciprocal: bool,
    ) -> Result<TransE, EmbedError> {
        let entities = tensor_to_array(ckpt, "entities")?;
        let relations = tensor_to_array(ckpt, "relations")?;
        if entities.ncols() != relations.ncols() {
            return Err(EmbedError::Model(format!(
                "entity dimension {} differs from relation dimension {}",
                entities.ncols(),
                relations.ncols()
            )));
        }
        if reciprocal && relations.nrows() % 2 != 0 {
            return Err(EmbedError::Model(format!(
                "a reciprocal model needs an even number of relation rows, got {}",
                relations.nrows()
            )));
        }
        Ok(TransE {
            norm,
            entities,
            relations,
            reciprocal,
        })
    }
}

/// Reads a 2-d tensor of a checkpoint into an array.
pub fn tensor_to_array(ckpt: &Checkpoint, name: &str) -> Result<Array2<f32>, EmbedError> {
    let t = ckpt
        .tensor(name)
        .ok_or_else(|| EmbedError::Model(format!("the checkpoint has no {name} tensor")))?;
    let Data::F32(values) = &t.data else {
        return Err(EmbedError::Model(format!(
            "tensor {name} is not a float tensor"
        )));
    };
    match t.shape[..] {
        [rows, cols] => Array2::from_shape_vec((rows, cols), values.clone())
            .map_err(|e| EmbedError::Model(format!("tensor {name}: {e}"))),
        _ => Err(EmbedError::Model(format!(
            "tensor {name} has shape {:?}, expected 2 dimensions",
            t.shape
        ))),
    }
}

/// A 2-d float tensor from an array.
pub fn array_tensor(name: &str, a: &Array2<f32>) -> Tensor {
    Tensor::f32(
        name,
        vec![a.nrows(), a.ncols()],
        a.iter().copied().collect(),
    )
}

/// A row of a standard-layout table as a slice.
#[inline]
pub fn row(a: &Array2<f32>, i: usize) -> &[f32] {
    let dim = a.ncols();
    &a.as_slice().expect("tables are standard layout")[i * dim..(i + 1) * dim]
}

/// `v = h + r − t`.
#[inline]
pub fn translate(h: &[f32], r: &[f32], t: &[f32], v: &mut [f32]) {
    for (((v, h), r), t) in v.iter_mut().zip(h).zip(r).zip(t) {
        *v = h + r - t;
    }
}

/// Scales `v` to unit L2 norm (leaves an all-zero vector alone).
#[inline]
pub fn normalize(v: &mut [f32]) {
    let n = l2_sq(v).sqrt();
    if n > 0.0 {
        let inv = 1.0 / n;
        v.iter_mut().for_each(|x| *x *= inv);
    }
}

macro_rules! lanes {
    ($a:expr, $f:expr) => {{
        let mut acc = [0.0f32; 8];
        let chunks = $a.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..8 {
                acc[i] += $f(c[i]);
            }
        }
        let mut tail = 0.0f32;
        for &x in rest {
            tail += $f(x);
        }
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
    }};
}

macro_rules! lanes2 {
    ($a:expr, $b:expr, $f:expr) => {{
        let mut acc = [0.0f32; 8];
        let (a, b) = ($a, $b);
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let full = n - n % 8;
        for (x, y) in a[..full].chunks_exact(8).zip(b[..full].chunks_exact(8)) {
            for i in 0..8 {
                acc[i] += $f(x[i], y[i]);
            }
        }
        let mut tail = 0.0f32;
        for (&x, &y) in a[full..].iter().zip(&b[full..]) {
            tail += $f(x, y);
        }
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
    }};
}

/// `‖v‖₁`.
#[inline]
pub fn l1_norm(v: &[f32]) -> f32 {
    lanes!(v, |x: f32| x.abs())
}

/// `‖v‖₂²`.
#[inline]
pub fn l2_sq(v: &[f32]) -> f32 {
    lanes!(v, |x: f32| x * x)
}

/// `‖a − b‖₁`.
#[inline]
pub fn l1_dist(a: &[f32], b: &[f32]) -> f32 {
    lanes2!(a, b, |x: f32, y: f32| (x - y).abs())
}

/// `‖a − b‖₂²`.
#[inline]
pub fn l2_dist_sq(a: &[f32], b: &[f32]) -> f32 {
    lanes2!(a, b, |x: f32, y: f32| (x - y) * (x - y))
}

/// `a · b`.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    lanes2!(a, b, |x: f32, y: f32| x * y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn kernels_match_naive_sums() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let naive_l1: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
        let naive_l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        let naive_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((l1_dist(&a, &b) - naive_l1).abs() < 1e-4);
        assert!((l2_dist_sq(&a, &b) - naive_l2).abs() < 1e-4);
        assert!((dot(&a, &b) - naive_dot).abs() < 1e-4);
        assert!((l1_norm(&a) - a.iter().map(|x| x.abs()).sum::<f32>()).abs() < 1e-4);
    }

    #[test]
    fn init_rows_have_unit_norm_and_queries_agree_with_distance() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        for norm in [Norm::L1, Norm::L2] {
            let m = TransE::init(5, 2, 12, norm, &mut rng);
            for r in m.entities.rows() {
                assert!((l2_sq(r.as_slice().unwrap()).sqrt() - 1.0).abs() < 1e-5);
            }
            let d = m.distance(0, 1, 3);
            let q = m.tail_query(0, 1);
            assert!((m.point_distance(&q, m.entity(3)) - d).abs() < 1e-5);
            let q = m.head_query(1, 3);
            assert!((m.point_distance(&q, m.entity(0)) - d).abs() < 1e-5);
        }
    }
}
