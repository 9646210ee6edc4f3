//! The cookie suite's app side (issue 15): a login that sets an `HttpOnly` session cookie,
//! routes that record the `Cookie` header each kind of request arrived with (fetch, XHR,
//! navigation, `<img>`, WebSocket upgrade), and the suite's pages ([`pages`]).
//!
//! Mount [`router`] twice: at `/ck` with the bus's default policy (the app's documents
//! only) and at `/ckpub` as a public mount, where anonymous requests and foreign documents
//! arrive, so a test can check that they carry no cookie.

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
                     <script>window.__cookieAtStart = document.cookie;</script>\
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

/// Mounts the suite on `builder`: [`router`] at `/ck` (the bus's default policy) and at
/// `/ckpub` (public), both recording into `jar`, and the pages at `/ck-pages` (public).
/// Load `/ck-pages/index.html`.
pub fn mount(builder: bus_core::BusBuilder, jar: &Jar) -> bus_core::BusBuilder {
    builder
        .mount("/ck", router(jar.clone()))
        .mount_with(bus_core::Mount::new("/ckpub", router(jar.clone())).public())
        .mount_with(
            bus_core::Mount::new("/ck-pages", tower_http::services::ServeDir::new(pages()))
                .public(),
        )
}

/// The checks of the first page's report, the same in every engine: the login's
/// `Set-Cookie` hidden from script, fetch, XHR, `<img>` (on an app-only route and a public
/// one) and the WebSocket upgrade carrying the session and the visible cookie,
/// `document.cookie` showing only the visible one and writing the jar (a page cannot
/// overwrite the `HttpOnly` session), expiry and deletion, an iframe of the app reading and
/// writing the same jar, and a sandboxed `srcdoc` frame
/// getting nothing: it ran and its requests carried no cookie (`srcdoc_runs`), or the host
/// refused to load it at all (WebKitGTK's default navigation policy).
///
/// # Panics
/// On the first difference, with the report.
pub fn check_first_page(r: &serde_json::Value, jar: &Jar, srcdoc_runs: bool) {
    assert!(r["error"].is_null(), "{r}");
    println!("first page: {r}");
    println!("seen: {}", jar.dump());
    println!("document.cookie read: {} ms", r["readMs"]);
    assert_eq!(r["before"], "");
    assert_eq!(r["login"], 200);
    assert!(
        r["loginSetCookieVisible"].is_null(),
        "Set-Cookie reached script: {r}"
    );
    let both = format!("{SESSION}; visible=1");
    assert_eq!(r["fetch"], both.as_str());
    assert_eq!(r["xhr"]["text"], both.as_str());
    assert!(
        !r["xhr"]["headers"]
            .as_str()
            .unwrap_or("")
            .contains("set-cookie")
    );
    assert_eq!(
        r["ws"],
        both.as_str(),
        "the WebSocket upgrade carries the session"
    );
    assert_eq!(jar.of("ws"), vec![Some(both.clone())]);
    // document.cookie: the visible cookie, never the HttpOnly one.
    assert_eq!(r["documentCookie"], "visible=1");
    assert_eq!(r["afterSet"], "visible=1; fromPage=42");
    assert_eq!(r["fetchAfterSet"], format!("{both}; fromPage=42").as_str());
    assert_eq!(
        r["afterForge"],
        format!("{both}; fromPage=42").as_str(),
        "a script cannot overwrite the HttpOnly session"
    );
    assert!(
        r["shortBefore"].as_str().unwrap_or("").contains("short=1"),
        "{r}"
    );
    assert!(
        !r["shortAfter"].as_str().unwrap_or("").contains("short=1"),
        "{r}"
    );
    assert_eq!(r["afterDelete"], "visible=1");
    // An iframe of the app reads and writes the same jar through the top's shim.
    assert_eq!(r["frame"]["read"], "visible=1", "the app iframe: {r}");
    assert_eq!(r["frame"]["afterWrite"], "visible=1; fromFrame=1", "{r}");
    assert_eq!(
        r["fetchAfterFrame"],
        format!("{both}; fromFrame=1").as_str(),
        "the iframe's write reached the jar: {r}"
    );
    // <img>: the engine proves an app page's (Chromium: fetch metadata; WebKitGTK: its
    // navigation policy admits only the app's documents).
    assert_eq!(
        r["/ck/seen/img"], "load",
        "an app-only route serves the app's <img>: {r}"
    );
    assert_eq!(r["/ckpub/seen/img-public"], "load", "{r}");
    assert_eq!(jar.of("img"), vec![Some(both.clone())], "{}", jar.dump());
    assert_eq!(jar.of("img-public"), vec![Some(both)], "{}", jar.dump());
    assert_eq!(
        r["sandboxed"],
        if srcdoc_runs { "done" } else { "timeout" },
        "the sandboxed srcdoc frame: {r}"
    );
    assert!(
        jar.of("sandboxed-fetch").iter().all(Option::is_none)
            && jar.of("img-sandboxed").iter().all(Option::is_none),
        "a sandboxed frame got the app's cookies: {}",
        jar.dump()
    );
}

/// The checks of the page after the navigation, the same in every engine: the navigation
/// (to a public page) was the app's and carried the session; the page's first (inline)
/// script already reads the visible cookie (the shim read the jar at install), as do
/// later ones; then it logs out.
///
/// # Panics
/// On the first difference, with the report.
pub fn check_after_navigation(after: &serde_json::Value, jar: &Jar) {
    println!("after navigation: {after}");
    assert_eq!(
        jar.of("nav"),
        vec![Some(format!("{SESSION}; visible=1"))],
        "{}",
        jar.dump()
    );
    assert!(after["error"].is_null(), "{after}");
    assert_eq!(
        after["documentCookieAtStart"], "visible=1",
        "document.cookie in the page's first (inline) script: {after}"
    );
    assert_eq!(after["documentCookie"], "visible=1");
    assert_eq!(after["logout"], 200);
    assert_eq!(after["afterLogout"], "visible=1");
}
