//! The `app://` scheme: every request WebKit makes to the app origin (navigations, links,
//! forms, `<img>`, native fetch/XHR) becomes an `http::Request` on the bus, and the
//! response streams back through a pipe, never buffered whole (a small body of known size
//! is answered from memory).
//!
//! Each request's future is polled once right here, on the GTK main thread inside the bus
//! runtime's context ([`HostConfig::inline_first_poll`], on by default): a handler that
//! answers without waiting is answered in the same turn, without a hop to a worker and
//! back; whatever it still waits for runs on the bus's workers.
//!
//! [`HostConfig::inline_first_poll`]: crate::HostConfig::inline_first_poll

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};

use bus_core::{Body, BusHandle, Caller, Transport};
use bytes::Bytes;
use gio::prelude::*;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;
use webkit2gtk::{SecurityManagerExt, URISchemeRequestExt, URISchemeResponseExt, WebContextExt};
use webkit2gtk::{URISchemeRequest, URISchemeResponse};

use crate::{channel, ffi, navigation};

/// Largest request body read from WebKit (it already holds the whole body in memory; the
/// bus's per-mount limit applies after this).
const MAX_REQUEST_BODY: usize = 1 << 30;

/// Bodies of at most this many bytes, of known size, are answered from memory.
const SMALL_RESPONSE: u64 = 64 * 1024;

/// Pipe capacity: large pipes cut the number of wake-ups on the main thread.
const PIPE_SIZE: usize = 1 << 20;

thread_local! {
    /// Requests waiting for their response head, by id. WebKit objects live on the GTK
    /// main thread; worker threads refer to them only by id.
    static PENDING: RefCell<HashMap<u64, URISchemeRequest>> = RefCell::new(HashMap::new());
}

thread_local! {
    /// The contexts a host registered its scheme on, the scheme, and the host's WebView:
    /// WebKitGTK keeps the first handler of a scheme on a context and ignores a second
    /// registration (it only logs), so a second host there would be served by the first
    /// host's bus.
    static REGISTERED: RefCell<Vec<Registration>> = const { RefCell::new(Vec::new()) };
}

