//! WebSockets over frames (feature `ws`): an unchanged axum `WebSocketUpgrade` handler,
//! reached through a port session the way a page reaches it — a `GET` with
//! `upgrade: websocket`, a 101, then message records in the stream's bodies.
#![cfg(feature = "ws")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message as AxMessage, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use bus_core::port::FrameReceiver;
use bus_core::port::{Session, SessionConfig};
use bus_core::protocol::{Frame, INITIAL_UPLOAD_WINDOW};
use bus_core::websocket::{Decoder, Message};
use bus_core::{Bus, Caller, FrameKind, Mount, Transport};
use bytes::Bytes;

const WAIT: Duration = Duration::from_secs(10);

type Seen = Arc<Mutex<Vec<String>>>;

/// The handlers, written as for a hyper server on a port.
fn app(seen: Seen) -> Router {
    let echo_seen = seen.clone();
    Router::new()
        .route(
            "/echo",
            get(move |ws: WebSocketUpgrade| {
                let seen = echo_seen.clone();
                async move {
                    ws.protocols(["chat", "superchat"])
                        .on_upgrade(move |socket| echo(socket, seen))
                }
            }),
        )
        .route(
            "/push",
            get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket: WebSocket| async move {
                    for i in 0..1000 {
                        if socket
                            .send(AxMessage::Text(format!("{i}").into()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    let _ = socket
                        .send(AxMessage::Close(Some(CloseFrame {
                            code: 4001,
                            reason: "done".into(),
                        })))
                        .await;
                    while let Some(Ok(_)) = socket.recv().await {}
                })
            }),
        )
        .route(
            "/big",
            get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket: WebSocket| async move {
                    let _ = socket.send(AxMessage::Binary(vec![7u8; 2048].into())).await;
                    while let Some(Ok(_)) = socket.recv().await {}
                })
            }),
        )
        .route(
            "/origin",
            get(
                |ws: WebSocketUpgrade, headers: http::HeaderMap| async move {
                    let origin = headers
                        .get("origin")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    ws.on_upgrade(move |mut socket: WebSocket| async move {
                        let _ = socket.send(AxMessage::Text(origin.into())).await;
                        while let Some(Ok(_)) = socket.recv().await {}
                    })
                },
            ),
        )
        .route("/plain", get(|| async { "not a websocket" }))
}

async fn echo(mut socket: WebSocket, seen: Seen) {
    let mut closed = false;
    while let Some(message) = socket.recv().await {
        match message {
            Ok(AxMessage::Close(frame)) => {
                let what = frame.map_or("close none".to_owned(), |f| {
                    format!("close {} {}", f.code, f.reason)
                });
                seen.lock().unwrap().push(what);
                // Reading on sends tungstenite's reply to the close, then ends.
                closed = true;
            }
            Ok(AxMessage::Ping(_) | AxMessage::Pong(_)) => {}
            Ok(m) => {
                if socket.send(m).await.is_err() {
                    seen.lock().unwrap().push("send failed".into());
                    return;
                }
            }
            Err(e) if !closed => {
                seen.lock().unwrap().push(format!("error {e}"));
                return;
            }
            Err(_) => return,
        }
    }
    if !closed {
        seen.lock().unwrap().push("ended".into());
    }
}

fn bus(seen: Seen) -> Bus {
    Bus::builder()
        .app_origin("app://localhost")
        .mount("/ws", app(seen.clone()))
        .mount_with(Mount::new("/small", app(seen)).max_message(1024))
        .build()
}

fn page() -> Caller {
    Caller::new(Transport::Frames)
        .with_origin("app://localhost")
        .with_frame(FrameKind::Main)
}

/// A page's side of the session, single-threaded: frames are handled as they arrive, with
/// credit granted for what is read and uploads held to the credit the bus grants.
struct Page {
    session: Session,
    rx: FrameReceiver,
    streams: HashMap<u32, PageStream>,
}

#[derive(Default)]
struct PageStream {
    head: Option<(u16, Vec<(String, Bytes)>)>,
    decoder: Option<Decoder>,
    credit: u64,
    ended: bool,
}

impl Page {
    fn new(bus: &Bus) -> Page {
        Page::with_caller(bus, page())
    }

    fn with_caller(bus: &Bus, caller: Caller) -> Page {
        let (session, rx) =
            Session::with_channel(&bus.handle(), SessionConfig::new(caller)).unwrap();
        Page {
            session,
            rx,
            streams: HashMap::new(),
        }
    }

