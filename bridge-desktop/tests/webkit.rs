//! End-to-end tests in a real WebKitGTK WebView (under Xvfb when there is no display).
//! Each test owns the GTK main thread in turn; see `support::run`.

mod support;

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use support::Harness;

const T: Duration = Duration::from_secs(20);

fn page_load_image_xhr_fetch_and_links() {
    let h = Harness::new(|b| b);
    h.load("/basic.html");
    let r = h.report(T);
    assert_eq!(r["page"], "basic", "{r}");
    assert_eq!(r["href"], "app://localhost/basic.html");
    assert_eq!(r["imgWidth"], 40, "the <img> loaded: {r}");
    assert_eq!(r["shim"], true, "the shim installed itself: {r}");
    assert_eq!(r["xhrStatus"], 200, "{r}");
    let body: serde_json::Value = serde_json::from_str(r["xhrBody"].as_str().unwrap()).unwrap();
    assert_eq!(body, serde_json::json!({ "ok": true, "n": 42 }));
    assert_eq!(r["fetchText"], "hello");
    assert_eq!(r["blobStatus"], 400, "{r}");
    assert!(
        r["blobBody"]
            .as_str()
            .unwrap()
            .contains("through the bridge-js shim"),
        "{r}"
    );
    h.eval("document.getElementById('next').click(); return true;");
    let r = h.report(T);
    assert_eq!(r["page"], "second", "{r}");
    assert_eq!(r["href"], "app://localhost/second.html?from=basic");
}

/// A harness showing `/frames.html` (requests over the relay: JSON, a 1 MiB echo, a
/// stream in four timed chunks, a missing route, garbage), and the page's report, checked
/// to have no error.
fn frames_page() -> (Harness, serde_json::Value) {
    let h = Harness::new(|b| b);
    h.load("/frames.html");
    let r = h.report(T);
    assert!(r["error"].is_null(), "{r}");
    (h, r)
}

fn frames_over_the_isolated_world_relay() {
    let (_h, r) = frames_page();
    assert_eq!(r["jsonStatus"], 200, "{r}");
    assert_eq!(r["echoStatus"], 200);
    assert_eq!(r["echoLength"], 1 << 20);
    assert_eq!(r["echoEqual"], true);
    let arrivals = r["arrivals"].as_array().unwrap();
    assert_eq!(arrivals.len(), 4, "each chunk arrives on its own: {r}");
    let first = arrivals[0][0].as_f64().unwrap();
    let last = arrivals[3][0].as_f64().unwrap();
    assert!(
        last - first >= 300.0,
        "chunks spread over time, not buffered: {arrivals:?}"
    );
    assert_eq!(r["missingStatus"], 404);
    assert_eq!(r["missingBody"], "no conformance route /conf/nowhere\n");
    assert_eq!(r["afterGarbage"], "hello");
}

/// With the web process extension next to the test executable (the test command builds
/// it), the relay's frames cross its socketpair, not WebKit's script messages: with both
/// message handlers gone after the page opened its session, a fetch still reaches the bus.
/// Without the extension, the same fetch has no way to the host (the check can fail).
fn frames_cross_the_extensions_socket_when_it_is_loaded() {
    use std::time::Instant;
    use webkit2gtk::{UserContentManagerExt, WebViewExt};
    let fetch_after_handlers_go = |config: bridge_desktop::HostConfig| {
        let h = Harness::with_config(|b| b, config);
        h.load("/frames.html");
        let r = h.report(T);
        assert!(r["error"].is_null(), "{r}");
        let wire = h.eval_in(
            Some(bridge_desktop::channel::WORLD),
            "return typeof __inprocBusWire === 'function' && __inprocBusWire(0) === true",
        );
        let manager = h.host.webkit().user_content_manager().unwrap();
        manager.unregister_script_message_handler_in_world(
            "inprocBus",
            bridge_desktop::channel::WORLD,
        );
        manager.unregister_script_message_handler_in_world(
            "inprocBusPull",
            bridge_desktop::channel::WORLD,
        );
        h.eval(
            "window.after = null; fetch('/conf/json').then((r) => r.text()).then((t) => { window.after = t; }, \
             (e) => { window.after = 'failed: ' + e; }); return 1;",
        );
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut after = serde_json::Value::Null;
        while Instant::now() < deadline && after.is_null() {
            support::pump(Duration::from_millis(20));
            after = h.eval("return window.after");
        }
        (wire, after)
    };
    let (wire, after) = fetch_after_handlers_go(bridge_desktop::HostConfig::new(support::ORIGIN));
    assert_eq!(wire, true, "the extension's function in the relay's world");
    assert!(
        after.as_str().is_some_and(|t| t.contains("\"ok\"")),
        "a fetch over the socket alone: {after}"
    );
    let (wire, after) = fetch_after_handlers_go(
        bridge_desktop::HostConfig::new(support::ORIGIN).web_process_extension(None),
    );
    assert_eq!(wire, false, "no extension when it is turned off");
    assert!(
        !after.as_str().is_some_and(|t| t.contains("\"ok\"")),
        "without the socket, nothing carries the fetch: {after}"
    );
}

