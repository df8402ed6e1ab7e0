//! Column profiling on every core, with the same result on any number of them.
//!
//! A scanner's reading (decompressing, decoding, CSV parsing, hashing the file) is sequential, but
//! the profilers of different columns are independent. So the reading thread packs rows into
//! column-major batches and hands each batch to a few worker threads, each of which owns a fixed
//! set of columns and feeds them every batch in order. A column is therefore profiled by exactly
//! one thread in row order, and its profile — reservoir samples, top-value counters, sketches —
//! is exactly what a single thread would compute, whatever the core count (a rescan of the same
//! data must not drift because it ran on a bigger machine).
//!
//! The first batches are profiled on the reading thread and the last of them timed per column;
//! the columns are then dealt to the workers longest first (LPT), so a few expensive columns do
//! not all land on one core. Inputs that fit those batches never start a thread. Memory stays bounded: each worker queues
//! at most [`QUEUE`] batches, and a batch holds at most [`BATCH_ROWS`] rows or [`BATCH_BYTES`]
//! bytes of cells.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::Scope;
use std::time::{Duration, Instant};

use super::profile::ColumnProfiler;

/// Rows per batch.
const BATCH_ROWS: usize = 8192;
/// Bytes of cell text per batch (wide or long-celled files make smaller batches).
const BATCH_BYTES: usize = 4 << 20;
/// Batches queued per worker before the reader waits.
const QUEUE: usize = 4;
/// Batches profiled on the reading thread before the workers start; the last one's per-column
/// times deal the columns (the first one's include filling the samples and sketches).
const CALIBRATION_BATCHES: usize = 2;

/// Rows of cells, column-major: column `j`'s cells are `text[j]` cut at `ends[j]`. Cells are
/// bytes: checking that they are UTF-8 is left to the workers, off the sequential reading thread.
struct Batch {
    text: Vec<Vec<u8>>,
    ends: Vec<Vec<u32>>,
    rows: usize,
    bytes: usize,
}

impl Batch {
    fn new(columns: usize) -> Batch {
        Batch {
            text: vec![Vec::new(); columns],
            ends: vec![Vec::with_capacity(BATCH_ROWS); columns],
            rows: 0,
            bytes: 0,
        }
    }

    fn full(&self) -> bool {
        self.rows >= BATCH_ROWS || self.bytes >= BATCH_BYTES
    }

    /// Feeds column `j`'s cells to its profiler.
    fn profile(&self, j: usize, p: &mut ColumnProfiler) {
        let text = &self.text[j];
        let mut start = 0usize;
        for &end in &self.ends[j] {
            let end = end as usize;
            let cell = &text[start..end];
            match std::str::from_utf8(cell) {
                Ok(v) => p.push(Some(v)),
                // Bytes that are not UTF-8 are replaced, as a decoder would replace them.
                Err(_) => p.push(Some(&String::from_utf8_lossy(cell))),
            }
            start = end;
        }
    }
}

/// Where the reading thread puts rows.
pub struct Sink<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    threads: usize,
    columns: usize,
    batch: Batch,
    /// The profilers while this thread profiles them: before the first batch is full, and for
    /// good when one thread is all there is.
    here: Option<&'env mut [ColumnProfiler]>,
    workers: Vec<SyncSender<Arc<Batch>>>,
    /// Batches profiled on this thread so far.
    inline: usize,
}

