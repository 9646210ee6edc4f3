//! A WebSocket through the C ABI: a session opened with `bus_ios_session_open` for a
//! verified main-frame caller carries the page's WebSocket stream (a `GET` with
//! `upgrade: websocket`, a 101, then message records in the stream's bodies) to an
//! unchanged axum `WebSocketUpgrade` handler, with frames in by `bus_ios_session_receive`
//! and out by the `on_frame` callback — what the Swift host relays for the shim.

use std::ffi::c_void;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message as AxMessage, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use bridge_ios::ffi::{
    BUS_IOS_CALLER_VERIFIED, BUS_IOS_FRAME_MAIN, BUS_IOS_OK, BusIosCaller, BusIosFrameCallbacks,
    bus_ios_bus_release, bus_ios_session_close, bus_ios_session_open, bus_ios_session_receive,
};
use bus_core::protocol::{Frame, decode, encode};
use bus_core::websocket::{Decoder, Message};
use bus_core::{Bus, Mount};
use bytes::Bytes;

/// Collects the frames the session sends to the "page".
unsafe extern "C" fn on_frame(context: *mut c_void, frame: *const u8, len: usize) {
    // SAFETY: `context` is the `Mutex<Sender>` leaked below, alive for the whole test;
    // `frame` is valid for `len` bytes during this call (the ABI's promise).
    let (tx, bytes) = unsafe {
        (
            &*(context as *const Mutex<Sender<Vec<u8>>>),
            std::slice::from_raw_parts(frame, len).to_vec(),
        )
    };
    let _ = tx.lock().unwrap().send(bytes);
}

fn next(rx: &Receiver<Vec<u8>>) -> Frame {
    let bytes = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a frame in time");
    decode(Bytes::from(bytes)).expect("a valid frame")
}

fn send(session: u64, frame: &Frame) {
    let bytes = encode(frame);
    // SAFETY: `bytes` is valid for its length during the call.
    let status = unsafe { bus_ios_session_receive(session, bytes.as_ptr(), bytes.len()) };
    assert_eq!(status, BUS_IOS_OK);
}

#[test]
fn an_axum_websocket_handler_answers_through_the_c_abi() {
    let echo = Router::new().route(
        "/echo",
        get(|ws: WebSocketUpgrade| async move {
            ws.protocols(["chat"])
                .on_upgrade(|mut socket: WebSocket| async move {
                    while let Some(Ok(message)) = socket.recv().await {
                        if matches!(message, AxMessage::Close(_)) {
                            continue; // reading on sends tungstenite's reply
                        }
                        if socket.send(message).await.is_err() {
                            return;
                        }
                    }
                })
        }),
    );
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount_with(Mount::new("/ws", echo))
        .build();
    let id = bridge_ios::register(bus).get();

    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let context = Box::into_raw(Box::new(Mutex::new(tx))) as *mut c_void;
    let origin = b"app://localhost";
    let caller = BusIosCaller {
        source: BUS_IOS_CALLER_VERIFIED,
        origin: origin.as_ptr(),
        origin_len: origin.len(),
        frame: BUS_IOS_FRAME_MAIN,
    };
    let callbacks = BusIosFrameCallbacks {
        context,
        on_frame: Some(on_frame),
        on_release: None,
    };
    let mut session = 0u64;
    // SAFETY: every pointer is valid for the call; `context` outlives the session.
    let status = unsafe { bus_ios_session_open(id, &caller, &callbacks, &mut session) };
    assert_eq!(status, BUS_IOS_OK);

    let header = |n: &str, v: &str| (n.to_owned(), Bytes::copy_from_slice(v.as_bytes()));
    send(
        session,
        &Frame::RequestHead {
            stream: 1,
            method: "GET".into(),
            uri: "/ws/echo".into(),
            headers: vec![
                header("upgrade", "websocket"),
                header("connection", "upgrade"),
                header("sec-websocket-version", "13"),
                header("sec-websocket-protocol", "chat"),
            ],
            end_stream: false,
            window: 1 << 20,
        },
    );
    let Frame::ResponseHead {
        status, headers, ..
    } = next(&rx)
    else {
        panic!("a response head first")
    };
    assert_eq!(status, 101);
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "sec-websocket-protocol" && v == "chat")
    );

    let said = [
        Message::text("hello from C"),
        Message::Binary(Bytes::from(vec![1, 2, 3])),
        Message::Close {
            code: 1000,
            reason: "bye".into(),
        },
    ];
    let records: Vec<u8> = said.iter().flat_map(|m| m.encode().to_vec()).collect();
    send(
        session,
        &Frame::RequestData {
            stream: 1,
            data: Bytes::from(records),
        },
    );
    send(session, &Frame::RequestEnd { stream: 1 });

    let mut decoder = Decoder::new(1 << 20);
    let mut heard = Vec::new();
    loop {
        match next(&rx) {
            Frame::ResponseData { data, .. } => {
                decoder.push(&data);
                while let Some(m) = decoder.next_message().unwrap() {
                    heard.push(m);
                }
            }
            Frame::ResponseEnd { .. } => break,
            Frame::Credit { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        heard, said,
        "echoed, then the handler's answer to the close"
    );

    assert_eq!(bus_ios_session_close(session), BUS_IOS_OK);
    // SAFETY: the session is closed: no callback uses `context` any more.
    drop(unsafe { Box::from_raw(context as *mut Mutex<Sender<Vec<u8>>>) });
    assert_eq!(bus_ios_bus_release(id), BUS_IOS_OK);
}