/// Bodies of one size over the socket, one after another and several at once: the relay
/// sends each from a buffer of its own that it uses again (see RELAY's `slabs`), and gives
/// the page's back at once. Each must arrive as its own bytes, and the page's buffers stay
/// its own (a fetch's copy is reused by the shim for the next body of its size).
fn uploads_of_one_size_over_the_socket_each_carry_their_own_bytes() {
    let h = Harness::new(|b| b);
    h.load("/frames.html");
    let r = h.report(T);
    assert!(r["error"].is_null(), "{r}");
    let world = Some(bridge_desktop::channel::WORLD);
    assert_eq!(
        h.eval_in(
            world,
            "return typeof __inprocBusWire === 'function' && __inprocBusWire(0) === true"
        ),
        true,
        "no socket: build the extension first (cargo build -p bridge-desktop-webext); a library of another wire version gets none"
    );
    h.eval(
        r#"(async () => {
  const size = 3 << 20;
  // What a body of one fill came back as: its distinct byte values, and its length.
  const send = async (fill) => {
    const body = new Uint8Array(size).fill(fill);
    const r = await fetch('/conf/echo', { method: 'POST', body });
    const back = new Uint8Array(await r.arrayBuffer());
    const values = new Set(back);
    body.fill(0); // the caller's own array, changed after: not what was sent
    return [...values].join(',') + ':' + back.length;
  };
  const out = { one: [], many: [] };
  try {
    for (const fill of [0x11, 0x22, 0x33, 0x44]) out.one.push(await send(fill));
    out.many = await Promise.all([0x55, 0x66, 0x77, 0x88, 0x99].map(send));
    out.after = await send(0xaa);
  } catch (e) {
    out.error = String(e);
  }
  await fetch('/report', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(out) });
})(); return 0;"#,
    );
    let r = h.report(Duration::from_secs(60));
    assert!(r["error"].is_null(), "{r}");
    let size = 3 << 20;
    let each =
        |fills: &[u8]| -> Vec<String> { fills.iter().map(|f| format!("{f}:{size}")).collect() };
    assert_eq!(
        r["one"],
        serde_json::json!(each(&[0x11, 0x22, 0x33, 0x44])),
        "{r}"
    );
    assert_eq!(
        r["many"],
        serde_json::json!(each(&[0x55, 0x66, 0x77, 0x88, 0x99])),
        "{r}"
    );
    assert_eq!(r["after"], format!("{}:{size}", 0xaa), "{r}");
}

/// When the extension's socket goes (here: the host ends it on a message that is not one),
/// the page's open requests fail with the relay's reset instead of hanging, and the page goes
/// on over script messages with a new session (the host gives its relay a new token).
fn a_lost_socket_fails_open_requests_and_the_page_goes_on() {
    let slow = tower::service_fn(|_req: http::Request<bus_core::Body>| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok::<_, std::convert::Infallible>(http::Response::new(bus_core::Body::from("slow done")))
    });
    let h = Harness::new(move |b| b.mount("/slow", slow));
    h.load("/frames.html");
    let r = h.report(T);
    assert!(r["error"].is_null(), "{r}");
    let world = Some(bridge_desktop::channel::WORLD);
    let socket = "return typeof __inprocBusWire === 'function' && __inprocBusWire(0) === true";
    assert_eq!(
        h.eval_in(world, socket),
        true,
        "no socket: build the extension first (cargo build -p bridge-desktop-webext); a library of another wire version gets none"
    );
    h.eval(
        "window.slow = null; fetch('/slow').then((r) => r.text()).then((t) => { window.slow = t; }, (e) => { window.slow = 'error: ' + e; }); return 1;",
    );
    h.wait(Duration::from_millis(200));
    // Longer than the host takes in one frames message: it ends the connection.
    let wrote = h.eval_in(world, "return __inprocBusWire(1, 'x'.repeat(5 << 20))");
    let deadline = std::time::Instant::now() + T;
    let slow = loop {
        let v = h.eval("return window.slow");
        if !v.is_null() {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the open request neither failed nor ended (write said {wrote}; socket now {})",
            h.eval_in(world, socket)
        );
        h.wait(Duration::from_millis(50));
    };
    assert!(
        slow.as_str()
            .is_some_and(|t| t.starts_with("error: TypeError") && t.contains("reset")),
        "the open request failed with the reset: {slow}"
    );
    assert_eq!(h.eval_in(world, socket), false, "the socket is gone");
    h.eval(
        "window.after = null; fetch('/conf/json').then((r) => r.text()).then((t) => { window.after = t; }, (e) => { window.after = 'error: ' + e; }); return 1;",
    );
    let after = wait_for(&h, "return window.after");
    assert!(
        after.as_str().is_some_and(|t| t.contains("\"ok\"")),
        "a new request goes over script messages: {after}"
    );
}

/// The relay's requests for frames wait on the host for as long as the page is idle (WebKit
/// may release its shared JavaScriptCore context meanwhile): answering them after a long
/// idle stretch must still work. (Replies once made as JavaScriptCore values crashed the
/// host in `AtomStringImpl::add` in the webview benchmark; this test did not reproduce
/// that crash, which was rare, but guards the waiting path it was on.)
fn frames_still_arrive_after_the_page_idles() {
    let (h, _first) = frames_page();
    let idle = 11;
    h.wait(Duration::from_secs(idle));
    h.eval(
        "fetch('/conf/json').then((r) => r.text()).then((t) => fetch('/report', { method: 'POST', \
         headers: { 'content-type': 'application/json', 'x-inproc-bus-body': '1' }, \
         body: JSON.stringify({ after: t }) })); return 1;",
    );
    let r = h.report(T);
    assert!(
        r["after"].as_str().is_some_and(|t| t.contains("\"ok\"")),
        "a frames fetch after {idle} s idle: {r}"
    );
}

/// Three popular HTTP clients, unmodified, through the shim in the real engine: axios and
/// jQuery's `$.ajax` (XMLHttpRequest) and ky (fetch); see `testkit::clients`.
fn popular_clients_axios_jquery_and_ky_work_unmodified() {
    let h = Harness::new(testkit::clients::mount);
    h.load("/clients.html");
    testkit::clients::check(&h.report(T), support::ORIGIN);
}

/// Back to a page the back/forward cache kept: its scripts do not run again, and its frames
/// must still reach the bus (the document's old session ended when the next page opened).
fn a_page_restored_by_back_still_reaches_the_bus() {
    let h = Harness::new(|b| b);
    h.load("/history.html");
    let first = h.report(T);
    assert_eq!(first["restored"], false, "{first}");
    assert_eq!(first["status"], 200, "{first}");
    h.load("/second.html");
    assert_eq!(h.report(T)["page"], "second");
    h.eval("history.back(); return 1;");
    let back = h.report(T);
    assert!(back["error"].is_null(), "a fetch after coming back: {back}");
    assert_eq!(back["status"], 200, "{back}");
    assert_eq!(
        back["json"],
        serde_json::json!({ "ok": true, "n": 42 }),
        "{back}"
    );
    if back["restored"] == true {
        // The request left open on the first showing failed when the relay reset the
        // session, instead of hanging forever.
        assert!(
            back["hanging"]
                .as_str()
                .is_some_and(|h| h.starts_with("TypeError") && h.contains("reset")),
            "{back}"
        );
    }
    println!(
        "    came back restored from the cache: {}",
        back["restored"]
    );
}

