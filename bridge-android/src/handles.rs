//! Handles: the `long` values Java holds for buses, hosts, response bodies and frame
//! sessions.
//!
//! A handle is a key in a map, never a pointer: a stale, forged or doubly closed handle
//! is simply not found, and the JNI layer answers it with an `IllegalStateException`.
//! Handles come from one counter for every kind, start at 1 (0 is never issued, so Java
//! can use it for "none") and are never reused, so a body handle given where a session
//! handle is expected is refused too.
//!
//! Values are removed from a map before they are dropped, and dropped after the map's
//! lock is released: dropping one may take a while (a bus shutting down, a session
//! cancelling its streams) or call back into Java (a session's listener).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bus_core::{Bus, BusHandle};

use crate::host::{AndroidHost, FrameSession, InterceptBody};

static NEXT_HANDLE: AtomicI64 = AtomicI64::new(1);

/// A handle that is not open in the registry it was looked up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} handle {handle} is not open (closed already, never issued, or of another kind)")]
pub(crate) struct NotOpen {
    pub(crate) kind: &'static str,
    pub(crate) handle: i64,
}

/// One kind of handle and what each refers to.
pub(crate) struct Registry<T> {
    kind: &'static str,
    map: Mutex<BTreeMap<i64, T>>,
}

impl<T> Registry<T> {
    const fn new(kind: &'static str) -> Self {
        Registry {
            kind,
            map: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<i64, T>> {
        // Every update is one insert or remove: a panic elsewhere cannot leave the map
        // half-updated, so a poisoned lock is still consistent.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `value` under a new handle (positive, never 0, never reused).
    pub(crate) fn insert(&self, value: T) -> i64 {
        let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(handle, value);
        handle
    }

    /// Removes the value of `handle`; the caller drops it (outside the lock).
    pub(crate) fn remove(&self, handle: i64) -> Result<T, NotOpen> {
        self.lock().remove(&handle).ok_or(NotOpen {
            kind: self.kind,
            handle,
        })
    }

    /// Handles open now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

impl<T: Clone> Registry<T> {
    /// A clone of the value of `handle` (an `Arc` or a cheap handle), so the lock is not
    /// held while it is used (a body read blocks).
    pub(crate) fn get(&self, handle: i64) -> Result<T, NotOpen> {
        self.lock().get(&handle).cloned().ok_or(NotOpen {
            kind: self.kind,
            handle,
        })
    }
}

/// A bus as registered: owned by the registration, or only referred to.
pub(crate) enum Registered {
    /// Given with [`crate::jni::register_bus`]: dropped (shut down) on release.
    Owned(Bus),
    /// Given with [`crate::jni::register_bus_handle`]: the app keeps the `Bus`.
    Borrowed(BusHandle),
}

impl Registered {
    pub(crate) fn handle(&self) -> BusHandle {
        match self {
            Registered::Owned(bus) => bus.handle(),
            Registered::Borrowed(handle) => handle.clone(),
        }
    }
}

/// A response body being pulled. The mutex serialises reads of one body (an
/// `InputStream` read from two threads at once); a read blocks while holding it, so a
/// close from another thread takes effect when that read returns.
pub(crate) type BodySlot = Arc<Mutex<InterceptBody>>;

pub(crate) static BUSES: Registry<Registered> = Registry::new("bus");
pub(crate) static HOSTS: Registry<AndroidHost> = Registry::new("host");
pub(crate) static BODIES: Registry<BodySlot> = Registry::new("body");
pub(crate) static SESSIONS: Registry<Arc<FrameSession>> = Registry::new("session");

/// The bus behind a bus handle.
pub(crate) fn bus(handle: i64) -> Result<BusHandle, NotOpen> {
    BUSES
        .lock()
        .get(&handle)
        .map(Registered::handle)
        .ok_or(NotOpen {
            kind: "bus",
            handle,
        })
}

/// Handles open now, per kind: buses, hosts, bodies, sessions (for leak checks in tests).
pub(crate) fn open_counts() -> [usize; 4] {
    [BUSES.len(), HOSTS.len(), BODIES.len(), SESSIONS.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_never_zero_nor_reused_and_are_typed() {
        let r: Registry<u32> = Registry::new("thing");
        let a = r.insert(1);
        let b = r.insert(2);
        assert!(a > 0 && b > 0 && a != b);
        assert_eq!(r.get(a).unwrap(), 1);
        assert_eq!(r.remove(a).unwrap(), 1);
        assert_eq!(
            r.remove(a),
            Err(NotOpen {
                kind: "thing",
                handle: a
            })
        );
        for garbage in [0, -1, i64::MIN, i64::MAX] {
            assert!(r.get(garbage).is_err());
        }
        let c = r.insert(3);
        assert!(c > b, "handles are not reused");
        // Another registry never knows this one's handles.
        assert!(bus(b).is_err());
        assert!(HOSTS.get(b).is_err());
        assert_eq!(r.len(), 2);
    }
}
