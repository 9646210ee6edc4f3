//! The cookie suite's app side (issue 15): a login that sets an `HttpOnly` session cookie,
//! routes that record the `Cookie` header each kind of request arrived with (fetch, XHR,
//! navigation, `<img>`, WebSocket upgrade), and the suite's pages ([`pages`]).
//!
//! Mount [`router`] twice: at `/ck` with the bus's default policy (the app's documents
//! only) and at `/ckpub` as a public mount, where anonymous requests (an `<img>` WebKitGTK
//! sends with nothing that proves its document) and foreign documents arrive, so a test can
//! check that they carry no cookie.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{AppendHeaders, Html, IntoResponse};
use axum::routing::{get, post};

/// The `Cookie` header each request kind arrived with (`None`: no header), in order.
#[derive(Clone, Debug, Default)]
pub struct Jar(Arc<Mutex<BTreeMap<String, Vec<Option<String>>>>>);

impl Jar {
    fn push(&self, kind: &str, headers: &HeaderMap) {
        let cookie = headers
            .get("cookie")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind.to_owned())
            .or_default()
            .push(cookie);
    }

    /// What requests of `kind` carried, in order.
    pub fn of(&self, kind: &str) -> Vec<Option<String>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(kind)
            .cloned()
            .unwrap_or_default()
    }

    /// Everything seen, as JSON (for failure messages).
    pub fn dump(&self) -> String {
        format!("{:?}", self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The session cookie the login sets (`HttpOnly`).
pub const SESSION: &str = "sid=s3cret-session";

/// The suite's pages (mount public at `/ck-pages`).
pub fn pages() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pages/cookies")
}

const PIXEL: &str = "<svg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/>";

/// The suite's routes: `POST /login`, `POST /logout`, `GET /seen/{kind}` (records, answers
/// the header as text; `img` kinds answer an SVG), `GET /nav` (a page that records and
/// runs `after.js`), `GET /ws` (a WebSocket that records the upgrade's cookie and sends it).
pub fn router(jar: Jar) -> Router {
    Router::new()
        .route(
            "/login",
            post(|| async {
                (
                    AppendHeaders([
                        (
                            "set-cookie",
                            format!("{SESSION}; Path=/; HttpOnly; SameSite=Lax"),
                        ),
                        ("set-cookie", "visible=1; Path=/".to_owned()),
                    ]),
                    "welcome",
                )
            }),
        )
        .route(
            "/logout",
            post(|| async { ([("set-cookie", "sid=; Path=/; Max-Age=0")], "bye") }),
        )
        .route(
            "/seen/{kind}",
            get(
                |State(jar): State<Jar>, Path(kind): Path<String>, headers: HeaderMap| async move {
                    jar.push(&kind, &headers);
                    let cookie = headers
                        .get("cookie")
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                        .unwrap_or_default();
                    if kind.starts_with("img") {
                        ([("content-type", "image/svg+xml")], PIXEL.to_owned()).into_response()
                    } else {
                        cookie.into_response()
                    }
                },
            ),
        )
        .route(
            "/nav",
            get(|State(jar): State<Jar>, headers: HeaderMap| async move {
                jar.push("nav", &headers);
                Html(
                    "<!doctype html><title>after</title>\
                     <script src=\"/ck-pages/after.js\"></script>",
                )
            }),
        )
        .route(
            "/ws",
            get(
                |State(jar): State<Jar>, headers: HeaderMap, ws: WebSocketUpgrade| async move {
                    jar.push("ws", &headers);
                    let cookie = headers
                        .get("cookie")
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                        .unwrap_or_default();
                    ws.on_upgrade(move |mut socket| async move {
                        let _ = socket.send(Message::Text(cookie.into())).await;
                        let _ = socket.recv().await;
                    })
                },
            ),
        )
        .with_state(jar)
}
