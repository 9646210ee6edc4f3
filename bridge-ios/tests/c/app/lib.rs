//! The test app the C tests link (`libtest_app.a`): what an app's own crate does — build
//! a `Bus` with its handlers and hand it to bridge-ios — plus counters the C side reads
//! to see what the handlers did (how far a producer got, whether a handler was dropped).
//!
//! Built by `bridge-ios/scripts/test-c.sh` with
//! `cargo build -p bridge-ios --example test_app`.
//!
//! Routes (app origin `app://localhost`):
//! - `GET /hello`: `hello from the bus`, with the caller the bus saw in `x-caller-origin`,
//!   `x-caller-frame` and `x-caller-transport`.
//! - `* /echo`: the request body streamed back as it arrives (not collected), with the
//!   method in `x-method`.
//! - `GET /large?bytes=N`: N bytes generated on the fly in 64 KiB chunks through a
//!   one-chunk channel; byte `i` is `i % 251`. [`test_app_produced_bytes`] counts what
//!   the producer has handed over.
//! - `* /hang`: never answers and never reads its body; counts its start and its drop.
//! - `GET /drip`: answers at once with one chunk, then never ends; counts when its
//!   producer sees the body dropped.
//! - `POST /drop-body`: answers 200 without reading the body.
//! - `GET /fail`: one chunk, then the body fails.
//! - `GET /main-only`: allowed only for the app origin's main frame.
//! - anything else: the bus's 404.

use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bus_core::{Body, BoxError, Bus, Caller, Mount, Policy};
use bytes::Bytes;
use http::{Request, Response};

static APP: Mutex<Option<Bus>> = Mutex::new(None);
static PRODUCED: AtomicU64 = AtomicU64::new(0);
static HANG_STARTED: AtomicU64 = AtomicU64::new(0);
static HANG_DROPPED: AtomicU64 = AtomicU64::new(0);
static DRIP_DROPPED: AtomicU64 = AtomicU64::new(0);

const ORIGIN: &str = "app://localhost";
const CHUNK: usize = 64 * 1024;

fn build() -> Bus {
    Bus::builder()
        .app_origin(ORIGIN)
        .mount("/hello", tower::service_fn(hello))
        .mount("/echo", tower::service_fn(echo))
        .mount("/large", tower::service_fn(large))
        .mount("/hang", tower::service_fn(hang))
        .mount("/drip", tower::service_fn(drip))
        .mount("/drop-body", tower::service_fn(drop_body))
        .mount("/fail", tower::service_fn(fail))
        .mount_with(
            Mount::new("/main-only", tower::service_fn(hello))
                .policy(Policy::origins([ORIGIN]).and(Policy::main_frame_only())),
        )
        .build()
}

/// Starts the app's bus (once; later calls return the same handle) and registers a
/// handle to it; the app keeps the `Bus` until [`test_app_shutdown`].
#[unsafe(no_mangle)]
pub extern "C" fn test_app_start() -> u64 {
    static ID: Mutex<Option<u64>> = Mutex::new(None);
    let mut id = ID.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(id) = *id {
        return id;
    }
    let bus = build();
    let registered = bridge_ios::register_handle(bus.handle()).get();
    *APP.lock().unwrap_or_else(|e| e.into_inner()) = Some(bus);
    *id = Some(registered);
    registered
}

/// Builds another bus and hands it over whole (`bridge_ios::register`): releasing its
/// handle shuts it down.
#[unsafe(no_mangle)]
pub extern "C" fn test_app_start_owned() -> u64 {
    bridge_ios::register(build()).get()
}

/// Drops the app's bus (shutting it down); its registered handle then answers
/// `BUS_IOS_CLOSED`.
#[unsafe(no_mangle)]
pub extern "C" fn test_app_shutdown() {
    let bus = APP.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(bus);
}

/// Bytes the `/large` producers have handed to their body channels so far.
#[unsafe(no_mangle)]
pub extern "C" fn test_app_produced_bytes() -> u64 {
    PRODUCED.load(Ordering::SeqCst)
}

/// `/hang` handlers started.
#[unsafe(no_mangle)]
pub extern "C" fn test_app_hang_started() -> u64 {
    HANG_STARTED.load(Ordering::SeqCst)
}

/// `/hang` handlers dropped (cancelled).
#[unsafe(no_mangle)]
pub extern "C" fn test_app_hang_dropped() -> u64 {
    HANG_DROPPED.load(Ordering::SeqCst)
}

/// `/drip` producers that saw their body dropped.
#[unsafe(no_mangle)]
pub extern "C" fn test_app_drip_dropped() -> u64 {
    DRIP_DROPPED.load(Ordering::SeqCst)
}

async fn hello(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let caller = req.extensions().get::<Caller>();
    let origin = caller.and_then(Caller::origin).unwrap_or("").to_owned();
    let frame = caller
        .map(|c| format!("{:?}", c.frame()))
        .unwrap_or_default();
    let transport = caller
        .map(|c| format!("{:?}", c.transport()))
        .unwrap_or_default();
    Ok(Response::builder()
        .header("content-type", "text/plain")
        .header("x-caller-origin", origin)
        .header("x-caller-frame", frame)
        .header("x-caller-transport", transport)
        .body(Body::from("hello from the bus"))
        .expect("valid response"))
}

async fn echo(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let method = req.method().to_string();
    Ok(Response::builder()
        .header("x-method", method)
        .body(req.into_body())
        .expect("valid response"))
}

async fn large(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let total: u64 = req
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("bytes="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1 << 20);
    // One block a little longer than a chunk: every chunk is a slice of it (no copy), at
    // the offset that keeps byte `i` of the body equal to `i % 251`.
    let block: Bytes = (0..CHUNK + 251).map(|i| (i % 251) as u8).collect();
    let (tx, body) = Body::channel_with_len(1, total);
    tokio::spawn(async move {
        let mut sent = 0u64;
        while sent < total {
            let n = (total - sent).min(CHUNK as u64) as usize;
            let start = (sent % 251) as usize;
            if tx.send(block.slice(start..start + n)).await.is_err() {
                return; // the reader is gone
            }
            sent += n as u64;
            PRODUCED.fetch_add(n as u64, Ordering::SeqCst);
        }
    });
    Ok(Response::new(body))
}

struct CountDrop(&'static AtomicU64);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn hang(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    HANG_STARTED.fetch_add(1, Ordering::SeqCst);
    let _dropped = CountDrop(&HANG_DROPPED);
    let _body = req; // held, never read: the upload queue fills
    std::future::pending::<()>().await;
    unreachable!("pending never completes")
}

async fn drip(_req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let (tx, body) = Body::channel(1);
    tokio::spawn(async move {
        let _dropped = CountDrop(&DRIP_DROPPED);
        if tx.send(Bytes::from_static(b"tick")).await.is_ok() {
            tx.closed().await;
        }
    });
    Ok(Response::new(body))
}

async fn drop_body(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    drop(req);
    Ok(Response::new(Body::from("ignored")))
}

async fn fail(_req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let (tx, body) = Body::channel(2);
    tokio::spawn(async move {
        if tx.send(Bytes::from_static(b"partial")).await.is_ok() {
            tx.abort(BoxError::from("disk on fire")).await;
        }
    });
    Ok(Response::new(body))
}
