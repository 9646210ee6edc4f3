//! Plumbing for bridges (the crates that connect a WebView to the bus), beyond the port
//! and the wire protocol: running a task's first poll on the thread a request arrived on
//! ([`poll_here_then_spawn`]), and the handles a foreign side (Java, C, Swift) holds for
//! the bridge's objects ([`Registry`], [`RegisteredBus`]).

use std::collections::BTreeMap;
use std::fmt::{self, Display};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use crate::bus::{Bus, BusHandle};

/// A first poll that takes longer than this is logged (a frame at 60 Hz is 16 ms).
pub const SLOW_FIRST_POLL: Duration = Duration::from_millis(4);

/// Polls `task` once on this thread, inside `runtime`'s context; if it is not done, hands it
/// to the runtime's workers (its wakers are replaced at their next poll) and returns the
/// spawned task's handle. `None`: it finished right here.
///
/// For bridges that receive a request on a thread that would otherwise just wait for the
/// answer (a UI thread): a handler that answers without waiting costs no hop to a worker
/// and back. Its code up to its first `.await` runs on this thread; a first poll longer than
/// [`SLOW_FIRST_POLL`] is logged with a `tracing` warning naming `what`.
///
/// ```
/// use bus_core::bridge::poll_here_then_spawn;
///
/// let runtime = tokio::runtime::Runtime::new().unwrap();
/// assert!(poll_here_then_spawn(runtime.handle(), async {}, &"a ready task").is_none());
/// let pending = poll_here_then_spawn(runtime.handle(), std::future::pending::<()>(), &"a waiting task");
/// pending.expect("handed to the workers").abort();
/// ```
pub fn poll_here_then_spawn<F>(runtime: &Handle, task: F, what: &dyn Display) -> Option<AbortHandle>
where
    F: Future<Output = ()> + Send + 'static,
{
    poll_boxed_here_then_spawn(runtime, Box::pin(task), what)
}

/// [`poll_here_then_spawn`] for a task already boxed where it was made: a large future is
/// then not copied once more on its way in (the port's stream tasks are kilobytes).
pub(crate) fn poll_boxed_here_then_spawn<F>(
    runtime: &Handle,
    mut task: std::pin::Pin<Box<F>>,
    what: &dyn Display,
) -> Option<AbortHandle>
where
    F: Future<Output = ()> + Send + 'static,
{
    if run_here(runtime, what, |cx| task.as_mut().poll(cx)).is_ready() {
        return None;
    }
    Some(runtime.spawn(task).abort_handle())
}

/// Runs `f` on this thread inside `runtime`'s context, with a context whose waker does
/// nothing (what `f` leaves pending must be polled again where a real waker is); a run
/// longer than [`SLOW_FIRST_POLL`] is logged as [`poll_here_then_spawn`] says.
pub(crate) fn run_here<R>(
    runtime: &Handle,
    what: &dyn Display,
    f: impl FnOnce(&mut Context<'_>) -> R,
) -> R {
    // Timed only when the warning would be seen: the two clock reads were ~200 of the
    // ~5,000 instructions the framed port adds to a request (issue 16).
    let started = tracing::enabled!(tracing::Level::WARN).then(Instant::now);
    let result = {
        let _context = runtime.enter();
        f(&mut Context::from_waker(Waker::noop()))
    };
    if let Some(took) = started.map(|started| started.elapsed())
        && took > SLOW_FIRST_POLL
    {
        tracing::warn!(
            "{what} ran {took:?} on the calling thread before its first .await: move blocking \
             work to tokio::task::spawn_blocking, or turn the bridge's inline first poll off"
        );
    }
    result
}

/// One counter for every registry in the process: a handle of one kind is never a handle
/// of another.
static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);

/// The objects of one kind that a foreign side holds by handle: the `u64` (a Java `long`,
/// a C `uint64_t`) it passes back on every call.
///
/// A handle is a key in a map, never a pointer: a stale, forged or doubly freed handle is
/// simply not found ([`NotOpen`]). Handles come from one counter for every registry,
/// start at 1 (0 is never issued, so the foreign side can use it for "none") and are never
/// reused, so a handle of one kind given where another is expected is refused too.
///
/// Values are removed from the map before they are dropped, and [`remove`](Self::remove)
/// hands them to the caller to drop after the lock is released: dropping one may take a
/// while (a bus shutting down, a session cancelling its streams) or call back into the
/// foreign side, which may call back into the registry.
///
/// The map is a B-tree: handles are sequential, it can be built in a `static`, and its
/// nodes hang from a pointer to their start, so leak checkers see a static's entries as
/// reachable (a hash table is reached through a pointer into its middle, which valgrind
/// reports as "possibly lost").
///
/// ```
/// use bus_core::bridge::{NotOpen, Registry};
///
/// static THINGS: Registry<&str> = Registry::new("thing");
/// let a = THINGS.insert("first");
/// assert_ne!(a, 0);
/// assert_eq!(THINGS.get(a), Ok("first"));
/// assert_eq!(THINGS.remove(a), Ok("first"));
/// assert_eq!(THINGS.remove(a), Err(NotOpen { kind: "thing", handle: a }));
/// ```
pub struct Registry<T> {
    kind: &'static str,
    map: Mutex<BTreeMap<u64, T>>,
}

