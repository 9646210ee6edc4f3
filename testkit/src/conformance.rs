//! The `/conf` routes of the conformance suite (see `bridge-js/src/conformance`).
//!
//! The same router is mounted on the bus and served on localhost, so a case run through
//! the shim and through the browser's own fetch/XHR must observe the same thing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use bus_core::Body;
use bytes::Bytes;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Counts `/conf/hang` handlers that were dropped (cancelled) so far.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Dropped `/conf/hang` handlers.
    pub cancelled: Arc<AtomicUsize>,
    /// `/conf/bytes` producers that stopped because the reader went away.
    pub abandoned: Arc<AtomicUsize>,
}

/// The conformance routes on the bus: [`router`] at `/conf` (`keep_prefix`), with no body
/// limit and no timeout (the cases stream GiBs and hold requests open on purpose).
pub fn mount(counters: Counters) -> bus_core::Mount {
    bus_core::Mount::new("/conf", router(counters))
        .keep_prefix()
        .max_body(None)
        .timeout(None)
}

/// The conformance router. Routes are absolute (`/conf/...`): mount it at `/` with
/// `keep_prefix`, or serve it as is.
pub fn router(counters: Counters) -> Router {
    Router::new()
        .route("/conf/text", get(|| async { text("hello") }))
        .route(
            "/conf/json",
            get(|| async { axum::Json(serde_json::json!({ "ok": true, "n": 42 })) }),
        )
        .route("/conf/bytes", get(bytes))
        .route("/conf/sha256", post(sha256))
        .route("/conf/echo", post(echo).put(echo))
        .route("/conf/headers", get(request_headers))
        .route("/conf/status/{code}", get(status).post(status))
        .route("/conf/redirect/{code}", get(redirect).post(redirect))
        .route("/conf/slow", get(slow).post(slow))
        .route("/conf/stream", get(stream))
        .route("/conf/sse", get(sse))
        .route("/conf/hang", get(hang))
        .route(
            "/conf/cancelled",
            get(|State(c): State<Counters>| async move {
                text(c.cancelled.load(Ordering::SeqCst).to_string())
            }),
        )
        .route("/conf/multipart", post(multipart))
        .route("/conf/multi-header", get(multi_header))
        .route("/conf/raw", get(raw))
        .route("/conf/sort-headers", get(sort_headers))
        .route("/conf/combine", get(combine))
        .route("/conf/auth", get(auth))
        .fallback(any(|method: Method, uri: axum::http::Uri| async move {
            if method == Method::OPTIONS {
                StatusCode::NO_CONTENT.into_response()
            } else {
                (
                    StatusCode::NOT_FOUND,
                    format!("no conformance route {uri}\n"),
                )
                    .into_response()
            }
        }))
        // Cross-origin callers (the localhost comparison run from an app:// page) need
        // preflights answered on every route and every response header exposed.
        .layer(
            tower_http::cors::CorsLayer::permissive().max_age(std::time::Duration::from_secs(600)),
        )
        .layer(axum::extract::DefaultBodyLimit::max(256 << 20))
        .with_state(counters)
}

fn text(body: impl Into<String>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain;charset=utf-8")],
        body.into(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct N {
    n: Option<usize>,
}

/// `len` bytes of the `/conf/bytes` pattern starting at `offset` (byte k is k % 251).
fn pattern(offset: usize, len: usize) -> Bytes {
    Bytes::from(
        (offset..offset + len)
            .map(|k| (k % 251) as u8)
            .collect::<Vec<u8>>(),
    )
}

async fn bytes(State(c): State<Counters>, Query(q): Query<N>) -> Response {
    let n = q.n.unwrap_or(1024).min(4 << 30);
    let (tx, body) = Body::channel_with_len(4, n as u64);
    tokio::spawn(async move {
        let mut i = 0usize;
        while i < n {
            let len = (n - i).min(64 * 1024);
            let chunk = pattern(i, len);
            if tx.send(chunk).await.is_err() {
                c.abandoned.fetch_add(1, Ordering::SeqCst);
                return;
            }
            i += len;
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, n)
        .body(AxumBody::new(body))
        .expect("valid response")
}

/// The SHA-256 of the request body, hashed as it streams in (never buffered whole).
async fn sha256(body: AxumBody) -> Response {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    len += data.len() as u64;
                    hasher.update(data);
                }
            }
            Err(e) => {
                return (StatusCode::BAD_REQUEST, format!("body failed: {e}\n")).into_response();
            }
        }
    }
    axum::Json(serde_json::json!({ "sha256": hex(&hasher.finalize()), "length": len }))
        .into_response()
}