    /// Handles one frame from the bus.
    fn pump(&mut self) {
        let frame = self.rx.recv_timeout(WAIT).expect("a frame in time");
        let stream = frame.stream();
        let s = self.streams.entry(stream).or_default();
        match frame {
            Frame::ResponseHead {
                status, headers, ..
            } => s.head = Some((status, headers)),
            Frame::ResponseData { data, .. } => {
                s.decoder
                    .get_or_insert_with(|| Decoder::new(usize::MAX))
                    .push(&data);
                self.session
                    .handle(Frame::Credit {
                        stream,
                        bytes: data.len() as u32,
                    })
                    .unwrap();
            }
            Frame::ResponseEnd { .. } => s.ended = true,
            Frame::Credit { bytes, .. } => s.credit += u64::from(bytes),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Opens a WebSocket; returns the status and headers of the answer.
    fn open(
        &mut self,
        stream: u32,
        uri: &str,
        protocols: Option<&str>,
    ) -> (u16, Vec<(String, Bytes)>) {
        let mut headers = vec![
            ("upgrade".to_owned(), Bytes::from_static(b"websocket")),
            ("connection".to_owned(), Bytes::from_static(b"upgrade")),
            (
                "sec-websocket-version".to_owned(),
                Bytes::from_static(b"13"),
            ),
            // A page-written origin must not reach the handler.
            (
                "origin".to_owned(),
                Bytes::from_static(b"https://evil.example"),
            ),
        ];
        if let Some(p) = protocols {
            headers.push((
                "sec-websocket-protocol".into(),
                Bytes::copy_from_slice(p.as_bytes()),
            ));
        }
        self.streams.insert(
            stream,
            PageStream {
                credit: u64::from(INITIAL_UPLOAD_WINDOW),
                ..PageStream::default()
            },
        );
        self.session
            .handle(Frame::RequestHead {
                stream,
                method: "GET".into(),
                uri: uri.into(),
                headers,
                end_stream: false,
                window: 65536,
            })
            .unwrap();
        loop {
            if let Some(head) = self.streams.get_mut(&stream).unwrap().head.take() {
                return head;
            }
            self.pump();
        }
    }

    /// Sends a message record, in pieces within the credit (records need not align with frames).
    fn send(&mut self, stream: u32, message: &Message) {
        self.send_raw(stream, message.encode());
    }

    fn send_raw(&mut self, stream: u32, mut record: Bytes) {
        while !record.is_empty() {
            let credit = self.streams.get(&stream).unwrap().credit;
            if credit == 0 {
                self.pump();
                continue;
            }
            let n = record.len().min(credit as usize).clamp(1, 100_000);
            let n = if record.len() > 1 && n == record.len() {
                n.div_ceil(2)
            } else {
                n
            };
            let data = record.split_to(n);
            self.streams.get_mut(&stream).unwrap().credit -= n as u64;
            self.session
                .handle(Frame::RequestData { stream, data })
                .unwrap();
        }
    }

    /// The next message record from the handler, or None when the stream ended.
    fn recv(&mut self, stream: u32) -> Option<Message> {
        loop {
            let s = self.streams.entry(stream).or_default();
            if let Some(m) = s.decoder.as_mut().and_then(|d| d.next_message().unwrap()) {
                return Some(m);
            }
            if s.ended {
                return None;
            }
            self.pump();
        }
    }
}

#[test]
fn an_unchanged_axum_handler_echoes_text_and_binary_and_closes_cleanly() {
    let seen = Seen::default();
    let bus = bus(seen.clone());
    let mut page = Page::new(&bus);
    let (status, headers) = page.open(1, "app://localhost/ws/echo", Some("superchat, other"));
    assert_eq!(status, 101);
    let protocol = headers
        .iter()
        .find(|(n, _)| n == "sec-websocket-protocol")
        .map(|(_, v)| v.clone());
    assert_eq!(protocol.as_deref(), Some(&b"superchat"[..]));

    page.send(1, &Message::text("héllo"));
    assert_eq!(page.recv(1), Some(Message::text("héllo")));
    let big = Bytes::from((0..3_000_000u32).map(|i| i as u8).collect::<Vec<_>>());
    page.send(1, &Message::Binary(big.clone()));
    assert_eq!(page.recv(1), Some(Message::Binary(big)));
    page.send(1, &Message::Text(Bytes::new()));
    assert_eq!(page.recv(1), Some(Message::Text(Bytes::new())));

    page.send(
        1,
        &Message::Close {
            code: 4000,
            reason: "bye".into(),
        },
    );
    assert_eq!(
        page.recv(1),
        Some(Message::Close {
            code: 4000,
            reason: "bye".into()
        })
    );
    assert_eq!(
        page.recv(1),
        None,
        "the stream ends after the closing handshake"
    );
    assert_eq!(*seen.lock().unwrap(), ["close 4000 bye"]);
}

#[test]
fn the_handler_pushes_in_order_and_closes_with_its_code() {
    let bus = bus(Seen::default());
    let mut page = Page::new(&bus);
    assert_eq!(page.open(1, "/ws/push", None).0, 101);
    for i in 0..1000 {
        assert_eq!(page.recv(1), Some(Message::text(format!("{i}"))));
    }
    assert_eq!(
        page.recv(1),
        Some(Message::Close {
            code: 4001,
            reason: "done".into()
        })
    );
    assert_eq!(page.recv(1), None);
}

#[test]
fn the_handler_sees_the_verified_origin_not_the_pages() {
    let bus = bus(Seen::default());
    let mut page = Page::new(&bus);
    assert_eq!(page.open(1, "/ws/origin", None).0, 101);
    assert_eq!(page.recv(1), Some(Message::text("app://localhost")));
}

#[test]
fn messages_over_the_mount_limit_close_with_1009_both_ways() {
    let seen = Seen::default();
    let bus = bus(seen.clone());
    let mut page = Page::new(&bus);
    assert_eq!(page.open(1, "/small/echo", None).0, 101);
    page.send(1, &Message::Binary(Bytes::from(vec![1u8; 1024])));
    assert_eq!(
        page.recv(1),
        Some(Message::Binary(Bytes::from(vec![1u8; 1024])))
    );
    page.send(1, &Message::Binary(Bytes::from(vec![1u8; 1025])));
    let Some(Message::Close { code, .. }) = page.recv(1) else {
        panic!("a close")
    };
    assert_eq!(code, 1009);
    assert_eq!(page.recv(1), None);
    assert!(seen.lock().unwrap()[0].starts_with("close 1009"));

    // From the handler: 2048 bytes to a mount that allows 1024.
    let mut page = Page::new(&bus);
    assert_eq!(page.open(1, "/small/big", None).0, 101);
    let Some(Message::Close { code, .. }) = page.recv(1) else {
        panic!("a close")
    };
    assert_eq!(code, 1009);
    assert_eq!(page.recv(1), None);
}

#[test]
fn a_route_that_is_not_a_websocket_answers_an_http_error() {
    let bus = bus(Seen::default());
    let mut page = Page::new(&bus);
    let (status, _) = page.open(1, "/ws/plain", None);
    assert_ne!(status, 101);
    let (status, _) = page.open(3, "/nowhere", None);
    assert_eq!(status, 404);
}

#[test]
fn a_foreign_caller_is_refused_before_any_upgrade() {
    let seen = Seen::default();
    let bus = bus(seen.clone());
    let foreign = Caller::new(Transport::Frames)
        .with_origin("https://evil.example")
        .with_frame(FrameKind::Main);
    let mut page = Page::with_caller(&bus, foreign);
    assert_eq!(page.open(1, "/ws/echo", None).0, 403);
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn a_malformed_record_ends_that_socket_with_1002_not_the_session() {
    let bus = bus(Seen::default());
    let mut page = Page::new(&bus);
    assert_eq!(page.open(1, "/ws/echo", None).0, 101);
    assert_eq!(page.open(3, "/ws/echo", None).0, 101);
    page.send_raw(1, Bytes::from_static(&[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    let Some(Message::Close { code, .. }) = page.recv(1) else {
        panic!("a close")
    };
    assert_eq!(code, 1002);
    assert_eq!(page.recv(1), None);
    page.send(3, &Message::text("still here"));
    assert_eq!(page.recv(3), Some(Message::text("still here")));
}

#[test]
fn the_handler_sees_the_close_when_the_page_goes_away() {
    let seen = Seen::default();
    let bus = bus(seen.clone());
    let mut page = Page::new(&bus);
    assert_eq!(page.open(1, "/ws/echo", None).0, 101);
    page.send(1, &Message::text("x"));
    assert_eq!(page.recv(1), Some(Message::text("x")));
    page.session.close(); // the document went away
    let deadline = std::time::Instant::now() + WAIT;
    while seen.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(*seen.lock().unwrap(), ["close 1001 the page went away"]);
}

#[test]
fn an_idle_socket_outlives_the_head_timeout() {
    let seen = Seen::default();
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount_with(Mount::new("/ws", app(seen)).timeout(Some(Duration::from_millis(200))))
        .build();
    let mut page = Page::new(&bus);
    assert_eq!(page.open(1, "/ws/echo", None).0, 101);
    std::thread::sleep(Duration::from_millis(600));
    page.send(1, &Message::text("still open"));
    assert_eq!(page.recv(1), Some(Message::text("still open")));
}
