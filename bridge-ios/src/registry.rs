//! Handles: the `u64` values the C side holds for buses, requests and sessions.
//!
//! A handle is a key in a map, never a pointer: a stale, forged or doubly freed handle is
//! simply not found, and is refused with `BUS_IOS_BAD_HANDLE`. Handles come from one
//! counter for every kind, start at 1 (0 is never issued) and are never reused, so a
//! request handle given where a session handle is expected is refused too.
//!
//! Values are removed from a map before they are dropped, and dropped after the map's
//! lock is released: dropping one may call back into C (a release callback, a bus
//! shutting down), and C may call back into this crate.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bus_core::{Bus, BusHandle};

use crate::error::Error;
use crate::request::Request;
use crate::session::SessionEntry;

static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);

/// One kind of handle and what each refers to.
pub(crate) struct Registry<T> {
    kind: &'static str,
    /// A B-tree rather than a hash map: handles are sequential, it is `const`-built, and
    /// its nodes hang from a pointer to their start, so leak checkers see a static's
    /// entries as reachable (a hash table is reached through a pointer into its middle,
    /// which valgrind reports as "possibly lost").
    map: Mutex<BTreeMap<u64, T>>,
}

impl<T> Registry<T> {
    const fn new(kind: &'static str) -> Self {
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

    /// Stores `value` under a new handle.
    pub(crate) fn insert(&self, value: T) -> u64 {
        let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(handle, value);
        handle
    }

    /// Removes the value of `handle`; the caller drops it (outside the lock).
    pub(crate) fn remove(&self, handle: u64) -> Result<T, Error> {
        self.lock().remove(&handle).ok_or(Error::BadHandle {
            kind: self.kind,
            handle,
        })
    }

    /// Handles live now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

impl<T: Clone> Registry<T> {
    /// A clone of the value of `handle` (an `Arc` or a cheap handle).
    pub(crate) fn get(&self, handle: u64) -> Result<T, Error> {
        self.lock().get(&handle).cloned().ok_or(Error::BadHandle {
            kind: self.kind,
            handle,
        })
    }
}

/// A bus as registered: owned by the registration, or only referred to.
pub(crate) enum Registered {
    /// Given with [`crate::register`]: dropped (shut down) on release.
    Owned(Bus),
    /// Given with [`crate::register_handle`]: the app keeps the `Bus`.
    Borrowed(BusHandle),
}

impl Registered {
    fn handle(&self) -> BusHandle {
        match self {
            Registered::Owned(bus) => bus.handle(),
            Registered::Borrowed(handle) => handle.clone(),
        }
    }
}

pub(crate) static BUSES: Registry<Registered> = Registry::new("bus");
pub(crate) static REQUESTS: Registry<Arc<Request>> = Registry::new("request");
pub(crate) static SESSIONS: Registry<Arc<SessionEntry>> = Registry::new("session");

/// The bus behind a bus handle.
pub(crate) fn bus(handle: u64) -> Result<BusHandle, Error> {
    BUSES
        .lock()
        .get(&handle)
        .map(Registered::handle)
        .ok_or(Error::BadHandle {
            kind: "bus",
            handle,
        })
}

/// Forgets a bus handle; an owned bus is shut down (after the lock is released).
pub(crate) fn release_bus(handle: u64) -> Result<(), Error> {
    let registered = BUSES.remove(handle)?;
    drop(registered);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_never_zero_nor_reused_and_are_typed() {
        let r: Registry<u32> = Registry::new("thing");
        let a = r.insert(1);
        let b = r.insert(2);
        assert!(a != 0 && b != 0 && a != b);
        assert_eq!(r.get(a).unwrap(), 1);
        assert_eq!(r.remove(a).unwrap(), 1);
        assert!(matches!(r.remove(a), Err(Error::BadHandle { handle, .. }) if handle == a));
        assert!(r.get(0).is_err());
        let c = r.insert(3);
        assert!(c > b, "handles are not reused");
        // Another registry never knows this one's handles.
        assert!(bus(b).is_err());
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn releasing_an_owned_bus_shuts_it_down() {
        let bus = Bus::builder().build();
        let handle = bus.handle();
        let id = crate::register(bus);
        assert!(!self::bus(id.get()).unwrap().is_closed());
        crate::unregister(id).unwrap();
        assert!(handle.is_closed());
        assert!(matches!(
            crate::unregister(id),
            Err(Error::BadHandle { .. })
        ));

        let bus = Bus::builder().build();
        let id = crate::register_handle(bus.handle());
        crate::unregister(id).unwrap();
        assert!(
            !bus.handle().is_closed(),
            "a borrowed bus is only forgotten"
        );
    }
}
