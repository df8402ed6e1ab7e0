//! A 4-bit product-quantised copy of the entity table (PQ4 "fast scan") for top-k under a
//! latency budget, with exact re-ranking.
//!
//! The SQ8 scan ([`super::index`]) still reads 100 MB per query at 1M × 100 and is bound by
//! memory bandwidth. Here the dimensions are cut into groups of `sub` (2 or 4) and each group of
//! each entity is replaced by the nearest of 16 centroids learnt by k-means on that group: half a
//! byte per group, 12.5 MB at 1M × 100 with groups of 4, which stays in a server's L3 cache. A
//! query first computes, per group, its distance to the 16 centroids (a 16-entry table, quantised
//! to bytes); an entity's approximate distance is then the sum of one table entry per group, and
//! 32 entities are summed at once with byte shuffles (`vpshufb` looks 32 table entries up in one
//! instruction; the layout and the 16-bit accumulation follow André et al., "Cache locality is
//! not enough: high-performance nearest neighbor search with product quantization fast scan",
//! VLDB 2015, as in Faiss' `IndexPQFastScan`). The best `rerank` candidates by that sum are
//! re-scored exactly in `f32`, so returned scores are exact and only the candidate set is
//! approximate; its recall against exact search is measured (`benches/kge.rs`, the tests below)
//! and serving picks this index only where the measurement supports it.
//!
//! The distances are additive over groups for both norms (L1, and squared L2, whose order is
//! L2's), so one scan serves either. Filters (known triples, restricted entities, type
//! constraints) apply while candidates are collected, as in the exact search. A portable kernel
//! computes the same sums where AVX2 is missing (and checks the vector kernel in the tests).
//! Concurrent searches share scans, up to 4 per pass over the codes (`batch.rs`).

use rand::seq::index::sample;
use rand::SeedableRng;
use rayon::prelude::*;

mod batch;
mod kernel;

use std::sync::Arc;

use super::index::Filter;
use super::model::{Norm, TransE};
use super::predict::Candidate;
use batch::{Job, Queue, Slot, SlotState};
use kernel::{pack, Vector, LANES};
use pulp::bytemuck::{cast_slice_mut, Zeroable};

/// Dimensions per group serving uses: groups of 4 halve the codes and the scan but lose recall
/// (BENCHMARKS.md).
pub const DEFAULT_SUB: usize = 2;

/// Largest table entry: two entries must add up in a byte (the AVX2 kernel adds two pairs of
/// groups before widening to 16 bits); 7 bits of resolution per group distance, which measured
/// the same recall at 1M entities as 8 bits (BENCHMARKS.md).
pub(super) const ENTRY_MAX: usize = 127;
/// Centroids per group (4 bits).
pub(super) const CENTROIDS: usize = 16;
/// Rows k-means learns from.
const SAMPLE: usize = 65_536;
const KMEANS_ROUNDS: usize = 16;

/// Group centroids and the packed codes of every entity.
#[derive(Debug)]
pub struct Pq4Index {
    dim: usize,
    sub: usize,
    /// Groups, rounded up to an even number (the kernel takes them in pairs).
    groups: usize,
    norm: Norm,
    /// `groups × CENTROIDS × sub`, dimensions past `dim` zero.
    centroids: Vec<f32>,
    /// Per block of 32 entities, per pair of groups, one vector of 32 bytes (see [`pack`]).
    codes: Vec<Vector>,
    rows: usize,
    /// Searches waiting for a scan, in arrival order (see [`Pq4Index::search`]).
    queue: parking_lot::Mutex<Queue>,
}

