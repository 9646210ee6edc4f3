//! [`Gate`]: callbacks into the host pass through it, and closing it guarantees that none
//! is running or will start once [`Gate::close`] returns.
//!
//! That guarantee is what lets a host cancel a request and forget its state right away:
//! with WebKit, `webView(_:stop:)` must be the last word on a task. Each callback runs
//! while holding the gate's lock; `close` sets the closed flag and then takes the lock,
//! so it waits for a callback already running (on a bus worker thread) to return.
//!
//! A callback may itself close gates (a host cancelling from inside `on_data`). Waiting
//! there could deadlock — on its own gate, or on another one whose callback is waiting for
//! ours — so when called from inside any callback, `close` only sets the flag: the
//! callbacks of other gates that are running at that moment on other threads may finish.
//! Delivery through a gate whose callback is already on this thread's stack (a host
//! feeding a frame back from inside the frame callback, which may synchronously produce
//! an error frame) runs directly instead of locking again.

use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static NEXT_GATE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Gates whose callback is running on this thread, innermost last.
    static ACTIVE: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Gate {
    id: u64,
    lock: Mutex<()>,
    closed: AtomicBool,
}

/// Pops this thread's active-gate entry even when the callback unwinds.
struct Active;

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.borrow_mut().pop());
    }
}

impl Gate {
    pub(crate) fn new() -> Self {
        Gate {
            id: NEXT_GATE.fetch_add(1, Ordering::Relaxed),
            lock: Mutex::new(()),
            closed: AtomicBool::new(false),
        }
    }

    /// Runs `callback` unless the gate is closed; returns whether it ran.
    pub(crate) fn run(&self, callback: impl FnOnce()) -> bool {
        if ACTIVE.with(|a| a.borrow().contains(&self.id)) {
            // Re-entered from our own callback: the lock is ours already.
            if self.is_closed() {
                return false;
            }
            callback();
            return true;
        }
        // Nothing runs under this lock but callbacks, which cannot leave shared state
        // half-updated: a poisoned lock is still good.
        let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_closed() {
            return false;
        }
        ACTIVE.with(|a| a.borrow_mut().push(self.id));
        let _active = Active;
        callback();
        true
    }

    /// Runs `callback` as the last one: the gate is closed after it (and stays closed if
    /// it was already, in which case `callback` does not run).
    pub(crate) fn run_last(&self, callback: impl FnOnce()) -> bool {
        self.run(|| {
            self.closed.store(true, Ordering::SeqCst);
            callback();
        })
    }

    /// Closes the gate; returns whether this call closed it (false: it already was).
    ///
    /// From outside any callback, no callback of this gate runs once this returns.
    pub(crate) fn close(&self) -> bool {
        let was_open = !self.closed.swap(true, Ordering::SeqCst);
        let inside_a_callback = ACTIVE.with(|a| !a.borrow().is_empty());
        if !inside_a_callback {
            // Wait for a callback that is running now to return.
            drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
        }
        was_open
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[test]
    fn close_waits_for_a_running_callback_and_stops_later_ones() {
        let gate = Arc::new(Gate::new());
        let finished = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let worker = {
            let gate = Arc::clone(&gate);
            let finished = Arc::clone(&finished);
            std::thread::spawn(move || {
                gate.run(|| {
                    started_tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                    finished.store(true, Ordering::SeqCst);
                })
            })
        };
        started_rx.recv().unwrap();
        assert!(gate.close());
        assert!(
            finished.load(Ordering::SeqCst),
            "close returned during a callback"
        );
        assert!(worker.join().unwrap());
        assert!(!gate.run(|| panic!("ran after close")));
        assert!(!gate.close(), "second close reports it was closed");
    }

    #[test]
    fn closing_from_inside_a_callback_does_not_deadlock() {
        let gate = Gate::new();
        let runs = AtomicUsize::new(0);
        gate.run(|| {
            runs.fetch_add(1, Ordering::SeqCst);
            // Re-entrant delivery runs directly.
            assert!(gate.run(|| {
                runs.fetch_add(1, Ordering::SeqCst);
            }));
            assert!(gate.close());
            assert!(!gate.run(|| unreachable!()));
        });
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(!gate.run_last(|| unreachable!()));
    }

    #[test]
    fn run_last_closes() {
        let gate = Gate::new();
        assert!(gate.run_last(|| {}));
        assert!(gate.is_closed());
        assert!(!gate.close());
    }
}