async fn echo(method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static(""));
    let mut response = Response::new(AxumBody::from(body.clone()));
    let h = response.headers_mut();
    if !kind.is_empty() {
        h.insert(header::CONTENT_TYPE, kind.clone());
    }
    h.insert(
        "x-echo-method",
        HeaderValue::from_str(method.as_str()).expect("a method is a value"),
    );
    h.insert("x-echo-content-type", kind);
    h.insert("x-echo-length", HeaderValue::from(body.len()));
    response
}

async fn request_headers(headers: HeaderMap) -> impl IntoResponse {
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into(),
            )
        })
        .collect();
    axum::Json(map)
}

async fn status(Path(code): Path<u16>) -> Response {
    match StatusCode::from_u16(code) {
        Ok(status) => (status, text(format!("status {code}"))).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, format!("not a status: {code}\n")).into_response(),
    }
}

#[derive(Deserialize)]
struct To {
    to: Option<String>,
    unread: Option<String>,
}

/// Answers a redirect; a request body is read first (a server that answers before reading
/// an upload makes engines fail it when it closes the connection: not what is compared),
/// unless `unread` is given (the bus: an answer before the body has come).
async fn redirect(Path(code): Path<u16>, Query(q): Query<To>, body: AxumBody) -> Response {
    use http_body_util::BodyExt;
    if q.unread.is_none() {
        let _ = body.collect().await;
    }
    let Ok(status) = StatusCode::from_u16(code) else {
        return (StatusCode::BAD_REQUEST, format!("not a status: {code}\n")).into_response();
    };
    let to = q.to.unwrap_or_else(|| "/conf/text".into());
    Response::builder()
        .status(status)
        .header(header::LOCATION, to)
        .body(AxumBody::empty())
        .expect("valid response")
}

#[derive(Deserialize)]
struct Ms {
    ms: Option<u64>,
    chunks: Option<usize>,
}

async fn slow(Query(q): Query<Ms>) -> Response {
    tokio::time::sleep(Duration::from_millis(q.ms.unwrap_or(100).min(60_000))).await;
    text("slow")
}