/// A second host on the same WebView is refused with a sentence, before it touches the
/// WebView, and the first one keeps working.
fn a_second_host_on_the_same_webview_is_refused() {
    let h = Harness::new(|b| b);
    let second = bridge_desktop::attach(
        &h.webview,
        &h.bus.handle(),
        bridge_desktop::HostConfig::new(support::ORIGIN),
    );
    let err = second.expect_err("a second attach must fail");
    assert!(
        matches!(err, bridge_desktop::HostError::FrameChannel(_)),
        "{err}"
    );
    assert!(err.to_string().contains("already attached"), "{err}");
    h.load("/frames.html");
    let r = h.report(T);
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["jsonStatus"], 200, "{r}");
}

/// Leaving the app for a page with no relay (about:blank here) ends the old document's
/// session: a request it left open is cancelled on the bus instead of running on.
///
/// The same for a page of the app's URL that is not the app: one it serves with a CSP
/// `sandbox` (an opaque origin, so no relay, no session of its own). Before, the host ended
/// the old session only for a commit of another origin, and this one kept it running.
fn leaving_the_app_origin_cancels_the_old_pages_streams() {
    let sandboxed = tower::service_fn(|_req: http::Request<bus_core::Body>| async {
        let mut page = http::Response::new(bus_core::Body::from(
            "<!doctype html><p id=sandboxed>not the app</p>",
        ));
        for (name, value) in [
            ("content-type", "text/html"),
            ("content-security-policy", "sandbox allow-scripts"),
        ] {
            page.headers_mut()
                .insert(name, http::HeaderValue::from_static(value));
        }
        Ok::<_, std::convert::Infallible>(page)
    });
    let h =
        Harness::new(move |b| b.mount_with(bus_core::Mount::new("/sandboxed", sandboxed).public()));
    h.load("/history.html");
    let first = h.report(T);
    assert_eq!(first["status"], 200, "{first}");
    // history.html left a frames request to /conf/hang open.
    assert_eq!(h.counters.cancelled.load(SeqCst), 0);
    webkit2gtk::WebViewExt::load_uri(h.host.webkit(), "about:blank");
    wait_for_count(
        &h.counters.cancelled,
        "the hanging handler was not dropped after leaving the app",
    );

    h.load("/history.html");
    let again = h.report(T);
    assert_eq!(again["status"], 200, "{again}");
    let before = h.counters.cancelled.load(SeqCst);
    h.load("/sandboxed");
    let deadline = std::time::Instant::now() + T;
    while h.counters.cancelled.load(SeqCst) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the hanging handler was not dropped after a sandboxed page of the app's URL"
        );
        support::pump(Duration::from_millis(5));
    }
}

/// A scheme request's handler runs its first poll on the GTK main thread by default (no
/// hop to a worker when it answers at once), and on a bus worker with
/// `inline_first_poll(false)`; a handler that waits finishes on a worker either way.
fn scheme_handlers_first_poll_inline_unless_turned_off() {
    fn named() -> Result<http::Response<bus_core::Body>, std::convert::Infallible> {
        let name = std::thread::current().name().unwrap_or("?").to_owned();
        let mut response = http::Response::new(bus_core::Body::from(name));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain"),
        );
        Ok(response)
    }
    fn thread_reporter(b: bus_core::BusBuilder) -> bus_core::BusBuilder {
        let now = tower::service_fn(|_r: http::Request<bus_core::Body>| async { named() });
        let later = tower::service_fn(|_r: http::Request<bus_core::Body>| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            named()
        });
        // Public: the test navigates the top frame to them (a top-level load carries
        // nothing that proves who asked, so it is anonymous).
        b.mount_with(bus_core::Mount::new("/thread-now", now).public())
            .mount_with(bus_core::Mount::new("/thread-later", later).public())
    }
    let text = |h: &Harness, path: &str| {
        h.load(path);
        let deadline = std::time::Instant::now() + T;
        loop {
            let t = h.eval(&format!(
                "return document.URL.endsWith({path:?}) && document.body ? document.body.textContent : '';"
            ));
            if t.as_str().is_some_and(|t| !t.is_empty()) {
                return t.as_str().unwrap().trim().to_owned();
            }
            assert!(std::time::Instant::now() < deadline, "{path} did not load");
            support::pump(Duration::from_millis(20));
        }
    };
    let main = std::thread::current().name().unwrap_or("?").to_owned();
    let h = Harness::new(thread_reporter);
    assert_eq!(
        text(&h, "/thread-now"),
        main,
        "answered inline, on the main thread"
    );
    assert_eq!(
        text(&h, "/thread-later"),
        "bus-worker",
        "finished on a worker after waiting"
    );
    drop(h);
    let h = Harness::with_config(
        thread_reporter,
        bridge_desktop::HostConfig::new(support::ORIGIN).inline_first_poll(false),
    );
    assert_eq!(
        text(&h, "/thread-now"),
        "bus-worker",
        "turned off: always on a worker"
    );
}

fn secret_mount(
    b: bus_core::BusBuilder,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> bus_core::BusBuilder {
    let secret = tower::service_fn(move |_r: http::Request<bus_core::Body>| {
        hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async {
            Ok::<_, std::convert::Infallible>(http::Response::new(bus_core::Body::from("secret")))
        }
    });
    b.mount("/secret", secret)
}

fn foreign_iframes_cannot_reach_the_bus() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = Harness::with_config(
        |b| secret_mount(b, hits.clone()),
        bridge_desktop::HostConfig::new(support::ORIGIN)
            .allow_navigation_to("evil://x")
            .allow_srcdoc_frames(),
    );
    let reports = support::evil::register(h.host.webkit());
    h.load("/iframes.html");
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + T;
    while seen.len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "attack reports: {seen:?}"
        );
        if let Ok(r) = reports.try_recv() {
            seen.push(r);
        }
        support::pump(Duration::from_millis(5));
    }
    for r in &seen {
        for key in [
            "handlerVisible",
            "ipcVisible",
            "relayVisible",
            "bridgeVisible",
        ] {
            assert_eq!(r[key], false, "{key} in {r}");
        }
        assert_eq!(r["parentDocument"], "SecurityError", "{r}");
        for key in ["corsGet", "corsPost", "xhr"] {
            assert!(r[key] != 200, "{key} got an answer: {r}");
        }
    }
    // The host is still alive after the Blob bodies (they were refused unread), and no
    // request from the foreign frames reached the handler.
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "{seen:?}"
    );
    let r = h.eval("return location.href");
    assert_eq!(r, "app://localhost/iframes.html");
}

