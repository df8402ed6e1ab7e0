//! Indexes over known triples: the filter of filtered ranking and the statistics of Bernoulli
//! negative sampling.
//!
//! "Filtered" metrics (Bordes et al. 2013) rank the true answer only against candidates that are
//! not themselves known answers; a recommender equally must not suggest what a user already
//! bought. Both need "all tails known for (head, relation)" and "all heads known for (relation,
//! tail)" in O(1), which [`KnownTriples`] provides. [`RelationStats`] holds the per-relation
//! tails-per-head and heads-per-tail averages that decide which side a Bernoulli sampler corrupts
//! (Wang et al. 2014): corrupting the "many" side of a 1-to-N relation would mostly produce true
//! triples.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::Triple;

/// All known tails per (head, relation) and heads per (relation, tail), sorted and deduplicated.
#[derive(Debug, Clone, Default)]
pub struct KnownTriples {
    tails: FxHashMap<(u32, u32), Vec<u32>>,
    heads: FxHashMap<(u32, u32), Vec<u32>>,
    len: usize,
}

impl KnownTriples {
    /// Indexes every triple of every given split.
    pub fn new<'a>(splits: impl IntoIterator<Item = &'a [Triple]>) -> Self {
        let mut known = KnownTriples::default();
        for split in splits {
            for t in split {
                known.tails.entry((t.h, t.r)).or_default().push(t.t);
                known.heads.entry((t.r, t.t)).or_default().push(t.h);
            }
        }
        for list in known.tails.values_mut().chain(known.heads.values_mut()) {
            list.sort_unstable();
            list.dedup();
        }
        known.len = known.tails.values().map(Vec::len).sum();
        known
    }

    /// Known tails of `(h, r, ?)`, sorted.
    pub fn tails(&self, h: u32, r: u32) -> &[u32] {
        self.tails.get(&(h, r)).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Known heads of `(?, r, t)`, sorted.
    pub fn heads(&self, r: u32, t: u32) -> &[u32] {
        self.heads.get(&(r, t)).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether the triple is known.
    pub fn contains(&self, t: &Triple) -> bool {
        self.tails(t.h, t.r).binary_search(&t.t).is_ok()
    }

    /// Number of distinct known triples.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Per-relation cardinality statistics of a training split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationStats {
    /// Average number of tails per distinct head, per relation.
    pub tails_per_head: Vec<f64>,
    /// Average number of heads per distinct tail, per relation.
    pub heads_per_tail: Vec<f64>,
}

impl RelationStats {
    /// Computes the statistics over distinct triples (duplicates do not inflate them).
    pub fn new(train: &[Triple], num_relations: usize) -> Self {
        let distinct: FxHashSet<Triple> = train.iter().copied().collect();
        let mut triples = vec![0usize; num_relations];
        let mut heads: Vec<FxHashSet<u32>> = vec![FxHashSet::default(); num_relations];
        let mut tails: Vec<FxHashSet<u32>> = vec![FxHashSet::default(); num_relations];
        for t in &distinct {
            let r = t.r as usize;
            triples[r] += 1;
            heads[r].insert(t.h);
            tails[r].insert(t.t);
        }
        let ratio = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        RelationStats {
            tails_per_head: (0..num_relations)
                .map(|r| ratio(triples[r], heads[r].len()))
                .collect(),
            heads_per_tail: (0..num_relations)
                .map(|r| ratio(triples[r], tails[r].len()))
                .collect(),
        }
    }

    /// Probability of corrupting the head of a triple of relation `r`: tph / (tph + hpt).
    /// A relation never seen in training falls back to 0.5 (uniform).
    pub fn head_corruption_probability(&self, r: u32) -> f64 {
        let r = r as usize;
        let (tph, hpt) = (self.tails_per_head[r], self.heads_per_tail[r]);
        if tph + hpt == 0.0 {
            0.5
        } else {
            tph / (tph + hpt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bernoulli_matches_hand_computed_values() {
        // Relation 0 is 1-to-N: head 0 has tails 1, 2, 3; head 4 has tail 5.
        // tph = 4 triples / 2 heads = 2; hpt = 4 triples / 4 tails = 1; P(head) = 2/3.
        // Relation 1 is N-to-1: heads 1, 2, 3 share tail 0. tph = 1, hpt = 3; P(head) = 1/4.
        let train = [
            Triple::new(0, 0, 1),
            Triple::new(0, 0, 2),
            Triple::new(0, 0, 3),
            Triple::new(4, 0, 5),
            Triple::new(4, 0, 5), // a duplicate changes nothing
            Triple::new(1, 1, 0),
            Triple::new(2, 1, 0),
            Triple::new(3, 1, 0),
        ];
        let stats = RelationStats::new(&train, 3);
        assert!((stats.head_corruption_probability(0) - 2.0 / 3.0).abs() < 1e-12);
        assert!((stats.head_corruption_probability(1) - 0.25).abs() < 1e-12);
        assert_eq!(stats.head_corruption_probability(2), 0.5);
    }

    #[test]
    fn known_triples_index_both_directions() {
        let a = [Triple::new(0, 0, 2), Triple::new(0, 0, 1)];
        let b = [Triple::new(0, 0, 1), Triple::new(3, 0, 1)];
        let known = KnownTriples::new([&a[..], &b[..]]);
        assert_eq!(known.tails(0, 0), &[1, 2]);
        assert_eq!(known.heads(0, 1), &[0, 3]);
        assert!(known.contains(&Triple::new(3, 0, 1)));
        assert!(!known.contains(&Triple::new(1, 0, 3)));
        assert_eq!(known.len(), 3);
    }
}