async fn stream(Query(q): Query<Ms>) -> Response {
    let chunks = q.chunks.unwrap_or(5).min(10_000);
    let ms = q.ms.unwrap_or(100).min(10_000);
    let (tx, body) = Body::channel(1);
    tokio::spawn(async move {
        for i in 0..chunks {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            if tx.send(Bytes::from(format!("chunk {i}\n"))).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain;charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(AxumBody::new(body))
        .expect("valid response")
}

async fn sse(Query(q): Query<N>, headers: HeaderMap) -> Response {
    let n = q.n.unwrap_or(3).min(1000);
    let after: usize = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut out = String::from("retry: 50\n\n");
    for id in after + 1..=n {
        if id % 2 == 0 {
            out.push_str("event: tick\n");
        }
        out.push_str(&format!("id: {id}\ndata: event {id}\n\n"));
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .body(AxumBody::from(out))
        .expect("valid response")
}

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn hang(State(c): State<Counters>) -> Response {
    let _count = DropCount(c.cancelled.clone());
    std::future::pending::<()>().await;
    text("never")
}

async fn multipart(mut form: Multipart) -> Response {
    let mut fields = serde_json::Map::new();
    let mut files = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return (StatusCode::BAD_REQUEST, format!("bad multipart: {e}\n")).into_response();
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        let filename = field.file_name().map(str::to_owned);
        let kind = field.content_type().map(str::to_owned);
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(e) => {
                return (StatusCode::BAD_REQUEST, format!("bad multipart: {e}\n")).into_response();
            }
        };
        match filename {
            Some(filename) => files.push(serde_json::json!({
                "name": name,
                "filename": filename,
                "type": kind.unwrap_or_default(),
                "size": data.len(),
                "sha256": hex(&Sha256::digest(&data)),
            })),
            None => {
                fields.insert(name, String::from_utf8_lossy(&data).into());
            }
        }
    }
    axum::Json(serde_json::json!({ "fields": fields, "files": files })).into_response()
}

async fn multi_header() -> Response {
    Response::builder()
        .header("x-multi", "a")
        .header("x-multi", "b")
        .header(header::CONTENT_TYPE, "text/plain; charset=iso-8859-1")
        .body(AxumBody::from("multi"))
        .expect("valid response")
}

#[derive(Deserialize)]
struct Raw {
    ct: Option<String>,
    hex: Option<String>,
}

/// Exactly the bytes of `hex`, with `Content-Type: ct` (none without `ct`): for decoding cases.
async fn raw(Query(q): Query<Raw>) -> Response {
    let hex = q.hex.unwrap_or_default();
    let bytes: Option<Vec<u8>> = (hex.len() % 2 == 0)
        .then(|| {
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .flatten();
    let Some(bytes) = bytes else {
        return (StatusCode::BAD_REQUEST, "hex: pairs of hex digits\n").into_response();
    };
    let mut response = Response::new(AxumBody::from(bytes));
    if let Some(ct) = q.ct {
        match HeaderValue::from_str(&ct) {
            Ok(v) => {
                response.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            Err(_) => {
                return (StatusCode::BAD_REQUEST, "ct: not a header value\n").into_response();
            }
        }
    }
    response
}

/// Names whose order differs between lower- and upper-cased sorting (as in bridge-js's
/// `test/support/conf-routes.mjs`).
const SORT_HEADERS: [&str; 5] = ["x-s-a~", "x-s-a_", "x-s-ab", "x-s-a^", "x-s-aa"];

async fn sort_headers() -> Response {
    let mut response = text("");
    for name in SORT_HEADERS {
        response.headers_mut().append(
            header::HeaderName::from_static(name),
            HeaderValue::from_static("1"),
        );
    }
    response
}

/// Repeats, empty values and values with white space at their edges.
const COMBINE_HEADERS: [(&str, &str); 10] = [
    ("x-empty", ""),
    ("x-empty", ""),
    ("x-some", ""),
    ("x-some", "1"),
    ("x-some", "  "),
    ("x-some", "2"),
    ("x-pad", " a "),
    ("x-pad", "\tb\t"),
    ("x-list", "a,b"),
    ("x-list", " c ,  d"),
];

async fn combine() -> Response {
    let mut response = text("");
    for (name, value) in COMBINE_HEADERS {
        response.headers_mut().append(
            header::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

/// 401 with a Basic challenge without `Authorization`; with it, 200 and its value.
async fn auth(headers: HeaderMap) -> Response {
    match headers.get(header::AUTHORIZATION) {
        Some(v) => text(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"conf\"")],
            "who are you?",
        )
            .into_response(),
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The conformance page (`testkit/pages/conformance/index.html`), for a test to mount
/// (public) next to bridge-js's `dist` at `/__bjs` ([`bridge_js_dist`]) and a
/// [`crate::report`] mount; load `<mount>/index.html?port=<the localhost twin's port>`.
/// It runs every case through the shim against the bus and through the engine's own APIs
/// against the twin, and reports the comparison.
pub fn pages() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pages/conformance")
}

/// Mounts what the conformance page needs on `builder`, public: bridge-js's `dist` at
/// `/__bjs` ([`bridge_js_dist`]) and the page at `/conformance` ([`pages`]). The test also
/// mounts [`mount`] and a [`crate::report`] mount, serves [`router`] on localhost, and
/// loads `/conformance/index.html?port=<its port>`.
///
/// # Panics
/// When bridge-js's `conformance.js` is not built.
pub fn mount_page(builder: bus_core::BusBuilder) -> bus_core::BusBuilder {
    let static_files = |dir| tower_http::services::ServeDir::new(dir);
    builder
        .mount_with(bus_core::Mount::new("/__bjs", static_files(bridge_js_dist())).public())
        .mount_with(bus_core::Mount::new("/conformance", static_files(pages())).public())
}

/// bridge-js's build output (`bridge-js/dist`), which holds `conformance.js`.
///
/// # Panics
/// When `conformance.js` is not built, saying how to build it.
pub fn bridge_js_dist() -> std::path::PathBuf {
    let dist = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bridge-js/dist");
    assert!(
        dist.join("conformance.js").exists(),
        "bridge-js/dist/conformance.js is missing: run `npm run build` in bridge-js (scripts/test.sh does)"
    );
    dist
}

/// Checks the conformance page's report, the same for every engine: no error, at least 30
/// cases, none failing through the shim, and no difference from the engine's own APIs but
/// the documented ones (printed).
///
/// # Panics
/// On any of these, with the report.
pub fn check_report(r: &serde_json::Value) {
    assert!(r["error"].is_null(), "{r}");
    println!(
        "{} cases; documented deviations: {}",
        r["cases"],
        r["known"].as_array().map_or(0, Vec::len)
    );
    for k in r["known"].as_array().into_iter().flatten() {
        println!("  known: {}", k.as_str().unwrap_or(""));
    }
    assert!(r["cases"].as_u64().unwrap_or(0) >= 30, "{r}");
    assert_eq!(
        r["busFailures"],
        serde_json::json!([]),
        "cases that failed through the shim: {r}"
    );
    assert_eq!(
        r["unknown"],
        serde_json::json!([]),
        "undocumented differences: {r}"
    );
}
