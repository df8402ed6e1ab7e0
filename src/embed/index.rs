//! An 8-bit scalar-quantised copy of the entity table (SQ8) for fast top-k with exact re-ranking.
//!
//! Exact top-k reads every entity row: 400 MB of `f32` per query at 1M × 100, which is memory
//! bound at tens of milliseconds on a small machine. Here each coordinate is stored as one byte on
//! a grid shared by all dimensions (`value ≈ offset[d] + code · step`), so a scan reads a quarter of
//! the bytes and the L1 kernel becomes a sum of absolute byte differences, which compilers lower
//! to `psadbw` (16 coordinates per instruction). The query point is put on the same grid. The scan
//! keeps the best `rerank` candidates by quantised distance; those are re-scored exactly in `f32`
//! and the best `k` returned, so the answer's scores are exact and only the candidate set is
//! approximate. Quantisation moves each coordinate by at most `step / 2`: for L1, clamping a query
//! coordinate that falls outside the grid adds the same amount to every entity's distance and
//! does not change the order. For L2 it can; recall is measured per norm (`benches/kge.rs`) and
//! serving uses the index only where the measurement supports it.
//!
//! Filters (known triples, restricted entities, type constraints) are applied during the scan,
//! exactly as in the exact search, so the index never returns what the exact search would hide.

use std::collections::BinaryHeap;

use rayon::prelude::*;

use super::model::{Norm, TransE};
use super::pq::Pq4Index;
use super::predict::Candidate;

/// Rows per parallel block of the scan.
const BLOCK: usize = 32_768;

/// Quantised entity codes and the grid they are on.
#[derive(Debug, Clone)]
pub struct Sq8Index {
    dim: usize,
    norm: Norm,
    offset: Vec<f32>,
    step: f32,
    codes: Vec<u8>,
    /// The entity table this index was built from (rows, dim), to refuse a mismatched model.
    rows: usize,
}

impl Sq8Index {
    /// Quantises `model`'s entity table. Non-finite values are clamped onto the grid.
    pub fn build(model: &TransE) -> Sq8Index {
        let dim = model.dim();
        let rows = model.num_entities();
        let table = model.entities.as_slice().expect("standard layout");
        let (lo, hi) = table
            .par_chunks(dim.max(1) * 4096)
            .map(|block| {
                let mut lo = vec![f32::INFINITY; dim];
                let mut hi = vec![f32::NEG_INFINITY; dim];
                for row in block.chunks_exact(dim) {
                    for ((l, h), &x) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
                        if x.is_finite() {
                            *l = l.min(x);
                            *h = h.max(x);
                        }
                    }
                }
                (lo, hi)
            })
            .reduce(
                || (vec![f32::INFINITY; dim], vec![f32::NEG_INFINITY; dim]),
                |(mut l1, mut h1), (l2, h2)| {
                    for i in 0..dim {
                        l1[i] = l1[i].min(l2[i]);
                        h1[i] = h1[i].max(h2[i]);
                    }
                    (l1, h1)
                },
            );
        let offset: Vec<f32> = lo
            .iter()
            .map(|&l| if l.is_finite() { l } else { 0.0 })
            .collect();
        let span = lo
            .iter()
            .zip(&hi)
            .filter(|(l, h)| l.is_finite() && h.is_finite())
            .map(|(l, h)| h - l)
            .fold(0.0f32, f32::max);
        let step = if span > 0.0 { span / 255.0 } else { 1.0 };
        let mut codes = vec![0u8; table.len()];
        codes
            .par_chunks_mut(dim.max(1) * 4096)
            .zip(table.par_chunks(dim.max(1) * 4096))
            .for_each(|(out, rows)| {
                for (o, r) in out.chunks_exact_mut(dim).zip(rows.chunks_exact(dim)) {
                    encode(r, &offset, step, o);
                }
            });
        Sq8Index {
            dim,
            norm: model.norm,
            offset,
            step,
            codes,
            rows,
        }
    }

    /// Whether this index was built from a table of `model`'s shape and norm.
    pub fn fits(&self, model: &TransE) -> bool {
        self.rows == model.num_entities() && self.dim == model.dim() && self.norm == model.norm
    }

    /// Bytes held by the codes.
    pub fn bytes(&self) -> usize {
        self.codes.len()
    }

    /// The `k` best entities for `point` among the `rerank` best by quantised distance,
    /// re-scored exactly; `exclude` (sorted) and `allow` filter as in
    /// [`top_k`](super::predict::top_k).
    pub fn search(
        &self,
        model: &TransE,
        point: &[f32],
        k: usize,
        rerank: usize,
        exclude: &[u32],
        allow: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<Candidate> {
        if k == 0 || self.dim == 0 {
            return Vec::new();
        }
        debug_assert!(self.fits(model));
        let keep = rerank.max(k);
        let mut q = vec![0u8; self.dim];
        encode(point, &self.offset, self.step, &mut q);
        let dim = self.dim;
        let norm = self.norm;
        let heaps: Vec<BinaryHeap<(u32, u32)>> = self
            .codes
            .par_chunks(BLOCK * dim)
            .enumerate()
            .map(|(b, block)| {
                let mut heap: BinaryHeap<(u32, u32)> = BinaryHeap::with_capacity(keep + 1);
                for (i, row) in block.chunks_exact(dim).enumerate() {
                    let id = (b * BLOCK + i) as u32;
                    let d = match norm {
                        Norm::L1 => sad(&q, row),
                        Norm::L2 => ssd(&q, row),
                    };
                    if heap.len() == keep && (d, id) >= *heap.peek().expect("non-empty") {
                        continue;
                    }
                    if exclude.binary_search(&id).is_ok() || !allow(id) {
                        continue;
                    }
                    heap.push((d, id));
                    if heap.len() > keep {
                        heap.pop();
                    }
                }
                heap
            })
            .collect();
        rerank_exact(
            model,
            point,
            k,
            heaps.into_iter().flatten().map(|(_, id)| id),
        )
    }
}