fn foreign_top_level_page_gets_no_bridge() {
    let h = Harness::with_config(
        |b| b,
        bridge_desktop::HostConfig::new(support::ORIGIN).allow_navigation_to("evil://x"),
    );
    let reports = support::evil::register(h.host.webkit());
    h.load("/nav-away.html");
    let deadline = std::time::Instant::now() + T;
    let r = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no report from the foreign page"
        );
        if let Ok(r) = reports.try_recv() {
            break r;
        }
        support::pump(Duration::from_millis(5));
    };
    assert_eq!(r["where"], "evil://x/attack.html", "{r}");
    for key in [
        "handlerVisible",
        "ipcVisible",
        "relayVisible",
        "bridgeVisible",
    ] {
        assert_eq!(r[key], false, "{key} in {r}");
    }
}

fn navigation_policy_keeps_foreign_pages_out() {
    let h = Harness::new(|b| b);
    let _reports = support::evil::register(h.host.webkit());
    h.load("/nav-away.html");
    h.wait(Duration::from_millis(1500));
    assert_eq!(h.uri(), "app://localhost/nav-away.html");
}

/// SHA-256 of `n` bytes of the `/conf/bytes` pattern (byte k is k % 251).
fn pattern_sha256(n: usize) -> String {
    use sha2::Digest;
    let block: Vec<u8> = (0..251 * 1024).map(|k| (k % 251) as u8).collect();
    let mut h = sha2::Sha256::new();
    let mut left = n;
    while left > 0 {
        let take = left.min(block.len());
        h.update(&block[..take]);
        left -= take;
    }
    testkit::conformance::hex(&h.finalize())
}

fn big_download_and_upload_over_frames_arrive_intact() {
    let h = Harness::new(|b| b);
    h.load("/transfer.html?mode=download");
    let r = h.report(Duration::from_secs(120));
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["status"], 200);
    assert_eq!(r["length"], 256 << 20);
    assert_eq!(r["sha256"], pattern_sha256(256 << 20), "{r}");
    let mbps = 256.0 / (r["ms"].as_f64().unwrap() / 1000.0);
    println!(
        "    256 MiB download over frames: {:.0} ms ({mbps:.0} MiB/s)",
        r["ms"]
    );

    h.load("/transfer.html?mode=upload");
    let r = h.report(Duration::from_secs(120));
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["status"], 200);
    assert_eq!(r["answer"]["length"], 64 << 20);
    assert_eq!(r["answer"]["sha256"], r["expected"], "{r}");
    assert_eq!(r["expected"], pattern_sha256(64 << 20));
    println!("    64 MiB upload over frames: {:.0} ms", r["ms"]);
}

/// A handler that answers a carried upload without reading it: the page gets the answer,
/// not a failure from the body arriving after it (dropped unread by the host); after a 307
/// answered so, the shim's copy comes back from the relay and goes again.
fn an_answer_before_a_carried_body_is_what_the_page_gets() {
    let h = Harness::new(|b| b);
    h.load("/transfer.html?mode=early-answer");
    let r = h.report(Duration::from_secs(60));
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["errors"], serde_json::json!([]), "{r}");
    assert_eq!(r["statuses"], serde_json::json!({ "403": 40 }), "{r}");
    assert_eq!(r["echoed"]["sha256"], r["expected"], "{r}");
    assert_eq!(
        r["redirected"],
        serde_json::json!(vec![r["expected"].clone(); 10]),
        "a 307 answered before its body came sends the same bytes again: {r}"
    );
    assert_eq!(
        r["kept"],
        300 * 1024,
        "the page's own buffer is not taken: {r}"
    );
}

fn paused_page_holds_memory_and_a_cancel_frees_the_handler() {
    let h = Harness::new(|b| b);
    let tree = || testkit::sockets::process_tree(std::process::id());
    h.load("/basic.html");
    let _ = h.report(T); // WebKit's processes are up and warm
    h.load("/transfer.html?mode=paused");
    let r = h.report(T);
    assert!(r["error"].is_null(), "{r}");
    let before = testkit::sockets::rss(&tree());
    h.wait(Duration::from_secs(3));
    let after = testkit::sockets::rss(&tree());
    let growth = after.saturating_sub(before);
    println!(
        "    paused 1 GiB stream: host + WebKit processes {} MiB -> {} MiB (+{} KiB) across {} processes",
        before >> 20,
        after >> 20,
        growth >> 10,
        tree().len()
    );
    assert!(growth < 64 << 20, "grew by {growth} bytes while paused");
    assert_eq!(h.counters.abandoned.load(SeqCst), 0);
    h.eval("window.held.cancel(); return true;");
    wait_for_count(
        &h.counters.abandoned,
        "the cancelled download's producer still runs",
    );
}

fn small_requests_still_answer_during_a_big_stream() {
    let h = Harness::new(|b| b);
    h.load("/transfer.html?mode=concurrent");
    let r = h.report(Duration::from_secs(60));
    assert!(r["error"].is_null(), "{r}");
    let idle = r["idleMedianMs"].as_f64().unwrap();
    let busy = r["busyMedianMs"].as_f64().unwrap();
    println!(
        "    small GET median: {idle:.2} ms idle, {busy:.2} ms during a 1 GiB stream ({:.1}x); {} MiB streamed meanwhile",
        busy / idle.max(0.01),
        r["bigBytesDuring"].as_u64().unwrap_or(0) >> 20
    );
    assert!(r["bigBytesDuring"].as_u64().unwrap() > 0, "{r}");
    assert!(
        busy < 1000.0,
        "small requests starve during a big stream: {r}"
    );
}

