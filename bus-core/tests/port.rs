//! The port driven the way bridges drive it: from plain OS threads with no async runtime,
//! frames in as bytes, frames out on a channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use bus_core::port::FrameReceiver;
use bus_core::port::{Session, SessionConfig};
use bus_core::protocol::{ErrorCode, Frame, INITIAL_UPLOAD_WINDOW, MAX_DATA, VERSION, encode};
use bus_core::{Body, Bus, Caller, FrameKind, Transport};
use bytes::Bytes;
use http::{Request, Response};

const WAIT: Duration = Duration::from_secs(10);

fn page() -> Caller {
    Caller::new(Transport::Frames)
        .with_origin("app://localhost")
        .with_frame(FrameKind::Main)
}

fn head(stream: u32, method: &str, uri: &str, end_stream: bool, window: u32) -> Frame {
    Frame::RequestHead {
        stream,
        method: method.into(),
        uri: uri.into(),
        headers: vec![("content-type".into(), Bytes::from_static(b"text/plain"))],
        end_stream,
        window,
    }
}

fn next(rx: &FrameReceiver) -> Frame {
    rx.recv_timeout(WAIT).expect("a frame in time")
}

/// Reads one response to the end, granting credit as a page would.
fn read_response(session: &Session, rx: &FrameReceiver, stream: u32) -> (u16, Vec<u8>) {
    let Frame::ResponseHead {
        stream: s, status, ..
    } = next(rx)
    else {
        panic!("expected a head")
    };
    assert_eq!(s, stream);
    let mut body = Vec::new();
    loop {
        match next(rx) {
            Frame::ResponseData { stream: s, data } => {
                assert_eq!(s, stream);
                body.extend_from_slice(&data);
                session
                    .handle(Frame::Credit {
                        stream,
                        bytes: data.len() as u32,
                    })
                    .unwrap();
            }
            Frame::ResponseEnd { stream: s } => {
                assert_eq!(s, stream);
                return (status, body);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

struct DropFlag(Arc<AtomicUsize>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn app(dropped: Arc<AtomicUsize>, produced: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/echo",
            post(|body: axum::body::Body| async move { Response::new(body) }),
        )
        .route(
            "/len",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/hang",
            axum::routing::any(move || {
                let guard = DropFlag(dropped.clone());
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    "never"
                }
            }),
        )
        .route(
            "/big",
            get(move || {
                let produced = produced.clone();
                async move {
                    let (tx, body) = Body::channel(2);
                    tokio::spawn(async move {
                        for _ in 0..1024 {
                            if tx.send(Bytes::from(vec![7u8; 64 * 1024])).await.is_err() {
                                return;
                            }
                            produced.fetch_add(1, Ordering::SeqCst);
                        }
                    });
                    Response::new(body)
                }
            }),
        )
}

fn bus() -> (Bus, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let dropped = Arc::new(AtomicUsize::new(0));
    let produced = Arc::new(AtomicUsize::new(0));
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount("/", app(dropped.clone(), produced.clone()))
        .build();
    (bus, dropped, produced)
}

#[test]
fn get_and_post_from_plain_threads_with_encoded_frames() {
    assert!(tokio::runtime::Handle::try_current().is_err());
    let (bus, _, _) = bus();
    let (session, rx) = page_session(&bus);

    session
        .receive(encode(&head(1, "GET", "/hello", true, 1024)))
        .unwrap();
    assert_eq!(read_response(&session, &rx, 1), (200, b"hello".to_vec()));

    // An upload larger than the initial window: the page must wait for credit.
    let payload: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
    session
        .receive(encode(&head(3, "POST", "/echo", false, 1 << 20)))
        .unwrap();
    let mut allowed = u64::from(INITIAL_UPLOAD_WINDOW);
    let mut offset = 0;
    let mut echoed = Vec::new();
    let mut status = 0;
    let mut ended = false;
    while !ended {
        while offset < payload.len() && allowed > 0 {
            let n = (payload.len() - offset).min(allowed as usize).min(100_000);
            session
                .receive(encode(&Frame::RequestData {
                    stream: 3,
                    data: Bytes::copy_from_slice(&payload[offset..offset + n]),
                }))
                .unwrap();
            allowed -= n as u64;
            offset += n;
            if offset == payload.len() {
                session
                    .receive(encode(&Frame::RequestEnd { stream: 3 }))
                    .unwrap();
            }
        }
        match next(&rx) {
            Frame::Credit { stream: 3, bytes } => allowed += u64::from(bytes),
            Frame::ResponseHead {
                stream: 3,
                status: s,
                ..
            } => status = s,
            Frame::ResponseData { stream: 3, data } => {
                echoed.extend_from_slice(&data);
                session
                    .handle(Frame::Credit {
                        stream: 3,
                        bytes: data.len() as u32,
                    })
                    .unwrap();
            }
            Frame::ResponseEnd { stream: 3 } => ended = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(status, 200);
    assert_eq!(echoed, payload);
    assert_eq!(session.open_streams(), 0);
}

#[test]
fn response_data_never_exceeds_credit_and_resumes_when_granted() {
    let (bus, _, produced) = bus();
    let (session, rx) = page_session(&bus);
    session
        .handle(head(1, "GET", "/big", true, 100_000))
        .unwrap();
    assert!(matches!(next(&rx), Frame::ResponseHead { status: 200, .. }));
    let mut got = 0usize;
    while let Ok(frame) = rx.recv_timeout(Duration::from_millis(300)) {
        let Frame::ResponseData { data, .. } = frame else {
            panic!("{frame:?}")
        };
        got += data.len();
    }
    assert_eq!(got, 100_000, "exactly the window, no more");
    // The producer is held back too: the channel (2 chunks) plus what was sent.
    let before = produced.load(Ordering::SeqCst);
    assert!(before <= 5, "producer ran ahead: {before} chunks");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(produced.load(Ordering::SeqCst), before);

    session
        .handle(Frame::Credit {
            stream: 1,
            bytes: 50,
        })
        .unwrap();
    let Frame::ResponseData { data, .. } = next(&rx) else {
        panic!()
    };
    assert_eq!(data.len(), 50);

    // Granting the rest lets it finish.
    session
        .handle(Frame::Credit {
            stream: 1,
            bytes: u32::MAX,
        })
        .unwrap();
    let mut total = got + 50;
    loop {
        match next(&rx) {
            Frame::ResponseData { data, .. } => {
                assert!(data.len() <= MAX_DATA);
                total += data.len();
            }
            Frame::ResponseEnd { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(total, 1024 * 64 * 1024);
}

/// As bridges run sessions too: a handler polled first on the receiving thread, and a
/// stream that waits handed to the runtime (issue 16's inline path), cancels the same.
#[test]
fn cancel_drops_the_handler_and_stops_the_producer() {
    cancel_drops_handler_and_producer(SessionConfig::new(page()));
    cancel_drops_handler_and_producer(
        SessionConfig::new(page())
            .inline_first_poll(true)
            .whole_responses(true),
    );
}

fn cancel_drops_handler_and_producer(config: SessionConfig) {
    let (bus, dropped, produced) = bus();
    let (session, rx) = open(&bus, config);
    session.handle(head(1, "GET", "/hang", true, 0)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    session
        .receive(encode(&Frame::Cancel { stream: 1 }))
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while dropped.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "handler not dropped");
        std::thread::sleep(Duration::from_millis(5));
    }

    session
        .handle(head(3, "GET", "/big", true, 64 * 1024))
        .unwrap();
    assert!(matches!(next(&rx), Frame::ResponseHead { .. }));
    assert!(matches!(next(&rx), Frame::ResponseData { .. }));
    session.handle(Frame::Cancel { stream: 3 }).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let after_cancel = produced.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        produced.load(Ordering::SeqCst),
        after_cancel,
        "producer stopped"
    );
    assert!(after_cancel < 10);
    // Nothing more is sent on a cancelled stream; a late Cancel or Credit is ignored.
    session.handle(Frame::Cancel { stream: 3 }).unwrap();
    session
        .handle(Frame::Credit {
            stream: 3,
            bytes: 10,
        })
        .unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    assert_eq!(session.open_streams(), 0);
}

/// A session of the app's main frame on `bus`, with `config`, and its outbound frames.
fn open(bus: &Bus, config: SessionConfig) -> (Session, FrameReceiver) {
    Session::with_channel(&bus.handle(), config).expect("a session")
}

/// A session of the app's main frame on `bus`, with the default configuration.
fn page_session(bus: &Bus) -> (Session, FrameReceiver) {
    open(bus, SessionConfig::new(page()))
}

/// `session` refuses `frame`: `handle` fails, and the page gets the `Error` frame for
/// its stream that [`expect_error`] expects.
fn refused(session: &Session, rx: &FrameReceiver, frame: Frame, code: ErrorCode, needle: &str) {
    let stream = frame.stream();
    session.handle(frame).unwrap_err();
    expect_error(rx, stream, code, needle);
}

fn expect_error(rx: &FrameReceiver, stream: u32, code: ErrorCode, needle: &str) {
    match next(rx) {
        Frame::Error {
            stream: s,
            code: c,
            message,
        } => {
            assert_eq!((s, c), (stream, code), "{message}");
            assert!(
                message.contains(needle),
                "{message:?} should mention {needle:?}"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn every_bad_frame_gets_a_named_error_and_the_session_goes_on() {
    let (bus, _, _) = bus();
    let (session, rx) = page_session(&bus);
    let refuses = |frame, code, needle| refused(&session, &rx, frame, code, needle);
    // A long-running stream that must survive everything below.
    session.handle(head(100, "GET", "/big", true, 0)).unwrap();
    assert!(matches!(next(&rx), Frame::ResponseHead { stream: 100, .. }));

    let raw = |bytes: &[u8]| session.receive(Bytes::copy_from_slice(bytes)).unwrap_err();
    raw(&[]);
    expect_error(&rx, 0, ErrorCode::Malformed, "empty");
    raw(&[VERSION + 1, 6, 0, 0, 0, 1, 0, 0, 0]);
    expect_error(&rx, 0, ErrorCode::UnsupportedVersion, "version 2");
    raw(&[VERSION, 42, 0, 0, 0]);
    expect_error(&rx, 0, ErrorCode::Malformed, "malformed");
    let truncated = encode(&head(5, "GET", "/hello", true, 0));
    raw(&truncated[..truncated.len() - 3]);
    expect_error(&rx, 0, ErrorCode::Malformed, "malformed");
    let oversized = vec![VERSION; bus_core::protocol::MAX_FRAME + 1];
    raw(&oversized);
    expect_error(&rx, 0, ErrorCode::FrameTooLarge, "over the limit");
    // Handed over borrowed, each is refused with the same `Error` frame (the oversized
    // one before it is copied).
    let head_of_2k = encode(&Frame::RequestHead {
        stream: 0,
        method: "GET".into(),
        uri: format!("/{}", "a".repeat(1990)),
        headers: vec![],
        end_stream: true,
        window: 0,
    });
    for bad in [
        &[][..],
        &[VERSION + 1, 6, 0, 0, 0, 1, 0, 0, 0],
        &[VERSION, 42, 0, 0, 0],
        &truncated[..truncated.len() - 3],
        &truncated[..5],
        &head_of_2k[..],
        &oversized,
    ] {
        session.receive(Bytes::copy_from_slice(bad)).unwrap_err();
        let by_bytes = next(&rx);
        session.receive_slice(bad).unwrap_err();
        assert_eq!(next(&rx), by_bytes, "{} bytes", bad.len());
    }

    refuses(
        Frame::RequestData {
            stream: 77,
            data: Bytes::from_static(b"x"),
        },
        ErrorCode::UnknownStream,
        "no open stream 77",
    );
    refuses(
        Frame::RequestEnd { stream: 78 },
        ErrorCode::UnknownStream,
        "78",
    );

    session.handle(head(50, "GET", "/hang", true, 0)).unwrap();
    refuses(
        head(50, "GET", "/hello", true, 0),
        ErrorCode::StreamIdInUse,
        "already open",
    );
    // The error closed stream 50: its id is free again and nothing more comes on it.
    assert_eq!(session.open_streams(), 1);
    refuses(
        head(0, "GET", "/hello", true, 0),
        ErrorCode::StreamIdInUse,
        "reserved",
    );

    refuses(
        head(7, "G E T", "/hello", true, 0),
        ErrorCode::InvalidHead,
        "invalid method",
    );
    refuses(
        head(7, "GET", "http://[::1/", true, 0),
        ErrorCode::InvalidHead,
        "invalid URI",
    );
    let mut bad = head(7, "GET", "/hello", true, 0);
    if let Frame::RequestHead { headers, .. } = &mut bad {
        headers.push(("bad name".into(), Bytes::from_static(b"v")));
    }
    refuses(bad, ErrorCode::InvalidHead, "invalid header name");
    let mut bad = head(7, "GET", "/hello", true, 0);
    if let Frame::RequestHead { headers, .. } = &mut bad {
        headers.push(("x-evil".into(), Bytes::from_static(b"a\r\nInjected: 1")));
    }
    refuses(bad, ErrorCode::InvalidHead, "invalid value for header");

    // Wrong direction.
    refuses(
        Frame::ResponseEnd { stream: 51 },
        ErrorCode::Protocol,
        "from the bus to the page",
    );
    refuses(
        Frame::Response {
            stream: 53,
            status: 200,
            headers: vec![],
            data: Bytes::from_static(b"forged"),
        },
        ErrorCode::Protocol,
        "from the bus to the page",
    );
    session.handle(head(52, "GET", "/hang", true, 0)).unwrap();
    refuses(
        Frame::ResponseData {
            stream: 52,
            data: Bytes::new(),
        },
        ErrorCode::Protocol,
        "from the bus to the page",
    );
    assert_eq!(
        session.open_streams(),
        1,
        "the wrong-direction frame closed stream 52"
    );

    // Data after end, on a stream still open (its handler never answers).
    session
        .handle(head(9, "POST", "/hang", false, 1024))
        .unwrap();
    session.handle(Frame::RequestEnd { stream: 9 }).unwrap();
    refuses(
        Frame::RequestData {
            stream: 9,
            data: Bytes::from_static(b"late"),
        },
        ErrorCode::Protocol,
        "after its end",
    );

    // Flow-control violation: more than the initial window in one go.
    session
        .handle(head(11, "POST", "/len", false, 1024))
        .unwrap();
    let too_much = Bytes::from(vec![0u8; INITIAL_UPLOAD_WINDOW as usize + 1]);
    session
        .handle(Frame::RequestData {
            stream: 11,
            data: too_much,
        })
        .unwrap_err();
    loop {
        match next(&rx) {
            Frame::Error {
                stream: 11,
                code,
                message,
            } => {
                assert_eq!(code, ErrorCode::FlowControl);
                assert!(message.contains("credit"), "{message}");
                break;
            }
            Frame::Credit { .. }
            | Frame::ResponseHead { stream: 9, .. }
            | Frame::ResponseData { stream: 9, .. }
            | Frame::ResponseEnd { stream: 9 } => {}
            other => panic!("{other:?}"),
        }
    }

    // The long stream still streams, and new requests still work.
    session
        .handle(Frame::Credit {
            stream: 100,
            bytes: 10,
        })
        .unwrap();
    let got = loop {
        match next(&rx) {
            Frame::ResponseData { stream: 100, data } => break data,
            Frame::Credit { .. }
            | Frame::ResponseEnd { stream: 9 }
            | Frame::ResponseData { stream: 9, .. } => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(got.len(), 10);
    session
        .handle(head(13, "GET", "/hello", true, 100))
        .unwrap();
    loop {
        if let Frame::ResponseHead {
            stream: 13, status, ..
        } = next(&rx)
        {
            assert_eq!(status, 200);
            break;
        }
    }
}

#[test]
fn http_level_failures_are_responses_not_errors() {
    let counter = Arc::new(AtomicUsize::new(0));
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount("/api", app(counter.clone(), counter))
        .build();
    let (session, rx) = page_session(&bus);
    session.handle(head(1, "GET", "/nope", true, 4096)).unwrap();
    let (status, body) = read_response(&session, &rx, 1);
    assert_eq!(status, 404);
    assert_eq!(body, b"no route for GET /nope\n");

    // A session for a foreign page: the policy refuses it.
    let foreign = Caller::new(Transport::Frames).with_origin("https://evil.example");
    let (evil, evil_rx) = open(&bus, SessionConfig::new(foreign));
    evil.handle(head(1, "GET", "/api/hello", true, 4096))
        .unwrap();
    let (status, body) = read_response(&evil, &evil_rx, 1);
    assert_eq!(status, 403);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("https://evil.example")
    );
}

#[test]
fn body_frames_that_cross_a_streams_end_are_dropped_quietly() {
    let (bus, _, _) = bus();
    let (session, rx) = page_session(&bus);
    session
        .handle(head(1, "POST", "/len", false, 1024))
        .unwrap();
    session
        .handle(Frame::RequestData {
            stream: 1,
            data: Bytes::from_static(b"abc"),
        })
        .unwrap();
    session.handle(Frame::RequestEnd { stream: 1 }).unwrap();
    let (status, body) = read_response(&session, &rx, 1);
    assert_eq!((status, body), (200, b"3".to_vec()));
    // A page that had more data in flight when the end arrived: no error overtakes the end.
    session
        .handle(Frame::RequestData {
            stream: 1,
            data: Bytes::from_static(b"more"),
        })
        .unwrap();
    session.handle(Frame::RequestEnd { stream: 1 }).unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    // An id that was never opened is still an error.
    refused(
        &session,
        &rx,
        Frame::RequestEnd { stream: 99 },
        ErrorCode::UnknownStream,
        "99",
    );
}

#[test]
fn too_many_streams_is_refused_per_stream() {
    let (bus, _, _) = bus();
    let config = SessionConfig::new(page()).max_streams(2);
    let (session, rx) = open(&bus, config);
    session.handle(head(1, "GET", "/hang", true, 0)).unwrap();
    session.handle(head(2, "GET", "/hang", true, 0)).unwrap();
    refused(
        &session,
        &rx,
        head(3, "GET", "/hang", true, 0),
        ErrorCode::TooManyStreams,
        "2 open streams",
    );
}

#[test]
fn many_threads_share_one_session() {
    let (bus, _, _) = bus();
    let (session, rx) = open(&bus, SessionConfig::new(page()).max_streams(1024));
    let session = Arc::new(session);
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let session = session.clone();
            std::thread::spawn(move || {
                for i in 0..100u32 {
                    let stream = t * 1000 + i + 1;
                    let body = format!("thread {t} request {i}");
                    session
                        .handle(head(stream, "POST", "/echo", false, 1 << 16))
                        .unwrap();
                    session
                        .handle(Frame::RequestData {
                            stream,
                            data: Bytes::from(body),
                        })
                        .unwrap();
                    session.handle(Frame::RequestEnd { stream }).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut bodies = std::collections::HashMap::<u32, Vec<u8>>::new();
    let mut ended = 0;
    while ended < 800 {
        match next(&rx) {
            Frame::ResponseData { stream, data } => {
                bodies.entry(stream).or_default().extend_from_slice(&data)
            }
            Frame::ResponseEnd { .. } => ended += 1,
            Frame::ResponseHead { status, .. } => assert_eq!(status, 200),
            Frame::Credit { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    for t in 0..8u32 {
        for i in 0..100u32 {
            let body = &bodies[&(t * 1000 + i + 1)];
            assert_eq!(body, format!("thread {t} request {i}").as_bytes());
        }
    }
}

#[test]
fn dropping_the_bus_ends_every_open_stream_with_an_error() {
    let (bus, _, _) = bus();
    let (session, rx) = page_session(&bus);
    session.handle(head(1, "GET", "/hang", true, 0)).unwrap();
    session.handle(head(2, "GET", "/big", true, 0)).unwrap();
    assert!(matches!(next(&rx), Frame::ResponseHead { stream: 2, .. }));
    std::thread::sleep(Duration::from_millis(50));
    drop(bus);
    let mut errored = std::collections::HashSet::new();
    while errored.len() < 2 {
        match next(&rx) {
            Frame::Error { stream, code, .. } => {
                assert_eq!(code, ErrorCode::Shutdown);
                errored.insert(stream);
            }
            Frame::ResponseHead {
                stream: 1, status, ..
            } => assert_eq!(status, 503),
            Frame::ResponseData { .. } | Frame::ResponseEnd { stream: 1 } => {}
            other => panic!("{other:?}"),
        }
    }
    // New frames are refused with the same code.
    refused(
        &session,
        &rx,
        head(3, "GET", "/hello", true, 0),
        ErrorCode::Shutdown,
        "shut down",
    );
}

#[test]
fn blocking_calls_pull_the_body_and_cancel_on_drop() {
    use std::io::Read;
    let (bus, _, produced) = bus();
    let response = bus.handle().call_blocking(
        Caller::in_process(),
        Request::get("/hello").body(Body::empty()).unwrap(),
    );
    let mut text = String::new();
    response.into_body().read_to_string(&mut text).unwrap();
    assert_eq!(text, "hello");

    // Pulling is the backpressure: nothing runs far ahead of the reader.
    let mut body = bus
        .handle()
        .call_blocking(
            Caller::in_process(),
            Request::get("/big").body(Body::empty()).unwrap(),
        )
        .into_body();
    let first = body.next_chunk().unwrap().unwrap();
    assert_eq!(first.len(), 64 * 1024);
    std::thread::sleep(Duration::from_millis(100));
    let ahead = produced.load(Ordering::SeqCst);
    assert!(ahead <= 5, "producer ran {ahead} chunks ahead");
    drop(body);
    std::thread::sleep(Duration::from_millis(100));
    let after = produced.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        produced.load(Ordering::SeqCst),
        after,
        "producer stopped after drop"
    );

    let missing = bus.handle().call_blocking(
        Caller::in_process(),
        Request::get("/nope").body(Body::empty()).unwrap(),
    );
    assert_eq!(missing.status(), 404);
}

/// Frames a session sent, each with whether it was sent on the thread that made the
/// session.
type Recorded = Arc<std::sync::Mutex<Vec<(Frame, bool)>>>;

/// A session of `bus` whose frames are recorded with the thread that sent them.
fn recording_session(bus: &Bus, inline: bool) -> (Session, Recorded) {
    let me = std::thread::current().id();
    let frames: Recorded = Arc::default();
    let sink_frames = frames.clone();
    let session = Session::new(
        &bus.handle(),
        SessionConfig::new(page()).inline_first_poll(inline),
        move |frame: Frame| {
            let here = std::thread::current().id() == me;
            sink_frames.lock().unwrap().push((frame, here));
        },
    )
    .unwrap();
    (session, frames)
}

/// With `inline_first_poll`, a handler that answers at once has all its frames handed to
/// the sink on the thread that called `receive`, before it returns; one that waits
/// finishes on a worker; without it, frames come from a worker.
#[test]
fn inline_first_poll_answers_on_the_receiving_thread() {
    let (bus, _, _) = bus();
    for inline in [true, false] {
        let (session, frames) = recording_session(&bus, inline);
        session
            .receive(encode(&head(1, "GET", "/hello", true, 1024)))
            .unwrap();
        let now: Vec<(String, bool)> = frames
            .lock()
            .unwrap()
            .iter()
            .map(|(f, here)| {
                (
                    format!("{f:?}").split(' ').next().unwrap_or("").to_owned(),
                    *here,
                )
            })
            .collect();
        if inline {
            assert_eq!(
                now.len(),
                3,
                "head, data, end before receive returned: {now:?}"
            );
            assert!(now.iter().all(|(_, here)| *here), "{now:?}");
        }
        // A handler that waits (the upload route reads a body that has not come yet):
        // it finishes on a worker, inline or not.
        session
            .receive(encode(&head(3, "POST", "/echo", false, 1024)))
            .unwrap();
        session
            .handle(Frame::RequestData {
                stream: 3,
                data: Bytes::from_static(b"late"),
            })
            .unwrap();
        session.handle(Frame::RequestEnd { stream: 3 }).unwrap();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let got = frames.lock().unwrap();
            let ends = got
                .iter()
                .filter(|(f, _)| matches!(f, Frame::ResponseEnd { .. }))
                .count();
            if ends == 2 {
                if !inline {
                    assert!(
                        got.iter().all(|(_, here)| !here),
                        "all from workers: {got:?}"
                    );
                }
                break;
            }
            drop(got);
            assert!(std::time::Instant::now() < deadline, "no answer in time");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A subscriber that traces every request does not move the inline answer off the
/// receiving thread: the traced call is polled there first, as an untraced one is.
#[test]
fn inline_first_poll_holds_when_requests_are_traced() {
    let (bus, _, _) = bus();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        assert!(tracing::enabled!(tracing::Level::DEBUG));
        let (session, frames) = recording_session(&bus, true);
        session
            .receive(encode(&head(1, "GET", "/hello", true, 1024)))
            .unwrap();
        let got = frames.lock().unwrap();
        assert!(!got.is_empty(), "answered before receive returned");
        assert!(got.iter().all(|(_, here)| *here), "{got:?}");
        assert!(
            got.iter()
                .any(|(f, _)| matches!(f, Frame::ResponseEnd { .. } | Frame::Response { .. })),
            "{got:?}"
        );
    });
}

#[test]
fn a_stream_starved_of_credit_ends_after_the_idle_timeout() {
    let (bus, _dropped, produced) = bus();
    let config = SessionConfig::new(page()).credit_idle_timeout(Some(Duration::from_millis(300)));
    let (session, rx) = open(&bus, config);
    // A window of zero, never granted: the page opened the stream and does not read it.
    session.handle(head(1, "GET", "/big", true, 0)).unwrap();
    assert!(matches!(next(&rx), Frame::ResponseHead { .. }));
    expect_error(&rx, 1, ErrorCode::BodyFailed, "granted no credit");
    assert_eq!(session.open_streams(), 0, "the stream is gone");
    std::thread::sleep(Duration::from_millis(100));
    let after = produced.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        produced.load(Ordering::SeqCst),
        after,
        "the producer stopped"
    );
    // The session goes on.
    session
        .handle(head(3, "GET", "/hello", true, 1024))
        .unwrap();
    assert_eq!(read_response(&session, &rx, 3), (200, b"hello".to_vec()));
}

#[test]
fn the_upload_window_is_settable_and_enforced() {
    let (bus, _, _) = bus();
    let config = SessionConfig::new(page()).upload_window(1000);
    let (session, rx) = open(&bus, config);

    // One byte over the window the session was given is refused...
    session
        .handle(head(1, "POST", "/len", false, 1024))
        .unwrap();
    let refused = session
        .handle(Frame::RequestData {
            stream: 1,
            data: Bytes::from(vec![0u8; 1001]),
        })
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::FlowControl);
    expect_error(&rx, 1, ErrorCode::FlowControl, "credit");

    // ...and the window itself is accepted, then more once the bus grants it.
    session
        .handle(head(3, "POST", "/len", false, 1024))
        .unwrap();
    session
        .handle(Frame::RequestData {
            stream: 3,
            data: Bytes::from(vec![0u8; 1000]),
        })
        .unwrap();
    let Frame::Credit {
        stream: 3,
        bytes: granted,
    } = next(&rx)
    else {
        panic!("credit for what the handler read")
    };
    assert!(granted > 0 && granted <= 1000, "{granted}");
    session
        .handle(Frame::RequestData {
            stream: 3,
            data: Bytes::from(vec![0u8; granted as usize]),
        })
        .unwrap();
    session.handle(Frame::RequestEnd { stream: 3 }).unwrap();
    let mut body = Vec::new();
    loop {
        match next(&rx) {
            Frame::Credit { stream: 3, .. } => {}
            Frame::ResponseHead {
                stream: 3, status, ..
            } => assert_eq!(status, 200),
            Frame::ResponseData { stream: 3, data } => body.extend_from_slice(&data),
            Frame::ResponseEnd { stream: 3 } => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(body, (1000 + granted).to_string().into_bytes());
}

#[test]
fn a_uri_too_long_for_http_gets_414_and_the_session_goes_on() {
    let (bus, _, _) = bus();
    let (session, rx) = page_session(&bus);
    let long = format!("/hello?{}", "a".repeat(70 * 1024));
    session
        .handle(head(1, "GET", &long, true, 64 * 1024))
        .unwrap();
    let (status, body) = read_response(&session, &rx, 1);
    assert_eq!(status, 414);
    assert!(
        String::from_utf8_lossy(&body).contains("the bus takes URIs of up to 65534 bytes"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // A body the page sends for it anyway is dropped quietly.
    session
        .handle(head(3, "POST", &long, false, 64 * 1024))
        .unwrap();
    let (status, _) = read_response(&session, &rx, 3);
    assert_eq!(status, 414);
    session
        .handle(Frame::RequestData {
            stream: 3,
            data: Bytes::from_static(b"late"),
        })
        .unwrap();
    session
        .handle(head(5, "GET", "/hello", true, 1024))
        .unwrap();
    assert_eq!(read_response(&session, &rx, 5), (200, b"hello".to_vec()));
    // The limit is http's own: 65,534 bytes go through (relative and of the page's own
    // origin), one more is too long. (A bus whose request-size limit takes them.)
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .limits(bus_core::Limits::default().with_max_header_bytes(128 * 1024))
        .mount("/", app(Arc::default(), Arc::default()))
        .build();
    let (session, rx) = page_session(&bus);
    for (stream, prefix) in [(7, ""), (9, "app://localhost")] {
        let at_limit = format!("{prefix}/hello?{}", "a".repeat(65534 - 7 - prefix.len()));
        assert_eq!(at_limit.len(), 65534);
        session
            .handle(head(stream, "GET", &at_limit, true, 1024))
            .unwrap();
        assert_eq!(read_response(&session, &rx, stream).0, 200, "{prefix}");
        let over = format!("{at_limit}a");
        session
            .handle(head(stream + 100, "GET", &over, true, 1024))
            .unwrap();
        assert_eq!(
            read_response(&session, &rx, stream + 100).0,
            414,
            "{prefix}"
        );
    }
}

#[test]
fn whole_responses_go_as_one_frame_when_complete_at_once() {
    let (bus, _, _) = bus();
    let (session, rx) = open(
        &bus,
        SessionConfig::new(page())
            .whole_responses(true)
            .inline_first_poll(true),
    );
    // A body complete at once, within the window: one frame, and the stream is closed.
    session
        .handle(head(1, "GET", "/hello", true, 64 * 1024))
        .unwrap();
    let Frame::Response {
        stream: 1,
        status: 200,
        headers,
        data,
    } = next(&rx)
    else {
        panic!("expected a whole Response")
    };
    assert_eq!(data.as_ref(), b"hello");
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "content-type" && v.starts_with(b"text/plain"))
    );
    assert_eq!(session.open_streams(), 0);
    // Its id is free again, and a late Credit for it is ignored.
    session
        .handle(Frame::Credit {
            stream: 1,
            bytes: 10,
        })
        .unwrap();
    // A status with no body: one frame with empty data.
    session
        .handle(head(2, "GET", "/nowhere", true, 1024))
        .unwrap();
    let Frame::Response {
        stream: 2,
        status: 404,
        data,
        ..
    } = next(&rx)
    else {
        panic!("expected a whole 404")
    };
    assert!(data.is_empty());
    // A window smaller than the body: head and data within the credit, as before.
    session.handle(head(3, "GET", "/hello", true, 2)).unwrap();
    let (status, body) = read_response(&session, &rx, 3);
    assert_eq!((status, body.as_slice()), (200, b"hello".as_slice()));
    // A body that streams (and one with a body still to come): head first, as before.
    session
        .handle(head(4, "GET", "/big", true, 64 * 1024))
        .unwrap();
    assert!(matches!(
        next(&rx),
        Frame::ResponseHead {
            stream: 4,
            status: 200,
            ..
        }
    ));
    session.handle(Frame::Cancel { stream: 4 }).unwrap();
    session
        .handle(head(5, "POST", "/echo", false, 1024))
        .unwrap();
    session
        .handle(Frame::RequestData {
            stream: 5,
            data: Bytes::from_static(b"abc"),
        })
        .unwrap();
    session.handle(Frame::RequestEnd { stream: 5 }).unwrap();
    let frames: Vec<Frame> = (0..3)
        .map(|_| next(&rx))
        .filter(|f| f.stream() == 5)
        .collect();
    assert!(
        matches!(frames.first(), Some(Frame::ResponseHead { .. })),
        "{frames:?}"
    );
    // Off by default: the three frames.
    let (plain, plain_rx) = page_session(&bus);
    plain.handle(head(1, "GET", "/hello", true, 1024)).unwrap();
    assert_eq!(
        read_response(&plain, &plain_rx, 1),
        (200, b"hello".to_vec())
    );
}

/// A stream answered on the receiving thread is an open stream while its handler runs:
/// a `Cancel` or a duplicate head from another thread meanwhile closes it as any other
/// (its answer is not sent), and `max_streams` counts it.
#[test]
fn frames_from_other_threads_find_a_stream_answered_inline() {
    // The handler tells the test it runs, then waits for the test's go before answering.
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let (go, go_rx) = std::sync::mpsc::channel::<()>();
    let started_tx = Arc::new(std::sync::Mutex::new(started_tx));
    let go_rx = Arc::new(std::sync::Mutex::new(go_rx));
    let gate = tower::service_fn(move |_req: Request<Body>| {
        let _ = started_tx.lock().unwrap().send(());
        let _ = go_rx.lock().unwrap().recv_timeout(WAIT);
        std::future::ready(Ok::<_, std::convert::Infallible>(Response::new(
            Body::from("late"),
        )))
    });
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount("/gate", gate)
        .build();
    let config = SessionConfig::new(page())
        .inline_first_poll(true)
        .whole_responses(true)
        .max_streams(1);
    let (session, rx) = open(&bus, config);
    let session = Arc::new(session);
    let on_thread = |frame: Frame| {
        let session = session.clone();
        std::thread::spawn(move || session.handle(frame))
    };

    // A Cancel while the handler runs: the answer is dropped, the stream closed.
    let first = on_thread(head(1, "GET", "/gate", true, 1024));
    started.recv_timeout(WAIT).unwrap();
    assert_eq!(session.open_streams(), 1, "entered while its handler runs");
    // The session is full: a second stream is refused meanwhile.
    let refused = session.handle(head(3, "GET", "/gate", true, 1024));
    assert_eq!(refused.unwrap_err().code, ErrorCode::TooManyStreams);
    assert!(matches!(next(&rx), Frame::Error { stream: 3, .. }));
    session.handle(Frame::Cancel { stream: 1 }).unwrap();
    go.send(()).unwrap();
    first.join().unwrap().unwrap();
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "nothing is sent for a cancelled stream"
    );
    assert_eq!(session.open_streams(), 0);

    // A duplicate head meanwhile: both sides agree the id is in error, and only the
    // error is sent.
    let first = on_thread(head(5, "GET", "/gate", true, 1024));
    started.recv_timeout(WAIT).unwrap();
    let dup = session.handle(head(5, "GET", "/gate", true, 1024));
    assert_eq!(dup.unwrap_err().code, ErrorCode::StreamIdInUse);
    go.send(()).unwrap();
    first.join().unwrap().unwrap();
    assert!(matches!(next(&rx), Frame::Error { stream: 5, .. }));
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(session.open_streams(), 0);

    // Undisturbed, the same handler's answer is one Response frame.
    let first = on_thread(head(7, "GET", "/gate", true, 1024));
    started.recv_timeout(WAIT).unwrap();
    go.send(()).unwrap();
    first.join().unwrap().unwrap();
    let Frame::Response {
        stream: 7, data, ..
    } = next(&rx)
    else {
        panic!("expected a whole Response")
    };
    assert_eq!(data.as_ref(), b"late");
    assert_eq!(session.open_streams(), 0);
}

/// A request body the page cancels (or whose session closes) midway fails for whoever
/// reads it: what came is never taken for the whole body. Only `RequestEnd` ends it.
#[test]
fn a_cancelled_upload_fails_for_its_reader_rather_than_ending_short() {
    use http_body_util::BodyExt;
    let (seen_tx, seen) = std::sync::mpsc::channel::<Result<usize, String>>();
    let seen_tx = Arc::new(std::sync::Mutex::new(seen_tx));
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let started_tx = Arc::new(std::sync::Mutex::new(started_tx));
    // The body is read by a task of its own, which outlives the stream's handler (a
    // cancel drops the handler at its next await, which would hide what the body says).
    let collect = tower::service_fn(move |req: Request<Body>| {
        let seen_tx = seen_tx.clone();
        let started_tx = started_tx.clone();
        let reader = tokio::spawn(async move {
            let _ = started_tx.lock().unwrap().send(());
            let outcome = match req.into_body().collect().await {
                Ok(all) => Ok(all.to_bytes().len()),
                Err(e) => Err(e.to_string()),
            };
            let _ = seen_tx.lock().unwrap().send(outcome);
        });
        async move {
            let _ = reader.await;
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        }
    });
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount("/collect", collect)
        .build();
    for config in [
        SessionConfig::new(page()),
        SessionConfig::new(page())
            .inline_first_poll(true)
            .whole_responses(true),
    ] {
        let (session, _rx) = open(&bus, config);
        let send = |stream: u32| {
            session
                .handle(head(stream, "POST", "/collect", false, 4096))
                .unwrap();
            session
                .handle(Frame::RequestData {
                    stream,
                    data: Bytes::from(vec![7u8; 1000]),
                })
                .unwrap();
            // The reader runs before the test goes on (a cancel before the handler's
            // first poll drops the request unread).
            started.recv_timeout(WAIT).unwrap();
        };
        // Ended by the page: the whole body.
        send(1);
        session.handle(Frame::RequestEnd { stream: 1 }).unwrap();
        assert_eq!(seen.recv_timeout(WAIT).unwrap(), Ok(1000));
        // Cancelled midway: an error, not 1,000 bytes taken for the whole body.
        send(3);
        session.handle(Frame::Cancel { stream: 3 }).unwrap();
        let error = seen.recv_timeout(WAIT).unwrap().unwrap_err();
        assert!(error.contains("cut off"), "{error}");
        // The session closing midway: the same.
        send(5);
        session.close();
        let error = seen.recv_timeout(WAIT).unwrap().unwrap_err();
        assert!(error.contains("cut off"), "{error}");
    }
}

/// A whole response reaches an encoding sink ([`bus_core::port::encoded`], which encodes it
/// straight from the response's head) as the same bytes a frame sink's `Response` frame
/// encodes to, inline or from the runtime.
#[test]
fn an_encoding_sink_gets_whole_responses_as_a_frame_sink_does() {
    let (bus, _, _) = bus();
    for inline in [false, true] {
        let config = SessionConfig::new(page())
            .whole_responses(true)
            .inline_first_poll(inline);
        let (framed, rx) = open(&bus, config.clone());
        let (tx, encoded_rx) = std::sync::mpsc::channel();
        let encoded = Session::new(
            &bus.handle(),
            config,
            bus_core::port::encoded(move |bytes| {
                let _ = tx.send(bytes);
            }),
        )
        .unwrap();
        for (stream, uri) in [(1, "/hello"), (3, "app://localhost/hello"), (5, "/missing")] {
            framed.handle(head(stream, "GET", uri, true, 1024)).unwrap();
            encoded
                .handle(head(stream, "GET", uri, true, 1024))
                .unwrap();
            let frame = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            let bytes = encoded_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            assert!(matches!(frame, Frame::Response { .. }), "{frame:?}");
            assert_eq!(bytes, encode(&frame), "{uri}, inline {inline}");
        }
    }
}

/// A response body that ends before the length it declared reaches the page as what it
/// is, a cut: its data, then an `Error` frame naming the shortfall, never an end that would
/// pass for the whole body.
#[test]
fn a_body_cut_short_of_its_length_ends_in_an_error_for_the_page() {
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount(
            "/short",
            tower::service_fn(|_request: Request<Body>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Body::new(Short(Some(
                    Bytes::from_static(b"hello"),
                )))))
            }),
        )
        .mount(
            "/cut",
            tower::service_fn(|_request: Request<Body>| async {
                let (tx, body) = Body::channel_with_len(4, 10);
                tx.try_send(Bytes::from_static(b"hello")).unwrap();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    drop(tx);
                });
                Ok::<_, std::convert::Infallible>(Response::new(body))
            }),
        )
        .build();
    for (inline, path) in [
        (false, "/cut"),
        (true, "/cut"),
        (false, "/short"),
        (true, "/short"),
    ] {
        let (session, rx) = open(
            &bus,
            SessionConfig::new(page())
                .whole_responses(true)
                .inline_first_poll(inline),
        );
        session.handle(head(1, "GET", path, true, 1024)).unwrap();
        let mut data = Vec::new();
        let error = loop {
            match next(&rx) {
                Frame::ResponseHead { status, .. } => assert_eq!(status, 200),
                Frame::ResponseData { data: d, .. } => data.extend_from_slice(&d),
                Frame::Error { message, .. } => break message,
                other => panic!("{path}, inline {inline}: unexpected {other:?}"),
            }
        };
        assert_eq!(data, b"hello");
        assert!(
            error.contains("ended after 5 of the 10 bytes it declared"),
            "{path}, inline {inline}: {error}"
        );
    }
}

/// A body that declares 10 bytes, gives 5 and says it has ended.
struct Short(Option<Bytes>);

impl http_body::Body for Short {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.take().map(|data| Ok(http_body::Frame::data(data))))
    }
    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(10)
    }
}

/// Frames handed over borrowed from one buffer the bridge reuses at once, and frames
/// handed over as `Bytes`, are copied into the port's per-thread scratch buffer; answers
/// are encoded into it too. Hundreds of requests whose handlers hold their URI and headers
/// across a wait (so pieces of many chunks are alive while new ones are cut) each get
/// their own URI, header and body back.
#[test]
fn frames_cut_from_the_scratch_buffer_keep_their_own_bytes() {
    use bus_core::port::encoded;
    use bus_core::protocol::{decode, write_request_head};

    let router = Router::new().route(
        "/tag",
        axum::routing::any(
            |uri: http::Uri, headers: http::HeaderMap, body: Bytes| async move {
                // Held across a wait: later frames are cut while these are alive.
                tokio::time::sleep(Duration::from_millis(1)).await;
                let tag = headers["x-tag"].to_str().unwrap().to_owned();
                format!("{uri} {tag} {}", String::from_utf8_lossy(&body))
            },
        ),
    );
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount("/", router)
        .build();
    let (tx, rx) = crossbeam_channel::unbounded::<Bytes>();
    let session = Session::new(
        &bus.handle(),
        SessionConfig::new(page())
            .inline_first_poll(true)
            .whole_responses(true),
        encoded(move |bytes| {
            let _ = tx.send(bytes);
        }),
    )
    .unwrap();

    const N: u32 = 600;
    let tag = |i: u32| format!("t{i}-{}", "x".repeat((i as usize * 37) % 900));
    let body = |i: u32| format!("body {i} {}", "y".repeat((i as usize * 53) % 700));
    let mut buf = Vec::new();
    for i in 1..=N {
        let uri = format!("app://localhost/tag?n={i}");
        let tag = tag(i);
        let posted = i % 2 == 0;
        buf.clear();
        write_request_head(
            &mut buf,
            i,
            if posted { "POST" } else { "GET" },
            &uri,
            &[("x-tag", tag.as_bytes())],
            !posted,
            1 << 20,
        );
        // Every third frame as `Bytes` of its own, the rest borrowed from `buf`.
        if i % 3 == 0 {
            session.receive(Bytes::copy_from_slice(&buf)).unwrap();
        } else {
            session.receive_slice(&buf).unwrap();
        }
        // Overwritten at once, as a bridge reuses its buffer.
        buf.fill(0xAA);
        if posted {
            for frame in [
                Frame::RequestData {
                    stream: i,
                    data: Bytes::from(body(i)),
                },
                Frame::RequestEnd { stream: i },
            ] {
                buf.clear();
                buf.extend_from_slice(&encode(&frame));
                session.receive_slice(&buf).unwrap();
                buf.fill(0xAA);
            }
        }
    }
    let mut answered = std::collections::HashMap::new();
    while answered.len() < N as usize {
        let frame = decode(rx.recv_timeout(WAIT).expect("an answer in time")).unwrap();
        if matches!(frame, Frame::Credit { .. }) {
            continue;
        }
        let Frame::Response {
            stream,
            status,
            data,
            ..
        } = frame
        else {
            panic!("expected whole answers, got {frame:?}")
        };
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&data));
        assert!(
            answered.insert(stream, data).is_none(),
            "stream {stream} twice"
        );
    }
    for i in 1..=N {
        let sent = if i % 2 == 0 { body(i) } else { String::new() };
        let want = format!("app://localhost/tag?n={i} {} {sent}", tag(i));
        assert_eq!(answered[&i], want.as_bytes(), "stream {i}");
    }
}
