//! Handles: the `long` values Java holds for buses, hosts, response bodies and frame
//! sessions, kept in [`bus_core::bridge::Registry`]s.
//!
//! A handle is a key in a map, never a pointer: a stale, forged or doubly closed handle
//! is simply not found, and the JNI layer answers it with an `IllegalStateException`.
//! Handles come from one counter for every kind, start at 1 (0 is never issued, so Java
//! can use it for "none") and are never reused, so a body handle given where a session
//! handle is expected is refused too. A negative `long` is never a handle.
//!
//! Values are removed from a map before they are dropped, and dropped after the map's
//! lock is released: dropping one may take a while (a bus shutting down, a session
//! cancelling its streams) or call back into Java (a session's listener).

use std::sync::{Arc, Mutex};

use bus_core::BusHandle;
pub(crate) use bus_core::bridge::RegisteredBus as Registered;

use crate::host::{AndroidHost, FrameSession, InterceptBody};

/// A handle that is not open in the registry it was looked up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} handle {handle} is not open (closed already, never issued, or of another kind)")]
pub(crate) struct NotOpen {
    pub(crate) kind: &'static str,
    pub(crate) handle: i64,
}

/// One kind of handle and what each refers to, with Java's signed `long`s as handles.
pub(crate) struct Registry<T> {
    kind: &'static str,
    handles: bus_core::bridge::Registry<T>,
}

impl<T> Registry<T> {
    const fn new(kind: &'static str) -> Self {
        Registry {
            kind,
            handles: bus_core::bridge::Registry::new(kind),
        }
    }

    /// The registry's handle for Java's `handle` (a negative one is never open).
    fn key(&self, handle: i64) -> Result<u64, NotOpen> {
        u64::try_from(handle).map_err(|_| self.not_open(handle))
    }

    fn not_open(&self, handle: i64) -> NotOpen {
        NotOpen {
            kind: self.kind,
            handle,
        }
    }

    /// Stores `value` under a new handle (positive, never 0, never reused).
    pub(crate) fn insert(&self, value: T) -> i64 {
        // One counter from 1 for every handle of the process: 2^63 of them are never issued.
        i64::try_from(self.handles.insert(value)).expect("fewer than 2^63 handles")
    }

    /// Removes the value of `handle`; the caller drops it (outside the lock).
    pub(crate) fn remove(&self, handle: i64) -> Result<T, NotOpen> {
        self.handles
            .remove(self.key(handle)?)
            .map_err(|_| self.not_open(handle))
    }

    /// What `f` makes of the value of `handle`, under the registry's lock.
    pub(crate) fn with<R>(&self, handle: i64, f: impl FnOnce(&T) -> R) -> Result<R, NotOpen> {
        self.handles
            .with(self.key(handle)?, f)
            .map_err(|_| self.not_open(handle))
    }

    /// Handles open now.
    #[cfg(any(test, feature = "leak-probe"))]
    pub(crate) fn len(&self) -> usize {
        self.handles.len()
    }
}

impl<T: Clone> Registry<T> {
    /// A clone of the value of `handle` (an `Arc` or a cheap handle), so the lock is not
    /// held while it is used (a body read blocks).
    pub(crate) fn get(&self, handle: i64) -> Result<T, NotOpen> {
        self.with(handle, T::clone)
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
    BUSES.with(handle, Registered::handle)
}

/// Handles open now, per kind: buses, hosts, bodies, sessions (for leak checks in tests).
#[cfg(feature = "leak-probe")]
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