/// A handle that is not open in the registry it was looked up in: 0, never issued,
/// already released, or of another kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} handle {handle} is not open (0, never issued, released already, or of another kind)"
)]
pub struct NotOpen {
    /// The kind of handle expected (the registry's name).
    pub kind: &'static str,
    /// The value given.
    pub handle: u64,
}

impl<T> Registry<T> {
    /// An empty registry of handles of `kind` (named in errors).
    pub const fn new(kind: &'static str) -> Self {
        Registry {
            kind,
            map: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, T>> {
        // Every update is one insert or remove: a panic elsewhere cannot leave the map
        // half-updated, so a poisoned lock is still consistent.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn not_open(&self, handle: u64) -> NotOpen {
        NotOpen {
            kind: self.kind,
            handle,
        }
    }

    /// Stores `value` under a new handle (never 0, never reused).
    pub fn insert(&self, value: T) -> u64 {
        let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(handle, value);
        handle
    }

    /// Removes the value of `handle` and hands it over: drop it outside any lock of yours.
    ///
    /// # Errors
    /// [`NotOpen`] when `handle` is not open here.
    pub fn remove(&self, handle: u64) -> Result<T, NotOpen> {
        self.lock()
            .remove(&handle)
            .ok_or_else(|| self.not_open(handle))
    }

    /// What `f` makes of the value of `handle`, under the registry's lock (keep it short).
    ///
    /// # Errors
    /// [`NotOpen`] when `handle` is not open here.
    pub fn with<R>(&self, handle: u64, f: impl FnOnce(&T) -> R) -> Result<R, NotOpen> {
        self.lock()
            .get(&handle)
            .map(f)
            .ok_or_else(|| self.not_open(handle))
    }

    /// Handles open now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no handle is open.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl<T: Clone> Registry<T> {
    /// A clone of the value of `handle` (an `Arc` or another cheap handle), so the lock is
    /// not held while it is used.
    ///
    /// # Errors
    /// [`NotOpen`] when `handle` is not open here.
    pub fn get(&self, handle: u64) -> Result<T, NotOpen> {
        self.with(handle, T::clone)
    }
}

impl<T> fmt::Debug for Registry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("kind", &self.kind)
            .field("open", &self.len())
            .finish()
    }
}

/// A bus as a bridge registered it: owned by the registration (released: shut down), or
/// only referred to (released: forgotten; the app keeps the [`Bus`]).
#[derive(Debug)]
pub enum RegisteredBus {
    /// The registration owns the bus: releasing it shuts the bus down.
    Owned(Bus),
    /// The app owns the bus; the registration holds a handle.
    Borrowed(BusHandle),
}

impl RegisteredBus {
    /// A handle to the bus.
    pub fn handle(&self) -> BusHandle {
        match self {
            RegisteredBus::Owned(bus) => bus.handle(),
            RegisteredBus::Borrowed(handle) => handle.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_never_zero_nor_reused_and_are_typed() {
        let r: Registry<u32> = Registry::new("thing");
        let other: Registry<u32> = Registry::new("other");
        let a = r.insert(1);
        let b = r.insert(2);
        assert!(a != 0 && b != 0 && a != b);
        assert_eq!(r.get(a), Ok(1));
        assert_eq!(r.with(b, |v| v * 10), Ok(20));
        assert_eq!(r.remove(a), Ok(1));
        assert_eq!(
            r.remove(a),
            Err(NotOpen {
                kind: "thing",
                handle: a
            })
        );
        for garbage in [0, u64::MAX, a] {
            assert!(r.get(garbage).is_err());
        }
        let c = r.insert(3);
        assert!(c > b, "handles are not reused");
        assert!(other.get(b).is_err(), "another registry never knows them");
        assert_eq!(r.len(), 2);
        assert!(!r.is_empty());
    }

    #[test]
    fn releasing_an_owned_bus_shuts_it_down_a_borrowed_one_is_forgotten() {
        let buses: Registry<RegisteredBus> = Registry::new("bus");
        let bus = Bus::builder().build();
        let handle = bus.handle();
        let owned = buses.insert(RegisteredBus::Owned(bus));
        assert!(
            !buses
                .with(owned, RegisteredBus::handle)
                .unwrap()
                .is_closed()
        );
        drop(buses.remove(owned).unwrap());
        assert!(handle.is_closed());

        let bus = Bus::builder().build();
        let borrowed = buses.insert(RegisteredBus::Borrowed(bus.handle()));
        drop(buses.remove(borrowed).unwrap());
        assert!(!bus.handle().is_closed());
    }
}
