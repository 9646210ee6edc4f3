//! The Web Worker suite's app side (issue 15): routes a worker's requests exercise — a body
//! whose SHA-256 the handler checks, an endless download that notes when its body is
//! dropped, server-sent events, an echo for XHR, and the caller identity the bus stamped —
//! and the suite's pages ([`pages`]): an app page that runs the same cases in a classic
//! worker of the app, a module worker, and a worker made from a `blob:` URL; a sandboxed
//! (foreign) frame whose worker tries the same routes.
//!
//! Mount [`router`] at `/wk` with the bus's default policy (the app's documents only) and
//! again at `/wkpub` as a public mount, where a foreign document's requests can arrive, so a
//! test can see which identity they carried. The WebSocket case uses
//! [`crate::websocket::router`]'s unchanged echo handler (mount it at `/wsd`). Handlers log
//! to a [`Seen`]: `{who} upload {len} {sha256}` (`{who} upload dropped after {n}` when
//! cancelled), `{who} stream dropped after {n}`,
//! `{who} events`, `{who} caller {json}`.

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Deserialize;
use sha2::Digest;

pub use crate::websocket::Seen;

/// The suite's pages (mount public at `/wk-pages`).
pub fn pages() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pages/workers")
}

/// The upload the workers send: 16 MiB of byte k = k % 251.
pub const UPLOAD_LEN: usize = 16 << 20;

/// SHA-256 (hex) of `n` bytes of the pattern byte k = k % 251.
pub fn pattern_sha256(n: usize) -> String {
    let mut hasher = sha2::Sha256::new();
    let block: Vec<u8> = (0..251 * 4096).map(|k| (k % 251) as u8).collect();
    let mut left = n;
    while left > 0 {
        let take = left.min(block.len());
        hasher.update(&block[..take]);
        left -= take;
    }
    crate::conformance::hex(&hasher.finalize())
}

#[derive(Deserialize)]
struct Who {
    #[serde(default)]
    who: String,
}

/// The worker suites' mounts, for both engines: `/wk` (`router`, bodies up to 64 MiB),
/// `/wkpub` (`router`, public: what an anonymous worker reaches), `/wsd` (the WebSocket
/// suite's handlers, prefix kept) and `/wk-pages` (these pages, public).
pub fn mount(builder: bus_core::BusBuilder, seen: &Seen) -> bus_core::BusBuilder {
    use bus_core::Mount;
    builder
        .mount_with(Mount::new("/wk", router(seen.clone())).max_body(Some(64 << 20)))
        .mount_with(Mount::new("/wkpub", router(seen.clone())).public())
        .mount_with(Mount::new("/wsd", crate::websocket::router(seen.clone())).keep_prefix())
        .mount_with(Mount::new("/wk-pages", tower_http::services::ServeDir::new(pages())).public())
}

/// `POST /upload?who=`, `GET /started?who=` (whether that upload's handler has begun:
/// `yes`/`no`), `GET /stream?who=`, `GET /events?who=`, `POST /echo`, `GET /caller?who=`.
pub fn router(seen: Seen) -> Router {
    Router::new()
        .route("/upload", post(upload))
        .route("/started", get(started))
        .route("/stream", get(stream))
        .route("/events", get(events))
        .route("/echo", post(echo))
        .route("/caller", get(caller))
        .with_state(seen)
}

async fn started(State(seen): State<Seen>, Query(q): Query<Who>) -> &'static str {
    if seen
        .of(&q.who)
        .iter()
        .any(|l| l.ends_with(" upload started"))
    {
        "yes"
    } else {
        "no"
    }
}

/// Notes `{who} upload dropped after {n}` when an upload's handler is dropped before it
/// answered (its stream was cancelled: the bus aborts the handler).
struct Unfinished {
    seen: Seen,
    who: String,
    len: usize,
    answered: bool,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.answered {
            self.seen
                .push(format!("{} upload dropped after {}", self.who, self.len));
        }
    }
}

