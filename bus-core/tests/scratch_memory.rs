//! What small frames a handler keeps cost the host, with other frames received on the same
//! thread in between (found by review, 2026-12-06: body data cut from the port's scratch
//! buffer kept a whole 16 KiB chunk per byte a handler had not read).
//!
//! One test per file so no other test shares the process's resident memory.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use bus_core::port::{Session, SessionConfig};
use bus_core::protocol::{Frame, encode};
use bus_core::{Bus, Caller, FrameKind, Transport};
use bytes::Bytes;

fn rss() -> u64 {
    std::thread::sleep(Duration::from_millis(200));
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kib * 1024
}

#[test]
fn kept_small_frames_keep_about_their_own_size() {
    let router = Router::new()
        .route(
            "/hold",
            // The body is never read: its data frames stay in the stream's queue.
            post(|request: http::Request<axum::body::Body>| async move {
                let _request = request;
                std::future::pending::<()>().await;
                ""
            }),
        )
        .route(
            "/wait",
            // A long poll keeps its request's URI and headers.
            get(|uri: http::Uri| async move {
                let _uri = uri;
                std::future::pending::<()>().await;
                ""
            }),
        )
        .route("/quick", get(|| async { "" }));
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount("/", router)
        .build();
    let page = Caller::new(Transport::Frames)
        .with_origin("app://localhost")
        .with_frame(FrameKind::Main);
    // Quick answers are sent from `receive` itself, so their streams close at once.
    let config = SessionConfig::new(page)
        .inline_first_poll(true)
        .whole_responses(true);
    // The page's frames are not kept: only what the port holds is measured.
    let session = Session::new(&bus.handle(), config, |_frame: Frame| {}).expect("a session");
    let head = |stream: u32, method: &str, uri: String, end_stream: bool| {
        encode(&Frame::RequestHead {
            stream,
            method: method.into(),
            uri,
            headers: vec![("x-pad".into(), Bytes::from(vec![b'p'; 100]))],
            end_stream,
            window: 65536,
        })
    };
    // Filler: about 16 KiB of small frames between kept ones, so each kept frame would
    // be in a chunk of its own if kept frames were cut from the scratch buffer.
    let credit = encode(&Frame::Credit {
        stream: 999_999,
        bytes: 1,
    });
    let mut quick = 1_000_001u32;
    let mut filler = |session: &Session| {
        for _ in 0..600 {
            session.receive(credit.clone()).unwrap();
        }
        for _ in 0..80 {
            quick += 2;
            let frame = head(quick, "GET", "/quick".into(), true);
            session.receive_slice(&frame).unwrap();
        }
    };

    // 4,000 one-byte body frames the handler never reads.
    session
        .receive(head(1, "POST", "/hold".into(), false))
        .unwrap();
    let before = rss();
    for _ in 0..4000 {
        let data = encode(&Frame::RequestData {
            stream: 1,
            data: Bytes::from_static(b"x"),
        });
        session.receive_slice(&data).unwrap();
        filler(&session);
    }
    let bodies = rss().saturating_sub(before);
    // A chunk each would be 62 MiB; a buffer of its own each is well under 2 MiB.
    assert!(
        bodies < 8 << 20,
        "4,000 one-byte body frames kept grew the process by {} KiB",
        bodies >> 10
    );

    // 200 long polls: each keeps at most one chunk (16 KiB) with its head.
    let before = rss();
    for i in 0..200u32 {
        let frame = head(3 + 2 * i, "GET", format!("/wait?{i}"), true);
        session.receive_slice(&frame).unwrap();
        filler(&session);
    }
    let heads = rss().saturating_sub(before);
    assert!(
        heads < 8 << 20,
        "200 long polls grew the process by {} KiB",
        heads >> 10
    );
    eprintln!(
        "kept: 4,000 body bytes +{} KiB, 200 long-poll heads +{} KiB",
        bodies >> 10,
        heads >> 10
    );
}