impl Pq4Index {
    /// Learns the centroids of `model`'s entity table with `sub` dimensions per group and
    /// encodes every entity. Deterministic for a seed. `sub` of 0 is taken as 1.
    pub fn build(model: &TransE, sub: usize, seed: u64) -> Pq4Index {
        let dim = model.dim();
        let sub = sub.max(1);
        let rows = model.num_entities();
        let groups = dim.div_ceil(sub).max(1).next_multiple_of(2);
        let table = model.entities.as_slice().expect("standard layout");
        let group_of = |row: usize, g: usize, out: &mut [f32]| {
            for (s, o) in out.iter_mut().enumerate() {
                let d = g * sub + s;
                *o = if d < dim && row < rows {
                    let x = table[row * dim + d];
                    if x.is_finite() {
                        x
                    } else {
                        0.0
                    }
                } else {
                    0.0
                };
            }
        };
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
        let picked = sample(&mut rng, rows.max(1), SAMPLE.min(rows.max(1))).into_vec();
        let centroids: Vec<f32> = (0..groups)
            .into_par_iter()
            .flat_map_iter(|g| {
                let mut points = vec![0.0f32; picked.len() * sub];
                for (p, &row) in points.chunks_exact_mut(sub).zip(&picked) {
                    group_of(row, g, p);
                }
                kmeans(&points, sub)
            })
            .collect();
        let blocks = rows.div_ceil(LANES);
        let pairs = groups / 2;
        let mut codes = vec![Vector::zeroed(); blocks * pairs];
        codes
            .par_chunks_mut(pairs)
            .enumerate()
            .for_each(|(b, out)| {
                let mut v = vec![0.0f32; sub];
                let mut block = vec![0u8; LANES * groups];
                for lane in 0..LANES {
                    let row = b * LANES + lane;
                    for g in 0..groups {
                        group_of(row, g, &mut v);
                        let c = &centroids[g * CENTROIDS * sub..(g + 1) * CENTROIDS * sub];
                        block[lane * groups + g] = nearest(c, &v, sub);
                    }
                }
                pack(&block, groups, cast_slice_mut(out));
            });
        Pq4Index {
            dim,
            sub,
            groups,
            norm: model.norm,
            centroids,
            codes,
            rows,
            queue: parking_lot::Mutex::new(Queue::default()),
        }
    }

    /// Whether this index was built from a table of `model`'s shape and norm.
    pub fn fits(&self, model: &TransE) -> bool {
        self.rows == model.num_entities() && self.dim == model.dim() && self.norm == model.norm
    }

    /// Bytes held by the codes.
    pub fn bytes(&self) -> usize {
        self.codes.len() * LANES
    }

    /// Dimensions per group.
    pub fn sub(&self) -> usize {
        self.sub
    }

    /// Largest table entry: `ENTRY_MAX`, or less where the sum over groups would not fit 16 bits.
    fn entry_cap(&self) -> usize {
        (u16::MAX as usize / self.groups).min(ENTRY_MAX)
    }

    /// The per-group distance tables of `point`, quantised to bytes and laid out in pairs of
    /// groups (32 bytes each) as the kernel reads them. Each group's smallest entry is
    /// subtracted (a constant per group changes no order) and one scale is shared by all groups,
    /// capped so that the sum over groups fits 16 bits.
    fn tables(&self, point: &[f32]) -> Vec<Vector> {
        let sub = self.sub;
        let mut raw = vec![0.0f32; self.groups * CENTROIDS];
        for g in 0..self.groups {
            for c in 0..CENTROIDS {
                let centre = &self.centroids[(g * CENTROIDS + c) * sub..][..sub];
                let mut d = 0.0f32;
                for (s, &y) in centre.iter().enumerate() {
                    let x = point.get(g * sub + s).copied().unwrap_or(0.0);
                    d += match self.norm {
                        Norm::L1 => (x - y).abs(),
                        Norm::L2 => (x - y) * (x - y),
                    };
                }
                raw[g * CENTROIDS + c] = d;
            }
        }
        let mut span = 0.0f32;
        for t in raw.chunks_exact_mut(CENTROIDS) {
            let lo = t.iter().copied().fold(f32::INFINITY, f32::min);
            for x in t.iter_mut() {
                *x -= lo;
            }
            span = span.max(t.iter().copied().fold(0.0, f32::max));
        }
        let cap = self.entry_cap() as f32;
        let scale = if span > 0.0 && span.is_finite() {
            cap / span
        } else {
            0.0
        };
        // NaN entries (a NaN query) become 0 through the saturating cast; the exact re-ranking
        // then drops every candidate with a NaN distance.
        let mut out = vec![Vector::zeroed(); raw.len() / LANES];
        for (o, &x) in cast_slice_mut::<Vector, u8>(&mut out).iter_mut().zip(&raw) {
            *o = (x * scale).round().clamp(0.0, cap) as u8;
        }
        out
    }