impl<'scope, 'env> Sink<'scope, 'env> {
    /// Adds one row: its first cells, one per column (extra cells are ignored, missing ones are
    /// nulls).
    pub fn row<'c>(&mut self, cells: impl IntoIterator<Item = &'c [u8]>) {
        let mut cells = cells.into_iter();
        for j in 0..self.columns {
            let cell = cells.next().unwrap_or_default();
            let text = &mut self.batch.text[j];
            text.extend_from_slice(cell);
            self.batch.bytes += cell.len();
            // BATCH_BYTES keeps a batch's text far below u32::MAX.
            self.batch.ends[j].push(text.len() as u32);
        }
        self.batch.rows += 1;
        if self.batch.full() {
            self.flush();
        }
    }

    /// Profiles the current batch: here (timing each column, the first time), or on the workers.
    fn flush(&mut self) {
        if self.batch.rows == 0 {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Batch::new(self.columns));
        match self.here.take() {
            Some(profilers) => {
                let mut costs = Vec::with_capacity(self.columns);
                for (j, p) in profilers.iter_mut().enumerate() {
                    let t = Instant::now();
                    batch.profile(j, p);
                    costs.push(t.elapsed());
                }
                self.inline += 1;
                // The first batch costs what filling the samples costs; the second is timed.
                if self.threads > 1 && self.inline >= CALIBRATION_BATCHES {
                    self.start(profilers, &costs);
                } else {
                    self.here = Some(profilers);
                }
            }
            None => {
                let batch = Arc::new(batch);
                for w in &self.workers {
                    // A worker stops early only by panicking, which the scope re-raises.
                    let _ = w.send(batch.clone());
                }
            }
        }
    }

    /// Deals the columns to the workers, most expensive first, each to the least loaded worker,
    /// and starts them.
    fn start(&mut self, profilers: &'env mut [ColumnProfiler], costs: &[Duration]) {
        let mut order: Vec<usize> = (0..self.columns).collect();
        order.sort_by_key(|&j| std::cmp::Reverse(costs[j]));
        let mut load = vec![Duration::ZERO; self.threads];
        let mut owner = vec![0; self.columns];
        for j in order {
            let w = (0..self.threads).min_by_key(|&w| load[w]).unwrap_or(0);
            owner[j] = w;
            load[w] += costs[j];
        }
        let mut groups: Vec<Vec<(usize, &'env mut ColumnProfiler)>> =
            (0..self.threads).map(|_| Vec::new()).collect();
        for (j, p) in IntoIterator::into_iter(profilers).enumerate() {
            groups[owner[j]].push((j, p));
        }
        for mut group in groups.into_iter().filter(|g| !g.is_empty()) {
            let (tx, rx) = sync_channel::<Arc<Batch>>(QUEUE);
            self.workers.push(tx);
            self.scope.spawn(move || {
                for batch in rx {
                    for (j, p) in group.iter_mut() {
                        batch.profile(*j, p);
                    }
                }
            });
        }
    }
}

/// Runs `read` on this thread with a [`Sink`] for its rows, which reach `profilers` on up to
/// `threads` worker threads. Returns what `read` returns, once every row is profiled.
pub fn run<R>(
    profilers: &mut [ColumnProfiler],
    threads: usize,
    read: impl FnOnce(&mut Sink<'_, '_>) -> R,
) -> R {
    let columns = profilers.len();
    let threads = threads.min(columns).max(1);
    std::thread::scope(|scope| {
        let mut sink = Sink {
            scope,
            threads,
            columns,
            batch: Batch::new(columns),
            here: Some(profilers),
            workers: Vec::new(),
            inline: 0,
        };
        let r = read(&mut sink);
        sink.flush();
        // Dropping the sink closes the queues; the scope waits for the workers to finish.
        r
    })
}

/// Worker threads for a scan: the machine's cores.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::profile::ColumnProfile;

    fn profile(rows: &[Vec<String>], columns: usize, threads: usize) -> Vec<ColumnProfile> {
        let mut profilers: Vec<ColumnProfiler> = (0..columns)
            .map(|j| ColumnProfiler::new(format!("c{j}"), None))
            .collect();
        run(&mut profilers, threads, |sink| {
            for r in rows {
                sink.row(r.iter().map(String::as_bytes));
            }
        });
        profilers.into_iter().map(ColumnProfiler::finish).collect()
    }

    #[test]
    fn any_number_of_threads_gives_the_single_threaded_profiles() {
        // Several batches, columns of unequal cost, short rows (missing cells are nulls).
        let rows: Vec<Vec<String>> = (0..3 * BATCH_ROWS + 17)
            .map(|i| {
                let mut r = vec![
                    format!("U{:07}", (i * 7919) % 50_000),
                    format!("{}.{:02}", i % 997, i % 100),
                    ["北京", "上海", "广州"][i % 3].to_string(),
                    format!("2024-{:02}-{:02} 10:00:00", 1 + i % 12, 1 + i % 28),
                ];
                if i % 11 == 0 {
                    r.truncate(2);
                }
                r
            })
            .collect();
        let one = profile(&rows, 5, 1);
        assert_eq!(one[0].rows, rows.len() as u64);
        assert_eq!(one[4].nulls, rows.len() as u64, "a column no row fills");
        assert_eq!(one[2].nulls, rows.len().div_ceil(11) as u64);
        for threads in [2, 3, 8] {
            assert_eq!(profile(&rows, 5, threads), one, "{threads} threads");
        }
    }

    #[test]
    fn empty_input_and_no_columns() {
        assert_eq!(profile(&[], 2, 4)[0].rows, 0);
        assert!(profile(&[vec!["x".into()]], 0, 4).is_empty());
    }
}
