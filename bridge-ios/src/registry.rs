//! Handles: the `u64` values the C side holds for buses, requests and sessions, in
//! [`bus_core::bridge::Registry`]s (a key in a map, never a pointer; never 0, never reused,
//! one counter for every kind). A stale, forged or doubly freed handle is refused with
//! `BUS_IOS_BAD_HANDLE`. Values are dropped after the map's lock is released: dropping
//! one may call back into C (a release callback, a bus shutting down), and C may call back
//! into this crate.

use std::sync::Arc;

use bus_core::BusHandle;
pub(crate) use bus_core::bridge::{NotOpen, RegisteredBus as Registered, Registry};

use crate::error::Error;
use crate::request::Request;
use crate::session::SessionEntry;

impl From<NotOpen> for Error {
    fn from(e: NotOpen) -> Self {
        Error::BadHandle {
            kind: e.kind,
            handle: e.handle,
        }
    }
}

pub(crate) static BUSES: Registry<Registered> = Registry::new("bus");
pub(crate) static REQUESTS: Registry<Arc<Request>> = Registry::new("request");
pub(crate) static SESSIONS: Registry<Arc<SessionEntry>> = Registry::new("session");

/// The bus behind a bus handle.
pub(crate) fn bus(handle: u64) -> Result<BusHandle, Error> {
    Ok(BUSES.with(handle, Registered::handle)?)
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
    use bus_core::Bus;

    #[test]
    fn a_bad_handle_is_refused_naming_its_kind() {
        let r: Registry<u32> = Registry::new("thing");
        let a = r.insert(1);
        assert_eq!(r.remove(a).map_err(Error::from).unwrap(), 1);
        assert!(matches!(
            r.remove(a).map_err(Error::from),
            Err(Error::BadHandle { kind: "thing", handle }) if handle == a
        ));
        // Another registry never knows this one's handles.
        let b = r.insert(2);
        assert!(matches!(bus(b), Err(Error::BadHandle { kind: "bus", .. })));
        assert!(bus(0).is_err());
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