    /// The `k` best entities for `point` among the `rerank` best by approximate distance,
    /// re-scored exactly; `exclude` (sorted) and `allow` filter as in
    /// [`top_k`](super::predict::top_k).
    ///
    /// Concurrent searches share scans: a caller queues its search and, when no scan runs,
    /// leads one for every search waiting (up to `MAX_BATCH`), on every core; the others wait
    /// for their candidates or to lead the next scan. One pass then applies each query's tables
    /// to a block of codes while it sits in L1, so the codes cross the memory bus once per scan
    /// instead of once per query, and the queue drains in arrival order. Letting every caller
    /// scan at once costs more memory traffic and leaves completion to the scheduler: on 2
    /// cores with 8 clients the 99th percentile tripled (BENCHMARKS.md). The leader also
    /// re-ranks every search of its batch, in parallel, before handing the answers out.
    pub fn search(
        &self,
        model: &TransE,
        point: &[f32],
        k: usize,
        rerank: usize,
        exclude: &[u32],
        allow: &Filter,
    ) -> Vec<Candidate> {
        if k == 0 || self.rows == 0 {
            return Vec::new();
        }
        debug_assert!(self.fits(model));
        let slot = Arc::new(Slot::default());
        let job = Job {
            point: point.to_vec(),
            k,
            lut: self.tables(point),
            keep: rerank.max(k),
            exclude: exclude.to_vec(),
            allow: Arc::clone(allow),
            slot: Arc::clone(&slot),
        };
        let lead = {
            let mut queue = self.queue.lock();
            queue.jobs.push_back(job);
            !std::mem::replace(&mut queue.scanning, true)
        };
        let mut state = if lead { SlotState::Lead } else { slot.wait() };
        while let SlotState::Lead = state {
            self.lead(model);
            state = slot.wait();
        }
        match state {
            SlotState::Done(found) => found,
            _ => panic!("the PQ4 scan serving this search panicked (in its filter or the scan)"),
        }
    }
}

/// Lloyd's k-means with `CENTROIDS` centres on `points` (rows of `sub`), seeded with the first
/// distinct points (the sample is already random). Returns `CENTROIDS × sub` values; with fewer
/// distinct points than centres, the missing centres repeat the first.
fn kmeans(points: &[f32], sub: usize) -> Vec<f32> {
    let n = points.len() / sub;
    let mut centres: Vec<f32> = Vec::with_capacity(CENTROIDS * sub);
    for p in points.chunks_exact(sub) {
        if centres.len() == CENTROIDS * sub {
            break;
        }
        if !centres.chunks_exact(sub).any(|c| c == p) {
            centres.extend_from_slice(p);
        }
    }
    if centres.is_empty() {
        centres.resize(sub, 0.0);
    }
    while centres.len() < CENTROIDS * sub {
        let first: Vec<f32> = centres[..sub].to_vec();
        centres.extend(first);
    }
    let mut assign = vec![0u8; n];
    for _ in 0..KMEANS_ROUNDS {
        for (a, p) in assign.iter_mut().zip(points.chunks_exact(sub)) {
            *a = nearest(&centres, p, sub);
        }
        let mut sum = vec![0.0f64; CENTROIDS * sub];
        let mut count = [0usize; CENTROIDS];
        for (&a, p) in assign.iter().zip(points.chunks_exact(sub)) {
            count[a as usize] += 1;
            for (s, &x) in sum[a as usize * sub..][..sub].iter_mut().zip(p) {
                *s += x as f64;
            }
        }
        for c in 0..CENTROIDS {
            // An empty cluster keeps its centre.
            if count[c] > 0 {
                for s in 0..sub {
                    centres[c * sub + s] = (sum[c * sub + s] / count[c] as f64) as f32;
                }
            }
        }
    }
    centres
}