struct Registration {
    context: glib::WeakRef<webkit2gtk::WebContext>,
    scheme: String,
    view: glib::WeakRef<webkit2gtk::WebView>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Whether another WebView's host already registered `scheme` on `context` (a WebView
/// sharing that context, e.g. built with wry's `new_with_web_context`). A second host on the
/// same WebView is refused by the frame channel, with its own error.
pub(crate) fn taken(
    context: &webkit2gtk::WebContext,
    scheme: &str,
    view: &webkit2gtk::WebView,
) -> bool {
    REGISTERED.with(|r| {
        let mut r = r.borrow_mut();
        r.retain(|reg| reg.context.upgrade().is_some());
        r.iter().any(|reg| {
            reg.scheme == scheme
                && reg.context.upgrade().is_some_and(|c| &c == context)
                && reg.view.upgrade().is_none_or(|v| &v != view)
        })
    })
}

/// What the scheme handler needs to know about the app.
#[derive(Clone, Debug)]
pub(crate) struct SchemeConfig {
    pub(crate) origin: String,
    /// The app origin's authority (`localhost`): requests for any other are misdirected.
    pub(crate) authority: String,
    /// Origins the WebView may navigate to besides the app's (redirect targets too).
    pub(crate) navigable: Vec<String>,
    /// Whether the navigation policy lets only the app's documents into the WebView
    /// ([`navigation::Admits::only_the_app`]): then a request of that WebView that the
    /// engine reports nothing about is the app's.
    pub(crate) documents_proven: bool,
    /// Poll each request once on the main thread before handing it to the workers.
    pub(crate) inline_first_poll: bool,
    /// The host this scheme serves (its frame channel takes carried bodies).
    pub(crate) host_id: u64,
    /// The value of [`channel::CARRIER_HEADER`] that proves a request is the relay's.
    pub(crate) carrier_secret: String,
}

/// Registers the scheme of `config.origin` on `context`, answered by `bus`, for the
/// documents of `view` (the WebView whose navigation policy the host installed).
pub(crate) fn register(
    context: &webkit2gtk::WebContext,
    scheme: &str,
    bus: BusHandle,
    config: SchemeConfig,
    view: &webkit2gtk::WebView,
) {
    REGISTERED.with(|r| {
        r.borrow_mut().push(Registration {
            context: context.downgrade(),
            scheme: scheme.to_owned(),
            view: view.downgrade(),
        })
    });
    if let Some(security) = context.security_manager() {
        security.register_uri_scheme_as_secure(scheme);
        security.register_uri_scheme_as_cors_enabled(scheme);
    }
    let view = view.downgrade();
    // Once the WebView could open windows, for good: a window it opened may still be there.
    let opens_windows = std::cell::Cell::new(false);
    context.register_uri_scheme(scheme, move |request| {
        let view = view.upgrade();
        // The context may serve other WebViews (an app's second view, one that shows the
        // web, a window ours opened): the policy proves nothing about their documents.
        let ours = view
            .as_ref()
            .is_some_and(|v| request.web_view().is_some_and(|theirs| &theirs == v));
        // A window opened from ours is outside the policy, and can navigate ours through
        // `opener`: a new-window handler connected after attach ends the proof too.
        if config.documents_proven
            && !opens_windows.get()
            && view.as_ref().is_some_and(navigation::opens_windows)
        {
            tracing::warn!(
                "the WebView can now open new windows: requests WebKitGTK reports nothing \
                 about are anonymous from now on"
            );
            opens_windows.set(true);
        }
        let proven = config.documents_proven && ours && !opens_windows.get();
        handle(request, &bus, &config, proven);
    });
}

fn handle(request: &URISchemeRequest, bus: &BusHandle, config: &SchemeConfig, proven: bool) {
    if let Some(key) = request
        .http_headers()
        .and_then(|h| h.one(channel::CARRIER_HEADER))
    {
        carrier(request, key.as_str(), config);
        return;
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (caller, http_request) = match to_http(request, config, proven) {
        Ok(r) => r,
        Err(Refused::BadRequest(message)) => {
            finish_now(request, StatusCode::BAD_REQUEST, &message);
            return;
        }
        Err(Refused::Forbidden(message)) => {
            finish_now(request, StatusCode::FORBIDDEN, &message);
            return;
        }
        Err(Refused::Misdirected(message)) => {
            finish_now(request, StatusCode::MISDIRECTED_REQUEST, &message);
            return;
        }
    };
    let runtime = match bus.runtime() {
        Ok(rt) => rt,
        Err(e) => {
            finish_now(request, StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
            return;
        }
    };
    PENDING.with(|p| p.borrow_mut().insert(id, request.clone()));
    let bus = bus.clone();
    let config = config.clone();
    let navigation = accepts_html(http_request.headers());
    let path = http_request.uri().path().to_owned();
    let inline = config.inline_first_poll.then(|| path.clone());
    let task = async move {
        let mut response = call_following_redirects(&bus, caller, http_request, &config).await;
        if navigation {
            response = with_error_page(response, &path);
        }
        let (parts, mut body) = response.into_parts();
        let length = body.exact_len();
        if length.is_some_and(|n| n <= SMALL_RESPONSE) {
            // A small body of known size: answer from memory. A pipe (created, resized and
            // written for 12 bytes) was 17% of the workers' time per small request.
            let outcome = body.collect().await.map(|c| c.to_bytes());
            glib::MainContext::default().invoke(move || {
                let Some(req) = take(id) else { return };
                match outcome {
                    Ok(bytes) => {
                        let len = bytes.len() as i64;
                        let stream =
                            gio::MemoryInputStream::from_bytes(&glib::Bytes::from_owned(bytes));
                        let response = URISchemeResponse::new(&stream, len);
                        respond(&req, &response, parts.status, &parts.headers);
                    }
                    Err(e) => finish_now(
                        &req,
                        StatusCode::BAD_GATEWAY,
                        &format!("the response body failed: {e}"),
                    ),
                }
            });
            return;
        }
        let (reader, writer) = match std::io::pipe() {
            Ok(pair) => pair,
            Err(e) => {
                let message = format!("cannot open a pipe for the response: {e}");
                glib::MainContext::default().invoke(move || {
                    if let Some(req) = take(id) {
                        finish_now(&req, StatusCode::INTERNAL_SERVER_ERROR, &message);
                    }
                });
                return;
            }
        };
        let writer = OwnedFd::from(writer);
        let _ = rustix::pipe::fcntl_setpipe_size(&writer, PIPE_SIZE);
        let head = Head {
            status: parts.status,
            headers: parts.headers,
            length,
        };
        let reader = OwnedFd::from(reader);
        glib::MainContext::default().invoke(move || finish(id, head, reader));

        let Ok(mut pipe) = tokio::net::unix::pipe::Sender::from_owned_fd(writer) else {
            return;
        };
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                // The body failed midway; closing the pipe ends what WebKit sees. With a
                // Content-Length, WebKit reports the short body as an error.
                tracing::debug!("response body failed midway on the scheme path");
                return;
            };
            if let Ok(data) = frame.into_data()
                && pipe.write_all(&data).await.is_err()
            {
                // WebKit closed the stream: the page aborted or navigated away.
                // Dropping the body cancels the handler's producer.
                return;
            }
        }
    };
    if let Some(path) = inline {
        let what = format_args!("the handler for {path}");
        bus_core::bridge::poll_here_then_spawn(&runtime, task, &what);
    } else {
        runtime.spawn(task);
    }
}

/// A request of the relay's upload carrier (see [`channel`]): with the host's secret, its
/// body (a `Uint8Array` the relay made, never Blob-backed) goes to the stream it names.
/// Without it, the request is refused before its body is touched: page script can set the
/// header, but cannot know the secret, which only the host and its isolated world hold.
fn carrier(request: &URISchemeRequest, key: &str, config: &SchemeConfig) {
    if !same_secret(key.as_bytes(), config.carrier_secret.as_bytes()) {
        finish_now(
            request,
            StatusCode::FORBIDDEN,
            &format!(
                "{} is reserved for the bus's upload carrier, and this request is not its",
                channel::CARRIER_HEADER
            ),
        );
        return;
    }
    let uri = request.uri().map(|u| u.to_string()).unwrap_or_default();
    let target = url::Url::parse(&uri).ok();
    let query = |name: &str| {
        target.as_ref().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        })
    };
    let (Some(doc), Some(stream)) = (
        query("doc"),
        query("stream").and_then(|s| s.parse::<u32>().ok()),
    ) else {
        finish_now(
            request,
            StatusCode::BAD_REQUEST,
            &format!("{uri}: no doc and stream"),
        );
        return;
    };
    if request.http_method().as_deref() != Some("POST")
        || target.as_ref().map(url::Url::path) != Some(channel::CARRIER_PATH)
    {
        finish_now(
            request,
            StatusCode::BAD_REQUEST,
            &format!("{uri}: not a carrier request"),
        );
        return;
    }
    // Refused unread when no stream takes it (a stream that never expected one, another
    // document's); dropped unread when its stream was answered before it came.
    match channel::expects_carried(config.host_id, &doc, stream) {
        Ok(true) => {}
        Ok(false) => {
            finish_now(
                request,
                StatusCode::OK,
                "not needed: the stream was answered before its body came",
            );
            return;
        }
        Err(e) => {
            finish_now(request, StatusCode::CONFLICT, &e);
            return;
        }
    }
    // The relay says how long the body is: read straight into a buffer of that size.
    let size = query("len").and_then(|s| s.parse::<usize>().ok());
    let body = match request.http_body() {
        Some(stream) => match read_all(&stream, size) {
            Ok(body) => body,
            Err(e) => {
                finish_now(request, StatusCode::BAD_REQUEST, &e);
                return;
            }
        },
        None => Bytes::new(),
    };
    match channel::carry(config.host_id, &doc, stream, body) {
        Ok(()) => finish_now(request, StatusCode::OK, "carried"),
        Err(e) => finish_now(request, StatusCode::CONFLICT, &e),
    }
}

