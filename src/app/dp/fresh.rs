//! Keeping the DP snapshot current without making queries wait for it.
//!
//! Reading the product graph into integer columns takes seconds at a million interactions, and
//! any write to the store makes the snapshot stale. A query must not wait that long, so the
//! snapshot is rebuilt on a thread of its own — started by the server's store follower once
//! writes settle, or by the first query that finds it stale — and a query waits for a running
//! rebuild at most `[privacy] dp_snapshot_wait_ms`; past that it is answered from the previous
//! snapshot and says so (`current: false`, with the time that snapshot was read). Only the very
//! first snapshot of a process is always waited for: there is nothing older to answer from, so
//! the server starts reading it when it starts.
//! Answering from an older state costs no privacy: the noise and the spend are the same.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::snapshot::{self, Snapshot};
use crate::catalog::{Catalog, CatalogError};

/// The snapshot, and the rebuild in progress if any.
#[derive(Default)]
pub(super) struct Fresh {
    state: Mutex<State>,
    rebuilt: Condvar,
}

#[derive(Default)]
struct State {
    /// The newest snapshot and the store generation it is current for.
    current: Option<(u64, Arc<Snapshot>)>,
    building: bool,
    /// The last rebuild's failure and the generation it read.
    failed: Option<(u64, String)>,
    /// Generations reached by a write of the DP ledger alone (one step each): a snapshot
    /// stays current across them, or a rebuild taking seconds would never catch up with the
    /// spends of the queries answered meanwhile.
    ledger_steps: std::collections::BTreeSet<u64>,
    /// Whether a query asked for the snapshot since the last background refresh: the store
    /// follower re-reads only for a DP path in use (a re-read at a million interactions is
    /// half a minute of one core).
    used: bool,
}

impl State {
    /// Whether a snapshot read at `g` shows the product graph as of generation `wanted`: only
    /// ledger writes happened in between.
    fn covers(&self, mut g: u64, wanted: u64) -> bool {
        while g < wanted && self.ledger_steps.contains(&(g + 1)) {
            g += 1;
        }
        g >= wanted
    }
}

