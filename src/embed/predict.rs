//! Top-k link prediction: the nearest entities to `h + r` (tails) or `t − r` (heads).
//!
//! Serving answers "which items for this user", "which brand is missing here": the k best
//! candidates that are not already known and that pass the caller's constraint (the relation's
//! range class, entities the caller may see). The search is exact — every entity is scored — in
//! parallel blocks, each keeping a bounded heap; ties are broken by id so answers are stable.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;
use serde::Serialize;

use super::model::TransE;

/// One candidate answer: its row and its score (`-distance`, higher is better).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Candidate {
    pub id: u32,
    pub score: f32,
}

/// Which end of the triple is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `(h, r, ?)`
    Tails,
    /// `(?, r, t)`
    Heads,
}

/// Heap entry ordered by distance, then id, so the heap's top is the worst kept candidate.
#[derive(PartialEq)]
struct Entry(f32, u32);

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Rows per parallel block.
const BLOCK: usize = 16_384;

/// The `k` entities closest to `point`, skipping ids in `exclude` (sorted) and those `allow`
/// rejects. Fewer than `k` come back when fewer qualify. NaN scores never qualify.
pub fn top_k(
    model: &TransE,
    point: &[f32],
    k: usize,
    exclude: &[u32],
    allow: &(dyn Fn(u32) -> bool + Sync),
) -> Vec<Candidate> {
    if k == 0 {
        return Vec::new();
    }
    let dim = model.dim();
    let table = model.entities.as_slice().expect("standard layout");
    let heaps: Vec<BinaryHeap<Entry>> = table
        .par_chunks(BLOCK * dim)
        .enumerate()
        .map(|(b, block)| {
            let mut heap = BinaryHeap::with_capacity(k + 1);
            for (i, row) in block.chunks_exact(dim).enumerate() {
                let id = (b * BLOCK + i) as u32;
                let d = model.point_distance(point, row);
                if d.is_nan() {
                    continue;
                }
                if heap.len() == k {
                    let worst: &Entry = heap.peek().expect("non-empty");
                    if Entry(d, id) >= *worst {
                        continue;
                    }
                }
                if exclude.binary_search(&id).is_ok() || !allow(id) {
                    continue;
                }
                heap.push(Entry(d, id));
                if heap.len() > k {
                    heap.pop();
                }
            }
            heap
        })
        .collect();
    let mut all: Vec<Entry> = heaps.into_iter().flatten().collect();
    all.sort_unstable();
    all.truncate(k);
    all.into_iter()
        .map(|Entry(d, id)| Candidate { id, score: -d })
        .collect()
}

/// Top-k for a (head, relation) or (relation, tail) query by id.
pub fn predict(
    model: &TransE,
    direction: Direction,
    anchor: u32,
    relation: u32,
    k: usize,
    exclude: &[u32],
    allow: &(dyn Fn(u32) -> bool + Sync),
) -> Vec<Candidate> {
    let point = match direction {
        Direction::Tails => model.tail_query(anchor, relation),
        Direction::Heads => model.head_query(relation, anchor),
    };
    top_k(model, &point, k, exclude, allow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::Norm;
    use ndarray::array;

    #[test]
    fn returns_nearest_first_filtered_and_constrained() {
        let m = TransE {
            reciprocal: false,
            norm: Norm::L2,
            entities: array![[0.0f32], [1.0], [1.2], [0.7], [3.0]],
            relations: array![[1.0f32]],
        };
        let all = |_: u32| true;
        let got = predict(&m, Direction::Tails, 0, 0, 3, &[], &all);
        let ids: Vec<u32> = got.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert!(got[0].score >= got[1].score && got[1].score >= got[2].score);
        // Known answer 1 filtered out; entity 2 disallowed.
        let got = predict(&m, Direction::Tails, 0, 0, 2, &[1], &|id| id != 2);
        assert_eq!(got.iter().map(|c| c.id).collect::<Vec<_>>(), vec![3, 0]);
        // k beyond the entity count returns every qualifying entity.
        assert_eq!(predict(&m, Direction::Heads, 1, 0, 99, &[], &all).len(), 5);
    }
}