/// Compares secrets in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a request is a navigation (WebKit asks for `text/html` first only then).
fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("text/html"))
}

/// An error answered to a navigation with no body (ServeDir's 404, axum's 405) would show
/// a blank page; give it a page that says what happened instead.
fn with_error_page(response: http::Response<Body>, path: &str) -> http::Response<Body> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.body().exact_len() != Some(0)
    {
        return response;
    }
    let page = bus_shim::error_page(
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        &format!("The app has nothing to show at {path}."),
    );
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(http::header::CONTENT_LENGTH);
    http::Response::from_parts(parts, Body::from(page))
}

/// Calls the bus on behalf of `caller` and deals with redirects, which WebKitGTK does not
/// follow for custom schemes (measured: a 303 after a form POST leaves the page where it
/// was).
///
/// The target is resolved with the `url` crate and must pass [`bus_shim::redirect_target`]
/// (the app origin, or an origin the host lets the WebView navigate to; a document scheme;
/// never `javascript:`/`data:`), or the answer is an error page. Then:
/// - a navigation (`Accept` starting with `text/html`) gets a page that goes on to the
///   target with a `<meta http-equiv=refresh>` and runs no script
///   ([`bus_shim::redirect_page`]), so the address and history end where a browser would
///   put them (POST then 303 becomes a GET of the target);
/// - another GET/HEAD is followed here, on the bus, up to 20 hops within the app origin,
///   with the same caller;
/// - anything else is passed through as it is.
async fn call_following_redirects(
    bus: &BusHandle,
    caller: Caller,
    request: Request<Body>,
    config: &SchemeConfig,
) -> http::Response<Body> {
    let navigation = accepts_html(request.headers());
    let replay = (request.method() == Method::GET || request.method() == Method::HEAD)
        .then(|| (request.method().clone(), request.headers().clone()));
    let mut uri = request.uri().clone();
    let mut response = bus.call_from(caller.clone(), request).await;
    for _ in 0..20 {
        if !response.status().is_redirection() {
            return response;
        }
        let Some(location) = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
        else {
            return response;
        };
        let Ok(base) = url::Url::parse(&uri.to_string()) else {
            return response;
        };
        let target = match bus_shim::redirect_target(&base, location, &config.navigable) {
            Ok(target) => target,
            Err(refused) => {
                return text_response(StatusCode::BAD_GATEWAY, &format!("{uri}: {refused}"));
            }
        };
        if navigation {
            return redirect_page(&target);
        }
        let Some((method, headers)) = replay.clone() else {
            return response;
        };
        if bus_shim::origin_of(&target).as_deref() != Some(config.origin.as_str()) {
            return response;
        }
        let Ok(next) = target.as_str().parse::<http::Uri>() else {
            return response;
        };
        let mut request = Request::new(Body::empty());
        *request.method_mut() = method;
        *request.uri_mut() = next.clone();
        *request.headers_mut() = headers;
        uri = next;
        response = bus.call_from(caller.clone(), request).await;
    }
    response
}