fn a_download_keeps_moving_while_small_requests_run_back_to_back() {
    let h = Harness::new(|b| b);
    h.load("/transfer.html?mode=yield");
    let r = h.report(Duration::from_secs(60));
    assert!(r["error"].is_null(), "{r}");
    let during = r["bigBytesDuring"].as_u64().unwrap();
    println!(
        "    {} KiB of a download read during 300 small GETs back to back ({:.0} ms)",
        during >> 10,
        r["ms"].as_f64().unwrap_or(f64::NAN)
    );
    // The page also dispatches a pageshow of its own and clears every timer now and then:
    // neither may reset the session or stop the download.
    // The relay yields a piece (here one 64 KiB frame) every 2 ms or so to waiting
    // answers, never less: 300 requests take well over 60 ms anywhere (0.5 ms each here),
    // so at least 30 pieces, about 2 MiB.
    assert!(during >= 1 << 20, "the download stalled: {r}");
}

fn downloads_stay_intact_while_small_answers_pass_them() {
    let h = Harness::new(|b| b);
    h.load("/transfer.html?mode=interleaved");
    let r = h.report(Duration::from_secs(120));
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["big"]["length"], 32 << 20, "{r}");
    assert_eq!(r["big"]["sha256"], pattern_sha256(32 << 20), "{r}");
    assert_eq!(r["second"]["length"], 4 << 20, "{r}");
    assert_eq!(r["second"]["sha256"], pattern_sha256(4 << 20), "{r}");
    assert_eq!(r["smallCount"], 60, "{r}");
    assert_eq!(r["smallBad"], 0, "{r}");
    println!(
        "    small GET median {:.2} ms during two downloads by fetch",
        r["smallMedianMs"].as_f64().unwrap_or(f64::NAN)
    );
}

fn no_listening_socket_in_the_host_or_webkit() {
    let h = Harness::new(|b| b);
    h.load("/basic.html");
    let _ = h.report(T);
    let pids = testkit::sockets::process_tree(std::process::id());
    assert!(pids.len() >= 3, "expected WebKit child processes: {pids:?}");
    let found = testkit::sockets::listeners(&pids).expect("/proc is readable");
    println!(
        "    {} processes (host + WebKit children), listening sockets: {found:?}",
        pids.len()
    );
    assert!(found.is_empty(), "{found:?}");
}

fn video_plays_then_seeks_and_plays_on() {
    let dir = std::env::temp_dir().join("bridge-desktop-media-v2");
    std::fs::create_dir_all(&dir).unwrap();
    testkit::media::webm(&dir.join("movie.webm"), "snow").unwrap_or_else(|e| panic!("{e}"));
    let served = dir.clone();
    let h = Harness::new(move |b| {
        b.mount_with(
            bus_core::Mount::new("/__media", tower_http::services::ServeDir::new(served)).public(),
        )
    });
    h.load("/video.html");
    let r = h.report(Duration::from_secs(60));
    println!("    video: {r}");
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["src"], "blob:", "played through Media Source: {r}");
    assert!(r["playedTo"].as_f64().unwrap() > 1.0);
    assert!(
        r["after"].as_f64().unwrap() > 23.0,
        "plays on after the seek: {r}"
    );
    assert!(
        r["bufferedEnd"].as_f64().unwrap() < 20.0,
        "buffered ahead, not the whole file: {r}"
    );
}

fn wait_for(h: &Harness, script: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + T;
    loop {
        let v = h.eval(script);
        if !v.is_null() && v != false {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {script}"
        );
        h.wait(Duration::from_millis(50));
    }
}

/// What `/conf/multipart` answered a form taken over: the JSON of the page the shim showed.
fn multipart_answer(h: &Harness) -> serde_json::Value {
    let text = wait_for(
        h,
        "const p = document.querySelector('pre'); return p && location.pathname === '/conf/multipart' && p.textContent;",
    );
    serde_json::from_str(text.as_str().unwrap()).expect("JSON from /conf/multipart")
}

fn forms_post_urlencoded_and_multipart_with_a_file() {
    let echo = tower::service_fn(|req: http::Request<bus_core::Body>| async move {
        use http_body_util::BodyExt;
        let kind = req.headers().get("content-type").cloned();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let page = format!(
            "<!doctype html><pre id=out>{}</pre><p id=kind>{}</p>",
            String::from_utf8_lossy(&body),
            kind.map(|k| k.to_str().unwrap_or("").to_owned())
                .unwrap_or_default()
        );
        let mut r = http::Response::new(bus_core::Body::from(page));
        r.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        Ok::<_, std::convert::Infallible>(r)
    });
    let h = Harness::new(move |b| b.mount("/form-echo", echo));

    // A native urlencoded form: WebKit carries it through the scheme.
    h.load("/forms.html");
    wait_for(&h, "return !!document.getElementById('plain')");
    h.eval("document.getElementById('plain').submit(); return true;");
    let out = wait_for(
        &h,
        "const o = document.getElementById('out'); return o && [o.textContent, document.getElementById('kind').textContent, location.href];",
    );
    assert_eq!(out[0], "greeting=hello+world+%26+more&n=42", "{out}");
    assert!(
        out[1]
            .as_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded"),
        "{out}"
    );
    assert_eq!(out[2], "app://localhost/form-echo");

    // A multipart form with a file: the Blob-backed body that crashes WebKitGTK's scheme
    // handler when read. The shim takes the submission over and sends it as frames.
    h.load("/forms.html");
    wait_for(&h, "return !!window.attachFile");
    assert_eq!(h.eval("return attachFile()"), 1);
    h.eval("document.getElementById('files').requestSubmit(document.getElementById('send')); return true;");
    let answer = multipart_answer(&h);
    assert_eq!(answer["fields"]["title"], "a picture", "{answer}");
    let file = &answer["files"][0];
    assert_eq!(file["filename"], "picture.bin");
    assert_eq!(file["size"], 200 * 1024);
    let bytes: Vec<u8> = (0..200 * 1024).map(|i| ((i * 7) % 256) as u8).collect();
    use sha2::Digest;
    assert_eq!(
        file["sha256"],
        testkit::conformance::hex(&sha2::Sha256::digest(&bytes))
    );

    // Controls named like the form's attributes (`<input name="action">`, a common pattern)
    // hide them from `form.action`, `form.method` and the rest: the takeover reads the
    // form's own attributes, and sends those controls as the fields they are.
    h.load("/forms.html");
    // (The window outlives `document.open()`: `attachFile` is there before the load ends.)
    wait_for(&h, "return !!document.getElementById('pic2')");
    assert_eq!(h.eval("return attachFile('pic2')"), 1);
    h.eval("document.getElementById('shadowed').requestSubmit(); return true;");
    let answer = multipart_answer(&h);
    for (name, value) in [
        ("action", "delete"),
        ("method", "m"),
        ("enctype", "e"),
        ("target", "t"),
        ("elements", "x"),
    ] {
        assert_eq!(answer["fields"][name], value, "{answer}");
    }
    assert_eq!(answer["files"][0]["filename"], "picture.bin", "{answer}");
}