/// Reads the whole body, answers `{len, sha256}`.
async fn upload(State(seen): State<Seen>, Query(q): Query<Who>, req: Request) -> Response {
    seen.push(format!("{} upload started", q.who));
    let mut hasher = sha2::Sha256::new();
    let mut guard = Unfinished {
        seen: seen.clone(),
        who: q.who.clone(),
        len: 0,
        answered: false,
    };
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    guard.len += data.len();
                    hasher.update(data);
                }
            }
            Err(e) => {
                guard.answered = true;
                seen.push(format!("{} upload failed {e}", q.who));
                return (http::StatusCode::BAD_REQUEST, format!("body failed: {e}"))
                    .into_response();
            }
        }
    }
    guard.answered = true;
    let len = guard.len;
    let sha = crate::conformance::hex(&hasher.finalize());
    seen.push(format!("{} upload {len} {sha}", q.who));
    axum::Json(serde_json::json!({ "len": len, "sha256": sha })).into_response()
}

/// Notes, when dropped, how much of an endless body was produced.
struct Dropped {
    seen: Seen,
    who: String,
    sent: usize,
}

impl Drop for Dropped {
    fn drop(&mut self) {
        self.seen
            .push(format!("{} stream dropped after {}", self.who, self.sent));
    }
}

/// 64 KiB chunks for as long as someone reads (at most 1 GiB); notes its end.
async fn stream(State(seen): State<Seen>, Query(q): Query<Who>) -> Response {
    let (tx, body) = bus_core::Body::channel(1);
    seen.push(format!("{} stream open", q.who));
    tokio::spawn(async move {
        let mut guard = Dropped {
            seen,
            who: q.who,
            sent: 0,
        };
        let chunk = Bytes::from(vec![b'x'; 64 << 10]);
        while guard.sent < 1 << 30 {
            if tx.send(chunk.clone()).await.is_err() {
                return;
            }
            guard.sent += chunk.len();
        }
    });
    Response::builder()
        .header("content-type", "application/octet-stream")
        .header("cache-control", "no-store")
        .body(AxumBody::new(body))
        .expect("valid response")
}