/// The page a navigation gets for a redirect ([`bus_shim::redirect_page`]: no script).
fn redirect_page(target: &url::Url) -> http::Response<Body> {
    let mut response = html_response(StatusCode::OK, bus_shim::redirect_page(target));
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

fn html_response(status: StatusCode, page: String) -> http::Response<Body> {
    let mut response = http::Response::new(Body::from(page));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn text_response(status: StatusCode, message: &str) -> http::Response<Body> {
    let mut response = http::Response::new(Body::from(format!("{message}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

struct Head {
    status: StatusCode,
    headers: HeaderMap,
    length: Option<u64>,
}

fn take(id: u64) -> Option<URISchemeRequest> {
    PENDING.with(|p| p.borrow_mut().remove(&id))
}

fn finish(id: u64, head: Head, reader: OwnedFd) {
    let Some(request) = take(id) else {
        return;
    };
    let stream = ffi::input_stream_from_fd(reader);
    let length = head.length.map_or(-1, |n| n as i64);
    let response = URISchemeResponse::new(&stream, length);
    respond(&request, &response, head.status, &head.headers);
}

fn respond(
    request: &URISchemeRequest,
    response: &URISchemeResponse,
    status: StatusCode,
    headers: &HeaderMap,
) {
    response.set_status(u32::from(status.as_u16()), status.canonical_reason());
    let soup_headers = soup::MessageHeaders::new(soup::MessageHeadersType::Response);
    for (name, value) in headers {
        // WebKit takes header values as C strings: obs-text is passed as Latin-1.
        let value: String = value.as_bytes().iter().map(|&b| b as char).collect();
        soup_headers.append(name.as_str(), &value);
    }
    // App documents are not for foreign documents to frame (clickjacking, and a framed app
    // page's own requests carry the app's Referer). WebKit honours X-Frame-Options on the
    // scheme (the hostile suite's framing test); an app that wants other framing says so.
    if !headers.contains_key(http::header::X_FRAME_OPTIONS) {
        soup_headers.append("x-frame-options", "SAMEORIGIN");
    }
    if let Some(kind) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        response.set_content_type(kind);
    }
    response.set_http_headers(soup_headers);
    request.finish_with_response(response);
}

/// Answers at once with a plain-text body (bad requests, a bus that is shut down).
fn finish_now(request: &URISchemeRequest, status: StatusCode, message: &str) {
    let body = glib::Bytes::from_owned(format!("{message}\n").into_bytes());
    let length = body.len() as i64;
    let stream = gio::MemoryInputStream::from_bytes(&body);
    let response = URISchemeResponse::new(&stream, length);
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    respond(request, &response, status, &headers);
}

/// A scheme request answered without reaching the bus.
pub(crate) enum Refused {
    BadRequest(String),
    Forbidden(String),
    Misdirected(String),
}

/// The request as the bus takes it, and who sent it as far as the engine and the
/// navigation policy prove it (`documents_proven`: every document of the request's WebView
/// is the app's).
fn to_http(
    request: &URISchemeRequest,
    config: &SchemeConfig,
    documents_proven: bool,
) -> Result<(Caller, Request<Body>), Refused> {
    let bad = |m: String| Refused::BadRequest(m);
    let uri = request
        .uri()
        .ok_or_else(|| bad("the request has no URI".into()))?;
    let method = request
        .http_method()
        .map(|m| m.to_string())
        .unwrap_or_else(|| "GET".into());
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| bad(format!("invalid method {method:?}")))?;
    let mut builder = Request::builder().method(method.clone()).uri(uri.as_str());
    let target = builder
        .uri_ref()
        .cloned()
        .ok_or_else(|| Refused::BadRequest(format!("invalid URI {uri}")))?;
    // The scheme is registered for every host; only the app's is the app.
    if !target
        .authority()
        .is_some_and(|a| a.as_str().eq_ignore_ascii_case(&config.authority))
    {
        return Err(Refused::Misdirected(format!(
            "{uri}: this scheme serves {} only",
            config.origin
        )));
    }
    let headers = builder
        .headers_mut()
        .ok_or_else(|| Refused::BadRequest(format!("invalid URI {uri}")))?;
    if let Some(soup_headers) = request.http_headers() {
        let mut bad = None;
        soup_headers.foreach(|name, value| {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(n), Ok(v)) => {
                    headers.append(n, v);
                }
                _ => bad = Some(name.to_owned()),
            }
        });
        if let Some(name) = bad {
            return Err(Refused::BadRequest(format!(
                "invalid request header {name:?}"
            )));
        }
    }
    let caller = caller_of(&target, headers, &config.origin, documents_proven);
    let body = if method == Method::GET || method == Method::HEAD {
        Body::empty()
    } else {
        // Decide before touching the body: WebKitGTK 2.50 crashes the host process in
        // `webkit_uri_scheme_request_get_http_body` when the body is Blob-backed (a File
        // in a form, `fetch(blob)`), and any frame can send one — with any header it
        // likes, so no header is proof. The body is read only for a form submission the
        // navigation policy saw (page script cannot fake a navigation action, and a form
        // of an enctype without file parts never has a Blob-backed body), from the app's
        // own documents. Everything else with a body goes through the shim's frames.
        if !caller.is_origin(&config.origin) {
            return Err(Refused::Forbidden(format!(
                "{method} {uri}: request bodies are accepted only from {}, not {}",
                config.origin,
                caller.origin().unwrap_or("an anonymous document")
            )));
        }
        if !(is_plain_form(headers) && navigation::take_form_submission(uri.as_str())) {
            return Err(Refused::BadRequest(format!(
                "{method} {uri}: on WebKitGTK, a request body reaches the app scheme only from \
                 a native form submission (urlencoded or text/plain); send other bodies through \
                 the bridge-js shim (WebKitGTK crashes when a scheme handler reads a file-backed \
                 body)"
            )));
        }
        match request.http_body() {
            Some(stream) => Body::from(read_all(&stream, None).map_err(Refused::BadRequest)?),
            None => Body::empty(),
        }
    };
    let http_request = builder
        .body(body)
        .map_err(|e| Refused::BadRequest(format!("invalid request {uri}: {e}")))?;
    Ok((caller, http_request))
}

/// Who sent a scheme request. What the engine reports decides ([`Caller::from_engine_headers`],
/// failing closed); a request it reports nothing about — WebKitGTK's `<img>`, `<script>`,
/// `<link>`, `<video>` and navigations, from any document — is the app's when every
/// document the WebView can show is the app's (`documents_proven`), and anonymous
/// otherwise.
fn caller_of(
    target: &http::Uri,
    headers: &HeaderMap,
    app_origin: &str,
    documents_proven: bool,
) -> Caller {
    let reported = [
        http::header::ORIGIN,
        http::header::REFERER,
        HeaderName::from_static("sec-fetch-site"),
    ]
    .iter()
    .any(|name| headers.contains_key(name));
    if documents_proven && !reported {
        Caller::new(Transport::Scheme).with_origin(app_origin)
    } else {
        Caller::from_engine_headers(Transport::Scheme, target, headers, app_origin)
    }
}

/// Reads a request body whole; `size` is how long it is said to be (a hint: the buffer
/// starts at that size, at most [`MAX_SIZE_HINT`], and grows as it must).
fn read_all(stream: &gio::InputStream, size: Option<usize>) -> Result<Bytes, String> {
    // WebKit has the whole body in memory and hands out up to a read's size per call. The
    // bytes go straight into the buffer that becomes the body (zeroed by the allocator,
    // untouched until read into): one copy, where a bounce buffer and a doubling `Vec`
    // made three of 16 MiB.
    let mut out = vec![0u8; size.map_or(1 << 20, |n| n.clamp(1, MAX_SIZE_HINT) + 1)];
    let mut len = 0;
    loop {
        if len == out.len() {
            if len > MAX_REQUEST_BODY {
                return Err(format!("request body over {MAX_REQUEST_BODY} bytes"));
            }
            out.resize((len * 2).min(MAX_REQUEST_BODY + 1), 0);
        }
        let n = stream
            .read(&mut out[len..], gio::Cancellable::NONE)
            .map_err(|e| format!("cannot read the request body: {e}"))?;
        if n == 0 {
            out.truncate(len);
            return Ok(Bytes::from(out));
        }
        len += n;
        if len > MAX_REQUEST_BODY {
            return Err(format!("request body over {MAX_REQUEST_BODY} bytes"));
        }
    }
}

/// The largest buffer a size hint makes [`read_all`] start with.
const MAX_SIZE_HINT: usize = 256 << 20;

/// The headers of a form submission whose body cannot be file-backed: `Origin` present
/// (WebKit sends it on form POSTs) and an enctype that has no file parts. (Headers alone
/// prove nothing: see [`navigation::take_form_submission`].)
fn is_plain_form(headers: &HeaderMap) -> bool {
    let kind = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    headers.contains_key(http::header::ORIGIN)
        && (kind.starts_with("application/x-www-form-urlencoded") || kind.starts_with("text/plain"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_engine_reports_decides_and_silence_is_the_apps_only_when_proven() {
        let target: http::Uri = "app://localhost/api/x".parse().unwrap();
        let app = "app://localhost";
        let with = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (n, v) in pairs {
                h.insert(*n, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        let silent = HeaderMap::new();
        assert!(caller_of(&target, &silent, app, true).is_origin(app));
        assert!(caller_of(&target, &silent, app, false).is_anonymous());
        // Whatever the engine reports is judged as it says, proven or not.
        for proven in [true, false] {
            let null = with(&[("origin", "null")]);
            assert!(caller_of(&target, &null, app, proven).is_anonymous());
            let foreign = with(&[("referer", "evil://x/page")]);
            assert!(caller_of(&target, &foreign, app, proven).is_origin("evil://x"));
            let cross = with(&[("sec-fetch-site", "cross-site")]);
            assert!(caller_of(&target, &cross, app, proven).is_anonymous());
        }
    }

    #[test]
    fn redirect_pages_run_no_script() {
        let base = url::Url::parse("app://localhost/redirect?to=x").unwrap();
        let target =
            bus_shim::redirect_target(&base, "/x</script><script>alert(1)</script>", &[]).unwrap();
        let page = redirect_page(&target);
        assert_eq!(page.status(), 200);
        assert!(bus_shim::redirect_target(&base, "javascript:alert(1)", &[]).is_err());
    }
}