/// A popup the app's page opens is a related view: it shares the relay's message handlers,
/// and an app page in it runs the relay (docs/THREAT_MODEL.md). Its relay must not open a
/// session in the host's name: before, its `open` replaced the main view's session, and a
/// request the main page had open never finished. Now a session needs the token a commit of
/// the host's own view put in its relay's world.
fn a_popup_cannot_replace_the_main_views_session() {
    let slow = tower::service_fn(|_req: http::Request<bus_core::Body>| async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok::<_, std::convert::Infallible>(http::Response::new(bus_core::Body::from("slow done")))
    });
    let h = Harness::new(move |b| b.mount("/slow", slow));
    use webkit2gtk::{SettingsExt, WebViewExt};
    let view = h.host.webkit().clone();
    if let Some(settings) = WebViewExt::settings(&view) {
        settings.set_javascript_can_open_windows_automatically(true);
    }
    let popups: std::rc::Rc<std::cell::RefCell<Vec<(gtk::Window, webkit2gtk::WebView)>>> =
        Default::default();
    let kept = popups.clone();
    view.connect_create(move |view, _action| {
        use gtk::prelude::*;
        let popup = webkit2gtk::WebView::with_related_view(view);
        let window = gtk::Window::new(gtk::WindowType::Toplevel);
        window.add(&popup);
        window.show_all();
        kept.borrow_mut().push((window, popup.clone()));
        Some(popup.upcast())
    });

    h.load("/forms.html");
    wait_for(&h, "return !!window.attachFile");
    h.eval(
        "window.slowDone = null;
         fetch('/slow').then((r) => r.text()).then((t) => { window.slowDone = t; }, (e) => { window.slowDone = 'error: ' + e; });
         return true;",
    );
    h.wait(Duration::from_millis(200));
    h.eval("window.open('/forms.html'); return true;");
    // The popup's page loads, and its relay runs (it would ask for a session if it had a
    // token: before, it asked at once).
    let deadline = std::time::Instant::now() + T;
    loop {
        let loaded = popups.borrow().first().is_some_and(|(_, p)| {
            !p.is_loading()
                && p.uri()
                    .is_some_and(|u| u.as_str() == "app://localhost/forms.html")
        });
        if loaded {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the popup did not load"
        );
        h.wait(Duration::from_millis(20));
    }
    h.wait(Duration::from_millis(300));
    // With the web process extension, the popup's page asked its own view for a socket,
    // which the host does not answer: its relay has none (the main page's has).
    let socket = "return typeof __inprocBusWire === 'function' && __inprocBusWire(0) === true";
    let world = Some(bridge_desktop::channel::WORLD);
    assert_eq!(
        h.eval_in(world, socket),
        true,
        "no socket: build the extension first (cargo build -p bridge-desktop-webext); a library of another wire version gets none"
    );
    {
        let popup = popups.borrow()[0].1.clone();
        let answer: std::rc::Rc<std::cell::RefCell<Option<Result<String, String>>>> =
            Default::default();
        let slot = answer.clone();
        popup.evaluate_javascript(
            &format!("JSON.stringify((() => {{ {socket} }})())"),
            world,
            None,
            gio::Cancellable::NONE,
            move |r| {
                use javascriptcore::ValueExt;
                *slot.borrow_mut() =
                    Some(r.map(|v| v.to_str().to_string()).map_err(|e| e.to_string()));
            },
        );
        let deadline = std::time::Instant::now() + T;
        while answer.borrow().is_none() && std::time::Instant::now() < deadline {
            h.wait(Duration::from_millis(10));
        }
        assert_eq!(
            answer.borrow().clone(),
            Some(Ok("false".to_owned())),
            "the popup's relay has no socket"
        );
    }
    assert_eq!(wait_for(&h, "return window.slowDone"), "slow done");
    // And the main page's next request still goes.
    h.eval(
        "window.again = null;
         fetch('/slow').then((r) => r.text()).then((t) => { window.again = t; }, (e) => { window.again = 'error: ' + e; });
         return true;",
    );
    assert_eq!(wait_for(&h, "return window.again"), "slow done");
    for (window, _) in popups.borrow().iter() {
        gtk::prelude::WidgetExt::hide(window);
    }
}

