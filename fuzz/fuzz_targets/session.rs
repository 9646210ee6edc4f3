//! Any sequence of messages into a live session: it never panics and the bus keeps
//! answering a well-formed request afterwards.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use bus_core::port::{Session, SessionConfig};
use bus_core::protocol::Frame;
use bus_core::{Body, Bus, Caller, FrameKind, Transport};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fn bus() -> &'static Bus {
    static BUS: OnceLock<Bus> = OnceLock::new();
    BUS.get_or_init(|| {
        let echo = tower::service_fn(|r: http::Request<Body>| async move {
            Ok::<_, std::convert::Infallible>(http::Response::new(r.into_body()))
        });
        Bus::builder().app_origin("app://localhost").mount("/", echo).build()
    })
}

fuzz_target!(|data: &[u8]| {
    let page = Caller::new(Transport::Frames).with_origin("app://localhost").with_frame(FrameKind::Main);
    let (session, rx) = Session::with_channel(&bus().handle(), SessionConfig::new(page)).unwrap();
    // The input is a sequence of messages, each prefixed by a one-byte length.
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = (len as usize).min(tail.len());
        let _ = session.receive(Bytes::copy_from_slice(&tail[..len]));
        rest = &tail[len..];
    }
    // The session still serves a correct request. What it said about the input's frames
    // goes first: an `Error` the input earned on this stream id (a bus-to-page frame sent
    // on it, say) is not this request's.
    while rx.try_recv().is_ok() {}
    let stream = u32::MAX;
    let opened = session.handle(Frame::RequestHead {
        stream,
        method: "GET".into(),
        uri: "/ok".into(),
        headers: vec![],
        end_stream: true,
        window: 1024,
    });
    if opened.is_err() {
        return; // the input itself opened this stream id: a correct refusal
    }
    loop {
        match rx.recv_timeout(Duration::from_secs(5)).expect("an answer") {
            Frame::ResponseEnd { stream: s } if s == stream => break,
            Frame::Error { stream: s, .. } if s == stream => panic!("healthy request failed"),
            _ => {}
        }
    }
});
