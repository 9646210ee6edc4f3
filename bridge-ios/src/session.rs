//! The safe frames API behind `bus_ios_session_*`: a thin layer over
//! [`bus_core::port::Session`] for the bridge-js shim's message channel.
//!
//! The host opens one session per document with the caller it verified from
//! `WKFrameInfo` (main frame, `securityOrigin`), feeds it the page's encoded frames, and
//! gets the bus's encoded frames through a [`FrameOut`], behind a gate: once
//! [`close`] returns, no frame is delivered any more.

use std::sync::Arc;

use bus_core::Caller;
use bus_core::port::{self, Session, SessionConfig};
use bus_core::protocol::MAX_FRAME;
use bytes::Bytes;

use crate::error::{Error, check_size};
use crate::gate::Gate;
use crate::registry::{self, SESSIONS};

/// Where a session's frames for the page go: the host's callback.
///
/// Called from bus worker threads, and from the thread that calls [`receive`] (a frame
/// refused at once is answered with an `Error` frame on that thread). Dropping it is the
/// host's cue that its context is no longer used.
pub(crate) trait FrameOut: Send + Sync + 'static {
    /// One encoded frame for the page, borrowed for the call.
    fn frame(&self, bytes: &[u8]);
    /// The session could not be opened after all: the host keeps its context, so
    /// dropping this must not release it.
    fn disarm(&self);
}

/// A session's registry entry.
#[derive(Debug)]
pub(crate) struct SessionEntry {
    session: Session,
    gate: Arc<Gate>,
}

/// A session ready to open (the bus was found); opening cannot fail, so the host's
/// callback is taken only once the session is sure to exist.
#[derive(Debug)]
pub(crate) struct Prepared {
    bus: bus_core::BusHandle,
    config: SessionConfig,
}

/// Prepares a session on the bus behind `bus` for a page the host identified as `caller`.
///
/// # Errors
/// [`Error::BadHandle`] for an unknown bus; [`Error::Closed`] when it is shut down.
pub(crate) fn prepare(bus: u64, caller: Caller) -> Result<Prepared, Error> {
    let bus = registry::bus(bus)?;
    if bus.is_closed() {
        return Err(Error::Closed("the bus is shut down"));
    }
    Ok(Prepared {
        bus,
        // A response complete at once goes as one frame (the shim decodes `Response`).
        config: SessionConfig::new(caller).whole_responses(true),
    })
}

impl Prepared {
    /// Opens the session.
    ///
    /// # Errors
    /// [`Error::Closed`] when the bus shut down since [`prepare`]; `out` is disarmed
    /// (see [`FrameOut::disarm`]) and dropped.
    pub(crate) fn open(self, out: Box<dyn FrameOut>) -> Result<u64, Error> {
        let out: Arc<dyn FrameOut> = Arc::from(out);
        let gate = Arc::new(Gate::new());
        let sink_gate = Arc::clone(&gate);
        let sink_out = Arc::clone(&out);
        let sink = port::encoded(move |bytes: Bytes| {
            sink_gate.run(|| sink_out.frame(&bytes));
        });
        match Session::new(&self.bus, self.config, sink) {
            Ok(session) => Ok(SESSIONS.insert(Arc::new(SessionEntry { session, gate }))),
            Err(_) => {
                out.disarm();
                Err(Error::Closed("the bus is shut down"))
            }
        }
    }
}

/// Feeds one encoded frame from the page (copied; at most `MAX_FRAME` bytes).
///
/// # Errors
/// [`Error::BadHandle`]; [`Error::TooLarge`] over `MAX_FRAME` (nothing read);
/// [`Error::Rejected`] when the session refused the frame (the page got an `Error`
/// frame; the session goes on).
pub(crate) fn receive(handle: u64, frame: &[u8]) -> Result<(), Error> {
    check_size("a frame", frame.len(), MAX_FRAME)?;
    let entry = SESSIONS.get(handle)?;
    entry.session.receive_slice(frame)?;
    Ok(())
}