/// Three events 20 ms apart, then the stream stays open until the client leaves.
async fn events(State(seen): State<Seen>, Query(q): Query<Who>) -> Response {
    seen.push(format!("{} events", q.who));
    let (tx, body) = bus_core::Body::channel(1);
    tokio::spawn(async move {
        for i in 0..3 {
            let event = format!("id: {i}\ndata: event {i}\n\n");
            if tx.send(Bytes::from(event)).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        while !tx.is_closed() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-store")
        .body(AxumBody::new(body))
        .expect("valid response")
}

/// The method and body, as `{method} {body}`.
async fn echo(req: Request) -> Response {
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    format!("{method} {}", String::from_utf8_lossy(&body)).into_response()
}

/// The caller the bus stamped on the request, as JSON `{origin, frame, transport}`.
async fn caller(State(seen): State<Seen>, Query(q): Query<Who>, req: Request) -> Response {
    let c = req.extensions().get::<bus_core::Caller>();
    let value = serde_json::json!({
        "origin": c.and_then(|c| c.origin()),
        "frame": c.map(|c| format!("{:?}", c.frame())),
        "transport": c.map(|c| format!("{:?}", c.transport())),
        "anonymous": c.is_none_or(bus_core::Caller::is_anonymous),
    });
    seen.push(format!("{} caller {value}", q.who));
    axum::Json(value).into_response()
}

/// Checks the suite's first report (`index.html`) and what the handlers saw, the same for
/// every engine: each worker kind (classic, module, blob) reached the bus with the page's
/// caller identity (and so did a worker each of them created), uploaded 16 MiB intact,
/// cancelled a download (whose handler saw its body dropped), read server-sent events,
/// echoed through the WebSocket handler, and used XHR; a terminated worker's download
/// ended; the sandboxed frame's worker reached no app-only route and carried no identity
/// to the public one.
///
/// # Panics
/// On the first check that fails, naming it.
pub fn check(r: &serde_json::Value, seen: &Seen) {
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["errors"], serde_json::json!([]), "worker errors");
    assert_eq!(r["isWorker"], true, "a wrapped worker is a Worker");
    assert_eq!(r["page"]["status"], 200, "{}", r["page"]);
    let page = &r["page"]["body"];
    assert_eq!(page["anonymous"], false, "{page}");
    assert_eq!(page["transport"], "Frames", "{page}");
    let sha = pattern_sha256(UPLOAD_LEN);
    assert_eq!(
        r["pageUpload"]["sha256"],
        sha.as_str(),
        "{}",
        r["pageUpload"]
    );
    for kind in ["classic", "module", "blob"] {
        let w = &r[kind];
        assert_eq!(
            w["env"]["shim"], true,
            "{kind}: the shim is in the worker: {w}"
        );
        assert_eq!(w["env"]["kind"], kind, "{w}");
        assert_eq!(
            w["env"]["helper"], "helper.js ran",
            "{kind}: its imports ran: {w}"
        );
        // The identity the handler saw is exactly the page's.
        assert_eq!(w["caller"]["status"], 200, "{kind}: {w}");
        assert_eq!(&w["caller"]["body"], page, "{kind}: the worker is the page");
        // 16 MiB, intact.
        assert_eq!(w["upload"]["status"], 200, "{kind}: {}", w["upload"]);
        assert_eq!(w["upload"]["len"], UPLOAD_LEN, "{kind}");
        assert_eq!(w["upload"]["sha256"], sha.as_str(), "{kind}");
        assert_eq!(
            seen.of(&format!("upload-{kind}")),
            vec![
                format!("upload-{kind} upload started"),
                format!("upload-{kind} upload {UPLOAD_LEN} {sha}")
            ]
        );
        // The cancelled download: the handler's body was dropped.
        assert_eq!(w["cancel"]["status"], 200, "{kind}: {}", w["cancel"]);
        assert!(w["cancel"]["got"].as_u64().unwrap_or(0) >= 256 << 10, "{w}");
        let cancel = seen.of(&format!("cancel-{kind}"));
        assert!(
            cancel.iter().any(|l| l.contains("stream dropped after")),
            "{kind}: the handler's body was not dropped: {cancel:?}"
        );
        assert_eq!(
            w["events"]["got"],
            serde_json::json!(["event 0#0", "event 1#1", "event 2#2"]),
            "{kind}: {}",
            w["events"]
        );
        assert_eq!(w["events"]["readyState"], 2);
        assert_eq!(
            w["ws"]["events"],
            serde_json::json!([
                "open",
                format!("text hello from ws-{kind}"),
                "binary 1,2,3",
                "close 1000"
            ]),
            "{kind}"
        );
        assert_eq!(
            seen.of(&format!("ws-{kind}")),
            vec![
                format!("ws-{kind} open"),
                format!("ws-{kind} close 1000 bye")
            ],
        );
        assert_eq!(
            w["xhr"]["post"],
            serde_json::json!({"status": 200, "text": "POST from xhr"}),
            "{kind}"
        );
        assert_eq!(
            &w["xhr"]["caller"]["body"], page,
            "{kind}: XHR is the page too"
        );
    }
    // A blob: script without a type runs too (WebKit's importScripts would refuse it).
    assert_eq!(r["untyped"]["env"]["shim"], true, "{}", r["untyped"]);
    assert_eq!(&r["untyped"]["caller"]["body"], page, "{}", r["untyped"]);
    // Relative URLs and self.location follow the original script, not the blob wrapper.
    let classic_at = r["classic"]["env"]["location"].as_str().unwrap_or_default();
    assert!(classic_at.ends_with("/wk-pages/worker.js"), "{classic_at}");
    assert_eq!(r["classic"]["env"]["locationHref"], classic_at);
    assert!(
        r["module"]["env"]["location"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/wk-pages/worker.mjs"),
        "{}",
        r["module"]["env"]
    );
    assert!(
        r["blob"]["env"]["location"]
            .as_str()
            .unwrap_or_default()
            .starts_with("blob:"),
        "{}",
        r["blob"]["env"]
    );
    // terminate() ended the worker's download on the bus.
    assert_eq!(r["doomedHold"], "holding");
    // Service workers cannot register on the app origin in these engines.
    assert_ne!(r["serviceWorker"], "registered", "{}", r["serviceWorker"]);
    // The foreign frame's worker: refused by the app-only routes before any handler ran,
    // anonymous on the public one.
    let foreign = &r["foreign"];
    for who in ["foreign-app", "foreign-upload"] {
        assert!(
            seen.of(who).is_empty(),
            "{who} reached an app-only handler: {:?} ({foreign})",
            seen.of(who)
        );
    }
    for line in seen.of("foreign-pub") {
        assert!(
            line.contains(r#""anonymous":true"#),
            "the foreign worker carried an identity: {line}"
        );
    }
}

/// Checks a back/forward-cache round trip of `bfcache.html` (its `open` and `back`
/// reports): the worker's held download ended on the bus when the page left; if the
/// engine restored the page from the cache, the download failed in the worker (its
/// session is gone) and a new request from the worker reached the bus as the page. Returns
/// a summary line.
///
/// # Panics
/// On the first check that fails.
pub fn check_bfcache(open: &serde_json::Value, back: &serde_json::Value, seen: &Seen) -> String {
    assert_eq!(open["phase"], "open", "{open}");
    assert_eq!(open["hold"], "holding", "{open}");
    assert!(
        seen.of("bf-held").iter().any(|l| l.contains("dropped")),
        "the held download did not end: {:?}",
        seen.of("bf-held")
    );
    assert_eq!(back["phase"], "back", "{back}");
    if back["persisted"] != true {
        return format!("not restored from the back/forward cache (loaded fresh): {back}");
    }
    assert!(
        back["held"]["failed"].is_string(),
        "the old session's download must fail in the worker: {back}"
    );
    assert_eq!(back["after"]["status"], 200, "{back}");
    assert_eq!(back["after"]["body"]["anonymous"], false, "{back}");
    format!(
        "restored; the held download failed with {}; a new request went through",
        back["held"]["failed"]
    )
}

/// Checks `closing.html`'s report and waits (up to 10 s) for what the handlers saw: a
/// worker that closed itself with a download open (its engine `close` being the global's
/// own, which the shim replaced: no prototype holds another) had that download dropped on
/// the bus; a worker terminated once its 32 MiB upload reached the handler had that handler dropped
/// (or its body fail); the page's session relays nothing afterwards.
///
/// # Panics
/// On the first check that fails, naming it.
pub fn check_closing(r: &serde_json::Value, seen: &Seen) {
    assert_eq!(r["error"], serde_json::Value::Null, "{r}");
    assert_eq!(r["close"], "holding undefined undefined", "{r}");
    assert_eq!(r["upload"], "uploading", "{r}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let ended = |l: &String| {
        l.starts_with("protoclose stream dropped")
            || l.starts_with("termupload upload dropped")
            || l.starts_with("termupload upload failed")
    };
    while seen.lines().iter().filter(|l| ended(l)).count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "a worker's stream still open on the bus after it ended: {:?}",
            seen.lines()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(r["relayed"], 0, "{r}");
}

/// Checks `forge.html`'s report: a worker of the app that took its shim's port sent 1,280
/// raw frames (Cancel, Credit, RequestData, RequestEnd, ResponseHead for ids 1..256) while
/// the page read a download; the page read 2 MiB of it intact (no forged frame reached its
/// stream) and its next request went through as the app.
///
/// # Panics
/// On the first check that fails, naming it.
pub fn check_forge(r: &serde_json::Value, seen: &Seen) {
    assert_eq!(r["error"], serde_json::Value::Null, "{r}");
    assert_eq!(r["forger"]["port"], true, "{r}");
    assert_eq!(r["forger"]["sent"], 1280, "{r}");
    assert!(r["victim"].as_u64().is_some_and(|n| n >= 2 << 20), "{r}");
    assert!(
        seen.lines().iter().any(|l| l.starts_with("after caller")),
        "{:?}",
        seen.lines()
    );
    assert!(r["after"].is_string(), "{r}");
}