/// The centre (of `CENTROIDS` rows of `sub`) nearest to `v` in squared L2; ties to the lower.
fn nearest(centres: &[f32], v: &[f32], sub: usize) -> u8 {
    let mut best = (f32::INFINITY, 0u8);
    for (c, centre) in centres.chunks_exact(sub).enumerate() {
        let d: f32 = centre.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum();
        if d < best.0 {
            best = (d, c as u8);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::index::recall;
    use crate::embed::predict::top_k;

    fn model(n: usize, dim: usize, norm: Norm) -> TransE {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        TransE::init(n, 3, dim, norm, &mut rng)
    }

    #[test]
    fn finds_what_exact_search_finds_with_exact_scores() {
        for norm in [Norm::L1, Norm::L2] {
            for sub in [DEFAULT_SUB] {
                let m = model(20_000, 32, norm);
                let index = Pq4Index::build(&m, sub, 3);
                assert!(index.fits(&m));
                assert_eq!(index.bytes(), 20_000usize.div_ceil(32) * 32 * 32 / sub / 2);
                let all: Filter = Arc::new(|_: u32| true);
                let mut total = 0.0;
                for h in 0..50 {
                    let q = m.tail_query(h * 7, h % 3);
                    let exact = top_k(&m, &q, 10, &[], &*all);
                    let approx = index.search(&m, &q, 10, 400, &[], &all);
                    assert_eq!(approx.len(), 10);
                    total += recall(&exact, &approx);
                    for a in &approx {
                        if let Some(e) = exact.iter().find(|e| e.id == a.id) {
                            assert_eq!(e.score, a.score);
                        }
                    }
                }
                let r = total / 50.0;
                assert!(r >= 0.99, "{norm:?}, groups of {sub}: recall {r}");
            }
        }
    }

    #[test]
    fn filters_apply_as_in_exact_search() {
        let m = model(2000, 16, Norm::L1);
        let index = Pq4Index::build(&m, 4, 1);
        let q = m.tail_query(7, 1);
        let exact = top_k(&m, &q, 5, &[], &|_| true);
        let mut banned: Vec<u32> = exact.iter().take(2).map(|c| c.id).collect();
        banned.sort();
        let even: Filter = Arc::new(|id: u32| id.is_multiple_of(2));
        let got = index.search(&m, &q, 5, 100, &banned, &even);
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|c| c.id % 2 == 0 && !banned.contains(&c.id)));
        assert!(index.search(&m, &q, 0, 100, &[], &even).is_empty());
        let few: Filter = Arc::new(|id: u32| id < 3);
        assert_eq!(index.search(&m, &q, 10, 100, &[], &few).len(), 3);
    }

    #[test]
    fn a_filter_that_allows_one_share_only_still_answers_exactly() {
        // Only the first 5% of ids pass, so every task but the first sees no allowed entity and
        // prunes by the bound the first one reaches; with a re-rank budget covering every
        // allowed entity the answer is the exact one.
        let m = model(40_000, 16, Norm::L1);
        let index = Pq4Index::build(&m, 2, 3);
        let first: Filter = Arc::new(|id: u32| id < 2_000);
        for h in [5, 20_000, 39_999] {
            let q = m.tail_query(h, 1);
            let exact = top_k(&m, &q, 10, &[], &*first);
            let got = index.search(&m, &q, 10, 2_000, &[], &first);
            assert_eq!(
                got.iter().map(|c| c.id).collect::<Vec<_>>(),
                exact.iter().map(|c| c.id).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn odd_shapes_and_tiny_tables_answer_exactly() {
        // 45 rows (a partial block), 5 dimensions in groups of 4 (padding), fewer rows than
        // centroids: every row is then its own centroid or close to it, and with a re-rank
        // budget above the row count the answer is the exact one.
        for (rows, dim, sub) in [(45, 5, 4), (3, 7, 2), (1, 1, 1), (33, 2, 3)] {
            let m = model(rows, dim, Norm::L2);
            let index = Pq4Index::build(&m, sub, 9);
            let q = m.tail_query(0, 0);
            let all: Filter = Arc::new(|_: u32| true);
            let exact = top_k(&m, &q, 10, &[], &*all);
            assert_eq!(
                index.search(&m, &q, 10, 64, &[], &all),
                exact,
                "{rows}x{dim}/{sub}"
            );
        }
        let empty = model(0, 4, Norm::L1);
        let index = Pq4Index::build(&empty, 2, 1);
        assert!(index
            .search(
                &empty,
                &[0.0; 4],
                10,
                10,
                &[],
                &(Arc::new(|_| true) as Filter)
            )
            .is_empty());
    }

    #[test]
    fn a_nan_query_answers_nothing_and_builds_are_deterministic() {
        let m = model(500, 8, Norm::L1);
        let a = Pq4Index::build(&m, 2, 4);
        let b = Pq4Index::build(&m, 2, 4);
        assert_eq!(
            pulp::bytemuck::cast_slice::<Vector, u8>(&a.codes),
            pulp::bytemuck::cast_slice::<Vector, u8>(&b.codes)
        );
        assert_eq!(a.centroids, b.centroids);
        let q = vec![f32::NAN; 8];
        assert!(a
            .search(&m, &q, 10, 50, &[], &(Arc::new(|_| true) as Filter))
            .is_empty());
    }

    #[test]
    fn concurrent_searches_share_scans_and_answer_as_alone() {
        let m = model(5_000, 16, Norm::L2);
        let index = Pq4Index::build(&m, 2, 2);
        let queries: Vec<(Vec<f32>, u32)> = (0..48)
            .map(|i| (m.tail_query(i * 13, i % 3), i % 5))
            .collect();
        let filter = |r: u32| -> Filter { Arc::new(move |id: u32| id % 5 != r) };
        let alone: Vec<Vec<Candidate>> = queries
            .iter()
            .map(|(q, r)| index.search(&m, q, 10, 200, &[r + 1], &filter(*r)))
            .collect();
        let together: Vec<Vec<Candidate>> = std::thread::scope(|s| {
            let handles: Vec<_> = queries
                .iter()
                .map(|(q, r)| {
                    let (index, m, f) = (&index, &m, filter(*r));
                    s.spawn(move || index.search(m, q, 10, 200, &[r + 1], &f))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(alone, together);
        for (got, (_, r)) in together.iter().zip(&queries) {
            assert_eq!(got.len(), 10);
            assert!(got.iter().all(|c| c.id % 5 != *r && c.id != r + 1));
        }
    }

    #[test]
    fn a_panicking_filter_fails_its_own_search_only() {
        let m = model(3_000, 8, Norm::L1);
        let index = Pq4Index::build(&m, 2, 1);
        let q = m.tail_query(1, 1);
        let all: Filter = Arc::new(|_| true);
        let want = index.search(&m, &q, 5, 100, &[], &all);
        let bad: Filter = Arc::new(|id| if id == 7 { panic!("bad filter") } else { true });
        std::thread::scope(|s| {
            let failing: Vec<_> = (0..4)
                .map(|_| s.spawn(|| index.search(&m, &q, 5, 3_000, &[], &bad)))
                .collect();
            let fine: Vec<_> = (0..4)
                .map(|_| s.spawn(|| index.search(&m, &q, 5, 100, &[], &all)))
                .collect();
            for h in failing {
                assert!(h.join().is_err());
            }
            for h in fine {
                assert_eq!(h.join().unwrap(), want);
            }
        });
        // The index still serves afterwards.
        assert_eq!(index.search(&m, &q, 5, 100, &[], &all), want);
    }
}
