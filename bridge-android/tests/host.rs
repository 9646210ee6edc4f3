//! The cases of `tests/chromium.rs`, driven through `AndroidHost` directly from plain
//! threads, as the JNI layer does: `intercept` for what `shouldInterceptRequest` gets,
//! a `FrameSession` fed base64 strings for what the page's bridge carries.
//!
//! The same cases run through JNI and Java on a desktop JVM (`java/run-tests.sh`), against
//! the same `/conf` routes (the test app `examples/jni_app.rs` mounts testkit's router as
//! `App` does here): `InterceptTest.java` mirrors
//! `page_load_subresources_and_bodiless_gets_through_interception`,
//! `redirects_navigate_or_are_followed`, `foreign_callers_are_refused` and the pulled-body
//! half of `many_threads_at_once_and_a_pulled_body_stops_its_producer`; `SessionTest.java`
//! mirrors `bodies_push_streams_and_cancel_as_frames`; `BadInputTest.java` adds what only
//! the JNI boundary has (nulls, handles, bounds, exceptions) and
//! `a_shut_down_bus_answers_503_and_opens_no_session`. A case changed here should change
//! there too.

mod common;

use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bridge_android::host::{
    AndroidHost, BODY_REFUSED, FrameError, FrameSession, InterceptedRequest, InterceptedResponse,
    STASH_HEADER, STASH_REQUEST, SessionRefused, StashLimits,
};
use bus_core::protocol::{self, ErrorCode, Frame};
use bytes::Bytes;
use common::{App, ORIGIN, pattern, sha256_hex, url};
use serde_json::Value;

const T: Duration = Duration::from_secs(20);

/// A subresource or fetch of `path` from one of the app's pages.
fn get(path: &str) -> InterceptedRequest {
    InterceptedRequest::get(&url(path)).header("Referer", &url("/pages/basic.html"))
}

fn intercept(host: &AndroidHost, request: &InterceptedRequest) -> InterceptedResponse {
    host.intercept(request)
        .unwrap_or_else(|| panic!("{} is a bus URL", request.url))
}

fn text(response: InterceptedResponse) -> String {
    let mut out = String::new();
    let mut body = response.body;
    body.read_to_string(&mut out).unwrap();
    out
}

/// The page side of a frame session, as a test sees it.
struct Page {
    session: FrameSession,
    woken: mpsc::Receiver<()>,
    waiting: std::collections::VecDeque<Frame>,
    next: u32,
}

struct Answer {
    status: u16,
    headers: Vec<(String, Bytes)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Page {
    fn open(host: &AndroidHost) -> Page {
        let (tx, woken) = mpsc::channel();
        let session = host
            .open_session(ORIGIN, true, move || {
                let _ = tx.send(());
            })
            .expect("the app's main frame gets a session");
        Page {
            session,
            woken,
            waiting: Default::default(),
            next: 1,
        }
    }

    fn send(&self, frame: &Frame) {
        match self
            .session
            .receive(&BASE64.encode(protocol::encode(frame)))
        {
            Ok(()) => {}
            // The bus may answer before it has read the whole body; body frames that
            // cross the stream's end are refused with UnknownStream (PROTOCOL.md §5).
            Err(FrameError::Rejected(r))
                if r.code == ErrorCode::UnknownStream
                    && matches!(frame, Frame::RequestData { .. } | Frame::RequestEnd { .. }) => {}
            Err(e) => panic!("{frame:?} refused: {e}"),
        }
    }

    /// The next frame from the bus, taken as the platform would on `notify`.
    fn next_frame(&mut self) -> Frame {
        let deadline = Instant::now() + T;
        loop {
            if let Some(f) = self.waiting.pop_front() {
                return f;
            }
            for b64 in self.session.take_outbound() {
                let bytes = BASE64.decode(b64).expect("base64 from the host");
                self.waiting
                    .push_back(protocol::decode(Bytes::from(bytes)).expect("a frame"));
            }
            if self.waiting.is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(!left.is_zero(), "no frame from the bus within {T:?}");
                let _ = self.woken.recv_timeout(left.min(Duration::from_millis(50)));
            }
        }
    }