/// Which entities a search may answer with. Owned (not borrowed) because a PQ4 search may be
/// run by another caller's thread, batched with its own (see [`Pq4Index::search`]).
pub type Filter = std::sync::Arc<dyn Fn(u32) -> bool + Send + Sync>;

/// Candidates the PQ4 index re-scores exactly per requested result by default. 40 reached
/// recall@10 0.996 on random unit rows but 0.975 on a trained 1M-entity model (served over HTTP,
/// BENCHMARKS.md); 100 reached 0.996 there for about 8% more CPU per query.
pub const PQ4_RERANK: usize = 100;

/// The approximate index serving keeps for a large model; which one is configuration
/// (`[embed] search`), backed by the recall measured in BENCHMARKS.md. Each carries the re-ranking
/// budget its recall was measured with.
#[derive(Debug)]
pub enum Ann {
    /// 8-bit scalar quantisation, a memory-bound scan: re-ranks 10·max(k, 10) candidates.
    Sq8(Sq8Index),
    /// 4-bit product quantisation scanned with byte shuffles: re-ranks 100·max(k, 10) by default.
    Pq4(Pq4Index),
}

impl Ann {
    /// The name answers report as their `search`.
    pub fn name(&self) -> &'static str {
        match self {
            Ann::Sq8(_) => "sq8",
            Ann::Pq4(_) => "pq4",
        }
    }

    /// Whether this index was built from a table of `model`'s shape and norm.
    pub fn fits(&self, model: &TransE) -> bool {
        match self {
            Ann::Sq8(i) => i.fits(model),
            Ann::Pq4(i) => i.fits(model),
        }
    }

    /// The `k` best entities for `point`, re-scored exactly; filters as in
    /// [`top_k`](super::predict::top_k). `rerank` candidates per requested row (counting at
    /// least 10 rows) are re-scored; `None` keeps each index's measured default.
    pub fn search(
        &self,
        model: &TransE,
        point: &[f32],
        k: usize,
        rerank: Option<usize>,
        exclude: &[u32],
        allow: &Filter,
    ) -> Vec<Candidate> {
        let budget = |per_row: usize| rerank.unwrap_or(per_row).max(1) * k.max(10);
        match self {
            Ann::Sq8(i) => i.search(model, point, k, budget(10), exclude, &**allow),
            Ann::Pq4(i) => i.search(model, point, k, budget(PQ4_RERANK), exclude, allow),
        }
    }
}