/// An `open` without this view's commit token is refused out loud (the relay that showed an
/// older token starts again with the next one), and refusing it leaves the document's own
/// session as it was. Posted here from the relay's world, where only the host can run
/// script.
fn an_open_without_the_commit_token_is_refused() {
    let h = Harness::new(|b| b);
    h.load("/forms.html");
    wait_for(&h, "return !!window.attachFile");
    let world = Some(bridge_desktop::channel::WORLD);
    for ask in [
        "x open",
        "x open 0123456789abcdef0123456789abcdef",
        "x openy",
    ] {
        h.eval_in(
            world,
            &format!(
                "globalThis.refusal = null;
                 webkit.messageHandlers.inprocBusPull.postMessage({ask:?}).then(
                   () => {{ globalThis.refusal = 'resolved'; }},
                   (e) => {{ globalThis.refusal = String(e && e.message); }});
                 return true;"
            ),
        );
        let deadline = std::time::Instant::now() + T;
        let answer = loop {
            let v = h.eval_in(world, "return globalThis.refusal");
            if !v.is_null() {
                break v;
            }
            assert!(std::time::Instant::now() < deadline, "no answer to {ask:?}");
            h.wait(Duration::from_millis(20));
        };
        assert_eq!(answer, "inproc-bus-refused", "{ask:?}");
    }
    // The page's own session lives on.
    h.eval(
        "window.after = null;
         fetch('/conf/json').then((r) => r.status).then((s) => { window.after = s; }, (e) => { window.after = String(e); });
         return true;",
    );
    assert_eq!(wait_for(&h, "return window.after"), 200);
}

/// HTML's "get an element's target": a form's `target`, else the first `<base target>`;
/// keywords are ASCII case-insensitive, and `_top` of a top-level document is that
/// document's own context. A multipart form with a file and `target="_TOP"` is this page's
/// submission (taken over, the file carried); one under `<base target="_blank">` is a new
/// window's, which the shim leaves to the engine (before, it took both over in place).
fn forms_follow_the_target_html_gives_them() {
    let counted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = counted.clone();
    let counter = tower::service_fn(move |_req: http::Request<bus_core::Body>| {
        count.fetch_add(1, SeqCst);
        async {
            Ok::<_, std::convert::Infallible>(http::Response::new(bus_core::Body::from(
                "<!doctype html><p id=counted>counted</p>",
            )))
        }
    });
    let h = Harness::new(move |b| b.mount("/form-count", counter));

    h.load("/forms.html");
    wait_for(&h, "return !!document.getElementById('pic3')");
    assert_eq!(h.eval("return attachFile('pic3')"), 1);
    h.eval("document.getElementById('top').requestSubmit(); return true;");
    let answer = multipart_answer(&h);
    assert_eq!(answer["fields"]["title"], "to the top", "{answer}");
    assert_eq!(answer["files"][0]["size"], 200 * 1024, "{answer}");

    h.load("/forms-base.html");
    // (The answer before was shown by `document.open()`, in a window that still has
    // forms.html's `attachFile`: wait for the new document.)
    wait_for(
        &h,
        "return location.pathname === '/forms-base.html' && !!document.getElementById('elsewhere')",
    );
    assert_eq!(h.eval("return attachFile()"), 1);
    h.eval(
        "window.stayed = true; document.getElementById('elsewhere').requestSubmit(); return true;",
    );
    // Nothing to wait for but time: the shim does not send it, and the WebView opens no
    // new window (it has no new-window handler).
    h.wait(Duration::from_millis(1500));
    assert_eq!(
        h.eval("return [window.stayed === true, location.pathname]"),
        serde_json::json!([true, "/forms-base.html"])
    );
    assert_eq!(
        counted.load(SeqCst),
        0,
        "the shim took a _blank submission over"
    );
}

/// HTML submits a form only if no handler cancels its `submit` event, and the shim's
/// takeover of a form with a file waits for the page's handlers too: a handler on the form
/// that cancels (React's and Remix's way of handling a form in script) keeps it the page's,
/// and sees the event uncancelled; one that stops the event's propagation without cancelling
/// still gets the takeover, and one that stops it and then cancels does not.
fn forms_the_page_handles_itself_stay_its_own() {
    let h = Harness::new(|b| b);
    let submit = |handler: &str| {
        // (The page before may be this one too: wait for the new one.)
        h.eval("window.replaced = true; return true");
        h.load("/forms.html");
        wait_for(&h, "return !window.replaced && !!window.attachFile");
        assert_eq!(h.eval("return attachFile()"), 1);
        h.eval(&format!(
            "window.sawCancelled = null;
             document.getElementById('files').addEventListener('submit', (e) => {{
               window.sawCancelled = e.defaultPrevented;
               {handler}
             }});
             document.getElementById('files').requestSubmit(document.getElementById('send'));
             return true;"
        ))
    };
    let stays = |case: &str| {
        h.wait(Duration::from_millis(800));
        let seen = h.eval(
            "return [location.pathname, window.sawCancelled, !!document.getElementById('files')]",
        );
        assert_eq!(
            seen,
            serde_json::json!(["/forms.html", false, true]),
            "{case}: {seen}"
        );
    };
    let taken_over = |case: &str| {
        let answer = multipart_answer(&h);
        assert_eq!(answer["files"][0]["size"], 200 * 1024, "{case}: {answer}");
    };
    submit("e.preventDefault();");
    stays("a handler that cancels");
    submit("e.stopPropagation();");
    taken_over("a handler that stops propagation");
    submit("e.stopPropagation(); e.preventDefault();");
    stays("a handler that stops propagation, then cancels");
    submit("e.stopImmediatePropagation(); if (!e.defaultPrevented) e.preventDefault();");
    stays("a handler that stops it at once, then cancels");
    submit("e.cancelBubble = true;");
    taken_over("a handler that stops propagation the legacy way");
    // A submit event page script dispatches submits nothing (nor does the shim take it over).
    h.eval("window.replaced = true; return true");
    h.load("/forms.html");
    wait_for(&h, "return !window.replaced && !!window.attachFile");
    assert_eq!(h.eval("return attachFile()"), 1);
    h.eval(
        "window.sawCancelled = false;
         document.getElementById('files').dispatchEvent(new SubmitEvent('submit', { bubbles: true, cancelable: true }));
         return true;",
    );
    stays("a submit event page script dispatched");
}

