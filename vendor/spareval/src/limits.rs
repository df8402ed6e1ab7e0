//! Stocktake patch (see `PATCH.md`): bounds on the strings one evaluation may build and keep.
//!
//! The SPARQL functions that grow strings (`CONCAT`, `REPLACE`, `ENCODE_FOR_URI`, `UCASE`,
//! `LCASE`, `GROUP_CONCAT`) can double a value per nesting level, so one short query could ask
//! for terabytes and abort the process; and every computed term is kept until the evaluation
//! ends, so many modest strings add up too. The caller sets, for the evaluations it runs on the
//! current thread, the largest string one function may build (checked before it is built) and
//! the bytes of computed terms the evaluation may keep (charged when a term is kept, whatever
//! function built it). Past either bound the function is an error and the thread is marked; the
//! evaluation then stops at its next check as if it had been cancelled, and the caller asks
//! [`exceeded`] why. Evaluation runs on the thread that pulls the results, so thread-local state
//! is per evaluation as long as one thread runs one evaluation at a time.

use std::cell::Cell;

#[derive(Clone, Copy)]
struct State {
    max_string: usize,
    budget: usize,
    used: usize,
    exceeded: bool,
}

const UNLIMITED: State = State {
    max_string: usize::MAX,
    budget: usize::MAX,
    used: 0,
    exceeded: false,
};

thread_local! {
    static STATE: Cell<State> = const { Cell::new(UNLIMITED) };
}

/// Bounds the evaluations run on this thread until the guard is dropped, then restores the
/// bounds that were in force before (guards nest). Not `Send`: the bounds belong to the thread.
#[must_use = "the bounds hold only while the guard lives"]
pub struct StringLimits {
    previous: State,
    _thread: std::marker::PhantomData<*const ()>,
}

impl StringLimits {
    /// At most `max_string` bytes per string a function builds, `budget` bytes in all for the
    /// strings the evaluation keeps (computed terms held until it ends).
    pub fn new(max_string: usize, budget: usize) -> Self {
        let previous = STATE.with(|s| {
            s.replace(State {
                max_string,
                budget,
                used: 0,
                exceeded: false,
            })
        });
        Self {
            previous,
            _thread: std::marker::PhantomData,
        }
    }
}

impl Drop for StringLimits {
    fn drop(&mut self) {
        STATE.with(|s| s.set(self.previous));
    }
}

/// The per-string bound in force on this thread (without marking anything).
pub fn max_string() -> usize {
    STATE.with(|s| s.get().max_string)
}

/// Whether an evaluation on this thread went past its bounds since they were set.
pub fn exceeded() -> bool {
    STATE.with(|s| s.get().exceeded)
}

/// Bytes built by string functions on this thread since the bounds were set.
pub fn used() -> usize {
    STATE.with(|s| s.get().used)
}

/// Accounts for a string of `len` bytes the evaluation keeps; `None` (and the thread marked)
/// when it would go past a bound.
pub(crate) fn take(len: usize) -> Option<()> {
    STATE.with(|s| {
        let mut state = s.get();
        let used = state.used.saturating_add(len);
        if len > state.max_string || used > state.budget {
            state.exceeded = true;
            s.set(state);
            return None;
        }
        state.used = used;
        s.set(state);
        Some(())
    })
}

/// Whether a string of `len` bytes fits the per-string bound; `None` (and the thread marked)
/// when it does not. Nothing is accounted.
pub(crate) fn fits(len: usize) -> Option<()> {
    STATE.with(|s| {
        let mut state = s.get();
        if len > state.max_string {
            state.exceeded = true;
            s.set(state);
            return None;
        }
        Some(())
    })
}
