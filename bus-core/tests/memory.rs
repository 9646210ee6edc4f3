//! 1 GiB through the bus, in process and through the framed port: every byte arrives
//! (SHA-256 equality) and the process's peak memory grows by less than 32 MiB.
//!
//! One test per file so no other test shares the process's peak-RSS counter.

use std::sync::Arc;

use bus_core::port::{Session, SessionConfig, encoded};
use bus_core::protocol::{Frame, decode, encode};
use bus_core::{Body, Bus, Caller, FrameKind, Transport};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};

const TOTAL: usize = 1 << 30;
const CHUNK: usize = 64 * 1024;
const BUDGET: u64 = 32 << 20;

/// Sixteen different 64 KiB blocks; chunk `i` is block `(i * 7) % 16`, so a lost,
/// repeated or reordered chunk changes the hash.
fn blocks() -> Arc<Vec<Bytes>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    Arc::new(
        (0..16)
            .map(|_| {
                let mut block = vec![0u8; CHUNK];
                for word in block.chunks_mut(8) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    word.copy_from_slice(&state.to_le_bytes());
                }
                Bytes::from(block)
            })
            .collect(),
    )
}

fn expected_hash(blocks: &[Bytes]) -> Vec<u8> {
    let mut h = Sha256::new();
    for i in 0..TOTAL / CHUNK {
        h.update(&blocks[(i * 7) % 16]);
    }
    h.finalize().to_vec()
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Resets the peak-RSS counter (Linux `clear_refs` 5) and returns the current RSS in bytes.
fn reset_peak() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    status_kib("VmRSS:") * 1024
}

fn peak() -> u64 {
    status_kib("VmHWM:") * 1024
}

fn bus(blocks: Arc<Vec<Bytes>>) -> Bus {
    let stream = tower::service_fn(move |_r: Request<Body>| {
        let blocks = blocks.clone();
        async move {
            let (tx, body) = Body::channel_with_len(4, TOTAL as u64);
            tokio::spawn(async move {
                for i in 0..TOTAL / CHUNK {
                    if tx.send(blocks[(i * 7) % 16].clone()).await.is_err() {
                        return;
                    }
                }
            });
            Ok::<_, std::convert::Infallible>(Response::new(body))
        }
    });
    Bus::builder()
        .app_origin("app://localhost")
        .mount("/gib", stream)
        .build()
}

#[test]
fn one_gib_streams_in_bounded_memory_in_process_and_over_frames() {
    let blocks = blocks();
    let expected = expected_hash(&blocks);
    let bus = bus(blocks);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // In process: bus.call, body read chunk by chunk.
    let before = reset_peak();
    let (hash, len) = runtime.block_on(async {
        let response = bus
            .handle()
            .call(Request::get("/gib").body(Body::empty()).unwrap())
            .await;
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        let mut h = Sha256::new();
        let mut len = 0usize;
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            len += data.len();
            h.update(&data);
        }
        (h.finalize().to_vec(), len)
    });
    let growth = peak().saturating_sub(before);
    println!("in process: 1 GiB, peak RSS growth {} KiB", growth / 1024);
    assert_eq!(len, TOTAL);
    assert_eq!(hash, expected);
    assert!(growth < BUDGET, "peak RSS grew by {growth} bytes");

    // Over the port: encoded frames, decoded by the "page" thread, which grants credit
    // as it consumes (a 1 MiB window).
    let before = reset_peak();
    let (tx, rx) = crossbeam_channel::unbounded::<Bytes>();
    let page = Caller::new(Transport::Frames)
        .with_origin("app://localhost")
        .with_frame(FrameKind::Main);
    let session = Session::new(
        &bus.handle(),
        SessionConfig::new(page),
        encoded(move |bytes| {
            let _ = tx.send(bytes);
        }),
    )
    .unwrap();
    session
        .receive(encode(&Frame::RequestHead {
            stream: 1,
            method: "GET".into(),
            uri: "app://localhost/gib".into(),
            headers: vec![],
            end_stream: true,
            window: 1 << 20,
        }))
        .unwrap();
    let mut h = Sha256::new();
    let mut len = 0usize;
    loop {
        match decode(rx.recv().unwrap()).unwrap() {
            Frame::ResponseHead { status, .. } => assert_eq!(status, 200),
            Frame::ResponseData { data, .. } => {
                len += data.len();
                h.update(&data);
                session
                    .receive(encode(&Frame::Credit {
                        stream: 1,
                        bytes: data.len() as u32,
                    }))
                    .unwrap();
            }
            Frame::ResponseEnd { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    let growth = peak().saturating_sub(before);
    println!("over frames: 1 GiB, peak RSS growth {} KiB", growth / 1024);
    assert_eq!(len, TOTAL);
    assert_eq!(h.finalize().to_vec(), expected);
    assert!(growth < BUDGET, "peak RSS grew by {growth} bytes");
}