/// The `k` of `ids` nearest to `point` by exact distance, ties by id; NaN distances never
/// qualify. The last step of both quantised searches, so their scores are exact.
pub(super) fn rerank_exact(
    model: &TransE,
    point: &[f32],
    k: usize,
    ids: impl Iterator<Item = u32>,
) -> Vec<Candidate> {
    let mut exact: Vec<(f32, u32)> = ids
        .map(|id| (model.point_distance(point, model.entity(id)), id))
        .filter(|(d, _)| !d.is_nan())
        .collect();
    let order = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    // Large re-rank budgets: select the k best before sorting them.
    if exact.len() > k && k > 0 {
        exact.select_nth_unstable_by(k - 1, order);
    }
    exact.truncate(k);
    exact.sort_unstable_by(order);
    exact
        .into_iter()
        .map(|(d, id)| Candidate { id, score: -d })
        .collect()
}

/// Puts a vector on the grid, clamping to the codes' range.
fn encode(v: &[f32], offset: &[f32], step: f32, out: &mut [u8]) {
    for ((o, &x), &lo) in out.iter_mut().zip(v).zip(offset) {
        let c = ((x - lo) / step).round();
        // NaN maps to 0 (`as` saturates and sends NaN to 0).
        *o = c.clamp(0.0, 255.0) as u8;
    }
}

/// Sum of absolute differences, written in the shape the vectoriser turns into `psadbw`.
#[inline]
fn sad(a: &[u8], b: &[u8]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as i32 - y as i32).unsigned_abs())
        .sum()
}

/// Sum of squared differences (the order of L2 distances).
#[inline]
fn ssd(a: &[u8], b: &[u8]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as i32 - y as i32;
            (d * d) as u32
        })
        .sum()
}

/// Recall@k of `approx` against `exact` answers (the share of exact ids found).
pub fn recall(exact: &[Candidate], approx: &[Candidate]) -> f64 {
    if exact.is_empty() {
        return 1.0;
    }
    let hit = exact
        .iter()
        .filter(|e| approx.iter().any(|a| a.id == e.id))
        .count();
    hit as f64 / exact.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::predict::top_k;
    use rand::{Rng, SeedableRng};

    fn model(n: usize, norm: Norm) -> TransE {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        TransE::init(n, 3, 32, norm, &mut rng)
    }

    #[test]
    fn finds_what_exact_search_finds_with_exact_scores() {
        for norm in [Norm::L1, Norm::L2] {
            let m = model(5000, norm);
            let index = Sq8Index::build(&m);
            assert!(index.fits(&m));
            assert_eq!(index.bytes(), 5000 * 32);
            let all = |_: u32| true;
            let mut total = 0.0;
            for h in 0..50 {
                let q = m.tail_query(h, h % 3);
                let exact = top_k(&m, &q, 10, &[], &all);
                let approx = index.search(&m, &q, 10, 200, &[], &all);
                total += recall(&exact, &approx);
                // Scores are recomputed exactly, so shared answers agree bit for bit.
                for a in &approx {
                    if let Some(e) = exact.iter().find(|e| e.id == a.id) {
                        assert_eq!(e.score, a.score);
                    }
                }
            }
            assert!(total / 50.0 >= 0.99, "{norm:?}: recall {}", total / 50.0);
        }
    }

    #[test]
    fn filters_apply_as_in_exact_search() {
        let m = model(2000, Norm::L1);
        let index = Sq8Index::build(&m);
        let q = m.tail_query(7, 1);
        let exact = top_k(&m, &q, 5, &[], &|_| true);
        let banned: Vec<u32> = {
            let mut v: Vec<u32> = exact.iter().take(2).map(|c| c.id).collect();
            v.sort();
            v
        };
        let even = |id: u32| id.is_multiple_of(2);
        let got = index.search(&m, &q, 5, 100, &banned, &even);
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|c| c.id % 2 == 0 && !banned.contains(&c.id)));
        assert!(index.search(&m, &q, 0, 100, &[], &even).is_empty());
        // Fewer qualifiers than k: all of them, no padding.
        let few = |id: u32| id < 3;
        assert_eq!(index.search(&m, &q, 10, 100, &[], &few).len(), 3);
    }

    #[test]
    fn kernels_agree_with_their_definition() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        for len in [0, 1, 15, 16, 17, 100, 257] {
            let a: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let b: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let s: u32 = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y) as u32).sum();
            let q: u32 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x.abs_diff(*y) as u32).pow(2))
                .sum();
            assert_eq!(sad(&a, &b), s);
            assert_eq!(ssd(&a, &b), q);
        }
    }
}