impl Fresh {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A snapshot at least as new as the store is now, waiting for a rebuild at most `wait`
    /// when an older snapshot exists; `false` with it when the older one is returned. Blocking.
    pub fn get(
        self: &Arc<Self>,
        catalog: &Arc<Catalog>,
        wait: Duration,
    ) -> Result<(Arc<Snapshot>, bool), CatalogError> {
        let wanted = catalog.generation();
        let deadline = Instant::now() + wait;
        let mut st = self.lock();
        st.used = true;
        loop {
            if let Some((g, s)) = &st.current {
                if st.covers(*g, wanted) {
                    return Ok((Arc::clone(s), true));
                }
            }
            if let Some((g, why)) = &st.failed {
                if *g >= wanted {
                    return Err(CatalogError::Evaluation(format!(
                        "reading the product graph for DP failed: {why}"
                    )));
                }
            }
            if !st.building {
                self.start(&mut st, catalog);
            }
            let now = Instant::now();
            let timeout = match &st.current {
                Some((_, s)) if now >= deadline => return Ok((Arc::clone(s), false)),
                Some(_) => deadline - now,
                // Nothing older to answer from: wait for the first snapshot.
                None => Duration::from_secs(60),
            };
            st = self
                .rebuilt
                .wait_timeout(st, timeout)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Starts a rebuild when a snapshot exists, the store has moved past it and a query used
    /// it since the last refresh (the store follower calls this once writes settle, so the
    /// next query finds it current). Returns whether one was started.
    pub fn refresh(self: &Arc<Self>, catalog: &Arc<Catalog>) -> bool {
        let mut st = self.lock();
        let now = catalog.generation();
        let stale = matches!(&st.current, Some((g, _)) if !st.covers(*g, now));
        // A reading that failed is not retried until the store changes again.
        let failed = matches!(&st.failed, Some((g, _)) if *g >= now);
        if stale && st.used && !st.building && !failed {
            st.used = false;
            self.start(&mut st, catalog);
            return true;
        }
        false
    }

    /// Starts the first reading when there is none yet (the server does at start, so that
    /// DP queries do not wait for it later). Returns whether one was started.
    pub fn prime(self: &Arc<Self>, catalog: &Arc<Catalog>) -> bool {
        let mut st = self.lock();
        if st.current.is_none() && !st.building && st.failed.is_none() {
            self.start(&mut st, catalog);
            return true;
        }
        false
    }

    /// After a write of the ledger alone (the generation moved by exactly one), a snapshot
    /// current before it is still current.
    pub fn advance(&self, before: u64, after: u64) {
        if after != before + 1 {
            return;
        }
        let mut st = self.lock();
        st.ledger_steps.insert(after);
        if let Some((g, _)) = st.current.as_mut() {
            if *g == before {
                *g = after;
            }
        }
    }

    fn start(self: &Arc<Self>, st: &mut State, catalog: &Arc<Catalog>) {
        st.building = true;
        let me = Arc::clone(self);
        let reader = Arc::clone(catalog);
        let spawned = std::thread::Builder::new()
            .name("dp-snapshot".into())
            .spawn(move || {
                let generation = reader.generation();
                // A panic while reading must not leave `building` set (DP would wait for ever).
                let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    snapshot::build(&reader)
                }))
                .unwrap_or_else(|_| {
                    Err(CatalogError::Evaluation(
                        "the reader panicked (see the server log)".into(),
                    ))
                });
                let mut st = me.lock();
                st.building = false;
                match built {
                    Ok(s) => {
                        tracing::info!(
                            interactions = s.interactions.len(),
                            reviews = s.reviews.len(),
                            ms = s.built_ms,
                            "DP snapshot of the product graph"
                        );
                        if st.current.as_ref().is_none_or(|(g, _)| *g < s.generation) {
                            let g = s.generation;
                            st.ledger_steps = st.ledger_steps.split_off(&(g + 1));
                            st.current = Some((g, Arc::new(s)));
                        }
                        st.failed = None;
                    }
                    Err(e) => {
                        tracing::warn!("DP snapshot not rebuilt: {e}");
                        st.failed = Some((generation, e.to_string()));
                    }
                }
                me.rebuilt.notify_all();
            });
        if let Err(e) = spawned {
            st.building = false;
            st.failed = Some((catalog.generation(), format!("no thread to read it: {e}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::GraphLayout;

    fn catalog() -> Arc<Catalog> {
        Arc::new(Catalog::in_memory(GraphLayout::new("http://example.org/st/").unwrap()).unwrap())
    }

    fn write(c: &Catalog, n: u32) {
        c.add_to_graph(
            &crate::catalog::GraphTarget::Named(c.layout().products.as_str().to_owned()),
            format!("<http://example.org/p{n}> <http://example.org/v> {n} .").as_bytes(),
            crate::catalog::GraphFormat::Turtle,
            None,
            &crate::catalog::Visibility::ADMIN,
        )
        .unwrap();
    }

    #[test]
    fn primed_at_start_and_refreshed_only_while_used() {
        let c = catalog();
        let fresh = Arc::new(Fresh::default());
        assert!(
            !fresh.refresh(&c),
            "nothing to refresh before a first reading"
        );
        assert!(fresh.prime(&c));
        let (s1, current) = fresh.get(&c, Duration::from_secs(60)).unwrap();
        assert!(current);
        assert!(!fresh.prime(&c), "primed once");
        write(&c, 1);
        assert!(fresh.refresh(&c), "used since the reading");
        let (_, current) = fresh.get(&c, Duration::from_secs(60)).unwrap();
        assert!(current);
        write(&c, 2);
        // A query after the refresh marks it used again; without one, writes cost nothing.
        assert!(fresh.refresh(&c));
        let _ = fresh.get(&c, Duration::from_secs(60)).unwrap();
        assert!(!fresh.refresh(&c), "current");
        let fresh2 = Arc::new(Fresh::default());
        assert!(fresh2.prime(&c));
        let _ = fresh2.get(&c, Duration::from_secs(60)).unwrap();
        fresh2.lock().used = false;
        write(&c, 3);
        assert!(!fresh2.refresh(&c), "not used since: no re-read");
        drop(s1);
    }

    #[test]
    fn first_snapshot_is_waited_for_later_ones_at_most_the_wait() {
        let c = catalog();
        let fresh = Arc::new(Fresh::default());
        // The first: waited for, whatever the wait.
        let (s1, current) = fresh.get(&c, Duration::ZERO).unwrap();
        assert!(current);
        assert_eq!(s1.generation, c.generation());
        // Current: the same snapshot, no rebuild.
        let (again, current) = fresh.get(&c, Duration::ZERO).unwrap();
        assert!(current && Arc::ptr_eq(&s1, &again));
        // After a write, a zero wait answers from the old snapshot (saying so) unless the
        // rebuild already finished; a long wait gets the new one.
        write(&c, 1);
        let (s2, current) = fresh.get(&c, Duration::ZERO).unwrap();
        assert!(!current && Arc::ptr_eq(&s1, &s2));
        let (s3, current) = fresh.get(&c, Duration::from_secs(60)).unwrap();
        assert!(current && s3.generation >= c.generation());
        assert!(s3.generation > s1.generation);
        // The follower's refresh rebuilds in the background — for a DP path in use only.
        write(&c, 2);
        assert!(fresh.refresh(&c));
        let (s4, current) = fresh.get(&c, Duration::from_secs(60)).unwrap();
        assert!(current && s4.generation > s3.generation);
        assert!(!fresh.refresh(&c), "nothing to do when current");
        // Ledger writes alone keep a snapshot current, even one read before them.
        let before = c.generation();
        write(&c, 3);
        fresh.advance(before, c.generation());
        let (s5, current) = fresh.get(&c, Duration::ZERO).unwrap();
        assert!(current && Arc::ptr_eq(&s4, &s5));
        // A product write then ledger writes: the rebuild read after the product write is
        // current despite the ledger writes that happened while it ran.
        write(&c, 4);
        assert!(fresh.refresh(&c));
        for n in 5..8 {
            let before = c.generation();
            write(&c, n);
            fresh.advance(before, c.generation());
        }
        let (s6, current) = fresh.get(&c, Duration::from_secs(60)).unwrap();
        assert!(
            current && s6.generation > s4.generation,
            "{}",
            s6.generation
        );
    }
}