/// Closes the session and forgets its handle: every open stream is cancelled, and no
/// frame is delivered once this returns (called from outside a callback).
///
/// # Errors
/// [`Error::BadHandle`] (e.g. when it was already closed).
pub(crate) fn close(handle: u64) -> Result<(), Error> {
    let entry = SESSIONS.remove(handle)?;
    entry.gate.close();
    entry.session.close();
    drop(entry);
    Ok(())
}

/// Bytes the length check of [`receive`] allows; also the C constant.
pub(crate) const MAX_FRAME_BYTES: usize = MAX_FRAME;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::mpsc;
    use std::time::Duration;

    use bus_core::protocol::{self, ErrorCode, Frame};
    use bus_core::{Body, Bus, FrameKind, Transport};

    struct Out(Mutex<mpsc::Sender<Option<Frame>>>);

    impl FrameOut for Out {
        fn frame(&self, bytes: &[u8]) {
            let frame = protocol::decode(Bytes::copy_from_slice(bytes)).unwrap();
            let _ = self.0.lock().unwrap().send(Some(frame));
        }
        fn disarm(&self) {}
    }

    impl Drop for Out {
        fn drop(&mut self) {
            let _ = self.0.lock().unwrap().send(None);
        }
    }

    fn bus() -> Bus {
        let hello = tower::service_fn(|req: http::Request<Body>| async move {
            let origin = req
                .extensions()
                .get::<Caller>()
                .and_then(|c| c.origin().map(str::to_owned))
                .unwrap_or_default();
            Ok::<_, std::convert::Infallible>(http::Response::new(Body::from(origin)))
        });
        Bus::builder()
            .app_origin("app://localhost")
            .mount("/hello", hello)
            .build()
    }

    #[test]
    fn frames_in_frames_out_then_close_releases() {
        let bus = bus();
        let id = crate::register_handle(bus.handle());
        let page = Caller::new(Transport::Frames)
            .with_origin("app://localhost")
            .with_frame(FrameKind::Main);
        let (tx, rx) = mpsc::channel();
        let session = prepare(id.get(), page)
            .unwrap()
            .open(Box::new(Out(Mutex::new(tx))))
            .unwrap();
        let head = protocol::encode(&Frame::RequestHead {
            stream: 1,
            method: "GET".into(),
            uri: "/hello".into(),
            headers: vec![],
            end_stream: true,
            window: 65536,
        });
        receive(session, &head).unwrap();
        let next = || rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // Complete at once: one whole `Response`.
        assert!(matches!(
            next(),
            Some(Frame::Response { status: 200, stream: 1, ref data, .. }) if data == "app://localhost"
        ));

        // Garbage is refused, reported to the page, and the session goes on.
        let err = receive(session, b"\x01\xff").unwrap_err();
        assert!(matches!(err, Error::Rejected(_)));
        assert!(matches!(
            next(),
            Some(Frame::Error {
                stream: 0,
                code: ErrorCode::Malformed,
                ..
            })
        ));
        let huge = vec![0u8; MAX_FRAME + 1];
        assert!(matches!(
            receive(session, &huge),
            Err(Error::TooLarge { .. })
        ));

        close(session).unwrap();
        assert!(next().is_none(), "released after close");
        assert!(matches!(close(session), Err(Error::BadHandle { .. })));
        assert!(matches!(
            receive(session, &head),
            Err(Error::BadHandle { .. })
        ));
        crate::unregister(id).unwrap();
    }

    #[test]
    fn sessions_need_a_live_bus() {
        assert!(matches!(
            prepare(0, Caller::new(Transport::Frames)),
            Err(Error::BadHandle { .. })
        ));
        let bus = bus();
        let id = crate::register_handle(bus.handle());
        bus.shutdown();
        assert!(matches!(
            prepare(id.get(), Caller::new(Transport::Frames)),
            Err(Error::Closed(_))
        ));
        crate::unregister(id).unwrap();
    }
}
