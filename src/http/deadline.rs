//! Query deadlines without a timer per request.
//!
//! A query is evaluated on the thread that read the request (see [`super::AppState::evaluate`]),
//! so nothing async can race it against a timer. Instead each evaluation registers its
//! cancellation token here with its deadline, and one watchdog thread cancels the tokens whose
//! deadline has passed; Oxigraph stops at its next check and the handler answers 503.
//!
//! Registering is a lock and a map insert; the returned [`Deadline`] removes the entry when
//! the evaluation ends, so the map holds only queries still running. The watchdog sleeps until
//! the earliest deadline it knew of and is woken early only by a deadline before that: with one
//! configured timeout, new deadlines come later, so a busy server wakes it about once per
//! timeout, not once per query (a wake-up per query would cost a context switch each).

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use crate::catalog::CancelToken;

/// Running queries by (deadline, registration number).
type Pending = BTreeMap<(Instant, u64), CancelToken>;

/// What the watchdog thread and the evaluations share.
#[derive(Default)]
struct State {
    pending: Pending,
    /// Numbers registrations, so equal deadlines stay distinct keys.
    next: u64,
    /// When the watchdog will look next on its own; `None` while it waits for a wake-up.
    sleeping_until: Option<Instant>,
}

/// Cancels registered tokens when their deadline passes.
pub(super) struct Watchdog {
    state: Mutex<State>,
    wake: Condvar,
}

/// A registered deadline; dropping it (the evaluation ended) unregisters it.
pub(super) struct Deadline {
    dog: &'static Watchdog,
    key: (Instant, u64),
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.dog.lock().pending.remove(&self.key);
    }
}

impl Watchdog {
    fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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

    /// Cancels `token` at `at` (at once if `at` has passed) unless the returned guard is
    /// dropped first.
    pub(super) fn cancel_at(&'static self, token: CancelToken, at: Instant) -> Deadline {
        let mut state = self.lock();
        let key = (at, state.next);
        state.next += 1;
        state.pending.insert(key, token);
        if state.sleeping_until.is_none_or(|t| at < t) {
            // Look now; the watchdog recomputes when to look next.
            state.sleeping_until = Some(at);
            self.wake.notify_one();
        }
        Deadline { dog: self, key }
    }

    /// Cancels (and forgets) every token whose deadline is not after `now`; returns the next
    /// deadline.
    fn expire(pending: &mut Pending, now: Instant) -> Option<Instant> {
        while let Some(entry) = pending.first_entry() {
            if entry.key().0 > now {
                return Some(entry.key().0);
            }
            entry.remove().cancel();
        }
        None
    }

    fn run(&self) {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            let next = Self::expire(&mut state.pending, now);
            state.sleeping_until = next;
            state = match next {
                None => self.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(next) => {
                    self.wake
                        .wait_timeout(state, next - now)
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
        let _deadline = dog.cancel_at(token.clone(), Instant::now() + Duration::from_millis(300));
        std::thread::sleep(Duration::from_millis(100));
        assert!(!token.is_cancelled(), "cancelled before its deadline");
        assert!(wait_for(&token, Duration::from_secs(5)));
    }

    #[test]
    fn an_earlier_deadline_registered_later_wakes_the_watchdog() {
        let dog = Watchdog::global();
        let late = CancelToken::new();
        let _late = dog.cancel_at(late.clone(), Instant::now() + Duration::from_secs(3600));
        let soon = CancelToken::new();
        let _soon = dog.cancel_at(soon.clone(), Instant::now() + Duration::from_millis(50));
        assert!(wait_for(&soon, Duration::from_secs(5)));
        assert!(!late.is_cancelled());
    }

    #[test]
    fn a_finished_evaluation_is_forgotten_and_never_cancelled() {
        let dog = Watchdog::global();
        let token = CancelToken::new();
        let at = Instant::now() + Duration::from_millis(100);
        let deadline = dog.cancel_at(token.clone(), at);
        let key = deadline.key;
        assert!(dog.lock().pending.contains_key(&key));
        drop(deadline);
        assert!(
            !dog.lock().pending.contains_key(&key),
            "entry kept after the evaluation"
        );
        std::thread::sleep(Duration::from_millis(300));
        assert!(!token.is_cancelled());
    }

    #[test]
    fn expire_cancels_only_what_is_due() {
        let mut pending = Pending::new();
        let now = Instant::now();
        let due = CancelToken::new();
        let later = CancelToken::new();
        pending.insert((now + Duration::from_secs(10), 0), later.clone());
        pending.insert((now, 1), due.clone());
        let next = Watchdog::expire(&mut pending, now);
        assert!(due.is_cancelled());
        assert!(!later.is_cancelled());
        assert_eq!(next, Some(now + Duration::from_secs(10)));
        assert_eq!(pending.len(), 1);
    }
}
