//! How concurrent searches share the PQ4 scan: the queue a search waits in, the lead one
//! caller takes to scan for every waiting search, and the per-thread candidate selection with
//! its histogram bound. Kept apart from the index so the coordination sits in one place.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use super::kernel::{Kernel, Vector, LANES};
use super::Pq4Index;
use crate::embed::index::{rerank_exact, Filter};
use crate::embed::model::TransE;
use crate::embed::predict::Candidate;

/// Fewest blocks of `LANES` entities per parallel task.
const MIN_TASK_BLOCKS: usize = 64;

/// Most searches one scan serves. The kernel's cost per query falls by a fifth from 1 to 2
/// queries per pass and levels off from 4 (codes read from memory once per pass), while a
/// longer pass makes a search that just missed it wait longer: with 8 clients on 2 cores,
/// caps of 3-4 measured the lowest 99th percentile, 8-16 the highest (BENCHMARKS.md).
pub(super) const MAX_BATCH: usize = 4;

/// The searches waiting for a scan and whether one runs.
#[derive(Debug, Default)]
pub(super) struct Queue {
    pub(super) jobs: std::collections::VecDeque<Job>,
    pub(super) scanning: bool,
}

/// One search as the scan needs it: owned, because whichever caller leads the scan runs it.
pub(super) struct Job {
    pub(super) point: Vec<f32>,
    pub(super) k: usize,
    pub(super) lut: Vec<Vector>,
    pub(super) keep: usize,
    pub(super) exclude: Vec<u32>,
    pub(super) allow: Filter,
    pub(super) slot: Arc<Slot>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("keep", &self.keep).finish()
    }
}

/// Where a waiting caller learns that its candidates are ready or that it leads the next scan.
#[derive(Default)]
pub(super) struct Slot {
    state: parking_lot::Mutex<SlotState>,
    ready: parking_lot::Condvar,
}

#[derive(Default)]
pub(super) enum SlotState {
    #[default]
    Waiting,
    Lead,
    Done(Vec<Candidate>),
    /// This search's filter panicked (or the scan serving it did).
    Failed,
}

impl Slot {
    pub(super) fn set(&self, state: SlotState) {
        *self.state.lock() = state;
        self.ready.notify_one();
    }

    /// Blocks until the slot is no longer waiting; takes what it holds.
    pub(super) fn wait(&self) -> SlotState {
        let mut state = self.state.lock();
        while matches!(*state, SlotState::Waiting) {
            self.ready.wait(&mut state);
        }
        std::mem::take(&mut *state)
    }
}

impl Pq4Index {
    /// Runs one scan for the searches at the head of the queue, re-ranks each search's
    /// candidates (in parallel), hands each its answer and the lead to the next waiting search
    /// (or marks the index idle). A panic in the scan marks the batch failed and still hands
    /// the lead on, so no caller waits forever. Every queued search is on this index, hence on
    /// `model`.
    pub(super) fn lead(&self, model: &TransE) {
        let batch: Vec<Job> = {
            let mut queue = self.queue.lock();
            let n = queue.jobs.len().min(MAX_BATCH);
            queue.jobs.drain(..n).collect()
        };
        struct Handoff<'a> {
            queue: &'a parking_lot::Mutex<Queue>,
            slots: Vec<Arc<Slot>>,
        }
        impl Drop for Handoff<'_> {
            fn drop(&mut self) {
                for slot in &self.slots {
                    slot.set(SlotState::Failed);
                }
                let mut queue = self.queue.lock();
                match queue.jobs.front() {
                    Some(next) => next.slot.set(SlotState::Lead),
                    None => queue.scanning = false,
                }
            }
        }
        let mut handoff = Handoff {
            queue: &self.queue,
            slots: batch.iter().map(|j| Arc::clone(&j.slot)).collect(),
        };
        let found = self.scan(&batch);
        let answers: Vec<SlotState> = batch
            .par_iter()
            .zip(found)
            .map(|(job, found)| match found {
                Some(found) => SlotState::Done(rerank_exact(
                    model,
                    &job.point,
                    job.k,
                    found.into_iter().map(|(_, id)| id),
                )),
                None => SlotState::Failed,
            })
            .collect();
        for (job, answer) in batch.iter().zip(answers) {
            job.slot.set(answer);
        }
        handoff.slots.clear();
    }

    /// Each job's `keep` best (approximate distance, id), filtered, from one pass over the
    /// codes on every core; `None` for a job whose filter panicked.
    pub(super) fn scan(&self, batch: &[Job]) -> Vec<Option<Candidates>> {
        let block_vectors = self.groups / 2;
        let kernel = Kernel::detect();
        let luts: Vec<&[Vector]> = batch.iter().map(|j| j.lut.as_slice()).collect();
        let max = (self.groups * self.entry_cap()).min(u16::MAX as usize) as u16;
        // One contiguous share of the table per thread: every task keeps its own `keep` best
        // per query, and warming those bounds up is the per-task cost (16 tasks per query at
        // 1M entities on 2 threads ran at 0.64x the throughput of 2 tasks).
        let blocks = self.codes.len() / block_vectors;
        let task_blocks = blocks
            .div_ceil(rayon::current_num_threads().max(1))
            .max(MIN_TASK_BLOCKS);
        // A bound one task reaches holds for every task: it has `keep` allowed candidates at
        // or below it, so an entity beyond it cannot be among the `keep` best overall (ties
        // stay in). Without it a task whose share holds few allowed entities (ids come grouped
        // by kind, and `recommend` allows only products) never fills and tests its whole share.
        // The kept set is the same, so answers do not depend on the tasks' timing.
        let shared: Vec<AtomicU16> = batch.iter().map(|_| AtomicU16::new(u16::MAX)).collect();
        let per_task: Vec<Vec<Option<Candidates>>> = self
            .codes
            .par_chunks(task_blocks * block_vectors)
            .enumerate()
            .map(|(t, chunk)| {
                let mut bests: Vec<Option<Best>> =
                    batch.iter().map(|j| Some(Best::new(j.keep, max))).collect();
                kernel.scan_many(chunk, &luts, |q, b, sums, mut within| {
                    let job = &batch[q];
                    let Some(best) = &mut bests[q] else { return 0 };
                    let others = shared[q].load(Ordering::Relaxed);
                    let first = (t * task_blocks + b) * LANES;
                    while within != 0 {
                        let lane = within.trailing_zeros() as usize;
                        within &= within - 1;
                        let (d, id) = (sums[lane], first + lane);
                        if id >= self.rows || d > best.bound.min(others) {
                            continue;
                        }
                        let id = id as u32;
                        if job.exclude.binary_search(&id).is_ok() {
                            continue;
                        }
                        // A filter that panics fails its own search, not the others in the scan.
                        let allow = AssertUnwindSafe(|| (job.allow)(id));
                        match std::panic::catch_unwind(allow) {
                            Ok(true) => best.push(d, id),
                            Ok(false) => {}
                            Err(_) => {
                                bests[q] = None;
                                return 0;
                            }
                        }
                    }
                    if best.bound < others {
                        shared[q].fetch_min(best.bound, Ordering::Relaxed);
                    }
                    best.bound.min(others)
                });
                bests.into_iter().map(|b| b.map(Best::into_vec)).collect()
            })
            .collect();
        batch
            .iter()
            .enumerate()
            .map(|(q, job)| {
                let mut found = Vec::new();
                for task in &per_task {
                    found.extend(task[q].as_ref()?.iter().copied());
                }
                if found.len() > job.keep {
                    found.select_nth_unstable(job.keep);
                    found.truncate(job.keep);
                }
                Some(found)
            })
            .collect()
    }
}