    fn open_stream(
        &mut self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> u32 {
        let stream = self.next;
        self.next += 2;
        self.send(&Frame::RequestHead {
            stream,
            method: method.into(),
            uri: uri.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), Bytes::copy_from_slice(v.as_bytes())))
                .collect(),
            end_stream: body.is_none(),
            window: 1 << 20,
        });
        if let Some(body) = body {
            // Within the bus's credit: the initial window, then its Credit frames.
            let mut credit = protocol::INITIAL_UPLOAD_WINDOW as usize;
            let mut sent = 0;
            let mut held = Vec::new(); // other frames, for later
            while sent < body.len() {
                if credit == 0 {
                    let frame = self.next_frame();
                    let ended = matches!(frame, Frame::ResponseEnd { stream: s } | Frame::Response { stream: s, .. } | Frame::Error { stream: s, .. } if s == stream);
                    match frame {
                        Frame::Credit { stream: s, bytes } if s == stream => {
                            credit += bytes as usize
                        }
                        other => held.push(other),
                    }
                    if ended {
                        break; // the bus answered without reading it all
                    }
                    continue;
                }
                let n = credit.min(body.len() - sent).min(256 * 1024);
                self.send(&Frame::RequestData {
                    stream,
                    data: Bytes::copy_from_slice(&body[sent..sent + n]),
                });
                sent += n;
                credit -= n;
            }
            self.send(&Frame::RequestEnd { stream });
            self.waiting.extend(held);
        }
        stream
    }

    fn answer(&mut self, stream: u32) -> Result<Answer, (u16, String)> {
        let mut answer = None::<Answer>;
        let mut others = Vec::new();
        let result = loop {
            match self.next_frame() {
                Frame::ResponseHead {
                    stream: s,
                    status,
                    headers,
                } if s == stream => {
                    answer = Some(Answer {
                        status,
                        headers,
                        body: Vec::new(),
                    });
                }
                Frame::ResponseData { stream: s, data } if s == stream => {
                    let a = answer.as_mut().expect("head first");
                    a.body.extend_from_slice(&data);
                    self.send(&Frame::Credit {
                        stream,
                        bytes: data.len() as u32,
                    });
                }
                Frame::ResponseEnd { stream: s } if s == stream => {
                    break Ok(answer.take().expect("head first"));
                }
                Frame::Response {
                    stream: s,
                    status,
                    headers,
                    data,
                } if s == stream => {
                    assert!(answer.is_none(), "a whole Response after a ResponseHead");
                    break Ok(Answer {
                        status,
                        headers,
                        body: data.to_vec(),
                    });
                }
                // The answer to a body frame of ours that crossed the stream's end: the
                // stream's own last frame is still to come (see `send`).
                Frame::Error {
                    stream: s,
                    code: ErrorCode::UnknownStream,
                    ..
                } if s == stream => {}
                Frame::Error {
                    stream: s,
                    code,
                    message,
                } if s == stream => break Err((code.to_u16(), message)),
                Frame::Credit { stream: s, .. } if s == stream => {}
                other => others.push(other),
            }
        };
        self.waiting.extend(others);
        result
    }

    fn request(
        &mut self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Answer {
        let stream = self.open_stream(method, uri, headers, body);
        self.answer(stream)
            .unwrap_or_else(|e| panic!("{method} {uri}: error {e:?}"))
    }
}

