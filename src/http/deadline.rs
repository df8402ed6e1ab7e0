//! Query deadlines without a timer per request.
//!
//! A query is evaluated on the thread that read the request (see [`super::AppState::evaluate`]),
//! so nothing async can race it against a timer. Instead each evaluation registers its
//! cancellation token here with its deadline, and one watchdog thread cancels the tokens whose
//! deadline has passed; Oxigraph stops at its next check and the handler answers 503.
//!
//! Registering is a lock and a heap push. With one configured timeout, deadlines arrive in
//! order, so the watchdog is only woken when the heap was empty (or a shorter deadline comes
//! in); otherwise it sleeps until the earliest deadline. Finished queries are not removed:
//! cancelling a token nobody checks any more is harmless, and the heap holds at most one entry
//! per query started within one timeout.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Instant;

use crate::catalog::CancelToken;

struct Entry {
    at: Instant,
    token: CancelToken,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.cmp(&other.at)
    }
}

/// Cancels registered tokens when their deadline passes.
pub(super) struct Watchdog {
    pending: Mutex<BinaryHeap<Reverse<Entry>>>,
    wake: Condvar,
}

impl Watchdog {
    fn new() -> Self {
        Self {
            pending: Mutex::new(BinaryHeap::new()),
            wake: Condvar::new(),
        }
    }

    /// The process-wide watchdog; its thread starts on first use.
    pub(super) fn global() -> &'static Watchdog {
        static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
        WATCHDOG.get_or_init(|| {
            let dog: &'static Watchdog = Box::leak(Box::new(Watchdog::new()));
            let spawned = std::thread::Builder::new()
                .name("query-deadlines".into())
                .spawn(move || dog.run());
            if let Err(e) = spawned {
                // Without the thread queries still run, only without a time limit.
                tracing::error!("cannot start the query deadline thread: {e}");
            }
            dog
        })
    }

    /// Cancels `token` at `at` (at once if `at` has passed).
    pub(super) fn cancel_at(&self, token: CancelToken, at: Instant) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = pending.peek().map(|Reverse(e)| e.at);
        pending.push(Reverse(Entry { at, token }));
        if earliest.is_none_or(|e| at < e) {
            self.wake.notify_one();
        }
    }

    /// Cancels every token whose deadline is not after `now`; returns the next deadline.
    fn expire(pending: &mut BinaryHeap<Reverse<Entry>>, now: Instant) -> Option<Instant> {
        while let Some(Reverse(e)) = pending.peek() {
            if e.at > now {
                return Some(e.at);
            }
            if let Some(Reverse(e)) = pending.pop() {
                e.token.cancel();
            }
        }
        None
    }

    fn run(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            pending = match Self::expire(&mut pending, now) {
                None => self.wake.wait(pending).unwrap_or_else(|p| p.into_inner()),
                Some(next) => {
                    self.wake
                        .wait_timeout(pending, next - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn wait_for(token: &CancelToken, within: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < within {
            if token.is_cancelled() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        token.is_cancelled()
    }

    #[test]
    fn cancels_at_the_deadline_not_before() {
        let dog = Watchdog::global();
        let token = CancelToken::new();
        dog.cancel_at(token.clone(), Instant::now() + Duration::from_millis(300));
        std::thread::sleep(Duration::from_millis(100));
        assert!(!token.is_cancelled(), "cancelled before its deadline");
        assert!(wait_for(&token, Duration::from_secs(5)));
    }

    #[test]
    fn an_earlier_deadline_registered_later_wakes_the_watchdog() {
        let dog = Watchdog::global();
        let late = CancelToken::new();
        dog.cancel_at(late.clone(), Instant::now() + Duration::from_secs(3600));
        let soon = CancelToken::new();
        dog.cancel_at(soon.clone(), Instant::now() + Duration::from_millis(50));
        assert!(wait_for(&soon, Duration::from_secs(5)));
        assert!(!late.is_cancelled());
    }

    #[test]
    fn expire_cancels_only_what_is_due() {
        let mut heap = BinaryHeap::new();
        let now = Instant::now();
        let due = CancelToken::new();
        let later = CancelToken::new();
        heap.push(Reverse(Entry {
            at: now + Duration::from_secs(10),
            token: later.clone(),
        }));
        heap.push(Reverse(Entry {
            at: now,
            token: due.clone(),
        }));
        let next = Watchdog::expire(&mut heap, now);
        assert!(due.is_cancelled());
        assert!(!later.is_cancelled());
        assert_eq!(next, Some(now + Duration::from_secs(10)));
        assert_eq!(heap.len(), 1);
    }
}