fn bad_handlers_and_unknown_paths_get_clear_errors() {
    let boom = tower::service_fn(|_r: http::Request<bus_core::Body>| async {
        if true {
            panic!("deliberate handler panic");
        }
        Ok::<_, std::convert::Infallible>(http::Response::new(bus_core::Body::empty()))
    });
    let midway = tower::service_fn(|_r: http::Request<bus_core::Body>| async {
        let (tx, body) = bus_core::Body::channel(2);
        tokio::spawn(async move {
            let _ = tx.send(bytes::Bytes::from_static(b"first part ")).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            tx.abort("the disk went away").await;
        });
        Ok::<_, std::convert::Infallible>(http::Response::new(body))
    });
    let h = Harness::new(move |b| {
        b.mount_with(bus_core::Mount::new("/boom", boom).public())
            .mount("/fails-midway", midway)
    });
    h.load("/errors.html");
    let r = h.report(T);
    assert_eq!(r["panicStatus"], 500, "{r}");
    assert_eq!(
        r["panicBody"],
        "the handler panicked: deliberate handler panic\n"
    );
    assert_eq!(r["midwayStatus"], 200);
    assert_eq!(
        r["midwayRead"], "TypeError",
        "a body failing midway rejects the read: {r}"
    );
    assert_eq!(
        r["xhr"]["events"],
        serde_json::json!(["error", "loadend"]),
        "{r}"
    );
    assert_eq!(r["abort"], "AbortError");
    assert_eq!(r["afterAll"], "hello", "the app keeps running");
    // A navigation to a path nothing serves gets a page saying so, not a blank one.
    h.load("/no/such/page.html");
    let text = wait_for(
        &h,
        "return document.body && document.body.innerText.includes('404') && document.body.innerText;",
    );
    assert!(
        text.as_str().unwrap().contains("/no/such/page.html"),
        "{text}"
    );
    // And a navigation to a panicking handler gets the bus's 500 text.
    h.load("/boom");
    let text = wait_for(
        &h,
        "return document.body && document.body.innerText.includes('panicked') && document.body.innerText;",
    );
    assert!(
        text.as_str().unwrap().contains("deliberate handler panic"),
        "{text}"
    );
}

/// Pumps the main loop until `counter` (one of the conformance routes' counters) is not
/// zero; panics saying `what` did not happen within `T`.
fn wait_for_count(counter: &std::sync::atomic::AtomicUsize, what: &str) {
    let deadline = std::time::Instant::now() + T;
    while counter.load(SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "{what}");
        support::pump(Duration::from_millis(5));
    }
}

fn main() {
    support::run(&[
        (
            "a_lost_socket_fails_open_requests_and_the_page_goes_on",
            a_lost_socket_fails_open_requests_and_the_page_goes_on,
        ),
        (
            "frames_cross_the_extensions_socket_when_it_is_loaded",
            frames_cross_the_extensions_socket_when_it_is_loaded,
        ),
        (
            "uploads_of_one_size_over_the_socket_each_carry_their_own_bytes",
            uploads_of_one_size_over_the_socket_each_carry_their_own_bytes,
        ),
        (
            "bad_handlers_and_unknown_paths_get_clear_errors",
            bad_handlers_and_unknown_paths_get_clear_errors,
        ),
        (
            "forms_post_urlencoded_and_multipart_with_a_file",
            forms_post_urlencoded_and_multipart_with_a_file,
        ),
        (
            "forms_the_page_handles_itself_stay_its_own",
            forms_the_page_handles_itself_stay_its_own,
        ),
        (
            "video_plays_then_seeks_and_plays_on",
            video_plays_then_seeks_and_plays_on,
        ),
        (
            "no_listening_socket_in_the_host_or_webkit",
            no_listening_socket_in_the_host_or_webkit,
        ),
        (
            "big_download_and_upload_over_frames_arrive_intact",
            big_download_and_upload_over_frames_arrive_intact,
        ),
        (
            "an_answer_before_a_carried_body_is_what_the_page_gets",
            an_answer_before_a_carried_body_is_what_the_page_gets,
        ),
        (
            "paused_page_holds_memory_and_a_cancel_frees_the_handler",
            paused_page_holds_memory_and_a_cancel_frees_the_handler,
        ),
        (
            "small_requests_still_answer_during_a_big_stream",
            small_requests_still_answer_during_a_big_stream,
        ),
        (
            "downloads_stay_intact_while_small_answers_pass_them",
            downloads_stay_intact_while_small_answers_pass_them,
        ),
        (
            "a_download_keeps_moving_while_small_requests_run_back_to_back",
            a_download_keeps_moving_while_small_requests_run_back_to_back,
        ),
        (
            "foreign_iframes_cannot_reach_the_bus",
            foreign_iframes_cannot_reach_the_bus,
        ),
        (
            "foreign_top_level_page_gets_no_bridge",
            foreign_top_level_page_gets_no_bridge,
        ),
        (
            "navigation_policy_keeps_foreign_pages_out",
            navigation_policy_keeps_foreign_pages_out,
        ),
        (
            "forms_follow_the_target_html_gives_them",
            forms_follow_the_target_html_gives_them,
        ),
        (
            "a_popup_cannot_replace_the_main_views_session",
            a_popup_cannot_replace_the_main_views_session,
        ),
        (
            "an_open_without_the_commit_token_is_refused",
            an_open_without_the_commit_token_is_refused,
        ),
        (
            "page_load_image_xhr_fetch_and_links",
            page_load_image_xhr_fetch_and_links,
        ),
        (
            "popular_clients_axios_jquery_and_ky_work_unmodified",
            popular_clients_axios_jquery_and_ky_work_unmodified,
        ),
        (
            "a_page_restored_by_back_still_reaches_the_bus",
            a_page_restored_by_back_still_reaches_the_bus,
        ),
        (
            "a_second_host_on_the_same_webview_is_refused",
            a_second_host_on_the_same_webview_is_refused,
        ),
        (
            "leaving_the_app_origin_cancels_the_old_pages_streams",
            leaving_the_app_origin_cancels_the_old_pages_streams,
        ),
        (
            "scheme_handlers_first_poll_inline_unless_turned_off",
            scheme_handlers_first_poll_inline_unless_turned_off,
        ),
        (
            "frames_still_arrive_after_the_page_idles",
            frames_still_arrive_after_the_page_idles,
        ),
        (
            "frames_over_the_isolated_world_relay",
            frames_over_the_isolated_world_relay,
        ),
    ]);
}