/// multipart/form-data with one text field and one file, built as a browser would.
fn multipart(field: (&str, &str), file: (&str, &str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "----bridge-android-test";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{}\r\n",
            field.0, field.1
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            file.0, file.1
        )
        .as_bytes(),
    );
    body.extend_from_slice(file.2);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn page_load_subresources_and_bodiless_gets_through_interception() {
    let app = App::new();
    let host = &app.host;
    let page = intercept(
        host,
        &InterceptedRequest::get(&url("/pages/basic.html")).main_frame(),
    );
    assert_eq!((page.status, page.reason.as_str()), (200, "OK"));
    assert_eq!(page.mime_type.as_deref(), Some("text/html"));
    assert!(text(page).contains("<h1>Basic page</h1>"));

    let img = intercept(host, &get("/pages/pixel.svg"));
    assert_eq!(img.mime_type.as_deref(), Some("image/svg+xml"));
    assert!(text(img).starts_with("<svg"));
    let redirected = intercept(host, &get("/conf/redirect/302?to=/pages/pixel.svg"));
    assert_eq!(redirected.status, 200, "followed on the host");
    assert!(text(redirected).starts_with("<svg"));

    assert_eq!(text(intercept(host, &get("/conf/text"))), "hello");
    let json = intercept(host, &get("/conf/json"));
    assert_eq!(json.mime_type.as_deref(), Some("application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&text(json)).unwrap(),
        serde_json::json!({ "ok": true, "n": 42 })
    );
    let head = intercept(host, &get("/conf/text").method("HEAD"));
    assert_eq!(head.status, 200);
    assert_eq!(text(head), "");

    // What WebResourceResponse cannot carry is mapped; conditional headers never reach
    // a handler (it could only answer them with a 304).
    let empty = intercept(host, &get("/conf/status/204"));
    assert_eq!((empty.status, empty.reason.as_str()), (204, "No Content"));
    assert_eq!(text(empty), "");
    for s in ["304", "300", "101"] {
        let r = intercept(host, &get(&format!("/conf/status/{s}")));
        assert_eq!(r.status, 502, "{s}");
        assert!(text(r).contains(&format!("answered {s}")));
    }
    let seen = intercept(
        host,
        &get("/conf/headers")
            .header("If-None-Match", "\"x\"")
            .header("X-Kept", "yes"),
    );
    let seen: Value = serde_json::from_str(&text(seen)).unwrap();
    assert!(seen.get("if-none-match").is_none(), "{seen}");
    assert_eq!(seen["x-kept"], "yes");
    assert_eq!(seen["referer"], url("/pages/basic.html"));

    // Repeated headers, as Android's Map<String, String> takes them.
    let multi = intercept(host, &get("/conf/multi-header"));
    assert_eq!(multi.header_map()["x-multi"], "a, b");
    assert_eq!(multi.encoding.as_deref(), Some("iso-8859-1"));
}

#[test]
fn bodies_push_streams_and_cancel_as_frames() {
    let app = App::new();
    let mut page = Page::open(&app.host);

    let json = page.request("GET", &url("/conf/json"), &[], None);
    assert_eq!(
        (json.status, json.text().as_str()),
        (200, r#"{"n":42,"ok":true}"#)
    );

    let echo = page.request(
        "POST",
        "/conf/echo",
        &[("content-type", "application/json")],
        Some(br#"{"a":1,"b":"two"}"#),
    );
    assert_eq!(echo.status, 200);
    assert_eq!(echo.header("x-echo-method").as_deref(), Some("POST"));
    assert_eq!(echo.text(), r#"{"a":1,"b":"two"}"#);

    let data = pattern(100_000);
    let (kind, body) = multipart(("note", "hello"), ("file", "data.bin", &data));
    let up = page.request(
        "POST",
        "/conf/multipart",
        &[("content-type", &kind)],
        Some(&body),
    );
    let up: Value = serde_json::from_slice(&up.body).unwrap();
    assert_eq!(up["fields"]["note"], "hello");
    assert_eq!(up["files"][0]["filename"], "data.bin");
    assert_eq!(up["files"][0]["sha256"], sha256_hex(&data));

    // Larger than the initial upload window: sent within the bus's credit.
    let big = pattern(3 << 20);
    let hashed = page.request("POST", "/conf/sha256", &[], Some(&big));
    let hashed: Value = serde_json::from_slice(&hashed.body).unwrap();
    assert_eq!(hashed["sha256"], sha256_hex(&big));

    let sse = page.request("GET", "/conf/sse?n=3", &[], None);
    assert!(sse.text().contains("data: event 3"), "{}", sse.text());

    let t0 = Instant::now();
    let stream = page.open_stream("GET", "/conf/stream?chunks=3&ms=150", &[], None);
    let mut arrivals = Vec::new();
    loop {
        match page.next_frame() {
            Frame::ResponseData { stream: s, data } if s == stream => {
                arrivals.push(t0.elapsed());
                page.send(&Frame::Credit {
                    stream,
                    bytes: data.len() as u32,
                });
            }
            Frame::ResponseEnd { stream: s } if s == stream => break,
            _ => {}
        }
    }
    assert_eq!(arrivals.len(), 3);
    assert!(
        arrivals[2] - arrivals[0] >= Duration::from_millis(250),
        "{arrivals:?}"
    );

    let hang = page.open_stream("GET", "/conf/hang", &[], None);
    std::thread::sleep(Duration::from_millis(100));
    page.send(&Frame::Cancel { stream: hang });
    let deadline = Instant::now() + T;
    while app.counters.cancelled.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the cancelled handler still runs"
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    // A message that is not base64 is refused with an Error frame on stream 0.
    assert!(page.session.receive("not base64!").is_err());
    assert!(matches!(page.next_frame(), Frame::Error { stream: 0, .. }));

    // A body through interception is refused, never run with an empty body.
    let lost = intercept(&app.host, &get("/conf/echo").method("POST"));
    assert_eq!(lost.status, 400);
    assert!(text(lost).contains(BODY_REFUSED));
}

#[test]
fn a_form_result_is_stashed_shown_once_and_bounded() {
    let app = App::new();
    let mut page = Page::open(&app.host);
    let file = pattern(5000);
    let (kind, body) = multipart(("title", "A title"), ("upload", "picked.bin", &file));
    let head = page.request(
        "POST",
        &url("/conf/multipart"),
        &[("content-type", &kind), (STASH_REQUEST, "1")],
        Some(&body),
    );
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "the answer went to the stash");
    let token = head.header(STASH_HEADER).expect("a token");
    assert_eq!(token.len(), 32);
    assert!(app.host.stash_usage().0 == 1);

    let result_url = url(&format!("/__bus/result/{token}"));
    // Only the app's own documents may take it.
    let foreign = intercept(
        &app.host,
        &InterceptedRequest::get(&result_url).header("Referer", "https://evil.invalid/"),
    );
    assert_eq!(foreign.status, 403);
    // Nor a load nothing proves the app's (a typed address, `loadUrl`: no Referer).
    let typed = intercept(
        &app.host,
        &InterceptedRequest::get(&result_url).main_frame(),
    );
    assert_eq!(typed.status, 403);
    let shown = intercept(
        &app.host,
        &InterceptedRequest::get(&result_url)
            .header("Referer", &url("/pages/form.html"))
            .main_frame(),
    );
    assert_eq!(shown.status, 200);
    assert_eq!(shown.mime_type.as_deref(), Some("application/json"));
    let shown: Value = serde_json::from_str(&text(shown)).unwrap();
    assert_eq!(shown["fields"]["title"], "A title");
    assert_eq!(shown["files"][0]["sha256"], sha256_hex(&file));
    let again = intercept(
        &app.host,
        &InterceptedRequest::get(&result_url)
            .header("Referer", &url("/pages/form.html"))
            .main_frame(),
    );
    assert_eq!(again.status, 410);
    assert!(text(again).contains("cannot be shown again"));
    assert_eq!(app.host.stash_usage(), (0, 0));

    // A redirect is not stashed: the page gets it and navigates.
    let thanks = page.request(
        "POST",
        "/forms/thanks",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            (STASH_REQUEST, "1"),
        ],
        Some(b"name=Ada"),
    );
    assert_eq!(thanks.status, 303);
    assert_eq!(
        thanks.header("location").as_deref(),
        Some("/pages/landing.html?from=form")
    );
    assert_eq!(thanks.header(STASH_HEADER), None);

    // Over the room the stash has: the stream fails, nothing is kept.
    let small = AndroidHost::with_stash_limits(
        app.bus.handle(),
        ORIGIN,
        StashLimits {
            max_entry_bytes: 1000,
            ..StashLimits::default()
        },
    )
    .unwrap();
    let mut page = Page::open(&small);
    let stream = page.open_stream(
        "POST",
        "/conf/echo",
        &[(STASH_REQUEST, "1")],
        Some(&pattern(5000)),
    );
    let (code, message) = page.answer(stream).err().expect("over the limit");
    assert_eq!(code, 10, "BodyFailed: {message}");
    assert!(message.contains("1000 bytes per result"), "{message}");
    page.send(&Frame::Cancel { stream });
    assert_eq!(small.stash_usage(), (0, 0));
}

/// The stash is asked for only by a marker no `fetch`, XHR or form can carry: the header
/// page script can set (`x-inproc-bus-stash: 1`) is an ordinary header that reaches the
/// handler, and the answer goes to the page. The marker on a method other than POST is
/// dropped, and the answer goes to the page too.
#[test]
fn page_script_cannot_divert_a_response_into_the_stash() {
    let app = App::new();
    let mut page = Page::open(&app.host);
    let echoed = page.request(
        "POST",
        &url("/conf/echo"),
        &[("content-type", "text/plain"), (STASH_HEADER, "1")],
        Some(b"hello"),
    );
    assert_eq!(echoed.status, 200);
    assert_eq!(echoed.header(STASH_HEADER), None, "no token");
    assert_eq!(echoed.body, b"hello", "the answer went to the page");
    assert_eq!(app.host.stash_usage(), (0, 0));

    let got = page.request("GET", &url("/conf/text"), &[(STASH_REQUEST, "1")], None);
    assert_eq!((got.status, got.body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(got.header(STASH_HEADER), None);
    assert_eq!(app.host.stash_usage(), (0, 0));
}

#[test]
fn redirects_navigate_or_are_followed() {
    let app = App::new();
    let host = &app.host;
    let nav = intercept(
        host,
        &get("/conf/redirect/302?to=/pages/landing.html%3Ffrom%3Dredirect").main_frame(),
    );
    assert_eq!(
        (nav.status, nav.mime_type.as_deref()),
        (200, Some("text/html"))
    );
    let html = text(nav);
    assert!(html.contains(r#"<meta http-equiv="refresh" content="0;url=https://app.invalid/pages/landing.html?from=redirect">"#), "{html}");
    assert!(!html.contains("<script"), "the page runs no script: {html}");
    // A navigation leaves the origin only for one the navigation policy allows.
    let away = intercept(host, &get("/forms/away").main_frame());
    assert_eq!(away.status, 502);
    assert!(text(away).contains("example.com"));
    let allowed = host
        .clone()
        .allow_navigation_to("https://example.com")
        .unwrap();
    let away = text(intercept(&allowed, &get("/forms/away").main_frame()));
    assert!(
        away.contains(r#"content="0;url=https://example.com/x""#),
        "{away}"
    );
    // An iframe's document is a navigation too (Sec-Fetch-Dest says so).
    let frame = intercept(host, &get("/forms/away").header("Sec-Fetch-Dest", "iframe"));
    assert_eq!(frame.mime_type.as_deref(), Some("text/html"));

    // Subresources: followed here, same origin only, 20 hops at most.
    let followed = intercept(host, &get("/conf/redirect/307?to=/conf/redirect/301"));
    assert_eq!(text(followed), "hello");
    let foreign = intercept(host, &get("/forms/away"));
    assert_eq!(foreign.status, 502);
    assert!(text(foreign).contains("a redirect to https://example.com is not followed"));
    let looped = intercept(host, &get("/forms/loop"));
    assert_eq!(looped.status, 502);
    assert!(text(looped).contains("more than 20 redirects"));
}

#[test]
fn foreign_callers_are_refused() {
    let app = App::new();
    let host = &app.host;
    for origin in [
        "https://evil.invalid",
        "null",
        "http://app.invalid",
        "https://app.invalid.evil.com",
    ] {
        let refused = host.open_session(origin, true, || {}).unwrap_err();
        assert!(
            matches!(refused, SessionRefused::ForeignOrigin { .. }),
            "{origin}: {refused}"
        );
    }
    let refused = host.open_session(ORIGIN, false, || {}).unwrap_err();
    assert!(matches!(refused, SessionRefused::NotMainFrame { .. }));

    let secret = url("/secret");
    let cors = intercept(
        host,
        &InterceptedRequest::get(&secret).header("Origin", "https://evil.invalid"),
    );
    assert_eq!(cors.status, 403);
    assert!(text(cors).contains("origin https://evil.invalid may not call this mount"));
    let no_cors = intercept(
        host,
        &InterceptedRequest::get(&secret).header("Referer", "https://evil.invalid/attack.html"),
    );
    assert_eq!(no_cors.status, 403);
    let post = intercept(
        host,
        &InterceptedRequest::get(&secret)
            .method("POST")
            .header("Origin", "https://evil.invalid"),
    );
    assert_eq!(post.status, 400);
    // The app's own, for contrast.
    assert_eq!(text(intercept(host, &get("/secret"))), "secret");
    assert_eq!(app.secret_hits.load(Ordering::SeqCst), 1);

    // Other origins are not ours to answer.
    for other in [
        "https://example.com/",
        "https://app.invalid.evil.com/secret",
        "http://app.invalid/secret",
        "https://app.invalid:8443/secret",
        "not a url",
    ] {
        assert!(
            host.intercept(&InterceptedRequest::get(other)).is_none(),
            "{other}"
        );
    }
}

#[test]
fn many_threads_at_once_and_a_pulled_body_stops_its_producer() {
    let app = App::new();
    std::thread::scope(|s| {
        for i in 0..8 {
            let host = app.host.clone();
            s.spawn(move || {
                for _ in 0..20 {
                    assert_eq!(
                        text(intercept(&host, &get("/conf/text"))),
                        "hello",
                        "thread {i}"
                    );
                }
            });
        }
        for _ in 0..4 {
            let host = app.host.clone();
            s.spawn(move || {
                let mut page = Page::open(&host);
                for n in 0..10 {
                    let body = pattern(1000 + n);
                    let echo = page.request("POST", "/conf/echo", &[], Some(&body));
                    assert_eq!(echo.body, body);
                }
            });
        }
    });

    // The engine pulls: one chunk taken, then the stream dropped (the page went away).
    let mut big = intercept(&app.host, &get("/conf/bytes?n=67108864"));
    assert_eq!(big.header("content-length"), Some("67108864"));
    let first = big.body.next_chunk().unwrap().unwrap();
    assert!(!first.is_empty() && first.len() <= 64 * 1024);
    drop(big);
    let deadline = Instant::now() + T;
    while app.counters.abandoned.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the producer runs on");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_shut_down_bus_answers_503_and_opens_no_session() {
    let app = App::new();
    app.bus.shutdown();
    let r = intercept(&app.host, &get("/conf/text"));
    assert_eq!(r.status, 503);
    assert!(matches!(
        app.host.open_session(ORIGIN, true, || {}),
        Err(SessionRefused::Closed)
    ));
}

#[test]
fn no_listening_socket_here() {
    let app = App::new();
    let mut page = Page::open(&app.host);
    assert_eq!(page.request("GET", "/conf/text", &[], None).text(), "hello");
    assert_eq!(text(intercept(&app.host, &get("/conf/text"))), "hello");
    let found = testkit::sockets::listeners(&testkit::sockets::process_tree(std::process::id()))
        .expect("/proc is readable");
    assert!(found.is_empty(), "{found:?}");
}