/// (approximate distance, id) pairs.
type Candidates = Vec<(u16, u32)>;

/// Buckets of the distance histogram [`Best`] keeps (4 KB of counts per search and task).
const BUCKETS: usize = 1024;

/// The `keep` smallest (distance, id) pairs seen, with a bound that tightens on every push: a
/// histogram of the kept distances (in buckets of `2^shift`) says how far the bound can fall
/// while at least `keep` candidates stay within it, so a push costs O(1) amortised and the
/// kernel rejects entities as early as the candidates seen allow. Pairs that fall out of bound
/// stay in the buffer until it is twice `keep` long, then are dropped in one pass.
struct Best {
    keep: usize,
    shift: u32,
    /// Pushed distances per bucket.
    hist: Vec<u32>,
    /// The highest bucket still within bound, and how many pushed pairs lie at or below it.
    top: usize,
    within: usize,
    /// Largest distance in bucket `top`: what the kernel compares with.
    bound: u16,
    items: Vec<(u16, u32)>,
}

impl Best {
    /// For distances up to `max`.
    fn new(keep: usize, max: u16) -> Best {
        let mut shift = 0;
        while (max as usize >> shift) >= BUCKETS {
            shift += 1;
        }
        let buckets = (max as usize >> shift) + 1;
        Best {
            keep: keep.max(1),
            shift,
            hist: vec![0; buckets],
            top: buckets - 1,
            within: 0,
            bound: u16::MAX,
            items: Vec::with_capacity(2 * keep + 1),
        }
    }

    /// Adds a pair whose distance is within `bound`.
    fn push(&mut self, d: u16, id: u32) {
        let bucket = (d as usize >> self.shift).min(self.top);
        self.items.push((d, id));
        self.hist[bucket] += 1;
        self.within += 1;
        if self.within - (self.hist[self.top] as usize) < self.keep {
            return;
        }
        // The top bucket can go: the ones below still hold `keep` pairs.
        while self.top > 0 && self.within - (self.hist[self.top] as usize) >= self.keep {
            self.within -= self.hist[self.top] as usize;
            self.top -= 1;
        }
        let edge = ((self.top + 1) << self.shift) - 1;
        self.bound = edge.min(u16::MAX as usize) as u16;
        if self.items.len() >= 2 * self.keep {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let bound = self.bound;
        self.items.retain(|&(d, _)| d <= bound);
    }

    /// The pairs within bound: at least `keep` of them when that many were pushed.
    fn into_vec(mut self) -> Vec<(u16, u32)> {
        self.compact();
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn best_keeps_the_smallest_and_its_bound_never_cuts_them() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        for (keep, max, n) in [
            (1, 100, 50),
            (10, 6_350, 5_000),
            (400, 6_350, 50_000),
            (7, 5, 300),
        ] {
            let pushed: Vec<u16> = (0..n).map(|_| rng.gen_range(0..=max)).collect();
            let mut best = Best::new(keep, max);
            let mut offered = Vec::new();
            for (id, &d) in pushed.iter().enumerate() {
                // As the scan does: only distances within the current bound are offered.
                if d <= best.bound {
                    best.push(d, id as u32);
                    offered.push(d);
                }
            }
            let mut all = pushed.clone();
            all.sort_unstable();
            let kth = all[keep - 1];
            assert!(
                best.bound >= kth,
                "keep {keep}: bound {} < {kth}",
                best.bound
            );
            let got = best.into_vec();
            assert!(got.len() >= keep);
            let mut distances: Vec<u16> = got.iter().map(|x| x.0).collect();
            distances.sort_unstable();
            assert_eq!(distances[..keep], all[..keep], "keep {keep}");
            assert!(offered.len() < n || keep * 2 > n);
        }
    }
}
